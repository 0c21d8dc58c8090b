"""Licences and receptors as the analysis sees them: the models, the GeoJSON readers, the
registry adapters, and the JSON document an in-memory set is saved as.

A licence is turned into one or more :class:`LicencePeriod` records: a boundary
and the interval of days during which mining inside it was authorised. From a
GeoJSON licences file (the batch contract) the periods are derived as:

* ``active``: authorised from ``valid_from`` to ``valid_to`` (open ends allowed);
* ``expired``: authorised from ``valid_from`` to ``valid_to`` (it expired after);
* ``suspended`` / ``revoked``: authorised from ``valid_from`` until the day before
  the optional ``status_since`` property; without it, never (the file does not
  say since when, so no date can be trusted — use the registry's status history
  for exact dates).

Repairs (an invalid boundary made valid) and unknown vocabulary (a receptor kind
nobody knows) are reported as :class:`~minewatch.errors.MinewatchWarning`, which a
run records in its notes.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import shapely
from pyproj import CRS
from shapely.geometry import mapping, shape

from minewatch.analysis.geometry import reproject_geometry
from minewatch.dates import NEVER, from_day, parse_date, to_day
from minewatch.errors import InputError, RepairWarning, VocabularyWarning

STATUSES = ("active", "expired", "suspended", "revoked")
#: Receptor kinds, and how far from a downstream flow path each may lie and still be on it: a
#: village is an area of houses beside the river (its edge, not its centre point, is on the bank);
#: intakes, wells and springs are points (``None``: hydrology's default, max(60 m, 3 cells)).
RECEPTOR_SNAP_M: dict[str, float | None] = {
    "village": 250.0, "settlement": 250.0, "town": 250.0,
    "water_intake": None, "well": None, "spring": None, "river_reach": None, "protected_area": None,
}
RECEPTOR_KINDS = tuple(RECEPTOR_SNAP_M)
#: Document types of licences / receptors saved from memory (a registry-backed run's inputs).
PERIODS_DOC = "minewatch.licence_periods"
RECEPTORS_DOC = "minewatch.receptors"


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
    """A water source or settlement that pollution flowing downstream could reach."""

    receptor_id: str
    kind: str
    name: str
    geometry: shapely.Geometry  # EPSG:4326 point


def snap_distances() -> dict[str, float]:
    """``{kind: metres}`` for the kinds with their own snapping distance (others use the default)."""
    return {k: v for k, v in RECEPTOR_SNAP_M.items() if v is not None}


def norm_receptor_kind(kind: str, where: str) -> str:
    """A receptor kind in the vocabulary's spelling; unknown kinds are kept with a warning."""
    norm = str(kind).strip().lower().replace(" ", "_").replace("-", "_")
    if norm not in RECEPTOR_SNAP_M:
        warnings.warn(VocabularyWarning(
            f"{where}: unknown receptor kind {kind!r}: treated as a point receptor (snapped within "
            f"max(60 m, 3 DEM cells) of a flow path); known kinds: {', '.join(RECEPTOR_KINDS)}"), stacklevel=3)
    return norm


