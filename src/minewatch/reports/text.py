"""Sentences of the report and the alert sheets, in plain words, through the translator."""

from __future__ import annotations

import math

from minewatch.reports.i18n import Translator


def _(message: str) -> str:  # marks vocabulary for extraction; translated at use
    return message


#: Words that come from data (licence states, receptor kinds, alert levels) and are translated where shown.
VOCABULARY = (
    _("active"), _("expired"), _("suspended"), _("revoked"), _("not_yet_valid"), _("no_licence"),
    _("village"), _("water_intake"), _("well"), _("spring"), _("history"), _("monitored"),
    _("before"), _("after"), _("catalog"), _("licences"), _("receptors"), _("dem"),
    _("possible"), _("probable"), _("confirmed"), _("retracted"),
    # footprint classes (summary["footprint_legend"])
    _("not mine"), _("open pit"), _("waste dump / heap"), _("tailings"), _("mine water"), _("roads and pads"),
    _("rehabilitated"), _("other bare / natural water"), _("not assessed"),
)


#: Labels of the assessment codes (``assessment.tif``), translated where shown.
ASSESSMENT_LABELS = {0: _("assessed"), 1: _("no data"), 2: _("too few clear history observations"),
                     3: _("no clear observation in the monitored period")}


def word(t: Translator, value: str | None) -> str:
    """A data word (status, kind) in the report language, underscores as spaces if untranslated."""
    if value is None:
        return "—"
    out = t.gettext(value)
    return out.replace("_", " ") if out == value else out


def certainty(t: Translator, confidence: float | None) -> str:
    """Qualitative certainty of a mean confidence."""
    if confidence is None:
        return "—"
    if confidence >= 0.8:
        return t("high")
    if confidence >= 0.5:
        return t("moderate")
    return t("low")


def latlon(t: Translator, lat: float, lon: float) -> str:
    ns = t("N") if lat >= 0 else t("S")
    ew = t("E") if lon >= 0 else t("W")
    return f"{t.num(abs(lat), 5)}° {ns}, {t.num(abs(lon), 5)}° {ew}"


def disturbance_centre(alerts: list[dict]) -> tuple[float, float] | None:
    """Area-weighted centre (lat, lon) of all alert polygons (EPSG:4326)."""
    from shapely.geometry import shape

    tot = 0.0
    x = y = 0.0
    for a in alerts:
        g = shape(a["geometry"])
        c = g.centroid
        w = float(a.get("area_ha") or 0.0) or 1e-9
        x += c.x * w
        y += c.y * w
        tot += w
    if not tot or math.isnan(x):
        return None
    return y / tot, x / tot


def mean_confidence(alerts: list[dict]) -> float | None:
    area = sum(a["area_ha"] for a in alerts)
    if not alerts or not area:
        return None
    return sum(a["confidence"] * a["area_ha"] for a in alerts) / area


def headline(summary: dict, t: Translator | None = None) -> list[str]:
    """The executive summary: what changed, where, since when, how sure; one sentence per item."""
    t = t or Translator("en")
    d = summary["disturbance"]
    p = summary["period"]
    a = summary["assessment"]
    blind = sum(a["not_assessed_ha"].values())
    unseen = [t("%(area)s ha (%(share)s %% of the scene) could not be assessed (no data or too few clear observations): nothing is known there, which is not the same as no disturbance.",  # noqa: E501
                area=t.num(blind, 2), share=t.num(100 * (1 - a["assessed_share"]), 1))] if blind else []
    if not d["total_area_ha"]:
        if not blind:
            return [t("No new mining disturbance was detected between %(start)s and %(end)s.",
                      start=p["start"], end=p["end"])]
        return [t("No new mining disturbance was detected between %(start)s and %(end)s in the %(area)s ha that could be assessed.",  # noqa: E501
                  start=p["start"], end=p["end"], area=t.num(a["assessed_ha"], 2)), *unseen]
    out = [t("%(area)s ha of land turned into mining ground (pits, dumps, tailings or mine ponds) between %(start)s and %(end)s.",  # noqa: E501
             area=t.num(d["total_area_ha"], 2), start=p["start"], end=p["end"])]
    centre = disturbance_centre(summary["alerts"])
    if centre:
        out.append(t("Where: around %(where)s.", where=latlon(t, *centre)))
    out.append(t("Since when: the earliest change was first seen on %(date)s.", date=d["first_date"]))
    if d["outside_licence_area_ha"]:
        out.append(t("%(area)s ha of it lay outside any licence valid at the time it began.",
                     area=t.num(d["outside_licence_area_ha"], 2)))
    else:
        out.append(t("All of it lay inside licences valid at the time it began."))
    conf = mean_confidence(summary["alerts"])
    if conf is not None:
        out.append(t("How sure: %(level)s (mean confidence %(conf)s on a 0 to 1 scale).",
                     level=certainty(t, conf), conf=t.num(conf, 2)))
    if summary["receptors_at_risk"]:
        names = ", ".join(
            f"{r['name']} ({word(t, r['kind'])}, {t.num(r['flow_distance_m'] / 1000, 1)} km)"
            for r in summary["receptors_at_risk"])
        out.append(t("Downstream along the flow path: %(names)s.", names=names))
    return out + unseen


