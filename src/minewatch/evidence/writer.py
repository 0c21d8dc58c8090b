"""Write ``DIR/evidence/`` at the end of a run: per-alert evidence, the report, the signed manifest."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from minewatch.analysis import compliance as comp
from minewatch.atomic import write_text
from minewatch.evidence import alerts as ev
from minewatch.evidence.manifest import (
    DIGEST, EVIDENCE_DIR, MANIFEST, SIGNATURE, manifest_bytes, new_manifest, output_record, record_inputs)
from minewatch.evidence.sheets import render_sheet
from minewatch.imagery.load import load_tile
from minewatch.pipeline import MASK_BANDS, REFLECTANCE_BANDS
from minewatch.reports import figures
from minewatch.reports.html import b64, render_report
from minewatch.reports.i18n import Translator
from minewatch.reports.text import disturbance_centre

#: The run's standard outputs, in the run folder (see docs/batch-contract.md).
STANDARD_OUTPUTS = ("disturbance_date.tif", "confidence.tif", "footprint.tif", "alerts.geojson", "summary.json",
                    "report.html")
COMPOSITE = {"truecolor": ev.TRUE_COLOUR, "swir": ev.SWIR_FALSE_COLOUR}
#: Alerts that get image chips, a time series and a sheet (the rest: alert.json only), see docs/evidence.md.
MAX_FULL_ALERTS = 30


def bands_read(used) -> list[str]:
    """The bands the pipeline reads for these items (same rule as ``pipeline._process``)."""
    present = {b for it in used for b in it.assets}
    return [b for b in REFLECTANCE_BANDS + MASK_BANDS if b in present]


def provenance_block(manifest: dict, signer: str | None, run_dir: Path) -> dict:
    """What the report's provenance section shows, taken from the manifest."""
    env = manifest["environment"]
    named = []
    for e in manifest["inputs"]:
        if e["role"] in ("catalog", "licences", "receptors", "dem"):
            name = e.get("base_path") or e.get("href") or e.get("path")
            named.append({"role": e["role"], "name": name, "sha256": e.get("sha256")})
    assets = [e for e in manifest["inputs"] if e["role"] == "asset"]
    return {
        "version": env["minewatch"]["version"], "commit": env["minewatch"]["commit"],
        "dirty": env["minewatch"].get("dirty"), "libraries": env["libraries"], "engine": env["change_engine"],
        "inputs": named, "n_assets": len(assets),
        "asset_mb": sum(e.get("bytes") or 0 for e in assets) / 1e6,
        "signer": signer, "run_dir_name": run_dir.name or str(run_dir),
    }


def _alert_chips(alerts: list[dict], alert_raster: np.ndarray, grid) -> list[ev.AlertChip]:
    from scipy import ndimage

    chips = []
    slices = ndimage.find_objects(alert_raster)
    for i, alert in enumerate(alerts, start=1):
        sl = slices[i - 1] if i - 1 < len(slices) else None
        if sl is None:
            continue
        rows = (sl[0].start, sl[0].stop)
        cols = (sl[1].start, sl[1].stop)
        chips.append(ev.AlertChip(alert, i, rows, cols, ev.chip_window(rows, cols, grid)))
    return chips


def priority(alerts: list[dict]) -> list[dict]:
    """Alerts in the order they matter to an inspector: outside any valid licence first, larger first."""
    return sorted(alerts, key=lambda a: (a.get("licence_id") is not None, -a["area_ha"], a["alert_id"]))


def _pixels(arrays, used, bands, grid, window):
    """Bands and clear mask of ``window``: sliced from the run's own tile when it holds the window,
    else read and screened again exactly as the pipeline did."""
    cached = arrays.tile_cache
    if cached is not None:
        cw, cdata, cclear = cached
        r0, c0 = int(window.row_off - cw.row_off), int(window.col_off - cw.col_off)
        r1, c1 = r0 + int(window.height), c0 + int(window.width)
        if r0 >= 0 and c0 >= 0 and r1 <= int(cw.height) and c1 <= int(cw.width) and set(bands) <= set(cdata):
            return {b: v[:, r0:r1, c0:c1] for b, v in cdata.items()}, cclear[:, r0:r1, c0:c1]
    data = load_tile(used, bands, grid, window)
    return data, ev.screen_tile(used, data)


