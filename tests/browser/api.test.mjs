// web/api.js without a browser: Node's fetch replaced by one the test
// answers by hand, to check that an answer arriving after the key changed
// is dropped (a panel refresh in flight when the key is forgotten must not
// fill the panel again) while a current one is delivered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const source = process.env.ECHOPILOT_SOURCE_DIR;
const { api, setKey, clearKey } = await import(pathToFileURL(join(source, 'web', 'api.js')).href);

/** fetch that waits until the test calls the returned `answer`. */
function parkedFetch() {
  const parked = [];
  globalThis.fetch = (path, init) => new Promise((resolve) => {
    parked.push({ path, init, answer: (data) => resolve(new Response(JSON.stringify({ ok: true, data }))) });
  });
  return parked;
}

/** Whether `p` settles within a few turns of the event loop. */
async function settles(p) {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
  return done;
}

test('an answer to a call made under the current key is delivered, with the key sent', async () => {
  const parked = parkedFetch();
  setKey('key-one-0123456789');
  const call = api('GET', '/api/supervision/tree');
  assert.equal(parked[0].init.headers['X-Dash-Key'], 'key-one-0123456789');
  parked[0].answer({ id: 'root' });
  assert.deepEqual(await call, { id: 'root' });
});

test('an answer that comes after the key is forgotten, or replaced, is dropped', async () => {
  const parked = parkedFetch();
  setKey('key-one-0123456789');
  const forgotten = api('GET', '/api/supervision/tree');
  const replaced = api('GET', '/api/flags/get');
  clearKey();
  parked[0].answer({ id: 'root' });
  assert.equal(await settles(forgotten), false, 'a stale answer reached its caller');
  setKey('key-two-0123456789');
  parked[1].answer({ flags: {} });
  assert.equal(await settles(replaced), false, 'an answer under the old key reached its caller');
  // A call that names its key (the check of a new key) is never stale.
  const check = api('GET', '/api/system-health', { key: 'key-three-0123456789' });
  clearKey();
  parked[2].answer({ overall: 'healthy' });
  assert.deepEqual(await check, { overall: 'healthy' });
});
