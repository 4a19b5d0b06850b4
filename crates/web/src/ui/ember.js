// Ember's web UI: the query page (table and graph of an expression, metric-name
// completion) and the targets, service-discovery, rules, alerts, status and
// agent views, over Prometheus's HTTP API.
// Plain JavaScript, no dependencies. Every URL is relative, so the page works
// under --web.route-prefix and the path of --web.external-url.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// Calls the API; resolves to the whole success envelope (data, warnings, infos),
// rejects with the API's own error text.
async function api(path, params, signal) {
  const opts = { signal };
  if (params) {
    opts.method = "POST";
    opts.body = new URLSearchParams(params);
  }
  const resp = await fetch(path, opts);
  let body;
  try {
    body = await resp.json();
  } catch (e) {
    throw new Error(`${resp.status} ${resp.statusText} from ${path}`);
  }
  if (body.status !== "success") throw new Error(body.error || `${resp.status} ${resp.statusText}`);
  return body;
}

// ---- formatting ----------------------------------------------------------

const LEGACY_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// `name{a="b", c="d"}`, with quoted names where they are not legacy identifiers
// (Prometheus 3's UTF-8 names).
function metricText(metric) {
  const m = metric || {};
  let name = m.__name__ || "";
  const parts = [];
  if (name && !LEGACY_NAME.test(name)) {
    parts.push(JSON.stringify(name));
    name = "";
  }
  for (const k of Object.keys(m).sort()) {
    if (k === "__name__") continue;
    parts.push(`${LABEL_NAME.test(k) ? k : JSON.stringify(k)}=${JSON.stringify(m[k])}`);
  }
  return parts.length || !name ? `${name}{${parts.join(", ")}}` : name;
}

function labelChips(labels) {
  return Object.keys(labels || {}).sort().map((k) => el("span", { class: "label" }, `${k}="${labels[k]}"`));
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

// UTC `YYYY-MM-DD HH:MM:SS`, with milliseconds when there are some.
function fmtTime(ms) {
  const d = new Date(ms);
  const s = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return d.getUTCMilliseconds() ? `${s}.${pad(d.getUTCMilliseconds(), 3)}` : s;
}

// `YYYY-MM-DD HH:MM[:SS[.sss]]` in UTC, RFC 3339, or Unix seconds; null if none.
function parseTime(text) {
  const t = text.trim();
  if (!t) return null;
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(parseFloat(t) * 1000);
  const m = t.match(/^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?$/);
  if (m) {
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) + Math.round(parseFloat(m[7] || "0") * 1000);
  }
  const d = Date.parse(t);
  return isNaN(d) ? NaN : d;
}

const UNITS = [["y", 365 * 86400e3], ["w", 7 * 86400e3], ["d", 86400e3], ["h", 3600e3], ["m", 60e3], ["s", 1e3], ["ms", 1]];

// A Prometheus duration (`1h30m`, `15s`, `2d`) in milliseconds; a bare number is
// seconds. NaN when it is not one.
function parseDuration(text) {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return parseFloat(t) * 1000;
  const re = /(\d+)(ms|y|w|d|h|m|s)/y;
  let total = 0;
  let pos = 0;
  while (pos < t.length) {
    re.lastIndex = pos;
    const m = re.exec(t);
    if (!m) return NaN;
    total += parseInt(m[1], 10) * UNITS.find((u) => u[0] === m[2])[1];
    pos = re.lastIndex;
  }
  return t ? total : NaN;
}

function fmtDuration(ms) {
  if (ms <= 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const [u, f] of UNITS) {
    if (rest >= f) {
      out += `${Math.floor(rest / f)}${u}`;
      rest %= f;
    }
  }
  return out;
}

// A duration in seconds as the API gives it, shown for a human: `1.234s`, `12ms`.
function fmtSeconds(s) {
  if (!(s > 0)) return "0s";
  if (s < 1) return `${+(s * 1000).toFixed(3)}ms`;
  return `${+s.toFixed(3)}s`;
}

function ago(iso) {
  const t = Date.parse(iso);
  if (isNaN(t) || t < 0 || iso.startsWith("0001-")) return "never";
  const s = (Date.now() - t) / 1000;
  return s < 0 ? "just now" : `${fmtSeconds(s)} ago`;
}

function histogramText(h) {
  return `histogram (count: ${h.count}, sum: ${h.sum})`;
}

// ---- the query view ------------------------------------------------------

const RANGE_STEPS = ["1s", "10s", "1m", "5m", "15m", "30m", "1h", "2h", "6h", "12h", "1d", "2d", "1w", "2w", "4w", "8w", "1y"]
  .map(parseDuration);
const MAX_TABLE_ROWS = 10000;

const query = {
  tab: "table",
  seq: 0,
  controller: null,
};

function setTab(tab) {
  query.tab = tab;
  const sec = $("view-query");
  sec.classList.toggle("tab-table", tab === "table");
  sec.classList.toggle("tab-graph", tab === "graph");
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === tab);
  $("table-pane").hidden = tab !== "table";
  $("graph-pane").hidden = tab !== "graph";
}

