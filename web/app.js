// The EchoPilot dashboard (S30): key entry, health, the supervision tree
// (live), jobs, the three charts, finance, self-heal, flags, and in files of
// their own payments and regions. Everything it loads comes from the node;
// every call needs the key, held in memory.

import { api, ApiError, describe, setKey, clearKey, hasKey, whenUnauthorized } from './api.js';
import { el, fill, money, number1, count, utc, clock, duration, jsonText, setState } from './format.js';
import * as charts from './charts.js';
import * as payments from './payments.js';
import * as regions from './regions.js';
import * as growth from './growth.js'; // growth (issue 14)
import * as email from './email.js'; // -- email (issue 16)
import * as experiments from './experiments.js'; // issue 14 exp
import * as guard from './guard.js'; // issue 14, rate guard panel
import * as review from './jobs_review.js'; // issue 15: review queue, dead letter, job actions

const $ = (id) => document.getElementById(id);

// What the node offers, from its OpenAPI document (read after connecting):
// routes missing there (fault injection off, a subsystem not built in) are
// shown as unavailable instead of being called.
let routes = null;
function offers(method, path) {
  if (routes === null) return true; // unknown: try, and show the error
  const ops = routes[path];
  return !!ops && !!ops[method.toLowerCase()];
}

function stamp(id) { $(id).textContent = `Updated ${clock()}`; }

// -- polling ------------------------------------------------------------------
// Each task runs, then waits its period; never two of one at once. Hidden
// tabs skip their turns; disconnecting stops everything.

const tasks = [];
let generation = 0;

function every(ms, fn) { tasks.push({ ms, fn }); }

function startPolling() {
  const gen = ++generation;
  for (const t of tasks) {
    const loop = async () => {
      if (gen !== generation) return;
      if (!document.hidden) {
        try { await t.fn(); } catch (e) { /* each task shows its own errors */ }
      }
      if (gen === generation) t.timer = setTimeout(loop, t.ms);
    };
    loop();
  }
}

function stopPolling() {
  generation++;
  for (const t of tasks) clearTimeout(t.timer);
}

// -- key ----------------------------------------------------------------------

function showKeyMessage(text, kind = 'error') {
  const m = $('key-msg');
  m.textContent = text;
  m.className = `msg ${kind}`;
}

async function connect(candidate) {
  $('key-submit').disabled = true;
  showKeyMessage('Checking the key…', 'info');
  try {
    const health = await api('GET', '/api/system-health', { key: candidate });
    setKey(candidate);
    showKeyMessage('', '');
    try {
      const doc = await api('GET', '/api/openapi.json');
      routes = doc && doc.paths ? doc.paths : null;
      if (doc && doc.info && doc.info.version) $('foot-version').textContent = `node ${doc.info.version}`;
    } catch (e) {
      routes = null;
    }
    $('key-panel').hidden = true;
    $('panels').hidden = false;
    $('conn').hidden = false;
    renderHealth(health);
    applyCapabilities();
    startPolling();
  } catch (e) {
    clearKey();
    if (e instanceof ApiError && e.status === 401)
      showKeyMessage('Wrong key: the node refused it. Use the key from data/dashboard.key '
        + '(or the node\'s DASHBOARD_KEY) and try again.');
    else
      showKeyMessage(`Cannot check the key: ${describe(e)}`);
  } finally {
    $('key-submit').disabled = false;
  }
}

function disconnect(reason) {
  stopPolling();
  clearKey();
  routes = null;
  openJob = null;
  // Nothing the key showed stays on the page.
  for (const id of ['health-body', 'tree-body', 'jobs-body', 'job-detail-body', 'finance-body', 'heal-body',
    'flags-body', 'history-body', 'tree-msg', 'job-msg', 'flag-msg', 'sched-body', 'sched-msg', 'slo-body',
    'alerts-body', 'alerts-msg', 'incidents-body', 'incidents-msg'])
    fill($(id));
  for (const id of ['tree-table', 'jobs-table', 'flags-table', 'history-table', 'job-detail', 'sched-table',
    'alerts-table', 'incidents-table'])
    $(id).hidden = true;
  payments.clear();
  regions.clear();
  growth.clear(); // growth (issue 14)
  email.clear(); // -- email (issue 16)
  experiments.clear(); // issue 14 exp
  guard.clear(); // issue 14, rate guard panel
  review.clear(); // issue 15
  fill($('job-actions'));
  fill($('job-action-msg'));
  $('panels').hidden = true;
  $('conn').hidden = true;
  $('key-panel').hidden = false;
  showKeyMessage(reason || '', reason ? 'error' : '');
  $('key-input').focus();
}

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('key-input');
  const candidate = input.value.trim();
  input.value = ''; // not left in the form
  if (!candidate) {
    showKeyMessage('Enter the dashboard key.');
    return;
  }
  connect(candidate);
});

$('forget').addEventListener('click', () => disconnect('Key forgotten. Enter it again to continue.'));

