"""``minewatch flow`` and ``minewatch trace``: hydrology on a DEM from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from minewatch.atomic import write_text
from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.errors import InputError

console = output.console()


def _steps(total: int) -> tuple[Progress, object]:
    prog = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=output.console(stderr=True), transient=True)
    task = prog.add_task("starting", total=total)
    return prog, task


def _read_geojson(path: Path, what: str) -> list[tuple[dict, object]]:
    from shapely.geometry import shape

    if not path.exists():
        raise InputError(f"{what} file not found: {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} file {path} is not valid JSON: {exc}") from exc
    if doc.get("type") == "Feature":
        feats = [doc]
    elif doc.get("type") == "FeatureCollection":
        feats = doc.get("features") or []
    else:
        raise InputError(f"{what} file {path} is not a GeoJSON Feature or FeatureCollection")
    out = []
    for i, f in enumerate(feats):
        try:
            geom = shape(f["geometry"])
        except Exception as exc:
            raise InputError(f"{what} file {path}, feature #{i}: bad geometry ({exc})") from exc
        out.append((f.get("properties") or {}, geom))
    if not out:
        raise InputError(f"{what} file {path} holds no features")
    return out


def _write_json_atomic(path: Path, doc: dict) -> None:
    write_text(path, json.dumps(doc))


@app.command("flow")
def flow_cmd(
    dem: Path = typer.Argument(..., help="DEM GeoTIFF (any GDAL raster)."),
    out: Path = typer.Option(..., "--out", help="Folder for filled.tif, d8.tif, accumulation.tif, streams.tif, streams.geojson."),
    stream_km2: float = typer.Option(None, "--stream-km2", help="Upstream area (km²) that starts a stream; default 1 % of the DEM."),
) -> None:
    """Condition a DEM and route flow: depression filling, flats, D8, accumulation, streams."""
    import numpy as np
    from pyproj import Transformer

    from minewatch.analysis.hydrology import (
        extract_streams,
        flow_grid,
        read_dem,
        stream_lines,
        write_raster,
    )

    d = read_dem(dem)
    prog, task = _steps(5)
    with prog:
        def step(name: str) -> None:
            prog.update(task, description=name, advance=1)

        flow = flow_grid(d, progress=step)
        step("streams")
        streams = extract_streams(flow, threshold_km2=stream_km2)
        lines = stream_lines(flow, streams)
    out.mkdir(parents=True, exist_ok=True)
    nod = np.float32(-9999.0)
    filled = np.where(flow.valid, flow.filled, nod).astype(np.float32)
    write_raster(out / "filled.tif", filled, d, nodata=float(nod))
    write_raster(out / "d8.tif", flow.dirs, d, nodata=255)
    acc = np.where(flow.valid, flow.accumulation, -1).astype(np.int32)
    write_raster(out / "accumulation.tif", acc, d, nodata=-1)
    write_raster(out / "streams.tif", np.where(flow.valid, streams, 255).astype(np.uint8), d, nodata=255)
    feats = []
    if d.crs is not None:
        tr = Transformer.from_crs(d.crs.to_wkt(), "EPSG:4326", always_xy=True)
        for i, (x, y) in enumerate(lines):
            lon, lat = tr.transform(x, y)
            coords = [[float(a), float(b)] for a, b in zip(lon, lat)]
            if len(coords) == 1:
                coords = coords * 2
            feats.append({"type": "Feature", "properties": {"segment": i},
                          "geometry": {"type": "LineString", "coordinates": coords}})
    _write_json_atomic(out / "streams.geojson", {"type": "FeatureCollection", "features": feats})
    console.print(f"{int(flow.valid.sum())} cells routed; {int(streams.sum())} stream cells in "
                  f"{len(lines)} segments; outputs in {out}")


@app.command("trace")
def trace_cmd(
    dem: Path = typer.Argument(..., help="DEM GeoTIFF covering the features and the area downstream."),
    sources: Path = typer.Option(..., "--from", help="GeoJSON (EPSG:4326) of mine features; property alert_id or id."),
    receptors: Path = typer.Option(None, "--receptors", help="GeoJSON points (EPSG:4326): receptor_id or id, kind, name."),
    out: Path = typer.Option(..., "--out", help="Output GeoJSON: flow paths and receptors."),
    max_distance: float = typer.Option(20000.0, "--max-distance", help="How far downstream to follow the flow (m)."),
    snap: float = typer.Option(None, "--snap", help="How close to the path a receptor must be (m); default max(60 m, 3 cells)."),
    velocity: float = typer.Option(0.5, "--velocity", help="Assumed mean flow velocity (m/s) for travel times."),
) -> None:
    """Trace the downstream flow path of mine features and list the receptors on it."""
    from shapely.geometry import mapping

    from minewatch.analysis.hydrology import flow_grid, read_dem
    from minewatch.analysis.hydrology.receptors import receptors_downstream

    srcs = []
    for i, (props, geom) in enumerate(_read_geojson(sources, "sources")):
        srcs.append((str(props.get("alert_id", props.get("id", f"feature-{i}"))), geom))
    recs = []
    if receptors is not None:
        for i, (props, geom) in enumerate(_read_geojson(receptors, "receptors")):
            recs.append({"receptor_id": str(props.get("receptor_id", props.get("id", f"receptor-{i}"))),
                         "kind": str(props.get("kind", "")), "name": str(props.get("name", "")),
                         "geometry": geom})
    d = read_dem(dem)
    prog, task = _steps(4)
    with prog:
        def step(name: str) -> None:
            prog.update(task, description=name, advance=1)

        flow = flow_grid(d, progress=step)
        step("tracing")
        res = receptors_downstream(flow, srcs, recs, max_distance_m=max_distance,
                                   snap_distance_m=snap, velocity_m_s=velocity)
    feats = []
    for p in res.paths:
        feats.append({"type": "Feature", "geometry": mapping(p["geometry"]),
                      "properties": {"type": "flow_path", "alert_id": p["alert_id"],
                                     "length_m": round(p["length_m"], 1),
                                     "reaches_edge": p["reaches_edge"]}})
    by_id = {r["receptor_id"]: r for r in recs}
    for r in res.receptors:
        props = {"type": "receptor_at_risk", **{k: v for k, v in r.items()}}
        feats.append({"type": "Feature", "geometry": mapping(by_id[r["receptor_id"]]["geometry"]),
                      "properties": props})
    for rid in res.not_at_risk:
        rr = by_id[rid]
        feats.append({"type": "Feature", "geometry": mapping(rr["geometry"]),
                      "properties": {"type": "receptor_not_at_risk", "receptor_id": rid,
                                     "kind": rr["kind"], "name": rr["name"]}})
    _write_json_atomic(out, {"type": "FeatureCollection", "features": feats,
                             "properties": {"assumptions": res.params,
                                            "outside_dem": res.outside_dem,
                                            "skipped_sources": res.skipped_sources}})
    table = Table(title=f"Receptors downstream (velocity {velocity} m/s, snap {res.params['snap_distance_m']:.0f} m)")
    for col in ("receptor", "kind", "flow km", "hours", "alerts", "catchment share"):
        table.add_column(col)
    for r in res.receptors:
        table.add_row(r["receptor_id"], r["kind"], f"{r['flow_distance_m'] / 1000:.2f}",
                      f"{r['travel_time_h']:.1f}", ", ".join(r["alert_ids"]),
                      f"{r['catchment_share']:.1%}")
    console.print(table)
    console.print(f"{len(res.receptors)} receptor(s) at risk, {len(res.not_at_risk)} not at risk, "
                  f"{len(res.outside_dem)} outside the DEM; written {out}")
