"""Benchmark the registry: bulk import speed and the "which licences cover this point on
this date" query, on GeoPackage and PostGIS, at 1k / 10k / all (~45k) real polygons.

Data: the Amazon Mining Watch yearly mined-area polygons in ../shared/data/amw_earthrise/yearly
(each polygon imported as a licence valid for its year). One command:

    python bench/registry_import.py            # both backends (PostGIS via scripts/start-postgis)
    python bench/registry_import.py --backends gpkg --sizes 1000,10000

Prints import polygons/s and query times per size, the query plan (spatial index or not) and
the ratios query(largest)/query(smallest) (flat = index works) and PostGIS/GeoPackage. For
GeoPackage it also times the layer-extent upkeep every write does (R-tree narrowed exact
bounds) against a plain scan of every geometry's envelope.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyogrio
import shapely

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "amw_earthrise" / "yearly"


def load_amw() -> tuple[np.ndarray, list[dict]]:
    geoms, attrs = [], []
    for f in sorted(DATA.glob("*.geojson")):
        year = int(f.name[7:11])
        df = pyogrio.read_dataframe(f)
        for i, (g, a) in enumerate(zip(df.geometry.values, df["Mined area (ha)"].values)):
            geoms.append(g)
            attrs.append({"licence_id": f"AMW-{f.name[7:13]}-{i + 1}", "kind": "extraction",
                          "status": "active", "valid_from": f"{year}-01-01",
                          "valid_to": f"{year}-12-31", "mined_ha": float(a)})
    return np.asarray(geoms, dtype=object), attrs


def write_subset(geoms, attrs, n: int, path: Path) -> None:
    import geopandas as gpd

    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(len(geoms), size=min(n, len(geoms)), replace=False))
    gdf = gpd.GeoDataFrame([attrs[i] for i in idx], geometry=list(geoms[idx]), crs="EPSG:4326")
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON")


def pg_base_url() -> str | None:
    url = os.environ.get("MINEWATCH_TEST_PG_URL")
    if url:
        return url
    try:
        out = subprocess.run([str(REPO / "scripts" / "start-postgis")], capture_output=True,
                             text=True, timeout=600)
    except Exception:
        return None
    return out.stdout.strip() or None


def fresh_pg(base: str) -> tuple[str, callable]:
    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:8]
    eng = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def drop():
        with eng.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        eng.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema},public", drop


def extent_ms(path: str, reps: int = 3) -> tuple[float, float]:
    """Median ms of the gpkg_contents extent refresh of licence_versions, and of a plain scan."""
    import sqlite3

    from minewatch.registry import gpkg

    con = sqlite3.connect(path)
    gpkg.register_functions(con)
    sql, params = gpkg.refresh_extent_statement("licence_versions")
    scan = ("SELECT min(ST_MinX(geom)), min(ST_MinY(geom)), max(ST_MaxX(geom)), "
            "max(ST_MaxY(geom)) FROM licence_versions")
    out = []
    for stmt, p in ((sql, params), (scan, ())):
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            con.execute(stmt, p).fetchall()
            times.append(time.perf_counter() - t)
        out.append(1e3 * float(np.median(times)))
    con.rollback()
    con.close()
    return out[0], out[1]


def run(backend: str, url: str, src: Path, n: int, queries, reps: int) -> dict:
    from minewatch.registry import open_registry

    reg = open_registry(url, create=True)
    try:
        t0 = time.perf_counter()
        rep = reg.import_file(src, "licences")
        t_import = time.perf_counter() - t0
        if backend == "postgis":
            with reg.engine.begin() as c:
                c.exec_driver_sql("ANALYZE licence_versions")
        times, hits = [], 0
        for _ in range(reps):
            for pt, day in queries:
                t = time.perf_counter()
                hits += len(reg.licences_covering(pt, day))
                times.append(time.perf_counter() - t)
        plan, uses_index = reg.explain_cover_query(queries[0][0], queries[0][1])
    finally:
        reg.close()
    ext = extent_ms(url) if backend == "gpkg" else None
    return {"backend": backend, "n": rep.inserted, "import_s": t_import, "extent_ms": ext,
            "polys_per_s": rep.inserted / t_import, "query_ms_median": 1e3 * np.median(times),
            "query_ms_p95": 1e3 * np.percentile(times, 95), "hits": hits,
            "uses_index": uses_index, "plan": plan}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="gpkg,postgis")
    ap.add_argument("--sizes", default="1000,10000,all")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"no data at {DATA}", file=sys.stderr)
        return 1
    geoms, attrs = load_amw()
    sizes = [len(geoms) if s == "all" else int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(1)
    # Query points: inside random polygons of the full set, on a date in the polygon's year.
    pick = rng.choice(len(geoms), size=args.queries, replace=False)
    queries = [(shapely.Point(geoms[i].representative_point()),
                attrs[i]["valid_from"][:4] + "-06-15") for i in pick]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = {}
        for n in sizes:
            files[n] = tmp / f"amw_{n}.geojson"
            write_subset(geoms, attrs, n, files[n])
        for backend in args.backends.split(","):
            base = pg_base_url() if backend == "postgis" else None
            if backend == "postgis" and not base:
                print("postgis: no server (scripts/start-postgis failed); skipped",
                      file=sys.stderr)
                continue
            for n in sizes:
                if backend == "gpkg":
                    url, drop = str(tmp / f"bench_{n}.gpkg"), (lambda: None)
                else:
                    url, drop = fresh_pg(base)
                try:
                    r = run(backend, url, files[n], n, queries, args.reps)
                finally:
                    drop()
                results.append(r)
                print(f"{backend:8s} n={r['n']:6d}  import {r['import_s']:6.1f} s "
                      f"({r['polys_per_s']:6.0f} polygons/s)  cover query median "
                      f"{r['query_ms_median']:6.2f} ms p95 {r['query_ms_p95']:6.2f} ms  "
                      f"spatial index: {'yes' if r['uses_index'] else 'NO'}", flush=True)
                if r["extent_ms"]:
                    ext, scan = r["extent_ms"]
                    print(f"{'':8s} extent upkeep {ext:6.1f} ms (plain scan {scan:6.1f} ms, "
                          f"x{scan / ext:.1f})", flush=True)
    print()
    for backend in args.backends.split(","):
        rs = [r for r in results if r["backend"] == backend]
        if len(rs) >= 2:
            print(f"{backend}: query time {rs[-1]['n']} vs {rs[0]['n']} polygons: "
                  f"x{rs[-1]['query_ms_median'] / rs[0]['query_ms_median']:.2f} "
                  f"(a full scan would be x{rs[-1]['n'] / rs[0]['n']:.0f})")
            print(f"{backend}: plan at {rs[-1]['n']}:\n    " + rs[-1]["plan"].replace("\n",
                                                                                     "\n    "))
    by = {(r["backend"], r["n"]): r for r in results}
    for n in sorted({r["n"] for r in results}):
        if ("gpkg", n) in by and ("postgis", n) in by:
            g, p = by[("gpkg", n)], by[("postgis", n)]
            speed = p["polys_per_s"] / g["polys_per_s"]
            print(f"n={n}: PostGIS/GeoPackage import speed x{speed:.2f}"
                  f", query time x{p['query_ms_median'] / g['query_ms_median']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