whenUnauthorized(() => {
  if (hasKey()) disconnect('The node no longer accepts this key (401). Enter the current key.');
});

// -- health -------------------------------------------------------------------

function checkDetail(c) {
  const d = c.detail;
  if (d === null || d === undefined) return '';
  switch (c.name) {
    case 'supervision':
      return d.not_running && d.not_running.length
        ? `${d.actors} actors; not running: ${d.not_running.map((n) => `${n.id} (${n.state})`).join(', ')}`
        : `${d.actors} actors, all running`;
    case 'store':
      return d.open
        ? `open, ${d.map_percent !== null && d.map_percent !== undefined ? `${number1(d.map_percent)} % of the map used` : 'map use unknown'}`
        : `not open${d.problem ? `: ${d.problem}` : ''}`;
    case 'disk': return d.free_percent !== null && d.free_percent !== undefined ? `${number1(d.free_percent)} % free` : 'unreadable';
    case 'memory': return d.available_percent !== null && d.available_percent !== undefined ? `${number1(d.available_percent)} % available` : 'unreadable';
    case 'gateway':
      return `${count(d.open_connections)} of ${count(d.max_connections)} connections; `
        + `${count(d.errors_5xx)} 5xx of ${count(d.requests)} recent requests`;
    default: return jsonText(d);
  }
}

let ready = null;

function renderHealth(h) {
  const overall = h.overall || 'unknown';
  const checks = Array.isArray(h.checks) ? h.checks : [];
  fill($('health-body'),
    el('p', { class: 'overall' },
      el('span', { class: `badge ${overall === 'healthy' ? 'ok' : 'bad'}` }, overall),
      ready === null ? null
        : el('span', { class: `badge ${ready.ready ? 'ok' : 'bad'}`, id: 'ready-badge' },
          ready.ready ? 'ready' : 'not ready')),
    el('ul', { class: 'checks' }, checks.map((c) =>
      el('li', { class: c.ok ? 'ok' : 'bad' },
        el('span', { class: 'check-name' }, `${c.ok ? '✓' : '✗'} ${c.name}`),
        el('span', { class: 'check-detail' }, checkDetail(c))))));
  setState('health-state', '');
  stamp('health-stamp');
}

async function refreshHealth() {
  try {
    const [h, r] = await Promise.all([
      api('GET', '/api/system-health'),
      api('GET', '/readyz').catch((e) => ({ ready: false, error: describe(e) })),
    ]);
    ready = r;
    renderHealth(h);
  } catch (e) {
    setState('health-state', `Could not load the health checks: ${describe(e)}`, 'error');
  }
}
every(5000, refreshHealth);

// -- supervision tree ---------------------------------------------------------

let faults = false;

// Large pools (many children of one supervisor) start folded into their
// supervisor's row, which sums them up; a person unfolds them.
const foldAbove = 8;
const unfolded = new Set();

function folded(node) {
  return (node.children || []).length > foldAbove && !unfolded.has(node.id);
}

function flatten(node, depth, out) {
  out.push({ node, depth });
  if (!folded(node))
    for (const c of node.children || []) flatten(c, depth + 1, out);
  return out;
}

/** "16 children: 16 running, 3 restarts" and a button to (un)fold them. */
function poolSummary(node) {
  const kids = node.children || [];
  if (kids.length <= foldAbove) return null;
  const running = kids.filter((c) => c.state === 'running').length;
  const restarts = kids.reduce((a, c) => a + (Number(c.restarts) || 0), 0);
  const isFolded = folded(node);
  return el('div', { class: 'pool' },
    el('small', {}, `${kids.length} children: ${running} running, ${restarts} restarts`),
    el('button', {
      type: 'button', class: 'secondary small', 'aria-expanded': isFolded ? 'false' : 'true',
      onclick: () => {
        if (isFolded) unfolded.add(node.id); else unfolded.delete(node.id);
        refreshTree();
      },
    }, isFolded ? `Show ${kids.length}` : 'Fold'));
}

