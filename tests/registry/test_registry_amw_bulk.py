"""Bulk import of the real Amazon Mining Watch yearly polygons (~45 thousand), both backends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from minewatch.errors import ValidationError

MAPPING = Path(__file__).with_name("data") / "amw_mapping.yaml"
pytestmark = [pytest.mark.shared]


def _year(f: Path) -> str:
    return f.name[7:11]


@pytest.mark.slow
def test_all_yearly_polygons_import(registry, shared_data):
    folder = shared_data("amw_earthrise", "yearly")
    files = sorted(folder.glob("mining_*_simplified.geojson"))
    assert len(files) == 9
    expected = sum(pyogrio.read_info(f)["features"] for f in files)
    total = repaired = 0
    for f in files:
        y = _year(f)
        # 202502 and 202503 share a year: keep their ids apart with the file's own period.
        rep = registry.import_file(
            f, "licences", mapping=MAPPING,
            defaults={"valid_from": f"{y}-01-01", "valid_to": f"{y}-12-31"})
        assert not rep.errors
        total += rep.inserted + rep.unchanged
        repaired += len(rep.repaired)
    assert total == expected > 40_000
    assert registry.count("licences") == expected
    # Spot-check the date-aware point query against a brute-force answer on the source.
    src = pyogrio.read_dataframe(files[3])  # 2021
    rng = np.random.default_rng(7)
    for i in rng.choice(len(src), 5, replace=False):
        pt = src.geometry.iloc[i].representative_point()
        hits = registry.licences_covering(pt, f"{_year(files[3])}-07-01")
        brute = [j for j, g in enumerate(src.geometry) if g.intersects(pt)]
        assert sorted(h["licence_id"] for h in hits) == sorted(
            f"AMW-202100-{j + 1}" for j in brute)
        assert all(h["valid_from"].year == 2021 for h in hits)
    assert registry.integrity_check() == "ok"


def test_invalid_real_geometries_are_repaired_and_reported(registry, shared_data, tmp_path):
    src = shared_data("amw_earthrise", "yearly", "mining_202503_simplified.geojson")
    fc = json.loads(src.read_text())
    # Damage three real polygons the way digitising does: swapped vertices (bow-ties).
    damaged = [10, 500, 2000]
    for i in damaged:
        ring = fc["features"][i]["geometry"]["coordinates"]
        ring = ring[0] if fc["features"][i]["geometry"]["type"] == "MultiPolygon" else ring
        outer = ring[0]
        outer[1], outer[2] = outer[2], outer[1]
        assert not shapely.geometry.shape(fc["features"][i]["geometry"]).is_valid
    f = tmp_path / "damaged.geojson"
    f.write_text(json.dumps(fc))
    rep = registry.import_file(f, "licences", mapping=MAPPING,
                               defaults={"valid_from": "2025-01-01"})
    assert rep.inserted == len(fc["features"])
    assert sorted(i.feature for i in rep.repaired) == [i + 1 for i in damaged]
    assert all("damaged.geojson" in i.line() and "field 'geometry'" in i.line()
               for i in rep.repaired)
    for i in damaged:
        g = registry.get("licences", f"AMW-202503-{i + 1}")["geometry"]
        assert g.is_valid and g.area > 0

    # A polygon that collapses to a line cannot be repaired safely: the whole file is refused.
    fc["features"][7]["geometry"] = {"type": "Polygon", "coordinates": [
        [[-60.0, -3.0], [-60.1, -3.1], [-60.2, -3.2], [-60.0, -3.0]]]}
    f2 = tmp_path / "collapsed.geojson"
    f2.write_text(json.dumps(fc))
    before = registry.count("licences")
    with pytest.raises(ValidationError, match=r"collapsed.geojson, feature 8 "
                       r"\(licence_id=AMW-202503-8\), field 'geometry'"):
        registry.import_file(f2, "licences", mapping=MAPPING, defaults={
            "valid_from": "2025-01-01", "source_document": "second delivery"})
    assert registry.count("licences") == before
