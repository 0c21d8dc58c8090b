"""``minewatch verify DIR``: re-check a run from its manifest.

Checks, in order, each failure naming the file concerned:

1. the manifest's own SHA-256 against ``evidence/manifest.json.sha256``;
2. the Ed25519 signature when present (and the signer against trusted keys when given);
3. every output file's SHA-256 against the manifest;
4. every input file (STAC documents, band files, licences, receptors, DEM): found
   (beside the run, at its recorded path, or under ``--inputs-root``) and of the recorded SHA-256;
5. a re-run of the analysis from the manifest's parameters and the located inputs (done by the
   application layer, :func:`minewatch.run.verify.verify_run`), compared here with the recorded
   outputs by :func:`compare_rerun`: integer/categorical outputs exactly, floating-point ones
   within the manifest's tolerances (see :mod:`minewatch.evidence.compare`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from minewatch import __version__
from minewatch.errors import MinewatchError, NetworkError
from minewatch.evidence.writer import STANDARD_OUTPUTS
from minewatch.evidence import compare
from minewatch.evidence.hashing import sha256_bytes, sha256_file
from minewatch.evidence.manifest import DIGEST, EVIDENCE_DIR, MANIFEST, SIGNATURE, is_remote, load_manifest


@dataclass
class Finding:
    """One result of a check: ``ok``, ``warn`` or ``fail``, about ``subject`` (a file or a topic)."""

    level: str
    subject: str
    message: str


@dataclass
class VerifyReport:
    """Everything ``verify`` found."""

    run_dir: Path
    findings: list[Finding] = field(default_factory=list)
    signer: dict | None = None
    rerun_done: bool = False
    checked_inputs: int = 0
    checked_outputs: int = 0

    def add(self, level: str, subject: str, message: str) -> None:
        self.findings.append(Finding(level, subject, message))

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "fail"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "ok": self.ok, "signer": self.signer,
                "rerun_done": self.rerun_done, "checked_inputs": self.checked_inputs,
                "checked_outputs": self.checked_outputs,
                "findings": [f.__dict__ for f in self.findings]}


class FileHasher:
    """SHA-256 of files, each hashed once."""

    def __init__(self) -> None:
        self.cache: dict[str, str] = {}

    def __call__(self, path: Path) -> str:
        key = str(Path(path).resolve())
        if key not in self.cache:
            self.cache[key] = sha256_file(path)[0]
        return self.cache[key]


def candidates(entry: dict, run_dir: Path, inputs_root: Path | None) -> list[Path]:
    """Where an input may be now, in order of preference: under ``inputs_root``, beside the run (its path
    relative to the run folder), at its recorded absolute path. The first that exists is used."""
    out: list[Path] = []
    if inputs_root is not None and entry.get("base_path"):
        out.append(Path(inputs_root) / entry["base_path"])
    if entry.get("path"):
        out.append(run_dir / entry["path"])
    if entry.get("abs_path"):
        out.append(Path(entry["abs_path"]))
    seen, unique = set(), []
    for p in out:
        key = os.path.normpath(str(p))
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def locate_inputs(manifest: dict, run_dir: Path, inputs_root: Path | None, report: VerifyReport,
                  hasher: FileHasher, progress, refetch_dir: Path | None = None) -> dict[int, Path]:
    """Find and hash every input; return ``{index in manifest["inputs"]: located path}`` of those found.

    With ``refetch_dir``, a missing band file of a fetched catalog is read again from its source
    (see :mod:`minewatch.evidence.refetch`) into that folder.
    """
    located: dict[int, Path] = {}
    inputs = manifest["inputs"]
    order = sorted(range(len(inputs)), key=lambda k: inputs[k]["role"] == "asset")  # STAC documents first
    assets_by_path: dict[str, dict] | None = None
    dead_hosts: dict[str, str] = {}
    for n, i in enumerate(order):
        entry = inputs[i]
        progress("checking inputs", n, len(inputs))
        label = _input_label(entry)
        if entry.get("href") and is_remote(entry["href"]):
            report.add("warn", label, f"remote input {entry['href']}: not hashed at run time, read again by href")
            continue
        tried = candidates(entry, run_dir, inputs_root)
        existing = [p for p in tried if p.is_file()]
        if not existing and refetch_dir is not None and entry["role"] == "asset" and entry.get("abs_path"):
            from minewatch.evidence.refetch import asset_index, refetch_asset

            if assets_by_path is None:
                assets_by_path = asset_index(manifest, located)
            asset = assets_by_path.get(os.path.normpath(entry["abs_path"]))
            if asset is not None and asset.get("minewatch:source_href"):
                source = asset["minewatch:source_href"]
                host = urlsplit(source).netloc or "local"
                try:
                    if host in dead_hosts:  # do not wait for retries again on every file of a dead source
                        raise MinewatchError(f"{dead_hosts[host]} (not tried again for {source})")
                    existing = [refetch_asset(asset, refetch_dir / f"{i:06d}" / Path(entry["abs_path"]).name)]
                    report.add("ok", label, f"not found locally; re-fetched from {source}")
                except MinewatchError as exc:
                    if isinstance(exc, NetworkError):
                        dead_hosts[host] = str(exc)
                    report.add("fail", label, "input not found; looked at " + ", ".join(str(p) for p in tried)
                               + f"; re-fetching failed: {exc}")
                    continue
        if not existing:
            report.add("fail", label, "input not found; looked at " + ", ".join(str(p) for p in tried)
                       + " (copy the inputs beside the run folder as they were, or pass --inputs-root)")
            continue
        p = existing[0]  # the first place that has it is the input, whatever other copies say
        located[i] = p
        if hasher(p) != entry["sha256"]:
            report.add("fail", label, f"input changed: {p} has SHA-256 {hasher(p)}, the manifest records "
                       f"{entry['sha256']}")
            continue
        report.checked_inputs += 1
    progress("checking inputs", len(inputs), len(inputs))
    return located


def _input_label(entry: dict) -> str:
    name = entry.get("base_path") or entry.get("path") or entry.get("href")
    if entry["role"] == "asset":
        return f"input {name} ({entry.get('item_id')} {entry.get('band')})"
    return f"input {name} ({entry['role']})"


def check_manifest(run_dir: Path, raw: bytes, report: VerifyReport, trusted: list, require_signature: bool) -> None:
    """The manifest's own hash and signature."""
    from minewatch.evidence.signing import check_signature, key_id, public_key_text

    ev = run_dir / EVIDENCE_DIR
    subject = f"{EVIDENCE_DIR}/{MANIFEST}"
    digest_path = ev / DIGEST
    actual = sha256_bytes(raw)
    if not digest_path.exists():
        report.add("fail", subject, f"{EVIDENCE_DIR}/{DIGEST} is missing: the manifest's own hash cannot be checked")
    else:
        recorded = digest_path.read_text(encoding="utf-8", errors="replace").split()
        if not recorded or recorded[0] != actual:
            report.add("fail", subject, f"the manifest was altered: its SHA-256 is {actual}, {EVIDENCE_DIR}/{DIGEST} "
                       f"records {recorded[0] if recorded else 'nothing'}")
        else:
            report.add("ok", subject, f"manifest SHA-256 {actual} matches {DIGEST}")
    sig_path = ev / SIGNATURE
    if sig_path.exists():
        try:
            record = check_signature(raw, sig_path)
        except MinewatchError as exc:
            report.add("fail", f"{EVIDENCE_DIR}/{SIGNATURE}", str(exc))
            return
        report.signer = {"key_id": record["key_id"], "public_key": record["public_key"]}
        report.add("ok", f"{EVIDENCE_DIR}/{SIGNATURE}",
                   f"valid Ed25519 signature by key {record['key_id']} (public key {record['public_key']})")
        if trusted:
            ids = {key_id(k) for k in trusted}
            if record["key_id"] not in ids:
                report.add("fail", f"{EVIDENCE_DIR}/{SIGNATURE}",
                           f"signed by key {record['key_id']}, which is not a trusted key (trusted: "
                           + ", ".join(f"{key_id(k)} {public_key_text(k)}" for k in trusted) + ")")
    elif require_signature or trusted:
        report.add("fail", f"{EVIDENCE_DIR}/{SIGNATURE}", "the manifest is not signed, and a signature was required")
    else:
        report.add("warn", f"{EVIDENCE_DIR}/{SIGNATURE}", "the manifest is not signed: anyone could have rewritten "
                   "it together with its hash")


