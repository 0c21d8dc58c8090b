/* minewatch dashboard: what every page shares (config, translation, the API, the signed-in user).
   Every user-facing text goes through t(message), translated by the server's catalogue. */
"use strict";
const MW = JSON.parse(document.getElementById("mw-config").textContent);

function t(message, values) {
  let text = MW.messages[message] || message;
  if (values) text = text.replace(/%\((\w+)\)s/g, (_, k) => (k in values ? String(values[k]) : ""));
  return text;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : null;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options) {
  const opts = Object.assign({credentials: "same-origin", headers: {}}, options || {});
  opts.headers = Object.assign({Accept: "application/json"}, opts.headers);
  if (opts.body && typeof opts.body !== "string" && !(opts.body instanceof FormData)) {
    opts.body = JSON.stringify(opts.body);
    opts.headers["Content-Type"] = "application/json";
  }
  if (opts.method && opts.method !== "GET") {
    const token = cookie("minewatch_csrf");
    if (token) opts.headers["X-CSRF-Token"] = token;
  }
  const res = await fetch(path.startsWith("/") && !path.startsWith(MW.api) && !path.startsWith(MW.ui) ? MW.api + path : path, opts);
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    const detail = body && (body.detail || body.error || body.message);
    throw new ApiError(res.status, typeof detail === "string" ? detail : JSON.stringify(detail || body));
  }
  return body;
}

/* Lists from the API come as a GeoJSON FeatureCollection, {items: [...]} or a plain list:
   give back flat records, each with its geometry under "geometry". */
function records(body) {
  const list = Array.isArray(body) ? body : (body.features || body.runs || body.items || []);
  return list.map((x) => (x && x.type === "Feature") ? Object.assign({}, x.properties, {geometry: x.geometry}) : x);
}

function featureCollection(rows) {
  return {type: "FeatureCollection", features: rows.filter((r) => r.geometry).map((r) => {
    const props = Object.assign({}, r); delete props.geometry;
    return {type: "Feature", geometry: r.geometry, properties: props};
  })};
}

const LEVELS = {1: () => t("possible"), 2: () => t("probable"), 3: () => t("confirmed")};
const LEVEL_COLOURS = {1: "#f2c14e", 2: "#f08a24", 3: "#d7263d", 0: "#b04a8f"};
const REVIEW_LABELS = {
  "new": () => t("new"), "pre-validated": () => t("pre-validated"), "validated": () => t("validated"),
  "rejected": () => t("rejected"), "audited": () => t("audited"),
};
const LICENCE_STATUS = {
  "active": () => t("active"), "application": () => t("application"), "expired": () => t("expired"),
  "suspended": () => t("suspended"), "revoked": () => t("revoked"), "relinquished": () => t("relinquished"),
  "not_yet_valid": () => t("not yet valid"), "no_licence": () => t("no licence"),
};
const LICENCE_COLOURS = {active: "#2a9d8f", application: "#8d99ae", expired: "#e9c46a",
  suspended: "#f4a261", revoked: "#e76f51", relinquished: "#6c757d"};

function levelOf(a) {
  const lv = a.level !== undefined && a.level !== null ? a.level : (a.extra && a.extra.level);
  if (typeof lv === "number") return lv;
  if (typeof lv === "string") return {possible: 1, probable: 2, confirmed: 3}[lv] || parseInt(lv, 10) || null;
  return null;
}
function levelLabel(a) { const lv = levelOf(a); return lv && LEVELS[lv] ? LEVELS[lv]() : "—"; }
function reviewLabel(s) { return REVIEW_LABELS[s] ? REVIEW_LABELS[s]() : (s || t("new")); }
function licenceLabel(s) { return LICENCE_STATUS[s] ? LICENCE_STATUS[s]() : (s || t("unknown")); }
function reviewState(a) { return (a.review && a.review.state) || a.review_state || "new"; }
function canRead() { return !!(MW.user && MW.user.may && MW.user.may.includes("read")); }
function canReview() { return !!(MW.user && MW.user.may && MW.user.may.includes("review")); }

/* Numbers and dates are formatted here, not by the browser's Intl (whose locale data may lack a
   language): the decimal mark comes from the server (as in the report), month names from the catalogue. */
function num(value, digits) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  const [whole, frac] = Number(value).toFixed(digits || 0).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, "\u2009");
  return frac ? grouped + MW.decimal + frac : grouped;
}
const MONTHS = [() => t("January"), () => t("February"), () => t("March"), () => t("April"), () => t("May"),
  () => t("June"), () => t("July"), () => t("August"), () => t("September"), () => t("October"),
  () => t("November"), () => t("December")];
function date(iso) {
  if (!iso) return "—";
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  return t("%(day)s %(month)s %(year)s", {day: d, month: MONTHS[m - 1](), year: y});
}
function certainty(c) {
  if (c === null || c === undefined) return "—";
  if (c >= 0.8) return t("high");
  if (c >= 0.5) return t("medium");
  return t("low");
}
function dayNumber(iso) { return Math.round(Date.parse(iso.slice(0, 10) + "T00:00:00Z") / 86400000); }
function isoOfDay(day) { return new Date(day * 86400000).toISOString().slice(0, 10); }

async function whoAmI() {
  try {
    MW.user = await api("/me");
  } catch (e) {
    MW.user = null;
  }
  const who = document.getElementById("whoami");
  const login = document.getElementById("login-link");
  const logout = document.getElementById("logout");
  if (MW.user && MW.user.user) {
    who.textContent = t("%(user)s (%(role)s)", {user: MW.user.user, role: roleLabel(MW.user.role)});
    login.hidden = true; logout.hidden = false;
  } else {
    who.textContent = t("public view");
  }
  return MW.user;
}
function kindLabel(kind) {
  return {village: t("village"), water_intake: t("water intake"), well: t("well"), spring: t("spring"),
    river_reach: t("river reach"), protected_area: t("protected area")}[kind] || kind || "";
}
function roleLabel(role) {
  return {admin: t("admin"), analyst: t("analyst"), viewer: t("viewer")}[role] || role;
}
document.getElementById("logout").addEventListener("click", async () => {
  try { await api("/session", {method: "DELETE"}); } finally { location.href = MW.ui + "/"; }
});
MW.ready = whoAmI();