function rangeMs() {
  const r = parseDuration($("range").value);
  return r > 0 ? r : 3600e3;
}

function endMs() {
  const e = parseTime($("end").value);
  return e === null || isNaN(e) ? null : e;
}

// The step: what the user set, else range/250 in whole seconds (at least 1s),
// as Prometheus's UI does.
function stepMs() {
  const s = parseDuration($("step").value);
  if (s > 0) return s;
  return Math.max(Math.floor(rangeMs() / 250 / 1000), 1) * 1000;
}

// Keeps the address shareable: Prometheus's `g0.*` parameters.
function updateURL() {
  const p = new URLSearchParams();
  p.set("g0.expr", $("expr").value);
  p.set("g0.tab", query.tab);
  p.set("g0.range_input", fmtDuration(rangeMs()));
  const end = endMs();
  if (end !== null) {
    p.set("g0.end_input", fmtTime(end));
    p.set("g0.moment_input", fmtTime(end));
  }
  if (parseDuration($("step").value) > 0) {
    p.set("g0.res_type", "fixed");
    p.set("g0.res_step", String(stepMs() / 1000));
  }
  history.replaceState(null, "", `?${p}`);
}

// Reads Prometheus's URL parameters (the 2.x `/graph?g0.expr=…&g0.tab=0|1&…` and
// the 3.x `/query?g0.expr=…&g0.tab=graph|table` forms); true if there was an
// expression to run.
function readURL() {
  const p = new URLSearchParams(location.search);
  if (!p.has("g0.expr")) return false;
  $("expr").value = p.get("g0.expr");
  const tab = p.get("g0.tab");
  if (tab === "0" || tab === "graph") setTab("graph");
  else if (tab === "1" || tab === "table") setTab("table");
  const range = parseDuration(p.get("g0.range_input") || "");
  if (range > 0) $("range").value = fmtDuration(range);
  const end = parseTime(p.get("g0.end_input") || p.get("g0.moment_input") || "");
  if (end !== null && !isNaN(end)) $("end").value = fmtTime(end);
  const legacyStep = parseInt(p.get("g0.step_input") || "", 10);
  if (legacyStep > 0) $("step").value = `${legacyStep}s`;
  const resType = p.get("g0.res_type");
  if ((resType === "fixed" || resType === "custom") && parseFloat(p.get("g0.res_step")) > 0) {
    $("step").value = fmtDuration(parseFloat(p.get("g0.res_step")) * 1000);
  }
  return true;
}

function showQueryError(msg) {
  $("query-error").hidden = !msg;
  $("query-error").textContent = msg ? `Error executing query: ${msg}` : "";
}

function showWarnings(body) {
  const list = [...(body.warnings || []), ...(body.infos || [])];
  $("query-warnings").hidden = list.length === 0;
  $("query-warnings").textContent = list.join("\n");
}

function clearResults() {
  $("result-table").tBodies[0].replaceChildren();
  $("graph").replaceChildren();
  $("legend").replaceChildren();
  $("graph-tooltip").hidden = true;
  graph = null;
}

async function execute() {
  const expr = $("expr").value;
  if (query.controller) query.controller.abort();
  const controller = new AbortController();
  query.controller = controller;
  const seq = ++query.seq;
  updateURL();
  showQueryError("");
  $("query-warnings").hidden = true;
  if (!expr.trim()) {
    clearResults();
    $("query-stats").textContent = "";
    return;
  }
  $("query-stats").textContent = "Loading…";
  const t0 = performance.now();
  const tab = query.tab;
  try {
    let body;
    let stats;
    const end = endMs() ?? Date.now();
    if (tab === "table") {
      body = await api("api/v1/query", { query: expr, time: end / 1000 }, controller.signal);
      if (seq !== query.seq) return;
      clearResults();
      stats = renderTable(body.data);
    } else {
      const range = rangeMs();
      const step = stepMs();
      const start = end - range;
      body = await api("api/v1/query_range",
        { query: expr, start: start / 1000, end: end / 1000, step: step / 1000 }, controller.signal);
      if (seq !== query.seq) return;
      clearResults();
      stats = `Resolution: ${fmtDuration(step)} · ` + renderGraph(body.data, start, end, step);
    }
    showWarnings(body);
    $("query-stats").textContent = `Load time: ${Math.round(performance.now() - t0)}ms · ${stats}`;
  } catch (e) {
    if (e.name === "AbortError" || seq !== query.seq) return;
    clearResults();
    $("query-stats").textContent = "";
    showQueryError(e.message);
  }
}

