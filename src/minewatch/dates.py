"""Dates as minewatch counts them: calendar days since 1970-01-01, and user-written dates.

Rasters (``disturbance_date.tif``), licence periods and the change engine all count
days since :data:`EPOCH`; :func:`to_day` and :func:`from_day` convert. :func:`parse_date`
reads a date a user wrote (an option, a file field) and names it in the error.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from minewatch.errors import InputError

EPOCH = dt.date(1970, 1, 1)
#: An open end of a period (the largest int32 day).
NEVER = int(np.iinfo(np.int32).max)


def to_day(value: dt.date) -> int:
    """Days since 1970-01-01."""
    return (value - EPOCH).days


def from_day(day: int) -> dt.date:
    """The date ``day`` days after 1970-01-01."""
    return EPOCH + dt.timedelta(days=int(day))


def parse_date(value: str | dt.date | dt.datetime, where: str) -> dt.date:
    """A date from ``YYYY-MM-DD`` (a longer ISO timestamp keeps its date), or a date.

    Parameters
    ----------
    value
        What the user wrote.
    where
        What it is, for the error message: ``"--start"``, ``"licences.geojson: feature 3: valid_to"``.

    Raises
    ------
    InputError
        ``value`` is not a date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InputError(f"{where} {value!r} is not an ISO date", hint="write it as YYYY-MM-DD") from None
