"""One vocabulary: a licences file of the batch contract imports into the registry as it is,
and the registry then says what ``analysis.compliance.read_licences`` says of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely

from minewatch.analysis.licences import periods_from_versions, read_licences
from minewatch.dates import to_day
from minewatch.cli.main import main
from minewatch.errors import ValidationError


@pytest.fixture(scope="module")
def demo_licences(tmp_path_factory) -> Path:
    """The licences file exactly as ``minewatch demo`` writes it (a small, short scene)."""
    from minewatch.demo.scene import generate_scene

    scene = generate_scene(tmp_path_factory.mktemp("demo") / "scene", size_px=60,
                           cadence_days=120, start="2019-01-01", end="2019-12-31")
    return scene.licences


def _url(reg) -> str:
    return reg.url if reg.kind == "geopackage" else reg.backend.url


def authorised(periods) -> dict[str, list[tuple[int, int, str]]]:
    """licence_id -> the day intervals it authorised mining in, with the boundary (WKT)."""
    out: dict[str, list] = {}
    for p in periods:
        out.setdefault(p.licence_id, [])
        if p.active_to >= p.active_from:
            poly = shapely.normalize(shapely.MultiPolygon(
                [p.geometry] if p.geometry.geom_type == "Polygon" else p.geometry.geoms))
            out[p.licence_id].append((p.active_from, p.active_to, poly.wkt))
    return out


def registry_periods(reg):
    ids = sorted({r["licence_id"] for r in reg.rows("licences")})
    return periods_from_versions([{"licence_id": i, "versions": reg.licence_history(i)}
                                  for i in ids])


def test_demo_licences_import_as_they_are(registry, demo_licences, capsys):
    rc = main(["registry", "import", str(demo_licences), "-r", _url(registry),
               "--kind", "licences"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    printed = " ".join(out.out.split())  # as rich wraps it
    assert "4 new" in printed and "every licence recorded as extraction" in printed

    from_file = read_licences(demo_licences)
    rows = registry.rows("licences")
    assert sorted(r["licence_id"] for r in rows) == sorted(p.licence_id for p in from_file)
    by_id = {r["licence_id"]: r for r in rows}
    for p in from_file:
        r = by_id[p.licence_id]
        assert (r["status"], r["holder"], r["commodities"], r["kind"]) == (
            p.status, p.holder, p.commodity, "extraction")
        assert r["valid_from"] is not None and to_day(r["valid_from"]) == p.active_from
        assert r["geometry"].equals(p.geometry)
        assert shapely.get_coordinates(r["geometry"]).tolist() == \
            shapely.get_coordinates(p.geometry).tolist()
    assert authorised(registry_periods(registry)) == authorised(from_file)
    # Importing the same file again changes nothing.
    rep = registry.import_file(demo_licences, "licences")
    assert (rep.inserted, rep.unchanged) == (0, len(from_file))


def test_status_since_becomes_history(registry, demo_licences, tmp_path):
    fc = json.loads(demo_licences.read_text())
    props = {f["properties"]["licence_id"]: f["properties"] for f in fc["features"]}
    props["EL-0311"]["status_since"] = "2023-04-10"            # suspended since then
    props["EL-0420"].update(status="revoked", status_since="2024-02-01")
    props["ML-0147"]["status_since"] = "2020-05-05"            # active: dates nothing
    f = tmp_path / "licences.geojson"
    f.write_text(json.dumps(fc))
    from_file = read_licences(f)

    rep = registry.import_file(f, "licences")
    assert (rep.features, rep.inserted) == (4, 6)
    hist = registry.licence_history("EL-0311")
    assert [(v["status"], str(v["effective_from"]), v["changes"]) for v in hist] == [
        ("active", "2020-02-15", ["created"]), ("suspended", "2023-04-10", ["status"])]
    assert [v["status"] for v in registry.licence_history("EL-0420")] == ["active", "revoked"]
    assert json.loads(registry.get("licences", "ML-0147")["extra"]) == {
        "status_since": "2020-05-05"}
    assert authorised(registry_periods(registry)) == authorised(from_file)
    # The registry's own date queries agree: valid the day before the status, not on it.
    assert "EL-0311" in {r["licence_id"] for r in registry.licences_valid_at("2023-04-09")}
    assert "EL-0311" not in {r["licence_id"] for r in registry.licences_valid_at("2023-04-10")}

    both = json.loads(f.read_text())
    both["features"][2]["properties"]["effective_from"] = "2023-01-01"
    f.write_text(json.dumps(both))
    with pytest.raises(ValidationError, match=r"feature 3 \(licence_id=EL-0311\), field "
                       r"'status_since': give either effective_from"):
        registry.import_file(f, "licences")
