// The jobs' workflow on the dashboard (issue 15) in a real browser: Debian's
// chromium driven by npm's playwright-core, against the real echopilot binary
// and the fake OpenAI-compatible server (tests/fakes/fake_openai.py, whose
// QA score, latency and failures the steps script) on free loopback ports.
// Run by CTest (tests/browser/CMakeLists.txt), which sets ECHOPILOT_BINARY and
// ECHOPILOT_SOURCE_DIR.
//
// Steps: the task types in the form are the node's (a configured type
// included); a job below its QA threshold waits for review and is approved
// from the review queue (completed, billed); another is rejected with a
// reason and a rerun and runs again; a running job is cancelled from its
// detail view (never billed); two jobs the model refuses (401) go to the dead
// letter, one is requeued and completes, the other purged; then no console
// errors, no failed calls and nothing outside the node's origin.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startChild as startChildIn, stop } from './children.mjs';

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-jobs-key-0123456789abcdef';
const wait = { timeout: 20000 };

let node;
let fake;
let fakeBase;
let dataDir;
let base;
let browser;
let page;
let phase = 'load';

const consoleErrors = [];
const pageErrors = [];
const foreign = [];
const badResponses = [];

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

/** Scripts the fake model (POST /_config or /_script). */
async function model(what, body) {
  const res = await fetch(`${fakeBase}/${what}`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(res.status, 200, `the fake model refused ${what}`);
}

async function submit(input, extra = {}) {
  const { status, doc } = await admin('POST', '/api/jobs',
    { email: 'review.client@example.com', task_type: 'summarize', input, ...extra });
  assert.equal(status, 201, JSON.stringify(doc));
  return doc.data.id;
}

/** Polls GET /api/jobs/{id} until `ok(job)` holds; the last job seen. */
async function until(id, ok, what, ms = 20000) {
  const end = Date.now() + ms;
  let j = null;
  while (Date.now() < end) {
    const { status, doc } = await admin('GET', `/api/jobs/${id}`);
    j = status === 200 ? doc.data : { status: `http ${status}` };
    if (ok(j)) return j;
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.fail(`job ${id}: ${what} did not happen in ${ms} ms (last seen: ${JSON.stringify(j && j.status)})`);
}

before(async () => {
  assert.ok(binary && source, 'ECHOPILOT_BINARY and ECHOPILOT_SOURCE_DIR must be set (CTest sets them)');
  const f = startChild('python3', [join(source, 'tests/fakes/fake_openai.py'), '--port', '0'], {},
    /^listening on (\d+)$/, 'fake_openai');
  fake = f.child;
  fakeBase = `http://127.0.0.1:${await f.ready}`;
  dataDir = mkdtempSync(join(tmpdir(), 'echopilot-browser-jobs-'));
  // A configured task type beside the defaults: the form must offer it.
  const config = join(dataDir, 'echopilot.json');
  writeFileSync(config, JSON.stringify({
    jobs: {
      task_types: { research: 95, drafting: 90, data_transform: 92, transcription: 88, other: 95, summarize: 90,
        legal_review: 97 },
      max_heals: 0, // a failed job goes to the dead letter at the first self-heal
    },
  }));
  const n = startChild(binary, ['serve', '--port', '0', '--data-dir', join(dataDir, 'data'), '--config', config], {
    DASHBOARD_KEY: key,
    // The config file is in the temp dir, and relative paths in it are read
    // from there: the dashboard's files are named here.
    ECHOPILOT_WEB_ROOT: join(source, 'web'),
    DEFAULT_RATE_USD_PER_MIN: '60',
    AI_INTEGRATIONS_OPENAI_BASE_URL: `${fakeBase}/v1`,
    AI_INTEGRATIONS_OPENAI_API_KEY: 'sk-fake-browser-jobs-1',
  }, /^echopilot \S+ serving (http:\/\/127\.0\.0\.1:\d+)\/dashboard \(/, 'echopilot');
  node = n.child;
  base = await n.ready;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url, phase });
  });
  page.on('response', (r) => {
    if (r.status() >= 400)
      badResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname} (during ${phase})`);
  });
  await page.goto(`${base}/dashboard`);
  await page.fill('#key-input', key);
  await page.click('#key-submit');
  await page.locator('#panels').waitFor({ state: 'visible', ...wait });
});

after(async () => {
  if (browser) await browser.close();
  await stop(node);
  await stop(fake);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the form offers the node\'s task types, a configured one included', async () => {
  phase = 'task-types';
  await page.locator('#job-type option[value="legal_review"]').waitFor({ state: 'attached', ...wait });
  const names = await page.locator('#job-type option').evaluateAll((os) => os.map((o) => o.value).sort());
  assert.deepEqual(names, ['data_transform', 'drafting', 'legal_review', 'other', 'research', 'summarize',
    'transcription']);
});

test('a job below its QA threshold waits for review; approving it completes and bills it', async () => {
  phase = 'approve';
  await model('_config', { qa_score: 40, latency_ms: 50 });
  const id = await submit('Summarise: the quarterly numbers rose in every region but one.');
  await until(id, (j) => j.status === 'waiting_human', 'waiting_human');
  const row = page.locator(`#review-body tr[data-id="${id}"]`);
  await row.waitFor(wait);
  assert.match(await row.textContent(), /40/);
  await row.locator('.review-approve').click();
  await page.locator('#review-msg', { hasText: `Approved ${id}` }).waitFor(wait);
  const j = await until(id, (x) => x.status === 'completed', 'completed after approval');
  assert.ok(Number(j.price_usd) > 0, `an approved job is billed: price ${j.price_usd}`);
  assert.equal(j.review.decision, 'approved');
  await row.waitFor({ state: 'detached', ...wait });
});