# --------------------------------------------------------------------------- GeoJSON files
def _load_json(path: Path, what: str) -> dict:
    """The JSON object in ``path`` (a GeoJSON FeatureCollection or a document saved by a run)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a GeoJSON file of {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid GeoJSON file ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a GeoJSON FeatureCollection of {what}")
    return doc


def _features(doc: dict, path: Path, what: str) -> tuple[list[dict], CRS]:
    """The features of a GeoJSON FeatureCollection and the CRS they declare (EPSG:4326 if none)."""
    if doc.get("type") != "FeatureCollection":
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


def _date(props: dict, field: str, path: Path, i: int) -> dt.date | None:
    value = props.get(field)
    if value in (None, ""):
        return None
    return parse_date(value, f"{path}: feature {i}: {field}=")


def _valid(geom: shapely.Geometry, where: str) -> shapely.Geometry:
    """``geom`` made valid, with a :class:`RepairWarning` saying what the repair changed."""
    if geom.is_valid:
        return geom
    reason = shapely.is_valid_reason(geom)
    fixed = shapely.make_valid(geom)
    polys = shapely.get_parts(fixed)
    fixed = shapely.union_all([p for p in polys if p.geom_type in ("Polygon", "MultiPolygon")])
    warnings.warn(RepairWarning(
        f"{where}: invalid boundary ({reason}) repaired with make_valid; its area changed from "
        f"{geom.area:.6g} to {fixed.area:.6g} (square units of the file's CRS): check the boundary, "
        f"the areas inside and outside this licence depend on it"), stacklevel=3)
    return fixed


def read_licences(path: str | Path) -> list[LicencePeriod]:
    """Read a licences GeoJSON (batch contract), or a licence-periods document saved by a run,
    into licence periods, validating every feature."""
    path = Path(path)
    doc = _load_json(path, "licences")
    if doc.get("type") == PERIODS_DOC:
        return periods_from_doc(doc)
    feats, crs = _features(doc, path, "licences")
    periods: list[LicencePeriod] = []
    for i, feat, props, lid in _identified(feats, path, "licence_id"):
        status = str(props.get("status") or "").strip().lower()
        if status not in STATUSES:
            raise InputError(
                f"{path}: feature {i} ({lid}): status={props.get('status')!r}",
                hint=f"status must be one of {', '.join(STATUSES)}",
            )
        start = _date(props, "valid_from", path, i)
        end = _date(props, "valid_to", path, i)
        since = _date(props, "status_since", path, i)
        if start and end and end < start:
            raise InputError(f"{path}: feature {i} ({lid}): valid_to {end} is before valid_from {start}")
        geom = _geometry(feat, path, i, lid)
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InputError(f"{path}: feature {i} ({lid}): boundary must be a polygon, got {geom.geom_type}")
        geom = _valid(geom, f"{path}: feature {i} ({lid})")
        a_from = to_day(start) if start else -NEVER
        a_to = to_day(end) if end else NEVER
        if status in ("suspended", "revoked"):
            a_to = min(a_to, to_day(since) - 1) if since else a_from - 1
        periods.append(LicencePeriod(lid, status, reproject_geometry(geom, crs, 4326), a_from, a_to,
                                     props.get("holder"), props.get("commodity")))
    return periods


def read_receptors(path: str | Path) -> list[Receptor]:
    """Read a receptors GeoJSON (points with receptor_id, kind, name), or a receptors document
    saved by a run."""
    path = Path(path)
    doc = _load_json(path, "receptors")
    if doc.get("type") == RECEPTORS_DOC:
        return receptors_from_doc(doc)
    feats, crs = _features(doc, path, "receptors")
    out: list[Receptor] = []
    for i, feat, props, rid in _identified(feats, path, "receptor_id"):
        kind = props.get("kind")
        if not kind:
            raise InputError(f"{path}: feature {i} ({rid}): missing property kind",
                             hint=f"kind is one of {', '.join(RECEPTOR_KINDS)}")
        kind = norm_receptor_kind(kind, f"{path}: feature {i} ({rid})")
        geom = _geometry(feat, path, i, rid)
        if geom.geom_type != "Point":
            geom = geom.representative_point()
        out.append(Receptor(rid, kind, str(props.get("name") or rid), reproject_geometry(geom, crs, 4326)))
    return out


# --------------------------------------------------------------------------- registry records
def _as_day(value, default: int) -> int:
    if value in (None, ""):
        return default
    return to_day(parse_date(value, "licence version date"))


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
            geom = _valid(v["geometry"], f"registry licence {lic['licence_id']}")
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
        kind = norm_receptor_kind(r["kind"], f"registry receptor {r['receptor_id']}")
        out.append(Receptor(str(r["receptor_id"]), kind, str(r.get("name") or r["receptor_id"]), geom))
    return out


# --------------------------------------------------------------------------- saved documents
def periods_to_doc(periods: list[LicencePeriod]) -> dict:
    """The JSON document a run saves licence periods as (re-read by :func:`read_licences`)."""
    return {"type": PERIODS_DOC, "periods": [
        {"licence_id": p.licence_id, "status": p.status, "active_from": p.active_from,
         "active_to": p.active_to, "holder": p.holder, "commodity": p.commodity,
         "geometry": mapping(p.geometry)} for p in periods]}


def periods_from_doc(doc: dict) -> list[LicencePeriod]:
    """Licence periods from :func:`periods_to_doc`'s document."""
    return [LicencePeriod(licence_id=p["licence_id"], status=p["status"], geometry=shape(p["geometry"]),
                          active_from=int(p["active_from"]), active_to=int(p["active_to"]),
                          holder=p.get("holder"), commodity=p.get("commodity"))
            for p in doc["periods"]]


def receptors_to_doc(receptors: list[Receptor]) -> dict:
    """The JSON document a run saves receptors as (re-read by :func:`read_receptors`)."""
    return {"type": RECEPTORS_DOC, "receptors": [
        {"receptor_id": r.receptor_id, "kind": r.kind, "name": r.name, "geometry": mapping(r.geometry)}
        for r in receptors]}


def receptors_from_doc(doc: dict) -> list[Receptor]:
    """Receptors from :func:`receptors_to_doc`'s document."""
    return [Receptor(receptor_id=r["receptor_id"], kind=r["kind"], name=r["name"],
                     geometry=shape(r["geometry"])) for r in doc["receptors"]]


def licence_validity(period: LicencePeriod) -> tuple[str | None, str | None]:
    """``(valid_from, valid_to)`` of a period as ISO dates, ``None`` for an open end."""
    return (None if period.active_from <= -NEVER else from_day(period.active_from).isoformat(),
            None if period.active_to >= NEVER else from_day(period.active_to).isoformat())
