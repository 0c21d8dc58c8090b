"""How soon minewatch's monitor alerts, replayed acquisition by acquisition, against JRC's ``nrt``.

One command::

    PYTHONPATH=src python bench/latency.py [--scenario default] [--seed 11] [--size 400]

1. Makes (or reuses, cached in ``/tmp/detector-*``) a demo scene and reads its clear change
   indices through the run's own loading and screening (``load_tile``, ``screen_tile``).
2. Fits the history and replays the monitored acquisitions one at a time through
   :func:`minewatch.analysis.change.scan` (each prefix is the state a watch would have had on that
   day). Per true event (``truth/events.geojson``; without it, each connected patch of one truth
   onset date) it takes the first acquisition on or after the onset on which at least
   ``--event-share`` of the event's pixels stand at a level with an episode begun no earlier than
   30 days before the onset, and prints days from onset to first ``possible``, ``probable`` and
   ``confirmed``: median, p90, share never flagged; then pixel F1 at level >= probable at the
   scene's end counting only events at least L days old (younger events' pixels left out of both
   truth and prediction), L = 15, 30, 60, 90, 180; and the recall of events 30-90 days old with
   the precision of what was flagged in the last 90 days.
3. The same for the monitors of JRC's ``nrt`` package (EWMA, CuSum, MoSum, CCDC, IQR; NDVI, their
   default settings, the same history), whose single detection stands for every level, and the
   pixels per second of each.
4. The cost of one incremental update (scan of one new date) against a batch re-run (history fit
   and scan of every monitored date) on 1000 x 1000 px (the scene's pixels tiled), in row blocks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from minewatch.analysis.change import MonitorParams, fit_history, scan
from minewatch.analysis.disturbance import DisturbanceParams, TileDisturbance, clean_small_patches

AGES = (15, 30, 60, 90, 180)
LEVELS = ("possible", "probable", "confirmed")
TOLERANCE_DAYS = 30


def scene_dir(scenario: str, seed: int, size: int | None) -> Path:
    """Generate the demo scene once, cached under /tmp/detector-scene-*."""
    from minewatch.demo.scene import generate_scene

    out = Path(f"/tmp/detector-scene-{scenario}-{seed}-{size or 'full'}")
    if not (out / "scene.json").exists():
        kwargs = {"seed": seed, "size_px": size}
        if scenario != "default":
            kwargs["scenario"] = scenario
        generate_scene(out, **kwargs)
    return out


def load_stack(scene: Path) -> dict:
    """Clear change indices (T, B, H, W) of every scene, NaN where not clear, cached as .npy."""
    meta = json.loads((scene / "scene.json").read_text())
    key = hashlib.sha1(f"{scene.resolve()}{(scene / 'scene.json').stat().st_mtime}".encode()).hexdigest()[:12]
    cache = Path(f"/tmp/detector-stack-{key}")
    if not (cache / "stack.npy").exists():
        from rasterio.windows import Window

        from minewatch.analysis.indices import change_stack
        from minewatch.imagery.load import load_tile
        from minewatch.imagery.masks import CLEAR, screen_tile
        from minewatch.run import MonitoringRequest, Period, RunInputs
        from minewatch.run.inputs import resolve_inputs
        from minewatch.run.request import no_progress

        req = MonitoringRequest(
            inputs=RunInputs(catalog=scene / "catalog", licences=scene / "licences.geojson"),
            period=Period(dt.date.fromisoformat(meta["monitor_start"]), dt.date.fromisoformat(meta["monitor_end"])),
            out=cache / "unused")
        inputs = resolve_inputs(req, no_progress, cache)
        h, w = inputs.grid.shape
        data = load_tile(inputs.items, inputs.bands, inputs.grid, Window(0, 0, w, h), skipped=inputs.skipped)
        clear = screen_tile(inputs.items, data) == CLEAR
        stack = change_stack(data)
        stack[~np.broadcast_to(clear[:, None], stack.shape)] = np.nan
        cache.mkdir(exist_ok=True)
        np.save(cache / "days.npy", np.array([it.day for it in inputs.items], np.int64))
        (cache / "grid.json").write_text(json.dumps({"transform": list(inputs.grid.transform)[:6],
                                                     "crs": inputs.grid.crs.to_wkt(), "shape": [h, w]}))
        np.save(cache / "stack.npy", stack.astype(np.float32))
    from minewatch.dates import to_day

    return {"stack": np.load(cache / "stack.npy", mmap_mode="r"), "days": np.load(cache / "days.npy"),
            "grid": json.loads((cache / "grid.json").read_text()),
            "start": to_day(dt.date.fromisoformat(meta["monitor_start"])),
            "end": to_day(dt.date.fromisoformat(meta["monitor_end"]))}


def truth_events(scene: Path, grid: dict) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """(label raster of mining events, events [{id, kind, onset, n}], truth onset raster)."""
    import rasterio
    from rasterio import features
    from rasterio.transform import Affine
    from scipy import ndimage

    from minewatch.analysis.geometry import reproject_geometry

    with rasterio.open(scene / "truth" / "onset_date.tif") as src:
        onset = src.read(1).astype(np.int64)
    shape = tuple(grid["shape"])
    labels = np.zeros(shape, np.int32)
    events = []
    path = scene / "truth" / "events.geojson"
    if path.exists():
        from shapely.geometry import shape as to_shape

        feats = json.loads(path.read_text())["features"]
        transform = Affine(*grid["transform"])
        for i, f in enumerate(feats, start=1):
            p = f["properties"]
            geom = reproject_geometry(to_shape(f["geometry"]), 4326, grid["crs"])
            mask = features.rasterize([(geom, 1)], out_shape=shape, transform=transform, dtype=np.uint8) > 0
            day = int(np.datetime64(p["onset"], "D").astype(np.int64))
            if p.get("kind", "mining") == "mining":
                mask &= onset > 0  # the truth pixels of the event
                labels[mask & (labels == 0)] = i
            events.append({"id": str(p.get("id", i)), "kind": p.get("kind", "mining"), "cause": p.get("cause"),
                           "onset": day, "label": i, "mask": mask})
    else:
        n = 0
        for day in np.unique(onset[onset > 0]):
            lab, k = ndimage.label(onset == day, structure=np.ones((3, 3), bool))
            for j in range(1, k + 1):
                n += 1
                labels[lab == j] = n
                events.append({"id": f"E{n:03d}", "kind": "mining", "cause": None, "onset": int(day), "label": n,
                               "mask": lab == j})
    return labels, events, onset


class LagTracker:
    """First day at which at least ``share`` of each event's pixels satisfy a condition."""

    def __init__(self, events: list[dict], share: float, names: tuple[str, ...]):
        self.events = [e for e in events if e["mask"].any()]
        self.share = share
        self.first = {name: {e["id"]: None for e in self.events} for name in names}

    def update(self, day: int, name: str, flagged: np.ndarray, since: np.ndarray) -> None:
        """``since``: per pixel, the day its current flag's episode began (a flag raised more than
        ``TOLERANCE_DAYS`` before the event's onset is about something else and does not count)."""
        for e in self.events:
            if self.first[name][e["id"]] is None and day >= e["onset"]:
                m = e["mask"]
                if (flagged[m] & (since[m] >= e["onset"] - TOLERANCE_DAYS)).mean() >= self.share:
                    self.first[name][e["id"]] = day


