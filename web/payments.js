// The dashboard's payments panel (issue 12): held invoices (approve or
// reject), invoices, webhook events and refunds, from the payments actor's
// ledger. Shown as unavailable when the node has no payments routes.

import { api, describe } from './api.js';
import { el, fill, money, utc, clock } from './format.js';

const $ = (id) => document.getElementById(id);

const ids = ['held', 'inv', 'hooks', 'refunds'];

function state(id, text, kind = '') {
  const e = $(id);
  e.textContent = text;
  e.className = `state ${kind}`;
}

function table(name, rows, empty) {
  fill($(`${name}-body`), rows);
  $(`${name}-table`).hidden = rows.length === 0;
  state(`${name}-state`, rows.length ? '' : empty, rows.length ? '' : 'empty');
}

function statusBadge(s) {
  const kind = s === 'paid' ? 'ok' : s === 'held' || s === 'open' || s === 'unsent' ? 'warn'
    : s === 'refunded' ? 'muted-badge' : 'bad';
  return el('span', { class: `badge ${kind}` }, s);
}

async function release(id, action, button, offers) {
  button.disabled = true;
  const msg = $('pay-msg');
  msg.className = 'msg info';
  msg.textContent = `${action === 'approve' ? 'Approving' : 'Rejecting'} ${id}…`;
  try {
    const r = await api('POST', `/api/payments/invoices/${encodeURIComponent(id)}/release`, { body: { action } });
    msg.className = 'msg ok';
    msg.textContent = action === 'approve'
      ? `${id} approved: ${r && r.status === 'unsent' ? 'dry-run, nothing sent to Stripe' : `session ${r && r.session_id}`}.`
      : `${id} rejected.`;
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not ${action} ${id}: ${describe(e)}`;
  } finally {
    refresh(offers);
  }
}

function heldRow(i, offers) {
  return el('tr', { dataset: { id: i.id } },
    el('td', { class: 'mono' }, i.id),
    el('td', { 'data-label': 'Email' }, i.email),
    el('td', { class: 'num', 'data-label': 'Amount' }, money(i.amount)),
    el('td', { 'data-label': 'Reason' }, (i.fraud && i.fraud.reason) || ''),
    el('td', { class: 'actions' },
      el('button', { type: 'button', class: 'small approve', 'aria-label': `Approve ${i.id}`,
        onclick: (ev) => release(i.id, 'approve', ev.currentTarget, offers) }, 'Approve'),
      el('button', { type: 'button', class: 'secondary small reject', 'aria-label': `Reject ${i.id}`,
        onclick: (ev) => release(i.id, 'reject', ev.currentTarget, offers) }, 'Reject')));
}

function invoiceRow(i) {
  return el('tr', { dataset: { id: i.id, status: i.status } },
    el('td', { class: 'nowrap', 'data-label': 'Created' }, utc(i.created_at)),
    el('td', { class: 'mono' }, i.id),
    el('td', { 'data-label': 'Email' }, i.email),
    el('td', { class: 'mono', 'data-label': 'Job' }, i.job_id || '—'),
    el('td', { class: 'num', 'data-label': 'Amount' }, money(i.amount)),
    el('td', { 'data-label': 'Status' }, statusBadge(i.status), i.dry_run ? el('small', { class: 'muted' }, ' dry-run') : null),
    el('td', { 'data-label': 'Link' }, i.url ? el('a', { href: i.url, rel: 'noreferrer' }, 'checkout') : el('span', { class: 'muted' }, '—')));
}

function hookRow(h) {
  return el('tr', { dataset: { id: h.id } },
    el('td', { class: 'nowrap', 'data-label': 'Received' }, utc(h.received_at)),
    el('td', { class: 'mono' }, h.id),
    el('td', { 'data-label': 'Type' }, h.type),
    el('td', { 'data-label': 'Applied' }, h.applied ? el('span', { class: 'badge ok' }, 'applied')
      : el('span', { class: 'badge muted-badge', title: h.note || '' }, h.processed ? 'no effect' : 'pending')),
    el('td', { class: 'mono', 'data-label': 'Job' }, h.job_id || '—'));
}

function refundRow(r) {
  return el('tr', { dataset: { id: r.id } },
    el('td', { class: 'nowrap', 'data-label': 'When' }, utc(r.created_at)),
    el('td', { class: 'mono' }, r.id),
    el('td', { class: 'mono', 'data-label': 'Invoice' }, r.invoice_id),
    el('td', { class: 'num', 'data-label': 'Amount' }, money(r.amount)),
    el('td', { 'data-label': 'Status' }, r.status, r.full ? el('small', {}, ' (full)') : null));
}

/** Loads the panel; `offers(method, path)` says which routes the node has. */
export async function refresh(offers) {
  if (!offers('GET', '/api/payments/invoices')) {
    state('pay-state', 'This node has no payments (GET /api/payments/invoices is not among its routes).', 'error');
    return;
  }
  try {
    const [ledger, hooks] = await Promise.all([
      api('GET', '/api/payments/invoices'),
      api('GET', '/api/payments/webhooks?limit=50'),
    ]);
    state('pay-state', ledger.dry_run ? `Stripe ${ledger.mode} mode, dry-run: no key, nothing is sent.` : `Stripe ${ledger.mode} mode.`,
      ledger.dry_run ? 'empty' : '');
    table('held', (ledger.held || []).map((i) => heldRow(i, offers)), 'Nothing is held.');
    table('inv', (ledger.invoices || []).map(invoiceRow), 'No invoices in the last 30 days.');
    table('hooks', ((hooks && hooks.events) || []).map(hookRow), 'No webhook events yet.');
    table('refunds', (ledger.refunds || []).map(refundRow), 'No refunds.');
    $('pay-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state('pay-state', `Could not load the payments: ${describe(e)}`, 'error');
  }
}

/** Empties the panel (the key was forgotten). */
export function clear() {
  for (const n of ids) {
    fill($(`${n}-body`));
    $(`${n}-table`).hidden = true;
  }
  fill($('pay-msg'));
}
