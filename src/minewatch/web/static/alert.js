/* One alert, for someone who is not a specialist: before/after, where, since when, which
   licence, who is downstream, how sure, and what the review said (analysts review it here). */
"use strict";

const ALERT_ID = document.getElementById("alert").dataset.alertId;
const NEXT = {"new": ["pre-validated"], "pre-validated": ["validated", "rejected"], "validated": ["audited"],
  "rejected": ["audited"], "audited": []};
const ACTIONS = {"pre-validated": () => t("Pre-validate"), "validated": () => t("Validate"),
  "rejected": () => t("Reject"), "audited": () => t("Mark audited")};

function centroid(geometry) {
  let sx = 0, sy = 0, n = 0;
  const visit = (c) => { if (typeof c[0] === "number") { sx += c[0]; sy += c[1]; n++; } else c.forEach(visit); };
  visit(geometry.coordinates);
  return n ? [sx / n, sy / n] : null;
}
function bbox(geometry) {
  let b = null;
  const visit = (c) => {
    if (typeof c[0] === "number") b = b ? [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])] : [c[0], c[1], c[0], c[1]];
    else c.forEach(visit);
  };
  visit(geometry.coordinates);
  return b;
}

function miniMap(container, runId, which, geometry) {
  const b = bbox(geometry);
  const pad = Math.max(b[2] - b[0], b[3] - b[1], 0.001) * 1.2;
  const sources = {outline: {type: "geojson", data: {type: "Feature", geometry, properties: {}}}};
  const layers = [{id: "bg", type: "background", paint: {"background-color": "#dfe6e9"}}];
  if (runId) {
    sources.img = {type: "raster", tileSize: 256, tiles: [`${location.origin}${MW.ui}/tiles/${encodeURIComponent(runId)}/${which}/{z}/{x}/{y}.png`]};
    layers.push({id: "img", type: "raster", source: "img", paint: {"raster-resampling": "nearest"}});
  }
  layers.push({id: "outline", type: "line", source: "outline", paint: {"line-color": "#ffdd00", "line-width": 2.5}});
  const box = [[b[0] - pad, b[1] - pad], [b[2] + pad, b[3] + pad]];
  const m = new maplibregl.Map({container, style: {version: 8, sources, layers}, attributionControl: false,
    center: [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2], zoom: 15});
  m.on("load", () => {
    m.resize();
    m.fitBounds(box, {duration: 0, padding: 10});
    m.once("idle", () => { document.getElementById(container).dataset.loaded = "true"; });
  });
  return m;
}

function daysAgo(iso) { return Math.max(0, Math.round((Date.now() - Date.parse(iso + "T00:00:00Z")) / 86400000)); }

function renderHistory(history) {
  const list = document.getElementById("review-history");
  list.replaceChildren(...history.map((h) => el("li", {},
    el("strong", {text: reviewLabel(h.state || h.to_state)}), " · ",
    t("by %(who)s on %(when)s", {who: h.changed_by || h.by || "—", when: date(h.changed_at || h.at)}),
    h.comment ? el("q", {text: h.comment}) : null)));
  if (!history.length) list.replaceChildren(el("li", {text: t("No review yet: nobody has checked this alert.")}));
}

const CURRENT = {state: "new"};

function renderReview(a) {
  const state = reviewState(a);
  CURRENT.state = state;
  document.getElementById("review-state").replaceChildren(
    t("Review state: "), el("span", {class: "state state-" + state, id: "review-state-value", text: reviewLabel(state)}),
    (a.review ? a.review.published : a.published) ? " · " + t("published") : " · " + t("not public"));
  renderHistory((a.review && a.review.history) || []);
  const form = document.getElementById("review-form");
  form.hidden = !canReview() || !(NEXT[state] || []).length;
  document.getElementById("review-publish-box").hidden = !(NEXT[state] || []).includes("validated");
  const buttons = document.getElementById("review-buttons");
  buttons.replaceChildren(...(NEXT[state] || []).map((to) => el("button", {type: "button", "data-state": to,
    class: "review-" + to, text: ACTIONS[to](), onclick: () => review(to)})));
}

async function review(to) {
  const msg = document.getElementById("review-message");
  msg.textContent = "";
  try {
    const body = {state: to, comment: document.getElementById("review-comment").value || null, expected: CURRENT.state};
    if (to === "validated") body.publish = document.getElementById("review-publish").checked;
    await api(`/alerts/${encodeURIComponent(ALERT_ID)}/reviews`, {method: "POST", body});
    document.getElementById("review-comment").value = "";
    msg.textContent = t("Saved: the alert is now %(state)s.", {state: reviewLabel(to)});
    renderReview(await load());
  } catch (e) {
    msg.textContent = t("Could not save the review: %(error)s", {error: e.message});
  }
}

