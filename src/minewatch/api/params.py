"""Query parameters shared by routes, parsed once (``*Params``)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import JSONResponse

from minewatch.errors import InputError
from minewatch.registry.review import AlertQuery

BBoxQuery = Annotated[str | None, Query(
    description="west,south,east,north in degrees (WGS84)", examples=["-70.3,-13.2,-70.1,-13.0"])]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None or value == "":
        return None
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise InputError(f"bbox {value!r}: give west,south,east,north as 4 numbers")
    w, s, e, n = parts
    if w > e or s > n:
        raise InputError(f"bbox {value!r}: west must be <= east and south <= north")
    return w, s, e, n


def alert_params(
    site_id: str | None = None, run_id: str | None = None,
    status: Annotated[list[str] | None, Query(
        description="review state(s): new, pre-validated, validated, rejected, audited")] = None,
    onset_from: dt.date | None = None, onset_to: dt.date | None = None,
    inside_licence: Annotated[bool | None, Query(
        description="true: inside a licence valid at onset; false: outside")] = None,
    bbox: BBoxQuery = None,
    level: Annotated[int | None, Query(ge=1, le=3, description="minimum alert level")] = None,
    sort: Annotated[str, Query(description="onset_date, area_ha, alert_id or site_id; "
                                           "prefix - for descending")] = "-onset_date",
    limit: Limit = 100, offset: Offset = 0,
) -> AlertQuery:
    return AlertQuery(site_id=site_id, run_id=run_id, review_states=tuple(status or ()),
                      onset_from=onset_from, onset_to=onset_to, inside_licence=inside_licence,
                      bbox=parse_bbox(bbox), min_level=level, sort=sort, limit=limit,
                      offset=offset)


AlertParams = Annotated[AlertQuery, Depends(alert_params)]


class GeoJSONResponse(JSONResponse):
    """JSON written straight by :func:`json.dumps` (GeoJSON coordinates are plain numbers, so
    FastAPI's generic encoder, slower than the query itself, is skipped)."""

    media_type = "application/geo+json"

    def render(self, content) -> bytes:
        return json.dumps(content, separators=(",", ":"), default=str,
                          allow_nan=False).encode()
