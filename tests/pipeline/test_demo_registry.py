"""``minewatch demo`` records its run in ``minewatch-demo/registry.gpkg``, and the REST API
over that registry shows the demo site, its alerts and their evidence."""

from __future__ import annotations

import hashlib
import io
import zipfile

from fastapi.testclient import TestClient

from minewatch.api import create_app
from minewatch.registry import open_registry
from minewatch.run import accounts


def test_demo_registry_is_served(demo_run):
    reg = open_registry(demo_run["out"] / "registry.gpkg")
    try:
        accounts.add_user(reg, "vic", "viewer", password="viewer password", by="test")
        token = accounts.create_token(reg, accounts.principal_for_user(reg, "vic"))
        h = {"Authorization": f"Bearer {token}"}
        c = TestClient(create_app(reg))
        sites = c.get("/api/sites", headers=h).json()
        assert [f["id"] for f in sites["features"]] == ["demo"]
        summary = demo_run["summary"]
        alerts = c.get("/api/alerts", headers=h).json()
        assert alerts["total"] == summary["disturbance"]["n_alerts"] == len(summary["alerts"])
        runs = c.get("/api/runs", headers=h).json()["runs"]
        assert runs[0]["inputs"]["out"] == str(demo_run["result"].resolve())  # absolute
        assert c.get("/api/licences", headers=h).json()["total"] >= 1
        assert c.get("/api/receptors", headers=h).json()["total"] >= 1
        # an alert with receptors downstream (traced from alerts at level >= probable): its page
        # joins the run's evidence
        at_risk = {a for r in summary["receptors_at_risk"] for a in r["alert_ids"]}
        standing = c.get("/api/alerts", params={"level": 2, "limit": 1000}, headers=h).json()
        feature = next(f for f in standing["features"]
                       if f["properties"]["run_alert_id"] in at_risk)
        page = c.get(f"/api/alerts/{feature['id']}", headers=h).json()["properties"]
        assert page["receptors_downstream"], page
        series = page["time_series"]
        assert series and {"date", "ndvi", "bsi"} <= set(series[0])
        assert any(isinstance(r["ndvi"], float) for r in series)
        manifest = demo_run["result"] / "evidence" / "manifest.json"
        assert page["evidence"]["manifest_sha256"] == hashlib.sha256(
            manifest.read_bytes()).hexdigest()
        name = page["files"].get("before_truecolor_png") or page["files"]["record"]
        f = c.get(f"/api/alerts/{feature['id']}/files/{name}", headers=h)
        assert f.status_code == 200 and len(f.content) > 0
        assert c.get(f"/api/alerts/{feature['id']}/files/..%2Fsummary.json",
                     headers=h).status_code == 404
        assert c.get(f"/api/alerts/{feature['id']}/verify", headers=h).json()["ok"] is True
        report = c.get("/api/exports/sites/demo/report.html", headers=h)
        assert report.status_code == 200 and "<html" in report.text.lower()
        z = c.get(f"/api/exports/runs/{runs[0]['run_id']}/evidence.zip", headers=h)
        names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
        assert "summary.json" in names and "evidence/manifest.json" in names
    finally:
        reg.close()
