"""The evidence manifest: every input with its hash, every parameter, the software, every output.

Layout of a run folder (see docs/evidence.md)::

    DIR/disturbance_date.tif, alert_level.tif, confidence.tif, alerts.geojson, summary.json, report.html [, report.pdf]
    DIR/evidence/manifest.json           this record
    DIR/evidence/manifest.json.sha256    its own hash (``sha256sum -c`` format)
    DIR/evidence/manifest.json.sig       Ed25519 signature (when signed)
    DIR/evidence/alerts/A0001/...        per-alert chips, time series and sheet

Input paths are stored three ways so that a copied folder still verifies:
``path`` relative to the run folder, ``abs_path`` as it was, and ``base_path``
relative to ``inputs_base`` (the common folder of all local inputs), which
``minewatch verify --inputs-root`` re-roots.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict
from pathlib import Path


from minewatch import __version__
from minewatch.errors import VerificationError
from minewatch.evidence.hashing import git_commit, library_versions, sha256_file

MANIFEST_VERSION = 1
EVIDENCE_DIR = "evidence"
MANIFEST = "manifest.json"
DIGEST = "manifest.json.sha256"
SIGNATURE = "manifest.json.sig"

#: How each standard output is re-checked after a re-run (anything else: integrity = hash only).
OUTPUT_CHECKS = {
    "disturbance_date.tif": "exact",
    "alert_level.tif": "exact",
    "confidence.tif": "tolerance",
    "footprint.tif": "exact",
    "assessment.tif": "exact",
    "alerts.geojson": "alerts",
    "summary.json": "summary",
}
#: Absolute tolerance for floating-point outputs, stated in every manifest.
TOLERANCES = {
    "confidence": 1e-4,  # confidence.tif and alert mean confidence, 0..1
    "area_ha": 1e-6,  # areas (derived from pixel counts: exact in practice)
    "clear_share": 1e-3,  # per-scene clear share (rounded to 3 decimals)
    "coordinates_deg": 1e-9,  # alert polygon vertices, EPSG:4326
}


def is_remote(href: str) -> bool:
    return "://" in href or href.startswith("/vsi")


def stac_documents(catalog: Path) -> list[Path]:
    """The STAC JSON documents reachable from ``catalog`` (itself, collections, items), in walk order."""
    catalog = Path(catalog)
    if catalog.is_dir():
        for name in ("catalog.json", "collection.json"):
            if (catalog / name).exists():
                catalog = catalog / name
                break
    seen: list[Path] = []
    stack = [catalog.resolve()]
    while stack:
        path = stack.pop(0)
        if path in seen or not path.exists():
            continue
        seen.append(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if doc.get("type") in ("Catalog", "Collection"):
            for link in doc.get("links", []):
                href = link.get("href")
                if link.get("rel") in ("item", "child") and href and not is_remote(href):
                    stack.append((path.parent / href).resolve())
    return seen


class InputRecorder:
    """Collects input records, hashing each local file once.

    Paths are recorded relative to the run folder ``root`` (where the run is being written) and
    absolute as they will be once the run is published at ``final`` (a sibling of ``root``, so
    the relative paths of inputs outside the run are the same from both).
    """

    def __init__(self, root: Path, final: Path | None = None) -> None:
        self.run_dir = Path(root).resolve()
        self.final = Path(final).resolve() if final is not None else self.run_dir
        self.entries: list[dict] = []
        self._hashes: dict[str, tuple[str, int]] = {}

    def _hash(self, path: Path) -> tuple[str, int]:
        key = str(path)
        if key not in self._hashes:
            self._hashes[key] = sha256_file(path)
        return self._hashes[key]

    def add(self, role: str, path_or_href: str | Path, **extra) -> dict:
        href = str(path_or_href)
        entry: dict = {"role": role, **extra}
        if is_remote(href):
            entry.update(href=href, path=None, abs_path=None, sha256=None, bytes=None,
                         note="remote asset: not hashed, re-fetched by href")
        else:
            path = Path(href).resolve()
            digest, size = self._hash(path)
            rel = os.path.relpath(path, self.run_dir)
            shown = self.final / rel if path.is_relative_to(self.run_dir) else path
            entry.update(path=rel, abs_path=str(shown), sha256=digest, bytes=size)
        self.entries.append(entry)
        return entry

    def finish(self) -> tuple[str | None, list[dict]]:
        """Set ``base_path`` on every local entry; return the common base folder and the entries."""
        local = [e["abs_path"] for e in self.entries if e.get("abs_path")]
        if not local:
            return None, self.entries
        base = os.path.commonpath([os.path.dirname(p) for p in local])
        for e in self.entries:
            if e.get("abs_path"):
                e["base_path"] = os.path.relpath(e["abs_path"], base)
        return base, self.entries


def record_inputs(result, root: Path, final: Path, bands: list[str], evidence: Path) -> tuple[str | None, list[dict]]:
    """Hash every input of the run: STAC documents, the assets read, licences, receptors, DEM, samples.

    ``root`` is where the run is being written, ``final`` where it will be published. Licences or
    receptors taken from a registry are written to ``evidence/inputs/`` as JSON first
    (:func:`minewatch.analysis.licences.periods_to_doc`), so the run can be re-done from the
    evidence alone.
    """
    from minewatch.analysis.licences import periods_to_doc, receptors_to_doc
    from minewatch.atomic import write_text

    req = result.request
    rec = InputRecorder(root, final)
    docs = stac_documents(result.catalog)
    for i, doc in enumerate(docs):
        rec.add("catalog" if i == 0 else "stac", doc)
    for item in result.items:
        for band in bands:
            ref = item.assets.get(band)
            if ref is not None:
                rec.add("asset", ref.href, item_id=item.id, date=item.date.isoformat(), band=band)
    def saved_input(role: str, name: str, doc: dict, fmt: str) -> None:
        """An input that exists only in memory (from the registry): saved into the evidence."""
        target = evidence / "inputs" / name
        write_text(target, json.dumps(doc, indent=1, sort_keys=True))
        rec.add(role, target, format=fmt)

    if req.inputs.registry is not None:
        saved_input("licences", "licence_periods.json", periods_to_doc(result.periods), "licence_periods")
    else:
        rec.add("licences", req.inputs.licences, format="geojson")
    if req.inputs.receptors is not None:
        rec.add("receptors", req.inputs.receptors, format="geojson")
    elif req.inputs.registry is not None:
        saved_input("receptors", "receptors.json", receptors_to_doc(result.receptors), "receptor_list")
    if result.dem is not None:
        rec.add("dem", result.dem)
    if req.water.samples is not None:
        rec.add("samples", req.water.samples)
    return rec.finish()


def request_record(req) -> dict:
    """The parameters of a :class:`~minewatch.run.request.MonitoringRequest` (paths are in ``inputs``)."""
    return {
        "start": req.period.start.isoformat(),
        "end": req.period.end.isoformat(),
        "disturbance": req.detection.params.as_dict(),
        "tile_size": req.detection.tile_size,
        "backend": req.detection.backend,
        "max_flow_distance_m": req.detection.max_flow_distance_m,
        "lang": req.evidence.lang,
        "pdf": req.evidence.pdf,
        "samples_mapping": None if req.water.samples_mapping is None else str(req.water.samples_mapping),
        "standard": req.water.standard,
        "river_signal": req.water.river_signal,
        "site": req.site,
    }


def environment_record(backend: str) -> dict:
    env = library_versions(backend)
    env["minewatch"] = {"version": __version__, **git_commit()}
    return env


def output_record(run_dir: Path, rel: str) -> dict:
    digest, size = sha256_file(Path(run_dir) / rel)
    return {"path": rel, "sha256": digest, "bytes": size, "check": OUTPUT_CHECKS.get(rel, "integrity")}


def new_manifest(req, base: str | None, inputs: list[dict], bands: list[str]) -> dict:
    """A manifest of ``req`` (a :class:`~minewatch.run.request.MonitoringRequest`) without outputs
    (they are added once written)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tool": "minewatch analyze",
        "environment": environment_record(req.detection.backend),
        "request": request_record(req),
        "bands_read": bands,
        "hashing": "SHA-256 over every byte of each file (whole file, not only the windows read)",
        "inputs_base": base,
        "inputs": inputs,
        "tolerances": dict(TOLERANCES),
        "outputs": [],
    }


