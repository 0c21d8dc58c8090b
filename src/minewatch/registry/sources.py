"""Read features from GeoJSON, GeoPackage, (zipped) Shapefile, KML and CSV files."""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import shapely

from minewatch.errors import InputError
from minewatch.registry.geometry import parse_crs
from minewatch.registry.mapping import ColumnMapping

#: File suffix -> format name.
FORMATS = {
    ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".zip": "shapefile",
    ".shp": "shapefile", ".kml": "kml", ".csv": "csv",
}
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkt_geom", "geometry_wkt")
_LON_NAMES = ("lon", "longitude", "long", "lng", "x", "x_geo", "este", "easting")
#: KML rendering properties (LIBKML driver fields), not data.
_KML_STYLE = {"id", "extrude", "tessellate", "visibility", "altitudeMode", "drawOrder", "icon",
              "begin", "end", "timestamp", "snippet"}
_LAT_NAMES = ("lat", "latitude", "y", "y_geo", "norte", "northing")


@dataclass
class SourceTable:
    """Features read from one file: raw attribute rows, geometries and their CRS."""

    name: str
    columns: list[str]
    rows: list[dict]
    geometries: np.ndarray  # shapely geometries or None, in ``crs``
    crs: pyproj.CRS | None
    fmt: str


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unsupported file type {path.suffix!r}",
            hint="use .geojson, .gpkg, .zip (shapefile), .shp, .kml or .csv",
        )
    return fmt


def read_source(path: str | Path, *, layer: str | None = None, crs: str | None = None,
                mapping: ColumnMapping | None = None,
                prefer_layers: tuple[str, ...] = ()) -> SourceTable:
    """Read one file. ``crs`` overrides (or supplies) the file's CRS. In a multi-layer
    GeoPackage or KML without ``layer``, the first of ``prefer_layers`` present is read."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    mapping = mapping or ColumnMapping()
    fmt = detect_format(p)
    crs = crs or mapping.crs
    if fmt == "csv":
        return _read_csv(p, crs, mapping)
    return _read_ogr(p, fmt, layer, crs, prefer_layers)


def _read_ogr(p: Path, fmt: str, layer: str | None, crs: str | None,
              prefer_layers: tuple[str, ...] = ()) -> SourceTable:
    import pyogrio

    target = str(p)
    try:
        if fmt in ("kml", "gpkg") and layer is None:
            layers = pyogrio.list_layers(target)
            names = [str(x) for x in layers[:, 0]]
            preferred = [n for n in (prefer_layers or ()) if n in names]
            if len(layers) > 1 and preferred:
                layer = preferred[0]
            elif len(layers) > 1:
                raise InputError(
                    f"{p}: holds {len(layers)} layers ({', '.join(str(x) for x in layers[:, 0])})",
                    hint="choose one with --layer",
                )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta, geom_wkb_arr, field_data = _ogr_read_arrays(target, layer)
    except InputError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{p}: cannot read {fmt} file: {first}",
                         hint="check that the file is complete and of the type its name says")
    columns = [str(c) for c in meta["fields"]]
    n = len(geom_wkb_arr) if geom_wkb_arr is not None else (len(field_data[0]) if field_data else 0)
    keep = [j for j, c in enumerate(columns) if not (fmt == "kml" and c in _KML_STYLE)]
    columns = [columns[j] for j in keep]
    rows = []
    for i in range(n):
        rows.append({columns[k]: _py(field_data[j][i]) for k, j in enumerate(keep)})
    geoms = np.empty(n, dtype=object)
    if geom_wkb_arr is not None:
        for i, w in enumerate(geom_wkb_arr):
            if w is None:
                geoms[i] = None
                continue
            try:
                geoms[i] = shapely.from_wkb(w)
            except Exception as exc:  # GEOS refused the geometry
                raise InputError(f"{p}: feature {i + 1}: unreadable geometry: "
                                 f"{str(exc).splitlines()[0]}") from None
    file_crs = meta.get("crs")
    if crs:
        the_crs = parse_crs(crs, str(p))
    elif file_crs:
        the_crs = parse_crs(file_crs, str(p))
    elif fmt in ("kml", "geojson"):
        the_crs = pyproj.CRS.from_epsg(4326)  # by definition of the format
    else:
        the_crs = None
    return SourceTable(p.name, columns, rows, geoms, the_crs, fmt)


def _ogr_read_arrays(target: str, layer):
    import pyogrio.raw

    meta, _fids, geometry, field_data = pyogrio.raw.read(target, layer=layer)
    return meta, geometry, field_data


def _py(v):
    """numpy scalar / NaN / bytes -> plain Python value or None."""
    if v is None:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, np.datetime64):
        v = v.astype("datetime64[us]").item()
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v


def _find(columns: list[str], wanted: str | None, names: tuple[str, ...]) -> str | None:
    if wanted:
        return wanted if wanted in columns else None
    low = {c.lower().strip(): c for c in columns}
    for n in names:
        if n in low:
            return low[n]
    return None


def _read_csv(p: Path, crs: str | None, mapping: ColumnMapping) -> SourceTable:
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text(encoding="latin-1")
    if not text.strip():
        raise InputError(f"{p}: empty CSV file")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{p}: empty CSV file") from None
    header = [h.strip() for h in header]
    g = mapping.geometry
    wkt_col = _find(header, g.get("wkt"), _WKT_NAMES)
    lon_col = _find(header, g.get("lon") or g.get("x"), _LON_NAMES)
    lat_col = _find(header, g.get("lat") or g.get("y"), _LAT_NAMES)
    if g.get("wkt") and wkt_col is None:
        raise InputError(f"{p}: WKT column {g['wkt']!r} (from the mapping) not in the header")
    rows, geoms = [], []
    for lineno, rec in enumerate(reader, start=2):
        if not any(c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            raise InputError(f"{p}: line {lineno}: {len(rec)} cells, header has {len(header)}",
                             hint="check quoting and the delimiter")
        row = {h: (v.strip() if v.strip() != "" else None) for h, v in zip(header, rec)}
        feat = len(rows) + 1
        geom = None
        if wkt_col:
            w = row.pop(wkt_col)
            if w:
                try:
                    geom = shapely.from_wkt(w)
                except Exception:
                    raise InputError(f"{p}: feature {feat} (line {lineno}), field '{wkt_col}': "
                                     f"not valid WKT: {w[:60]!r}") from None
        elif lon_col and lat_col:
            lo, la = row.pop(lon_col), row.pop(lat_col)
            if lo is not None or la is not None:
                try:
                    geom = shapely.Point(float(str(lo).replace(",", ".")),
                                         float(str(la).replace(",", ".")))
                except (TypeError, ValueError):
                    raise InputError(f"{p}: feature {feat} (line {lineno}), field "
                                     f"'{lon_col}'/'{lat_col}': not a number: {lo!r}, {la!r}") \
                        from None
        rows.append(row)
        geoms.append(geom)
    used = {wkt_col} if wkt_col else ({lon_col, lat_col} if lon_col and lat_col else set())
    columns = [h for h in header if h not in used]
    the_crs = parse_crs(crs, str(p)) if crs else pyproj.CRS.from_epsg(4326)
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    return SourceTable(p.name, columns, rows, arr, the_crs, "csv")
