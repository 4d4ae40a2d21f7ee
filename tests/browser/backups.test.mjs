// -- backup (issue 17): the backups panel (S23) in a real browser: Debian's
// chromium driven by npm's playwright-core, against the real echopilot
// binary. Run by CTest (tests/browser/CMakeLists.txt).
//
// Steps: the panel says there are no backups; "Back up now" makes one (the
// message names the file, and a row for it shows, with its size and
// SHA-256 as the list route answers them); "Verify" on the row says it
// verified; the set's archive changed by one byte on disk, "Verify" says it
// does not verify (backup_corrupt). No console errors, no failed calls other
// than that 422, nothing outside the node's origin.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startChild, stop } from './children.mjs';

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-backups-key-0123456789ab';
const wait = { timeout: 20000 };

let node;
let dataDir;
let base;
let browser;
let page;

const consoleErrors = [];
const pageErrors = [];
const foreign = [];
const badResponses = [];

before(async () => {
  assert.ok(binary && source, 'ECHOPILOT_BINARY and ECHOPILOT_SOURCE_DIR must be set (CTest sets them)');
  dataDir = mkdtempSync(join(tmpdir(), 'echopilot-browser-backups-'));
  const config = join(dataDir, 'echopilot.json');
  writeFileSync(config, JSON.stringify({}));
  const n = startChild(source, binary, ['serve', '--port', '0', '--data-dir', join(dataDir, 'data'), '--config', config], {
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

test('back up from the panel, listed; verify it; a changed byte does not verify', async () => {
  await page.locator('#backups-state', { hasText: 'No backups yet.' }).waitFor(wait);
  await page.click('#backups-run');
  await page.locator('#backups-msg', { hasText: 'Backed up: echopilot-' }).waitFor(wait);
  const rows = page.locator('#backups-body tr');
  await rows.first().waitFor(wait);
  assert.equal(await rows.count(), 1);
  const listed = await (await fetch(`${base}/api/backup/list`, { headers: { 'X-Dash-Key': key } })).json();
  const set = listed.data.backups[0];
  const text = await rows.first().textContent();
  assert.ok(text.includes(set.file), text);
  assert.ok(text.includes(set.sha256.slice(0, 16)), text);
  await rows.first().locator('button', { hasText: 'Verify' }).click();
  await page.locator('#backups-msg', { hasText: `${set.file} verified: SHA-256 matches its manifest` }).waitFor(wait);

  const backups = join(dataDir, 'backups');
  assert.ok(readdirSync(backups).includes(set.file));
  const archive = join(backups, set.file);
  const bytes = readFileSync(archive);
  bytes[Math.floor(bytes.length / 2)] ^= 0x01;
  writeFileSync(archive, bytes);
  await rows.first().locator('button', { hasText: 'Verify' }).click();
  await page.locator('#backups-msg', { hasText: `${set.file} does not verify` }).waitFor(wait);
  assert.match(await page.locator('#backups-msg').textContent(), /SHA-256/);
});

test('no console errors, no failed calls but the refused verify, nothing outside the node\'s origin', () => {
  assert.deepEqual(pageErrors, []);
  // The browser logs the refused call (422) itself; nothing else.
  assert.deepEqual(consoleErrors.filter((e) => !/422/.test(e.text)), []);
  assert.deepEqual(badResponses, ['422 POST /api/backup/verify']);
  assert.deepEqual(foreign, []);
});
