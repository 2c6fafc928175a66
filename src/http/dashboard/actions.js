// Actions: the admin token (kept in sessionStorage for this tab's session only: never a
// cookie, never on disk, never in a URL), the action buttons, and the confirmation that shows
// the server's dry run (GET .../preview: the exact flag diff) before anything is sent.
"use strict";
window.DashActions = (function () {
  const KEY = "rollout.adminToken";
  const { h, api } = window.Dash;

  const token = () => sessionStorage.getItem(KEY) || "";

  function setToken(t) {
    if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY);
    renderAuth();
    window.DashApp.render();
  }

  function renderAuth() {
    const box = document.getElementById("auth");
    const has = !!token();
    const input = h("input", { id: "token", type: "password", autocomplete: "off", spellcheck: "false" });
    box.replaceChildren(has
      ? h("p", { id: "mode", class: "mode admin" }, "Admin token set for this browser session. ",
        h("button", { type: "button", id: "forget", onclick: () => setToken("") }, "Forget it"))
      : h("form", { id: "token-form", onsubmit: (ev) => { ev.preventDefault(); setToken(input.value.trim()); } },
        h("p", { id: "mode", class: "mode readonly" }, "Read-only: enter the admin token to pause, resume, promote, roll back or restart. "),
        h("label", { for: "token" }, "Admin token "), input, " ", h("button", { type: "submit" }, "Use for this session")));
  }

  const ACTIONS = [
    ["pause", "Pause", ["running", "blocked"]],
    ["resume", "Resume", ["paused"]],
    ["promote", "Promote", ["pending", "running", "blocked", "paused"]],
    ["rollback", "Roll back", ["pending", "running", "blocked", "paused", "completed"]],
    ["restart", "Restart", ["rolled_back"]],
  ];

  function bar(st) {
    const has = !!token();
    return h("section", { id: "actions", "aria-labelledby": "ac-h" }, h("h3", { id: "ac-h" }, "Actions"),
      has ? "" : h("p", { class: "readonly-note" }, "Read-only: no admin token in this session, so no action can be sent."),
      h("div", { class: "buttons" }, ACTIONS.map(([a, label, when]) => h("button", {
        type: "button", "data-action": a, disabled: !has || !when.includes(st.status),
        onclick: () => confirmAction(st.name, a, label),
      }, label))));
  }

  function diffTable(p) {
    if (!p.flags.length) return h("p", { id: "no-diff" }, "No flag would change.");
    return h("table", { id: "diff" }, h("caption", {}, "Flags that will change"),
      h("thead", {}, h("tr", {}, ["Flag", "Now", "After"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, p.flags.map((f) => h("tr", {}, h("th", { scope: "row" }, h("code", {}, f.key)),
        h("td", {}, f.from === null ? "(absent)" : h("code", {}, f.from)),
        h("td", {}, f.to === null ? "(removed)" : h("code", {}, f.to))))));
  }

  const where = (pos) => pos ? `${pos.status.replace(/_/g, " ")}${pos.stage_index === null ? "" : `, stage ${pos.stage_index + 1}`}` : "—";

  async function confirmAction(name, action, label) {
    if (!token()) return;
    const dlg = document.getElementById("confirm");
    const needsReason = action === "rollback";
    const reason = h("textarea", { id: "reason", rows: 2, required: needsReason, maxlength: 1000 });
    const body = h("div", { id: "preview" }, h("p", {}, "Asking the daemon what would change…"));
    const error = h("p", { class: "error", role: "alert", id: "action-error" });
    const go = h("button", { type: "button", id: "confirm-go", disabled: true }, label);
    const cancel = h("button", { type: "button", id: "confirm-cancel", onclick: () => dlg.close() }, "Cancel");
    let preview = null;
    const ready = () => { go.disabled = !(preview && preview.allowed && preview.changes) || (needsReason && !reason.value.trim()); };
    async function load() {
      try {
        preview = await api(`/v1/rollouts/${encodeURIComponent(name)}/preview?action=${action}&reason=${encodeURIComponent(reason.value)}`);
        body.replaceChildren(
          preview.allowed ? h("p", { id: "move" }, `${where(preview.from)} → ${where(preview.to)}`) : h("p", { class: "error" }, `Not possible now: ${preview.refused}`),
          preview.allowed && !preview.changes ? h("p", {}, "Nothing to do: the rollout is already there.") : "",
          preview.allowed ? diffTable(preview) : "");
      } catch (e) { body.replaceChildren(h("p", { class: "error" }, e.message)); preview = null; }
      ready();
    }
    reason.addEventListener("input", ready);
    go.addEventListener("click", async () => {
      go.disabled = true;
      try {
        const r = await api(`/v1/rollouts/${encodeURIComponent(name)}/${action}`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token()}` },
          body: JSON.stringify({ reason: reason.value.trim(), actor: "dashboard" }),
        });
        dlg.close();
        window.DashApp.notice(`${label}: ${r.changed ? `done, ${Object.keys(r.flags || {}).length} flags written` : "nothing to do"}.`);
        window.DashApp.render();
      } catch (e) {
        if (e.status === 401) { sessionStorage.removeItem(KEY); renderAuth(); error.textContent = "The admin token was refused; enter it again."; }
        else { error.textContent = e.message; go.disabled = false; }
      }
    });
    dlg.replaceChildren(h("h2", { id: "confirm-title" }, `${label} ${name}?`), body,
      h("p", {}, h("label", { for: "reason" }, needsReason ? "Reason (required) " : "Reason (optional) "), reason),
      error, h("div", { class: "buttons" }, go, cancel));
    dlg.showModal();
    await load();
  }

  return { bar, renderAuth, token };
})();
