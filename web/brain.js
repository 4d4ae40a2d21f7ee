// -- brain (issue 18): the dashboard's ops brain and brief panel (S28).
// The latest CEO brief (GET /api/exec/briefs?kind=brief&limit=1) with its
// figures, and the latest decisions of the ops brain (GET
// /api/brain/decisions?limit=3) with each recommendation's evidence; "Ask
// the brain now" runs POST /api/brain/decide, "Brief of yesterday" POST
// /api/exec/brief. Each says whether the rules or the model wrote it, and
// why the rules did when a model is configured. A self-contained module: it
// loads when the panels show (a key was accepted) and every 60 s after.

import { api, describe, hasKey } from './api.js';
import { el, fill, clock, count, money, number1, utc, setState } from './format.js';

const $ = (id) => document.getElementById(id);

function by(x) {
  if (!x) return '';
  const who = x.source === 'model' ? `written by the model (${(x.model || {}).name || '?'})` : 'by rules';
  return x.fallback ? `${who}: ${x.fallback}` : who;
}

function renderBrief(b) {
  if (!b) {
    setState('brain-brief-state', 'No brief yet (task ai.ceo_brief, 08:00 UTC, or "Brief of yesterday").', 'empty');
    fill($('brain-brief'));
    return;
  }
  setState('brain-brief-state', '');
  const f = b.figures || {};
  const jobs = f.jobs || {};
  const cash = f.money || {};
  const slo = f.slo || {};
  const inc = f.incidents || {};
  const highlights = Array.isArray(b.highlights) ? b.highlights : [];
  fill($('brain-brief'),
    el('p', { class: 'headline', dataset: { date: b.date || '' } }, b.headline || b.date),
    el('p', { class: 'muted' }, `Made ${utc(b.at)}, ${by(b)}`),
    el('dl', { class: 'kv' },
      el('dt', {}, 'Jobs'), el('dd', { id: 'brain-brief-jobs' },
        `${count(jobs.completed)} completed of ${count(jobs.created)} created; QA ${number1(jobs.avg_qa)}`),
      el('dt', {}, 'Revenue / model cost'), el('dd', {}, `${money(cash.revenue)} / ${money(cash.cost)}`),
      el('dt', {}, 'SLO'), el('dd', {}, `${slo.verdict || '–'}, availability ${number1(slo.availability)} %`),
      el('dt', {}, 'Incidents'), el('dd', {}, `${count(inc.count)} (${count(inc.high)} high)`),
      el('dt', {}, 'Restarts (since start)'), el('dd', {}, count((f.restarts || {}).total))),
    el('ul', {}, ...highlights.map((h) => el('li', {}, h))));
}

function renderDecisions(list) {
  if (!list.length) {
    setState('brain-decisions-state', 'No decision yet (task ai.ops_brain, every 12 h, or "Ask the brain now").',
      'empty');
    fill($('brain-decisions'));
    return;
  }
  setState('brain-decisions-state', '');
  fill($('brain-decisions'), ...list.map((d) => {
    const recs = Array.isArray(d.recommendations) ? d.recommendations : [];
    return el('div', { class: 'decision', dataset: { id: d.id, source: d.source } },
      el('p', {}, el('strong', {}, utc(d.at)), ` ${d.summary || ''}`),
      el('p', { class: 'muted' }, by(d)),
      recs.length
        ? el('ul', {}, ...recs.map((r) => el('li', { dataset: { rule: r.rule, severity: r.severity } },
          el('span', { class: `badge ${r.severity === 'critical' ? 'bad' : r.severity === 'warning' ? 'warn' : 'ok'}` },
            r.severity), ` ${r.title}: ${r.action} `,
          el('span', { class: 'muted' }, `(${(r.evidence || []).map((e) =>
            `${e.figure} = ${JSON.stringify(e.value)} from ${e.source}`).join('; ')})`))))
        : el('p', { class: 'muted' }, 'No recommendation.'));
  }));
}

/** Loads the latest brief and decisions. */
export async function refresh() {
  if (!hasKey() || !$('brain-panel')) return;
  try {
    const b = await api('GET', '/api/exec/briefs?kind=brief&limit=1');
    if (!hasKey()) return;
    renderBrief(b && Array.isArray(b.briefs) ? b.briefs[0] : null);
    const d = await api('GET', '/api/brain/decisions?limit=3');
    renderDecisions(d && Array.isArray(d.decisions) ? d.decisions : []);
    setState('brain-state', '');
    $('brain-stamp').textContent = `Loaded ${clock()}`;
  } catch (e) {
    setState('brain-state', `Could not load the brain: ${describe(e)}`, 'error');
  }
}

async function run(button, method, path, what) {
  button.disabled = true;
  setState('brain-state', `${what}…`);
  try {
    await api(method, path, { body: {} });
    await refresh();
  } catch (e) {
    setState('brain-state', `${what} failed: ${describe(e)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function start() {
  const panel = $('brain-panel');
  if (!panel) return;
  $('brain-decide').addEventListener('click', (ev) =>
    run(ev.currentTarget, 'POST', '/api/brain/decide', 'Asking the brain'));
  $('brain-brief-now').addEventListener('click', (ev) =>
    run(ev.currentTarget, 'POST', '/api/exec/brief', 'Writing the brief'));
  const panels = $('panels');
  if (panels) {
    new MutationObserver(() => { if (!panels.hidden) refresh(); })
      .observe(panels, { attributes: true, attributeFilter: ['hidden'] });
  }
  refresh();
  setInterval(refresh, 60000);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
