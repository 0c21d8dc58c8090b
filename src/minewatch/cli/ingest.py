"""``minewatch ingest FOLDER --out CATALOG``: GeoTIFF folder -> static STAC catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.cli.output import print_warning

if TYPE_CHECKING:
    from minewatch.imagery.ingest import IngestReport


def render_report(report: IngestReport, console: Console) -> None:
    """Print an ingest report as rich tables (file names and reasons shown literally)."""
    sc = report.scale
    console.print(Text.assemble(
        (str(len(report.items)), "bold"), f" dates -> {report.catalog}\n"
        f"scale: reflectance = DN * {sc['scale']:.6g} + {sc['offset']:g} ({sc['description']}; {sc['how']})"))
    for w in report.warnings:
        print_warning(w, console)
    flagged = [it for it in report.items if it["warnings"]]
    if flagged:
        table = Table(title="Dates with remarks", show_lines=False)
        table.add_column("date")
        table.add_column("bands")
        table.add_column("remarks")
        for it in flagged:
            table.add_row(it["id"], ",".join(it["bands"]), "; ".join(it["warnings"]))
        console.print(table)
    if report.skipped:
        # One row per (file name, reason): 78 dates of SCL_rgbviz.tif make one row.
        groups: dict[tuple[str, str], list[str]] = {}
        for s in report.skipped:
            groups.setdefault((Path(s.path).name, s.reason), []).append(s.path)
        table = Table(title=f"Files not used ({len(report.skipped)})")
        table.add_column("file")
        table.add_column("count", justify="right")
        table.add_column("why")
        for (_, reason), paths in groups.items():
            label = paths[0] if len(paths) == 1 else f"{paths[0]} ..."
            table.add_row(label, str(len(paths)), reason)
        console.print(table)
    console.print(f"report: {str(Path(report.catalog).parent / 'ingest_report.json')}",
                  highlight=False)


@app.command()
def ingest(
    folder: Path = typer.Argument(..., help="Folder of per-date GeoTIFFs."),
    out: Path = typer.Option(..., "--out", "-o", help="Catalog folder to write (catalog.json)."),
    scale: Optional[str] = typer.Option(
        None, "--scale",
        help="Value scale: 10000 (S2 L2A), s2-pb04, 65535 (EO Browser 16-bit), landsat-c2, "
        "255 (8-bit quicklook), 1, or a number N (DN / N). Default: auto-detect."),
    band_order: Optional[str] = typer.Option(
        None, "--band-order", help="Bands of multi-band files in order, e.g. swir16,nir,red,green."),
    collection: str = typer.Option("ingested", "--collection", help="Collection id."),
    copy: bool = typer.Option(
        False, "--copy", help="Write every band into the catalog (needs nothing outside it)."),
    platform: Optional[str] = typer.Option(None, "--platform", help="e.g. sentinel-2a."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a non-empty --out."),
    decode_scl_rendering: bool = typer.Option(
        False, "--decode-scl-rendering",
        help="Decode EO Browser SCL colour renderings (SCL_rgbviz.tif) into SCL classes."),
) -> None:
    """Turn a folder of per-date GeoTIFFs into a STAC catalog that `analyze` reads."""
    from minewatch.imagery.ingest import ingest_folder

    console = output.console()
    with Progress(TextColumn("ingest {task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("scanning", total=None)

        def _progress(item_id: str, done: int, total: int) -> None:
            bar.update(task, description=item_id, completed=done, total=total)

        report = ingest_folder(folder, out, scale=scale, band_order=band_order,
                               collection_id=collection, copy=copy, overwrite=overwrite,
                               platform=platform, decode_scl_rendering=decode_scl_rendering,
                               progress=_progress)
    render_report(report, console)
