"""The self-contained HTML report of a run (images embedded as base64 PNG), in a chosen language."""

from __future__ import annotations

import base64
import functools

import jinja2

from minewatch.reports import figures
from minewatch.reports.i18n import LANGUAGES, Translator
from minewatch.reports.text import ASSESSMENT_LABELS, certainty, footprint_sentence, headline, note, word


def env(t: Translator) -> jinja2.Environment:
    """A Jinja environment whose ``_``/``ngettext`` translate with ``t`` and whose filters format
    numbers and data words in its language (one per language, templates compiled once)."""
    return _env(t.lang)


@functools.lru_cache(maxsize=None)
def _env(lang: str) -> jinja2.Environment:
    t = Translator(lang)
    e = jinja2.Environment(
        loader=jinja2.PackageLoader("minewatch.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    e.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)
    e.filters["num"] = lambda v, digits=2: t.num(v, digits)
    e.filters["word"] = lambda v: word(t, v)
    e.filters["certainty"] = lambda v: certainty(t, v)
    return e


#: The footprint classes of the report's table (the mine classes), by name.
FOOTPRINT_CLASSES_SHOWN = ("open pit", "waste dump / heap", "tailings", "mine water", "roads and pads", "rehabilitated")
#: The alerts table lists at most this many alerts (outside licence first, then the largest).
MAX_TABLE_ALERTS = 60


def b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def report_figures(result, summary: dict, t: Translator) -> dict[str, str]:
    """The report's figures as base64 PNG."""
    grid = result.grid
    r = result.rasters
    start = summary["period"]["start"]
    end = summary["period"]["end"]
    labels = (t("year before %(date)s", date=start), t("year to %(date)s", date=end))
    dates = [s["date"] for s in summary["scenes_used"]]
    return {
        "map": b64(figures.disturbance_map(grid, r.onset, r.level, r.after, result.compliance.outside, result.periods,
                                           result.receptors, result.risk, _=t)),
        "before_after": b64(figures.before_after(grid, r.before, r.after, result.periods, labels, _=t)),
        "area": b64(figures.area_chart(summary["disturbance"]["timeline"], _=t)),
        "quality": b64(figures.clear_chart(dates, r.clear_share, start, _=t)),
        "assessment": b64(figures.assessment_map(grid, r.assessment, ASSESSMENT_LABELS, _=t))
        if summary["assessment"]["assessed_share"] < 1 else None,
        "water_chart": b64(result.water.chart_png) if result.water.chart_png else None,
        "footprint_maps": b64(figures.footprint_maps(grid, result.classes.classes, result.classes.years,
                                                     summary["footprint_legend"], result.periods, _=t)),
        "footprint_area": b64(figures.footprint_area_chart(summary["footprint_by_year"], summary["footprint_legend"],
                                                           _=t)),
        "labels": labels,
    }


def render_report(result, summary: dict, *, lang: str = "en", provenance: dict | None = None,
                  alert_sheets: dict[str, str] | None = None) -> str:
    """Render report.html for one run.

    Parameters
    ----------
    result : minewatch.run.result.RunResult
        What the run computed.
    summary : dict
        Its summary (:func:`minewatch.run.result.build_summary`): every figure of the report is
        taken from it.
    lang : str
        Report language (see :data:`minewatch.reports.i18n.LANGUAGES`).
    provenance : dict, optional
        The provenance block of the evidence package; without it the report lists what the
        summary knows.
    alert_sheets : dict, optional
        ``{alert_id: relative link to its one-page sheet}``.
    """
    t = Translator(lang)
    shown = summary["alerts"]
    if len(shown) > MAX_TABLE_ALERTS:
        order = sorted(shown, key=lambda a: (a.get("retracted", False), a.get("level", 2) < 2,
                                             a.get("licence_id") is not None, -a["area_ha"], a["alert_id"]))
        keep = {a["alert_id"] for a in order[:MAX_TABLE_ALERTS]}
        shown = [a for a in shown if a["alert_id"] in keep]
    hidden = [a for a in summary["alerts"] if a not in shown]
    fig = report_figures(result, summary, t)
    by_alert: dict[str, list[str]] = {}
    for r in summary["receptors_at_risk"]:
        for a in r["alert_ids"]:
            by_alert.setdefault(a, []).append(r["name"] or r["receptor_id"])
    site = summary.get("site") or summary["catalog"]
    return env(t).get_template("report.html.j2").render(
        s=summary, fig=fig, labels=fig["labels"], title=site, headline=headline(summary, t),
        receptors_by_alert=by_alert, n_scenes=len(summary["scenes_used"]),
        n_history=sum(1 for x in summary["scenes_used"] if x["role"] == "history"),
        lang=lang, language=LANGUAGES[lang], prov=provenance, sheets=alert_sheets or {},
        water_assessed=result.water_assessed, alerts_shown=shown, n_hidden=len(hidden),
        hidden_ha=sum(a["area_ha"] for a in hidden), notes=[note(t, n) for n in summary["notes"]],
        footprint_sentence=footprint_sentence(summary, t), footprint_classes=FOOTPRINT_CLASSES_SHOWN,
    )
