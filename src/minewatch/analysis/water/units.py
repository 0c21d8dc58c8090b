"""Concentration units: parsing lab spellings and converting between them.

Water concentrations are mass per volume. For dilute water samples the usual
lab shorthands ``ppm`` and ``ppb`` mean mg/L and ug/L (density 1 kg/L); that
equivalence is applied here and stated in docs/water-quality.md.
"""

from __future__ import annotations

import re

#: Canonical concentration units and their factor to mg/L.
CONCENTRATION_TO_MG_L: dict[str, float] = {
    "g/L": 1e3,
    "mg/L": 1.0,
    "ug/L": 1e-3,
    "ng/L": 1e-6,
}

#: Units that are not concentrations but are accepted as they are (no conversion).
OTHER_UNITS: dict[str, str] = {
    "ph": "pH",
    "u ph": "pH",
    "ph units": "pH",
    "us/cm": "uS/cm",
    "µs/cm": "uS/cm",
    "ms/cm": "mS/cm",
    "ntu": "NTU",
    "fnu": "FNU",
    "unt": "NTU",
    "c": "degC",
    "°c": "degC",
    "degc": "degC",
    "%": "%",
    "mg/kg": "mg/kg",
    "ug/kg": "ug/kg",
}

_ALIASES: dict[str, str] = {
    "g/l": "g/L",
    "mg/l": "mg/L",
    "mg l-1": "mg/L",
    "mg.l-1": "mg/L",
    "ppm": "mg/L",
    "ug/l": "ug/L",
    "µg/l": "ug/L",  # micro sign U+00B5
    "μg/l": "ug/L",  # greek mu U+03BC
    "mcg/l": "ug/L",
    "ug l-1": "ug/L",
    "ppb": "ug/L",
    "ng/l": "ng/L",
    "ppt": "ng/L",
}


def normalise_unit(text: str | None) -> str | None:
    """Canonical spelling of a unit, or ``None`` when it is not recognised.

    Parameters
    ----------
    text : str
        A unit as written by a lab: ``"mg/l"``, ``"µg/L"``, ``"ppb"``, ``"ug/l As"``
        (a trailing species or element after a space is ignored for
        concentrations), ``"u pH"``.

    Returns
    -------
    str or None
        One of the keys of :data:`CONCENTRATION_TO_MG_L`, a value of
        :data:`OTHER_UNITS`, or ``None``.
    """
    if text is None:
        return None
    t = str(text).strip().replace("\u00a0", " ")
    if not t:
        return None
    low = re.sub(r"\s+", " ", t.lower())
    if low in _ALIASES:
        return _ALIASES[low]
    if low in OTHER_UNITS:
        return OTHER_UNITS[low]
    # "ug/l As", "mg/l NO3", "mg/l CaCO3": unit then a species label.
    first = low.split(" ", 1)[0]
    if first in _ALIASES:
        return _ALIASES[first]
    if first in OTHER_UNITS and first not in {"c", "%"}:
        return OTHER_UNITS[first]
    return None


def conversion_factor(from_unit: str, to_unit: str) -> float | None:
    """Multiplier converting a value in ``from_unit`` to ``to_unit``.

    Both units must be canonical (see :func:`normalise_unit`). Returns ``None``
    when they cannot be converted (for example ``pH`` to ``mg/L``).
    """
    if from_unit == to_unit:
        return 1.0
    a = CONCENTRATION_TO_MG_L.get(from_unit)
    b = CONCENTRATION_TO_MG_L.get(to_unit)
    if a is None or b is None:
        return None
    return a / b
