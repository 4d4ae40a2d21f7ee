// -- backup (issue 17): the dashboard's backups panel (S23). Lists the
// complete backup sets (GET /api/backup/list, newest first), makes one on
// demand ("Back up now": POST /api/backup/run) and verifies one ("Verify":
// POST /api/backup/verify). A self-contained module: it loads when the
// panels show (a key was accepted) and every 10 s while the dashboard holds
// a key.

import { api, describe, hasKey } from './api.js';
import { el, fill, clock, setState } from './format.js';

const $ = (id) => document.getElementById(id);

function message(text, kind = '') {
  const e = $('backups-msg');
  e.textContent = text;
  e.className = `msg ${kind}`;
}

function bytes(n) {
  if (typeof n !== 'number') return '–';
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function records(r) {
  if (!r || typeof r !== 'object') return 0;
  return Object.values(r).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
}

async function verify(file, button) {
  button.disabled = true;
  message(`Verifying ${file}…`);
  try {
    const d = await api('POST', '/api/backup/verify', { body: { file } });
    message(`${file} verified: SHA-256 matches its manifest, ${records(d.records)} records read.`, 'ok');
  } catch (e) {
    message(`${file} does not verify: ${describe(e)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function row(s) {
  const button = el('button', { type: 'button', class: 'small', dataset: { file: s.file } }, 'Verify');
  button.addEventListener('click', () => verify(s.file, button));
  return el('tr', { dataset: { file: s.file || '' } },
    el('td', { class: 'mono', 'data-label': 'File' }, s.file || '–'),
    el('td', { 'data-label': 'Created' }, s.created_at || '–'),
    el('td', { 'data-label': 'Size' }, bytes(s.size)),
    el('td', { 'data-label': 'Store' }, bytes(s.store_bytes)),
    el('td', { 'data-label': 'Records' }, String(records(s.records))),
    el('td', { class: 'mono', 'data-label': 'SHA-256' }, s.sha256 ? s.sha256.slice(0, 16) : (s.error || '–')),
    el('td', { 'data-label': '' }, button));
}

/** Loads the list of sets. */
export async function refresh() {
  if (!hasKey() || !$('backups-panel')) return;
  try {
    const d = await api('GET', '/api/backup/list');
    if (!hasKey()) return;
    const list = Array.isArray(d.backups) ? d.backups : [];
    setState('backups-state', list.length ? '' : 'No backups yet.', list.length ? '' : 'empty');
    $('backups-table').hidden = list.length === 0;
    fill($('backups-body'), list.map(row));
    $('backups-dir').textContent = `${d.dir} · keeps ${d.keep_daily} daily, ${d.keep_weekly} weekly`
      + `${d.running ? ' · a backup is running' : ''}`;
    $('backups-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    setState('backups-state', `Could not load the backups: ${describe(e)}`, 'error');
  }
}

async function runNow() {
  const button = $('backups-run');
  button.disabled = true;
  message('Making a backup…');
  try {
    const d = await api('POST', '/api/backup/run', { body: {} });
    const removed = (d.removed || []).length;
    message(`Backed up: ${d.file} (${bytes(d.size)}, SHA-256 ${String(d.sha256).slice(0, 16)}…)`
      + `${removed ? `; retention removed ${removed}` : ''}.`, 'ok');
    await refresh();
  } catch (e) {
    message(`The backup failed: ${describe(e)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function start() {
  const button = $('backups-run');
  if (!button) return;
  button.addEventListener('click', runNow);
  const panels = $('panels');
  if (panels) {
    new MutationObserver(() => { if (!panels.hidden) refresh(); })
      .observe(panels, { attributes: true, attributeFilter: ['hidden'] });
  }
  refresh();
  setInterval(refresh, 10000);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
