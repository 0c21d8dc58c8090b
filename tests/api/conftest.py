"""API fixtures: a registry (GeoPackage and PostGIS) with a site, licences, receptors, one run
and its alerts, a user of each role with an API token, and a TestClient over the app."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from minewatch.api import create_app
from minewatch.registry import init_registry
from minewatch.run import accounts

ROLES = ("admin", "analyst", "viewer")
PASSWORD = "correct horse battery"
X0, Y0 = -70.20, -13.10


def cell(i: int, j: int = 0, size: float = 0.002):
    return box(X0 + i * size, Y0 + j * size, X0 + (i + 0.8) * size, Y0 + (j + 0.8) * size)


def fill(reg, n_alerts: int = 6) -> list[str]:
    """Licences L1 (active, then suspended in 2023), a site, a receptor, a run and alerts."""
    reg.import_records("licences", [
        {"licence_id": "L1", "kind": "extraction", "status": "active", "holder": "Oro SA",
         "valid_from": "2020-01-01", "valid_to": "2030-01-01", "effective_from": "2020-01-01",
         "geometry": box(X0, Y0, X0 + 0.01, Y0 + 0.01)},
        {"licence_id": "L1", "kind": "extraction", "status": "suspended", "holder": "Oro SA",
         "valid_from": "2020-01-01", "valid_to": "2030-01-01", "effective_from": "2023-06-01",
         "geometry": box(X0, Y0, X0 + 0.01, Y0 + 0.01)},
    ])
    reg.import_records("receptors", [{"receptor_id": "R1", "kind": "village", "name": "Pueblo",
                                      "geometry": box(X0 + 0.02, Y0, X0 + 0.021, Y0 + 0.001)}])
    reg.import_records("sites", [{"site_id": "S1", "name": "Rio Oro", "licence_ids": "L1",
                                  "receptor_ids": "R1",
                                  "geometry": box(X0 - 0.01, Y0 - 0.01, X0 + 0.05, Y0 + 0.05)}])
    run_id = reg.record_run({"site_id": "S1", "outcome": "ok"})
    alerts = []
    for k in range(n_alerts):
        inside = k % 2 == 0
        alerts.append({
            "alert_id": f"A{k + 1:04d}", "onset_date": dt.date(2022, 1 + k % 12, 1 + k % 27),
            "area_ha": 1.0 + k, "licence_id": "L1" if inside else None,
            "licence_status_at_onset": "active" if inside else "no_licence",
            "confidence": 0.8, "level": 1 + k % 3,
            "geometry": cell(k % 4, k // 4) if inside else cell(10 + k, 0)})
    ids = reg.record_alerts(run_id, alerts)
    return sorted(ids.values())


@pytest.fixture
def api_registry(new_url, tmp_path):
    reg = init_registry(new_url(), files_dir=tmp_path / "registry-files")
    reg.alert_ids = fill(reg)
    yield reg
    reg.close()


@pytest.fixture
def tokens(api_registry):
    """{role: API token} for one user of each role (``admin`` is user ``boss``)."""
    out = {}
    for role in ROLES:
        user = {"admin": "boss", "analyst": "ana", "viewer": "vic"}[role]
        accounts.add_user(api_registry, user, role, password=PASSWORD, by="test")
        out[role] = accounts.create_token(api_registry, accounts.principal_for_user(
            api_registry, user))
    return out


@pytest.fixture
def client(api_registry):
    app = create_app(api_registry)
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def auth(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}
