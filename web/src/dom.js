// DOM and API helpers of the Switchyard page (docs/ui.md).
//
// Every element is built with createElement / createElementNS, text goes in
// with textContent (text nodes) and attributes with setAttribute: no HTML
// string is ever parsed, so a sweep named `<img src=x onerror=alert(1)>` or a
// stderr tail with markup shows as text.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return el;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return el;
}

// h('a', {href: '/x'}, 'text', child, [more]) -> an HTML element.
export function h(tag, attrs, ...children) {
  return append(setAttrs(document.createElement(tag), attrs), children);
}

// s('rect', {x: 1}) -> an SVG element.
export function s(tag, attrs, ...children) {
  return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

// --- formatting ------------------------------------------------------------

export function fmtNum(v, digits = 4) {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(digits)));
}

export function fmtValue(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);  // config values exactly as given
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function fmtDuration(sec) {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '–';
  sec = Math.max(0, Math.round(sec));
  const d = Math.floor(sec / 86400), hh = Math.floor(sec / 3600) % 24;
  const m = Math.floor(sec / 60) % 60, ss = sec % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(ss).padStart(2, '0')}s`;
  return `${ss}s`;
}

export function fmtTime(unix) {
  if (unix === null || unix === undefined) return '';
  const d = new Date(unix * 1000);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

// --- the JSON API ----------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function readError(res) {
  let msg = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && typeof body.error === 'string') msg = `${res.status}: ${body.error}`;
  } catch (_) { /* not JSON */ }
  return new ApiError(res.status, msg);
}

export async function getJSON(path, signal) {
  let res;
  try {
    res = await fetch(path, {headers: {Accept: 'application/json'}, credentials: 'same-origin', signal});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach the dashboard server (${path}): ${e.message}`);
  }
  if (res.status === 401) { location.assign('/login'); throw new ApiError(401, 'login needed'); }
  if (!res.ok) throw await readError(res);
  return res.json();
}

let csrfToken = null;

export async function csrf() {
  if (!csrfToken) csrfToken = (await getJSON('/api/session')).csrf;
  return csrfToken;
}

export async function postJSON(path, body) {
  const token = await csrf();
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token, Accept: 'application/json'},
    body: JSON.stringify(body || {}),
  });
  if (!res.ok) {
    if (res.status === 403) csrfToken = null;  // a new session: fetch it again next time
    throw await readError(res);
  }
  return res.json();
}

// query({a: 1, b: [x, y], c: null}) -> 'a=1&b=x,y'
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length)) continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  return q.toString();
}

// --- banner: errors as text ------------------------------------------------

export function showError(err) {
  const b = document.getElementById('banner');
  const msg = err instanceof Error ? err.message : String(err);
  b.classList.remove('info');
  replace(b, h('span', null, msg), h('button', {class: 'close', type: 'button', title: 'dismiss',
    onclick: () => { b.hidden = true; }}, '×'));
  b.hidden = false;
  if (window.__sy) window.__sy.errors.push(msg);
}

export function clearError() {
  const b = document.getElementById('banner');
  b.classList.remove('info');
  b.hidden = true;
  clear(b);
}

// --- colours ---------------------------------------------------------------

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b',
  '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

export function color(i) {
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${(i * 137.508) % 360}, 60%, 45%)`;
}

export function withAlpha(c, a) {
  if (c.startsWith('#')) {
    const n = parseInt(c.slice(1), 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
  }
  return c.replace('hsl(', 'hsla(').replace(')', `, ${a})`);
}

// Viridis at 0..1 (a few stops, linearly interpolated).
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
export function viridis(t) {
  if (t === null || t === undefined || !Number.isFinite(t)) return '#ddd';
  t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i;
  const c = VIRIDIS[i].map((v, k) => Math.round(v + f * (VIRIDIS[i + 1][k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

export const STATES = ['pending', 'running', 'succeeded', 'failed', 'lost', 'cancelled', 'paused', 'stopped'];
export const DONE_STATES = new Set(['succeeded', 'failed', 'lost', 'cancelled', 'stopped']);

// The distinct values of a config key over jobs, sorted (numbers as numbers).
export function distinctValues(jobs, key) {
  const seen = new Map();
  for (const j of jobs) {
    const v = j.config[key];
    const f = fmtValue(v);
    if (!seen.has(f)) seen.set(f, v);
  }
  return [...seen.entries()].sort((a, b) => cmpValues(a[1], b[1])).map((e) => e[0]);
}

// Compare two config values: numbers as numbers, else as strings.
export function cmpValues(a, b) {
  const an = a === null || a === undefined, bn = b === null || b === undefined;
  if (an || bn) return an === bn ? 0 : (an ? 1 : -1);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(fmtValue(a)).localeCompare(String(fmtValue(b)), undefined, {numeric: true});
}

// A file download of text made on the page (the parallel coordinates SVG).
export function downloadText(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], {type}));
  const a = h('a', {href: url, download: name});
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
