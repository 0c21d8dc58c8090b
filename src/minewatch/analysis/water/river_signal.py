"""Water signals from imagery along a river reach: turbidity and colour, upstream vs downstream.

Inputs are per-date point samples along a river (pixel centres with reflectance
or an already-retrieved turbidity), located by their chainage from the mine
(:mod:`minewatch.analysis.water.chainage`; negative upstream, positive downstream).

Indices
-------
NDTI, normalised difference turbidity index (Lacaux, Tourre, Vignolles, Ndione &
Lafaye 2007, Remote Sensing of Environment 106: 66-74)::

    NDTI = (red - green) / (red + green)        Sentinel-2: (B04 - B03) / (B04 + B03)

Turbidity, single-band semi-analytical algorithm of Dogliotti, Ruddick, Nechad,
Doxaran & Knaeps (2015), "A single algorithm to retrieve turbidity from
remotely-sensed data in all coastal and estuarine waters", Remote Sensing of
Environment 156: 157-168 (the Nechad et al. 2009 functional form)::

    T = A * rho_w / (1 - rho_w / C)            [FNU]
    red band (645 nm):  A = 228.1,  C = 0.1641
    NIR band (859 nm):  A = 3078.9, C = 0.2112
    rho_w(red) < 0.05: red;  > 0.07: NIR;  in between: linear blend with
    weight w = (rho_w(red) - 0.05) / 0.02 on the NIR result.

``rho_w`` is *water-leaving* reflectance (pi * Rrs), as produced by an aquatic
atmospheric correction such as ACOLITE; Sentinel-2 B04 (665 nm) and B8A
(865 nm) stand in for 645 and 859 nm. Applied to Sen2Cor L2A surface
reflectance the result is an approximation only (no sun-glint or adjacency
correction) and is labelled as such by the caller.

Iron / colour: the red/blue ratio B04/B02, the band ratio used for ferric
iron oxides (Landsat TM 3/1; Sabins 1999, Ore Geology Reviews 14: 157-183);
in water it rises with orange-red, iron-rich sediment.

Tests
-----
* upstream vs downstream of the mine, per date: two-sided Mann-Whitney U
  (scipy.stats.mannwhitneyu) on point values; needs points on both sides.
* gradient along the observed reach, per date: Spearman rank correlation of
  bin medians with chainage (bins, not pixels, to limit spatial
  autocorrelation). Rising limb of a plume passing: values fall downstream
  (rho < 0); falling limb: values rise downstream (rho > 0).
* plume front per date: the farthest-downstream bin whose median exceeds a
  threshold; front speed between dates (a lower bound when the front was not
  yet in the observed window on the earlier date).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from minewatch.analysis.indices import ndti
from minewatch.errors import DataError, InputError

DOGLIOTTI_2015 = {"red": (228.1, 0.1641), "nir": (3078.9, 0.2112), "low": 0.05, "high": 0.07}
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def iron_ratio(red: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """Red/blue band ratio (ferric iron / colour index)."""
    red, blue = np.asarray(red, float), np.asarray(blue, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = red / blue
    out[~np.isfinite(out)] = np.nan
    return out


def _nechad_form(rho: np.ndarray, a: float, c: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        t = a * rho / (1.0 - rho / c)
    t[(rho >= c) | ~np.isfinite(t)] = np.nan  # the model saturates at rho = C
    return t


def dogliotti_turbidity(rho_red: np.ndarray, rho_nir: np.ndarray) -> np.ndarray:
    """Turbidity in FNU from water-leaving reflectance (Dogliotti et al. 2015).

    Parameters
    ----------
    rho_red, rho_nir : array-like
        Water-leaving reflectance (dimensionless, pi * Rrs) near 645 and 859 nm.
    """
    rr = np.asarray(rho_red, float)
    rn = np.asarray(rho_nir, float)
    t_red = _nechad_form(rr, *DOGLIOTTI_2015["red"])
    t_nir = _nechad_form(rn, *DOGLIOTTI_2015["nir"])
    lo, hi = DOGLIOTTI_2015["low"], DOGLIOTTI_2015["high"]
    w = np.clip((rr - lo) / (hi - lo), 0.0, 1.0)
    out = np.where(rr < lo, t_red, np.where(rr > hi, t_nir, (1 - w) * t_red + w * t_nir))
    return out


def add_water_indices(points: pd.DataFrame, *, blue: str = "B02", green: str = "B03",
                      red: str = "B04", nir: str = "B8A", scale: float = 1.0) -> pd.DataFrame:
    """Add ``ndti``, ``iron_ratio`` and ``turbidity_dogliotti`` from band columns.

    Columns missing from ``points`` are skipped (an index needing them is not
    added). ``scale`` multiplies band values to reflectance (e.g. 1e-4 for
    Sentinel-2 L2A digital numbers).
    """
    out = points.copy()
    def has(c: str) -> bool:
        return c in out.columns

    if has(red) and has(green):
        out["ndti"] = ndti(np.asarray(out[red] * scale, float), np.asarray(out[green] * scale, float))
    if has(red) and has(blue):
        out["iron_ratio"] = iron_ratio(out[red] * scale, out[blue] * scale)
    if has(red) and has(nir):
        out["turbidity_dogliotti"] = dogliotti_turbidity(out[red] * scale, out[nir] * scale)
    return out


def read_point_tables(paths: list[str | Path], *, lon: str = "Longitude", lat: str = "Latitude",
                      date: str | None = None) -> pd.DataFrame:
    """Concatenate per-date point CSVs; the date comes from a column or the file name.

    Raises
    ------
    InputError
        A file without the coordinate columns, or without a date column and
        without ``YYYY-MM-DD`` in its name.
    """
    frames = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError(f"{p} does not exist")
        try:
            df = pd.read_csv(p)
        except Exception as exc:  # pandas parser / decoding errors
            raise InputError(f"{p}: cannot read as CSV: {exc}") from exc
        for c in (lon, lat):
            if c not in df.columns:
                raise InputError(f"{p}: no column {c!r}", hint="columns are " + ", ".join(
                    map(str, df.columns)) + "; set --lon-col/--lat-col")
        if date and date in df.columns:
            d = pd.to_datetime(df[date], errors="coerce")
            if d.isna().any():
                bad = int(np.flatnonzero(d.isna().to_numpy())[0]) + 2
                raise InputError(f"{p}: line {bad}, column {date!r}: unreadable date")
            df["date"] = d.dt.strftime("%Y-%m-%d")
        else:
            m = _DATE_IN_NAME.search(p.name)
            if not m:
                raise InputError(f"{p}: no date column and no YYYY-MM-DD in the file name",
                                 hint="name the date column with --date-col")
            df["date"] = m.group(1)
        df["source_file"] = p.name
        df = df.rename(columns={lon: "lon", lat: "lat"})
        frames.append(df)
    if not frames:
        raise InputError("no point files given")
    return pd.concat(frames, ignore_index=True)


def locate_points(points: pd.DataFrame, reach, *, max_offset_m: float = 5000.0) -> pd.DataFrame:
    """Add ``chainage_km`` and ``offset_m``; drop points farther than ``max_offset_m`` from the line."""
    ch, off = reach.chainage(points["lon"].to_numpy(), points["lat"].to_numpy())
    out = points.assign(chainage_km=ch, offset_m=off)
    return out[out["offset_m"] <= max_offset_m].reset_index(drop=True)


def upstream_downstream_test(points: pd.DataFrame, value: str) -> pd.DataFrame:
    """Per date, compare points upstream (chainage < 0) with downstream (> 0).

    Returns
    -------
    pandas.DataFrame
        ``date, n_upstream, n_downstream, median_upstream, median_downstream,
        ratio, mannwhitney_u, p_value, testable`` (``testable`` False, with NaN
        statistics, when a side has fewer than 3 values).
    """
    rows = []
    for d, g in points.dropna(subset=[value]).groupby("date", sort=True):
        up = g.loc[g["chainage_km"] < 0, value].to_numpy()
        dn = g.loc[g["chainage_km"] > 0, value].to_numpy()
        row = {"date": d, "n_upstream": len(up), "n_downstream": len(dn),
               "median_upstream": float(np.median(up)) if len(up) else math.nan,
               "median_downstream": float(np.median(dn)) if len(dn) else math.nan,
               "mannwhitney_u": math.nan, "p_value": math.nan, "testable": False}
        row["ratio"] = (row["median_downstream"] / row["median_upstream"]
                        if len(up) and row["median_upstream"] else math.nan)
        if len(up) >= 3 and len(dn) >= 3:
            res = stats.mannwhitneyu(dn, up, alternative="two-sided")
            row.update(mannwhitney_u=float(res.statistic), p_value=float(res.pvalue),
                       testable=True)
        rows.append(row)
    return pd.DataFrame(rows)


def river_profile(points: pd.DataFrame, value: str, *, bin_km: float = 20.0,
                  min_points: int = 20) -> pd.DataFrame:
    """Per date and chainage bin: median, quartiles and count of ``value``.

    Bins with fewer than ``min_points`` valid values are dropped.
    """
    v = points.dropna(subset=[value])
    if v.empty:
        raise DataError(f"no valid values of {value!r} along the river")
    b = np.floor(v["chainage_km"] / bin_km) * bin_km
    g = v.assign(bin_start_km=b).groupby(["date", "bin_start_km"])[value]
    prof = g.agg(median="median", q25=lambda s: s.quantile(0.25),
                 q75=lambda s: s.quantile(0.75), n="size").reset_index()
    prof = prof[prof["n"] >= min_points].copy()
    prof["bin_mid_km"] = prof["bin_start_km"] + bin_km / 2.0
    return prof.reset_index(drop=True)


def gradient_test(profile: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per date, Spearman correlation of bin medians with chainage.

    ``trend`` is ``"falls downstream"`` (rho < 0, p < alpha), ``"rises
    downstream"`` (rho > 0, p < alpha) or ``"no trend"``.
    """
    rows = []
    for d, g in profile.groupby("date", sort=True):
        row = {"date": d, "n_bins": len(g), "from_km": float(g["bin_start_km"].min()),
               "to_km": float(g["bin_start_km"].max()), "spearman_rho": math.nan,
               "p_value": math.nan, "trend": "too few bins"}
        if len(g) >= 4:
            res = stats.spearmanr(g["bin_mid_km"], g["median"])
            rho, p = float(res.statistic), float(res.pvalue)
            trend = "no trend"
            if p < alpha:
                trend = "falls downstream" if rho < 0 else "rises downstream"
            row.update(spearman_rho=rho, p_value=p, trend=trend)
        rows.append(row)
    return pd.DataFrame(rows)


