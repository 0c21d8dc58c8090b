"""Incremental updates equal one scan over everything, and a batch ``analyze``; late and
out-of-order acquisitions; nothing new writes nothing."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from monitor_helpers import START, TILE, agreement, rasters

from minewatch.run.monitor import (MonitorInitRequest, MonitorUpdateRequest, monitor_init, monitor_status,
                                   monitor_update)
from minewatch.run.monitor_state import read_state


def _init(scene, state, ids):
    return monitor_init(MonitorInitRequest(state, scene.catalog, START, acquisitions=tuple(ids),
                                           licences=scene.licences, tile_size=TILE))


def _update(state, ids):
    return monitor_update(MonitorUpdateRequest(state, acquisitions=tuple(ids)))


def test_updates_in_chunks_equal_one_scan(scene, acquisitions, n_history, oneshot, tmp_path):
    state = tmp_path / "state"
    first = n_history + 8
    _init(scene, state, acquisitions[:first])
    k, sizes = first, [1, 3, 1, 5, 2]
    while k < len(acquisitions):
        step = sizes[len(read_state(state)["updates"]) % len(sizes)]
        res = _update(state, acquisitions[:k + step])
        assert res.added == acquisitions[k:k + step] and not res.late
        k += step
    ref, got = rasters(oneshot / "latest"), rasters(state / "latest")
    assert (ref["alert_level"] > 0).sum() > 20, "the scene must have flagged pixels for this to mean anything"
    assert np.array_equal(got["alert_level"], ref["alert_level"])
    assert np.array_equal(got["disturbance_date"], ref["disturbance_date"])
    status = monitor_status(state)
    assert status["monitored_acquisitions"] == len(acquisitions) - n_history
    # alerts keep their ids from update to update: every id of the state's summary is unique
    ids = [a["alert_id"] for a in json.loads((state / "latest" / "summary.json").read_text())["alerts"]]
    assert len(ids) == len(set(ids))


def test_late_and_out_of_order_acquisitions(scene, acquisitions, n_history, oneshot, tmp_path):
    state = tmp_path / "state"
    late1, late2 = acquisitions[n_history + 9], acquisitions[n_history + 14]
    _init(scene, state, [a for a in acquisitions[:n_history + 16] if a not in (late1, late2)])
    res = _update(state, [a for a in acquisitions if a not in (late1, late2)])  # the rest, in order
    assert not res.late
    res = _update(state, [a for a in acquisitions if a != late1])  # late2 arrives
    assert res.added == [late2] and res.late == [late2] and res.rescanned
    res = _update(state, acquisitions)  # then late1, dated before it
    assert res.added == [late1] and res.late == [late1]
    assert agreement(rasters(state / "latest"), rasters(oneshot / "latest")) == \
        {"alert_level": 1.0, "disturbance_date": 1.0}
    days = [a["day"] for a in read_state(state)["acquisitions"]]
    assert days == sorted(days)


def test_nothing_new_writes_nothing(scene, acquisitions, n_history, tmp_path):
    state = tmp_path / "state"
    _init(scene, state, acquisitions[:n_history + 8])
    before = {p: p.stat().st_mtime_ns for p in state.rglob("*") if p.is_file()}
    res = _update(state, acquisitions[:n_history + 8])
    assert res.added == [] and not res.changed
    assert {p: p.stat().st_mtime_ns for p in state.rglob("*") if p.is_file()} == before


def test_equals_batch_analyze(scene, acquisitions, n_history, tmp_path):
    """A state updated acquisition by acquisition gives the levels and dates of ``analyze``."""
    from minewatch.imagery.catalog import open_catalog
    from minewatch.run import MonitoringRequest, Period, RunInputs, run_monitoring
    from minewatch.run.request import EvidenceOptions, WaterOptions

    last = max(it.date for it in open_catalog(scene.catalog))
    batch = tmp_path / "batch"
    run_monitoring(MonitoringRequest(
        inputs=RunInputs(catalog=scene.catalog, licences=scene.licences), period=Period(START, last), out=batch,
        water=WaterOptions(river_signal=False), evidence=EvidenceOptions(write=False)))
    if not (batch / "alert_level.tif").exists():
        pytest.skip("this batch analyze writes no alert levels yet (the detector branch adds them)")
    state = tmp_path / "state"
    _init(scene, state, acquisitions[:n_history + 8])
    for k in range(n_history + 9, len(acquisitions) + 1, 2):
        _update(state, acquisitions[:k])
    _update(state, acquisitions)
    share = agreement(rasters(state / "latest"), rasters(batch))
    assert share["alert_level"] >= 0.999 and share["disturbance_date"] >= 0.999, share


def test_mistakes_are_one_line_errors(scene, tmp_path):
    from minewatch.cli.main import main

    assert main(["monitor", "status", str(tmp_path / "none")]) == 2
    assert main(["monitor", "update", str(tmp_path / "none")]) == 2
    state = tmp_path / "s"
    assert main(["monitor", "init", str(state), "--catalog", str(scene.catalog), "--start", "2019-01-01"]) == 2
    assert not state.exists()  # nothing written
    assert main(["monitor", "init", str(state), "--catalog", str(scene.catalog), "--start", "2020-13-01"]) == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    assert main(["monitor", "init", str(tmp_path / "full"), "--catalog", str(scene.catalog),
                 "--start", dt.date(2020, 1, 1).isoformat()]) == 2
    assert (tmp_path / "full" / "x.txt").read_text() == "x"


def test_init_from_history_only_then_one_by_one(scene, acquisitions, n_history, oneshot, tmp_path):
    """A state built from the history alone: each pixel's last history observations are screened
    without later neighbours, so their model is fitted again once they have them (OpenHistory)."""
    state = tmp_path / "state"
    res = _init(scene, state, acquisitions[:n_history])
    assert res.added == [] and any("fewer than 3" in n for n in res.notes)
    for k in range(n_history + 1, n_history + 7):
        _update(state, acquisitions[:k])
    _update(state, acquisitions)
    assert agreement(rasters(state / "latest"), rasters(oneshot / "latest")) == \
        {"alert_level": 1.0, "disturbance_date": 1.0}
