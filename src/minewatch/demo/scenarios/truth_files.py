"""Truth files every scenario writes: ``events.geojson`` and ``footprint_class.tif``.

Codes and names are the shared footprint legend (docs/demo-scene.md): 0 not mine, 1 open pit,
2 waste dump / heap, 3 tailings, 4 mine water, 5 roads and pads, 6 rehabilitated,
7 other bare / natural water, 255 not assessed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import rasterio
import shapely
from rasterio import features

from minewatch.demo.geo import from_days

NOT_MINE, OPEN_PIT, WASTE_DUMP, TAILINGS, MINE_WATER, ROADS_PADS, REHABILITATED, OTHER_BARE_WATER = range(8)
NOT_ASSESSED = 255
FOOTPRINT_LEGEND = {0: "not mine", 1: "open pit", 2: "waste dump / heap", 3: "tailings", 4: "mine water",
                    5: "roads and pads", 6: "rehabilitated", 7: "other bare / natural water",
                    255: "not assessed"}


@dataclass
class Event:
    """One true event: a mining expansion (``kind`` "mining") or a confounder ("not_mining").

    ``onset`` is per pixel (days since 1970-01-01, 0 outside the event) so a face that advances
    over weeks is dated pixel by pixel; the event's ``onset`` property is its earliest pixel.
    """

    id: str
    kind: str  # "mining" | "not_mining"
    name: str
    onset: np.ndarray  # int32 per pixel, 0 = not part of the event
    cls: int | None = None  # footprint code it turns into (mining)
    cause: str | None = None  # not mining: "burn", "harvest", "sandbar", "flood", ...
    extra: dict = field(default_factory=dict)

    @property
    def mask(self) -> np.ndarray:
        return self.onset > 0


def event_features(events: list[Event], grid) -> list[dict]:
    """GeoJSON features (EPSG:4326, RFC 7946) of the events that hold at least one pixel."""
    to_ll = grid.to_lonlat()
    out = []
    for ev in events:
        m = ev.mask
        if not m.any():
            continue
        polys = [shapely.geometry.shape(g) for g, v in
                 features.shapes(m.astype(np.uint8), mask=m, transform=grid.transform, connectivity=8) if v]
        geom = shapely.union_all(polys)
        geom = shapely.transform(geom, lambda c: np.column_stack(to_ll.transform(c[:, 0], c[:, 1])))
        geom = shapely.set_precision(geom, 1e-7)
        geom = shapely.geometry.polygon.orient(geom) if geom.geom_type == "Polygon" else geom
        first, last = int(ev.onset[m].min()), int(ev.onset[m].max())
        props = {"id": ev.id, "kind": ev.kind, "name": ev.name, "onset": from_days(first).isoformat(),
                 "onset_last": from_days(last).isoformat(), "area_ha": round(float(m.sum()) * 0.01, 2),
                 "pixels": int(m.sum())}
        if ev.kind == "mining":
            props["class"] = int(ev.cls)
            props["class_name"] = FOOTPRINT_LEGEND[int(ev.cls)]
        else:
            props["cause"] = ev.cause
        props.update(ev.extra)
        out.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)})
    return out


def write_events(path: Path, events: list[Event], grid) -> list[dict]:
    feats = event_features(events, grid)
    fc = {"type": "FeatureCollection", "features": feats}
    path.write_text(json.dumps(fc, indent=1, default=_num) + "\n")
    return feats


def _num(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(type(v))


def write_footprint_years(path: Path, grid, first_year: int, last_year: int,
                          footprint_at: Callable[[dt.date], np.ndarray]) -> dict[str, dict[str, float]]:
    """``footprint_class.tif``: one uint8 band per calendar year, the state on 31 December.

    Returns the area (ha) per class name per year.
    """
    years = list(range(first_year, last_year + 1))
    bands = [footprint_at(dt.date(y, 12, 31)).astype(np.uint8) for y in years]
    prof = dict(driver="GTiff", width=grid.n, height=grid.n, count=len(years), dtype="uint8", crs=grid.crs,
                transform=grid.transform, nodata=NOT_ASSESSED, compress="deflate", tiled=True,
                blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **prof) as dst:
        for i, (y, b) in enumerate(zip(years, bands), start=1):
            dst.write(b, i)
            dst.set_band_description(i, str(y))
        dst.update_tags(legend=json.dumps({str(k): v for k, v in FOOTPRINT_LEGEND.items()}))
    area = {}
    for y, b in zip(years, bands):
        counts = np.bincount(b.ravel(), minlength=256)
        area[str(y)] = {FOOTPRINT_LEGEND[c]: round(float(counts[c]) * 0.01, 2) for c in range(8)}
    return area
