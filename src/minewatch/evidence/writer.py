"""Write ``DIR/evidence/`` of a run: per-alert evidence, then the signed manifest.

The application layer calls :func:`begin_evidence` once the run's outputs are written (it
hashes the inputs and writes each alert's evidence), renders the report with the provenance
block it returns, and calls :func:`finish_evidence` to write the manifest over every output.
Everything is written into the run's staging folder, which is published as a whole
(:mod:`minewatch.run.folder`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from minewatch.analysis.composites import median
from minewatch.atomic import write_text
from minewatch.dates import from_day, to_day
from minewatch.evidence import alerts as ev
from minewatch.evidence.hashing import sha256_bytes
from minewatch.evidence.manifest import (
    DIGEST, EVIDENCE_DIR, MANIFEST, SIGNATURE, manifest_bytes, new_manifest, output_record, record_inputs)
from minewatch.evidence.sheets import render_sheet
from minewatch.reports import figures
from minewatch.reports.html import b64
from minewatch.reports.i18n import Translator
from minewatch.reports.text import disturbance_centre

if TYPE_CHECKING:  # the application layer's types; evidence never imports it at run time
    from minewatch.run.pixels import PixelStore
    from minewatch.run.result import RunResult

#: The run's standard outputs, in the run folder (see docs/batch-contract.md).
STANDARD_OUTPUTS = ("disturbance_date.tif", "alert_level.tif", "confidence.tif", "footprint.tif", "assessment.tif",
                    "alerts.geojson", "summary.json", "report.html")
COMPOSITE = {"truecolor": ev.TRUE_COLOUR, "swir": ev.SWIR_FALSE_COLOUR}
#: Alerts that get image chips, a time series and a sheet (the rest: alert.json only), see docs/evidence.md.
MAX_FULL_ALERTS = 30


@dataclass
class PendingEvidence:
    """Evidence written into its staging folder, waiting for the report and the manifest."""

    root: Path  #: where the run is written (its staging folder)
    final: Path  #: where it will be published
    manifest: dict
    signer: str | None
    private_key: Any
    sheets: dict[str, str]  #: ``{alert_id: link to its sheet, relative to the run folder}``

    def provenance(self) -> dict:
        """What the report's provenance section shows, taken from the manifest."""
        env = self.manifest["environment"]
        named = []
        for e in self.manifest["inputs"]:
            if e["role"] in ("catalog", "licences", "receptors", "dem"):
                name = e.get("base_path") or e.get("href") or e.get("path")
                named.append({"role": e["role"], "name": name, "sha256": e.get("sha256")})
        assets = [e for e in self.manifest["inputs"] if e["role"] == "asset"]
        return {
            "version": env["minewatch"]["version"], "commit": env["minewatch"]["commit"],
            "dirty": env["minewatch"].get("dirty"), "libraries": env["libraries"], "engine": env["change_engine"],
            "inputs": named, "n_assets": len(assets),
            "asset_mb": sum(e.get("bytes") or 0 for e in assets) / 1e6,
            "signer": self.signer, "run_dir_name": self.final.name or str(self.final),
        }


def priority(alerts: list[dict]) -> list[dict]:
    """Alerts in the order they matter to an inspector: standing alerts (probable, confirmed) before
    possible and retracted ones; among them outside any valid licence first, larger first."""
    return sorted(alerts, key=lambda a: (a.get("retracted", False), a.get("level", 2) < 2,
                                         a.get("licence_id") is not None, -a["area_ha"], a["alert_id"]))


def _chips(result: RunResult, records: list[dict]) -> dict[str, ev.AlertChip]:
    from scipy import ndimage

    grid = result.grid
    slices = ndimage.find_objects(result.alert_raster)
    chips = {}
    for alert, record in zip(result.alerts, records, strict=True):
        sl = slices[alert.number - 1] if alert.number - 1 < len(slices) else None
        if sl is None:
            continue
        rows, cols = (sl[0].start, sl[0].stop), (sl[1].start, sl[1].stop)
        chips[alert.alert_id] = ev.AlertChip(record, alert.number, rows, cols, ev.chip_window(rows, cols, grid))
    return chips