def default_threshold(profile: pd.DataFrame, factor: float = 2.0) -> float:
    """``factor`` x the background, taken as the lowest per-date median of bin medians."""
    return float(factor * profile.groupby("date")["median"].median().min())


def plume_fronts(profile: pd.DataFrame, threshold: float, bin_km: float) -> pd.DataFrame:
    """Per date, where the signal exceeds ``threshold`` along the observed window.

    Returns
    -------
    pandas.DataFrame
        ``date, window_from_km, window_to_km, n_bins, n_above, front_km``
        (downstream edge of the farthest bin above threshold, NaN if none),
        ``front_state`` (``"in window"``, ``"beyond window"`` when the last
        observed bin is above threshold, ``"not in window"``), ``peak_km``,
        ``peak_value``.
    """
    rows = []
    for d, g in profile.groupby("date", sort=True):
        g = g.sort_values("bin_start_km")
        above = g[g["median"] > threshold]
        w_from = float(g["bin_start_km"].min())
        w_to = float(g["bin_start_km"].max() + bin_km)
        pk = g.loc[g["median"].idxmax()]
        if above.empty:
            front, state = math.nan, "not in window"
        else:
            front = float(above["bin_start_km"].max() + bin_km)
            state = "beyond window" if front >= w_to else "in window"
        rows.append({"date": d, "window_from_km": w_from, "window_to_km": w_to,
                     "n_bins": len(g), "n_above": len(above), "front_km": front,
                     "front_state": state, "peak_km": float(pk["bin_mid_km"]),
                     "peak_value": float(pk["median"]), "threshold": threshold})
    return pd.DataFrame(rows)


