"""The default scenario: the steppe gold mine of docs/demo-scene.md (layout.py + surface.py + truth.py).

This module only adds the shared truth files (events, yearly footprint classes); the imagery and
``truth.json`` are exactly what the generator always wrote.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from minewatch.demo import layout as L
from minewatch.demo.atmosphere import DEFAULT_CLIMATE
from minewatch.demo.geo import Grid, days
from minewatch.demo.noise import smooth_field
from minewatch.demo.scenarios import ScenarioSpec
from minewatch.demo.scenarios import truth_files as T
from minewatch.demo.surface import SurfaceModel
from minewatch.demo.truth import compute_truth

_END_ALL = days(dt.date(2024, 12, 31))  # the pit lake reaches its full size on this date (surface.py)


def build(n: int, seed: int):
    lay = L.build_layout(Grid(n), seed)
    return lay, SurfaceModel(lay)


def footprint_at(lay: L.Layout, date: dt.date) -> np.ndarray:
    """Footprint class of every pixel on ``date`` (the rendering rules of surface.py)."""
    t = days(date)
    fp = np.zeros((lay.n, lay.n), np.uint8)
    fp[np.isin(lay.cover, (L.OUTCROP, L.RIVER, L.POND))] = T.OTHER_BARE_WATER
    fp[lay.cover == L.ROAD] = T.ROADS_PADS  # the gravel road to the mine
    mined = (lay.onset > 0) & (lay.onset <= t)
    kind = np.where(mined, lay.kind, 0)
    pit = np.isin(kind, (L.K_PIT, L.K_PREPIT, L.K_UNLIC))
    fp[pit] = T.OPEN_PIT
    fp[np.isin(kind, (L.K_DUMP, L.K_PREDUMP))] = T.WASTE_DUMP
    fp[kind == L.K_TAIL] = T.TAILINGS
    if t >= days(L.PIT_WATER_FROM):
        # the pit lake as surface.py paints it (same texture field, same growth law)
        rng = np.random.default_rng([lay.seed, 3])
        rng.normal(0, 0.04, lay.onset.shape)
        pert = smooth_field(rng, lay.onset.shape, (max(4.0 * lay.k, 0.6),))
        lake_dist = lay.pit_dist * (1 + 0.12 * pert)
        prog = np.clip((t - days(L.PIT_WATER_FROM)) / (_END_ALL - days(L.PIT_WATER_FROM)), 0, 1)
        doy = date.timetuple().tm_yday
        r_w = 3.0 + 6.0 * prog + 0.8 * float(np.exp(-0.5 * ((doy - 140) / 40.0) ** 2))
        lake = (kind == L.K_PIT) | (kind == L.K_PREPIT)
        fp[lake & (lake_dist < r_w) & (lay.onset <= t - 120)] = T.MINE_WATER
    return fp


def events(lay: L.Layout, start: dt.date, end: dt.date) -> list[T.Event]:
    on, kind = lay.onset, lay.kind
    evs: list[T.Event] = []

    def win(a: dt.date, b: dt.date, kinds) -> np.ndarray:
        return np.where((on >= days(a)) & (on <= days(b)) & np.isin(kind, kinds), on, 0).astype(np.int32)

    evs.append(T.Event("pre-pit", "mining", "pre-existing pit", win(L.PRE_START, L.PRE_END, (L.K_PREPIT,)),
                       T.OPEN_PIT))
    evs.append(T.Event("pre-dump", "mining", "pre-existing waste dump",
                       win(L.PRE_START, L.PRE_END, (L.K_PREDUMP,)), T.WASTE_DUMP))
    for i, s in enumerate(L.STAGES, start=1):
        b = s.start + dt.timedelta(days=s.duration_days)
        evs.append(T.Event(f"stage{i}-pit", "mining", f"{s.name} (pit)", win(s.start, b, (L.K_PIT,)), T.OPEN_PIT))
        evs.append(T.Event(f"stage{i}-dump", "mining", f"{s.name} (dump)", win(s.start, b, (L.K_DUMP,)),
                           T.WASTE_DUMP))
    evs.append(T.Event("tailings", "mining", "tailings facility",
                       np.where(kind == L.K_TAIL, on, 0).astype(np.int32), T.TAILINGS))
    evs.append(T.Event("unlicensed-pit", "mining", "unlicensed pit east of the river",
                       np.where(kind == L.K_UNLIC, on, 0).astype(np.int32), T.OPEN_PIT))
    lake = footprint_at(lay, end) == T.MINE_WATER
    evs.append(T.Event("pit-lake", "mining", "pit lake (extent at the end of the series)",
                       np.where(lake, days(L.PIT_WATER_FROM), 0).astype(np.int32), T.MINE_WATER))
    evs.append(T.Event("fire", "not_mining", "grass fire", np.where(lay.burn, days(L.FIRE_DATE), 0).astype(np.int32),
                       cause="burn"))
    evs.append(T.Event("clearing", "not_mining", "plot cleared and left fallow",
                       np.where(lay.cleared, days(L.CLEARING_DATE), 0).astype(np.int32), cause="clearing"))
    for year in range(start.year, end.year + 1):
        on_y = np.zeros(on.shape, np.int32)
        for f in range(int(lay.field_id.max()) + 1):
            crop, _sow, harv, _g = lay.field_calendar[(f, year)]
            d = dt.date(year, 1, 1) + dt.timedelta(days=harv - 1)
            if crop != "fallow" and start <= d <= end:
                on_y[lay.field_id == f] = days(d)
        evs.append(T.Event(f"harvest-{year}", "not_mining", f"harvest and autumn ploughing {year}", on_y,
                           cause="harvest"))
    return evs


def write_truth(root: Path, lay: L.Layout, start: dt.date, end: dt.date, monitor_start: dt.date,
                monitor_end: dt.date, per_date: list[dict]) -> dict:
    truth = compute_truth(root, lay, monitor_start, monitor_end, per_date)
    T.write_events(root / "truth" / "events.geojson", events(lay, start, end), lay.grid)
    T.write_footprint_years(root / "truth" / "footprint_class.tif", lay.grid, start.year, end.year,
                            lambda d: footprint_at(lay, d))
    return truth


SPEC = ScenarioSpec(
    name="default",
    description="Synthetic Sentinel-2 L2A time series of a fictitious open-pit gold mine "
                "(generated by minewatch.demo; not real data).",
    climate=DEFAULT_CLIMATE, start="2019-01-01", end="2024-12-31", cadence_days=10, size_px=400,
    monitor_start="2020-01-01", monitor_end="2024-12-31", build=build, write_truth=write_truth)
