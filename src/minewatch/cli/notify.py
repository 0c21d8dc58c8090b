"""``minewatch subscribe ...`` and ``minewatch notify ...``: who is told of alerts, and how.

The SMTP and retry options (``SMTP_HOST`` ... ``HTTP_TIMEOUT``) and
:func:`settings_from_options` are defined once here, so every command that sends
notifications (``watch`` too) reads them alike.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from minewatch.cli.main import app
from minewatch.errors import InputError, NetworkError
from minewatch.jsonable import jsonable

subscribe_app = typer.Typer(
    help="Notification subscriptions: a webhook or an e-mail address told of new alerts and "
    "level changes at a site or in an area (docs/notifications.md).",
    no_args_is_help=True,
)
notify_app = typer.Typer(
    help="Send notifications: a test event, everything pending; the delivery ledger and its "
    "dead letters.",
    no_args_is_help=True,
)
app.add_typer(subscribe_app, name="subscribe")
app.add_typer(notify_app, name="notify")

REGISTRY_OPT = typer.Option(
    ..., "--registry", "-r", envvar="MINEWATCH_REGISTRY",
    help="Registry: a .gpkg path or a postgresql:// URL (or set MINEWATCH_REGISTRY).",
)
_LEVEL_NAMES = {"1": 1, "2": 2, "3": 3, "possible": 1, "probable": 2, "confirmed": 3}


def _open(url: str):
    from minewatch.registry import open_registry

    return open_registry(url)


def _level(value: str) -> int:
    try:
        return _LEVEL_NAMES[value.strip().lower()]
    except KeyError:
        raise InputError(f"--min-level {value!r}: give 1, 2, 3 or possible, probable, confirmed") \
            from None


def _echo_json(data) -> None:
    typer.echo(json.dumps(jsonable(data), indent=1, ensure_ascii=False))


# --------------------------------------------------------------------------- settings
def settings_from_options(*, smtp_host: str | None, smtp_port: int, smtp_from: str | None,
                          smtp_starttls: bool, smtp_user: str | None, smtp_cafile: Path | None,
                          attempts: int, backoff: float, backoff_cap: float, http_timeout: float):
    """:class:`~minewatch.notify.NotifySettings` from the command's options; the SMTP
    password comes only from ``MINEWATCH_SMTP_PASSWORD`` (never the command line)."""
    from minewatch.notify import NotifySettings, RetryPolicy, SmtpSettings

    smtp = None
    if smtp_host:
        if not smtp_from:
            raise InputError("--smtp-host needs --smtp-from (the sender address)",
                             hint="or set MINEWATCH_SMTP_FROM")
        password = os.environ.get("MINEWATCH_SMTP_PASSWORD") if smtp_user else None
        if smtp_user and password is None:
            raise InputError("--smtp-user needs the password in MINEWATCH_SMTP_PASSWORD")
        smtp = SmtpSettings(host=smtp_host, port=smtp_port, sender=smtp_from,
                            starttls=smtp_starttls, username=smtp_user, password=password,
                            cafile=smtp_cafile)
    return NotifySettings(retry=RetryPolicy(attempts, backoff, backoff_cap),
                          http_timeout_s=http_timeout, smtp=smtp)


SMTP_HOST = typer.Option(None, "--smtp-host", envvar="MINEWATCH_SMTP_HOST",
                         help="SMTP server for e-mail digests.")
SMTP_PORT = typer.Option(25, "--smtp-port", envvar="MINEWATCH_SMTP_PORT", help="SMTP port.")
SMTP_FROM = typer.Option(None, "--smtp-from", envvar="MINEWATCH_SMTP_FROM",
                         help="Sender address of e-mail digests.")
SMTP_STARTTLS = typer.Option(False, "--smtp-starttls", envvar="MINEWATCH_SMTP_STARTTLS",
                             help="Upgrade to TLS (STARTTLS), the certificate checked.")
SMTP_USER = typer.Option(None, "--smtp-user", envvar="MINEWATCH_SMTP_USER",
                         help="Log in as this user (password: MINEWATCH_SMTP_PASSWORD).")
SMTP_CAFILE = typer.Option(None, "--smtp-cafile", envvar="MINEWATCH_SMTP_CAFILE",
                           help="CA bundle for a server certificate from a private CA.")
ATTEMPTS = typer.Option(5, "--attempts", help="Tries per delivery before a dead letter.")
BACKOFF = typer.Option(2.0, "--backoff", help="Seconds before the 2nd try; doubled each time.")
BACKOFF_CAP = typer.Option(60.0, "--backoff-cap", help="Longest wait between tries (s).")
HTTP_TIMEOUT = typer.Option(10.0, "--http-timeout", help="Seconds to wait for a webhook.")


# --------------------------------------------------------------------------- subscribe
@subscribe_app.command("add")
def add(
    registry: str = REGISTRY_OPT,
    webhook: str = typer.Option(None, "--webhook", help="POST signed JSON to this URL."),
    email: str = typer.Option(None, "--email", help="Send one digest per run to this address."),
    site: str = typer.Option(None, "--site", help="Watch this registered site."),
    aoi: Path = typer.Option(None, "--aoi", help="Or watch this area: GeoJSON polygon(s), "
                             "EPSG:4326."),
    bbox: str = typer.Option(None, "--bbox", help="Or watch this box: west,south,east,north."),
    min_level: str = typer.Option("1", "--min-level", help="Least level sent: 1 possible, "
                                  "2 probable, 3 confirmed."),
    min_area: float = typer.Option(0.0, "--min-area", help="Least alert area sent (ha)."),
    secret: str = typer.Option(None, "--secret", envvar="MINEWATCH_WEBHOOK_SECRET",
                               help="Webhook signing secret (default: a random one, printed)."),
    sub_id: str = typer.Option(None, "--id", help="The subscription's id (default: sub_...)."),
    note: str = typer.Option(None, "--note", help="Who or what it is for."),
) -> None:
    """Add a subscription: --webhook URL or --email ADDRESS, for --site or --aoi/--bbox."""
    from minewatch.notify.subscriptions import bbox_aoi, read_aoi
    from minewatch.run.notifications import add_subscription

    if (webhook is None) == (email is None):
        raise InputError("give one of --webhook URL or --email ADDRESS")
    if sum(x is not None for x in (site, aoi, bbox)) != 1:
        raise InputError("give one of --site SITE_ID, --aoi FILE.geojson or --bbox W,S,E,N")
    area = read_aoi(aoi) if aoi is not None else bbox_aoi(bbox) if bbox is not None else None
    level = _level(min_level)
    reg = _open(registry)
    try:
        new = add_subscription(reg, channel="webhook" if webhook else "email",
                               target=webhook or email, site_id=site, aoi=area,
                               min_level=level, min_area_ha=min_area, secret=secret, note=note,
                               subscription_id=sub_id)
    finally:
        reg.close()
    s = new.subscription
    d = s.describe()
    typer.echo(f"added {s.subscription_id}: {s.channel} {s.target} for {d['watches']}, "
               f"level >= {s.min_level}, area >= {s.min_area_ha:g} ha")
    if new.secret_generated:
        typer.echo(f"signing secret (give it to the receiver): {s.secret}")


@subscribe_app.command("list")
def list_(
    registry: str = REGISTRY_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the subscriptions (secrets are not shown)."""
    from minewatch.run.notifications import list_subscriptions

    reg = _open(registry)
    try:
        subs = [s.describe() for s in list_subscriptions(reg)]
    finally:
        reg.close()
    if as_json:
        _echo_json(subs)
        return
    if not subs:
        typer.echo("no subscriptions")
    for d in subs:
        typer.echo(f"{d['subscription_id']}  {d['channel']:7} {d['target']}  {d['watches']}  "
                   f"level>={d['min_level']} area>={d['min_area_ha']:g}ha"
                   + ("" if d["active"] else "  (paused)") + (f"  {d['note']}" if d["note"] else ""))