// Fills the table; returns the stats text.
function renderTable(data) {
  const tbody = $("result-table").tBodies[0];
  const row = (metric, value) =>
    el("tr", { class: "series" }, el("td", { class: "metric" }, metric), el("td", { class: "value" }, value));
  const rows = [];
  let count = 0;
  switch (data.resultType) {
    case "vector":
      count = data.result.length;
      for (const s of data.result.slice(0, MAX_TABLE_ROWS)) {
        rows.push(row(metricText(s.metric), s.histogram ? histogramText(s.histogram[1]) : s.value[1]));
      }
      break;
    case "matrix":
      count = data.result.length;
      for (const s of data.result.slice(0, MAX_TABLE_ROWS)) {
        const vals = (s.values || []).map(([t, v]) => el("div", {}, `${v} @${t}`));
        for (const [t, h] of s.histograms || []) vals.push(el("div", {}, `${histogramText(h)} @${t}`));
        rows.push(row(metricText(s.metric), vals));
      }
      break;
    case "scalar":
    case "string":
      count = 1;
      rows.push(row(data.resultType, data.result[1]));
      break;
  }
  if (count === 0) {
    rows.push(el("tr", {}, el("td", { class: "empty", colspan: 2 }, "Empty query result")));
  } else if (count > MAX_TABLE_ROWS) {
    rows.push(el("tr", {}, el("td", { class: "empty", colspan: 2 },
      `Showing ${MAX_TABLE_ROWS} of ${count} series; narrow the query to see the rest.`)));
  }
  tbody.replaceChildren(...rows);
  return `Result series: ${count}`;
}

// ---- the graph -------------------------------------------------------------

const COLORS = ["#1c5fb4", "#e8590c", "#2f9e44", "#c92a2a", "#7048e8", "#0c8599", "#d6336c",
  "#5c940d", "#495057", "#f08c00", "#1098ad", "#9c36b5", "#a61e4d", "#364fc7", "#087f5b"];
const GRAPH_HEIGHT = 360;
const MARGIN = { top: 10, right: 16, bottom: 26, left: 64 };
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
  86400, 172800, 604800, 1209600, 2592000, 7776000, 15552000, 31536000].map((s) => s * 1000);

let graph = null;

// Takes a range query's result; returns the stats text.
function renderGraph(data, start, end, step) {
  const series = [];
  let histograms = 0;
  for (const s of data.result || []) {
    if (!s.values || s.values.length === 0) {
      if (s.histograms) histograms++;
      continue;
    }
    series.push({
      label: metricText(s.metric),
      color: COLORS[series.length % COLORS.length],
      points: s.values.map(([t, v]) => [t * 1000, parseFloat(v), v]),
    });
  }
  graph = { series, start, end, step, selected: null, px: [] };
  drawLegend();
  drawGraph();
  let stats = `Result series: ${(data.result || []).length}`;
  if (histograms) stats += ` (${histograms} native histogram series not graphed)`;
  return stats;
}

function visibleSeries() {
  return graph.series.map((s, i) => [s, i]).filter(([, i]) => graph.selected === null || graph.selected === i);
}

// Round ticks (1, 2 or 5 times a power of ten) covering [min, max].
function niceTicks(min, max, count) {
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(+v.toPrecision(12));
  return { lo, hi, step, ticks };
}

