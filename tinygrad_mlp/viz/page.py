"""The stepper's page: one self-contained HTML file (its style and script inline, no request
to any network: a Content-Security-Policy forbids every one), which shows the data that
``steps.build`` made and lets a learner step through it.

The script only shows numbers the engine computed; it lays the graph out itself (a layered
layout) when the data carries no layout from ``dot``. It keeps its state where tests can read
it: ``document.body.dataset`` holds ``step``, ``phase`` and ``node`` (the highlighted box,
whose SVG group has the class ``current``) and ``renderMs`` (how long the last step took to
draw); numbers shown in the side panel are ``.num`` elements under ``[data-field]``.

>>> "<script>" in render({"title": "t", "nodes": [], "edges": [], "clusters": [], "steps": []})
True
"""

from __future__ import annotations

import html
import json
from typing import Any

from .labels import BAD_INK, GRAD_INK, INK, MUTED, STYLE
from .layout import BOX_HEIGHT, BOX_WIDTH

POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "img-src data:")

CSS = """
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; font: 13px/1.4 Helvetica, Arial, sans-serif;
  color: INK; background: #fff; }
body { display: flex; flex-direction: column; }
header { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center;
  padding: 6px 10px; border-bottom: 1px solid #e5e7eb; background: #f8fafc; }
header .title { font-weight: bold; }
header button { font: inherit; padding: 2px 8px; border: 1px solid #cbd5e1;
  border-radius: 4px; background: #fff; cursor: pointer; }
header button:disabled { opacity: .4; cursor: default; }
#slider { width: 260px; }
#where { min-width: 220px; color: MUTED; }
main { flex: 1; display: flex; min-height: 0; }
#stage { flex: 1; position: relative; overflow: hidden; min-width: 0; }
#graph { width: 100%; height: 100%; display: block; cursor: grab; }
#detail { width: 380px; overflow: auto; padding: 8px 12px; border-left: 1px solid #e5e7eb; }
.note { background: #fef9c3; border: 1px solid #facc15; padding: 4px 8px; margin: 6px 0;
  border-radius: 4px; }
.box rect { stroke-width: 1.3; }
.box text { font-size: 11px; fill: INK; pointer-events: none; }
.box .t1 { font-weight: bold; font-size: 12px; }
.box .t2, .box .tf { fill: MUTED; font-size: 10px; }
.box .tv { font-size: 11px; }
.box .tg { fill: GRAD_INK; font-size: 11px; }
.box.pending { opacity: .35; }
.box.root rect { stroke-width: 3; }
.box.current rect { stroke: #f59e0b !important; stroke-width: 4; }
.box.first rect { stroke: #dc2626 !important; stroke-width: 3; }
.box.hidden, .edge.hidden, .frame.hidden, .fold.hidden { display: none; }
.edge path { fill: none; stroke: #94a3b8; stroke-width: 1.2; }
.edge.fwd path { stroke: #f59e0b; stroke-width: 2.5; }
.edge.bwd path { stroke: GRAD_INK; stroke-width: 2.5; stroke-dasharray: 6 3; }
.edge text { font-size: 9px; fill: MUTED; }
.frame rect { fill: #f8fafc; stroke: #cbd5e1; }
.frame text, .fold text { font-size: 11px; fill: #334155; cursor: pointer; }
.fold rect { fill: #e2e8f0; stroke: #64748b; stroke-width: 1.5; }
.fold.current rect { stroke: #f59e0b; stroke-width: 4; }
#detail h2 { font-size: 15px; margin: 4px 0; }
#detail h3 { font-size: 12px; margin: 10px 0 2px; color: MUTED; text-transform: uppercase;
  letter-spacing: .04em; }
#detail .rule { font-family: Menlo, Consolas, monospace; background: #f1f5f9; padding: 1px 4px;
  border-radius: 3px; }
.disp { margin: 2px 0 6px; }
.entries { border-collapse: collapse; font-family: Menlo, Consolas, monospace; font-size: 12px; }
.entries td { border: 1px solid #e2e8f0; padding: 1px 5px; text-align: right; }
.grad .entries td, .grad .stats { color: GRAD_INK; }
.stats { font-size: 12px; }
.shape { color: MUTED; font-size: 11px; }
.bad { color: BAD_INK; font-weight: bold; }
.heat { display: block; margin-top: 3px; }
.part { margin-left: 10px; }
kbd { border: 1px solid #cbd5e1; border-radius: 3px; padding: 0 3px; font-size: 11px; }
"""

