/* The map page: licences by status, alerts by level with an onset-date slider, the mining
   footprint, receptors and downstream flow paths over before/after imagery tiles of the
   site's latest run. No base map from the internet: the run's own imagery is the background. */
"use strict";

const EMPTY = {type: "FeatureCollection", features: []};
const state = {site: null, sites: [], run: null, alerts: [], minDay: 0, maxDay: 0};

const map = new maplibregl.Map({
  container: "map",
  style: {version: 8, sources: {}, layers: [{id: "background", type: "background", paint: {"background-color": "#dfe6e9"}}]},
  center: [0, 0], zoom: 1, attributionControl: false,
});
map.addControl(new maplibregl.NavigationControl({showCompass: false}));
map.addControl(new maplibregl.ScaleControl());
window.mwMap = map;

const TOGGLES = {
  "layer-after": ["imagery-after"], "layer-before": ["imagery-before"], "layer-footprint": ["footprint"],
  "layer-licences": ["licences-fill", "licences-line"], "layer-alerts": ["alerts-fill", "alerts-line"],
  "layer-receptors": ["receptors"], "layer-flowpaths": ["flowpaths"],
};

function addLayers() {
  for (const id of ["licences", "alerts", "receptors", "flowpaths"]) map.addSource(id, {type: "geojson", data: EMPTY});
  map.addLayer({id: "licences-fill", type: "fill", source: "licences",
    paint: {"fill-color": ["match", ["get", "status"], ...Object.entries(LICENCE_COLOURS).flat(), "#8d99ae"], "fill-opacity": 0.18}});
  map.addLayer({id: "licences-line", type: "line", source: "licences",
    paint: {"line-color": ["match", ["get", "status"], ...Object.entries(LICENCE_COLOURS).flat(), "#8d99ae"], "line-width": 2}});
  map.addLayer({id: "alerts-fill", type: "fill", source: "alerts",
    filter: ["<=", ["get", "onset_day"], 0],
    paint: {"fill-color": ["match", ["get", "level"], 1, LEVEL_COLOURS[1], 2, LEVEL_COLOURS[2], 3, LEVEL_COLOURS[3], LEVEL_COLOURS[0]], "fill-opacity": 0.55}});
  map.addLayer({id: "alerts-line", type: "line", source: "alerts",
    filter: ["<=", ["get", "onset_day"], 0],
    paint: {"line-color": "#6b0f1a", "line-width": 1.5}});
  map.addLayer({id: "flowpaths", type: "line", source: "flowpaths",
    paint: {"line-color": "#1d4ed8", "line-width": 2.5, "line-dasharray": [2, 1]}});
  map.addLayer({id: "receptors", type: "circle", source: "receptors",
    paint: {"circle-radius": 6, "circle-color": "#ffffff", "circle-stroke-color": "#1d3557", "circle-stroke-width": 2.5}});
  map.on("click", "alerts-fill", (e) => {
    const p = e.features[0].properties;
    const body = el("div", {},
      el("strong", {text: t("Alert %(id)s", {id: p.alert_id})}),
      el("div", {text: t("since %(date)s", {date: date(p.onset_date)})}),
      el("div", {text: t("%(area)s ha, %(level)s", {area: num(p.area_ha, 2), level: levelLabel({level: p.level})})}),
      el("a", {href: MW.ui + "/alerts/" + encodeURIComponent(p.alert_id), text: t("Open the alert")}));
    new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(body).addTo(map);
  });
  map.on("click", "receptors", (e) => {
    const p = e.features[0].properties;
    new maplibregl.Popup().setLngLat(e.lngLat).setText(`${p.name || p.receptor_id} (${kindLabel(p.kind)})`).addTo(map);
  });
  for (const id of ["alerts-fill", "receptors"]) {
    map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
  }
}

function setImagery(runId, layers) {
  for (const which of ["before", "after", "footprint"]) {
    const id = which === "footprint" ? "footprint" : "imagery-" + which;
    if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource(id)) map.removeSource(id);
    if (!runId || !layers.includes(which)) continue;
    map.addSource(id, {type: "raster", tileSize: 256, maxzoom: 18,
      tiles: [`${location.origin}${MW.ui}/tiles/${encodeURIComponent(runId)}/${which}/{z}/{x}/{y}.png`]});
    map.addLayer({id, type: "raster", source: id, paint: {"raster-opacity": which === "footprint" ? 0.8 : 1,
      "raster-resampling": "nearest"}}, "licences-fill");
  }
  applyToggles();
}

function applyToggles() {
  for (const [box, ids] of Object.entries(TOGGLES)) {
    const on = document.getElementById(box).checked;
    for (const id of ids) if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
  }
}

function applySlider() {
  const slider = document.getElementById("onset-slider");
  const day = parseInt(slider.value, 10);
  const filter = ["<=", ["get", "onset_day"], day];
  for (const id of ["alerts-fill", "alerts-line"]) if (map.getLayer(id)) map.setFilter(id, filter);
  const shown = state.alerts.filter((a) => a.onset_day <= day).length;
  document.getElementById("onset-label").textContent = state.alerts.length ? date(isoOfDay(day)) : t("no alerts");
  document.getElementById("alert-count").textContent = t("%(shown)s of %(total)s alerts shown", {shown, total: state.alerts.length});
  slider.setAttribute("aria-valuetext", document.getElementById("onset-label").textContent);
}

