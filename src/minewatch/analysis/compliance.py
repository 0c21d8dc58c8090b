"""Licences and receptors as the analysis sees them, and the licence check of disturbance.

A licence is turned into one or more :class:`LicencePeriod` records: a boundary
and the interval of days during which mining inside it was authorised. A pixel
whose disturbance began on day *d* is *inside a valid licence* if some period
covers it and contains *d*; otherwise it is *outside licence* (expired,
suspended, revoked, not yet valid, or beyond every boundary all count).

From a GeoJSON licences file (the batch contract) the periods are derived as:

* ``active``: authorised from ``valid_from`` to ``valid_to`` (open ends allowed);
* ``expired``: authorised from ``valid_from`` to ``valid_to`` (it expired after);
* ``suspended`` / ``revoked``: authorised from ``valid_from`` until the day before
  the optional ``status_since`` property; without it, never (the file does not
  say since when, so no date can be trusted — use the registry's status history
  for exact dates).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer
from rasterio import features
from shapely.geometry import mapping, shape

from minewatch.errors import InputError
from minewatch.imagery.load import Grid

STATUSES = ("active", "expired", "suspended", "revoked")
EPOCH = dt.date(1970, 1, 1)
NEVER = np.iinfo(np.int32).max


@dataclass(frozen=True)
class LicencePeriod:
    """A licence boundary (EPSG:4326) and the days during which it authorised mining."""

    licence_id: str
    status: str
    geometry: shapely.Geometry
    active_from: int  # days since epoch (inclusive); -NEVER = open
    active_to: int  # inclusive; NEVER = open; active_to < active_from = never active
    holder: str | None = None
    commodity: str | None = None

    def active_on(self, day: int) -> bool:
        return self.active_from <= day <= self.active_to


@dataclass(frozen=True)
class Receptor:
    receptor_id: str
    kind: str
    name: str
    geometry: shapely.Geometry  # EPSG:4326 point


def to_day(value: dt.date) -> int:
    return (value - EPOCH).days


def from_day(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def _read_features(path: Path, what: str) -> tuple[list[dict], CRS]:
    """Read GeoJSON features and the CRS they declare (EPSG:4326 if none)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid GeoJSON file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InputError(f"{path}: expected a GeoJSON FeatureCollection of {what}")
    crs = CRS.from_epsg(4326)
    declared = (doc.get("crs") or {}).get("properties", {}).get("name")
    if declared:
        try:
            crs = CRS.from_user_input(declared)
        except Exception:  # pyproj raises CRSError
            raise InputError(f"{path}: unknown CRS {declared!r}", hint="declare an EPSG code") from None
    feats = doc.get("features") or []
    if not feats:
        raise InputError(f"{path}: holds no {what}")
    return feats, crs


def reproject_geometry(geom: shapely.Geometry, src, dst) -> shapely.Geometry:
    """Reproject a shapely geometry between two CRS (anything pyproj understands)."""
    src, dst = CRS.from_user_input(src), CRS.from_user_input(dst)
    if src.equals(dst):
        return geom
    tf = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))


def _to_wgs84(crs: CRS):
    return lambda g: reproject_geometry(g, crs, 4326)


