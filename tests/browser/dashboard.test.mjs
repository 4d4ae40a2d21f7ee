// The dashboard (S30) in a real browser: Debian's chromium driven by npm's
// playwright-core, against the real echopilot binary on a free port with a
// temporary data dir and fault injection on, joined as a cluster with a
// second node (its peer region). Run by CTest
// (tests/browser/CMakeLists.txt), which sets ECHOPILOT_BINARY and
// ECHOPILOT_SOURCE_DIR.
//
// Steps, in order (each its own test; a failed one does not stop the rest):
// the page and its CSP; a wrong key and its message; the right key, kept in
// memory only; health; the live tree; a crash of `flags` and its restart
// count; flags set and their history; a job submitted and completed; the
// three charts with data; finance; self-heal; the scheduler (run now, pause);
// operations (SLO, an alert acknowledged and resolved, an incident scan);
// payments (invoices, a held one rejected, a webhook event, a refund);
// regions (the peer up, Sync now and its report); the rate guard (an
// address banned, shown, cleared with its button, served again); a phone
// width; then no console errors, no request outside the node's origin, and a
// screenshot in tests/artifacts/dashboard.png (and of the regions panel in
// regions.png, of the rate guard's in guard.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import { request as httpRequest } from 'node:http'; // issue 14: requests from 127.0.0.2

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-test-key-0123456789abcdef';
const wrongKey = 'not-the-key-0123456789';
const wait = { timeout: 15000 };
const webhookSecret = 'whsec_browser_test_secret';
const clusterSecret = 'browser-test-cluster-secret-0123';

let node;        // the echopilot child process under test (region-a)
let dataDir;     // its temporary data dir
let peer;        // its peer in the cluster (region-b), another echopilot
let peerDir;     // the peer's data dir
let peerAddress; // the peer's cluster address, "127.0.0.1:PORT"
let base;        // "http://127.0.0.1:PORT"
let browser;
let page;
let phase = 'load';
let screenshotTaken = false;

// What the browser did that the last steps judge.
const consoleErrors = [];   // console messages of type error (text, url)
const pageErrors = [];      // uncaught exceptions in the page
const foreign = [];         // requests to any other origin
const badResponses = [];    // responses >= 400 the page should not have caused
const expectedUrls = new Set(); // responses >= 400 that a step provoked on purpose

/**
 * Starts `serve` with `args` in a fresh data dir; resolves with
 * { proc, dir, url } once it printed its URL.
 */
