"""``minewatch flow`` and ``minewatch trace`` through the CLI entry point."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from hydro_synth import CELL, ORIGIN
from pyproj import Transformer

from minewatch.cli.main import main

TO_LL = Transformer.from_crs("EPSG:32733", "EPSG:4326", always_xy=True)


def ll(r, c):
    return list(TO_LL.transform(ORIGIN[0] + (c + 0.5) * CELL, ORIGIN[1] - (r + 0.5) * CELL))


def test_flow_writes_rasters_and_streams(valley_tif, tmp_path, capsys):
    out = tmp_path / "flow"
    rc = main(["flow", str(valley_tif), "--out", str(out), "--stream-km2", "0.02"])
    assert rc == 0, capsys.readouterr().err
    with rasterio.open(out / "d8.tif") as ds:
        d8 = ds.read(1)
        assert ds.dtypes[0] == "uint8" and ds.crs.to_epsg() == 32733
    with rasterio.open(out / "accumulation.tif") as ds:
        acc = ds.read(1)
    with rasterio.open(out / "streams.tif") as ds:
        streams = ds.read(1)
    with rasterio.open(out / "filled.tif") as ds:
        assert ds.read(1).shape == (40, 21)
    assert (d8[:-1, 10] == 4).all() and acc[-1, 10] == 40 * 21
    # 0.02 km² = 22.2 cells of 900 m²: the channel from row 1 (2 x 21 cells) down
    assert streams[:, 10].sum() == 39 and streams.sum() == 39
    gj = json.loads((out / "streams.geojson").read_text())
    assert len(gj["features"]) == 1
    assert gj["features"][0]["geometry"]["type"] == "LineString"
    assert "stream cells" in capsys.readouterr().out


def test_trace_with_receptors(valley_tif, tmp_path, capsys):
    ring = [ll(5, 9), ll(5, 11), ll(7, 11), ll(7, 9), ll(5, 9)]
    src = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"alert_id": "A-7"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    recs = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "well-1", "kind": "well", "name": "Well 1"},
         "geometry": {"type": "Point", "coordinates": ll(25, 10)}},
        {"type": "Feature", "properties": {"id": "vil-2", "kind": "village", "name": "Hill"},
         "geometry": {"type": "Point", "coordinates": ll(20, 0)}}]}
    (tmp_path / "src.geojson").write_text(json.dumps(src))
    (tmp_path / "rec.geojson").write_text(json.dumps(recs))
    out = tmp_path / "trace.geojson"
    rc = main(["trace", str(valley_tif), "--from", str(tmp_path / "src.geojson"),
               "--receptors", str(tmp_path / "rec.geojson"), "--out", str(out), "--velocity", "1.0"])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    kinds = [f["properties"]["type"] for f in doc["features"]]
    assert kinds == ["flow_path", "receptor_at_risk", "receptor_not_at_risk"]
    at_risk = doc["features"][1]["properties"]
    assert at_risk["receptor_id"] == "well-1" and at_risk["alert_ids"] == ["A-7"]
    assert at_risk["flow_distance_m"] > 0
    assert at_risk["travel_time_h"] == np.round(at_risk["flow_distance_m"] / 3600, 3)
    assert doc["properties"]["assumptions"]["velocity_m_s"] == 1.0
    assert "well-1" in capsys.readouterr().out


def test_trace_errors_exit_2(valley_tif, tmp_path, capsys):
    far = {"type": "Feature", "properties": {"id": "x"},
           "geometry": {"type": "Point", "coordinates": [100.0, 60.0]}}
    (tmp_path / "far.geojson").write_text(json.dumps(far))
    out = tmp_path / "t.geojson"
    rc = main(["trace", str(valley_tif), "--from", str(tmp_path / "far.geojson"), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "does not overlap" in err and "valley.tif" in err
    assert not out.exists()
    (tmp_path / "bad.geojson").write_text("{not json")
    rc = main(["trace", str(valley_tif), "--from", str(tmp_path / "bad.geojson"), "--out", str(out)])
    assert rc == 2 and "not valid JSON" in capsys.readouterr().err
    rc = main(["flow", str(tmp_path / "nope.tif"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "not found" in capsys.readouterr().err
