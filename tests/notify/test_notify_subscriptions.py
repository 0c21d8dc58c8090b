"""Subscriptions: validation, matching by site / AOI / level / area, storage in the registry
(both backends), pause and removal, and the upgrade of a registry made before them."""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa
from notify_helpers import SECRET, SITE2_POLY, SITE_POLY, event, settings_for

from minewatch.errors import InputError
from minewatch.notify import Subscription, enqueue, notify
from minewatch.notify.subscriptions import match, read_aoi
from minewatch.registry import Registry, migrate, open_registry
from minewatch.registry.connection import backend_for
from minewatch.run.notifications import (
    add_subscription,
    deliveries,
    list_subscriptions,
    remove_subscription,
    set_subscription_active,
)

HOOK = "https://receiver.example.org/hook"


def _sub(**kw) -> Subscription:
    base = {"subscription_id": "s1", "channel": "webhook", "target": HOOK, "site_id": "S-1",
            "secret": SECRET}
    return Subscription(**{**base, **kw})


def test_matching_by_site_aoi_level_and_area():
    inside = event("a1", 2, area_ha=3.0)
    assert _sub().wants(inside)
    assert not _sub(site_id="S-2").wants(inside)
    assert not _sub(min_level=3).wants(inside)
    assert _sub(min_level=2).wants(inside)
    assert not _sub(min_area_ha=3.5).wants(inside)
    assert _sub(min_area_ha=3.0).wants(inside)
    assert not _sub(active=False).wants(inside)
    # an AOI matches any alert whose outline meets it, whatever its site
    corner = shapely.box(-70.2502, -13.1502, -70.0, -13.0)
    assert _sub(site_id=None, aoi=corner).wants(inside)
    assert _sub(site_id=None, aoi=corner).wants(event("a1", 2, site_id=None))
    assert not _sub(site_id=None, aoi=SITE2_POLY).wants(inside)
    assert not _sub(site_id=None, aoi=corner).wants(
        event("a1", 2, geometry=shapely.box(-70.29, -13.19, -70.28, -13.18)))


def test_a_retraction_matches_only_subscriptions_told_of_the_alert():
    subs = [_sub(subscription_id="told"), _sub(subscription_id="not-told"),
            _sub(subscription_id="paused", active=False)]
    gone = event("a1", 1, retracted=True)
    told = {("told", "a1"), ("paused", "a1"), ("not-told", "another")}
    assert [s.subscription_id for s in match(gone, subs, told)] == ["told"]