def check_outputs(manifest: dict, run_dir: Path, report: VerifyReport, hasher: FileHasher) -> None:
    listed = set()
    for out in manifest.get("outputs", []):
        rel = out["path"]
        listed.add(rel)
        path = run_dir / rel
        if not path.is_file():
            report.add("fail", rel, "output missing from the run folder")
            continue
        actual = hasher(path)
        if actual != out["sha256"]:
            report.add("fail", rel, f"output changed: SHA-256 is {actual}, the manifest records {out['sha256']}")
        else:
            report.checked_outputs += 1
    ev = run_dir / EVIDENCE_DIR
    own = {f"{EVIDENCE_DIR}/{n}" for n in (MANIFEST, DIGEST, SIGNATURE)}
    extra = []
    for path in sorted(ev.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if path.is_file() and rel not in listed and rel not in own:
            extra.append(rel)
    for name in (*STANDARD_OUTPUTS, "report.pdf"):
        if (run_dir / name).is_file() and name not in listed:
            extra.append(name)
    for rel in extra:
        report.add("warn", rel, "file not covered by the manifest (added after the run?)")


def relocated_catalog(manifest: dict, located: dict[int, Path], workdir: Path) -> Path:
    """An item collection of the run's items whose asset hrefs point at the located band files."""
    inputs = manifest["inputs"]
    asset_paths = {e["abs_path"]: located[i] for i, e in enumerate(inputs)
                   if e["role"] == "asset" and i in located and e.get("abs_path")}
    used = set(manifest.get("items_used") or [e["item_id"] for e in inputs if e["role"] == "asset"])
    features = []
    for i, e in enumerate(inputs):
        if e["role"] not in ("catalog", "stac") or i not in located:
            continue
        doc = json.loads(located[i].read_text(encoding="utf-8"))
        orig_dir = Path(e["abs_path"]).parent
        items = [doc] if doc.get("type") == "Feature" else (
            doc.get("features", []) if doc.get("type") == "FeatureCollection" else [])
        for item in items:
            if str(item.get("id")) not in used:
                continue
            for asset in (item.get("assets") or {}).values():
                href = asset.get("href")
                if not href or is_remote(href):
                    continue
                original = Path(href) if Path(href).is_absolute() else orig_dir / href
                key = str(original.resolve()) if original.exists() else os.path.normpath(str(original))
                target = asset_paths.get(key) or asset_paths.get(os.path.normpath(str(original)))
                if target is not None:
                    asset["href"] = str(Path(target).resolve())
                elif not Path(href).is_absolute():
                    asset["href"] = str((located[i].parent / href).resolve())
            item["links"] = []
            features.append(item)
    path = workdir / "catalog.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def compare_rerun(manifest: dict, run_dir: Path, rerun_dir: Path, report: VerifyReport,
                  backend: str | None = None) -> None:
    tol = manifest.get("tolerances", {})
    recorded_backend = manifest["request"]["backend"]
    other_backend = backend is not None and backend != recorded_backend
    if other_backend:
        report.add("ok", "re-run", f"re-run on backend {backend!r}; the run used {recorded_backend!r} "
                   f"({manifest['environment']['change_engine'].get('resolved')})")
    for out in manifest.get("outputs", []):
        rel = out["path"]
        check = out.get("check", "integrity")
        if check == "integrity":
            continue
        recorded = run_dir / rel
        fresh = rerun_dir / rel
        if not recorded.is_file():
            continue  # already reported missing
        if not fresh.is_file():
            report.add("fail", rel, "the re-run did not produce this file")
            continue
        if check == "exact":
            diffs = compare.compare_raster(recorded, fresh, rel, None)
        elif check == "tolerance":
            diffs = compare.compare_raster(recorded, fresh, rel, tol.get("confidence", 1e-4))
        elif check == "alerts":
            diffs = compare.compare_alerts(recorded, fresh, tol)
        else:
            diffs = compare.compare_summary(recorded, fresh, tol, other_backend)
        for d in diffs:
            report.add("fail", rel, f"re-run differs: {d}")
        if not diffs:
            how = {"exact": "identical values", "tolerance": f"equal within {tol.get('confidence', 1e-4):g}",
                   "alerts": "same alerts", "summary": "same results"}[check]
            report.add("ok", rel, f"re-run reproduces it ({how})")


def check_recorded(run_dir: Path, report: VerifyReport, *, inputs_root: Path | None, trusted_keys: list,
                   require_signature: bool, progress, refetch_dir: Path | None) -> tuple[dict, dict[int, Path]] | None:
    """Checks 1-4 of the module docstring; returns the manifest and the located inputs, or ``None``
    when there is no readable manifest (the report says why)."""
    try:
        manifest, raw = load_manifest(run_dir)
    except MinewatchError as exc:
        report.add("fail", f"{EVIDENCE_DIR}/{MANIFEST}", str(exc))
        return None
    check_manifest(run_dir, raw, report, list(trusted_keys or []), require_signature)
    recorded_version = manifest.get("environment", {}).get("minewatch", {}).get("version")
    if recorded_version != __version__:
        report.add("warn", "software", f"the run was made with minewatch {recorded_version}; this is {__version__}")
    hasher = FileHasher()
    check_outputs(manifest, run_dir, report, hasher)
    located = locate_inputs(manifest, run_dir, inputs_root, report, hasher, progress, refetch_dir=refetch_dir)
    return manifest, located