def f1(pred: np.ndarray, truth: np.ndarray, ignore: np.ndarray) -> tuple[float, float, float]:
    p, t = pred & ~ignore, truth & ~ignore
    tp = float((p & t).sum())
    prec, rec = tp / max(p.sum(), 1), tp / max(t.sum(), 1)
    return prec, rec, 2 * prec * rec / max(prec + rec, 1e-12)


def lag_rows(tracker: LagTracker, names: tuple[str, ...], end: int) -> list[str]:
    rows = []
    for name in names:
        lags, never = [], 0
        for e in tracker.events:
            if e["kind"] != "mining" or e["onset"] > end:
                continue
            d = tracker.first[name][e["id"]]
            if d is None:
                never += 1
            else:
                lags.append(d - e["onset"])
        n = len(lags) + never
        med = f"{np.median(lags):6.0f}" if lags else "     -"
        p90 = f"{np.percentile(lags, 90):6.0f}" if lags else "     -"
        rows.append(f"    to {name:<10} median {med} d   p90 {p90} d   never flagged {never}/{n}")
    return rows


def score_rows(pred: np.ndarray, pred_day: np.ndarray, truth_onset: np.ndarray, start: int, end: int) -> list[str]:
    truth = (truth_onset >= start) & (truth_onset <= end)
    out = []
    for age in AGES:
        young = truth_onset > end - age
        pr, rc, f = f1(pred, truth, young & (truth_onset > 0))
        out.append(f"    events >= {age:>3} d old: F1 {f:.3f} (precision {pr:.3f}, recall {rc:.3f})")
    recent_t = (truth_onset >= end - 90) & (truth_onset <= end - 30)
    rec = float((pred & recent_t).sum() / max(recent_t.sum(), 1))
    recent_p = pred & (pred_day >= end - 90)
    prec = float((recent_p & (truth_onset >= start)).sum() / max(recent_p.sum(), 1))
    out.append(f"    recall of events 30-90 d old {rec:.3f} ({int(recent_t.sum())} px); precision of what was "
               f"flagged in the last 90 d {prec:.3f} ({int(recent_p.sum())} px)")
    return out


