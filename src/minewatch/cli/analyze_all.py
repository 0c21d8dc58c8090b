"""``minewatch analyze-all``: every site of a registry as one job, sites in parallel."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.cli.progress import rich_progress
from minewatch.dates import parse_date


@app.command("analyze-all")
def analyze_all(
    registry: str = typer.Option(None, "--registry", help="Registry (GeoPackage path or postgresql:// URL) whose "
                                 "sites are analysed; each run and its alerts are recorded in it."),
    aois: Path = typer.Option(None, "--aois", help="Instead of --registry: GeoJSON polygons (property aoi_id), "
                              "each analysed against --licences."),
    licences: Path = typer.Option(None, "--licences", help="With --aois: the licences GeoJSON."),
    catalog: str = typer.Option(None, "--catalog", help="Local STAC catalog of the imagery; {site} in the path "
                                "becomes each site's id (imagery/{site}/catalog.json). Leave out to fetch "
                                "each site's imagery from a STAC API."),
    sites: str = typer.Option(None, "--sites", help="Comma-separated site (or AOI) ids (default: all)."),
    start: str = typer.Option(..., "--start", help="First monitored day (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--end", help="Last monitored day (YYYY-MM-DD)."),
    out: Path = typer.Option(..., "--out", help="Job folder: sites/<site_id>/ per site, sites.csv, sites.json "
                             "and the STAC collection.json."),
    dem: Path = typer.Option(None, "--dem", help="DEM GeoTIFF for downstream tracing (every site)."),
    backend: str = typer.Option("auto", "--backend", help="Change engine backend: auto, cpu or gpu."),
    tile_size: int = typer.Option(512, "--tile-size", help="Tile size in pixels."),
    scheduler: str = typer.Option(None, "--scheduler", help="Where the sites run: serial (default), local or "
                                  "tcp://HOST:8786; default $MINEWATCH_SCHEDULER."),
    workers: int = typer.Option(None, "--workers", help="With --scheduler local: worker processes."),
) -> None:
    """Analyse every site of a registry (or those of --sites, or the areas of --aois); a failing site
    is reported and does not stop the others. Exit code 1 when some site failed."""
    from minewatch.run import DetectionOptions, ExecutionOptions, MonitoringRequest, Period, RunInputs
    from minewatch.run.cluster import resolve_scheduler
    from minewatch.run.sites import SitesRequest, run_sites

    template = MonitoringRequest(
        inputs=RunInputs(catalog=Path("."), licences=Path("."), dem=dem),
        period=Period(parse_date(start, "--start"), parse_date(end, "--end")), out=out,
        detection=DetectionOptions(backend=backend, tile_size=tile_size), execution=ExecutionOptions())
    req = SitesRequest(registry=registry, template=template, catalog=catalog, aois=aois, licences=licences,
                       sites=tuple(s.strip() for s in sites.split(",") if s.strip()) if sites else (),
                       scheduler=resolve_scheduler(scheduler), n_workers=workers)
    console = output.console(stderr=True)
    with rich_progress(console) as progress:
        outcomes = run_sites(req, progress)
    table = Table("site", "outcome", "alerts", "disturbed ha", "outside licence ha", "seconds", "error")
    for o in outcomes:
        table.add_row(o.site_id, o.outcome, "" if o.n_alerts is None else str(o.n_alerts),
                      "" if o.total_area_ha is None else f"{o.total_area_ha:.2f}",
                      "" if o.outside_licence_area_ha is None else f"{o.outside_licence_area_ha:.2f}",
                      f"{o.seconds:.1f}", o.error or "")
    output.console().print(table)
    failed = sum(o.outcome == "failed" for o in outcomes)
    output.console().print(f"{len(outcomes) - failed} of {len(outcomes)} site(s) done, {failed} failed; "
                           f"table in {out / 'sites.csv'}, STAC collection {out / 'collection.json'}")
    if failed:
        raise typer.Exit(1)
