// Browser test of the `switchyard ui` page (docs/ui.md) in a real Chromium
// driven by puppeteer-core. ui_test.sh starts a real coordinator, worker and
// `switchyard ui` and runs this with UI_URL set; `--mock` runs the same
// checks against web/dev/mock_server.mjs instead (for working on the page).
//
//   UI_URL=http://127.0.0.1:PORT node tests/e2e/ui/ui_test.mjs
//   node tests/e2e/ui/ui_test.mjs --mock
//
// Environment: UI_URL, UI_WORK (screenshots go to $UI_WORK/screenshots),
// UI_SCREENSHOTS_DIR (copies ui-sweeps.png and ui-sweep.png there, e.g.
// docs/images), UI_DEMO_NAME (default e2e-tiny), UI_LIVE_NAME (default
// ui-live: a sweep with running jobs, cancelled by the test), CHROMIUM
// (default /usr/bin/chromium). Exits 0 when every check passed, 1 otherwise.
import {spawn} from 'node:child_process';
import {createRequire} from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
const puppeteer = require('puppeteer-core');

const XSS = '<img src=x onerror=alert(1)>';
const DEMO = process.env.UI_DEMO_NAME || 'e2e-tiny';
const LIVE = process.env.UI_LIVE_NAME || 'ui-live';
const WORK = process.env.UI_WORK || fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-ui-e2e.'));
const SHOTS = path.join(WORK, 'screenshots');
fs.mkdirSync(SHOTS, {recursive: true});

