"""Subscriptions: who is told about which alert events, and matching events to them.

A subscription watches one registered site or an area of interest (a polygon in
EPSG:4326) and receives the events of alerts there whose level is at least
``min_level`` and whose area is at least ``min_area_ha``, by webhook or e-mail.
A retraction goes to the subscriptions that were told of the alert.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import shapely
from shapely.geometry import shape

from minewatch.errors import InputError
from minewatch.notify.events import LEVELS, AlertEvent

CHANNELS = ("webhook", "email")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


@dataclass(frozen=True)
class Subscription:
    """One subscription (a row of the registry's ``subscriptions`` table).

    Parameters
    ----------
    subscription_id
        Its id (``sub_`` + 12 hex digits unless chosen).
    channel
        ``webhook`` (``target`` is an http(s) URL) or ``email`` (``target`` is an address).
    site_id, aoi
        What it watches: a registered site, or an area (shapely polygon(s), EPSG:4326).
    min_level, min_area_ha
        The least level (1 possible, 2 probable, 3 confirmed) and area that are sent.
    secret
        The webhook signing key (HMAC-SHA256); unused for e-mail.
    active
        A paused subscription matches nothing and is sent nothing.
    """

    subscription_id: str
    channel: str
    target: str
    site_id: str | None = None
    aoi: shapely.Geometry | None = field(default=None, repr=False)
    min_level: int = 1
    min_area_ha: float = 0.0
    secret: str | None = field(default=None, repr=False)
    active: bool = True
    note: str | None = None
    created_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        sid = self.subscription_id
        where = f"subscription {sid}"
        if not sid or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", sid):
            raise InputError(f"subscription id {sid!r}: use 1-64 letters, digits, _ . : -")
        if self.channel not in CHANNELS:
            raise InputError(f"{where}: channel {self.channel!r} is not one of "
                             f"{', '.join(CHANNELS)}")
        if self.channel == "webhook":
            parts = urlsplit(self.target or "")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InputError(f"{where}: webhook URL {self.target!r} is not an http(s) URL",
                                 hint="for example https://example.org/minewatch-hook")
            if not self.secret or len(self.secret) < 16:
                raise InputError(f"{where}: a webhook needs a signing secret of at least 16 "
                                 "characters", hint="leave --secret out to have one generated")
        elif not _EMAIL.match(self.target or ""):
            raise InputError(f"{where}: {self.target!r} is not an e-mail address")
        if (self.site_id is None) == (self.aoi is None):
            raise InputError(f"{where}: give either a site or an area of interest (not both)",
                             hint="--site SITE_ID or --aoi FILE.geojson / --bbox W,S,E,N")
        if self.aoi is not None:
            object.__setattr__(self, "aoi", check_aoi(self.aoi, where))
        if isinstance(self.min_level, bool) or self.min_level not in LEVELS:
            raise InputError(f"{where}: minimum level {self.min_level!r} is not 1, 2 or 3 "
                             "(possible, probable, confirmed)")
        area = float(self.min_area_ha)
        if not math.isfinite(area) or area < 0:
            raise InputError(f"{where}: minimum area {self.min_area_ha!r} ha is not a number >= 0")
        object.__setattr__(self, "min_area_ha", area)

    # ------------------------------------------------------------------ matching
    def wants(self, event: AlertEvent) -> bool:
        """Whether a level event is for this subscription: active, same site or meeting the
        AOI, level and area at least the minimum. (Retractions: :func:`match`.)"""
        if not self.active or event.level < self.min_level or event.area_ha < self.min_area_ha:
            return False
        if self.site_id is not None:
            return event.site_id == self.site_id
        return event.geometry is not None and self.aoi.intersects(event.geometry)

    # ------------------------------------------------------------------ registry rows
    def record(self) -> dict:
        """The registry row (AOI under ``geometry``)."""
        return {"subscription_id": self.subscription_id, "channel": self.channel,
                "target": self.target, "site_id": self.site_id, "geometry": self.aoi,
                "min_level": self.min_level, "min_area_ha": self.min_area_ha,
                "secret": self.secret, "active": self.active, "note": self.note,
                "created_at": self.created_at}

    @classmethod
    def from_record(cls, r: dict) -> Subscription:
        return cls(subscription_id=r["subscription_id"], channel=r["channel"],
                   target=r["target"], site_id=r.get("site_id"), aoi=r.get("geometry"),
                   min_level=r["min_level"], min_area_ha=r["min_area_ha"],
                   secret=r.get("secret"), active=bool(r["active"]), note=r.get("note"),
                   created_at=r.get("created_at"))

    def describe(self) -> dict:
        """What ``subscribe list`` shows (never the secret)."""
        where = f"site {self.site_id}" if self.site_id else \
            "AOI " + ",".join(f"{v:.5f}" for v in self.aoi.bounds)
        return {"subscription_id": self.subscription_id, "channel": self.channel,
                "target": self.target, "watches": where, "min_level": self.min_level,
                "min_area_ha": self.min_area_ha, "active": self.active, "note": self.note}


def check_aoi(geom, where: str) -> shapely.Geometry:
    """A valid, non-empty polygonal AOI in lon/lat, or an InputError saying what is wrong."""
    if not isinstance(geom, shapely.Geometry):
        try:
            geom = shape(geom)
        except (shapely.errors.ShapelyError, ValueError, TypeError, KeyError,
                AttributeError) as exc:  # what shapely raises for bad GeoJSON
            raise InputError(f"{where}: the AOI is not a GeoJSON geometry ({exc})") from None
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(f"{where}: the AOI must be a polygon, not {geom.geom_type}")
    if not geom.is_valid:
        raise InputError(f"{where}: the AOI polygon is invalid "
                         f"({shapely.is_valid_reason(geom)})", hint="fix it in QGIS or shapely")
    w, s, e, n = geom.bounds
    if w < -180 or e > 180 or s < -90 or n > 90:
        raise InputError(f"{where}: the AOI is not in lon/lat degrees (bounds {geom.bounds})",
                         hint="give it in EPSG:4326")
    return geom


def read_aoi(path: str | Path) -> shapely.Geometry:
    """An AOI from a GeoJSON file: a geometry, a Feature or a FeatureCollection of polygons
    (united), in EPSG:4326."""
    path = Path(path)
    where = f"AOI file {path}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{where} not found") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{where} is not readable GeoJSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{where} is not a GeoJSON object")
    if doc.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") for f in doc.get("features") or []]
    elif doc.get("type") == "Feature":
        geoms = [doc.get("geometry")]
    else:
        geoms = [doc]
    if not geoms or any(not isinstance(g, dict) for g in geoms):
        raise InputError(f"{where}: every feature needs a polygon geometry")
    parts = [check_aoi(g, f"{where}, feature {i + 1}") for i, g in enumerate(geoms)]
    return check_aoi(shapely.union_all(parts), where)


def bbox_aoi(value: str) -> shapely.Geometry:
    """An AOI from ``W,S,E,N`` in degrees."""
    try:
        w, s, e, n = (float(x) for x in value.split(","))
    except ValueError:
        raise InputError(f"--bbox {value!r}: give west,south,east,north in degrees") from None
    if not (w < e and s < n):
        raise InputError(f"--bbox {value!r}: west must be below east and south below north")
    return check_aoi(shapely.box(w, s, e, n), f"--bbox {value}")


def new_subscription_id() -> str:
    return "sub_" + secrets.token_hex(6)


def new_secret() -> str:
    """A webhook signing secret: 32 random bytes, hex."""
    return secrets.token_hex(32)


def match(event: AlertEvent, subscriptions: Sequence[Subscription],
          told: Iterable[tuple[str, str]] = ()) -> list[Subscription]:
    """The subscriptions an event goes to.

    A level event goes to each subscription that :meth:`~Subscription.wants` it. A
    retraction goes to the active subscriptions that were told of the alert (``told``:
    (subscription_id, alert_id) pairs), whatever its level and area now.
    """
    if not event.retracted:
        return [s for s in subscriptions if s.wants(event)]
    told = set(told)
    return [s for s in subscriptions
            if s.active and (s.subscription_id, event.alert_id) in told]