def run_minewatch(sc: dict, events, truth_onset, share: float, params: MonitorParams) -> tuple[list[str], float]:
    stack, days = sc["stack"], sc["days"]
    hist = np.flatnonzero(days < sc["start"])
    mon = np.flatnonzero((days >= sc["start"]) & (days <= sc["end"]))
    h, w = stack.shape[2:]
    t0 = time.perf_counter()
    model = fit_history(np.asarray(stack[hist]), days[hist], params)
    carry = None
    tracker = LagTracker(events, share, LEVELS)
    spent = time.perf_counter() - t0
    for t in mon:
        t0 = time.perf_counter()
        carry = scan(model, np.asarray(stack[t:t + 1]), days[t:t + 1], carry, params)
        spent += time.perf_counter() - t0
        for k, name in enumerate(LEVELS, start=1):
            tracker.update(int(days[t]), name, carry.level >= k, carry.onset)
    final = clean_small_patches(TileDisturbance.from_carry(carry), DisturbanceParams().min_area_px)
    pred = final.level >= 2
    rows = lag_rows(tracker, LEVELS, sc["end"]) + score_rows(pred, final.onset, truth_onset, sc["start"], sc["end"])
    flagged_not_mining = [e for e in tracker.events if e["kind"] != "mining"
                          and (carry.level[e["mask"]] >= 2).mean() >= share]
    n_nm = sum(e["kind"] != "mining" for e in tracker.events)
    rows.append(f"    not-mining events at level >= probable at the end: {len(flagged_not_mining)}/{n_nm}")
    return rows, h * w * len(mon) / spent


def run_nrt(name: str, sc: dict, events, truth_onset, share: float) -> tuple[list[str], float]:
    import xarray as xr
    from nrt.monitor.ccdc import CCDC
    from nrt.monitor.cusum import CuSum
    from nrt.monitor.ewma import EWMA
    from nrt.monitor.iqr import IQR
    from nrt.monitor.mosum import MoSum

    cls = {"EWMA": EWMA, "CuSum": CuSum, "MoSum": MoSum, "CCDC": CCDC, "IQR": IQR}[name]
    stack, days = sc["stack"], sc["days"]
    hist = np.flatnonzero(days < sc["start"])
    mon = np.flatnonzero((days >= sc["start"]) & (days <= sc["end"]))
    h, w = stack.shape[2:]
    ndvi = lambda idx: np.asarray(stack[idx, 0])  # noqa: E731 - NDVI, NaN where not clear
    times = days[hist].astype("datetime64[D]").astype("datetime64[ns]")
    da = xr.DataArray(ndvi(hist), dims=("time", "y", "x"),
                      coords={"time": times, "y": np.arange(h), "x": np.arange(w)})
    t0 = time.perf_counter()
    mon_obj = cls()
    # the observations are already cloud-screened by minewatch's screening (the same for every monitor), so
    # CCDC's own green/SWIR outlier screen (which needs raw bands) is off
    mon_obj.fit(dataarray=da, **({"screen_outliers": None} if name == "CCDC" else {}))
    tracker = LagTracker(events, share, ("detection",))
    for t in mon:
        mon_obj.monitor(array=ndvi(t), date=dt.datetime(1970, 1, 1) + dt.timedelta(days=int(days[t])))
        tracker.update(int(days[t]), "detection", mon_obj.mask == 3, np.asarray(mon_obj.detection_date, np.int64))
    spent = time.perf_counter() - t0
    det = np.asarray(mon_obj.detection_date, np.int64)
    pred = (mon_obj.mask == 3) & (det >= sc["start"])
    rows = lag_rows(tracker, ("detection",), sc["end"]) + score_rows(pred, det, truth_onset, sc["start"], sc["end"])
    return rows, h * w * (len(mon) + len(hist)) / spent


