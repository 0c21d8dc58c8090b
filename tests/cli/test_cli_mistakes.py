"""Ordinary mistakes on the command line: a usage message or one `error:` line, exit 2, never a traceback.

Each mistake runs three ways: through the installed console script in a subprocess (what a
user types), through typer's ``CliRunner`` on the app, and through :func:`main` in process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import minewatch
from minewatch.cli.main import app, main, register_commands
from minewatch.cli.output import print_error
from minewatch.errors import BackendUnavailableError

#: (arguments, what the message must say). Paths under {tmp} are filled in per test.
MISTAKES = [
    pytest.param(["analyze", "--licences", "l.geojson", "--end", "2024-12-31", "--out", "o"],
                 ["Usage: minewatch analyze", "Missing option", "--start"], id="missing-required-option"),
    pytest.param(["analyze", "cat.json", "--bogus"], ["Usage: minewatch analyze", "No such option", "--bogus"],
                 id="unknown-option"),
    pytest.param(["analize", "cat.json"], ["Usage: minewatch", "No such command", "analize"],
                 id="misspelled-command"),
    pytest.param(["registry", "lst"], ["Usage: minewatch registry", "No such command", "lst"],
                 id="misspelled-subcommand"),
    pytest.param(["demo", "--seed", "seven"], ["Usage: minewatch demo", "Invalid value", "--seed"],
                 id="bad-option-value"),
    pytest.param(["samples", "import", "lab.csv", "--out", "o", "--nondetect", "median"],
                 ["Usage: minewatch samples import", "Invalid value", "--nondetect", "half"], id="bad-choice"),
    pytest.param(["ingest"], ["Usage: minewatch ingest", "Missing argument"], id="missing-argument"),
    pytest.param(["analyze", "{tmp}/minewatch[gpu]/catalog.json", "--licences", "l.geojson", "--start",
                  "2020-01-01", "--end", "2024-12-31", "--out", "{tmp}/out"],
                 ["error: CATALOG: file not found:", "{tmp}/minewatch[gpu]/catalog.json"],
                 id="minewatch-error-with-brackets-in-path"),
]


def _fill(items: list[str], tmp: Path) -> list[str]:
    return [s.replace("{tmp}", str(tmp)) for s in items]


def _check(code: int, output: str, needles: list[str]) -> None:
    assert code == 2, output
    assert "Traceback" not in output, output
    flat = " ".join(output.replace("│", " ").split())  # rich panels wrap long messages
    for needle in needles:
        assert " ".join(needle.split()) in flat, (needle, output)


def _console_script() -> Path:
    script = Path(sys.executable).with_name("minewatch")
    assert script.exists(), f"the minewatch console script is not installed beside {sys.executable}"
    return script


@pytest.mark.parametrize("args, needles", MISTAKES)
def test_console_script(args, needles, tmp_path):
    src = str(Path(minewatch.__file__).resolve().parents[1])  # the package under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.run([str(_console_script()), *_fill(args, tmp_path)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120, check=False)
    _check(proc.returncode, proc.stdout + proc.stderr, _fill(needles, tmp_path))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, needles", MISTAKES)
def test_cli_runner(args, needles, tmp_path):
    register_commands()
    result = CliRunner().invoke(app, _fill(args, tmp_path), prog_name="minewatch")
    _check(result.exit_code, result.output, _fill(needles, tmp_path))


@pytest.mark.parametrize("args, needles", MISTAKES)
def test_main(args, needles, tmp_path, capsys):
    code = main(_fill(args, tmp_path))
    captured = capsys.readouterr()
    _check(code, captured.out + captured.err, _fill(needles, tmp_path))


def test_no_arguments_shows_help_without_traceback(capsys):
    code = main([])
    captured = capsys.readouterr()
    assert code in (0, 2)  # click 8.2+ exits 2 for a bare group, older click 0
    assert "Traceback" not in captured.out + captured.err
    assert "analyze" in captured.out + captured.err


def test_error_text_is_printed_literally(capsys):
    print_error(BackendUnavailableError("--backend gpu: torch with CUDA is not installed [needs a GPU]",
                                        hint="pip install 'minewatch[gpu]'"))
    err = capsys.readouterr().err
    assert err.strip() == ("error: --backend gpu: torch with CUDA is not installed [needs a GPU] "
                           "(hint: pip install 'minewatch[gpu]')")
