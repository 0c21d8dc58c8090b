"""``minewatch river-signal``: turbidity / colour along a river, upstream vs downstream, per date."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from minewatch.cli import output
from minewatch.cli.main import app


@app.command("river-signal")
def river_signal_cmd(
    points: list[Path] = typer.Argument(..., help="Point CSVs (one per date, or with a date column)."),
    river: Path = typer.Option(..., "--river", help="River line (GeoJSON, shapefile, GPKG)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    source: Optional[Path] = typer.Option(None, "--source",
                                          help="Mine or reservoir geometry: chainage 0."),
    value: str = typer.Option("Turbidity", "--value",
                              help="Column to analyse, or ndti / iron_ratio / "
                              "turbidity_dogliotti computed from band columns."),
    lon_col: str = typer.Option("Longitude", "--lon-col"),
    lat_col: str = typer.Option("Latitude", "--lat-col"),
    date_col: Optional[str] = typer.Option(None, "--date-col",
                                           help="Date column (default: date in the file name)."),
    bands: str = typer.Option("B02,B03,B04,B8A", "--bands",
                              help="blue,green,red,nir column names for computed indices."),
    band_scale: float = typer.Option(1.0, "--band-scale", help="Band value -> reflectance."),
    bin_km: float = typer.Option(20.0, "--bin-km", help="Profile bin length (km)."),
    max_offset_m: float = typer.Option(5000.0, "--max-offset-m",
                                       help="Drop points farther than this from the line."),
    threshold: Optional[float] = typer.Option(None, "--threshold",
                                              help="Plume threshold (default 2 x background)."),
    reverse: bool = typer.Option(False, "--reverse",
                                 help="The river line is digitised upstream (mouth first)."),
) -> None:
    """Profile a water signal along a river per date, test it, locate the plume front, chart it."""
    from minewatch.analysis.water.chainage import read_river_line, read_source_geometry, river_reach
    from minewatch.analysis.water.river_signal import (
        add_water_indices,
        analyse_river_signal,
        read_point_tables,
    )
    from minewatch.analysis.water.workflow import write_river_outputs
    from minewatch.errors import InputError

    names = [b.strip() for b in bands.split(",")]
    if len(names) != 4:
        raise InputError(f"--bands {bands!r}: give four names blue,green,red,nir")
    pts = read_point_tables(points, lon=lon_col, lat=lat_col, date=date_col)
    if value in {"ndti", "iron_ratio", "turbidity_dogliotti"} and value not in pts.columns:
        pts = add_water_indices(pts, blue=names[0], green=names[1], red=names[2], nir=names[3],
                                scale=band_scale)
    reach = river_reach(read_river_line(river), read_source_geometry(source) if source else None,
                        reverse=reverse)
    res = analyse_river_signal(pts, reach, value, bin_km=bin_km, max_offset_m=max_offset_m,
                               threshold=threshold)
    write_river_outputs(res, out, value_label=value)
    console = output.console()
    t = Table(title=f"{value} along the river (threshold {res['threshold']:.3g})")
    for c in ("date", "km observed", "trend downstream", "rho", "p", "front km", "peak km",
              "peak"):
        t.add_column(c, no_wrap=c in ("date", "km observed"))
    g = res["gradient"].set_index("date")
    for f in res["fronts"].itertuples():
        gr = g.loc[f.date]
        t.add_row(f.date, f"{f.window_from_km:.0f}-{f.window_to_km:.0f}", gr["trend"],
                  f"{gr['spearman_rho']:.2f}", f"{gr['p_value']:.2g}",
                  "-" if f.front_km != f.front_km else f"{f.front_km:.0f} ({f.front_state})",
                  f"{f.peak_km:.0f}", f"{f.peak_value:.3g}")
    console.print(t)
    for s in res["speeds"].itertuples():
        console.print(f"front {s.from_date} -> {s.to_date}: {s.from_front_km:.0f} -> "
                      f"{s.to_front_km:.0f} km, {s.speed_km_per_day:.1f} km/day ({s.kind})",
                      highlight=False)
    if not res["updown"]["testable"].any():
        console.print("upstream vs downstream test: not possible, no points upstream of the "
                      "source on any date", highlight=False)
    if source is not None:
        console.print(f"river line {reach.geodesic_length_km:.1f} km; the source lies "
                      f"{reach.source_offset_km:.1f} km from it (chainage 0 = nearest point)",
                      highlight=False)
    console.print(f"{res['summary']['n_points']} points used, {res['n_dropped_offset']} farther "
                  f"than {max_offset_m:.0f} m from the line dropped. Written to {out}",
                  highlight=False)
