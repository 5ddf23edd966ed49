// The sweep page's charts: grouped curves (uPlot: a mean line and a band of
// one sd per group), bars per task subset and parallel coordinates (SVG drawn
// here), all from aggregated data (/api/aggregate) or the jobs' final values.
import {h, s, clear, color, withAlpha, viridis, fmtNum, fmtValue, cmpValues} from './dom.js';

export function groupLabel(key) {
  const parts = Object.entries(key || {}).map(([k, v]) => `${k}=${fmtValue(v)}`);
  return parts.length ? parts.join(' ') : 'all jobs';
}

function meanSd(values) {
  const n = values.length;
  if (!n) return [null, null];
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return [mean, 0];
  const v = values.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (n - 1);
  return [mean, Math.sqrt(v)];
}

// Grouped curves. load() takes /api/aggregate's groups and, for the jobs the
// aggregate does not cover (it counts finished jobs: running ones are not in
// it), each such job's own series, drawn as a thin dashed line in its group's
// colour. addPoints() takes the `points` events' rows: a covered job's point
// extends its group past the last x the aggregate had (the mean over the jobs
// that reported that x so far), any other job's point extends its own line
// (a job never seen before gets one). The page reloads the aggregate when jobs
// change state, which settles those means and moves finished jobs into them.
export class GroupedCurves {
  constructor(el, {xOf, labelOf, onNewJob}) {
    this.el = el;
    this.xOf = xOf;          // (job_id, step) -> x or undefined
    this.labelOf = labelOf;  // job_id -> its group's label, or null for an unknown job
    this.onNewJob = onNewJob || (() => {});
    this.plot = null;
    this.groups = [];
    this.running = new Map();  // job_id -> {job, label, pts: Map x -> value}
    this.jobGroup = new Map();
    this.colorOf = new Map();  // group label -> colour index
    this.opts = {};
    this.draws = 0;
    this.pending = null;
    this.needsBuild = false;
    this.hidden = new Set();   // labels hidden from the legend
    this.appliedLog = [];  // [job, name, step, x, appliedAt, drawnAt] for tests
    this.lastDrawAt = 0;
    this.chartEl = h('div', {class: 'uplot-host'});
    this.legendEl = h('ul', {class: 'legend'});
    clear(el).append(this.chartEl, this.legendEl);
    this.onResize = () => { if (this.plot) this.plot.setSize(this.size()); };
    window.addEventListener('resize', this.onResize);
  }

  destroy() {
    window.removeEventListener('resize', this.onResize);
    if (this.plot) this.plot.destroy();
    this.plot = null;
    clearTimeout(this.pending);
  }

  size() {
    return {width: Math.max(320, this.el.clientWidth || 800), height: 340};
  }

  // Points that arrive while the data is on its way wait in a buffer and are
  // replayed onto it (those it already has are skipped by their x).
  beginLoad() {
    this.buffer = this.buffer || [];
  }

  // groups: /api/aggregate's; running: [{job, label, pts: Map x -> value}]
  // for jobs outside them.
  // histories: addHistories will follow with the unfinished jobs' series.
  load(groups, opts, running = [], {histories = false} = {}) {
    this.historyWaiting = histories ? new Set() : null;
    const buffered = this.buffer || [];
    this.buffer = null;
    this.opts = opts;
    this.jobGroup.clear();
    this.colorOf.clear();
    this.groups = groups.map((g, i) => {
      const pts = new Map();
      let last = -Infinity;
      for (const p of g.points) {
        if (p[0] === null) continue;
        pts.set(p[0], p);
        if (p[0] > last) last = p[0];
      }
      for (const j of g.job_ids || []) this.jobGroup.set(j, i);
      const label = groupLabel(g.key);
      this.colorOf.set(label, i);
      return {key: g.key, label, jobs: (g.job_ids || []).length, pts, lastAggX: last, live: new Map()};
    });
    this.running = new Map();
    for (const r of running) if (!this.jobGroup.has(r.job)) this.addRunning(r.job, r.label, r.pts);
    this.build();
    if (buffered.length) this.addPoints(buffered);
  }

  addRunning(job, label, pts) {
    if (!this.colorOf.has(label)) this.colorOf.set(label, this.colorOf.size);
    const r = {job, label, pts: pts || new Map()};
    this.running.set(job, r);
    return r;
  }

