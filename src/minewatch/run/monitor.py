"""Incremental monitoring: ``minewatch monitor init|update|status`` (and ``watch``) use cases.

:func:`monitor_init` reads a catalog's history (and any monitored acquisitions it already
has) once, fits each pixel's history model, scans the monitored acquisitions and writes a
monitoring state folder (:mod:`minewatch.run.monitor_state`). :func:`monitor_update` reads only
the acquisitions the state has not processed, screens them against each pixel's buffered
neighbours (:mod:`minewatch.run.monitor_tiles`), scans them from the saved carry and
publishes the next generation of the state atomically. An acquisition dated before the last
one processed (late, out of order) is inserted: the scan of the affected tiles restarts from
the history's end over the archived monitored observations, without reading any imagery but
the new acquisition's. The levels and dates it gives equal a batch ``analyze`` over the same
acquisitions (tests/monitor).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from minewatch.analysis.alerts import build_alerts
from minewatch.analysis.compliance import check_compliance
from minewatch.analysis.disturbance import DisturbanceParams, TileDisturbance, clean_small_patches
from minewatch.analysis.indices import change_stack
from minewatch.errors import DataError, InputError
from minewatch.geotiff import write_geotiff
from minewatch.imagery.assets import inspect_assets
from minewatch.imagery.catalog import SceneItem, check_bands, open_catalog
from minewatch.imagery.load import Grid, analysis_grid, load_tile
from minewatch.imagery.masks import CLEAR, screening_hints
from minewatch.jsonable import jsonable
from minewatch.run.inputs import MASK_BANDS, REFLECTANCE_BANDS, REQUIRED_BANDS
from minewatch.run.monitor_state import (STATE_VERSION, grid_from_json, grid_to_json, load_observations,
                                         load_tile_state, locked, new_generation, read_state, save_observations,
                                         save_tile, tile_name, write_state)
from minewatch.run.monitor_tiles import (BUFFER, PENDING, TILE_BANDS, Engine, Observations, OpenHistory, TileState,
                                         advance)
from minewatch.run.request import Progress, no_progress

#: Raster descriptions of ``latest/``.
LATEST_RASTERS = {
    "alert_level.tif": "alert level: 0 none, 1 possible, 2 probable, 3 confirmed",
    "disturbance_date.tif": "onset of the disturbance of every flagged pixel (any level), days since 1970-01-01, "
                            "0 = none",
}


@dataclass(frozen=True)
class MonitorInitRequest:
    """Build a monitoring state from a catalog: history before ``start``, monitored from it."""

    state: Path  #: the state folder to create (new or empty)
    catalog: Path  #: local STAC catalog (later updates read it again for new acquisitions)
    start: dt.date  #: first monitored day; acquisitions before it are the history
    until: dt.date | None = None  #: take acquisitions up to this day only (default: all)
    acquisitions: tuple[str, ...] | None = None  #: take only these acquisition ids (default: all)
    licences: Path | None = None  #: licences GeoJSON for the alerts' licence situation
    registry: str | None = None  #: registry of ``site`` (its licences; ``watch`` records alerts there)
    site: str | None = None
    params: DisturbanceParams = field(default_factory=DisturbanceParams)
    tile_size: int = 256

    def __post_init__(self) -> None:
        if (self.registry is None) != (self.site is None):
            raise InputError("--registry and --site go together", hint="pass both, or neither")
        if self.tile_size < 16:
            raise InputError(f"tile size {self.tile_size} is too small", hint="use 256 or 512 pixels")
        if self.until is not None and self.until < self.start:
            raise InputError(f"--until {self.until} is before --start {self.start}")


@dataclass(frozen=True)
class MonitorUpdateRequest:
    """Add the acquisitions of the catalog that the state has not processed yet."""

    state: Path
    catalog: Path | None = None  #: default: the catalog the state was built from
    until: dt.date | None = None  #: take acquisitions up to this day only
    acquisitions: tuple[str, ...] | None = None  #: take only these acquisition ids


@dataclass
class MonitorResult:
    """What an init or update did, and the state's alerts now."""

    state: Path
    added: list[str]  #: acquisition ids processed by this call, by date
    late: list[str]  #: of those, the ones dated before an acquisition already processed
    rescanned: bool  #: the scan restarted from the history's end (a late acquisition)
    acquisitions: int  #: monitored acquisitions in the state
    last_date: dt.date | None  #: the latest acquisition processed
    summary: dict  #: ``latest/summary.json``
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added)


