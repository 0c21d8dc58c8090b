"""Many sites as one job (``minewatch analyze-all``): every site of a registry analysed, in parallel.

The job's sites are the registry's sites (all, or those listed), or the areas of an AOI file
(``--aois``: GeoJSON polygons with an ``aoi_id``, analysed against a ``--licences`` file instead of a
registry; their imagery from ``--catalog`` or fetched for each AOI's box).

Each site is one task (:func:`run_site`): a :func:`~minewatch.run.monitoring.run_monitoring` of
that site (licences and receptors from the registry, the run and its alerts recorded in it) into
``OUT/sites/<site_id>/``, its tiles run serially inside the task. Tasks run on the job's executor
(:mod:`minewatch.run.cluster`: serial, a local Dask cluster or an existing one), so sites run in
parallel. A site that fails is reported with its error and does not stop the others.

Resumable: a site whose folder already holds a published run of the same period is not run
again (a site folder is published whole, see :mod:`minewatch.run.folder`); a killed site's tiles
are checkpointed as in any run.

At the end: ``OUT/sites.csv`` and ``OUT/sites.json`` (one row per site: outcome, alerts,
areas, seconds, error) and ``OUT/collection.json``, a STAC collection with one item per site run
(assets: the rasters, ``alerts.geojson``, ``summary.json``, ``report.html``) that STAC clients
and QGIS can browse.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from minewatch.atomic import write_text
from minewatch.errors import InputError, MinewatchError
from minewatch.run.cluster import open_executor
from minewatch.run.request import ExecutionOptions, MonitoringRequest, Progress, RunInputs, no_progress

SITE_PLACEHOLDER = "{site}"
RASTER_ASSETS = ("disturbance_date.tif", "confidence.tif", "footprint.tif", "assessment.tif")


@dataclass(frozen=True)
class SitesRequest:
    """Every (or the listed) site of a registry, analysed as one job.

    ``template`` is the request of one site run: its period, detection, water and evidence
    options apply to every site; its ``out`` is the job's folder.
    """

    registry: str | None
    template: MonitoringRequest
    catalog: str | None = None  #: local catalog for every site; ``{site}`` in it becomes the site id
    sites: tuple[str, ...] = ()  #: the sites to run (default: every site of the registry)
    aois: Path | None = None  #: AOI GeoJSON (``aoi_id`` per polygon) instead of registry sites
    licences: Path | None = None  #: licences GeoJSON of the AOI runs
    scheduler: str | None = None  #: where the sites run (:func:`~minewatch.run.cluster.resolve_scheduler`)
    n_workers: int | None = None


@dataclass
class SiteOutcome:
    """How one site's run went (a row of ``sites.csv``)."""

    site_id: str
    outcome: str  #: ok, failed or reused (a published run of the same period was already there)
    out: str
    seconds: float = 0.0
    n_alerts: int | None = None
    total_area_ha: float | None = None
    outside_licence_area_ha: float | None = None
    run_id: str | None = None
    error: str | None = None


def site_request(req: SitesRequest, site_id: str, bbox: tuple[float, float, float, float] | None = None
                 ) -> MonitoringRequest:
    """The monitoring request of one site of the job (``bbox``: an AOI's box, W, S, E, N degrees)."""
    from minewatch.run.request import FetchOptions

    t = req.template
    catalog = Path(req.catalog.replace(SITE_PLACEHOLDER, site_id)) if req.catalog is not None else None
    fetch = None if catalog is not None else FetchOptions(bbox=bbox)
    inputs = RunInputs(catalog=catalog, registry=req.registry if req.aois is None else None,
                       licences=req.licences if req.aois is not None else None,
                       receptors=t.inputs.receptors, dem=t.inputs.dem, fetch=fetch)
    return replace(t, inputs=inputs, site=site_id, out=Path(t.out) / "sites" / site_id,
                   execution=ExecutionOptions(scheduler="serial", resume=t.execution.resume))


def _published(out: Path, req: MonitoringRequest) -> dict | None:
    """The summary of a run of the same site and period already published at ``out``."""
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    period = summary.get("period") or {}
    same = (summary.get("site") == req.site and period.get("start") == req.period.start.isoformat()
            and period.get("end") == req.period.end.isoformat())
    return summary if same else None


