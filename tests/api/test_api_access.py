"""Sessions (cookies, CSRF), tokens, passwords and the first admin."""

from __future__ import annotations

import pytest

from minewatch.errors import AuthenticationError
from minewatch.registry import init_registry
from minewatch.run import accounts
from tests.api.conftest import PASSWORD, auth


def test_session_cookies_and_csrf(client, tokens):
    r = client.post("/api/session", json={"username": "ana", "password": PASSWORD})
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("minewatch_session="))
    assert "HttpOnly" in session and "Secure" in session and "SameSite=strict" in session
    csrf = r.json()["csrf_token"]
    # a read needs no CSRF token; a write without (or with a wrong) one is refused
    assert client.get("/api/runs").status_code == 200
    body = {"state": "pre-validated"}
    alerts = client.get("/api/alerts").json()["features"]
    a = alerts[0]["id"]
    assert client.post(f"/api/alerts/{a}/reviews", json=body).status_code == 403
    assert client.post(f"/api/alerts/{a}/reviews", json=body,
                       headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post(f"/api/alerts/{a}/reviews", json=body,
                       headers={"X-CSRF-Token": csrf}).status_code == 200
    # log out: the cookie no longer works
    assert client.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 200
    client.cookies.clear()
    assert client.get("/api/runs").status_code == 401


def test_bearer_tokens_need_no_csrf_and_can_be_wrong(client, tokens):
    assert client.get("/api/me", headers=auth(tokens["viewer"])).json()["role"] == "viewer"
    assert client.get("/api/runs", headers=auth("mw_not-a-token")).status_code == 401
    assert client.get("/api/runs", headers={"Authorization": "Basic abc"}).status_code == 401


def test_wrong_passwords_and_deactivated_users(client, api_registry, tokens):
    r = client.post("/api/session", json={"username": "ana", "password": "nope nope"})
    assert r.status_code == 401 and r.json()["detail"] == "wrong user name or password"
    r2 = client.post("/api/session", json={"username": "ghost", "password": "nope nope"})
    assert r2.json() == r.json()  # an unknown user looks the same
    boss = auth(tokens["admin"])
    assert client.patch("/api/users/ana", json={"active": False}, headers=boss).status_code == 200
    assert client.get("/api/runs", headers=auth(tokens["analyst"])).status_code == 401
    assert client.post("/api/session", json={"username": "ana",
                                             "password": PASSWORD}).status_code == 401
    stored = api_registry.access.user("vic", with_hash=True)["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_first_start_creates_one_admin(tmp_path, monkeypatch):
    reg = init_registry(tmp_path / "r.gpkg")
    try:
        monkeypatch.delenv(accounts.ADMIN_PASSWORD_ENV, raising=False)
        generated = accounts.ensure_admin(reg)
        assert generated and len(generated) >= 12
        assert accounts.authenticate(reg, "admin", generated).role == "admin"
        assert accounts.ensure_admin(reg) is None  # only on first start
        with pytest.raises(AuthenticationError):
            accounts.authenticate(reg, "admin", "wrong password")
    finally:
        reg.close()
    reg = init_registry(tmp_path / "r2.gpkg")
    try:
        monkeypatch.setenv(accounts.ADMIN_PASSWORD_ENV, "from the env 1")
        assert accounts.ensure_admin(reg) is None
        assert accounts.authenticate(reg, "admin", "from the env 1").role == "admin"
    finally:
        reg.close()