let failures = 0;
const fail = (msg) => { failures++; console.log(`FAIL: ${msg}`); };
const pass = (msg) => console.log(`ok: ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let BASE = process.env.UI_URL;
let mock = null;
if (process.argv.includes('--mock')) {
  const extra = process.argv.includes('--bench') ? ['--bench'] : [];
  mock = spawn(process.execPath, [path.join(ROOT, 'web/dev/mock_server.mjs'), '--port', '0', ...extra], {stdio: ['ignore', 'pipe', 'inherit']});
  BASE = await new Promise((resolve, reject) => {
    mock.stdout.on('data', (d) => { const m = /serving on (\S+)/.exec(String(d)); if (m) resolve(m[1]); });
    mock.on('exit', () => reject(new Error('the mock server exited')));
  });
}
if (!BASE) { console.log('UI_URL is not set (or pass --mock)'); process.exit(2); }
BASE = BASE.replace(/\/$/, '');

async function api(p, init) {
  const res = await fetch(BASE + p, init);
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  return {status: res.status, body};
}
async function sweepByName(name) {
  const {body} = await api('/api/sweeps');
  return (body.sweeps || []).find((s) => s.name === name);
}
async function waitFor(what, fn, ms = 10000, every = 100) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  defaultViewport: {width: 1400, height: 1000},
});
const page = await browser.newPage();
const dialogs = [];
const pageErrors = [];
page.on('dialog', async (d) => {
  dialogs.push({type: d.type(), message: d.message()});
  if (d.type() === 'confirm') await d.accept(); else await d.dismiss();
});
page.on('pageerror', (e) => pageErrors.push(String(e.message || e)));
page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
const requests = [];
page.on('requestfinished', async (r) => {
  const resp = r.response();
  let size = 0;
  try { size = Number(resp.headers()['content-length']) || (await resp.buffer()).length; } catch (_) { /* a stream */ }
  requests.push({url: r.url(), size});
});

async function open(p) {
  await page.goto(BASE + p, {waitUntil: 'domcontentloaded'});
  await page.waitForFunction(() => window.__sy && window.__sy.ready, {timeout: 15000});
}
async function check(name, fn) {
  try { await fn(); } catch (e) { fail(`${name}: ${e.message}`); }
}

try {
  const demo = await waitFor(`sweep ${DEMO} in /api/sweeps`, () => sweepByName(DEMO));
  const xss = await sweepByName(XSS);
  const live = await sweepByName(LIVE);

  // (a) the demo sweep is listed on /, (e) the hostile name shows as text.
  await check('(a) sweeps list', async () => {
    const t0 = Date.now();
    await open('/');
    const names = await page.$$eval('table.sweeps td.name a', (as) => as.map((a) => a.textContent));
    if (!names.includes(DEMO)) throw new Error(`'${DEMO}' not among ${JSON.stringify(names)}`);
    const row = await page.$eval(`tr[data-sweep="${demo.id}"]`, (tr) => tr.textContent);
    if (!row.includes(`${demo.total} done`) && !row.includes('done')) throw new Error(`row of sweep ${demo.id} lacks progress: ${row}`);
    pass(`(a) sweep '${DEMO}' (id ${demo.id}) is listed on / (${Date.now() - t0} ms)`);
    await page.screenshot({path: path.join(SHOTS, 'sweeps.png')});
  });
  await check('(e) hostile sweep name', async () => {
    if (!xss) throw new Error(`no sweep named ${XSS} in /api/sweeps`);
    const names = await page.$$eval('table.sweeps td.name a', (as) => as.map((a) => a.textContent));
    if (!names.includes(XSS)) throw new Error(`the name is not shown as text on /: ${JSON.stringify(names)}`);
    if (await page.$$eval('img', (imgs) => imgs.length)) throw new Error('an <img> element exists on /');
    await open(`/sweeps/${xss.id}`);
    const h1 = await page.$eval('h1 .sweep-name', (e) => e.textContent);
    if (h1 !== XSS) throw new Error(`sweep page heading is '${h1}'`);
    if (await page.$$eval('img', (imgs) => imgs.length)) throw new Error('an <img> element exists on the sweep page');
    const title = await page.title();
    if (!title.includes(XSS)) throw new Error(`document title '${title}'`);
    await sleep(300);
    const alerts = dialogs.filter((d) => d.type === 'alert');
    if (alerts.length) throw new Error(`a dialog fired: ${JSON.stringify(alerts)}`);
    pass('(e) a sweep named <img src=x onerror=alert(1)> shows as text, no element, no dialog');
  });

  // (b) grouped curves: one mean line and band per group of /api/aggregate.
  await check('(b) grouped curves', async () => {
    requests.length = 0;
    const t0 = Date.now();
    await open(`/sweeps/${demo.id}`);
    const st = await page.waitForFunction(() => window.__sy.curves && window.__sy.curves.groups > 0 && window.__sy.curves.pathsDrawn > 0 && window.__sy.curves, {timeout: 15000})
      .catch(async (e) => { throw new Error(`${e.message}; errors on the page: ${JSON.stringify(await page.evaluate(() => window.__sy.errors))}`); });
    const firstPaint = Date.now() - t0;
    const c = await st.jsonValue();
    const q = new URLSearchParams({sweep: demo.id, name: c.metric, group_by: c.groupBy.join(','), x: c.x, max_points: 300});
    const agg = await api(`/api/aggregate?${q}`);
    const n = agg.body.groups.length;
    if (c.groups !== n) throw new Error(`the page has ${c.groups} groups, /api/aggregate ${n} (group_by=${c.groupBy})`);
    if (c.meanSeries !== n || c.uplotSeries !== 3 * n) throw new Error(`uPlot has ${c.meanSeries} mean lines and ${c.uplotSeries} series; want ${n} and ${3 * n}`);
    if (c.pathsDrawn !== n) throw new Error(`${c.pathsDrawn} mean paths drawn, want ${n}`);
    const legend = await page.$$eval('#curves .legend-item', (li) => li.length);
    if (legend !== n) throw new Error(`${legend} legend entries, want ${n}`);
    pass(`(b) group_by=${c.groupBy.join(',')}: ${n} groups in /api/aggregate, ${c.meanSeries} mean lines (+${2 * n} band edges) drawn; first paint ${firstPaint} ms`);
    // Change the grouping on the page: one key fewer.
    if (c.groupBy.length >= 1) {
      const drop = c.groupBy[c.groupBy.length - 1];
      const before = await page.evaluate(() => window.__sy.curves.draws);
      await page.click(`.group-by input[value="${drop}"]`);
      const c2 = await (await page.waitForFunction((b, len) => window.__sy.curves && window.__sy.curves.groupBy.length === len && window.__sy.curves.pathsDrawn > 0 && window.__sy.curves,
        {timeout: 10000}, before, c.groupBy.length - 1)).jsonValue();
      const q2 = new URLSearchParams({sweep: demo.id, name: c2.metric, group_by: c2.groupBy.join(','), x: c2.x, max_points: 300});
      const n2 = (await api(`/api/aggregate?${q2}`)).body.groups.length;
      if (c2.groups !== n2 || c2.meanSeries !== n2 || c2.uplotSeries !== 3 * n2) throw new Error(`after unticking ${drop}: ${c2.meanSeries} lines, ${c2.groups} groups; /api/aggregate has ${n2}`);
      pass(`(b) unticking '${drop}' on the page: ${n2} groups, ${c2.meanSeries} lines`);
      await page.click(`.group-by input[value="${drop}"]`);
      await page.waitForFunction((len) => window.__sy.curves && window.__sy.curves.groupBy.length === len && window.__sy.curves.pathsDrawn > 0, {timeout: 10000}, c.groupBy.length);
    }
    const bars = await page.$eval('#bars', (e) => Number(e.dataset.bars || 0));
    if (!(bars > 0)) throw new Error('no bar drawn per task subset');
    const lines = await page.$eval('#parcoords', (e) => Number(e.dataset.lines || 0));
    const tiles = await page.$$eval('#tiles a.tile', (t) => t.length);
    const rows = await page.$$eval('#jobs-table tbody tr', (t) => t.length);
    if (tiles !== demo.total || rows !== demo.total) throw new Error(`${tiles} tiles and ${rows} table rows for ${demo.total} jobs`);
    pass(`(b) bars: ${bars}, parallel-coordinate lines: ${lines}, tiles: ${tiles}, table rows: ${rows}`);
    const kb = requests.reduce((a, r) => a + r.size, 0) / 1024;
    console.log(`    sweep page: ${requests.length} requests, ${kb.toFixed(0)} KiB`);
    await page.screenshot({path: path.join(SHOTS, 'sweep.png'), fullPage: true});
  });

  await check('job page', async () => {
    const {body} = await api(`/api/sweeps/${demo.id}`);
    const job = body.jobs.find((j) => j.state === 'succeeded') || body.jobs[0];
    await open(`/jobs/${job.id}`);
    const ser = await api(`/api/series?sweep=${demo.id}&job=${job.id}&max_points=500`);
    if (ser.status !== 200) throw new Error(`/api/series: ${ser.status} ${JSON.stringify(ser.body)}`);
    const want = ser.body.series.length;
    await page.waitForFunction((n) => document.querySelectorAll('#job-charts .job-chart').length === n, {timeout: 10000}, want);
    const attempts = await page.$$eval('.attempt', (a) => a.length);
    if (attempts < 1) throw new Error('no attempt shown');
    pass(`job page ${job.id}: ${want} metric curves, ${attempts} attempt(s)`);
    await page.screenshot({path: path.join(SHOTS, 'job.png'), fullPage: true});
  });

  await check('API error as text', async () => {
    await open('/sweeps/987654');
    const txt = await page.$eval('main', (m) => m.textContent);
    if (!/does not exist|404/.test(txt)) throw new Error(`main shows '${txt.slice(0, 200)}'`);
    pass('an unknown sweep shows the API error as text');
  });

  // (c) a point logged after the page loaded appears within 1 s.
  await check('(c) live points', async () => {
    if (!live) throw new Error(`no sweep named ${LIVE}`);
    const info = (await api(`/api/sweeps/${live.id}`)).body;
    // One group per job (seed varies), so every job's next point extends its own line.
    const groupBy = info.keys.includes('seed') ? 'seed' : info.keys.join(',');
    await open(`/sweeps/${live.id}?group_by=${groupBy}`);
    const metric = await (await page.waitForFunction(() => window.__sy.curves && (window.__sy.curves.groups > 0 || window.__sy.curves.runningSeries > 0) && window.__sy.curves.metric, {timeout: 15000})
      .catch(async (e) => { throw new Error(`${e.message}; errors on the page: ${JSON.stringify(await page.evaluate(() => window.__sy.errors))}`); })).jsonValue();
    // Node polls the committed series (50 ms) and notes when each new step shows there.
    const seen = new Map();
    const base = new Map();
    const poll = async () => {
      const r = await api(`/api/series?sweep=${live.id}&name=${encodeURIComponent(metric)}&max_points=1`);
      const t = Date.now();
      for (const s of r.body.series || []) {
        if (!base.has(s.job_id)) { base.set(s.job_id, s.last_step); continue; }
        if (s.last_step > base.get(s.job_id) && !seen.has(`${s.job_id}/${s.last_step}`)) seen.set(`${s.job_id}/${s.last_step}`, {job: s.job_id, step: s.last_step, value: s.buckets.at(-1)[4], t});
      }
    };
    await poll();
    const end = Date.now() + 20000;
    while (Date.now() < end && seen.size < 4) { await poll(); await sleep(50); }
    if (!seen.size) throw new Error(`no new ${metric} point was committed in 20 s (is the live sweep running?)`);
    await sleep(1200);
    const applied = await page.evaluate(() => window.__sy.curves.applied);
    const received = await page.evaluate(() => window.__sy.live.received);
    const lat = [];
    for (const p of seen.values()) {
      const a = applied.find((x) => x[0] === p.job && x[1] === metric && x[2] === p.step);
      const r = received.find((x) => x[0] === p.job && x[1] === metric && x[2] === p.step);
      if (!r) throw new Error(`job ${p.job} step ${p.step} (${metric}) never reached the page`);
      if (Math.abs(r[3] - p.value) > 1e-9 * Math.max(1, Math.abs(p.value))) throw new Error(`job ${p.job} step ${p.step}: page has ${r[3]}, API ${p.value}`);
      if (!a || a[5] === undefined) throw new Error(`job ${p.job} step ${p.step} was received but not drawn`);
      lat.push(a[5] - p.t);
    }
    const worst = Math.max(...lat);
    if (worst >= 1000) throw new Error(`a point took ${worst} ms from the API to the chart; latencies ${lat}`);
    const cs = await page.evaluate(() => window.__sy.curves);
    await page.screenshot({path: path.join(SHOTS, 'live.png'), fullPage: true});
    pass(`(c) ${cs.groups} aggregate group(s), ${cs.runningSeries} running job line(s); ${lat.length} new ${metric} points drawn without a reload, ${Math.max(0, worst)} ms at worst after the API had them (${lat.join(', ')} ms)`);
  });

  // A job that changes state before the page's event stream opens: the
  // stream sends only later changes, so the page must notice that the
  // sweep's counts and its jobs disagree and read the sweep again.
  await check('a change before the stream opened', async () => {
    if (!live) throw new Error(`no sweep named ${LIVE}`);
    const before = (await api(`/api/sweeps/${live.id}`)).body.jobs;
    const job = before.find((j) => j.state === 'pending') || before.find((j) => j.state === 'running');
    if (!job) throw new Error(`no pending or running job in the live sweep: ${JSON.stringify(before.map((j) => j.state))}`);
    // Only the event stream is held (DevTools' Fetch domain, paused at
    // the request), every other request goes on as usual.
    const cdp = await page.target().createCDPSession();
    const paused = [];
    let holding = true;
    cdp.on('Fetch.requestPaused', (e) => {
      if (holding) paused.push(e.requestId); else cdp.send('Fetch.continueRequest', {requestId: e.requestId}).catch(() => {});
    });
    const release = async () => {
      if (!holding) return;
      holding = false;
      for (const requestId of paused.splice(0)) await cdp.send('Fetch.continueRequest', {requestId}).catch(() => {});
    };
    await cdp.send('Fetch.enable', {patterns: [{urlPattern: '*/api/events*', requestStage: 'Request'}]});
    try {
      await open(`/sweeps/${live.id}`);
      const shown = await page.$eval(`#jobs-table tr[data-job="${job.id}"]`, (tr) => tr.className);
      if (!shown.includes(job.state)) throw new Error(`job ${job.id}'s row is '${shown}', want ${job.state}`);
      const status = await page.evaluate(async (id) => {
        const {csrf} = await (await fetch('/api/session')).json();
        return (await fetch(`/api/jobs/${id}/cancel`, {method: 'POST', headers: {'X-CSRF-Token': csrf}})).status;
      }, job.id);
      if (status !== 200) throw new Error(`cancelling job ${job.id}: ${status}`);
      await waitFor(`job ${job.id} to end cancelled`, async () =>
        (await api(`/api/jobs/${job.id}`)).body.job.state === 'cancelled', 30000, 200);
      if (!paused.length) throw new Error('the page opened no event stream to hold');
      await release();
      const t0 = Date.now();
      await page.waitForFunction((id) => {
        const tr = document.querySelector(`#jobs-table tr[data-job="${id}"]`);
        return tr && tr.className.includes('cancelled');
      }, {timeout: 10000}, job.id).catch(async (e) => {
        const seen = await page.evaluate((id) => JSON.stringify({
          row: (document.querySelector(`#jobs-table tr[data-job="${id}"]`) || {}).className,
          events: window.__sy.live.events, live: document.getElementById('live-status').textContent,
          errors: window.__sy.errors}), job.id);
        throw new Error(`${e.message}; the page: ${seen}`);
      });
      pass(`job ${job.id}, ${job.state} when the page read the sweep and cancelled before its stream opened, shows cancelled ${Date.now() - t0} ms after the stream opened, without a reload`);
    } finally {
      await release();
      await cdp.send('Fetch.disable').catch(() => {});
      await cdp.detach().catch(() => {});
    }
  });

  // (d) cancel from the page.
  await check('(d) cancel', async () => {
    if (!live) throw new Error(`no sweep named ${LIVE}`);
    if (!/\/sweeps\//.test(page.url())) await open(`/sweeps/${live.id}`);
    const n = dialogs.length;
    await page.click('#cancel-sweep');
    await waitFor('the confirm dialog', () => dialogs.length > n, 5000);
    if (dialogs[n].type !== 'confirm') throw new Error(`a ${dialogs[n].type} dialog, not a confirm`);
    const jobs = await waitFor('every job of the live sweep to end cancelled', async () => {
      const {body} = await api(`/api/sweeps/${live.id}`);
      const st = body.jobs.map((j) => j.state);
      return st.every((s) => !['pending', 'running', 'paused'].includes(s)) && st.includes('cancelled') ? st : null;
    }, 30000, 300);
    await page.waitForFunction(() => /cancelled/.test(document.querySelector('.sweep-head').textContent), {timeout: 10000});
    pass(`(d) cancel from the page (confirm accepted): jobs ${jobs.join(', ')}`);
  });

  // (f) a POST without the CSRF token is refused.
  await check('(f) CSRF', async () => {
    const r1 = await api(`/api/sweeps/${demo.id}/retry`, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"states":["failed"]}'});
    if (r1.status !== 403) throw new Error(`a POST without X-CSRF-Token: ${r1.status}, want 403`);
    if (!r1.body || typeof r1.body.error !== 'string') throw new Error(`403 without {"error"}: ${JSON.stringify(r1.body)}`);
    const r2 = await api(`/api/sweeps/${demo.id}/cancel`, {method: 'POST', headers: {'X-CSRF-Token': 'wrong'}});
    if (r2.status !== 403) throw new Error(`a wrong X-CSRF-Token: ${r2.status}, want 403`);
    const r3 = await page.evaluate(async (id) => (await fetch(`/api/sweeps/${id}/cancel`, {method: 'POST'})).status, demo.id);
    if (r3 !== 403) throw new Error(`the page's own POST without the token: ${r3}, want 403`);
    const r4 = await api(`/api/sweeps/${demo.id}/cancel`);
    if (r4.status !== 405) throw new Error(`GET on a POST path: ${r4.status}, want 405`);
    pass(`(f) POST without the CSRF token: 403 ${JSON.stringify(r1.body)}; wrong token 403; GET on a POST path 405`);
  });

  // Performance: the benchmark's sweep (1,000 jobs x 10 metrics x 1,000 steps)
  // when it exists here (the mock's --bench, or UI_BENCH_NAME).
  const bench = await sweepByName(process.env.UI_BENCH_NAME || 'bench-1000');
  if (bench) await check('(g) performance', async () => {
    const cdp = await page.target().createCDPSession();
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', {cacheDisabled: true});
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
    await page.goto(`${BASE}/sweeps/${bench.id}`, {waitUntil: 'domcontentloaded'});
    const ms = await (await page.waitForFunction(() => window.__sy && window.__sy.firstCurvesMs, {timeout: 15000})).jsonValue();
    await page.waitForFunction(() => window.__sy.ready, {timeout: 15000});
    await sleep(300);
    await cdp.detach();
    const mb = bytes / 1048576;
    if (ms >= 1500 || mb >= 2) throw new Error(`first curves after ${ms.toFixed(0)} ms, ${mb.toFixed(2)} MiB transferred; want < 1500 ms and < 2 MiB`);
    pass(`(g) ${bench.total}-job sweep: grouped curves drawn ${ms.toFixed(0)} ms after navigation, ${mb.toFixed(2)} MiB transferred`);
  });

  await check('security headers', async () => {
    const res = await fetch(BASE + '/');
    const csp = res.headers.get('content-security-policy') || '';
    if (!csp.includes("default-src 'self'") || /unsafe-(inline|eval)/.test(csp)) throw new Error(`CSP '${csp}'`);
    if (res.headers.get('x-content-type-options') !== 'nosniff') throw new Error('no X-Content-Type-Options: nosniff');
    pass(`CSP: ${csp}`);
  });

  const csp = pageErrors.filter((e) => /Content Security Policy|Refused to/i.test(e));
  if (csp.length) fail(`CSP violations in the page: ${csp.join(' | ')}`);
  const errs = pageErrors.filter((e) => !/Failed to load resource: the server responded with a status of (404|403)/.test(e) && !csp.includes(e));
  if (errs.length) fail(`errors in the page's console: ${errs.slice(0, 5).join(' | ')}`);
} catch (e) {
  fail(e.stack || e.message);
} finally {
  await browser.close();
  if (mock) mock.kill();
}

if (process.env.UI_SCREENSHOTS_DIR) {
  fs.mkdirSync(process.env.UI_SCREENSHOTS_DIR, {recursive: true});
  for (const [from, to] of [['sweeps.png', 'ui-sweeps.png'], ['sweep.png', 'ui-sweep.png']]) {
    if (fs.existsSync(path.join(SHOTS, from))) fs.copyFileSync(path.join(SHOTS, from), path.join(process.env.UI_SCREENSHOTS_DIR, to));
  }
}
console.log(`screenshots: ${SHOTS}`);
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