  // The unfinished jobs' series, once they arrive after the aggregate was
  // drawn: [{job, label, pts}], merged with the points pushed meanwhile.
  addHistories(running) {
    const answered = new Set(running.map((r) => r.job));
    for (const job of this.historyWaiting || []) if (!answered.has(job)) this.onNewJob(job);
    this.historyWaiting = null;
    for (const r of running) {
      if (this.jobGroup.has(r.job)) continue;
      const have = this.running.get(r.job);
      if (have) { for (const [x, v] of r.pts) if (!have.pts.has(x)) have.pts.set(x, v); continue; }
      this.addRunning(r.job, r.label, r.pts);
      this.needsBuild = true;
    }
    this.schedule();
  }

  // History of a running job that first showed up in the event stream.
  mergeHistory(job, pts) {
    const r = this.running.get(job);
    if (!r) return;
    for (const [x, v] of pts) if (!r.pts.has(x)) r.pts.set(x, v);
    this.schedule();
  }

  addPoints(rows) {
    if (this.buffer) { this.buffer.push(...rows); return 0; }
    if (this.opts.x === 'final' || !this.opts.metric) return 0;
    let applied = 0;
    const now = Date.now();
    for (const [job, name, step, value] of rows) {
      if (name !== this.opts.metric || value === null) continue;
      const x = this.xOf(job, step);
      if (x === undefined || x === null) continue;
      const gi = this.jobGroup.get(job);
      if (gi !== undefined) {
        const g = this.groups[gi];
        if (x <= g.lastAggX) continue;  // the aggregate has it; a reload settles late jobs
        let m = g.live.get(x);
        if (!m) g.live.set(x, m = new Map());
        m.set(job, value);
        const vals = [...m.values()];
        const [mean, sd] = meanSd(vals);
        g.pts.set(x, [x, mean, sd, vals.length, Math.min(...vals), Math.max(...vals)]);
      } else {
        let r = this.running.get(job);
        if (!r) {
          const label = this.labelOf(job);
          if (label === null || label === undefined) continue;
          r = this.addRunning(job, label);
          this.needsBuild = true;
          // While the unfinished jobs' series are on their way (after
          // load(.., {histories: true})), a job they answer needs no request.
          if (this.historyWaiting) this.historyWaiting.add(job); else this.onNewJob(job);
        }
        r.pts.set(x, value);
      }
      this.appliedLog.push([job, name, step, x, now]);
      applied++;
    }
    if (this.appliedLog.length > 5000) this.appliedLog.splice(0, this.appliedLog.length - 5000);
    if (applied) this.schedule();
    return applied;
  }

  schedule() {
    if (this.pending) return;
    // At most about 5 draws a second; a point shows well within 1 s.
    const wait = Math.max(0, 200 - (performance.now() - this.lastDrawAt));
    this.pending = setTimeout(() => { this.pending = null; this.update(); }, wait);
  }

  runningList() {
    return [...this.running.values()].sort((a, b) => a.job - b.job);
  }

  data() {
    const xs = new Set();
    for (const g of this.groups) for (const x of g.pts.keys()) xs.add(x);
    const runs = this.runningList();
    for (const r of runs) for (const x of r.pts.keys()) xs.add(x);
    const xArr = [...xs].sort((a, b) => a - b);
    const data = [xArr];
    const log = this.opts.log;
    const pos = (v) => (v === null || v === undefined || (log && v <= 0) ? null : v);
    for (const g of this.groups) {
      const mean = [], hi = [], lo = [];
      for (const x of xArr) {
        const p = g.pts.get(x);
        if (!p || p[1] === null) { mean.push(null); hi.push(null); lo.push(null); continue; }
        const sd = p[2] || 0;
        mean.push(pos(p[1]));
        hi.push(pos(p[1] + sd));
        lo.push(pos(p[1] - sd));
      }
      data.push(mean, hi, lo);
    }
    for (const r of runs) data.push(xArr.map((x) => pos(r.pts.get(x))));
    return data;
  }

