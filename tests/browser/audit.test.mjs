// -- audit (issue 17): the audit and compliance panel in a real browser
// (Debian's chromium via playwright-core) against the real binary. A flag
// set makes an audit entry; the panel shows the chain intact with its count;
// "Verify now" re-verifies; the weekly report appears once the task has run;
// the export form downloads a subscriber's archive (its manifest hash shown)
// and names the failure for an address nothing is held about.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startChild, stop } from './children.mjs';

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-audit-key-0123456789abcd';
const wait = { timeout: 20000 };

let node;
let dataDir;
let base;
let browser;
let page;
const pageErrors = [];
const consoleErrors = [];
const foreign = [];
const badResponses = [];

async function call(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { 'X-Dash-Key': key, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j.data;
}

before(async () => {
  assert.ok(binary && source, 'ECHOPILOT_BINARY and ECHOPILOT_SOURCE_DIR must be set (CTest sets them)');
  dataDir = mkdtempSync(join(tmpdir(), 'echopilot-browser-audit-'));
  const n = startChild(source, binary, ['serve', '--port', '0', '--data-dir', join(dataDir, 'data')], {
    DASHBOARD_KEY: key,
    ECHOPILOT_WEB_ROOT: join(source, 'web'),
  }, /^echopilot \S+ serving (http:\/\/127\.0\.0\.1:\d+)\/dashboard \(/, 'echopilot');
  node = n.child;
  base = await n.ready;
  await call('POST', '/api/flags/set', { key: 'ui.new_dashboard', value: true, who: 'browser-test' });
  const sub = await fetch(`${base}/api/growth/subscribe`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'carol@example.com' }),
  });
  assert.ok(sub.status === 201 || sub.status === 200, `subscribe: ${sub.status}`);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${base}/`)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ text: m.text(), url: m.location().url });
  });
  page.on('response', (r) => {
    if (r.status() >= 400) badResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  await page.goto(`${base}/dashboard`);
  await page.fill('#key-input', key);
  await page.click('#key-submit');
  await page.locator('#panels').waitFor({ state: 'visible', ...wait });
});

after(async () => {
  if (browser) await browser.close();
  await stop(node);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the chain is shown intact; the weekly report appears once the task ran', async () => {
  const badge = page.locator('#audit-verify [data-verify="ok"]');
  await badge.waitFor(wait);
  assert.match(await badge.textContent(), /^intact: \d+ entries$/);
  await page.locator('#audit-weekly-state', { hasText: 'No weekly report yet' }).waitFor(wait);
  await call('POST', '/api/scheduler/tasks/audit.weekly/run', {});
  // The run itself is audited: verify again shows one more entry.
  const before = Number(/(\d+)/.exec(await badge.textContent())[1]);
  for (let i = 0; i < 50; i += 1) {
    const r = await call('GET', '/api/audit/reports?limit=1');
    if (r.reports.length) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  await page.click('#audit-verify-now');
  await page.locator('#audit-weekly dd', { hasText: 'flag.set 1' }).waitFor(wait);
  await page.locator('#audit-verify [data-verify="ok"]', { hasText: `intact: ${before + 1} entries` }).waitFor(wait);
});

test('the export form downloads a subject\'s archive; an unknown address is named', async () => {
  await page.fill('#compliance-email', 'carol@example.com');
  await page.click('#compliance-export');
  const link = page.locator('#compliance-file');
  await link.waitFor(wait);
  assert.match(await page.locator('#compliance-msg').textContent(), /table:growth_subscribers.*manifest SHA-256 [0-9a-f]{64}/);
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const archive = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(archive.subject, 'carol@example.com');
  assert.ok(archive.sections['table:growth_subscribers'].length >= 1);
  assert.match(archive.manifest.sha256, /^[0-9a-f]{64}$/);

  await page.fill('#compliance-email', 'nobody@example.com');
  await page.click('#compliance-export');
  await page.locator('#compliance-msg', { hasText: 'No export:' }).waitFor(wait);
  assert.match(await page.locator('#compliance-msg').textContent(), /nothing is held/);
});

test('no console errors but the expected 404, nothing outside the node\'s origin', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(badResponses, ['404 GET /api/compliance/export-data']);
  // Chromium logs a failed fetch (the expected 404) as a console error.
  assert.ok(consoleErrors.every((e) => /404/.test(e.text)), JSON.stringify(consoleErrors));
});
