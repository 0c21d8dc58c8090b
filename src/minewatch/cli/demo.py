"""``minewatch demo``: generate the built-in synthetic mining scene and analyse it end to end."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from minewatch.cli import output
from minewatch.cli.analyze import print_summary
from minewatch.cli.main import app
from minewatch.cli.progress import rich_progress


@app.command()
def demo(
    out: Path = typer.Option(Path("minewatch-demo"), "--out", help="Folder for the scene and the results."),
    seed: int = typer.Option(7, "--seed", help="Random seed of the synthetic scene."),
    scenario: str = typer.Option("default", "--scenario",
                                 help="Landscape: default (steppe gold mine), tropical, arid or temperate."),
    size: Optional[int] = typer.Option(None, "--size", help="Scene size in 10 m pixels (multiple of 4, >= 60; "
                                       "default 400)."),
    start: Optional[str] = typer.Option(None, "--start", help="First acquisition date (YYYY-MM-DD; default: the "
                                        "scenario's, 2019-01-01 or 2018-01-01)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last acquisition date (default 2024-12-31)."),
    cadence: Optional[int] = typer.Option(None, "--cadence", help="Days between acquisitions (default: 10 for "
                                          "the default scenario, 5 for the others)."),
    no_analyze: bool = typer.Option(False, "--no-analyze", help="Only generate the scene (no analysis)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the report to PDF (headless Chromium)."),
    lang: str = typer.Option("en", "--lang", help="Report language: en, es or az."),
) -> None:
    """Generate a synthetic ~4 x 4 km mining area (Sentinel-2 L2A-like COGs, STAC catalog, licences,
    receptors, DEM, truth) and run `minewatch analyze` on it; prints its accuracy against the scene's truth."""
    from minewatch.demo.scene import generate_scene
    from minewatch.evaluation import evaluate_against_truth, evaluate_events, evaluate_footprint
    from minewatch.run import EvidenceOptions, MonitoringRequest, Period, RunInputs, run_monitoring
    from minewatch.run.inputs import evidence_tools

    from minewatch.demo import scenarios

    scenarios.get(scenario)  # an unknown name fails before anything is written
    evidence = EvidenceOptions(pdf=pdf, lang=lang)
    console = output.console(stderr=True)
    if no_analyze:
        console.print(f"generating the {scenario} demo scene (seed {seed}) in {out / 'scene'}")
        scene = generate_scene(out / "scene", seed=seed, start=start, end=end, cadence_days=cadence, size_px=size,
                               scenario=scenario, progress=True)
        output.console().print(f"{scene.n_items} acquisitions written to {scene.catalog}; truth in {scene.truth_dir}")
        return
    evidence_tools(evidence)  # a missing Chromium fails before the scene is made
    # Compile the Numba kernels on the other core while this one writes the scene.
    warmup = subprocess.Popen([sys.executable, "-m", "minewatch.warmup"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        console.print(f"generating the {scenario} demo scene (seed {seed}) in {out / 'scene'}")
        scene = generate_scene(out / "scene", seed=seed, start=start, end=end, cadence_days=cadence, size_px=size,
                               scenario=scenario, progress=True)
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
    scores["events"] = ev = evaluate_events(req.out, scene.truth_dir)
    classes = evaluate_footprint(req.out, scene.truth_dir)
    scores["footprint"] = classes
    (req.out / "accuracy.json").write_text(json.dumps(scores, indent=2))
    stdout.print(
        f"accuracy against the scene's truth: pixel F1 {scores['f1']:.3f} (precision {scores['precision']:.3f}, "
        f"recall {scores['recall']:.3f}), median onset error {scores['median_onset_error_days']:.0f} days, "
        f"outside-licence area error {100 * scores['outside_area_rel_error']:.1f} %"
    )
    stdout.print(
        f"events: {ev['mining_events_found']} of {ev['mining_events']} mining events found (at least half of their "
        f"pixels flagged), {ev['recent_mining_events_found']} of {ev['recent_mining_events']} with an onset in the "
        f"last 90 days; {ev['not_mining_events_flagged']} of {ev['not_mining_events']} not-mining events flagged"
    )
    from minewatch.run.records import record_in_registry

    registry = out / "registry.gpkg"
    record_in_registry(registry, req.out, site_id="demo", site_name="minewatch demo",
                       licences=scene.licences, receptors=scene.receptors)
    if classes is None:
        stdout.print("footprint classes: the scene has no class truth (truth/footprint_class.tif) to score them")
    else:
        per = ", ".join(f"{name} {c['f1']:.2f}" for name, c in classes["per_class"].items())
        nat = classes["natural_not_mine_share"]
        stdout.print(f"footprint classes against the scene's truth ({len(classes['years'])} years): F1 {per}; "
                     + (f"natural bare ground and water classed not mine: {100 * nat:.1f} %" if nat is not None
                        else "no natural bare ground or water in the truth"))
    stdout.print(f"open the report: {(req.out / 'report.html').resolve()}")
    stdout.print(f"recorded in the registry {registry}: minewatch serve --registry {registry}")