@subscribe_app.command("remove")
def remove(
    subscription_id: str = typer.Argument(..., help="The subscription to delete."),
    registry: str = REGISTRY_OPT,
) -> None:
    """Delete a subscription (its delivered and dead-lettered records stay)."""
    from minewatch.run.notifications import remove_subscription

    reg = _open(registry)
    try:
        dropped = remove_subscription(reg, subscription_id)
    finally:
        reg.close()
    typer.echo(f"removed {subscription_id}" + (f" ({dropped} pending notification(s) dropped)"
                                               if dropped else ""))


def _set_active(subscription_id: str, registry: str, active: bool) -> None:
    from minewatch.run.notifications import set_subscription_active

    reg = _open(registry)
    try:
        set_subscription_active(reg, subscription_id, active)
    finally:
        reg.close()
    typer.echo(f"{'resumed' if active else 'paused'} {subscription_id}")


@subscribe_app.command("pause")
def pause(subscription_id: str = typer.Argument(...), registry: str = REGISTRY_OPT) -> None:
    """Pause a subscription: nothing new matches it; what is pending waits."""
    _set_active(subscription_id, registry, False)


@subscribe_app.command("resume")
def resume(subscription_id: str = typer.Argument(...), registry: str = REGISTRY_OPT) -> None:
    """Resume a paused subscription (what waited is sent by the next delivery)."""
    _set_active(subscription_id, registry, True)


# --------------------------------------------------------------------------- notify
def _print_outcomes(outcomes) -> None:
    for o in outcomes:
        line = f"{o.state:9} {o.subscription_id} {o.channel} {o.alert_id} level {o.level}" \
               + (" retracted" if o.retracted else "") + f" ({o.tries} tr{'y' if o.tries == 1 else 'ies'})"
        typer.echo(line + (f": {o.error}" if o.error else ""))


