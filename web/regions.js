// The dashboard's regions panel (issue 13, S26): this node in its cluster,
// each peer's link (state, last seen, lag, events received, applied and
// sent, last error), the replication counters, and "Sync now" (POST
// /api/regions/sync) with its report per peer. Shown as unavailable when the
// node has no regions routes.

import { api, describe } from './api.js';
import { el, fill, count, utc, clock, ago, setState as state } from './format.js';

const $ = (id) => document.getElementById(id);

/** up: green; down, refused: red; connecting (or anything new): amber. */
function stateBadge(s) {
  const kind = s === 'up' ? 'ok' : s === 'down' || s === 'refused' ? 'bad' : 'warn';
  return el('span', { class: `badge ${kind}` }, s || 'unknown');
}

/** The peer's state (up or down) as a badge coloured by the link's own phase, named when it says more. */
function peerState(p) {
  const phase = p.link_state || p.state;
  const badge = el('span', { class: `badge ${p.state === 'up' ? 'ok' : phase === 'connecting' ? 'warn' : 'bad'}` },
    p.state || 'unknown');
  return [badge, phase && phase !== p.state ? el('small', { class: 'muted link-state' }, ` ${phase}`) : null];
}

function shortNode(id) {
  return typeof id === 'string' && id.length > 8 ? `${id.slice(0, 8)}…` : id || '–';
}