async function crash(id, button) {
  button.disabled = true;
  const msg = $('tree-msg');
  msg.className = 'msg info';
  msg.textContent = `Crashing ${id}…`;
  try {
    await api('POST', '/api/supervision/crash', { body: { child: id } });
    msg.textContent = `${id} crashed at ${clock()}; watch its restarts.`;
    refreshTree();
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not crash ${id}: ${describe(e)}`;
  } finally {
    button.disabled = false;
  }
}

function renderTree(tree) {
  const rows = flatten(tree, 0, []);
  fill($('tree-body'), rows.map(({ node, depth }) => {
    const failure = node.last_exit
      ? el('span', { title: node.last_restart ? `restarted ${utc(node.last_restart)}` : '' },
        node.last_exit, node.last_restart ? el('small', {}, ` · ${utc(node.last_restart)}`) : null)
      : el('span', { class: 'muted' }, 'none');
    const action = faults && depth > 0
      ? el('button', {
        type: 'button', class: 'danger small', 'aria-label': `Crash ${node.id}`,
        title: 'Fault injection: the actor fails as after an uncaught exception',
        onclick: (ev) => crash(node.id, ev.currentTarget),
      }, 'Crash')
      : null;
    return el('tr', { dataset: { id: node.id }, class: `state-${node.state}` },
      el('td', { class: `actor depth-${Math.min(depth, 6)}` },
        el('span', { class: 'actor-id' }, node.id),
        el('small', { class: 'kind' }, node.kind === 'supervisor' && node.strategy
          ? ` supervisor, ${node.strategy}` : ` ${node.kind || ''}`),
        poolSummary(node)),
      el('td', { 'data-label': 'State' }, el('span', { class: `badge ${node.state === 'running' ? 'ok' : 'warn'}` }, node.state)),
      el('td', { class: 'num restarts', 'data-label': 'Restarts' }, count(node.restarts)),
      el('td', { class: 'failure', 'data-label': 'Last failure' }, failure),
      el('td', { class: 'num', 'data-label': 'Uptime' }, node.uptime_ms === null || node.uptime_ms === undefined ? '–' : duration(node.uptime_ms)),
      el('td', { class: 'actions' }, action));
  }));
  $('tree-table').hidden = false;
  setState('tree-state', '');
  stamp('tree-stamp');
}

async function refreshTree() {
  try {
    renderTree(await api('GET', '/api/supervision/tree'));
  } catch (e) {
    setState('tree-state', `Could not load the tree: ${describe(e)}`, 'error');
  }
}
every(1500, refreshTree);

// -- jobs ---------------------------------------------------------------------

const terminal = new Set(['completed', 'failed', 'dead', 'cancelled', 'waiting_human']);
const pageSize = 20;
const maxShown = 500; // the API's largest page
let jobsShown = pageSize; // grows with "Load more"; polling keeps what is shown
let openJob = null;

function statusBadge(s) {
  const kind = s === 'completed' ? 'ok' : s === 'failed' || s === 'dead' || s === 'cancelled' ? 'bad' : 'warn';
  return el('span', { class: `badge ${kind} status` }, s || 'unknown');
}

function jobRow(j) {
  return el('tr', { dataset: { id: j.id, status: j.status } },
    el('td', { class: 'nowrap', 'data-label': 'Created' }, utc(j.created_at)),
    el('td', { class: 'mono', 'data-label': 'Job' }, j.id),
    el('td', { 'data-label': 'Type' }, j.task_type),
    el('td', { 'data-label': 'Status' }, statusBadge(j.status)),
    el('td', { class: 'num', 'data-label': 'QA' }, j.qa_score === null || j.qa_score === undefined ? '–' : number1(j.qa_score)),
    el('td', { class: 'num', title: j.cost_usd ?? '', 'data-label': 'Cost' }, money(j.cost_usd)),
    el('td', { class: 'num', title: j.price_usd ?? '', 'data-label': 'Price' }, money(j.price_usd)),
    el('td', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary small', onclick: () => showJob(j.id) }, 'Open')));
}

async function refreshJobs() {
  if (!offers('GET', '/api/jobs')) {
    setState('jobs-state', 'This node has no jobs API yet (GET /api/jobs is not among its routes).', 'error');
    return;
  }
  const params = new URLSearchParams({ limit: String(jobsShown) });
  const status = $('job-filter').value;
  if (status) params.set('status', status);
  try {
    const data = await review.oneList(() => api('GET', `/api/jobs?${params}`)); // issue 15: one list at a time
    const jobs = Array.isArray(data.jobs) ? data.jobs : [];
    fill($('jobs-body'), jobs.map(jobRow));
    if (data.counts && typeof data.counts === 'object')
      for (const o of $('job-filter').options)
        o.textContent = o.value ? `${o.value} (${count(data.counts[o.value] ?? 0)})` : 'all';
    const any = jobs.length > 0;
    $('jobs-table').hidden = !any;
    $('jobs-more').hidden = !data.next_cursor || jobsShown >= maxShown;
    setState('jobs-state', any ? '' : status ? `No ${status} jobs.` : 'No jobs yet. Submit one above.', any ? '' : 'empty');
    stamp('jobs-stamp');
  } catch (e) {
    setState('jobs-state', `Could not load the jobs: ${describe(e)}`, 'error');
  }
}
every(3000, refreshJobs);
$('job-filter').addEventListener('change', () => { jobsShown = pageSize; refreshJobs(); });
$('jobs-more').addEventListener('click', () => {
  jobsShown = Math.min(jobsShown + pageSize, maxShown);
  refreshJobs();
});

const jobFields = [
  ['status', 'Status', (j) => statusBadge(j.status)],
  ['email', 'Client', (j) => j.email],
  ['task_type', 'Task type', (j) => j.task_type],
  ['attempts', 'Attempts', (j) => count(j.attempts)],
  ['created_at', 'Created', (j) => utc(j.created_at)],
  ['updated_at', 'Updated', (j) => utc(j.updated_at)],
  ['finished_at', 'Finished', (j) => utc(j.finished_at)],
  ['duration_ms', 'Duration', (j) => duration(j.duration_ms)],
  ['processor', 'Processor', (j) => [j.processor, j.model ? ` (${j.model})` : ''].join('')],
  ['qa_score', 'QA', (j) => (j.qa_score === null || j.qa_score === undefined ? '–'
    : `${number1(j.qa_score)}${j.qa_passed ? ', passed' : ', not passed'}${j.needs_review ? ', needs review' : ''}`)],
  ['tokens_in', 'Tokens in / out', (j) => `${count(j.tokens_in)} / ${count(j.tokens_out)}`],
  ['cost_usd', 'Cost', (j) => money(j.cost_usd)],
  ['price_usd', 'Price', (j) => money(j.price_usd)],
  ['profit_usd', 'Profit', (j) => money(j.profit_usd)],
  ['payment_status', 'Payment', (j) => j.payment_status || '–'],
  ['last_error', 'Last error', (j) => errorText(j.last_error)],
  ['input', 'Input', (j) => el('pre', {}, j.input || '')],
  ['client', 'Client name', (j) => j.client || '–'],
  ['priority', 'Priority', (j) => j.priority || 'normal'],
  ['deadline_at', 'Deadline', (j) => (j.deadline_at ? utc(j.deadline_at) : 'none')],
  ['correlation_id', 'Correlation id', (j) => el('span', { class: 'mono' }, j.correlation_id || '–')],
  ['review', 'Review', (j) => (j.review ? `${j.review.decision || ''} by ${j.review.by || '–'} at ${utc(j.review.at)}${
    j.review.reason ? `: ${j.review.reason}` : j.review.note ? `: ${j.review.note}` : ''}` : 'none')],
  ['dead_reason', 'Dead because', (j) => j.dead_reason || '–'],
  ['result', 'Result', (j) => {
    const text = j.result ?? j.result_summary;
    return text ? el('pre', { id: 'job-result' }, text) : el('span', { class: 'muted' }, 'not yet');
  }],
];

/** A job's last error: a string, or {code, message}; "none" for none. */
function errorText(e) {
  if (e === null || e === undefined || e === '') return 'none';
  if (typeof e === 'object') return e.message ? `${e.message}${e.code ? ` (${e.code})` : ''}` : jsonText(e);
  return String(e);
}

function renderJob(j) {
  $('job-detail-title').textContent = `Job ${j.id}`;
  fill($('job-detail-body'), jobFields.flatMap(([, label, f]) => [el('dt', {}, label), el('dd', {}, f(j))]));
  $('job-detail').dataset.status = j.status || '';
  // issue 15: cancel, approve, requeue; then the job is followed again
  fill($('job-actions'), review.detailActions(j, offers, () => { refreshJobs(); review.refresh(offers); showJob(j.id); }));
}

/** The full result of a finished job, where the record holds only its summary (issue 15). */
async function showFullResult(j) {
  if (!j.result_summary || j.result !== undefined) return;
  try {
    const full = await review.fullResult(j.id, offers);
    if (full !== null && openJob === j.id && $('job-result')) $('job-result').textContent = full;
  } catch (e) { /* the summary stays; the error shows in the state line at the next load */ }
}

async function showJob(id) {
  openJob = id;
  $('job-detail').hidden = false;
  $('job-detail').dataset.id = id;
  setState('job-detail-state', 'Loading…');
  // Follow the job until it ends (or another one is opened).
  for (let i = 0; openJob === id && hasKey(); i++) {
    try {
      const j = await api('GET', `/api/jobs/${encodeURIComponent(id)}`);
      if (openJob !== id) return;
      renderJob(j);
      setState('job-detail-state', terminal.has(j.status) ? '' : `${j.status}… (updating)`);
      if (terminal.has(j.status)) {
        showFullResult(j); // issue 15
        review.refresh(offers); // issue 15
        refreshJobs();
        refreshCharts();
        refreshFinance();
        return;
      }
    } catch (e) {
      if (openJob === id) setState('job-detail-state', `Could not load the job: ${describe(e)}`, 'error');
      if (!(e instanceof ApiError) || e.status === 0 || e.status >= 500) { /* retry */ } else return;
    }
    await new Promise((r) => setTimeout(r, i < 20 ? 500 : 2000));
  }
}

$('job-detail-close').addEventListener('click', () => {
  openJob = null;
  $('job-detail').hidden = true;
});

$('job-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('job-msg');
  const email = $('job-email').value.trim();
  const input = $('job-input').value;
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    msg.className = 'msg error';
    msg.textContent = 'Enter the client\'s email address (name@example.com).';
    return;
  }
  if (!input.trim()) {
    msg.className = 'msg error';
    msg.textContent = 'Enter the job\'s input.';
    return;
  }
  $('job-submit').disabled = true;
  msg.className = 'msg info';
  msg.textContent = 'Submitting…';
  try {
    const job = await api('POST', '/api/jobs', { body: { email, task_type: $('job-type').value, input } });
    msg.className = 'msg ok';
    msg.textContent = `Job ${job.id} ${job.status || 'queued'}.`;
    $('job-input').value = '';
    refreshJobs();
    showJob(job.id);
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `The job was not submitted: ${describe(e)}`;
  } finally {
    $('job-submit').disabled = false;
  }
});

// -- charts and finance ------------------------------------------------------

async function refreshCharts() {
  if (!charts.available()) {
    setState('charts-state', 'Charts unavailable: Chart.js did not load (run scripts/setup, which copies it to web/vendor/).', 'error');
    return;
  }
  if (!offers('GET', '/api/metrics-summary')) {
    setState('charts-state', 'This node has no metrics summary yet (GET /api/metrics-summary is not among its routes).', 'error');
    $('charts').hidden = true;
    return;
  }
  try {
    const summary = await api('GET', '/api/metrics-summary');
    $('charts').hidden = false;
    const empty = charts.render(summary);
    $('chart-jobs-empty').hidden = !empty.jobs;
    $('chart-qa-empty').hidden = !empty.qa;
    $('chart-money-empty').hidden = !empty.money;
    setState('charts-state', '');
    stamp('charts-stamp');
  } catch (e) {
    $('charts').hidden = true;
    setState('charts-state', `Could not load the metrics: ${describe(e)}`, 'error');
  }
}
every(15000, refreshCharts);

const financeCards = [
  ['revenue_7d', 'Revenue, 7 days', money],
  ['cost_7d', 'Cost, 7 days', money],
  ['profit_7d', 'Profit, 7 days', money],
  ['revenue_30d', 'Revenue, 30 days', money],
  ['cost_30d', 'Cost, 30 days', money],
  ['profit_30d', 'Profit, 30 days', money],
  ['roi_30d', 'ROI, 30 days', (v) => (v === null || v === undefined ? '–' : `${number1(v)} %`)],
  ['jobs_7d', 'Jobs, 7 days', count],
  ['jobs_30d', 'Jobs, 30 days', count],
  ['completed_30d', 'Completed, 30 days', count],
  ['avg_qa_7d', 'Average QA, 7 days', number1],
];

async function refreshFinance() {
  if (!offers('GET', '/api/finance-metrics')) {
    setState('finance-state', 'This node has no finance metrics yet (GET /api/finance-metrics is not among its routes).', 'error');
    return;
  }
  try {
    const f = await api('GET', '/api/finance-metrics');
    fill($('finance-body'), financeCards.map(([k, label, fmt]) =>
      el('div', { class: `card${k.startsWith('profit') && Number(f[k]) < 0 ? ' negative' : ''}`, dataset: { key: k } },
        el('span', { class: 'card-label' }, label),
        el('span', { class: 'card-value' }, fmt(f[k])))));
    setState('finance-state', Number(f.jobs_30d) > 0 ? '' : 'No jobs in the last 30 days: all figures are zero.', 'empty');
    stamp('finance-stamp');
  } catch (e) {
    setState('finance-state', `Could not load the finance metrics: ${describe(e)}`, 'error');
  }
}
every(15000, refreshFinance);

// -- self-heal ----------------------------------------------------------------

function healList(title, items) {
  const list = Array.isArray(items) ? items : [];
  return el('div', { class: 'heal-part' },
    el('h4', {}, `${title} (${list.length})`),
    list.length === 0 ? el('p', { class: 'muted' }, 'none')
      : el('ul', {}, list.map((x) => el('li', { class: 'mono' },
        typeof x === 'object' && x !== null
          ? Object.entries(x).map(([k, v]) => `${k}: ${typeof v === 'object' ? jsonText(v) : v}`).join(', ')
          : String(x)))));
}

$('heal-run').addEventListener('click', async () => {
  const button = $('heal-run');
  if (!offers('POST', '/api/self-heal')) {
    setState('heal-state', 'This node has no self-heal endpoint yet (POST /api/self-heal is not among its routes).', 'error');
    return;
  }
  button.disabled = true;
  setState('heal-state', 'Running…');
  try {
    const r = await api('POST', '/api/self-heal', { body: {} });
    fill($('heal-body'),
      el('p', {}, `Report of ${clock()}: ${count(r.events)} events recorded.`),
      healList('Actors', r.actors),
      healList('Requeued jobs', r.requeued),
      healList('Stale workers', r.stale_workers),
      healList('Unpaid jobs with high QA', r.unpaid_high_qa));
    setState('heal-state', '');
    refreshJobs();
  } catch (e) {
    setState('heal-state', `Self-heal failed: ${describe(e)}`, 'error');
  } finally {
    button.disabled = false;
  }
});

// -- flags --------------------------------------------------------------------

async function setFlag(key, value) {
  const msg = $('flag-msg');
  msg.className = 'msg info';
  msg.textContent = `Setting ${key}…`;
  try {
    await api('POST', '/api/flags/set', { body: { key, value } });
    msg.className = 'msg ok';
    msg.textContent = `${key} = ${jsonText(value)}`;
    await refreshFlags();
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not set ${key}: ${describe(e)}`;
  }
}

