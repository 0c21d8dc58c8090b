"""Exports: alerts (with their review state) as GeoJSON / GeoPackage / CSV, a site's newest
report, a run's evidence package as a zip. Each returns an :class:`ExportFile` (bytes)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from minewatch.errors import InputError, NotFoundError
from minewatch.registry import Registry
from minewatch.registry.review import AlertQuery
from minewatch.run.accounts import Principal, require
from minewatch.run.alerts import EVIDENCE_DIR, list_alerts, run_folder

MEDIA = {"geojson": "application/geo+json", "csv": "text/csv; charset=utf-8",
         "gpkg": "application/geopackage+sqlite3", "html": "text/html; charset=utf-8",
         "pdf": "application/pdf", "zip": "application/zip"}
CSV_FIELDS = ("alert_id", "site_id", "run_id", "onset_date", "area_ha", "licence_id",
              "licence_status_at_onset", "confidence", "level", "review_state", "published",
              "reviewed_by", "reviewed_at", "wkt")
_PAGE = 1000


@dataclass(frozen=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes


def _all_features(reg: Registry, who: Principal, q: AlertQuery) -> list[dict]:
    feats: list[dict] = []
    q = replace(q, limit=_PAGE, offset=0)
    while True:
        page = list_alerts(reg, who, q)
        feats.extend(page["features"])
        if len(page["features"]) < _PAGE:
            return feats
        q = replace(q, offset=q.offset + _PAGE)


def export_alerts(reg: Registry, who: Principal, q: AlertQuery, fmt: str) -> ExportFile:
    """Every alert matching ``q`` (the public: published ones) in ``fmt``."""
    feats = _all_features(reg, who, q)
    if fmt == "geojson":
        body = json.dumps({"type": "FeatureCollection", "features": feats}, default=str)
        return ExportFile("alerts.geojson", MEDIA[fmt], body.encode())
    if fmt == "csv":
        from shapely.geometry import shape

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for f in feats:
            g = f["geometry"]
            w.writerow({**f["properties"], "wkt": shape(g).wkt if g else ""})
        return ExportFile("alerts.csv", MEDIA[fmt], buf.getvalue().encode())
    if fmt == "gpkg":
        import geopandas as gpd
        from shapely.geometry import shape

        rows = [{k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                 for k, v in f["properties"].items()} for f in feats]
        geoms = [shape(f["geometry"]) if f["geometry"] else None for f in feats]
        gdf = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
        with tempfile.TemporaryDirectory(prefix="minewatch-export-") as tmp:
            path = Path(tmp) / "alerts.gpkg"
            if len(gdf):
                gdf.to_file(path, layer="alerts", driver="GPKG")
            else:
                gpd.GeoDataFrame({"alert_id": []}, geometry=[], crs="EPSG:4326").to_file(
                    path, layer="alerts", driver="GPKG")
            return ExportFile("alerts.gpkg", MEDIA[fmt], path.read_bytes())
    raise InputError(f"export format {fmt!r}: use geojson, gpkg or csv")


def _newest_run_folder(reg: Registry, site_id: str) -> Path:
    reg.site(site_id)  # NotFoundError for an unknown site
    runs = sorted((r for r in reg.rows("monitoring_runs") if r.get("site_id") == site_id
                   and r.get("outcome") == "ok"),
                  key=lambda r: r.get("finished_at") or r.get("started_at"), reverse=True)
    for r in runs:
        folder = run_folder(reg, r["run_id"])
        if folder is not None:
            return folder
    raise NotFoundError(f"site {site_id!r} has no finished run whose folder is here")


def site_report(reg: Registry, who: Principal, site_id: str, fmt: str = "html") -> ExportFile:
    require(who, "read")
    folder = _newest_run_folder(reg, site_id)
    path = folder / f"report.{fmt}"
    if not path.is_file():
        raise NotFoundError(f"the newest run of {site_id} has no report.{fmt}",
                            hint="re-run with --pdf for a PDF" if fmt == "pdf" else None)
    return ExportFile(f"{site_id}-report.{fmt}", MEDIA[fmt], path.read_bytes())


def evidence_zip(reg: Registry, who: Principal, run_id: str) -> ExportFile:
    """The run folder's evidence, summary, alerts and report as a zip (paths kept)."""
    require(who, "read")
    reg.run(run_id)
    folder = run_folder(reg, run_id)
    if folder is None:
        raise NotFoundError(f"the folder of run {run_id} is not available here")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("summary.json", "alerts.geojson", "report.html", "report.pdf"):
            if (folder / name).is_file():
                z.write(folder / name, name)
        ev = folder / EVIDENCE_DIR
        if ev.is_dir():
            for p in sorted(ev.rglob("*")):
                if p.is_file():
                    z.write(p, p.relative_to(folder).as_posix())
    return ExportFile(f"{run_id}-evidence.zip", MEDIA["zip"], buf.getvalue())


