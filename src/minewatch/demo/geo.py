"""Grid, dates, MGRS naming and sun geometry of the synthetic demo scene."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from pyproj import Transformer
from rasterio.transform import Affine

EPOCH = dt.date(1970, 1, 1)

#: The site: a steppe valley in East Kazakhstan (UTM zone 44N). Chosen for a
#: continental climate with a green early summer, a dry late summer, fires,
#: cropland and winter snow.  The place is synthetic; only the latitude matters.
UTM_ZONE = 44
EPSG = 32644
ORIGIN_X = 617_000.0  # west edge, metres (multiple of 20 m so the 10 m and 20 m grids align)
ORIGIN_Y = 5_535_000.0  # north edge, metres
PIXEL_10M = 10.0

#: Sentinel-2 baseline 04.00 (from this date) adds +1000 to every L2A DN.
BASELINE_04_DATE = dt.date(2022, 1, 25)


def days(d: dt.date) -> int:
    """Days since 1970-01-01 (the unit of ``truth/onset_date.tif``)."""
    return (d - EPOCH).days


def from_days(n: int) -> dt.date:
    """Inverse of :func:`days`."""
    return EPOCH + dt.timedelta(days=int(n))


def parse_date(value: str | dt.date) -> dt.date:
    """Accept ``YYYY-MM-DD`` strings or dates."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass(frozen=True)
class Grid:
    """The 10 m analysis grid of the scene (``n`` x ``n`` pixels) in a UTM zone."""

    n: int
    epsg: int = EPSG
    origin_x: float = ORIGIN_X  # west edge, metres (multiple of 20 m)
    origin_y: float = ORIGIN_Y  # north edge, metres

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    @property
    def utm_zone(self) -> int:
        return self.epsg % 100

    @property
    def transform(self) -> Affine:
        return Affine(PIXEL_10M, 0.0, self.origin_x, 0.0, -PIXEL_10M, self.origin_y)

    @property
    def transform20(self) -> Affine:
        return Affine(2 * PIXEL_10M, 0.0, self.origin_x, 0.0, -2 * PIXEL_10M, self.origin_y)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.origin_x, self.origin_y - self.n * PIXEL_10M, self.origin_x + self.n * PIXEL_10M,
                self.origin_y)

    def to_lonlat(self) -> Transformer:
        return Transformer.from_crs(self.epsg, 4326, always_xy=True)

    def pixel_to_xy(self, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (col, row; continuous, 0 = edge) to UTM metres."""
        return self.origin_x + np.asarray(col) * PIXEL_10M, self.origin_y - np.asarray(row) * PIXEL_10M

    def bbox_lonlat(self) -> list[float]:
        """WGS84 bounding box of the scene (densified edges), rounded to 1e-7 deg."""
        x0, y0, x1, y1 = self.bounds
        t = np.linspace(0.0, 1.0, 21)
        xs = np.concatenate([x0 + (x1 - x0) * t, np.full_like(t, x1), x1 - (x1 - x0) * t, np.full_like(t, x0)])
        ys = np.concatenate([np.full_like(t, y1), y1 - (y1 - y0) * t, np.full_like(t, y0), y0 + (y1 - y0) * t])
        lon, lat = self.to_lonlat().transform(xs, ys)
        return [round(float(v), 7) for v in (lon.min(), lat.min(), lon.max(), lat.max())]

    def footprint_lonlat(self) -> list[list[float]]:
        """WGS84 ring (closed, counter-clockwise) of the scene corners."""
        x0, y0, x1, y1 = self.bounds
        xs = [x0, x1, x1, x0, x0]
        ys = [y0, y0, y1, y1, y0]
        lon, lat = self.to_lonlat().transform(xs, ys)
        return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]


def mgrs_tile(easting: float, northing: float, zone: int = UTM_ZONE, lat: float = 50.0) -> str:
    """MGRS grid-zone + 100 km square identifier (e.g. ``44UPA``) for a UTM point."""
    bands = "CDEFGHJKLMNPQRSTUVWX"
    band = bands[min(int((lat + 80) // 8), len(bands) - 1)]
    col_letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    row_letters = "ABCDEFGHJKLMNPQRSTUV"
    setno = zone % 6 or 6
    col_origin = {1: 0, 4: 0, 2: 8, 5: 8, 3: 16, 6: 16}[setno]  # A, J, S
    col = col_letters[(col_origin + int(easting // 100_000) - 1) % 24]
    row_origin = 0 if setno % 2 == 1 else 5  # A or F
    row = row_letters[(row_origin + int(northing // 100_000)) % 20]
    return f"{zone:02d}{band}{col}{row}"


def sun_position(date: dt.date, lat_deg: float, local_solar_hour: float = 10.5) -> tuple[float, float]:
    """Solar zenith and azimuth (degrees, azimuth clockwise from north).

    Simple declination / hour-angle formulas (good to ~1 deg), evaluated at the
    Sentinel-2 local overpass time (about 10:30 mean solar time).
    """
    doy = date.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365.0)
    lat = math.radians(lat_deg)
    hour = math.radians(15.0 * (local_solar_hour - 12.0))
    cos_z = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour)
    zen = math.acos(max(-1.0, min(1.0, cos_z)))
    sin_az = -math.cos(decl) * math.sin(hour) / math.sin(zen)
    cos_az = (math.sin(decl) - math.sin(lat) * cos_z) / (math.cos(lat) * math.sin(zen))
    az = math.degrees(math.atan2(sin_az, cos_az)) % 360.0
    return math.degrees(zen), az


def acquisition_dates(start: dt.date, end: dt.date, cadence_days: int) -> list[dt.date]:
    """Every ``cadence_days`` days from ``start`` up to and including ``end``."""
    out = []
    d = start
    while d <= end:
        out.append(d)
        d += dt.timedelta(days=cadence_days)
    return out