// The flag ui.new_dashboard (configs/flags.json) switches the dense layout:
// two columns of tighter panels (style.css, body.dense).
function applyLayoutFlag(flags) {
  document.body.classList.toggle('dense', flags['ui.new_dashboard'] === true);
}

function renderFlags(flags) {
  applyLayoutFlag(flags);
  const keys = Object.keys(flags).sort();
  fill($('flags-body'), keys.map((k) => {
    const v = flags[k];
    const edit = typeof v === 'boolean'
      ? el('button', { type: 'button', class: 'secondary small', onclick: () => setFlag(k, !v) }, v ? 'Turn off' : 'Turn on')
      : el('button', {
        type: 'button', class: 'secondary small',
        onclick: () => { $('flag-key').value = k; $('flag-value').value = jsonText(v); $('flag-value').focus(); },
      }, 'Edit');
    return el('tr', { dataset: { key: k } },
      el('td', { class: 'mono' }, k),
      el('td', { class: 'mono value' }, jsonText(v)),
      el('td', { class: 'actions' }, edit));
  }));
  fill($('flag-keys'), keys.map((k) => el('option', { value: k })));
  $('flags-table').hidden = keys.length === 0;
  setState('flags-state', keys.length ? '' : 'No flags yet. Set one below.', keys.length ? '' : 'empty');
  stamp('flags-stamp');
}

