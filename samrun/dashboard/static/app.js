// samrun's dashboard: plain JavaScript, no build step. Everything the page keeps is bounded:
// at most PAGE_ROWS feed rows and CHART_SECONDS chart points, whatever the uptime.
"use strict";

const API = "/_samrun/dashboard/api";
const PAGE_ROWS = 500;
const CHART_SECONDS = 300;
const SVGNS = "http://www.w3.org/2000/svg";

const page = {
  overview: null,
  rows: [], // newest first, at most PAGE_ROWS
  seq: 0,
  selected: null, // request id shown in the detail panel
  functionShown: null,
  state: {},
  seconds: [],
  charts: {},
  sourceSamples: new Map(), // function -> [{at, age, depth}], at most CHART_SECONDS each
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

async function getJson(path) {
  const response = await fetch(API + path, { headers: { Accept: "application/json" } });
  return response.json();
}

async function postJson(path, body) {
  const response = await fetch(API + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  return { status: response.status, body: await response.json() };
}

const ms = (v) => (v === null || v === undefined ? "" : `${Number(v).toFixed(2)} ms`);
const usd = (v) => (v === null || v === undefined ? "" : `$${Number(v).toFixed(8)}`);
const clock = (t) => new Date(t * 1000).toLocaleTimeString();

// --- tabs ---

function showTab(name) {
  for (const b of document.querySelectorAll("nav button")) {
    b.classList.toggle("active", b.dataset.tab === name);
  }
  for (const s of document.querySelectorAll(".tab")) {
    s.classList.toggle("active", s.id === `tab-${name}`);
  }
  if (name === "charts") drawCharts();
  if (name === "sources") { loadQueue(); loadOtherState(); }
}

// --- the graph ---

function drawGraph(graph) {
  const box = document.getElementById("graph");
  box.replaceChildren();
  const W = 190, H = 46, GAPX = 70, GAPY = 22, PAD = 20;
  const columns = new Map();
  for (const node of graph.nodes) {
    if (!columns.has(node.layer)) columns.set(node.layer, []);
    columns.get(node.layer).push(node);
  }
  const where = new Map();
  let height = 0;
  for (const [layer, nodes] of columns) {
    nodes.sort((a, b) => a.kind.localeCompare(b.kind) || a.label.localeCompare(b.label));
    nodes.forEach((node, i) => {
      where.set(node.id, { x: PAD + layer * (W + GAPX), y: PAD + i * (H + GAPY) });
    });
    height = Math.max(height, PAD * 2 + nodes.length * (H + GAPY));
  }
  const width = PAD * 2 + (Math.max(0, ...columns.keys()) + 1) * (W + GAPX);
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}` });
  root.append(
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa1ad" }))),
  );
  for (const edge of graph.edges) {
    const a = where.get(edge.from), b = where.get(edge.to);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const bend = Math.max(30, Math.abs(x2 - x1) / 2);
    root.append(svg("path", {
      class: `edge kind-${edge.kind}`,
      d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`,
      "marker-end": "url(#arrow)",
      "data-kind": edge.kind,
    }, svg("title", {}, edge.kind)));
  }
  for (const node of graph.nodes) {
    const at = where.get(node.id);
    const label = node.label.length > 26 ? node.label.slice(0, 25) + "…" : node.label;
    const group = svg("g", {
      class: `node kind-${node.kind}`,
      transform: `translate(${at.x},${at.y})`,
      "data-id": node.id,
      "data-kind": node.kind,
      "data-logical-id": node.logical_id || "",
      "data-label": node.label,
    },
    svg("title", {}, `${node.kind}: ${node.label}`),
    svg("rect", { width: W, height: H }),
    svg("text", { x: 10, y: 19 }, label),
    svg("text", { x: 10, y: 36, class: "kind" }, node.kind));
    group.addEventListener("click", () => openNode(node));
    root.append(group);
  }
  box.append(root);
}

function nodeOf(kind, name) {
  return document.querySelector(`#graph .node[data-id="${CSS.escape(`${kind}:${name}`)}"]`);
}

function pulse(activity) {
  for (const name of activity.ran || []) {
    const node = nodeOf("fn", name);
    if (!node) continue;
    node.classList.add("pulse");
    clearTimeout(node._pulse);
    node._pulse = setTimeout(() => node.classList.remove("pulse"), 900);
  }
  for (const name of activity.failed || []) {
    const node = nodeOf("fn", name);
    if (!node) continue;
    node.classList.add("failed");
    clearTimeout(node._failed);
    node._failed = setTimeout(() => node.classList.remove("failed"), 5000);
  }
}

