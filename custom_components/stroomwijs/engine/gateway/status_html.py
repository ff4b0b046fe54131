"""The status page's HTML: one file, no external assets, built with the DOM.

Every value from the household is set with ``textContent`` or an SVG
attribute, never parsed as HTML. The page fetches ``api/status`` relative to
itself, so it works under Home Assistant's ingress path.
"""

from __future__ import annotations

from typing import Final

PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stroomwijs gateway</title>
<style>
  :root { --green: #1b7f4b; --yellow: #ffc20e; --red: #c62828; --ink: #263238;
          --muted: #607d8b; --card: #fff; --bg: #f3f5f6; }
  @media (prefers-color-scheme: dark) {
    :root { --ink: #eceff1; --muted: #90a4ae; --card: #1f2629; --bg: #111618; }
  }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, sans-serif; color: var(--ink);
         background: var(--bg); }
  main { max-width: 960px; margin: 0 auto; padding: 12px; display: grid; gap: 12px;
         grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
  section { background: var(--card); border-radius: 10px; padding: 12px 14px; }
  section.wide { grid-column: 1 / -1; }
  h1 { font-size: 18px; margin: 12px 12px 0; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em;
       color: var(--muted); margin: 0 0 8px; }
  .big { font-size: 28px; font-weight: 600; }
  .muted { color: var(--muted); }
  .bar { height: 14px; background: var(--bg); border-radius: 7px; overflow: hidden;
         margin: 8px 0 4px; }
  .bar > div { height: 100%; background: var(--green); width: 0; }
  .bar.over > div { background: var(--red); }
  table { width: 100%; border-collapse: collapse; }
  td, th { padding: 4px 8px 4px 0; border-bottom: 1px solid var(--bg);
           vertical-align: top; text-align: left; }
  td:last-child, th:last-child { padding-right: 0; }
  th { font-size: 12px; font-weight: 500; color: var(--muted); }
  .num { text-align: right; white-space: nowrap; }
  .time { white-space: nowrap; }
  .sub { display: block; color: var(--muted); font-size: 13px; }
  .sub.warn { color: var(--red); }
  .warn { color: var(--red); font-weight: 600; }
  svg { width: 100%; height: auto; display: block; }
  svg text { fill: var(--muted); font-size: 16px; }
  #state { margin: 0 12px; }
</style>
</head>
<body>
<h1>Stroomwijs gateway <span id="name" class="muted"></span></h1>
<p id="state" class="muted">Loading&hellip;</p>
<main>
  <section>
    <h2>Grid limit</h2>
    <div class="big" id="limit">&ndash;</div>
    <div class="muted" id="source"></div>
  </section>
  <section>
    <h2>Grid power</h2>
    <div class="big" id="grid">&ndash;</div>
    <div class="bar" id="bar"><div></div></div>
    <div class="muted" id="headroom"></div>
  </section>
  <section class="wide">
    <h2>Devices</h2>
    <table id="devices"></table>
  </section>
  <section class="wide">
    <h2>Plan, coming hours</h2>
    <svg id="chart" viewBox="0 0 640 220" role="img" aria-label="plan"></svg>
    <div class="muted" id="plan"></div>
  </section>
  <section class="wide">
    <h2>Guard interventions</h2>
    <table id="interventions"></table>
  </section>
</main>
<script>
"use strict";
const NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const DASH = "\u2013";
const kw = (w) =>
  (w === null || w === undefined) ? DASH : (w / 1000).toFixed(2) + " kW";
const time = (iso) =>
  new Date(iso).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});

function detail(d) {
  if (d.soc_pct !== null && d.soc_pct !== undefined) return d.soc_pct + " %";
  if (d.temperature_c !== null && d.temperature_c !== undefined) {
    return d.temperature_c.toFixed(1) + " \u00b0C";
  }
  return "";
}

function row(table, cells, tag) {
  const tr = document.createElement("tr");
  cells.forEach(([text, cls, sub, subCls]) => {
    const td = document.createElement(tag || "td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (sub !== undefined) {
      const span = document.createElement("span");
      span.className = "sub" + (subCls ? " " + subCls : "");
      span.textContent = sub;
      td.appendChild(span);
    }
    tr.appendChild(td);
  });
  table.appendChild(tr);
}

