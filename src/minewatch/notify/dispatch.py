"""Dispatch: match events to subscriptions, send, retry, record, dead-letter.

:func:`notify` is what ``minewatch watch`` (and the REST API) call after recording a
run's alert changes; :func:`send_test` sends a made-up event to check a subscription.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import httpx
import shapely

from minewatch.errors import InputError
from minewatch.jsonable import jsonable
from minewatch.notify import email, webhook
from minewatch.notify.events import AlertEvent
from minewatch.notify.ledger import Delivery, enqueue, pending, record
from minewatch.notify.settings import NotifySettings
from minewatch.notify.subscriptions import Subscription
from minewatch.registry import Registry

Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery in a dispatch: ``delivered``, ``dead`` (a dead letter)
    or ``pending`` (not sent this time: ``error`` says why)."""

    subscription_id: str
    event_id: str
    alert_id: str
    level: int
    retracted: bool
    channel: str
    state: str
    tries: int
    error: str | None = None


@dataclass(frozen=True)
class NotifyReport:
    """The result of one dispatch."""

    enqueued: int  #: new deliveries recorded from the events given
    outcomes: tuple[Outcome, ...]
    emails_sent: int  #: digests sent (one per e-mail subscription with news)
    notes: tuple[str, ...] = ()

    def _count(self, state: str) -> int:
        return sum(o.state == state for o in self.outcomes)

    @property
    def delivered(self) -> int:
        return self._count("delivered")

    @property
    def dead(self) -> int:
        return self._count("dead")

    @property
    def waiting(self) -> int:
        return self._count("pending")

    def summary(self) -> str:
        return (f"{self.enqueued} new notification(s); {self.delivered} delivered, "
                f"{self.dead} dead-lettered, {self.waiting} waiting; "
                f"{self.emails_sent} e-mail digest(s) sent")

    def to_json(self) -> dict:
        return jsonable({"enqueued": self.enqueued, "delivered": self.delivered,
                         "dead": self.dead, "waiting": self.waiting,
                         "emails_sent": self.emails_sent, "notes": list(self.notes),
                         "outcomes": [asdict(o) for o in self.outcomes]})


def _outcome(d: Delivery, state: str, tries: int, error: str | None) -> Outcome:
    e = d.event
    return Outcome(d.subscription_id, e.event_id, e.alert_id, e.level, e.retracted, d.channel,
                   state, tries, error)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _webhooks(registry: Registry, sub: Subscription, todo: Sequence[Delivery],
              client: httpx.Client, settings: NotifySettings, sleep: Sleep) -> list[Outcome]:
    """Send a subscription's pending webhook deliveries in order, recording each at once.

    When one ends without an answer or with a server error after every try, the receiver
    is taken as down: it is dead-lettered and the subscription's later deliveries wait,
    pending, for the next dispatch instead of each spending the whole retry schedule.
    """
    out = []
    for i, d in enumerate(todo):
        doc = webhook.payload(d.event, sub.subscription_id, _now())
        res = webhook.post(client, sub.target, sub.secret, doc, settings.retry, sleep=sleep)
        state = "delivered" if res.delivered else "dead"
        record(registry, [d], state=state, tries=res.tries, error=res.error)
        out.append(_outcome(d, state, res.tries, res.error))
        if not res.delivered and not res.refused:
            why = f"not tried: {sub.target} failed event {d.event_id} in this dispatch"
            out += [_outcome(x, "pending", 0, why) for x in todo[i + 1:]]
            break
    return out


def _digest(registry: Registry, sub: Subscription, todo: Sequence[Delivery],
            settings: NotifySettings, sleep: Sleep) -> tuple[list[Outcome], bool]:
    """Send one digest of a subscription's pending e-mail deliveries; record them together."""
    msg = email.digest([d.event for d in todo], sender=settings.smtp.sender, to=sub.target,
                       subscription_id=sub.subscription_id)
    res = email.send(msg, settings.smtp, settings.retry, sleep=sleep)
    state = "delivered" if res.delivered else "dead"
    record(registry, todo, state=state, tries=res.tries, error=res.error,
           message_id=msg["Message-ID"])
    return [_outcome(d, state, res.tries, res.error) for d in todo], res.delivered


