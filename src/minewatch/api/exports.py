"""Routes of exports: alerts as GeoJSON / GeoPackage / CSV, a site's report, a run's
evidence package as a zip."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from minewatch.api.auth import Reg, Who
from minewatch.api.params import AlertParams
from minewatch.run import exports

router = APIRouter(prefix="/api/exports", tags=["exports"])


def _file(f: exports.ExportFile) -> Response:
    return Response(f.content, media_type=f.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{f.filename}"'})


@router.get("/alerts.{fmt}")
def export_alerts(fmt: Literal["geojson", "gpkg", "csv"], q: AlertParams, who: Who,
                  reg: Reg) -> Response:
    """The alerts matching the filters (every page), with their review state."""
    return _file(exports.export_alerts(reg, who, q, fmt))


@router.get("/sites/{site_id}/report.{fmt}")
def site_report(site_id: str, fmt: Literal["html", "pdf"], who: Who, reg: Reg) -> Response:
    """The report of the site's newest run (HTML, or the PDF when the run printed one)."""
    return _file(exports.site_report(reg, who, site_id, fmt))


@router.get("/runs/{run_id}/evidence.zip")
def evidence_zip(run_id: str, who: Who, reg: Reg) -> Response:
    """The run's evidence package (manifest, alerts' chips, series, sheets) plus its
    summary and report, as one zip."""
    return _file(exports.evidence_zip(reg, who, run_id))
