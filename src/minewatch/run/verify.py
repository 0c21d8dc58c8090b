"""The verify use case: re-check a run folder from its manifest, and re-run the analysis.

Checks 1-4 (manifest hash and signature, outputs' and inputs' hashes) and the comparison of the
re-run's outputs are :mod:`minewatch.evidence.verify`'s; this module rebuilds the run's
:class:`~minewatch.run.request.MonitoringRequest` from the manifest and runs it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from minewatch.errors import MinewatchError
from minewatch.evidence.manifest import is_remote, params_from_dict
from minewatch.evidence.verify import VerifyReport, check_recorded, compare_rerun, relocated_catalog
from minewatch.run.request import (DetectionOptions, EvidenceOptions, MonitoringRequest, Period, Progress,
                                   RunInputs, WaterOptions, no_progress)


def rebuild_request(manifest: dict, located: dict[int, Path], workdir: Path, backend: str | None
                    ) -> MonitoringRequest:
    """The request of the recorded run, over the located inputs, writing into ``workdir/rerun``."""
    r = manifest["request"]
    by_role: dict[str, Path] = {}
    for i, e in enumerate(manifest["inputs"]):
        if e["role"] in ("licences", "receptors", "dem", "samples") and i in located:
            by_role[e["role"]] = located[i]
    water = {k: r[k] for k in ("standard", "river_signal") if r.get(k) is not None}
    if "samples" in by_role:
        water.update(samples=by_role["samples"], samples_mapping=r.get("samples_mapping"))
    return MonitoringRequest(
        inputs=RunInputs(catalog=relocated_catalog(manifest, located, workdir), licences=by_role.get("licences"),
                         receptors=by_role.get("receptors"), dem=by_role.get("dem")),
        period=Period(dt.date.fromisoformat(r["start"]), dt.date.fromisoformat(r["end"])),
        out=workdir / "rerun",
        site=r.get("site"),
        detection=DetectionOptions(params=params_from_dict(r["disturbance"]), tile_size=int(r["tile_size"]),
                                   backend=backend or r["backend"],
                                   max_flow_distance_m=float(r["max_flow_distance_m"])),
        water=WaterOptions(**water),
        evidence=EvidenceOptions(write=False),
    )


def verify_run(run_dir: str | Path, *, inputs_root: str | Path | None = None, rerun: bool = True,
               backend: str | None = None, trusted_keys: list | None = None, require_signature: bool = False,
               keep_rerun: str | Path | None = None, refetch: bool = True,
               progress: Progress | None = None) -> VerifyReport:
    """Verify a run folder written by ``minewatch analyze`` (see :mod:`minewatch.evidence.verify`).

    Parameters
    ----------
    run_dir : path
        The run folder (holding ``evidence/manifest.json``).
    inputs_root : path, optional
        Folder holding the inputs as they were under the manifest's ``inputs_base``.
    rerun : bool
        Re-run the analysis and compare (default); False checks hashes and signature only.
    backend : str, optional
        Change-engine backend for the re-run (default: the recorded one), e.g. to compare CPU and GPU.
    trusted_keys : list of Ed25519 public keys, optional
        The signature must be by one of them.
    require_signature : bool
        Fail when the manifest is not signed.
    keep_rerun : path, optional
        Write the re-run's outputs there (default: a temporary folder, removed).
    refetch : bool
        Re-fetch band files of fetched catalogs that are missing here from their recorded source.
    """
    from minewatch.run.monitoring import run_monitoring

    progress = progress or no_progress
    run_dir = Path(run_dir)
    report = VerifyReport(run_dir)
    workdir = Path(keep_rerun) if keep_rerun else Path(tempfile.mkdtemp(prefix="minewatch-verify-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        found = check_recorded(run_dir, report, inputs_root=Path(inputs_root) if inputs_root else None,
                               trusted_keys=list(trusted_keys or []), require_signature=require_signature,
                               progress=progress, refetch_dir=workdir / "refetched" if refetch else None)
        if found is None:
            return report
        manifest, located = found
        if not rerun:
            report.add("warn", "re-run", "skipped (--no-rerun): only hashes and the signature were checked")
            return report
        missing = [e for i, e in enumerate(manifest["inputs"])
                   if i not in located and not is_remote(e.get("href") or "")]
        if missing:
            report.add("fail", "re-run", f"not possible: {len(missing)} input(s) not found")
            return report
        try:
            req = rebuild_request(manifest, located, workdir, backend)
            run_monitoring(req, progress)
        except MinewatchError as exc:
            report.add("fail", "re-run", f"the analysis could not be re-run: {exc}")
            return report
        report.rerun_done = True
        compare_rerun(manifest, run_dir, req.out, report, backend)
    finally:
        if not keep_rerun:
            shutil.rmtree(workdir, ignore_errors=True)
    return report