async function safe(promise, fallback) {
  try { return await promise; } catch (e) { console.warn(e); return fallback; }
}

async function loadSite(siteId) {
  state.site = siteId;
  const q = siteId ? "?site_id=" + encodeURIComponent(siteId) : "";
  const site = state.sites.find((s) => s.site_id === siteId);
  const bbox = site && site.geometry ? "&bbox=" + boundsOf([site]).join(",") : "";
  const reader = canRead();
  const [licences, alerts, receptors, runs] = await Promise.all([
    reader ? safe(api("/licences?limit=1000" + bbox), []) : [],
    safe(api("/alerts" + q + (q ? "&" : "?") + "limit=1000"), []),
    reader ? safe(api("/receptors?limit=1000" + bbox), []) : [],
    reader ? safe(api("/runs" + q), []) : [],
  ]);
  state.alerts = records(alerts).filter((a) => a.onset_date).map((a) => Object.assign(a, {
    level: levelOf(a), onset_day: dayNumber(a.onset_date)}));
  map.getSource("licences").setData(featureCollection(records(licences)));
  map.getSource("alerts").setData(featureCollection(state.alerts));
  map.getSource("receptors").setData(featureCollection(records(receptors)));
  const days = state.alerts.map((a) => a.onset_day);
  const slider = document.getElementById("onset-slider");
  state.minDay = days.length ? Math.min(...days) : 0;
  state.maxDay = days.length ? Math.max(...days) : 0;
  slider.min = state.minDay; slider.max = state.maxDay; slider.value = state.maxDay;
  slider.disabled = !days.length;
  applySlider();
  const okRuns = records(runs).filter((r) => !r.outcome || r.outcome === "ok")
    .sort((a, b) => String(b.finished_at || b.started_at).localeCompare(String(a.finished_at || a.started_at)));
  state.run = okRuns.length ? okRuns[0].run_id : null;
  const layers = state.run ? await safe(api(`${MW.ui}/runs/${encodeURIComponent(state.run)}/layers`), null) : null;
  map.getSource("flowpaths").setData(layers ? layers.flow_paths : EMPTY);
  setImagery(state.run, layers ? layers.layers : []);
  const bounds = layers && layers.bounds ? layers.bounds : boundsOf([...state.alerts, ...records(licences)]);
  if (bounds) map.fitBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]], {padding: 30, duration: 0, maxZoom: 15});
  const link = document.getElementById("site-link");
  link.replaceChildren(siteId ? el("a", {href: MW.ui + "/sites/" + encodeURIComponent(siteId), text: t("Site page and area over time")}) : "");
  const box = document.getElementById("map");
  Object.assign(box.dataset, {alerts: state.alerts.length, licences: records(licences).length,
    receptors: records(receptors).length, flowpaths: layers ? layers.flow_paths.features.length : 0});
  box.dataset.loaded = "true";
}

function boundsOf(rows) {
  let b = null;
  const visit = (c) => {
    if (typeof c[0] === "number") {
      b = b ? [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])] : [c[0], c[1], c[0], c[1]];
    } else c.forEach(visit);
  };
  rows.forEach((r) => r.geometry && visit(r.geometry.coordinates));
  return b;
}

function legend() {
  const box = document.getElementById("legend");
  const item = (colour, label, round) => el("div", {class: "legend-item"},
    el("span", {class: "swatch" + (round ? " round" : ""), style: `background:${colour}`}), label);
  box.replaceChildren(
    el("h3", {text: t("Alert level")}),
    ...[1, 2, 3].map((lv) => item(LEVEL_COLOURS[lv], LEVELS[lv]())), item(LEVEL_COLOURS[0], t("not graded")));
  if (!canRead()) return;
  box.append(
    el("h3", {text: t("Licence status")}),
    ...["active", "application", "expired", "suspended", "revoked", "relinquished"].map((s) => item(LICENCE_COLOURS[s], licenceLabel(s))),
    el("h3", {text: t("Footprint")}),
    item("rgb(170,60,200)", t("bare ground")), item("rgb(30,110,220)", t("open water")),
    el("h3", {text: t("Water")}),
    item("#ffffff", t("receptor"), true), item("#1d4ed8", t("downstream flow path")));
}

map.on("load", async () => {
  addLayers();
  for (const box of Object.keys(TOGGLES)) document.getElementById(box).addEventListener("change", applyToggles);
  document.getElementById("onset-slider").addEventListener("input", applySlider);
  await MW.ready;
  legend();
  for (const node of document.querySelectorAll("[data-readers]")) node.hidden = !canRead();
  for (const node of document.querySelectorAll("[data-public]")) node.hidden = canRead();
  const sites = canRead() ? records(await safe(api("/sites?limit=1000"), [])) : [];
  state.sites = sites;
  const select = document.getElementById("site-select");
  select.replaceChildren(...sites.map((s) => el("option", {value: s.site_id, text: s.name ? `${s.name} (${s.site_id})` : s.site_id})));
  if (!sites.length) select.append(el("option", {value: "", text: canRead() ? t("no sites in the registry") : t("all published alerts")}));
  const wanted = new URLSearchParams(location.search).get("site");
  if (wanted && sites.some((s) => s.site_id === wanted)) select.value = wanted;
  select.addEventListener("change", () => loadSite(select.value));
  await loadSite(select.value || null);
});
