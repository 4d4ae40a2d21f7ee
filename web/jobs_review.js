// The dashboard's job workflow (issue 15, S1-S5): the task types from the
// node's configuration (GET /api/jobs/task-types) in the submit form; the
// review queue (jobs waiting_human: approve, or reject with a reason and
// optionally a rerun); the dead letter (requeue or purge, one or all); and
// the actions of the job detail (cancel a queued or running job, approve or
// reject one waiting for review, requeue a dead or failed one). Every action
// says what happened, then the panels reload.

import { api, describe } from './api.js';
import { el, fill, money, number1, count, utc, clock, setState as state } from './format.js';

const $ = (id) => document.getElementById(id);
const listSize = 50;

// The node reads at most two job lists at once and answers 503 beyond; this
// page lists jobs in three places (the jobs panel, the review queue, the dead
// letter), so its list calls run one after another.
let lists = Promise.resolve();

/** Runs `call` (a job list request) once the page's earlier list calls are done. */
export function oneList(call) {
  const run = lists.then(call, call);
  lists = run.catch(() => {});
  return run;
}

/** Writes `text` into the message element `id` with its kind (info, ok, error). */
function say(id, text, kind) {
  const m = $(id);
  m.className = `msg ${kind}`;
  m.textContent = text;
}

/** Runs an action of a button: disabled meanwhile, its outcome said in `msgId`. */
async function act(button, msgId, doing, call, done) {
  if (button) button.disabled = true;
  say(msgId, doing, 'info');
  try {
    const r = await call();
    say(msgId, done(r), 'ok');
    return r;
  } catch (e) {
    say(msgId, `${doing.replace(/…$/, '')} failed: ${describe(e)}`, 'error');
    if (button) button.disabled = false;
    return null;
  }
}

// -- task types ----------------------------------------------------------------

/** Fills the submit form's task types from the node; keeps the choice made. */
export async function loadTaskTypes(offers) {
  const select = $('job-type');
  if (!offers('GET', '/api/jobs/task-types')) {
    fill(select, el('option', { value: 'other' }, 'other'));
    return;
  }
  try {
    const r = await api('GET', '/api/jobs/task-types');
    const types = Array.isArray(r && r.task_types) ? r.task_types : [];
    const chosen = select.value || 'other';
    fill(select, ...types.map((t) => el('option', { value: t.name, title: `QA threshold ${t.qa_threshold}` },
      t.name)));
    select.value = types.some((t) => t.name === chosen) ? chosen : (types[0] ? types[0].name : '');
  } catch (e) {
    say('job-msg', `Could not load the task types: ${describe(e)}`, 'error');
  }
}

// -- the review queue -------------------------------------------------------------

export function approve(id, button, after) {
  return act(button, 'review-msg', `Approving ${id}…`,
    () => api('POST', `/api/jobs/${encodeURIComponent(id)}/approve`, { body: {} }),
    (j) => `Approved ${j.id}: ${j.status}, price ${money(j.price_usd)}, at ${clock()}.`).then(after);
}

export function reject(id, reason, rerun, button, after) {
  return act(button, 'review-msg', `Rejecting ${id}…`,
    () => api('POST', `/api/jobs/${encodeURIComponent(id)}/reject`, { body: { reason, rerun } }),
    (j) => `Rejected ${j.id}${rerun ? ', running it again' : ''}: ${j.status}, at ${clock()}.`).then(after);
}

/** The inline form under a row: a reason (required) and whether to run it again. */
function rejectForm(id, offers, row) {
  const reason = el('input', { type: 'text', class: 'reject-reason', maxlength: '2000', required: true,
    placeholder: 'Why (the client may see this)', 'aria-label': `Reason to reject ${id}` });
  const rerun = el('input', { type: 'checkbox', class: 'reject-rerun', id: `rerun-${id}` });
  const confirm = el('button', { type: 'button', class: 'small reject-confirm' }, 'Reject');
  const form = el('tr', { class: 'reject-form', dataset: { id } },
    el('td', { colspan: '7' },
      el('div', { class: 'row' }, reason,
        el('label', { for: `rerun-${id}`, class: 'inline' }, rerun, ' run it again'),
        confirm,
        el('button', { type: 'button', class: 'secondary small reject-cancel', onclick: () => form.remove() },
          'Keep'))));
  confirm.addEventListener('click', () => {
    const text = reason.value.trim();
    if (!text) {
      say('review-msg', 'Enter a reason to reject the job.', 'error');
      reason.focus();
      return;
    }
    reject(id, text, rerun.checked, confirm, () => refresh(offers));
  });
  row.after(form);
  reason.focus();
}

