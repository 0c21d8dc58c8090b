"""The self-contained HTML report of a run (images embedded as base64 PNG)."""

from __future__ import annotations

import base64

import jinja2

from minewatch.reports import figures


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("minewatch.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def headline(summary: dict) -> str:
    """One factual sentence: what changed, where, since when, how sure."""
    d = summary["disturbance"]
    if not d["total_area_ha"]:
        return (f"No new mining disturbance was detected between {summary['period']['start']} and "
                f"{summary['period']['end']}.")
    text = (f"{d['total_area_ha']:.1f} ha of land turned into mining ground (pits, dumps, tailings or mine "
            f"ponds) between {summary['period']['start']} and {summary['period']['end']}, first seen on "
            f"{d['first_date']}, in {len(summary['alerts'])} alert(s).")
    if d["outside_licence_area_ha"]:
        text += (f" {d['outside_licence_area_ha']:.1f} ha of it lay outside any licence valid at the time "
                 f"it began.")
    if summary["receptors_at_risk"]:
        names = ", ".join(f"{r['name']} ({r['kind'].replace('_', ' ')}, {r['flow_distance_m'] / 1000:.1f} km)"
                          for r in summary["receptors_at_risk"])
        text += f" Downstream along the flow path: {names}."
    return text


def render_report(summary: dict, arrays, alerts, risk, periods, receptors) -> str:
    """Render report.html for one run."""
    grid = arrays.grid
    start = summary["period"]["start"]
    end = summary["period"]["end"]
    labels = (f"year before {start}", f"year to {end}")
    dates = [s["date"] for s in summary["scenes_used"]]
    fig = {
        "map": _b64(figures.disturbance_map(grid, arrays.onset, arrays.after, arrays.onset_outside, periods,
                                            receptors, risk)),
        "before_after": _b64(figures.before_after(grid, arrays.before, arrays.after, periods, labels)),
        "area": _b64(figures.area_chart(summary["disturbance"]["timeline"])),
        "quality": _b64(figures.clear_chart(dates, arrays.clear_share, start)),
    }
    by_alert: dict[str, list[str]] = {}
    for r in summary["receptors_at_risk"]:
        for a in r["alert_ids"]:
            by_alert.setdefault(a, []).append(r["name"] or r["receptor_id"])
    site = summary.get("site") or summary["catalog"]
    return _env().get_template("report.html.j2").render(
        s=summary, fig=fig, labels=labels, title=site, headline=headline(summary),
        receptors_by_alert=by_alert, n_scenes=len(dates),
        n_history=sum(1 for x in summary["scenes_used"] if x["role"] == "history"),
    )
