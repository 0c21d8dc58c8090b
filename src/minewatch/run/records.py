"""Registry records through the API and the CLI: list (bbox, date, status, paging) as GeoJSON,
one record, licence history and the version valid on a date, create/update (admins), runs,
and recording a finished run folder (``minewatch demo``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

from shapely.geometry import mapping, shape

from minewatch.errors import InputError, NotFoundError
from minewatch.registry import Registry
from minewatch.registry.rows import BBox, to_date
from minewatch.registry.schema import spec_for
from minewatch.run.accounts import Principal, require

#: Kinds served by ``/api/records/{kind}`` (and their own routes).
KINDS = ("sites", "deposits", "licences", "parcels", "receptors", "operators",
         "sampling_points", "samples", "inspections", "monitoring_runs")
#: Kinds admins may create or update through the API.
EDITABLE = ("sites", "deposits", "licences", "parcels", "receptors", "operators",
            "sampling_points", "samples")


def _plain(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def _check_kind(kind: str, allowed: Sequence[str] = KINDS) -> str:
    if kind not in allowed:
        raise NotFoundError(f"no record kind {kind!r} here; one of {', '.join(allowed)}")
    return kind


def feature(row: dict, key: str) -> dict:
    g = row.get("geometry")
    props = {k: _plain(v) for k, v in row.items() if k != "geometry"}
    for k in ("extra", "inputs", "parameters"):
        if isinstance(props.get(k), str):
            try:
                props[k] = json.loads(props[k])
            except ValueError:
                pass
    return {"type": "Feature", "id": row.get(key),
            "geometry": mapping(g) if g is not None else None, "properties": props}


def list_records(reg: Registry, who: Principal, kind: str, *, bbox: BBox | None = None,
                 on: dt.date | str | None = None, status: str | None = None,
                 limit: int = 100, offset: int = 0) -> dict:
    """One page of a kind's records as a FeatureCollection with ``total``.

    ``on``: licences effective on that date (the version then in force); other kinds with a
    date field (samples ``sampled_at``, inspections ``date``, runs ``started_at``): that day.
    ``status``: licences' status (of the version in force on ``on``, else of any version).
    """
    require(who, "read")
    _check_kind(kind)
    if not (1 <= limit <= 1000) or offset < 0:
        raise InputError("limit must be 1..1000 and offset >= 0")
    spec = spec_for(kind)
    rows = reg.rows(kind, bbox=bbox)
    if on is not None:
        d = to_date(on)
        if spec.name == "licence_versions":
            rows = [r for r in rows if r["effective_from"] <= d
                    and (r["effective_to"] is None or r["effective_to"] > d)]
        else:
            field = next((f.name for f in spec.fields if f.type in ("date", "datetime")), None)
            if field is None:
                raise InputError(f"{kind} have no date to filter on")
            rows = [r for r in rows if r.get(field) is not None
                    and to_date(r[field]) == d]
    if status is not None:
        if "status" not in spec.field_names:
            raise InputError(f"{kind} have no status")
        rows = [r for r in rows if r.get("status") == status]
    page = rows[offset: offset + limit]
    return {"type": "FeatureCollection", "total": len(rows), "limit": limit, "offset": offset,
            "features": [feature(r, spec.key[0]) for r in page]}


def get_record(reg: Registry, who: Principal, kind: str, ident: str) -> dict:
    require(who, "read")
    _check_kind(kind)
    return feature(reg.get(kind, ident), spec_for(kind).key[0])


def licence_history(reg: Registry, who: Principal, licence_id: str) -> list[dict]:
    """Every version of a licence, oldest first, each with ``changes``."""
    require(who, "read")
    return [feature(v, "licence_id") for v in reg.licence_history(licence_id)]


def licence_on(reg: Registry, who: Principal, licence_id: str, on: dt.date | str) -> dict:
    """The version of a licence in force on a date, with ``valid``: whether it authorised
    work that day."""
    from minewatch.registry.schema import VALID_STATUSES

    require(who, "read")
    d = to_date(on)
    for v in reg.licence_history(licence_id):
        if v["effective_from"] <= d and (v["effective_to"] is None or v["effective_to"] > d):
            f = feature(v, "licence_id")
            f["properties"]["valid"] = bool(
                v["status"] in VALID_STATUSES and v["valid_from"] <= d
                and (v["valid_to"] is None or v["valid_to"] >= d))
            return f
    raise NotFoundError(f"licence {licence_id!r} has no version in force on {d}")


def save_records(reg: Registry, who: Principal, kind: str, features: Sequence[dict]) -> dict:
    """Create or update records (admins) from GeoJSON features or plain dicts; the import
    report, with the write recorded in the audit log."""
    require(who, "edit_registry")
    _check_kind(kind, EDITABLE)
    records = []
    for f in features:
        if not isinstance(f, dict):
            raise InputError("each record must be a JSON object")
        if f.get("type") == "Feature":
            rec = dict(f.get("properties") or {})
            if f.get("geometry") is not None:
                try:
                    rec["geometry"] = shape(f["geometry"])
                except Exception as exc:  # noqa: BLE001 - any malformed GeoJSON geometry
                    raise InputError(f"invalid GeoJSON geometry: {exc}") from None
        else:
            rec = dict(f)
        records.append(rec)
    if not records:
        raise InputError("no records given")
    report = reg.import_records(kind, records, source=f"api:{who.user_id}")
    out = report.as_dict()
    reg.access.audit(who.user_id, f"{kind}.save", None,
                     {k: out.get(k) for k in ("inserted", "updated", "unchanged")
                      if k in out} or None)
    return out


def list_runs(reg: Registry, who: Principal, *, site_id: str | None = None,
              limit: int = 100, offset: int = 0) -> dict:
    require(who, "read")
    rows = reg.rows("monitoring_runs")
    if site_id:
        rows = [r for r in rows if r.get("site_id") == site_id]
    rows.sort(key=lambda r: r.get("started_at") or dt.datetime.min.replace(
        tzinfo=dt.timezone.utc), reverse=True)
    return {"total": len(rows), "limit": limit, "offset": offset,
            "runs": [feature(r, "run_id")["properties"] for r in rows[offset: offset + limit]]}


def record_run_folder(reg: Registry, out: str | Path, *, site_id: str,
                      site_name: str | None = None, licences: str | Path | None = None,
                      receptors: str | Path | None = None) -> str:
    """Record a finished run folder (its ``summary.json``) in a registry: the site (the
    union of the scene's footprint), its licences and receptors imported, the run (with its
    folder as an absolute path) and its alerts. Returns the run id."""
    out = Path(out).resolve()
    summary = json.loads((out / "summary.json").read_text())
    lic_ids: list[str] = []
    rec_ids: list[str] = []
    if licences:
        reg.import_file(licences, "licences")
        lic_ids = sorted({r["licence_id"] for r in reg.rows("licences")})
    if receptors:
        reg.import_file(receptors, "receptors")
        rec_ids = [r["receptor_id"] for r in reg.rows("receptors")]
    bbox = summary.get("bbox_wgs84") or summary.get("bbox")
    geom = None
    if bbox and len(bbox) == 4:
        from shapely.geometry import box

        geom = box(*bbox)
    else:
        from shapely.ops import unary_union

        geoms = [shape(a["geometry"]) for a in summary.get("alerts", [])]
        geoms += [r["geometry"] for r in reg.rows("licences")]
        if geoms:
            geom = unary_union(geoms).envelope.buffer(0.01).envelope
    if geom is None:
        raise InputError(f"{out}: cannot tell the site's area (no bbox, alerts or licences)")
    reg.import_records("sites", [{"site_id": site_id, "name": site_name or site_id,
                                  "licence_ids": ",".join(lic_ids),
                                  "receptor_ids": ",".join(rec_ids), "geometry": geom}],
                       source=f"run folder {out}")
    run = summary.get("run", {})
    run_id = reg.record_run({"site_id": site_id, "started_at": run.get("started"),
                             "finished_at": run.get("finished"), "outcome": "ok",
                             "parameters": summary.get("parameters"),
                             "inputs": {"out": str(out)}})
    reg.record_alerts(run_id, [{**a, "site_id": site_id} for a in summary.get("alerts", [])])
    return run_id


def record_in_registry(registry: str | Path, out: str | Path, *, site_id: str,
                       site_name: str | None = None, licences: str | Path | None = None,
                       receptors: str | Path | None = None) -> str:
    """Create (or open) a registry and record a finished run folder in it; see
    :func:`record_run_folder`. Returns the run id."""
    from minewatch.registry import init_registry

    reg = init_registry(registry)
    try:
        return record_run_folder(reg, out, site_id=site_id, site_name=site_name,
                                 licences=licences, receptors=receptors)
    finally:
        reg.close()