  build() {
    this.needsBuild = false;
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    clear(this.chartEl);
    clear(this.legendEl);
    const runs = this.runningList();
    if (!this.groups.length && !runs.length) {
      this.chartEl.append(h('p', {class: 'muted'}, `No ${this.opts.metric || 'metric'} points yet.`));
      this.info();
      return;
    }
    const series = [{label: this.opts.x}];
    const bands = [];
    const swatch = (c, dashed) => {
      const sw = h('span', {class: dashed ? 'swatch dashed' : 'swatch'});
      // CSSOM, allowed by the CSP (no inline style attribute).
      if (dashed) sw.style.borderTopColor = c; else sw.style.background = c;
      return sw;
    };
    this.groups.forEach((g, i) => {
      const c = color(i), show = !this.hidden.has(g.label);
      series.push({label: g.label, stroke: c, width: 2, spanGaps: true, points: {show: false}, show});
      series.push({label: `${g.label} +sd`, stroke: withAlpha(c, 0.25), width: 0.5, spanGaps: true, points: {show: false}, show});
      series.push({label: `${g.label} -sd`, stroke: withAlpha(c, 0.25), width: 0.5, spanGaps: true, points: {show: false}, show});
      const hiIdx = 2 + i * 3;
      bands.push({series: [hiIdx, hiIdx + 1], fill: withAlpha(c, 0.15)});
      const li = h('li', {class: show ? 'legend-item' : 'legend-item off', title: `mean ± sd over ${g.jobs} finished job(s)`,
        onclick: () => this.toggle(g.label)}, swatch(c, false), g.label, h('span', {class: 'muted'}, ` (${g.jobs})`));
      this.legendEl.append(li);
    });
    const runLabels = new Map();
    for (const r of runs) {
      const c = color(this.colorOf.get(r.label));
      const show = !this.hidden.has(`running ${r.label}`);
      series.push({label: `job ${r.job} (${r.label})`, stroke: withAlpha(c, 0.8), width: 1.25, dash: [5, 4], spanGaps: true, points: {show: false}, show});
      runLabels.set(r.label, (runLabels.get(r.label) || 0) + 1);
    }
    for (const [label, n] of runLabels) {
      const key = `running ${label}`;
      this.legendEl.append(h('li', {class: this.hidden.has(key) ? 'legend-item off' : 'legend-item', title: 'unfinished jobs, each its own dashed line',
        onclick: () => this.toggle(key)}, swatch(color(this.colorOf.get(label)), true), `${label}: running`, h('span', {class: 'muted'}, ` (${n})`)));
    }
    const opts = {
      ...this.size(),
      legend: {show: false},
      cursor: {drag: {x: true, y: false}},
      scales: {x: {time: false}, y: this.opts.log ? {distr: 3} : {}},
      axes: [{label: this.opts.x}, {label: this.opts.metric, size: 60}],
      series,
      bands,
      hooks: {draw: [() => {
        this.draws++;
        this.lastDrawAt = performance.now();
        const t = Date.now();
        for (let i = this.appliedLog.length - 1; i >= 0 && this.appliedLog[i][5] === undefined; i--) this.appliedLog[i][5] = t;
        this.info();
      }]},
    };
    this.plot = new window.uPlot(opts, this.data(), this.chartEl);
    this.info();
  }

  update() {
    if (!this.plot || this.needsBuild) { this.build(); return; }
    this.plot.setData(this.data());
  }

  toggle(label) {
    if (this.hidden.has(label)) this.hidden.delete(label); else this.hidden.add(label);
    this.build();
  }

  // What the tests read (window.__sy.curves).
  info() {
    const u = this.plot;
    const meanIdx = this.groups.map((_, i) => 1 + i * 3);
    const runIdx = this.runningList().map((_, i) => 1 + this.groups.length * 3 + i);
    const count = (idx) => (u ? idx.reduce((a, i) => a + u.data[i].filter((v) => v !== null).length, 0) : 0);
    const st = {
      metric: this.opts.metric, x: this.opts.x, groupBy: this.opts.groupBy,
      groups: this.groups.length,
      labels: this.groups.map((g) => g.label),
      uplotSeries: u ? u.series.length - 1 : 0,
      meanSeries: u ? meanIdx.filter((i) => u.series[i]).length : 0,
      runningSeries: u ? runIdx.filter((i) => u.series[i]).length : 0,
      runningJobs: this.runningList().map((r) => r.job),
      pathsDrawn: u ? meanIdx.filter((i) => u.series[i] && u.series[i]._paths).length : 0,
      runningPathsDrawn: u ? runIdx.filter((i) => u.series[i] && u.series[i]._paths).length : 0,
      points: count(meanIdx),
      runningPoints: count(runIdx),
      draws: this.draws,
      lastDrawAt: Date.now(),
      applied: this.appliedLog,
    };
    if (window.__sy) {
      window.__sy.curves = st;
      // Milliseconds from the document's start to the first drawn curve (tests, benchmark).
      if ((st.pathsDrawn || st.runningPathsDrawn) && !window.__sy.firstCurvesMs) window.__sy.firstCurvesMs = performance.now();
    }
    return st;
  }
}

// --- axes helpers for the SVG charts -----------------------------------------