# ------------------------------------------------------------------ the detector
def detector(params: DisturbanceParams) -> Engine:
    """The detector's ``fit_history`` and ``scan`` bound to ``params``.

    ``scan`` checks that a call's first day follows the carry's ``last_day`` (one acquisition
    series). A tile's scans interleave per pixel instead: each pixel gets its own observations in
    date order (:mod:`~minewatch.run.monitor_tiles`), which is what ``scan`` computes per pixel,
    so the carry's series guard is set just before the first day given.
    """
    from minewatch.analysis.change import fit_history, scan

    def scan_rows(model, stack, days, carry):
        if carry is not None and len(days):
            carry = carry.copy()
            carry.last_day = min(int(carry.last_day), int(days[0]) - 1)
        return scan(model, stack, days, carry, params.change)

    return Engine(fit=lambda stack, days: fit_history(stack, days, params.change), scan=scan_rows)


# ------------------------------------------------------------------ inputs
def _items(catalog: Path, until: dt.date | None, ids: tuple[str, ...] | None) -> list[SceneItem]:
    if not Path(catalog).exists():
        raise InputError(f"catalog {catalog}: file not found")
    read = REFLECTANCE_BANDS + MASK_BANDS
    items = [replace(it, assets={b: ref for b, ref in it.assets.items() if b in read})
             for it in open_catalog(catalog)
             if (until is None or it.date <= until) and (ids is None or it.id in ids)]
    return sorted(items, key=lambda it: (it.day, it.id))


def _bands(items: list[SceneItem]) -> list[str]:
    present = {b for it in items for b in it.assets}
    return [b for b in REFLECTANCE_BANDS + MASK_BANDS if b in present]


def _periods(doc: dict):
    """Licence periods of the state (its licences file, or its registry site), or none."""
    from minewatch.analysis.licences import periods_from_versions, read_licences

    if doc.get("licences"):
        return read_licences(Path(doc["licences"]))
    if doc.get("registry"):
        from minewatch.registry import open_registry

        return periods_from_versions(open_registry(doc["registry"]).licences_for_analysis(doc["site"]))
    return []


# ------------------------------------------------------------------ outputs
def _put(dist: TileDisturbance, window, carry) -> None:
    rows = slice(int(window.row_off), int(window.row_off + window.height))
    cols = slice(int(window.col_off), int(window.col_off + window.width))
    dist.put(rows, cols, TileDisturbance.from_carry(carry))


def _stable_alerts(doc: dict, grid: Grid, dist: TileDisturbance, previous: np.ndarray,
                   periods) -> tuple[list[dict], np.ndarray]:
    """The batch alerts of ``dist`` (:func:`~minewatch.analysis.alerts.build_alerts`), each keeping
    the id of the alert it grew from.

    An alert takes the stable id (``M00001``...) found most on its pixels in the previous
    generation (the largest overlap first); an alert over no earlier one gets a new id. An
    earlier alert none of whose pixels is in any alert now, or whose pixels all returned to
    their history model, is kept, retracted, with the last level it had.
    """
    compliance = check_compliance(dist.onset, periods, grid)
    alerts, raster = build_alerts(dist, compliance, periods, grid)
    claims = []
    for a in alerts:
        ids = previous[raster == a.number]
        ids = ids[ids > 0]
        if ids.size:
            counts = np.bincount(ids)
            claims.append((-int(counts.max()), a.number, int(counts.argmax())))
        else:
            claims.append((0, a.number, 0))
    stable = np.zeros(len(alerts) + 1, np.int32)
    taken: set[int] = set()
    counter = int(doc.get("next_alert", 1))
    for _, number, prev in sorted(claims):
        if prev and prev not in taken:
            stable[number] = prev
        else:
            stable[number] = counter
            counter += 1
        taken.add(int(stable[number]))
    doc["next_alert"] = counter
    before = doc.get("alerts") or {}
    records: dict[str, dict] = {}
    for a in alerts:
        sid = f"M{stable[a.number]:05d}"
        rec = {**a.record(), "alert_id": sid}
        if a.retracted:
            rec["level"] = int((before.get(sid) or {}).get("level") or 0)
        records[sid] = rec
    for sid, old in before.items():
        if sid not in records:
            records[sid] = {**old, "retracted": True, "level_name": "retracted"}
    keep = [r for r in records.values() if r["level"] > 0]  # an alert retracted before any level is dropped
    return sorted(keep, key=lambda r: r["alert_id"]), stable[raster]


