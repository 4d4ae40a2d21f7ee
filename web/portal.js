// The client portal: the jobs and invoices of the signed link's client,
// a text job or an audio file to hand in (sent in 1 MiB chunks), and the
// line after returning from checkout. Every call carries the link's e, exp
// and sig; the node answers only for that link's email.
import { el, fill, money, utc } from './format.js';

const params = new URLSearchParams(window.location.search);
const link = new URLSearchParams();
for (const k of ['e', 'exp', 'sig']) link.set(k, params.get(k) || '');
const CHUNK = 1 << 20;
const REF = /^EP-[0-9A-F]{6}$/.test(params.get('ref') || '') ? params.get('ref') : null;
const $ = (id) => document.getElementById(id);

function api(path, extra = '') {
  return `${path}?${link.toString()}${extra}`;
}

async function call(method, path, body, extra = '', type = 'application/json') {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = type;
    init.body = type === 'application/json' ? JSON.stringify(body) : body;
  }
  const res = await fetch(api(path, extra), init);
  let doc = null;
  try { doc = await res.json(); } catch (e) { doc = null; }
  if (!res.ok || !doc || doc.ok === false) {
    const msg = doc && doc.error ? doc.error.message : `HTTP ${res.status}`;
    const err = new Error(msg);
    err.status = res.status;
    err.code = doc && doc.error ? doc.error.code : '';
    throw err;
  }
  return doc;
}

function say(id, text, kind) {
  const m = $(id);
  m.textContent = text;
  m.className = `msg ${kind || ''}`;
}

function checkoutLine() {
  const job = params.get('job');
  const status = params.get('status');
  if (!job || !status) return;
  if (status === 'success') say('checkout-line', `Thank you: the payment for job ${job} went through. It shows as paid here once confirmed.`, 'ok');
  else if (status === 'cancelled') say('checkout-line', `The payment for job ${job} was cancelled; nothing was charged. You can pay it below at any time.`, 'error');
}

function jobRow(j) {
  const status = el('span', { class: `badge ${j.status === 'completed' ? 'ok' : j.status === 'failed' || j.status === 'dead' ? 'bad' : 'muted-badge'}` }, j.status);
  return el('tr', { dataset: { id: j.id, status: j.status } },
    el('td', {}, el('div', {}, j.title || j.id), el('small', {}, utc(j.created_at))),
    el('td', {}, j.task_type),
    el('td', { class: 'job-status' }, status),
    el('td', { class: 'payment' }, j.payment_status || '–'),
    el('td', { class: 'num' }, j.qa_score === null || j.qa_score === undefined ? '–' : String(j.qa_score)),
    el('td', { class: 'num' }, money(j.price_usd)),
    el('td', { class: 'failure' }, j.result ? el('pre', { class: 'result' }, j.result) : '–'));
}

function invoiceRow(i) {
  const pay = i.url && (i.status === 'open' || i.status === 'pending' || i.status === 'unpaid' || i.status === 'created')
    ? el('a', { href: i.url, class: 'pay', rel: 'noopener noreferrer' }, 'Pay')
    : null;
  const cents = Number(i.amount_cents);
  return el('tr', { dataset: { id: i.id, status: i.status } },
    el('td', {}, i.id), el('td', {}, i.job_id || '–'),
    el('td', { class: 'num' }, Number.isFinite(cents) ? money(cents / 100) : '–'),
    el('td', { class: 'inv-status' }, i.status), el('td', { class: 'actions' }, pay));
}

async function refresh() {
  try {
    const doc = await call('GET', '/api/portal/jobs');
    const d = doc.data;
    $('who').textContent = d.email;
    fill($('jobs'), d.jobs.map(jobRow));
    $('jobs-empty').hidden = d.jobs.length > 0;
    fill($('invoices'), d.invoices.map(invoiceRow));
    $('invoices-empty').hidden = d.invoices.length > 0;
    $('warnings').textContent = (doc.warnings || []).join(' ');
    $('jobs-stamp').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (e) {
    say('warnings', e.status === 410 ? 'This link has expired: ask for a new one.' : `Could not load your jobs: ${e.message}`, 'error');
  }
}

async function handIn(ev) {
  ev.preventDefault();
  const body = { task_type: $('task_type').value, input: $('input').value };
  if ($('title').value) body.title = $('title').value;
  if (REF) body.ref = REF;
  $('submit').disabled = true;
  try {
    const doc = await call('POST', '/api/portal/jobs', body);
    say('job-msg', `Job ${doc.data.id} handed in.`, 'ok');
    $('input').value = '';
    await refresh();
  } catch (e) {
    say('job-msg', e.message, 'error');
  } finally {
    $('submit').disabled = false;
  }
}

async function sendChunk(id, file, offset) {
  const blob = file.slice(offset, Math.min(offset + CHUNK, file.size));
  for (let attempt = 1; ; attempt++) {
    try {
      return await call('PUT', `/api/portal/uploads/${encodeURIComponent(id)}`, blob, `&offset=${offset}`, 'application/octet-stream');
    } catch (e) {
      if (attempt >= 3 || (e.status && e.status < 500)) throw e;
    }
  }
}

async function upload(ev) {
  ev.preventDefault();
  const file = $('audio-file').files[0];
  if (!file) { say('upload-msg', 'Choose an audio file first.', 'error'); return; }
  const bar = $('upload-progress');
  $('upload-btn').disabled = true;
  bar.hidden = false;
  bar.value = 0;
  try {
    const created = await call('POST', '/api/portal/uploads',
      { filename: file.name, size: file.size, content_type: file.type || 'application/octet-stream' });
    const id = created.data.upload_id;
    let offset = 0;
    while (offset < file.size) {
      const doc = await sendChunk(id, file, offset);
      offset = doc.data.received;
      bar.value = Math.round((offset / file.size) * 100);
      say('upload-msg', `Sent ${Math.round(offset / 1024)} of ${Math.round(file.size / 1024)} KiB`, 'info');
    }
    say('upload-msg', 'Uploaded; transcribing…', 'info');
    const body = { upload_id: id, task_type: 'transcription', title: file.name };
    if (REF) body.ref = REF;
    const job = await call('POST', '/api/portal/jobs', body);
    say('upload-msg', `Transcribed: job ${job.data.id} handed in.`, 'ok');
    await refresh();
  } catch (e) {
    say('upload-msg', e.message, 'error');
  } finally {
    $('upload-btn').disabled = false;
  }
}

checkoutLine();
$('job-form').addEventListener('submit', handIn);
$('audio-form').addEventListener('submit', upload);
refresh();
setInterval(refresh, 3000);