const SI = [[1e24, "Y"], [1e21, "Z"], [1e18, "E"], [1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];

// An axis label for `v` on an axis with ticks `step` apart.
function fmtTick(v, step) {
  if (v === 0) return "0";
  const decimals = (s) => Math.min(20, Math.max(0, -Math.floor(Math.log10(s) + 1e-9)));
  for (const [f, u] of SI) {
    if (Math.abs(v) >= f) return `${+(v / f).toFixed(decimals(step / f))}${u}`;
  }
  if (Math.abs(v) < 1e-4) return v.toExponential(1);
  return v.toFixed(decimals(step));
}

function fmtTimeTick(ms, step, span) {
  const full = fmtTime(ms);
  if (step >= 86400e3) return full.slice(0, 10);
  const hm = step < 60e3 ? full.slice(11, 19) : full.slice(11, 16);
  return span > 86400e3 ? `${full.slice(5, 10)} ${hm}` : hm;
}

function drawGraph() {
  const box = $("graph");
  box.replaceChildren();
  if (!graph) return;
  if (graph.series.length === 0) {
    box.append(el("p", { class: "empty" }, "Empty query result"));
    return;
  }
  const width = Math.max(box.clientWidth || 800, 300);
  const height = GRAPH_HEIGHT;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const shown = visibleSeries();

  let min = Infinity;
  let max = -Infinity;
  for (const [s] of shown) {
    for (const [, v] of s.points) {
      if (isFinite(v)) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
  }
  if (min === Infinity) {
    min = 0;
    max = 1;
  } else if (min === max) {
    const padding = Math.abs(min) * 0.1 || 1;
    min -= padding;
    max += padding;
  }
  const yt = niceTicks(min, max, Math.max(2, Math.floor(plotH / 50)));
  const x = (t) => MARGIN.left + ((t - graph.start) / (graph.end - graph.start || 1)) * plotW;
  const y = (v) => MARGIN.top + plotH - ((v - yt.lo) / (yt.hi - yt.lo || 1)) * plotH;

  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}` });
  for (const v of yt.ticks) {
    const py = y(v);
    root.append(svg("line", { class: "grid", x1: MARGIN.left, x2: width - MARGIN.right, y1: py, y2: py }));
    root.append(svg("text", { x: MARGIN.left - 6, y: py + 4, "text-anchor": "end", class: "y-label" }, fmtTick(v, yt.step)));
  }
  const span = graph.end - graph.start;
  const maxTicks = Math.max(2, Math.floor(plotW / 110));
  const tstep = TIME_STEPS.find((s) => span / s <= maxTicks) || TIME_STEPS[TIME_STEPS.length - 1];
  for (let t = Math.ceil(graph.start / tstep) * tstep; t <= graph.end; t += tstep) {
    const px = x(t);
    root.append(svg("line", { class: "grid", x1: px, x2: px, y1: MARGIN.top, y2: MARGIN.top + plotH }));
    root.append(svg("text", { x: px, y: height - 8, "text-anchor": "middle", class: "x-label" }, fmtTimeTick(t, tstep, span)));
  }
  root.append(svg("line", { class: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + plotH }));
  root.append(svg("line", { class: "axis", x1: MARGIN.left, x2: width - MARGIN.right, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH }));

  // One path per series; a missing step (or a NaN/Inf value) starts a new
  // sub-path, so gaps are not joined. A lone point is a dot (a round cap).
  graph.px = [];
  for (const [s, i] of shown) {
    let d = "";
    let prev = null;
    let run = 0;
    const pts = [];
    for (const [t, v, raw] of s.points) {
      if (!isFinite(v)) {
        prev = null;
        continue;
      }
      const px = x(t);
      const py = y(v);
      if (prev === null || t - prev > graph.step * 1.5) {
        if (run === 1) d += "h0.01";
        d += `M${px.toFixed(1)} ${py.toFixed(1)}`;
        run = 1;
      } else {
        d += `L${px.toFixed(1)} ${py.toFixed(1)}`;
        run++;
      }
      prev = t;
      pts.push({ x: px, y: py, t, raw });
    }
    if (run === 1) d += "h0.01";
    graph.px.push({ series: s, index: i, pts });
    if (d) {
      root.append(svg("path", {
        class: "series-line", d, fill: "none", stroke: s.color, "stroke-width": 1.6,
        "stroke-linejoin": "round", "stroke-linecap": "round", "data-series": i,
      }));
    }
  }
  const dot = svg("circle", { id: "hover-dot", r: 4, fill: "none", "stroke-width": 2, visibility: "hidden" });
  root.append(dot);
  root.addEventListener("mousemove", (ev) => hover(ev, root, dot));
  root.addEventListener("mouseleave", () => {
    dot.setAttribute("visibility", "hidden");
    $("graph-tooltip").hidden = true;
  });
  box.append(root);
}

// Shows the point nearest the pointer: its series, value and time.
function hover(ev, root, dot) {
  const r = root.getBoundingClientRect();
  const mx = ev.clientX - r.left;
  const my = ev.clientY - r.top;
  let best = null;
  for (const s of graph.px) {
    const pts = s.pts;
    let lo = 0;
    let hi = pts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pts[mid].x < mx) lo = mid + 1;
      else hi = mid;
    }
    for (const j of [lo - 1, lo]) {
      const p = pts[j];
      if (!p) continue;
      const dist = Math.hypot(p.x - mx, p.y - my);
      if (!best || dist < best.dist) best = { dist, p, s };
    }
  }
  const tip = $("graph-tooltip");
  if (!best) {
    tip.hidden = true;
    return;
  }
  dot.setAttribute("cx", best.p.x);
  dot.setAttribute("cy", best.p.y);
  dot.setAttribute("stroke", best.s.series.color);
  dot.setAttribute("visibility", "visible");
  tip.replaceChildren(
    el("div", {}, fmtTime(best.p.t)),
    el("div", {}, el("span", { class: "swatch", style: `background:${best.s.series.color}` }), best.s.series.label),
    el("div", { class: "value" }, `Value: ${best.p.raw}`),
  );
  tip.hidden = false;
  const left = Math.min(best.p.x + 14, r.width - tip.offsetWidth - 4);
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${best.p.y + 14}px`;
}

// Clicking a legend entry shows only that series; clicking it again, all.
function drawLegend() {
  const items = graph.series.map((s, i) =>
    el("li", {
      class: "legend-item" + (graph.selected !== null && graph.selected !== i ? " dim" : ""),
      "data-series": i,
      title: "Click to show only this series, again to show all",
      onclick: () => {
        graph.selected = graph.selected === i ? null : i;
        drawLegend();
        drawGraph();
      },
    }, el("span", { class: "swatch", style: `background:${s.color}` }), s.label));
  $("legend").replaceChildren(...items);
}

function shiftRange(dir) {
  const cur = rangeMs();
  const next = dir < 0 ? RANGE_STEPS.findLast((r) => r < cur) : RANGE_STEPS.find((r) => r > cur);
  if (next) $("range").value = fmtDuration(next);
  execute();
}

function shiftEnd(dir) {
  const end = endMs() ?? Date.now();
  $("end").value = fmtTime(end + dir * Math.round(rangeMs() / 2));
  execute();
}

// The metric names for the insert menu and the completion list, fetched when the
// expression box or the menu is first used and again once they are a minute old,
// so that names of newly scraped metrics turn up without a reload.
const names = { list: [], loadedAt: -Infinity, loading: null };
const NAMES_TTL_MS = 60e3;
function loadMetricNames() {
  if (names.loading || performance.now() - names.loadedAt < NAMES_TTL_MS) return names.loading;
  names.loading = api("api/v1/label/__name__/values").then((body) => {
    names.list = body.data;
    names.loadedAt = performance.now();
    $("metric-names").replaceChildren(el("option", { value: "" }, "Insert metric…"),
      ...body.data.map((n) => el("option", { value: n }, n)));
    // Names that arrive while the user is typing complete what is typed already.
    if (document.activeElement === $("expr")) updateSuggest();
  }).catch(() => {}).finally(() => {
    names.loading = null;
  });
  return names.loading;
}

// ---- metric-name completion in the expression box --------------------------

const MAX_SUGGESTIONS = 50;
const suggest = { items: [], active: -1, start: 0, end: 0 };

// The metric-name-like word the cursor is in or after, as [start, end), or null
// where a metric name cannot stand: inside a string, inside `{…}` (label
// matchers) or `[…]` (durations), or a word that starts with a digit.
function completionWord(ta) {
  const text = ta.value;
  const at = ta.selectionStart;
  if (at !== ta.selectionEnd) return null;
  const word = /[a-zA-Z0-9_:]/;
  let start = at;
  while (start > 0 && word.test(text[start - 1])) start--;
  let end = at;
  while (end < text.length && word.test(text[end])) end++;
  if (start === at || /[0-9]/.test(text[start])) return null;
  let quote = null;
  let depth = 0;
  for (let i = 0; i < start; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && depth > 0) depth--;
  }
  return quote || depth > 0 ? null : [start, end];
}

