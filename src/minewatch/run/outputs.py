"""Write a run's outputs from its result: rasters, alerts, summary, evidence and the report.

Order matters for the evidence: the rasters, ``alerts.geojson`` and ``summary.json`` first; then
the evidence (inputs hashed, per-alert evidence staged); then ``report.html`` (with the
evidence's provenance block and alert sheets) and its PDF; last the manifest over everything.
"""

from __future__ import annotations

import json
from pathlib import Path

from minewatch.analysis.footprint.classify import FOOTPRINT_LEGEND, NOT_ASSESSED
from minewatch.analysis.composites import COMPOSITE_BANDS
from minewatch.atomic import write_text
from minewatch.evidence.writer import STANDARD_OUTPUTS, begin_evidence, finish_evidence
from minewatch.geotiff import write_geotiff
from minewatch.reports.html import render_report
from minewatch.run.inputs import ResolvedInputs
from minewatch.run.pixels import PixelStore
from minewatch.run.request import Progress
from minewatch.run.result import RunResult
from minewatch.run.tiles import ASSESSMENT_CODES

RASTER_DESCRIPTIONS = {
    "disturbance_date.tif": "onset of new mining disturbance flagged at any level (or retracted), days since "
                            "1970-01-01, 0 = none",
    "confidence.tif": "posterior probability of change of flagged pixels, 0..1",
    "alert_level.tif": "alert level: 0 none, 1 possible, 2 probable, 3 confirmed",
    "footprint.tif": "surface in the last monitored year: 0 other, 1 bare ground, 2 open water",
    "assessment.tif": "whether the change model could assess each pixel: "
                      + ", ".join(f"{k} {v}" for k, v in ASSESSMENT_CODES.items()),
}
#: The median composites (bands :data:`COMPOSITE_BANDS`) as COGs, for the dashboard's imagery tiles.
COMPOSITES = {"composite_before.tif": "median of clear observations, the year before the period",
              "composite_after.tif": "median of clear observations, the period's last year"}


def flow_paths(result: RunResult) -> dict:
    """The downstream flow path of each alert as a GeoJSON FeatureCollection (EPSG:4326)."""
    from shapely.geometry import mapping

    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(p["geometry"]),
         "properties": {"alert_id": p["alert_id"], "length_m": round(float(p["length_m"]), 1),
                        "reaches_edge": bool(p.get("reaches_edge", False))}}
        for p in result.risk.paths]}


def write_outputs(result: RunResult, summary: dict, inputs: ResolvedInputs, store: PixelStore, out: Path,
                  final: Path, progress: Progress) -> None:
    """Write every output of ``result`` into ``out``, the run's staging folder (to be published at
    ``final``), see the module docstring."""
    grid = result.grid
    for name, array in (("disturbance_date.tif", result.rasters.onset),
                        ("confidence.tif", result.rasters.confidence),
                        ("alert_level.tif", result.rasters.level),
                        ("footprint.tif", result.footprint),
                        ("assessment.tif", result.rasters.assessment)):
        write_geotiff(out / name, array, crs=grid.crs, transform=grid.transform,
                      tags={"DESCRIPTION": RASTER_DESCRIPTIONS[name]})
    legend = ", ".join(f"{k} {v}" for k, v in FOOTPRINT_LEGEND.items())
    write_geotiff(out / "footprint_class.tif", result.classes.classes, crs=grid.crs, transform=grid.transform,
                  nodata=NOT_ASSESSED, descriptions=[str(y) for y in result.classes.years],
                  tags={"DESCRIPTION": f"footprint class at the end of each calendar year (one band per year): {legend}"})
    for name, array in (("composite_before.tif", result.rasters.before),
                        ("composite_after.tif", result.rasters.after)):
        write_geotiff(out / name, array, crs=grid.crs, transform=grid.transform, driver="COG", nodata=float("nan"),
                      descriptions=COMPOSITE_BANDS, tags={"DESCRIPTION": COMPOSITES[name], "UNITS": "reflectance"})
    features = [a.feature() for a in result.alerts]
    write_text(out / "alerts.geojson", json.dumps({"type": "FeatureCollection", "features": features}, indent=1))
    if result.risk is not None:
        write_text(out / "flow_paths.geojson", json.dumps(flow_paths(result), indent=1))
    write_text(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    options = result.request.evidence
    pending = None
    if options.write:
        pending = begin_evidence(out, final, result, summary, store, inputs.bands, inputs.private_key, progress)
    progress("writing report", 0, 1)
    html = render_report(result, summary, lang=options.lang,
                         provenance=pending.provenance() if pending else None,
                         alert_sheets=pending.sheets if pending else None)
    write_text(out / "report.html", html)
    outputs = [name for name in STANDARD_OUTPUTS if (out / name).exists()]
    if options.write and options.pdf:
        from minewatch.reports.pdf import html_to_pdf

        html_to_pdf(out / "report.html", out / "report.pdf")
        outputs.append("report.pdf")
    progress("writing report", 1, 1)
    if pending is not None:
        finish_evidence(pending, outputs)
