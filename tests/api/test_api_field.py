"""Field work through the API: inspections with photo hashes, samples with exceedances."""

from __future__ import annotations

import base64
import hashlib

from tests.api.conftest import X0, Y0, auth


def test_inspection_with_photos(client, api_registry, tokens):
    ana = auth(tokens["analyst"])
    photo = b"\xff\xd8\xff\xe0 not really a jpeg, but bytes with a hash"
    body = {"inspection_id": "I-1", "date": "2024-02-03", "team": "Ana, Luis",
            "findings": "new pit, no signage", "site_id": "S1",
            "alert_ids": api_registry.alert_ids[:1],
            "geometry": {"type": "Point", "coordinates": [X0 + 0.001, Y0 + 0.001]},
            "photos": [{"filename": "pit.jpg",
                        "content_base64": base64.b64encode(photo).decode()}]}
    r = client.post("/api/inspections", json=body, headers=ana)
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["photos"][0]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert props["alert_ids"] == api_registry.alert_ids[:1] and props["altered_photos"] == []
    assert client.post("/api/inspections", json=body, headers=ana).status_code == 409
    # a photo altered on disk shows up
    stored = api_registry.files_dir / props["photos"][0]["stored_path"]
    stored.write_bytes(photo + b"!")
    got = client.get("/api/inspections/I-1", headers=auth(tokens["viewer"])).json()
    assert got["properties"]["altered_photos"] == [str(stored)]
    bad = {**body, "inspection_id": "I-2", "photos": [{"filename": "x.jpg",
                                                       "content_base64": "%%%"}]}
    assert client.post("/api/inspections", json=bad, headers=ana).status_code == 400
    bad = {**body, "inspection_id": "I-3", "alert_ids": ["nope"], "photos": []}
    assert client.post("/api/inspections", json=bad, headers=ana).status_code == 400
    assert client.get("/api/inspections/I-9", headers=ana).status_code == 404


def test_samples_with_exceedances(client, api_registry, tokens):
    api_registry.import_records("sampling_points", [
        {"point_id": "P1", "name": "intake", "geometry": {"type": "Point",
                                                          "coordinates": [X0, Y0]}}])
    api_registry.import_records("samples", [
        {"sample_id": "S-1", "point_id": "P1", "sampled_at": "2024-01-10", "parameter": "As",
         "value": 0.05, "unit": "mg/L"},
        {"sample_id": "S-1", "point_id": "P1", "sampled_at": "2024-01-10", "parameter": "Pb",
         "value": 2.0, "unit": "ug/L"},
        {"sample_id": "S-1", "point_id": "P1", "sampled_at": "2024-01-10", "parameter": "Zz",
         "value": 1.0, "unit": "mg/L"}])
    h = auth(tokens["viewer"])
    got = client.get("/api/sampling_points/P1/samples", headers=h).json()
    by = {s["parameter"]: s for s in got["samples"]}
    assert by["As"]["status"] == "exceeds" and abs(by["As"]["ratio"] - 5.0) < 1e-9
    assert by["Pb"]["status"] == "ok" and abs(by["Pb"]["ratio"] - 0.2) < 1e-9  # ug/L -> mg/L
    assert by["Zz"]["status"] == "not-assessed"
    assert got["n_exceedances"] == 1
    eu = client.get("/api/sampling_points/P1/samples", params={"standard": "EU-2020/2184"},
                    headers=h).json()
    assert {s["parameter"]: s["status"] for s in eu["samples"]}["As"] == "exceeds"
    assert client.get("/api/sampling_points/P1/samples", params={"standard": "X"},
                      headers=h).status_code == 400
    assert client.get("/api/sampling_points/P9/samples", headers=h).status_code == 404