def front_speeds(fronts: pd.DataFrame, bin_km: float) -> pd.DataFrame:
    """Front speed between consecutive dates whose fronts are both located.

    Only consecutive pairs (in date order) are used, both with a front inside
    their window, and only when the front moved downstream. When the later
    front lies in the last bin of its window (or beyond it) the true front may
    be farther: the speed is then a lower bound (``kind="lower bound"``),
    otherwise ``kind="estimate"``. A date without exceedance is not used: the
    plume may not have arrived or may already have passed.
    """
    f = fronts.sort_values("date").reset_index(drop=True)
    rows = []
    for i in range(len(f) - 1):
        a, b = f.iloc[i], f.iloc[i + 1]
        days = (pd.Timestamp(b["date"]) - pd.Timestamp(a["date"])).days
        if days <= 0 or a["front_state"] != "in window" or not np.isfinite(b["front_km"]):
            continue
        if b["front_km"] <= a["front_km"]:
            continue
        at_end = b["front_km"] >= b["window_to_km"] - bin_km
        dist = float(b["front_km"] - a["front_km"])
        rows.append({"from_date": a["date"], "to_date": b["date"], "days": days,
                     "from_front_km": float(a["front_km"]), "to_front_km": float(b["front_km"]),
                     "distance_km": dist, "speed_km_per_day": dist / days,
                     "kind": "lower bound" if at_end else "estimate"})
    return pd.DataFrame(rows, columns=["from_date", "to_date", "days", "from_front_km",
                                       "to_front_km", "distance_km", "speed_km_per_day",
                                       "kind"])


