// -- brain (issue 18): the ops brain and brief panel in a real browser
// (Debian's chromium via playwright-core) against the real binary, without a
// model. The panel says there is no brief and no decision yet; "Ask the
// brain now" shows a decision by rules (and why the rules answered); a brief
// made through the API for today appears with the jobs figure of the day.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startChild, stop } from './children.mjs';

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-brain-key-0123456789abcd';
const wait = { timeout: 20000 };

let node;
let dataDir;
let base;
let browser;
let page;
const pageErrors = [];
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
  dataDir = mkdtempSync(join(tmpdir(), 'echopilot-browser-brain-'));
  const n = startChild(source, binary, ['serve', '--port', '0', '--data-dir', join(dataDir, 'data')], {
    DASHBOARD_KEY: key,
    ECHOPILOT_WEB_ROOT: join(source, 'web'),
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

test('no brief and no decision yet; "Ask the brain now" shows a decision by rules', async () => {
  await page.locator('#brain-brief-state', { hasText: 'No brief yet' }).waitFor(wait);
  await page.locator('#brain-decisions-state', { hasText: 'No decision yet' }).waitFor(wait);
  await page.click('#brain-decide');
  const d = page.locator('#brain-decisions .decision[data-source="rules"]');
  await d.first().waitFor(wait);
  assert.match(await d.first().textContent(), /by rules: no model configured/);
});

test('a brief of today shows the day\'s jobs from the metrics summary', async () => {
  const summary = await call('GET', '/api/metrics-summary');
  const today = summary.jobs_per_day[summary.jobs_per_day.length - 1];
  await call('POST', '/api/exec/brief', { date: today.date });
  await page.evaluate(() => document.getElementById('brain-decide').click()); // refreshes the panel too
  const head = page.locator(`#brain-brief .headline[data-date="${today.date}"]`);
  await head.waitFor(wait);
  const jobs = await page.locator('#brain-brief-jobs').textContent();
  assert.match(jobs, new RegExp(`^${today.count} completed of ${today.created} created`));
});

test('no page errors, no failed request, nothing outside the node\'s origin', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(foreign, []);
  assert.deepEqual(badResponses, []);
});
