"""``minewatch verify DIR``: re-check a run's evidence (hashes, signature, re-run)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.text import Text

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.cli.progress import rich_progress
from minewatch.errors import InputError, VerificationError

STYLE = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}


@app.command()
def verify(
    run_dir: Path = typer.Argument(..., help="Run folder written by `minewatch analyze` (holds evidence/)."),
    inputs_root: Path = typer.Option(None, "--inputs-root", help="Folder holding the inputs as they were under "
                                     "the manifest's inputs_base (when they moved)."),
    no_rerun: bool = typer.Option(False, "--no-rerun", help="Check hashes and signature only; do not re-run."),
    no_refetch: bool = typer.Option(False, "--no-refetch", help="Do not re-fetch missing band files of fetched "
                                    "catalogs from their recorded source."),
    backend: str = typer.Option(None, "--backend", help="Backend of the re-run (default: the recorded one), "
                                "e.g. gpu to check a CPU run on a GPU."),
    trusted_key: list[str] = typer.Option(None, "--trusted-key", help="Public key file (or base64) the "
                                           "signature must come from; repeatable."),
    require_signature: bool = typer.Option(False, "--require-signature", help="Fail if the manifest is unsigned."),
    json_out: Path = typer.Option(None, "--json", help="Also write the findings as JSON to this file."),
    keep_rerun: Path = typer.Option(None, "--keep-rerun", help="Keep the re-run's outputs in this folder."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List passed checks too."),
) -> None:
    """Verify a run: the manifest's hash and signature, every output and input hash, and a re-run
    of the analysis compared with the recorded outputs (integers exactly, floats within the stated
    tolerance). Exits 0 when everything matches, 2 with `error:` otherwise."""
    from minewatch.run.verify import verify_run
    from minewatch.evidence.signing import load_public_key

    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a folder", hint="pass the --out folder of `minewatch analyze`")
    keys = [load_public_key(k) for k in (trusted_key or [])]
    err = output.console(stderr=True)
    with rich_progress(err) as progress:
        report = verify_run(run_dir, inputs_root=inputs_root, rerun=not no_rerun, backend=backend,
                            trusted_keys=keys, require_signature=require_signature, keep_rerun=keep_rerun,
                            refetch=not no_refetch, progress=progress)
    out = output.console(soft_wrap=True)
    for f in report.findings:
        if f.level != "ok" or verbose:
            out.print(Text.assemble(STYLE[f.level], f" {f.subject}: {f.message}"))
    if json_out:
        json_out.write_text(json.dumps(report.to_dict(), indent=1), encoding="utf-8")
    signer = (f"signed by key {report.signer['key_id']} (public key {report.signer['public_key']})"
              if report.signer else "not signed")
    rerun = "re-run matches" if report.rerun_done and report.ok else (
        "re-run done" if report.rerun_done else "no re-run")
    if not report.ok:
        first = report.failures[0]
        raise VerificationError(
            f"verification FAILED for {run_dir}: {len(report.failures)} problem(s); first: {first.subject}: "
            f"{first.message}")
    out.print(Text.assemble(("verified", "bold green"), f" {run_dir}: {report.checked_outputs} outputs and "
                            f"{report.checked_inputs} inputs match their SHA-256; {rerun}; {signer}"))
