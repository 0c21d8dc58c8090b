"""End-to-end water workflows used by the CLI (and later the report): import + check, river signal."""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from minewatch.analysis.water.exceedance import (
    compare_with_standard,
    exceedance_summary,
    parameters_without_limit,
)
from minewatch.analysis.water.indices import pollution_indices
from minewatch.analysis.water.samples import read_samples, sampling_points
from minewatch.analysis.water.standards import (
    DEFAULT_STANDARD,
    load_standards,
    table_version,
)
from minewatch.errors import InputError


def write_outputs_atomically(out_dir: str | Path, writers: dict[str, Callable[[Path], None]]) -> list[Path]:
    """Write every file into a temporary folder, then move them all into ``out_dir``.

    If any writer fails nothing is moved, so ``out_dir`` never holds a partial set.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".minewatch-", dir=out))
    try:
        for name, fn in writers.items():
            fn(tmp / name)
        done = []
        for name in writers:
            os.replace(tmp / name, out / name)
            done.append(out / name)
        return done
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_samples(samples: pd.DataFrame, *, standards: pd.DataFrame | None = None,
                  standard: str = DEFAULT_STANDARD, nondetect: str = "half") -> dict:
    """Exceedances and indices for an imported sample table (pure; no files).

    Returns
    -------
    dict
        ``samples, stations, compared, summary, indices`` DataFrames,
        ``without_limit`` (the parameters the standard sets no limit for: not
        assessed, see :func:`parameters_without_limit`) and
        ``standard, standards_version, nondetect``.
    """
    table = load_standards() if standards is None else standards
    compared = compare_with_standard(samples, table, standard)
    return {
        "samples": samples,
        "stations": sampling_points(samples),
        "compared": compared,
        "summary": exceedance_summary(compared),
        "without_limit": parameters_without_limit(samples, table, standard),
        "indices": pollution_indices(samples, table, standard, nondetect=nondetect),
        "standard": standard,
        "standards_version": table_version() if standards is None else "user table",
        "nondetect": nondetect,
    }


def import_samples(path: str | Path, mapping: str | Path | None = None, *,
                   standards_path: str | Path | None = None, standard: str = DEFAULT_STANDARD,
                   nondetect: str = "half") -> dict:
    """Read a lab file and check it against a standard (see :func:`check_samples`)."""
    samples = read_samples(path, mapping)
    table = load_standards(standards_path) if standards_path else None
    res = check_samples(samples, standards=table, standard=standard, nondetect=nondetect)
    res["source"] = str(path)
    return res


def link_stations(res: dict, *, receptors: str | Path | None = None,
                  river: str | Path | None = None, source: str | Path | None = None,
                  receptor_max_m: float = 5000.0, river_max_m: float = 2000.0) -> dict:
    """Link sampling points to receptors and to a river reach; copy the links onto the samples.

    ``stations`` gains ``receptor_id, receptor_distance_m`` and/or
    ``river_chainage_km, river_offset_m, reach_id``; the samples' ``receptor_id``
    and ``reach_id`` are filled from their station (values already in the lab
    file are kept).
    """
    from minewatch.analysis.water.linking import link_receptors, link_river

    st = res["stations"]
    if receptors is not None:
        st = link_receptors(st, receptors, max_distance_m=receptor_max_m)
    if river is not None:
        from minewatch.analysis.water.chainage import (
            read_river_line,
            read_source_geometry,
            river_reach,
        )

        reach = river_reach(read_river_line(river),
                            read_source_geometry(source) if source else None)
        st = link_river(st, reach, max_offset_m=river_max_m, reach_id=Path(river).stem)
    samples = res["samples"].copy()
    for col in ("receptor_id", "reach_id"):
        if col in st.columns:
            m = dict(zip(st["station_id"], st[col].fillna("").astype(str)))
            linked = samples["station_id"].map(m).fillna("")
            samples[col] = samples[col].where(samples[col].astype(str) != "", linked)
    return {**res, "stations": st, "samples": samples}


def _csv_writer(df: pd.DataFrame) -> Callable[[Path], None]:
    return lambda p: df.to_csv(p, index=False)


def summary_html(res: dict) -> str:
    """A self-contained HTML page: exceedances per station and date, then all compared results."""
    comp = res["compared"]
    rows = []
    for r in comp.sort_values(["station_id", "date", "parameter", "fraction"]).itertuples():
        cls = {"exceeds": "ex", "below-range": "ex", "inconclusive": "inc"}.get(r.status, "")
        lim = (f"{r.lower_limit:.4g}&ndash;{r.limit:.4g}" if r.lower_limit == r.lower_limit
               else f"{r.limit:.4g}")
        val = (f"&lt;{r.detection_limit:.4g}" if r.qualifier == "<" else
               (f"&gt;{r.value:.4g}" if r.qualifier == ">" else f"{r.value:.4g}"))
        rows.append(
            f"<tr class='{cls}'><td>{html.escape(str(r.station_id))}</td>"
            f"<td>{html.escape(str(r.station_name))}</td><td>{r.date}</td>"
            f"<td>{html.escape(r.parameter)}</td><td>{html.escape(r.fraction)}</td>"
            f"<td>{val}</td><td>{html.escape(str(r.unit))}</td><td>{lim}</td>"
            f"<td>{r.status}</td></tr>")
    summ = res["summary"]
    without = res["without_limit"]
    not_assessed = (
        "<p><strong>Not assessed</strong> (no limit in "
        f"{html.escape(res['standard'])}, so neither exceeded nor within it): "
        + ", ".join(f"{html.escape(r.parameter)} ({r.n_results} results at {r.n_stations} stations)"
                    for r in without.itertuples()) + ".</p>"
        if len(without) else "")
    srows = "".join(
        f"<tr class='{'ex' if r.n_exceeds else ''}'><td>{html.escape(str(r.station_id))}</td>"
        f"<td>{html.escape(str(r.station_name))}</td><td>{r.date}</td><td>{r.n_exceeds}</td>"
        f"<td>{r.n_inconclusive}</td><td>{html.escape(r.exceeded)}</td></tr>"
        for r in summ.itertuples())
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Water samples against {html.escape(res['standard'])}</title>
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:2px 6px}}tr.ex{{background:#fdd}}tr.inc{{background:#ffd}}</style>
</head><body><h1>Water samples against {html.escape(res['standard'])}</h1>
<p>Source: {html.escape(str(res.get('source', '')))}. Standards table version
{html.escape(str(res['standards_version']))}. Non-detects (&lt;LOD) never count as exceedances;
when the LOD is above the limit the result is <em>inconclusive</em>. Indices use LOD x
{ {'half': '1/2', 'zero': '0', 'lod': '1'}[res['nondetect']] } for non-detects.</p>
{not_assessed}
<h2>Per station and date</h2><table><tr><th>station</th><th>name</th><th>date</th>
<th>exceedances</th><th>inconclusive</th><th>exceeded (x limit)</th></tr>{srows}</table>
<h2>All compared results</h2><table><tr><th>station</th><th>name</th><th>date</th><th>parameter</th>
<th>fraction</th><th>value</th><th>unit</th><th>limit</th><th>status</th></tr>{''.join(rows)}</table>
</body></html>"""


