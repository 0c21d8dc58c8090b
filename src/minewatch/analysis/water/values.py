"""Parsing lab result cells: numbers, decimal commas, non-detects.

Non-detect rule (stated once, used everywhere):

* ``"<0.005"``, ``"< 0,005"``, ``"<LOD 0.005"`` are *non-detects* with a
  detection (or reporting) limit of 0.005 in the cell's unit; the stored value
  is ``NaN`` and ``detection_limit`` holds 0.005.
* ``"ND"``, ``"n.d."``, ``"<LOD"``, ``"<LD"``, ``"BDL"`` are non-detects whose
  limit is not given in the cell; the limit comes from the mapping file
  (``detection_limits``) or stays unknown (``NaN``).
* ``">1000"`` is a right-censored result: ``value`` is 1000 and the qualifier ``">"``.
* An empty cell, ``"-"``, ``"NA"``, ``"s/d"`` (sin dato) is *not measured* and yields no row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_ND_WORDS = {"nd", "n.d.", "n.d", "<lod", "< lod", "<ld", "< ld", "<lq", "bdl", "<dl", "< dl",
             "no detectado", "not detected", "<lc", "< lc"}
_MISSING = {"", "-", "--", "na", "n/a", "nan", "s/d", "sd", "s.d.", "nm", "n.m.", "none"}
_LOD_PREFIX = re.compile(r"^<\s*(?:lod|ld|lq|dl|lc|loq)?\s*[:=]?\s*(" + _NUMBER + r")$", re.I)
_GT_PREFIX = re.compile(r"^>\s*(" + _NUMBER + r")$")
_PLAIN = re.compile(r"^(" + _NUMBER + r")$")
# Thousands separators: "1,234.5" or "1,234,567" (dot decimal), "1.234,5" (comma decimal).
# A lone comma in a dot-decimal file ("0,005", "1,234") is read as a decimal comma.
_THOUSANDS = re.compile(r"^[-+]?[1-9]\d{0,2}(?:,\d{3})+\.\d*$|^[-+]?[1-9]\d{0,2}(?:,\d{3}){2,}$")
_THOUSANDS_DC = re.compile(r"^[-+]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?$")


@dataclass(frozen=True)
class ParsedValue:
    """One parsed lab cell."""

    value: float  # NaN for non-detects
    qualifier: str  # "", "<" (non-detect) or ">" (above the range)
    detection_limit: float  # NaN when not a non-detect or not stated


class ValueParseError(ValueError):
    """A cell that is neither a number, a non-detect nor a missing marker."""


def _to_float(text: str, decimal: str) -> float:
    t = text.strip()
    if decimal == ",":
        if _THOUSANDS_DC.match(t):
            t = t.replace(".", "")
        t = t.replace(",", ".")
    else:
        if _THOUSANDS.match(t) and "," in t:
            t = t.replace(",", "")
        elif t.count(",") == 1 and "." not in t:
            # A lone decimal comma ("0,005") in a dot-decimal file.
            t = t.replace(",", ".")
    return float(t)


def parse_value(cell: object, *, decimal: str = ".") -> ParsedValue | None:
    """Parse one cell of a lab table.

    Parameters
    ----------
    cell : object
        The raw cell (str, int, float or None).
    decimal : {".", ","}
        Decimal separator of the file. With ``"."`` a single comma and no dot
        (``"0,5"``) is still read as a decimal comma.

    Returns
    -------
    ParsedValue or None
        ``None`` for an empty / not-measured cell.

    Raises
    ------
    ValueParseError
        When the cell cannot be read.
    """
    if cell is None:
        return None
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        f = float(cell)
        if math.isnan(f):
            return None
        return ParsedValue(f, "", math.nan)
    text = str(cell).strip().replace("\u00a0", " ")
    low = text.lower()
    if low in _MISSING:
        return None
    if low in _ND_WORDS:
        return ParsedValue(math.nan, "<", math.nan)
    m = _LOD_PREFIX.match(text)
    if m:
        return ParsedValue(math.nan, "<", _to_float(m.group(1), decimal))
    m = _GT_PREFIX.match(text)
    if m:
        return ParsedValue(_to_float(m.group(1), decimal), ">", math.nan)
    if (_PLAIN.match(text) or _THOUSANDS.match(text)
            or (decimal == "," and _THOUSANDS_DC.match(text))):
        try:
            return ParsedValue(_to_float(text, decimal), "", math.nan)
        except ValueError:
            pass
    raise ValueParseError(
        f"cannot read {text!r} as a number, a non-detect ('<0.005', 'ND') or an empty cell"
    )