def notify(registry: Registry, events: Iterable[AlertEvent], settings: NotifySettings, *,
           sleep: Sleep = time.sleep) -> NotifyReport:
    """Notify subscribers of ``events`` (and of anything a previous dispatch left pending).

    Each (subscription, event) is recorded in the ledger first (an event already there is
    not recorded again), then every pending delivery is sent: a signed POST per event for
    webhooks, one digest per e-mail subscription. Each outcome is recorded as soon as it
    is known (docs/notifications.md: retries, dead letters, exactly-once semantics).
    """
    added = enqueue(registry, events)
    todo = pending(registry)
    subs = {r["subscription_id"]: Subscription.from_record(r) for r in registry.subscriptions()}
    by_sub: dict[str, list[Delivery]] = {}
    for d in todo:
        by_sub.setdefault(d.subscription_id, []).append(d)
    outcomes: list[Outcome] = []
    notes: list[str] = []
    emails = 0
    with httpx.Client(timeout=settings.http_timeout_s, follow_redirects=False) as client:
        for sid, ds in by_sub.items():
            sub = subs.get(sid)
            if sub is None or not sub.active:
                why = "subscription removed" if sub is None else "subscription paused"
                outcomes += [_outcome(d, "pending", 0, why) for d in ds]
                continue
            if sub.channel == "webhook":
                outcomes += _webhooks(registry, sub, ds, client, settings, sleep)
            elif settings.smtp is None:
                why = "no SMTP server configured"
                outcomes += [_outcome(d, "pending", 0, why) for d in ds]
                notes.append(f"{len(ds)} e-mail notification(s) for {sid} wait: {why} "
                             "(give --smtp-host and --smtp-from, or MINEWATCH_SMTP_HOST/_FROM)")
            else:
                res, sent = _digest(registry, sub, ds, settings, sleep)
                outcomes += res
                emails += sent
    return NotifyReport(len(added), tuple(outcomes), emails, tuple(notes))


def make_test_event(sub: Subscription, registry: Registry) -> AlertEvent:
    """A made-up level-3 event inside what ``sub`` watches (never recorded in the ledger)."""
    area = sub.aoi if sub.aoi is not None else registry.site(sub.site_id).geometry
    c = area.representative_point()
    today = _now().date()
    stamp = _now().strftime("%Y%m%dT%H%M%S%f")
    return AlertEvent(alert_id=f"TEST-{stamp}", site_id=sub.site_id, level=3,
                      area_ha=max(sub.min_area_ha, 1.0), onset_date=today, first_seen=today,
                      confirmed_on=today, licence_id=None, licence_status_at_onset="no_licence",
                      geometry=shapely.Point(c.x, c.y).buffer(0.0005))


def send_test(registry: Registry, settings: NotifySettings, *,
              subscription_id: str | None = None, sleep: Sleep = time.sleep) -> list[Outcome]:
    """Send a test event (``"test": true``) to one subscription or to every active one,
    through the same webhook and e-mail paths as real events, without touching the ledger."""
    if subscription_id:
        subs = [Subscription.from_record(registry.subscription(subscription_id))]
    else:
        subs = [Subscription.from_record(r) for r in registry.subscriptions(active_only=True)]
        if not subs:
            raise InputError(f"no active subscription in {registry.url}",
                             hint="add one with: minewatch subscribe add")
    if any(s.channel == "email" for s in subs) and settings.smtp is None:
        raise InputError("an e-mail subscription needs an SMTP server to send the test",
                         hint="give --smtp-host and --smtp-from (or MINEWATCH_SMTP_HOST/_FROM)")
    out = []
    with httpx.Client(timeout=settings.http_timeout_s, follow_redirects=False) as client:
        for sub in subs:
            ev = make_test_event(sub, registry)
            if sub.channel == "webhook":
                doc = webhook.payload(ev, sub.subscription_id, _now(), test=True)
                r = webhook.post(client, sub.target, sub.secret, doc, settings.retry, sleep=sleep)
                tries, ok, err = r.tries, r.delivered, r.error
            else:
                msg = email.digest([ev], sender=settings.smtp.sender, to=sub.target,
                                   subscription_id=sub.subscription_id, test=True)
                r = email.send(msg, settings.smtp, settings.retry, sleep=sleep)
                tries, ok, err = r.tries, r.delivered, r.error
            out.append(Outcome(sub.subscription_id, ev.event_id, ev.alert_id, ev.level, False,
                               sub.channel, "delivered" if ok else "dead", tries, err))
    return out
