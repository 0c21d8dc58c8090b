"""``minewatch analyze``: one monitoring run over a local STAC catalog (the batch contract)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console

from minewatch.cli.main import app
from minewatch.cli.progress import rich_progress
from minewatch.errors import InputError


def parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date", hint="write it as YYYY-MM-DD") from None


def print_summary(summary: dict, out: Path, console: Console) -> None:
    d = summary["disturbance"]
    console.print(
        f"[bold]new mining disturbance:[/] {d['total_area_ha']:.2f} ha "
        f"([bold]{d['outside_licence_area_ha']:.2f} ha outside any valid licence[/]), "
        f"first onset {d['first_date'] or '—'}, {len(summary['alerts'])} alert(s)"
    )
    for r in summary["receptors_at_risk"]:
        console.print(f"  downstream: {r['name']} ({r['kind']}) at {r['flow_distance_m']:.0f} m "
                      f"from {', '.join(r['alert_ids'])}")
    console.print(f"outputs in {out}: disturbance_date.tif, summary.json, report.html")


@app.command()
def analyze(
    catalog: Path = typer.Argument(..., help="Local STAC catalog.json or collection.json."),
    licences: Path = typer.Option(None, "--licences", help="Licences GeoJSON (licence_id, holder, commodity, "
                                  "status, valid_from, valid_to)."),
    receptors: Path = typer.Option(None, "--receptors", help="Receptors GeoJSON points (receptor_id, kind, name)."),
    dem: Path = typer.Option(None, "--dem", help="DEM GeoTIFF for downstream tracing."),
    start: str = typer.Option(..., "--start", help="First monitored day (YYYY-MM-DD); earlier scenes are history."),
    end: str = typer.Option(..., "--end", help="Last monitored day (YYYY-MM-DD)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    backend: str = typer.Option("auto", "--backend", help="Change engine backend: auto, cpu or gpu."),
) -> None:
    """Map new mining disturbance, check it against licences and trace it downstream.

    Writes OUT/disturbance_date.tif (int32 days since 1970-01-01 of onset, 0 = none),
    OUT/confidence.tif, OUT/alerts.geojson, OUT/summary.json and OUT/report.html.
    """
    from minewatch.pipeline import AnalysisRequest, run_analysis

    for path, opt in ((catalog, "CATALOG"), (licences, "--licences"), (receptors, "--receptors"), (dem, "--dem")):
        if path is not None and not path.exists():
            raise InputError(f"{opt}: file not found: {path}")
    if licences is None:
        raise InputError("no licences given", hint="pass --licences LICENCES.geojson")
    req = AnalysisRequest(catalog=catalog, out=out, start=parse_date(start, "--start"),
                          end=parse_date(end, "--end"), licences=licences, receptors=receptors, dem=dem,
                          backend=backend)
    console = Console(stderr=True)
    with rich_progress(console) as progress:
        summary = run_analysis(req, progress)
    print_summary(summary, out, Console())
