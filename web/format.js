// Formatting (money, times in UTC, durations) and a small DOM builder that
// only ever sets text, never HTML, so data from the node cannot inject markup.

const usd = new Intl.NumberFormat('en-US', {
  style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2,
});

/** "$1,234.50"; "–" for null or not a number. */
export function money(x) {
  const n = typeof x === 'string' ? Number(x) : x;
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return usd.format(n);
}

/** "12.3" with one decimal, or "–". */
export function number1(x) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return '–';
  return Number(x).toFixed(1);
}

/** A whole number with thousands separators, or "–". */
export function count(x) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return '–';
  return Math.round(Number(x)).toLocaleString('en-US');
}

function pad(n) { return String(n).padStart(2, '0'); }

/** "2026-11-17 14:03:22 UTC" from an ISO-8601 string or a Date; "–" for none. */
export function utc(value) {
  if (value === null || value === undefined || value === '') return '–';
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} `
    + `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** "14:03:22 UTC" (now by default): when a panel was last refreshed. */
export function clock(d = new Date()) {
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** "Nov 17" for a "2026-11-17" day label (read as UTC). */
export function day(iso) {
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** "2 d 3 h", "3 h 4 min", "4 min 5 s", "5 s", "850 ms"; "–" for null. */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return '–';
  ms = Number(ms);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/** "0.2 s ago", "42 s ago", "3 min ago", "5 h ago" from milliseconds; "never" for null. */
export function ago(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return 'never';
  const v = Math.max(0, Number(ms));
  if (v < 10000) return `${(v / 1000).toFixed(1)} s ago`;
  if (v < 60000) return `${Math.round(v / 1000)} s ago`;
  if (v < 3600000) return `${Math.round(v / 60000)} min ago`;
  return `${Math.round(v / 3600000)} h ago`;
}

/** A JSON value as compact text ("true", "42", "\"text\""). */
export function jsonText(v) {
  try {
    return JSON.stringify(v);
  } catch (e) {
    return String(v);
  }
}

/**
 * el('td', {class: 'num', title: 'x'}, 'text', child, ...): an element with
 * attributes and children (strings become text nodes; null is skipped).
 * Keys starting with "on" add listeners; "dataset" sets data-* attributes.
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'class') e.className = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Replaces the children of `parent`. */
export function fill(parent, ...children) {
  parent.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** Shows `text` in the status line `id` (class "state KIND"); hides it when empty. */
export function setState(id, text, kind = '') {
  const e = document.getElementById(id);
  e.textContent = text || '';
  e.className = `state${kind ? ` ${kind}` : ''}`;
  e.hidden = !text;
}
