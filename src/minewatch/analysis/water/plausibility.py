"""Physically impossible lab values, refused before anything is compared or written.

A lab sheet with a negative concentration, a pH of 17 or a saturation of 140 %
holds a typing or column-mapping mistake; checking it against a standard would
give a confident answer from bad data. :func:`physical_problem` says what is
impossible about one parsed result, from its parameter and canonical unit:

==========================  =======================================================
result                      possible values
==========================  =======================================================
pH (any unit)               0 to 14
concentration (mass/volume) 0 to 1,000,000 mg/L (a litre of water weighs 1 kg)
mass fraction (mg/kg...)    0 to 1,000,000 mg/kg (a part is no more than the whole)
percentage (``%``)          0 to 100
water temperature (degC)    -5 to 100 (a liquid water sample)
conductivity, turbidity     0 or more
detection limit (``<x``)    more than 0, and within the ranges above
==========================  =======================================================
"""

from __future__ import annotations

import math

from minewatch.analysis.water.units import CONCENTRATION_TO_MG_L
from minewatch.analysis.water.values import ParsedValue

_MASS_FRACTION_TO_MG_KG = {"mg/kg": 1.0, "ug/kg": 1e-3}
#: unit -> (factor to the unit the range is stated in, low, high, the rule in words).
_RANGES: dict[str, tuple[float, float, float, str]] = {
    **{u: (f, 0.0, 1e6, "a concentration is 0 to 1,000,000 mg/L")
       for u, f in CONCENTRATION_TO_MG_L.items()},
    **{u: (f, 0.0, 1e6, "a mass fraction is 0 to 1,000,000 mg/kg")
       for u, f in _MASS_FRACTION_TO_MG_KG.items()},
    "%": (1.0, 0.0, 100.0, "a percentage is 0 to 100"),
    "degC": (1.0, -5.0, 100.0, "liquid water is -5 to 100 degC"),
    "uS/cm": (1.0, 0.0, math.inf, "a conductivity is 0 or more"),
    "mS/cm": (1.0, 0.0, math.inf, "a conductivity is 0 or more"),
    "NTU": (1.0, 0.0, math.inf, "a turbidity is 0 or more"),
    "FNU": (1.0, 0.0, math.inf, "a turbidity is 0 or more"),
}
_PH = (1.0, 0.0, 14.0, "pH is 0 to 14")


def physical_problem(parameter: str, unit: str, value: ParsedValue) -> str | None:
    """Why ``value`` of ``parameter`` in canonical ``unit`` cannot be, or None when it can.

    Parameters
    ----------
    parameter : str
        Canonical parameter code (``"As"``, ``"pH"``...).
    unit : str
        Canonical unit (:func:`minewatch.analysis.water.units.normalise_unit`).
    value : ParsedValue
        The parsed cell: a detected value, a non-detect ``<LOD`` or a ``>x``.

    Returns
    -------
    str or None
        A sentence naming the value, what it should be and how to fix it.
    """
    factor, low, high, what = _PH if parameter == "pH" else _RANGES.get(unit, (1.0, -math.inf, math.inf, ""))
    if value.qualifier == "<":
        lod = value.detection_limit
        if math.isnan(lod):
            return None
        if lod <= 0:
            return f"{parameter} <{lod:g}: a detection limit must be above 0"
        number = lod
    else:
        number = value.value
    if math.isnan(number):
        return None
    scaled = number * factor
    if low <= scaled <= high:
        return None
    shown = f"{value.qualifier}{number:g}" + ("" if unit == parameter else f" {unit}")
    return f"{parameter} {shown} is physically impossible: {what} (check the cell, its unit, the mapping)"
