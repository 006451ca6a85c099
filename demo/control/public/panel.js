// The control panel's page: topology, buttons, and a live uPlot chart fed by Server-Sent Events.
"use strict";

const $ = (selector) => document.querySelector(selector);
const data = [[], [], [], [], []]; // t, requests/s, errors/s, p50, p99
const cacheData = [[], [], [], [], []]; // t, requests/s, database queries/s, stale answers/s, hit ratio %
const events = [];
let chart;
let cacheChart;

function post(path, body = {}) {
  return fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  }).then(refresh);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(label, onClick) {
  const td = document.createElement("td");
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  td.append(b);
  return td;
}

async function refresh() {
  const state = await (await fetch("/api/state")).json();
  $("#app-url").textContent = state.url;
  $("#app-url").href = state.url;
  const redis = $("#redis tbody");
  redis.replaceChildren();
  renderShards(state.redis.shards);
  const nodes = [
    ...(state.redis.master ? [{ ...state.redis.master, role: "master" }] : []),
    ...state.redis.replicas.map((node) => ({ ...node, role: "replica" })),
    ...state.redis.sentinels.map((node) => ({ ...node, role: "sentinel" })),
  ];
  for (const node of nodes) {
    const row = document.createElement("tr");
    row.dataset.node = node.name;
    row.append(
      cell(node.name, node.role === "master" ? "master" : ""),
      cell(node.pid ? node.role : "down", node.pid ? "" : "down"),
      cell(String(node.port)),
      cell(node.pid ? String(node.pid) : "—"),
      cell(node.commandsPerSecond == null ? "—" : String(node.commandsPerSecond)),
      node.pid ? cell("") : button("Restart", () => post(`/api/redis/nodes/${node.name}/restart`)),
    );
    redis.append(row);
  }
  const { database } = state;
  const databaseRow = document.createElement("tr");
  databaseRow.append(
    cell("PostgreSQL (products)"),
    cell(String(database.port)),
    cell(database.pid ? String(database.pid) : "down", database.pid ? "" : "down"),
    cell(database.queriesPerSecond == null ? "—" : String(database.queriesPerSecond)),
    cell(database.readDelayMs ? `${database.readDelayMs} ms` : "none"),
  );
  $("#database tbody").replaceChildren(databaseRow);
  const instances = $("#instances tbody");
  instances.replaceChildren();
  for (const instance of state.instances) {
    const row = document.createElement("tr");
    row.dataset.instance = instance.id;
    row.append(
      cell(instance.id),
      cell(String(instance.port)),
      cell(instance.pid ? String(instance.pid) : "down", instance.pid ? "" : "down"),
      instance.pid
        ? button("Kill", () => post(`/api/instances/${instance.id}/kill`))
        : button("Restart", () => post(`/api/instances/${instance.id}/restart`)),
    );
    instances.append(row);
  }
}

// On a Cluster: a row per shard, its master's commands/s, and buttons to break that master.
function renderShards(shards) {
  const cluster = Array.isArray(shards);
  $("#shards").hidden = !cluster;
  // The shard rows have their own buttons; the freeze time input serves both.
  $("#kill-master").hidden = cluster;
  $("#switch-master").hidden = cluster;
  $("#freeze-master").hidden = cluster;
  $("#redis-title").textContent = cluster ? "Redis (Cluster)" : "Redis (Sentinel)";
  if (!cluster) return;
  const body = $("#shards tbody");
  body.replaceChildren();
  for (const [index, shard] of shards.entries()) {
    const row = document.createElement("tr");
    row.dataset.shard = String(index);
    const rate = shard.master.commandsPerSecond;
    row.append(
      cell(String(index)),
      cell(shard.slots),
      cell(`${shard.master.name} :${shard.master.port}`, "master"),
      cell(rate == null ? "—" : String(rate)),
      cell(
        shard.replicas.map((replica) => replica.name).join(", ") || "none",
        shard.replicas.length ? "" : "down",
      ),
      button("Kill master", () => post(`/api/redis/shards/${index}/kill`)),
      button("Planned failover", () => post(`/api/redis/shards/${index}/switchover`)),
      button("Freeze master", () =>
        post(`/api/redis/shards/${index}/freeze`, { seconds: Number($("#freeze-seconds").value) }),
      ),
    );
    body.append(row);
  }
}

function addEvent(event) {
  events.push(event);
  const item = document.createElement("li");
  item.textContent = `${new Date(event.t * 1000).toLocaleTimeString()} — ${event.label}`;
  $("#events").prepend(item);
  refresh();
}

