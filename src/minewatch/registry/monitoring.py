"""Monitoring runs, their alerts, and the alerts' triage (who decided what, when and why)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from minewatch.errors import InputError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database
from minewatch.registry.geometry import as_geometry, normalise, repair
from minewatch.registry.importer import coerce
from minewatch.registry.schema import SPECS, TABLES, TRIAGE_STATES

#: Alert fields an incoming alert does not set (the registry and triage do).
_NOT_FROM_ALERT = {"run_id", "site_id", "extra", "triage_state", "triage_by", "triage_at",
                   "triage_reason"}
_MIN_IOU = 0.5


class Monitoring:
    """The monitoring record of one registry: runs, alerts and triage."""

    def __init__(self, db: Database):
        self.db = db

    # ------------------------------------------------------------------ runs
    def record_run(self, run: dict) -> str:
        """Record (or update) a monitoring run; returns its ``run_id``.

        Keys: ``run_id`` (assigned if absent), ``site_id``, ``started_at``, ``finished_at``,
        ``outcome`` (running | ok | failed | partial), ``code_version`` (defaults to this
        minewatch's version), ``inputs`` and ``parameters`` (JSON-able), ``message``; any other
        key goes to ``extra``.
        """
        from minewatch import __version__

        spec = SPECS["monitoring_runs"]
        run = dict(run)
        run_id = str(run.pop("run_id", None) or uuid.uuid4().hex)
        row: dict = {"run_id": run_id}
        known = set(spec.field_names)
        extra = {k: v for k, v in run.items() if k not in known}
        for f in spec.fields:
            if f.name in ("run_id", "extra") or f.name not in run:
                continue
            try:
                row[f.name] = coerce(run[f.name], f)
            except ValueError as exc:
                raise InputError(f"run {run_id}, field '{f.name}': {exc}") from None
        row.setdefault("code_version", __version__)
        if extra:
            row["extra"] = json.dumps(extra, sort_keys=True, default=str)
        t = TABLES["monitoring_runs"]
        with self.db.write() as conn:
            fid = conn.execute(sa.select(t.c.fid).where(t.c.run_id == run_id)).scalar()
            if fid is None:
                row.setdefault("started_at", R.now())
                row.setdefault("outcome", "running")
                conn.execute(t.insert().values(**row))
            else:
                conn.execute(t.update().where(t.c.fid == fid).values(**row))
        return run_id

    # ------------------------------------------------------------------ alerts
    def _alert_rows(self, run_id: str, site_id: str | None, alerts: Sequence[dict]) -> list[dict]:
        """Validated alert rows (geometry under ``geom``; the given id under ``_given``)."""
        spec = SPECS["alerts"]
        prefix = f"{run_id[:8]}-"
        rows = []
        for i, a in enumerate(alerts):
            a = dict(a)
            g = as_geometry(a.pop("geometry", None))
            if g is not None:
                if not g.is_valid:
                    g, _ = repair(g, "MULTIPOLYGON")
                if g is not None:
                    g, err = normalise(g, "MULTIPOLYGON")
                    if err:
                        raise InputError(f"alert {i + 1} ({a.get('alert_id')}): {err}")
            row = {"run_id": run_id, "site_id": a.pop("site_id", None) or site_id, "geom": g}
            for f in spec.fields:
                if f.name in _NOT_FROM_ALERT:
                    continue
                try:
                    row[f.name] = coerce(a.pop(f.name, None), f)
                except ValueError as exc:
                    raise InputError(f"alert {i + 1} ({row.get('alert_id')}), field "
                                     f"'{f.name}': {exc}") from None
            if not row.get("alert_id"):
                raise InputError(f"alert {i + 1}: alert_id is missing")
            given = row["alert_id"]
            a["run_alert_id"] = given
            row["extra"] = json.dumps(a, sort_keys=True, default=str)
            row["_given"] = given
            if not given.startswith(prefix):
                row["alert_id"] = prefix + given
            rows.append(row)
        return rows

    def record_alerts(self, run_id: str, alerts: Sequence[dict]) -> dict[str, str]:
        """Record a run's alerts; returns ``{alert_id given: alert_id stored}``.

        Alert dicts: ``alert_id, onset_date, area_ha, licence_id (or None),
        licence_status_at_onset, geometry`` (GeoJSON dict or shapely, EPSG:4326), optional
        ``site_id`` (default: the run's); other keys go to ``extra``.

        Analysis alert ids are only unique within a run, so the registry matches alerts to
        the ones it already holds: an alert of the same site with the same onset date whose
        area overlaps a stored one by at least half (intersection over union >= 0.5) *is*
        that alert (re-detected): its geometry, figures and run are updated and its triage
        state and history are kept. Any other alert is stored as new (triage state ``new``)
        under the id ``<first 8 characters of run_id>-<alert_id>``. Recording the same run
        twice is idempotent.
        """
        t, tr = TABLES["alerts"], TABLES["monitoring_runs"]
        with self.db.read() as conn:
            run = conn.execute(sa.select(tr.c.site_id).where(tr.c.run_id == run_id)).first()
        if run is None:
            raise InputError(f"no monitoring run {run_id!r} in {self.db.url}",
                             hint="record the run first with record_run()")
        rows = self._alert_rows(run_id, run.site_id, alerts)
        now = R.now()
        ids: dict[str, str] = {}
        with self.db.write() as conn:
            have = {r["alert_id"]: r["fid"] for r in R.fetch_by(
                conn, t, "alert_id", [r["alert_id"] for r in rows])}
            new, updates = [], []
            for r in rows:
                fid = have.get(r["alert_id"])
                if fid is None and r["geom"] is not None:
                    fid, stored_id = self._match_alert(conn, r)
                    if fid is not None:
                        r["alert_id"] = stored_id
                ids[r.pop("_given")] = r["alert_id"]
                if fid is None:
                    new.append(r)
                else:
                    updates.append((fid, {k: v for k, v in r.items() if k != "alert_id"}))
            self._insert_new_alerts(conn, run_id, now, new)
            R.update_many(self.db, conn, t, updates)
        return ids

    def record_alert_states(self, run_id: str, site_id: str | None, alerts: Sequence[dict]) -> list[dict]:
        """Record the current state of alerts that keep their id from run to run (``watch``).

        Unlike :meth:`record_alerts`, each alert's ``alert_id`` is stored as given (a monitoring
        state's stable id): a known alert is updated in place (its triage kept), an unknown one
        is stored as new. Only alerts whose level, retraction, dates, area or outline changed
        are written; the caller records the run ``run_id`` when anything was. Returns one ``{alert_id, before, after}`` per alert written, ``before`` being
        ``None`` for a new alert, else ``{level, retracted}`` as stored before.
        """
        t = TABLES["alerts"]
        rows = self._alert_rows(run_id, site_id, alerts)
        for r in rows:
            r["alert_id"] = r.pop("_given")
        compared = ("level", "retracted", "first_seen", "confirmed_on", "onset_date", "area_ha")
        now = R.now()
        changes, new, updates = [], [], []
        with self.db.write() as conn:
            have = {r["alert_id"]: r for r in R.fetch_by(conn, t, "alert_id", [r["alert_id"] for r in rows])}
            for r in rows:
                old = have.get(r["alert_id"])
                if old is None:
                    new.append(r)
                    changes.append({"alert_id": r["alert_id"], "before": None,
                                    "after": {"level": r["level"], "retracted": r["retracted"]}})
                    continue
                same = all(old.get(k) == r.get(k) for k in compared) and (
                    old.get("geom") is None if r["geom"] is None else
                    old.get("geom") is not None and old["geom"].equals(r["geom"]))
                if same:
                    continue
                updates.append((old["fid"], {k: v for k, v in r.items() if k not in ("alert_id", "extra")}))
                changes.append({"alert_id": r["alert_id"],
                                "before": {"level": old.get("level"), "retracted": old.get("retracted")},
                                "after": {"level": r["level"], "retracted": r["retracted"]}})
            self._insert_new_alerts(conn, run_id, now, new)
            R.update_many(self.db, conn, t, updates)
        return changes

    def _insert_new_alerts(self, conn: sa.Connection, run_id: str, now, new: list[dict]) -> None:
        """Store alerts seen for the first time, each with its triage state ``new`` and that first
        transition in the triage log."""
        for r in new:
            r.update(triage_state="new", triage_by=f"run {run_id}", triage_at=now, triage_reason="detected")
        R.insert_many(self.db, conn, TABLES["alerts"], new)
        if new:
            conn.execute(TABLES["alert_triage"].insert(), [
                {"alert_id": r["alert_id"], "state": "new", "changed_by": f"run {run_id}",
                 "changed_at": now, "reason": "detected"} for r in new])

    def _match_alert(self, conn: sa.Connection, r: dict) -> tuple[int | None, str | None]:
        """A stored alert that ``r`` re-detects (same site and onset, IoU >= 0.5)."""
        t = TABLES["alerts"]
        g = r["geom"]
        where = [t.c.onset_date == r.get("onset_date")]
        where.append(t.c.site_id == r["site_id"] if r.get("site_id") else t.c.site_id.is_(None))
        stmt = sa.select(t.c.fid, t.c.alert_id, t.c.geom).where(*where).where(
            self.db.backend.bbox_clause(t, tuple(g.bounds)))
        best, best_iou = (None, None), 0.0
        for fid, aid, other in conn.execute(stmt):
            if other is None or not other.intersects(g):
                continue
            union = other.union(g).area
            iou = other.intersection(g).area / union if union > 0 else 0.0
            if iou >= _MIN_IOU and iou > best_iou:
                best, best_iou = (fid, aid), iou
        return best

    def alerts_in_bbox(self, bbox: R.BBox, *, states: Sequence[str] | None = None) -> list[dict]:
        """Alerts meeting ``bbox`` (lon/lat), optionally only in the given triage states."""
        t = TABLES["alerts"]
        where = [t.c.triage_state.in_(list(states))] if states else []
        with self.db.read() as conn:
            rows = R.select(self.db, conn, t, *where, order=[t.c.alert_id], bbox=bbox)
        return R.exact_bbox(rows, bbox)

    # ------------------------------------------------------------------ triage
    def set_triage(self, alert_id: str, state: str, *, by: str, reason: str,
                   at: dt.datetime | None = None) -> None:
        """Change an alert's triage state, recording who, when and why."""
        if state not in TRIAGE_STATES:
            raise InputError(f"triage state {state!r} is not one of {', '.join(TRIAGE_STATES)}")
        if not (by and by.strip()) or not (reason and reason.strip()):
            raise InputError("a triage change needs who (--by) and why (--reason)")
        at = at or R.now()
        t, tt = TABLES["alerts"], TABLES["alert_triage"]
        with self.db.write() as conn:
            fid = conn.execute(sa.select(t.c.fid).where(t.c.alert_id == alert_id)).scalar()
            if fid is None:
                raise InputError(f"no alert {alert_id!r} in {self.db.url}")
            conn.execute(t.update().where(t.c.fid == fid).values(
                triage_state=state, triage_by=by, triage_at=at, triage_reason=reason))
            conn.execute(tt.insert().values(alert_id=alert_id, state=state, changed_by=by,
                                            changed_at=at, reason=reason))

    def triage_history(self, alert_id: str) -> list[dict]:
        """Every triage change of an alert, oldest first."""
        tt = TABLES["alert_triage"]
        with self.db.read() as conn:
            return R.select(self.db, conn, tt, tt.c.alert_id == alert_id,
                            order=[tt.c.changed_at, tt.c.fid])

    def triage_queue(self, *, site_id: str | None = None,
                     states: Sequence[str] = ("new", "escalated")) -> list[dict]:
        """Alerts waiting for triage: escalated first, then new; oldest onset first."""
        t = TABLES["alerts"]
        where = [t.c.triage_state.in_(list(states))]
        if site_id:
            where.append(t.c.site_id == site_id)
        order = [sa.case((t.c.triage_state == "escalated", 0), else_=1), t.c.onset_date,
                 t.c.alert_id]
        with self.db.read() as conn:
            return R.select(self.db, conn, t, *where, order=order)