def write_alert_evidence(target: Path, req, summary: dict, used, arrays, alerts: list[dict], periods,
                         water_assessed: bool, t: Translator, progress,
                         max_full: int = MAX_FULL_ALERTS) -> dict[str, str]:
    """Write every alert's folder under ``target``; return ``{alert_id: sheet link relative to the run folder}``.

    Every alert gets ``alert.json`` (licence state at onset, receptors downstream). The first
    ``max_full`` alerts in :func:`priority` order also get chips, time series and the sheet.
    """
    grid = arrays.grid
    if not alerts or arrays.alert_raster is None:
        return {}
    start_day = comp.to_day(req.start)
    end_day = comp.to_day(req.end)
    days = np.array([it.day for it in used], np.int64)
    bands = bands_read(used)
    chips = {c.alert["alert_id"]: c for c in _alert_chips(alerts, arrays.alert_raster, grid)}
    full_ids = [a["alert_id"] for a in priority(alerts) if a["alert_id"] in chips][:max_full]
    receptors_by_alert: dict[str, list[dict]] = {}
    for r in summary["receptors_at_risk"]:
        for a in r["alert_ids"]:
            receptors_by_alert.setdefault(a, []).append(r)
    site = summary.get("site") or summary["catalog"]
    links: dict[str, str] = {}

    def chip_mask(chip: ev.AlertChip):
        crows = slice(int(chip.window.row_off), int(chip.window.row_off + chip.window.height))
        ccols = slice(int(chip.window.col_off), int(chip.window.col_off + chip.window.width))
        return arrays.alert_raster[crows, ccols] == chip.number, grid.window_grid(chip.window)

    # every alert: its record
    for aid, chip in chips.items():
        alert = chip.alert
        mask, cgrid = chip_mask(chip)
        onset_day = comp.to_day(dt.date.fromisoformat(alert["onset_date"]))
        chip.files = {"record": "alert.json"}
        chip.licences = ev.licence_state(alert, mask, cgrid, periods, onset_day)
        if aid not in full_ids:
            folder = target / aid
            folder.mkdir(parents=True, exist_ok=True)
            ev.write_json(folder / "alert.json", ev.alert_record(
                alert, chip.licences, receptors_by_alert.get(aid, []), chip.files, {},
                note=f"images, time series and sheet are written for the {max_full} first alerts "
                     f"(outside licence first, then by area); this one is not among them"))

    # the first alerts: images, time series, sheet
    groups = ev.group_windows([chips[a] for a in full_ids])
    done = 0
    for window, members in groups:
        progress("writing alert evidence", done, len(full_ids))
        data, clear = _pixels(arrays, used, bands, grid, window)
        for chip in members:
            alert = chip.alert
            aid = alert["alert_id"]
            folder = target / aid
            folder.mkdir(parents=True, exist_ok=True)
            r0 = int(chip.window.row_off - window.row_off)
            c0 = int(chip.window.col_off - window.col_off)
            sub = (slice(r0, r0 + int(chip.window.height)), slice(c0, c0 + int(chip.window.width)))
            mask, cgrid = chip_mask(chip)
            cdata = {b: v[:, sub[0], sub[1]] for b, v in data.items()}
            cclear = clear[:, sub[0], sub[1]]
            onset_day = comp.to_day(dt.date.fromisoformat(alert["onset_date"]))
            rows = ev.time_series(used, cdata, cclear, mask, start_day)
            write_text(folder / "timeseries.csv", ev.series_csv(rows))
            series_png = figures.time_series(
                rows, alert["onset_date"], req.start.isoformat(),
                t("Alert %(id)s: mean of its %(n)s pixels on each clear image", id=aid, n=int(mask.sum())), _=t)
            (folder / "timeseries.png").write_bytes(series_png)
            sel_before = (days < onset_day) & (days >= onset_day - 365)
            after_from = max(onset_day, end_day - 365)
            sel_after = (days >= after_from) & (days <= end_day)
            spans = {
                "before": [comp.from_day(onset_day - 365).isoformat(), comp.from_day(onset_day - 1).isoformat()],
                "after": [comp.from_day(after_from).isoformat(), comp.from_day(end_day).isoformat()],
            }
            png_b64: dict[str, str] = {}
            files = chip.files
            files.update(timeseries_csv="timeseries.csv", timeseries_png="timeseries.png", sheet="sheet.html")
            for kind, names in COMPOSITE.items():
                comps = {}
                for when, sel in (("before", sel_before), ("after", sel_after)):
                    comps[when] = np.stack([ev._median(cdata[b], cclear, sel) for b in names])
                limits = figures.stretch_limits(comps["before"], comps["after"])
                for when, rgb in comps.items():
                    stem = f"{when}_{kind}"
                    label = t("true colour") if kind == "truecolor" else t("SWIR false colour")
                    title = t("%(when)s: %(a)s to %(b)s", when=t(when), a=spans[when][0], b=spans[when][1])
                    ev.write_chip_tif(folder / f"{stem}.tif", rgb, cgrid, names,
                                      f"{aid} {when} ({spans[when][0]}..{spans[when][1]}) {kind}: "
                                      f"median of clear observations")
                    png = figures.chip(cgrid, rgb, mask, limits, f"{title}\n{label}", _=t)
                    (folder / f"{stem}.png").write_bytes(png)
                    png_b64[stem] = b64(png)
                    files[f"{stem}_png"] = f"{stem}.png"
                    files[f"{stem}_tif"] = f"{stem}.tif"
            receptors = receptors_by_alert.get(aid, [])
            centre = disturbance_centre([alert])
            ev.write_json(folder / "alert.json", ev.alert_record(alert, chip.licences, receptors, files, spans))
            html = render_sheet(t, site=site, alert=alert, centre=centre, licences=chip.licences,
                                receptors=receptors, water_assessed=water_assessed, chips=png_b64,
                                series_png=b64(series_png), rows=rows, composites=spans,
                                period=summary["period"], manifest_rel=f"{EVIDENCE_DIR}/{MANIFEST}")
            write_text(folder / "sheet.html", html)
            links[aid] = f"{EVIDENCE_DIR}/alerts/{aid}/sheet.html"
            done += 1
    progress("writing alert evidence", done, len(full_ids))
    return links


