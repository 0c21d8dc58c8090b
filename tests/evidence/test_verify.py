"""`minewatch verify`: untouched runs pass; one changed byte anywhere fails, naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


from minewatch.cli.main import main
from minewatch.run import verify_run
from minewatch.evidence.hashing import sha256_bytes


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def verify_cli(capsys, *args: str) -> tuple[int, str]:
    rc = main(["verify", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_untouched_run_verifies_with_rerun_and_names_signer(signed_run, capsys):
    from minewatch.evidence.signing import key_id, load_public_key

    rc, text = verify_cli(capsys, signed_run.run)
    assert rc == 0, text
    assert "verified" in text and "re-run matches" in text
    assert key_id(load_public_key(signed_run.key.with_name("key.pub"))) in text


def test_one_byte_in_an_output_fails_naming_it(run_copy, capsys):
    flip_byte(run_copy / "confidence.tif", 200)
    findings = run_copy.parent / "findings.json"
    rc, text = verify_cli(capsys, run_copy, "--no-rerun", "--json", findings)
    assert rc == 2
    assert "confidence.tif" in text and "output changed" in text
    assert "verification FAILED" in text
    record = json.loads(findings.read_text())
    assert record["ok"] is False
    assert [f["subject"] for f in record["findings"] if f["level"] == "fail"] == ["confidence.tif"]


def test_one_byte_in_an_evidence_file_fails_naming_it(run_copy, capsys):
    sheet = run_copy / "evidence" / "alerts" / "A0002" / "timeseries.csv"
    flip_byte(sheet)
    rc, text = verify_cli(capsys, run_copy, "--no-rerun")
    assert rc == 2 and "evidence/alerts/A0002/timeseries.csv" in text


def test_one_byte_in_an_input_fails_naming_it(run_copy, capsys):
    manifest = json.loads((run_copy / "evidence" / "manifest.json").read_text())
    asset = [e for e in manifest["inputs"] if e["role"] == "asset" and e["date"] > "2021-06-01"][0]
    target = run_copy / asset["path"]
    assert target.resolve().is_relative_to(run_copy.parent / "scene")  # the copy's input, not the original
    flip_byte(target, target.stat().st_size - 40)
    report = verify_run(run_copy)
    assert not report.ok
    messages = [f"{f.subject}: {f.message}" for f in report.failures]
    assert any(asset["base_path"] in m and "input changed" in m for m in messages), messages
    rc, text = verify_cli(capsys, run_copy, "--no-rerun")
    assert rc == 2 and asset["base_path"] in text


def test_one_byte_in_the_manifest_fails_naming_it(run_copy, capsys):
    path = run_copy / "evidence" / "manifest.json"
    raw = path.read_bytes()
    i = raw.index(b'"created": "') + len(b'"created": "') + 3  # a digit of the creation year
    flip_byte(path, i)
    rc, text = verify_cli(capsys, run_copy, "--no-rerun")
    assert rc == 2
    assert "manifest.json" in text and "manifest was altered" in text
    assert "signature does NOT match" in text


def test_rewritten_manifest_with_fresh_hash_is_caught_by_signature_and_rerun(run_copy):
    """A forger changes a parameter and recomputes the digest (but holds no key): the signature fails,
    and the re-run, done with the forged parameter, no longer reproduces the outputs."""
    ev = run_copy / "evidence"
    manifest = json.loads((ev / "manifest.json").read_text())
    manifest["request"]["disturbance"]["min_area_px"] = 95  # pit B (90 px) would fall back to possible
    from minewatch.evidence.manifest import manifest_bytes

    data = manifest_bytes(manifest)
    (ev / "manifest.json").write_bytes(data)
    (ev / "manifest.json.sha256").write_text(f"{sha256_bytes(data)}  manifest.json\n")
    report = verify_run(run_copy)
    subjects = {f.subject for f in report.failures}
    assert "evidence/manifest.json.sig" in subjects
    assert "alerts.geojson" in subjects and "alert_level.tif" in subjects
    level = next(f.message for f in report.failures if f.subject == "alert_level.tif")
    assert "pixels differ" in level and "must match exactly" in level


def test_copied_folder_verifies_on_another_machine(signed_run, tmp_path, capsys):
    """The run and its inputs copied elsewhere (original gone from view): relative paths resolve."""
    other = tmp_path / "elsewhere" / "case-17"
    shutil.copytree(signed_run.base / "scene", other / "scene")
    shutil.copytree(signed_run.run, other / "run")
    report = verify_run(other / "run")
    assert report.ok, [f"{f.subject}: {f.message}" for f in report.failures]
    assert report.rerun_done
    # the copy was used, not the originals
    assert report.checked_inputs == len(json.loads((other / "run/evidence/manifest.json").read_text())["inputs"])


def test_inputs_root_when_inputs_travel_separately(signed_run, tmp_path, capsys):
    """Only the run folder moved; its inputs sit under another root: --inputs-root re-roots them."""
    shutil.copytree(signed_run.run, tmp_path / "runs" / "deep" / "r1")
    shutil.copytree(signed_run.base / "scene", tmp_path / "inputs")
    rc, text = verify_cli(capsys, tmp_path / "runs" / "deep" / "r1", "--inputs-root", tmp_path / "inputs",
                          "--no-rerun")
    assert rc == 0, text
    # with a damaged copy under the inputs root, the re-rooted file is the one checked
    (tmp_path / "inputs" / "licences.geojson").write_text("{}")
    rc, text = verify_cli(capsys, tmp_path / "runs" / "deep" / "r1", "--inputs-root", tmp_path / "inputs",
                          "--no-rerun")
    assert rc == 2 and "licences.geojson" in text


def test_missing_input_is_reported_with_where_it_was_looked_for(signed_run, tmp_path, capsys):
    shutil.copytree(signed_run.run, tmp_path / "lonely" / "run")
    manifest_path = tmp_path / "lonely" / "run" / "evidence" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    rec = next(e for e in manifest["inputs"] if e["role"] == "receptors")
    Path(rec["abs_path"]).rename(Path(rec["abs_path"]).with_suffix(".moved"))
    try:
        report = verify_run(tmp_path / "lonely" / "run")
    finally:
        Path(rec["abs_path"]).with_suffix(".moved").rename(rec["abs_path"])
    msgs = [f.message for f in report.failures if "receptors.geojson" in f.subject]
    assert msgs and "input not found; looked at" in msgs[0]
    assert any(f.subject == "re-run" for f in report.failures)


def test_signature_checks(signed_run, run_copy, tmp_path, capsys):
    # a foreign trusted key: the run is validly signed, but not by that key
    other = tmp_path / "other"
    assert main(["keys", "generate", str(other)]) == 0
    capsys.readouterr()
    rc, text = verify_cli(capsys, run_copy, "--no-rerun", "--trusted-key", f"{other}.pub")
    assert rc == 2 and "not a trusted key" in text
    rc, text = verify_cli(capsys, run_copy, "--no-rerun", "--trusted-key", signed_run.key.with_name("key.pub"))
    assert rc == 0, text
    # a damaged signature file fails loudly
    sig = run_copy / "evidence" / "manifest.json.sig"
    record = json.loads(sig.read_text())
    record["signature"] = record["signature"][:10] + ("A" if record["signature"][10] != "A" else "B") + \
        record["signature"][11:]
    sig.write_text(json.dumps(record))
    rc, text = verify_cli(capsys, run_copy, "--no-rerun")
    assert rc == 2 and "signature does NOT match" in text
    # unsigned + --require-signature
    sig.unlink()
    rc, text = verify_cli(capsys, run_copy, "--no-rerun")
    assert rc == 0 and "not signed" in text
    rc, text = verify_cli(capsys, run_copy, "--no-rerun", "--require-signature")
    assert rc == 2 and "not signed" in text


def test_verify_errors_are_clear(tmp_path, capsys):
    rc, text = verify_cli(capsys, tmp_path / "nope")
    assert rc == 2 and "not a folder" in text
    (tmp_path / "empty").mkdir()
    rc, text = verify_cli(capsys, tmp_path / "empty")
    assert rc == 2 and "no evidence manifest" in text


def test_analyze_refuses_bad_key_and_language_before_running(signed_run, tmp_path, capsys):
    sc = signed_run.scene
    base = ["analyze", str(sc.catalog), "--licences", str(sc.licences), "--start", "2020-01-01",
            "--end", "2021-12-31", "--out", str(tmp_path / "out")]
    (tmp_path / "notakey").write_text("hello")
    assert main([*base, "--sign", str(tmp_path / "notakey")]) == 2
    assert "not an unencrypted PEM private key" in capsys.readouterr().err
    assert main([*base, "--lang", "xx"]) == 2
    assert "--lang 'xx' is not available" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing was run or written


def test_rerun_on_a_gpu_backend_is_refused_in_one_line(signed_run):
    """The sequential monitor runs on the CPU only: asking the re-run for a GPU is a clear failure."""
    report = verify_run(signed_run.run, backend="gpu")
    assert not report.ok
    assert any("runs on the CPU only" in f.message for f in report.failures)

