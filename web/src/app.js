// The Switchyard dashboard (docs/ui.md): a client-side router over four views
// (/, /sweeps/ID, /jobs/ID, /workers), the JSON API and its event stream.
// Plain ES2020 modules, no bundler; uPlot is the global from uPlot.iife.min.js.
import {h, clear, replace, fmtNum, fmtValue, fmtDuration, fmtTime, fmtBytes, getJSON, postJSON,
  query, showError, clearError, color, viridis, STATES, DONE_STATES, cmpValues, distinctValues, downloadText} from './dom.js';
import {GroupedCurves, drawBars, drawParcoords, groupLabel} from './charts.js';

// What the browser tests read: the current view, its data model, errors.
window.__sy = {view: null, ready: false, errors: [], curves: null, live: {received: [], events: 0}, sweeps: null, sweep: null};

const main = document.getElementById('main');
let current = null;  // {cleanup: [fn]} of the view on screen

// --- routing ---------------------------------------------------------------

function navigate(path) {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  route();
}

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  if (a.hasAttribute('download') || a.target || a.origin !== location.origin) return;
  const p = a.pathname;
  if (p === '/' || p === '/workers' || /^\/(sweeps|jobs)\/\d+$/.test(p)) {
    ev.preventDefault();
    navigate(p + a.search);
  }
});
window.addEventListener('popstate', route);
// A browser gives one site about six HTTP/1.1 connections, and every open
// page holds one for its event stream: a hidden tab lets its stream go after
// a minute and draws the view afresh when it is shown again, so many tabs do
// not starve the one being looked at.
let hiddenTimer = null;
let streamsReleased = false;
function releaseStreams() {
  if (current) { for (const fn of current.cleanup) { try { fn(); } catch (_) {} } current.cleanup = []; }
  streamsReleased = true;
}
document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    hiddenTimer = setTimeout(() => { hiddenTimer = null; releaseStreams(); }, 60000);
  } else {
    clearTimeout(hiddenTimer);
    hiddenTimer = null;
    if (streamsReleased) { streamsReleased = false; route(); }
  }
});
// A page navigated away from may be kept whole in the back/forward cache,
// its stream still open (each one a connection of the six, for as long as
// the cache holds it); it lets go at once, and draws afresh if it comes back.
window.addEventListener('pagehide', releaseStreams);
window.addEventListener('pageshow', (ev) => {
  if (ev.persisted && streamsReleased) { streamsReleased = false; route(); }
});

function link(path, ...children) {
  return h('a', {href: path, 'data-link': true}, ...children);
}

async function route() {
  if (current) for (const f of current.cleanup) { try { f(); } catch (_) { /* ignore */ } }
  const view = current = {cleanup: [], alive: true};
  view.cleanup.push(() => { view.alive = false; });
  window.__sy.ready = false;
  window.__sy.curves = null;
  clearError();
  const p = location.pathname;
  let m;
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', a.pathname === p || (a.pathname === '/' && /^\/(sweeps|jobs)\//.test(p)));
  }
  replace(main, h('p', {class: 'muted'}, 'Loading…'));
  try {
    if (p === '/') await viewSweeps(view);
    else if ((m = /^\/sweeps\/(\d+)$/.exec(p))) await viewSweep(view, Number(m[1]));
    else if ((m = /^\/jobs\/(\d+)$/.exec(p))) await viewJob(view, Number(m[1]));
    else if (p === '/workers') await viewWorkers(view);
    else {
      document.title = 'Switchyard: not found';
      replace(main, h('h1', null, 'Not found'), h('p', null, 'No page at ', h('code', null, p), '. ', link('/', 'All sweeps')));
    }
  } catch (e) {
    if (!view.alive) return;
    replace(main, h('h1', null, 'Error'), h('p', {class: 'error-text'}, e.message || String(e)), h('p', null, link('/', 'All sweeps')));
    showError(e);
  }
  if (view.alive) window.__sy.ready = true;
}

// --- the event stream --------------------------------------------------------

const liveEl = document.getElementById('live-status');

function openEvents(view, url, handlers) {
  const es = new EventSource(url);
  view.cleanup.push(() => { es.close(); setLive('offline'); });
  es.onopen = () => setLive('live');
  es.onerror = () => setLive(es.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting');
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (ev) => {
      window.__sy.live.events++;
      let data;
      try { data = JSON.parse(ev.data); } catch (_) { return; }
      try { fn(data); } catch (e) { showError(e); }
    });
  }
  return es;
}

function setLive(state) {
  liveEl.textContent = state;
  liveEl.className = `live-status ${state}`;
}

// --- shared pieces -------------------------------------------------------------

function progressBar(counts, total) {
  const bar = h('div', {class: 'progress', role: 'img',
    'aria-label': STATES.filter((st) => counts[st]).map((st) => `${counts[st]} ${st}`).join(', ') || 'no jobs'});
  for (const st of STATES) {
    const n = counts[st] || 0;
    if (!n || !total) continue;
    const seg = h('span', {class: `seg st-${st}`, title: `${n} ${st}`});
    seg.style.width = `${(100 * n) / total}%`;
    bar.append(seg);
  }
  return bar;
}

function countsLine(counts) {
  return h('span', {class: 'counts'}, STATES.filter((st) => counts[st]).map((st) =>
    h('span', {class: `count st-${st}`}, `${st} ${counts[st]}`)));
}

function stateBadge(st) {
  return h('span', {class: `badge st-${st}`}, st);
}

function doneCount(counts) {
  let d = 0;
  for (const st of DONE_STATES) d += counts[st] || 0;
  return d;
}