function reviewRow(j, offers) {
  const row = el('tr', { dataset: { id: j.id } },
    el('td', { class: 'nowrap', 'data-label': 'Created' }, utc(j.created_at)),
    el('td', { class: 'mono', 'data-label': 'Job' }, j.id),
    el('td', { 'data-label': 'Client' }, j.client || j.email || '–'),
    el('td', { 'data-label': 'Type' }, j.task_type),
    el('td', { class: 'num', 'data-label': 'QA' },
      j.qa_score === null || j.qa_score === undefined ? '–' : `${number1(j.qa_score)} / ${count(j.qa_target)}`),
    el('td', { class: 'summary', 'data-label': 'Result' }, (j.result_summary || '').slice(0, 160)),
    el('td', { class: 'actions' }));
  const cell = row.lastChild;
  cell.append(
    el('button', { type: 'button', class: 'small review-approve', 'aria-label': `Approve ${j.id}`,
      disabled: !offers('POST', '/api/jobs/{id}/approve'),
      onclick: (ev) => approve(j.id, ev.currentTarget, () => refresh(offers)) }, 'Approve'),
    el('button', { type: 'button', class: 'secondary small review-reject', 'aria-label': `Reject ${j.id}`,
      disabled: !offers('POST', '/api/jobs/{id}/reject'),
      onclick: () => {
        const open = row.nextElementSibling;
        if (open && open.classList.contains('reject-form')) open.remove();
        else rejectForm(j.id, offers, row);
      } }, 'Reject…'));
  return row;
}

async function refreshReview(offers) {
  if (!offers('GET', '/api/jobs')) {
    state('review-state', 'This node has no jobs API.', 'error');
    return;
  }
  // An open reject form is kept while its row is still listed.
  if ($('review-body').querySelector('.reject-form')) return;
  const data = await oneList(() => api('GET', `/api/jobs?status=waiting_human&limit=${listSize}`));
  const jobs = Array.isArray(data && data.jobs) ? data.jobs : [];
  fill($('review-body'), ...jobs.map((j) => reviewRow(j, offers)));
  $('review-table').hidden = jobs.length === 0;
  const waiting = data && data.counts ? Number(data.counts.waiting_human || 0) : jobs.length;
  state('review-state', jobs.length ? (waiting > jobs.length ? `Showing ${jobs.length} of ${count(waiting)}.` : '')
    : 'No job is waiting for review.', jobs.length ? '' : 'empty');
}

// -- the dead letter ---------------------------------------------------------------

export function requeue(id, button, after) {
  return act(button, 'dead-msg', `Requeuing ${id}…`,
    () => api('POST', `/api/jobs/${encodeURIComponent(id)}/requeue`, { body: {} }),
    (j) => `Requeued ${j.id}: ${j.status}, at ${clock()}.`).then(after);
}

function purge(id, button, after) {
  return act(button, 'dead-msg', `Purging ${id}…`,
    () => api('POST', `/api/jobs/${encodeURIComponent(id)}/purge`, { body: {} }),
    (r) => `Purged ${(r && r.purged) || id} at ${clock()}.`).then(after);
}

/** "Requeue all" and "Purge all" ask once more before they act. */
function bulk(what, button, offers) {
  if (button.dataset.armed !== '1') {
    button.dataset.armed = '1';
    button.textContent = `Confirm: ${what} all`;
    setTimeout(() => { button.dataset.armed = ''; button.textContent = `${what[0].toUpperCase()}${what.slice(1)} all`; },
      5000);
    return;
  }
  button.dataset.armed = '';
  button.textContent = `${what[0].toUpperCase()}${what.slice(1)} all`;
  const path = what === 'requeue' ? '/api/jobs/dead/requeue' : '/api/jobs/dead/purge';
  act(button, 'dead-msg', `${what === 'requeue' ? 'Requeuing' : 'Purging'} every dead job…`,
    () => api('POST', path, { body: { all: true } }),
    (r) => {
      const n = what === 'requeue' ? r.requeued : r.purged;
      const skipped = Array.isArray(r.skipped) && r.skipped.length ? `, ${r.skipped.length} skipped` : '';
      return `${what === 'requeue' ? 'Requeued' : 'Purged'} ${count(n)}${skipped} at ${clock()}.`;
    }).then(() => { button.disabled = false; refresh(offers); });
}