function closeSuggest() {
  suggest.items = [];
  suggest.active = -1;
  $("expr-suggest").hidden = true;
  $("expr-suggest").replaceChildren();
}

// Names starting with the typed word first, then names containing it.
function updateSuggest() {
  const ta = $("expr");
  const range = completionWord(ta);
  if (!range || names.list.length === 0) return closeSuggest();
  const typed = ta.value.slice(range[0], ta.selectionStart).toLowerCase();
  const starts = [];
  const contains = [];
  for (const n of names.list) {
    const i = n.toLowerCase().indexOf(typed);
    if (i === 0) starts.push(n);
    else if (i > 0) contains.push(n);
  }
  const items = starts.concat(contains).slice(0, MAX_SUGGESTIONS);
  const whole = ta.value.slice(range[0], range[1]);
  if (items.length === 0 || (items.length === 1 && items[0] === whole)) return closeSuggest();
  Object.assign(suggest, { items, active: -1, start: range[0], end: range[1] });
  $("expr-suggest").replaceChildren(...items.map((n, i) => {
    const at = n.toLowerCase().indexOf(typed);
    return el("li", {
      role: "option", "data-name": n,
      // mousedown, not click: the box keeps the focus and the cursor.
      onmousedown: (ev) => {
        ev.preventDefault();
        acceptSuggest(i);
      },
    }, n.slice(0, at), el("b", {}, n.slice(at, at + typed.length)), n.slice(at + typed.length));
  }));
  $("expr-suggest").hidden = false;
}

function markSuggest(i) {
  suggest.active = i;
  const lis = $("expr-suggest").children;
  for (let j = 0; j < lis.length; j++) lis[j].classList.toggle("active", j === i);
  if (lis[i]) lis[i].scrollIntoView({ block: "nearest" });
}

function acceptSuggest(i) {
  const name = suggest.items[i];
  if (name === undefined) return;
  const ta = $("expr");
  ta.value = ta.value.slice(0, suggest.start) + name + ta.value.slice(suggest.end);
  ta.selectionStart = ta.selectionEnd = suggest.start + name.length;
  closeSuggest();
  fitExpr();
  ta.focus();
}

// The completion list's keys; true when the key was for it. Enter takes a
// suggestion only once one is picked with the arrows, so that Enter on a typed
// expression still runs it.
function suggestKey(ev) {
  if ($("expr-suggest").hidden) return false;
  const n = suggest.items.length;
  switch (ev.key) {
    case "ArrowDown":
      markSuggest((suggest.active + 1) % n);
      break;
    case "ArrowUp":
      markSuggest(suggest.active <= 0 ? n - 1 : suggest.active - 1);
      break;
    case "Tab":
      if (ev.shiftKey) return false;
      acceptSuggest(Math.max(suggest.active, 0));
      break;
    case "Enter":
      if (suggest.active < 0 || ev.shiftKey) return false;
      acceptSuggest(suggest.active);
      break;
    case "Escape":
      closeSuggest();
      break;
    default:
      return false;
  }
  ev.preventDefault();
  return true;
}

function insertMetric() {
  const name = $("metric-names").value;
  if (!name) return;
  const ta = $("expr");
  const [a, b] = [ta.selectionStart, ta.selectionEnd];
  ta.value = ta.value.slice(0, a) + name + ta.value.slice(b);
  ta.selectionStart = ta.selectionEnd = a + name.length;
  $("metric-names").value = "";
  fitExpr();
  ta.focus();
}