def update_cost(sc: dict, params: MonitorParams, size: int = 1000, block: int = 100) -> list[str]:
    """One new date on size x size px against a batch re-run over the full history, in row blocks."""
    stack, days = sc["stack"], sc["days"]
    hist = np.flatnonzero(days < sc["start"])
    mon = np.flatnonzero((days >= sc["start"]) & (days <= sc["end"]))
    h, w = stack.shape[2:]
    reps = (-(-block // h), -(-size // w))

    def tiled(idx: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(stack[idx]), (1, 1, *reps))[:, :, :block, :size]

    batch = incr = 0.0
    for _ in range(size // block):
        th, tm = tiled(hist), tiled(mon)
        t0 = time.perf_counter()
        model = fit_history(th, days[hist], params)
        scan(model, tm, days[mon], None, params)  # the re-run: history fit + every monitored date
        t2 = time.perf_counter()
        carry = scan(model, tm[:-1], days[mon[:-1]], None, params)
        t3 = time.perf_counter()
        scan(model, tm[-1:], days[mon[-1:]], carry, params)  # the incremental update: the newest date
        t4 = time.perf_counter()
        batch += t2 - t0
        incr += t4 - t3
        del th, tm
    return [f"  1 new acquisition on {size} x {size} px: incremental scan {incr:.3f} s, batch re-run over "
            f"{len(hist)} history + {len(mon)} monitored dates {batch:.2f} s: the update is {batch / incr:.0f}x "
            f"faster (pixel loading not counted in either)"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--size", type=int, default=None, help="scene size in px (default: the scenario's)")
    ap.add_argument("--scene", type=Path, default=None, help="an existing demo scene folder instead")
    ap.add_argument("--event-share", type=float, default=0.25)
    ap.add_argument("--nrt", default="EWMA,CuSum,MoSum,CCDC,IQR", help="nrt monitors to run ('' for none)")
    ap.add_argument("--no-update-cost", action="store_true")
    ap.add_argument("--crop", type=int, default=None, help="use only CROP x CROP px around the disturbance")
    args = ap.parse_args()
    scene = args.scene or scene_dir(args.scenario, args.seed, args.size)
    sc = load_stack(scene)
    labels, events, truth_onset = truth_events(scene, sc["grid"])
    if args.crop:  # a window centred on the truth's disturbance
        rows, cols = np.nonzero(truth_onset > 0)
        H, W = truth_onset.shape
        r0 = int(np.clip((rows.min() + rows.max()) // 2 - args.crop // 2, 0, max(H - args.crop, 0)))
        c0 = int(np.clip((cols.min() + cols.max()) // 2 - args.crop // 2, 0, max(W - args.crop, 0)))
        win = (slice(r0, r0 + args.crop), slice(c0, c0 + args.crop))
        sc["stack"] = sc["stack"][:, :, win[0], win[1]]
        truth_onset = truth_onset[win]
        for e in events:
            e["mask"] = e["mask"][win]
    params = DisturbanceParams().change
    T, B, H, W = sc["stack"].shape
    n_mining = sum(e["kind"] == "mining" for e in events)
    print(f"scene {scene}: {H} x {W} px, {T} acquisitions, monitored {dt.date.fromordinal(719163 + sc['start'])} .. "
          f"{dt.date.fromordinal(719163 + sc['end'])}; {n_mining} mining events, {len(events) - n_mining} not "
          f"mining; an event is at a level when >= {args.event_share:.0%} of its pixels are")
    results = {}
    rows, pps = run_minewatch(sc, events, truth_onset, args.event_share, params)
    results["minewatch"] = pps
    print(f"minewatch (sequential monitor, replayed one acquisition at a time): {pps:,.0f} px-dates/s")
    print("\n".join(rows))
    for name in [n for n in args.nrt.split(",") if n]:
        try:
            rows, pps = run_nrt(name, sc, events, truth_onset, args.event_share)
        except Exception as exc:  # noqa: BLE001 - a peer failing is reported, not fatal
            print(f"nrt {name}: failed ({type(exc).__name__}: {exc})")
            continue
        results[name] = pps
        print(f"nrt {name} (NDVI, defaults; one detection level): {pps:,.0f} px-dates/s "
              f"(minewatch / {name} speed: {results['minewatch'] / pps:.2f}x)")
        print("\n".join(rows))
    if not args.no_update_cost:
        print("\n".join(update_cost(sc, params)))


if __name__ == "__main__":
    main()
