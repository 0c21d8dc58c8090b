"""The review workflow through the API and the CLI: transitions with who/when/comment, the
conflicts, rejected alerts kept, concurrent reviewers over real HTTP with no lost write."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import sqlalchemy as sa
from typer.testing import CliRunner

from minewatch.api import create_app
from minewatch.cli.main import app as cli_app
from minewatch.cli.main import register_commands
from minewatch.registry import Registry, open_registry
from minewatch.registry import migrate
from minewatch.registry.connection import backend_for
from minewatch.run import accounts
from minewatch.testing.api_server import serve_app
from tests.api.conftest import PASSWORD, auth, fill


def review(client, alert, state, token, **kw):
    return client.post(f"/api/alerts/{alert}/reviews", json={"state": state, **kw},
                       headers=auth(token))


def test_workflow_records_every_transition(client, api_registry, tokens):
    a, b = api_registry.alert_ids[:2]
    ana, boss = tokens["analyst"], tokens["admin"]
    assert review(client, a, "pre-validated", ana, comment="looks like a pit").status_code == 200
    r = review(client, a, "validated", ana, comment="seen on the chips", expected="pre-validated")
    assert r.status_code == 200 and r.json()["from_state"] == "pre-validated"
    assert review(client, a, "audited", boss, comment="checked").status_code == 200
    hist = client.get(f"/api/alerts/{a}/reviews", headers=auth(ana)).json()
    assert [(h["from_state"], h["state"], h["changed_by"], h["comment"]) for h in hist] == [
        ("new", "pre-validated", "ana", "looks like a pit"),
        ("pre-validated", "validated", "ana", "seen on the chips"),
        ("validated", "audited", "boss", "checked")]
    assert all(h["changed_at"] for h in hist)
    # rejected alerts stay queryable
    review(client, b, "pre-validated", ana)
    assert review(client, b, "rejected", ana, comment="cloud shadow").status_code == 200
    got = client.get("/api/alerts", params={"status": "rejected"}, headers=auth(ana)).json()
    assert [f["id"] for f in got["features"]] == [b]
    detail = client.get(f"/api/alerts/{a}", headers=auth(ana)).json()["properties"]
    assert detail["review"]["state"] == "audited" and len(detail["review"]["history"]) == 3
    # and the audit log holds every write
    log = client.get("/api/audit", params={"action": "alert.review"}, headers=auth(boss)).json()
    assert len(log) == 5 and {e["target"] for e in log} == {a, b}


def test_transitions_that_do_not_apply_are_conflicts(client, api_registry, tokens):
    a = api_registry.alert_ids[0]
    ana = tokens["analyst"]
    r = review(client, a, "validated", ana)  # new -> validated skips pre-validation
    assert r.status_code == 409 and "allowed: pre-validated" in r.json()["detail"]
    review(client, a, "pre-validated", ana)
    r = review(client, a, "rejected", ana, expected="new")  # someone moved it meanwhile
    assert r.status_code == 409
    assert review(client, a, "pre-validated", ana, publish=True).status_code == 409
    assert review(client, "nope", "pre-validated", ana).status_code == 404
    assert review(client, a, "bogus", ana).status_code == 422
    assert len(api_registry.reviews.history(a)) == 1


def test_twenty_reviewers_at_once_lose_no_write(new_url):
    """20 analysts over real HTTP: each validates its own alert (all 20 recorded), then all
    20 validate one alert at once (exactly one wins, 19 get 409, one transition stored)."""
    from minewatch.registry import init_registry

    reg = init_registry(new_url())
    try:
        ids = fill(reg, n_alerts=21)
        tokens = []
        for i in range(20):
            accounts.add_user(reg, f"r{i:02d}", "analyst", password=PASSWORD, by="test")
            tokens.append(accounts.create_token(reg, accounts.principal_for_user(reg, f"r{i:02d}")))
        for a in ids:
            reg.reviews.transition(a, "pre-validated", by="r00")
        with serve_app(create_app(reg)) as url:
            def validate(args):
                token, alert = args
                with httpx.Client(base_url=url, timeout=60) as c:
                    return c.post(f"/api/alerts/{alert}/reviews", headers=auth(token),
                                  json={"state": "validated", "comment": "ok"}).status_code

            with ThreadPoolExecutor(20) as pool:
                own = list(pool.map(validate, zip(tokens, ids[:20])))
                same = list(pool.map(validate, [(t, ids[20]) for t in tokens]))
        assert own == [200] * 20
        assert sorted(same) == [200] + [409] * 19
        states = reg.reviews.states(ids)
        assert set(states.values()) == {"validated"}
        for a in ids[:20]:
            assert [h["state"] for h in reg.reviews.history(a)] == ["pre-validated", "validated"]
        last = reg.reviews.history(ids[20])
        assert [h["state"] for h in last] == ["pre-validated", "validated"]
        assert last[-1]["changed_by"] == f"r{same.index(200):02d}"  # the one that got 200
        assert len(reg.access.audit_log(action="alert.review", limit=1000)) == 21 + 21
    finally:
        reg.close()


def test_cli_review_and_users(tmp_path, api_registry):
    if api_registry.kind != "geopackage":
        return  # the CLI path is the same on both backends; once is enough
    register_commands()
    url = str(api_registry.backend.path)
    run = CliRunner().invoke
    r = run(cli_app, ["users", "add", "carla", "--role", "analyst", "--registry", url])
    assert r.exit_code == 0 and "password (shown once):" in r.output, r.output
    r = run(cli_app, ["users", "list", "--registry", url])
    assert r.output.split() == ["carla", "analyst"]
    a = api_registry.alert_ids[0]
    r = run(cli_app, ["registry", "review", a, "--state", "pre-validated", "--by", "carla",
                      "--comment", "from the field", "--registry", url])
    assert r.exit_code == 0 and "new -> pre-validated" in r.output, r.output
    r = run(cli_app, ["registry", "review", a, "--state", "audited", "--by", "carla",
                      "--registry", url])
    assert r.exit_code == 2 and "error:" in r.output and "cannot become audited" in r.output
    r = run(cli_app, ["users", "passwd", "carla", "--password", "new password 1",
                      "--registry", url])
    assert r.exit_code == 0
    assert accounts.authenticate(api_registry, "carla", "new password 1").role == "analyst"


def test_a_registry_at_0003_is_upgraded(new_url):
    url = new_url()
    old = Registry(backend_for(url, 30))
    try:
        with old.write() as conn:
            migrate.upgrade(conn, "0003")  # alerts with levels, before access and review
        ids = fill(old, n_alerts=2)
    finally:
        old.close()
    reg = open_registry(url)
    try:
        assert reg.schema_revision() == migrate.head_revision()
        assert reg.reviews.states(ids) == {i: "new" for i in ids}
        with reg.read() as conn:
            assert {"users", "alert_reviews", "audit_log"} <= set(
                sa.inspect(conn).get_table_names())
    finally:
        reg.close()
