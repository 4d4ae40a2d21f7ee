// The three charts of the original dashboard from GET /api/metrics-summary:
// jobs per day (7 days), average QA per day (7 days), revenue vs cost per day
// (14 days). Chart.js is the node's own copy (web/vendor/, from npm).

import { day, money } from './format.js';

const charts = {};

const colors = {
  jobs: '#2f6fd6',
  qa: '#1c8a5a',
  revenue: '#1c8a5a',
  cost: '#c2453d',
  grid: 'rgba(127, 127, 127, 0.18)',
  text: '#5b6472',
};

/** True when Chart.js loaded (the page says so otherwise). */
export function available() {
  return typeof window.Chart === 'function';
}

function baseOptions(yTitle, extra = {}) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: 'index', intersect: false },
    plugins: {
      legend: { display: extra.legend === true, labels: { color: colors.text } },
      tooltip: extra.tooltip || {},
    },
    scales: {
      x: { grid: { color: colors.grid }, ticks: { color: colors.text } },
      y: {
        beginAtZero: true,
        suggestedMax: extra.suggestedMax,
        max: extra.max,
        grid: { color: colors.grid },
        ticks: { color: colors.text, precision: extra.precision, callback: extra.tick },
        title: { display: true, text: yTitle, color: colors.text },
      },
    },
  };
}

function draw(id, config) {
  const existing = charts[id];
  if (existing) {
    existing.data.labels = config.data.labels;
    config.data.datasets.forEach((ds, i) => {
      if (existing.data.datasets[i]) existing.data.datasets[i].data = ds.data;
      else existing.data.datasets.push(ds);
    });
    existing.update('none');
    return existing;
  }
  const canvas = document.getElementById(id);
  charts[id] = new window.Chart(canvas, config);
  return charts[id];
}

function list(x) { return Array.isArray(x) ? x : []; }
function num(x) { return x === null || x === undefined || !Number.isFinite(Number(x)) ? null : Number(x); }

/**
 * Draws (or updates) the three charts; returns which of them have nothing to
 * show, so the page can say so beside a chart of zeros.
 */
export function render(summary) {
  const jobs = list(summary.jobs_per_day);
  const qa = list(summary.qa_per_day);
  const money14 = list(summary.revenue_cost_per_day);

  draw('chart-jobs', {
    type: 'bar',
    data: {
      labels: jobs.map((d) => day(d.date)),
      datasets: [{ label: 'Jobs', data: jobs.map((d) => num(d.count) ?? 0), backgroundColor: colors.jobs }],
    },
    options: baseOptions('jobs', { precision: 0, suggestedMax: 5 }),
  });

  draw('chart-qa', {
    type: 'line',
    data: {
      labels: qa.map((d) => day(d.date)),
      datasets: [{
        label: 'Average QA', data: qa.map((d) => num(d.avg_qa)), borderColor: colors.qa,
        backgroundColor: colors.qa, spanGaps: false, pointRadius: 4, tension: 0.2,
      }],
    },
    options: baseOptions('QA score (0-100)', { max: 100, precision: 0 }),
  });

  draw('chart-money', {
    type: 'line',
    data: {
      labels: money14.map((d) => day(d.date)),
      datasets: [
        { label: 'Revenue', data: money14.map((d) => num(d.revenue) ?? 0), borderColor: colors.revenue,
          backgroundColor: colors.revenue, pointRadius: 3, tension: 0.2 },
        { label: 'Cost', data: money14.map((d) => num(d.cost) ?? 0), borderColor: colors.cost,
          backgroundColor: colors.cost, pointRadius: 3, tension: 0.2 },
      ],
    },
    options: baseOptions('USD', {
      legend: true,
      tick: (v) => money(v),
      tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y)}` } },
    }),
  });

  return {
    jobs: jobs.every((d) => !num(d.count)),
    qa: qa.every((d) => num(d.avg_qa) === null),
    money: money14.every((d) => !num(d.revenue) && !num(d.cost)),
  };
}