function renderHistory(entries) {
  const list = Array.isArray(entries) ? entries : [];
  fill($('history-body'), list.map((e) => el('tr', {},
    el('td', { class: 'nowrap' }, utc(e.at || e.time || e.when || e.ts)),
    el('td', { class: 'mono' }, e.key),
    el('td', { class: 'mono' }, 'old' in e || 'from' in e
      ? `${jsonText(e.old ?? e.from)} → ${jsonText(e.new ?? e.to ?? e.value)}`
      : jsonText(e.value ?? e.new)),
    el('td', {}, e.who || '–'))));
  $('history-table').hidden = list.length === 0;
  setState('history-state', list.length ? '' : 'No changes yet.', list.length ? '' : 'empty');
}

async function refreshFlags() {
  try {
    const [flags, history] = await Promise.all([
      api('GET', '/api/flags/get'),
      api('GET', '/api/flags/history?limit=20'),
    ]);
    renderFlags(flags || {});
    renderHistory(history);
  } catch (e) {
    setState('flags-state', `Could not load the flags: ${describe(e)}`, 'error');
  }
}
every(10000, refreshFlags);

$('flag-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const key = $('flag-key').value.trim();
  const text = $('flag-value').value.trim();
  const msg = $('flag-msg');
  if (!key) {
    msg.className = 'msg error';
    msg.textContent = 'Enter the flag\'s name.';
    return;
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `The value must be JSON: true, false, a number, or text in double quotes ("${text}").`;
    return;
  }
  setFlag(key, value);
});

