"""The run report: sections an inspector hands over, in English and Spanish, and its PDF print."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "evidence"))
from scene_builder import END, START, build_scene  # noqa: E402

from minewatch.cli.main import main  # noqa: E402
from minewatch.reports.pdf import find_chromium  # noqa: E402

SECTIONS_EN = ["Executive summary", "Map of new disturbance", "Before and after", "Area over time", "Alerts",
               "Licence compliance", "Water: receptors downstream", "Method and limitations", "Provenance"]
SECTIONS_ES = ["Resumen ejecutivo", "Mapa de la nueva alteración", "Antes y después",
               "Superficie a lo largo del tiempo", "Alertas", "Cumplimiento de las licencias",
               "Agua: receptores aguas abajo", "Método y limitaciones", "Procedencia"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return build_scene(tmp_path_factory.mktemp("report-scene") / "scene")


def run(scene, out: Path, *extra: str) -> dict:
    args = ["analyze", str(scene.catalog), "--licences", str(scene.licences), "--start", START, "--end", END,
            "--out", str(out), *extra]
    assert main(args) == 0
    return json.loads((out / "summary.json").read_text())


def headings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html)]


def test_spanish_report_and_sheets_have_no_english_headings(scene, tmp_path):
    summary = run(scene, tmp_path / "es", "--lang", "es")
    html = (tmp_path / "es" / "report.html").read_text()
    assert set(SECTIONS_ES) <= set(headings(html))
    assert not set(SECTIONS_EN) & set(headings(html))
    assert '<html lang="es">' in html
    area = f"{summary['disturbance']['total_area_ha']:.2f}".replace(".", ",")
    assert f"{area} ha de terreno se convirtieron en terreno minero" in html
    assert "fuera de toda licencia vigente" in html
    sheet = (tmp_path / "es" / "evidence" / "alerts" / "A0002" / "sheet.html").read_text()
    for word in ("Qué", "Dónde", "Cuándo", "Licencia", "Grado de certeza", "Aguas abajo"):
        assert f"<th>{word}</th>" in sheet


def test_azerbaijani_report_through_the_cli(scene, tmp_path):
    """``--lang az``: every section heading and the sheets in Azerbaijani, decimal comma."""
    from minewatch.reports.i18n import Translator

    az = Translator("az")
    summary = run(scene, tmp_path / "az", "--lang", "az")
    html = (tmp_path / "az" / "report.html").read_text()
    assert '<html lang="az">' in html
    assert {az(h) for h in SECTIONS_EN} <= set(headings(html))
    assert not set(SECTIONS_EN) & set(headings(html))
    area = f"{summary['disturbance']['total_area_ha']:.2f}".replace(".", ",")
    assert f"{area} ha torpaq mədən sahəsinə" in html
    sheet = (tmp_path / "az" / "evidence" / "alerts" / "A0002" / "sheet.html").read_text()
    for word in ("Nə", "Harada", "Nə vaxt", "Lisenziya", "Aşağı axında"):
        assert f"<th>{word}</th>" in sheet


def test_english_report_sections_and_summary(scene, tmp_path):
    summary = run(scene, tmp_path / "en")
    html = (tmp_path / "en" / "report.html").read_text()
    assert set(SECTIONS_EN) <= set(headings(html))
    d = summary["disturbance"]
    assert f"{d['total_area_ha']:.2f} ha of land turned into mining ground" in html
    assert f"first seen on {d['first_date']}" in html
    assert "Where: around" in html and "How sure:" in html
    assert html.count("data:image/png;base64,") >= 4  # map, before/after, area chart, data quality


@pytest.mark.browser
def test_pdf_renders_the_report_readably(scene, tmp_path):
    if find_chromium() is None or shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.skip("needs chromium and poppler-utils (scripts/install-system-deps installs them)")
    from PIL import Image

    out = tmp_path / "pdf"
    summary = run(scene, out, "--pdf")
    pdf = out / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    manifest = json.loads((out / "evidence" / "manifest.json").read_text())
    assert "report.pdf" in {o["path"] for o in manifest["outputs"]}
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for section in SECTIONS_EN:
        assert section in text, f"{section!r} missing from the PDF"
    assert f"{summary['disturbance']['total_area_ha']:.2f} ha" in text
    for a in summary["alerts"]:
        assert a["alert_id"] in text
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert 3 <= len(pages) <= 12
    for page in pages:
        img = np.asarray(Image.open(page).convert("RGB")).astype(float)
        assert img.shape[0] > img.shape[1], "A4 portrait"
        ink = (img.mean(axis=2) < 200).mean()
        assert ink > 0.01, f"{page.name} is blank"
    first = np.asarray(Image.open(pages[0]).convert("RGB")).astype(int)
    colourful = (np.abs(first[..., 0] - first[..., 2]) > 60).mean()
    assert colourful > 0.01, "the first page holds the colour map"
