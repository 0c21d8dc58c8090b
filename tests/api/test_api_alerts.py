"""Alert list filters and paging, licence situation, registry records, exports."""

from __future__ import annotations

import csv
import io

import pyogrio

from tests.api.conftest import X0, Y0, auth


def test_alert_filters_and_paging(client, api_registry, tokens):
    h = auth(tokens["viewer"])
    ids = api_registry.alert_ids

    def get(**params):
        r = client.get("/api/alerts", params=params, headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    everything = get()
    assert everything["total"] == len(ids) == 6
    inside, outside = get(inside_licence="true"), get(inside_licence="false")
    assert inside["total"] == outside["total"] == 3
    assert all(f["properties"]["licence_id"] == "L1" for f in inside["features"])
    assert all(f["properties"]["licence_id"] is None for f in outside["features"])
    period = get(onset_from="2022-02-01", onset_to="2022-04-30")
    assert {f["properties"]["onset_date"][:7] for f in period["features"]} == {
        "2022-02", "2022-03", "2022-04"}
    box = get(bbox=f"{X0},{Y0},{X0 + 0.0095},{Y0 + 0.0095}")  # the licence's cells only
    assert {f["id"] for f in box["features"]} == {f["id"] for f in inside["features"]}
    assert {f["properties"]["level"] for f in get(level=3)["features"]} == {3}
    assert get(site_id="S1")["total"] == 6 and get(site_id="S2")["total"] == 0
    by_area = get(sort="area_ha")["features"]
    assert [f["properties"]["area_ha"] for f in by_area] == sorted(
        f["properties"]["area_ha"] for f in by_area)
    pages = [get(limit=4, offset=0), get(limit=4, offset=4)]
    assert [len(p["features"]) for p in pages] == [4, 2] and pages[1]["total"] == 6
    assert {f["id"] for p in pages for f in p["features"]} == set(ids)
    for bad in ({"bbox": "1,2,3"}, {"sort": "colour"}, {"status": "maybe"},
                {"bbox": "5,0,1,1"}):
        assert client.get("/api/alerts", params=bad, headers=h).status_code == 400, bad
    assert client.get("/api/alerts", params={"limit": 0}, headers=h).status_code == 422
    feature = everything["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "MultiPolygon"


def test_alert_page_licence_situation(client, api_registry, tokens):
    h = auth(tokens["viewer"])
    inside = client.get("/api/alerts", params={"inside_licence": "true"}, headers=h).json()
    a = inside["features"][0]["id"]
    props = client.get(f"/api/alerts/{a}", headers=h).json()["properties"]
    lic = props["licence"]
    assert lic["inside_licence"] and lic["licence_id"] == "L1"
    assert lic["version_at_onset"]["status"] == "active"  # onset 2022, suspended in 2023
    assert [x["licence_id"] for x in lic["licences_meeting_alert"]] == ["L1"]
    assert props["evidence"]["run_folder"] is None  # this run recorded no folder
    assert props["review"] == {"state": "new", "published": False, "history": []}


def test_licence_history_and_version_on_a_date(client, tokens):
    h = auth(tokens["viewer"])
    hist = client.get("/api/licences/L1/history", headers=h).json()
    assert [v["properties"]["status"] for v in hist] == ["active", "suspended"]
    assert hist[1]["properties"]["changes"] == ["status"]
    on = client.get("/api/licences/L1/on/2022-05-01", headers=h).json()["properties"]
    assert (on["status"], on["valid"]) == ("active", True)
    on = client.get("/api/licences/L1/on/2023-07-01", headers=h).json()["properties"]
    assert (on["status"], on["valid"]) == ("suspended", False)
    assert client.get("/api/licences/L1/on/2019-01-01", headers=h).status_code == 404
    assert client.get("/api/licences/L404/history", headers=h).status_code == 404
    now = client.get("/api/licences", params={"on": "2023-07-01"}, headers=h).json()
    assert [f["properties"]["status"] for f in now["features"]] == ["suspended"]
    assert client.get("/api/licences", params={"status": "active"}, headers=h).json()[
        "total"] == 1


def test_admins_create_and_update_records(client, api_registry, tokens):
    boss = auth(tokens["admin"])
    feature = {"type": "Feature", "properties": {"receptor_id": "R2", "kind": "well",
                                                 "name": "Pozo"},
               "geometry": {"type": "Point", "coordinates": [X0 + 0.03, Y0 + 0.01]}}
    r = client.post("/api/receptors", json=[feature], headers=boss)
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    feature["properties"]["name"] = "Pozo nuevo"
    assert client.post("/api/receptors", json=[feature], headers=boss).json()["updated"] == 1
    got = client.get("/api/receptors/R2", headers=boss).json()
    assert got["properties"]["name"] == "Pozo nuevo"
    assert got["geometry"] == {"type": "Point", "coordinates": [X0 + 0.03, Y0 + 0.01]}
    bad = {**feature, "properties": {"receptor_id": "R3", "kind": "castle"}}
    assert client.post("/api/receptors", json=[bad], headers=boss).status_code in (400, 422)
    assert client.post("/api/receptors", json=[feature],
                       headers=auth(tokens["analyst"])).status_code == 403
    log = client.get("/api/audit", params={"action": "receptors.save"}, headers=boss).json()
    assert [e["user_id"] for e in log] == ["boss", "boss"]


def test_alert_exports(client, api_registry, tokens, tmp_path):
    h = auth(tokens["viewer"])
    gj = client.get("/api/exports/alerts.geojson", params={"inside_licence": "true"}, headers=h)
    assert gj.status_code == 200 and gj.headers["content-type"].startswith(
        "application/geo+json")
    assert len(gj.json()["features"]) == 3
    rows = list(csv.DictReader(io.StringIO(client.get("/api/exports/alerts.csv",
                                                      headers=h).text)))
    assert {r["alert_id"] for r in rows} == set(api_registry.alert_ids)
    assert all(r["review_state"] == "new" and r["wkt"].startswith("MULTIPOLYGON") for r in rows)
    gp = client.get("/api/exports/alerts.gpkg", headers=h)
    path = tmp_path / "a.gpkg"
    path.write_bytes(gp.content)
    df = pyogrio.read_dataframe(path, layer="alerts")
    assert len(df) == 6 and set(df["alert_id"]) == set(api_registry.alert_ids)
    assert client.get("/api/exports/alerts.xls", headers=h).status_code == 422
    assert client.get("/api/exports/sites/S1/report.html", headers=h).status_code == 404
