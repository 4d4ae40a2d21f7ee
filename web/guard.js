// The dashboard's rate-guard panel (issue 14, S22): whether the guard is on,
// its counters, the banned clients (until, retry in, reason, bans) each with
// a Clear button (POST /api/rate-guard/clear, then a refresh), the clients
// with strikes, and the settings (trusted proxies, exempt addresses). Shown
// as unavailable when the node has no rate-guard routes.

import { api, describe } from './api.js';
import { el, fill, count, utc, clock, duration, setState as state } from './format.js';

const $ = (id) => document.getElementById(id);

function card(key, label, value, note) {
  return el('div', { class: 'card', dataset: { key } },
    el('span', { class: 'card-label' }, label),
    el('span', { class: 'card-value' }, count(value)),
    note ? el('small', {}, note) : null);
}

function renderCounters(c) {
  c = c || {};
  fill($('guard-counters'),
    card('clients', 'Clients tracked', c.clients, 'addresses with strikes, a ban or a limit'),
    card('banned', 'Banned now', c.banned),
    card('struck', 'With strikes', c.struck, 'in the strike window, not banned'),
    card('strikes_total', 'Strikes', c.strikes_total, 'missing or wrong keys and limits hit'),
    card('bans_total', 'Bans', c.bans_total),
    card('refused_banned_total', 'Refused while banned', c.refused_banned_total),
    card('limited_total', 'Limited', c.limited_total, 'requests over a route\'s rate'),
    card('evicted_total', 'Evicted', c.evicted_total, `of them banned: ${count(c.evicted_banned_total)}`),
    card('unsaved_total', 'Unsaved', c.unsaved_total, 'changes the store did not take'));
}

/** A list of address blocks as text; "none" when empty. */
function blocks(list) {
  return Array.isArray(list) && list.length ? el('span', { class: 'mono' }, list.join(', '))
    : el('span', { class: 'muted' }, 'none');
}

function renderSettings(enabled, s) {
  s = s || {};
  const pairs = [
    ['Guard', el('span', { class: `badge ${enabled ? 'ok' : 'warn'}` }, enabled ? 'on' : 'off')],
    ['Ban after', `${count(s.strikes_to_ban)} strikes within ${duration(Number(s.strike_window_s) * 1000)}`],
    ['Ban lasts', duration(Number(s.ban_s) * 1000)],
    ['Clients kept at most', count(s.max_clients)],
    ['Trusted proxies', blocks(s.trusted_proxies)],
    ['Exempt', blocks(s.exempt)],
  ];
  fill($('guard-settings'), pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

/** Lifts the ban and strikes of `client`, says what happened, then reloads the panel. */
async function clearClient(client, button, offers) {
  button.disabled = true;
  const msg = $('guard-msg');
  msg.className = 'msg info';
  msg.textContent = `Clearing ${client}…`;
  try {
    const r = await api('POST', '/api/rate-guard/clear', { body: { ip: client } });
    msg.className = 'msg ok';
    msg.textContent = r && r.cleared ? `Cleared ${r.client} at ${clock()}.`
      : `${(r && r.client) || client} had no ban or strikes.`;
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not clear ${client}: ${describe(e)}`;
    button.disabled = false;
  } finally {
    refresh(offers);
  }
}

function bannedRow(b, offers) {
  const canClear = offers('POST', '/api/rate-guard/clear');
  return el('tr', { dataset: { client: b.client } },
    el('td', { class: 'mono' }, b.client),
    el('td', { class: 'nowrap', 'data-label': 'Until', title: b.banned_at ? `banned at ${utc(b.banned_at)}` : '' },
      utc(b.until)),
    el('td', { class: 'nowrap retry', 'data-label': 'Retry in' }, duration(Number(b.retry_after_s) * 1000)),
    el('td', { 'data-label': 'Reason' }, b.reason || '–'),
    el('td', { class: 'num', 'data-label': 'Bans' }, count(b.bans)),
    el('td', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary small guard-clear', 'aria-label': `Clear ${b.client}`,
        disabled: !canClear, onclick: (ev) => clearClient(b.client, ev.currentTarget, offers) }, 'Clear')));
}

function struckRow(s) {
  return el('tr', { dataset: { client: s.client } },
    el('td', { class: 'mono' }, s.client),
    el('td', { class: 'num', 'data-label': 'Strikes' }, count(s.strikes)),
    el('td', { class: 'nowrap', 'data-label': 'Last strike' }, utc(s.last_strike)),
    el('td', { 'data-label': 'Reason' }, s.reason || '–'),
    el('td', { class: 'num', 'data-label': 'Bans' }, count(s.bans)));
}

/** "Banned clients (showing 100 of 250)" when the node listed fewer than it counts. */
function shown(list, total) {
  return Number(total) > list.length ? ` (showing ${list.length} of ${count(total)})` : '';
}

function table(name, rows, empty, note) {
  fill($(`${name}-body`), rows);
  $(`${name}-table`).hidden = rows.length === 0;
  state(`${name}-state`, rows.length ? note : empty, rows.length ? '' : 'empty');
}

/** Loads the panel; `offers(method, path)` says which routes the node has. */
export async function refresh(offers) {
  if (!offers('GET', '/api/rate-guard/stats')) {
    state('guard-state', 'This node has no rate guard (GET /api/rate-guard/stats is not among its routes).', 'error');
    return;
  }
  try {
    const s = (await api('GET', '/api/rate-guard/stats')) || {};
    const banned = Array.isArray(s.banned) ? s.banned : [];
    const struck = Array.isArray(s.struck) ? s.struck : [];
    state('guard-state', s.enabled === false ? 'The rate guard is off: nothing is struck, limited or banned.' : '',
      s.enabled === false ? 'empty' : '');
    renderCounters(s.counters);
    table('guard-banned', banned.map((b) => bannedRow(b, offers)), 'No banned clients.',
      shown(banned, s.banned_count).trim());
    table('guard-struck', struck.map(struckRow), 'No clients with strikes.', shown(struck, s.struck_count).trim());
    renderSettings(s.enabled !== false, s.settings);
    $('guard-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state('guard-state', `Could not load the rate guard: ${describe(e)}`, 'error');
  }
}

/** Empties the panel (the key was forgotten). */
export function clear() {
  for (const id of ['guard-counters', 'guard-banned-body', 'guard-struck-body', 'guard-settings', 'guard-msg'])
    fill($(id));
  $('guard-banned-table').hidden = true;
  $('guard-struck-table').hidden = true;
  $('guard-stamp').textContent = '';
}
