"""The registry's one entry point: :func:`open_registry` and the :class:`Registry` facade.

A :class:`Registry` is composed of one store per aggregate, all working through one
:class:`~minewatch.registry.connection.Database`: ``Records`` (any kind: count, all
rows, one by id), ``Imports`` (import files and records, export), ``Licences``
(versions, history, valid at / covering, for analysis), ``Sites`` (sites and the
receptors around them), ``Monitoring`` (runs, alerts, triage) and ``FieldWork``
(inspections with photos, samples) and ``Notifications`` (subscriptions, the delivery
ledger). Two aggregates are reached as attributes: :attr:`Registry.access` (users,
tokens, sessions, the audit log) and :attr:`Registry.reviews` (the review workflow and the
filtered alert list).

The facade's methods are the registry's public API (docs/registry.md); each one hands
over to its aggregate.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from minewatch.errors import RegistryError
from minewatch.registry.access import Access
from minewatch.registry.connection import Database, backend_for
from minewatch.registry.field import FieldWork
from minewatch.registry.imports import Imports
from minewatch.registry.licences import Licences
from minewatch.registry.mapping import ColumnMapping
from minewatch.registry.monitoring import Monitoring
from minewatch.registry.notifications import DeliveryKey, Notifications
from minewatch.registry.records import Records
from minewatch.registry.report import ImportReport
from minewatch.registry.review import Reviews
from minewatch.registry.rows import BBox, Date
from minewatch.registry.schema import spec_for
from minewatch.registry.sites import Site, Sites


class Registry:
    """The cadastre and monitoring record (see ``docs/registry.md``)."""

    def __init__(self, backend, files_dir: str | Path | None = None):
        self.db = Database(backend)
        self._files_dir = Path(files_dir) if files_dir else None
        self._records = Records(self.db)
        self._licences = Licences(self.db)
        self._sites = Sites(self.db)
        self._imports = Imports(self.db, self._records, self._licences, self._sites)
        self._monitoring = Monitoring(self.db)
        self._field = FieldWork(self.db, lambda: self.files_dir)
        self._notifications = Notifications(self.db)
        #: Users, API tokens, sessions and the audit log (registry/access.py).
        self.access = Access(self.db)
        #: Alert reviews and the filtered alert list (registry/review.py).
        self.reviews = Reviews(self.db)

    # ------------------------------------------------------------------ the database
    @property
    def backend(self):
        return self.db.backend

    @property
    def engine(self) -> sa.Engine:
        return self.db.engine

    @property
    def url(self) -> str:
        """Where the registry is (a PostgreSQL password redacted)."""
        return self.db.url

    @property
    def kind(self) -> str:
        """``geopackage`` or ``postgis``."""
        return self.db.kind

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry({self.url!r}, {self.kind})"

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction."""
        with self.db.read() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: exclusive among writers, all or nothing."""
        with self.db.write() as conn:
            yield conn

    def schema_revision(self) -> str | None:
        return self.db.schema_revision()

    def integrity_check(self) -> str:
        """``ok`` when the storage is sound (sqlite ``PRAGMA integrity_check``)."""
        return self.db.integrity_check()

    @property
    def files_dir(self) -> Path:
        """Where inspection photos are stored (content-addressed by SHA-256)."""
        if self._files_dir is not None:
            return self._files_dir
        if self.kind == "geopackage":
            return Path(str(self.backend.path) + ".files")
        env = os.environ.get("MINEWATCH_REGISTRY_FILES")
        if env:
            return Path(env)
        raise RegistryError(
            "no folder for registry files (photos) is configured for this PostGIS registry",
            hint="set MINEWATCH_REGISTRY_FILES or pass files_dir= to open_registry",
        )

    # ------------------------------------------------------------------ any kind
    def count(self, kind: str) -> int:
        """Number of records of a kind (``licences``: versions)."""
        return self._records.count(kind)

    def rows(self, kind: str, *, bbox: BBox | None = None) -> list[dict]:
        """All rows of a kind (``licences``: every version), optionally within ``bbox``."""
        return self._records.rows(kind, bbox=bbox)

    def get(self, kind: str, ident: str) -> dict:
        """One record by its id (``licences``: the current version)."""
        if spec_for(kind).name == "licence_versions":
            return self._licences.current(ident)
        return self._records.get(kind, ident)

    # ------------------------------------------------------------------ import, export
    def import_file(
        self, path: str | Path, kind: str | None, *,
        mapping: str | Path | ColumnMapping | None = None, crs: str | None = None,
        layer: str | None = None, defaults: dict | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ImportReport:
        """Import one file in one transaction; see :meth:`Imports.import_file`."""
        return self._imports.import_file(path, kind, mapping=mapping, crs=crs, layer=layer,
                                        defaults=defaults, progress=progress)

    def import_records(self, kind: str, records: Iterable[dict], *, source: str = "api",
                       crs: str = "EPSG:4326") -> ImportReport:
        """Import records given as dicts (``geometry``: shapely, GeoJSON dict or WKT)."""
        return self._imports.import_records(kind, records, source=source, crs=crs)

    def export(self, kind: str, path: str | Path, *, fmt: str | None = None,
               bbox: BBox | None = None) -> int:
        """Export a kind to a file chosen by suffix; see :meth:`Imports.export`."""
        return self._imports.export(kind, path, fmt=fmt, bbox=bbox)

    # ------------------------------------------------------------------ licences
    def licences_valid_at(self, date: Date, *, bbox: BBox | None = None,
                          kind: str | None = None) -> list[dict]:
        """Licences valid on ``date``; see :meth:`Licences.valid_at`."""
        return self._licences.valid_at(date, bbox=bbox, kind=kind)

    def licences_covering(self, geom, date: Date, *, valid_only: bool = True) -> list[dict]:
        """Licences whose boundary on ``date`` meets ``geom``; see :meth:`Licences.covering`."""
        return self._licences.covering(geom, date, valid_only=valid_only)

    def cover_query(self, geom, date: Date, *, valid_only: bool = True) -> sa.Select:
        """The SQL behind :meth:`licences_covering` (for EXPLAIN)."""
        return self._licences.cover_query(geom, date, valid_only=valid_only)

    def explain_cover_query(self, geom, date: Date) -> tuple[str, bool]:
        """(query plan, whether it uses the spatial index) of :meth:`licences_covering`."""
        return self._licences.explain_cover_query(geom, date)

    def licence_history(self, licence_id: str) -> list[dict]:
        """Every version of a licence, oldest first, each with ``changes``."""
        return self._licences.history(licence_id)

    def licences_for_analysis(self, site_id: str) -> list[dict]:
        """Licences linked to a site or meeting its area, with all their dated versions;
        see :meth:`Licences.for_analysis`."""
        site = self._sites.site(site_id)
        return self._licences.for_analysis(site.geometry, site.licence_ids)

    # ------------------------------------------------------------------ sites
    def site(self, site_id: str) -> Site:
        """A monitored site; its ``bbox`` is ``(west, south, east, north)`` in WGS84."""
        return self._sites.site(site_id)

    def sites_in_bbox(self, bbox: BBox) -> list[dict]:
        return self._sites.in_bbox(bbox)

    def receptors_for_analysis(self, site_id: str, margin_m: float = 20_000.0) -> list[dict]:
        """Receptors linked to a site or within ``margin_m`` of its bounding box."""
        return self._sites.receptors_for_analysis(self._sites.site(site_id), margin_m)

    # ------------------------------------------------------------------ monitoring
    def record_run(self, run: dict) -> str:
        """Record (or update) a monitoring run; see :meth:`Monitoring.record_run`."""
        return self._monitoring.record_run(run)

    def run(self, run_id: str) -> dict:
        return self._records.get("monitoring_runs", run_id)

    def record_alerts(self, run_id: str, alerts: Sequence[dict]) -> dict[str, str]:
        """Record a run's alerts; see :meth:`Monitoring.record_alerts`."""
        return self._monitoring.record_alerts(run_id, alerts)

    def set_triage(self, alert_id: str, state: str, *, by: str, reason: str,
                   at: dt.datetime | None = None) -> None:
        """Change an alert's triage state, recording who, when and why."""
        self._monitoring.set_triage(alert_id, state, by=by, reason=reason, at=at)

    def triage_history(self, alert_id: str) -> list[dict]:
        return self._monitoring.triage_history(alert_id)

    def triage_queue(self, *, site_id: str | None = None,
                     states: Sequence[str] = ("new", "escalated")) -> list[dict]:
        """Alerts waiting for triage: escalated first, then new; oldest onset first."""
        return self._monitoring.triage_queue(site_id=site_id, states=states)

    def alerts_in_bbox(self, bbox: BBox, *, states: Sequence[str] | None = None) -> list[dict]:
        return self._monitoring.alerts_in_bbox(bbox, states=states)

    # ------------------------------------------------------------------ field work
    def add_inspection(self, inspection_id: str, date: Date, *, team: str | None = None,
                       findings: str | None = None, site_id: str | None = None,
                       geometry=None, alert_ids: Sequence[str] = (),
                       photos: Sequence[str | Path] = ()) -> dict:
        """Record a field inspection; photos are copied to :attr:`files_dir` as
        ``photos/<sha256><suffix>`` and listed with their checksum and size."""
        return self._field.add_inspection(inspection_id, date, team=team, findings=findings,
                                          site_id=site_id, geometry=geometry,
                                          alert_ids=alert_ids, photos=photos)

    def inspection(self, inspection_id: str) -> dict:
        return self._field.inspection(inspection_id)

    def verify_photos(self, inspection_id: str) -> list[str]:
        """Paths of an inspection's photos whose file is missing or altered."""
        return self._field.verify_photos(inspection_id)

    def samples_at(self, point_id: str) -> list[dict]:
        return self._field.samples_at(point_id)


    # ------------------------------------------------------------------ notifications
    def add_subscription(self, subscription: dict) -> None:
        """Store a new notification subscription; see :meth:`Notifications.add_subscription`."""
        self._notifications.add_subscription(subscription)

    def subscriptions(self, *, active_only: bool = False,
                      conn: sa.Connection | None = None) -> list[dict]:
        """Every subscription (or the active ones), in id order (``conn``: the caller's
        transaction)."""
        return self._notifications.subscriptions(active_only=active_only, conn=conn)

    def subscription(self, subscription_id: str) -> dict:
        return self._notifications.subscription(subscription_id)

    def set_subscription_active(self, subscription_id: str, active: bool) -> None:
        """Pause or resume a subscription."""
        self._notifications.set_subscription_active(subscription_id, active)

    def remove_subscription(self, subscription_id: str) -> int:
        """Delete a subscription and its pending deliveries; returns how many were dropped."""
        return self._notifications.remove_subscription(subscription_id)

    def add_deliveries(self, rows: Sequence[dict], *,
                       conn: sa.Connection | None = None) -> list[DeliveryKey]:
        """Record pending deliveries not recorded yet (``conn``: inside the caller's write
        transaction); see :meth:`Notifications.add_deliveries`."""
        return self._notifications.add_deliveries(rows, conn=conn)

    def notified_alerts(self, alert_ids: Iterable[str], *,
                        conn: sa.Connection | None = None) -> set[tuple[str, str]]:
        """(subscription_id, alert_id) pairs told of a level of the alert (or about to be)."""
        return self._notifications.notified_alerts(alert_ids, conn=conn)

    def deliveries(self, *, states: Sequence[str] | None = None,
                   subscription_id: str | None = None, alert_id: str | None = None) -> list[dict]:
        """The delivery ledger (pending, delivered, dead), oldest first."""
        return self._notifications.deliveries(states=states, subscription_id=subscription_id,
                                              alert_id=alert_id)

    def finish_deliveries(self, keys: Sequence[DeliveryKey], *, state: str, tries: int,
                          error: str | None = None, message_id: str | None = None) -> None:
        """Record the outcome of pending deliveries; see :meth:`Notifications.finish_deliveries`."""
        self._notifications.finish_deliveries(keys, state=state, tries=tries, error=error,
                                              message_id=message_id)

    def requeue_dead(self, *, subscription_id: str | None = None,
                     event_id: str | None = None) -> int:
        """Make dead letters pending again; returns how many."""
        return self._notifications.requeue_dead(subscription_id=subscription_id,
                                                event_id=event_id)


