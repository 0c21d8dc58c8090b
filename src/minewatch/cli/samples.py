"""``minewatch samples import|standards``: lab results of water samples against drinking-water standards."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.cli.output import print_warning

samples_app = typer.Typer(
    help="Field water samples: import lab results, flag exceedances of drinking-water "
    "standards, compute heavy-metal pollution indices.",
    no_args_is_help=True,
)
app.add_typer(samples_app, name="samples")


class NonDetectRule(str, Enum):
    """Value given to a non-detect (<LOD) in the pollution indices."""

    half = "half"
    zero = "zero"
    lod = "lod"


@samples_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="Lab results: CSV or Excel, long, wide or transposed."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    mapping: Optional[str] = typer.Option(
        None, "--mapping", "-m",
        help="Column-mapping YAML/JSON, or the name of a shipped mapping "
        "(pilcomayo_calidad_agua, ita_2006_water)."),
    standard: str = typer.Option("WHO-GDWQ-2022", "--standard", "-s",
                                 help="Standard id: WHO-GDWQ-2022, EU-2020/2184, or one of "
                                 "--standards FILE."),
    standards: Optional[Path] = typer.Option(
        None, "--standards", help="User standards CSV (same columns as the shipped table)."),
    receptors: Optional[Path] = typer.Option(
        None, "--receptors", help="Vector file of receptors to link sampling points to."),
    river: Optional[Path] = typer.Option(None, "--river", help="River line to locate points on."),
    source: Optional[Path] = typer.Option(None, "--source",
                                          help="Mine/reservoir geometry: chainage origin."),
    nondetect: NonDetectRule = typer.Option(NonDetectRule.half, "--nondetect",
                                            help="Non-detects in indices: half (LOD/2), zero, lod."),
) -> None:
    """Import lab results, compare them with a standard and write the tables."""
    from minewatch.analysis.water.samples import shipped_mapping_path
    from minewatch.analysis.water.workflow import (
        import_samples,
        link_stations,
        write_sample_outputs,
    )
    map_path: Optional[Path] = None
    if mapping:
        map_path = Path(mapping)
        if not map_path.exists() and shipped_mapping_path(mapping).exists():
            map_path = shipped_mapping_path(mapping)
    res = import_samples(file, map_path, standards_path=standards, standard=standard,
                         nondetect=nondetect.value)
    if receptors is not None or river is not None:
        res = link_stations(res, receptors=receptors, river=river, source=source)
    write_sample_outputs(res, out)
    console = output.console()
    summ = res["summary"]
    table = Table(title=f"Exceedances of {standard} per station and date")
    for c in ("station", "date", "exceeds", "inconclusive", "exceeded (x limit)"):
        table.add_column(c)
    for r in summ.itertuples():
        style = "red" if r.n_exceeds else None
        table.add_row(str(r.station_id), str(r.date), str(r.n_exceeds),
                      str(r.n_inconclusive), r.exceeded, style=style)
    console.print(table)
    without = res["without_limit"]
    if len(without):
        print_warning(
            f"not assessed, {standard} sets no limit for: "
            + ", ".join(f"{r.parameter} ({r.n_results} result{'s' if r.n_results != 1 else ''})"
                        for r in without.itertuples())
            + " - these are neither exceeded nor within a limit", console)
    n_samples = res["samples"]["sample_id"].nunique()
    n_ex = int((summ["n_exceeds"] > 0).sum())
    console.print(f"{len(res['samples'])} results in {n_samples} samples from "
                  f"{len(res['stations'])} stations; {n_ex} samples exceed at least one limit. "
                  f"Written to {str(out)}", highlight=False)


@samples_app.command("standards")
def standards_cmd(
    standards: Optional[Path] = typer.Option(None, "--standards",
                                             help="User standards CSV to validate and list."),
    standard: Optional[str] = typer.Option(None, "--standard", "-s", help="Only this standard."),
) -> None:
    """List the standards table (shipped or user) with its sources, after checking it."""
    from minewatch.analysis.water.standards import (
        load_standards,
        table_version,
        verify_fingerprints,
    )
    from minewatch.errors import ValidationError

    table = load_standards(standards)
    console = output.console()
    if standards is None:
        problems = verify_fingerprints(table)
        if problems:
            raise ValidationError("shipped standards table does not match its sources: "
                                  + "; ".join(problems))
        console.print(f"shipped standards table, version {table_version()} "
                      "(values match their recorded sources)")
    if standard:
        table = table[table["standard"] == standard]
    t = Table()
    for c in ("standard", "parameter", "limit", "unit", "table", "note"):
        t.add_column(c)
    for r in table.itertuples():
        lim = f"{r.lower_limit:g}-{r.limit:g}" if r.lower_limit == r.lower_limit else f"{r.limit:g}"
        t.add_row(*(str(v) for v in (r.standard, r.parameter, lim, r.unit, r.table, r.note)))
    console.print(t)
