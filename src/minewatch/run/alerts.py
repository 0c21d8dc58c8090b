"""Alerts as people read them: the filtered list, one alert with everything about it, and
its review (``new -> pre-validated -> validated | rejected -> audited``).

The anonymous public sees published alerts only; every role sees all of them. An alert's
page joins the registry (its licence versions at onset, the review and its history) to its
run's folder (receptors downstream, time series, chips and the evidence manifest's hash).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import replace
from pathlib import Path

from shapely.geometry import mapping

from minewatch.errors import NotFoundError
from minewatch.registry import Registry
from minewatch.registry.review import AlertQuery
from minewatch.run.accounts import Principal, require

EVIDENCE_DIR = "evidence"
#: Fields of an alert the anonymous public sees.
PUBLIC_FIELDS = ("alert_id", "site_id", "onset_date", "area_ha", "licence_id",
                 "licence_status_at_onset", "review_state", "published")


def _plain(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def alert_properties(row: dict, *, public: bool = False) -> dict:
    """An alert record's properties as JSON values (``extra`` unpacked)."""
    props = {k: _plain(v) for k, v in row.items() if k not in ("geometry", "extra")}
    extra = json.loads(row["extra"]) if row.get("extra") else {}
    for k in ("confidence", "level", "n_pixels", "area_by_year_ha", "run_alert_id"):
        if k in extra and k not in props:
            props[k] = extra[k]
    if public:
        props = {k: props.get(k) for k in PUBLIC_FIELDS}
    return props


def alert_feature(row: dict, *, public: bool = False) -> dict:
    g = row.get("geometry")
    return {"type": "Feature", "id": row["alert_id"],
            "geometry": mapping(g) if g is not None else None,
            "properties": alert_properties(row, public=public)}


def list_alerts(reg: Registry, who: Principal, query: AlertQuery) -> dict:
    """A GeoJSON FeatureCollection of one page of alerts, with ``total``, ``limit``,
    ``offset`` (the anonymous public: published alerts only, fewer fields)."""
    public = who.anonymous
    if public:
        query = replace(query, published_only=True)
    else:
        require(who, "read")
    total, rows = reg.reviews.list_alerts(query)
    return {"type": "FeatureCollection", "total": total, "limit": query.limit,
            "offset": query.offset,
            "features": [alert_feature(r, public=public) for r in rows]}


def _alert_for(reg: Registry, who: Principal, alert_id: str) -> dict:
    row = reg.reviews.alert(alert_id)
    if who.anonymous and not row["published"]:
        raise NotFoundError(f"no alert {alert_id!r}")  # unpublished alerts do not exist for them
    if not who.anonymous:
        require(who, "read")
    return row


def run_folder(reg: Registry, run_id: str | None) -> Path | None:
    """The output folder a run recorded (``None`` when unknown or gone)."""
    if not run_id:
        return None
    try:
        run = reg.run(run_id)
    except NotFoundError:
        return None
    inputs = run.get("inputs")
    out = (json.loads(inputs) if isinstance(inputs, str) else inputs or {}).get("out")
    return Path(out) if out and Path(out).is_dir() else None


def _licence_situation(reg: Registry, row: dict) -> dict:
    onset = row.get("onset_date")
    out = {"licence_id": row.get("licence_id"),
           "status_at_onset": row.get("licence_status_at_onset"),
           "inside_licence": row.get("licence_id") is not None, "version_at_onset": None,
           "licences_meeting_alert": []}
    if row.get("licence_id") and onset:
        try:
            for v in reg.licence_history(row["licence_id"]):
                if v["effective_from"] <= onset and (v["effective_to"] is None
                                                     or v["effective_to"] > onset):
                    out["version_at_onset"] = {k: _plain(v[k]) for k in (
                        "version", "status", "holder", "valid_from", "valid_to",
                        "effective_from", "effective_to", "source_document")}
        except NotFoundError:
            pass
    if row.get("geometry") is not None and onset:
        out["licences_meeting_alert"] = [
            {"licence_id": v["licence_id"], "version": v["version"], "status": v["status"],
             "holder": v["holder"]}
            for v in reg.licences_covering(row["geometry"], onset, valid_only=False)]
    return out


def _evidence(folder: Path | None, run_alert_id: str | None) -> dict:
    ev: dict = {"run_folder": str(folder) if folder else None, "manifest_sha256": None,
                "signed": None, "record": None}
    if folder is None:
        return ev
    manifest = folder / EVIDENCE_DIR / "manifest.json"
    if manifest.is_file():
        ev["manifest_sha256"] = hashlib.sha256(manifest.read_bytes()).hexdigest()
        ev["signed"] = (folder / EVIDENCE_DIR / "manifest.sig").is_file() or \
            (folder / EVIDENCE_DIR / "manifest.json.sig").is_file()
    if run_alert_id:
        rec = folder / EVIDENCE_DIR / "alerts" / run_alert_id / "alert.json"
        if rec.is_file():
            ev["record"] = json.loads(rec.read_text())
    return ev


