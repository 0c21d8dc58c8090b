"""Crash safety and concurrent writers, with real processes, on both backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from minewatch.cli.main import main
from minewatch.errors import RegistryLockedError
from minewatch.registry import open_registry
from registry_helpers import licence

import shapely


def _big_geojson(path: Path, n: int, prefix: str) -> None:
    feats = []
    for i in range(n):
        x, y = -75 + (i % 300) * 0.05, -15 + (i // 300) * 0.05
        feats.append({"type": "Feature", "properties": {
            "licence_id": f"{prefix}-{i}", "kind": "extraction", "status": "active",
            "valid_from": "2020-01-01", "valid_to": "2030-01-01"},
            "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.04, y],
                                                             [x + 0.04, y + 0.04], [x, y]]]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))


def _spawn(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


IMPORT = """
import sys
from minewatch.registry import open_registry
reg = open_registry(sys.argv[1], lock_timeout=float(sys.argv[3]))
rep = reg.import_file(sys.argv[2], "licences")
print("imported", rep.inserted, flush=True)
"""

HOLD = """
import sys, time
from minewatch.registry import open_registry
reg = open_registry(sys.argv[1])
with reg.write() as conn:
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _snapshot(url: str) -> dict:
    reg = open_registry(url)
    try:
        rows = reg.rows("licences")
        return {"ids": sorted(r["licence_id"] for r in rows), "log": reg.count("import_log"),
                "integrity": reg.integrity_check()}
    finally:
        reg.close()


def _writing_started(url: str, app: str) -> bool:
    if not url.startswith("postgresql"):
        return Path(url + "-journal").exists()
    import sqlalchemy as sa

    base = url.split("?")[0].replace("postgresql://", "postgresql+psycopg://", 1)
    eng = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with eng.connect() as c:
        n = c.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND query ILIKE 'INSERT INTO licence_versions%%'", (app,)).scalar()
    eng.dispose()
    return n > 0


@pytest.mark.slow
def test_sigkill_during_import_leaves_registry_as_before(registry, tmp_path):
    registry.import_records("licences", [licence("KEEP-1", shapely.box(0, 0, 1, 1))])
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    app = "mw_kill_" + uuid.uuid4().hex[:8]
    if registry.kind == "postgis":
        url = f"{url}&application_name={app}"
    before = _snapshot(url)
    src = tmp_path / "big.geojson"
    _big_geojson(src, 20_000, "BIG")
    proc = _spawn(IMPORT, url, str(src), "30")
    deadline = time.monotonic() + 120
    while not _writing_started(url, app):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.02)
    # The write transaction is open (journal file / INSERT running): kill it now.
    assert proc.poll() is None, "import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if registry.kind == "geopackage":
        assert Path(url + "-journal").exists()  # killed inside the transaction: hot journal
    after = _snapshot(url)
    assert after == before and after["ids"] == ["KEEP-1"] and after["integrity"] == "ok"
    # And the registry still takes imports afterwards.
    small = tmp_path / "small.geojson"
    _big_geojson(small, 10, "AFTER")
    reg = open_registry(url)
    assert reg.import_file(small, "licences").inserted == 10
    reg.close()


def test_waiting_writer_gets_a_clear_error(registry, tmp_path, capsys):
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    holder = _spawn(HOLD, url, "4")
    try:
        assert holder.stdout.readline().strip() == "locked"
        reg = open_registry(url, lock_timeout=0.5)
        t0 = time.monotonic()
        with pytest.raises(RegistryLockedError, match=r"locked by another writer; gave up "
                           r"after 0.5 s"):
            reg.import_records("licences", [licence("L-1", shapely.box(0, 0, 1, 1))])
        assert time.monotonic() - t0 < 5
        reg.close()
        src = tmp_path / "one.geojson"
        _big_geojson(src, 3, "ONE")
        rc = main(["registry", "import", str(src), "-r", url, "-k", "licences",
                   "--lock-timeout", "0.3"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and err.startswith("error: registry") and "--lock-timeout" in err
        assert len(err.splitlines()) == 1
    finally:
        holder.wait(timeout=30)
    assert _snapshot(url)["ids"] == []


def test_two_writers_at_once_both_succeed(registry, tmp_path):
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    files = []
    for p in ("A", "B"):
        f = tmp_path / f"{p}.geojson"
        _big_geojson(f, 4000, p)
        files.append(f)
    procs = [_spawn(IMPORT, url, str(f), "60") for f in files]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip() == "imported 4000"
    snap = _snapshot(url)
    assert len(snap["ids"]) == 8000 and snap["log"] == 2 and snap["integrity"] == "ok"
