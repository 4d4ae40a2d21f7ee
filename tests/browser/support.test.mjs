// -- inbox (issue 16): the support digest panel (S20) in a real browser:
// Debian's chromium driven by npm's playwright-core, against the real
// echopilot binary reading a real dovecot (tests/fakes/dovecot_server.py) on
// free loopback ports. Run by CTest (tests/browser/CMakeLists.txt).
//
// Steps: the panel says nothing is stored yet; "Read inbox now" reads the two
// unseen messages (one with an RFC 2047 subject), lists them decoded and says
// they were marked seen; a second read finds nothing new; then no console
// errors, no failed calls and nothing outside the node's origin.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startChild, stop } from './children.mjs';

const binary = process.env.ECHOPILOT_BINARY;
const source = process.env.ECHOPILOT_SOURCE_DIR;
const chromiumPath = process.env.ECHOPILOT_CHROMIUM || '/usr/bin/chromium';
const key = 'browser-support-key-0123456789ab';
const wait = { timeout: 20000 };

let node;
let dataDir;
let mailDir;
let base;
let browser;
let page;

const consoleErrors = [];
const pageErrors = [];
const foreign = [];
const badResponses = [];

function dovecot(...args) {
  return execFileSync('/usr/bin/python3', [join(source, 'tests/fakes/dovecot_server.py'), ...args],
    { encoding: 'utf8' });
}

function message(id, subject) {
  return [`From: Customer <${id}@example.com>`, 'To: support@example.com', `Subject: ${subject}`,
    'Date: Tue, 01 Dec 2026 10:00:00 +0000', `Message-ID: <${id}@example.com>`,
    'Content-Type: text/plain; charset=utf-8', '', `Body of ${id}.`, ''].join('\r\n');
}

before(async () => {
  assert.ok(binary && source, 'ECHOPILOT_BINARY and ECHOPILOT_SOURCE_DIR must be set (CTest sets them)');
  dataDir = mkdtempSync(join(tmpdir(), 'echopilot-browser-support-'));
  mailDir = join(dataDir, 'dovecot');
  const started = dovecot('start', mailDir);
  const port = /port=(\d+)/.exec(started)[1];
  const files = [['b1', '=?utf-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?='], ['b2', 'Refund please']].map(([id, s]) => {
    const f = join(dataDir, `${id}.eml`);
    writeFileSync(f, message(id, s));
    return f;
  });
  dovecot('drop', mailDir, ...files);
  const config = join(dataDir, 'echopilot.json');
  writeFileSync(config, JSON.stringify({}));
  const n = startChild(source, binary, ['serve', '--port', '0', '--data-dir', join(dataDir, 'data'), '--config', config], {
    DASHBOARD_KEY: key,
    ECHOPILOT_WEB_ROOT: join(source, 'web'),
    IMAP_HOST: '127.0.0.1', IMAP_PORT: port, IMAP_USER: 'support', IMAP_PASS: 'test-pass', IMAP_TLS: 'none',
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
  if (mailDir) dovecot('stop', mailDir);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('read the inbox from the panel: listed decoded, marked seen, nothing new the second time', async () => {
  await page.locator('#support-state', { hasText: 'No support messages stored yet' }).waitFor(wait);
  await page.click('#support-read');
  await page.locator('#support-msg', { hasText: '2 new messages read (2 unseen on the server), marked seen.' })
    .waitFor(wait);
  const rows = page.locator('#support-body tr');
  await rows.nth(1).waitFor(wait);
  assert.equal(await rows.count(), 2);
  // Newest first: b2 was stored after b1 (a higher UID).
  assert.match(await rows.nth(0).textContent(), /Refund please/);
  assert.match(await rows.nth(1).textContent(), /Grüße aus Köln/);
  assert.match(await rows.nth(1).textContent(), /Body of b1\./);
  await page.click('#support-read');
  await page.locator('#support-msg', { hasText: '0 new messages read (0 unseen on the server)' }).waitFor(wait);
  assert.equal(await rows.count(), 2);
});

test('no console errors, no failed calls, nothing outside the node\'s origin', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(badResponses, []);
  assert.deepEqual(foreign, []);
});
