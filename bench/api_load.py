"""Bounded load test of the REST API on loopback: alert-list requests per second with their p95
latency, on GeoPackage and on PostGIS, and 20 reviewers validating at once (no lost write).

`minewatch serve` runs as its own process (one uvicorn worker) over a registry holding one
site, one run and ``--alerts`` alerts; httpx clients in threads of this process send
``GET /api/alerts`` (a page of 50, with a random bbox / onset period / inside-licence filter
each) at each concurrency level for ``--seconds``. Then 20 analysts (one API token each)
validate 20 alerts at once, and all 20 validate one more alert at once: every transition must
be stored once, the race for the shared alert won by exactly one (the others get 409).

    python bench/api_load.py                      # both backends (PostGIS: MINEWATCH_TEST_PG_URL)
    python bench/api_load.py --backends gpkg --seconds 5

Prints, per backend and concurrency: requests/s, p50 and p95 (ms), errors; the highest
requests/s whose p95 stays under 200 ms; the PostGIS / GeoPackage ratio; the reviewers'
outcome. (v0.1.0 had no API, so there is no release to compare with.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from shapely.geometry import box

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from minewatch.registry import init_registry  # noqa: E402
from minewatch.run import accounts  # noqa: E402

X0, Y0 = -70.3, -13.2
P95_LIMIT_MS = 200.0
PASSWORD = "bench password"


def build(url: str, n_alerts: int) -> tuple[list[str], dict[str, str]]:
    reg = init_registry(url)
    try:
        reg.import_records("licences", [{
            "licence_id": "L1", "kind": "extraction", "status": "active",
            "valid_from": "2020-01-01", "effective_from": "2020-01-01",
            "geometry": box(X0, Y0, X0 + 0.05, Y0 + 0.1)}])
        reg.import_records("sites", [{"site_id": "S1", "licence_ids": "L1",
                                      "geometry": box(X0, Y0, X0 + 0.1, Y0 + 0.1)}])
        run_id = reg.record_run({"site_id": "S1", "outcome": "ok"})
        side = int(np.ceil(np.sqrt(n_alerts)))
        step = 0.1 / side
        rng = np.random.default_rng(0)
        alerts = []
        for k in range(n_alerts):
            i, j = k % side, k // side
            x, y = X0 + i * step, Y0 + j * step
            inside = x < X0 + 0.05
            alerts.append({
                "alert_id": f"A{k + 1:05d}",
                "onset_date": dt.date(2021, 1, 1) + dt.timedelta(days=int(rng.integers(0, 1000))),
                "area_ha": float(rng.uniform(0.1, 5)), "licence_id": "L1" if inside else None,
                "licence_status_at_onset": "active" if inside else "no_licence",
                "confidence": 0.8, "geometry": box(x, y, x + 0.8 * step, y + 0.8 * step)})
        ids = sorted(reg.record_alerts(run_id, alerts).values())
        tokens = {}
        for name, role in [("viewer", "viewer")] + [(f"r{i:02d}", "analyst") for i in range(20)]:
            accounts.add_user(reg, name, role, password=PASSWORD, by="bench")
            tokens[name] = accounts.create_token(reg, accounts.principal_for_user(reg, name))
        for a in ids[:21]:
            reg.reviews.transition(a, "pre-validated", by="r00")
    finally:
        reg.close()
    return ids, tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(registry: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MINEWATCH_ADMIN_PASSWORD": PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "minewatch", "serve", "--registry", registry,
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def random_params(rng: random.Random) -> dict:
    p: dict = {"limit": 50}
    kind = rng.randrange(4)
    if kind == 0:
        w, s = X0 + rng.uniform(0, 0.07), Y0 + rng.uniform(0, 0.07)
        p["bbox"] = f"{w},{s},{w + 0.03},{s + 0.03}"
    elif kind == 1:
        start = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(900))
        p["onset_from"], p["onset_to"] = start.isoformat(), (start + dt.timedelta(90)).isoformat()
    elif kind == 2:
        p["inside_licence"] = rng.choice(["true", "false"])
        p["offset"] = rng.randrange(0, 200)
    return p


def load_level(url: str, token: str, clients: int, seconds: float) -> dict:
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as c:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                r = c.get("/api/alerts", params=random_params(rng))
                dt_ms = (time.perf_counter() - t0) * 1000
                with lock:
                    lat.append(dt_ms)
                    if r.status_code != 200:
                        errors[0] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - t0
    a = np.asarray(lat)
    return {"clients": clients, "requests": len(a), "rps": len(a) / wall,
            "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "errors": errors[0]}


def reviewers(url: str, registry: str, ids: list[str], tokens: dict) -> dict:
    names = [f"r{i:02d}" for i in range(20)]

    def validate(args):
        name, alert = args
        with httpx.Client(base_url=url, timeout=60,
                          headers={"Authorization": f"Bearer {tokens[name]}"}) as c:
            return c.post(f"/api/alerts/{alert}/reviews",
                          json={"state": "validated", "comment": f"by {name}"}).status_code

    t0 = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        own = list(pool.map(validate, zip(names, ids[:20])))
    t_own = time.perf_counter() - t0
    with ThreadPoolExecutor(20) as pool:
        same = list(pool.map(validate, [(n, ids[20]) for n in names]))
    from minewatch.registry import open_registry

    reg = open_registry(registry)
    try:
        states = reg.reviews.states(ids[:21])
        stored = sum(len([h for h in reg.reviews.history(a) if h["state"] == "validated"])
                     for a in ids[:21])
    finally:
        reg.close()
    ok = (own == [200] * 20 and sorted(same) == [200] + [409] * 19
          and set(states.values()) == {"validated"} and stored == 21)
    return {"own_200": own.count(200), "own_seconds": t_own, "same_200": same.count(200),
            "same_409": same.count(409), "validated_stored": stored, "no_lost_write": ok}


def pg_url() -> tuple[str, str] | None:
    base = os.environ.get("MINEWATCH_TEST_PG_URL")
    if not base:
        return None
    schema = "bench_api_" + uuid.uuid4().hex[:8]
    eng = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema},public", schema


def drop_schema(schema: str) -> None:
    base = os.environ["MINEWATCH_TEST_PG_URL"]
    eng = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as c:
        c.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    eng.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="gpkg,postgis")
    ap.add_argument("--alerts", type=int, default=2000)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    levels = [int(x) for x in args.clients.split(",")]
    best: dict[str, float] = {}
    for backend in args.backends.split(","):
        schema = None
        with tempfile.TemporaryDirectory(prefix="minewatch-api-load-") as tmp:
            if backend == "gpkg":
                registry = str(Path(tmp) / "registry.gpkg")
            else:
                got = pg_url()
                if got is None:
                    print("postgis: skipped (MINEWATCH_TEST_PG_URL not set)")
                    continue
                registry, schema = got
            t0 = time.perf_counter()
            ids, tokens = build(registry, args.alerts)
            print(f"{backend}: registry with {len(ids)} alerts built in "
                  f"{time.perf_counter() - t0:.1f} s")
            proc, url = start_server(registry)
            try:
                for n in levels:
                    r = load_level(url, tokens["viewer"], n, args.seconds)
                    print(f"{backend}: {n:>3} clients  {r['rps']:7.1f} req/s  p50 "
                          f"{r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
                          f"({r['requests']} requests, {r['errors']} errors)")
                    if r["p95_ms"] < P95_LIMIT_MS and r["errors"] == 0:
                        best[backend] = max(best.get(backend, 0.0), r["rps"])
                rv = reviewers(url, registry, ids, tokens)
                print(f"{backend}: 20 reviewers on 20 alerts at once: {rv['own_200']}/20 "
                      f"stored in {rv['own_seconds']:.2f} s; 20 on one alert: "
                      f"{rv['same_200']} won, {rv['same_409']} got 409; validated transitions "
                      f"stored {rv['validated_stored']}/21; no lost write: {rv['no_lost_write']}")
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                if schema:
                    drop_schema(schema)
    for b, v in best.items():
        print(f"{b}: holds {v:.1f} alert-list requests/s with p95 < {P95_LIMIT_MS:.0f} ms")
    if "gpkg" in best and "postgis" in best:
        print(f"ratio PostGIS / GeoPackage: {best['postgis'] / best['gpkg']:.2f}")


if __name__ == "__main__":
    main()
