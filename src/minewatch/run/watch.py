"""``minewatch watch``: fetch what is new, update the monitoring state, record the alerts, notify.

One watch:

1. with a STAC API (``--stac-url``), fetches the acquisitions of the state's area dated after
   its last one into ``<STATE>.imagery/<date>/`` (:func:`minewatch.imagery.fetch.fetch`), else
   reads the state's catalog again;
2. :func:`~minewatch.run.monitor.monitor_update` adds what the state has not processed;
3. with a registry, records the alerts (stable ids ``<state id>-M00001``, with level,
   first_seen, confirmed_on, retracted) for the site: only changed alerts are written;
4. notifies subscribers (:func:`minewatch.notify.notify`) of every alert at its current level:
   the delivery ledger sends each (alert, level, retraction) once, whatever happens between
   watches, and retries what a receiver refused before.

A watch with nothing new fetches nothing, writes nothing and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from minewatch.errors import InputError, MinewatchWarning
from minewatch.run.monitor import MonitorResult, MonitorUpdateRequest, monitor_update
from minewatch.run.monitor_state import grid_from_json, read_state
from minewatch.run.request import Progress, no_progress


@dataclass(frozen=True)
class WatchRequest:
    """One watch of a monitoring state."""

    state: Path
    registry: str | None = None  #: default: the state's registry
    site: str | None = None  #: default: the state's site
    stac_url: str | None = None  #: fetch new acquisitions from this STAC API (default: re-read the catalog)
    collections: tuple[str, ...] = ("sentinel-2-l2a",)
    settings: object = None  #: :class:`~minewatch.notify.NotifySettings`; ``None``: record, do not notify
    until: dt.date | None = None  #: only acquisitions up to this day (replays)


@dataclass
class WatchResult:
    update: MonitorResult
    fetched: int = 0  #: acquisitions fetched from the STAC API
    recorded: list[dict] = field(default_factory=list)  #: alerts written to the registry (changes)
    run_id: str | None = None  #: the registry's monitoring run of this watch (when something changed)
    notified: object = None  #: :class:`~minewatch.notify.NotifyReport`


def _fetch(req: WatchRequest, doc: dict, registry) -> Path | None:
    """Fetch the acquisitions after the state's last one; the new catalog (``None``: nothing)."""
    from rasterio.warp import transform_bounds

    from minewatch.imagery.fetch import fetch

    grid = grid_from_json(doc["grid"])
    if registry is not None and (req.site or doc.get("site")):
        from minewatch.run.fetching import site_bbox

        box = site_bbox(registry, req.site or doc["site"])
    else:
        box = transform_bounds(grid.crs, "EPSG:4326", *grid.bounds)
    last = max(dt.date.fromisoformat(a["date"]) for a in doc["acquisitions"])
    first, end = last + dt.timedelta(days=1), req.until or dt.datetime.now(dt.timezone.utc).date()
    if first > end:
        return None
    target = Path(req.state).parent / f"{Path(req.state).name}.imagery" / first.isoformat()
    report = fetch(tuple(box), first, end, target, collections=req.collections, stac_url=req.stac_url, dem=False,
                   refresh=True)  # a new acquisition may have appeared since the same search last ran
    if not report.items:
        shutil.rmtree(target, ignore_errors=True)
        return None
    if report.failed:
        warnings.warn(MinewatchWarning(f"{len(report.failed)} acquisition(s) could not be fetched; the next "
                                       f"watch tries them again"), stacklevel=2)
    return Path(report.catalog)


def alert_events(summary: dict, site: str | None, state_id: str):
    """The notification event of every alert of a state summary at its current level."""
    from minewatch.notify import AlertEvent

    events = []
    for a in summary["alerts"]:
        if not a.get("level"):
            continue
        events.append(AlertEvent(
            alert_id=f"{state_id}-{a['alert_id']}", site_id=site, level=a["level"], retracted=a["retracted"],
            area_ha=a["area_ha"], onset_date=a["onset_date"], first_seen=a["first_seen"],
            confirmed_on=a["confirmed_on"], licence_id=a["licence_id"],
            licence_status_at_onset=a["licence_status_at_onset"], geometry=a["geometry"]))
    return events


def watch(req: WatchRequest, progress: Progress | None = None) -> WatchResult:
    """One watch (see the module docstring)."""
    progress = progress or no_progress
    doc = read_state(req.state)
    url, site = req.registry or doc.get("registry"), req.site or doc.get("site")
    if url is not None and site is None:
        raise InputError("a watch that records alerts in a registry needs --site", hint="pass --site ID")
    if req.settings is not None and url is None:
        raise InputError("notifications need the registry that holds the subscriptions",
                         hint="pass --registry URL --site ID (or build the state with them)")
    registry = None
    if url is not None:
        from minewatch.registry import open_registry

        registry = open_registry(url)
        registry.site(site)  # an unknown site fails before any work
    catalog = None
    if req.stac_url is not None:
        progress("fetching", 0, 1)
        catalog = _fetch(req, doc, registry)
        progress("fetching", 1, 1)
    result = monitor_update(MonitorUpdateRequest(req.state, catalog=catalog, until=req.until), progress)
    out = WatchResult(result, len(result.added) if catalog is not None else 0)
    if registry is None:
        return out
    state_id = doc["state_id"]
    records = [{**a, "alert_id": f"{state_id}-{a['alert_id']}"} for a in result.summary["alerts"] if a.get("level")]
    run_id = uuid.uuid4().hex
    out.recorded = registry.record_alert_states(run_id, site, records)
    if out.recorded or result.added:
        now = dt.datetime.now(dt.timezone.utc)
        registry.record_run({"run_id": run_id, "site_id": site, "started_at": now, "finished_at": now,
                             "outcome": "ok", "inputs": {"state": str(req.state)},
                             "parameters": {"kind": "watch", "added": result.added, "late": result.late}})
        out.run_id = run_id
    if req.settings is not None:
        from minewatch.run.notifications import deliver

        out.notified = deliver(registry, req.settings, alert_events(result.summary, site, state_id))
    return out


def summary_json(result: WatchResult) -> str:
    u = result.update
    return json.dumps({"added": u.added, "late": u.late, "fetched": result.fetched, "recorded": result.recorded,
                       "run_id": result.run_id,
                       "notified": result.notified.to_json() if result.notified is not None else None},
                      indent=1, default=str)