function fitExpr() {
  const ta = $("expr");
  ta.rows = Math.min(Math.max(ta.value.split("\n").length, 1), 12);
}

function initQuery() {
  $("view-query").hidden = false;
  setTab("table");
  const run = readURL();
  fitExpr();
  $("query-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    execute();
  });
  $("expr").addEventListener("keydown", (ev) => {
    if (suggestKey(ev)) return;
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      closeSuggest();
      ev.preventDefault();
      execute();
    }
  });
  $("expr").addEventListener("input", () => {
    fitExpr();
    updateSuggest();
  });
  $("expr").addEventListener("focus", loadMetricNames);
  $("expr").addEventListener("blur", closeSuggest);
  // Moving the cursor with the mouse or Home/End changes the word to complete.
  $("expr").addEventListener("click", updateSuggest);
  for (const b of document.querySelectorAll(".tab")) {
    b.addEventListener("click", () => {
      setTab(b.dataset.tab);
      execute();
    });
  }
  // A text input's change fires on Enter and on leaving it edited.
  for (const id of ["range", "end", "step"]) $(id).addEventListener("change", execute);
  $("range-less").addEventListener("click", () => shiftRange(-1));
  $("range-more").addEventListener("click", () => shiftRange(1));
  $("end-back").addEventListener("click", () => shiftEnd(-1));
  $("end-fwd").addEventListener("click", () => shiftEnd(1));
  $("end-now").addEventListener("click", () => {
    $("end").value = "";
    execute();
  });
  $("metric-names").addEventListener("focus", loadMetricNames);
  $("metric-names").addEventListener("mousedown", loadMetricNames);
  $("metric-names").addEventListener("change", insertMetric);
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(drawGraph, 150);
  });
  if (run) execute();
  else $("expr").focus();
}

// ---- the other views -----------------------------------------------------