def _parse_date(value, path: Path, i: int, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InputError(
            f"{path}: feature {i}: {field}={value!r} is not an ISO date", hint="write dates as YYYY-MM-DD"
        ) from None


def _geometry(feat: dict, path: Path, i: int, label: str):
    try:
        geom = shape(feat["geometry"])
    except Exception:
        raise InputError(f"{path}: feature {i} ({label}): missing or unreadable geometry") from None
    if geom.is_empty:
        raise InputError(f"{path}: feature {i} ({label}): empty geometry")
    return geom


def _identified(feats: list[dict], path: Path, key: str):
    """Yield ``(index, feature, properties, id)``; the id property must be present and unique."""
    seen: set[str] = set()
    for i, feat in enumerate(feats):
        props = feat.get("properties") or {}
        value = props.get(key)
        if value in (None, ""):
            raise InputError(f"{path}: feature {i}: missing property {key}")
        value = str(value)
        if value in seen:
            raise InputError(f"{path}: feature {i}: duplicate {key} {value!r}")
        seen.add(value)
        yield i, feat, props, value


def read_licences(path: str | Path) -> list[LicencePeriod]:
    """Read a licences GeoJSON (batch contract) into licence periods, validating every feature."""
    path = Path(path)
    feats, crs = _read_features(path, "licences")
    to84 = _to_wgs84(crs)
    periods: list[LicencePeriod] = []
    for i, feat, props, lid in _identified(feats, path, "licence_id"):
        status = str(props.get("status") or "").strip().lower()
        if status not in STATUSES:
            raise InputError(
                f"{path}: feature {i} ({lid}): status={props.get('status')!r}",
                hint=f"status must be one of {', '.join(STATUSES)}",
            )
        start = _parse_date(props.get("valid_from"), path, i, "valid_from")
        end = _parse_date(props.get("valid_to"), path, i, "valid_to")
        since = _parse_date(props.get("status_since"), path, i, "status_since")
        if start and end and end < start:
            raise InputError(f"{path}: feature {i} ({lid}): valid_to {end} is before valid_from {start}")
        geom = _geometry(feat, path, i, lid)
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InputError(f"{path}: feature {i} ({lid}): boundary must be a polygon, got {geom.geom_type}")
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            warnings.warn(f"{path}: feature {i} ({lid}): invalid boundary repaired with make_valid",
                          stacklevel=2)
        a_from = to_day(start) if start else -NEVER
        a_to = to_day(end) if end else NEVER
        if status in ("suspended", "revoked"):
            a_to = min(a_to, to_day(since) - 1) if since else a_from - 1
        periods.append(
            LicencePeriod(lid, status, to84(geom), a_from, a_to, props.get("holder"), props.get("commodity"))
        )
    return periods


def read_receptors(path: str | Path) -> list[Receptor]:
    """Read a receptors GeoJSON (points with receptor_id, kind, name)."""
    path = Path(path)
    feats, crs = _read_features(path, "receptors")
    to84 = _to_wgs84(crs)
    out: list[Receptor] = []
    for i, feat, props, rid in _identified(feats, path, "receptor_id"):
        kind = props.get("kind")
        if not kind:
            raise InputError(f"{path}: feature {i} ({rid}): missing property kind",
                             hint="kind is village, water_intake, well, spring, ...")
        geom = _geometry(feat, path, i, rid)
        if geom.geom_type != "Point":
            geom = geom.representative_point()
        out.append(Receptor(rid, str(kind), str(props.get("name") or rid), to84(geom)))
    return out


def geometry_to_grid(geom: shapely.Geometry, grid: Grid) -> shapely.Geometry:
    """Reproject an EPSG:4326 geometry to the grid CRS."""
    return reproject_geometry(geom, 4326, grid.crs.to_wkt())


def rasterize(geom: shapely.Geometry, grid: Grid) -> np.ndarray:
    """Boolean mask of the grid cells whose centre lies in ``geom`` (EPSG:4326)."""
    g = geometry_to_grid(geom, grid)
    return features.rasterize([(mapping(g), 1)], out_shape=grid.shape, transform=grid.transform,
                              fill=0, dtype=np.uint8).astype(bool)


@dataclass
class ComplianceResult:
    """Per pixel: index of the licence period authorising the disturbance at onset (-1: none)."""

    period_index: np.ndarray  # int16 (h, w)
    outside: np.ndarray  # bool (h, w): disturbed and authorised by no period at onset
    inside_masks: dict[str, np.ndarray]  # licence_id -> bool mask of its (union of) boundaries


def check_compliance(onset: np.ndarray, periods: list[LicencePeriod], grid: Grid) -> ComplianceResult:
    """Evaluate each disturbed pixel (onset > 0, days since epoch) against the licence periods."""
    disturbed = onset > 0
    index = np.full(onset.shape, -1, np.int16)
    inside: dict[str, np.ndarray] = {}
    for k, period in enumerate(periods):
        mask = rasterize(period.geometry, grid)
        inside[period.licence_id] = inside.get(period.licence_id, np.zeros_like(mask)) | mask
        ok = disturbed & mask & (onset >= period.active_from) & (onset <= period.active_to) & (index < 0)
        index[ok] = k
    return ComplianceResult(index, disturbed & (index < 0), inside)


def _as_day(value, default: int) -> int:
    if value in (None, ""):
        return default
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        value = dt.date.fromisoformat(str(value)[:10])
    return to_day(value)


def periods_from_versions(licences: list[dict]) -> list[LicencePeriod]:
    """Licence periods from dated licence versions (the registry's history).

    A version in force on day D (``effective_from <= D < effective_to``) authorised mining
    if its status is ``active`` or ``expired`` and ``valid_from <= D <= valid_to``; each
    version contributes one period with its own boundary.
    """
    periods = []
    for lic in licences:
        for v in lic["versions"]:
            eff_from = _as_day(v.get("effective_from"), -NEVER)
            eff_to = _as_day(v.get("effective_to"), NEVER)
            eff_to = eff_to - 1 if eff_to != NEVER else NEVER
            a_from = max(eff_from, _as_day(v.get("valid_from"), -NEVER))
            a_to = min(eff_to, _as_day(v.get("valid_to"), NEVER))
            status = str(v.get("status") or "").lower()
            if status not in ("active", "expired"):
                a_to = a_from - 1
            geom = v["geometry"]
            if not geom.is_valid:
                geom = shapely.make_valid(geom)
            periods.append(LicencePeriod(str(lic["licence_id"]), status, geom, a_from, a_to,
                                         v.get("holder") or lic.get("holder"), lic.get("commodity")))
    return periods


def receptors_from_records(records: list[dict]) -> list[Receptor]:
    """Receptors from registry records (receptor_id, kind, name, geometry in EPSG:4326)."""
    out = []
    for r in records:
        geom = r["geometry"]
        if geom.geom_type != "Point":
            geom = geom.representative_point()
        out.append(Receptor(str(r["receptor_id"]), str(r["kind"]), str(r.get("name") or r["receptor_id"]), geom))
    return out