def _time_series(folder: Path | None, run_alert_id: str | None, files: dict) -> list[dict]:
    """The alert's per-scene index means (``timeseries.csv`` of its evidence), numbers parsed."""
    import csv

    name = files.get("timeseries_csv")
    if folder is None or not run_alert_id or not name:
        return []
    path = folder / EVIDENCE_DIR / "alerts" / run_alert_id / name
    if not path.is_file():
        return []
    out = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            rec: dict = {}
            for k, v in row.items():
                if k in ("date", "item_id", "role"):
                    rec[k] = v
                else:
                    try:
                        rec[k] = float(v) if v != "" else None
                    except ValueError:
                        rec[k] = v
            out.append(rec)
    return out


def alert_detail(reg: Registry, who: Principal, alert_id: str) -> dict:
    """One alert as a GeoJSON Feature whose properties add ``licence``, ``receptors_downstream``,
    ``time_series`` (per scene: NDVI, BSI, MNDWI, SWIR1 means) and ``files`` (from the run's
    evidence), ``evidence`` (manifest hash) and
    ``review`` (state and history). The anonymous public gets the public fields only."""
    row = _alert_for(reg, who, alert_id)
    feature = alert_feature(row, public=who.anonymous)
    if who.anonymous:
        return feature
    props = feature["properties"]
    props["licence"] = _licence_situation(reg, row)
    folder = run_folder(reg, row.get("run_id"))
    ev = _evidence(folder, props.get("run_alert_id"))
    record = ev.pop("record") or {}
    props["receptors_downstream"] = record.get("receptors_downstream", [])
    props["licences_at_onset"] = record.get("licences_at_onset", [])
    props["files"] = record.get("files", {})
    props["time_series"] = _time_series(folder, props.get("run_alert_id"), props["files"])
    props["evidence"] = ev
    props["review"] = {"state": row["review_state"], "published": bool(row["published"]),
                       "history": [{k: _plain(v) for k, v in h.items()}
                                   for h in reg.reviews.history(alert_id)]}
    return feature


def verify_alert_evidence(reg: Registry, who: Principal, alert_id: str) -> dict:
    """Check the hashes (and signature) of the alert's run evidence, without a re-run."""
    from minewatch.run.verify import verify_run

    row = _alert_for(reg, who, alert_id)
    require(who, "read")
    folder = run_folder(reg, row.get("run_id"))
    if folder is None:
        return {"ok": False, "run_dir": None, "findings": [
            {"level": "fail", "subject": "run", "message": "the run's folder is not available"}]}
    return verify_run(folder, rerun=False, refetch=False).to_dict()


def alert_file(reg: Registry, who: Principal, alert_id: str, name: str) -> Path:
    """One file of the alert's evidence (a chip, its time series, its sheet): only the names
    its ``alert.json`` lists."""
    row = _alert_for(reg, who, alert_id)
    require(who, "read")
    folder = run_folder(reg, row.get("run_id"))
    run_alert_id = alert_properties(row).get("run_alert_id")
    if folder is None or not run_alert_id:
        raise NotFoundError(f"the evidence of alert {alert_id} is not available here")
    base = folder / EVIDENCE_DIR / "alerts" / run_alert_id
    record = base / "alert.json"
    files = json.loads(record.read_text()).get("files", {}) if record.is_file() else {}
    if name not in set(files.values()) or not (base / name).is_file():
        raise NotFoundError(f"alert {alert_id} has no evidence file {name!r}")
    return base / name


def review_alert(reg: Registry, who: Principal, alert_id: str, to_state: str, *,
                 comment: str | None = None, expected: str | None = None,
                 publish: bool | None = None) -> dict:
    """Move an alert through the review workflow (analysts and admins); see
    :meth:`minewatch.registry.review.Reviews.transition`."""
    require(who, "review")
    rec = reg.reviews.transition(alert_id, to_state, by=who.user_id, comment=comment,
                                 expected=expected, publish=publish)
    return {k: _plain(v) for k, v in rec.items()}


def review_history(reg: Registry, who: Principal, alert_id: str) -> list[dict]:
    _alert_for(reg, who, alert_id)
    require(who, "read")
    return [{k: _plain(v) for k, v in h.items()} for h in reg.reviews.history(alert_id)]
