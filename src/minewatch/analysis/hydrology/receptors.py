"""Water risk downstream of mine features, and a groundwater vulnerability indicator.

:func:`receptors_downstream` answers "which water sources and villages lie on
the surface flow path below this pit, dump or tailings facility, how far along
the flow, and how soon could water get there?" using D8 routing on a
depression-filled DEM (:mod:`minewatch.analysis.hydrology`).

:func:`groundwater_vulnerability` gives wells and springs near mine features a
documented 0-1 *indicator* from distance, surface gradient, position in the
flow field and (optionally) permeability. It is not a groundwater model; see
``docs/hydrology.md`` for its formula and limits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from minewatch.analysis.hydrology.flow import FlowGrid, flow_grid
from minewatch.analysis.hydrology.grid import Dem, check_overlap, read_dem
from minewatch.analysis.hydrology.paths import catchment_cells, downstream_distance, flow_path
from minewatch.errors import DataError, InputError

INPUT_CRS = "EPSG:4326"


@dataclass
class RiskResult:
    """Receptors at risk downstream of mine features.

    Attributes
    ----------
    receptors : list of dict
        One per receptor within ``snap_distance_m`` of a downstream path,
        sorted by flow distance: ``receptor_id, kind, name, flow_distance_m,
        travel_time_h, alert_ids`` (nearest first), ``catchment_share``
        (share of the area draining to the receptor's path cell that lies in
        the listed features), plus ``snap_distance_m`` (receptor to path cell),
        ``catchment_area_km2``, ``distance_by_alert_m`` and
        ``catchment_share_by_alert``.
    paths : list of dict
        ``alert_id``, ``geometry`` (LineString, EPSG:4326) and ``length_m``:
        the flow path from the feature's main outlet (its cell of largest
        accumulation) until ``max_distance_m`` or the DEM edge. ``reaches_edge``
        tells which.
    not_at_risk : list of str
        Receptors on the DEM that no downstream path comes near.
    outside_dem : list of str
        Receptors off the DEM (or on nodata): not checked.
    skipped_sources : list of str
        Features with no valid DEM cell under them.
    params : dict
        The assumptions used (distances, velocity, DEM, cell size).
    """

    receptors: list[dict] = field(default_factory=list)
    paths: list[dict] = field(default_factory=list)
    not_at_risk: list[str] = field(default_factory=list)
    outside_dem: list[str] = field(default_factory=list)
    skipped_sources: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers
def _load_flow(dem: str | Path | Dem | FlowGrid) -> FlowGrid:
    if isinstance(dem, FlowGrid):
        return dem
    if isinstance(dem, Dem):
        return flow_grid(dem)
    return flow_grid(read_dem(dem))


def _transformers(flow: FlowGrid, input_crs: str):
    from pyproj import CRS, Transformer

    if flow.dem.crs is None:
        raise InputError(
            f"DEM {flow.dem.path or '<array>'} has no CRS; cannot place {input_crs} features on it",
            hint="assign one, e.g. gdal_edit.py -a_srs EPSG:32633 dem.tif",
        )
    dem_crs = CRS.from_user_input(flow.dem.crs.to_wkt())
    src = CRS.from_user_input(input_crs)
    fwd = Transformer.from_crs(src, dem_crs, always_xy=True)
    back = Transformer.from_crs(dem_crs, src, always_xy=True)
    return fwd, back


def _to_dem_crs(geom, fwd):
    import shapely

    return shapely.transform(geom, lambda x, y: fwd.transform(x, y), interleaved=False)


def _check_geom(geom, where: str):
    import shapely

    if not isinstance(geom, shapely.Geometry):
        raise InputError(f"{where}: geometry must be a shapely geometry, got {type(geom).__name__}")
    if geom.is_empty:
        raise InputError(f"{where}: geometry is empty")


def _rasterize(flow: FlowGrid, geom) -> np.ndarray:
    from rasterio.features import rasterize

    mask = rasterize([(geom, 1)], out_shape=flow.shape, transform=flow.dem.transform,
                     all_touched=True, fill=0, dtype="uint8").astype(bool)
    return mask & flow.valid


def _metric_offsets(flow: FlowGrid, x: float, y: float, rows: np.ndarray, cols: np.ndarray):
    """Metric (east, north) offsets from point (x, y) to the centres of given cells."""
    t = flow.dem.transform
    xc, yc = flow.dem.xy(rows, cols)
    ex = (np.asarray(xc) - x) / abs(t.a) * flow.dx_m[rows]
    ny = (np.asarray(yc) - y) / abs(t.e) * flow.dy_m[rows]
    return ex, ny


def _window(flow: FlowGrid, row: int, col: int, radius_m: float):
    nrows, ncols = flow.shape
    r = min(max(row, 0), nrows - 1)
    hr = int(math.ceil(radius_m / max(float(flow.dy_m[r]), 1e-9))) + 1
    hc = int(math.ceil(radius_m / max(float(flow.dx_m[r]), 1e-9))) + 1
    r0, r1 = max(row - hr, 0), min(row + hr + 1, nrows)
    c0, c1 = max(col - hc, 0), min(col + hc + 1, ncols)
    if r0 >= r1 or c0 >= c1:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rr, cc = np.mgrid[r0:r1, c0:c1]
    return rr.ravel(), cc.ravel()


def default_snap_distance_m(flow: FlowGrid) -> float:
    """Default snap distance: max(60 m, 3 cells).

    A D8 path is one cell wide and runs through cell centres; the real channel
    can be a cell or two away (DEM error, coarse cells), and a well or intake
    sits beside the river, not in it. Three cells, and never less than 60 m,
    catches those without reaching across to neighbouring valleys on DEMs of
    10-90 m cells.
    """
    mid = flow.shape[0] // 2
    cell = max(float(flow.dx_m[mid]), float(flow.dy_m[mid]))
    return max(60.0, 3.0 * cell)


def _receptor_fields(rec: dict, i: int) -> tuple[str, str, str, Any]:
    if not isinstance(rec, dict):
        raise InputError(f"receptor #{i}: expected a dict, got {type(rec).__name__}")
    missing = [k for k in ("receptor_id", "geometry") if k not in rec]
    if missing:
        raise InputError(f"receptor #{i}: missing key(s) {', '.join(missing)}",
                         hint="each receptor needs receptor_id, kind, name and geometry")
    geom = rec["geometry"]
    _check_geom(geom, f"receptor {rec['receptor_id']!r}")
    if geom.geom_type != "Point":
        geom = geom.representative_point()
    return str(rec["receptor_id"]), str(rec.get("kind", "")), str(rec.get("name", "")), geom


# --------------------------------------------------------------------------- receptors
def receptors_downstream(
    dem_path: str | Path | Dem | FlowGrid,
    sources: Sequence[tuple[str, Any]],
    receptors: Sequence[dict],
    max_distance_m: float = 20000.0,
    snap_distance_m: float | dict[str, float] | None = None,
    velocity_m_s: float = 0.5,
    input_crs: str = INPUT_CRS,
) -> RiskResult:
    """Receptors downstream of mine features, with flow distance and travel time.

    Every DEM cell under a feature polygon drains along D8 (after
    depression filling and flat routing); the union of those paths, with the
    shortest along-flow distance from the feature to each cell, is followed up
    to ``max_distance_m``. A receptor is at risk when it lies within
    ``snap_distance_m`` of a cell of that union; its flow distance is the
    along-flow distance of the nearest such cell.

    Parameters
    ----------
    dem_path : str, Path, Dem or FlowGrid
        A rasterio-readable DEM (any CRS), or an already routed grid to reuse.
    sources : list of (alert_id, shapely geometry)
        Mine features in ``input_crs`` (EPSG:4326 by default).
    receptors : list of dict
        ``{"receptor_id", "kind", "name", "geometry"}`` with a shapely Point in
        ``input_crs`` (other geometries use a representative point).
    max_distance_m : float
        How far downstream to look, along the flow path.
    snap_distance_m : float or dict, optional
        How close to the path a receptor must be; default
        :func:`default_snap_distance_m` (max(60 m, 3 cells)). A dict maps receptor
        kinds to distances (a village is an area beside the river, an intake sits on
        its bank); kinds it does not name use the default.
    velocity_m_s : float
        Stated mean flow velocity for ``travel_time_h = distance / velocity``.
    input_crs : str
        CRS of the source and receptor geometries.

    Returns
    -------
    RiskResult

    Raises
    ------
    InputError
        Malformed sources, receptors or parameters.
    DataError
        The DEM does not overlap any source (message names the file and bounds).
    """
    import shapely

    if not (max_distance_m > 0):
        raise InputError(f"max_distance_m must be positive, got {max_distance_m}")
    if not (velocity_m_s > 0):
        raise InputError(f"velocity_m_s must be positive, got {velocity_m_s}",
                         hint="0.5 m/s is a typical mean for small rivers")
    snap_by_kind = dict(snap_distance_m) if isinstance(snap_distance_m, dict) else {}
    if isinstance(snap_distance_m, dict):
        snap_distance_m = None
    for value in [snap_distance_m, *snap_by_kind.values()]:
        if value is not None and not (value >= 0):
            raise InputError(f"snap_distance_m must be >= 0, got {value}")
    src_list = []
    seen: set[str] = set()
    for i, item in enumerate(sources):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise InputError(f"source #{i}: expected (alert_id, geometry), got {item!r:.80}")
        aid, geom = str(item[0]), item[1]
        _check_geom(geom, f"source {aid!r}")
        if aid in seen:
            raise InputError(f"source #{i}: duplicate alert_id {aid!r}")
        seen.add(aid)
        src_list.append((aid, geom))
    rec_list = [_receptor_fields(r, i) for i, r in enumerate(receptors)]

    flow = _load_flow(dem_path)
    fwd, back = _transformers(flow, input_crs)
    snap = default_snap_distance_m(flow) if snap_distance_m is None else float(snap_distance_m)
    result = RiskResult(params={
        "dem": flow.dem.path, "max_distance_m": float(max_distance_m),
        "snap_distance_m": snap, "snap_distance_by_kind_m": snap_by_kind, "velocity_m_s": float(velocity_m_s),
        "cell_size_m": [float(flow.dx_m[flow.shape[0] // 2]), float(flow.dy_m[flow.shape[0] // 2])],
        "routing": "D8 on a depression-filled DEM with flats routed (Barnes et al. 2014)",
    })

    # ---- sources on the grid
    dem_sources = [(aid, _to_dem_crs(g, fwd)) for aid, g in src_list]
    if dem_sources:
        check_overlap(flow.dem, shapely.union_all([g for _, g in dem_sources]).bounds, "mine features")
    nrows, ncols = flow.shape
    acc = flow.accumulation
    per_alert: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    for aid, g in dem_sources:
        mask = _rasterize(flow, g)
        if not mask.any():
            result.skipped_sources.append(aid)
            continue
        cells, dist = downstream_distance(flow, mask, max_distance_m)
        src_cells = np.flatnonzero(mask)
        per_alert.append((aid, cells, dist, src_cells))
        outlet = int(src_cells[np.argmax(acc.ravel()[src_cells])]) if acc is not None else int(src_cells[0])
        prow, pcol, pdist = flow_path(flow, outlet // ncols, outlet % ncols, max_distance_m)
        xs, ys = flow.dem.xy(prow, pcol)
        lon, lat = back.transform(np.asarray(xs, float), np.asarray(ys, float))
        pts = list(zip(np.atleast_1d(lon).tolist(), np.atleast_1d(lat).tolist()))
        if len(pts) == 1:
            pts = pts * 2
        from minewatch.analysis.hydrology._kernels import receiver

        last = int(prow[-1]) * ncols + int(pcol[-1])
        ends_at_edge = receiver(flow.dirs.ravel(), last, nrows, ncols) < 0
        result.paths.append({"alert_id": aid, "geometry": shapely.LineString(pts),
                             "length_m": float(pdist[-1]), "reaches_edge": bool(ends_at_edge)})
    if dem_sources and not per_alert:
        raise DataError(
            f"none of the {len(dem_sources)} mine feature(s) covers a valid cell of DEM "
            f"{flow.dem.path or '<array>'} (bounds {flow.dem.bounds})",
            hint="the features fall on nodata or outside the DEM; use a DEM covering them",
        )

    # ---- receptors on the grid
    located = []
    for rid, kind, name, pt in rec_list:
        x, y = fwd.transform(pt.x, pt.y)
        row, col = flow.dem.rowcol(x, y)
        if not (0 <= row < nrows and 0 <= col < ncols) or not flow.valid[row, col]:
            result.outside_dem.append(rid)
            continue
        snap_r = float(snap_by_kind.get(kind, snap))
        rr, cc = _window(flow, row, col, snap_r)
        ex, ny = _metric_offsets(flow, x, y, rr, cc)
        d = np.hypot(ex, ny)
        keep = d <= snap_r
        located.append((rid, kind, name, rr[keep] * ncols + cc[keep], d[keep]))

    hits: dict[str, dict[str, tuple[float, int, float]]] = {}
    dense = np.full(nrows * ncols, np.inf, dtype=np.float64)
    for aid, cells, dist, _ in per_alert:
        dense[cells] = dist
        for rid, _k, _n, wcells, wd in located:
            fd = dense[wcells]
            ok = np.isfinite(fd)
            if not ok.any():
                continue
            cand = np.flatnonzero(ok)
            # nearest path cell; on a tie the shorter flow distance
            best = cand[np.lexsort((fd[cand], wd[cand]))[0]]
            hits.setdefault(rid, {})[aid] = (float(fd[best]), int(wcells[best]), float(wd[best]))
        dense[cells] = np.inf

    area = (flow.dx_m * flow.dy_m)
    alert_cells = {aid: src for aid, _, _, src in per_alert}
    catch_cache: dict[int, np.ndarray] = {}
    for rid, kind, name, _, _ in located:
        if rid not in hits:
            result.not_at_risk.append(rid)
            continue
        by_alert = hits[rid]
        order = sorted(by_alert, key=lambda a: (by_alert[a][0], a))
        fdist, cell, sdist = by_alert[order[0]]
        if cell not in catch_cache:
            catch_cache[cell] = catchment_cells(flow, cell)
        cat = catch_cache[cell]
        cat_area = float(area[cat // ncols].sum())
        in_cat = np.zeros(nrows * ncols, dtype=bool)
        in_cat[cat] = True
        union = np.zeros(nrows * ncols, dtype=bool)
        shares = {}
        for a in order:
            sc = alert_cells[a]
            sc_in = sc[in_cat[sc]]
            shares[a] = float(area[sc_in // ncols].sum()) / cat_area if cat_area > 0 else 0.0
            union[sc_in] = True
        uc = np.flatnonzero(union)
        share = float(area[uc // ncols].sum()) / cat_area if cat_area > 0 else 0.0
        result.receptors.append({
            "receptor_id": rid, "kind": kind, "name": name,
            "flow_distance_m": round(fdist, 1),
            "travel_time_h": round(fdist / velocity_m_s / 3600.0, 3),
            "alert_ids": order,
            "catchment_share": round(share, 6),
            "snap_distance_m": round(sdist, 1),
            "catchment_area_km2": round(cat_area / 1e6, 6),
            "distance_by_alert_m": {a: round(by_alert[a][0], 1) for a in order},
            "catchment_share_by_alert": {a: round(shares[a], 6) for a in order},
        })
    result.receptors.sort(key=lambda r: (r["flow_distance_m"], r["receptor_id"]))
    return result


# --------------------------------------------------------------------------- groundwater
#: Weights of the groundwater vulnerability indicator components.
GW_WEIGHTS = {"distance": 0.40, "gradient": 0.20, "position": 0.25, "permeability": 0.15}
#: Surface gradient at which the gradient component saturates (5 %).
GW_GRADIENT_SATURATION = 0.05
#: Hydraulic conductivity range (m/s) mapped linearly in log10 onto 0..1.
GW_K_RANGE = (1e-9, 1e-3)


def _gw_class(score: float) -> str:
    if score >= 0.66:
        return "high"
    if score >= 0.33:
        return "moderate"
    return "low"


def groundwater_vulnerability(
    dem_path: str | Path | Dem | FlowGrid,
    features: Sequence[tuple[str, Any]],
    wells: Sequence[dict],
    permeability_path: str | Path | None = None,
    max_distance_m: float = 5000.0,
    snap_distance_m: float | None = None,
    input_crs: str = INPUT_CRS,
) -> list[dict]:
    """Groundwater vulnerability *indicator* (0-1) for wells and springs near mine features.

    For each well and each feature within ``max_distance_m``::

        D = 1 - d / max_distance_m                 (d: distance well-feature edge, m)
        G = clip(((z_feature - z_well) / d) / 0.05, 0, 1)   (surface gradient towards the well)
        P = 1 if the well is within snap distance of the feature's surface flow path,
            0.5 if it is lower than the feature (downgradient) but off the path,
            0 if it is level with or higher than the feature (upgradient)
        K = clip((log10(k) + 9) / 6, 0, 1)         (k: hydraulic conductivity, m/s; optional)
        score = (0.40 D + 0.20 G + 0.25 P [+ 0.15 K]) / (0.85 [+ 0.15])

    ``z_feature`` is the lowest DEM elevation under the feature (where seepage
    leaves it), ``z_well`` the DEM elevation at the well. The well keeps the
    feature with the highest score. Classes: high >= 0.66 > moderate >= 0.33 > low.

    This is a screening indicator built from the land surface, *not a
    groundwater model*: it assumes the water table follows topography and
    knows nothing of aquifer layering, confining beds, fractures, pumping or
    recharge. Use it to choose where to sample, never to declare a well safe.

    Returns
    -------
    list of dict
        Per well: ``receptor_id, kind, name, feature_id, distance_m,
        z_well_m, z_feature_m, gradient, downgradient, on_flow_path,
        permeability_m_s, components, score, class``. Wells farther than
        ``max_distance_m`` from every feature get ``score`` 0 and class
        ``"beyond max distance"``; wells off the DEM get ``"outside DEM"``.
    """
    import shapely
    from shapely import affinity

    if not (max_distance_m > 0):
        raise InputError(f"max_distance_m must be positive, got {max_distance_m}")
    flow = _load_flow(dem_path)
    fwd, _ = _transformers(flow, input_crs)
    snap = default_snap_distance_m(flow) if snap_distance_m is None else float(snap_distance_m)
    nrows, ncols = flow.shape
    zraw = flow.dem.data
    perm = None
    if permeability_path is not None:
        perm = read_dem(permeability_path)
    feats = []
    for i, item in enumerate(features):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise InputError(f"feature #{i}: expected (feature_id, geometry), got {item!r:.80}")
        fid, g = str(item[0]), item[1]
        _check_geom(g, f"feature {fid!r}")
        gd = _to_dem_crs(g, fwd)
        mask = _rasterize(flow, gd)
        if not mask.any():
            continue
        zf = float(np.min(zraw[mask]))
        cells, _ = downstream_distance(flow, mask, max_distance_m)
        path = np.zeros(nrows * ncols, dtype=bool)
        path[cells] = True
        path[np.flatnonzero(mask)] = False
        feats.append((fid, gd, zf, path))
    if features and not feats:
        raise DataError(f"no mine feature covers a valid cell of DEM {flow.dem.path or '<array>'} "
                        f"(bounds {flow.dem.bounds})", hint="use a DEM covering the mine features")
    out = []
    for i, rec in enumerate(wells):
        rid, kind, name, pt = _receptor_fields(rec, i)
        x, y = fwd.transform(pt.x, pt.y)
        row, col = flow.dem.rowcol(x, y)
        base = {"receptor_id": rid, "kind": kind, "name": name}
        if not (0 <= row < nrows and 0 <= col < ncols) or not flow.valid[row, col]:
            out.append({**base, "score": None, "class": "outside DEM"})
            continue
        zw = float(zraw[row, col])
        kval = None
        if perm is not None:
            px, py = x, y
            prow, pcol = perm.rowcol(px, py)
            if 0 <= prow < perm.shape[0] and 0 <= pcol < perm.shape[1] and perm.valid_mask()[prow, pcol]:
                kval = float(perm.data[prow, pcol])
        # metric frame around the well
        fx = flow.dx_m[row] / abs(flow.dem.transform.a)
        fy = flow.dy_m[row] / abs(flow.dem.transform.e)
        rr, cc = _window(flow, row, col, snap)
        ex, ny = _metric_offsets(flow, x, y, rr, cc)
        near = (rr * ncols + cc)[np.hypot(ex, ny) <= snap]
        best = None
        for fid, gd, zf, path in feats:
            gm = affinity.affine_transform(gd, [fx, 0, 0, fy, -x * fx, -y * fy])
            d = float(gm.distance(shapely.Point(0, 0)))
            if d > max_distance_m:
                continue
            D = 1.0 - d / max_distance_m
            grad = (zf - zw) / max(d, 1.0)
            G = float(np.clip(grad / GW_GRADIENT_SATURATION, 0.0, 1.0))
            on_path = bool(path[near].any())
            down = zw < zf
            P = 1.0 if on_path else (0.5 if down else 0.0)
            comps = {"distance": D, "gradient": G, "position": P}
            wsum = GW_WEIGHTS["distance"] + GW_WEIGHTS["gradient"] + GW_WEIGHTS["position"]
            if kval is not None and kval > 0:
                comps["permeability"] = float(np.clip((math.log10(kval) + 9.0) / 6.0, 0.0, 1.0))
                wsum += GW_WEIGHTS["permeability"]
            score = sum(GW_WEIGHTS[k] * v for k, v in comps.items()) / wsum
            cand = {**base, "feature_id": fid, "distance_m": round(d, 1), "z_well_m": zw,
                    "z_feature_m": zf, "gradient": round(grad, 5), "downgradient": down,
                    "on_flow_path": on_path, "permeability_m_s": kval,
                    "components": {k: round(v, 4) for k, v in comps.items()},
                    "score": round(score, 4), "class": _gw_class(score)}
            if best is None or cand["score"] > best["score"]:
                best = cand
        out.append(best if best is not None else {**base, "score": 0.0, "class": "beyond max distance"})
    return out
