// -- pricing (issue 18): the dashboard's pricing panel (S27). The rate each
// task type is priced at now (GET /api/pricing/current); the latest
// recommendation per task type with its inputs (jobs, average QA, margin,
// the factors, the optimizer's branch) and the model's second opinion when
// there is one, each with an Apply button (POST /api/pricing/apply: an
// operator's approval, audited); "Recommend now" (POST /api/pricing/optimize);
// the history of applied rates. A self-contained module: it loads when the
// panels show (a key was accepted) and every 60 s after.

import { api, describe, hasKey } from './api.js';
import { el, fill, number1, utc, clock, setState } from './format.js';

const $ = (id) => document.getElementById(id);

/** A rate in USD a minute with four decimals ("$4.0375"), or "–". */
function money(x) {
  const n = Number(x);
  if (x === null || x === undefined || !Number.isFinite(n)) return '–';
  return `$${n.toFixed(4)}`;
}

function message(text, kind = '') {
  const e = $('pricing-msg');
  e.textContent = text;
  e.className = `msg ${kind}`;
}

const branchText = {
  raise: 'raise x1.05 (QA >= 95 and margin > 25 %)',
  lower: 'lower x0.95 (QA < 80 or margin < 10 %)',
  hold: 'hold x1',
  no_data: 'no completed jobs in 30 days: the base rate',
};

async function apply(rec, source) {
  message(`Applying ${rec.task_type} (${source})…`);
  try {
    const c = await api('POST', '/api/pricing/apply', { body: { id: rec.id, source } });
    message(`${c.task_type}: ${money(c.old_rate_usd_per_min)} -> ${money(c.rate_usd_per_min)} a minute, for every `
      + 'job submitted from now on.', 'ok');
    refresh();
  } catch (e) {
    message(`Not applied: ${describe(e)}`, 'error');
  }
}

function opinion(rec) {
  if (!rec.model) return el('span', { class: 'muted' }, '–');
  return el('span', { title: rec.model.reasoning || '' },
    `${money(rec.model.rate_usd_per_min)}: ${rec.model.reasoning || ''}`);
}

function actions(rec) {
  if (rec.applied) return el('span', { class: 'badge ok' }, `applied ${utc(rec.applied.at)} by ${rec.applied.who}`);
  const buttons = [el('button', { type: 'button', class: 'pricing-apply', dataset: { id: rec.id },
    onclick: () => apply(rec, 'rules') }, 'Apply')];
  if (rec.model) {
    buttons.push(el('button', { type: 'button', class: 'pricing-apply-model', dataset: { id: rec.id },
      onclick: () => apply(rec, 'model') }, 'Apply model rate'));
  }
  return buttons;
}

function latestRow(rec, current) {
  const i = rec.inputs || {};
  return el('tr', { dataset: { type: rec.task_type } },
    el('td', {}, rec.task_type),
    el('td', { class: 'num' }, money(current)),
    el('td', { class: 'num' }, String(i.jobs ?? 0)),
    el('td', { class: 'num' }, number1(i.avg_qa)),
    el('td', { class: 'num' }, i.margin_percent === null ? '–' : `${number1(i.margin_percent)} %`),
    el('td', { class: 'num' }, rec.qa_factor === null ? '–' : Number(rec.qa_factor).toFixed(3)),
    el('td', { class: 'num' }, rec.margin_factor === null ? '–' : Number(rec.margin_factor).toFixed(3)),
    el('td', {}, branchText[rec.branch] || rec.branch),
    el('td', { class: 'num pricing-rec' }, money(rec.recommended_rate_usd_per_min)),
    el('td', {}, opinion(rec)),
    el('td', {}, actions(rec)));
}

/** Loads the current rates, the latest recommendations and the history. */
export async function refresh() {
  if (!hasKey() || !$('pricing-panel')) return;
  try {
    const cur = await api('GET', '/api/pricing/current');
    const list = await api('GET', '/api/pricing/recommendations?limit=200');
    if (!hasKey()) return;
    const rate = {};
    for (const r of cur.rates || []) rate[r.task_type] = r.rate_usd_per_min;
    const latest = new Map();
    for (const r of list.recommendations || []) if (!latest.has(r.task_type)) latest.set(r.task_type, r);
    if (latest.size === 0) {
      setState('pricing-state', 'No recommendation yet (task pricing.daily, 03:00 UTC, or "Recommend now").', 'empty');
      $('pricing-table').hidden = true;
    } else {
      setState('pricing-state', '');
      $('pricing-table').hidden = false;
      fill($('pricing-body'), [...latest.values()].map((r) => latestRow(r, rate[r.task_type])));
    }
    const applied = list.applied || [];
    fill($('pricing-history'), applied.length
      ? applied.map((c) => el('li', {}, `${utc(c.applied_at)}: ${c.task_type} ${money(c.old_rate_usd_per_min)} -> `
        + `${money(c.rate_usd_per_min)} (${c.source}, by ${c.who}, ${c.recommendation_id})`))
      : [el('li', { class: 'muted' }, 'No rate applied yet: every type at the default rate.')]);
    $('pricing-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    setState('pricing-state', `Could not load the pricing: ${describe(e)}`, 'error');
  }
}

async function optimize() {
  const button = $('pricing-optimize');
  button.disabled = true;
  message('Recommending…');
  try {
    const run = await api('POST', '/api/pricing/optimize', { body: {} });
    const m = run.model || {};
    message(`${(run.recommendations || []).length} recommendations (${run.source}); model: ${m.status}`
      + `${m.reason ? ` (${m.reason})` : ''}.`, m.status === 'invalid' ? 'error' : 'ok');
    refresh();
  } catch (e) {
    message(`No recommendation: ${describe(e)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function start() {
  if (!$('pricing-panel')) return;
  $('pricing-optimize').addEventListener('click', optimize);
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