function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) { hi = lo + 1; }
  const span = hi - lo, step0 = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => span / st <= count) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function svgRoot(w, hgt, title) {
  return s('svg', {xmlns: 'http://www.w3.org/2000/svg', viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt,
    class: 'chart-svg', role: 'img', 'aria-label': title, 'font-family': 'sans-serif', 'font-size': 11},
  s('title', null, title), s('rect', {x: 0, y: 0, width: w, height: hgt, fill: '#fff'}));
}

// Bars per task subset: /api/aggregate?x=final&group_by=tasks,... groups.
// Along x the `tasks` values, one bar per combination of the other keys, a
// whisker of one sd. Returns {svg, bars}.
export function drawBars(groups, {metric, tasksKey = 'tasks'}) {
  const cats = [], series = [];
  const catIdx = new Map(), serIdx = new Map();
  const rows = [];
  for (const g of groups) {
    const key = g.key || {};
    const cat = tasksKey in key ? fmtValue(key[tasksKey]) : 'all';
    const rest = Object.fromEntries(Object.entries(key).filter(([k]) => k !== tasksKey));
    const ser = groupLabel(rest);
    if (!catIdx.has(cat)) { catIdx.set(cat, cats.length); cats.push(cat); }
    if (!serIdx.has(ser)) { serIdx.set(ser, series.length); series.push(ser); }
    const p = g.points && g.points.length ? g.points[g.points.length - 1] : null;
    if (!p || p[1] === null) continue;
    rows.push({cat: catIdx.get(cat), ser: serIdx.get(ser), mean: p[1], sd: p[2] || 0, n: p[3]});
  }
  const left = 60, top = 30, bottom = 40;
  const legendW = 40 + 6.5 * Math.max(10, ...series.map((x) => x.length));
  const plotW = Math.max(260, cats.length * Math.max(60, series.length * 18 + 20));
  const W = left + plotW + legendW, H = rows.length ? 320 : 60, plotH = H - top - bottom;
  const svg = svgRoot(W, H, `final ${metric} per task subset`);
  svg.append(s('text', {x: left, y: 16, 'font-size': 13}, `final ${metric} (mean ± sd) per ${tasksKey}`));
  if (!rows.length) {
    svg.append(s('text', {x: left, y: top + 16}, 'no finished jobs with this metric yet'));
    return {svg, bars: 0};
  }
  let lo = Math.min(0, ...rows.map((r) => r.mean - r.sd)), hi = Math.max(...rows.map((r) => r.mean + r.sd));
  if (/^acc/.test(metric) && hi <= 1 && lo >= 0) hi = 1;
  const ticks = niceTicks(lo, hi);
  lo = Math.min(lo, ticks[0]); hi = Math.max(hi, ticks[ticks.length - 1]);
  const y = (v) => top + plotH - ((v - lo) / (hi - lo || 1)) * plotH;
  for (const t of ticks) {
    svg.append(s('line', {x1: left, x2: left + plotW, y1: y(t), y2: y(t), stroke: '#eee'}),
      s('text', {x: left - 6, y: y(t) + 4, 'text-anchor': 'end'}, fmtNum(t, 3)));
  }
  svg.append(s('line', {x1: left, x2: left, y1: top, y2: top + plotH, stroke: '#333'}),
    s('line', {x1: left, x2: left + plotW, y1: y(Math.max(lo, 0)), y2: y(Math.max(lo, 0)), stroke: '#333'}));
  const band = plotW / cats.length, bw = Math.max(4, (band - 16) / series.length);
  cats.forEach((c, i) => svg.append(s('text', {x: left + band * (i + 0.5), y: top + plotH + 18, 'text-anchor': 'middle'}, c)));
  for (const r of rows) {
    const x0 = left + band * r.cat + 8 + bw * r.ser;
    const y0 = y(Math.max(lo, 0)), y1 = y(r.mean);
    const bar = s('rect', {x: x0, y: Math.min(y0, y1), width: Math.max(1, bw - 2), height: Math.abs(y0 - y1),
      fill: color(r.ser), class: 'bar'});
    bar.append(s('title', null, `${cats[r.cat]} ${series[r.ser]}: ${fmtNum(r.mean)} ± ${fmtNum(r.sd)} (n=${r.n})`));
    const cx = x0 + (bw - 2) / 2;
    svg.append(bar, s('line', {x1: cx, x2: cx, y1: y(r.mean - r.sd), y2: y(r.mean + r.sd), stroke: '#222'}),
      s('line', {x1: cx - 3, x2: cx + 3, y1: y(r.mean + r.sd), y2: y(r.mean + r.sd), stroke: '#222'}),
      s('line', {x1: cx - 3, x2: cx + 3, y1: y(r.mean - r.sd), y2: y(r.mean - r.sd), stroke: '#222'}));
  }
  series.forEach((name, i) => {
    const ly = top + 14 * i;
    svg.append(s('rect', {x: left + plotW + 14, y: ly, width: 10, height: 10, fill: color(i)}),
      s('text', {x: left + plotW + 28, y: ly + 9}, name));
  });
  return {svg, bars: rows.length};
}