// Elapsed and ETA from the finished share of the jobs.
function timing(sw) {
  const now = Date.now() / 1000;
  const end = sw.finished_at || now;
  const elapsed = sw.created_at ? end - sw.created_at : null;
  const done = doneCount(sw.counts || {});
  let eta = null;
  if (sw.state === 'finished' || sw.finished_at) eta = 0;
  else if (done > 0 && elapsed !== null && sw.total > done) eta = (elapsed / done) * (sw.total - done);
  return {elapsed, eta, done};
}

function table(headers, rows, cls) {
  return h('table', {class: cls || 'grid'},
    h('thead', null, h('tr', null, headers.map((c) => h('th', null, c)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((c) => h('td', null, c))))));
}

function section(title, ...children) {
  return h('section', {class: 'card'}, h('h2', null, title), ...children);
}

function dl(label, href) {
  return h('a', {class: 'dl', href, download: true}, label);
}

async function confirmPost(question, path, body, done) {
  if (!window.confirm(question)) return;
  try {
    const r = await postJSON(path, body);
    done(r);
  } catch (e) {
    showError(e);
  }
}

function notice(text) {
  const b = document.getElementById('banner');
  replace(b, h('span', null, text), h('button', {class: 'close', type: 'button', onclick: () => { b.hidden = true; }}, '×'));
  b.classList.add('info');
  b.hidden = false;
}

// --- view: every sweep ---------------------------------------------------------

async function viewSweeps(view) {
  document.title = 'Switchyard: sweeps';
  const data = await getJSON('/api/sweeps');
  if (!view.alive) return;
  const sweeps = new Map(data.sweeps.map((sw) => [sw.id, sw]));
  window.__sy.view = 'sweeps';
  window.__sy.sweeps = data.sweeps;
  const tbody = h('tbody');
  const rows = new Map();
  const render = () => {
    const list = [...sweeps.values()].sort((a, b) => b.id - a.id);
    window.__sy.sweeps = list;
    clear(tbody);
    for (const sw of list) {
      const t = timing(sw);
      const tr = h('tr', {'data-sweep': sw.id},
        h('td', null, link(`/sweeps/${sw.id}`, String(sw.id))),
        h('td', {class: 'name'}, link(`/sweeps/${sw.id}`, sw.name || '(unnamed)')),
        h('td', null, stateBadge(sw.state)),
        h('td', {class: 'progress-cell'}, progressBar(sw.counts || {}, sw.total),
          h('div', {class: 'small'}, `${t.done} of ${sw.total} done`)),
        h('td', null, countsLine(sw.counts || {})),
        h('td', null, fmtDuration(t.elapsed)),
        h('td', null, t.eta === 0 ? 'done' : fmtDuration(t.eta)),
        h('td', {class: 'small'}, fmtTime(sw.created_at)));
      rows.set(sw.id, tr);
      tbody.append(tr);
    }
    if (!list.length) tbody.append(h('tr', null, h('td', {colspan: 8, class: 'muted'}, 'No sweeps yet: switchyard submit FILE.yaml')));
  };
  render();
  replace(main, h('h1', null, 'Sweeps'),
    h('section', {class: 'card'}, h('table', {class: 'grid sweeps'},
      h('thead', null, h('tr', null, ['id', 'name', 'state', 'progress', 'jobs', 'elapsed', 'ETA', 'created'].map((c) => h('th', null, c)))),
      tbody)));
  let refetch = null;
  openEvents(view, '/api/events', {
    sweep: (sw) => {
      if (!sweeps.has(sw.id) && !refetch) {
        // A new sweep: take the list again (it carries every field).
        refetch = getJSON('/api/sweeps').then((d) => {
          refetch = null;
          if (!view.alive) return;
          for (const x of d.sweeps) sweeps.set(x.id, x);
          render();
        }).catch((e) => { refetch = null; showError(e); });
      }
      sweeps.set(sw.id, {...(sweeps.get(sw.id) || {}), ...sw});
      render();
    },
  });
  const tick = setInterval(() => { if ([...sweeps.values()].some((x) => x.state !== 'finished')) render(); }, 1000);
  view.cleanup.push(() => clearInterval(tick));
}

// --- view: one sweep -------------------------------------------------------------

