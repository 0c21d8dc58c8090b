"""The one-page alert sheet: what changed, where, when, against which licence, how sure, what is downstream."""

from __future__ import annotations

from minewatch.reports.html import env
from minewatch.reports.i18n import Translator
from minewatch.reports.text import certainty, latlon, word


def last_clear_before(rows: list[dict], onset: str) -> str | None:
    """Date of the last clear observation of the alert's pixels before its onset."""
    before = [r["date"] for r in rows if r["date"] < onset and r["clear_pixels"] > 0 and r["ndvi"] is not None]
    return before[-1] if before else None


def licence_sentence(t: Translator, alert: dict, licences: list[dict]) -> str:
    """Plain-language licence situation of an alert on its onset date."""
    onset = alert["onset_date"]
    if alert.get("licence_id"):
        lic = next((x for x in licences if x["licence_id"] == alert["licence_id"]), None)
        holder = f" ({lic['holder']})" if lic and lic.get("holder") else ""
        return t("Inside licence %(id)s%(holder)s, which authorised mining on %(date)s.",
                 id=alert["licence_id"], holder=holder, date=onset)
    touching = [x for x in licences if x["share_of_alert_inside"] >= 0.5]
    if not touching:
        return t("Outside every licence boundary supplied: no licence covered this land on %(date)s.", date=onset)
    lic = touching[0]
    state = alert["licence_status_at_onset"]
    if state == "not_yet_valid":
        return t("Inside the boundary of licence %(id)s, which was not yet valid on %(date)s (valid from %(from)s).",
                 id=lic["licence_id"], date=onset, **{"from": lic["valid_from"] or "—"})
    if state == "expired":
        return t("Inside the boundary of licence %(id)s, which had expired on %(date)s (valid to %(to)s).",
                 id=lic["licence_id"], date=onset, to=lic["valid_to"] or "—")
    return t("Inside the boundary of licence %(id)s, whose status on %(date)s (%(status)s) did not authorise mining.",
             id=lic["licence_id"], date=onset, status=word(t, state))


def render_sheet(t: Translator, *, site: str, alert: dict, centre: tuple[float, float] | None,
                 licences: list[dict], receptors: list[dict], water_assessed: bool, chips: dict[str, str],
                 series_png: str, rows: list[dict], composites: dict, period: dict, manifest_rel: str) -> str:
    """HTML of one alert sheet (images embedded as base64 PNG, so the file stands alone)."""
    prev = last_clear_before(rows, alert["onset_date"])
    n_clear = sum(1 for r in rows if r["clear_pixels"] > 0)
    return env(t).get_template("alert_sheet.html.j2").render(
        lang=t.lang, site=site, a=alert, where=latlon(t, *centre) if centre else "—",
        licence_text=licence_sentence(t, alert, licences), licences=licences, receptors=receptors,
        water_assessed=water_assessed, chips=chips, series=series_png, prev=prev, n_clear=n_clear,
        level=certainty(t, alert["confidence"]), composites=composites, period=period,
        manifest_rel=manifest_rel,
    )
