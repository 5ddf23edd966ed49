// bench/ui's browser side (run by ui_bench): headless Chromium through
// puppeteer-core (web/node_modules) measures the sweep page of a running
// `switchyard ui`.
//
//   node bench/ui/measure.mjs URL SWEEP PAGES SECONDS RESULT.json
//
// 1. A tab of a fresh context, open and idle, its HTTP cache off, opens
//    URL/sweeps/SWEEP: the time from navigation start
//    to the first paint of the grouped curves (the page sets
//    window.__sy.firstCurvesMs, a performance.now() value, when uPlot has
//    drawn them: web/src/charts.js) and the bytes the browser received until then
//    (encoded, as on the wire: Network.dataReceived).
// 2. PAGES pages open the same sweep, one after the other, each until it has
//    built its whole view (window.__sy.ready: curves, bars, tiles, table);
//    then "pages open" is printed and, for SECONDS
//    each page logs the pushed points it drew (window.__sy.curves.applied:
//    [job_id, name, step, x, received, drawn], times from Date.now());
//    "pages done" is printed.
// 3. RESULT.json: {"first_paint_ms", "bytes", "drawn": [[job, name, step, ms], ...]}.
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../web/package.json"));
const puppeteer = require("puppeteer-core");

const [url, sweep, pagesArg, secondsArg, resultPath] = process.argv.slice(2);
if (!resultPath) {
  console.error("usage: measure.mjs URL SWEEP PAGES SECONDS RESULT.json");
  process.exit(2);
}
const pages = Number(pagesArg);
const seconds = Number(secondsArg);
const sweepUrl = `${url}/sweeps/${sweep}`;

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: "new",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  // 1. First paint and bytes, with a cold cache, in a tab that is open and
  // idle before the navigation, as a user's is when they open the page.
  // Opening a tab costs Chromium about half a second of CPU of its own (the
  // new tab's omnibox pages, in another renderer); on two cores, counted
  // into the navigation it doubled the page's time.
  const first = await browser.createBrowserContext();
  const page = await first.newPage();
  await page.setCacheEnabled(false);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const cdp = await page.target().createCDPSession();
  await cdp.send("Network.enable");
  let bytes = 0;
  const bytesOf = new Map();  // requestId -> bytes so far
  const count = (id, n) => { bytes += n; bytesOf.set(id, (bytesOf.get(id) || 0) + n); };
  cdp.on("Network.dataReceived", (e) => count(e.requestId, e.encodedDataLength));
  const started = new Map();  // requestId -> [url, start]
  const timings = [];
  cdp.on("Network.requestWillBeSent", (e) => started.set(e.requestId, [e.request.url, e.timestamp]));
  cdp.on("Network.responseReceived", (e) => {
    // Headers count too (dataReceived carries the body).
    count(e.requestId, e.response.encodedDataLength || 0);
  });
  const finished = new Set();  // requestIds
  cdp.on("Network.loadingFinished", (e) => {
    finished.add(e.requestId);
    const s = started.get(e.requestId);
    if (s) timings.push([Math.round((e.timestamp - s[1]) * 1000), e.encodedDataLength, s[0], s[1], e.timestamp]);
  });
  await page.goto(sweepUrl, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.__sy && window.__sy.firstCurvesMs,
                             { timeout: 60000, polling: 10 });
  const firstPaint = await page.evaluate(() => window.__sy.firstCurvesMs);
  const bytesAtPaint = bytes;
  await first.close();
  console.log(`first paint ${Math.round(firstPaint)} ms, ${bytesAtPaint} bytes`);
  // Each request until the paint: from and to, in ms after the document's.
  const zero = Math.min(...timings.map((t) => t[3]));
  for (const [ms, size, u, from, to] of timings.sort((a, b) => a[3] - b[3])) {
    console.log(`  ${Math.round((from - zero) * 1000)} to ${Math.round((to - zero) * 1000)} ms` +
                ` (${ms} ms) ${size} bytes ${u.replace(url, "")}`);
  }
  // And the requests still open at the paint (the event stream), with the
  // bytes they had brought.
  for (const [id, n] of bytesOf) {
    if (!finished.has(id)) console.log(`  open: ${n} bytes ${(started.get(id) || ["?"])[0].replace(url, "")}`);
  }

  // 2. PAGES pages on the live sweep, each in a context of its own (as ten
  // people would have them: one browser gives a site about six HTTP/1.1
  // connections, and each page holds one for its event stream).
  const open = [];
  for (let i = 0; i < pages; ++i) {
    const context = await browser.createBrowserContext();
    const p = await context.newPage();
    await p.goto(sweepUrl, { waitUntil: "domcontentloaded" });
    await p.waitForFunction(() => window.__sy && window.__sy.ready && window.__sy.firstCurvesMs,
                            { timeout: 60000, polling: 50 });
    open.push(p);
  }
  console.log("pages open");
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  console.log("pages done");
  const drawn = [];
  for (const p of open) {
    const applied = await p.evaluate(() => (window.__sy.curves && window.__sy.curves.applied) || []);
    for (const [job, name, step, , , drawnAt] of applied) {
      if (drawnAt !== undefined) drawn.push([job, name, step, drawnAt]);
    }
  }
  writeFileSync(resultPath, JSON.stringify({ first_paint_ms: firstPaint, bytes: bytesAtPaint, drawn }));
} finally {
  await browser.close();
}