async function viewSweep(view, id) {
  // The first curves are asked for together with the sweep, not after it:
  // the server picks the starting metric and group-by that the URL does not
  // name (defaults=1), the same ones /api/sweeps/ID reports.
  const q = new URLSearchParams(location.search);
  const firstCurves = getJSON(`/api/aggregate?${query({sweep: id, name: q.get('metric'),
    group_by: q.get('group_by'), x: q.get('x') === 'epoch' ? 'epoch' : 'step',
    include_stopped: q.get('include_stopped') === '1' ? 1 : null, max_points: 300, defaults: 1})}`)
    .catch(() => null);  // asked again, with its error shown, by loadCurves
  const data = await getJSON(`/api/sweeps/${id}`);
  if (!view.alive) return;
  const sweep = data.sweep;
  const keys = data.keys || [];
  const metrics = (data.metrics || []).slice();
  // The API sends each job's varying keys and the rest once ("common").
  const common = data.common || {};
  const jobs = new Map(data.jobs.map((j) => [j.id, {...j, config: {...common, ...j.config}}]));
  document.title = `Switchyard: ${sweep.name || 'sweep ' + id}`;
  window.__sy.view = 'sweep';
  window.__sy.sweep = {id, sweep, keys, metrics, jobs: () => [...jobs.values()]};

  // Choices made on the page, kept in the URL so that a view can be linked.
  const defaults = data.defaults || {metric: metrics[0] || '', group_by: []};
  const opt = {
    metric: metrics.includes(q.get('metric')) ? q.get('metric') : defaults.metric,
    groupBy: q.has('group_by') ? q.get('group_by').split(',').filter((k) => keys.includes(k)) : defaults.group_by,
    x: q.get('x') === 'epoch' ? 'epoch' : 'step',
    log: q.get('log') === '1',
    includeStopped: q.get('include_stopped') === '1',
    rowKey: keys.includes(q.get('rows')) ? q.get('rows') : (keys[0] || ''),
    colKey: keys.includes(q.get('cols')) ? q.get('cols') : (keys[1] || ''),
    tileColor: q.get('color') === 'metric' ? 'metric' : 'state',
    stateFilter: q.get('state') || '',
    keyFilter: {},
    sortCol: 'id', sortDir: 1,
  };
  const saveOpts = () => {
    const p = query({metric: opt.metric, group_by: opt.groupBy.join(','), x: opt.x, log: opt.log ? 1 : null,
      include_stopped: opt.includeStopped ? 1 : null, rows: opt.rowKey, cols: opt.colKey, color: opt.tileColor === 'metric' ? 'metric' : null, state: opt.stateFilter});
    history.replaceState(null, '', `${location.pathname}${p ? '?' + p : ''}`);
  };

  // Header: name, state, counts, progress, actions.
  const head = h('div', {class: 'sweep-head'});
  const renderHead = () => {
    const t = timing(sweep);
    replace(head,
      h('h1', null, h('span', {class: 'muted'}, `sweep ${id}: `), h('span', {class: 'sweep-name'}, sweep.name || '(unnamed)'), ' ', stateBadge(sweep.state)),
      progressBar(sweep.counts || {}, sweep.total),
      h('p', null, countsLine(sweep.counts || {}), h('span', {class: 'small'},
        ` · ${t.done} of ${sweep.total} done · elapsed ${fmtDuration(t.elapsed)} · ETA ${t.eta === 0 ? 'done' : fmtDuration(t.eta)}`,
        sweep.priority ? ` · priority ${sweep.priority}` : '',
        sweep.scheduler ? ` · scheduler ${sweep.scheduler.kind || JSON.stringify(sweep.scheduler)}` : '')),
      h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'danger', id: 'cancel-sweep', disabled: sweep.state === 'finished' ? true : null,
          onclick: () => confirmPost(`Cancel sweep ${id} (${sweep.name})? Pending jobs are cancelled and running ones stopped.`,
            `/api/sweeps/${id}/cancel`, {}, (r) => { notice(`cancelled ${r.cancelled_pending} pending job(s), ordered ${r.cancel_ordered} running job(s) to stop`); reloadSweep(); })},
        'Cancel sweep'),
        h('button', {type: 'button', id: 'retry-sweep', disabled: (sweep.counts.failed || 0) + (sweep.counts.lost || 0) === 0 ? true : null,
          onclick: () => confirmPost(`Retry the failed and lost jobs of sweep ${id}?`, `/api/sweeps/${id}/retry`,
            {states: ['failed', 'lost']}, (r) => { notice(`requeued ${r.requeued} job(s)`); reloadSweep(); })},
        'Retry failed/lost'),
        dl('jobs CSV', `/download/data.csv?${query({sweep: id, what: 'jobs'})}`)));
  };

  // Controls of the curves (and of bars and parallel coordinates).
  const metricSel = h('select', {id: 'metric', onchange: () => { opt.metric = metricSel.value; saveOpts(); loadCurves(); loadBars(); renderTiles(); renderParcoords(); renderTable(); }},
    metrics.map((m) => h('option', {value: m, selected: m === opt.metric ? true : null}, m)));
  const xSel = h('select', {id: 'x', onchange: () => { opt.x = xSel.value; saveOpts(); loadCurves(); }},
    ['step', 'epoch'].map((v) => h('option', {value: v, selected: v === opt.x ? true : null}, v)));
  const logBox = h('input', {type: 'checkbox', id: 'logy', checked: opt.log, onchange: () => { opt.log = logBox.checked; saveOpts(); curves.opts.log = opt.log; curves.build(); }});
  const stoppedBox = h('input', {type: 'checkbox', id: 'include-stopped', checked: opt.includeStopped,
    onchange: () => { opt.includeStopped = stoppedBox.checked; saveOpts(); loadCurves(); loadBars(); }});
  const groupBoxes = h('span', {class: 'group-by'}, keys.map((k) => {
    const cb = h('input', {type: 'checkbox', value: k, checked: opt.groupBy.includes(k), onchange: () => {
      opt.groupBy = keys.filter((kk) => groupBoxes.querySelector(`input[value="${CSS.escape(kk)}"]`).checked);
      saveOpts(); loadCurves(); loadBars();
    }});
    return h('label', null, cb, k);
  }));
  const controls = h('div', {class: 'controls'},
    h('label', null, 'metric ', metricSel), h('label', null, 'x ', xSel), h('label', null, logBox, 'log y'),
    h('label', {title: 'draw stopped and paused jobs too (early stopping)'}, stoppedBox, 'include stopped'),
    h('span', null, 'group by: ', keys.length ? groupBoxes : h('span', {class: 'muted'}, 'no key varies')));

  const curvesEl = h('div', {class: 'curves', id: 'curves'});
  const curvesDl = h('span', {class: 'downloads'});
  const barsEl = h('div', {class: 'bars', id: 'bars'});
  const barsDl = h('span', {class: 'downloads'});
  const tilesEl = h('div', {class: 'tiles-host', id: 'tiles'});
  const tilesDl = h('span', {class: 'downloads'});
  const parEl = h('div', {class: 'parcoords', id: 'parcoords'});
  const parDl = h('span', {class: 'downloads'});
  const rungsEl = h('div', {id: 'rungs'});
  const tableEl = h('div', {class: 'table-host', id: 'jobs-table'});

  // x of a live point: the step, or the epoch the job logged at that step.
  const epochAt = new Map();
  const xOf = (job, step) => {
    if (opt.x === 'step') return step;
    const m = epochAt.get(job);
    return m ? m.get(step) : undefined;
  };
  // A job's group label, as the aggregate's keys print (values as strings).
  const labelOf = (jobId) => {
    const j = jobs.get(jobId);
    if (!j) return null;
    return groupLabel(Object.fromEntries(opt.groupBy.map((k) => [k, j.config[k] === undefined || j.config[k] === null ? '' : String(j.config[k])])));
  };
  // The series of jobs the aggregate leaves out (running ones), as
  // [{job, label, pts: Map x -> value}]: last value per bucket.
  async function runningSeries(ids) {
    if (!ids.length || !opt.metric) return [];
    const names = opt.x === 'epoch' && opt.metric !== 'epoch' ? [opt.metric, 'epoch'] : [opt.metric];
    const d = await getJSON(`/api/series?${query({sweep: id, job: ids, name: names, max_points: 200})}`);
    const byJob = new Map();
    for (const sr of d.series || []) {
      if (!byJob.has(sr.job_id)) byJob.set(sr.job_id, {});
      byJob.get(sr.job_id)[sr.name] = sr.buckets || [];
    }
    const out = [];
    for (const [job, s] of byJob) {
      const pts = new Map();
      const ep = new Map((s.epoch || []).map((b) => [b[1], b[4]]));
      if (opt.x === 'epoch' && !epochAt.has(job)) epochAt.set(job, new Map());
      for (const [step, e] of ep) epochAt.get(job) && epochAt.get(job).set(step, e);
      for (const b of s[opt.metric] || []) {
        const x = opt.x === 'epoch' ? (opt.metric === 'epoch' ? b[4] : ep.get(b[1])) : b[1];
        if (x !== undefined && b[4] !== null) pts.set(x, b[4]);
      }
      out.push({job, label: labelOf(job), pts});
    }
    return out;
  }
  const unfinished = () => [...jobs.values()].filter((j) => j.state === 'running' || j.state === 'paused').map((j) => j.id).slice(0, 100);
  const fetchHistory = (jobId) => {
    runningSeries([jobId]).then((rs) => { for (const r of rs) curves.mergeHistory(r.job, r.pts); }).catch(() => {});
  };
  const curves = new GroupedCurves(curvesEl, {xOf, labelOf, onNewJob: fetchHistory});
  view.cleanup.push(() => curves.destroy());

  let curvesSeq = 0;
  // prefetched: an /api/aggregate answer already on its way; used when it
  // is for the page's choices.
  async function loadCurves(prefetched = null) {
    const seq = ++curvesSeq;
    curves.beginLoad();
    const stopped = opt.includeStopped ? 1 : null;
    const params = {sweep: id, name: opt.metric, group_by: opt.groupBy, x: opt.x, include_stopped: stopped, max_points: 300};
    replace(curvesDl, dl('SVG', `/download/figure.svg?${query({sweep: id, kind: 'curves', metric: opt.metric, group_by: opt.groupBy, x: opt.x, include_stopped: stopped})}`),
      ' ', dl('CSV', `/download/data.csv?${query({...params, what: 'aggregate', max_points: null})}`));
    if (!opt.metric) { curves.load([], {...opt}); return; }
    try {
      // The aggregate (finished jobs) and the unfinished jobs' own series, together.
      const fits = (a) => a && a.name === opt.metric && a.group_by.join(',') === opt.groupBy.join(',');
      const aggregate = prefetched
        ? prefetched.then((a) => (fits(a) ? a : getJSON(`/api/aggregate?${query(params)}`)))
        : getJSON(`/api/aggregate?${query(params)}`);
      // The groups are drawn as soon as they come; the unfinished jobs'
      // lines join them when theirs do.
      const running = runningSeries(unfinished()).catch((e) => { showError(e); return []; });
      const agg = await aggregate;
      if (!view.alive || seq !== curvesSeq) return;
      curves.load(agg.groups, {metric: opt.metric, x: opt.x, log: opt.log, groupBy: opt.groupBy.slice()}, [], {histories: true});
      window.__sy.curves.aggregateGroups = agg.groups.length;
      const lines = await running;
      if (!view.alive || seq !== curvesSeq) return;
      curves.addHistories(lines);
    } catch (e) {
      if (seq === curvesSeq) { curves.buffer = null; replace(curves.chartEl, h('p', {class: 'error-text'}, e.message)); showError(e); }
    }
  }

  let barsSeq = 0;
  async function loadBars() {
    const seq = ++barsSeq;
    const groupBy = ['tasks', ...opt.groupBy.filter((k) => k !== 'tasks')].filter((k) => k === 'tasks' || keys.includes(k));
    const stopped = opt.includeStopped ? 1 : null;
    const params = {sweep: id, name: opt.metric, x: 'final', group_by: groupBy, include_stopped: stopped};
    replace(barsDl, dl('SVG', `/download/figure.svg?${query({sweep: id, kind: 'bars', metric: opt.metric, group_by: opt.groupBy.filter((k) => k !== 'tasks'), include_stopped: stopped})}`),
      ' ', dl('CSV', `/download/data.csv?${query({...params, what: 'aggregate'})}`));
    if (!opt.metric) return;
    try {
      const agg = await getJSON(`/api/aggregate?${query(params)}`);
      if (!view.alive || seq !== barsSeq) return;
      const {svg, bars} = drawBars(agg.groups, {metric: opt.metric});
      replace(barsEl, svg);
      barsEl.dataset.bars = bars;
    } catch (e) {
      if (seq === barsSeq) replace(barsEl, h('p', {class: 'error-text'}, e.message));
    }
  }

  // Grid overview: rows by one key, columns by another, a tile per job.
  const rowSel = h('select', {id: 'tile-rows', onchange: () => { opt.rowKey = rowSel.value; saveOpts(); renderTiles(); }},
    h('option', {value: ''}, '(none)'), keys.map((k) => h('option', {value: k, selected: k === opt.rowKey ? true : null}, k)));
  const colSel = h('select', {id: 'tile-cols', onchange: () => { opt.colKey = colSel.value; saveOpts(); renderTiles(); }},
    h('option', {value: ''}, '(none)'), keys.map((k) => h('option', {value: k, selected: k === opt.colKey ? true : null}, k)));
  const colorSel = h('select', {id: 'tile-color', onchange: () => { opt.tileColor = colorSel.value; saveOpts(); renderTiles(); }},
    h('option', {value: 'state'}, 'state'), h('option', {value: 'metric', selected: opt.tileColor === 'metric' ? true : null}, 'final metric'));

  function renderTiles() {
    const list = [...jobs.values()];
    const valuesOf = (k) => (k ? distinctValues(list, k) : ['']);
    const rowsV = valuesOf(opt.rowKey), colsV = valuesOf(opt.colKey);
    const fin = list.map((j) => (j.final || {})[opt.metric]).filter((v) => typeof v === 'number');
    const lo = Math.min(...fin), hi = Math.max(...fin);
    const tbl = h('table', {class: 'tiles'});
    tbl.append(h('tr', null, h('th', {class: 'corner'}, `${opt.rowKey || ''} \\ ${opt.colKey || ''}`), colsV.map((c) => h('th', null, c))));
    const cell = new Map();
    for (const j of list.sort((a, b) => a.id - b.id)) {
      const k = `${opt.rowKey ? fmtValue(j.config[opt.rowKey]) : ''}\u0000${opt.colKey ? fmtValue(j.config[opt.colKey]) : ''}`;
      if (!cell.has(k)) cell.set(k, []);
      cell.get(k).push(j);
    }
    for (const r of rowsV) {
      const tr = h('tr', null, h('th', null, r));
      for (const c of colsV) {
        const td = h('td');
        for (const j of cell.get(`${r}\u0000${c}`) || []) {
          const v = (j.final || {})[opt.metric];
          const tile = h('a', {href: `/jobs/${j.id}`, 'data-link': true, class: `tile st-${j.state}`, 'data-job': j.id,
            title: `job ${j.id} ${j.state}\n${keys.map((k) => `${k}=${fmtValue(j.config[k])}`).join('\n')}\n${opt.metric}=${fmtNum(v)}`});
          if (opt.tileColor === 'metric') {
            tile.classList.add('by-metric');
            tile.style.background = typeof v === 'number' ? viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5) : '#eee';
          }
          td.append(tile);
        }
        tr.append(td);
      }
      tbl.append(tr);
    }
    const legend = opt.tileColor === 'metric'
      ? h('p', {class: 'small'}, `${opt.metric}: dark ${fin.length ? fmtNum(lo) : '–'} → bright ${fin.length ? fmtNum(hi) : '–'}; grey: no value`)
      : h('p', {class: 'small'}, STATES.map((st) => h('span', {class: `count st-${st}`}, st)));
    replace(tilesEl, tbl, legend);
    const heat = opt.rowKey && opt.colKey && opt.rowKey !== opt.colKey;
    replace(tilesDl, heat ? dl('heatmap SVG', `/download/figure.svg?${query({sweep: id, kind: 'heatmap', metric: opt.metric, x: opt.colKey, y: opt.rowKey, include_stopped: opt.includeStopped ? 1 : null})}`)
      : h('span', {class: 'muted'}, 'heatmap SVG: choose two different keys'), ' ', dl('CSV', `/download/data.csv?${query({sweep: id, what: 'jobs'})}`));
  }

  function renderParcoords() {
    const list = [...jobs.values()];
    replace(parDl, h('a', {class: 'dl', href: '#', onclick: (ev) => {
      ev.preventDefault();
      const svg = parEl.querySelector('svg');
      if (svg) downloadText(`sweep-${id}-parallel.svg`, 'image/svg+xml', new XMLSerializer().serializeToString(svg));
    }}, 'SVG'), ' ', dl('CSV', `/download/data.csv?${query({sweep: id, what: 'jobs'})}`));
    if (!keys.length) { replace(parEl, h('p', {class: 'muted'}, 'No config key varies between the jobs.')); return; }
    const {svg, lines} = drawParcoords(list, keys, opt.metric);
    parEl.dataset.lines = lines;
    replace(parEl, svg);
  }

  function renderRungs() {
    const rungs = sweep.rungs || [];
    const card = rungsEl.parentNode;
    if (card) card.hidden = !rungs.length;
    if (!rungs.length) return;
    replace(rungsEl, h('h2', null, 'ASHA rungs'), table(['rung', 'epoch', 'reached', 'promoted', 'paused', 'stopped'],
      rungs.map((r) => [r.index, r.epoch, r.reached, r.promoted, r.paused, r.stopped].map(String))));
  }

  // The jobs table: sortable by any column, filtered by state and any key.
  const stateSel = h('select', {id: 'state-filter', onchange: () => { opt.stateFilter = stateSel.value; saveOpts(); renderTable(); }},
    h('option', {value: ''}, 'every state'), STATES.map((st) => h('option', {value: st, selected: st === opt.stateFilter ? true : null}, st)));
  const keyFilters = h('span', {class: 'key-filters'}, keys.map((k) => {
    const sel = h('select', {'data-key': k, onchange: () => { opt.keyFilter[k] = sel.value; renderTable(); }},
      h('option', {value: ''}, `${k}: any`),
      distinctValues([...jobs.values()], k).map((v) => h('option', {value: v}, v)));
    return sel;
  }));
  const columns = () => [
    {name: 'id', get: (j) => j.id, cell: (j) => link(`/jobs/${j.id}`, String(j.id))},
    {name: 'state', get: (j) => j.state, cell: (j) => stateBadge(j.state)},
    ...keys.map((k) => ({name: k, get: (j) => j.config[k], cell: (j) => fmtValue(j.config[k])})),
    ...metrics.filter((m) => m !== 'epoch').map((m) => ({name: m, get: (j) => (j.final || {})[m], cell: (j) => fmtNum((j.final || {})[m]), num: true})),
    {name: 'attempts', get: (j) => j.attempts, cell: (j) => String(j.attempts ?? '')},
    {name: 'failures', get: (j) => j.failures, cell: (j) => String(j.failures ?? '')},
    {name: 'last cause', get: (j) => j.last_cause || '', cell: (j) => h('span', {class: 'cause', title: j.last_cause || ''}, (j.last_cause || '').split('\n')[0].slice(0, 80))},
  ];
  function renderTable() {
    const cols = columns();
    const col = cols.find((c) => c.name === opt.sortCol) || cols[0];
    let list = [...jobs.values()];
    if (opt.stateFilter) list = list.filter((j) => j.state === opt.stateFilter);
    for (const [k, v] of Object.entries(opt.keyFilter)) if (v) list = list.filter((j) => fmtValue(j.config[k]) === v);
    list.sort((a, b) => opt.sortDir * cmpValues(col.get(a), col.get(b)) || a.id - b.id);
    const thead = h('tr', null, cols.map((c) => h('th', {class: `sortable${c.name === opt.sortCol ? (opt.sortDir > 0 ? ' asc' : ' desc') : ''}`, 'data-col': c.name,
      onclick: () => { if (opt.sortCol === c.name) opt.sortDir = -opt.sortDir; else { opt.sortCol = c.name; opt.sortDir = 1; } renderTable(); }}, c.name)));
    const shown = list.slice(0, 2000);
    const tbody = h('tbody', null, shown.map((j) => h('tr', {'data-job': j.id, class: `st-row-${j.state}`}, cols.map((c) => h('td', {class: c.num ? 'num' : null}, c.cell(j))))));
    replace(tableEl, h('p', {class: 'small'}, `${list.length} of ${jobs.size} jobs${list.length > shown.length ? ` (first ${shown.length} shown)` : ''}`),
      h('table', {class: 'grid jobs'}, h('thead', null, thead), tbody));
  }

  async function reloadSweep() {
    try {
      const d = await getJSON(`/api/sweeps/${id}`);
      if (!view.alive) return;
      Object.assign(sweep, d.sweep);
      for (const j of d.jobs) jobs.set(j.id, {...j, config: {...(d.common || {}), ...j.config}});
      for (const m of d.metrics || []) if (!metrics.includes(m)) { metrics.push(m); metricSel.append(h('option', {value: m}, m)); }
      renderAll();
    } catch (e) { showError(e); }
  }

  function renderAll() {
    renderHead(); renderTiles(); renderParcoords(); renderRungs(); renderTable();
  }

  replace(main, head,
    section('Grouped curves', controls, curvesEl, h('p', {class: 'small'}, 'Mean over each group\'s jobs, band ±1 sd. Click a legend entry to hide it. Downloads: ', curvesDl)),
    h('div', {class: 'two-col'},
      section('Grid overview', h('div', {class: 'controls'}, h('label', null, 'rows ', rowSel), h('label', null, 'columns ', colSel), h('label', null, 'colour ', colorSel)), tilesEl,
        h('p', {class: 'small'}, 'Downloads: ', tilesDl)),
      section('Final metric per task subset', barsEl, h('p', {class: 'small'}, 'Downloads: ', barsDl))),
    section('Parallel coordinates', parEl, h('p', {class: 'small'}, 'Downloads: ', parDl)),
    h('section', {class: 'card', id: 'rungs-card', hidden: !(sweep.rungs || []).length}, rungsEl),
    section('Jobs', h('div', {class: 'controls'}, h('label', null, 'state ', stateSel), keyFilters), tableEl));
  // Live: counts, job states and metric points.
  let reloadTimer = null;
  const reloadCharts = () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => { if (view.alive) { loadCurves(); loadBars(); } }, 1500);
  };
  view.cleanup.push(() => clearTimeout(reloadTimer));
  let jobsTimer = null;
  const rerenderJobs = () => {
    if (jobsTimer) return;
    jobsTimer = setTimeout(() => { jobsTimer = null; if (view.alive) renderAll(); }, 250);
  };
  view.cleanup.push(() => clearTimeout(jobsTimer));
  // The stream sends the jobs that change, not the jobs the page read: a
  // change it missed (before it subscribed, or while it reconnected) shows as
  // counts that its jobs do not add up to once the stream's own `jobs` event
  // has had time to follow; the page then reads the sweep again.
  let checkTimer = null;
  const checkCounts = () => {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(() => {
      if (!view.alive) return;
      const have = {};
      for (const j of jobs.values()) have[j.state] = (have[j.state] || 0) + 1;
      const counts = sweep.counts || {};
      if (STATES.some((st) => (have[st] || 0) !== (counts[st] || 0))) reloadSweep();
    }, 1500);
  };
  view.cleanup.push(() => clearTimeout(checkTimer));
  const received = window.__sy.live.received;
  openEvents(view, `/api/events?${query({sweep: id})}`, {
    sweep: (sw) => {
      if (sw.id !== undefined && sw.id !== id) return;
      const wasActive = sweep.state !== 'finished';
      Object.assign(sweep, sw);
      renderHead();
      checkCounts();
      if (wasActive && sweep.state === 'finished') reloadCharts();
    },
    jobs: (d) => {
      let changed = false;
      for (const j of d.jobs || []) {
        const old = jobs.get(j.id);
        jobs.set(j.id, {...(old || {}), ...j});
        if (!old || old.state !== j.state) changed = true;
      }
      rerenderJobs();
      if (changed) reloadCharts();
    },
    points: (d) => {
      const rows = d.points || [];
      const now = Date.now();
      for (const [job, name, step, value] of rows) {
        if (name === 'epoch') {
          if (!epochAt.has(job)) epochAt.set(job, new Map());
          epochAt.get(job).set(step, value);
        }
        received.push([job, name, step, value, now]);
      }
      if (received.length > 20000) received.splice(0, received.length - 20000);
      curves.addPoints(rows);
      // The jobs' last values follow in memory; the tiles, parallel
      // coordinates and table are rebuilt whole (thousands of elements for a
      // big sweep), so they are redrawn when a job changes state, not per
      // point: a rebuild must never hold up the curves.
      for (const [job, name, step, value] of rows) {
        const j = jobs.get(job);
        if (!j) continue;
        j.lastStep = j.lastStep || {};
        if (step >= (j.lastStep[name] ?? -1)) { j.lastStep[name] = step; j.final = {...(j.final || {}), [name]: value}; }
      }
    },
  });
  // The curves first: their request goes out before the tiles, the table and
  // the parallel coordinates (thousands of elements for a big sweep) are built.
  // The bars' aggregate waits for them too: on a big sweep it would take
  // the coordinator's CPU from theirs.
  renderHead();
  await loadCurves(firstCurves);
  if (!view.alive) return;
  const barsDone = loadBars();
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));  // let the curves paint
  renderTiles(); renderParcoords(); renderRungs(); renderTable();
  await barsDone;
}

