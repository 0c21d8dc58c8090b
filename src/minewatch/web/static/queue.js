/* The reviewers' alert queue: sortable columns, filters, arrow keys to move, Enter to open. */
"use strict";

const q = {rows: [], sort: "onset_date", desc: true};
const STATES = ["new", "pre-validated", "validated", "rejected", "audited"];

function visibleRows() {
  const state = document.getElementById("f-state").value;
  const level = document.getElementById("f-level").value;
  const licence = document.getElementById("f-licence").value;
  const text = document.getElementById("f-text").value.trim().toLowerCase();
  const out = q.rows.filter((a) => (!state || a.review_state === state)
    && (!level || String(a.level) === level)
    && (!licence || (licence === "inside") === (a.licence_status_at_onset === "active"))
    && (!text || [a.alert_id, a.site_id, a.licence_id].some((v) => v && String(v).toLowerCase().includes(text))));
  const key = q.sort, sign = q.desc ? -1 : 1;
  out.sort((a, b) => {
    const x = a[key], y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * sign;
  });
  return out;
}

function draw() {
  const rows = visibleRows();
  const body = document.querySelector("#queue tbody");
  body.replaceChildren(...rows.map((a) => {
    const href = MW.ui + "/alerts/" + encodeURIComponent(a.alert_id);
    const tr = el("tr", {tabindex: "0", "data-alert-id": a.alert_id, "data-href": href},
      el("td", {}, el("a", {href, text: a.alert_id, tabindex: "-1"})),
      el("td", {text: a.site_id || "—"}),
      el("td", {text: a.onset_date || "—"}),
      el("td", {class: "num", text: num(a.area_ha, 2)}),
      el("td", {}, el("span", {class: "level level-" + (a.level || 0), text: levelLabel(a)})),
      el("td", {text: certainty(a.confidence)}),
      el("td", {text: licenceLabel(a.licence_status_at_onset)}),
      el("td", {}, el("span", {class: "state state-" + a.review_state, text: reviewLabel(a.review_state)})));
    tr.addEventListener("dblclick", () => { location.href = href; });
    return tr;
  }));
  document.getElementById("queue-count").textContent = t("%(shown)s of %(total)s alerts", {shown: rows.length, total: q.rows.length});
  for (const b of document.querySelectorAll("th button")) {
    const th = b.parentElement;
    th.setAttribute("aria-sort", b.dataset.sort === q.sort ? (q.desc ? "descending" : "ascending") : "none");
  }
}

function onKey(e) {
  const target = e.target;
  if (e.key === "/" && target.tagName !== "INPUT" && target.tagName !== "TEXTAREA") {
    e.preventDefault(); document.getElementById("f-text").focus(); return;
  }
  const row = target.closest && target.closest("tbody tr");
  if (!row) {
    if ((e.key === "ArrowDown" || e.key === "j") && target.tagName !== "INPUT" && target.tagName !== "SELECT") {
      const first = document.querySelector("#queue tbody tr");
      if (first) { e.preventDefault(); first.focus(); }
    }
    return;
  }
  if (e.key === "ArrowDown" || e.key === "j") { e.preventDefault(); (row.nextElementSibling || row).focus(); }
  else if (e.key === "ArrowUp" || e.key === "k") { e.preventDefault(); (row.previousElementSibling || row).focus(); }
  else if (e.key === "Enter") { location.href = row.dataset.href; }
}

(async () => {
  await MW.ready;
  const fState = document.getElementById("f-state");
  for (const s of STATES) fState.append(el("option", {value: s, text: reviewLabel(s)}));
  const fLevel = document.getElementById("f-level");
  for (const lv of [1, 2, 3]) fLevel.append(el("option", {value: String(lv), text: LEVELS[lv]()}));
  try {
    q.rows = records(await api("/alerts?limit=1000")).map((a) => Object.assign(a, {
      level: levelOf(a), review_state: reviewState(a)}));
  } catch (e) {
    document.getElementById("queue-count").textContent = t("Could not load the alerts: %(error)s", {error: e.message});
  }
  for (const b of document.querySelectorAll("th button")) {
    b.addEventListener("click", () => {
      q.desc = q.sort === b.dataset.sort ? !q.desc : false;
      q.sort = b.dataset.sort; draw();
    });
  }
  for (const id of ["f-state", "f-level", "f-licence", "f-text"]) document.getElementById(id).addEventListener("input", draw);
  document.addEventListener("keydown", onKey);
  draw();
  document.getElementById("queue").dataset.loaded = "true";
})();
