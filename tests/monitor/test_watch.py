"""``minewatch watch``: update, record alert levels in the registry, notify each alert and level
exactly once (a receiver that fails twice is retried); run twice in a row it changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import shapely
from monitor_helpers import START, TILE
from notify_helpers import SECRET, fails_first, settings_for

from minewatch.cli.main import main
from minewatch.imagery.catalog import open_catalog
from minewatch.registry import init_registry, open_registry
from minewatch.run.monitor import MonitorInitRequest, monitor_init
from minewatch.run.monitor_state import read_state
from minewatch.run.notifications import add_subscription, deliveries
from minewatch.run.watch import WatchRequest, alert_events, watch

WORLD = (-180.0, -90.0, 180.0, 90.0)


@pytest.fixture
def receiver():
    from notify_helpers import Receiver

    made = []

    def make(**kw):
        r = Receiver(SECRET, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def _alert_rows(url: str) -> list[dict]:
    reg = open_registry(url)
    try:
        rows = reg.alerts_in_bbox(WORLD)
    finally:
        reg.close()
    return sorted(({k: v for k, v in r.items() if k != "geometry"} for r in rows), key=lambda r: r["alert_id"])


def test_watch_records_and_notifies_once(scene, acquisitions, n_history, new_url, receiver, tmp_path):
    url = new_url()
    reg = init_registry(url)
    reg.import_records("sites", [{"site_id": "S-1", "name": "demo", "geometry": shapely.box(-180, -80, 180, 80)}])
    hook = receiver(answer=fails_first(2))
    add_subscription(reg, channel="webhook", target=hook.url, site_id="S-1", min_level=1, secret=SECRET)
    reg.close()
    state = tmp_path / "state"
    monitor_init(MonitorInitRequest(state, scene.catalog, START, acquisitions=tuple(acquisitions[:n_history + 8]),
                                    licences=scene.licences, registry=url, site="S-1", tile_size=TILE))
    dates = sorted({it.date for it in open_catalog(scene.catalog) if it.date >= START})
    steps = [dates[8 + 5], dates[8 + 12], dates[-1]]
    sent_events = []
    for until in steps:
        res = watch(WatchRequest(state, settings=settings_for(), until=until))
        assert res.update.added and res.run_id is not None
        assert res.notified.dead == 0
        events = alert_events(res.update.summary, "S-1", read_state(state)["state_id"])
        sent_events += [e for e in events if not e.retracted]
    ids = [h.event_id for h in hook.accepted()]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert {e.event_id for e in sent_events} <= set(ids), "an alert level was never delivered"
    assert hook.hits[0].status == 500 and hook.hits[1].status == 500 and hook.hits[2].status == 200
    assert all(h.signature_ok for h in hook.hits)
    assert len({e.level for e in sent_events}) >= 2, "the scene should show more than one level"
    rows = _alert_rows(url)
    assert rows and all(r["level"] in (1, 2, 3) and r["first_seen"] is not None for r in rows)
    assert any(r["confirmed_on"] is not None for r in rows if r["level"] == 3) or not any(
        r["level"] == 3 for r in rows)

    # Twice in a row through the CLI: nothing new, nothing recorded, nothing sent, nothing written.
    generation = read_state(state)["generation"]
    n_hits, ledger = len(hook.hits), deliveries(open_registry(url))
    args = ["watch", "--state", str(state), "--attempts", "3", "--backoff", "0.01"]
    for _ in range(2):
        assert main(args) == 0
        assert read_state(state)["generation"] == generation
        assert len(hook.hits) == n_hits
        assert _alert_rows(url) == rows
        assert deliveries(open_registry(url)) == ledger


def test_watch_needs_a_known_site(scene, acquisitions, n_history, tmp_path):
    url = str(tmp_path / "r.gpkg")
    init_registry(url).close()
    state = tmp_path / "state"
    monitor_init(MonitorInitRequest(state, scene.catalog, START, acquisitions=tuple(acquisitions[:n_history + 2]),
                                    tile_size=TILE))
    assert main(["watch", "--state", str(state), "--registry", url, "--site", "NOPE"]) == 2
    assert main(["watch", "--state", str(state), "--registry", url]) == 2
    assert read_state(state)["generation"] == 0
    assert dt.date.fromisoformat(read_state(state)["start"]) == START


def test_watch_fetches_from_a_stac_api(scene, oneshot, tmp_path, monkeypatch):
    """A state built from fetched imagery; each watch fetches only the acquisitions after its last
    one from a STAC API on loopback; the result equals the state built from the static catalog."""
    import numpy as np
    from monitor_helpers import rasters

    from minewatch.imagery.fetch import fetch
    from minewatch.testing.stac_archive import archive_from_catalog
    from minewatch.testing.stac_server import LocalStacServer

    monkeypatch.setenv("MINEWATCH_CACHE_DIR", str(tmp_path / "cache"))
    archive_from_catalog(scene.catalog, tmp_path / "archive")
    items = open_catalog(scene.catalog)
    dates = sorted({it.date for it in items if it.date >= START})
    from rasterio.warp import transform_bounds

    from minewatch.imagery.load import analysis_grid

    grid = analysis_grid(items)
    bbox = transform_bounds(grid.crs, "EPSG:4326", *grid.bounds)
    state = tmp_path / "state"
    with LocalStacServer(tmp_path / "archive") as srv:
        first = fetch(bbox, "2019-01-01", dates[8], tmp_path / "first", stac_url=srv.url)
        monitor_init(MonitorInitRequest(state, Path(first.catalog), START, licences=scene.licences,
                                        tile_size=TILE))
        res = watch(WatchRequest(state, stac_url=srv.url, until=dates[15]))
        assert res.fetched == 7 and res.update.added
        res = watch(WatchRequest(state, stac_url=srv.url, until=dates[15]))
        assert res.fetched == 0 and res.update.added == []
        res = watch(WatchRequest(state, stac_url=srv.url, until=dates[-1]))
        assert res.fetched == len(dates) - 16
    got, ref = rasters(state / "latest"), rasters(oneshot / "latest")
    assert np.array_equal(got["alert_level"], ref["alert_level"])
    assert np.array_equal(got["disturbance_date"], ref["disturbance_date"])
    assert len(list((tmp_path / "state.imagery").iterdir())) == 2  # the empty watch left no folder