test('rejecting with a reason and a rerun runs the job again', async () => {
  phase = 'reject';
  const id = await submit('Summarise: churn fell after the onboarding emails changed.');
  await until(id, (j) => j.status === 'waiting_human', 'waiting_human');
  const row = page.locator(`#review-body tr[data-id="${id}"]`);
  await row.waitFor(wait);
  await row.locator('.review-reject').click();
  const form = page.locator(`#review-body tr.reject-form[data-id="${id}"]`);
  await form.waitFor(wait);
  await form.locator('.reject-confirm').click(); // no reason yet: refused in the page
  await page.locator('#review-msg', { hasText: 'Enter a reason' }).waitFor(wait);
  await form.locator('.reject-reason').fill('Too vague: name the regions.');
  await form.locator('.reject-rerun').check();
  await model('_config', { qa_score: 96 });
  await form.locator('.reject-confirm').click();
  await page.locator('#review-msg', { hasText: `Rejected ${id}, running it again` }).waitFor(wait);
  const j = await until(id, (x) => x.status === 'completed', 'completed after the rerun');
  assert.ok(j.attempts >= 2, `the rerun is a new attempt: ${j.attempts}`);
  assert.equal(j.review.reason, 'Too vague: name the regions.');
});

test('a running job is cancelled from its detail view and never billed', async () => {
  phase = 'cancel';
  await model('_config', { latency_ms: 30000 });
  const id = await submit('Summarise: a long report the model takes its time over.');
  await until(id, (j) => j.status === 'processing', 'processing');
  await page.selectOption('#job-filter', '');
  const open = page.locator(`#jobs-body tr[data-id="${id}"] button`, { hasText: 'Open' });
  await open.waitFor(wait);
  await open.click();
  await page.locator('#job-detail[data-status="processing"]').waitFor(wait);
  await page.click('#job-cancel');
  await page.locator('#job-action-msg', { hasText: `Cancelled ${id}` }).waitFor(wait);
  await page.locator('#job-detail[data-status="cancelled"]').waitFor(wait);
  const j = await until(id, (x) => x.status === 'cancelled', 'cancelled');
  assert.equal(Number(j.price_usd), 0, 'a cancelled job is priced');
  assert.equal(j.payment_status, 'unpaid');
  await model('_config', { latency_ms: 0 });
});

test('the dead letter: a job the model refuses is requeued and completes, another is purged', async () => {
  phase = 'dead';
  await model('_script', { responses: [{ kind: 'process', status: 401 }, { kind: 'process', status: 401 }] });
  const first = await submit('Summarise: the first job the model refuses.');
  const second = await submit('Summarise: the second job the model refuses.');
  for (const id of [first, second]) await until(id, (j) => j.status === 'failed' || j.status === 'dead', 'failure');
  // With jobs.max_heals 0 self-heal dead-letters a failed job at once.
  for (let i = 0; i < 5; i++) {
    const { doc } = await admin('GET', `/api/jobs/${second}`);
    if (doc.data.status === 'dead') break;
    assert.equal((await admin('POST', '/api/self-heal', {})).status, 200);
  }
  for (const id of [first, second]) await until(id, (j) => j.status === 'dead', 'dead');
  const firstRow = page.locator(`#dead-body tr[data-id="${first}"]`);
  await firstRow.waitFor(wait);
  assert.match(await firstRow.locator('td.reason').textContent(), /401|key|auth/i);
  await firstRow.locator('.dead-requeue').click();
  await page.locator('#dead-msg', { hasText: `Requeued ${first}` }).waitFor(wait);
  await until(first, (j) => j.status === 'completed', 'completed after the requeue');
  const secondRow = page.locator(`#dead-body tr[data-id="${second}"]`);
  await secondRow.waitFor(wait);
  await secondRow.locator('.dead-purge').click();
  await page.locator('#dead-msg', { hasText: `Purged ${second}` }).waitFor(wait);
  await secondRow.waitFor({ state: 'detached', ...wait });
  assert.equal((await admin('GET', `/api/jobs/${second}`)).status, 404);
});

test('no console errors, no failed calls, nothing outside the node\'s origin', () => {
  phase = 'end';
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(badResponses, []);
  assert.deepEqual(foreign, []);
});
