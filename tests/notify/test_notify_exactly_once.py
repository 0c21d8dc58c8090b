"""Exactly once per (subscription, alert, level, retracted): across dispatches, level changes,
retractions, the caller's transaction, and a sender killed between sending and recording."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from notify_helpers import SECRET, event, settings_for

from minewatch.notify import enqueue, notify
from minewatch.run.notifications import add_subscription, deliveries


def _hook(registry, url, **kw):
    kw.setdefault("site_id", "S-1")
    return add_subscription(registry, channel="webhook", target=url, secret=SECRET,
                            **kw).subscription


def test_two_dispatches_of_the_same_events_send_each_once(registry, receiver, smtp):
    rx = receiver()
    box, ctl = smtp()
    _hook(registry, rx.url)
    add_subscription(registry, channel="email", target="ngo@example.org", site_id="S-1")
    events = [event("a1", 1), event("a2", 2), event("a3", 3)]
    first = notify(registry, events, settings_for(ctl))
    second = notify(registry, events, settings_for(ctl))
    assert first.enqueued == 6 and first.delivered == 6
    assert second.enqueued == 0 and second.outcomes == ()
    assert sorted(h.event_id for h in rx.hits) == sorted(e.event_id for e in events)
    assert len(box.messages) == 1


def test_a_level_change_is_a_new_delivery(registry, receiver):
    everything, probable = receiver(), receiver()
    _hook(registry, everything.url)
    _hook(registry, probable.url, min_level=2)
    notify(registry, [event("a1", 1)], settings_for())
    notify(registry, [event("a1", 1), event("a1", 2)], settings_for())  # level 1 again: no news
    notify(registry, [event("a1", 3)], settings_for())
    levels = [h.body["alert"]["level"] for h in everything.hits]
    assert levels == [1, 2, 3]
    assert len({h.event_id for h in everything.hits}) == 3
    assert [h.body["alert"]["level"] for h in probable.hits] == [2, 3]


def test_a_retraction_goes_to_those_told_of_the_alert(registry, receiver):
    told, confirmed_only, other_site = receiver(), receiver(), receiver()
    _hook(registry, told.url)
    _hook(registry, confirmed_only.url, min_level=3)
    _hook(registry, other_site.url, site_id="S-2")
    notify(registry, [event("a1", 2)], settings_for())
    gone = event("a1", 2, retracted=True)
    rep = notify(registry, [gone], settings_for())
    assert rep.delivered == 1
    assert [(h.body["type"], h.body["alert"]["retracted"]) for h in told.hits] == \
        [("alert.level", False), ("alert.retracted", True)]
    assert told.hits[1].event_id == gone.event_id != told.hits[0].event_id
    assert confirmed_only.hits == [] and other_site.hits == []
    notify(registry, [gone], settings_for())
    assert len(told.hits) == 2  # once


def test_a_level_and_its_retraction_in_one_batch(registry, receiver):
    rx = receiver()
    _hook(registry, rx.url)
    rep = notify(registry, [event("a1", 1), event("a1", 1, retracted=True)], settings_for())
    assert rep.delivered == 2
    assert [h.body["type"] for h in rx.hits] == ["alert.level", "alert.retracted"]


def test_enqueue_commits_with_the_callers_transaction(registry, receiver):
    rx = receiver()
    _hook(registry, rx.url)
    ev = event("a1", 2)
    with pytest.raises(RuntimeError), registry.write() as conn:
        assert len(enqueue(registry, [ev], conn=conn)) == 1
        raise RuntimeError("the alert change failed")
    assert deliveries(registry) == []  # rolled back with it
    with registry.write() as conn:
        enqueue(registry, [ev], conn=conn)
    assert [d.state for d in deliveries(registry)] == ["pending"]
    # the outbox is delivered by the next dispatch, even one given no events
    assert notify(registry, [], settings_for()).delivered == 1
    assert [h.event_id for h in rx.hits] == [ev.event_id]


_CHILD = """
import json, sys
from minewatch.notify import AlertEvent, NotifySettings, RetryPolicy, notify
from minewatch.registry import open_registry
events = [AlertEvent.from_json(e) for e in json.load(open(sys.argv[2]))]
with open_registry(sys.argv[1]) as reg:
    notify(reg, events, NotifySettings(retry=RetryPolicy(1, 0, 0), http_timeout_s=30))
"""


def test_a_crash_between_send_and_record_resends_only_the_one_in_flight(registry, receiver,
                                                                         tmp_path):
    events = [event(f"a{i}", 2) for i in range(1, 6)]
    doomed = events[2].event_id
    child: dict = {}

    def kill_the_sender_on_the_third(n, hit):
        if n == 3:  # the receiver has the event; the sender dies before it hears back
            os.kill(child["p"].pid, signal.SIGKILL)
            child["p"].wait()
        return 200

    rx = receiver(answer=kill_the_sender_on_the_third)
    _hook(registry, rx.url)
    path = tmp_path / "events.json"
    path.write_text(json.dumps([e.to_json() for e in events]))
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    child["p"] = subprocess.Popen([sys.executable, "-c", _CHILD, url, str(path)],
                                  env={**os.environ})
    assert child["p"].wait(timeout=120) == -signal.SIGKILL

    states = {d.event_id: d.state for d in deliveries(registry)}
    assert [states[e.event_id] for e in events] == \
        ["delivered", "delivered", "pending", "pending", "pending"]

    rep = notify(registry, events, settings_for())  # the next run
    assert rep.enqueued == 0 and rep.delivered == 3
    got = Counter(h.event_id for h in rx.accepted())
    assert set(got) == {e.event_id for e in events}
    assert [k for k, n in got.items() if n > 1] == [doomed]  # one duplicate: the one in flight
    assert got[doomed] == 2
    assert all(d.state == "delivered" for d in deliveries(registry))
