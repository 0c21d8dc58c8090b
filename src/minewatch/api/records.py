"""Routes of registry records: sites, deposits, licences (history, version on a date),
parcels, receptors and the other kinds; GeoJSON out, create/update for admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from minewatch.api.auth import Reg, Who
from minewatch.api.params import BBoxQuery, GeoJSONResponse, Limit, Offset, parse_bbox
from minewatch.run import records

router = APIRouter(prefix="/api", tags=["registry"])

Features = Annotated[list[dict[str, Any]], Body(
    description="GeoJSON Features (or plain objects with a geometry) to create or update")]


@router.get("/records/{kind}", response_class=GeoJSONResponse)
def list_kind(kind: str, who: Who, reg: Reg, bbox: BBoxQuery = None,
              on: Annotated[dt.date | None, Query(
                  description="licences: the versions in force that day; others: that day")] = None,
              status: Annotated[str | None, Query(max_length=50)] = None,
              limit: Limit = 100, offset: Offset = 0) -> GeoJSONResponse:
    """Records of a kind (sites, deposits, licences, parcels, receptors, operators,
    sampling_points, samples, inspections, monitoring_runs) as a FeatureCollection."""
    return GeoJSONResponse(records.list_records(reg, who, kind, bbox=parse_bbox(bbox), on=on,
                                                status=status, limit=limit, offset=offset))


@router.get("/records/{kind}/{ident}")
def get_kind(kind: str, ident: str, who: Who, reg: Reg) -> dict:
    return records.get_record(reg, who, kind, ident)


@router.post("/records/{kind}")
def save_kind(kind: str, features: Features, who: Who, reg: Reg) -> dict:
    """Create or update records of a kind (admins); all or nothing; the import report."""
    return records.save_records(reg, who, kind, features)


@router.get("/licences/{licence_id}/history")
def licence_history(licence_id: str, who: Who, reg: Reg) -> list[dict]:
    """Every version of a licence, oldest first, each with what it changed."""
    return records.licence_history(reg, who, licence_id)


@router.get("/licences/{licence_id}/on/{date}")
def licence_on(licence_id: str, date: dt.date, who: Who, reg: Reg) -> dict:
    """The version of a licence in force on ``date`` and whether it authorised work then."""
    return records.licence_on(reg, who, licence_id, date)


def _kind_routes(kind: str) -> None:
    """``/api/<kind>`` routes for the main kinds (the same as ``/api/records/<kind>``)."""

    def list_(who: Who, reg: Reg, bbox: BBoxQuery = None,
              on: Annotated[dt.date | None, Query()] = None,
              status: Annotated[str | None, Query(max_length=50)] = None,
              limit: Limit = 100, offset: Offset = 0) -> GeoJSONResponse:
        return GeoJSONResponse(records.list_records(reg, who, kind, bbox=parse_bbox(bbox), on=on,
                                                    status=status, limit=limit, offset=offset))

    def get(ident: str, who: Who, reg: Reg) -> dict:
        return records.get_record(reg, who, kind, ident)

    def save(features: Features, who: Who, reg: Reg) -> dict:
        return records.save_records(reg, who, kind, features)

    router.add_api_route(f"/{kind}", list_, methods=["GET"], name=f"list_{kind}",
                         response_class=GeoJSONResponse,
                         summary=f"List {kind} (GeoJSON, bbox/date/status filters, paging)")
    router.add_api_route(f"/{kind}/{{ident}}", get, methods=["GET"], name=f"get_{kind}",
                         summary=f"One of the {kind}")
    router.add_api_route(f"/{kind}", save, methods=["POST"], name=f"save_{kind}",
                         summary=f"Create or update {kind} (admins)")


for _kind in ("sites", "deposits", "licences", "parcels", "receptors"):
    _kind_routes(_kind)