SCRIPT = r"""
(() => {
"use strict";
const D = JSON.parse(document.getElementById("stepper-data").textContent);
const NS = "http://www.w3.org/2000/svg";
const [W, H] = D.box;
const byId = {};
D.nodes.forEach((n, i) => { n.i = i; byId[n.id] = n; });
const consumers = {};
D.nodes.forEach(n => n.inputs.forEach(p => (consumers[p] = consumers[p] || []).push(n.id)));
const frameOf = {};
D.clusters.forEach(c => { frameOf[c.key] = c; });
const L = D.layout || layered();
let step = 0;
const collapsed = new Set();
const view = { x: 20, y: 20, k: 1 };
const $ = id => document.getElementById(id);
const esc = t => String(t).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;" }[c]));

function layered() {
  const lr = D.rankdir === "LR" || D.rankdir === "RL";
  const layer = {};
  D.nodes.forEach(n => {
    if (n.op) layer[n.id] = Math.max(1, ...n.inputs.map(p => byId[p].op ? layer[p] + 1 : 1));
  });
  D.nodes.forEach(n => {
    if (!n.op) {
      const cs = (consumers[n.id] || []).map(c => layer[c]);
      layer[n.id] = cs.length ? Math.max(0, Math.min(...cs) - 1) : 0;
    }
  });
  const rows = [];
  D.nodes.forEach(n => (rows[layer[n.id]] = rows[layer[n.id]] || []).push(n.id));
  const place = {};
  const reorder = () => rows.forEach(r => {
    if (!r) return;
    const key = id => {
      const near = byId[id].inputs.concat(consumers[id] || []).filter(p => p in place);
      return near.length ? near.reduce((s, p) => s + place[p], 0) / near.length : place[id];
    };
    r.sort((a, b) => key(a) - key(b));
    r.forEach((id, k) => { place[id] = k; });
  });
  rows.forEach(r => r && r.forEach((id, k) => { place[id] = k; }));
  reorder(); reorder();
  const out = { nodes: {}, frames: {}, edges: [] };
  rows.forEach((r, l) => r && r.forEach((id, k) => {
    const main = 30 + l * (W + 70) + W / 2, cross = 40 + k * (H + 34) + H / 2;
    out.nodes[id] = lr ? [main, cross] : [cross, main];
  }));
  D.clusters.slice().reverse().forEach(c => {
    const inside = D.nodes.filter(n => within(n.cluster, c.key)).map(n => out.nodes[n.id]);
    if (!inside.length) return;
    const xs = inside.map(p => p[0]), ys = inside.map(p => p[1]);
    out.frames[c.key] = [Math.min(...xs) - W / 2 - 10, Math.min(...ys) - H / 2 - 24,
      Math.max(...xs) + W / 2 + 10, Math.max(...ys) + H / 2 + 10];
  });
  D.edges.forEach(e => {
    const [sx, sy] = out.nodes[e.from], [tx, ty] = out.nodes[e.to];
    const a = lr ? [sx + W / 2, sy] : [sx, sy + H / 2];
    const b = lr ? [tx - W / 2, ty] : [tx, ty - H / 2];
    const bend = lr ? [40, 0] : [0, 30];
    const d = `M${a} C${a[0] + bend[0]},${a[1] + bend[1]} ` +
      `${b[0] - bend[0]},${b[1] - bend[1]} ${b}`;
    out.edges.push({ from: e.from, to: e.to, path: d });
  });
  const all = Object.values(out.nodes);
  out.width = Math.max(...all.map(p => p[0])) + W;
  out.height = Math.max(...all.map(p => p[1])) + H;
  return out;
}

function within(key, outer) {
  for (let k = key; k !== null && k !== undefined; k = frameOf[k] ? frameOf[k].parent : null) {
    if (k === outer) return true;
  }
  return false;
}

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, cls, x, y, t) {
  const e = el("text", { class: cls, x: x, y: y }, parent);
  e.textContent = t;
  return e;
}

const cut = (t, n) => (t && t.length > n ? t.slice(0, n - 1) + "…" : t || "");

function draw() {
  const frames = $("frames"), boxes = $("boxes"), edges = $("edges"), folds = $("folds");
  D.clusters.forEach(c => {
    const b = L.frames[c.key];
    if (!b) return;
    const g = el("g", { class: "frame", "data-key": c.key }, frames);
    el("rect", { x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1], rx: 8 }, g);
    text(g, "", b[0] + 8, b[1] + 14, "▾ " + c.label).addEventListener("click", () => fold(c.key));
    const f = el("g", { class: "fold hidden", "data-key": c.key }, folds);
    el("rect", { x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1], rx: 8 }, f);
    text(f, "", b[0] + 8, b[1] + 16, "▸ " + c.label);
    text(f, "", b[0] + 8, b[1] + 32, "(click to expand)");
    f.addEventListener("click", () => fold(c.key));
    c.g = g; c.fold = f;
  });
  L.edges.forEach(e => {
    const g = el("g", { class: "edge" }, edges);
    el("path", { d: e.path, "marker-end": "url(#arrow)" }, g);
    e.g = g;
    const n = byId[e.to];
    (n.edgesIn = n.edgesIn || []).push(e);
  });
  D.nodes.forEach(n => {
    const [x, y] = L.nodes[n.id];
    const [fill, border] = D.styles[n.kind] || D.styles.op;
    const g = el("g", { class: "box", "data-node": n.id,
      transform: `translate(${x - W / 2},${y - H / 2})` }, boxes);
    n.rect = el("rect", { width: W, height: H, rx: n.op ? 9 : 2, fill: fill, stroke: border,
      "stroke-dasharray": n.kind === "const" ? "4 2" : "none" }, g);
    text(g, "t1", 8, 16, cut(n.title + (n.outName ? " → " + n.outName : ""), 24));
    text(g, "t2", 8, 30, cut((n.formula ? n.formula + "  " : "") + n.sub, 30));
    n.tv = text(g, "tv", 8, 46, "");
    n.tg = text(g, "tg", 8, 61, "");
    n.g = g;
    const tip = el("title", {}, g);
    tip.textContent = n.title + ": " + n.sub + (n.where ? "\ncreated at " + n.where : "");
    g.addEventListener("click", () => jump(n));
  });
}

function jump(n) {
  const back = n.bwd !== null && step >= n.fwd && D.steps[step].phase !== "forward";
  go(back ? n.bwd : n.fwd);
}

function fold(key) {
  if (collapsed.has(key)) collapsed.delete(key); else collapsed.add(key);
  refold();
  update();
}

function refold() {
  const hiddenBy = k => D.clusters.some(c => collapsed.has(c.key) && within(k, c.key));
  D.clusters.forEach(c => {
    if (!c.g) return;
    const outerFolded = c.parent !== null && hiddenBy(c.parent);
    c.g.classList.toggle("hidden", collapsed.has(c.key) || outerFolded);
    c.fold.classList.toggle("hidden", !collapsed.has(c.key) || outerFolded);
  });
  D.nodes.forEach(n => { n.hidden = n.cluster !== null && hiddenBy(n.cluster); });
  D.nodes.forEach(n => {
    n.g.classList.toggle("hidden", n.hidden);
    (n.edgesIn || []).forEach(e => e.g.classList.toggle("hidden", n.hidden && byId[e.from].hidden));
  });
}

function foldOf(n) {
  let best = null;
  D.clusters.forEach(c => { if (collapsed.has(c.key) && within(n.cluster, c.key)) best = c; });
  while (best && best.parent !== null && collapsed.has(best.parent)) best = frameOf[best.parent];
  return best;
}

function setText(e, t) { if (e.textContent !== t) e.textContent = t; }

function update() {
  const t0 = performance.now();
  const s = D.steps[step];
  const cur = s.node ? byId[s.node] : null;
  document.body.dataset.step = step;
  document.body.dataset.phase = s.phase;
  document.body.dataset.node = s.node || "";
  D.nodes.forEach(n => {
    const known = step >= n.fwd, graded = n.bwd !== null && step >= n.bwd;
    const bad = (known && n.value && n.value.bad) || (graded && n.grad && n.grad.bad);
    const cls = n.g.classList;
    cls.toggle("pending", !known);
    cls.toggle("current", n === cur);
    cls.toggle("root", n.root);
    cls.toggle("first", !!(n.first && (bad || (known && !n.value))));
    const look = D.styles[bad ? "nan" : n.kind] || D.styles.op;
    n.rect.setAttribute("fill", look[0]);
    setText(n.tv, !known ? "" : n.value ? "= " + n.value.text : n.op ? "(value freed)" : "");
    setText(n.tg, graded && n.grad ? "∂ " + n.grad.text : "");
  });
  L.edges.forEach(e => {
    e.g.classList.toggle("fwd", !!cur && s.phase === "forward" && e.to === cur.id);
    e.g.classList.toggle("bwd", !!cur && s.phase === "backward" && e.to === cur.id && cur.op);
  });
  D.clusters.forEach(c => c.fold && c.fold.classList.remove("current"));
  const folded = cur ? foldOf(cur) : null;
  if (folded) folded.fold.classList.add("current");
  $("slider").value = step;
  $("where").textContent = label(s, cur);
  $("prev").disabled = $("first").disabled = step === 0;
  $("next").disabled = $("last").disabled = step === D.steps.length - 1;
  $("detail").innerHTML = detail(s, cur);
  paint();
  if (cur) follow(folded ? center(L.frames[folded.key]) : L.nodes[cur.id]);
  document.body.dataset.renderMs = (performance.now() - t0).toFixed(2);
}

function center(b) { return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]; }

function label(s, cur) {
  const total = D.steps.length - 1;
  const what = cur ? ` · ${cur.title}` : "";
  return `step ${step} of ${total} · ${s.phase}${what}`;
}

function show(d, field, plain) {
  if (!d) return '<div class="disp missing">—</div>';
  let h = `<div class="disp" data-field="${field}">`;
  if (d.entries) {
    h += '<table class="entries">' + d.entries.map(r => "<tr>" + r.map(v =>
      `<td class="num">${esc(v)}</td>`).join("") + "</tr>").join("") + "</table>";
  } else if (d.norm !== undefined) {
    h += `<div class="stats">‖·‖ <span class="num" data-stat="norm">${esc(d.norm)}</span>` +
      ` · min <span class="num" data-stat="min">${esc(d.min)}</span>` +
      ` · max <span class="num" data-stat="max">${esc(d.max)}</span></div>` +
      (plain ? "" : heat(d.heat));
  }
  if (d.bad) h += `<div class="bad">holds ${esc(d.bad)}</div>`;
  return h + `<div class="shape">${esc(d.shape)}</div></div>`;
}

const heats = [];

function heat(m) {
  if (!m) return "";
  const size = Math.max(6, Math.floor(180 / Math.max(m.cols, m.rows)));
  heats.push([m, size]);
  return `<canvas class="heat" data-heat="${heats.length - 1}" width="${m.cols * size}" ` +
    `height="${m.rows * size}" title="block means, red positive, blue negative, ` +
    `darkest at |${esc(m.scale)}|; black: NaN or inf"></canvas>`;
}

function paint() {
  document.querySelectorAll("#detail canvas.heat").forEach(c => {
    const [m, size] = heats[+c.dataset.heat];
    const g = c.getContext("2d");
    m.cells.forEach((r, i) => r.forEach((v, j) => {
      if (typeof v === "string") g.fillStyle = "#111827";
      else {
        const t = Math.round(255 - Math.abs(v) * 2.2);
        g.fillStyle = v >= 0 ? `rgb(255,${t},${t})` : `rgb(${t},${t},255)`;
      }
      g.fillRect(j * size, i * size, size, size);
    }));
  });
  heats.length = 0;
}

function name(id) { const n = byId[id]; return esc(n.title); }

function detail(s, n) {
  let h = D.note ? `<div class="note">${esc(D.note)}</div>` : "";
  if (s.phase === "start") return h + intro();
  if (s.phase === "done") return h + summary();
  h += `<h2>${esc(n.title)}</h2><div class="shape">${esc(n.sub)}` +
    (n.cluster !== null && frameOf[n.cluster] ? " · in " + esc(frameOf[n.cluster].label) : "") +
    "</div>";
  if (n.where) h += `<div class="shape">created at ${esc(n.where)}</div>`;
  if (n.first) h += `<div class="bad">⚠ ${esc(n.first)}</div>`;
  return h + (s.phase === "forward" ? forward(n) : backward(n));
}

function forward(n) {
  let h = "";
  if (n.rule) h += `<h3>computes</h3><span class="rule">out = ${esc(n.rule.forward)}</span>`;
  n.inputs.forEach((p, i) => {
    h += `<h3>input ${esc(n.roles[i] || i)}: ${name(p)}</h3>` + show(byId[p].value, "input");
  });
  h += "<h3>value (out)</h3>";
  return h + (n.value ? show(n.value, "value") : '<div class="note">freed by backward()</div>');
}

function backward(n) {
  let h = "";
  if (n.root) {
    h += "<h3>seed: ∂out/∂out = 1</h3>";
  } else if (n.incoming.length > 1) {
    h += `<h3>arriving from ${n.incoming.length} uses, added</h3>`;
    n.incoming.forEach(p => {
      h += `<div class="part">from ${name(p.from)}${p.role ? " (as " + esc(p.role) + ")" : ""}` +
        `</div><div class="part grad">${show(p.grad, "part")}</div>`;
    });
    h += "<h3>sum: the gradient of its output (g)</h3>";
  } else if (!n.op) {
    const from = (consumers[n.id] || []).map(name).join(", ");
    h += `<h3>its gradient, from ${from}</h3>`;
  } else {
    h += "<h3>arriving at its output (g)</h3>";
  }
  h += `<div class="grad">${show(n.grad, "grad")}</div>`;
  if (!n.op) {
    return h + `<div class="shape">what backward() adds to this leaf's .grad</div>`;
  }
  h += `<h3>local rule</h3><span class="rule">out = ${esc(n.rule.forward)}</span>`;
  n.inputs.forEach((p, i) => {
    const rule = n.rule.inputs[i] || "";
    h += `<h3>sends to ${esc(n.roles[i] || i)}: ${name(p)}</h3>` +
      `<span class="rule">${esc(rule)}</span>` +
      (n.sends[i] ? `<div class="grad">${show(n.sends[i], "send")}</div>`
        : `<div class="shape">${D.note ? "(freed)" : "nothing: it takes no gradient"}</div>`);
  });
  return h;
}

function intro() {
  const ops = D.nodes.filter(n => n.op).length;
  return `<h2>${esc(D.title || "the graph")}</h2><p>${ops} operations and ` +
    `${D.nodes.length - ops} leaves. Step through the <b>forward</b> pass (each operation ` +
    "computes its value from its inputs), then the <b>backward</b> pass: each operation " +
    "receives the gradient of its output (g), applies its local rule and sends a gradient " +
    "to each input; a value used twice adds what it receives. Every number is the " +
    "engine's own.</p><p><kbd>→</kbd> next, <kbd>←</kbd> back, <kbd>Home</kbd>, " +
    "<kbd>End</kbd>; the slider jumps; click a box to go to it, a module's title to " +
    `collapse it. ${esc(D.broadcast)}.</p>`;
}

function summary() {
  let h = "<h2>done</h2><p>The gradients that backward() leaves in .grad:</p>";
  const leaves = D.nodes.filter(n => !n.op && n.grad);
  leaves.forEach(n => {
    h += `<h3>${esc(n.title)}</h3><div class="grad">${show(n.grad, "grad", leaves.length > 8)}` +
      "</div>";
  });
  return h;
}

function follow(p) {
  const r = $("stage").getBoundingClientRect();
  const x = p[0] * view.k + view.x, y = p[1] * view.k + view.y;
  if (x < 40 || y < 40 || x > r.width - 40 || y > r.height - 40) {
    view.x = r.width / 2 - p[0] * view.k;
    view.y = r.height / 2 - p[1] * view.k;
    place();
  }
}

function place() {
  $("viewport").setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
}

function fit() {
  const r = $("stage").getBoundingClientRect();
  view.k = Math.min(1, (r.width - 40) / L.width, (r.height - 40) / L.height);
  view.k = Math.max(view.k, 0.05);
  view.x = (r.width - L.width * view.k) / 2;
  view.y = (r.height - L.height * view.k) / 2;
  place();
}

function go(i) {
  step = Math.max(0, Math.min(D.steps.length - 1, i));
  update();
}

function controls() {
  $("slider").max = D.steps.length - 1;
  $("first").onclick = () => go(0);
  $("prev").onclick = () => go(step - 1);
  $("next").onclick = () => go(step + 1);
  $("last").onclick = () => go(D.steps.length - 1);
  $("slider").addEventListener("input", e => go(+e.target.value));
  $("fit").onclick = fit;
  $("collapse").onclick = () => {
    D.clusters.forEach(c => {
      if (!D.clusters.some(d => d.parent === c.key)) collapsed.add(c.key);
    });
    refold(); update();
  };
  $("expand").onclick = () => { collapsed.clear(); refold(); update(); };
  document.addEventListener("keydown", e => {
    if (e.target === $("slider") || e.altKey || e.ctrlKey || e.metaKey) return;
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    if (e.key in moves) go(step + moves[e.key]);
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(D.steps.length - 1);
    else return;
    e.preventDefault();
  });
  const svg = $("graph");
  let drag = null;
  svg.addEventListener("mousedown", e => { drag = [e.clientX - view.x, e.clientY - view.y]; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", e => {
    if (drag) { view.x = e.clientX - drag[0]; view.y = e.clientY - drag[1]; place(); }
  });
  svg.addEventListener("wheel", e => {
    e.preventDefault();
    const r = svg.getBoundingClientRect(), mx = e.clientX - r.left, my = e.clientY - r.top;
    const k = Math.max(0.05, Math.min(3, view.k * (e.deltaY < 0 ? 1.15 : 1 / 1.15)));
    view.x = mx - (mx - view.x) * k / view.k;
    view.y = my - (my - view.y) * k / view.k;
    view.k = k;
    place();
  }, { passive: false });
}

draw();
controls();
fit();
if (view.k < 0.5) { view.k = 0.8; place(); }
update();
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style></head>
<body>
<header><span class="title">{title}</span>
<span><button id="first" title="first step (Home)">«</button>
<button id="prev" title="previous step (←)">◀</button>
<button id="next" title="next step (→)">▶</button>
<button id="last" title="last step (End)">»</button></span>
<input id="slider" type="range" min="0" max="0" value="0" aria-label="step">
<span id="where"></span>
<span><button id="fit">fit</button> <button id="collapse">collapse modules</button>
<button id="expand">expand all</button></span></header>
<main><div id="stage"><svg id="graph" xmlns="http://www.w3.org/2000/svg"><defs>
<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8"
markerUnits="userSpaceOnUse" orient="auto-start-reverse">
<path d="M0,0 L10,5 L0,10 z" fill="#94a3b8"/></marker></defs>
<g id="viewport"><g id="frames"></g><g id="edges"></g><g id="boxes"></g><g id="folds"></g>
</g></svg></div><aside id="detail"></aside></main>
<script type="application/json" id="stepper-data">{data}</script>
<script>{script}</script>
</body></html>
"""


def render(data: dict[str, Any]) -> str:
    """The whole page for the stepper ``data`` (see ``steps.build``)."""
    data = {"box": [BOX_WIDTH, BOX_HEIGHT], "rankdir": "LR", "layout": None,
            "styles": {kind: list(look) for kind, look in STYLE.items()}, **data}
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # inside <script>, "</" could end the element and "<!--" change how it is read: no "<"
    payload = payload.replace("<", "\\u003c")
    css = CSS
    for name, colour in (("GRAD_INK", GRAD_INK), ("BAD_INK", BAD_INK), ("MUTED", MUTED),
                         ("INK", INK)):
        css = css.replace(name, colour)
    title = html.escape(data.get("title") or "backward, step by step")
    return _PAGE.format(policy=POLICY, title=title, css=css, data=payload, script=SCRIPT)
