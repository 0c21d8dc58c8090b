"""Notification fixtures: a registry (GeoPackage and PostGIS) holding the test site, and
real receivers on loopback."""

from __future__ import annotations

import pytest
from notify_helpers import SECRET, SITE2_POLY, SITE_POLY, Mailbox, Receiver, smtp_server

from minewatch.registry import init_registry


@pytest.fixture
def registry(new_url):
    """A registry on the parametrized backend with site S-1 (and S-2 beside it)."""
    reg = init_registry(new_url())
    reg.import_records("sites", [
        {"site_id": "S-1", "name": "Pit one", "geometry": SITE_POLY},
        {"site_id": "S-2", "name": "Pit two", "geometry": SITE2_POLY},
    ])
    yield reg
    reg.close()


@pytest.fixture
def receiver():
    """Factory of webhook receivers (closed afterwards)."""
    made = []

    def make(**kw) -> Receiver:
        r = Receiver(SECRET, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def smtp():
    """Factory: (mailbox, controller) of a started SMTP server (stopped afterwards)."""
    made = []

    def make(refuse_first: int = 0, **kw):
        box = Mailbox(refuse_first)
        ctl = smtp_server(box, **kw)
        made.append(ctl)
        return box, ctl

    yield make
    for c in made:
        c.stop()
