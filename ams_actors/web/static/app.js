// The page's only script (no framework, no network but this station): day/camera pickers submit on
// change; review by buttons or keys (j/k move, c confirm, x reject, u undo), restore from the trash.
"use strict";
(function () {
  const canWrite = document.body.dataset.canWrite === "1";
  const undo = [];  // [{day, meteor, action}] to reverse, newest last
  const inverse = { reject: "restore", restore: "reject", confirm: "unreview", unreview: "confirm" };

  document.querySelectorAll("form.pick select").forEach((s) => s.addEventListener("change", () => s.form.submit()));

  function say(text) {
    document.querySelectorAll(".msg").forEach((m) => { m.textContent = text; });
  }

  async function send(day, meteor, action) {
    const r = await fetch("/api/review", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ day: day, meteor: meteor, action: action }),
    });
    const body = (r.headers.get("Content-Type") || "").startsWith("application/json") ? await r.json() : null;
    if (!r.ok) { throw new Error(body && body.error ? body.error : (r.status === 403 ? "read-only: log in to review" : "failed")); }
    return body;
  }

  function paint(day, meteor, action) {
    document.querySelectorAll(`[data-meteor="${CSS.escape(meteor)}"][data-day="${CSS.escape(day)}"]`).forEach((el) => {
      const state = action === "unreview" || action === "restore" ? "" : action;
      el.dataset.state = state;
      el.classList.toggle("gone", action === "reject");
      const s = el.querySelector(".state");
      const words = { confirm: "confirmed", reject: "rejected (in the trash)", restore: "restored, not reviewed" };
      if (s) { s.textContent = words[action] || "not reviewed"; }
    });
  }

  async function act(day, meteor, action, remember) {
    if (!canWrite) { say("read-only: log in to review"); return; }
    try {
      await send(day, meteor, action);
      paint(day, meteor, action);
      if (remember) { undo.push({ day: day, meteor: meteor, action: inverse[action] }); }
      say(`${meteor}: ${action}` + (remember ? " (u to undo)" : ""));
    } catch (e) { say(`${meteor}: ${e.message}`); }
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) { return; }
    const holder = b.dataset.meteor ? b : b.closest("[data-meteor]");
    if (b.dataset.action === "undo") { doUndo(); return; }
    act(holder.dataset.day, holder.dataset.meteor, b.dataset.action, true);
  });

  async function doUndo() {
    const last = undo.pop();
    if (!last) { say("nothing to undo"); return; }
    await act(last.day, last.meteor, last.action, false);
  }

  const items = () => Array.from(document.querySelectorAll(".reviewlist .item"));
  function selected() {
    return document.querySelector(".reviewlist .item.sel") || document.querySelector(".review[data-meteor]");
  }
  function move(step) {
    const all = items();
    if (!all.length) { return; }
    const i = Math.max(0, Math.min(all.length - 1, all.indexOf(selected()) + step));
    all.forEach((el) => el.classList.remove("sel"));
    all[i].classList.add("sel");
    all[i].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input, select, textarea") || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    const cur = selected();
    if (ev.key === "j") { move(1); } else if (ev.key === "k") { move(-1); } else if (ev.key === "u") { doUndo(); } else if ((ev.key === "c" || ev.key === "x") && cur) {
      act(cur.dataset.day, cur.dataset.meteor, ev.key === "c" ? "confirm" : "reject", true);
      if (cur.classList.contains("item")) { move(1); }
    } else { return; }
    ev.preventDefault();
  });
  document.querySelectorAll(".reviewlist .item").forEach((el) => el.addEventListener("click", (ev) => {
    if (ev.target.closest("a, button")) { return; }
    items().forEach((x) => x.classList.remove("sel"));
    el.classList.add("sel");
  }));
})();
