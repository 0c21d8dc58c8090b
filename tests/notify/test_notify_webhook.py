"""Webhooks against a real HTTP receiver on loopback: signature, payload, retries with
backoff, dead letters, refusals."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest
from notify_helpers import FAST, SECRET, Sleeps, event, fails_first, settings_for

from minewatch.notify import RetryPolicy, notify
from minewatch.notify.events import SCHEMA
from minewatch.notify.webhook import TIMESTAMP_HEADER, payload, post
from minewatch.run.notifications import add_subscription, deliveries, requeue


def _hook(registry, url, **kw):
    return add_subscription(registry, channel="webhook", target=url, site_id="S-1",
                            secret=SECRET, **kw).subscription


def test_signed_payload_is_delivered_once(registry, receiver):
    rx = receiver()
    sub = _hook(registry, rx.url)
    ev = event(level=2)
    rep = notify(registry, [ev], settings_for())
    assert (rep.enqueued, rep.delivered, rep.dead, rep.waiting) == (1, 1, 0, 0)
    assert len(rx.hits) == 1
    hit = rx.hits[0]
    assert hit.signature_ok  # HMAC-SHA256 of the exact body, checked by the receiver
    body = hit.body
    assert body["schema"] == SCHEMA and body["type"] == "alert.level" and body["test"] is False
    assert body["event_id"] == ev.event_id == hit.headers["X-Minewatch-Event-Id"]
    assert body["subscription_id"] == sub.subscription_id
    sent = dt.datetime.fromisoformat(body["sent_at"])
    assert int(hit.headers[TIMESTAMP_HEADER]) == int(sent.timestamp())
    a = body["alert"]
    assert (a["alert_id"], a["site_id"], a["level"], a["level_name"], a["retracted"]) == \
        ("run1-A0001", "S-1", 2, "probable", False)
    assert a["onset_date"] == "2023-03-14" and a["first_seen"] == "2023-04-02"
    assert a["licence"] == {"licence_id": None, "status_at_onset": "no_licence"}
    assert a["geometry"]["type"] == "Polygon" and a["area_ha"] == 2.5
    [row] = deliveries(registry)
    assert (row.state, row.attempts, row.last_error) == ("delivered", 1, None)
    assert row.delivered_at is not None and row.event == ev


def test_a_tampered_body_fails_the_signature(receiver):
    rx = receiver()
    doc = payload(event(), "sub_x", dt.datetime.now(dt.timezone.utc))
    with httpx.Client() as client:
        assert post(client, rx.url, SECRET, doc, FAST).delivered
        # the same body signed with another key: the receiver's check fails
        assert post(client, rx.url, "another-secret-0123456789", doc, FAST).delivered
    assert [h.signature_ok for h in rx.hits] == [True, False]


def test_receiver_failing_twice_is_retried_and_gets_the_event_once(registry, receiver):
    rx = receiver(answer=fails_first(2))
    _hook(registry, rx.url)
    ev = event(level=1)
    sleeps = Sleeps()
    rep = notify(registry, [ev], settings_for(), sleep=sleeps)
    assert [h.status for h in rx.hits] == [500, 500, 200]
    assert {h.event_id for h in rx.hits} == {ev.event_id}  # one event, tried three times
    assert len({h.raw for h in rx.hits}) == 1  # the same signed bytes each time
    assert len(rx.accepted()) == 1
    assert sleeps == [0.01, 0.02]  # exponential backoff: base, 2 x base
    assert rep.delivered == 1 and rep.outcomes[0].tries == 3
    [row] = deliveries(registry)
    assert (row.state, row.attempts) == ("delivered", 3)
    # the next dispatch of the same event sends nothing
    again = notify(registry, [ev], settings_for())
    assert (again.enqueued, again.outcomes) == (0, ())
    assert len(rx.hits) == 3


def test_receiver_always_failing_is_dead_lettered_once(registry, receiver):
    rx = receiver(answer=lambda n, hit: 503)
    _hook(registry, rx.url)
    first, second = event("run1-A0001"), event("run1-A0002")
    sleeps = Sleeps()
    rep = notify(registry, [first, second], settings_for(), sleep=sleeps)
    assert len(rx.hits) == FAST.attempts and sleeps == FAST.delays()
    assert {h.event_id for h in rx.hits} == {first.event_id}
    by_event = {o.event_id: o for o in rep.outcomes}
    assert by_event[first.event_id].state == "dead"
    # the receiver is down: the other event waits instead of spending the retries again
    assert by_event[second.event_id].state == "pending"
    assert "not tried" in by_event[second.event_id].error
    dead = deliveries(registry, states=["dead"])
    assert len(dead) == 1 and dead[0].attempts == FAST.attempts
    assert "HTTP 503" in dead[0].last_error and "gave up after 3 tries" in dead[0].last_error

    # next dispatch: the dead letter is not sent again; the waiting one is tried
    notify(registry, [first, second], settings_for())
    assert [h.event_id for h in rx.hits].count(first.event_id) == FAST.attempts
    assert [h.event_id for h in rx.hits].count(second.event_id) == FAST.attempts
    assert {d.state for d in deliveries(registry)} == {"dead"}

    # the receiver is fixed, the dead letters requeued: each goes out once more
    rx.answer = lambda n, hit: 200
    assert requeue(registry) == 2
    rep = notify(registry, [], settings_for())
    assert rep.delivered == 2
    assert sorted(h.event_id for h in rx.accepted()) == sorted([first.event_id,
                                                                 second.event_id])
    assert all(d.state == "delivered" for d in deliveries(registry))


def test_a_refusal_is_not_retried(registry, receiver):
    rx = receiver(answer=lambda n, hit: 410)
    _hook(registry, rx.url)
    rep = notify(registry, [event("a1"), event("a2")], settings_for())
    assert len(rx.hits) == 2  # one try each; a refusal says nothing about the next event
    assert [o.state for o in rep.outcomes] == ["dead", "dead"]
    assert all(o.tries == 1 and "not retried" in o.error for o in rep.outcomes)


def test_no_receiver_at_all(registry):
    _hook(registry, "http://127.0.0.1:9/nothing-listens-here")
    rep = notify(registry, [event()], settings_for())
    [o] = rep.outcomes
    assert o.state == "dead" and o.tries == FAST.attempts and "ConnectError" in o.error


def test_retry_after_is_honoured_up_to_the_cap(receiver):
    rx = receiver(answer=lambda n, hit: (429, {"Retry-After": "120"}) if n == 1 else 200)
    sleeps = Sleeps()
    policy = RetryPolicy(attempts=2, base_s=0.01, cap_s=0.03)
    doc = payload(event(), "sub_x", dt.datetime.now(dt.timezone.utc))
    with httpx.Client() as client:
        res = post(client, rx.url, SECRET, doc, policy, sleep=sleeps)
    assert res.delivered and res.tries == 2
    assert sleeps == [0.03]  # 120 s asked, capped


def test_backoff_schedule():
    p = RetryPolicy(attempts=6, base_s=2, cap_s=10)
    assert p.delays() == [2, 4, 8, 10, 10]


def test_the_receivers_snippet_in_the_docs_verifies_a_real_delivery(registry, receiver):
    """docs/notifications.md's verification code, run on what a receiver got."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    snippet = doc.split("### Verifying a request (receivers)")[1].split("```python")[1] \
        .split("```")[0]
    ns: dict = {}
    exec(snippet, ns)  # noqa: S102 - our own documentation
    rx = receiver()
    _hook(registry, rx.url)
    notify(registry, [event()], settings_for())
    [hit] = rx.hits
    assert ns["verify"](SECRET, hit.raw, hit.headers)["event_id"] == event().event_id
    with pytest.raises(ValueError, match="bad signature"):
        ns["verify"]("another-secret-0123456789", hit.raw, hit.headers)
    with pytest.raises(ValueError, match="bad signature"):
        ns["verify"](SECRET, hit.raw.replace(b'"level":1', b'"level":3'), hit.headers)
    with pytest.raises(ValueError, match="too old"):
        ns["verify"](SECRET, hit.raw, {**hit.headers,
                                       "X-Minewatch-Timestamp": str(int(time.time()) - 3600)})