def note(t: Translator, text: str) -> str:
    """A warning note of the analysis in the report language (known notes; others as written)."""
    import re

    m = re.fullmatch(r"only (\d+) days of history before (\S+): seasonal model is weak", text)
    if m:
        return t("only %(n)s days of history before %(date)s: seasonal model is weak", n=m.group(1),
                 date=m.group(2))
    known = {
        "the catalog has no green band: blue stands in for green in the water index (MNDWI), the snow test "
        "and the true-colour pictures": t("the catalog has no green band: blue stands in for green in the water index (MNDWI), the snow test and the true-colour pictures"),  # noqa: E501
        "receptors given without --dem: downstream tracing skipped":
            t("receptors given without --dem: downstream tracing skipped"),
    }
    return known.get(text, text)


def footprint_sentence(summary: dict, t: Translator | None = None) -> str | None:
    """The site's footprint in one sentence, from ``footprint_by_year`` and ``environment`` only:
    how the pit and the dumps changed in the last year, the size the tailings (and their pond)
    reached, the mine water, and what was rehabilitated. ``None`` when no year holds mine ground."""
    t = t or Translator("en")
    rows = summary.get("footprint_by_year") or []
    if not rows or not any(r["mine_area_ha"] for r in rows):
        return None
    last = rows[-1]
    prev = rows[-2] if len(rows) > 1 else None
    year = last["year"]

    def ha(row, name):
        return row["classes"][name]["area_ha"]

    parts = []
    for name in ("open pit", "waste dump / heap"):
        now = ha(last, name)
        before = ha(prev, name) if prev else None
        if not now and not before:
            continue
        values = {"cls": t(name), "area": t.num(now, 2), "year": year,
                  "delta": t.num(abs(now - (before or 0.0)), 2)}
        if before is None or abs(now - before) < 1e-9:
            parts.append(t("the %(cls)s covered %(area)s ha in %(year)s", **values))
        elif now > before:
            parts.append(t("the %(cls)s grew by %(delta)s ha in %(year)s, to %(area)s ha", **values))
        else:
            parts.append(t("the %(cls)s shrank by %(delta)s ha in %(year)s, to %(area)s ha", **values))
    tail = ha(last, "tailings")
    if tail:
        env = {e["year"]: e for e in (summary.get("environment") or {}).get("years", [])}
        pond = (env.get(year) or {}).get("tailings_pond") or {}
        if pond.get("area_ha"):
            parts.append(t("the tailings reached %(area)s ha, %(pond)s ha of it pond water", area=t.num(tail, 2),
                           pond=t.num(pond["area_ha"], 2)))
        else:
            parts.append(t("the tailings reached %(area)s ha", area=t.num(tail, 2)))
    water = ha(last, "mine water")
    if water:
        parts.append(t("mine water covered %(area)s ha", area=t.num(water, 2)))
    rehab = ha(last, "rehabilitated")
    if rehab:
        parts.append(t("%(area)s ha were rehabilitated", area=t.num(rehab, 2)))
    if not parts:
        return None
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