def _write_latest(root: Path, doc: dict, grid: Grid, dist: TileDisturbance, previous: np.ndarray) -> dict:
    """Write ``latest/`` and ``alerts.tif``; returns the summary (also put in ``doc``)."""
    clean_small_patches(dist, int(doc["params"].get("min_area_px", DisturbanceParams().min_area_px)))
    records, stable = _stable_alerts(doc, grid, dist, previous, _periods(doc))
    latest = root / "latest"
    latest.mkdir(parents=True, exist_ok=True)
    tags = lambda name: {"DESCRIPTION": LATEST_RASTERS[name]}  # noqa: E731
    write_geotiff(latest / "alert_level.tif", dist.level, crs=grid.crs, transform=grid.transform,
                  tags=tags("alert_level.tif"))
    write_geotiff(latest / "disturbance_date.tif", dist.onset, crs=grid.crs, transform=grid.transform,
                  tags=tags("disturbance_date.tif"))
    write_geotiff(root / "alerts.tif", stable, crs=grid.crs, transform=grid.transform,
                  tags={"DESCRIPTION": "stable alert number of each flagged pixel (M00001 -> 1), 0 = none"})
    features = [{"type": "Feature", "properties": {k: v for k, v in r.items() if k != "geometry"},
                 "geometry": r["geometry"]} for r in records]
    (latest / "alerts.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    from minewatch import __version__

    px_ha = grid.pixel_area_m2() / 10_000.0
    monitored = [a for a in doc["acquisitions"] if a["date"] >= doc["start"]]
    summary = jsonable({
        "minewatch_version": __version__, "kind": "monitoring-state", "site": doc.get("site"),
        "start": doc["start"], "last_acquisition": monitored[-1]["date"] if monitored else None,
        "acquisitions": len(monitored),
        "area_ha_by_level": {str(k): round(float((dist.level == k).sum() * px_ha), 4) for k in (1, 2, 3)},
        "retracted_px": int(dist.retracted.sum()),
        "alerts": records,
    })
    (latest / "summary.json").write_text(json.dumps(summary, indent=1))
    doc["alerts"] = {r["alert_id"]: r for r in records}
    return summary


def _previous_alerts(state: Path, grid: Grid) -> np.ndarray:
    import rasterio

    path = state / "alerts.tif"
    if not path.exists():
        return np.zeros(grid.shape, np.int32)
    with rasterio.open(path) as src:
        return src.read(1)


# ------------------------------------------------------------------ init
def _check_new_state(state: Path) -> None:
    if state.exists() and (not state.is_dir() or any(state.iterdir())):
        raise InputError(f"state {state}: already exists", hint="give a new folder, or run: minewatch monitor update")


def monitor_init(req: MonitorInitRequest, progress: Progress | None = None, *,
                 engine: Engine | None = None) -> MonitorResult:
    """Build the monitoring state ``req.state`` (see the module docstring)."""
    progress = progress or no_progress
    t0 = time.perf_counter()
    state = Path(req.state)
    _check_new_state(state)
    engine = engine or detector(req.params)
    items = _items(req.catalog, req.until, req.acquisitions)
    where = str(req.catalog)
    history = [it for it in items if it.date < req.start]
    if not history:
        raise DataError(f"{where}: no acquisition before --start {req.start}; the history is empty",
                        hint="the history model needs about a year of acquisitions before --start")
    grid = analysis_grid(items)
    usable, skipped = inspect_assets(items, grid)
    check_bands(usable, REQUIRED_BANDS, where)
    items = usable
    history = [it for it in items if it.date < req.start]
    monitored = items[len(history):]
    bands = _bands(items)
    days = np.array([it.day for it in items], np.int64)
    nh = len(history)
    doc = {"kind": "minewatch-monitoring-state", "version": STATE_VERSION, "state_id": uuid.uuid4().hex[:8],
           "catalog": str(Path(req.catalog).resolve()),
           "start": req.start.isoformat(), "grid": grid_to_json(grid), "tile_size": req.tile_size,
           "params": req.params.as_dict(), "bands": bands,
           "licences": str(Path(req.licences).resolve()) if req.licences else None,
           "registry": req.registry, "site": req.site, "generation": 0, "next_alert": 1,
           "acquisitions": [{"id": it.id, "date": it.date.isoformat(), "day": it.day} for it in items],
           "updates": [], "alerts": {}}
    with locked(state):
        _check_new_state(state)
        folder = new_generation(state, create=True)
        try:
            root = folder.staging
            dist = TileDisturbance.empty(grid.shape)
            unsettled = 0
            tiles = list(grid.tiles(req.tile_size))
            for i, window in enumerate(tiles):
                progress("initialising tiles", i, len(tiles))
                data = load_tile(items, bands, grid, window, skipped=skipped)
                obs = Observations.from_tile(data, screening_hints(items, data), np.arange(len(items)))
                status, cand = obs.screen(), obs.candidates()
                hist = Observations(obs.bands[:nh], obs.hint[:nh], obs.ordinal[:nh])
                indices = change_stack({b: hist.band(b) for b in TILE_BANDS})
                clear = status[:nh] == CLEAR
                model = engine.fit(np.where(clear[:, None], indices, np.nan).astype(np.float32), days[:nh])
                tail, _ = hist.last_candidates(cand[:nh], BUFFER)
                later = (np.cumsum(cand[::-1], axis=0)[::-1] - cand)[:nh]
                open_px = np.flatnonzero((cand[:nh] & (later < PENDING)).any(axis=0))
                r, c = np.unravel_index(open_px, cand.shape[1:])
                history = OpenHistory(open_px, np.where(cand[:nh, None], indices, np.nan)[:, :, r, c].astype(np.float32),
                                      clear[:, r, c])
                unsettled += open_px.size
                mon = Observations(obs.bands[nh:], obs.hint[nh:], obs.ordinal[nh:])
                tile, provisional, _ = advance(engine, TileState(model, None, None, None, tail, history), mon, days,
                                               nh, fresh=True)
                name = tile_name(window)
                save_tile(root / "tiles" / f"{name}.npz", tile)
                if monitored:
                    save_observations(root / "obs" / name / "0.npz", mon, [it.id for it in monitored])
                _put(dist, window, provisional)
            progress("initialising tiles", len(tiles), len(tiles))
            doc["updates"].append({"generation": 0, "added": [it.id for it in monitored], "late": [],
                                   "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
            summary = _write_latest(root, doc, grid, dist, np.zeros(grid.shape, np.int32))
            write_state(root, doc)
            folder.publish()
        except BaseException:
            folder.discard()
            raise
    notes = [f"{len(skipped)} band file(s) could not be used and were left out; the first: {skipped[0].href}: "
             f"{skipped[0].reason}"] if skipped else []
    if unsettled:
        notes.append(f"{unsettled} px have fewer than {PENDING} clear-looking monitored acquisitions yet: their "
                     f"history is kept in the state until they do (the screening of their last history "
                     f"observations can still change, and their model with it; docs/monitoring.md)")
    return MonitorResult(state, [it.id for it in monitored], [], False, len(monitored),
                         monitored[-1].date if monitored else None, summary, time.perf_counter() - t0, notes)


# ------------------------------------------------------------------ update
def monitor_update(req: MonitorUpdateRequest, progress: Progress | None = None, *,
                   engine: Engine | None = None) -> MonitorResult:
    """Add the acquisitions the state has not processed (see the module docstring).

    Nothing new: nothing is written, and the result has no ``added``.
    """
    progress = progress or no_progress
    t0 = time.perf_counter()
    state = Path(req.state)
    with locked(state):
        doc = read_state(state)
        params = DisturbanceParams.from_dict(doc["params"])
        engine = engine or detector(params)
        grid = grid_from_json(doc["grid"])
        catalog = Path(req.catalog) if req.catalog is not None else Path(doc["catalog"])
        done = {a["id"] for a in doc["acquisitions"]}
        start = dt.date.fromisoformat(doc["start"])
        candidates = [it for it in _items(catalog, req.until, req.acquisitions) if it.id not in done]
        notes = []
        early = [it for it in candidates if it.date < start]
        if early:
            notes.append(f"{len(early)} acquisition(s) before the monitored period's start {start} left out "
                         f"(the history model is fitted once, at init): {', '.join(it.id for it in early[:5])}")
        new = [it for it in candidates if it.date >= start]
        monitored_before = [a for a in doc["acquisitions"] if a["date"] >= doc["start"]]
        if new:
            new, skipped = inspect_assets(new, grid)
            if skipped:
                notes.append(f"{len(skipped)} band file(s) could not be used and were left out; the first: "
                             f"{skipped[0].href}: {skipped[0].reason}")
        if not new:
            summary = json.loads((state / "latest" / "summary.json").read_text())
            last = monitored_before[-1]["date"] if monitored_before else None
            return MonitorResult(state, [], [], False, len(monitored_before),
                                 dt.date.fromisoformat(last) if last else None, summary,
                                 time.perf_counter() - t0, notes)
        last_key = max(((a["day"], a["id"]) for a in doc["acquisitions"]), default=(-1, ""))
        late = [it.id for it in new if (it.day, it.id) < last_key]
        acq = sorted(doc["acquisitions"] + [{"id": it.id, "date": it.date.isoformat(), "day": it.day} for it in new],
                     key=lambda a: (a["day"], a["id"]))
        ordinal = {a["id"]: i for i, a in enumerate(acq)}
        days = np.array([a["day"] for a in acq], np.int64)
        bands = doc["bands"]
        n_hist = sum(a["date"] < doc["start"] for a in acq)
        generation = int(doc["generation"]) + 1
        folder = new_generation(state, create=False)
        try:
            root = folder.staging
            dist = TileDisturbance.empty(grid.shape)
            tiles = list(grid.tiles(int(doc["tile_size"])))
            for i, window in enumerate(tiles):
                progress("updating tiles", i, len(tiles))
                name = tile_name(window)
                tile = load_tile_state(state / "tiles" / f"{name}.npz")
                data = load_tile(new, bands, grid, window, skipped=[])
                obs = Observations.from_tile(data, screening_hints(new, data), np.array([ordinal[it.id] for it in new]))
                refit = True
                if not late:
                    tile, provisional, refit = advance(engine, tile, obs, days, n_hist)
                if refit:  # a late acquisition, or a history model fitted again: scan from the history's end
                    tile, provisional, _ = _rescan(engine, tile, state / "obs" / name, obs, ordinal, days, n_hist)
                save_tile(root / "tiles" / f"{name}.npz", tile)
                save_observations(root / "obs" / name / f"{generation}.npz", obs, [it.id for it in new])
                _put(dist, window, provisional)
            progress("updating tiles", len(tiles), len(tiles))
            doc["acquisitions"] = acq
            doc["generation"] = generation
            doc["updates"].append({"generation": generation, "added": [it.id for it in new], "late": late,
                                   "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
            summary = _write_latest(root, doc, grid, dist, _previous_alerts(state, grid))
            write_state(root, doc)
            folder.publish()
        except BaseException:
            folder.discard()
            raise
    monitored = [a for a in acq if a["date"] >= doc["start"]]
    return MonitorResult(state, [it.id for it in new], late, bool(late), len(monitored),
                         dt.date.fromisoformat(monitored[-1]["date"]), summary, time.perf_counter() - t0, notes)


def _rescan(engine: Engine, tile: TileState, archive: Path, new: Observations, ordinal: dict[str, int],
            days: np.ndarray, n_hist: int):
    """Restart a tile's scan from the history's end over its archived and new observations."""
    bands, hint, ids = load_observations(archive) if archive.exists() else (None, None, [])
    if ids:
        ords = np.array([ordinal[i] for i in ids], np.int32)
        old = Observations(bands, hint, np.broadcast_to(ords[:, None, None], hint.shape).copy())
        allobs = old.concat(new)
    else:
        allobs = new
    order = np.argsort(allobs.ordinal[:, 0, 0], kind="stable")
    allobs = Observations(allobs.bands[order], allobs.hint[order], allobs.ordinal[order])
    return advance(engine, tile, allobs, days, n_hist, fresh=True)


# ------------------------------------------------------------------ status
def monitor_status(state: Path) -> dict:
    """What a state holds: period, acquisitions, last update, alerts by level."""
    state = Path(state)
    doc = read_state(state)
    summary = json.loads((state / "latest" / "summary.json").read_text())
    monitored = [a for a in doc["acquisitions"] if a["date"] >= doc["start"]]
    alerts = summary["alerts"]
    return jsonable({
        "state": str(state), "site": doc.get("site"), "catalog": doc["catalog"], "start": doc["start"],
        "history_acquisitions": len(doc["acquisitions"]) - len(monitored),
        "monitored_acquisitions": len(monitored), "last_acquisition": summary["last_acquisition"],
        "generation": doc["generation"], "last_update": doc["updates"][-1]["at"] if doc["updates"] else None,
        "alerts": {"total": len(alerts), "retracted": sum(a["retracted"] for a in alerts),
                   "by_level": {str(k): sum((a["level"] == k) and not a["retracted"] for a in alerts)
                                for k in (1, 2, 3)}},
        "area_ha_by_level": summary["area_ha_by_level"],
    })
