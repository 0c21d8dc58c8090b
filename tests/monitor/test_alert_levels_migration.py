"""Migration 0003: a registry at 0002 holding alerts gets the level columns, its rows intact."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
import sqlalchemy as sa

from minewatch.registry import Registry, migrate, open_registry
from minewatch.registry.connection import backend_for


@pytest.mark.filterwarnings("ignore:Did not recognize type 'geometry'")
def test_registry_at_0002_is_upgraded_with_alert_levels(new_url):
    url = new_url()
    old = Registry(backend_for(url, 30))
    try:
        with old.write() as conn:
            migrate.upgrade(conn, "0002")
            conn.execute(sa.text("INSERT INTO alerts (alert_id, site_id, onset_date, area_ha, triage_state) "
                                 "VALUES ('r1-A0001', 'S-1', '2023-03-01', 1.5, 'new')"))
        assert old.schema_revision() == "0002"
        with old.read() as conn:
            cols = {c["name"] for c in sa.inspect(conn).get_columns("alerts")}
        assert "level" not in cols
    finally:
        old.close()
    reg = open_registry(url)  # migrates
    try:
        assert reg.schema_revision() == migrate.head_revision()
        with reg.read() as conn:
            cols = {c["name"] for c in sa.inspect(conn).get_columns("alerts")}
        assert {"level", "first_seen", "confirmed_on", "retracted"} <= cols
        with reg.read() as conn:
            row = conn.execute(sa.text("SELECT alert_id, area_ha, level, retracted FROM alerts")).one()
        assert tuple(row) == ("r1-A0001", 1.5, None, None)
        # the new columns are written and read back through the registry
        reg.import_records("sites", [{"site_id": "S-1", "geometry": shapely.box(0, 0, 1, 1)}])
        changes = reg.record_alert_states("run1", "S-1", [{
            "alert_id": "st-M00001", "onset_date": "2023-04-01", "area_ha": 2.0, "licence_id": None,
            "licence_status_at_onset": "no_licence", "level": 2, "first_seen": "2023-04-11",
            "confirmed_on": None, "retracted": False, "geometry": shapely.box(0.1, 0.1, 0.2, 0.2)}])
        assert changes == [{"alert_id": "st-M00001", "before": None, "after": {"level": 2, "retracted": False}}]
        got = [r for r in reg.alerts_in_bbox((0, 0, 1, 1)) if r["alert_id"] == "st-M00001"][0]
        assert (got["level"], got["first_seen"], got["retracted"]) == (2, dt.date(2023, 4, 11), False)
        assert reg.record_alert_states("run2", "S-1", [{**{k: got[k] for k in (
            "alert_id", "onset_date", "area_ha", "licence_id", "licence_status_at_onset", "level", "first_seen",
            "confirmed_on", "retracted")}, "geometry": shapely.box(0.1, 0.1, 0.2, 0.2)}]) == []
        assert reg.integrity_check() == "ok"
    finally:
        reg.close()
