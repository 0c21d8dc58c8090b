"""``minewatch fetch`` and ``minewatch cache info|clear``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.errors import InputError
from minewatch.imagery.aoi import parse_bbox
from minewatch.imagery.cache import Cache
from minewatch.imagery.fetch import FetchReport, fetch as fetch_core
from minewatch.imagery.http import RetryPolicy


def render_fetch_report(report: FetchReport, console: Console) -> None:
    """Print a fetch report as rich tables."""
    table = Table(title=f"{len(report.items)} items -> {report.catalog}")
    for col in ("date", "id", "collection", "bands", "read", "cached"):
        table.add_column(col)
    for it in report.items:
        table.add_row(it["datetime"][:10], it["id"], it["collection"], ",".join(it["bands"]),
                      str(it["read"]), str(it["from_cache"]))
    console.print(table)
    console.print(
        f"windows read: {report.windows_read}, from cache: {report.windows_cached}; "
        f"search {'from cache' if report.search_from_cache else 'run on ' + report.stac_url}",
        highlight=False)
    if report.dem:
        console.print(f"DEM: {Path(report.catalog).parent / report.dem}", highlight=False)
    for s in report.skipped:
        console.print(Text.assemble(("skipped", "yellow"), f" {s['item']}: {s['reason']}"))
    if report.failed:
        fail = Table(title=f"{len(report.failed)} items FAILED (left out; re-run to resume)")
        fail.add_column("item")
        fail.add_column("error")
        for f in report.failed:
            fail.add_row(f["item"], f["error"])
        console.print(fail)


@app.command()
def fetch(
    out: Path = typer.Option(..., "--out", "-o", help="Catalog folder to write."),
    start: str = typer.Option(..., "--start", help="First date, YYYY-MM-DD."),
    end: str = typer.Option(..., "--end", help="Last date, YYYY-MM-DD."),
    bbox: Optional[str] = typer.Option(None, "--bbox", help="W,S,E,N in degrees (WGS84)."),
    site: Optional[str] = typer.Option(None, "--site", help="A registry site id (needs --registry)."),
    registry: Optional[str] = typer.Option(None, "--registry", help="Registry file or URL."),
    collection: List[str] = typer.Option(
        ["sentinel-2-l2a"], "--collection",
        help="sentinel-2-l2a and/or landsat-c2-l2 (repeat to mix), or any collection id."),
    max_cloud: Optional[float] = typer.Option(None, "--max-cloud", help="Max eo:cloud_cover, %."),
    stac_url: Optional[str] = typer.Option(
        None, "--stac-url",
        help="earth-search (default), planetary-computer, or any STAC API URL."),
    bands: Optional[str] = typer.Option(None, "--bands", help="Comma-separated common names."),
    dem: bool = typer.Option(False, "--dem", help="Also fetch Copernicus DEM GLO-30."),
    refresh: bool = typer.Option(False, "--refresh", help="Search again, ignoring cached searches."),
    retries: int = typer.Option(5, "--retries", help="Tries per request."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds per request."),
) -> None:
    """Find, read (AOI windows only) and cache imagery into a local STAC catalog."""
    if (bbox is None) == (site is None):
        raise InputError("give exactly one of --bbox W,S,E,N or --site ID")
    if site is not None:
        if registry is None:
            raise InputError("--site needs --registry (the registry holding the site)")
        from minewatch.registry import open_registry
        from minewatch.run.fetching import site_bbox

        area = site_bbox(open_registry(registry), site)
    else:
        area = parse_bbox(bbox or "")
    console = output.console()
    policy = RetryPolicy(attempts=max(1, retries), timeout=timeout)
    with Progress(TextColumn("fetch {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("searching", total=None)

        def _progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=total)

        report = fetch_core(area, start, end, out, collections=collection, max_cloud=max_cloud,
                            stac_url=stac_url,
                            bands=[b.strip() for b in bands.split(",")] if bands else None,
                            dem=dem, refresh=refresh, policy=policy, progress=_progress)
    render_fetch_report(report, console)


cache_app = typer.Typer(help="The download cache (~/.cache/minewatch or $MINEWATCH_CACHE_DIR).",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info() -> None:
    """Show where the cache is and how much it holds."""
    info = Cache.default().info()
    console = output.console()
    console.print(f"cache: {info['root']}", highlight=False)
    for kind in ("windows", "searches"):
        console.print(f"  {kind}: {info[kind]['count']} files, "
                      f"{info[kind]['bytes'] / 1e6:.1f} MB", highlight=False)
    console.print(f"  total: {info['total_bytes'] / 1e6:.1f} MB", highlight=False)


@cache_app.command("clear")
def cache_clear(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
) -> None:
    """Delete every cached window and search."""
    cache = Cache.default()
    if not yes and not typer.confirm(f"delete everything under {cache.root}?"):
        raise typer.Exit(1)
    freed = cache.clear()
    output.console().print(f"cleared {cache.root} ({freed / 1e6:.1f} MB freed)", highlight=False)
