"""``minewatch analyze``: one monitoring run over a local STAC catalog (the batch contract)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.cli.progress import rich_progress
from minewatch.dates import parse_date
from minewatch.errors import InputError
from minewatch.imagery.aoi import parse_bbox


def print_summary(summary: dict, out: Path, console: Console) -> None:
    d = summary["disturbance"]
    console.print(Text.assemble(
        ("new mining disturbance:", "bold"), f" {d['total_area_ha']:.2f} ha (",
        (f"{d['outside_licence_area_ha']:.2f} ha outside any valid licence", "bold"),
        f"), first onset {d['first_date'] or '—'}, {len(summary['alerts'])} alert(s)"))
    for r in summary["receptors_at_risk"]:
        ids = r["alert_ids"]
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        console.print(f"  downstream: {r['name']} ({r['kind']}) at {r['flow_distance_m']:.0f} m along the flow "
                      f"path from {shown}")
    water = summary.get("water") or {}
    if water.get("river_signal"):
        rs = water["river_signal"]
        console.print(f"  river signal: {rs['status']}" + (f" ({len(rs['per_date'])} dates, "
                      f"{rs['n_points_upstream']} water pixels upstream, {rs['n_points_downstream']} downstream)"
                      if rs["status"] == "assessed" else f": {rs.get('reason', '')}"))
    if water.get("samples"):
        ws = water["samples"]
        console.print(f"  field samples: {ws['n_results']} results against {ws['standard']}; exceedances at "
                      f"{', '.join(ws['stations_with_exceedance']) or 'no station'}")
    a = summary["assessment"]
    console.print(f"  assessed: {a['assessed_ha']:.2f} ha ({100 * a['assessed_share']:.1f} % of the scene)")
    for note in summary["notes"]:
        console.print(f"note: {note}", style="yellow")
    console.print(f"outputs in {out}: disturbance_date.tif, summary.json, report.html"
                  + (", report.pdf" if (out / "report.pdf").exists() else "")
                  + "; evidence in evidence/ (check with `minewatch verify`)")


@app.command()
def analyze(
    catalog: Path = typer.Argument(None, help="Local STAC catalog.json or collection.json. Leave out to fetch "
                                   "imagery for --bbox (or the registry --site) from a STAC API instead."),
    licences: Path = typer.Option(None, "--licences", help="Licences GeoJSON (licence_id, holder, commodity, "
                                  "status, valid_from, valid_to)."),
    receptors: Path = typer.Option(None, "--receptors", help="Receptors GeoJSON points (receptor_id, kind, name)."),
    dem: Path = typer.Option(None, "--dem", help="DEM GeoTIFF for downstream tracing."),
    start: str = typer.Option(..., "--start", help="First monitored day (YYYY-MM-DD); earlier scenes are history."),
    end: str = typer.Option(..., "--end", help="Last monitored day (YYYY-MM-DD)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    backend: str = typer.Option("auto", "--backend", help="Change engine backend: auto or cpu (the monitor runs on the CPU)."),
    sign: Path = typer.Option(None, "--sign", help="Ed25519 key file (`minewatch keys generate`) to sign "
                              "OUT/evidence/manifest.json with."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the report to OUT/report.pdf (headless Chromium)."),
    lang: str = typer.Option("en", "--lang", help="Report language: en (English), es (Español) or az (Azərbaycanca)."),
    registry: str = typer.Option(None, "--registry", help="Registry (GeoPackage path or postgresql:// URL) to "
                                 "take licences and receptors from, instead of files; the run and its alerts are "
                                 "recorded in it. Needs --site."),
    site: str = typer.Option(None, "--site", help="Site id in the registry (with --registry)."),
    bbox: str = typer.Option(None, "--bbox", help="W,S,E,N (degrees): fetch imagery for this box instead of "
                             "reading CATALOG (with --registry/--site the site's box is used)."),
    history_start: str = typer.Option(None, "--history-start", help="When fetching: first day of the history "
                                      "period (default: two years before --start)."),
    stac_url: str = typer.Option(None, "--stac-url", help="When fetching: earth-search (default), "
                                 "planetary-computer or any STAC API URL."),
    collection: list[str] = typer.Option(["sentinel-2-l2a"], "--collection", help="When fetching: "
                                         "sentinel-2-l2a and/or landsat-c2-l2."),
    max_cloud: float = typer.Option(None, "--max-cloud", help="When fetching: max eo:cloud_cover, %."),
    samples: Path = typer.Option(None, "--samples", help="Lab results (CSV or Excel; see `minewatch samples "
                                 "import`) to check against --standard and add to the report's water section."),
    samples_mapping: str = typer.Option(None, "--samples-mapping", help="Column-mapping YAML/JSON for "
                                        "--samples, or the name of a shipped mapping."),
    standard: str = typer.Option("WHO-GDWQ-2022", "--standard", help="Standard for --samples: "
                                 "WHO-GDWQ-2022 or EU-2020/2184."),
    scheduler: str = typer.Option(None, "--scheduler", help="Where the tiles run: serial (default), local (a "
                                  "Dask cluster of this machine) or a Dask scheduler address tcp://HOST:8786; "
                                  "default $MINEWATCH_SCHEDULER."),
    workers: int = typer.Option(None, "--workers", help="With --scheduler local: worker processes (default: "
                                "one per core)."),
    tile_size: int = typer.Option(512, "--tile-size", help="Tile size in pixels (one task per tile)."),
) -> None:
    """Map new mining disturbance, check it against licences and trace it downstream.

    Writes OUT/disturbance_date.tif (int32 days since 1970-01-01 of onset, 0 = none),
    OUT/confidence.tif, OUT/alerts.geojson, OUT/summary.json and OUT/report.html.
    """
    from minewatch.run import (DetectionOptions, EvidenceOptions, ExecutionOptions, FetchOptions,
                               MonitoringRequest, Period, RunInputs, WaterOptions, run_monitoring)
    from minewatch.run.cluster import resolve_scheduler

    if site is not None and registry is None:
        raise InputError("--registry and --site go together", hint="pass both, or neither")
    fetch = None
    if catalog is None and (bbox is not None or site is not None):
        fetch = FetchOptions(bbox=parse_bbox(bbox) if bbox is not None else None,
                             history_start=parse_date(history_start, "--history-start") if history_start else None,
                             stac_url=stac_url, collections=tuple(collection), max_cloud=max_cloud)
    elif bbox is not None:
        raise InputError("give either a CATALOG or --bbox, not both")
    req = MonitoringRequest(
        inputs=RunInputs(catalog=catalog, licences=licences, receptors=receptors, dem=dem,
                         registry=registry, fetch=fetch),
        site=site,
        period=Period(parse_date(start, "--start"), parse_date(end, "--end")),
        out=out,
        detection=DetectionOptions(backend=backend, tile_size=tile_size),
        water=WaterOptions(samples=samples, samples_mapping=samples_mapping, standard=standard),
        evidence=EvidenceOptions(lang=lang, sign_key=sign, pdf=pdf),
        execution=ExecutionOptions(scheduler=resolve_scheduler(scheduler), n_workers=workers),
    )
    console = output.console(stderr=True)
    with rich_progress(console) as progress:
        result = run_monitoring(req, progress)
    if result.run_id is not None:
        console.print(f"recorded run {result.run_id} and {len(result.alerts)} alert(s) in {registry}")
    print_summary(result.summary, out, output.console())