function deadRow(j, offers) {
  return el('tr', { dataset: { id: j.id } },
    el('td', { class: 'nowrap', 'data-label': 'Updated' }, utc(j.updated_at)),
    el('td', { class: 'mono', 'data-label': 'Job' }, j.id),
    el('td', { 'data-label': 'Client' }, j.client || j.email || '–'),
    el('td', { 'data-label': 'Type' }, j.task_type),
    el('td', { class: 'reason', 'data-label': 'Why' }, j.dead_reason || (j.last_error && j.last_error.message) || '–'),
    el('td', { class: 'num', 'data-label': 'Attempts' }, `${count(j.attempts)} (${count(j.heals)} heals)`),
    el('td', { class: 'actions' },
      el('button', { type: 'button', class: 'small dead-requeue', 'aria-label': `Requeue ${j.id}`,
        disabled: !offers('POST', '/api/jobs/{id}/requeue'),
        onclick: (ev) => requeue(j.id, ev.currentTarget, () => refresh(offers)) }, 'Requeue'),
      el('button', { type: 'button', class: 'secondary small dead-purge', 'aria-label': `Purge ${j.id}`,
        disabled: !offers('POST', '/api/jobs/{id}/purge'),
        onclick: (ev) => purge(j.id, ev.currentTarget, () => refresh(offers)) }, 'Purge')));
}

async function refreshDead(offers) {
  if (!offers('GET', '/api/jobs/dead')) {
    state('dead-state', 'This node has no dead-letter routes (GET /api/jobs/dead).', 'error');
    return;
  }
  const data = await oneList(() => api('GET', `/api/jobs/dead?limit=${listSize}`));
  const jobs = Array.isArray(data && data.jobs) ? data.jobs : [];
  fill($('dead-body'), ...jobs.map((j) => deadRow(j, offers)));
  $('dead-table').hidden = jobs.length === 0;
  $('dead-requeue-all').disabled = jobs.length === 0 || !offers('POST', '/api/jobs/dead/requeue');
  $('dead-purge-all').disabled = jobs.length === 0 || !offers('POST', '/api/jobs/dead/purge');
  const total = Number(data && data.count);
  state('dead-state', jobs.length ? (total > jobs.length ? `Showing ${jobs.length} of ${count(total)}.` : '')
    : 'The dead letter is empty.', jobs.length ? '' : 'empty');
}

/** Loads both panels; `offers(method, path)` says which routes the node has. */
export async function refresh(offers) {
  try {
    await refreshReview(offers);
    $('review-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state('review-state', `Could not load the review queue: ${describe(e)}`, 'error');
  }
  try {
    await refreshDead(offers);
    $('dead-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state('dead-state', `Could not load the dead letter: ${describe(e)}`, 'error');
  }
}

export function wire(offers) {
  $('dead-requeue-all').addEventListener('click', (ev) => bulk('requeue', ev.currentTarget, offers));
  $('dead-purge-all').addEventListener('click', (ev) => bulk('purge', ev.currentTarget, offers));
}

// -- the job detail's actions --------------------------------------------------------

/**
 * The buttons for job `j` in the detail view, by its status; `after` runs
 * once an action is done (it reloads the job).
 */
export function detailActions(j, offers, after) {
  const buttons = [];
  const id = j.id;
  const button = (cls, label, path, onclick) =>
    el('button', { type: 'button', class: `small ${cls}`, id: cls, disabled: !offers('POST', path), onclick }, label);
  if (j.status === 'queued' || j.status === 'processing')
    buttons.push(button('job-cancel', 'Cancel job', '/api/jobs/{id}/cancel', (ev) => act(ev.currentTarget, 'job-action-msg',
      `Cancelling ${id}…`, () => api('POST', `/api/jobs/${encodeURIComponent(id)}/cancel`, { body: {} }),
      (r) => `Cancelled ${r.id} (it was ${j.status}) at ${clock()}.`).then(after)));
  if (j.status === 'waiting_human') {
    buttons.push(button('job-approve', 'Approve', '/api/jobs/{id}/approve', (ev) => act(ev.currentTarget,
      'job-action-msg', `Approving ${id}…`, () => api('POST', `/api/jobs/${encodeURIComponent(id)}/approve`, { body: {} }),
      (r) => `Approved ${r.id} at ${clock()}.`).then(after)));
  }
  if (j.status === 'dead' || j.status === 'failed')
    buttons.push(button('job-requeue', 'Requeue', '/api/jobs/{id}/requeue', (ev) => act(ev.currentTarget,
      'job-action-msg', `Requeuing ${id}…`, () => api('POST', `/api/jobs/${encodeURIComponent(id)}/requeue`, { body: {} }),
      (r) => `Requeued ${r.id} at ${clock()}.`).then(after)));
  return buttons;
}

/** The full result of job `id` (the record carries its first 2,000 characters). */
export async function fullResult(id, offers) {
  if (!offers('GET', '/api/jobs/{id}/result')) return null;
  const r = await api('GET', `/api/jobs/${encodeURIComponent(id)}/result`);
  return r && typeof r.result === 'string' ? r.result : null;
}

export function clear() {
  for (const id of ['review-body', 'review-msg', 'dead-body', 'dead-msg'])
    fill($(id));
  $('review-table').hidden = true;
  $('dead-table').hidden = true;
  $('review-stamp').textContent = '';
  $('dead-stamp').textContent = '';
}
