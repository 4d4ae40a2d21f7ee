// -- pricing (issue 18): the pricing panel in a real browser (Debian's
// chromium via playwright-core) against the real binary. A completed job;
// the panel says there is no recommendation yet; "Recommend now" shows one
// row per task type with its inputs and branch; Apply on "other" changes its
// rate (GET /api/pricing/current) and lists the change in the history.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startChild, stop } from './children.mjs';

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-pricing-key-0123456789ab';
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
  dataDir = mkdtempSync(join(tmpdir(), 'echopilot-browser-pricing-'));
  const config = join(dataDir, 'echopilot.json');
  // Every job passes QA (threshold 0), so that it completes.
  writeFileSync(config, JSON.stringify({ flags: { defaults: '' }, jobs: { task_types: { other: 0, research: 0 } } }));
  const n = startChild(source, binary, ['serve', '--port', '0', '--data-dir', join(dataDir, 'data'), '--config', config], {
    DASHBOARD_KEY: key,
    ECHOPILOT_WEB_ROOT: join(source, 'web'),
  }, /^echopilot \S+ serving (http:\/\/127\.0\.0\.1:\d+)\/dashboard \(/, 'echopilot');
  node = n.child;
  base = await n.ready;
  const job = await call('POST', '/api/jobs', { email: 'client@example.com', task_type: 'other',
    input: 'Summarise the quarterly report: revenue grew, costs fell, margins widened.' });
  let status = '';
  for (let i = 0; i < 300 && status !== 'completed'; i += 1) {
    status = (await call('GET', `/api/jobs/${job.id}`)).status;
    if (status !== 'completed') await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(status, 'completed');
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

test('recommend, then apply from the panel: the rate changes and the history shows it', async () => {
  await page.locator('#pricing-state', { hasText: 'No recommendation yet' }).waitFor(wait);
  await page.click('#pricing-optimize');
  const row = page.locator('#pricing-body tr[data-type="other"]');
  await row.waitFor(wait);
  assert.match(await page.locator('#pricing-msg').textContent(), /recommendations \(rules\); model: none/);
  assert.match(await row.textContent(), /(raise|lower|hold)/);
  await page.locator('#pricing-body tr[data-type="research"]', { hasText: 'no completed jobs' }).waitFor(wait);
  const recommended = (await row.locator('.pricing-rec').textContent()).trim();
  await row.locator('button.pricing-apply').click();
  await page.locator('#pricing-msg', { hasText: 'for every job submitted from now on' }).waitFor(wait);
  await page.locator('#pricing-history li', { hasText: 'other' }).waitFor(wait);
  await row.locator('.badge', { hasText: 'applied' }).waitFor(wait);
  const current = await call('GET', '/api/pricing/current');
  const other = current.rates.find((r) => r.task_type === 'other');
  assert.equal(other.source, 'applied');
  assert.equal(`$${Number(other.rate_usd_per_min).toFixed(4)}`, recommended);
});

test('no console errors, nothing outside the node\'s origin', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(badResponses, []);
  assert.deepEqual(consoleErrors, []);
});
