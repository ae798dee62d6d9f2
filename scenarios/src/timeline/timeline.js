// readerlab's timeline (docs/report.md). The model is worked out by
// readerlab (scenarios/src/timeline/model.rs); this script only draws it.
// No network: a report page carries its model and history inline; the live
// page (`/_readerlab/ui`) polls `ui/model` beside it.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const LANE = 28, AXIS = 22, PAY_ROW = 14, MAX_PAY_ROWS = 12, ROW = 18;
  const live = document.body.dataset.live === "true";
  let M = null;            // the model
  let lines = [];          // the history, one JSON line per event
  let view = null;         // {t0, t1}: the visible time window
  let fitted = true;       // follow the whole history (live view)
  let selected = -1;       // selected event index
  let marked = new Set();  // events of the selected violation
  let filter = { payment: "", lane: -1, kind: "" };
  let shown = [];          // event indices that pass the filter
  let payRows = [];        // row of each payment in the payments band
  let payRowCount = 0;
  let els = {};

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs) {
    const node = document.createElementNS(NS, tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    return node;
  }
  function clock(ms) {
    const h = Math.floor(ms / 3600000), m = Math.floor(ms % 3600000 / 60000);
    const s = Math.floor(ms % 60000 / 1000), r = ms % 1000;
    const p = (n, w) => String(n).padStart(w, "0");
    return h + ":" + p(m, 2) + ":" + p(s, 2) + "." + p(r, 3);
  }
  function category(name) {
    if (name.startsWith("fault.")) return "fault";
    if (/(failed|declined|refused|unreadable|lost|disconnected|canceled|rejected|critical)/.test(name)) return "fail";
    if (/(succeeded|forwarded|stored|connected|captured|recovered|powered_on|finished)/.test(name)) return "ok";
    return "other";
  }

  function layout() {
    const app = document.getElementById("app");
    app.textContent = "";
    const header = el("header");
    els.title = el("h1");
    els.meta = el("div", { class: "meta" });
    els.legend = el("div", { class: "meta legend" });
    header.append(els.title, els.meta, els.legend);
    els.violations = el("section", { id: "violations" });
    const controls = el("div", { id: "controls" });
    els.payment = el("input", { id: "f-payment", placeholder: "payment id", list: "payment-ids", size: 16 });
    els.paymentIds = el("datalist", { id: "payment-ids" });
    els.lane = el("select", { id: "f-lane" });
    els.kind = el("input", { id: "f-kind", placeholder: "event kind (e.g. charge)", size: 20 });
    const zoomIn = el("button", { id: "zoom-in", title: "zoom in" }, "+");
    const zoomOut = el("button", { id: "zoom-out", title: "zoom out" }, "−");
    const fit = el("button", { id: "zoom-fit", title: "the whole history" }, "fit");
    els.count = el("span", { class: "meta", id: "count" });
    controls.append(el("span", {}, "filter:"), els.payment, els.paymentIds, els.lane, els.kind,
      el("span", {}, "zoom:"), zoomIn, zoomOut, fit, els.count);
    const timeline = el("div", { id: "timeline" });
    els.labels = el("div", { id: "labels" });
    els.plot = el("div", { id: "plot" });
    timeline.append(els.labels, els.plot);
    const bottom = el("div", { id: "bottom" });
    els.list = el("div", { id: "list" });
    els.spacer = el("div", { style: "position:relative" });
    els.list.append(els.spacer);
    els.inspector = el("pre", { id: "inspector" }, "Click an event, a payment or a violation.");
    bottom.append(els.list, els.inspector);
    app.append(header, els.violations, controls, timeline, bottom);

    els.payment.addEventListener("input", () => { filter.payment = els.payment.value.trim(); refilter(); });
    els.kind.addEventListener("input", () => { filter.kind = els.kind.value.trim(); refilter(); });
    els.lane.addEventListener("change", () => { filter.lane = Number(els.lane.value); refilter(); });
    zoomIn.addEventListener("click", () => zoom(0.5, 0.5));
    zoomOut.addEventListener("click", () => zoom(2, 0.5));
    fit.addEventListener("click", () => { fitted = true; view = whole(); draw(); });
    els.list.addEventListener("scroll", drawList);
    els.plot.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = els.plot.getBoundingClientRect();
      zoom(e.deltaY < 0 ? 0.8 : 1.25, (e.clientX - r.left) / r.width);
    }, { passive: false });
    let drag = null;
    els.plot.addEventListener("mousedown", (e) => { drag = { x: e.clientX, view: Object.assign({}, view) }; });
    window.addEventListener("mouseup", () => { drag = null; });
    window.addEventListener("mousemove", (e) => {
      if (!drag) return;
      const span = drag.view.t1 - drag.view.t0;
      const dt = (e.clientX - drag.x) / els.plot.clientWidth * span;
      if (Math.abs(e.clientX - drag.x) > 2) fitted = false;
      view = { t0: drag.view.t0 - dt, t1: drag.view.t1 - dt };
      draw();
    });
    window.addEventListener("resize", draw);
  }

  function whole() {
    const end = Math.max(M.end_ms, 1);
    return { t0: -end * 0.01, t1: end * 1.01 };
  }
  function zoom(factor, at) {
    fitted = false;
    const span = view.t1 - view.t0, pivot = view.t0 + span * at;
    const next = Math.max(span * factor, 5);
    view = { t0: pivot - next * at, t1: pivot + next * (1 - at) };
    draw();
  }

  // Everything that depends on the model but not on the view.
  function prepare() {
    els.title.textContent = M.title;
    els.meta.textContent = "";
    const badge = el("span", { class: "badge " + M.verdict, id: "verdict" }, M.verdict === "holds" ? "all invariants hold" : M.verdict === "broken" ? "invariants broken" : "unknown outcomes");
    els.meta.append(badge);
    if (live) els.meta.append(el("span", { class: "badge live", id: "live" }, "live"));
    els.meta.append(document.createTextNode(
      M.summary + " · seed " + M.seed + (M.defects.length ? " · defects " + M.defects.join(", ") : "") +
      (M.target ? " · target " + M.target : "") + " · time axis: " + M.clock));
    els.legend.innerHTML = "";
    for (const [c, label] of [["var(--ok)", "ok"], ["var(--warn)", "failed / declined / stored"], ["var(--fail)", "fault"], ["#90a4ae", "other"], ["var(--unknown)", "unknown"]]) {
      const s = el("span"); const i = el("i", { style: "background:" + c }); s.append(i, document.createTextNode(label)); els.legend.append(s);
    }
    const shade = el("span"); shade.append(el("i", { style: "background:var(--fault);border-radius:0" }), document.createTextNode("fault window"));
    els.legend.append(shade);

    els.violations.textContent = "";
    for (const s of M.sentences) {
      const v = el("div", { class: "violation" });
      v.append(el("span", { class: "inv" }, s.invariant), document.createTextNode(s.text));
      v.addEventListener("click", () => selectViolation(s));
      els.violations.append(v);
    }
    const lane = els.lane.value;
    els.lane.textContent = "";
    els.lane.append(el("option", { value: -1 }, "every lane"));
    M.lanes.forEach((l, i) => els.lane.append(el("option", { value: i }, l.label)));
    els.lane.value = lane || -1;
    els.paymentIds.textContent = "";
    for (const p of M.payments.slice(0, 5000)) els.paymentIds.append(el("option", { value: p.id }));

    // Pack payments into rows: greedy, first row whose last span ended.
    const ends = [];
    payRows = M.payments.map((p) => {
      let row = ends.findIndex((end) => end < p.start);
      if (row < 0) row = ends.length < MAX_PAY_ROWS ? ends.length : ends.indexOf(Math.min(...ends));
      ends[row] = Math.max(ends[row] || 0, p.end);
      return row;
    });
    payRowCount = Math.max(1, ends.length);

    els.labels.textContent = "";
    els.labels.append(el("div", { class: "lane-label axis" }, "time (" + (M.target === "sim" ? "virtual" : "rig clock") + ")"));
    M.lanes.forEach((l) => els.labels.append(el("div", { class: "lane-label lane", title: l.label }, l.label)));
    els.labels.append(el("div", { class: "lane-label payments", style: "height:" + (payRowCount * PAY_ROW + 8) + "px" }, "payments (" + M.payments.length + ")"));
    refilter();
  }

  function paymentMatches(i) {
    if (!filter.payment) return true;
    if (i < 0) return false;
    const p = M.payments[i];
    return p.id.includes(filter.payment) || p.aliases.some((a) => a.includes(filter.payment));
  }
  function passes(i) {
    if (filter.lane >= 0 && M.event_lane[i] !== filter.lane) return false;
    if (filter.kind && !M.kinds[M.event_kind[i]].includes(filter.kind)) return false;
    if (filter.payment && !paymentMatches(M.event_payment[i])) return false;
    return true;
  }
  function refilter() {
    const n = M.event_t.length;
    const all = !filter.payment && filter.lane < 0 && !filter.kind;
    shown = [];
    for (let i = 0; i < n; i++) if (all || passes(i)) shown.push(i);
    els.count.textContent = shown.length + " of " + n + " events";
    els.spacer.style.height = shown.length * ROW + "px";
    draw();
  }

  // The first index in `idx` (sorted by time) at or after time t.
  function lowerBound(idx, t) {
    let lo = 0, hi = idx.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (M.event_t[idx[mid]] < t) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function draw() {
    if (!M) return;
    if (fitted || !view) view = whole();
    const width = Math.max(els.plot.clientWidth, 200);
    const lanesH = M.lanes.length * LANE;
    const payH = payRowCount * PAY_ROW + 8;
    const height = AXIS + lanesH + payH;
    const x = (t) => (t - view.t0) / (view.t1 - view.t0) * width;
    const root = svg("svg", { width, height, id: "plot-svg" });
    M.lanes.forEach((l, i) => root.append(svg("rect", { class: "lane-bg" + (i % 2 ? " odd" : ""), x: 0, y: AXIS + i * LANE, width, height: LANE, "data-lane": l.id })));
    // Time axis.
    const span = view.t1 - view.t0;
    let step = Math.pow(10, Math.floor(Math.log10(span / 8)));
    for (const f of [1, 2, 5, 10]) if (span / (step * f) <= 10) { step *= f; break; }
    for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      if (t < 0) continue;
      root.append(svg("line", { class: "tick", x1: x(t), x2: x(t), y1: AXIS - 4, y2: height }));
      const label = svg("text", { class: "tick-label", x: x(t) + 2, y: 12 });
      label.textContent = clock(Math.round(t));
      root.append(label);
    }
    // Fault windows, shaded across the lanes they hit; instants marked.
    M.faults.forEach((f, k) => {
      const title = f.fault + " on " + f.target + (f.sustained ? " from " + clock(f.from) + " to " + (f.to === null ? "the end" : clock(f.to)) : " at " + clock(f.from));
      for (const lane of f.lanes) {
        const y = AXIS + lane * LANE;
        if (f.sustained) {
          const x0 = Math.max(x(f.from), -10), x1 = Math.min(x(f.to === null ? Math.max(M.end_ms, view.t1) : f.to), width + 10);
          if (x1 < 0 || x0 > width) continue;
          const r = svg("rect", { class: "fault-window", x: x0, y: y + 1, width: Math.max(x1 - x0, 2), height: LANE - 2, "data-fault": k });
          const t = svg("title", {}); t.textContent = title; r.append(t); root.append(r);
        } else {
          const cx = x(f.from);
          if (cx < -5 || cx > width + 5) continue;
          const m = svg("polygon", { class: "fault-instant", points: (cx - 5) + "," + (y + 2) + " " + (cx + 5) + "," + (y + 2) + " " + cx + "," + (y + 10), "data-fault": k });
          const t = svg("title", {}); t.textContent = title; m.append(t); root.append(m);
        }
      }
    });
    // Events, per lane: dots when few are in view, per-pixel bars when many.
    const perLane = M.lanes.map(() => []);
    for (const i of shown) perLane[M.event_lane[i]] && perLane[M.event_lane[i]].push(i);
    perLane.forEach((idx, lane) => {
      const from = lowerBound(idx, view.t0), to = lowerBound(idx, view.t1 + 1);
      const y = AXIS + lane * LANE + LANE / 2;
      if (to - from > width / 4) {
        const bins = new Uint32Array(Math.ceil(width / 2) + 1);
        for (let k = from; k < to; k++) bins[Math.floor(x(M.event_t[idx[k]]) / 2)]++;
        let max = 1; for (const b of bins) max = Math.max(max, b);
        bins.forEach((b, c) => {
          if (!b) return;
          const h = 3 + (LANE - 8) * Math.log(1 + b) / Math.log(1 + max);
          root.append(svg("rect", { class: "agg", x: c * 2, y: y - h / 2, width: 2, height: h }));
        });
        return;
      }
      for (let k = from; k < to; k++) {
        const i = idx[k], name = M.kinds[M.event_kind[i]];
        const dot = svg("circle", { class: "ev " + category(name) + (i === selected || marked.has(i) ? " sel" : ""), cx: x(M.event_t[i]), cy: y, r: 4, "data-i": i });
        const t = svg("title", {}); t.textContent = "#" + (i + 1) + " " + clock(M.event_t[i]) + " " + name; dot.append(t);
        dot.addEventListener("click", (e) => { e.stopPropagation(); select(i, false); });
        root.append(dot);
      }
    });
    // Violations: a dashed line at each proving event.
    for (const i of marked) {
      const cx = x(M.event_t[i]);
      if (cx >= 0 && cx <= width) root.append(svg("line", { class: "viol-mark", x1: cx, x2: cx, y1: AXIS, y2: AXIS + lanesH }));
    }
    // Payments: a span from start to outcome, stored and forwarded marked;
    // a payment a violation names is underlined in red.
    const payTop = AXIS + lanesH + 4;
    const violated = new Set(M.sentences.map((s) => s.payment).filter((p) => p));
    const inView = [];
    M.payments.forEach((p, k) => {
      if (filter.payment && !paymentMatches(k)) return;
      if (filter.lane >= 0 && p.lane !== filter.lane) return;
      if (x(p.end) < 0 || x(p.start) > width) return;
      inView.push(k);
    });
    if (inView.length > 1500) {
      // Too many to draw one by one: per row, a 2-pixel cell per column,
      // red where any payment in it failed, orange where one is open or
      // only stored, green otherwise; zoom in (or filter) to see each.
      const rank = { succeeded: 0, canceled: 0, stored: 1, open: 1, unknown: 2, declined: 3, failed: 3, lost: 3 };
      const cols = Math.ceil(width / 2) + 1;
      const worst = new Int8Array(cols * payRowCount).fill(-1);
      for (const k of inView) {
        const p = M.payments[k], r = rank[p.state] === undefined ? 1 : rank[p.state];
        const c0 = Math.max(0, Math.floor(x(p.start) / 2)), c1 = Math.min(cols - 1, Math.floor(x(p.end) / 2));
        for (let c = c0; c <= c1; c++) { const at = payRows[k] * cols + c; if (worst[at] < r) worst[at] = r; }
      }
      const state = ["succeeded", "stored", "unknown", "failed"];
      for (let row = 0; row < payRowCount; row++) {
        const y = payTop + row * PAY_ROW + PAY_ROW / 2;
        for (let c = 0; c < cols; c++) {
          const r = worst[row * cols + c];
          if (r < 0) continue;
          let end = c;
          while (end + 1 < cols && worst[row * cols + end + 1] === r) end++;
          root.append(svg("line", { class: "pay agg-pay " + state[r], x1: c * 2, x2: end * 2 + 2, y1: y, y2: y }));
          c = end;
        }
      }
    } else {
      for (const k of inView) {
        const p = M.payments[k];
        const x0 = x(p.start), x1 = Math.max(x(p.end), x0 + 1);
        const y = payTop + payRows[k] * PAY_ROW + PAY_ROW / 2;
        const line = svg("line", { class: "pay " + p.state + (k === selectedPayment() ? " sel" : ""), x1: x0, x2: x1, y1: y, y2: y, "data-payment": p.id });
        const t = svg("title", {}); t.textContent = p.id + ": " + p.state + " (" + clock(p.start) + " – " + clock(p.end) + ")"; line.append(t);
        line.addEventListener("click", () => selectPayment(k));
        if (violated.has(p.id)) root.append(svg("line", { class: "pay-violated", x1: x0, x2: x1, y1: y + 4, y2: y + 4, "data-payment": p.id }));
        root.append(line);
        for (const [at, shape] of [[p.stored, "stored"], [p.forwarded, "forwarded"]]) {
          if (at === null) continue;
          root.append(svg("rect", { class: "milestone " + shape, x: x(at) - 3, y: y - 3, width: 6, height: 6, transform: shape === "forwarded" ? "rotate(45 " + x(at) + " " + y + ")" : "" }));
        }
        if (x1 - x0 > 50) {
          const label = svg("text", { class: "pay-label", x: Math.max(x0, 0) + 4, y: y - 4 });
          label.textContent = p.id; root.append(label);
        }
      }
    }
    const old = els.plot.firstChild;
    if (old) els.plot.replaceChild(root, old); else els.plot.append(root);
    drawList();
  }

  function selectedPayment() { return selected >= 0 ? M.event_payment[selected] : -1; }

  function drawList() {
    const top = els.list.scrollTop, visible = Math.ceil(els.list.clientHeight / ROW) + 2;
    const first = Math.max(0, Math.floor(top / ROW) - 1);
    els.spacer.textContent = "";
    for (let r = first; r < Math.min(shown.length, first + visible); r++) {
      const i = shown[r];
      const row = el("div", { class: "row" + (i === selected ? " sel" : ""), style: "top:" + r * ROW + "px", "data-i": i });
      row.append(el("span", { class: "t" }, clock(M.event_t[i])), el("span", { class: "p" }, M.lanes[M.event_lane[i]].label), document.createTextNode("#" + (i + 1) + " " + M.kinds[M.event_kind[i]]));
      row.addEventListener("click", () => select(i, true));
      els.spacer.append(row);
    }
  }

  function inspect(i) {
    let text = lines[i] || "";
    try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* shown as written */ }
    const p = M.event_payment[i];
    els.inspector.textContent = (p >= 0 ? "payment " + M.payments[p].id + " (" + M.payments[p].state + ")\n" : "") + text;
  }
  function reveal(i) {
    const t = M.event_t[i], span = view.t1 - view.t0;
    if (t < view.t0 || t > view.t1) { fitted = false; view = { t0: t - span / 2, t1: t + span / 2 }; }
    const r = shown.indexOf(i);
    if (r >= 0) els.list.scrollTop = Math.max(0, r * ROW - els.list.clientHeight / 2);
  }
  function select(i, move) {
    selected = i; inspect(i);
    if (move) reveal(i);
    draw();
  }
  function selectPayment(k) {
    const p = M.payments[k];
    const first = p.seqs.length ? p.seqs[0] - 1 : -1;
    if (first >= 0) { selected = first; inspect(first); }
    els.inspector.textContent = "payment " + p.id + (p.aliases.length ? " (" + p.aliases.join(", ") + ")" : "") + ": " + p.state +
      "\nstarted " + clock(p.start) + (p.stored !== null ? "\nstored " + clock(p.stored) : "") + (p.forwarded !== null ? "\nforwarded " + clock(p.forwarded) : "") +
      "\nlast event " + clock(p.end) + "\nevents: " + p.seqs.map((s) => "#" + s).join(" ");
    draw();
  }
  function selectViolation(s) {
    marked = new Set(s.seqs.map((q) => q - 1));
    if (s.seqs.length) {
      const ts = s.seqs.map((q) => M.event_t[q - 1]);
      const lo = Math.min(...ts), hi = Math.max(...ts), pad = Math.max((hi - lo) * 0.2, 500);
      fitted = false; view = { t0: lo - pad, t1: hi + pad };
      selected = s.seqs[0] - 1;
      reveal(selected);
      els.inspector.textContent = s.invariant + ": " + s.text + "\n\n" + s.seqs.map((q) => lines[q - 1] || "").join("\n");
    }
    draw();
  }

  function start(model, text) {
    M = model;
    lines = text ? text.split("\n") : [];
    if (!els.app) { layout(); els.app = true; }
    prepare();
  }

  if (!live) {
    const model = JSON.parse(document.getElementById("model").textContent);
    start(model, document.getElementById("history").textContent);
    return;
  }
  // The live view: poll the rig's history through `ui/model`.
  const token = (location.hash.match(/token=([^&]+)/) || [])[1];
  const headers = token ? { Authorization: "Bearer " + decodeURIComponent(token) } : {};
  let generation = null;
  async function poll() {
    try {
      const answer = await fetch("ui/model?from=" + (generation === null ? 0 : lines.length), { headers });
      if (answer.status === 409) { document.getElementById("app").textContent = "No rig is running yet; waiting…"; return; }
      if (!answer.ok) { document.getElementById("app").textContent = "The control API answered " + answer.status + (answer.status === 401 ? ": open this page as /_readerlab/ui#token=TOKEN" : ""); return; }
      const data = await answer.json();
      if (data.generation !== generation) { generation = data.generation; lines = []; }
      const added = data.lines ? data.lines.split("\n").filter((l) => l) : [];
      if (added.length || !M) {
        const all = lines.concat(added);
        start(data.model, all.join("\n"));
        lines = all;
      }
    } catch (e) {
      document.title = "readerlab: live rig (disconnected)";
    } finally {
      setTimeout(poll, 1000);
    }
  }
  poll();
})();
