"""Routes of field work: inspections (with photos and their hashes) and water samples with
their exceedances."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from minewatch.api.auth import Reg, Who
from minewatch.run import field

router = APIRouter(prefix="/api", tags=["field"])


class Photo(BaseModel):
    filename: str = Field(min_length=1, max_length=200)
    content_base64: str = Field(min_length=1)


class InspectionBody(BaseModel):
    inspection_id: str = Field(min_length=1, max_length=200)
    date: dt.date
    team: str | None = Field(default=None, max_length=2000)
    findings: str | None = Field(default=None, max_length=20000)
    site_id: str | None = Field(default=None, max_length=200)
    alert_ids: list[str] = Field(default_factory=list, max_length=1000)
    geometry: dict[str, Any] | None = None
    photos: list[Photo] = Field(default_factory=list, max_length=50)


@router.post("/inspections", status_code=201)
def add_inspection(body: InspectionBody, who: Who, reg: Reg) -> dict:
    """Record a field inspection (analysts, admins); photos as base64, stored under their
    SHA-256."""
    return field.add_inspection(reg, who, body.inspection_id, body.date, team=body.team,
                                findings=body.findings, site_id=body.site_id,
                                alert_ids=body.alert_ids, geometry=body.geometry,
                                photos=[p.model_dump() for p in body.photos])


@router.get("/inspections/{inspection_id}")
def get_inspection(inspection_id: str, who: Who, reg: Reg) -> dict:
    """An inspection with its photos (SHA-256 each) and which are missing or altered."""
    return field.inspection(reg, who, inspection_id)


@router.get("/sampling_points/{point_id}/samples")
def samples(point_id: str, who: Who, reg: Reg,
            standard: Annotated[str, Query(max_length=50)] = "WHO-GDWQ-2022") -> dict:
    """A sampling point's water samples, each compared with a drinking-water standard."""
    return field.samples_with_exceedances(reg, who, point_id, standard=standard)