function badges() {
  // the async queue's backlog and a poller's batches in flight, on the function they feed
  for (const old of document.querySelectorAll("#graph .badge-group")) old.remove();
  const counts = new Map();
  for (const p of page.state.pollers || []) {
    if (p.in_flight) counts.set(p.function, (counts.get(p.function) || 0) + p.in_flight);
  }
  for (const pool of page.state.pools || []) {
    if (pool.busy) counts.set(pool.function, (counts.get(pool.function) || 0) + pool.busy);
  }
  for (const node of document.querySelectorAll("#graph .node[data-kind='alarm']")) {
    const alarm = (page.state.alarms || {})[node.dataset.label];
    node.classList.toggle("failed", Boolean(alarm && alarm.state === "ALARM"));
  }
  const badge = (node, count, title) => node.append(svg("g", { class: "badge-group", transform: "translate(160,-8)" },
    svg("title", {}, title),
    svg("rect", { class: "badge-bg", width: 30, height: 16, rx: 8 }),
    svg("text", { class: "badge", x: 15, y: 12, "text-anchor": "middle" }, String(count))));
  for (const [name, count] of counts) {
    const node = nodeOf("fn", name);
    if (node) badge(node, count, `${count} running`);
  }
  for (const [logicalId, count] of Object.entries(page.state.queues || {})) {
    const node = nodeOf("res", logicalId);
    if (node && count) badge(node, count, `${count} messages waiting`);
  }
}

function openNode(node) {
  if (node.kind === "function") {
    showFunction(node.label);
    showTab("functions");
    return;
  }
  const panel = document.getElementById("node-panel");
  panel.hidden = false;
  const fields = Object.entries(node).filter(([k]) => !["id", "layer"].includes(k));
  const edges = page.overview.graph.edges.filter((e) => e.from === node.id || e.to === node.id);
  panel.replaceChildren(
    el("h3", {}, `${node.kind}: ${node.label}`),
    el("dl", {}, fields.map(([k, v]) => [el("dt", {}, k), el("dd", {}, Array.isArray(v) ? v.join(", ") : v)])),
    el("h4", {}, "Connections"),
    el("ul", {}, edges.map((e) => el("li", {}, `${e.from} → ${e.to} (${e.kind})`))),
  );
}

// --- the feed ---

function matches(row) {
  const fn = document.getElementById("filter-function").value;
  const status = document.getElementById("filter-status").value;
  const text = document.getElementById("filter-text").value.trim().toLowerCase();
  if (fn && row.function !== fn) return false;
  if (status && row.status !== status) return false;
  if (text && !JSON.stringify(row).toLowerCase().includes(text)) return false;
  return true;
}

function rowElement(row) {
  return el("tr", {
    "data-id": row.id,
    "data-function": row.function,
    "data-status": row.status,
    class: row.id === page.selected ? "selected" : null,
    onclick: () => openInvocation(row.id),
  },
  el("td", {}, clock(row.at)),
  el("td", {}, row.function),
  el("td", {}, row.qualifier && row.qualifier !== row.version ? `${row.version} (${row.qualifier})` : row.version),
  el("td", {}, row.trigger + (row.attempt > 1 ? ` #${row.attempt}` : "")),
  el("td", { class: `status status-${row.status}` }, row.status === "ok" ? "ok" : row.error_type || "error"),
  el("td", {}, ms(row.duration_ms)),
  el("td", {}, `${row.billed_ms} ms`),
  el("td", {}, row.max_memory_mb ? `${row.max_memory_mb}/${row.memory_mb} MB` : `${row.memory_mb} MB`),
  el("td", {}, row.cold ? `cold ${ms(row.init_ms)}` : "warm"),
  el("td", {}, usd(row.cost_usd)));
}

const RECENT_ROWS = 8;

function renderRecent() {
  document.querySelector("#recent tbody").replaceChildren(...page.rows.slice(0, RECENT_ROWS).map((row) =>
    el("tr", { "data-id": row.id, onclick: () => { showTab("invocations"); openInvocation(row.id); } },
      el("td", {}, clock(row.at)), el("td", {}, row.function), el("td", {}, row.trigger),
      el("td", { class: `status-${row.status}` }, row.status === "ok" ? "ok" : row.error_type || "error"),
      el("td", {}, ms(row.duration_ms)), el("td", {}, row.cold ? "cold" : "warm"))));
}