// --- view: one job ----------------------------------------------------------------

async function viewJob(view, id) {
  const {job} = await getJSON(`/api/jobs/${id}`);
  if (!view.alive) return;
  document.title = `Switchyard: job ${id}`;
  window.__sy.view = 'job';
  window.__sy.job = job;
  const head = h('div');
  const renderHead = () => replace(head,
    h('h1', null, h('span', {class: 'muted'}, 'job '), String(id), ' ', stateBadge(job.state)),
    h('p', null, 'sweep ', link(`/sweeps/${job.sweep_id}`, String(job.sweep_id)), ` · cell ${job.cell_index} · ${(job.attempts || []).length} attempt(s)`,
      job.last_cause ? ' · last cause: ' : '', job.last_cause ? h('span', {class: 'cause'}, job.last_cause.split('\n')[0]) : ''),
    h('div', {class: 'actions'},
      h('button', {type: 'button', class: 'danger', id: 'cancel-job', disabled: DONE_STATES.has(job.state) ? true : null,
        onclick: () => confirmPost(`Cancel job ${id}?`, `/api/jobs/${id}/cancel`, {}, (r) => {
          notice(`cancelled ${r.cancelled_pending} pending, ordered ${r.cancel_ordered} running to stop`); reload();
        })}, 'Cancel job'),
      dl('series CSV', `/download/data.csv?${query({sweep: job.sweep_id, what: 'series', job: id})}`)));
  const configEl = h('div');
  const attemptsEl = h('div');
  const decisionsEl = h('div');
  const ckptEl = h('div');
  const renderBody = () => {
    replace(configEl, table(['key', 'value'], Object.entries(job.config || {}).map(([k, v]) => [k, fmtValue(v)]), 'grid kv'),
      Object.keys(job.final || {}).length ? h('h3', null, 'final') : null,
      Object.keys(job.final || {}).length ? table(['metric', 'value'], Object.entries(job.final).map(([k, v]) => [k, fmtNum(v, 6)]), 'grid kv') : null);
    const attempts = job.attempts || [];
    replace(attemptsEl, attempts.length ? h('div', null, attempts.map((a) => h('div', {class: 'attempt'},
      h('p', null, h('strong', null, `attempt ${a.number}`), ' ', stateBadge(a.outcome || 'running'),
        ` · worker ${a.worker || ''} · device ${a.device || ''} · started ${fmtTime(a.started_at)}`,
        a.ended_at ? ` · ended ${fmtTime(a.ended_at)} (${fmtDuration(a.ended_at - a.started_at)})` : '',
        a.resumed_from_step ? ` · resumed from step ${a.resumed_from_step}` : ''),
      a.cause ? h('pre', {class: 'cause-text'}, a.cause) : null))) : h('p', {class: 'muted'}, 'No attempt yet.'));
    const ds = job.decisions || [];
    replace(decisionsEl, ds.length ? table(['kind', 'rung', 'epoch', 'value', 'reason', 'decided'],
      ds.map((d) => [d.kind, String(d.rung ?? ''), String(d.epoch ?? ''), fmtNum(d.value), d.reason || '', fmtTime(d.decided_at)])) : h('p', {class: 'muted'}, 'No scheduler decision.'));
    const cs = job.checkpoints || [];
    replace(ckptEl, cs.length ? table(['step', 'size', 'sha256', 'created'],
      cs.map((c) => [String(c.step), fmtBytes(c.size_bytes), h('code', null, (c.sha256 || '').slice(0, 16)), fmtTime(c.created_at)])) : h('p', {class: 'muted'}, 'No checkpoint.'));
  };
  async function reload() {
    try {
      const d = await getJSON(`/api/jobs/${id}`);
      if (!view.alive) return;
      Object.assign(job, d.job);
      renderHead(); renderBody();
    } catch (e) { showError(e); }
  }
  renderHead(); renderBody();

  // Every metric's curve: the downsampled series, the last value per bucket,
  // a band from min to max.
  const chartsEl = h('div', {class: 'job-charts', id: 'job-charts'});
  const plots = new Map();  // name -> {u, data}
  view.cleanup.push(() => { for (const p of plots.values()) p.u.destroy(); });
  const drawSeries = (sr) => {
    const xs = [], last = [], lo = [], hi = [];
    for (const b of sr.buckets || []) { xs.push(b[1]); lo.push(b[2]); hi.push(b[3]); last.push(b[4]); }
    const box = h('div', {class: 'job-chart'}, h('h3', null, sr.name));
    chartsEl.append(box);
    const c = color(plots.size);
    const u = new window.uPlot({
      width: 400, height: 220, legend: {show: false}, scales: {x: {time: false}},
      axes: [{label: 'step'}, {size: 55}],
      series: [{}, {label: sr.name, stroke: c, width: 1.5, spanGaps: true, points: {show: xs.length < 30}},
        {label: 'max', stroke: 'transparent', points: {show: false}}, {label: 'min', stroke: 'transparent', points: {show: false}}],
      bands: [{series: [2, 3], fill: 'rgba(100, 100, 100, 0.15)'}],
    }, [xs, last, hi, lo], box);
    plots.set(sr.name, {u, data: [xs, last, hi, lo], lastStep: sr.last_step});
  };
  replace(main, head,
    h('div', {class: 'two-col'}, section('Config', configEl), section('Attempts', attemptsEl)),
    section('Curves', chartsEl),
    h('div', {class: 'two-col'}, section('Scheduler decisions', decisionsEl), section('Checkpoints', ckptEl)));
  try {
    const ser = await getJSON(`/api/series?${query({sweep: job.sweep_id, job: id, max_points: 500})}`);
    if (!view.alive) return;
    for (const sr of ser.series.sort((a, b) => a.name.localeCompare(b.name))) drawSeries(sr);
    if (!ser.series.length) chartsEl.append(h('p', {class: 'muted'}, 'No metric points yet.'));
  } catch (e) { replace(chartsEl, h('p', {class: 'error-text'}, e.message)); }

  {
    // Listen even after the job ended: a retry brings it back.
    let pend = null;
    openEvents(view, `/api/events?${query({sweep: job.sweep_id})}`, {
      points: (d) => {
        for (const [jid, name, step, value] of d.points || []) {
          if (jid !== id) continue;
          const p = plots.get(name);
          if (!p) continue;
          if (p.lastStep !== undefined && step <= p.lastStep) continue;
          p.lastStep = step;
          p.data[0].push(step); p.data[1].push(value); p.data[2].push(value); p.data[3].push(value);
          p.dirty = true;
        }
        if (!pend) pend = setTimeout(() => { pend = null; for (const p of plots.values()) if (p.dirty) { p.dirty = false; p.u.setData(p.data); } }, 200);
      },
      jobs: (d) => { if ((d.jobs || []).some((j) => j.id === id)) reload(); },
    });
  }
}