def _jsonable(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if hasattr(x, "item"):
        return _jsonable(x.item())
    return x


def summary_dict(res: dict) -> dict:
    """Plain-JSON summary of a sample check (for summary.json / the report)."""
    comp = res["compared"]
    return {
        "source": res.get("source"),
        "standard": res["standard"],
        "standards_version": res["standards_version"],
        "nondetect_rule": res["nondetect"],
        "n_results": int(len(res["samples"])),
        "n_samples": int(res["samples"]["sample_id"].nunique()),
        "n_stations": int(len(res["stations"])),
        "n_compared": int(len(comp)),
        "status_counts": {k: int(v) for k, v in comp["status"].value_counts().items()},
        "stations_with_exceedance": sorted(
            map(str, comp.loc[comp["exceeds"], "station_id"].unique())),
        "parameters_without_limit": [{k: _jsonable(v) for k, v in r.items()}
                                     for r in res["without_limit"].to_dict(orient="records")],
        "per_station_date": [{k: _jsonable(v) for k, v in r.items()}
                             for r in res["summary"].to_dict(orient="records")],
    }


def write_sample_outputs(res: dict, out_dir: str | Path) -> list[Path]:
    """Write samples.csv, stations.csv, exceedances.csv, exceedance_summary.csv, indices.csv,
    summary.json and summary.html into ``out_dir`` (all or nothing)."""
    summ = summary_dict(res)
    return write_outputs_atomically(out_dir, {
        "samples.csv": _csv_writer(res["samples"]),
        "stations.csv": _csv_writer(res["stations"]),
        "exceedances.csv": _csv_writer(res["compared"]),
        "exceedance_summary.csv": _csv_writer(res["summary"]),
        "indices.csv": _csv_writer(res["indices"]),
        "summary.json": lambda p: p.write_text(json.dumps(summ, indent=1, ensure_ascii=False),
                                               encoding="utf-8"),
        "summary.html": lambda p: p.write_text(summary_html(res), encoding="utf-8"),
    })


def write_river_outputs(result: dict, out_dir: str | Path, *, value_label: str,
                        title: str = "") -> list[Path]:
    """Write profile.csv, gradient.csv, upstream_downstream.csv, fronts.csv, speeds.csv,
    series.csv, river_signal.png and river_signal.json into ``out_dir``."""
    from minewatch.analysis.water.river_signal import signal_chart

    if not value_label:
        raise InputError("value_label must name what is plotted")
    text = json.dumps(_deep_clean(result["summary"]), indent=1)
    return write_outputs_atomically(out_dir, {
        "profile.csv": _csv_writer(result["profile"]),
        "gradient.csv": _csv_writer(result["gradient"]),
        "upstream_downstream.csv": _csv_writer(result["updown"]),
        "fronts.csv": _csv_writer(result["fronts"]),
        "speeds.csv": _csv_writer(result["speeds"]),
        "series.csv": _csv_writer(result["series"]),
        "river_signal.png": lambda p: signal_chart(result["profile"], result["series"], p,
                                                   value_label=value_label,
                                                   threshold=result["threshold"], title=title),
        "river_signal.json": lambda p: p.write_text(text, encoding="utf-8"),
    })


def _deep_clean(x):
    if isinstance(x, dict):
        return {str(k): _deep_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_deep_clean(v) for v in x]
    return _jsonable(x)
