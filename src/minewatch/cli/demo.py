"""``minewatch demo``: generate the built-in synthetic mining scene and analyse it end to end."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import typer

from minewatch.cli import output
from minewatch.cli.analyze import print_summary
from minewatch.cli.main import app
from minewatch.cli.progress import rich_progress


@app.command()
def demo(
    out: Path = typer.Option(Path("minewatch-demo"), "--out", help="Folder for the scene and the results."),
    seed: int = typer.Option(7, "--seed", help="Random seed of the synthetic scene."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the report to PDF (headless Chromium)."),
    lang: str = typer.Option("en", "--lang", help="Report language: en, es or az."),
) -> None:
    """Generate a synthetic ~4 x 4 km mining area (Sentinel-2 L2A-like COGs, STAC catalog, licences,
    receptors, DEM) and run `minewatch analyze` on it; prints its accuracy against the scene's truth."""
    from minewatch.demo.scene import generate_scene
    from minewatch.evaluation import evaluate_against_truth
    from minewatch.run import EvidenceOptions, MonitoringRequest, Period, RunInputs, run_monitoring
    from minewatch.run.inputs import evidence_tools

    evidence = EvidenceOptions(pdf=pdf, lang=lang)
    evidence_tools(evidence)  # a missing Chromium fails before the scene is made
    console = output.console(stderr=True)
    # Compile the Numba kernels on the other core while this one writes the scene.
    warmup = subprocess.Popen([sys.executable, "-m", "minewatch.warmup"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        console.print(f"generating the demo scene (seed {seed}) in {out / 'scene'}")
        scene = generate_scene(out / "scene", seed=seed, progress=True)
        with console.status("compiling the analysis kernels"):
            warmup.wait()
    finally:
        if warmup.poll() is None:
            warmup.kill()
    req = MonitoringRequest(
        inputs=RunInputs(catalog=scene.catalog, licences=scene.licences, receptors=scene.receptors, dem=scene.dem),
        period=Period(dt.date.fromisoformat(scene.monitor_start), dt.date.fromisoformat(scene.monitor_end)),
        out=out / "result", evidence=evidence,
    )
    with rich_progress(console) as progress:
        result = run_monitoring(req, progress)
    stdout = output.console()
    print_summary(result.summary, req.out, stdout)
    scores = evaluate_against_truth(req.out, scene.truth_dir)
    (req.out / "accuracy.json").write_text(json.dumps(scores, indent=2))
    stdout.print(
        f"accuracy against the scene's truth: pixel F1 {scores['f1']:.3f} (precision {scores['precision']:.3f}, "
        f"recall {scores['recall']:.3f}), median onset error {scores['median_onset_error_days']:.0f} days, "
        f"outside-licence area error {100 * scores['outside_area_rel_error']:.1f} %"
    )
    from minewatch.run.records import record_in_registry

    registry = out / "registry.gpkg"
    record_in_registry(registry, req.out, site_id="demo", site_name="minewatch demo",
                       licences=scene.licences, receptors=scene.receptors)
    stdout.print(f"open the report: {(req.out / 'report.html').resolve()}")
    stdout.print(f"recorded in the registry {registry}: minewatch serve --registry {registry}")
