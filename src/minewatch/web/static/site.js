/* A site: its area-over-time chart (new mining ground by month, and the part outside licence)
   from its latest run, and its alerts. */
"use strict";

const SITE_ID = document.getElementById("site").dataset.siteId;

function chart(timeline) {
  const box = document.getElementById("area-chart");
  if (!timeline.length) { box.textContent = t("No new mining ground was found at this site."); return; }
  const W = 640, H = 260, L = 56, R = 16, T = 14, B = 40;
  const months = timeline.map((r) => Date.parse(r.month + "-01T00:00:00Z"));
  const x0 = Math.min(...months), x1 = Math.max(...months) + 31 * 86400000;
  const ymax = Math.max(...timeline.map((r) => r.total_ha)) * 1.1 || 1;
  const sx = (v) => L + (v - x0) / (x1 - x0) * (W - L - R);
  const sy = (v) => H - B - v / ymax * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("Area over time"));
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n); return n;
  };
  const step = (key) => timeline.map((r, i) => `${i ? "L" : "M"}${sx(months[i]).toFixed(1)},${sy(r[key]).toFixed(1)}`
    + (i + 1 < timeline.length ? `L${sx(months[i + 1]).toFixed(1)},${sy(r[key]).toFixed(1)}` : `L${sx(x1).toFixed(1)},${sy(r[key]).toFixed(1)}`)).join("");
  add("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#555"});
  add("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#555"});
  for (let i = 0; i <= 4; i++) {
    const v = ymax * i / 4;
    add("line", {x1: L, y1: sy(v), x2: W - R, y2: sy(v), stroke: "#ddd"});
    add("text", {x: L - 6, y: sy(v) + 4, "text-anchor": "end", "font-size": 11}, num(v, 1));
  }
  const years = new Set(timeline.map((r) => r.month.slice(0, 4)));
  for (const y of years) {
    const xv = sx(Date.parse(`${y}-01-01T00:00:00Z`));
    if (xv >= L) add("text", {x: xv, y: H - B + 16, "text-anchor": "middle", "font-size": 11}, y);
  }
  add("text", {x: 12, y: T + (H - T - B) / 2, transform: `rotate(-90 12 ${T + (H - T - B) / 2})`, "text-anchor": "middle", "font-size": 11}, t("hectares"));
  add("path", {d: step("total_ha"), fill: "none", stroke: "#1d3557", "stroke-width": 2.5});
  add("path", {d: step("outside_licence_ha"), fill: "none", stroke: "#d7263d", "stroke-width": 2.5, "stroke-dasharray": "5 3"});
  add("text", {x: L + 8, y: T + 10, "font-size": 12, fill: "#1d3557"}, t("all new mining ground"));
  add("text", {x: L + 8, y: T + 26, "font-size": 12, fill: "#d7263d"}, t("outside a valid licence"));
  box.replaceChildren(svg);
  const last = timeline[timeline.length - 1];
  box.append(el("p", {text: t("By %(month)s: %(total)s ha in all, %(outside)s ha outside a valid licence.",
    {month: last.month, total: num(last.total_ha, 2), outside: num(last.outside_licence_ha, 2)})}));
}

(async () => {
  await MW.ready;
  const q = "?site_id=" + encodeURIComponent(SITE_ID);
  let site = {};
  if (canRead()) {
    try { site = await api("/sites/" + encodeURIComponent(SITE_ID)); } catch (e) { site = {}; }
  }
  if (site.type === "Feature") site = site.properties;
  if (site.name) document.getElementById("site-title").textContent = t("Site %(id)s", {id: site.name});
  let runs = [];
  if (canRead()) {
    try { runs = records(await api("/runs" + q)); } catch (e) { runs = []; }
  }
  const ok = runs.filter((r) => !r.outcome || r.outcome === "ok")
    .sort((a, b) => String(b.finished_at || b.started_at).localeCompare(String(a.finished_at || a.started_at)));
  let layers = null;
  if (ok.length) {
    try { layers = await api(`${MW.ui}/runs/${encodeURIComponent(ok[0].run_id)}/layers`); } catch (e) { layers = null; }
  }
  document.getElementById("site-lead").textContent = layers && layers.period
    ? t("Latest run: %(start)s to %(end)s.", {start: date(layers.period.start), end: date(layers.period.end)})
    : t("No run of this site has its outputs on this server.");
  chart(layers ? layers.timeline : []);
  let alerts = [];
  try { alerts = records(await api("/alerts" + q + "&limit=1000")); } catch (e) { alerts = []; }
  const list = document.getElementById("site-alerts");
  list.replaceChildren(...alerts.map((a) => el("li", {},
    el("a", {href: MW.ui + "/alerts/" + encodeURIComponent(a.alert_id), text: a.alert_id}),
    " · " + t("since %(date)s", {date: date(a.onset_date)}) + " · " + num(a.area_ha, 2) + " ha · " + reviewLabel(reviewState(a)))));
  if (!alerts.length) list.replaceChildren(el("li", {text: t("no alerts")}));
  document.getElementById("site").dataset.loaded = "true";
})();
