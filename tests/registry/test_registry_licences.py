"""Licences and their history, queries at a date, validation: on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely

from minewatch.errors import ValidationError
from registry_helpers import licence

BOX_A = shapely.box(-70.30, -13.20, -70.20, -13.10)
BOX_A2 = shapely.box(-70.30, -13.20, -70.15, -13.10)  # enlarged boundary
BOX_B = shapely.box(-70.18, -13.20, -70.10, -13.10)


def _history_records():
    return [
        licence("PE-1", BOX_A, holder="Minera Uno", valid_from="2019-01-01",
                source_document="R.D. 001-2019"),
        licence("PE-1", BOX_A2, holder="Minera Uno", valid_from="2019-01-01",
                effective_from="2022-03-01", source_document="R.D. 077-2022 (boundary)"),
        licence("PE-1", BOX_A2, holder="Minera Dos", valid_from="2019-01-01",
                effective_from="2023-01-15", source_document="transfer 12/2023"),
        licence("PE-1", BOX_A2, holder="Minera Dos", status="suspended",
                valid_from="2019-01-01", effective_from="2023-08-01",
                source_document="suspension order 5/2023"),
        licence("PE-2", BOX_B, kind="exploration", valid_from="2021-06-01",
                valid_to="2024-06-01"),
    ]


def test_history_is_kept_and_queryable_at_any_date(registry):
    rep = registry.import_records("licences", _history_records())
    assert rep.inserted == 5 and not rep.errors
    hist = registry.licence_history("PE-1")
    assert [h["version"] for h in hist] == [1, 2, 3, 4]
    assert [h["changes"] for h in hist] == [["created"], ["boundary"], ["holder"], ["status"]]
    assert hist[0]["effective_to"] == dt.date(2022, 3, 1)
    assert hist[-1]["effective_to"] is None
    assert hist[2]["source_document"] == "transfer 12/2023"

    # "Which licences were valid here on 2023-05-01, with which boundary?"
    pt = shapely.Point(-70.19, -13.15)  # only inside the enlarged boundary
    on = registry.licences_covering(pt, "2023-05-01")
    assert [(r["licence_id"], r["version"], r["holder"]) for r in on] == [("PE-1", 3, "Minera Dos")]
    assert on[0]["geometry"].equals(BOX_A2)
    # Before the boundary change the point was outside PE-1.
    assert registry.licences_covering(pt, "2021-05-01") == []
    # Suspended from 2023-08-01: not valid, though the version is in effect.
    assert registry.licences_covering(pt, "2023-09-01") == []
    anyst = registry.licences_covering(pt, "2023-09-01", valid_only=False)
    assert [(r["licence_id"], r["status"]) for r in anyst] == [("PE-1", "suspended")]

    valid = registry.licences_valid_at("2022-01-01")
    assert [(r["licence_id"], r["version"]) for r in valid] == [("PE-1", 1), ("PE-2", 1)]
    assert [r["licence_id"] for r in registry.licences_valid_at("2024-07-01")] == []
    # bbox filter, index-backed then exact.
    assert [r["licence_id"] for r in registry.licences_valid_at(
        "2022-01-01", bbox=(-70.12, -13.3, -70.0, -13.0))] == ["PE-2"]


def test_polygon_query_reports_overlap(registry):
    registry.import_records("licences", _history_records())
    q = shapely.box(-70.22, -13.2, -70.18, -13.1)  # half in PE-1 (v1 boundary), half outside
    res = registry.licences_covering(q, "2020-06-01")
    assert [r["licence_id"] for r in res] == ["PE-1"]
    assert res[0]["overlap_fraction"] == pytest.approx(0.5, rel=1e-6)


def test_reimport_is_idempotent_and_new_versions_append(registry):
    registry.import_records("licences", _history_records())
    rep = registry.import_records("licences", _history_records())
    assert (rep.inserted, rep.unchanged) == (0, 5)
    # A later change appends a version and closes the previous one.
    rep = registry.import_records("licences", [licence(
        "PE-2", BOX_B, kind="exploration", status="relinquished", valid_from="2021-06-01",
        valid_to="2024-06-01", effective_from="2023-02-01")])
    assert rep.inserted == 1
    h = registry.licence_history("PE-2")
    assert [(v["version"], v["status"], v["effective_to"]) for v in h] == [
        (1, "active", dt.date(2023, 2, 1)), (2, "relinquished", None)]
    # A back-dated version slots into the chain.
    registry.import_records("licences", [licence(
        "PE-2", BOX_B, kind="exploration", status="suspended", valid_from="2021-06-01",
        valid_to="2024-06-01", effective_from="2022-01-01")])
    h = registry.licence_history("PE-2")
    assert [(v["version"], v["status"]) for v in h] == [
        (1, "active"), (2, "suspended"), (3, "relinquished")]
    assert h[0]["effective_to"] == dt.date(2022, 1, 1)
    assert h[1]["effective_to"] == dt.date(2023, 2, 1)


def test_history_is_never_overwritten(registry):
    registry.import_records("licences", _history_records())
    before = registry.rows("licences")
    changed = licence("PE-2", BOX_B, kind="exploration", holder="Someone Else",
                      valid_from="2021-06-01", valid_to="2024-06-01")
    with pytest.raises(ValidationError) as ei:
        registry.import_records("licences", [changed], source="amend.geojson")
    msg = str(ei.value)
    assert "amend.geojson" in msg and "feature 1" in msg and "effective_from" in msg
    assert "holder" in msg and "never overwritten" in msg
    assert registry.rows("licences") == before or len(registry.rows("licences")) == len(before)


def test_validation_errors_name_feature_and_field_and_write_nothing(registry):
    bad_dates = licence("X-1", BOX_A, valid_from="2022-01-01", valid_to="2021-01-01")
    with pytest.raises(ValidationError) as ei:
        registry.import_records("licences", [licence("OK-1", BOX_B), bad_dates], source="s.csv")
    assert "s.csv, feature 2 (licence_id=X-1), field 'valid_to'" in str(ei.value)
    assert "before it starts" in str(ei.value)
    assert registry.count("licences") == 0

    with pytest.raises(ValidationError, match=r"feature 2 .*duplicate licence_id/effective_from"):
        registry.import_records("licences", [licence("D-1", BOX_A), licence("D-1", BOX_B)])
    with pytest.raises(ValidationError, match=r"field 'status': 'granted' is not one of"):
        registry.import_records("licences", [licence("S-1", BOX_A, status="granted")])
    with pytest.raises(ValidationError, match=r"field 'geometry': expected a polygon"):
        registry.import_records("licences", [licence("P-1", shapely.Point(0, 0))])
    assert registry.count("licences") == 0


def test_invalid_geometry_repaired_or_rejected(registry):
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    rep = registry.import_records("licences", [licence("BT", bowtie)], source="b.geojson")
    assert len(rep.repaired) == 1
    assert "feature 1 (licence_id=BT), field 'geometry': repaired invalid geometry" in \
        rep.repaired[0].line()
    g = registry.get("licences", "BT")["geometry"]
    assert g.is_valid and g.geom_type == "MultiPolygon" and len(g.geoms) == 2
    assert g.area == pytest.approx(0.5)
    # Collapsed to a line: not safely repairable.
    flat = shapely.Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])
    with pytest.raises(ValidationError, match=r"feature 1 \(licence_id=FL\), field 'geometry'"
                       r".*collapses to no area"):
        registry.import_records("licences", [licence("FL", flat)])
    assert registry.count("licences") == 1


def test_overlapping_active_extraction_licences_on_a_deposit_are_reported(registry):
    rep = registry.import_records("licences", [
        licence("E-1", BOX_A, deposit_id="DEP-9"),
        licence("E-2", BOX_A2, deposit_id="DEP-9"),
        licence("E-3", BOX_B, deposit_id="DEP-9"),          # touches nothing of E-1
        licence("X-1", BOX_A, deposit_id="DEP-9", kind="exploration"),
    ])
    overl = [i for i in rep.warnings if i.code == "overlap"]
    pairs = sorted(tuple(sorted(i.message.split()[3:6:2])) for i in overl)
    assert pairs == [("E-1", "E-2"), ("E-2", "E-3")]
    assert all("DEP-9" in i.message for i in overl)
    assert rep.inserted == 4  # reported, not refused


def test_cover_query_uses_the_spatial_index(registry):
    registry.import_records("licences", _history_records())
    plan, uses = registry.explain_cover_query(shapely.Point(-70.25, -13.15), "2023-05-01")
    if registry.kind == "geopackage":
        assert "rtree_licence_versions_geom" in plan and uses
    else:
        # Tiny tables may be scanned; force the planner's hand to see the index is usable.
        with registry.engine.begin() as c:
            c.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = registry.backend.explain(c, registry.cover_query(
                shapely.Point(-70.25, -13.15), "2023-05-01"))
        assert "ix_licence_versions_geom" in plan