// --- view: workers ------------------------------------------------------------------

async function viewWorkers(view) {
  document.title = 'Switchyard: workers';
  window.__sy.view = 'workers';
  const body = h('div');
  const render = (ws) => {
    const now = Date.now() / 1000;
    replace(body, ws.length ? table(['id', 'name', 'host', 'state', 'slots busy/total', 'devices', 'last seen', 'versions', 'programs'],
      ws.map((w) => [String(w.id), w.name || '', w.hostname || '',
        h('span', null, stateBadge(w.state), w.quarantined ? ' ' : null, w.quarantined ? h('span', {class: 'badge st-failed', title: w.quarantine_cause || ''}, 'quarantined') : null,
          w.quarantined && w.quarantine_cause ? h('div', {class: 'small cause'}, w.quarantine_cause) : null),
        h('span', null, h('meter', {min: 0, max: w.slots_total || 1, value: w.slots_busy || 0}), ` ${w.slots_busy}/${w.slots_total}`),
        h('ul', {class: 'plain'}, (w.devices || []).map((d) => h('li', {title: d.description || ''},
          `${d.name} (${d.kind}${d.description ? ', ' + d.description : ''}${d.memory_bytes ? ', ' + fmtBytes(d.memory_bytes) : ''}): ${d.slots_busy || 0}/${d.slots} slot(s) busy`))),
        h('span', {title: fmtTime(w.last_seen)}, w.last_seen ? `${fmtDuration(now - w.last_seen)} ago` : ''),
        h('span', {class: 'small'}, [w.build_version && `build ${w.build_version}`, w.trainer_version && `trainer ${w.trainer_version}`,
          w.cuda_version && `CUDA ${w.cuda_version}`].filter(Boolean).join(' · ')),
        h('span', {class: 'small'}, Array.isArray(w.programs) ? w.programs.join(', ') : fmtValue(w.programs))]))
      : h('p', {class: 'muted'}, 'No worker has registered.'));
  };
  const data = await getJSON('/api/workers');
  if (!view.alive) return;
  render(data.workers);
  replace(main, h('h1', null, 'Workers'), section('Workers', body), h('p', {class: 'small'}, 'Refreshed every 5 s.'));
  const t = setInterval(async () => {
    try { const d = await getJSON('/api/workers'); if (view.alive) render(d.workers); } catch (e) { showError(e); }
  }, 5000);
  view.cleanup.push(() => clearInterval(t));
}

route();
