// The client portal in a real browser: Debian's chromium driven by npm's
// playwright-core, against the real echopilot binary (and the fake
// OpenAI-compatible server for the model and the transcription) on free
// loopback ports. Run by CTest (tests/browser/CMakeLists.txt), which sets
// ECHOPILOT_BINARY and ECHOPILOT_SOURCE_DIR.
//
// Steps: a signed link issued through the admin API opens the page (strict
// CSP, nothing inline); a text job handed in and seen completed with its
// result; an audio file uploaded in chunks with progress and its transcript
// seen as a job; the job's invoice paid through the fake Stripe's checkout
// page (tests/fakes/fake_stripe.py) and seen paid; the checkout return
// line; a tampered and an expired link
// refused without client data; then no console errors, no failed calls and
// no request outside the node's origin.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';
import { startChild as startChildIn, stop } from './children.mjs';

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-portal-key-0123456789abcdef';
const secret = 'browser-portal-session-secret-0123456789';
const email = 'client.portal@example.com';
const stripeKey = 'sk_test_browser_portal_0123456789';
const webhookSecret = 'whsec_browser_portal_0123456789';
const wait = { timeout: 20000 };

let node;
let fake;
let stripe;
let stripeBase;  // the fake Stripe's origin (its checkout pages)
let dataDir;
let base;
let browser;
let context;
let page;
let link;        // the signed path /portal?e=&exp=&sig=
let phase = 'load';

const consoleErrors = [];
const pageErrors = [];
const foreign = [];
const badResponses = [];
const expectedUrls = new Set();

/** Starts a child in the source tree (tests/browser/children.mjs). */
function startChild(cmd, args, env, re, name) {
  return startChildIn(source, cmd, args, env, re, name);
}

async function admin(method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'X-Dash-Key': key, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, doc: await res.json() };
}

/** A port free on loopback now (the node's, known before it starts so that
 * the fake Stripe can send it webhooks and Stripe's return URLs name it). */
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

