"""Comparing sample results with a drinking-water standard.

Rule for each result that has a limit in the chosen standard (value converted
to the standard's unit first):

=====================  =========================================  ==============
result                 condition                                  status
=====================  =========================================  ==============
detected               value > limit                              ``exceeds``
detected               value < lower limit (pH)                   ``below-range``
detected               otherwise                                  ``ok``
non-detect ``<LOD``    LOD <= limit                               ``ok-non-detect``
non-detect ``<LOD``    LOD > limit, or LOD not stated             ``inconclusive``
``>x``                 x >= limit                                 ``exceeds``
``>x``                 x < limit                                  ``inconclusive``
any                    unit cannot be converted to the limit's    ``not-comparable``
=====================  =========================================  ==============

A result whose parameter has no limit in the chosen standard is not compared at
all; :func:`parameters_without_limit` lists those parameters so that a report can
say "not assessed" instead of letting them pass for "no exceedance".

A non-detect is never counted as an exceedance. Standards for drinking water
apply to the water as drunk (total concentrations); results of every fraction
(total, dissolved) are compared and the fraction is kept in the output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from minewatch.analysis.water.standards import select_standard
from minewatch.analysis.water.units import conversion_factor

EXCEEDANCE_STATUSES = ("exceeds", "below-range", "ok", "ok-non-detect", "inconclusive",
                       "not-comparable")


def _status(value: float, qual: str, lod: float, limit: float, lower: float) -> str:
    if qual == "<":
        if math.isnan(lod):
            return "inconclusive"
        if not math.isnan(limit) and lod > limit:
            return "inconclusive"
        return "ok-non-detect"
    if qual == ">":
        if not math.isnan(limit) and value >= limit:
            return "exceeds"
        return "inconclusive"
    if not math.isnan(limit) and value > limit:
        return "exceeds"
    if not math.isnan(lower) and value < lower:
        return "below-range"
    return "ok"


def compare_with_standard(samples: pd.DataFrame, standards: pd.DataFrame,
                          standard: str) -> pd.DataFrame:
    """Status of every result that the standard sets a limit for.

    Parameters
    ----------
    samples : pandas.DataFrame
        Long sample table (:func:`minewatch.analysis.water.samples.read_samples`).
    standards : pandas.DataFrame
        Standards table (:func:`minewatch.analysis.water.standards.load_standards`).
    standard : str
        Standard id, e.g. ``"WHO-GDWQ-2022"`` or ``"EU-2020/2184"``.

    Returns
    -------
    pandas.DataFrame
        One row per compared result: sample and station identifiers, parameter,
        fraction, ``value`` / ``detection_limit`` converted to ``unit`` (the
        standard's), ``limit``, ``lower_limit``, ``ratio`` (value / limit),
        ``status`` (see module docs), ``exceeds`` (bool: ``exceeds`` or
        ``below-range``) and the standard's ``standard, edition, table, note``.
    """
    std = select_standard(standards, standard)
    sub = samples[samples["parameter"].isin(std.index)].copy()
    cols = ["sample_id", "station_id", "station_name", "date", "lat", "lon", "river",
            "parameter", "fraction", "value", "qualifier", "detection_limit", "unit",
            "limit", "lower_limit", "ratio", "status", "exceeds", "standard", "edition",
            "table", "note", "source_line", "source_column"]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    out_rows = []
    for r in sub.itertuples(index=False):
        s = std.loc[r.parameter]
        f = conversion_factor(r.unit, s["unit"])
        value = r.value * f if f is not None else r.value
        lod = r.detection_limit * f if f is not None else r.detection_limit
        if f is None:
            status = "not-comparable"
        else:
            status = _status(value, r.qualifier, lod, s["limit"], s["lower_limit"])
        ratio = value / s["limit"] if (f is not None and s["limit"] and not math.isnan(value)) \
            else math.nan
        out_rows.append({
            "sample_id": r.sample_id, "station_id": r.station_id,
            "station_name": r.station_name, "date": r.date, "lat": r.lat, "lon": r.lon,
            "river": r.river, "parameter": r.parameter, "fraction": r.fraction,
            "value": value, "qualifier": r.qualifier, "detection_limit": lod,
            "unit": s["unit"] if f is not None else r.unit, "limit": s["limit"],
            "lower_limit": s["lower_limit"], "ratio": ratio, "status": status,
            "exceeds": status in ("exceeds", "below-range"), "standard": standard,
            "edition": s["edition"], "table": s["table"], "note": s["note"],
            "source_line": r.source_line, "source_column": r.source_column,
        })
    return pd.DataFrame(out_rows, columns=cols)


def exceedance_summary(compared: pd.DataFrame) -> pd.DataFrame:
    """Per station and date: which parameters exceed, and counts by status.

    Returns
    -------
    pandas.DataFrame
        Columns ``station_id, station_name, date, n_compared, n_exceeds,
        n_inconclusive, exceeded`` (comma-separated ``parameter[fraction] xratio``,
        highest ratio first).
    """
    if compared.empty:
        return pd.DataFrame(columns=["station_id", "station_name", "date", "n_compared",
                                     "n_exceeds", "n_inconclusive", "exceeded"])
    rows = []
    for (sid, date), g in compared.groupby(["station_id", "date"], sort=True):
        ex = g[g["exceeds"]].sort_values("ratio", ascending=False)
        labels = []
        for r in ex.itertuples(index=False):
            frac = f"[{r.fraction}]" if r.fraction else ""
            tag = f"x{r.ratio:.3g}" if np.isfinite(r.ratio) and r.status == "exceeds" else r.status
            labels.append(f"{r.parameter}{frac} {tag}")
        rows.append({
            "station_id": sid, "station_name": g["station_name"].iloc[0], "date": date,
            "n_compared": len(g), "n_exceeds": int(g["exceeds"].sum()),
            "n_inconclusive": int((g["status"] == "inconclusive").sum()),
            "exceeded": ", ".join(labels),
        })
    return pd.DataFrame(rows)


def parameters_without_limit(samples: pd.DataFrame, standards: pd.DataFrame,
                             standard: str) -> pd.DataFrame:
    """Parameters of ``samples`` that ``standard`` sets no limit for: not assessed.

    Returns
    -------
    pandas.DataFrame
        One row per parameter, sorted: ``parameter``, ``n_results``, ``n_stations``
        and ``units`` (comma-separated, as imported). Empty when every parameter has a limit.
    """
    std = select_standard(standards, standard)
    sub = samples[~samples["parameter"].isin(std.index)]
    cols = ["parameter", "n_results", "n_stations", "units"]
    if sub.empty:
        return pd.DataFrame(columns=cols)
    out = sub.groupby("parameter", sort=True).agg(
        n_results=("parameter", "size"), n_stations=("station_id", "nunique"),
        units=("unit", lambda u: ", ".join(sorted(set(map(str, u))))))
    return out.reset_index()[cols]