def observation_windows(profile: pd.DataFrame, gap_km: float) -> list[tuple[float, float]]:
    """Contiguous chainage ranges observed on any date (gaps wider than ``gap_km`` split them)."""
    starts = np.sort(profile["bin_start_km"].unique())
    windows: list[list[float]] = []
    for s in starts:
        if windows and s - windows[-1][1] <= gap_km:
            windows[-1][1] = s
        else:
            windows.append([s, s])
    return [(a, b) for a, b in windows]


def window_series(profile: pd.DataFrame, bin_km: float) -> pd.DataFrame:
    """Median of bin medians per date within each observed window (and upstream, chainage < 0)."""
    wins = observation_windows(profile, gap_km=2.5 * bin_km)
    rows = []
    for a, b in wins:
        sel = profile[(profile["bin_start_km"] >= a) & (profile["bin_start_km"] <= b)]
        label = f"{a:.0f}-{b + bin_km:.0f} km"
        for d, g in sel.groupby("date"):
            up = g[g["bin_mid_km"] < 0]["median"]
            dn = g[g["bin_mid_km"] >= 0]["median"]
            if len(up):
                rows.append({"date": d, "window": f"upstream {label}", "median": up.median()})
            if len(dn):
                rows.append({"date": d, "window": label, "median": dn.median()})
    return pd.DataFrame(rows, columns=["date", "window", "median"])


