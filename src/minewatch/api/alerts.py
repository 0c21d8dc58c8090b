"""Routes of alerts (list, one alert, evidence check), their review, and monitoring runs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from minewatch.api.auth import Reg, Who
from minewatch.api.params import AlertParams, GeoJSONResponse, Limit, Offset
from minewatch.run import alerts as A
from minewatch.run import records

router = APIRouter(prefix="/api", tags=["alerts"])

ReviewState = Literal["new", "pre-validated", "validated", "rejected", "audited"]


class ReviewBody(BaseModel):
    state: ReviewState = Field(description="the state to move to")
    comment: str | None = Field(default=None, max_length=4000)
    expected: ReviewState | None = Field(
        default=None, description="the state the reviewer saw (409 when it changed meanwhile)")
    publish: bool | None = Field(
        default=None, description="show a validated alert to the public (or withdraw it)")


@router.get("/alerts", response_class=GeoJSONResponse)
def list_alerts(q: AlertParams, who: Who, reg: Reg) -> GeoJSONResponse:
    """Alerts as a GeoJSON FeatureCollection, filtered and paged (``total`` = all matches).
    The anonymous public sees published alerts only."""
    return GeoJSONResponse(A.list_alerts(reg, who, q))


@router.get("/alerts/{alert_id}", response_class=GeoJSONResponse)
def get_alert(alert_id: str, who: Who, reg: Reg) -> GeoJSONResponse:
    """One alert: geometry, licence situation at onset, receptors downstream, evidence files
    and hash, review state and history."""
    return GeoJSONResponse(A.alert_detail(reg, who, alert_id))


@router.get("/alerts/{alert_id}/verify")
def verify_alert(alert_id: str, who: Who, reg: Reg) -> dict:
    """Check the hashes (and signature) of the alert's run evidence (no re-run)."""
    return A.verify_alert_evidence(reg, who, alert_id)


@router.get("/alerts/{alert_id}/files/{name}")
def alert_file(alert_id: str, name: str, who: Who, reg: Reg) -> FileResponse:
    """One evidence file of the alert (``files`` of its page: chips as PNG/GeoTIFF, the time
    series as CSV/PNG, the sheet as HTML)."""
    return FileResponse(A.alert_file(reg, who, alert_id, name))


@router.get("/alerts/{alert_id}/reviews")
def alert_reviews(alert_id: str, who: Who, reg: Reg) -> list[dict]:
    return A.review_history(reg, who, alert_id)


@router.post("/alerts/{alert_id}/reviews")
def review_alert(alert_id: str, body: ReviewBody, who: Who, reg: Reg) -> dict:
    """Move the alert through ``new -> pre-validated -> validated | rejected -> audited``
    (analysts, admins); 409 when the transition does not apply to its current state."""
    return A.review_alert(reg, who, alert_id, body.state, comment=body.comment,
                          expected=body.expected, publish=body.publish)


@router.get("/runs")
def list_runs(who: Who, reg: Reg, site_id: Annotated[str | None, Query(max_length=200)] = None,
              limit: Limit = 100, offset: Offset = 0) -> dict:
    return records.list_runs(reg, who, site_id=site_id, limit=limit, offset=offset)


@router.get("/runs/{run_id}")
def get_run(run_id: str, who: Who, reg: Reg) -> dict:
    return records.get_record(reg, who, "monitoring_runs", run_id)
