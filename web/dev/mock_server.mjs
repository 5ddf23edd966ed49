// A throwaway stand-in for `switchyard ui` (client/ui/), for working on the
// page without a coordinator: it serves web/src and uPlot under /assets/ like
// the real server, and answers the JSON API and the event stream of
// docs/ui.md with made-up sweeps whose running jobs log a point every few
// hundred milliseconds. It is a development aid, not a test and not a
// reference: the real server is the C++ one.
//
//   node web/dev/mock_server.mjs [--port 8090] [--bench] [--proxy URL]
//     --bench   adds the benchmark sweep: 1,000 jobs x 10 metrics x 1,000 steps
//     --proxy   serves the page from web/src but forwards every other request
//               (the API, the events, downloads, /login) to a real
//               `switchyard ui` at URL: the page as it is on disk against the
//               real server, without rebuilding the binary that embeds it
//
// It prints `serving on http://127.0.0.1:PORT` like `switchyard ui`.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import {fileURLToPath} from 'node:url';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const port = Number(args[args.indexOf('--port') + 1] || 0) || (args.includes('--port') ? 0 : 8090);
const bench = args.includes('--bench');
const proxy = args.includes('--proxy') ? new URL(args[args.indexOf('--proxy') + 1]) : null;
const CSRF = crypto.randomBytes(16).toString('hex');
const now = () => Date.now() / 1000;
const METRICS = ['epoch', 'loss', 'eval_loss', 'accuracy', 'accuracy_last', 'accuracy_I', 'accuracy_A', 'accuracy_R', 'accuracy_C', 'samples_per_sec'];

// --- made-up sweeps ----------------------------------------------------------
let nextJob = 1;
const sweeps = [];
function cross(grid) {
  let out = [{}];
  for (const [k, vs] of Object.entries(grid)) out = out.flatMap((c) => vs.map((v) => ({...c, [k]: v})));
  return out;
}
function addSweep(name, grid, {steps, rate, logEvery, stepsPerEpoch, startIn = 0, fail = 0}) {
  const id = sweeps.length + 1;
  const t0 = now() + startIn;
  const configs = cross(grid);
  const jobs = configs.map((config, i) => ({
    id: nextJob++, sweep_id: id, cell_index: i, config, steps, logEvery, stepsPerEpoch,
    startedAt: t0, rate: rate * (1 + 0.15 * (i % 3)), failAt: i < fail ? Math.floor(steps / 2) : null,
    cancelledAt: null, state: 'pending', seed: i + 1,
  }));
  const keys = Object.keys(grid).filter((k) => grid[k].length > 1);
  const sw = {id, name, priority: 0, created_at: t0 - 5, jobs, keys, scheduler: null, rungs: []};
  sweeps.push(sw);
  return sw;
}
addSweep('e2e-tiny', {model: ['mlp', 'transformer'], attention: ['softmax', 'expressive'], tasks: ['IARC', 'IA'], seed: [1, 2]},
  {steps: 12, rate: 1e6, logEvery: 4, stepsPerEpoch: 4, startIn: -60, fail: 1});
addSweep('<img src=x onerror=alert(1)>', {model: ['mlp'], seed: [1, 2]}, {steps: 8, rate: 1e6, logEvery: 4, stepsPerEpoch: 4, startIn: -30});
addSweep('ui-live', {model: ['mlp'], seed: [1, 2, 3]}, {steps: 100000, rate: 4, logEvery: 2, stepsPerEpoch: 10});
{
  // An ASHA-like sweep: random learning rates, rungs, paused and stopped jobs.
  const lr = Array.from({length: 9}, (_, i) => Number((1e-4 * Math.pow(300, i / 8)).toPrecision(3)));
  const sw = addSweep('asha-mock', {model: ['transformer'], lr, layers: [1, 2]}, {steps: 60, rate: 1e6, logEvery: 10, stepsPerEpoch: 10, startIn: -120});
  sw.scheduler = {kind: 'asha', metric: 'accuracy', mode: 'max', min_epochs: 1, max_epochs: 6, reduction: 3};
  sw.rungs = [{index: 0, epoch: 1, reached: 18, promoted: 6, paused: 0, stopped: 12}, {index: 1, epoch: 3, reached: 6, promoted: 2, paused: 0, stopped: 4}];
  sw.jobs.forEach((j, i) => { if (i % 3) j.steps = i % 2 ? 10 : 30; j.fixedState = i % 3 ? 'stopped' : null; });
}
if (bench) {
  addSweep('bench-1000', {model: ['mlp', 'lstm', 'transformer', 'cisformer'], attention: ['softmax', 'expressive'], tasks: ['IARC', 'IA', 'IR', 'IC', 'I'],
    lr: [0.001, 0.003, 0.01, 0.03, 0.1], seed: [1, 2, 3, 4, 5]}, {steps: 1000, rate: 1e6, logEvery: 1, stepsPerEpoch: 100, startIn: -600});
}

