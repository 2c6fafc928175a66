// Hand-rolled SVG charts (see ARCHITECTURE.md, "The dashboard's charts"): a line of points
// over time, an optional interval per point, horizontal reference lines (a bound, alpha, no
// effect) and marked points (a breach). Every chart also says what it shows in words, and
// marks differ by shape as well as colour, so nothing depends on colour alone.
"use strict";
window.Charts = (function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 560, H = 200, L = 56, R = 12, T = 12, B = 28;

  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function finite(v) { return typeof v === "number" && Number.isFinite(v); }

  function fmt(v) {
    if (!finite(v)) return "—";
    const a = Math.abs(v);
    if (a !== 0 && (a < 0.001 || a >= 1e5)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }

  function time(ms) {
    const d = new Date(ms);
    return d.toISOString().slice(11, 19);
  }

  // points: [{t: ms, y, lo?, hi?, bound?, mark?: "breach"}]; lines: [{y, label, kind}].
  // `bound`: a boundary that moves from point to point (a group-sequential design's), drawn
  // as a dashed line at +bound and at −bound.
  function line(opts) {
    const points = (opts.points || []).filter((p) => finite(p.t));
    const lines = (opts.lines || []).filter((l) => finite(l.y));
    const svg = el("svg", {
      viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
      "data-points": points.length, "aria-label": opts.label || "",
    });
    svg.appendChild(el("title", {}, opts.label || ""));
    const ys = [];
    for (const p of points) for (const k of ["y", "lo", "hi"]) if (finite(p[k])) ys.push(p[k]);
    for (const p of points) if (finite(p.bound)) ys.push(p.bound, -p.bound);
    for (const l of lines) ys.push(l.y);
    if (opts.yMin !== undefined) ys.push(opts.yMin);
    if (opts.yMax !== undefined) ys.push(opts.yMax);
    let y0 = ys.length ? Math.min(...ys) : 0, y1 = ys.length ? Math.max(...ys) : 1;
    if (y0 === y1) { y0 -= 1; y1 += 1; }
    const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
    const ts = points.map((p) => p.t);
    let t0 = ts.length ? Math.min(...ts) : 0, t1 = ts.length ? Math.max(...ts) : 1;
    if (t0 === t1) { t0 -= 1000; t1 += 1000; }
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    // axes and ticks
    svg.appendChild(el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
    svg.appendChild(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
    for (const v of [y0 + pad, (y0 + y1) / 2, y1 - pad]) {
      svg.appendChild(el("text", { x: L - 4, y: y(v) + 4, class: "tick", "text-anchor": "end" }, fmt(v)));
    }
    if (ts.length) {
      svg.appendChild(el("text", { x: L, y: H - 8, class: "tick" }, time(t0)));
      svg.appendChild(el("text", { x: W - R, y: H - 8, class: "tick", "text-anchor": "end" }, time(t1)));
    }
    for (const l of lines) {
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: y(l.y), y2: y(l.y), class: `ref ${l.kind || ""}` }));
      // "no effect" on the left, bounds on the right, so that two close lines stay readable
      const left = l.kind === "zero";
      svg.appendChild(el("text", { x: left ? L + 4 : W - R - 2, y: y(l.y) + (left ? 11 : -3), class: "reflabel",
        "text-anchor": left ? "start" : "end" }, `${l.label} ${fmt(l.y)}`));
    }
    const drawn = points.filter((p) => finite(p.y));
    for (const p of points) {
      if (finite(p.lo) && finite(p.hi)) {
        svg.appendChild(el("line", { x1: x(p.t), x2: x(p.t), y1: y(p.lo), y2: y(p.hi), class: "interval" }));
      }
    }
    const bounded = points.filter((p) => finite(p.bound));
    for (const sign of bounded.length ? [1, -1] : []) {
      const d = bounded.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(sign * p.bound).toFixed(1)}`).join(" ");
      const b = el("path", { d: bounded.length > 1 ? d : `${d} h0.1`, class: "boundary" });
      b.appendChild(el("title", {}, `decision boundary ${sign > 0 ? "+" : "−"}: ` +
        bounded.map((p) => fmt(p.bound)).join(", ")));
      svg.appendChild(b);
      for (const p of bounded) {
        svg.appendChild(el("line", { x1: x(p.t) - 6, x2: x(p.t) + 6, y1: y(sign * p.bound), y2: y(sign * p.bound), class: "boundary tickmark" }));
      }
    }
    if (drawn.length > 1) {
      const d = drawn.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.y).toFixed(1)}`).join(" ");
      svg.appendChild(el("path", { d, class: "series" }));
    }
    for (const p of points) {
      const cy = finite(p.y) ? y(p.y) : H - B;
      const label = `${new Date(p.t).toISOString()}: ${fmt(p.y)}` +
        (finite(p.lo) ? ` [${fmt(p.lo)}, ${fmt(p.hi)}]` : "") + (p.mark ? ` (${p.mark})` : "");
      let m;
      if (p.mark === "breach") {
        // a cross: a breach is a shape, not only a colour
        const cx = x(p.t), s = 5;
        m = el("path", { d: `M${cx - s},${cy - s}L${cx + s},${cy + s}M${cx - s},${cy + s}L${cx + s},${cy - s}`, class: "pt breach" });
      } else if (!finite(p.y)) {
        m = el("rect", { x: x(p.t) - 3, y: cy - 3, width: 6, height: 6, class: "pt missing" });
      } else {
        m = el("circle", { cx: x(p.t), cy, r: 3.5, class: "pt" });
      }
      m.appendChild(el("title", {}, label));
      svg.appendChild(m);
    }
    if (!points.length) {
      svg.appendChild(el("text", { x: W / 2, y: H / 2, class: "empty", "text-anchor": "middle" }, "no points yet"));
    }
    return svg;
  }

  return { line, fmt, finite };
})();