def manifest_bytes(manifest: dict) -> bytes:
    """The exact bytes written for a manifest (sorted keys, UTF-8, final newline)."""
    return (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def load_manifest(run_dir: Path) -> tuple[dict, bytes]:
    """Read ``DIR/evidence/manifest.json``; raise :class:`VerificationError` when absent or unreadable."""
    path = Path(run_dir) / EVIDENCE_DIR / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise VerificationError(f"{path}: no evidence manifest",
                                hint="verify a folder written by `minewatch analyze` (it holds evidence/)") from None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise VerificationError(f"{path}: the manifest is not valid JSON ({exc}); it was altered or "
                                f"damaged") from None
    if not isinstance(manifest, dict) or manifest.get("manifest_version") != MANIFEST_VERSION:
        raise VerificationError(f"{path}: unknown manifest version {manifest.get('manifest_version')!r}"
                                if isinstance(manifest, dict) else f"{path}: not a manifest object")
    return manifest, raw


def params_from_dict(d: dict):
    """Rebuild :class:`DisturbanceParams` from :meth:`DisturbanceParams.as_dict`."""
    from minewatch.analysis.disturbance import DisturbanceParams

    return DisturbanceParams.from_dict(d)


def check_params_roundtrip(params) -> bool:
    return asdict(params) == asdict(params_from_dict(params.as_dict()))