function renderFeed() {
  const body = document.querySelector("#feed tbody");
  const shown = page.rows.filter(matches);
  body.replaceChildren(...shown.map(rowElement));
  document.getElementById("feed-count").textContent = `${shown.length} of ${page.rows.length} kept`;
  renderRecent();
}

function addRows(rows, skipped) {
  // `rows` newest first; the page keeps PAGE_ROWS at most
  page.rows = rows.concat(page.rows).slice(0, PAGE_ROWS);
  const body = document.querySelector("#feed tbody");
  const fresh = rows.filter(matches).map(rowElement);
  body.prepend(...fresh);
  while (body.children.length > PAGE_ROWS) body.lastChild.remove();
  const count = document.getElementById("feed-count");
  count.textContent = `${page.rows.length} kept` + (skipped ? ` (${skipped} more ran meanwhile)` : "");
  renderRecent();
}

async function openInvocation(id) {
  page.selected = id;
  for (const tr of document.querySelectorAll("#feed tr.selected")) tr.classList.remove("selected");
  const tr = document.querySelector(`#feed tr[data-id="${CSS.escape(id)}"]`);
  if (tr) tr.classList.add("selected");
  const panel = document.getElementById("detail");
  panel.hidden = false;
  const found = await fetch(`${API}/invocations/${encodeURIComponent(id)}`);
  if (found.status !== 200) {
    panel.replaceChildren(el("p", {}, "This invocation is no longer kept."));
    return;
  }
  const d = await found.json();
  const row = d.row || {};
  const parts = [
    el("h3", {}, `${row.function || ""} ${row.version || ""}`),
    el("p", { class: "muted" }, `request ${id} · ${row.trigger || ""} · ${ms(row.duration_ms)}`),
  ];
  if (d.error) {
    parts.push(el("div", { class: "error-box" },
      el("div", { class: "error-type" }, d.error.errorType || "Error"),
      el("div", { class: "error-message" }, d.error.errorMessage || ""),
      d.error.stackTrace && d.error.stackTrace.length
        ? el("pre", { class: "stack-trace" }, d.error.stackTrace.join("\n")) : null));
  }
  if (!d.kept) parts.push(el("p", { class: "muted" }, "Its event and logs are no longer kept."));
  if (d.event !== undefined) parts.push(el("h4", {}, "Event"), el("pre", { class: "event" }, d.event));
  if (d.response !== undefined) parts.push(el("h4", {}, "Response"), el("pre", { class: "response" }, d.response));
  if (d.logs) parts.push(el("h4", {}, "Logs"), el("pre", { id: "detail-logs" }, d.logs.join("\n")));
  if (d.trace) parts.push(el("h4", {}, "Trace"), el("pre", { class: "waterfall" }, d.trace.join("\n")));
  panel.replaceChildren(...parts);
}

// --- functions ---

