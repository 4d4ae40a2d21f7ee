// -- audit (issue 17): the dashboard's audit and compliance panel (S24, S25).
// Verify runs POST /api/audit/verify (every hash recomputed by the node) and
// shows ok or the first broken link (seq and reason); the latest weekly
// report (GET /api/audit/reports?limit=1) with its counts per event type;
// and the compliance export: an email -> GET /api/compliance/export-data,
// offered as a JSON file to download. A self-contained module: it loads
// when the panels show (a key was accepted) and every 30 s after.

import { api, describe, hasKey } from './api.js';
import { el, fill, clock, count, setState } from './format.js';

const $ = (id) => document.getElementById(id);

function message(id, text, kind = '') {
  const e = $(id);
  e.textContent = text;
  e.className = `msg ${kind}`;
}

function verdict(v) {
  if (!v) return el('span', { class: 'muted' }, 'not verified yet');
  if (v.ok) return el('span', { class: 'badge ok', dataset: { verify: 'ok' } }, `intact: ${count(v.checked)} entries`);
  const b = v.first_broken || {};
  return el('span', { class: 'badge bad', dataset: { verify: 'broken', seq: String(b.seq) } },
    `broken at seq ${b.seq}: ${b.reason}`);
}

function renderWeekly(r) {
  if (!r) {
    setState('audit-weekly-state', 'No weekly report yet (task audit.weekly, Monday 00:30 UTC).', 'empty');
    fill($('audit-weekly'));
    return;
  }
  setState('audit-weekly-state', '');
  const p = r.period || {};
  const types = Object.entries(p.by_event_type || {});
  fill($('audit-weekly'),
    el('dt', {}, 'Made'), el('dd', {}, r.at || '–'),
    el('dt', {}, 'Period'), el('dd', {}, `${p.since || '–'} to ${p.until || '–'}`),
    el('dt', {}, 'Entries in it'), el('dd', {}, count(p.entries)),
    el('dt', {}, 'By event type'),
    el('dd', {}, types.length ? types.map(([k, n]) => `${k} ${n}`).join(', ') : 'none'),
    el('dt', {}, 'Chain then'), el('dd', {}, verdict(r.verify)));
}

/** Verifies the chain and loads the latest weekly report. */
export async function refresh() {
  if (!hasKey() || !$('audit-panel')) return;
  try {
    const v = await api('POST', '/api/audit/verify', { body: {} });
    if (!hasKey()) return;
    fill($('audit-verify'), verdict(v));
    const w = await api('GET', '/api/audit/reports?limit=1');
    renderWeekly(w && Array.isArray(w.reports) ? w.reports[0] : null);
    setState('audit-state', '');
    $('audit-stamp').textContent = `Verified ${clock()}`;
  } catch (e) {
    setState('audit-state', `Could not verify the audit chain: ${describe(e)}`, 'error');
  }
}

/** Exports what is held about the email and offers it as a file. */
async function exportData(ev) {
  ev.preventDefault();
  const email = $('compliance-email').value.trim();
  const button = $('compliance-export');
  button.disabled = true;
  message('compliance-msg', `Gathering what is held about ${email}…`);
  fill($('compliance-download'));
  try {
    const d = await api('GET', `/api/compliance/export-data?email=${encodeURIComponent(email)}`);
    const text = JSON.stringify(d, null, 2);
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const sections = Object.keys(d.sections || {});
    const name = `export-${email.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
    fill($('compliance-download'), el('a', { href: url, download: name, id: 'compliance-file' }, `Download ${name}`));
    message('compliance-msg', `${sections.length} source${sections.length === 1 ? '' : 's'}: ${sections.join(', ')}; `
      + `manifest SHA-256 ${(d.manifest || {}).sha256 || '–'}.`, 'ok');
  } catch (e) {
    message('compliance-msg', `No export: ${describe(e)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function start() {
  const form = $('compliance-form');
  if (!form) return;
  form.addEventListener('submit', exportData);
  $('audit-verify-now').addEventListener('click', () => refresh());
  const panels = $('panels');
  if (panels) {
    new MutationObserver(() => { if (!panels.hidden) refresh(); })
      .observe(panels, { attributes: true, attributeFilter: ['hidden'] });
  }
  refresh();
  setInterval(refresh, 30000);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