// -- scheduler ----------------------------------------------------------------

function resultBadge(t) {
  if (t.available === false) return el('span', { class: 'badge muted-badge', title: t.reason || '' }, 'unavailable');
  if (t.running) return el('span', { class: 'badge warn' }, 'running');
  const r = t.last_result;
  if (!r) return el('span', { class: 'muted' }, 'never run');
  const kind = r === 'ok' ? 'ok' : r === 'skipped' ? 'warn' : 'bad';
  return el('span', { class: `badge ${kind}`, title: t.last_error || '' }, r);
}

async function schedAction(id, action, button) {
  button.disabled = true;
  const msg = $('sched-msg');
  msg.className = 'msg info';
  msg.textContent = `${action === 'run' ? 'Running' : action === 'pause' ? 'Pausing' : 'Resuming'} ${id}…`;
  try {
    await api('POST', `/api/scheduler/tasks/${encodeURIComponent(id)}/${action}`, { body: {} });
    msg.className = 'msg ok';
    msg.textContent = action === 'run' ? `${id} started at ${clock()}.` : `${id} ${action === 'pause' ? 'paused' : 'resumed'}.`;
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not ${action} ${id}: ${describe(e)}`;
  } finally {
    button.disabled = false;
    refreshScheduler();
  }
}

function taskRow(t) {
  const available = t.available !== false;
  return el('tr', { dataset: { id: t.id, result: t.last_result || '', paused: t.paused ? 'true' : 'false' }, class: available ? '' : 'unavailable' },
    el('td', { class: 'actor' }, el('span', { class: 'actor-id' }, t.id),
      t.description ? el('small', { class: 'kind' }, ` ${t.description}`) : null,
      available ? null : el('small', { class: 'muted' }, ` (${t.reason || 'its subsystem is not part of this node'})`)),
    el('td', { class: 'mono', 'data-label': 'Schedule' }, t.schedule),
    el('td', { class: 'nowrap', 'data-label': 'Next run' }, t.paused ? el('span', { class: 'badge warn' }, 'paused') : utc(t.next_run)),
    el('td', { class: 'nowrap', 'data-label': 'Last run' }, utc(t.last_run),
      t.last_duration_ms !== null && t.last_duration_ms !== undefined ? el('small', {}, ` · ${duration(t.last_duration_ms)}`) : null),
    el('td', { class: 'result', 'data-label': 'Result' }, resultBadge(t)),
    el('td', { class: 'num', 'data-label': 'Runs' }, count(t.runs)),
    el('td', { class: 'actions' },
      el('button', {
        type: 'button', class: 'secondary small run', disabled: !available || !!t.running, 'aria-label': `Run ${t.id} now`,
        onclick: (ev) => schedAction(t.id, 'run', ev.currentTarget),
      }, 'Run now'),
      el('button', {
        type: 'button', class: 'secondary small pause', 'aria-label': `${t.paused ? 'Resume' : 'Pause'} ${t.id}`,
        onclick: (ev) => schedAction(t.id, t.paused ? 'resume' : 'pause', ev.currentTarget),
      }, t.paused ? 'Resume' : 'Pause')));
}

async function refreshScheduler() {
  if (!offers('GET', '/api/scheduler/tasks')) {
    setState('sched-state', 'This node has no scheduler (GET /api/scheduler/tasks is not among its routes).', 'error');
    return;
  }
  try {
    const tasks = await api('GET', '/api/scheduler/tasks');
    const list = Array.isArray(tasks) ? tasks : [];
    fill($('sched-body'), list.map(taskRow));
    $('sched-table').hidden = list.length === 0;
    setState('sched-state', list.length ? '' : 'No scheduled tasks.', list.length ? '' : 'empty');
    stamp('sched-stamp');
  } catch (e) {
    setState('sched-state', `Could not load the scheduler: ${describe(e)}`, 'error');
  }
}
every(5000, refreshScheduler);
every(5000, () => payments.refresh(offers));
every(3000, () => regions.refresh(offers));
every(5000, () => growth.refresh(offers)); // growth (issue 14)
every(5000, () => email.refresh(offers)); // -- email (issue 16)
$('regions-sync').addEventListener('click', (ev) => regions.sync(ev.currentTarget, offers));
every(5000, () => experiments.refresh(offers)); // issue 14 exp
every(5000, () => guard.refresh(offers)); // issue 14, rate guard panel
every(5000, () => review.refresh(offers)); // issue 15
review.wire(offers); // issue 15

// -- operations: SLO, alerts, incidents -----------------------------------------

function pct(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return '–';
  return `${Number(x).toFixed(digits)} %`;
}

function ms(x) {
  if (x === null || x === undefined || !Number.isFinite(Number(x))) return '–';
  return `${Math.round(Number(x))} ms`;
}

function sloCards(s) {
  const t = s.targets || {};
  const b = s.budget || {};
  const card = (key, label, value, sub, bad) => el('div', { class: `card${bad ? ' negative' : ''}`, dataset: { key } },
    el('span', { class: 'card-label' }, label), el('span', { class: 'card-value' }, value),
    sub ? el('small', { class: 'muted' }, sub) : null);
  const burn = s.burn_rates || {};
  return [
    card('verdict', 'SLO', s.verdict || '–', s.window ? `${count(s.window.requests)} requests, ${count(s.window.errors)} errors` : null, s.pass === false),
    card('availability', 'Availability', pct(s.availability), t.availability !== undefined ? `target ${pct(t.availability, 1)}` : null),
    card('p95', 'p95 latency', ms(s.p95_ms), t.p95_ms !== undefined ? `target ${ms(t.p95_ms)}` : null),
    card('p99', 'p99 latency', ms(s.p99_ms), t.p99_ms !== undefined ? `target ${ms(t.p99_ms)}` : null),
    card('budget', 'Error budget left', pct(b.remaining_percent ?? b.remaining, 1), b.consumed_percent !== undefined ? `${pct(b.consumed_percent, 1)} used` : null,
      Number(b.remaining_percent ?? b.remaining) <= 0),
    card('burn', 'Burn rate, 1 h', burn['1h'] === undefined ? '–' : `${number1(burn['1h'])}×`, burn['5m'] !== undefined ? `5 min: ${number1(burn['5m'])}×` : null),
  ];
}

async function refreshSlo() {
  if (!offers('GET', '/api/slo/status')) {
    setState('slo-state', 'This node has no SLO monitor (GET /api/slo/status is not among its routes).', 'error');
    return;
  }
  try {
    const s = await api('GET', '/api/slo/status');
    fill($('slo-body'), sloCards(s || {}));
    setState('slo-state', '');
  } catch (e) {
    setState('slo-state', `Could not load the SLO status: ${describe(e)}`, 'error');
  }
}

async function alertAction(fp, action, button) {
  button.disabled = true;
  const msg = $('alerts-msg');
  try {
    await api('POST', `/api/alerts/${encodeURIComponent(fp)}/${action}`, { body: { who: 'dashboard' } });
    msg.className = 'msg ok';
    msg.textContent = `Alert ${action === 'ack' ? 'acknowledged' : 'resolved'}.`;
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `Could not ${action} the alert: ${describe(e)}`;
  } finally {
    button.disabled = false;
    refreshAlerts();
  }
}

function alertRow(a) {
  const sev = a.severity || 'info';
  const acked = a.status === 'acknowledged';
  return el('tr', { dataset: { fingerprint: a.fingerprint, rule: a.rule || '' } },
    el('td', { class: 'nowrap', 'data-label': 'Since' }, utc(a.first_at)),
    el('td', { 'data-label': 'Severity' }, el('span', { class: `badge ${sev === 'critical' ? 'bad' : 'warn'}` }, sev)),
    el('td', { class: 'mono', 'data-label': 'Rule' }, a.rule),
    el('td', { 'data-label': 'Message' }, a.message, a.raises > 1 ? el('small', { class: 'muted' }, ` ×${count(a.raises)}`) : null),
    el('td', { class: 'alert-state', 'data-label': 'State' }, a.status || 'firing'),
    el('td', { class: 'actions' },
      acked ? null : el('button', { type: 'button', class: 'secondary small', onclick: (ev) => alertAction(a.fingerprint, 'ack', ev.currentTarget) }, 'Acknowledge'),
      el('button', { type: 'button', class: 'secondary small', onclick: (ev) => alertAction(a.fingerprint, 'resolve', ev.currentTarget) }, 'Resolve')));
}

async function refreshAlerts() {
  if (!offers('GET', '/api/alerts')) {
    setState('alerts-state', 'This node has no alerts (GET /api/alerts is not among its routes).', 'error');
    return;
  }
  try {
    const a = await api('GET', '/api/alerts');
    const active = Array.isArray(a.active) ? a.active : [];
    fill($('alerts-body'), active.map(alertRow));
    $('alerts-table').hidden = active.length === 0;
    setState('alerts-state', active.length ? '' : 'No active alerts.', active.length ? '' : 'empty');
  } catch (e) {
    setState('alerts-state', `Could not load the alerts: ${describe(e)}`, 'error');
  }
}

function renderIncidents(list) {
  fill($('incidents-body'), list.map((i) => el('tr', { dataset: { severity: i.severity || '' } },
    el('td', { class: 'nowrap' }, utc(i.at)),
    el('td', {}, el('span', { class: `badge ${i.severity === 'high' ? 'bad' : 'warn'}` }, i.severity || '–')),
    el('td', {}, (Array.isArray(i.findings) ? i.findings : []).map((f) => (typeof f === 'object' && f !== null ? (f.message || jsonText(f)) : String(f))).join('; ')))));
  $('incidents-table').hidden = list.length === 0;
  setState('incidents-state', list.length ? '' : 'No incidents recorded.', list.length ? '' : 'empty');
}

async function refreshIncidents() {
  if (!offers('GET', '/api/incidents')) {
    setState('incidents-state', 'This node has no incidents (GET /api/incidents is not among its routes).', 'error');
    return;
  }
  try {
    const r = await api('GET', '/api/incidents');
    renderIncidents(Array.isArray(r) ? r : Array.isArray(r.incidents) ? r.incidents : []);
  } catch (e) {
    setState('incidents-state', `Could not load the incidents: ${describe(e)}`, 'error');
  }
}

$('incident-scan').addEventListener('click', async () => {
  const button = $('incident-scan');
  const msg = $('incidents-msg');
  button.disabled = true;
  msg.className = 'msg info';
  msg.textContent = 'Scanning…';
  try {
    const r = await api('POST', '/api/incidents/scan', { body: {} });
    const n = Array.isArray(r.findings) ? r.findings.length : 0;
    msg.className = 'msg ok';
    msg.textContent = `Scan of ${clock()}: ${n} finding${n === 1 ? '' : 's'}`
      + `${r.incident ? `, incident ${r.incident.severity}` : ', no incident'}.`;
    await refreshIncidents();
  } catch (e) {
    msg.className = 'msg error';
    msg.textContent = `The scan failed: ${describe(e)}`;
  } finally {
    button.disabled = false;
  }
});

async function refreshOps() {
  await Promise.all([refreshSlo(), refreshAlerts(), refreshIncidents()]);
  stamp('ops-stamp');
}
every(10000, refreshOps);

// -- capabilities -------------------------------------------------------------

function applyCapabilities() {
  faults = offers('POST', '/api/supervision/crash') && routes !== null;
  $('tree-hint').textContent = faults
    ? 'Fault injection is on: Crash makes an actor fail; its supervisor restarts it.'
    : '';
  const jobs = offers('POST', '/api/jobs');
  for (const e of $('job-form').elements) e.disabled = !jobs;
  if (jobs) review.loadTaskTypes(offers); // issue 15: the node's task types
  if (!jobs) {
    const m = $('job-msg');
    m.className = 'msg error';
    m.textContent = 'This node has no jobs API yet (POST /api/jobs is not among its routes).';
  }
}
