// The dashboard's views: the overview of every rollout and one rollout's page. They read the
// API and render; numbers the API does not have (yet) show as "—".
"use strict";
window.Dash = (function () {
  const C = window.Charts;

  // h("p", {class: "x"}, "text", child, ...): an element; strings become text nodes.
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const k of kids.flat()) {
      if (k === undefined || k === null || k === false) continue;
      e.appendChild(typeof k === "string" || typeof k === "number" ? document.createTextNode(String(k)) : k);
    }
    return e;
  }

  async function api(path, init) {
    const r = await fetch(path, Object.assign({ headers: { Accept: "application/json" } }, init || {}));
    let body = null;
    try { body = await r.json(); } catch (_) { body = null; }
    if (!r.ok) {
      const err = new Error((body && body.error) || `${r.status} ${r.statusText}`);
      err.status = r.status;
      throw err;
    }
    return body;
  }

  const dash = (v) => (v === undefined || v === null || v === "" ? "—" : String(v));
  const num = (v) => C.fmt(v);
  const pct = (v) => (C.finite(v) ? `${Math.round(v * 100) / 100}%` : "—");

  function ago(iso, now) {
    if (!iso) return "—";
    const s = Math.round((now - Date.parse(iso)) / 1000);
    if (!Number.isFinite(s)) return "—";
    return s < 0 ? `in ${dur(-s)}` : `${dur(s)} ago`;
  }

  function dur(secs) {
    if (!Number.isFinite(secs)) return "—";
    secs = Math.max(0, Math.round(secs));
    const d = Math.floor(secs / 86400), hh = Math.floor((secs % 86400) / 3600);
    const m = Math.floor((secs % 3600) / 60), s = secs % 60;
    if (d) return `${d}d ${hh}h`;
    if (hh) return `${hh}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  const STATUS = {
    running: ["▶", "running"], paused: ["‖", "paused"], blocked: ["■", "blocked (held)"],
    rolled_back: ["↩", "rolled back"], completed: ["✔", "completed"], pending: ["○", "pending"],
  };

  function statusBadge(status) {
    const [icon, words] = STATUS[status] || ["?", dash(status)];
    return h("span", { class: `badge st-${status}`, "data-status": status },
      h("span", { "aria-hidden": "true" }, icon), " ", words);
  }

  const VERDICT = {
    insufficient_data: "not enough data yet", inconclusive: "no difference shown yet",
    treatment_better: "the new path is better", treatment_worse: "the new path is worse",
  };
  const verdictWords = (v) => (v ? VERDICT[v] || v.replace(/_/g, " ") : "—");

  function stageText(st) {
    if (st.stage_index === null || st.stage_index === undefined) return `—/${dash(st.stages)}`;
    return `${st.stage_index + 1}/${st.stages} ${dash(st.stage_kind)} ${pct(st.percentage)}`;
  }

  function attention(st, view) {
    const why = [];
    if (["rolled_back", "blocked", "paused"].includes(st.status)) why.push(STATUS[st.status][1]);
    if (st.overdue) why.push("daemon overdue");
    const worst = st.guardrail_summary && st.guardrail_summary.worst;
    if (worst === "breach" || worst === "error") why.push(`guardrail ${worst}`);
    const a = view && view.analysis;
    if (a && a.srm && a.srm.mismatch) why.push("sample ratio mismatch");
    if (a && a.verdict === "treatment_worse") why.push("A/B: worse");
    return why;
  }

  function liveness(st, now) {
    if (!st) return h("p", { class: "liveness" }, "Daemon: —");
    const leader = st.leader ? `${st.leader.holder} (epoch ${st.leader.epoch})` : "none";
    const overdue = st.overdue === true ? "OVERDUE" : st.overdue === false ? "on time" : "—";
    return h("p", { class: `liveness${st.overdue ? " bad" : ""}`, id: "liveness" },
      h("strong", {}, "Daemon: "), `leader ${leader} · last tick ${ago(st.last_tick_at, now)} · `,
      h("span", { class: "overdue" }, overdue));
  }

  // ---- overview ----------------------------------------------------------------------
  const FILTERS = [["attention", "Needs attention first"], ["all", "All"], ["running", "Running"],
    ["paused", "Paused"], ["blocked", "Blocked"], ["rolled_back", "Rolled back"],
    ["completed", "Completed"], ["pending", "Pending"]];

  async function overview(root, state) {
    const now = Date.now();
    // One request per page of rollouts (each with its latest verdict), not one per rollout.
    const statuses = [];
    let page = await api("/v1/overview?limit=100");
    statuses.push(...page.rollouts);
    while (page.next_offset !== null && page.next_offset !== undefined && statuses.length < 1000) {
      page = await api(`/v1/overview?limit=100&offset=${page.next_offset}`);
      statuses.push(...page.rollouts);
    }
    const views = statuses.map((st) => ({ analysis: st.analysis_computed_at
      ? { verdict: st.verdict, srm: { mismatch: st.srm_mismatch } } : null }));
    const filter = state.filter || "attention";
    let rows = statuses.map((st, i) => ({ st, view: views[i], why: attention(st, views[i]) }));
    if (filter === "attention") rows.sort((a, b) => (b.why.length > 0) - (a.why.length > 0));
    else if (filter !== "all") rows = rows.filter((r) => r.st.status === filter);
    const radios = h("fieldset", { class: "filters" }, h("legend", {}, "Show"),
      FILTERS.map(([k, label]) => h("label", {},
        h("input", { type: "radio", name: "filter", value: k, checked: k === filter,
          onchange: () => { state.filter = k; window.DashApp.render(); } }), ` ${label}`)));
    const table = h("table", { class: "rollouts", id: "overview" },
      h("caption", {}, `${statuses.length} rollouts`),
      h("thead", {}, h("tr", {}, ["Rollout", "Status", "Stage", "Time left", "A/B verdict",
        "Worst guardrail", "Attention"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map(({ st, view, why }) => {
        const a = view && view.analysis;
        const worst = st.guardrail_summary ? dash(st.guardrail_summary.worst) : "none configured";
        return h("tr", { "data-rollout": st.name, class: why.length ? "attention" : "" },
          h("th", { scope: "row" }, h("a", { href: `#/r/${encodeURIComponent(st.name)}` }, st.name)),
          h("td", {}, statusBadge(st.status)),
          h("td", { class: "stage" }, stageText(st)),
          h("td", {}, st.time_left_secs === null || st.time_left_secs === undefined ? "—" : dur(st.time_left_secs)),
          h("td", {}, a ? verdictWords(a.verdict) : "—"),
          h("td", { class: `gr-${worst}` }, worst.replace(/_/g, " ")),
          h("td", {}, why.length ? `⚠ ${why.join(", ")}` : "—"));
      })));
    root.replaceChildren(h("h2", {}, "Rollouts"), liveness(statuses[0], now), radios, table);
  }

  // ---- one rollout -------------------------------------------------------------------
  function timeline(st, ts, history, now) {
    const entered = {};
    for (const e of history.events.slice().reverse()) entered[e.to_stage] = e.at;
    return h("ol", { class: "timeline", id: "timeline" }, (ts.stages || []).map((s) => {
      const cur = st.stage_index === s.index;
      const done = st.stage_index !== null && st.stage_index !== undefined && s.index < st.stage_index;
      const state = st.status === "completed" && cur ? "done" : cur ? "current" : done ? "done" : "next";
      const at = cur ? st.stage_entered_at : entered[s.index];
      const marks = [];
      if (cur && st.status === "paused") marks.push("‖ paused");
      if (cur && st.status === "blocked") marks.push("■ held");
      if (cur && st.status === "rolled_back") marks.push("↩ rolled back here");
      return h("li", { class: `stage ${state}`, "data-stage": s.index, "aria-current": cur ? "step" : false },
        h("span", { class: "mark", "aria-hidden": "true" }, state === "done" ? "✔" : cur ? "●" : "○"),
        h("strong", {}, `${s.index + 1}. ${s.kind}`), ` ${pct(s.percentage)}`,
        h("span", { class: "when" }, ` · ${state}`, at ? ` · entered ${new Date(at).toLocaleString()}` : "",
          cur && st.time_left_secs !== null && st.time_left_secs !== undefined
            ? h("span", { class: "countdown", "data-ends": Date.now() + st.time_left_secs * 1000 }, ` · ${dur(st.time_left_secs)} left`) : "",
          s.duration_secs ? ` · lasts ${dur(s.duration_secs)}` : ""),
        marks.length ? h("span", { class: "hold" }, ` · ${marks.join(", ")}${st.reason ? `: ${st.reason}` : ""}`) : "");
    }));
  }

  function abPanel(st, view, ts) {
    const a = view.analysis;
    const looks = (ts.analyses || []).slice().reverse();
    const sec = h("section", { id: "ab", "aria-labelledby": "ab-h" }, h("h3", { id: "ab-h" }, "A/B test"));
    if (!a && !looks.length) { sec.append(h("p", {}, "This rollout has no A/B stage.")); return sec; }
    const latest = a || looks[looks.length - 1].analysis || {};
    const stage = latest.stage || {};
    const srm = latest.srm || {};
    const units = st.units || (srm.observed) || {};
    const plan = st.planned_units || {};
    sec.append(h("p", { class: "verdict", id: "verdict" }, h("strong", {}, "Verdict: "), verdictWords(latest.verdict),
      ` · look ${dash(latest.look)} of ${dash(latest.looks)} · design ${dash(latest.design)}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Units (control / treatment)"), h("dd", {}, `${dash(units.control)} / ${dash(units.treatment)}`),
      h("dt", {}, "Planned units"), h("dd", {}, `${dash(plan.control)} / ${dash(plan.treatment)}`),
      h("dt", {}, "Information fraction"), h("dd", {}, num(latest.information_fraction)),
      h("dt", {}, "Sample ratio"), h("dd", {}, srm.mismatch === true ? `⚠ mismatch (p=${num(srm.p_value)})` : srm.mismatch === false ? `ok (p=${num(srm.p_value)})` : "—"),
      h("dt", {}, "Multiple exposure"), h("dd", {}, dash(latest.multiple_exposure && (latest.multiple_exposure.units ?? latest.multiple_exposure))),
      h("dt", {}, "Alpha"), h("dd", {}, num(stage.alpha)),
      h("dt", {}, "Looks stored"), h("dd", { id: "looks" }, String(looks.length)),
      h("dt", {}, "Analysis computed"), h("dd", { id: "computed-at" }, a && a.computed_at ? new Date(a.computed_at).toLocaleString() : "—")));
    for (const m of latest.metrics || []) {
      const pts = looks.map((l) => {
        const mm = ((l.analysis || {}).metrics || []).find((x) => x.metric === m.metric) || {};
        return { t: Date.parse(l.taken_at), y: mm.lift, lo: mm.ci_low, hi: mm.ci_high, p: mm.sequential_p_value ?? mm.p_value,
          z: mm.statistic, bound: mm.boundary };
      });
      const lines = [{ y: 0, label: "no effect", kind: "zero" }];
      if (C.finite(stage.min_effect) && stage.min_effect > 0) lines.push({ y: stage.min_effect, label: "min effect", kind: "bound" });
      sec.append(h("article", { class: "metric", "data-metric": m.metric },
        h("h4", {}, `${m.metric} (${dash(m.test)}, ${dash(m.direction)})`),
        h("p", {}, `Effect ${num(m.lift)} [${num(m.ci_low)}, ${num(m.ci_high)}] · relative ${C.finite(m.relative_lift) ? pct(m.relative_lift * 100) : "—"} · `,
          `control n=${dash(m.control && m.control.n)} mean ${num(m.control && m.control.mean)} · treatment n=${dash(m.treatment && m.treatment.n)} mean ${num(m.treatment && m.treatment.mean)} · `,
          `P(T>C) ${num(m.prob_treatment_better)} · ${verdictWords(m.verdict)}`),
        h("figure", { class: "ab-effect" }, C.line({ points: pts.map((p) => ({ t: p.t, y: p.y, lo: p.lo, hi: p.hi })), lines, label: `${m.metric}: effect and its interval at each look` }),
          h("figcaption", {}, "Effect (treatment − control) with its interval, one point per look")),
        h("figure", { class: "ab-p" }, C.line({ points: pts.map((p) => ({ t: p.t, y: p.p })), lines: [{ y: stage.alpha, label: "alpha", kind: "bound" }], yMin: 0,
          label: `${m.metric}: sequential p-value at each look against alpha` }),
        h("figcaption", {}, "Sequential p-value against alpha, one point per look")),
        pts.some((p) => C.finite(p.bound)) ? h("figure", { class: "ab-boundary" },
          C.line({ points: pts.map((p) => ({ t: p.t, y: p.z, bound: p.bound })), lines: [{ y: 0, label: "no effect", kind: "zero" }],
            label: `${m.metric}: test statistic at each look against the design's decision boundary` }),
          h("figcaption", {}, "Test statistic at each look; dashed: the decision boundary (±), crossing it decides")) : ""));
    }
    return sec;
  }

  function guardrailPanel(view, ts) {
    const sec = h("section", { id: "guardrails", "aria-labelledby": "gr-h" }, h("h3", { id: "gr-h" }, "Guardrails"));
    if (!(ts.guardrails || []).length) { sec.append(h("p", {}, "No guardrails configured.")); return sec; }
    const pts = (ts.guardrail_points || []).slice().reverse();
    for (const g of ts.guardrails) {
      const mine = pts.filter((p) => p.guardrail === g.name);
      const last = (view.guardrails || []).find((r) => r.guardrail === g.name) || mine[mine.length - 1];
      const lines = [];
      if (C.finite(g.max)) lines.push({ y: g.max, label: "max", kind: "bound" });
      if (C.finite(g.min)) lines.push({ y: g.min, label: "min", kind: "bound" });
      const bound = C.finite(g.max_degradation) ? `at most ${pct(g.max_degradation * 100)} worse than control (worse when ${g.worse_when})`
        : [C.finite(g.min) ? `≥ ${g.min}` : "", C.finite(g.max) ? `≤ ${g.max}` : ""].filter(Boolean).join(" and ");
      const n = last ? last.n : undefined;
      sec.append(h("article", { class: "guardrail", "data-guardrail": g.name },
        h("h4", {}, `${g.name}${g.metric ? ` (${g.metric})` : ""} · ${g.severity}`),
        h("p", {}, `Bound: ${bound || "—"} · last: ${last ? `${last.status.replace(/_/g, " ")} ${num(last.value)}` : "—"}`,
          ` · breaches in a row ${last ? last.consecutive : "—"} of ${g.consecutive}`,
          ` · samples ${dash(n)} of ${g.min_samples} needed${C.finite(n) ? (n >= g.min_samples ? " ✓" : " (not enough)") : ""}`),
        h("figure", {}, C.line({ points: mine.map((p) => ({ t: Date.parse(p.evaluated_at), y: p.value, mark: p.status === "breach" ? "breach" : undefined })),
          lines, label: `${g.name}: value at each evaluation against its bound; breaches are crosses` }),
        h("figcaption", {}, `${mine.length} evaluations shown; a cross marks a breach`))));
    }
    return sec;
  }

  function flagsPanel(st, flags) {
    const mine = (flags.flags || []).filter((f) => f.rollout === st.name);
    return h("section", { id: "flags", "aria-labelledby": "fl-h" }, h("h3", { id: "fl-h" }, "Flags"),
      h("table", { id: "flags-table" },
        h("caption", {}, "Flags this rollout writes now · rollout is ", h("strong", { class: "flags-status" }, (STATUS[st.status] || ["", st.status])[1])),
        h("thead", {}, h("tr", {}, ["Flag", "Value", "Updated", "By", "Why"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, mine.map((f) => h("tr", {}, h("th", { scope: "row" }, h("code", {}, f.key)), h("td", {}, h("code", {}, f.value)),
          h("td", {}, new Date(f.updated_at).toLocaleString()), h("td", {}, f.updated_by), h("td", {}, f.reason))))),
      unitBox(st.name));
  }

  function unitBox(name) {
    const out = h("div", { class: "assign-out", "aria-live": "polite" });
    const input = h("input", { id: "unit", name: "unit", autocomplete: "off", required: true });
    const form = h("form", { class: "assign", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const a = await api(`/v1/assign?rollout=${encodeURIComponent(name)}&unit=${encodeURIComponent(input.value)}`);
        out.replaceChildren(h("p", {}, `${a.unit}: A/B draw ${num(a.u_ab)} → ${dash(a.variant)} · rollout draw ${num(a.u_rollout)} vs ${pct(a.rollout_percentage)} → `,
          h("strong", {}, a.enabled ? "new path ON" : "new path off")));
      } catch (e) { out.replaceChildren(h("p", { class: "error" }, e.message)); }
    } }, h("label", { for: "unit" }, "Where does a unit go? "), input, h("button", { type: "submit" }, "Look up"));
    return h("div", {}, form, out);
  }

  function historyPanel(name, history, state) {
    const tbody = h("tbody", {});
    const addRows = (events) => tbody.append(...events.map((e) => h("tr", {},
      h("td", {}, new Date(e.at).toLocaleString()), h("td", {}, e.actor), h("td", {}, e.action),
      h("td", {}, `${e.from_status || "pending"} → ${e.to_status} (stage ${e.to_stage + 1})`), h("td", {}, e.reason),
      h("td", { class: "flags-written" }, Object.entries(e.flags || {}).map(([k, v]) => `${k}=${v === null ? "(removed)" : v}`).join(", ")))));
    addRows(history.events);
    let next = history.next_before;
    const more = h("button", { type: "button", hidden: !next, onclick: async () => {
      const page = await api(`/v1/rollouts/${encodeURIComponent(name)}/history?limit=50&before=${next}`);
      addRows(page.events); next = page.next_before; more.hidden = !next;
    } }, "Older");
    return h("section", { id: "history", "aria-labelledby": "hi-h" }, h("h3", { id: "hi-h" }, "History (newest first)"),
      h("table", {}, h("thead", {}, h("tr", {}, ["When", "Who", "What", "Move", "Why", "Flags written"].map((t) => h("th", { scope: "col" }, t)))), tbody), more);
  }

  async function rollout(root, name, state) {
    const enc = encodeURIComponent(name);
    const [view, ts, history, flags, learning, webhooks] = await Promise.all([
      api(`/v1/rollouts/${enc}`), api(`/v1/rollouts/${enc}/timeseries?limit=1000`),
      api(`/v1/rollouts/${enc}/history?limit=50`), api("/v1/flags"),
      api(`/v1/rollouts/${enc}/learning?limit=100`).catch(() => null),
      api(`/v1/rollouts/${enc}/webhooks?limit=20`).catch(() => null)]);
    const P = window.DashPanels;
    const now = Date.now();
    const st = view;
    root.replaceChildren(
      h("p", {}, h("a", { href: "#/" }, "← all rollouts")),
      h("h2", { id: "rollout-name" }, name, " ", statusBadge(st.status)),
      h("p", { class: "position", id: "position" }, h("strong", {}, "Stage "), h("span", { id: "stage" }, stageText(st)),
        st.reason ? ` · ${st.reason}` : ""),
      liveness(st, now),
      window.DashActions.bar(st),
      h("section", { "aria-labelledby": "tl-h" }, h("h3", { id: "tl-h" }, "Stages"), timeline(st, ts, history, now)),
      abPanel(st, view, ts), guardrailPanel(view, ts), flagsPanel(st, flags), P.learningPanel(name, learning),
      historyPanel(name, history, state), P.webhookPanel(name, webhooks));
  }

  return { h, api, overview, rollout, dur, statusBadge };
})();
