// The dashboard's experiments panel (S13): per experiment a table of its
// variants (exposures, conversions, rate, lift and p-value against the
// control, significant or not at the experiment's alpha) and the
// sample-ratio-mismatch warning when the split is off. Read from
// GET /api/exp/results; shown as unavailable when the node has no such route.

import { api, describe, hasKey } from './api.js';
import { el, fill, count, clock } from './format.js';

const $ = (id) => document.getElementById(id);

function state(text, kind = '') {
  const e = $('exp-state');
  e.textContent = text;
  e.className = `state ${kind}`;
  e.hidden = !text;
}

const isNum = (x) => x !== null && x !== undefined && Number.isFinite(Number(x));
const pct = (x, digits = 2) => (isNum(x) ? `${(Number(x) * 100).toFixed(digits)} %` : '–');
const signedPct = (x) => (isNum(x) ? `${Number(x) >= 0 ? '+' : ''}${(Number(x) * 100).toFixed(1)} %` : '–');

function pValue(p) {
  if (!isNum(p)) return '–';
  const x = Number(p);
  return x < 0.0001 ? '< 0.0001' : x.toFixed(4);
}

/** The verdict of a variant against the control. */
function verdict(v, alpha) {
  if (v.control) return el('span', { class: 'badge muted-badge' }, 'control');
  if (v.significant === true)
    return el('span', { class: 'badge ok', title: `p < ${alpha}` }, 'significant');
  if (v.significant === false)
    return el('span', { class: 'badge warn', title: `p ≥ ${alpha}` }, 'not significant');
  return el('span', { class: 'badge muted-badge', title: v.reason || '' }, 'no test yet');
}

function variantRow(v, alpha) {
  const sig = v.control ? 'control' : v.significant === true ? 'yes' : v.significant === false ? 'no' : 'undefined';
  return el('tr', { dataset: { variant: v.variant, significant: sig } },
    el('td', { class: 'mono' }, v.variant),
    el('td', { class: 'num', 'data-label': 'Exposures' }, count(v.exposures)),
    el('td', { class: 'num', 'data-label': 'Conversions' }, count(v.conversions)),
    el('td', { class: 'num', 'data-label': 'Rate' }, pct(v.rate)),
    el('td', { class: 'num', 'data-label': 'Lift' }, v.control ? '–' : signedPct(v.lift)),
    el('td', { class: 'num', 'data-label': 'p-value' }, v.control ? '–' : pValue(v.p_value)),
    el('td', { class: 'verdict', 'data-label': 'Verdict' }, verdict(v, alpha),
      !v.control && v.reason ? el('small', { class: 'muted' }, ` ${v.reason}`) : null));
}

function experimentBlock(e) {
  const srm = e.srm || {};
  const srmLine = srm.mismatch
    ? el('p', { class: 'msg error srm', role: 'alert' },
      `Sample ratio mismatch: chi-square ${Number(srm.chi2).toFixed(2)}, df ${srm.df}, p ${pValue(srm.p_value)} — `
      + 'the exposures do not follow the configured split; do not trust the comparison.')
    : el('p', { class: 'hint srm-ok' }, isNum(srm.p_value)
      ? `Split as configured (chi-square ${Number(srm.chi2).toFixed(2)}, df ${srm.df}, p ${pValue(srm.p_value)}).`
      : `Split check: ${srm.reason || 'not yet'}.`);
  return el('div', { class: 'experiment', dataset: { experiment: e.experiment, srm: srm.mismatch ? 'mismatch' : 'ok' } },
    el('h3', {}, e.experiment, e.description ? el('small', { class: 'muted' }, ` ${e.description}`) : null),
    el('p', { class: 'hint' }, `Goal event “${e.goal}”, control ${e.control}, ${count(e.exposures)} exposed, `
      + `${count(e.conversions)} converted; significant at p < ${e.alpha}.`),
    el('div', { class: 'table-wrap' },
      el('table', { class: 'stack' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Variant'), el('th', { class: 'num' }, 'Exposures'),
          el('th', { class: 'num' }, 'Conversions'), el('th', { class: 'num' }, 'Rate'),
          el('th', { class: 'num' }, 'Lift'), el('th', { class: 'num' }, 'p-value'), el('th', {}, 'Verdict'))),
        el('tbody', {}, (e.variants || []).map((v) => variantRow(v, e.alpha))))),
    srmLine);
}

/** Loads the panel; `offers(method, path)` says which routes the node has. */
export async function refresh(offers) {
  if (!offers('GET', '/api/exp/results')) {
    state('This node has no experiments (GET /api/exp/results is not among its routes).', 'error');
    return;
  }
  try {
    const r = await api('GET', '/api/exp/results');
    if (!hasKey()) return; // forgotten while the call was in flight: show nothing
    const list = (r && Array.isArray(r.experiments)) ? r.experiments : [];
    state(list.length ? '' : 'No experiments are configured (configs/experiments.json).', list.length ? '' : 'empty');
    fill($('exp-body'), list.map(experimentBlock));
    $('exp-stamp').textContent = `Updated ${clock()}`;
  } catch (e) {
    state(`Could not load the experiments: ${describe(e)}`, 'error');
  }
}

/** Empties the panel (the key was forgotten). */
export function clear() {
  fill($('exp-body'));
  $('exp-stamp').textContent = '';
}
