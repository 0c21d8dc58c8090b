"""The review workflow of alerts and the filtered, paged alert list.

An alert moves ``new -> pre-validated -> validated | rejected -> audited``; every transition
is a row of ``alert_review_log`` (who, when, from, to, comment) written in the same write
transaction as the alert's current state in ``alert_reviews`` and its audit-log row, under
the registry's writer lock: two reviewers acting at once are serialised, the second sees the
first's state (and gets a :class:`~minewatch.errors.ConflictError` when its transition no
longer applies), so no transition is ever lost or applied twice. An alert without a review
row is ``new`` and unpublished. Only a validated alert (or one audited after validation)
can be published to the anonymous public.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import shapely
import sqlalchemy as sa

from minewatch.errors import ConflictError, InputError, NotFoundError
from minewatch.registry import rows as R
from minewatch.registry.access import audit_row
from minewatch.registry.connection import Database
from minewatch.registry.schema import REVIEW_STATES, TABLES

#: Allowed transitions: from state -> the states it may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("pre-validated",),
    "pre-validated": ("validated", "rejected"),
    "validated": ("audited",),
    "rejected": ("audited",),
    "audited": (),
}
SORT_KEYS = ("onset_date", "area_ha", "alert_id", "site_id")


@dataclass(frozen=True)
class AlertQuery:
    """Filters and paging of the alert list (every field optional)."""

    site_id: str | None = None
    run_id: str | None = None
    review_states: tuple[str, ...] = ()
    onset_from: R.Date | None = None
    onset_to: R.Date | None = None
    #: True: only alerts inside a licence valid at onset; False: only those outside.
    inside_licence: bool | None = None
    bbox: R.BBox | None = None
    #: Minimum alert level (1 possible, 2 probable, 3 confirmed), read from the alert's record.
    min_level: int | None = None
    published_only: bool = False
    sort: str = "-onset_date"
    limit: int = 100
    offset: int = 0


def _level(row: dict) -> int | None:
    if row.get("level") is not None:
        return int(row["level"])
    extra = row.get("extra")
    if extra:
        try:
            lv = json.loads(extra).get("level")
        except (ValueError, AttributeError):
            return None
        return int(lv) if lv is not None else None
    return None


class Reviews:
    """Alert reviews and the alert list of one registry."""

    def __init__(self, db: Database):
        self.db = db

    # ------------------------------------------------------------------ list
    def _select(self):
        a, r = TABLES["alerts"], TABLES["alert_reviews"]
        return (sa.select(a, sa.func.coalesce(r.c.state, "new").label("review_state"),
                          sa.func.coalesce(r.c.published, False).label("published"),
                          r.c.changed_by.label("reviewed_by"),
                          r.c.changed_at.label("reviewed_at"))
                .select_from(a.outerjoin(r, r.c.alert_id == a.c.alert_id)))

    def list_alerts(self, q: AlertQuery) -> tuple[int, list[dict]]:
        """(number matching, the page of alerts) for ``q``; each alert a record with
        ``review_state``, ``published``, ``reviewed_by``, ``reviewed_at``."""
        a, r = TABLES["alerts"], TABLES["alert_reviews"]
        bad = set(q.review_states) - set(REVIEW_STATES)
        if bad:
            raise InputError(f"review state {sorted(bad)[0]!r} is not one of "
                             f"{', '.join(REVIEW_STATES)}")
        key = q.sort.lstrip("-")
        if key not in SORT_KEYS:
            raise InputError(f"sort {q.sort!r}: use one of {', '.join(SORT_KEYS)} "
                             "(prefix - for descending)")
        if not (1 <= q.limit <= 1000) or q.offset < 0:
            raise InputError("limit must be 1..1000 and offset >= 0")
        where = []
        if q.site_id:
            where.append(a.c.site_id == q.site_id)
        if q.run_id:
            where.append(a.c.run_id == q.run_id)
        if q.review_states:
            where.append(sa.func.coalesce(r.c.state, "new").in_(list(q.review_states)))
        if q.onset_from is not None:
            where.append(a.c.onset_date >= R.to_date(q.onset_from))
        if q.onset_to is not None:
            where.append(a.c.onset_date <= R.to_date(q.onset_to))
        if q.inside_licence is True:
            where.append(a.c.licence_id.is_not(None))
        elif q.inside_licence is False:
            where.append(a.c.licence_id.is_(None))
        if q.published_only:
            where.append(r.c.published.is_(True))
        if q.bbox is not None:
            where.append(self.db.backend.bbox_clause(a, q.bbox))
        col = a.c[key]
        order = [col.desc() if q.sort.startswith("-") else col.asc(), a.c.alert_id]
        stmt = self._select().where(*where).order_by(*order)
        exact = q.bbox is not None or q.min_level is not None
        with self.db.read() as conn:
            if not exact:
                total = conn.execute(sa.select(sa.func.count()).select_from(
                    a.outerjoin(r, r.c.alert_id == a.c.alert_id)).where(*where)).scalar_one()
                rows = [R.record(x) for x in conn.execute(stmt.limit(q.limit).offset(q.offset))]
                return total, rows
            rows = [R.record(x) for x in conn.execute(stmt)]
        if q.bbox is not None:
            box = shapely.box(*q.bbox)
            rows = [x for x in rows if x["geometry"] is not None
                    and shapely.intersects(x["geometry"], box)]
        if q.min_level is not None:
            rows = [x for x in rows if (_level(x) or 0) >= q.min_level]
        return len(rows), rows[q.offset: q.offset + q.limit]

    def alert(self, alert_id: str) -> dict:
        """One alert with its review state."""
        a = TABLES["alerts"]
        with self.db.read() as conn:
            row = conn.execute(self._select().where(a.c.alert_id == alert_id)).first()
        if row is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        return R.record(row)

    # ------------------------------------------------------------------ workflow
    def history(self, alert_id: str) -> list[dict]:
        """Every review transition of an alert, oldest first."""
        t = TABLES["alert_review_log"]
        with self.db.read() as conn:
            return R.select(self.db, conn, t, t.c.alert_id == alert_id, order=[t.c.seq])

    def transition(self, alert_id: str, to_state: str, *, by: str, comment: str | None = None,
                   expected: str | None = None, publish: bool | None = None) -> dict:
        """Move an alert to ``to_state`` (or, with ``to_state`` equal to its state and
        ``publish`` given, only publish or withdraw it); returns the new review record.

        ``expected``: the state the reviewer saw; a different current state is a conflict.
        """
        if to_state not in REVIEW_STATES:
            raise InputError(f"review state {to_state!r} is not one of {', '.join(REVIEW_STATES)}")
        if not by:
            raise InputError("a review transition needs who made it")
        a, r, log = TABLES["alerts"], TABLES["alert_reviews"], TABLES["alert_review_log"]
        with self.db.write() as conn:
            if conn.execute(sa.select(a.c.fid).where(a.c.alert_id == alert_id)).first() is None:
                raise NotFoundError(f"no alert {alert_id!r}")
            cur = conn.execute(sa.select(r).where(r.c.alert_id == alert_id)).first()
            state = cur.state if cur else "new"
            published = bool(cur.published) if cur else False
            seq = cur.seq if cur else 0
            if expected is not None and expected != state:
                raise ConflictError(f"alert {alert_id} is {state}, not {expected}: someone "
                                    "reviewed it meanwhile; reload it")
            if to_state != state and to_state not in TRANSITIONS[state]:
                allowed = ", ".join(TRANSITIONS[state]) or "none"
                raise ConflictError(f"alert {alert_id} is {state}: it cannot become {to_state} "
                                    f"(allowed: {allowed})")
            if to_state == state and publish is None:
                raise ConflictError(f"alert {alert_id} is already {state}")
            new_published = published if publish is None else bool(publish)
            if to_state in ("rejected", "new", "pre-validated"):
                new_published = False
            if publish and not self._publishable(conn, alert_id, to_state, state, seq):
                raise ConflictError(f"alert {alert_id}: only a validated alert can be published")
            now = R.now()
            values = {"state": to_state, "published": new_published, "seq": seq + 1,
                      "changed_by": by, "changed_at": now, "comment": comment}
            if cur is None:
                conn.execute(r.insert().values(alert_id=alert_id, **values))
            else:
                n = conn.execute(r.update().where(r.c.alert_id == alert_id, r.c.seq == seq)
                                 .values(**values)).rowcount
                if n != 1:  # the writer lock makes this unreachable; kept as a guard
                    raise ConflictError(f"alert {alert_id} changed meanwhile; reload it")
            conn.execute(log.insert().values(alert_id=alert_id, seq=seq + 1, from_state=state,
                                             state=to_state, published=new_published,
                                             changed_by=by, changed_at=now, comment=comment))
            conn.execute(TABLES["audit_log"].insert().values(**audit_row(
                by, "alert.review", alert_id,
                {"from": state, "to": to_state, "published": new_published,
                 "comment": comment})))
        return {"alert_id": alert_id, **values, "from_state": state}

    def _publishable(self, conn, alert_id: str, to_state: str, state: str, seq: int) -> bool:
        if to_state == "validated":
            return True
        if to_state != "audited":
            return False
        if state == "validated":  # being audited now, from validated
            return True
        log = TABLES["alert_review_log"]
        row = conn.execute(sa.select(log.c.from_state).where(
            log.c.alert_id == alert_id, log.c.seq == seq)).first()
        return row is not None and row.from_state == "validated" and state == "audited"

    def states(self, alert_ids: Sequence[str]) -> dict[str, str]:
        """Current review state of each alert id (``new`` when never reviewed)."""
        r = TABLES["alert_reviews"]
        with self.db.read() as conn:
            got = {x["alert_id"]: x["state"] for x in R.fetch_by(conn, r, "alert_id", alert_ids)}
        return {i: got.get(i, "new") for i in alert_ids}
