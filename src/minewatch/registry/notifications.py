"""Notification subscriptions and the delivery ledger (docs/notifications.md).

``subscriptions`` says who is told about which alerts; ``notification_deliveries`` holds
one row per (subscription, event): ``pending`` until the receiver accepted it
(``delivered``) or every try failed (``dead``, with the reason). Its key makes recording a
delivery idempotent. Methods that take ``conn`` work inside the caller's write transaction
(so a delivery can be recorded together with the alert change that caused it); without
one they open their own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa

from minewatch.errors import InputError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database, mark_written
from minewatch.registry.geometry import as_geometry, normalise, repair
from minewatch.registry.importer import coerce
from minewatch.registry.schema import DELIVERY_STATES, SPECS, TABLES

DeliveryKey = tuple[str, str]  #: (subscription_id, event_id)


class Notifications:
    """Subscriptions and deliveries of one registry."""

    def __init__(self, db: Database):
        self.db = db

    @contextmanager
    def _write(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        if conn is not None:
            yield conn
        else:
            with self.db.write() as c:
                yield c

    @contextmanager
    def _read(self, conn: sa.Connection | None) -> Iterator[sa.Connection]:
        if conn is not None:
            yield conn
        else:
            with self.db.read() as c:
                yield c

    # ------------------------------------------------------------------ subscriptions
    def add_subscription(self, sub: dict) -> None:
        """Store a new subscription.

        Keys: ``subscription_id``, ``channel`` (webhook | email), ``target``, ``site_id`` or
        ``geometry`` (the AOI, EPSG:4326), ``min_level``, ``min_area_ha``, ``secret``,
        ``active``, ``created_at``, ``note``. The id must be new and the site registered.
        """
        spec = SPECS["subscriptions"]
        sub = dict(sub)
        sid = sub.get("subscription_id")
        g = as_geometry(sub.pop("geometry", None))
        if g is not None:
            if not g.is_valid:
                g, _ = repair(g, "MULTIPOLYGON")
            g, err = normalise(g, "MULTIPOLYGON") if g is not None else (None, "no area left")
            if err:
                raise InputError(f"subscription {sid}: AOI: {err}")
        row: dict = {"geom": g}
        for f in spec.fields:
            try:
                row[f.name] = coerce(sub.get(f.name), f)
            except ValueError as exc:
                raise InputError(f"subscription {sid}, field '{f.name}': {exc}") from None
            if f.required and row[f.name] is None:
                raise InputError(f"subscription {sid}: field '{f.name}' is missing")
        row["created_at"] = row["created_at"] or R.now()
        t, ts = TABLES["subscriptions"], TABLES["sites"]
        with self.db.write() as conn:
            if conn.execute(sa.select(t.c.fid).where(t.c.subscription_id == sid)).first():
                raise InputError(f"subscription {sid!r} already exists in {self.db.url}")
            site = row.get("site_id")
            if site and not conn.execute(sa.select(ts.c.fid).where(ts.c.site_id == site)).first():
                raise InputError(f"no site {site!r} in {self.db.url}",
                                 hint="import the site first (registry import --kind sites)")
            R.insert_many(self.db, conn, t, [row])

    def subscriptions(self, *, active_only: bool = False,
                      conn: sa.Connection | None = None) -> list[dict]:
        """Every subscription (or only the active ones), in id order; AOI under ``geometry``."""
        t = TABLES["subscriptions"]
        where = [t.c.active.is_(True)] if active_only else []
        with self._read(conn) as c:
            return R.select(self.db, c, t, *where, order=[t.c.subscription_id])

    def subscription(self, subscription_id: str) -> dict:
        t = TABLES["subscriptions"]
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, t.c.subscription_id == subscription_id)
        if not rows:
            raise InputError(f"no subscription {subscription_id!r} in {self.db.url}",
                             hint="list them with: minewatch subscribe list")
        return rows[0]

    def set_subscription_active(self, subscription_id: str, active: bool) -> None:
        """Pause (``False``) or resume a subscription; paused ones are matched and sent nothing."""
        t = TABLES["subscriptions"]
        with self.db.write() as conn:
            n = conn.execute(t.update().where(t.c.subscription_id == subscription_id)
                             .values(active=active)).rowcount
        if not n:
            self.subscription(subscription_id)  # raises the not-found error

    def remove_subscription(self, subscription_id: str) -> int:
        """Delete a subscription and its pending deliveries (delivered and dead ones stay, as
        the record of what was sent); returns the number of pending deliveries dropped."""
        t, td = TABLES["subscriptions"], TABLES["notification_deliveries"]
        with self.db.write() as conn:
            n = conn.execute(t.delete().where(t.c.subscription_id == subscription_id)).rowcount
            if not n:
                raise InputError(f"no subscription {subscription_id!r} in {self.db.url}",
                                 hint="list them with: minewatch subscribe list")
            mark_written(conn, t)
            return conn.execute(td.delete().where(td.c.subscription_id == subscription_id,
                                                  td.c.state == "pending")).rowcount

    # ------------------------------------------------------------------ deliveries
    def add_deliveries(self, rows: Sequence[dict], *,
                       conn: sa.Connection | None = None) -> list[DeliveryKey]:
        """Record ``rows`` as pending deliveries, skipping every (subscription_id, event_id)
        already recorded (in any state); returns the keys inserted."""
        td = TABLES["notification_deliveries"]
        now = R.now()
        with self._write(conn) as c:
            have = self._keys(c, {r["subscription_id"] for r in rows},
                              {r["event_id"] for r in rows})
            new = []
            for r in rows:
                key = (r["subscription_id"], r["event_id"])
                if key in have:
                    continue
                have.add(key)
                new.append({**r, "state": "pending", "attempts": 0, "created_at": now,
                            "updated_at": now,
                            "event": json.dumps(r["event"], sort_keys=True)})
            if new:
                c.execute(td.insert(), new)
        return [(r["subscription_id"], r["event_id"]) for r in new]

    def _keys(self, conn: sa.Connection, subs: set[str], events: set[str]) -> set[DeliveryKey]:
        td = TABLES["notification_deliveries"]
        out: set[DeliveryKey] = set()
        for r in R.fetch_by(conn, td, "event_id", sorted(events)):
            if r["subscription_id"] in subs:
                out.add((r["subscription_id"], r["event_id"]))
        return out

    def notified_alerts(self, alert_ids: Iterable[str], *,
                        conn: sa.Connection | None = None) -> set[tuple[str, str]]:
        """(subscription_id, alert_id) pairs for which a level of the alert was delivered or
        is pending (what a retraction is sent to)."""
        td = TABLES["notification_deliveries"]
        with self._read(conn) as c:
            return {(r["subscription_id"], r["alert_id"])
                    for r in R.fetch_by(c, td, "alert_id", sorted(set(alert_ids)))
                    if not r["retracted"] and r["state"] in ("pending", "delivered")}

    def deliveries(self, *, states: Sequence[str] | None = None,
                   subscription_id: str | None = None,
                   alert_id: str | None = None) -> list[dict]:
        """Ledger rows, oldest first (``event`` decoded)."""
        td = TABLES["notification_deliveries"]
        where = []
        if states:
            bad = set(states) - set(DELIVERY_STATES)
            if bad:
                raise InputError(f"delivery state {min(bad)!r} is not one of "
                                 f"{', '.join(DELIVERY_STATES)}")
            where.append(td.c.state.in_(list(states)))
        if subscription_id:
            where.append(td.c.subscription_id == subscription_id)
        if alert_id:
            where.append(td.c.alert_id == alert_id)
        with self.db.read() as conn:
            rows = R.select(self.db, conn, td, *where, order=[td.c.created_at, td.c.fid])
        for r in rows:
            r["event"] = json.loads(r["event"])
        return rows

    def finish_deliveries(self, keys: Sequence[DeliveryKey], *, state: str, tries: int,
                          error: str | None = None, message_id: str | None = None,
                          at: dt.datetime | None = None) -> None:
        """Record the outcome of ``tries`` more tries of pending deliveries, in one transaction:
        ``delivered`` or ``dead`` (with the reason), or still ``pending`` (deferred)."""
        if state not in DELIVERY_STATES:
            raise InputError(f"delivery state {state!r} is not one of {', '.join(DELIVERY_STATES)}")
        td = TABLES["notification_deliveries"]
        at = at or R.now()
        values = {"state": state, "attempts": td.c.attempts + tries, "updated_at": at,
                  "last_error": error}
        if state == "delivered":
            values["delivered_at"] = at
        if message_id is not None:
            values["message_id"] = message_id
        with self.db.write() as conn:
            for sub, event in keys:
                conn.execute(td.update().where(td.c.subscription_id == sub,
                                               td.c.event_id == event,
                                               td.c.state == "pending").values(**values))

    def requeue_dead(self, *, subscription_id: str | None = None,
                     event_id: str | None = None) -> int:
        """Make dead letters pending again (after the receiver was fixed); returns how many."""
        td = TABLES["notification_deliveries"]
        where = [td.c.state == "dead"]
        if subscription_id:
            where.append(td.c.subscription_id == subscription_id)
        if event_id:
            where.append(td.c.event_id == event_id)
        with self.db.write() as conn:
            return conn.execute(td.update().where(*where).values(
                state="pending", updated_at=R.now())).rowcount