def signal_chart(profile: pd.DataFrame, series: pd.DataFrame, path: str | Path, *,
                 value_label: str, threshold: float | None = None, title: str = "") -> Path:
    """Two-panel PNG: profiles along the river per date, and window medians over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 8), constrained_layout=True)
    dates = sorted(profile["date"].unique())
    cmap = plt.get_cmap("viridis", max(len(dates), 2))
    for k, d in enumerate(dates):
        g = profile[profile["date"] == d].sort_values("bin_mid_km")
        # break the line across unobserved stretches
        x = g["bin_mid_km"].to_numpy()
        y = g["median"].to_numpy()
        if len(x) > 1:
            step = np.median(np.diff(x))
            brk = np.flatnonzero(np.diff(x) > 2.5 * step)
            x = np.insert(x, brk + 1, np.nan)
            y = np.insert(y, brk + 1, np.nan)
        ax1.plot(x, y, "-o", ms=3, color=cmap(k), label=d)
    if threshold is not None:
        ax1.axhline(threshold, color="grey", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    ax1.axvline(0, color="k", lw=0.8)
    ax1.annotate("source", (0, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                 textcoords="offset points", fontsize=8)
    ax1.set_xlabel("distance along river from the source (km; + downstream)")
    ax1.set_ylabel(f"{value_label} (bin median)")
    ax1.legend(fontsize=8, ncol=2)
    ax1.set_title(title or f"{value_label} along the river")
    for w, g in series.groupby("window"):
        g = g.sort_values("date")
        ax2.plot(pd.to_datetime(g["date"]), g["median"], "-o", label=w)
    ax2.set_ylabel(f"{value_label} (median)")
    ax2.set_xlabel("date")
    ax2.legend(fontsize=8)
    ax2.set_title("median per observed stretch of river, by date")
    for lab in ax2.get_xticklabels():
        lab.set_rotation(30)
        lab.set_horizontalalignment("right")
    tmp = path.with_name(path.name + ".part")
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    tmp.replace(path)
    return path


def analyse_river_signal(points: pd.DataFrame, reach, value: str, *, bin_km: float = 20.0,
                         max_offset_m: float = 5000.0, threshold: float | None = None,
                         min_points: int = 20) -> dict:
    """Run the whole river-signal analysis on located or raw points.

    Parameters
    ----------
    points : pandas.DataFrame
        Columns ``date, lon, lat`` and ``value`` (plus band columns if the
        caller added indices with :func:`add_water_indices`).
    reach : RiverReach
        From :func:`minewatch.analysis.water.chainage.river_reach`.
    value : str
        Column to analyse (``"Turbidity"``, ``"ndti"``, ``"iron_ratio"``...).
    threshold : float, optional
        Plume threshold; default :func:`default_threshold` (2 x background).

    Returns
    -------
    dict
        ``points`` (located), ``profile``, ``gradient``, ``updown``, ``fronts``,
        ``speeds``, ``series`` (DataFrames), ``threshold``, ``n_dropped_offset``,
        ``summary`` (plain dict for JSON).
    """
    if value not in points.columns:
        raise InputError(f"no column {value!r} in the points",
                         hint="columns are " + ", ".join(map(str, points.columns)))
    located = locate_points(points, reach, max_offset_m=max_offset_m)
    dropped = len(points) - len(located)
    if located.empty:
        raise DataError(f"no point lies within {max_offset_m:.0f} m of the river line",
                        hint="check the river file and the coordinate columns")
    prof = river_profile(located, value, bin_km=bin_km, min_points=min_points)
    if prof.empty:
        raise DataError(f"no {bin_km:g} km bin holds {min_points} valid values of {value!r}")
    thr = default_threshold(prof) if threshold is None else float(threshold)
    grad = gradient_test(prof)
    updown = upstream_downstream_test(located, value)
    fronts = plume_fronts(prof, thr, bin_km)
    speeds = front_speeds(fronts, bin_km)
    series = window_series(prof, bin_km)
    summary = {
        "value": value, "bin_km": bin_km, "threshold": thr,
        "threshold_rule": "given" if threshold is not None else
        "2 x background (lowest per-date median of bin medians)",
        "river_length_km": reach.geodesic_length_km,
        "source_to_river_km": reach.source_offset_km,
        "n_points": int(len(located)), "n_dropped_offset": int(dropped),
        "dates": sorted(map(str, prof["date"].unique())),
        "gradient": grad.to_dict(orient="records"),
        "fronts": fronts.to_dict(orient="records"),
        "speeds": speeds.to_dict(orient="records"),
        "upstream_downstream_testable": bool(updown["testable"].any()),
    }
    return {"points": located, "profile": prof, "gradient": grad, "updown": updown,
            "fronts": fronts, "speeds": speeds, "series": series, "threshold": thr,
            "n_dropped_offset": dropped, "summary": summary}