function showFunction(name) {
  page.functionShown = name;
  for (const li of document.querySelectorAll("#function-list li")) {
    li.classList.toggle("selected", li.dataset.name === name);
  }
  const f = page.overview.functions.find((x) => x.name === name);
  const box = document.getElementById("function-page");
  if (!f) { box.replaceChildren(); return; }
  const pools = (page.state.pools || []).filter((p) => p.function === name);
  const inFlight = (page.state.concurrency || {}).in_flight || {};
  const reserved = (page.state.concurrency || {}).reserved || {};
  const cost = ((page.state.cost || {}).functions || {})[name];
  const edges = page.overview.graph.edges.filter((e) => e.to === `fn:${name}`);
  const rows = page.rows.filter((r) => r.function === name);
  const errors = rows.filter((r) => r.status === "error").length;
  box.replaceChildren(
    el("h2", {}, name),
    el("dl", {},
      el("dt", {}, "runtime"), el("dd", {}, f.runtime || f.package_type),
      el("dt", {}, "handler"), el("dd", {}, f.handler || ""),
      el("dt", {}, "memory"), el("dd", {}, `${f.memory_mb} MB`),
      el("dt", {}, "timeout"), el("dd", {}, `${f.timeout_s} s`),
      el("dt", {}, "architecture"), el("dd", {}, f.architectures.join(", ")),
      el("dt", {}, "concurrency"), el("dd", {}, `${inFlight[name] || 0} in flight` +
        (reserved[name] !== undefined && reserved[name] !== null ? ` of ${reserved[name]} reserved` : "")),
      el("dt", {}, "errors"), el("dd", {}, `${errors} of the last ${rows.length} kept`),
      el("dt", {}, "cost so far"), el("dd", {}, cost ? usd(cost.usd) : "$0"),
      el("dt", {}, "triggers"), el("dd", {}, edges.map((e) => `${e.from} (${e.kind})`).join(", ") || "none"),
    ),
    el("h3", {}, "Instances"),
    el("table", {}, el("thead", {}, el("tr", {}, ["version", "idle", "busy", "provisioned", "cold starts", "started from"].map((h) => el("th", {}, h)))),
      el("tbody", {}, pools.map((p) => el("tr", {},
        el("td", {}, p.version), el("td", {}, p.idle), el("td", {}, p.busy), el("td", {}, p.provisioned),
        el("td", {}, p.cold_starts), el("td", {}, JSON.stringify(p.started_from)))))),
    el("h3", {}, "Versions and aliases"),
    el("ul", { id: "function-aliases" },
      f.versions.map((v) => el("li", {}, `version ${v.version}` + (v.provisioned_concurrency ? ` (provisioned ${v.provisioned_concurrency})` : ""))),
      aliasesOf(f).map((a) => el("li", { class: "alias", "data-alias": a.name }, aliasText(a)))),
    deploymentsOf(name) || "", // (replaceChildren would write "null")
    sourceCharts(name) || "",
    el("h3", {}, "Environment"),
    el("dl", { class: "environment" }, Object.entries(f.environment).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
  );
}

function aliasesOf(f) {
  // as they are now (a deployment moves them); the plan's until the first state message
  const live = ((page.state.deployments || {}).aliases || []).filter((a) => a.function === f.name);
  return live.length ? live : f.aliases;
}

function aliasText(a) {
  const weights = Object.entries(a.additional_version_weights || {});
  const shifted = weights.reduce((sum, [, w]) => sum + w, 0);
  const main = weights.length ? `${Math.round((1 - shifted) * 100)}% → ${a.version}` : a.version;
  return `alias ${a.name} → ${main}` + weights.map(([v, w]) => `, ${Math.round(w * 100)}% → ${v}`).join("");
}

function deploymentsOf(name) {
  const d = page.state.deployments || {};
  const active = (d.active || []).filter((x) => x.function === name);
  const done = (d.history || []).filter((x) => x.function === name).slice(-5).reverse();
  if (!active.length && !done.length) return null;
  return el("div", { id: "deployments" },
    el("h3", {}, "Deployments"),
    active.map((x) => el("div", { class: "deployment active", "data-deployment": x.deployment },
      el("div", { class: "deployment-title" }, `${x.deployment}: ${x.alias} ${x.from} → ${x.to} (${x.type})`),
      el("div", { class: "progress" }, el("div", { class: "bar", style: `width: ${Math.round(x.weight * 100)}%` })),
      el("dl", {},
        el("dt", {}, "traffic shifted"), el("dd", { class: "shifted" }, `${Math.round(x.weight * 100)}% on version ${x.to}`),
        el("dt", {}, "step"), el("dd", {}, `${x.step} of ${x.steps}`),
        el("dt", {}, "next step"), el("dd", { class: "next-step" }, x.next_step_at
          ? `${clock(x.next_step_at)} (in ${Math.max(0, Math.round(x.next_step_at - Date.now() / 1000))} s)` : "hooks"),
        el("dt", {}, "alarms watched"), el("dd", { class: "watched" }, (x.alarms || []).map((a) => {
          const alarm = (page.state.alarms || {})[a];
          return `${a}${alarm ? ` (${alarm.state})` : ""}`;
        }).join(", ") || "none")))),
    done.length ? el("ul", {}, done.map((x) => el("li", { class: "deployment done", "data-status": x.status },
      `${x.deployment}: ${x.alias} ${x.from} → ${x.to} ${x.status}`))) : null);
}

// --- a function's event source charts: iterator age and its queue's depth ---

function mappedQueues(name) {
  // the logical ids of the SQS queues (or streams) whose mapping feeds this function
  return page.overview.graph.edges.filter((e) => e.kind === "mapping" && e.to === `fn:${name}`)
    .map((e) => e.from.replace(/^res:/, ""));
}

function sampleSources(state) {
  // one sample per state message of each mapped function, at most CHART_SECONDS kept each
  const now = Date.now() / 1000;
  for (const f of page.overview.functions) {
    const queues = mappedQueues(f.name);
    if (!queues.length) continue;
    const pollers = (state.pollers || []).filter((p) => p.function === f.name);
    const age = Math.max(0, ...pollers.map((p) => p.iterator_age_ms || 0));
    const depth = queues.reduce((sum, q) => sum + ((state.queues || {})[q] || 0), 0);
    const kept = page.sourceSamples.get(f.name) || [];
    kept.push({ at: now, age, depth });
    if (kept.length > CHART_SECONDS) kept.splice(0, kept.length - CHART_SECONDS);
    page.sourceSamples.set(f.name, kept);
  }
}

function sourceCharts(name) {
  if (!mappedQueues(name).length) return null;
  const box = el("div", { id: "source-charts", class: "charts" },
    el("div", {}, el("h3", {}, "Iterator age (ms)"), el("div", { id: "chart-iterator-age" })),
    el("div", {}, el("h3", {}, "Queue depth (messages)"), el("div", { id: "chart-queue-depth" })));
  if (typeof uPlot === "undefined") return box;
  const kept = page.sourceSamples.get(name) || [];
  const x = kept.map((k) => k.at);
  const periods = (page.periods || []).map((p) => (p.functions[name] || {}).IteratorAge);
  const width = 420;
  // drawn after the box is in the page (uPlot measures its parent)
  setTimeout(() => {
    const age = document.getElementById("chart-iterator-age");
    const depth = document.getElementById("chart-queue-depth");
    if (!age || !depth) return;
    age.dataset.points = String(kept.length);
    age.dataset.periodMax = String(Math.max(0, ...periods.filter((v) => v !== undefined)));
    depth.dataset.points = String(kept.length);
    depth.dataset.last = String(kept.length ? kept[kept.length - 1].depth : 0);
    for (const old of page.sourceChartsDrawn || []) old.destroy(); // (their window listeners)
    page.sourceChartsDrawn = [new uPlot({ width, height: 160, series: [{}, { label: "iterator age", stroke: "#8250df" }] },
      [x, kept.map((k) => k.age)], age), new uPlot({ width, height: 160, series: [{}, { label: "messages waiting", stroke: "#0969da" }] },
      [x, kept.map((k) => k.depth)], depth)];
  }, 0);
  return box;
}

// --- charts ---

function drawCharts() {
  if (typeof uPlot === "undefined") return;
  const seconds = page.seconds;
  const x = seconds.map((s) => s.at);
  const counts = [x, seconds.map((s) => s.invocations), seconds.map((s) => s.errors), seconds.map((s) => s.throttles)];
  const durations = [x, seconds.map((s) => s.p50), seconds.map((s) => s.p99)];
  const width = Math.max(300, document.querySelector(".charts > div").clientWidth - 20);
  if (!page.charts.counts) {
    page.charts.counts = new uPlot({ width, height: 200, series: [{}, { label: "invocations", stroke: "#0969da" },
      { label: "errors", stroke: "#cf222e" }, { label: "throttles", stroke: "#bf8700" }] }, counts,
    document.getElementById("chart-counts"));
    page.charts.duration = new uPlot({ width, height: 200, series: [{}, { label: "p50", stroke: "#1a7f37" },
      { label: "p99", stroke: "#8250df" }] }, durations, document.getElementById("chart-duration"));
  } else {
    page.charts.counts.setData(counts);
    page.charts.duration.setData(durations);
  }
}

async function loadSeries() {
  const data = await getJson("/series");
  page.seconds = data.seconds.slice(-CHART_SECONDS);
  page.periods = data.periods;
  const last = data.periods[data.periods.length - 1];
  const body = document.querySelector("#period-table tbody");
  body.replaceChildren(...Object.entries(last ? last.functions : {}).map(([name, m]) => el("tr", {},
    el("td", {}, name), el("td", {}, m.Invocations || 0), el("td", {}, m.Errors || 0),
    el("td", {}, m.Throttles || 0), el("td", {}, ms(m.Duration)), el("td", {}, m.ConcurrentExecutions || 0),
    el("td", {}, m.IteratorAge === undefined ? "" : ms(m.IteratorAge)))));
  if (document.getElementById("tab-charts").classList.contains("active")) drawCharts();
}

// --- sources and the async queue ---

async function loadQueue() {
  const q = await getJson("/queue");
  document.getElementById("queue-summary").textContent =
    `${q.pending} pending · ${q.accepted} accepted · ${q.delivered} done · ${q.dead_letters.length} dead-lettered`;
  document.querySelector("#queue-waiting tbody").replaceChildren(...q.waiting.map((e) => el("tr", { "data-id": e.id },
    el("td", {}, e.id), el("td", {}, `${e.function}:${e.qualifier}`), el("td", {}, e.state),
    el("td", {}, e.attempts), el("td", {}, `${e.due_in_s} s`), el("td", {}, `${e.age_s} s`))));
  document.querySelector("#dead-letters tbody").replaceChildren(...q.dead_letters.map((d) => el("tr", {
    "data-id": d.id, "data-redriven": d.redriven || "" },
  el("td", {}, d.id), el("td", {}, `${d.function}:${d.qualifier}`), el("td", {}, d.condition),
  el("td", {}, d.error), el("td", {}, d.attempts), el("td", {}, el("code", {}, d.event.slice(0, 80))),
  el("td", {}, d.redriven
    ? el("span", { class: "redriven" }, `redriven as ${d.redriven}`)
    : el("button", { class: "redrive", onclick: () => redrive(d.id) }, "Redrive")))));
  renderSources();
}

async function redrive(id) {
  await postJson(`/queue/${encodeURIComponent(id)}/redrive`);
  await loadQueue();
}

// what the page shows elsewhere; the rest of /_samrun/state is shown as it is
const SHOWN_STATE = new Set(["pools", "concurrency", "pollers", "async", "alarms", "cost", "triggers",
  "schedules", "kept_relays", "not_run", "metrics", "traces", "connections", "backends"]);

async function loadOtherState() {
  const response = await fetch("/_samrun/state");
  const state = await response.json();
  const rest = Object.fromEntries(Object.entries(state).filter(([k]) => !SHOWN_STATE.has(k)));
  document.getElementById("other-state").textContent = JSON.stringify(rest, null, 2);
}

function renderSources() {
  document.querySelector("#alarms tbody").replaceChildren(...Object.entries(page.state.alarms || {}).map(([name, a]) =>
    el("tr", { "data-name": name, "data-state": a.state },
      el("td", {}, name), el("td", { class: a.state === "ALARM" ? "status-error" : "" }, a.state),
      el("td", {}, a.metric), el("td", {}, a.not_evaluated || a.reason || ""))));
  document.querySelector("#pollers tbody").replaceChildren(...(page.state.pollers || []).map((p) => el("tr", {},
    el("td", {}, p.function), el("td", {}, p.source), el("td", {}, p.type), el("td", {}, p.state),
    el("td", {}, p.batches), el("td", {}, p.failures), el("td", {}, p.in_flight), el("td", {}, `${p.iterator_age_ms} ms`))));
  const items = [
    ...(page.state.schedules || []).map((s) => ({ ...s, kind: `schedule ${s.expression}`, count: s.fired })),
    ...(page.state.triggers || []).map((t) => ({ ...t, kind: t.type, count: t.invoked, next_firing: "" })),
  ];
  document.querySelector("#triggers tbody").replaceChildren(...items.map((t) => el("tr", { "data-name": t.name },
    el("td", {}, t.name), el("td", {}, t.function || t.state_machine), el("td", {}, t.kind),
    el("td", {}, t.status), el("td", {}, t.count), el("td", {}, t.next_firing || ""),
    el("td", {}, el("button", { class: "fire", onclick: () => postJson(`/fire/${encodeURIComponent(t.name)}`) }, "Fire now")))));
}

// --- invoke from the page ---

async function loadSamples() {
  const kinds = await getJson("/samples");
  const select = document.getElementById("invoke-sample");
  for (const [source, list] of Object.entries(kinds)) {
    for (const kind of list) select.append(el("option", { value: `${source}/${kind}` }, `${source} ${kind}`));
  }
  select.addEventListener("change", async () => {
    const event = select.value ? await getJson(`/samples/${select.value}`) : {};
    document.getElementById("invoke-event").value = JSON.stringify(event, null, 2);
  });
}

const SAVED_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

async function loadSaved(selected) {
  const { names } = await getJson("/saved");
  const select = document.getElementById("invoke-saved");
  select.replaceChildren(el("option", { value: "" }, "(none)"),
    ...names.map((name) => el("option", { value: name }, name)));
  if (selected) select.value = selected;
}

async function pickSaved() {
  const name = document.getElementById("invoke-saved").value;
  if (!name) return;
  const found = await getJson(`/saved/${encodeURIComponent(name)}`);
  if (found.event !== undefined) document.getElementById("invoke-event").value = found.event;
  document.getElementById("invoke-save-name").value = name;
}

async function saveEvent() {
  const status = document.getElementById("invoke-save-status");
  const name = document.getElementById("invoke-save-name").value.trim();
  if (!SAVED_NAME.test(name)) { // (the server checks it too: the name is a file's)
    status.className = "status-error";
    status.textContent = "a saved event's name is 1-64 letters, digits, '-' or '_' (starting with a letter or digit)";
    return;
  }
  const response = await fetch(`${API}/saved/${encodeURIComponent(name)}`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ event: document.getElementById("invoke-event").value }),
  });
  const body = await response.json().catch(() => ({ message: `refused (${response.status})` }));
  status.className = response.status === 201 ? "saved" : "status-error";
  status.textContent = response.status === 201 ? `saved as ${name}` : body.message;
  if (response.status === 201) await loadSaved(name);
}

