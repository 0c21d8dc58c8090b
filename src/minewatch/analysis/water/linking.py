"""Linking sampling points to receptors (villages, intakes, wells) and to a river reach."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from minewatch.errors import InputError


def _local_crs(lon: np.ndarray, lat: np.ndarray) -> str:
    return (f"+proj=tmerc +lat_0={float(np.nanmean(lat)):.6f} +lon_0={float(np.nanmean(lon)):.6f}"
            " +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs")


def link_receptors(points: pd.DataFrame, receptors: str | Path, *, id_field: str | None = None,
                   max_distance_m: float = 5000.0) -> pd.DataFrame:
    """Attach the nearest receptor (within ``max_distance_m``) to each sampling point.

    Parameters
    ----------
    points : pandas.DataFrame
        Sampling points with ``lon`` and ``lat`` (e.g. :func:`sampling_points`).
    receptors : path
        Vector file of receptors (points or polygons, any CRS).
    id_field : str, optional
        Attribute naming a receptor; default the first of ``id, name, receptor_id``
        present, else the feature index.

    Returns
    -------
    pandas.DataFrame
        ``points`` with ``receptor_id`` (empty when none is close enough) and
        ``receptor_distance_m``.
    """
    import geopandas as gpd

    p = Path(receptors)
    if not p.exists():
        raise InputError(f"receptor file {p} does not exist")
    rec = gpd.read_file(p)
    if rec.empty:
        raise InputError(f"{p}: no receptors")
    if rec.crs is None:
        rec = rec.set_crs("EPSG:4326")
    field = id_field or next((c for c in ("id", "name", "receptor_id") if c in rec.columns), None)
    if id_field and id_field not in rec.columns:
        raise InputError(f"{p}: no attribute {id_field!r}",
                         hint="attributes are " + ", ".join(map(str, rec.columns)))
    rec = rec.assign(_rid=rec[field].astype(str) if field else rec.index.astype(str))
    crs = _local_crs(points["lon"].to_numpy(), points["lat"].to_numpy())
    pts = gpd.GeoDataFrame(points.copy(), geometry=gpd.points_from_xy(points["lon"], points["lat"]),
                           crs="EPSG:4326").to_crs(crs)
    joined = gpd.sjoin_nearest(pts, rec[["_rid", "geometry"]].to_crs(crs), how="left",
                               max_distance=max_distance_m, distance_col="receptor_distance_m")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = points.copy()
    out["receptor_id"] = joined["_rid"].fillna("").astype(str).to_numpy()
    out["receptor_distance_m"] = joined["receptor_distance_m"].to_numpy()
    return out


def link_river(points: pd.DataFrame, reach, *, max_offset_m: float = 2000.0,
               reach_id: str = "") -> pd.DataFrame:
    """Chainage (km from the source, + downstream) of sampling points near the river.

    Points farther than ``max_offset_m`` from the line get NaN chainage and an
    empty ``reach_id``.
    """
    ch, off = reach.chainage(points["lon"].to_numpy(), points["lat"].to_numpy())
    near = off <= max_offset_m
    out = points.copy()
    out["river_chainage_km"] = np.where(near, ch, np.nan)
    out["river_offset_m"] = off
    out["reach_id"] = np.where(near, reach_id or "reach", "")
    return out