@pytest.mark.parametrize("kw, message", [
    ({"channel": "sms"}, "channel 'sms' is not one of webhook, email"),
    ({"target": "ftp://x.org/a"}, "is not an http(s) URL"),
    ({"secret": "short"}, "signing secret of at least 16"),
    ({"secret": None}, "signing secret of at least 16"),
    ({"channel": "email", "target": "not-an-address"}, "is not an e-mail address"),
    ({"site_id": None}, "give either a site or an area of interest"),
    ({"aoi": SITE_POLY}, "give either a site or an area of interest"),
    ({"site_id": None, "aoi": shapely.box(500000, 8500000, 501000, 8501000)},
     "is not in lon/lat degrees"),
    ({"site_id": None, "aoi": shapely.Point(1, 2)}, "must be a polygon"),
    ({"site_id": None, "aoi": shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])},
     "AOI polygon is invalid"),
    ({"min_level": 4}, "minimum level 4 is not 1, 2 or 3"),
    ({"min_area_ha": -1}, "minimum area -1 ha"),
    ({"subscription_id": "has space"}, "use 1-64 letters"),
])
def test_bad_subscriptions_are_refused_saying_why(kw, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _sub(**kw)


def test_aoi_from_geojson(tmp_path):
    p = tmp_path / "aoi.geojson"
    p.write_text('{"type": "FeatureCollection", "features": ['
                 '{"type": "Feature", "properties": {}, "geometry": '
                 + shapely.to_geojson(SITE_POLY) + "},"
                 '{"type": "Feature", "properties": {}, "geometry": '
                 + shapely.to_geojson(SITE2_POLY) + "}]}")
    aoi = read_aoi(p)
    assert aoi.equals(shapely.union_all([SITE_POLY, SITE2_POLY]))
    p.write_text('{"type": "Point", "coordinates": [1, 2]}')
    with pytest.raises(InputError, match="aoi.geojson, feature 1: the AOI must be a polygon"):
        read_aoi(p)


def test_subscriptions_are_stored_and_read_back(registry):
    a = add_subscription(registry, channel="webhook", target=HOOK, site_id="S-1",
                         min_level=2, min_area_ha=1.5, note="ministry")
    b = add_subscription(registry, channel="email", target="ngo@example.org",
                         aoi=shapely.box(-70.31, -13.21, -70.25, -13.15), subscription_id="ngo")
    assert a.secret_generated and len(a.subscription.secret) == 64
    assert not b.secret_generated and b.subscription.secret is None
    got = {s.subscription_id: s for s in list_subscriptions(registry)}
    assert got[a.subscription.subscription_id] == a.subscription
    ngo = got["ngo"]
    assert ngo.aoi.equals(shapely.box(-70.31, -13.21, -70.25, -13.15))
    assert (ngo.channel, ngo.target, ngo.min_level, ngo.active) == \
        ("email", "ngo@example.org", 1, True)
    assert "secret" not in ngo.describe()


def test_registry_refuses_unknown_sites_and_duplicate_ids(registry):
    with pytest.raises(InputError, match="no site 'S-9'"):
        add_subscription(registry, channel="email", target="a@example.org", site_id="S-9")
    add_subscription(registry, channel="email", target="a@example.org", site_id="S-1",
                     subscription_id="x")
    with pytest.raises(InputError, match="subscription 'x' already exists"):
        add_subscription(registry, channel="email", target="b@example.org", site_id="S-1",
                         subscription_id="x")
    with pytest.raises(InputError, match="no subscription 'nope'"):
        remove_subscription(registry, "nope")


def test_filters_in_a_dispatch(registry, receiver):
    site1, site2, big, aoi = receiver(), receiver(), receiver(), receiver()
    for rx, kw in ((site1, {"site_id": "S-1"}), (site2, {"site_id": "S-2"}),
                   (big, {"site_id": "S-1", "min_area_ha": 10}),
                   (aoi, {"aoi": shapely.box(-70.26, -13.16, -70.24, -13.14)})):
        add_subscription(registry, channel="webhook", target=rx.url, secret=SECRET, **kw)
    small = event("a1", 1, area_ha=2)
    large = event("a2", 1, area_ha=12, geometry=shapely.box(-70.29, -13.19, -70.28, -13.18))
    elsewhere = event("a3", 3, site_id="S-2",
                      geometry=shapely.box(-70.05, -13.15, -70.04, -13.14))
    notify(registry, [small, large, elsewhere], settings_for())

    def got(rx):
        return sorted(h.body["alert"]["alert_id"] for h in rx.hits)

    assert got(site1) == ["a1", "a2"] and got(site2) == ["a3"]
    assert got(big) == ["a2"] and got(aoi) == ["a1"]


def test_pause_resume_and_remove(registry, receiver):
    rx = receiver()
    sub = add_subscription(registry, channel="webhook", target=rx.url, secret=SECRET,
                           site_id="S-1").subscription
    sid = sub.subscription_id
    notify(registry, [event("a1", 1)], settings_for())
    set_subscription_active(registry, sid, False)
    rep = notify(registry, [event("a2", 1)], settings_for())  # paused: matches nothing new
    assert rep.enqueued == 0 and len(rx.hits) == 1
    set_subscription_active(registry, sid, True)
    # a pending delivery of a paused subscription waits
    enqueue(registry, [event("a3", 1)])
    set_subscription_active(registry, sid, False)
    rep = notify(registry, [], settings_for())
    assert [(o.state, o.error) for o in rep.outcomes] == [("pending", "subscription paused")]
    assert remove_subscription(registry, sid) == 1  # the pending one dropped
    assert [d.state for d in deliveries(registry)] == ["delivered"]  # the record stays
    assert list_subscriptions(registry) == []


def test_a_registry_made_before_notifications_is_upgraded(new_url):
    """A registry at schema 0001 holding a site opens at the newest schema, the site intact
    and subscriptions usable."""
    url = new_url()
    old = Registry(backend_for(url, 30))  # not migrated: we take it to 0001 only
    try:
        with old.write() as conn:
            migrate.upgrade(conn, "0001")
        old.import_records("sites", [{"site_id": "S-1", "geometry": SITE_POLY}])
        assert old.schema_revision() == "0001"
        with old.read() as conn:
            assert "subscriptions" not in sa.inspect(conn).get_table_names()
    finally:
        old.close()
    reg = open_registry(url)  # migrates
    try:
        assert reg.schema_revision() == migrate.head_revision()
        assert reg.site("S-1").geometry.equals(SITE_POLY)
        with reg.read() as conn:
            names = set(sa.inspect(conn).get_table_names())
        assert {"subscriptions", "notification_deliveries"} <= names
        add_subscription(reg, channel="email", target="a@example.org", site_id="S-1")
        assert len(list_subscriptions(reg)) == 1
        assert reg.integrity_check() == "ok"
    finally:
        reg.close()
