"""What the analysis pipeline reads and writes: sites, licences with versions, receptors,
runs, alerts and their triage, inspections with photos. On both backends."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import shapely

from minewatch.errors import InputError
from registry_helpers import licence

SITE = shapely.box(-70.5, -13.5, -70.0, -13.0)


@pytest.fixture
def filled(registry):
    registry.import_records("licences", [
        licence("IN-1", shapely.box(-70.4, -13.4, -70.3, -13.3), holder="A", commodities="Au"),
        licence("IN-1", shapely.box(-70.4, -13.4, -70.25, -13.3), holder="A", commodities="Au",
                effective_from="2022-01-01"),
        licence("FAR-1", shapely.box(-60.4, -3.4, -60.3, -3.3)),        # elsewhere
        licence("LINKED-1", shapely.box(-60.0, -3.0, -59.9, -2.9)),     # elsewhere, but linked
        licence("EDGE-1", shapely.box(-70.05, -13.05, -69.9, -12.9), kind="exploration"),
    ])
    registry.import_records("receptors", [
        {"receptor_id": "V-1", "kind": "village", "name": "Inside",
         "geometry": shapely.Point(-70.2, -13.2)},
        {"receptor_id": "I-1", "kind": "water_intake", "name": "10 km downstream",
         "geometry": shapely.Point(-69.92, -13.0)},
        {"receptor_id": "W-FAR", "kind": "well", "name": "far away",
         "geometry": shapely.Point(-65.0, -10.0)},
        {"receptor_id": "R-LINK", "kind": "river_reach", "name": "linked reach",
         "geometry": shapely.LineString([(-66, -11), (-65.5, -11)])},
    ])
    rep = registry.import_records("sites", [{"site_id": "S-1", "name": "Test site",
                                             "licence_ids": "LINKED-1,GHOST-9",
                                             "receptor_ids": "R-LINK", "geometry": SITE}])
    (w,) = rep.warnings
    assert (w.field, w.code) == ("licence_ids", "unknown_link") and "GHOST-9" in w.message
    return registry


def test_site_and_licences_for_analysis(filled):
    site = filled.site("S-1")
    assert site.bbox == pytest.approx((-70.5, -13.5, -70.0, -13.0))
    assert site.licence_ids == ["LINKED-1", "GHOST-9"]
    lics = filled.licences_for_analysis("S-1")
    assert [lic["licence_id"] for lic in lics] == ["EDGE-1", "IN-1", "LINKED-1"]
    inl = lics[1]
    assert (inl["holder"], inl["commodity"], inl["kind"]) == ("A", "Au", "extraction")
    v = inl["versions"]
    assert [(x["version"], x["effective_from"], x["effective_to"]) for x in v] == [
        (1, dt.date(2020, 1, 1), dt.date(2022, 1, 1)), (2, dt.date(2022, 1, 1), None)]
    assert v[1]["geometry"].equals(shapely.MultiPolygon([shapely.box(-70.4, -13.4, -70.25,
                                                                     -13.3)]))
    assert {"valid_from", "valid_to", "status"} <= set(v[0])
    with pytest.raises(InputError, match="no site 'nope'"):
        filled.site("nope")


def test_receptors_for_analysis(filled):
    rs = filled.receptors_for_analysis("S-1", margin_m=15_000)
    assert [r["receptor_id"] for r in rs] == ["I-1", "R-LINK", "V-1"]
    assert rs[2]["kind"] == "village" and rs[2]["geometry"].equals(shapely.Point(-70.2, -13.2))
    assert [r["receptor_id"] for r in filled.receptors_for_analysis("S-1", margin_m=0)] == [
        "R-LINK", "V-1"]


def _alerts():
    return [
        {"alert_id": "AL-1", "onset_date": "2023-03-05", "area_ha": 4.2, "licence_id": None,
         "licence_status_at_onset": "none",
         "geometry": {"type": "Polygon", "coordinates": [[[-70.2, -13.2], [-70.19, -13.2],
                                                          [-70.19, -13.19], [-70.2, -13.2]]]},
         "mean_ndvi_drop": 0.31},
        {"alert_id": "AL-2", "onset_date": dt.date(2023, 1, 9), "area_ha": 1.0,
         "licence_id": "IN-1", "licence_status_at_onset": "active",
         "geometry": shapely.box(-70.39, -13.39, -70.38, -13.38)},
    ]


def test_runs_alerts_and_triage(filled):
    run_id = filled.record_run({"site_id": "S-1", "inputs": {"catalog": "x/catalog.json"},
                                "parameters": {"min_area_ha": 0.5}, "outcome": "running"})
    ids = filled.record_alerts(run_id, _alerts())
    assert ids == {"AL-1": f"{run_id[:8]}-AL-1", "AL-2": f"{run_id[:8]}-AL-2"}
    assert filled.record_alerts(run_id, _alerts()) == ids  # recording a run twice: idempotent
    filled.record_run({"run_id": run_id, "outcome": "ok",
                       "finished_at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)})
    run = filled.run(run_id)
    assert run["outcome"] == "ok" and run["code_version"] and run["site_id"] == "S-1"
    assert run["finished_at"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert run["started_at"] <= dt.datetime.now(dt.timezone.utc)

    a1_id, a2_id = ids["AL-1"], ids["AL-2"]
    assert [a["alert_id"] for a in filled.triage_queue()] == [a2_id, a1_id]  # oldest onset first
    a1 = filled.get("alerts", a1_id)
    assert a1["triage_state"] == "new" and a1["run_id"] == run_id and a1["site_id"] == "S-1"
    assert a1["geometry"].geom_type == "MultiPolygon"
    assert '"mean_ndvi_drop": 0.31' in a1["extra"] and '"run_alert_id": "AL-1"' in a1["extra"]

    filled.set_triage(a1_id, "escalated", by="inspector Rojas", reason="near the village")
    filled.set_triage(a2_id, "dismissed", by="analyst Li", reason="licensed pit")
    assert [a["alert_id"] for a in filled.triage_queue()] == [a1_id]
    hist = filled.triage_history(a1_id)
    assert [(h["state"], h["changed_by"], h["reason"]) for h in hist] == [
        ("new", f"run {run_id}", "detected"), ("escalated", "inspector Rojas",
                                               "near the village")]
    with pytest.raises(InputError, match="who"):
        filled.set_triage(a1_id, "confirmed", by="", reason="x")
    with pytest.raises(InputError, match="not one of"):
        filled.set_triage(a1_id, "maybe", by="a", reason="b")

    # A later run re-detects AL-1 (same onset, same place, grown a little) under its own
    # per-run id, and finds a new disturbance that reuses the id "AL-2".
    run2 = filled.record_run({"site_id": "S-1"})
    grown = shapely.Polygon([(-70.2, -13.2), (-70.189, -13.2), (-70.189, -13.19),
                             (-70.2, -13.2)])
    new_a2 = {"alert_id": "AL-2", "onset_date": "2023-09-01", "area_ha": 2.0,
              "geometry": shapely.box(-70.1, -13.1, -70.09, -13.09)}
    ids2 = filled.record_alerts(run2, [dict(_alerts()[0], alert_id="AL-7", area_ha=6.0,
                                            geometry=grown), new_a2])
    assert ids2 == {"AL-7": a1_id, "AL-2": f"{run2[:8]}-AL-2"}
    a1 = filled.get("alerts", a1_id)
    assert (a1["area_ha"], a1["run_id"], a1["triage_state"]) == (6.0, run2, "escalated")
    assert filled.get("alerts", a2_id)["triage_state"] == "dismissed"  # untouched
    assert filled.count("alerts") == 3

    box = (-70.25, -13.25, -70.15, -13.15)
    assert [a["alert_id"] for a in filled.alerts_in_bbox(box)] == [a1_id]
    assert filled.alerts_in_bbox(box, states=["new"]) == []
    assert [s["site_id"] for s in filled.sites_in_bbox(box)] == ["S-1"]
    assert filled.sites_in_bbox((0, 0, 1, 1)) == []
    with pytest.raises(InputError, match="no monitoring run"):
        filled.record_alerts("no-such-run", _alerts())


def test_inspection_with_photos(filled, tmp_path):
    run_id = filled.record_run({"site_id": "S-1"})
    al1 = filled.record_alerts(run_id, _alerts())["AL-1"]
    photo = tmp_path / "IMG_0001.JPG"
    photo.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 40)
    filled._files_dir = tmp_path / "files"  # PostGIS needs a folder; the GeoPackage has one
    rec = filled.add_inspection("INS-1", "2023-04-01", team="Rojas, Li", findings="fresh pit",
                                site_id="S-1", geometry=shapely.Point(-70.2, -13.2),
                                alert_ids=[al1], photos=[photo])
    assert rec["alert_ids"] == [al1] and rec["date"] == dt.date(2023, 4, 1)
    (ph,) = rec["photos"]
    assert ph["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    stored = filled.files_dir / ph["stored_path"]
    assert stored.read_bytes() == photo.read_bytes() and ph["size_bytes"] == stored.stat().st_size
    assert filled.verify_photos("INS-1") == []
    stored.write_bytes(b"tampered")
    assert filled.verify_photos("INS-1") == [str(stored)]
    with pytest.raises(InputError, match="unknown alert"):
        filled.add_inspection("INS-2", "2023-04-02", alert_ids=["AL-404"])
