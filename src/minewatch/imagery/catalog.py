"""Read a local STAC catalog, collection or item collection into :class:`SceneItem` records.

The reader accepts assets keyed like Earth Search v1 (``blue``, ``red``, ``nir``,
``swir16``, ``scl``...) or like the Sentinel-2 band names (``B02``..``B12``,
``B8A``, ``SCL``), and Landsat's ``qa_pixel``. Each asset's
``raster:bands[0]`` scale/offset/nodata is kept so that reflectance is
``DN * scale + offset`` for that item alone (Sentinel-2 processing baseline
04.00 items carry offset -0.1, older ones 0).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from minewatch.errors import CatalogError, InputError

#: Band names of the common vocabulary, with their aliases in other catalogs.
BAND_ALIASES: dict[str, tuple[str, ...]] = {
    "coastal": ("B01", "B1", "coastal"),
    "blue": ("B02", "B2", "blue"),
    "green": ("B03", "B3", "green"),
    "red": ("B04", "B4", "red"),
    "rededge1": ("B05", "B5", "rededge1"),
    "rededge2": ("B06", "B6", "rededge2"),
    "rededge3": ("B07", "B7", "rededge3"),
    "nir": ("B08", "B8", "nir"),
    "nir08": ("B8A", "nir08"),
    "swir16": ("B11", "swir16", "swir1"),
    "swir22": ("B12", "swir22", "swir2"),
    "scl": ("SCL", "scl"),
    "qa_pixel": ("QA_PIXEL", "qa_pixel"),
    "datamask": ("datamask", "dataMask", "data_mask"),
}
_ALIAS_TO_BAND = {alias.lower(): band for band, aliases in BAND_ALIASES.items() for alias in aliases}

#: Bands read as categories (nearest-neighbour resampling, never scaled).
CATEGORICAL = frozenset({"scl", "qa_pixel", "datamask"})
#: Bands that define an item's (and the analysis') grid, in order of preference.
REFERENCE_BANDS = ("red", "green", "blue", "nir")


@dataclass(frozen=True)
class AssetRef:
    """One band of one item: where it is, how to turn its numbers into reflectance, and the
    grid the catalog declares for it (``proj:code``/``proj:epsg``, ``proj:shape``,
    ``proj:transform`` of the asset; checked by :func:`minewatch.imagery.assets.inspect_assets`)."""

    href: str
    scale: float = 1.0
    offset: float = 0.0
    nodata: float | None = None
    band_index: int = 1
    resolution: float | None = None
    crs: str | None = None
    shape: tuple[int, int] | None = None
    transform: tuple[float, ...] | None = None


@dataclass(frozen=True)
class SceneItem:
    """One acquisition: an id, its date and its bands."""

    id: str
    datetime: dt.datetime
    assets: dict[str, AssetRef] = field(default_factory=dict)
    platform: str | None = None
    cloud_cover: float | None = None
    crs: str | None = None
    href: str | None = None

    @property
    def date(self) -> dt.date:
        return self.datetime.date()

    @property
    def day(self) -> int:
        """Days since 1970-01-01."""
        return (self.date - dt.date(1970, 1, 1)).days


@dataclass(frozen=True)
class SkippedAsset:
    """One band of one item left out of a run, and why.

    ``stage`` is ``"inspection"`` (its header, before any pixel was read:
    :func:`minewatch.imagery.assets.inspect_assets`) or ``"reading"`` (its pixels could not
    be read: :func:`minewatch.imagery.load.load_tile`; it is no data where reading failed).
    """

    item_id: str
    date: dt.date
    band: str
    href: str
    reason: str
    stage: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready record (``item, date, band, href, reason, stage``)."""
        return {"item": self.item_id, "date": self.date.isoformat(), "band": self.band, "href": self.href,
                "reason": self.reason, "stage": self.stage}


def canonical_band(key: str) -> str | None:
    """Map an asset key (``B04``, ``red``, ``SCL``...) to the common vocabulary, else None."""
    return _ALIAS_TO_BAND.get(key.lower())


def _parse_datetime(item: dict, where: str) -> dt.datetime:
    props = item.get("properties") or {}
    value = props.get("datetime") or props.get("start_datetime")
    if not value:
        raise CatalogError(f"{where}: item has no datetime", hint="every STAC item needs properties.datetime")
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise CatalogError(f"{where}: unreadable datetime {value!r}") from None


def _resolve_href(href: str, base: Path) -> str:
    if "://" in href or href.startswith("/vsi"):
        return href
    path = Path(href)
    return str(path if path.is_absolute() else (base / path).resolve())