function renderSelf(self) {
  const address = self.address
    ? el('span', { class: 'mono' }, self.address)
    : el('span', { class: 'muted' }, 'not in a cluster (started without --cluster-port)');
  const pairs = [
    ['Region', self.region || '–'],
    ['Node id', el('span', { class: 'mono', title: self.node || '' }, self.node || '–')],
    ['Cluster address', address],
    ['Events written here (log head)', count(self.head)],
  ];
  if (self.partitioned)
    pairs.push(['Partition', el('span', { class: 'badge bad' }, 'cluster traffic dropped (fault injection)')]);
  fill($('regions-self'), pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function peerRow(p) {
  const since = p.state !== 'up' && p.down_since ? el('small', { class: 'muted' }, ` since ${utc(p.down_since)}`) : null;
  return el('tr', { dataset: { address: p.address, state: p.state || '', linkState: p.link_state || '' } },
    el('td', { class: 'mono' }, p.address),
    el('td', { 'data-label': 'Region' }, p.region || '–',
      p.node ? el('small', { class: 'muted mono', title: p.node }, ` ${shortNode(p.node)}`) : null),
    el('td', { class: 'peer-state', 'data-label': 'State' }, peerState(p), since),
    el('td', { class: 'nowrap', 'data-label': 'Last seen', title: p.last_seen ? utc(p.last_seen) : '' },
      ago(p.last_seen_ms_ago)),
    el('td', { class: 'num lag', 'data-label': 'Lag' }, count(p.lag)),
    el('td', { class: 'num', 'data-label': 'Received' }, count(p.events_received)),
    el('td', { class: 'num', 'data-label': 'Applied' }, count(p.events_applied)),
    el('td', { class: 'num', 'data-label': 'Sent' }, count(p.events_sent)),
    el('td', { class: 'failure', 'data-label': 'Last error' },
      p.last_error ? p.last_error : el('span', { class: 'muted' }, 'none')));
}

function card(key, label, value, note) {
  return el('div', { class: 'card', dataset: { key } },
    el('span', { class: 'card-label' }, label),
    el('span', { class: 'card-value' }, value),
    note ? el('small', {}, note) : null);
}

/** Each origin node's highest applied sequence, named by region where known. */
function appliedText(applied, names) {
  const entries = Object.entries(applied || {});
  if (entries.length === 0) return 'Applied per origin: nothing yet.';
  return `Applied per origin: ${entries.map(([node, seq]) =>
    `${names[node] ? `${names[node]}/` : ''}${shortNode(node)} ${count(seq)}`).join(', ')}.`;
}

function renderCounters(rep, names) {
  rep = rep || {};
  const lag = rep.lag || {};
  fill($('regions-counters'),
    card('duplicates', 'Duplicates', count(rep.duplicates), 'events received twice, applied once'),
    card('gaps', 'Gaps', count(rep.gaps), 'events received past a missing one, never applied out of order'),
    card('refused', 'Refused', count(rep.refused), 'handshakes with a wrong secret'),
    card('failovers', 'Failovers', count(rep.failovers), 'requests served through a peer'),
    card('failovers_served', 'Served for peers', count(rep.failovers_served), 'requests this node served for a peer'),
    card('lag', 'Lag p50 / p99', lag.p50_ms === null || lag.p50_ms === undefined ? '–'
      : `${count(lag.p50_ms)} / ${count(lag.p99_ms)} ms`, 'from a change at its origin to its commit here'));
  $('regions-applied').textContent = appliedText(rep.applied, names);
}

/** Loads the panel; `offers(method, path)` says which routes the node has. */
export async function refresh(offers) {
  if (!offers('GET', '/api/regions/status')) {
    state('regions-state', 'This node has no regions (GET /api/regions/status is not among its routes).', 'error');
    $('regions-sync').disabled = true;
    return;
  }
  $('regions-sync').disabled = !offers('POST', '/api/regions/sync');
  try {
    const s = await api('GET', '/api/regions/status');
    const self = (s && s.self) || {};
    const peers = (s && Array.isArray(s.peers)) ? s.peers : [];
    const names = {};
    if (self.node) names[self.node] = self.region;
    for (const p of peers) if (p.node && p.region) names[p.node] = p.region;
    state('regions-state', '');
    renderSelf(self);
    fill($('peers-body'), peers.map(peerRow));
    $('peers-table').hidden = peers.length === 0;
    state('peers-state', peers.length ? '' : 'No peers: this node was started without --peer.', peers.length ? '' : 'empty');
    renderCounters(s && s.replication, names);
    $('regions-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state('regions-state', `Could not load the regions: ${describe(e)}`, 'error');
  }
}

function syncRow(p) {
  const caught = p.caught_up === true;
  return el('tr', { dataset: { address: p.address, caughtUp: caught ? 'true' : 'false' } },
    el('td', { class: 'mono' }, p.address),
    el('td', { 'data-label': 'Region' }, p.region || '–'),
    el('td', { 'data-label': 'State' }, p.state ? stateBadge(p.state) : '–'),
    el('td', { class: 'num', 'data-label': 'Pulled' }, count(p.pulled)),
    el('td', { 'data-label': 'Caught up' }, el('span', { class: `badge ${caught ? 'ok' : 'bad'}` }, caught ? 'yes' : 'no')),
    el('td', { class: 'failure', 'data-label': 'Error' }, p.error || el('span', { class: 'muted' }, 'none')));
}

/** "Sync now": forces a catch-up with every peer and shows what each pulled. */
export async function sync(button, offers) {
  button.disabled = true;
  const msg = $('regions-msg');
  msg.className = 'msg info';
  msg.textContent = 'Catching up with every peer…';
  try {
    const r = await api('POST', '/api/regions/sync', { body: {} });
    const peers = (r && Array.isArray(r.peers)) ? r.peers : [];
    fill($('sync-body'), peers.map(syncRow));
    $('sync-table').hidden = peers.length === 0;
    const behind = peers.filter((p) => p.caught_up !== true);
    const pulled = peers.reduce((n, p) => n + (Number(p.pulled) || 0), 0);
    if (peers.length === 0) {
      msg.className = 'msg info';
      msg.textContent = `Sync at ${clock()}: no peers, nothing to catch up.`;
    } else if (behind.length === 0) {
      msg.className = 'msg ok';
      msg.textContent = `Sync at ${clock()}: caught up with ${peers.length} peer${peers.length === 1 ? '' : 's'}, `
        + `${count(pulled)} event${pulled === 1 ? '' : 's'} pulled.`;
    } else {
      msg.className = 'msg error';
      msg.textContent = `Sync at ${clock()}: not caught up with ${behind.map((p) =>
        `${p.address}${p.region ? ` (${p.region})` : ''}${p.error ? `: ${p.error}` : ''}`).join('; ')}.`;
    }
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not sync: ${describe(e)}`;
  } finally {
    button.disabled = false;
    refresh(offers);
  }
}

/** Empties the panel (the key was forgotten). */
export function clear() {
  for (const id of ['regions-self', 'peers-body', 'regions-counters', 'regions-applied', 'regions-msg', 'sync-body'])
    fill($(id));
  $('peers-table').hidden = true;
  $('sync-table').hidden = true;
  $('regions-stamp').textContent = '';
}
