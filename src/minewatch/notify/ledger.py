"""The delivery ledger: each (subscription, alert, level, retracted) is sent once.

What "exactly once" means here, honestly: no sender can both deliver and record in one
atomic step, so minewatch gives **at-least-once delivery with an idempotency key**:

1. :func:`enqueue` matches events to subscriptions and records one ``pending`` row per
   (subscription, event) in the registry; the key (subscription_id, event_id) makes
   recording the same event again a no-op. Called with the caller's ``conn``, the rows
   commit in the same transaction as the alert change that caused them (an outbox): an
   event is never lost between the change and its notification.
2. The dispatcher sends pending rows one at a time, holding no transaction while it
   sends, and records the outcome (``delivered`` or ``dead``) right after each send.
3. A crash between a send and its record leaves that one row ``pending``: the next
   dispatch sends it again, with the same ``event_id``. Rows already recorded are never
   sent again. So a receiver sees each event once, except that the one message in
   flight at a crash may arrive twice; receivers drop the copy by ``event_id``.

Two dispatchers running at once on one registry could both send a pending row; run one
``watch`` (or ``notify``) per registry at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from minewatch.notify.events import AlertEvent
from minewatch.notify.subscriptions import Subscription, match
from minewatch.registry import Registry


@dataclass(frozen=True)
class Delivery:
    """One ledger row: an event for a subscription, and how its delivery went."""

    subscription_id: str
    event: AlertEvent
    channel: str
    state: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    message_id: str | None

    @property
    def event_id(self) -> str:
        return self.event.event_id

    @property
    def key(self) -> tuple[str, str]:
        return self.subscription_id, self.event.event_id

    @classmethod
    def from_record(cls, r: dict) -> Delivery:
        return cls(subscription_id=r["subscription_id"], event=AlertEvent.from_json(r["event"]),
                   channel=r["channel"], state=r["state"], attempts=r["attempts"],
                   last_error=r.get("last_error"), created_at=r["created_at"],
                   delivered_at=r.get("delivered_at"), message_id=r.get("message_id"))


def _enqueue(registry: Registry, events: Sequence[AlertEvent],
             conn: sa.Connection) -> list[tuple[str, str]]:
    subs = [Subscription.from_record(r)
            for r in registry.subscriptions(active_only=True, conn=conn)]
    if not subs or not events:
        return []
    retracted = [e.alert_id for e in events if e.retracted]
    told = registry.notified_alerts(retracted, conn=conn) if retracted else set()
    rows = []
    for e in events:
        for s in match(e, subs, told):
            rows.append({"subscription_id": s.subscription_id, "event_id": e.event_id,
                         "alert_id": e.alert_id, "site_id": e.site_id, "level": e.level,
                         "retracted": e.retracted, "channel": s.channel, "event": e.to_json()})
            if not e.retracted:
                told.add((s.subscription_id, e.alert_id))
    return registry.add_deliveries(rows, conn=conn)


def enqueue(registry: Registry, events: Iterable[AlertEvent], *,
            conn: sa.Connection | None = None) -> list[tuple[str, str]]:
    """Record a pending delivery for each (active subscription, event) that matches and is
    not in the ledger yet; returns the (subscription_id, event_id) keys added.

    Give ``conn`` (a :meth:`Registry.write` transaction) to record them in the same
    transaction as the alert changes the events describe.
    """
    events = list({e.event_id: e for e in events}.values())
    if conn is not None:
        return _enqueue(registry, events, conn)
    with registry.write() as c:
        return _enqueue(registry, events, c)


def pending(registry: Registry) -> list[Delivery]:
    """Deliveries still to send, oldest first."""
    return [Delivery.from_record(r) for r in registry.deliveries(states=["pending"])]


def history(registry: Registry, *, states: Sequence[str] | None = None,
            subscription_id: str | None = None) -> list[Delivery]:
    """The ledger, oldest first (``states``: pending, delivered, dead)."""
    return [Delivery.from_record(r)
            for r in registry.deliveries(states=states, subscription_id=subscription_id)]


def record(registry: Registry, deliveries: Sequence[Delivery], *, state: str, tries: int,
           error: str | None = None, message_id: str | None = None) -> None:
    """Record how ``tries`` more tries of ``deliveries`` went, in one transaction."""
    registry.finish_deliveries([d.key for d in deliveries], state=state, tries=tries,
                               error=error, message_id=message_id)