function spawnNode(args, env) {
  const dir = mkdtempSync(join(tmpdir(), 'echopilot-browser-'));
  const proc = spawn(binary, ['serve', '--port', '0', '--data-dir', dir, ...args], {
    cwd: source,
    env: { ...process.env, ECHOPILOT_FAULT_INJECTION: '1', DASHBOARD_KEY: key, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the node printed no URL in 20 s; stderr: ${stderr}`)), 20000);
    proc.on('exit', (code) => reject(new Error(`the node exited (${code}) before serving; stderr: ${stderr}`)));
    createInterface({ input: proc.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = /^echopilot \S+ serving (http:\/\/127\.0\.0\.1:(\d+))\/dashboard \(/.exec(line);
      if (!m) reject(new Error(`unexpected first line: ${line}`));
      else resolve({ proc, dir, url: m[1] });
    });
  });
}

/** A loopback port nobody listens on now (the kernel's choice for port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts the node under test (region-a) and its peer (region-b) joined as a
 * cluster, each the other's --peer; resolves with the node's base URL.
 */
async function startNode() {
  const [portA, portB] = [await freePort(), await freePort()];
  peerAddress = `127.0.0.1:${portB}`;
  const cluster = { ECHOPILOT_CLUSTER_SECRET: clusterSecret };
  const [a, b] = await Promise.all([
    spawnNode(['--region', 'region-a', '--cluster-port', String(portA), '--peer', peerAddress],
      { ...cluster, STRIPE_WEBHOOK_SECRET: webhookSecret }),
    spawnNode(['--region', 'region-b', '--cluster-port', String(portB), '--peer', `127.0.0.1:${portA}`], cluster),
  ]);
  ({ proc: node, dir: dataDir } = a);
  ({ proc: peer, dir: peerDir } = b);
  return a.url;
}

function stop(proc) {
  if (!proc || proc.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => proc.kill('SIGKILL'), 15000);
    proc.once('exit', () => { clearTimeout(hard); resolve(); });
    proc.kill('SIGTERM');
  });
}

function stopNode() {
  return Promise.all([stop(node), stop(peer)]);
}

before(async () => {
  assert.ok(binary && source, 'ECHOPILOT_BINARY and ECHOPILOT_SOURCE_DIR must be set (CTest sets them)');
  base = await startNode();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Nothing may leave the node's origin: record it, and do not let it out.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page = await context.newPage();
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin !== base) foreign.push(r.url());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url, phase });
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const path = new URL(r.url()).pathname;
    const expected = (phase === 'wrong-key' && r.status() === 401 && path === '/api/system-health')
      // A read of the flags while the crashed actor restarts; the page shows it.
      || (r.status() === 503 && path.startsWith('/api/flags/'));
    if (expected) expectedUrls.add(r.url());
    else badResponses.push(`${r.status()} ${r.request().method()} ${path} (during ${phase})`);
  });
});

after(async () => {
  try {
    if (page && !screenshotTaken) await screenshot();
  } catch (e) { /* reported by the step that needs it */ }
  if (browser) await browser.close();
  await stopNode();
  for (const d of [dataDir, peerDir]) if (d) rmSync(d, { recursive: true, force: true });
});

async function screenshot() {
  const dir = join(source, 'tests', 'artifacts');
  mkdirSync(dir, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
  screenshotTaken = true;
}

const row = (id) => page.locator(`#tree-body tr[data-id="${id}"]`);
const restartsOf = async (id) => Number((await row(id).locator('td.restarts').textContent()).replace(/,/g, ''));

test('the page loads from the node with a strict CSP and every asset local', async () => {
  const res = await page.goto(`${base}/dashboard`);
  assert.equal(res.status(), 200);
  const csp = res.headers()['content-security-policy'] || '';
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
    "object-src 'none'", "frame-ancestors 'none'"])
    assert.ok(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `CSP allows inline code: ${csp}`);
  await page.locator('#key-form').waitFor({ state: 'visible', ...wait });
  assert.equal(await page.evaluate(() => typeof window.Chart), 'function', 'Chart.js did not load from the node');
  assert.equal(await page.locator('script:not([src])').count(), 0, 'an inline script');
  assert.equal(await page.locator('style, [style]').count(), 0, 'an inline style');
  assert.ok(await page.locator('#panels').isHidden(), 'the panels show before a key');
  const html = await page.content();
  assert.ok(!html.includes(key), 'the page embeds the key');
});

test('a wrong key shows a clear message and nothing else', async () => {
  phase = 'wrong-key';
  await page.fill('#key-input', wrongKey);
  await page.click('#key-submit');
  await page.locator('#key-msg', { hasText: 'Wrong key' }).waitFor(wait);
  assert.match(await page.locator('#key-msg').textContent(), /Wrong key.*dashboard\.key/);
  assert.ok(await page.locator('#panels').isHidden(), 'the panels show after a wrong key');
  assert.equal(await page.inputValue('#key-input'), '', 'the key stays in the form');
  phase = 'connected';
});

test('the right key opens the dashboard and is kept in memory only', async () => {
  await page.fill('#key-input', key);
  await page.click('#key-submit');
  await page.locator('#panels').waitFor({ state: 'visible', ...wait });
  assert.equal(await page.locator('#key-msg').textContent(), '');
  const stored = await page.evaluate(() => ({
    local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
    url: location.href, input: document.getElementById('key-input').value,
    html: document.documentElement.outerHTML,
  }));
  assert.equal(stored.local, 0, 'localStorage is used');
  assert.equal(stored.session, 0, 'sessionStorage is used');
  assert.equal(stored.cookie, '', 'a cookie is set');
  assert.equal((await page.context().cookies()).length, 0, 'a cookie is set');
  assert.ok(!stored.url.includes(key), 'the key is in the URL');
  assert.ok(!stored.html.includes(key), 'the key is in the document');
  assert.equal(stored.input, '', 'the key is left in the form');
});

test('health: the five checks and readiness', async () => {
  await page.locator('#ready-badge', { hasText: 'ready' }).waitFor(wait);
  assert.equal(await page.locator('#health-body .checks li').count(), 5);
  assert.match(await page.locator('#health-body').textContent(), /healthy/);
  for (const name of ['supervision', 'store', 'disk', 'memory', 'gateway'])
    assert.match(await page.locator('#health-body .checks').textContent(), new RegExp(name));
});

test('the supervision tree shows each actor live, with a crash button under fault injection', async () => {
  for (const id of ['root', 'core', 'flags']) await row(id).waitFor(wait);
  const flags = await row('flags').textContent();
  assert.match(flags, /running/);
  assert.match(await page.locator('#tree-table thead').textContent(), /Restarts.*Last failure.*Uptime/);
  assert.ok(await row('flags').locator('button', { hasText: 'Crash' }).isVisible(), 'no crash button for flags');
  assert.equal(await row('root').locator('button').count(), 0, 'a crash button for the root');
});

test('crashing flags: its restart count goes up and it runs again', async () => {
  phase = 'crash';
  const before = await restartsOf('flags');
  await row('flags').locator('button', { hasText: 'Crash' }).click();
  await page.locator('#tree-msg', { hasText: 'flags crashed' }).waitFor(wait);
  await page.waitForFunction((n) => {
    const r = document.querySelector('#tree-body tr[data-id="flags"]');
    return r && Number(r.querySelector('td.restarts').textContent) > n && r.classList.contains('state-running');
  }, before, wait);
  assert.equal(await restartsOf('flags'), before + 1);
  assert.notEqual((await row('flags').locator('td.failure').textContent()).trim(), 'none');
  phase = 'connected';
});

test('flags: view, change and history', async () => {
  await page.locator('#flags-body tr[data-key="ui.new_dashboard"]').waitFor(wait);
  const flagRow = page.locator('#flags-body tr[data-key="ui.new_dashboard"]');
  assert.equal((await flagRow.locator('td.value').textContent()).trim(), 'false');
  await flagRow.locator('button', { hasText: 'Turn on' }).click();
  await page.locator('#flags-body tr[data-key="ui.new_dashboard"] td.value', { hasText: 'true' }).waitFor(wait);
  await page.locator('#history-body tr', { hasText: 'ui.new_dashboard' }).first().waitFor(wait);
  // The dashboard reads ui.new_dashboard: on, the dense two-column layout
  // (tighter panels); off again, the usual one.
  const layout = () => page.evaluate(() => ({
    columns: getComputedStyle(document.querySelector('#panels')).gridTemplateColumns.split(' ').length,
    padding: parseFloat(getComputedStyle(document.querySelector('#panels .panel')).paddingTop),
  }));
  await page.waitForFunction(() => document.body.classList.contains('dense'), null, wait);
  const dense = await layout();
  assert.equal(dense.columns, 2);
  await flagRow.locator('button', { hasText: 'Turn off' }).click();
  await page.waitForFunction(() => !document.body.classList.contains('dense'), null, wait);
  assert.ok((await layout()).padding > dense.padding);
  // A value typed as JSON, and one that is not JSON.
  await page.fill('#flag-key', 'portal.banner_text');
  await page.fill('#flag-value', 'not json');
  await page.click('#flag-submit');
  await page.locator('#flag-msg', { hasText: 'must be JSON' }).waitFor(wait);
  await page.fill('#flag-value', '"Maintenance at 02:00 UTC"');
  await page.click('#flag-submit');
  await page.locator('#flags-body tr[data-key="portal.banner_text"] td.value', { hasText: 'Maintenance' }).waitFor(wait);
});

test('jobs: submit one, see it complete, find it in the list', async () => {
  assert.ok(await page.locator('#job-submit').isEnabled(),
    `the job form is disabled: ${await page.locator('#job-msg').textContent()}`);
  await page.fill('#job-email', 'client@example.com');
  await page.selectOption('#job-type', 'summarize');
  await page.fill('#job-input', 'Summarize: the supervision tree restarts crashed actors by itself.');
  await page.click('#job-submit');
  await page.locator('#job-msg', { hasText: /Job \S+ (queued|processing|completed)/ }).waitFor(wait);
  await page.locator('#job-detail[data-status="completed"]').waitFor({ timeout: 30000 });
  const id = await page.getAttribute('#job-detail', 'data-id');
  assert.ok(id, 'no job id');
  assert.match(await page.locator('#job-detail-body').textContent(), /UTC/);
  await page.locator(`#jobs-body tr[data-id="${id}"]`).waitFor(wait);
});

test('the three charts are drawn with data', async () => {
  assert.equal(await page.locator('#charts-state.error').count(), 0,
    `charts in an error state: ${await page.locator('#charts-state').textContent()}`);
  await page.waitForFunction(() => {
    const get = (id) => window.Chart && window.Chart.getChart(document.getElementById(id));
    const jobs = get('chart-jobs');
    const qa = get('chart-qa');
    const money = get('chart-money');
    if (!jobs || !qa || !money) return false;
    const total = jobs.data.datasets[0].data.reduce((a, b) => a + (b || 0), 0);
    return jobs.data.labels.length === 7 && jobs.data.datasets[0].data.length === 7 && total >= 1
      && qa.data.datasets[0].data.length === 7
      && money.data.datasets.length === 2 && money.data.datasets.every((d) => d.data.length === 14);
  }, null, { timeout: 30000 });
  for (const id of ['chart-jobs', 'chart-qa', 'chart-money']) {
    const box = await page.locator(`#${id}`).boundingBox();
    assert.ok(box && box.width > 100 && box.height > 100, `${id} is not drawn (${JSON.stringify(box)})`);
  }
});

test('finance metrics, money with two decimals', async () => {
  await page.locator('#finance-body .card[data-key="revenue_7d"], #finance-state.error').first().waitFor(wait);
  assert.equal(await page.locator('#finance-state.error').count(), 0,
    `finance in an error state: ${await page.locator('#finance-state').textContent()}`);
  const text = await page.locator('#finance-body .card[data-key="revenue_7d"] .card-value').textContent();
  assert.match(text, /^-?\$[\d,]+\.\d\d$/);
  assert.equal(await page.locator('#finance-body .card').count(), 11);
});

test('self-heal runs and shows its report', async () => {
  await page.click('#heal-run');
  await page.locator('#heal-body:has-text("Report of"), #heal-state.error').first().waitFor(wait);
  assert.equal(await page.locator('#heal-state.error').count(), 0,
    `self-heal in an error state: ${await page.locator('#heal-state').textContent()}`);
  assert.match(await page.locator('#heal-body').textContent(), /Requeued jobs \(\d+\)/);
});

test('scheduler: the 25 tasks, the unavailable ones marked, run now and pause', async () => {
  await page.locator('#sched-body tr[data-id="slo.report"]').waitFor(wait);
  assert.equal(await page.locator('#sched-body tr').count(), 25);
  assert.ok(await page.locator('#sched-body tr.unavailable').count() > 0, 'no task marked unavailable');
  const unavailable = page.locator('#sched-body tr.unavailable').first();
  assert.ok(await unavailable.locator('button.run').isDisabled(), 'an unavailable task can be run');
  assert.match(await unavailable.textContent(), /issue \d+/);
  // Run now: the hourly SLO report runs at once and records its result.
  const report = page.locator('#sched-body tr[data-id="slo.report"]');
  await report.locator('button.run').click();
  await page.locator('#sched-body tr[data-id="slo.report"][data-result="ok"]').waitFor(wait);
  assert.match(await report.textContent(), /UTC/);
  // Pause, then resume.
  const probe = page.locator('#sched-body tr[data-id="health.probe"]');
  await probe.locator('button.pause').click();
  await page.locator('#sched-body tr[data-id="health.probe"][data-paused="true"]').waitFor(wait);
  assert.match(await probe.textContent(), /paused/);
  await probe.locator('button.pause', { hasText: 'Resume' }).click();
  await page.locator('#sched-body tr[data-id="health.probe"][data-paused="false"]').waitFor(wait);
});

test('operations: SLO with its budget, an alert acknowledged and resolved, an incident scan', async () => {
  await page.locator('#slo-body .card[data-key="availability"]').waitFor(wait);
  assert.equal(await page.locator('#slo-state.error').count(), 0,
    `SLO in an error state: ${await page.locator('#slo-state').textContent()}`);
  assert.match(await page.locator('#slo-body .card[data-key="verdict"]').textContent(), /PASS|FAIL|NO_DATA/);
  assert.match(await page.locator('#slo-body .card[data-key="budget"]').textContent(), /Error budget left/);
  // An alert raised through the API shows up; acknowledge it, then resolve it.
  const raised = await fetch(`${base}/api/alerts`, {
    method: 'POST',
    headers: { 'X-Dash-Key': key, 'Content-Type': 'application/json' },
    body: JSON.stringify({ rule: 'browser_test', severity: 'warning', source: 'browser', message: 'raised by the browser test' }),
  });
  const raisedText = await raised.text();
  assert.equal(raised.status, 200, raisedText);
  const fp = JSON.parse(raisedText).data.fingerprint;
  const alertRow = page.locator(`#alerts-body tr[data-fingerprint="${fp}"]`);
  await alertRow.waitFor({ timeout: 20000 });
  assert.match(await alertRow.textContent(), /raised by the browser test/);
  await alertRow.locator('button', { hasText: 'Acknowledge' }).click();
  await page.locator(`#alerts-body tr[data-fingerprint="${fp}"] td.alert-state`, { hasText: 'acknowledged' }).waitFor(wait);
  await alertRow.locator('button', { hasText: 'Resolve' }).click();
  await alertRow.waitFor({ state: 'detached', ...wait });
  await page.click('#incident-scan');
  await page.locator('#incidents-msg', { hasText: /Scan of .*finding/ }).waitFor(wait);
});

/** An admin POST to the node; resolves with the parsed body (asserting `status`). */
async function adminPost(path, body, status = 200) {
  const r = await fetch(`${base}${path}`, {
    method: 'POST', headers: { 'X-Dash-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, status, text);
  return JSON.parse(text);
}

test('payments: invoices, a held invoice rejected, a signed webhook event, a refund', async () => {
  // Dry-run (no Stripe key): the invoice is recorded as unsent, never with a URL.
  const made = await adminPost('/api/payments/create-invoice', { amount: 25, email: 'browser@example.com' });
  assert.equal(made.dry_run, true);
  assert.equal(made.data.url, null);
  const invoice = made.data.invoice.id;
  const held = await adminPost('/api/payments/create-invoice', { amount: 6000, email: 'whale@example.com' });
  assert.equal(held.data.status, 'held');
  // Stripe's event, signed as Stripe signs it: the invoice becomes paid.
  const event = JSON.stringify({ id: 'evt_browser_1', object: 'event', type: 'checkout.session.completed',
    data: { object: { id: 'cs_browser_1', object: 'checkout.session', payment_status: 'paid', status: 'complete',
      payment_intent: 'pi_browser_1', metadata: { invoice_id: invoice } } } });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', webhookSecret).update(`${t}.${event}`).digest('hex');
  const hook = await fetch(`${base}/api/payments/webhook`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${t},v1=${v1}` }, body: event,
  });
  assert.equal(hook.status, 200, await hook.text());
  const refund = await adminPost('/api/payments/refund', { invoice_id: invoice, amount: 5 });
  assert.equal(refund.data.dry_run, true);
  // The panel shows all four.
  await page.locator(`#inv-body tr[data-id="${invoice}"][data-status="paid"]`).waitFor({ timeout: 20000 });
  await page.locator('#hooks-body tr[data-id="evt_browser_1"]').waitFor(wait);
  assert.match(await page.locator('#hooks-body tr[data-id="evt_browser_1"]').textContent(), /applied/);
  await page.locator('#refunds-body tr').first().waitFor(wait);
  assert.match(await page.locator('#refunds-body').textContent(), /\$5\.00/);
  const heldRow = page.locator(`#held-body tr[data-id="${held.data.invoice.id}"]`);
  await heldRow.waitFor(wait);
  assert.match(await heldRow.textContent(), /review/);
  await heldRow.locator('button.reject').click();
  await page.locator('#pay-msg', { hasText: 'rejected' }).waitFor(wait);
  await heldRow.waitFor({ state: 'detached', ...wait });
  await page.locator(`#inv-body tr[data-id="${held.data.invoice.id}"][data-status="rejected"]`).waitFor(wait);
});

// growth (issue 14): subscribers by status and the latest, referral codes with their uses.
test('growth: subscriber counts and latest, a referral code with its uses and what is due', async () => {
  const code = (await adminPost('/api/growth/referral/new', { owner: 'partner@example.com', note: 'browser' }, 201))
    .data.code;
  assert.match(code, /^EP-[0-9A-F]{6}$/);
  const sub = await fetch(`${base}/api/growth/subscribe`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'Reader@Example.com', ref: code, source: 'browser' }),
  });
  const subText = await sub.text();
  assert.equal(sub.status, 201, subText);
  assert.equal(JSON.parse(subText).dry_run, true); // no MailerLite or Brevo key here
  await page.locator('#subs-body tr[data-email="reader@example.com"][data-status="subscribed"]').waitFor(wait);
  await page.locator('#growth-counts .card[data-key="subscribed"]', { hasText: '1' }).waitFor(wait);
  const refRow = page.locator(`#refs-body tr[data-code="${code}"][data-eligible="false"]`);
  await refRow.waitFor(wait);
  const text = await refRow.textContent();
  assert.match(text, /partner@example\.com/);
  assert.match(text, /under \$10 due/);
  assert.equal(await refRow.locator('td').nth(2).textContent(), '1'); // one subscribe
});

test('regions: this node, its peer up with its counters, and Sync now with its report', async () => {
  const peerRow = page.locator(`#peers-body tr[data-address="${peerAddress}"]`);
  await page.locator(`#peers-body tr[data-address="${peerAddress}"][data-state="up"]`).waitFor({ timeout: 20000 });
  const self = await page.locator('#regions-self').textContent();
  assert.match(self, /region-a/);
  assert.match(self, /127\.0\.0\.1:\d+/);
  assert.match(await peerRow.textContent(), /region-b/);
  assert.equal((await peerRow.locator('td.peer-state').textContent()).trim(), 'up');
  assert.ok(await peerRow.locator('td.peer-state .badge.ok').isVisible(), 'the state is not a green badge');
  assert.match(await peerRow.locator('td[data-label="Last seen"]').textContent(), /^\d+(\.\d)? s ago$/);
  // What this test wrote (flags, invoices) went to the peer: it was sent.
  await page.waitForFunction((address) => {
    const r = document.querySelector(`#peers-body tr[data-address="${address}"]`);
    return r && Number(r.querySelector('td[data-label="Sent"]').textContent.replace(/,/g, '')) > 0;
  }, peerAddress, wait);
  for (const k of ['duplicates', 'gaps', 'refused', 'failovers', 'failovers_served', 'lag'])
    await page.locator(`#regions-counters .card[data-key="${k}"]`).waitFor(wait);
  assert.match(await page.locator('#regions-applied').textContent(), /Applied per origin: region-a\//);
  await page.click('#regions-sync');
  await page.locator('#regions-msg.ok', { hasText: /caught up with 1 peer/ }).waitFor(wait);
  await page.locator(`#sync-body tr[data-address="${peerAddress}"][data-caught-up="true"]`).waitFor(wait);
  assert.match(await page.locator('#sync-body').textContent(), /region-b.*yes/);
  assert.ok(await page.locator('#regions-sync').isEnabled(), 'Sync now stays disabled');
  mkdirSync(join(source, 'tests', 'artifacts'), { recursive: true });
  await page.locator('#regions-panel').screenshot({ path: join(source, 'tests', 'artifacts', 'regions.png') });
});

// -- experiments (S13; issue 14 exp) --
test('experiments: seeded assignments and conversions, their numbers and significance in the panel', async () => {
  const assign = async (user) => {
    const r = await fetch(`${base}/api/exp/assign?exp=pricing_v2&user=${encodeURIComponent(user)}`,
      { headers: { 'X-Dash-Key': key } });
    assert.equal(r.status, 200);
    return (await r.json()).data.variant;
  };
  // 40 users per variant; in A 4 convert, in B 20: B is significantly better.
  const seen = { A: 0, B: 0 };
  const converted = { A: 0, B: 0 };
  for (let i = 0; seen.A < 40 || seen.B < 40; i += 1) {
    const user = `browser-exp-${i}`;
    const v = await assign(user);
    if (seen[v] >= 40) continue; // exposed, but kept out of the planned numbers below
    seen[v] += 1;
    if ((v === 'A' && seen.A <= 4) || (v === 'B' && seen.B <= 20)) {
      const r = await adminPost('/api/exp/log', { exp: 'pricing_v2', user, event: 'conversion' });
      assert.equal(r.data.counted, true);
      converted[v] += 1;
    }
  }
  const results = await (await fetch(`${base}/api/exp/results?exp=pricing_v2`, { headers: { 'X-Dash-Key': key } })).json();
  const rows = Object.fromEntries(results.data.experiments[0].variants.map((v) => [v.variant, v]));
  assert.equal(rows.A.conversions, converted.A);
  assert.equal(rows.B.conversions, converted.B);
  const block = page.locator('#exp-body .experiment[data-experiment="pricing_v2"]');
  const rowB = block.locator('tr[data-variant="B"]');
  // A render from before the last exposures can show B's conversions already
  // (its first 20 users converted): wait for both numbers of the final state.
  await page.waitForFunction(([n, e]) => {
    const r = document.querySelector('#exp-body .experiment[data-experiment="pricing_v2"] tr[data-variant="B"]');
    const num = (label) => Number(r.querySelector(`td[data-label="${label}"]`).textContent.replace(/,/g, ''));
    return r && num('Conversions') === n && num('Exposures') === e;
  }, [rows.B.conversions, rows.B.exposures], { timeout: 20000 });
  assert.equal((await rowB.locator('td[data-label="Exposures"]').textContent()).replace(/,/g, ''), String(rows.B.exposures));
  assert.equal((await block.locator('tr[data-variant="A"] td[data-label="Conversions"]').textContent()),
    String(rows.A.conversions));
  assert.equal(await rowB.locator('td[data-label="Rate"]').textContent(), `${(rows.B.rate * 100).toFixed(2)} %`);
  assert.equal(rows.B.significant, true);
  await block.locator('tr[data-variant="B"][data-significant="yes"] .badge.ok', { hasText: 'significant' }).waitFor(wait);
  await block.locator('tr[data-variant="A"][data-significant="control"]').waitFor(wait);
  assert.equal(await block.getAttribute('data-srm'), rows && results.data.experiments[0].srm.mismatch ? 'mismatch' : 'ok');
  // The other experiment, without exposures: its test is undefined and said so.
  await page.locator('#exp-body .experiment[data-experiment="onboarding_flow"] tr[data-variant="guided"][data-significant="undefined"]')
    .waitFor(wait);
});

// -- Issue 14: the rate guard panel ---------------------------------------------

/**
 * GET `path` from the local address `from` (Linux routes all of 127/8 to
 * loopback: each address is its own client); resolves with the status.
 */
function getFrom(from, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { localAddress: from, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(10000, () => req.destroy(new Error(`GET ${path} from ${from}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

test('rate guard: a banned address with until, retry in and reason, cleared by its button, served again', async () => {
  // The wrong keys come from 127.0.0.2 and .3, never from the browser's 127.0.0.1.
  for (let i = 0; i < 3; ++i)
    assert.equal(await getFrom('127.0.0.2', '/api/flags/get', { 'X-Dash-Key': wrongKey }), 401);
  assert.equal(await getFrom('127.0.0.2', '/healthz'), 429, '127.0.0.2 is not banned after three wrong keys');
  assert.equal(await getFrom('127.0.0.3', '/api/flags/get', { 'X-Dash-Key': wrongKey }), 401);

  const banned = page.locator('#guard-banned-body tr[data-client="127.0.0.2"]');
  await banned.waitFor(wait);
  assert.match(await banned.locator('td[data-label="Until"]').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.match(await banned.locator('td[data-label="Retry in"]').textContent(), /^(10 min 0|9 min \d+) s$/);
  assert.equal(await banned.locator('td[data-label="Reason"]').textContent(), 'wrong_key');
  assert.equal(await banned.locator('td[data-label="Bans"]').textContent(), '1');
  const struck = page.locator('#guard-struck-body tr[data-client="127.0.0.3"]');
  await struck.waitFor(wait);
  assert.equal(await struck.locator('td[data-label="Strikes"]').textContent(), '1');
  assert.equal(await page.locator('#guard-counters .card[data-key="banned"] .card-value').textContent(), '1');
  assert.ok(Number(await page.locator('#guard-counters .card[data-key="bans_total"] .card-value').textContent()) >= 1);
  const settings = await page.locator('#guard-settings').textContent();
  assert.match(settings, /3 strikes within 5 min 0 s/);
  assert.match(settings, /Trusted proxiesnone/);
  assert.match(settings, /Exemptnone/);
  mkdirSync(join(source, 'tests', 'artifacts'), { recursive: true });
  await page.locator('#guard-panel').screenshot({ path: join(source, 'tests', 'artifacts', 'guard.png') });

  await banned.locator('button.guard-clear').click();
  await page.locator('#guard-msg.ok', { hasText: 'Cleared 127.0.0.2' }).waitFor(wait);
  await banned.waitFor({ state: 'detached', ...wait });
  await page.locator('#guard-banned-state', { hasText: 'No banned clients.' }).waitFor(wait);
  assert.equal(await getFrom('127.0.0.2', '/healthz'), 200, '127.0.0.2 is still refused after Clear');
  assert.equal(await getFrom('127.0.0.2', '/api/flags/get', { 'X-Dash-Key': key }), 200);
  assert.ok(await struck.isVisible(), 'clearing 127.0.0.2 lifted the strikes of 127.0.0.3');
});

test('readable at a phone width: nothing wider than the screen', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await row('flags').waitFor(wait);
  // Chart.js resizes its canvases from a ResizeObserver, a frame or two after
  // the viewport changes: give the layout time to settle, then measure.
  await page
    .waitForFunction(() => document.documentElement.scrollWidth - window.innerWidth <= 1, null, { timeout: 5000 })
    .catch(() => {});
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone`);
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('a full-page screenshot', async () => {
  await row('flags').waitFor(wait);
  await screenshot();
});

test('forgetting the key hides everything it showed', async () => {
  await page.click('#forget');
  await page.locator('#key-panel').waitFor({ state: 'visible', ...wait });
  assert.ok(await page.locator('#panels').isHidden());
  assert.equal(await page.locator('#tree-body tr').count(), 0, 'the tree stays in the page');
  assert.equal(await page.locator('#flags-body tr').count(), 0, 'the flags stay in the page');
  assert.equal(await page.locator('#peers-body tr, #sync-body tr').count(), 0, 'the regions stay in the page');
  assert.equal(await page.locator('#subs-body tr, #refs-body tr').count(), 0, 'the growth rows stay in the page');
  assert.equal(await page.locator('#exp-body tr').count(), 0, 'the experiments stay in the page'); // issue 14 exp
  assert.equal(await page.locator('#guard-banned-body tr, #guard-struck-body tr').count(), 0,
    'the rate guard stays in the page'); // issue 14
  assert.match(await page.locator('#key-msg').textContent(), /forgotten/);
});

test('no console errors, no failed calls, nothing outside the node\'s origin', () => {
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(foreign, [], 'requests outside the node\'s origin');
  assert.deepEqual(badResponses, [], 'calls that failed');
  const unexpected = consoleErrors.filter((m) =>
    !(m.text.startsWith('Failed to load resource') && expectedUrls.has(m.url)));
  assert.deepEqual(unexpected, [], 'console errors');
});