function table(headers, rows, cls) {
  return el("table", { class: cls },
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

function kvTable(obj) {
  return el("table", { class: "kv" }, el("tbody", {},
    Object.entries(obj).map(([k, v]) =>
      el("tr", {}, el("th", {}, k), el("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v))))));
}

const stateBadge = (state) => el("span", { class: `state state-${state}` }, state.toUpperCase());

// The link that opens `expr` in the query view's table, as alert generator URLs do.
const exprLink = (expr) => el("a", { href: `graph?${new URLSearchParams({ "g0.expr": expr, "g0.tab": "1" })}` }, expr);

function indent(obj) {
  return Object.keys(obj || {}).sort().map((k) => `\n  ${k}: ${JSON.stringify(obj[k])}`).join("");
}

// A rule as in its file, with the expression linking to the query view.
function ruleDefinition(r) {
  const head = r.type === "alerting" ? `alert: ${r.name}\n` : `record: ${r.name}\n`;
  const tail = [];
  if (r.duration) tail.push(`for: ${fmtDuration(r.duration * 1000)}`);
  if (r.keepFiringFor) tail.push(`keep_firing_for: ${fmtDuration(r.keepFiringFor * 1000)}`);
  if (r.labels && Object.keys(r.labels).length) tail.push(`labels:${indent(r.labels)}`);
  if (r.annotations && Object.keys(r.annotations).length) tail.push(`annotations:${indent(r.annotations)}`);
  return el("pre", { class: "rule" }, head, "expr: ", exprLink(r.query), tail.length ? `\n${tail.join("\n")}` : "");
}

async function viewTargets(body) {
  const r = await api("api/v1/targets?state=active");
  const pools = new Map();
  for (const t of r.data.activeTargets || []) {
    if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
    pools.get(t.scrapePool).push(t);
  }
  if (pools.size === 0) body.append(el("p", { class: "empty" }, "No targets."));
  for (const pool of [...pools.keys()].sort()) {
    const ts = pools.get(pool);
    const up = ts.filter((t) => t.health === "up").length;
    body.append(
      el("h2", { class: "pool" }, `${pool} (${up}/${ts.length} up)`),
      table(["Endpoint", "State", "Labels", "Last scrape", "Scrape duration", "Error"], ts.map((t) =>
        el("tr", { class: "target" },
          el("td", {}, el("a", { href: t.scrapeUrl }, t.scrapeUrl)),
          el("td", {}, stateBadge(t.health)),
          el("td", {}, labelChips(t.labels)),
          el("td", {}, ago(t.lastScrape)),
          el("td", {}, fmtSeconds(t.lastScrapeDuration)),
          el("td", { class: t.lastError ? "error-text" : "" }, t.lastError || ""))), "targets"));
  }
}

// Prometheus's service-discovery page: per scrape pool, each discovered target's
// labels before relabelling beside what relabelling made of them, or "dropped".
// The pool and search filters live in the URL (`?pool=…&search=…`, as in
// Prometheus), so a filtered page can be shared.
async function viewServiceDiscovery(body) {
  const [poolList, r] = await Promise.all([api("api/v1/scrape_pools"), api("api/v1/targets?state=any")]);
  const pools = new Map((poolList.data.scrapePools || []).map((p) => [p, []]));
  const add = (t, labels) => {
    if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
    pools.get(t.scrapePool).push({ discovered: t.discoveredLabels || {}, labels });
  };
  for (const t of r.data.activeTargets || []) add(t, t.labels || {});
  for (const t of r.data.droppedTargets || []) add(t, null);

  const params = new URLSearchParams(location.search);
  const poolNames = [...pools.keys()].sort();
  const poolSelect = el("select", { id: "sd-pool", title: "Show one scrape pool" },
    el("option", { value: "" }, "All scrape pools"), poolNames.map((n) => el("option", { value: n }, n)));
  poolSelect.value = poolNames.includes(params.get("pool")) ? params.get("pool") : "";
  const search = el("input", { id: "sd-search", type: "search", placeholder: "Filter by label", value: params.get("search") || "" });
  const toggle = el("button", { type: "button", id: "sd-toggle" });

  const sections = poolNames.map((name) => {
    const ts = pools.get(name);
    const active = ts.filter((t) => t.labels).length;
    const rows = ts.map((t) => el("tr", { class: t.labels ? "sd-target" : "sd-target sd-dropped" },
      el("td", { class: "discovered" }, labelChips(t.discovered)),
      el("td", { class: "target-labels" }, t.labels ? labelChips(t.labels) : el("span", { class: "dropped" }, "dropped"))));
    const content = ts.length
      ? table(["Discovered labels", "Target labels"], rows, "sd")
      : el("p", { class: "empty" }, "No targets discovered.");
    const d = el("details", { class: "sd-pool", "data-pool": name, open: "" },
      el("summary", {}, name, el("span", { class: "meta" }, `${active} / ${ts.length} active targets`)), content);
    return { name, d, rows };
  });

  const visible = () => sections.filter((x) => !x.d.hidden);
  const label = () => {
    toggle.textContent = visible().some((x) => x.d.open) ? "Collapse all" : "Expand all";
  };
  const apply = () => {
    const pool = poolSelect.value;
    const f = search.value.trim().toLowerCase();
    for (const x of sections) {
      x.d.hidden = pool !== "" && x.name !== pool;
      for (const row of x.rows) row.hidden = f !== "" && !row.textContent.toLowerCase().includes(f);
    }
    const p = new URLSearchParams();
    if (pool) p.set("pool", pool);
    if (f) p.set("search", search.value.trim());
    history.replaceState(null, "", p.toString() ? `?${p}` : location.pathname);
    label();
  };
  poolSelect.addEventListener("change", apply);
  // change too: a scripted clear (WebDriver's, a form reset) fires only that.
  for (const ev of ["input", "change"]) search.addEventListener(ev, apply);
  // The toggle follows what is on screen but applies to every pool, so that a
  // pool picked later in the filter opens as collapsed as the rest.
  toggle.addEventListener("click", () => {
    const open = !visible().some((x) => x.d.open);
    for (const x of sections) x.d.open = open;
    label();
  });
  for (const x of sections) x.d.addEventListener("toggle", label);

  body.append(el("div", { class: "sd-controls" }, poolSelect, search, toggle));
  if (sections.length === 0) body.append(el("p", { class: "empty" }, "No scrape pools are configured."));
  body.append(...sections.map((x) => x.d));
  apply();
}

// What `/` shows in agent mode: there is no local query storage, so the page
// says what the process does and points at the views that still apply.
async function viewAgent(body) {
  const link = (href, text) => el("li", {}, el("a", { href }, text));
  body.append(el("div", { class: "agent-card" },
    el("p", {}, "This instance runs in ", el("strong", {}, "agent mode"),
      ": it discovers and scrapes targets and forwards every sample it collects to the configured remote-write endpoints."),
    el("p", {}, "It keeps only a write-ahead log for forwarding, not a queryable database, " +
      "so querying, recording and alerting rules, alerts and the TSDB status are not available here."),
    el("p", {}, "What you can look at:"),
    el("ul", {},
      link("targets", "Targets — scrape health of each target"),
      link("service-discovery", "Service discovery — discovered labels and relabelling results"),
      link("status", "Runtime and build information"),
      link("flags", "Command-line flags"),
      link("config", "Configuration"))));
}

async function viewRules(body) {
  const r = await api("api/v1/rules");
  if (r.data.groups.length === 0) body.append(el("p", { class: "empty" }, "No rule groups are loaded."));
  for (const g of r.data.groups) {
    body.append(
      el("h2", {}, g.name),
      el("p", { class: "meta" }, `${g.file} · every ${fmtSeconds(g.interval)} · last evaluation ${ago(g.lastEvaluation)}, took ${fmtSeconds(g.evaluationTime)}`),
      table(["Rule", "State", "Error", "Last evaluation", "Evaluation time"], g.rules.map((rule) =>
        el("tr", { class: "rule" },
          el("td", {}, ruleDefinition(rule)),
          el("td", {}, stateBadge(rule.health)),
          el("td", {}, rule.lastError || ""),
          el("td", {}, ago(rule.lastEvaluation)),
          el("td", {}, fmtSeconds(rule.evaluationTime)))), "rules"));
  }
}

async function viewAlerts(body) {
  const [alerts, rules] = await Promise.all([api("api/v1/alerts"), api("api/v1/rules?type=alert")]);
  const active = alerts.data.alerts;
  const alertRows = (list) => list.map((a) =>
    el("tr", { class: "alert" },
      el("td", {}, labelChips(a.labels)),
      el("td", {}, stateBadge(a.state)),
      el("td", {}, a.activeAt ? `${fmtTime(Date.parse(a.activeAt))} (${ago(a.activeAt)})` : ""),
      el("td", { class: "value" }, a.value),
      el("td", {}, Object.entries(a.annotations || {}).map(([k, v]) => el("div", {}, `${k}: ${v}`)))));
  const headers = ["Labels", "State", "Active since", "Value", "Annotations"];
  body.append(el("h2", {}, `Active alerts (${active.length})`));
  body.append(active.length ? table(headers, alertRows(active), "alerts") : el("p", { class: "empty" }, "No active alerts."));

  const all = rules.data.groups.flatMap((g) => g.rules.filter((r) => r.type === "alerting").map((r) => [g, r]));
  const count = (s) => all.filter(([, r]) => r.state === s).length;
  body.append(el("h2", {}, `Alerting rules — firing ${count("firing")}, pending ${count("pending")}, inactive ${count("inactive")}`));
  for (const [g, r] of all) {
    body.append(el("details", { class: `alert-rule state-rule-${r.state}`, open: r.state !== "inactive" ? "" : null },
      el("summary", {}, stateBadge(r.state), " ", r.name, ` (${r.alerts.length} active) `, el("span", { class: "meta" }, `${g.file} > ${g.name}`)),
      ruleDefinition(r),
      r.alerts.length ? table(headers, alertRows(r.alerts), "alerts") : ""));
  }
}

async function viewStatus(body) {
  // An agent sends no alerts, and its API refuses the Alertmanager list.
  const agent = document.body.dataset.mode === "agent";
  const [build, runtime, ams] = await Promise.all([
    api("api/v1/status/buildinfo"), api("api/v1/status/runtimeinfo"), agent ? null : api("api/v1/alertmanagers")]);
  const urls = (list) => list.length ? list.map((a) => el("div", {}, a.url)) : "none";
  body.append(
    el("h2", {}, "Build information"), kvTable(build.data),
    el("h2", {}, "Runtime information"), kvTable(runtime.data));
  if (!ams) return;
  body.append(
    el("h2", {}, "Alertmanagers"),
    el("table", { class: "kv" }, el("tbody", {},
      el("tr", {}, el("th", {}, "Active"), el("td", {}, urls(ams.data.activeAlertmanagers))),
      el("tr", {}, el("th", {}, "Dropped"), el("td", {}, urls(ams.data.droppedAlertmanagers))))));
}

async function viewTsdb(body) {
  const r = await api("api/v1/status/tsdb");
  const d = r.data;
  const head = { ...(d.headStats || {}) };
  for (const k of ["minTime", "maxTime"]) if (typeof head[k] === "number") head[k] = `${head[k]} (${fmtTime(head[k])})`;
  body.append(el("h2", {}, "Head"), kvTable(head));
  for (const [k, v] of Object.entries(d)) {
    if (!Array.isArray(v)) continue;
    body.append(el("h2", {}, k), table(["Name", "Value"], v.map((x) => el("tr", {}, el("td", {}, x.name), el("td", {}, x.value)))));
  }
}

async function viewFlags(body) {
  const r = await api("api/v1/status/flags");
  const filter = el("input", { id: "flag-filter", placeholder: "Filter flags" });
  const rows = Object.keys(r.data).sort().map((k) =>
    el("tr", { class: "flag" }, el("td", {}, `--${k}`), el("td", {}, r.data[k])));
  filter.addEventListener("input", () => {
    const f = filter.value.toLowerCase();
    for (const row of rows) row.hidden = f !== "" && !row.textContent.toLowerCase().includes(f);
  });
  body.append(filter, table(["Flag", "Value"], rows, "flags"));
}

async function viewConfig(body) {
  const r = await api("api/v1/status/config");
  body.append(el("pre", { class: "config" }, r.data.yaml));
}

const VIEWS = {
  agent: ["Agent mode", viewAgent],
  "service-discovery": ["Service discovery", viewServiceDiscovery],
  alerts: ["Alerts", viewAlerts],
  rules: ["Rules", viewRules],
  targets: ["Targets", viewTargets],
  status: ["Status", viewStatus],
  "tsdb-status": ["TSDB status", viewTsdb],
  flags: ["Command-line flags", viewFlags],
  config: ["Configuration", viewConfig],
};

async function initPage(name) {
  const [title, render] = VIEWS[name];
  $("view-page").hidden = false;
  $("page-title").textContent = title;
  document.title = `${title} - ${document.title}`;
  try {
    await render($("page-body"));
  } catch (e) {
    $("page-error").hidden = false;
    $("page-error").textContent = e.message;
  }
}

const view = document.body.dataset.view || "query";
for (const a of document.querySelectorAll("nav a[data-view]")) a.classList.toggle("active", a.dataset.view === view);
if (VIEWS[view]) initPage(view);
else initQuery();