function stepNow(j, t = now()) {
  let s = Math.floor(Math.max(0, t - j.startedAt) * j.rate);
  if (j.cancelledAt !== null) s = Math.min(s, Math.floor(Math.max(0, j.cancelledAt - j.startedAt) * j.rate));
  if (j.failAt !== null) s = Math.min(s, j.failAt);
  return Math.min(s, j.steps);
}
function stateOf(j, t = now()) {
  if (j.fixedState) return j.fixedState;
  const s = stepNow(j, t);
  if (j.failAt !== null && s >= j.failAt) return 'failed';
  if (s >= j.steps) return 'succeeded';
  if (j.cancelledAt !== null) return 'cancelled';
  return t >= j.startedAt ? 'running' : 'pending';
}
function value(j, name, step) {
  const e = step / j.stepsPerEpoch, m = j.config.model || 'mlp';
  const skill = {mlp: 0.6, lstm: 0.75, transformer: 0.85, cisformer: 0.9}[m] || 0.7;
  const noise = Math.sin(j.seed * 12.9898 + step * 0.37) * 0.02;
  switch (name) {
    case 'epoch': return e;
    case 'loss': case 'eval_loss': return 2 * Math.exp(-e * skill * 0.5) + 0.05 + noise;
    case 'samples_per_sec': return 900 + 100 * Math.sin(step);
    default: return Math.min(1, skill * (1 - Math.exp(-e * 0.8)) + noise + (name === 'accuracy' ? 0 : -0.05));
  }
}
const loggedSteps = (j, upto) => {
  const out = [];
  for (let s = j.logEvery; s <= upto; s += j.logEvery) out.push(s);
  if (upto > 0 && out[out.length - 1] !== upto && upto === j.steps) out.push(upto);
  return out;
};
function counts(sw, t = now()) {
  const c = {pending: 0, running: 0, succeeded: 0, failed: 0, lost: 0, cancelled: 0, paused: 0, stopped: 0};
  for (const j of sw.jobs) c[stateOf(j, t)]++;
  return c;
}
function sweepJSON(sw) {
  const c = counts(sw);
  const active = c.pending + c.running + c.paused > 0;
  let fin = null;
  if (!active) fin = Math.max(...sw.jobs.map((j) => j.cancelledAt ?? (j.startedAt + Math.min(j.steps, j.failAt ?? j.steps) / j.rate)));
  return {id: sw.id, name: sw.name, priority: sw.priority, state: active ? 'active' : 'finished', counts: c, total: sw.jobs.length,
    created_at: sw.created_at, finished_at: fin};
}
function jobJSON(j) {
  const s = stepNow(j);
  const final = {};
  if (s > 0) for (const m of METRICS) final[m] = value(j, m, loggedSteps(j, s).pop() || s);
  const st = stateOf(j);
  return {id: j.id, cell_index: j.cell_index, state: st, config: j.config, final, attempts: 1,
    failures: st === 'failed' ? 1 : 0, last_cause: st === 'failed' ? 'loss is NaN at step 6\n<b>stderr</b> tail: <script>alert(1)</script>' : null};
}

