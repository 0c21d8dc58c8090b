"""Heavy-metal pollution indices of water samples.

With :math:`C_i` the concentration of metal *i* and :math:`S_i` its limit in the
chosen standard (both in ug/L), over the *n* metals measured and limited:

Heavy-metal pollution index, HPI (Mohan, Nithila & Reddy 1996, J. Environ. Sci.
Health A 31(2): 283-289):

.. math:: W_i = 1/S_i,\\quad Q_i = 100\\,\\frac{|C_i - I_i|}{S_i - I_i},\\quad
          HPI = \\frac{\\sum W_i Q_i}{\\sum W_i}

with :math:`I_i` the ideal (highest desirable) value, taken as 0 unless the
standards table gives an ``ideal`` column. The critical value is 100.

Heavy-metal evaluation index, HEI (Edet & Offiong 2002, GeoJournal 57: 295-304):

.. math:: HEI = \\sum C_i / S_i

Contamination degree, Cd (Backman, Bodis, Lahermo, Rapant & Tarvainen 1998,
Environmental Geology 36: 55-64):

.. math:: C_d = \\sum (C_i / S_i - 1)

Nemerow pollution index (Nemerow 1974, *Scientific Stream Pollution Analysis*,
Scripta Book Co., Washington), with :math:`P_i = C_i/S_i`:

.. math:: P_N = \\sqrt{\\frac{\\bar{P}^2 + P_{max}^2}{2}}

Non-detect rule for indices: a result ``<LOD`` enters as LOD/2 by default
(``nondetect="half"``; ``"zero"`` and ``"lod"`` are the other choices); a
non-detect without a stated LOD is left out and counted in ``n_excluded``.
For each metal the ``total`` fraction is used when measured, otherwise an
unspecified fraction, otherwise ``dissolved``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from minewatch.analysis.water.standards import select_standard
from minewatch.analysis.water.units import conversion_factor

#: Metals and metalloids entering the indices when the standard limits them.
HEAVY_METALS = ("Al", "As", "B", "Ba", "Cd", "Cr", "Cu", "Fe", "Hg", "Mn", "Ni", "Pb", "Sb",
                "Se", "U", "Zn")
NONDETECT_RULES = {"half": 0.5, "zero": 0.0, "lod": 1.0}
FRACTION_PREFERENCE = ("total", "", "dissolved")


def hpi(c: np.ndarray, s: np.ndarray, ideal: np.ndarray | None = None) -> float:
    """Heavy-metal pollution index (Mohan et al. 1996); see module docs."""
    c, s = np.asarray(c, float), np.asarray(s, float)
    i = np.zeros_like(s) if ideal is None else np.nan_to_num(np.asarray(ideal, float))
    w = 1.0 / s
    q = 100.0 * np.abs(c - i) / (s - i)
    return float(np.sum(w * q) / np.sum(w))


def hei(c: np.ndarray, s: np.ndarray) -> float:
    """Heavy-metal evaluation index (Edet & Offiong 2002): sum of C/S."""
    return float(np.sum(np.asarray(c, float) / np.asarray(s, float)))


def contamination_degree(c: np.ndarray, s: np.ndarray) -> float:
    """Contamination degree Cd (Backman et al. 1998): sum of (C/S - 1)."""
    return float(np.sum(np.asarray(c, float) / np.asarray(s, float) - 1.0))


def nemerow(c: np.ndarray, s: np.ndarray) -> float:
    """Nemerow pollution index: sqrt((mean(P)^2 + max(P)^2) / 2), P = C/S."""
    p = np.asarray(c, float) / np.asarray(s, float)
    return float(math.sqrt((p.mean() ** 2 + p.max() ** 2) / 2.0))


def pollution_indices(samples: pd.DataFrame, standards: pd.DataFrame, standard: str, *,
                      metals: tuple[str, ...] = HEAVY_METALS,
                      nondetect: str = "half") -> pd.DataFrame:
    """HPI, HEI, Nemerow and contamination degree per sample.

    Parameters
    ----------
    samples : pandas.DataFrame
        Long sample table.
    standards : pandas.DataFrame
        Standards table; the limits of ``standard`` are the :math:`S_i`.
    standard : str
        Standard id.
    metals : tuple of str
        Parameters considered (those without a limit in the standard are skipped).
    nondetect : {"half", "zero", "lod"}
        Substitution for ``<LOD`` results.

    Returns
    -------
    pandas.DataFrame
        One row per sample: ``sample_id, station_id, station_name, date, lat,
        lon, n_metals, metals, n_excluded, hpi, hei, nemerow,
        contamination_degree, hpi_above_critical, standard, nondetect_rule``.
    """
    if nondetect not in NONDETECT_RULES:
        raise ValueError(f"nondetect must be one of {sorted(NONDETECT_RULES)}")
    factor_nd = NONDETECT_RULES[nondetect]
    std = select_standard(standards, standard)
    usable = [m for m in metals if m in std.index]
    sub = samples[samples["parameter"].isin(usable)].copy()
    rank = {f: k for k, f in enumerate(FRACTION_PREFERENCE)}
    sub["_rank"] = sub["fraction"].map(lambda f: rank.get(f, len(rank)))
    sub = sub.sort_values(["sample_id", "parameter", "_rank"]).drop_duplicates(
        ["sample_id", "parameter"], keep="first")
    rows = []
    for sid, g in sub.groupby("sample_id", sort=False):
        cs, ss, ids, names = [], [], [], []
        excluded = 0
        for r in g.itertuples(index=False):
            srow = std.loc[r.parameter]
            f_c = conversion_factor(r.unit, "ug/L")
            f_s = conversion_factor(srow["unit"], "ug/L")
            if f_c is None or f_s is None:
                excluded += 1
                continue
            if r.qualifier == "<":
                if math.isnan(r.detection_limit):
                    excluded += 1
                    continue
                c = r.detection_limit * factor_nd * f_c
            else:
                c = r.value * f_c
            cs.append(c)
            ss.append(srow["limit"] * f_s)
            ideal = srow.get("ideal", math.nan)
            ids.append(ideal * f_s if ideal == ideal else 0.0)
            names.append(f"{r.parameter}[{r.fraction}]" if r.fraction else r.parameter)
        first = g.iloc[0]
        base = {"sample_id": sid, "station_id": first["station_id"],
                "station_name": first["station_name"], "date": first["date"],
                "lat": first["lat"], "lon": first["lon"], "n_metals": len(cs),
                "metals": " ".join(names), "n_excluded": excluded, "standard": standard,
                "nondetect_rule": nondetect}
        if cs:
            c, s = np.array(cs), np.array(ss)
            h = hpi(c, s, np.array(ids))
            base.update(hpi=h, hei=hei(c, s), nemerow=nemerow(c, s),
                        contamination_degree=contamination_degree(c, s),
                        hpi_above_critical=bool(h >= 100.0))
        else:
            base.update(hpi=math.nan, hei=math.nan, nemerow=math.nan,
                        contamination_degree=math.nan, hpi_above_critical=False)
        rows.append(base)
    cols = ["sample_id", "station_id", "station_name", "date", "lat", "lon", "n_metals",
            "metals", "n_excluded", "hpi", "hei", "nemerow", "contamination_degree",
            "hpi_above_critical", "standard", "nondetect_rule"]
    return pd.DataFrame(rows, columns=cols)
