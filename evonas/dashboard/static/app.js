// evonas dashboard: reads /api/runs and /api/runs/<id> every 2 s and draws them. Every stored
// string is put into the page as text (textContent), never as HTML.
"use strict";

const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "href" || k === "id") node.setAttribute(k, v);
    else node.dataset[k] = v;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child == null ? "" : String(child)));
  }
  return node;
}

function num(x, digits = 4) {
  return x == null ? "-" : Number(x).toFixed(digits);
}

function duration(seconds) {
  if (seconds == null) return "-";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function table(header, rows) {
  const head = el("tr", {}, ...header.map((h) => el("th", {}, h)));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
}

// "stale (heartbeat 4m12s ago)": the class is the status word alone
function statusClass(status) {
  return `status-${String(status).split(" ")[0]}`;
}

function statusCell(status) {
  return el("td", { class: statusClass(status) }, status);
}

function runsPage(runs) {
  const main = el("main", { id: "main" }, el("h1", {}, "Runs"));
  if (!runs.length) {
    main.append(el("p", {}, "No runs in this database yet."));
    return main;
  }
  const rows = runs.map((r) =>
    el("tr", { run: r.id },
      el("td", { class: "num" }, r.id),
      el("td", {}, el("a", { href: `/run/${r.id}` }, r.name)),
      statusCell(r.status),
      el("td", {}, r.dataset),
      el("td", { class: "num" }, num(r.best_acc)),
      el("td", { class: "num" }, num(r.best_nmi)),
      el("td", { class: "num" }, r.generations),
      el("td", { class: "num" }, r.evaluations),
      el("td", { class: "num" }, duration(r.elapsed_s)),
    ),
  );
  main.append(table(["id", "name", "status", "dataset", "best ACC", "best NMI", "generations",
                     "evaluations", "elapsed"], rows));
  return main;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// lines: [{name, values, colour}] over the generation index
function chart(lines, title) {
  const W = 560, H = 240, L = 48, B = 28, T = 20;
  const box = svg("svg", { width: W, height: H, role: "img", "aria-label": title });
  const values = lines.flatMap((l) => l.values).filter((v) => v != null);
  const n = Math.max(1, ...lines.map((l) => l.values.length));
  const title_ = svg("text", { x: L, y: 14, "font-size": 12 });
  title_.textContent = title;
  box.append(title_);
  if (!values.length) return box;
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi - lo < 1e-9) { lo -= 0.01; hi += 0.01; }
  const x = (i) => L + (n === 1 ? 0 : (i * (W - L - 10)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  for (const v of [lo, hi]) {
    const t = svg("text", { x: 4, y: y(v) + 4, "font-size": 11 });
    t.textContent = v.toFixed(3);
    box.append(t);
  }
  const xl = svg("text", { x: L, y: H - 6, "font-size": 11 });
  xl.textContent = `generation 0 … ${n - 1}`;
  box.append(xl);
  lines.forEach((line, k) => {
    const pts = line.values.map((v, i) => (v == null ? null : `${x(i)},${y(v)}`)).filter(Boolean);
    box.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: line.colour, "stroke-width": 2 }));
    const key = svg("text", { x: W - 150, y: 16 + 14 * k, "font-size": 11, fill: line.colour });
    key.textContent = line.name;
    box.append(key);
  });
  return box;
}

function pareto(points, front) {
  const W = 560, H = 260, L = 48, B = 28, T = 12;
  const box = svg("svg", { width: W, height: H, role: "img", "aria-label": "Pareto front" });
  if (!points.length) return box;
  const xs = points.map((p) => p.recon_loss), ys = points.map((p) => p.score);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const x = (v) => L + (W - L - 10) * (x1 - x0 < 1e-12 ? 0.5 : (v - x0) / (x1 - x0));
  const y = (v) => T + (H - T - B) * (y1 - y0 < 1e-12 ? 0.5 : 1 - (v - y0) / (y1 - y0));
  const onFront = new Set(front);
  for (const p of points) {
    box.append(svg("circle", { cx: x(p.recon_loss), cy: y(p.score), r: onFront.has(p.hash) ? 5 : 3,
                               fill: onFront.has(p.hash) ? "#c22" : "#89a" }));
  }
  const xl = svg("text", { x: L, y: H - 6, "font-size": 11 });
  xl.textContent = "reconstruction MSE (lower is better) →; score (higher is better) ↑; red: the front";
  box.append(xl);
  return box;
}

function genomeCell(layers) {
  return el("div", { class: "layers" }, ...layers.map((l) => el("span", { class: `layer ${l.kind}` }, l.label)));
}

function runPage(d) {
  const r = d.run;
  const main = el("main", { id: "main" });
  main.append(el("h1", {}, `Run ${r.name}`));
  main.append(el("p", {}, `id ${r.id} · `, el("span", { class: statusClass(r.status), id: "run-status" }, r.status),
                 ` · ${r.dataset} · ${r.generations} generations · ${r.evaluations} evaluations · elapsed `,
                 duration(r.elapsed_s), r.stop_reason ? ` · ${r.stop_reason}` : ""));
  if (d.live) main.append(el("div", { class: "live", id: "live" }, d.live.line));
  main.append(el("p", { id: "best" }, `best ACC ${num(r.best_acc)} · NMI ${num(r.best_nmi)}`));
  main.append(el("h2", {}, "Best so far and per generation"));
  main.append(chart([
    { name: "best so far", values: d.curves.best_so_far, colour: "#c22" },
    { name: "generation's best", values: d.curves.best, colour: "#26a" },
    { name: "generation's mean", values: d.curves.mean, colour: "#999" },
  ], "score (ACC, or the silhouette without labels)"));
  main.append(el("h2", {}, "Population"));
  const rows = d.population.map((p) =>
    el("tr", { hash: p.hash },
      el("td", {}, p.hash.slice(0, 10)),
      el("td", {}, genomeCell(p.layers)),
      statusCell(p.status),
      el("td", { class: "num" }, num(p.metrics.acc)),
      el("td", { class: "num" }, num(p.metrics.nmi)),
      el("td", { class: "num" }, p.metrics.params == null ? "-" : p.metrics.params.toLocaleString()),
    ));
  main.append(d.population.length ? table(["hash", "layers", "status", "ACC", "NMI", "parameters"], rows)
                                  : el("p", {}, "No generation stored yet."));
  if (r.selection === "nsga2") {
    main.append(el("h2", {}, "Pareto front (score against reconstruction loss)"));
    main.append(pareto(d.points, d.pareto));
  }
  main.append(el("h2", {}, `Failures (${d.failures.length})`));
  if (d.failures.length) {
    main.append(table(["generation", "genome", "error"], d.failures.map((f) =>
      el("tr", {}, el("td", { class: "num" }, f.generation), el("td", {}, f.compact),
         el("td", { class: "error" }, f.error)))));
  }
  return main;
}

async function refresh() {
  const match = location.pathname.match(/^\/run\/(\d+)$/);
  const url = match ? `/api/runs/${match[1]}` : "/api/runs";
  try {
    const response = await fetch(url, { cache: "no-store" });
    const body = await response.json();
    const page = !response.ok ? el("main", { id: "main" }, el("p", {}, body.error || response.statusText))
      : match ? runPage(body) : runsPage(body);
    document.getElementById("main").replaceWith(page);
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    document.getElementById("updated").textContent = `cannot reach the dashboard server (${err})`;
  }
}

refresh();
setInterval(refresh, POLL_MS);