@notify_app.command("test")
def test(
    registry: str = REGISTRY_OPT,
    subscription_id: str = typer.Option(None, "--subscription", "-s",
                                        help="Only this subscription (default: every active)."),
    smtp_host: str = SMTP_HOST, smtp_port: int = SMTP_PORT, smtp_from: str = SMTP_FROM,
    smtp_starttls: bool = SMTP_STARTTLS, smtp_user: str = SMTP_USER,
    smtp_cafile: Path = SMTP_CAFILE, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
    backoff_cap: float = BACKOFF_CAP, http_timeout: float = HTTP_TIMEOUT,
) -> None:
    """Send a test event ("test": true) to subscriptions; nothing is recorded."""
    from minewatch.run.notifications import send_test

    settings = settings_from_options(
        smtp_host=smtp_host, smtp_port=smtp_port, smtp_from=smtp_from,
        smtp_starttls=smtp_starttls, smtp_user=smtp_user, smtp_cafile=smtp_cafile,
        attempts=attempts, backoff=backoff, backoff_cap=backoff_cap, http_timeout=http_timeout)
    reg = _open(registry)
    try:
        outcomes = send_test(reg, settings, subscription_id)
    finally:
        reg.close()
    _print_outcomes(outcomes)
    failed = [o for o in outcomes if o.state != "delivered"]
    if failed:
        raise NetworkError(f"the test notification failed for {len(failed)} of {len(outcomes)} "
                           f"subscription(s): {failed[0].error}")


@notify_app.command("send")
def send(
    registry: str = REGISTRY_OPT,
    smtp_host: str = SMTP_HOST, smtp_port: int = SMTP_PORT, smtp_from: str = SMTP_FROM,
    smtp_starttls: bool = SMTP_STARTTLS, smtp_user: str = SMTP_USER,
    smtp_cafile: Path = SMTP_CAFILE, attempts: int = ATTEMPTS, backoff: float = BACKOFF,
    backoff_cap: float = BACKOFF_CAP, http_timeout: float = HTTP_TIMEOUT,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Deliver every pending notification (left by an earlier run, a missing SMTP server or
    a requeue)."""
    from minewatch.run.notifications import deliver

    settings = settings_from_options(
        smtp_host=smtp_host, smtp_port=smtp_port, smtp_from=smtp_from,
        smtp_starttls=smtp_starttls, smtp_user=smtp_user, smtp_cafile=smtp_cafile,
        attempts=attempts, backoff=backoff, backoff_cap=backoff_cap, http_timeout=http_timeout)
    reg = _open(registry)
    try:
        report = deliver(reg, settings)
    finally:
        reg.close()
    if as_json:
        _echo_json(report.to_json())
        return
    _print_outcomes(report.outcomes)
    for n in report.notes:
        typer.echo(f"note: {n}")
    typer.echo(report.summary())


@notify_app.command("list")
def list_deliveries(
    registry: str = REGISTRY_OPT,
    state: list[str] = typer.Option(None, "--state", help="pending, delivered or dead "
                                    "(repeatable; default all)."),
    subscription_id: str = typer.Option(None, "--subscription", "-s"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with each event)."),
) -> None:
    """The delivery ledger: what was sent to whom, what waits, the dead letters and why."""
    from minewatch.run.notifications import deliveries

    reg = _open(registry)
    try:
        rows = deliveries(reg, states=state or None, subscription_id=subscription_id)
    finally:
        reg.close()
    if as_json:
        _echo_json([{"subscription_id": d.subscription_id, "event_id": d.event_id,
                     "channel": d.channel, "state": d.state, "attempts": d.attempts,
                     "last_error": d.last_error, "created_at": d.created_at,
                     "delivered_at": d.delivered_at, "message_id": d.message_id,
                     "event": d.event.to_json()} for d in rows])
        return
    if not rows:
        typer.echo("no deliveries")
    for d in rows:
        e = d.event
        typer.echo(f"{d.state:9} {d.subscription_id} {e.alert_id} level {e.level}"
                   + (" retracted" if e.retracted else "") + f" {d.event_id} "
                   f"attempts={d.attempts}" + (f": {d.last_error}" if d.last_error else ""))


@notify_app.command("requeue")
def requeue_(
    registry: str = REGISTRY_OPT,
    subscription_id: str = typer.Option(None, "--subscription", "-s"),
    event_id: str = typer.Option(None, "--event", help="Only this event id."),
) -> None:
    """Make dead letters pending again (after fixing the receiver); `notify send` sends them."""
    from minewatch.run.notifications import requeue

    reg = _open(registry)
    try:
        n = requeue(reg, subscription_id=subscription_id, event_id=event_id)
    finally:
        reg.close()
    typer.echo(f"{n} dead letter(s) pending again")