def _replace_dir(staging: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_evidence(req, summary: dict, used, arrays, alerts: list[dict], risk, periods, receptors,
                   progress=None) -> dict:
    """Write ``req.out/evidence/`` (per-alert evidence, manifest, digest, signature), re-render the
    report with its provenance block in ``req.lang`` and print it to PDF when ``req.pdf``.

    Returns the manifest.
    """
    from minewatch.evidence.signing import key_id, load_private_key, sign_bytes

    progress = progress or (lambda *a: None)
    run_dir = Path(req.out)
    lang = getattr(req, "lang", "en") or "en"
    t = Translator(lang)
    sign_key = getattr(req, "sign_key", None)
    private = load_private_key(sign_key) if sign_key else None
    signer = key_id(private.public_key()) if private else None
    want_pdf = bool(getattr(req, "pdf", False))
    if want_pdf:
        from minewatch.reports.pdf import require_chromium

        require_chromium()
    staging = Path(tempfile.mkdtemp(prefix=".evidence.", dir=run_dir))
    os.chmod(staging, 0o755)
    try:
        progress("hashing inputs", 0, 1)
        bands = bands_read(used)
        base, inputs = record_inputs(req, used, bands, staging)
        manifest = new_manifest(req, base, inputs, bands)
        manifest["items_used"] = [it.id for it in used]
        progress("hashing inputs", 1, 1)
        water_assessed = req.dem is not None and bool(receptors)
        links = write_alert_evidence(staging / "alerts", req, summary, used, arrays, alerts, periods,
                                     water_assessed, t, progress)
        progress("writing report", 0, 1)
        html = render_report(summary, arrays, alerts, risk, periods, receptors, lang=lang,
                             provenance=provenance_block(manifest, signer, run_dir), alert_sheets=links,
                             water_assessed=water_assessed)
        write_text(run_dir / "report.html", html)
        outputs = [name for name in STANDARD_OUTPUTS if (run_dir / name).exists()]
        pdf = run_dir / "report.pdf"
        if want_pdf:
            from minewatch.reports.pdf import html_to_pdf

            html_to_pdf(run_dir / "report.html", pdf)
            outputs.append("report.pdf")
        elif pdf.exists():
            pdf.unlink()  # a stale PDF of an earlier run would contradict this one
        progress("writing report", 1, 1)
        _replace_dir(staging, run_dir / EVIDENCE_DIR)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    evidence = run_dir / EVIDENCE_DIR
    for path in sorted(evidence.rglob("*")):
        if path.is_file() and not (path.parent == evidence and path.name in (MANIFEST, DIGEST, SIGNATURE)):
            outputs.append(path.relative_to(run_dir).as_posix())
    manifest["outputs"] = [output_record(run_dir, rel) for rel in outputs]
    data = manifest_bytes(manifest)
    write_text(evidence / MANIFEST, data.decode("utf-8"))
    from minewatch.evidence.hashing import sha256_bytes

    write_text(evidence / DIGEST, f"{sha256_bytes(data)}  {MANIFEST}\n")
    sig = evidence / SIGNATURE
    if private is not None:
        write_text(sig, json.dumps(sign_bytes(data, private, MANIFEST), indent=1) + "\n")
    elif sig.exists():
        sig.unlink()
    return manifest
