"""Fetch a run's imagery (and a DEM) from a STAC API before it starts (``analyze --bbox`` or a site)."""

from __future__ import annotations

import warnings
from pathlib import Path

from minewatch.errors import InputError, MinewatchWarning
from minewatch.imagery.aoi import BBox, parse_bbox
from minewatch.imagery.fetch import fetch
from minewatch.run.request import MonitoringRequest


def site_bbox(registry, site_id: str) -> BBox:
    """The bounding box (WGS84 ``W, S, E, N``) of a site of an open registry, checked like ``--bbox``."""
    return parse_bbox(registry.site(site_id).bbox)


def fetch_imagery(req: MonitoringRequest, registry, target: Path) -> tuple[Path, Path | None]:
    """Fetch the AOI's imagery (history and monitored period) into ``target`` (``OUT/imagery`` once
    the run is published), and a DEM when the request has none. Returns the catalog and the
    fetched DEM (or ``None``)."""
    opts = req.inputs.fetch
    box = opts.bbox if opts.bbox is not None else site_bbox(registry, req.site)
    start = req.period.start
    first = opts.history_start or start.replace(year=start.year - 2)
    if first >= start:
        raise InputError(f"--history-start {first} is not before --start {start}",
                         hint="the history period ends the day before --start")
    report = fetch(box, first, req.period.end, target, collections=opts.collections,
                   max_cloud=opts.max_cloud, stac_url=opts.stac_url, dem=req.inputs.dem is None)
    if report.failed:
        warnings.warn(MinewatchWarning(
            f"{len(report.failed)} item(s) could not be fetched and are left out; see "
            f"{req.out / 'imagery' / 'fetch_report.json'}"), stacklevel=2)
    dem = Path(report.catalog).parent / report.dem if report.dem else None
    return Path(report.catalog), dem