def open_registry(url_or_path: str | Path, *, create: bool = False, lock_timeout: float = 30.0,
                  files_dir: str | Path | None = None) -> Registry:
    """Open a registry: a GeoPackage path (default backend) or a ``postgresql://`` URL.

    Parameters
    ----------
    url_or_path : ``registry.gpkg`` or ``postgresql://user@host:port/db``.
    create : create the registry if missing (``registry init``); else it must exist.
    lock_timeout : seconds a writer waits for another before RegistryLockedError.
    files_dir : folder for inspection photos (default ``<file>.gpkg.files`` beside a
        GeoPackage; ``$MINEWATCH_REGISTRY_FILES`` for PostGIS).

    The schema is migrated to the newest revision when it is behind.
    """
    backend = backend_for(url_or_path, lock_timeout)
    if backend.name == "geopackage":
        if not backend.exists():
            if not create:
                raise RegistryError(
                    f"no registry at {backend.path}",
                    hint=f"create one with: minewatch registry init {backend.path}",
                )
            if not backend.path.parent.exists():
                raise RegistryError(f"folder {backend.path.parent} does not exist")
        else:
            backend.check_file()
    reg = Registry(backend, files_dir)
    try:
        reg.db.migrate(create)
    except BaseException:
        reg.close()
        raise
    return reg


def init_registry(url_or_path: str | Path, **kw) -> Registry:
    """Create (or upgrade) a registry and return it open, its layer extents brought to its
    data (registries written before extents were kept showed the whole world)."""
    reg = open_registry(url_or_path, create=True, **kw)
    try:
        reg.db.refresh_extents()
    except BaseException:
        reg.close()
        raise
    return reg