def _outcome(site_id: str, out: Path, kind: str, summary: dict, seconds: float, run_id=None) -> SiteOutcome:
    d = summary["disturbance"]
    return SiteOutcome(site_id, kind, str(out), round(seconds, 2), len(summary.get("alerts", [])),
                       d["total_area_ha"], d["outside_licence_area_ha"], run_id)


def run_site(req: MonitoringRequest) -> SiteOutcome:
    """One site's run (a task); any failure is caught and returned, never raised."""
    from minewatch.run.monitoring import run_monitoring

    site_id, out = req.site or "", Path(req.out)
    previous = _published(out, req)
    if previous is not None:
        return _outcome(site_id, out, "reused", previous, 0.0)
    t0 = time.perf_counter()
    try:
        result = run_monitoring(req)
    except MinewatchError as exc:
        return SiteOutcome(site_id, "failed", str(out), round(time.perf_counter() - t0, 2), error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one site's bug must not stop the others; it is reported
        return SiteOutcome(site_id, "failed", str(out), round(time.perf_counter() - t0, 2),
                           error=f"{type(exc).__name__}: {exc}")
    return _outcome(site_id, out, "ok", result.summary, time.perf_counter() - t0, result.run_id)


def _aois(path: Path) -> dict[str, tuple[float, float, float, float]]:
    """``aoi_id`` -> box (W, S, E, N degrees) of each polygon of an AOI GeoJSON (EPSG:4326)."""
    from shapely.geometry import shape

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--aois: file not found: {path}") from None
    except ValueError as exc:
        raise InputError(f"--aois {path}: not JSON ({exc})") from None
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not feats:
        raise InputError(f"--aois {path}: no feature", hint="give a GeoJSON FeatureCollection of polygons")
    out: dict[str, tuple[float, float, float, float]] = {}
    for i, f in enumerate(feats):
        props = f.get("properties") or {}
        aoi_id = props.get("aoi_id") or props.get("site_id") or f.get("id")
        if not aoi_id or not f.get("geometry"):
            raise InputError(f"--aois {path}: feature {i} has no aoi_id or no geometry")
        if str(aoi_id) in out:
            raise InputError(f"--aois {path}: aoi_id {aoi_id!r} is given twice")
        out[str(aoi_id)] = tuple(float(v) for v in shape(f["geometry"]).bounds)  # type: ignore[assignment]
    return out


def _site_ids(req: SitesRequest) -> list[str]:
    from minewatch.registry import open_registry

    registry = open_registry(req.registry)
    known = [r["site_id"] for r in registry.rows("sites")]
    if not req.sites:
        if not known:
            raise InputError(f"registry {req.registry} has no site",
                             hint="import sites with `minewatch registry import FILE --kind sites`")
        return known
    unknown = [s for s in req.sites if s not in known]
    if unknown:
        raise InputError(f"--sites: no site {unknown[0]!r} in registry {req.registry}",
                         hint="list sites with: minewatch registry list --kind sites")
    return list(dict.fromkeys(req.sites))


def run_sites(req: SitesRequest, progress: Progress | None = None) -> list[SiteOutcome]:
    """Run every site of ``req`` (module docstring); returns one outcome per site, in site order."""
    progress = progress or no_progress
    out = Path(req.template.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder")
    if (req.aois is None) == (req.registry is None):
        raise InputError("give either --registry (its sites) or --aois FILE --licences FILE")
    if req.aois is not None:
        if req.licences is None:
            raise InputError("--aois needs --licences", hint="the licences GeoJSON the areas are checked against")
        boxes = _aois(req.aois)
        ids = [s for s in boxes if not req.sites or s in req.sites]
        requests = [site_request(req, s, boxes[s]) for s in ids]
    else:
        ids = _site_ids(req)
        requests = [site_request(req, s) for s in ids]
    outcomes: dict[int, SiteOutcome] = {}
    progress("sites", 0, len(ids))
    token = secrets.token_hex(4)
    with open_executor(req.scheduler, n_workers=req.n_workers) as executor:
        if req.catalog is not None:
            paths = {str(r.inputs.catalog) for r in requests}
            executor.check_workers(p for p in paths if Path(p).exists())
        for done, (i, outcome) in enumerate(executor.map(run_site, (), [(r,) for r in requests],
                                                         [f"site-{s}-{token}" for s in ids]), start=1):
            outcomes[i] = outcome
            progress(f"site {outcome.site_id} ({outcome.outcome})", 1, 1)
            progress("sites", done, len(ids))
    result = [outcomes[i] for i in range(len(ids))]
    write_job_outputs(out, req, result)
    return result


def write_job_outputs(out: Path, req: SitesRequest, outcomes: list[SiteOutcome]) -> None:
    """``sites.csv``, ``sites.json`` and the STAC ``collection.json`` of the job."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [asdict(o) for o in outcomes]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["site_id"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "sites.csv", buf.getvalue())
    t = req.template
    doc = {"registry": req.registry, "aois": str(req.aois) if req.aois else None, "period": {"start": t.period.start.isoformat(), "end": t.period.end.isoformat()},
           "n_sites": len(outcomes), "n_ok": sum(o.outcome != "failed" for o in outcomes),
           "n_failed": sum(o.outcome == "failed" for o in outcomes), "sites": rows}
    write_text(out / "sites.json", json.dumps(doc, indent=2, ensure_ascii=False))
    write_stac_collection(out, req, [o for o in outcomes if o.outcome != "failed"])


def _item(out: Path, o: SiteOutcome) -> dict:
    import rasterio
    from rasterio.warp import transform_bounds
    from shapely.geometry import box, mapping

    folder = Path(o.out)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    with rasterio.open(folder / "disturbance_date.tif") as src:
        bbox = [round(v, 7) for v in transform_bounds(src.crs, "EPSG:4326", *src.bounds)]
        epsg, shape, transform = src.crs.to_epsg(), [src.height, src.width], list(src.transform)[:6]
    rel = "../" + folder.relative_to(out).as_posix()  # items live in OUT/items/
    assets = {name.split(".")[0]: {"href": f"{rel}/{name}", "type": "image/tiff; application=geotiff",
                                   "roles": ["data"], "title": name}
              for name in RASTER_ASSETS if (folder / name).exists()}
    assets["alerts"] = {"href": f"{rel}/alerts.geojson", "type": "application/geo+json", "roles": ["data"]}
    assets["summary"] = {"href": f"{rel}/summary.json", "type": "application/json", "roles": ["metadata"]}
    if (folder / "report.html").exists():
        assets["report"] = {"href": f"{rel}/report.html", "type": "text/html", "roles": ["overview"]}
    period = summary["period"]
    return {
        "type": "Feature", "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
        "id": o.site_id, "collection": "minewatch-sites", "bbox": bbox, "geometry": mapping(box(*bbox)),
        "properties": {"datetime": None, "start_datetime": f"{period['start']}T00:00:00Z",
                       "end_datetime": f"{period['end']}T23:59:59Z", "minewatch:site": o.site_id,
                       "minewatch:n_alerts": o.n_alerts, "minewatch:total_area_ha": o.total_area_ha,
                       "minewatch:outside_licence_area_ha": o.outside_licence_area_ha,
                       "proj:code": f"EPSG:{epsg}" if epsg else None, "proj:shape": shape,
                       "proj:transform": transform},
        "links": [{"rel": "collection", "href": "../collection.json", "type": "application/json"},
                  {"rel": "root", "href": "../collection.json", "type": "application/json"}],
        "assets": assets,
    }


def write_stac_collection(out: Path, req: SitesRequest, outcomes: list[SiteOutcome]) -> None:
    """A static STAC collection: ``OUT/collection.json`` and ``OUT/items/<site>.json``."""
    items = [_item(out, o) for o in outcomes]
    for it in items:
        write_text(out / "items" / f"{it['id']}.json", json.dumps(it, indent=1))
    boxes = [it["bbox"] for it in items] or [[-180.0, -90.0, 180.0, 90.0]]
    t = req.template
    collection = {
        "type": "Collection", "stac_version": "1.0.0", "id": "minewatch-sites",
        "description": f"minewatch runs of the sites of {req.registry or req.aois}, {t.period.start} .. "
                       f"{t.period.end}",
        "license": "other",
        "extent": {"spatial": {"bbox": [[min(b[0] for b in boxes), min(b[1] for b in boxes),
                                         max(b[2] for b in boxes), max(b[3] for b in boxes)]]},
                   "temporal": {"interval": [[f"{t.period.start}T00:00:00Z", f"{t.period.end}T23:59:59Z"]]}},
        "links": [{"rel": "root", "href": "./collection.json", "type": "application/json"},
                  *({"rel": "item", "href": f"./items/{it['id']}.json", "type": "application/geo+json"}
                    for it in items)],
    }
    write_text(out / "collection.json", json.dumps(collection, indent=1))
