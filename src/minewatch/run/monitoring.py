"""The monitoring run: one use case, one function (the batch contract behind ``minewatch analyze``).

Data flow::

    request ──► resolve_inputs (files/registry/fetch, DEM routed once, samples checked)
      tile loop: read each pixel once ─► screen ─► indices ─► change engine + mining rules
                 ─► onset, confidence, composites; pixels kept for evidence and river
      onset ──► small-patch cleanup ──► licence check ──► alerts ──► footprint classes per year
            (context rules on the per-year features, class of each alert, environment) ──► receptors downstream
            ──► water section ──► RunResult ──► summary ──► outputs, evidence, report
            ──► (site runs) the run and its alerts recorded in the registry

The CLI, the API and a distributed task all call :func:`run_monitoring`.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings

import numpy as np

from minewatch.analysis.alerts import build_alerts
from minewatch.analysis.change.monitor import PROBABLE
from minewatch.analysis.compliance import check_compliance
from minewatch.analysis.composites import surface_footprint
from minewatch.analysis.hydrology.receptors import receptors_downstream
from minewatch.analysis.licences import snap_distances
from minewatch.errors import DataError, MinewatchError, MinewatchWarning
from minewatch.run.checkpoint import TileCheckpoint
from minewatch.run.cluster import Executor, open_executor
from minewatch.run.folder import RunFolder
from minewatch.run.footprint import footprint_section
from minewatch.run.inputs import ResolvedInputs, resolve_inputs
from minewatch.run.pixels import PixelStore
from minewatch.run.request import MonitoringRequest, Progress, no_progress
from minewatch.run.result import RunResult, build_summary
from minewatch.run.tiles import ASSESSED, ASSESSMENT_CODES, RunRasters, TileInputs, analyse_tiles, tile_key


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _trace(req: MonitoringRequest, inputs: ResolvedInputs, alerts, notes: list[str], progress: Progress):
    """Receptors downstream of the alerts, over the routed DEM (``None`` when nothing to trace)."""
    if inputs.flow is None:
        if inputs.receptors:
            notes.append("receptors given without --dem: downstream tracing skipped")
        return None
    if not alerts:
        return None
    progress("tracing downstream", 0, 1)
    risk = receptors_downstream(
        inputs.flow, [(a.alert_id, a.geometry) for a in alerts],
        [{"receptor_id": r.receptor_id, "kind": r.kind, "name": r.name, "geometry": r.geometry}
         for r in inputs.receptors],
        max_distance_m=req.detection.max_flow_distance_m, snap_distance_m=snap_distances())
    progress("tracing downstream", 1, 1)
    return risk


def _tiles(req: MonitoringRequest, inputs: ResolvedInputs, store: PixelStore, progress: Progress,
           executor: Executor | None) -> tuple[RunRasters, TileCheckpoint]:
    """The tile loop on the request's executor (or the one given), checkpointed beside OUT."""
    checkpoint = (TileCheckpoint.beside(req.out, tile_key(req, TileInputs.of(inputs))) if req.execution.resume
                  else TileCheckpoint(None))
    own = executor is None
    executor = executor or open_executor(req.execution.scheduler, n_workers=req.execution.n_workers)
    try:
        executor.check_workers(ref.href for it in inputs.items for ref in it.assets.values())
        return analyse_tiles(req, inputs, store, progress, executor, checkpoint), checkpoint
    finally:
        if own:
            executor.close()


def _analyse(req: MonitoringRequest, inputs: ResolvedInputs, store: PixelStore, started: dt.datetime,
             progress: Progress, executor: Executor | None) -> tuple[RunResult, TileCheckpoint]:
    grid = inputs.grid
    rasters, checkpoint = _tiles(req, inputs, store, progress, executor)
    notes = list(inputs.notes)
    failed = [s for s in inputs.skipped if s.stage == "reading"]
    if failed:
        notes.append(f"{len(failed)} band file(s) failed while their pixels were read and count as no data "
                     f"there (listed under assessment.skipped_assets); the first: {failed[0].href}: "
                     f"{failed[0].reason}")
    _check_assessed(rasters, req, grid, notes)
    compliance = check_compliance(rasters.onset, inputs.periods, grid)
    alerts, alert_raster = build_alerts(rasters.disturbance, compliance, inputs.periods, grid)
    progress("classifying the footprint", 0, 1)
    classes, alerts = footprint_section(rasters, grid, inputs.flow, alerts, alert_raster, compliance.any_licence())
    progress("classifying the footprint", 1, 1)
    standing = [a for a in alerts if a.level >= PROBABLE]  # what the water checks trace from
    risk = _trace(req, inputs, standing, notes, progress)
    from minewatch.run.water import water_section  # pandas and the charts load after the tile loop's peak

    water = water_section(req, inputs, store, standing, progress)
    return RunResult(
        request=req, catalog=inputs.catalog, dem=inputs.dem, items=inputs.items, grid=grid, rasters=rasters,
        footprint=surface_footprint(rasters.after), classes=classes, compliance=compliance, alerts=alerts,
        alert_raster=alert_raster, periods=inputs.periods, receptors=inputs.receptors, risk=risk, water=water,
        history_start=inputs.history[0].date, started=started, notes=notes, skipped=inputs.skipped), checkpoint


