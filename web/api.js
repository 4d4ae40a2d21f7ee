// Calls to the node's API. The dashboard key lives in this module's memory
// only: never in storage, cookies or the URL, and gone on reload.

let key = null;
/** Moves on whenever the key is set or cleared: an answer to a call made
 * under an earlier key is dropped (a panel refresh in flight when the key is
 * forgotten must not fill the panel again). */
let epoch = 0;
let onUnauthorized = () => {};

/** An API failure a panel can show: status 0 means the node did not answer. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setKey(k) { key = k; epoch += 1; }
export function clearKey() { key = null; epoch += 1; }
export function hasKey() { return key !== null; }

/** Called when the node answers 401 to a call made with the key. */
export function whenUnauthorized(fn) { onUnauthorized = fn; }

/**
 * One call: resolves with `data` of the envelope, rejects with an ApiError.
 * `opts.body` (an object) is sent as JSON; `opts.key` overrides the stored
 * key (to try one before keeping it); `opts.quiet401` skips the callback.
 * A call made with the stored key whose answer comes after the key changed
 * never settles: its caller's stale result is dropped, not shown.
 */
export async function api(method, path, opts = {}) {
  const headers = { 'Accept': 'application/json' };
  const k = opts.key !== undefined ? opts.key : key;
  const started = epoch;
  const stale = () => opts.key === undefined && epoch !== started;
  if (k !== null) headers['X-Dash-Key'] = k;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(path, {
      method, headers, body,
      cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    if (stale()) return new Promise(() => {});
    throw new ApiError(0, 'unreachable', 'The node did not answer (is it running?)');
  }
  let doc = null;
  try {
    doc = await res.json();
  } catch (e) {
    doc = null;
  }
  if (stale()) return new Promise(() => {});
  if (res.ok && doc && doc.ok !== false)
    return doc.data !== undefined ? doc.data : doc;
  const err = doc && doc.error ? doc.error : {};
  const code = err.code || `http_${res.status}`;
  let message = err.message || `The node answered ${res.status} ${res.statusText}`;
  if (res.status === 503 || res.status === 429) {
    const retry = res.headers.get('Retry-After');
    if (retry) message += ` (retry in ${retry} s)`;
  }
  if (res.status === 401 && !opts.quiet401 && opts.key === undefined) onUnauthorized();
  throw new ApiError(res.status, code, message);
}

/** A sentence for a failed call, for a panel's error state. */
export function describe(err) {
  if (err instanceof ApiError) {
    if (err.status === 0) return err.message;
    return `${err.message} (${err.status} ${err.code})`;
  }
  return `Unexpected error: ${err && err.message ? err.message : err}`;
}