// Parallel coordinates: one axis per varying key, then the final metric; a
// line per job coloured by that metric. Returns {svg, lines}.
export function drawParcoords(jobs, keys, metric) {
  const axes = [...keys, `final ${metric}`];
  const val = (j, i) => (i < keys.length ? j.config[keys[i]] : (j.final || {})[metric]);
  const scales = axes.map((name, i) => {
    const vs = jobs.map((j) => val(j, i)).filter((v) => v !== null && v !== undefined);
    // Numbers with many values on a scale; a few values (seeds, layers) as categories.
    const numeric = vs.length > 0 && vs.every((v) => typeof v === 'number') && (i === keys.length || new Set(vs).size > 6);
    if (numeric) {
      let lo = Math.min(...vs), hi = Math.max(...vs);
      const log = lo > 0 && hi / lo >= 100 && i < keys.length;
      if (hi === lo) { hi = lo + 1; lo = lo - 1; }
      const f = log ? (v) => (Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))
        : (v) => (v - lo) / (hi - lo);
      const ticks = log ? [lo, Math.sqrt(lo * hi), hi] : niceTicks(lo, hi, 4).filter((t) => t >= lo && t <= hi);
      return {name, f, ticks: ticks.map((t) => [f(t), fmtNum(t, 3)])};
    }
    const byLabel = new Map(vs.map((v) => [fmtValue(v), v]));
    const cats = [...byLabel.keys()].sort((a, b) => cmpValues(byLabel.get(a), byLabel.get(b)));
    const pos = new Map(cats.map((c, k) => [c, cats.length === 1 ? 0.5 : k / (cats.length - 1)]));
    return {name, f: (v) => pos.get(fmtValue(v)), ticks: cats.map((c) => [pos.get(c), c])};
  });
  const left = 40, gap = 150, top = 40, plotH = 260;
  const W = left * 2 + gap * (axes.length - 1) + 60, H = top + plotH + 40;
  const svg = svgRoot(W, H, `parallel coordinates: ${axes.join(', ')}`);
  const y = (t) => top + plotH * (1 - t);
  const mi = axes.length - 1;
  const ms = jobs.map((j) => val(j, mi)).filter((v) => typeof v === 'number');
  const mlo = Math.min(...ms), mhi = Math.max(...ms);
  let lines = 0;
  const g = s('g', {fill: 'none', 'stroke-width': 1.2});
  for (const j of jobs) {
    const pts = [];
    let ok = true;
    for (let i = 0; i < axes.length; i++) {
      const v = val(j, i);
      const t = v === null || v === undefined ? undefined : scales[i].f(v);
      if (t === undefined || !Number.isFinite(t)) { ok = i === mi; break; }
      pts.push(`${left + gap * i},${y(t).toFixed(1)}`);
    }
    if (!ok && pts.length < 2) continue;
    const m = val(j, mi);
    const c = typeof m === 'number' ? viridis(mhi > mlo ? (m - mlo) / (mhi - mlo) : 0.5) : '#bbb';
    const pl = s('polyline', {points: pts.join(' '), stroke: c, opacity: 0.75, 'stroke-dasharray': pts.length < axes.length ? '3,3' : null});
    pl.append(s('title', null, `job ${j.id}: ${keys.map((k) => `${k}=${fmtValue(j.config[k])}`).join(' ')} ${metric}=${fmtNum(m)}`));
    g.append(pl);
    lines++;
  }
  svg.append(g);
  scales.forEach((sc, i) => {
    const x = left + gap * i;
    svg.append(s('line', {x1: x, x2: x, y1: top, y2: top + plotH, stroke: '#333'}),
      s('text', {x, y: top - 14, 'text-anchor': 'middle', 'font-weight': 'bold'}, sc.name));
    for (const [t, label] of sc.ticks.slice(0, 12)) {
      svg.append(s('line', {x1: x - 3, x2: x + 3, y1: y(t), y2: y(t), stroke: '#333'}),
        s('text', {x: x + 5, y: y(t) + 4, 'paint-order': 'stroke', stroke: '#fff', 'stroke-width': 3}, label));
    }
  });
  return {svg, lines};
}
