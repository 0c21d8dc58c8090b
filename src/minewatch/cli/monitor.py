"""``minewatch monitor init|update|status`` and ``minewatch watch``: the incremental monitor."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.cli.notify import (ATTEMPTS, BACKOFF, BACKOFF_CAP, HTTP_TIMEOUT, SMTP_CAFILE, SMTP_FROM, SMTP_HOST,
                                  SMTP_PORT, SMTP_STARTTLS, SMTP_USER, settings_from_options)
from minewatch.cli.progress import rich_progress
from minewatch.dates import parse_date

monitor_app = typer.Typer(
    help="An incremental monitoring state: build it once from a catalog's history, then add each new "
    "acquisition as it arrives (docs/monitoring.md).",
    no_args_is_help=True,
)
app.add_typer(monitor_app, name="monitor")

STATE_ARG = typer.Argument(..., help="The monitoring state folder.")


def _date(value: str | None, opt: str) -> dt.date | None:
    return None if value is None else parse_date(value, opt)


def _print_result(result, verb: str) -> None:
    out = output.console()
    s = result.summary
    live = [a for a in s["alerts"] if not a["retracted"]]
    by_level = {k: sum(a["level"] == k for a in live) for k in (1, 2, 3)}
    late = f" ({len(result.late)} late: scan re-run from the history's end)" if result.late else ""
    out.print(f"{verb} {len(result.added)} acquisition(s){late} in {result.seconds:.1f} s; "
              f"{result.acquisitions} monitored, the last {result.last_date or '-'}")
    out.print(f"alerts: {by_level[1]} possible, {by_level[2]} probable, {by_level[3]} confirmed, "
              f"{len(s['alerts']) - len(live)} retracted; outputs in {result.state / 'latest'}")
    for note in result.notes:
        output.print_warning(note)


@monitor_app.command("init")
def init(
    state: Path = STATE_ARG,
    catalog: Path = typer.Option(..., "--catalog", help="Local STAC catalog (updates read it again)."),
    start: str = typer.Option(..., "--start", help="First monitored day; acquisitions before it are the history."),
    until: str = typer.Option(None, "--until", help="Take acquisitions up to this day only."),
    licences: Path = typer.Option(None, "--licences", help="Licences GeoJSON (the alerts' licence situation)."),
    registry: str = typer.Option(None, "--registry", "-r", help="Registry of --site (licences; watch records "
                                 "alerts there)."),
    site: str = typer.Option(None, "--site", help="The registry site the state watches."),
    tile_size: int = typer.Option(256, "--tile-size", help="Tile size in pixels."),
) -> None:
    """Build a monitoring state from a catalog: fit each pixel's history once, scan what follows."""
    from minewatch.run.monitor import MonitorInitRequest, monitor_init

    req = MonitorInitRequest(state=state, catalog=catalog, start=_date(start, "--start"),
                             until=_date(until, "--until"), licences=licences, registry=registry, site=site,
                             tile_size=tile_size)
    with rich_progress(output.console(stderr=True)) as progress:
        result = monitor_init(req, progress)
    _print_result(result, "initialised with")


@monitor_app.command("update")
def update(
    state: Path = STATE_ARG,
    catalog: Path = typer.Option(None, "--catalog", help="Catalog with the new acquisitions (default: the "
                                 "state's)."),
    until: str = typer.Option(None, "--until", help="Take acquisitions up to this day only."),
) -> None:
    """Add the acquisitions the state has not processed yet (only they are read)."""
    from minewatch.run.monitor import MonitorUpdateRequest, monitor_update

    req = MonitorUpdateRequest(state=state, catalog=catalog, until=_date(until, "--until"))
    with rich_progress(output.console(stderr=True)) as progress:
        result = monitor_update(req, progress)
    if not result.added:
        output.console().print(f"nothing new: {result.acquisitions} monitored acquisition(s), the last "
                               f"{result.last_date or '-'}")
        for note in result.notes:
            output.print_warning(note)
        return
    _print_result(result, "added")


@monitor_app.command("status")
def status(state: Path = STATE_ARG,
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """What a monitoring state holds: period, acquisitions, last update, alerts by level."""
    from minewatch.run.monitor import monitor_status

    s = monitor_status(state)
    if as_json:
        typer.echo(json.dumps(s, indent=1))
        return
    out = output.console()
    a = s["alerts"]
    out.print(f"state {s['state']} (site {s['site'] or '-'}), generation {s['generation']}, "
              f"last update {s['last_update']}")
    out.print(f"history {s['history_acquisitions']} acquisition(s) before {s['start']}; monitored "
              f"{s['monitored_acquisitions']}, the last {s['last_acquisition'] or '-'}")
    out.print(f"alerts: {a['by_level']['1']} possible, {a['by_level']['2']} probable, {a['by_level']['3']} "
              f"confirmed, {a['retracted']} retracted")


@app.command("watch")
def watch_cmd(
    state: Path = typer.Option(..., "--state", help="The monitoring state (minewatch monitor init)."),
    registry: str = typer.Option(None, "--registry", "-r", envvar="MINEWATCH_REGISTRY",
                                 help="Registry to record alerts in (default: the state's)."),
    site: str = typer.Option(None, "--site", help="The site (default: the state's)."),
    stac_url: str = typer.Option(None, "--stac-url", help="Fetch new acquisitions from this STAC API "
                                 "(default: read the state's catalog again)."),
    until: str = typer.Option(None, "--until", help="Take acquisitions up to this day only."),
    no_notify: bool = typer.Option(False, "--no-notify", help="Record alerts, send nothing."),
    smtp_host: str = SMTP_HOST, smtp_port: int = SMTP_PORT, smtp_from: str = SMTP_FROM,
    smtp_starttls: bool = SMTP_STARTTLS, smtp_user: str = SMTP_USER, smtp_cafile: Path = SMTP_CAFILE,
    attempts: int = ATTEMPTS, backoff: float = BACKOFF, backoff_cap: float = BACKOFF_CAP,
    http_timeout: float = HTTP_TIMEOUT,
) -> None:
    """Fetch what is new, update the state, record the alerts in the registry, notify subscribers."""
    from minewatch.run.monitor_state import read_state
    from minewatch.run.watch import WatchRequest, watch

    doc = read_state(state)
    settings = None
    if not no_notify and (registry or doc.get("registry")):
        settings = settings_from_options(smtp_host=smtp_host, smtp_port=smtp_port, smtp_from=smtp_from,
                                         smtp_starttls=smtp_starttls, smtp_user=smtp_user, smtp_cafile=smtp_cafile,
                                         attempts=attempts, backoff=backoff, backoff_cap=backoff_cap,
                                         http_timeout=http_timeout)
    req = WatchRequest(state=state, registry=registry, site=site, stac_url=stac_url, settings=settings,
                       until=_date(until, "--until"))
    with rich_progress(output.console(stderr=True)) as progress:
        result = watch(req, progress)
    out = output.console()
    if result.update.added:
        _print_result(result.update, "added")
    else:
        out.print(f"nothing new since {result.update.last_date or '-'}")
    if result.recorded:
        out.print(f"{len(result.recorded)} alert(s) recorded in the registry (run {result.run_id})")
    if result.notified is not None:
        out.print(result.notified.summary())
