"""Export registry tables to GeoJSON, GeoPackage, zipped Shapefile, KML or CSV (WKT).

Exports write to a temporary file beside the target and rename it into place,
so a failed export never leaves a half-written file. Licences export one
feature per version (their whole history); importing the file into an empty
registry rebuilds the same history.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import shapely

from minewatch.errors import InputError
from minewatch.registry.schema import spec_for
from minewatch.registry.vocabulary import SHORT_NAMES

EXPORT_FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg",
                  ".zip": "shapefile", ".kml": "kml", ".csv": "csv"}
#: Fields left out of exports (registry bookkeeping that a re-import assigns anew).
NOT_EXPORTED = {"import_id"}


def _cell(v):
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
            f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def export_rows(rows: list[dict], kind: str, path: str | Path, fmt: str | None = None) -> int:
    """Write ``rows`` (from :meth:`Registry.rows`) of ``kind`` to ``path``; returns the count."""
    spec = spec_for(kind)
    p = Path(path)
    fmt = fmt or EXPORT_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(f"{p}: unknown export type {p.suffix!r}",
                         hint="use .geojson, .gpkg, .zip (shapefile), .kml or .csv")
    if not p.parent.exists():
        raise InputError(f"{p}: folder {p.parent} does not exist")
    fields = [f for f in spec.fields if f.name not in NOT_EXPORTED]
    if fmt in ("shapefile", "kml") and not spec.geometry:
        raise InputError(f"{kind} has no geometry: export it as .csv, .geojson or .gpkg")
    geoms = [r.get("geometry") for r in rows] if spec.geometry else None
    if fmt == "shapefile" and geoms:
        types = {g.geom_type for g in geoms if g is not None}
        types = {t.replace("Multi", "") for t in types}
        if len(types) > 1:
            raise InputError(
                f"{kind} mixes geometry types ({', '.join(sorted(types))}); a Shapefile holds "
                "one", hint="export as .gpkg or .geojson")
    tmpdir = tempfile.mkdtemp(prefix=".export-", dir=p.parent)
    try:
        tmp = Path(tmpdir) / p.name
        if fmt == "csv":
            _write_csv(tmp, fields, rows, bool(spec.geometry))
        else:
            _write_ogr(tmp, fmt, spec.name if kind != "licences" else "licences", fields, rows,
                       geoms, spec.geometry)
        os.replace(tmp, p)
    finally:
        for f in Path(tmpdir).glob("*"):
            f.unlink()
        os.rmdir(tmpdir)
    return len(rows)


def _write_csv(tmp: Path, fields, rows, has_geom: bool) -> None:
    names = [f.name for f in fields] + (["wkt"] if has_geom else [])
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for r in rows:
            vals = [_cell(r.get(f.name)) for f in fields]
            if has_geom:
                g = r.get("geometry")
                vals.append(shapely.to_wkt(g, rounding_precision=-1) if g is not None else None)
            w.writerow(["" if v is None else v for v in vals])


def _write_ogr(tmp: Path, fmt: str, layer: str, fields, rows, geoms, geom_type) -> None:
    import pyogrio.raw

    short = fmt == "shapefile"
    names = [SHORT_NAMES.get(f.name, f.name) if short else f.name for f in fields]
    if short:
        assert all(len(n) <= 10 for n in names), names
    arrays = []
    for f in fields:
        vals = [_cell(r.get(f.name)) for r in rows]
        if f.type == "int":
            arr = np.array([np.nan if v is None else v for v in vals], dtype=float)
            if not np.isnan(arr).any():
                arr = arr.astype(np.int64)
            else:
                arr = np.array([None if v is None else str(v) for v in vals], dtype=object)
        elif f.type == "float":
            arr = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        else:
            arr = np.array([None if v is None else str(v) for v in vals], dtype=object)
        arrays.append(arr)
    wkb = None
    if geoms is not None:
        if short and geom_type == "MULTIPOLYGON":
            pass
        wkb = np.array([None if g is None else shapely.to_wkb(g, output_dimension=2)
                        for g in geoms], dtype=object)
    gtype = {"MULTIPOLYGON": "MultiPolygon", "POINT": "Point"}.get(geom_type or "", "Unknown")
    driver = {"geojson": "GeoJSON", "gpkg": "GPKG", "shapefile": "ESRI Shapefile",
              "kml": "LIBKML"}[fmt]
    kw = {}
    if fmt == "geojson":
        kw["layer_options"] = {"RFC7946": "NO", "WRITE_NAME": "NO",
                               "COORDINATE_PRECISION": "15"}
    if fmt == "shapefile":
        kw["encoding"] = "UTF-8"
    target = tmp
    if fmt == "shapefile":
        target = tmp.with_suffix(".shp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyogrio.raw.write(
            str(target), wkb if wkb is not None else None, arrays, names, layer=layer,
            driver=driver, geometry_type=gtype if wkb is not None else None,
            crs="EPSG:4326" if wkb is not None else None, promote_to_multi=False, **kw,
        )
    if fmt == "shapefile":
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for part in sorted(target.parent.glob(target.stem + ".*")):
                if part.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                    z.write(part, arcname=f"{layer}{part.suffix.lower()}")
        for part in target.parent.glob(target.stem + ".*"):
            if part != tmp:
                part.unlink()