def _check_assessed(rasters, req: MonitoringRequest, grid, notes: list[str]) -> None:
    """Fail when no pixel could be assessed; note how much could not."""
    codes = rasters.assessment
    counts = np.bincount(codes.ravel(), minlength=len(ASSESSMENT_CODES))
    why = ", ".join(f"{counts[c]} px {ASSESSMENT_CODES[c]}" for c in ASSESSMENT_CODES if c != ASSESSED and counts[c])
    if counts[ASSESSED] == 0:
        raise DataError(
            f"nothing could be assessed: of the {codes.size} px of the scene, {why} (a pixel needs "
            f"{req.detection.params.change.min_history_obs} clear observations before {req.period.start} and one "
            f"after)", hint="use a longer history (an earlier first scene), a longer period, or imagery with "
            "fewer clouds; check that the bands hold data")
    if counts[ASSESSED] < codes.size:
        ha = (codes.size - counts[ASSESSED]) * grid.pixel_area_m2() / 10_000.0
        notes.append(f"{ha:.2f} ha ({100 * (1 - counts[ASSESSED] / codes.size):.1f} % of the scene) could not be "
                     f"assessed ({why}): no disturbance there means not assessed, not none")


def _record_start(inputs: ResolvedInputs, req: MonitoringRequest, started: dt.datetime) -> str | None:
    if inputs.registry is None:
        return None
    return inputs.registry.record_run({
        "site_id": req.site, "started_at": started, "outcome": "running",
        "inputs": {"catalog": str(inputs.catalog), "dem": str(inputs.dem) if inputs.dem else None},
        "parameters": {"start": req.period.start.isoformat(), "end": req.period.end.isoformat()}})


def run_monitoring(req: MonitoringRequest, progress: Progress | None = None,
                   executor: Executor | None = None) -> RunResult:
    """Run one monitoring analysis and write its outputs into ``req.out``.

    Every input is checked before any pixel is read (:func:`~minewatch.run.inputs.resolve_inputs`).
    Warnings the core raises on the way (repairs, assumptions, unknown vocabulary) become the
    run's notes. For a registry site the run and its alerts are recorded in the registry.
    The tiles run on ``executor`` if given, else on the one ``req.execution`` names
    (:mod:`minewatch.run.cluster`); finished tiles are checkpointed beside ``req.out`` until the
    run is published (:mod:`minewatch.run.checkpoint`).

    Returns
    -------
    RunResult
        With :attr:`RunResult.summary` set to what ``summary.json`` holds.
    """
    progress = progress or no_progress
    started = _now()
    folder = RunFolder(req.out)
    root = folder.open()  # checks --out before any work
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MinewatchWarning)
            inputs = resolve_inputs(req, progress, root)
            run_id = _record_start(inputs, req, started)
            try:
                with tempfile.TemporaryDirectory(prefix=".pixels-", dir=root) as scratch:
                    store = PixelStore(inputs.items, inputs.grid, inputs.bands, scratch, skipped=inputs.skipped)
                    result, checkpoint = _analyse(req, inputs, store, started, progress, executor)
                    result.notes.extend(str(w.message) for w in caught
                                        if issubclass(w.category, MinewatchWarning))
                    result.finished = _now()
                    result.summary = build_summary(result, shown=folder.shown)
                    from minewatch.run.outputs import write_outputs  # matplotlib loads after the peak

                    write_outputs(result, result.summary, inputs, store, root, folder.final, progress)
                folder.publish()
                checkpoint.remove()
            except MinewatchError as exc:
                if run_id is not None:
                    inputs.registry.record_run({"run_id": run_id, "site_id": req.site, "started_at": started,
                                                "outcome": "failed", "finished_at": _now(), "message": str(exc)})
                raise
    except BaseException:
        folder.discard()
        raise
    for w in caught:  # anything else the libraries warned about goes on as usual
        if not issubclass(w.category, MinewatchWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if run_id is not None:
        summary = result.summary
        inputs.registry.record_alerts(run_id, [{**a, "site_id": req.site} for a in summary["alerts"]])
        inputs.registry.record_run({
            "run_id": run_id, "site_id": req.site, "started_at": started, "outcome": "ok",
            "finished_at": _now(), "parameters": summary["parameters"],
            "inputs": {"catalog": str(inputs.catalog), "out": str(req.out)}})
        result.run_id = run_id
    return result