// --- HTTP ------------------------------------------------------------------------
const SEC = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'",
  'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer',
};
const TYPES = {'.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml'};
function send(res, status, body, type = 'application/json') {
  const buf = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, {...SEC, 'Content-Type': type, 'Content-Length': buf.length, 'Cache-Control': 'no-store'});
  res.end(buf);
}
const err = (res, status, msg) => send(res, status, {error: msg});
function file(res, p) {
  fs.readFile(p, (e, buf) => {
    if (e) return err(res, 404, `no such file: ${path.basename(p)}`);
    res.writeHead(200, {...SEC, 'Content-Type': TYPES[path.extname(p)] || 'application/octet-stream'});
    res.end(buf);
  });
}
function getSweep(res, id) {
  const sw = sweeps[Number(id) - 1];
  if (!sw || !/^\d+$/.test(String(id))) { err(res, 404, `sweep ${id} does not exist`); return null; }
  return sw;
}
function intParam(q, name, def, lo, hi) {
  if (!q.has(name)) return def;
  const v = q.get(name);
  if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new Error(`${name}: expected an integer from ${lo} to ${hi}, got '${v}'`);
  return Number(v);
}
function stats(vals) {
  const n = vals.length, mean = vals.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return [mean, sd, n, Math.min(...vals), Math.max(...vals)];
}
// The server's starting choices (ui_server.cc's DefaultGroupBy), for this mock's keys.
function defaultGroupBy(sw) {
  const pref = ['model', 'attention'].filter((k) => sw.keys.includes(k));
  return pref.length ? pref : sw.keys.filter((k) => k !== 'seed' && k !== 'tasks').slice(0, 2);
}
function aggregate(sw, q) {
  const name = q.get('name') || 'accuracy';
  const groupBy = q.get('defaults') === '1' && !q.has('group_by')
    ? defaultGroupBy(sw) : (q.get('group_by') || '').split(',').filter(Boolean);
  const x = q.get('x') || 'step';
  const maxPoints = intParam(q, 'max_points', 1000, 1, 100000);
  const groups = new Map();
  // Like the coordinator's Aggregate: succeeded jobs, and stopped or paused ones with include_stopped=1.
  const stopped = q.get('include_stopped') === '1';
  for (const j of sw.jobs) {
    const st = stateOf(j);
    if (!(st === 'succeeded' || (stopped && (st === 'stopped' || st === 'paused')))) continue;
    const key = Object.fromEntries(groupBy.map((k) => [k, j.config[k] ?? null]));
    const k = JSON.stringify(key);
    if (!groups.has(k)) groups.set(k, {key, job_ids: [], jobs: []});
    groups.get(k).job_ids.push(j.id);
    groups.get(k).jobs.push(j);
  }
  const out = [];
  for (const g of groups.values()) {
    let points;
    if (x === 'final') {
      points = [[null, ...stats(g.jobs.map((j) => value(j, name, stepNow(j))))]];
    } else {
      const maxStep = Math.max(...g.jobs.map((j) => stepNow(j)));
      const all = loggedSteps(g.jobs[0], maxStep);
      const stride = Math.max(1, Math.ceil(all.length / maxPoints));
      points = [];
      for (let i = stride - 1; i < all.length + stride - 1; i += stride) {
        const s = all[Math.min(i, all.length - 1)];
        const vals = g.jobs.filter((j) => stepNow(j) >= s).map((j) => value(j, name, s));
        if (!vals.length) continue;
        points.push([x === 'epoch' ? s / g.jobs[0].stepsPerEpoch : s, ...stats(vals)]);
        if (i >= all.length - 1) break;
      }
    }
    out.push({key: g.key, job_ids: g.job_ids, points});
  }
  return {name, group_by: groupBy, groups: out};
}
function series(sw, q) {
  const jobIds = q.has('job') ? q.get('job').split(',').map(Number) : sw.jobs.map((j) => j.id);
  const names = q.has('name') ? q.get('name').split(',') : METRICS;
  const maxPoints = intParam(q, 'max_points', 1000, 1, 100000);
  const after = intParam(q, 'after_step', -1, 0, 1e12);
  const out = [];
  for (const j of sw.jobs.filter((jj) => jobIds.includes(jj.id))) {
    const steps = loggedSteps(j, stepNow(j)).filter((s) => s > after);
    if (!steps.length) continue;
    const per = Math.ceil(steps.length / maxPoints);
    for (const name of names) {
      const buckets = [];
      for (let i = 0; i < steps.length; i += per) {
        const ss = steps.slice(i, i + per), vs = ss.map((s) => value(j, name, s));
        buckets.push([ss[0], ss[ss.length - 1], Math.min(...vs), Math.max(...vs), vs[vs.length - 1], ss.length]);
      }
      out.push({job_id: j.id, name, points: steps.length, last_step: steps[steps.length - 1], buckets});
    }
  }
  return {series: out};
}

