"""Every figure the report shows is one named field of summary.json (the `data-field` of its element)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "evidence"))
from scene_builder import END, START, build_scene  # noqa: E402

from minewatch.cli.main import main  # noqa: E402
from minewatch.reports.i18n import Translator  # noqa: E402


@pytest.fixture(scope="module", params=["en", "es", "az"])
def small_run(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("fields")
    scene = build_scene(base / "scene")
    out = base / "run"
    assert main(["analyze", str(scene.catalog), "--licences", str(scene.licences), "--receptors",
                 str(scene.receptors), "--dem", str(scene.dem), "--start", START, "--end", END, "--out", str(out),
                 "--lang", request.param]) == 0
    return out, request.param


def _value(summary: dict, path: str):
    node = summary
    for part in path.split("."):
        if part == "length":
            return len(node)
        node = node[part]
    return node


def _shown(value, fmt: str | None, t: Translator) -> str:
    if value is None:
        return "—"
    if fmt == "percent":
        return t.num(100 * value, 1)
    if isinstance(value, float):
        return t.num(value, 2)
    return str(value)


def check_report_fields(run_dir, lang: str = "en") -> int:
    summary = json.loads((run_dir / "summary.json").read_text())
    html = (run_dir / "report.html").read_text()
    t = Translator(lang)
    found = re.findall(r'<span data-field="([^"]+)"(?: data-format="([^"]+)")?>([^<]*)</span>', html)
    assert found, "the report marks its figures"
    for path, fmt, text in found:
        assert text == _shown(_value(summary, path), fmt or None, t), (path, text)
    return len(found)


def test_report_figures_come_from_summary_fields(small_run):
    run_dir, lang = small_run
    n = check_report_fields(run_dir, lang)
    assert n >= 10
    summary = json.loads((run_dir / "summary.json").read_text())
    html = (run_dir / "report.html").read_text()
    d = summary["disturbance"]
    # the card names the earliest alert, and it is the earliest alert's onset
    if summary["alerts"]:
        assert d["first_alert_date"] == min(a["onset_date"] for a in summary["alerts"])
    # "outside every licence boundary" is that figure, not the outside-valid-licence one
    assert 'data-field="disturbance.outside_every_boundary_ha">' in html