function svg(name, attrs, text) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function chart(rows, devices, limitW) {
  const box = $("chart");
  box.replaceChildren();
  if (!rows.length) {
    box.appendChild(svg("text", {x: 10, y: 110}, "No plan yet."));
    return;
  }
  const W = 640, H = 220, L = 44, B = 26, T = 8;
  const values = rows.map((r) => r.grid_kw);
  const top = Math.max(1, limitW / 1000, ...values) * 1.1;
  const low = Math.min(0, ...values) * 1.1;
  const y = (v) => T + (H - B - T) * (top - v) / (top - low);
  const step = (W - L) / rows.length;
  for (const v of new Set([low, 0, top / 2, top])) {
    box.appendChild(svg("line", {x1: L, x2: W, y1: y(v), y2: y(v),
      stroke: "currentColor", "stroke-opacity": 0.12}));
    box.appendChild(svg("text", {x: 2, y: y(v) + 5}, v.toFixed(1)));
  }
  rows.forEach((r, i) => {
    const dev = devices.reduce((s, d) => s + (r[d] || 0), 0);
    const base = r.grid_kw - dev;
    const x = L + i * step + 1;
    const w = Math.max(step - 2, 1);
    const y0 = y(0);
    box.appendChild(svg("rect", {x, width: w, y: Math.min(y(base), y0),
      height: Math.abs(y0 - y(base)), fill: "#90a4ae"}));
    if (dev !== 0) {
      box.appendChild(svg("rect", {x, width: w, y: Math.min(y(base + dev), y(base)),
        height: Math.abs(y(base) - y(base + dev)), fill: "#1b7f4b"}));
    }
    if (i % 8 === 0) {
      box.appendChild(svg("text", {x, y: H - 6}, time(r.start)));
    }
  });
  const yl = y(limitW / 1000);
  box.appendChild(svg("line", {x1: L, x2: W, y1: yl, y2: yl,
    stroke: "#c62828", "stroke-dasharray": "4 3"}));
  box.appendChild(svg("text", {x: W - 80, y: yl - 4}, "limit now"));
}

function show(data) {
  const g = data.gateway, h = data.household;
  $("state").textContent = "Gateway " + g.state + (g.error ? ": " + g.error : "");
  $("state").className = g.error ? "warn" : "muted";
  if (!h) return;
  $("name").textContent = h.name;
  $("limit").textContent = kw(h.limit_w);
  $("source").textContent =
    "from " + h.limit_source + (h.limit_holdable ? "" : " (not holdable!)");
  $("grid").textContent = h.data_lost ? "no meter data" : kw(h.grid_w);
  const share =
    h.grid_w === null ? 0 : Math.max(0, Math.min(1, h.grid_w / h.limit_w));
  $("bar").firstElementChild.style.width = (share * 100).toFixed(1) + "%";
  $("bar").className = "bar" + (h.grid_w > h.limit_w ? " over" : "");
  $("headroom").textContent = h.grid_w === null ? "" :
    "headroom " + kw(h.limit_w - h.grid_w) +
    (h.measured_at ? " at " + time(h.measured_at) : "");
  const devices = $("devices");
  devices.replaceChildren();
  if (!h.devices.length) row(devices, [["No devices.", "muted"]]);
  else {
    row(devices, [["Device"], ["Power", "num"], ["SoC/tank", "num"],
                  ["Plan", "num"]], "th");
  }
  for (const d of h.devices) {
    const state = d.available ? (d.state || "?").replaceAll("_", " ") : "offline";
    row(devices, [
      [d.name, "", state, d.available ? "" : "warn"],
      [kw(d.power_w), "num"],
      [detail(d), "num"],
      [kw(d.planned_w), "num muted"],
    ]);
  }
  chart(h.plan, h.plan_devices, h.limit_w);
  $("plan").textContent = "Plan: " + h.plan_state +
    (h.plan_reasons.length ? " " + DASH + " " + h.plan_reasons.join("; ") : "");
  const list = $("interventions");
  list.replaceChildren();
  if (!h.interventions.length) row(list, [["None today.", "muted"]]);
  for (const i of h.interventions) {
    row(list, [
      [time(i.at), "muted time"],
      [i.kind.replaceAll("_", " "), "", i.device || undefined],
      [i.reason, "muted"],
    ]);
  }
}

async function poll() {
  try {
    const response = await fetch("api/status", {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    show(await response.json());
  } catch (err) {
    $("state").textContent = "The gateway does not answer (" + err.message + ")";
    $("state").className = "warn";
  }
  setTimeout(poll, 2000);
}
poll();
</script>
</body>
</html>
"""