before(async () => {
  assert.ok(binary && source, 'ECHOPILOT_BINARY and ECHOPILOT_SOURCE_DIR must be set (CTest sets them)');
  // The model answers after 300 ms, so a job's price (rate x duration) is
  // some cents and its checkout session is made after QA.
  const f = startChild('python3', [join(source, 'tests/fakes/fake_openai.py'), '--latency-ms', '300'], {},
    /^listening on (\d+)$/, 'fake_openai');
  fake = f.child;
  const fakePort = await f.ready;
  const nodePort = await freePort();
  const s = startChild('python3', [join(source, 'tests/fakes/fake_stripe.py'), '--key', stripeKey,
    '--webhook-url', `http://127.0.0.1:${nodePort}/api/payments/webhook`, '--webhook-secret', webhookSecret], {},
  /^listening on (\d+)$/, 'fake_stripe');
  stripe = s.child;
  stripeBase = `http://127.0.0.1:${await s.ready}`;
  dataDir = mkdtempSync(join(tmpdir(), 'echopilot-portal-'));
  const n = startChild(binary, ['serve', '--port', String(nodePort), '--data-dir', dataDir], {
    STRIPE_MODE: 'test',
    STRIPE_SECRET_KEY: stripeKey,
    STRIPE_WEBHOOK_SECRET: webhookSecret,
    STRIPE_API_BASE: stripeBase,
    DEFAULT_RATE_USD_PER_MIN: '60',
    DASHBOARD_KEY: key,
    SESSION_SECRET: secret,
    AI_INTEGRATIONS_OPENAI_BASE_URL: `http://127.0.0.1:${fakePort}/v1`,
    AI_INTEGRATIONS_OPENAI_API_KEY: 'sk-fake-browser-portal-1',
  }, /^echopilot \S+ serving (http:\/\/127\.0\.0\.1:\d+)\/dashboard \(/, 'echopilot');
  node = n.child;
  base = await n.ready;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`)) return route.continue();
    // Stripe's checkout page (the fake's), only in the step that pays.
    if (phase === 'pay' && url.startsWith(`${stripeBase}/pay/`)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page = await context.newPage();
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.origin !== base && !(phase === 'pay' && u.origin === stripeBase && u.pathname.startsWith('/pay/')))
      foreign.push(r.url());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url, phase });
  });
  page.on('response', (r) => {
    if (r.status() < 400) return;
    const path = new URL(r.url()).pathname;
    const expected = phase === 'refused' && path === '/portal' && (r.status() === 403 || r.status() === 410);
    if (expected) expectedUrls.add(r.url());
    else badResponses.push(`${r.status()} ${r.request().method()} ${path} (during ${phase})`);
  });
});

after(async () => {
  if (browser) await browser.close();
  await stop(node);
  await stop(fake);
  await stop(stripe);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a signed link issued by the admin API opens the portal with a strict CSP', async () => {
  const { status, doc } = await admin('POST', '/api/portal/link', { email, expiry_hours: 2 });
  assert.equal(status, 200);
  link = doc.url;
  assert.equal(doc.data.url, link);
  assert.equal(doc.full_url, `${base}${link}`);
  const res = await page.goto(`${base}${link}&ref=EP-00BEEF`);
  assert.equal(res.status(), 200);
  const csp = res.headers()['content-security-policy'] || '';
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"])
    assert.ok(csp.includes(d), `CSP lacks ${d}: ${csp}`);
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp));
  assert.equal(await page.locator('script:not([src])').count(), 0, 'an inline script');
  assert.equal(await page.locator('style, [style]').count(), 0, 'an inline style');
  await page.locator('#who', { hasText: email }).waitFor(wait);
  assert.equal(await page.locator('#jobs-empty').isVisible(), true);
});

test('a text job handed in shows up and completes with its result', async () => {
  phase = 'text-job';
  await page.selectOption('#task_type', 'summarize');
  await page.fill('#title', 'Quarterly notes');
  await page.fill('#input', 'Revenue grew in every region; costs fell; the team shipped two releases.');
  await page.click('#submit');
  await page.locator('#job-msg', { hasText: 'handed in' }).waitFor(wait);
  const row = page.locator('#jobs tr', { hasText: 'Quarterly notes' });
  await row.waitFor(wait);
  await page.locator('#jobs tr[data-status="completed"]', { hasText: 'Quarterly notes' }).waitFor(wait);
  assert.ok((await row.locator('pre.result').textContent()).length > 0, 'no result shown');
  // The referral code of the page's URL came along and was recorded.
  const events = await (await fetch(`${base}/api/events/portal`, { headers: { 'X-Dash-Key': key } })).text();
  const referrals = events.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.kind === 'referral');
  assert.ok(referrals.some((e) => e.code === 'EP-00BEEF' && e.email === email), `no referral in ${events}`);
});

test('an audio file is uploaded in chunks with progress and its transcript becomes a job', async () => {
  phase = 'audio';
  const bytes = Buffer.alloc(2 * 1024 * 1024 + 4321);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
  const file = join(dataDir, 'interview.mp3');
  writeFileSync(file, bytes);
  await page.setInputFiles('#audio-file', file);
  await page.click('#upload-btn');
  await page.locator('#upload-msg', { hasText: 'Transcribed' }).waitFor(wait);
  assert.equal(await page.locator('#upload-progress').getAttribute('value'), '100');
  const row = page.locator('#jobs tr', { hasText: 'interview.mp3' });
  await row.waitFor(wait);
  assert.match(await row.textContent(), /transcription/);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const { doc } = await admin('GET', '/api/jobs?email=' + encodeURIComponent(email));
  const job = doc.data.jobs.find((j) => j.task_type === 'transcription');
  assert.ok(job, 'no transcription job');
  const full = await admin('GET', `/api/jobs/${job.id}`);
  assert.equal(full.doc.data.input, `transcript of interview.mp3: ${bytes.length} bytes, sha256 ${sha}`);
});

test('the job\'s invoice is paid through Stripe\'s checkout page and shows as paid', async () => {
  phase = 'pay';
  await page.goto(`${base}${link}`);
  // The text job's invoice (the transcription job has one too).
  const jobId = await page.locator('#jobs tr', { hasText: 'Quarterly notes' }).getAttribute('data-id');
  const pay = page.locator('#invoices tr[data-status="open"]', { hasText: jobId }).locator('a.pay');
  await pay.waitFor(wait);
  const href = await pay.getAttribute('href');
  assert.ok(href.startsWith(`${stripeBase}/pay/`), `the Pay link goes to ${href}`);
  await pay.click();
  await page.waitForURL(`${stripeBase}/pay/**`, wait);
  // Pay on the fake's checkout page, as a client would.
  await page.locator('#pay').click();
  // Stripe sends the client back to their own portal (a fresh signed link)
  // with the job and the outcome; the webhook was delivered before that.
  await page.waitForURL(`${base}/portal?**`, wait);
  const back = new URL(page.url());
  assert.equal(back.searchParams.get('status'), 'success');
  assert.equal(back.searchParams.get('job'), jobId);
  assert.equal(back.searchParams.get('e'), email);
  await page.locator('#checkout-line', { hasText: 'went through' }).waitFor(wait);
  await page.locator('#invoices tr[data-status="paid"]', { hasText: jobId }).waitFor(wait);
  phase = 'paid';
  await page.goto(`${base}${link}`);
  await page.locator('#invoices tr[data-status="paid"]', { hasText: jobId }).waitFor(wait);
  await page.locator('#jobs tr', { hasText: 'Quarterly notes' }).locator('td.payment', { hasText: /^paid$/ })
    .waitFor(wait);
});

test('returning from checkout shows a clear line', async () => {
  phase = 'checkout';
  await page.goto(`${base}${link}&job=j123&status=success`);
  await page.locator('#checkout-line', { hasText: 'payment for job j123 went through' }).waitFor(wait);
  await page.locator('#jobs tr[data-status="completed"]', { hasText: 'interview.mp3' }).waitFor(wait);
  const dir = join(source, 'tests', 'artifacts');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'portal.png'), fullPage: true });
  await page.goto(`${base}${link}&job=j123&status=cancelled`);
  await page.locator('#checkout-line', { hasText: 'was cancelled' }).waitFor(wait);
});

test('a tampered and an expired link are refused without client data', async () => {
  phase = 'refused';
  const last = link.slice(-1) === '0' ? '1' : '0';
  const tampered = link.slice(0, -1) + last;
  let res = await page.goto(`${base}${tampered}`);
  assert.equal(res.status(), 403);
  let text = await page.content();
  assert.ok(!text.includes(email) && !text.includes('Quarterly'), 'client data on a refused page');
  assert.equal(await page.locator('script').count(), 0);
  const exp = String(Math.floor(Date.now() / 1000) - 3600);
  const sig = createHmac('sha256', secret).update(`${email}:portal:${exp}`).digest('hex');
  res = await page.goto(`${base}/portal?e=${encodeURIComponent(email)}&exp=${exp}&sig=${sig}`);
  assert.equal(res.status(), 410);
  text = await page.content();
  assert.ok(!text.includes(email) && !text.includes('Quarterly'), 'client data on an expired page');
  assert.match(text, /expired/);
  phase = 'done';
});

test('no console errors, no failed calls, nothing outside the node\'s origin', () => {
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(foreign, [], 'requests outside the node\'s origin');
  assert.deepEqual(badResponses, [], 'calls that failed');
  const unexpected = consoleErrors.filter((m) =>
    !(m.text.startsWith('Failed to load resource') && (expectedUrls.has(m.url) || m.phase === 'refused')));
  assert.deepEqual(unexpected, [], 'console errors');
});