async function load() {
  const a = await api(`/alerts/${encodeURIComponent(ALERT_ID)}`);
  const alert = a.type === "Feature" ? Object.assign({}, a.properties, {geometry: a.geometry}) : a;
  return alert;
}

async function show() {
  await MW.ready;
  let a;
  try {
    a = await load();
  } catch (e) {
    document.getElementById("alert-lead").textContent = e.status === 404
      ? t("There is no alert %(id)s, or it is not public yet.", {id: ALERT_ID})
      : t("Could not load the alert: %(error)s", {error: e.message});
    return;
  }
  const level = levelOf(a);
  const outside = a.licence_status_at_onset !== "active";
  document.getElementById("alert-lead").textContent = t(
    "About %(area)s ha of land turned into mining ground (a pit, a dump, tailings or a mine pond), first seen on %(date)s.",
    {area: num(a.area_ha, 2), date: date(a.onset_date)})
    + " " + (outside ? t("It lies outside any licence valid at that time.") : t("It lies inside a licence valid at that time."));
  const c = a.geometry ? centroid(a.geometry) : null;
  document.getElementById("fact-where").replaceChildren(
    c ? t("%(lat)s, %(lon)s (latitude, longitude)", {lat: c[1].toFixed(5), lon: c[0].toFixed(5)}) : "—",
    a.site_id ? el("span", {}, " · ", el("a", {href: MW.ui + "/sites/" + encodeURIComponent(a.site_id), text: t("site %(id)s", {id: a.site_id})})) : "");
  document.getElementById("fact-since").textContent = a.onset_date
    ? t("%(date)s (%(days)s days ago)", {date: date(a.onset_date), days: daysAgo(a.onset_date)}) : "—";
  document.getElementById("fact-area").textContent = t("%(area)s ha (a football pitch is about 0.7 ha)", {area: num(a.area_ha, 2)});
  document.getElementById("fact-licence").textContent = a.licence_id
    ? t("Licence %(id)s, %(status)s when the change began", {id: a.licence_id, status: licenceLabel(a.licence_status_at_onset)})
    : t("No licence covered this place when the change began");
  const sure = t("certainty %(words)s (%(conf)s on a 0 to 1 scale)", {words: certainty(a.confidence), conf: num(a.confidence, 2)});
  document.getElementById("fact-sure").textContent = a.confidence === null || a.confidence === undefined
    ? (level ? LEVELS[level]() : "—") : (level ? LEVELS[level]() + ": " + sure : sure);
  const ev = a.evidence || {};
  document.getElementById("fact-evidence").textContent = ev.manifest_sha256
    ? t("manifest SHA-256 %(hash)s (%(signed)s)", {hash: ev.manifest_sha256.slice(0, 16) + "…",
      signed: ev.signed ? t("signed") : t("not signed")})
    : t("no evidence recorded");
  let layers = null;
  if (a.run_id && canRead()) {
    try { layers = await api(`${MW.ui}/runs/${encodeURIComponent(a.run_id)}/layers`); } catch (e) { layers = null; }
  }
  const ownId = a.run_alert_id || a.alert_id;
  const downstream = (a.receptors_downstream && a.receptors_downstream.length) ? a.receptors_downstream
    : (layers ? layers.receptors_at_risk.filter((r) => (r.alert_ids || []).includes(ownId)) : []);
  const ds = document.getElementById("fact-downstream");
  ds.replaceChildren(downstream.length
    ? el("ul", {}, ...downstream.map((r) => el("li", {text: t("%(name)s (%(kind)s), %(km)s km along the flow path",
      {name: r.name || r.receptor_id, kind: kindLabel(r.kind), km: num((r.flow_distance_m || 0) / 1000, 1)})})))
    : (layers ? t("No village, intake or well lies on the water's path downstream.")
      : (canRead() ? t("not assessed (no run outputs on this server)") : t("shown to signed-in users"))));
  if (a.geometry) {
    const layerNames = layers ? layers.layers : [];
    miniMap("map-before", layerNames.includes("before") ? a.run_id : null, "before", a.geometry);
    miniMap("map-after", layerNames.includes("after") ? a.run_id : null, "after", a.geometry);
  }
  renderReview(a);
  document.getElementById("alert").dataset.loaded = "true";
}

show();
