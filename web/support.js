// -- inbox (issue 16): the dashboard's support digest panel (S20). Lists the
// stored digest (GET /api/support/digest, newest first) and reads the inbox
// on demand ("Read inbox now": POST /api/support/digest). A self-contained
// module: it loads when the panels show (a key was accepted) and every 5 s
// while the dashboard holds a key.

import { api, describe, hasKey } from './api.js';
import { el, fill, clock, setState } from './format.js';

const $ = (id) => document.getElementById(id);

function row(m) {
  return el('tr', { dataset: { messageId: m.message_id || '' } },
    el('td', { 'data-label': 'From' }, m.from || '–'),
    el('td', { 'data-label': 'Subject' }, m.subject || '(no subject)',
      m.excerpt ? el('small', { class: 'muted excerpt' }, ` ${m.excerpt}`) : null),
    el('td', { 'data-label': 'Date' }, m.date || '–'),
    el('td', { class: 'mono', 'data-label': 'Stored' }, m.stored_at || '–'));
}

function message(text, kind = '') {
  const e = $('support-msg');
  e.textContent = text;
  e.className = `msg ${kind}`;
}

/** Loads the stored digest. */
export async function refresh() {
  if (!hasKey() || !$('support-panel')) return;
  try {
    const r = await api('GET', '/api/support/digest?limit=50');
    if (!hasKey()) return;
    const list = (r && Array.isArray(r.messages)) ? r.messages : [];
    setState('support-state', list.length ? '' : 'No support messages stored yet.', list.length ? '' : 'empty');
    $('support-table').hidden = list.length === 0;
    fill($('support-body'), list.map(row));
    $('support-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    setState('support-state', `Could not load the support digest: ${describe(e)}`, 'error');
  }
}

/** Reads the inbox now, then shows what it found. */
async function readNow() {
  const button = $('support-read');
  button.disabled = true;
  message('Reading the inbox…');
  try {
    const d = await api('POST', '/api/support/digest', { body: {} });
    if (d.dry_run) {
      message(`Dry run: ${d.reason || 'no IMAP credentials'}; nothing was read.`, 'info');
    } else {
      const n = (d.messages || []).length;
      const warn = (d.warnings || []).join(' ');
      message(`${n} new message${n === 1 ? '' : 's'} read (${d.unseen} unseen on the server)`
        + `${d.marked_seen ? ', marked seen.' : '.'}${warn ? ` ${warn}` : ''}`, warn ? 'info' : 'ok');
    }
    await refresh();
  } catch (e) {
    message(`The inbox could not be read: ${describe(e)}. Nothing was marked seen.`, 'error');
  } finally {
    button.disabled = false;
  }
}

function start() {
  const button = $('support-read');
  if (!button) return;
  button.addEventListener('click', readNow);
  // The panels show once a key is accepted: load then, and every 5 s after.
  const panels = $('panels');
  if (panels) {
    new MutationObserver(() => { if (!panels.hidden) refresh(); })
      .observe(panels, { attributes: true, attributeFilter: ['hidden'] });
  }
  refresh();
  setInterval(refresh, 5000);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
