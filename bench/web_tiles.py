"""Benchmark the dashboard's imagery tiles: ``minewatch serve`` on loopback over a registry with a
small demo run, every web-mercator tile of the run at zooms 14-17 for the ``after`` and
``footprint`` layers, fetched by concurrent HTTP clients with a viewer's session. One command:

    python bench/web_tiles.py                       # builds the demo run in a temporary folder
    python bench/web_tiles.py --demo /tmp/webdemo   # build once into /tmp/webdemo and reuse it
    python bench/web_tiles.py --clients 8

Prints tiles/s and the p50/p95 latency of a first pass and a second pass over the same tiles
(nothing is cached between passes except the run's stretch, computed on the first tile). There is
no peer or v0.1.0 figure to compare with: v0.1.0 served no tiles. A map view at zoom 15-16 needs
about 12-20 tiles.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "web"))
PASSWORD = "bench-admin-password"


def demo(folder: Path) -> dict:
    from web_helpers import build_demo_registry

    done = folder / "built.json"
    if done.exists():
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    d = build_demo_registry(folder)
    out = {"registry": str(d["registry"]), "bounds": list(d["bounds"])}
    done.write_text(json.dumps(out))
    return out


def tiles_of(bounds, zooms) -> list[tuple[int, int, int]]:
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    return [(t.z, t.x, t.y) for z in zooms for t in tms.tiles(*bounds, zooms=[z])]


def fetch_all(client_factory, urls: list[str], clients: int) -> tuple[float, list[float], int]:
    lat: list[float] = []
    ok = 0

    def one(args):
        c, url = args
        t0 = time.perf_counter()
        r = c.get(url)
        return time.perf_counter() - t0, r.status_code

    pool = [client_factory() for _ in range(clients)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        for dt, status in ex.map(one, [(pool[i % clients], u) for i, u in enumerate(urls)]):
            lat.append(dt)
            ok += status in (200, 204)
    wall = time.perf_counter() - t0
    for c in pool:
        c.close()
    return wall, lat, ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demo", type=Path, default=None, help="folder to build the demo run in (reused)")
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    d = demo(args.demo or Path(tempfile.mkdtemp(prefix="mw-bench-web-")))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reg = Path(tempfile.mkdtemp(prefix="mw-bench-reg-")) / "registry.gpkg"
    reg.write_bytes(Path(d["registry"]).read_bytes())
    env = {**os.environ, "MINEWATCH_ADMIN_PASSWORD": PASSWORD,
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "minewatch", "serve", "--registry", str(reg), "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        login = httpx.post(base + "/api/session", json={"username": "admin", "password": PASSWORD})
        login.raise_for_status()
        cookies = dict(login.cookies)
        run = httpx.get(base + "/api/runs", cookies=cookies).json()["runs"][0]["run_id"]
        tiles = tiles_of(d["bounds"], range(14, 18))
        print(f"run {run}: {len(tiles)} tiles per layer at zooms 14-17, {args.clients} concurrent clients")
        for layer in ("after", "footprint"):
            urls = [f"{base}/ui/tiles/{run}/{layer}/{z}/{x}/{y}.png" for z, x, y in tiles]
            for label in ("first pass", "second pass"):
                wall, lat, ok = fetch_all(lambda: httpx.Client(cookies=cookies, timeout=60), urls, args.clients)
                q = statistics.quantiles([x * 1000 for x in lat], n=20)
                print(f"{layer:9s} {label:11s}: {len(urls) / wall:6.1f} tiles/s, p50 {statistics.median(lat) * 1000:6.1f} ms,"
                      f" p95 {q[18]:6.1f} ms, {ok}/{len(urls)} ok")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