async function invokeNow() {
  const result = document.getElementById("invoke-result");
  result.replaceChildren(el("p", { class: "muted" }, "invoking…"));
  const { status, body } = await postJson("/invoke", {
    function: document.getElementById("invoke-function").value,
    qualifier: document.getElementById("invoke-qualifier").value,
    event: document.getElementById("invoke-event").value,
  });
  if (status !== 200) {
    result.replaceChildren(el("div", { class: "error-box" }, el("div", { class: "error-message" }, body.message)));
    return;
  }
  result.replaceChildren(
    el("p", { class: "muted" }, `request ${body.id} · version ${body.version} · ${ms(body.duration_ms)}`),
    body.error
      ? el("div", { class: "error-box" }, el("div", { class: "error-type" }, body.error.errorType),
        el("div", { class: "error-message" }, body.error.errorMessage))
      : el("pre", { class: "response", "data-id": body.id }, body.response),
  );
  document.getElementById("invoke-logs").textContent = (body.logs || []).join("\n");
}

// --- live updates ---

function applyState(state) {
  page.state = state;
  sampleSources(state);
  badges();
  if (document.getElementById("tab-sources").classList.contains("active")) loadQueue();
  if (page.functionShown && document.getElementById("tab-functions").classList.contains("active")) {
    showFunction(page.functionShown);
  }
}