function addSample(sample) {
  data[0].push(sample.t);
  data[1].push(sample.requests);
  data[2].push(sample.errors);
  data[3].push(sample.p50);
  data[4].push(sample.p99);
  if (data[0].length > 300) for (const series of data) series.shift();
  $("#now").textContent =
    `${sample.users} users · ${sample.requests} requests/s · ${sample.errors} errors/s · ` +
    `p50 ${sample.p50 ?? "–"} ms · p99 ${sample.p99 ?? "–"} ms`;
  chart?.setData(data);

  // An expired value answered while it was refreshed is a cache answer too: counted in the ratio.
  const answered = sample.cacheHits + sample.cacheStale;
  const reads = answered + sample.cacheMisses;
  const ratio = reads === 0 ? null : Math.round((1000 * answered) / reads) / 10;
  cacheData[0].push(sample.t);
  cacheData[1].push(sample.requests);
  cacheData[2].push(sample.dbQueries);
  cacheData[3].push(sample.cacheStale);
  cacheData[4].push(ratio);
  if (cacheData[0].length > 300) for (const series of cacheData) series.shift();
  $("#cache-now").textContent =
    `${reads} product reads/s · cache hit ratio ${ratio ?? "–"} % · ` +
    `${sample.dbQueries ?? "–"} database queries/s · ${sample.cacheStale} stale answers/s`;
  cacheChart?.setData(cacheData);
}

function eventMarkers(u) {
  const { ctx } = u;
  ctx.save();
  ctx.strokeStyle = "#cf222e";
  ctx.fillStyle = "#cf222e";
  ctx.font = `${12 * devicePixelRatio}px system-ui`;
  for (const [index, event] of events.entries()) {
    const x = u.valToPos(event.t, "x", true);
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    // Staggered, so labels of events close together stay readable.
    ctx.fillText(event.label, x + 4, u.bbox.top + (14 + (index % 4) * 16) * devicePixelRatio);
  }
  ctx.restore();
}

/**
 * A chart of per-second series against time, events marked: `series` on the left axis ("n"),
 * `right` (one scale) on the right.
 */
function lineChart(target, values, height, series, right) {
  return new uPlot(
    {
      width: Math.min(1100, document.body.clientWidth - 20),
      height,
      series: [{}, ...series],
      scales: right.range ? { [right.scale]: { range: right.range } } : {},
      axes: [
        {},
        { scale: "n", label: "per second" },
        { scale: right.scale, side: 1, label: right.label, grid: { show: false } },
      ],
      hooks: { draw: [eventMarkers] },
    },
    values,
    target,
  );
}

function makeCharts() {
  chart = lineChart(
    $("#chart"),
    data,
    320,
    [
      { label: "requests/s", stroke: "#0969da", scale: "n" },
      { label: "errors/s", stroke: "#cf222e", scale: "n", width: 2 },
      { label: "p50 ms", stroke: "#1a7f37", scale: "ms" },
      { label: "p99 ms", stroke: "#9a6700", scale: "ms" },
    ],
    { scale: "ms", label: "ms" },
  );
  cacheChart = lineChart(
    $("#cache-chart"),
    cacheData,
    240,
    [
      { label: "requests/s", stroke: "#0969da", scale: "n" },
      { label: "database queries/s", stroke: "#8250df", scale: "n", width: 2 },
      { label: "stale answers/s", stroke: "#bc4c00", scale: "n", dash: [4, 4] },
      { label: "cache hit ratio %", stroke: "#1a7f37", scale: "%", width: 2 },
    ],
    { scale: "%", label: "hit ratio %", range: [0, 100] },
  );
}

function connect() {
  const stream = new EventSource("/api/stream");
  stream.addEventListener("history", (message) => {
    const history = JSON.parse(message.data);
    for (const series of [...data, ...cacheData]) series.length = 0;
    events.length = 0;
    for (const event of history.events) events.push(event);
    for (const sample of history.samples) addSample(sample);
  });
  stream.addEventListener("sample", (message) => addSample(JSON.parse(message.data)));
  stream.addEventListener("event", (message) => addEvent(JSON.parse(message.data)));
}

$("#kill-master").addEventListener("click", () => post("/api/redis/master/kill"));
$("#switch-master").addEventListener("click", () => post("/api/redis/master/switchover"));
$("#freeze-master").addEventListener("click", () =>
  post("/api/redis/master/freeze", { seconds: Number($("#freeze-seconds").value) }),
);
$("#flush-cache").addEventListener("click", () => post("/api/cache/flush"));
$("#slow-database").addEventListener("click", () =>
  post("/api/database/slow", { delayMs: Number($("#read-delay").value) }),
);
$("#fast-database").addEventListener("click", () => post("/api/database/slow", { delayMs: 0 }));
$("#users").addEventListener("input", (e) => ($("#users-count").value = e.target.value));
$("#users").addEventListener("change", (e) =>
  post("/api/users", { count: Number(e.target.value) }),
);

makeCharts();
connect();
refresh();
setInterval(refresh, 2000);
