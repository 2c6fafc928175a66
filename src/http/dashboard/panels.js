// The rollout page's learning and webhook panels, from `/v1/rollouts/{name}/learning` and
// `/v1/rollouts/{name}/webhooks` (stored rows, newest first, by page).
"use strict";
window.DashPanels = (function () {
  const C = window.Charts;
  const { h, api } = window.Dash;
  const dash = (v) => (v === undefined || v === null || v === "" ? "—" : String(v));
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

  // An "Older" button that appends the next page; hidden at the end.
  function older(next, load) {
    const b = h("button", { type: "button", class: "older", hidden: !next, onclick: async () => {
      const n = await load(next);
      next = n; b.hidden = !n;
    } }, "Older");
    return b;
  }

  function learningPanel(name, p) {
    const sec = h("section", { id: "learning", "aria-labelledby": "le-h" }, h("h3", { id: "le-h" }, "Learning"));
    if (!p || !p.learns) { sec.append(h("p", {}, "This rollout does not learn (no analysis: block).")); return sec; }
    const runs = p.computations || [];
    const latest = runs[0];
    const conservative = p.conservative || {};
    const features = Object.keys(Object.assign({}, conservative, p.published || {}));
    sec.append(h("p", {}, h("strong", {}, `${p.flag} now: `),
      features.map((f) => `${f} ${C.fmt((p.published || {})[f])}`).join(" · ") || "—",
      " · conservative: ", features.map((f) => `${f} ${C.fmt(conservative[f])}`).join(" · ")));
    const writes = (p.publications || []).slice().reverse();
    const grid = h("div", { class: "weights-grid" });
    sec.append(grid);
    for (const f of features) {
      const pts = writes.map((w) => ({ t: Date.parse(w.at), y: w.weights ? w.weights[f] : undefined }));
      grid.append(h("figure", { class: "weights", "data-feature": f },
        C.line({ points: pts, lines: [{ y: conservative[f], label: "conservative", kind: "bound" }], yMin: 0,
          label: `${f}: published weight at each write of ${p.flag} against the conservative weight` }),
        h("figcaption", {}, `${f}: the published weight at each write (${writes.length}) against the conservative one`)));
    }
    if (!latest) { sec.append(h("p", { id: "learning-latest" }, "No learning run yet.")); return sec; }
    const feats = (latest.inputs && latest.inputs.features) || {};
    sec.append(h("p", { id: "learning-latest" }, h("strong", {}, "Latest analysis "), when(latest.computed_at),
      ` · confidence ${C.fmt(latest.confidence)} · ${dash(latest.sample_size)} pairs · regime ${dash(latest.regime)} · `,
      latest.fallback ? h("strong", { class: "fallback" }, `⚠ fallback: ${latest.reason}`) : `learned: ${latest.reason}`),
    h("table", { id: "learning-features" }, h("caption", {}, "Features of the latest analysis"),
      h("thead", {}, h("tr", {}, ["Feature", "Status", "n", "Spearman", "p", "Weight computed", "Conservative"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, Object.entries(feats).map(([f, a]) => h("tr", { "data-feature": f }, h("th", { scope: "row" }, f),
        h("td", {}, dash(a.status)), h("td", {}, dash(a.n)), h("td", {}, C.fmt(a.spearman)), h("td", {}, C.fmt(a.spearman_p)),
        h("td", {}, C.fmt((latest.final_weights || {})[f])), h("td", {}, C.fmt(conservative[f])))))));
    const tbody = h("tbody", {});
    const add = (rows) => tbody.append(...rows.map((r) => h("tr", {}, h("td", {}, when(r.computed_at)),
      h("td", {}, Object.entries(r.final_weights || {}).map(([k, v]) => `${k} ${C.fmt(v)}`).join(", ")),
      h("td", {}, C.fmt(r.confidence)), h("td", {}, r.fallback ? `⚠ fallback: ${r.reason}` : r.reason))));
    add(runs);
    sec.append(h("table", { id: "learning-runs" }, h("caption", {}, "Learning runs (newest first)"),
      h("thead", {}, h("tr", {}, ["When", "Weights computed", "Confidence", "Outcome"].map((t) => h("th", { scope: "col" }, t)))), tbody),
    older(p.computations_next_before, async (before) => {
      const page = await api(`/v1/rollouts/${encodeURIComponent(name)}/learning?limit=50&computation_before=${before}`);
      add(page.computations || []);
      return page.computations_next_before;
    }));
    return sec;
  }

  const DELIVERY = { delivered: ["✔", "delivered"], pending: ["○", "pending"], retrying: ["↻", "retrying"], abandoned: ["✖", "abandoned"] };

  function webhookPanel(name, p) {
    const sec = h("section", { id: "webhooks", "aria-labelledby": "wh-h" }, h("h3", { id: "wh-h" }, "Webhook deliveries (newest first)"));
    const rows = (p && p.deliveries) || [];
    if (!rows.length) { sec.append(h("p", {}, "No webhook deliveries (no notify: receivers, or nothing sent yet).")); return sec; }
    const tbody = h("tbody", {});
    const add = (ds) => tbody.append(...ds.map((d) => {
      const [icon, words] = DELIVERY[d.status] || ["?", dash(d.status)];
      return h("tr", { "data-delivery": d.id, "data-status": d.status }, h("td", {}, when(d.at)), h("td", {}, dash(d.event)),
        h("td", {}, h("code", {}, d.url)), h("td", { class: `dl-${d.status}` }, h("span", { "aria-hidden": "true" }, icon), ` ${words}`),
        h("td", {}, String(d.attempts)), h("td", {}, dash(d.last_error)),
        h("td", {}, d.status === "delivered" ? `delivered ${when(d.delivered_at)}`
          : d.status === "abandoned" ? `abandoned ${when(d.abandoned_at)}` : when(d.next_attempt_at)));
    }));
    add(rows);
    sec.append(h("table", { id: "webhooks-table" },
      h("thead", {}, h("tr", {}, ["Event time", "Event", "Receiver", "Status", "Attempts", "Last error", "Next attempt"].map((t) => h("th", { scope: "col" }, t)))), tbody),
    older(p.next_before, async (before) => {
      const page = await api(`/v1/rollouts/${encodeURIComponent(name)}/webhooks?limit=50&before=${before}`);
      add(page.deliveries || []);
      return page.next_before;
    }));
    return sec;
  }

  return { learningPanel, webhookPanel };
})();
