// The dashboard's shell: the route (#/ the overview, #/r/NAME a rollout), the live feed
// (the flags stream, followed by the worker in live.js: every committed change re-reads the page's data, without a reload), a
// periodic refresh for numbers that change without a flag change (observations, ticks),
// and the countdowns.
"use strict";
window.DashApp = (function () {
  const { h } = window.Dash;
  const state = { filter: "attention" };
  let rendering = null, again = false;

  function route() {
    const m = location.hash.match(/^#\/r\/(.+)$/);
    return m ? { page: "rollout", name: decodeURIComponent(m[1]) } : { page: "overview" };
  }

  async function render() {
    if (rendering) { again = true; return rendering; }
    const main = document.getElementById("main");
    rendering = (async () => {
      const r = route();
      try {
        const next = h("div", {});
        if (r.page === "rollout") await window.Dash.rollout(next, r.name, state);
        else await window.Dash.overview(next, state);
        // Keep the keyboard focus, and what was typed, when the same element is drawn again.
        const focused = document.activeElement && document.activeElement.id;
        const typed = {};
        for (const i of main.querySelectorAll("input[id]:not([type=radio])")) typed[i.id] = i.value;
        main.replaceChildren(...next.childNodes);
        for (const [id, v] of Object.entries(typed)) {
          const i = document.getElementById(id);
          if (i) i.value = v;
        }
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        main.setAttribute("data-rendered", String(Date.now()));
      } catch (e) {
        main.replaceChildren(h("p", { class: "error", role: "alert" }, `Cannot load: ${e.message}`));
      }
    })();
    await rendering;
    rendering = null;
    if (again) { again = false; return render(); }
  }

  function notice(text) {
    document.getElementById("notice").textContent = text;
  }

  // The flags stream, followed by a worker (live.js); each snapshot or change redraws.
  function live() {
    const status = document.getElementById("live");
    if (!window.Worker) { status.textContent = "Live updates unavailable: refreshing every 5 s"; return; }
    const w = new Worker("/dashboard/live.js");
    w.onmessage = (ev) => {
      const m = ev.data || {};
      if (m.kind === "error") { status.textContent = "Live: reconnecting…"; return; }
      if (m.kind === "open") { status.textContent = "Live"; return; }
      status.textContent = `Live · flags version ${m.id}`;
      render();
    };
  }

  function tick() {
    for (const c of document.querySelectorAll(".countdown[data-ends]")) {
      c.textContent = ` · ${window.Dash.dur((Number(c.dataset.ends) - Date.now()) / 1000)} left`;
    }
  }

  function start() {
    window.DashActions.renderAuth();
    window.addEventListener("hashchange", () => { notice(""); render(); });
    render();
    live();
    setInterval(tick, 1000);
    setInterval(() => { if (!document.querySelector("dialog[open]")) render(); }, 5000);
  }

  document.addEventListener("DOMContentLoaded", start);
  return { render, notice };
})();