// SSE: every 200 ms, the points and state changes since the last tick.
function events(req, res, sw) {
  res.writeHead(200, {...SEC, 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive'});
  const send1 = (ev, data) => res.write(`event: ${ev}\ndata: ${JSON.stringify(data)}\n\n`);
  res.write(': stream open\n\n');  // send the headers now, so that the page's EventSource opens
  if (sw) send1('sweep', sweepJSON(sw));  // as the real one: the sweep as it is now, first
  const list = sw ? [sw] : sweeps;
  const lastStep = new Map(), lastState = new Map(), lastCounts = new Map();
  for (const s of list) {
    lastCounts.set(s.id, JSON.stringify(counts(s)));
    for (const j of s.jobs) { lastStep.set(j.id, stepNow(j)); lastState.set(j.id, stateOf(j)); }
  }
  const tick = setInterval(() => {
    for (const s of list) {
      const pts = [], changed = [];
      for (const j of s.jobs) {
        const st = stepNow(j), prev = lastStep.get(j.id);
        if (sw && st > prev) for (const step of loggedSteps(j, st).filter((x) => x > prev)) for (const m of METRICS) pts.push([j.id, m, step, value(j, m, step)]);
        lastStep.set(j.id, st);
        const state = stateOf(j);
        if (state !== lastState.get(j.id)) { changed.push(jobJSON(j)); lastState.set(j.id, state); }
      }
      if (pts.length) send1('points', {points: pts});
      if (changed.length && sw) send1('jobs', {jobs: changed});
      const c = JSON.stringify(counts(s));
      if (c !== lastCounts.get(s.id)) { lastCounts.set(s.id, c); send1('sweep', sweepJSON(s)); }
    }
  }, 200);
  const ping = setInterval(() => send1('ping', {}), 15000);
  req.on('close', () => { clearInterval(tick); clearInterval(ping); });
}

// --proxy: the request as it came, to the real server (Host and Origin
// rewritten to its own, as the browser would have sent them there).
function forward(req, res) {
  const headers = {...req.headers, host: proxy.host};
  if (headers.origin) headers.origin = proxy.origin;
  const up = http.request({host: proxy.hostname, port: proxy.port, method: req.method, path: req.url, headers}, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', (e) => err(res, 502, `proxy: ${e.message}`));
  req.pipe(up);
  res.on('close', () => up.destroy());
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  const p = u.pathname, q = u.searchParams;
  try {
    if (p.startsWith('/assets/')) {
      const name = path.basename(p);
      if (name === 'uPlot.iife.min.js' || name === 'uPlot.min.css') return file(res, path.join(WEB, 'node_modules/uplot/dist', name));
      return file(res, path.join(WEB, 'src', name));
    }
    if (p === '/' || p === '/workers' || /^\/(sweeps|jobs)\/\d+$/.test(p)) return file(res, path.join(WEB, 'src/index.html'));
    if (proxy) return forward(req, res);
    if (p === '/login') return req.method === 'POST' ? (res.writeHead(303, {Location: '/'}), res.end()) : file(res, path.join(WEB, 'src/login.html'));
    const post = /^\/api\/(sweeps|jobs)\/\d+\/(cancel|retry)$/.test(p);
    if (post && req.method !== 'POST') return err(res, 405, `${p} takes POST`);
    if (post && req.headers['x-csrf-token'] !== CSRF) return err(res, 403, 'missing or wrong CSRF token');
    let m;
    if (p === '/api/session') return send(res, 200, {csrf: CSRF});
    if (p === '/api/sweeps') return send(res, 200, {sweeps: sweeps.map(sweepJSON).reverse()});
    if ((m = /^\/api\/sweeps\/(\w+)$/.exec(p))) {
      const sw = getSweep(res, m[1]); if (!sw) return;
      return send(res, 200, {sweep: {...sweepJSON(sw), scheduler: sw.scheduler, rungs: sw.rungs}, keys: sw.keys, metrics: METRICS,
        defaults: {metric: 'accuracy', group_by: defaultGroupBy(sw)}, jobs: sw.jobs.map(jobJSON)});
    }
    if ((m = /^\/api\/sweeps\/(\d+)\/cancel$/.exec(p))) {
      const sw = getSweep(res, m[1]); if (!sw) return;
      let pend = 0, run = 0;
      for (const j of sw.jobs) {
        const st = stateOf(j);
        if (st === 'pending') pend++; else if (st === 'running') run++; else continue;
        j.cancelledAt = now();
      }
      return send(res, 200, {cancelled_pending: pend, cancel_ordered: run});
    }
    if ((m = /^\/api\/sweeps\/(\d+)\/retry$/.exec(p))) return send(res, 200, {requeued: 0});
    if ((m = /^\/api\/jobs\/(\d+)\/cancel$/.exec(p))) {
      const j = sweeps.flatMap((s) => s.jobs).find((jj) => jj.id === Number(m[1]));
      if (!j) return err(res, 404, `job ${m[1]} does not exist`);
      const st = stateOf(j);
      if (st === 'running' || st === 'pending') j.cancelledAt = now();
      return send(res, 200, {cancelled_pending: st === 'pending' ? 1 : 0, cancel_ordered: st === 'running' ? 1 : 0});
    }
    if ((m = /^\/api\/jobs\/(\w+)$/.exec(p))) {
      const j = sweeps.flatMap((s) => s.jobs).find((jj) => String(jj.id) === m[1]);
      if (!j) return err(res, 404, `job ${m[1]} does not exist`);
      const js = jobJSON(j);
      return send(res, 200, {job: {...js, sweep_id: j.sweep_id,
        attempts: [{number: 1, worker: 'mock-worker', device: 'cpu:0', outcome: js.state === 'running' ? null : js.state, cause: js.last_cause,
          started_at: j.startedAt, ended_at: js.state === 'running' ? null : now(), resumed_from_step: 0}],
        decisions: [], checkpoints: [{step: 4, size_bytes: 123456, sha256: 'ab'.repeat(32), created_at: j.startedAt + 1}]}});
    }
    if (p === '/api/workers') {
      const busy = sweeps.reduce((a, s) => a + counts(s).running, 0);
      return send(res, 200, {workers: [{id: 1, name: 'mock-worker', hostname: 'localhost', state: 'idle', slots_busy: Math.min(busy, 8), slots_total: 8,
        devices: [{name: 'cpu', kind: 'cpu', slots: 8}], last_seen: now() - 1, build_version: 'mock', trainer_version: 'mock', cuda_version: '', programs: ['builtin']}]});
    }
    if (p === '/api/series') { const sw = getSweep(res, q.get('sweep')); if (!sw) return; return send(res, 200, series(sw, q)); }
    if (p === '/api/aggregate') { const sw = getSweep(res, q.get('sweep')); if (!sw) return; return send(res, 200, aggregate(sw, q)); }
    if (p === '/api/events') {
      if (q.has('sweep')) { const sw = getSweep(res, q.get('sweep')); if (!sw) return; return events(req, res, sw); }
      return events(req, res, null);
    }
    if (p === '/download/figure.svg') return send(res, 200, `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="4" y="24">mock ${q}</text></svg>`, 'image/svg+xml');
    if (p === '/download/data.csv') return send(res, 200, `mock,${q.get('what')}\n1,2\n`, 'text/csv');
    return err(res, 404, `no such path: ${p}`);
  } catch (e) {
    return err(res, 400, e.message);
  }
});
server.listen(port, '127.0.0.1', () => console.log(`serving on http://127.0.0.1:${server.address().port}`));
