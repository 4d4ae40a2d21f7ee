// email (issue 16, S19): the dashboard's outbox panel: counts by status and
// the latest messages (queued with their next attempt, sent, failed with the
// server's answer, dry_run). Shown as unavailable when the node has no
// email routes.

import { api, describe } from './api.js';
import { el, fill, count, utc, clock } from './format.js';

const $ = (id) => document.getElementById(id);

function state(id, text, kind = '') {
  const e = $(id);
  e.textContent = text;
  e.className = `state ${kind}`;
}

function card(key, label, value, note) {
  return el('div', { class: 'card', dataset: { key } },
    el('span', { class: 'card-label' }, label),
    el('span', { class: 'card-value' }, value),
    note ? el('small', {}, note) : null);
}

function statusBadge(s) {
  const kind = s === 'sent' ? 'ok' : s === 'failed' ? 'bad' : 'warn';
  return el('span', { class: `badge ${kind}` }, s || 'unknown');
}

function detail(m) {
  if (m.status === 'failed' || (m.status === 'queued' && m.last_error))
    return el('span', { class: 'error-text' }, m.last_error || '');
  if (m.status === 'queued')
    return m.next_attempt_ms ? `next attempt ${utc(m.next_attempt_ms)}` : 'waiting';
  if (m.status === 'sent')
    return m.sent_ms ? `accepted ${utc(m.sent_ms)}` : 'accepted';
  if (m.status === 'dry_run')
    return el('span', { class: 'muted' }, m.last_error || 'dry-run: not sent');
  return '';
}

function row(m) {
  return el('tr', { dataset: { id: m.id, status: m.status || '' } },
    el('td', { class: 'mono' }, m.to),
    el('td', { 'data-label': 'Subject' }, m.subject),
    el('td', { 'data-label': 'Kind' }, m.kind),
    el('td', { 'data-label': 'Status' }, statusBadge(m.status)),
    el('td', { class: 'num', 'data-label': 'Attempts' }, count(m.attempts)),
    el('td', { 'data-label': 'Detail' }, detail(m)),
    el('td', { class: 'nowrap', 'data-label': 'Queued' }, m.created_ms ? utc(m.created_ms) : '–'));
}

/** Loads the panel; `offers(method, path)` says which routes the node has. */
export async function refresh(offers) {
  if (!offers('GET', '/api/email/outbox')) {
    state('email-state', 'This node has no email routes (GET /api/email/outbox is not among its routes).', 'error');
    return;
  }
  try {
    const box = await api('GET', '/api/email/outbox?limit=20');
    const c = (box && box.counts) || {};
    state('email-state', box && box.dry_run
      ? 'Dry-run: SMTP_HOST is not set, so messages are recorded and never sent.' : '', box && box.dry_run ? 'warn' : '');
    fill($('email-counts'),
      card('queued', 'Queued', count(c.queued), `${count(box && box.in_flight)} being sent`),
      card('sent', 'Sent', count(c.sent), 'accepted by the SMTP server'),
      card('failed', 'Failed', count(c.failed), 'refused (5xx) or attempts used up'),
      card('dry_run', 'Dry-run', count(c.dry_run), 'recorded without SMTP settings'));
    const list = (box && Array.isArray(box.messages)) ? box.messages : [];
    fill($('email-body'), list.map(row));
    $('email-table').hidden = list.length === 0;
    state('email-list-state', list.length ? '' : 'No messages yet.', list.length ? '' : 'empty');
    $('email-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state('email-state', `Could not load the outbox: ${describe(e)}`, 'error');
  }
}

/** Empties the panel (the key was forgotten). */
export function clear() {
  for (const id of ['email-counts', 'email-body'])
    fill($(id));
  $('email-table').hidden = true;
  $('email-stamp').textContent = '';
}
