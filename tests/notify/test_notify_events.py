"""Alert events: stable ids, JSON round trip, validation, the run folder's chips."""

from __future__ import annotations

import numpy as np
import pytest
from notify_helpers import event

from minewatch.errors import InputError
from minewatch.notify import AlertEvent, chip_paths


def test_event_ids_are_stable_and_distinct():
    assert event("a1", 2).event_id == event("a1", 2, area_ha=9).event_id  # figures may change
    ids = {event("a1", 1).event_id, event("a1", 2).event_id, event("a2", 2).event_id,
           event("a1", 2, retracted=True).event_id}
    assert len(ids) == 4 and all(i.startswith("ev_") and len(i) == 35 for i in ids)


def test_json_round_trip(tmp_path):
    ev = event("a1", 3, before=tmp_path / "b.png", after=tmp_path / "a.png")
    assert AlertEvent.from_json(ev.to_json()) == ev
    assert AlertEvent(alert_id="x", site_id=None, level=np.int64(2)).to_json()["level"] == 2


@pytest.mark.parametrize("kw, message", [
    ({"level": 4}, "level 4 is not 1, 2 or 3"),
    ({"level": 2.5}, "level 2.5 is not 1, 2 or 3"),
    ({"level": True}, "level True is not 1, 2 or 3"),
    ({"area_ha": -2}, "area_ha -2 is not a positive number"),
    ({"area_ha": float("nan")}, "area_ha nan"),
    ({"onset_date": "14/03/2023"}, "onset_date '14/03/2023' is not a date"),
    ({"alert_id": " "}, "alert_id is missing"),
])
def test_bad_events_are_refused(kw, message):
    base = {"alert_id": "a1", "site_id": "S-1", "level": 1}
    with pytest.raises(InputError, match=message):
        AlertEvent(**{**base, **kw})


def test_chip_paths(tmp_path):
    folder = tmp_path / "evidence" / "alerts" / "A0001"
    folder.mkdir(parents=True)
    (folder / "before_truecolor.png").write_bytes(b"png")
    assert chip_paths(tmp_path, "A0001") == (folder / "before_truecolor.png", None)
    assert chip_paths(tmp_path, "A0002") == (None, None)
