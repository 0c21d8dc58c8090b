"""MOSUM agrees with the reference bfast package's bfastmonitor.

bfast only imports with numpy < 1.24, so its breaks were computed once in its own venv
by ``data/make_bfast_fixture.py`` and stored in ``data/bfast_reference.npz``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from minewatch.analysis.change import ChangeParams, detect_breaks

DATA = Path(__file__).parent / "data"


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_bfast_fixture", DATA / "make_bfast_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_mosum_flags_and_dates_agree_with_bfast_on_99_percent_of_pixels():
    mod = _fixture_module()
    ref = np.load(DATA / "bfast_reference.npz")
    values, days, monitor_start = mod.build_stack()
    assert mod.fingerprint(values) == str(ref["fingerprint"]), (
        "the synthetic stack changed since the fixture was made: "
        "rerun tests/change/data/make_bfast_fixture.py with the bfast venv"
    )
    cfg = json.loads(str(ref["bfast"]))
    params = ChangeParams(
        method="mosum",
        harmonics=cfg["k"],
        period_days=cfg["freq"],
        mosum_h=cfg["hfrac"],
        mosum_level=cfg["level"],
        trend=True,
        history="all",
        rmse_floor=0.0,
        min_history_obs=6,
    )
    res = detect_breaks(values[:, None], days, monitor_start, params, backend="cpu")
    bflag = ref["breaks"] >= 0
    bday = np.where(bflag, ref["break_day"], 0)
    # the comparison is meaningful: many breaks and many non-breaks
    assert 0.1 < bflag.mean() < 0.9
    assert np.mean(res.flag == bflag) >= 0.99
    assert np.mean(res.date == bday) >= 0.99
    # bfast's -2 (too few observations) never coincides with a minewatch break
    assert not np.any(res.flag & (ref["breaks"] == -2))
