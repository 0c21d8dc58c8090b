"""The dashboard's routes without a browser: pages in each language, static assets, the run
layers and imagery tiles (rio-tiler over the run's COGs) with their access rules, and a lint
that every text of the dashboard templates goes through the catalogue."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from PIL import Image

from minewatch.web.pages import TEMPLATES

TILE = "/ui/tiles/{run}/{layer}/{z}/{x}/{y}.png"


def _run_id(server, token_client) -> str:
    runs = token_client.get("/api/runs").json()["runs"]
    assert len(runs) == 1
    return runs[0]["run_id"]


@pytest.fixture(scope="module")
def viewer(server, passwords):
    with httpx.Client(base_url=server["base"]) as c:
        c.post("/api/session", json={"username": "viewer", "password": passwords["viewer"]}).raise_for_status()
        yield c


def _tile_of(bounds, z=15):
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    t = tms.tile((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, z)
    return t.z, t.x, t.y


def test_runs_write_the_composites_as_cloud_optimised_geotiffs(server):
    """The batch contract's composite_before/after.tif: 5 float32 bands named red, green, blue,
    swir22, nir, reflectance, NaN where never clear, COG layout; flow_paths.geojson beside."""
    import json

    import numpy as np
    import rasterio

    run = server["run"]
    for name in ("composite_before.tif", "composite_after.tif"):
        with rasterio.open(run / name) as src:
            assert src.count == 5 and src.dtypes == ("float32",) * 5
            assert src.descriptions == ("red", "green", "blue", "swir22", "nir")
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            data = src.read()
            with rasterio.open(run / "footprint.tif") as fp:
                assert (src.crs, src.transform, src.shape) == (fp.crs, fp.transform, fp.shape)
        finite = data[np.isfinite(data)]
        assert finite.size > 0.9 * data.size and 0 <= np.median(finite) <= 1
    paths = json.loads((run / "flow_paths.geojson").read_text())
    ids = {a["alert_id"] for a in server["summary"]["alerts"]}
    assert paths["features"] and {f["properties"]["alert_id"] for f in paths["features"]} <= ids
    assert all(f["geometry"]["type"] == "LineString" for f in paths["features"])


def test_tiles_are_pngs_of_the_run_and_need_the_read_role(server, viewer):
    run = _run_id(server, viewer)
    layers = viewer.get(f"/ui/runs/{run}/layers").json()
    assert layers["layers"] == ["before", "after", "before-swir", "after-swir", "footprint"]
    assert len(layers["flow_paths"]["features"]) > 0 and layers["timeline"]
    z, x, y = _tile_of(layers["bounds"])
    images = {}
    for layer in layers["layers"]:
        r = viewer.get(TILE.format(run=run, layer=layer, z=z, x=x, y=y))
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", layer
        img = Image.open(io.BytesIO(r.content))
        assert img.size == (256, 256) and img.mode == "RGBA"
        images[layer] = img
    # before and after differ (the mine grew); the footprint is mostly transparent
    assert images["before"].tobytes() != images["after"].tobytes()
    alpha = images["footprint"].getchannel("A").histogram()
    assert alpha[0] > 0 and sum(alpha[1:]) > 0, "the footprint tile shows some mine and some background"
    far = viewer.get(TILE.format(run=run, layer="after", z=15, x=0, y=0))
    assert far.status_code == 204  # outside the run
    assert viewer.get(TILE.format(run=run, layer="nope", z=z, x=x, y=y)).status_code == 404
    assert viewer.get(TILE.format(run=run, layer="after", z=3, x=8, y=0)).status_code == 404
    assert viewer.get(TILE.format(run=run, layer="after", z=-1, x=0, y=0)).status_code == 404
    assert viewer.get(TILE.format(run="no-such-run", layer="after", z=z, x=x, y=y)).status_code == 404
    anon = httpx.get(server["base"] + TILE.format(run=run, layer="after", z=z, x=x, y=y))
    assert anon.status_code == 401
    assert httpx.get(server["base"] + f"/ui/runs/{run}/layers").status_code == 401


@pytest.mark.parametrize("lang,word", [("en", "Alert queue"), ("es", "Cola de alertas"),
                                       ("az", "Xəbərdarlıq növbəsi")])
def test_pages_render_in_each_language(server, lang, word):
    for path in ("/ui/", "/ui/queue", "/ui/alerts/x", "/ui/sites/DEMO", "/ui/login"):
        r = httpx.get(server["base"] + path, params={"lang": lang})
        assert r.status_code == 200 and f'<html lang="{lang}">' in r.text
        assert word in r.text
    # the browser's language is used when nothing is chosen
    r = httpx.get(server["base"] + "/ui/queue", headers={"Accept-Language": "az-AZ,az;q=0.9,en;q=0.5"})
    assert "Xəbərdarlıq növbəsi" in r.text
    assert httpx.get(server["base"] + "/", follow_redirects=False).headers["location"] == "/ui/"


def test_static_assets_are_served_locally(server):
    js = httpx.get(server["base"] + "/ui/static/vendor/maplibre-gl.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert b"maplibre" in js.content[:2000].lower()
    assert httpx.get(server["base"] + "/ui/static/vendor/maplibre-gl.LICENSE.txt").status_code == 200
    assert httpx.get(server["base"] + "/ui/static/../pages.py").status_code == 404
    assert httpx.get(server["base"] + "/ui/static/%2e%2e/pages.py").status_code == 404
    page = httpx.get(server["base"] + "/ui/").text
    assert "http://" not in page.replace('xmlns="http://', "") and "https://" not in page, "no CDN"


def test_dashboard_templates_have_no_text_outside_the_catalogue():
    """Every word a template shows is inside ``{{ _("...") }}``: strip the Jinja expressions,
    tags and attributes that carry no text, and nothing readable must remain."""
    for path in sorted(TEMPLATES.glob("*.j2")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
        text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", text, flags=re.S)
        for attr in ("aria-label", "placeholder", "title", "alt"):
            for m in re.finditer(attr + r'="([^"]*)"', text):
                assert not re.search(r"[A-Za-z]{2}", m.group(1)), f"{path.name}: {attr} {m.group(1)!r}"
        body = re.sub(r"<[^>]*>", " ", text)
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z']+", body) if w not in {"minewatch", "OK"}]
        assert not words, f"{path.name}: untranslated text {words[:5]}"