def _declared_crs(fields: dict) -> str | None:
    """``proj:code``, else ``EPSG:<proj:epsg>``, else ``proj:wkt2`` of an item's properties or an asset."""
    if fields.get("proj:code"):
        return str(fields["proj:code"])
    if fields.get("proj:epsg"):
        return f"EPSG:{fields['proj:epsg']}"
    return fields.get("proj:wkt2") or None


def _asset_ref(asset: dict, base: Path, where: str) -> AssetRef:
    bands = asset.get("raster:bands") or []
    first = bands[0] if bands else {}
    scale = first.get("scale", 1.0)
    offset = first.get("offset", 0.0)
    shape = asset.get("proj:shape")
    transform = asset.get("proj:transform")
    try:
        shape = (int(shape[0]), int(shape[1])) if shape is not None else None
        transform = tuple(float(v) for v in transform[:6]) if transform is not None else None
        if transform is not None and len(transform) != 6:
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise CatalogError(f"{where}: asset {asset.get('href')}: unreadable proj:shape or proj:transform "
                           f"({shape!r}, {transform!r})") from None
    return AssetRef(
        href=_resolve_href(asset["href"], base),
        scale=float(1.0 if scale is None else scale),
        offset=float(0.0 if offset is None else offset),
        nodata=first.get("nodata"),
        band_index=int(asset.get("minewatch:band_index", 1)),
        resolution=first.get("spatial_resolution") or asset.get("gsd"),
        crs=_declared_crs(asset),
        shape=shape,
        transform=transform,
    )


def parse_item(item: dict, base: Path, where: str) -> SceneItem:
    """Turn one STAC item dict into a :class:`SceneItem` (hrefs resolved against ``base``)."""
    props = item.get("properties") or {}
    assets: dict[str, AssetRef] = {}
    for key, asset in (item.get("assets") or {}).items():
        band = canonical_band(key)
        if band is None or "href" not in asset:
            continue
        assets.setdefault(band, _asset_ref(asset, base, where))
    crs = _declared_crs(props)
    return SceneItem(
        id=str(item.get("id", where)),
        datetime=_parse_datetime(item, where),
        assets=assets,
        platform=props.get("platform"),
        cloud_cover=props.get("eo:cloud_cover"),
        crs=crs,
        href=where,
    )


def _load_json(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputError(f"catalog not found: {path}", hint="pass a catalog.json or collection.json") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _walk(path: Path, seen: set[Path], items: list[SceneItem]) -> None:
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    doc = _load_json(path)
    kind = doc.get("type")
    if kind == "Feature":
        items.append(parse_item(doc, path.parent, str(path)))
        return
    if kind == "FeatureCollection":
        for i, feat in enumerate(doc.get("features", [])):
            items.append(parse_item(feat, path.parent, f"{path}#features[{i}]"))
        return
    if kind not in ("Catalog", "Collection"):
        raise CatalogError(
            f"{path}: not a STAC catalog, collection, item or item collection (type={kind!r})"
        )
    for link in doc.get("links", []):
        if link.get("rel") in ("item", "child") and link.get("href"):
            href = link["href"]
            if "://" in href:
                raise CatalogError(
                    f"{path}: links to a remote document {href}",
                    hint="analyze reads local catalogs; use `minewatch fetch` for remote ones",
                )
            _walk((path.parent / href), seen, items)


def open_catalog(path: str | Path) -> list[SceneItem]:
    """Read every item reachable from a local STAC catalog/collection/item collection.

    Items are returned sorted by datetime. Raises :class:`CatalogError` for a
    catalog with no items.
    """
    path = Path(path)
    if path.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (path / name).exists():
                path = path / name
                break
    items: list[SceneItem] = []
    _walk(path, set(), items)
    if not items:
        raise CatalogError(f"{path}: the catalog holds no items")
    items.sort(key=lambda it: (it.datetime, it.id))
    return items


def check_bands(items: list[SceneItem], required: tuple[str, ...], where: str) -> None:
    """Raise a clear error if no item (or only some) carries the bands the analysis needs."""
    missing_everywhere = [b for b in required if not any(b in it.assets for it in items)]
    if missing_everywhere:
        raise CatalogError(
            f"{where}: no item has the band(s) {', '.join(missing_everywhere)}",
            hint="assets must be keyed like Earth Search (blue, green, red, nir, swir16, swir22, scl) "
            "or B02..B12/SCL",
        )
