"""Field work through the API: inspections (team, date, findings, photos kept with their own
SHA-256) attached to sites and alerts, and a sampling point's water samples compared with a
drinking-water standard (exceedances)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

from minewatch.errors import ConflictError, InputError, NotFoundError
from minewatch.registry import Registry
from minewatch.run.accounts import Principal, require

MAX_PHOTO_BYTES = 20 * 1024 * 1024


def _plain(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _inspection_out(reg: Registry, rec: dict) -> dict:
    from shapely.geometry import mapping

    g = rec.pop("geometry", None)
    rec["photos"] = [{k: v for k, v in p.items() if k != "geometry"} for p in rec["photos"]]
    rec["altered_photos"] = reg.verify_photos(rec["inspection_id"])
    return {"type": "Feature", "id": rec["inspection_id"],
            "geometry": mapping(g) if g is not None else None,
            "properties": {k: _plain(v) for k, v in rec.items()}}


def add_inspection(reg: Registry, who: Principal, inspection_id: str, date: dt.date | str, *,
                   team: str | None = None, findings: str | None = None,
                   site_id: str | None = None, alert_ids: Sequence[str] = (), geometry=None,
                   photos: Sequence[dict] = ()) -> dict:
    """Record a field inspection (analysts, admins). ``photos``: ``{"filename",
    "content_base64"}``; each is stored under its SHA-256 and listed with it."""
    require(who, "field")
    try:
        reg.inspection(inspection_id)
    except InputError:
        pass
    else:
        raise ConflictError(f"inspection {inspection_id!r} already exists")
    if site_id:
        reg.site(site_id)
    with tempfile.TemporaryDirectory(prefix="minewatch-photos-") as tmp:
        paths = []
        for i, ph in enumerate(photos):
            name = Path(str(ph.get("filename") or f"photo{i + 1}.jpg")).name
            if not name or name.startswith("."):
                raise InputError(f"photo {i + 1}: give a file name")
            try:
                data = base64.b64decode(ph.get("content_base64") or "", validate=True)
            except (binascii.Error, ValueError):
                raise InputError(f"photo {name}: content_base64 is not base64") from None
            if not data or len(data) > MAX_PHOTO_BYTES:
                raise InputError(f"photo {name}: empty or larger than {MAX_PHOTO_BYTES} bytes")
            folder = Path(tmp) / str(i)
            folder.mkdir()
            (folder / name).write_bytes(data)
            paths.append(folder / name)
        rec = reg.add_inspection(inspection_id, date, team=team, findings=findings,
                                 site_id=site_id, geometry=geometry, alert_ids=list(alert_ids),
                                 photos=paths)
    reg.access.audit(who.user_id, "inspection.add", inspection_id,
                     {"photos": [p["sha256"] for p in rec["photos"]],
                      "alert_ids": list(alert_ids)})
    return _inspection_out(reg, rec)


def inspection(reg: Registry, who: Principal, inspection_id: str) -> dict:
    """An inspection with its photos and which of them are missing or altered."""
    require(who, "read")
    try:
        rec = reg.inspection(inspection_id)
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    return _inspection_out(reg, rec)


def samples_with_exceedances(reg: Registry, who: Principal, point_id: str, *,
                             standard: str = "WHO-GDWQ-2022") -> dict:
    """A sampling point's samples; each result the standard sets a limit for gets its
    ``limit``, ``ratio`` and ``status`` (exceeds, below-range, ok, ok-non-detect,
    inconclusive, not-comparable); others are ``not-assessed``."""
    import pandas as pd

    from minewatch.analysis.water.exceedance import compare_with_standard
    from minewatch.analysis.water.standards import load_standards

    require(who, "read")
    reg.get("sampling_points", point_id)
    rows = reg.samples_at(point_id)
    table = load_standards()
    if standard not in set(table["standard"]):
        raise InputError(f"standard {standard!r}: one of {', '.join(sorted(set(table['standard'])))}")
    if not rows:
        return {"point_id": point_id, "standard": standard, "samples": [], "n_exceedances": 0}
    df = pd.DataFrame([{
        "sample_id": r["sample_id"], "station_id": point_id, "station_name": None,
        "date": _plain(r["sampled_at"]), "lat": None, "lon": None, "river": None,
        "parameter": r["parameter"], "fraction": r.get("medium") or "total",
        "value": float(r["value"]) if r["value"] is not None else math.nan,
        "qualifier": r.get("censored") or "",
        "detection_limit": float(r["detection_limit"]) if r.get("detection_limit") is not None
        else math.nan, "unit": r.get("unit") or "", "source_line": None, "source_column": None,
    } for r in rows])
    compared = compare_with_standard(df, table, standard)
    by_key = {(c.sample_id, c.parameter): c for c in compared.itertuples(index=False)}
    out = []
    for r in rows:
        c = by_key.get((r["sample_id"], r["parameter"]))
        item = {k: _plain(v) for k, v in r.items() if k != "extra"}
        if c is None:
            item.update(status="not-assessed", limit=None, ratio=None, exceeds=False)
        else:
            item.update(status=c.status, limit=_plain(float(c.limit)),
                        limit_unit=c.unit, ratio=_plain(float(c.ratio)),
                        exceeds=bool(c.exceeds))
        out.append(item)
    return {"point_id": point_id, "standard": standard, "samples": out,
            "n_exceedances": sum(x["exceeds"] for x in out)}
