// The dashboard's growth panel (issue 14, S10, S11): subscribers by status
// and the latest ones, and every referral code with its uses, revenue,
// commission, what is due and a payout button once $10 or more is due.
// Shown as unavailable when the node has no growth routes.

import { api, describe } from './api.js';
import { el, fill, money, count, utc, clock } from './format.js';

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
  const kind = s === 'subscribed' ? 'ok' : s === 'pending' ? 'warn' : 'bad';
  return el('span', { class: `badge ${kind}` }, s || 'unknown');
}

function subscriberRow(s) {
  return el('tr', { dataset: { email: s.email, status: s.status || '' } },
    el('td', { class: 'mono' }, s.email),
    el('td', { 'data-label': 'Status' }, statusBadge(s.status)),
    el('td', { class: 'mono', 'data-label': 'Referral' }, s.ref || el('span', { class: 'muted' }, '–')),
    el('td', { 'data-label': 'Source' }, s.source || el('span', { class: 'muted' }, '–')),
    el('td', { class: 'nowrap', 'data-label': 'Since' }, s.created_ms ? utc(s.created_ms) : '–'));
}

async function payout(code, button, offers) {
  button.disabled = true;
  const msg = $('growth-msg');
  try {
    const r = await api('POST', `/api/growth/referrals/${encodeURIComponent(code)}/payout`, { body: {} });
    msg.className = 'msg ok';
    msg.textContent = `Payout of ${money(r.paid)} recorded for ${code} at ${clock()}.`;
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not record the payout of ${code}: ${describe(e)}`;
  } finally {
    refresh(offers);
  }
}

function referralRow(r, offers) {
  const uses = r.uses || {};
  const canPay = r.payout_eligible === true && offers('POST', '/api/growth/referrals/{code}/payout');
  const action = r.payout_eligible === true
    ? el('button', { type: 'button', class: 'small payout', disabled: !canPay,
      onclick: (ev) => payout(r.code, ev.currentTarget, offers) }, `Pay ${money(r.payout_due)}`)
    : el('span', { class: 'muted' }, 'under $10 due');
  return el('tr', { dataset: { code: r.code, eligible: r.payout_eligible ? 'true' : 'false' } },
    el('td', { class: 'mono' }, el('a', { href: r.share_url, rel: 'noreferrer' }, r.code)),
    el('td', { 'data-label': 'Owner' }, r.owner),
    el('td', { class: 'num', 'data-label': 'Subscribes' }, count(uses.subscribes)),
    el('td', { class: 'num', 'data-label': 'Payments' }, count(uses.payments)),
    el('td', { class: 'num', 'data-label': 'Revenue' }, money(r.revenue)),
    el('td', { class: 'num', 'data-label': 'Commission' }, money(r.commission)),
    el('td', { class: 'num', 'data-label': 'Paid out' }, money(r.paid_out)),
    el('td', { class: 'num due', 'data-label': 'Due' }, money(r.payout_due)),
    el('td', { 'data-label': 'Payout' }, action));
}

/** Loads the panel; `offers(method, path)` says which routes the node has. */
export async function refresh(offers) {
  if (!offers('GET', '/api/growth/subscribers')) {
    state('growth-state', 'This node has no growth routes (GET /api/growth/subscribers is not among its routes).',
      'error');
    return;
  }
  try {
    const [subs, refs] = await Promise.all([
      api('GET', '/api/growth/subscribers?limit=10'),
      api('GET', '/api/growth/referrals'),
    ]);
    const counts = (subs && subs.counts) || {};
    state('growth-state', '');
    fill($('growth-counts'),
      card('subscribed', 'Subscribed', count(counts.subscribed), 'forwarded to MailerLite / Brevo'),
      card('pending', 'Pending', count(counts.pending),
        subs && subs.double_opt_in ? 'waiting for their confirmation link' : 'double opt-in is off (no SMTP_HOST)'),
      card('unsubscribed', 'Unsubscribed', count(counts.unsubscribed), `${count(subs && subs.suppressed)} suppressed`),
      card('outbox', 'Forwards waiting', count(subs && subs.outbox), 'retried until the provider accepts'));
    const latest = (subs && Array.isArray(subs.latest)) ? subs.latest : [];
    fill($('subs-body'), latest.map(subscriberRow));
    $('subs-table').hidden = latest.length === 0;
    state('subs-state', latest.length ? '' : 'No subscribers yet.', latest.length ? '' : 'empty');
    const codes = (refs && Array.isArray(refs.referrals)) ? refs.referrals : [];
    fill($('refs-body'), codes.map((r) => referralRow(r, offers)));
    $('refs-table').hidden = codes.length === 0;
    state('refs-state', codes.length ? '' : 'No referral codes yet.', codes.length ? '' : 'empty');
    $('growth-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state('growth-state', `Could not load growth: ${describe(e)}`, 'error');
  }
}

/** Empties the panel (the key was forgotten). */
export function clear() {
  for (const id of ['growth-counts', 'subs-body', 'refs-body', 'growth-msg'])
    fill($(id));
  $('subs-table').hidden = true;
  $('refs-table').hidden = true;
  $('growth-stamp').textContent = '';
}