function connect() {
  const status = document.getElementById("live-status");
  const source = new EventSource(`${API}/events?since=${page.seq}`);
  source.onopen = () => { status.textContent = "live"; status.className = "on"; };
  source.onerror = () => { status.textContent = "reconnecting"; status.className = "off"; };
  source.onmessage = (message) => {
    const data = JSON.parse(message.data);
    page.seq = data.seq;
    if (data.rows.length) addRows(data.rows, data.skipped);
    pulse(data.activity || {});
    if (data.state) applyState(data.state);
  };
}

async function start() {
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  for (const id of ["filter-function", "filter-status", "filter-text"]) {
    document.getElementById(id).addEventListener("input", renderFeed);
  }
  document.getElementById("invoke-go").addEventListener("click", invokeNow);
  document.getElementById("invoke-save").addEventListener("click", saveEvent);
  document.getElementById("invoke-saved").addEventListener("change", pickSaved);
  page.overview = await getJson("/overview");
  page.state = page.overview.state;
  document.getElementById("template").textContent = `${page.overview.template} · ${page.overview.region}`;
  drawGraph(page.overview.graph);
  const names = page.overview.functions.map((f) => f.name);
  for (const name of names) {
    document.getElementById("filter-function").append(el("option", { value: name }, name));
    document.getElementById("invoke-function").append(el("option", { value: name }, name));
    document.getElementById("function-list").append(el("li", { "data-name": name, onclick: () => showFunction(name) }, name));
  }
  const feed = await getJson("/invocations");
  page.rows = feed.rows.slice(0, PAGE_ROWS);
  page.seq = feed.seq;
  renderFeed();
  badges();
  connect();
  loadSamples();
  loadSaved();
  loadSeries();
  setInterval(() => loadSeries().catch(() => {}), 5000);  // (samrun stopped: the next try)
  document.body.dataset.ready = "true";
}

start();
