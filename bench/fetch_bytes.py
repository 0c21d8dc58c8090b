"""Bytes read by ``minewatch fetch`` versus the bytes of the AOI windows; warm-cache re-run.

Builds a real STAC archive of COGs (Sentinel-2-like, 2048 x 2048 10 m bands with
256 px DEFLATE tiles, 20 m bands at half size), serves it from a real HTTP server on
loopback (:class:`minewatch.testing.stac_server.LocalStacServer`), fetches a ~1.5 km
AOI, and compares what the server sent with:

- the compressed bytes of the COG tiles that intersect the AOI (the least any COG
  reader must download: the "AOI window bytes"), target ratio <= 1.5;
- the uncompressed AOI pixels;
- downloading the whole files.

Then fetches again with the same cache: the server must see no request at all.

Run:  python bench/fetch_bytes.py [--size 2048] [--dates 3]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import from_bounds

from minewatch.imagery.cache import Cache
from minewatch.imagery.fetch import fetch
from minewatch.imagery.http import RetryPolicy
from minewatch.testing.stac_archive import build_archive
from minewatch.testing.stac_server import LocalStacServer


def aoi_tile_bytes(path: Path, bbox: tuple[float, float, float, float]) -> tuple[int, int]:
    """(compressed bytes of the tiles intersecting the AOI, uncompressed AOI bytes)."""
    with rasterio.open(path) as src:
        left, bottom, right, top = transform_bounds("EPSG:4326", src.crs, *bbox, densify_pts=21)
        win = from_bounds(left, bottom, right, top, src.transform)
        bw, bh = src.block_shapes[0][1], src.block_shapes[0][0]
        c0, r0 = max(0, math.floor(win.col_off)), max(0, math.floor(win.row_off))
        c1 = min(src.width, math.ceil(win.col_off + win.width))
        r1 = min(src.height, math.ceil(win.row_off + win.height))
        total = 0
        for ty in range(r0 // bh, (r1 - 1) // bh + 1):
            for tx in range(c0 // bw, (c1 - 1) // bw + 1):
                total += int(src.get_tag_item(f"BLOCK_SIZE_{tx}_{ty}", "TIFF", bidx=1) or 0)
        itemsize = {"uint8": 1, "uint16": 2, "int16": 2, "float32": 4}[src.dtypes[0]]
        raw = (c1 - c0) * (r1 - r0) * itemsize
    return total, raw


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--dates", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        t0 = time.perf_counter()
        info = build_archive(tmp_p / "archive", n_dates=args.dates, size=args.size,
                             landsat=False, dem=False)
        print(f"archive: {args.dates} dates, {args.size} px tiles, built in "
              f"{time.perf_counter() - t0:.1f} s")
        files = sorted((tmp_p / "archive" / "files").rglob("*.tif"))
        whole = sum(f.stat().st_size for f in files)
        tiles = raw = 0
        for f in files:
            t, r = aoi_tile_bytes(f, info.aoi)
            tiles += t
            raw += r
        cache = Cache(tmp_p / "cache")
        policy = RetryPolicy(attempts=3, backoff=0.1, timeout=10)
        with LocalStacServer(info.root) as srv:
            t0 = time.perf_counter()
            report = fetch(info.aoi, "2021-11-01", "2022-12-31", tmp_p / "out", stac_url=srv.url,
                           cache=cache, policy=policy)
            cold_s = time.perf_counter() - t0
            read = srv.log.file_bytes()
            api = srv.log.total_bytes - read
            n_req = len(srv.log.records)
            srv.log.clear()
            t0 = time.perf_counter()
            warm = fetch(info.aoi, "2021-11-01", "2022-12-31", tmp_p / "out", stac_url=srv.url,
                         cache=cache, policy=policy)
            warm_s = time.perf_counter() - t0
            warm_bytes, warm_req = srv.log.total_bytes, len(srv.log.records)
        print(f"AOI {info.aoi} -> {len(report.items)} items, {report.windows_read} band windows")
        print(f"cold fetch: {read / 1e6:.2f} MB of COG bytes in {n_req} requests "
              f"(+{api / 1e3:.1f} kB of STAC JSON), {cold_s:.2f} s")
        print(f"  compressed tiles intersecting the AOI: {tiles / 1e6:.2f} MB "
              f"-> ratio read / AOI tiles = {read / tiles:.2f}  (target <= 1.5)")
        print(f"  uncompressed AOI pixels:               {raw / 1e6:.2f} MB "
              f"-> ratio read / AOI pixels = {read / raw:.2f}")
        print(f"  whole files:                           {whole / 1e6:.2f} MB "
              f"-> whole files / read = {whole / read:.1f}x more")
        print(f"warm re-run: {warm_bytes} bytes in {warm_req} requests "
              f"({warm.windows_cached} windows from cache, search from cache: "
              f"{warm.search_from_cache}), {warm_s:.2f} s")
        ok = read / tiles <= 1.5 and warm_bytes == 0 and warm_req == 0
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
