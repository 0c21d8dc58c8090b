"""An alert event to notify: a new alert, a level change or a retraction.

Each (alert, level, retracted) is one event with a stable :attr:`AlertEvent.event_id`:
whoever sends it, however often, it carries the same id, so a receiver can drop a
re-sent copy (docs/notifications.md, "Exactly once").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

from minewatch.errors import InputError
from minewatch.jsonable import jsonable

#: Alert levels and their names.
LEVELS = {1: "possible", 2: "probable", 3: "confirmed"}
#: The payload schema's name and version (the ``schema`` field of every webhook body).
SCHEMA = "minewatch.alert-event/1"


def _date(value, name: str, alert_id: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"alert event {alert_id}: {name} {value!r} is not a date (YYYY-MM-DD)") \
            from None


@dataclass(frozen=True)
class AlertEvent:
    """One thing to tell subscribers about an alert.

    Parameters
    ----------
    alert_id, site_id
        The registry's alert id and its site (``None`` when the alert has no site).
    level
        1 possible, 2 probable, 3 confirmed.
    retracted
        The alert was withdrawn (``level`` is the level it had).
    area_ha
        Its area in hectares.
    onset_date, first_seen, confirmed_on
        When the change began, when it was first detected, when it reached level 3.
    licence_id, licence_status_at_onset
        The licence situation: the licence it lies in (``None``: outside every licence) and
        that licence's status on the onset day (``no_licence`` when outside).
    geometry
        The alert's outline, EPSG:4326.
    before_chip, after_chip
        True-colour chips of the run's evidence (``evidence/alerts/<id>/before_truecolor.png``).
    run_id
        The monitoring run that produced the change.
    """

    alert_id: str
    site_id: str | None
    level: int
    retracted: bool = False
    area_ha: float = 0.0
    onset_date: dt.date | None = None
    first_seen: dt.date | None = None
    confirmed_on: dt.date | None = None
    licence_id: str | None = None
    licence_status_at_onset: str | None = None
    geometry: shapely.Geometry | None = None
    before_chip: Path | None = None
    after_chip: Path | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        aid = self.alert_id
        if not isinstance(aid, str) or not aid.strip():
            raise InputError("alert event: alert_id is missing")
        if isinstance(self.level, numbers.Integral) and not isinstance(self.level, bool):
            object.__setattr__(self, "level", int(self.level))  # numpy integers too
        if not isinstance(self.level, int) or isinstance(self.level, bool) \
                or self.level not in LEVELS:
            raise InputError(f"alert event {aid}: level {self.level!r} is not 1, 2 or 3 "
                             "(possible, probable, confirmed)")
        area = float(self.area_ha)
        if not math.isfinite(area) or area < 0:
            raise InputError(f"alert event {aid}: area_ha {self.area_ha!r} is not a positive number")
        object.__setattr__(self, "area_ha", area)
        object.__setattr__(self, "retracted", bool(self.retracted))
        for name in ("onset_date", "first_seen", "confirmed_on"):
            object.__setattr__(self, name, _date(getattr(self, name), name, aid))
        if self.geometry is not None and not isinstance(self.geometry, shapely.Geometry):
            object.__setattr__(self, "geometry", shape(self.geometry))
        for name in ("before_chip", "after_chip"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, Path(v))

    @property
    def event_id(self) -> str:
        """``ev_`` + 32 hex digits of SHA-256 over (alert_id, level, retracted): the same for
        every copy of this event."""
        key = f"{self.alert_id}\x1f{self.level}\x1f{int(self.retracted)}".encode()
        return "ev_" + hashlib.sha256(key).hexdigest()[:32]

    @property
    def level_name(self) -> str:
        return LEVELS[self.level]

    @property
    def kind(self) -> str:
        """``alert.retracted`` or ``alert.level`` (a new alert or a new level)."""
        return "alert.retracted" if self.retracted else "alert.level"

    def to_json(self) -> dict:
        """The event as plain JSON (the ``alert`` object of the payload)."""
        return jsonable({
            "alert_id": self.alert_id, "site_id": self.site_id, "level": self.level,
            "level_name": self.level_name, "retracted": self.retracted, "area_ha": self.area_ha,
            "onset_date": self.onset_date, "first_seen": self.first_seen,
            "confirmed_on": self.confirmed_on,
            "licence": {"licence_id": self.licence_id,
                        "status_at_onset": self.licence_status_at_onset},
            "geometry": mapping(self.geometry) if self.geometry is not None else None,
            "chips": {"before": str(self.before_chip) if self.before_chip else None,
                      "after": str(self.after_chip) if self.after_chip else None},
            "run_id": self.run_id,
        })

    @classmethod
    def from_json(cls, d: dict) -> AlertEvent:
        """The event :meth:`to_json` wrote."""
        licence = d.get("licence") or {}
        chips = d.get("chips") or {}
        try:
            return cls(
                alert_id=d["alert_id"], site_id=d.get("site_id"), level=d["level"],
                retracted=d.get("retracted", False), area_ha=d.get("area_ha", 0.0),
                onset_date=d.get("onset_date"), first_seen=d.get("first_seen"),
                confirmed_on=d.get("confirmed_on"), licence_id=licence.get("licence_id"),
                licence_status_at_onset=licence.get("status_at_onset"),
                geometry=d.get("geometry"), before_chip=chips.get("before"),
                after_chip=chips.get("after"), run_id=d.get("run_id"))
        except KeyError as exc:
            raise InputError(f"alert event: field {exc.args[0]!r} is missing") from None


def chip_paths(run_dir: str | Path, run_alert_id: str) -> tuple[Path | None, Path | None]:
    """The before/after true-colour chips of an alert in a run folder (``None`` when the run
    made none: only the first alerts get images, docs/evidence.md)."""
    folder = Path(run_dir) / "evidence" / "alerts" / run_alert_id
    before, after = folder / "before_truecolor.png", folder / "after_truecolor.png"
    return (before if before.is_file() else None), (after if after.is_file() else None)