def write_alert_evidence(target: Path, result: RunResult, summary: dict, store: PixelStore, t: Translator,
                         progress, max_full: int = MAX_FULL_ALERTS) -> dict[str, str]:
    """Write every alert's folder under ``target``; return ``{alert_id: sheet link relative to the run folder}``.

    Every alert gets ``alert.json`` (licence state at onset, receptors downstream). The first
    ``max_full`` alerts in :func:`priority` order also get chips, time series and the sheet.
    """
    grid = result.grid
    if not result.alerts:
        return {}
    req = result.request
    start_day, end_day = to_day(req.period.start), to_day(req.period.end)
    items = result.items
    days = np.array([it.day for it in items], np.int64)
    chips = _chips(result, summary["alerts"])
    full_ids = [a["alert_id"] for a in priority(summary["alerts"]) if a["alert_id"] in chips][:max_full]
    receptors_by_alert: dict[str, list[dict]] = {}
    for r in summary["receptors_at_risk"]:
        for a in r["alert_ids"]:
            receptors_by_alert.setdefault(a, []).append(r)
    site = summary.get("site") or summary["catalog"]
    links: dict[str, str] = {}

    def chip_mask(chip: ev.AlertChip):
        crows = slice(int(chip.window.row_off), int(chip.window.row_off + chip.window.height))
        ccols = slice(int(chip.window.col_off), int(chip.window.col_off + chip.window.width))
        return result.alert_raster[crows, ccols] == chip.number, grid.window_grid(chip.window)

    # every alert: its record
    for aid, chip in chips.items():
        mask, cgrid = chip_mask(chip)
        onset_day = to_day(dt.date.fromisoformat(chip.alert["onset_date"]))
        chip.files = {"record": "alert.json"}
        chip.licences = ev.licence_state(chip.alert, mask, cgrid, result.periods, onset_day)
        if aid not in full_ids:
            folder = target / aid
            folder.mkdir(parents=True, exist_ok=True)
            ev.write_json(folder / "alert.json", ev.alert_record(
                chip.alert, chip.licences, receptors_by_alert.get(aid, []), chip.files, {},
                note=f"images, time series and sheet are written for the {max_full} first alerts "
                     f"(outside licence first, then by area); this one is not among them"))

    # the first alerts: images, time series, sheet
    groups = ev.group_windows([chips[a] for a in full_ids])
    bands = sorted({b for names in COMPOSITE.values() for b in names} | {"blue", "green", "red", "nir", "swir16"})
    done = 0
    for window, members in groups:
        progress("writing alert evidence", done, len(full_ids))
        data, clear = store.window(window, [b for b in bands if b in store.bands], complete=True)
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
            onset_day = to_day(dt.date.fromisoformat(alert["onset_date"]))
            rows = ev.time_series(items, cdata, cclear, mask, start_day)
            write_text(folder / "timeseries.csv", ev.series_csv(rows))
            series_png = figures.time_series(
                rows, alert["onset_date"], req.period.start.isoformat(),
                t("Alert %(id)s: mean of its %(n)s pixels on each clear image", id=aid, n=int(mask.sum())), _=t)
            (folder / "timeseries.png").write_bytes(series_png)
            sel_before = (days < onset_day) & (days >= onset_day - 365)
            after_from = max(onset_day, end_day - 365)
            sel_after = (days >= after_from) & (days <= end_day)
            spans = {
                "before": [from_day(onset_day - 365).isoformat(), from_day(onset_day - 1).isoformat()],
                "after": [from_day(after_from).isoformat(), from_day(end_day).isoformat()],
            }
            png_b64: dict[str, str] = {}
            files = chip.files
            files.update(timeseries_csv="timeseries.csv", timeseries_png="timeseries.png", sheet="sheet.html")
            for kind, names in COMPOSITE.items():
                comps = {when: np.stack([median(cdata[b], cclear, sel) for b in names])
                         for when, sel in (("before", sel_before), ("after", sel_after))}
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
                                receptors=receptors, water_assessed=result.water_assessed, chips=png_b64,
                                series_png=b64(series_png), rows=rows, composites=spans,
                                period=summary["period"], manifest_rel=f"{EVIDENCE_DIR}/{MANIFEST}")
            write_text(folder / "sheet.html", html)
            links[aid] = f"{EVIDENCE_DIR}/alerts/{aid}/sheet.html"
            done += 1
    progress("writing alert evidence", done, len(full_ids))
    return links


def begin_evidence(root: Path, final: Path, result: RunResult, summary: dict, store: PixelStore,
                   bands: list[str], private_key, progress) -> PendingEvidence:
    """Hash the inputs and write the per-alert evidence into ``root/evidence`` (``root`` is the run's
    staging folder, to be published at ``final``)."""
    from minewatch.evidence.signing import key_id

    root, final = Path(root), Path(final)
    evidence = root / EVIDENCE_DIR
    evidence.mkdir(parents=True, exist_ok=True)
    progress("hashing inputs", 0, 1)
    base, inputs = record_inputs(result, root, final, bands, evidence)
    manifest = new_manifest(result.request, base, inputs, bands)
    manifest["items_used"] = [it.id for it in result.items]
    progress("hashing inputs", 1, 1)
    t = Translator(result.request.evidence.lang)
    sheets = write_alert_evidence(evidence / "alerts", result, summary, store, t, progress)
    signer = key_id(private_key.public_key()) if private_key is not None else None
    return PendingEvidence(root, final, manifest, signer, private_key, sheets)


def finish_evidence(pending: PendingEvidence, outputs: list[str]) -> dict:
    """Write the manifest over ``outputs`` (paths in the run folder) and every evidence file; sign it
    when a key was given. Returns the manifest."""
    from minewatch.evidence.signing import sign_bytes

    run_dir = pending.root
    evidence = run_dir / EVIDENCE_DIR
    files = list(outputs)
    for path in sorted(evidence.rglob("*")):
        if path.is_file() and not (path.parent == evidence and path.name in (MANIFEST, DIGEST, SIGNATURE)):
            files.append(path.relative_to(run_dir).as_posix())
    manifest = pending.manifest
    manifest["outputs"] = [output_record(run_dir, rel) for rel in files]
    data = manifest_bytes(manifest)
    write_text(evidence / MANIFEST, data.decode("utf-8"))
    write_text(evidence / DIGEST, f"{sha256_bytes(data)}  {MANIFEST}\n")
    sig = evidence / SIGNATURE
    if pending.private_key is not None:
        write_text(sig, json.dumps(sign_bytes(data, pending.private_key, MANIFEST), indent=1) + "\n")
    elif sig.exists():
        sig.unlink()
    return manifest
