"""Every route against every role (anonymous, viewer, analyst, admin), on GeoPackage and
PostGIS: allowed roles get an answer that is not 401/403 (nor 5xx), others 401 (anonymous)
or 403; the matrix must list every route of the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.api.conftest import auth

ALL = ("viewer", "analyst", "admin")
REVIEWERS = ("analyst", "admin")
ADMIN = ("admin",)
PUBLIC = ("anonymous", *ALL)

LICENCE = {"type": "Feature", "properties": {
    "licence_id": "L9", "kind": "exploration", "status": "application",
    "valid_from": "2024-01-01", "effective_from": "2024-01-01"},
    "geometry": {"type": "Polygon", "coordinates": [[[-70, -13], [-69.99, -13], [-69.99, -12.99],
                                                     [-70, -12.99], [-70, -13]]]}}


def matrix(alert: str) -> list[tuple[str, str, str, dict | list | None, tuple, int]]:
    """(method, OpenAPI path, concrete path, JSON body, roles allowed, anonymous status)."""
    return [
        ("get", "/api/health", "/api/health", None, PUBLIC, 200),
        ("get", "/api/me", "/api/me", None, PUBLIC, 200),
        ("post", "/api/session", "/api/session",
         {"username": "nobody", "password": "wrong"}, (), 401),
        ("delete", "/api/session", "/api/session", None, PUBLIC, 200),
        ("post", "/api/tokens", "/api/tokens", {"label": "t"}, ALL, 401),
        ("get", "/api/users", "/api/users", None, ADMIN, 401),
        ("post", "/api/users", "/api/users", {"username": "u2", "role": "viewer"}, ADMIN, 401),
        ("patch", "/api/users/{username}", "/api/users/vic", {"active": True}, ADMIN, 401),
        ("get", "/api/audit", "/api/audit", None, ADMIN, 401),
        ("get", "/api/alerts", "/api/alerts", None, PUBLIC, 200),
        ("get", "/api/alerts/{alert_id}", f"/api/alerts/{alert}", None, ALL, 404),
        ("get", "/api/alerts/{alert_id}/verify", f"/api/alerts/{alert}/verify", None, ALL, 404),
        ("get", "/api/alerts/{alert_id}/files/{name}", f"/api/alerts/{alert}/files/sheet.html",
         None, ALL, 404),
        ("get", "/api/alerts/{alert_id}/reviews", f"/api/alerts/{alert}/reviews", None, ALL, 404),
        ("post", "/api/alerts/{alert_id}/reviews", f"/api/alerts/{alert}/reviews",
         {"state": "pre-validated"}, REVIEWERS, 401),
        ("get", "/api/runs", "/api/runs", None, ALL, 401),
        ("get", "/api/runs/{run_id}", "/api/runs/none", None, ALL, 401),
        ("get", "/api/records/{kind}", "/api/records/samples", None, ALL, 401),
        ("get", "/api/records/{kind}/{ident}", "/api/records/receptors/R1", None, ALL, 401),
        ("post", "/api/records/{kind}", "/api/records/operators",
         [{"operator_id": "O1", "name": "Oro SA"}], ADMIN, 401),
        *[(m, p.format(k=k), p.format(k=k).replace("{{ident}}", "x"), b, r, 401)
          for k in ("sites", "deposits", "licences", "parcels", "receptors")
          for m, p, b, r in (("get", "/api/{k}", None, ALL),
                             ("get", "/api/{k}/{{ident}}", None, ALL),
                             ("post", "/api/{k}", [LICENCE] if k == "licences" else [], ADMIN))],
        ("get", "/api/licences/{licence_id}/history", "/api/licences/L1/history", None, ALL, 401),
        ("get", "/api/licences/{licence_id}/on/{date}", "/api/licences/L1/on/2023-07-01", None,
         ALL, 401),
        ("post", "/api/inspections", "/api/inspections",
         {"inspection_id": "I-x", "date": "2024-01-01"}, REVIEWERS, 401),
        ("get", "/api/inspections/{inspection_id}", "/api/inspections/none", None, ALL, 401),
        ("get", "/api/sampling_points/{point_id}/samples", "/api/sampling_points/P1/samples",
         None, ALL, 401),
        ("get", "/api/exports/alerts.{fmt}", "/api/exports/alerts.csv", None, PUBLIC, 200),
        ("get", "/api/exports/sites/{site_id}/report.{fmt}", "/api/exports/sites/S1/report.html",
         None, ALL, 401),
        ("get", "/api/exports/runs/{run_id}/evidence.zip", "/api/exports/runs/x/evidence.zip",
         None, ALL, 401),
    ]


def test_matrix_lists_every_route(client, api_registry):
    listed = {(m, p) for m, p, *_ in matrix("x")}
    doc = client.get("/openapi.json").json()
    routes = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routes - listed == set(), "routes missing from the role matrix"
    assert listed - routes == set(), "matrix lists routes the API does not have"


@pytest.mark.parametrize("role", ["anonymous", "viewer", "analyst", "admin"])
def test_every_route_against_role(role, client, api_registry, tokens):
    alert = api_registry.alert_ids[0]
    headers = auth(tokens.get(role))
    for method, _, path, body, allowed, anon_status in matrix(alert):
        kw = {"headers": headers}
        if body is not None:
            kw["json"] = body
        r = client.request(method.upper(), path, **kw)
        where = f"{role} {method.upper()} {path}: {r.status_code} {r.text[:200]}"
        assert r.status_code < 500, where
        if not allowed:  # the same answer for everyone (a failed login)
            assert r.status_code == anon_status, where
        elif role in allowed:
            assert r.status_code not in (401, 403), where
        elif role == "anonymous":
            assert r.status_code == anon_status, where
        else:
            assert r.status_code == 403, where


def test_public_sees_published_alerts_only(client, api_registry, tokens):
    a, b = api_registry.alert_ids[:2]
    ana = auth(tokens["analyst"])
    for state in ("pre-validated", "validated"):
        assert client.post(f"/api/alerts/{a}/reviews", json={"state": state},
                           headers=ana).status_code == 200
    assert client.get("/api/alerts").json()["total"] == 0
    r = client.post(f"/api/alerts/{a}/reviews", json={"state": "validated", "publish": True},
                    headers=ana)
    assert r.status_code == 200, r.text
    pub = client.get("/api/alerts").json()
    assert [f["id"] for f in pub["features"]] == [a]
    assert "reviewed_by" not in pub["features"][0]["properties"]  # public fields only
    assert client.get(f"/api/alerts/{a}").status_code == 200
    assert client.get(f"/api/alerts/{b}").status_code == 404
    csv = client.get("/api/exports/alerts.csv").text.splitlines()
    assert len(csv) == 2 and csv[1].startswith(a)
    # a viewer sees all of them
    assert client.get("/api/alerts", headers=auth(tokens["viewer"])).json()["total"] == len(
        api_registry.alert_ids)
