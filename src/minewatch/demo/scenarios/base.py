"""Shared machinery of the tropical, arid and temperate scenarios.

A scenario is one object that is both the layout (grid, DEM, licences, receptors, per-pixel onset,
events) and the surface model (``render``) that :mod:`minewatch.demo.scene` writes through the same
atmosphere, sensor and SCL simulation as the default scene. Geometry is designed on a 400 x 400
"design" grid (10 m pixels) and scaled to ``size_px``, like the default layout.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from minewatch.demo import layout as L
from minewatch.demo.geo import Grid, days
from minewatch.demo.noise import smooth_field
from minewatch.demo.scenarios import truth_files as T
from minewatch.demo.spectra import ENDMEMBERS
from minewatch.demo.surface import SurfaceFeatures
from minewatch.demo.truth import downstream_receptors, licence_masks, valid_on

D = 400.0

#: endmembers the new landscapes add to spectra.ENDMEMBERS (same band order B02..B12)
EXTRA_ENDMEMBERS: dict[str, tuple[float, ...]] = {
    # closed evergreen rain-forest canopy (darker visible, high NIR, some canopy shade)
    "forest": (0.022, 0.045, 0.022, 0.080, 0.250, 0.320, 0.350, 0.360, 0.160, 0.070),
    # deciduous / coniferous temperate canopy, leaf-off branches and litter
    "conifer": (0.020, 0.035, 0.020, 0.060, 0.160, 0.210, 0.240, 0.245, 0.110, 0.050),
    "bare_branches": (0.050, 0.065, 0.075, 0.095, 0.120, 0.135, 0.145, 0.150, 0.220, 0.170),
    # red lateritic soil of cleared tropical ground
    "laterite": (0.065, 0.095, 0.165, 0.210, 0.240, 0.255, 0.265, 0.275, 0.330, 0.270),
    # river sand bar
    "sand": (0.140, 0.180, 0.220, 0.250, 0.270, 0.285, 0.295, 0.300, 0.360, 0.310),
    # muddy water of artisanal dredge ponds (very high suspended sediment)
    "muddy_water": (0.085, 0.125, 0.140, 0.125, 0.075, 0.065, 0.055, 0.050, 0.016, 0.010),
    # desert pavement / pale alluvium
    "desert_soil": (0.130, 0.170, 0.220, 0.255, 0.275, 0.285, 0.295, 0.300, 0.370, 0.330),
    # bright natural rock outcrop (rhyolite, ignimbrite)
    "bright_outcrop": (0.200, 0.240, 0.285, 0.305, 0.315, 0.320, 0.325, 0.330, 0.390, 0.345),
    # salt / clay pan: very bright, clay and salt absorption in SWIR
    "salt_pan": (0.390, 0.420, 0.440, 0.450, 0.455, 0.460, 0.460, 0.460, 0.360, 0.270),
    # oxidised copper ore and altered rock in the pit (iron oxides, clays)
    "oxide_rock": (0.150, 0.175, 0.235, 0.270, 0.285, 0.290, 0.295, 0.300, 0.390, 0.320),
    # crushed ore on the heap-leach pad (wetted by acid, darker and redder)
    "heap_leach": (0.120, 0.145, 0.195, 0.235, 0.255, 0.265, 0.270, 0.275, 0.330, 0.280),
    # green-blue acidic copper pit lake
    "cu_water": (0.060, 0.095, 0.060, 0.040, 0.020, 0.015, 0.012, 0.010, 0.004, 0.003),
    # limestone quarry face (bright, carbonate absorption at 2.3 um)
    "limestone": (0.290, 0.320, 0.340, 0.350, 0.360, 0.365, 0.370, 0.375, 0.420, 0.340),
    # asphalt / tarred road
    "asphalt": (0.060, 0.070, 0.080, 0.085, 0.090, 0.095, 0.100, 0.105, 0.120, 0.110),
}
NAMES = tuple(ENDMEMBERS) + tuple(EXTRA_ENDMEMBERS)
E = np.array([{**ENDMEMBERS, **EXTRA_ENDMEMBERS}[k] for k in NAMES], dtype=np.float32)
EM = {k: i for i, k in enumerate(NAMES)}

#: truth/mine_class.tif codes of the new scenarios (the default's 0..5 plus 6)
MC_NONE, MC_PIT, MC_DUMP, MC_TAIL, MC_UNLICENSED, MC_PRE, MC_OTHER = range(7)
MINE_CLASS_NAMES = {0: "none", 1: "pit", 2: "waste_dump", 3: "tailings", 4: "unlicensed_pit",
                    5: "pre_existing_mining", 6: "other_mining"}


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


def sig(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def gauss(x, mu, w):
    return np.exp(-0.5 * ((x - mu) / w) ** 2)


class Scenario:
    """Layout + surface model of one generated landscape (subclasses fill ``paint``)."""

    name = ""
    epsg = 32644
    origin = (617_000.0, 5_535_000.0)

    def __init__(self, n: int, seed: int) -> None:
        self.grid = Grid(n, self.epsg, *self.origin)
        self.seed = seed
        self.k = n / D
        self.rng = np.random.default_rng([seed, 1])
        rows, cols = np.mgrid[0:n, 0:n].astype(np.float32)
        self.X = (cols + 0.5) / self.k
        self.Y = (rows + 0.5) / self.k
        self.onset = np.zeros((n, n), np.int32)
        self.mine_class = np.zeros((n, n), np.uint8)
        self.events: list[T.Event] = []
        self.licences: list[L.Licence] = []
        self.receptors: list[L.Receptor] = []
        self.natural7 = np.zeros((n, n), bool)  # natural bare ground / water (footprint class 7)
        self.snow_damp = np.ones((n, n), np.float32)
        self.layout()
        self.snow_texture = self.field(20, 5, weights=(1.0, 0.5))
        z = self.dem
        self.z01 = ((z - z.min()) / max(float(z.max() - z.min()), 1e-6)).astype(np.float32)

    # ------------------------------------------------------------------ geometry helpers
    @property
    def n(self) -> int:
        return self.grid.n

    def field(self, *sigmas: float, weights=None) -> np.ndarray:
        """Smooth N(0, 1) field with design-px sigmas."""
        return smooth_field(self.rng, (self.n, self.n), tuple(max(s * self.k, 0.6) for s in sigmas), weights)

    def rho(self, cx, cy, rx, ry, wob: np.ndarray | None = None, amp: float = 0.08) -> np.ndarray:
        r = np.sqrt(((self.X - cx) / rx) ** 2 + ((self.Y - cy) / ry) ** 2)
        return r * (1 + amp * wob) if wob is not None else r

    def at_least_one(self, m: np.ndarray, cx: float, cy: float) -> np.ndarray:
        """``m`` or, when a reduced grid leaves it empty, the pixel at design (cx, cy)."""
        if not m.any():
            m = m.copy()
            m[min(int(cy * self.k), self.n - 1), min(int(cx * self.k), self.n - 1)] = True
        return m

    def valley_dem(self, river_x, z0: float, fall: float, bank_m: float, slope_w: float, slope_e: float,
                   hills: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Valley with a river along ``river_x(y)`` (design px), falling ``fall`` m north to south.

        Returns (dem float32, carved channel bool, signed design distance to the centre line).
        """
        n, k = self.n, self.k
        X, Y = self.X, self.Y
        dd = X - river_x(Y)
        dm = dd * 10.0
        z = z0 - fall * Y / D
        z = z + np.where(dm < 0, 1.5 * np.minimum(-dm, bank_m) / bank_m + slope_w * np.clip(-dm - bank_m, 0, None),
                         1.5 * np.minimum(dm, bank_m) / bank_m + slope_e * np.clip(dm - bank_m, 0, None))
        w_h = np.clip((np.abs(dm) - 2 * bank_m) / 400.0, 0, 1)
        z = z + hills * w_h * self.field(25, 10, weights=(1.0, 0.35)) + 0.25 * self.field(2.5)
        channel = np.zeros((n, n), bool)
        ccol = np.clip(np.round(river_x((np.arange(n) + 0.5) / k) * k - 0.5).astype(int), 0, n - 1)
        path: list[tuple[int, int]] = []
        for r in range(n):
            c = int(ccol[r])
            if path:
                pc = path[-1][1]
                step = 1 if c > pc else -1
                for cc in range(pc + step, c, step):
                    path.append((r - 1, cc))
            path.append((r, c))
        zc = np.array([z0 - fall * (pr + 0.5) / k / D for pr, _ in path]) - 2.0
        zc = zc - 1e-3 * np.arange(len(path))
        for (pr, pc_), zz in zip(path, zc):
            channel[pr, pc_] = True
            z[pr, pc_] = zz
        return z.astype(np.float32), channel, dd.astype(np.float32)

    # ------------------------------------------------------------------ events
    def add_mining(self, eid: str, name: str, mask: np.ndarray, start: dt.date, duration_days: int,
                   cls: int, mine_class: int, frac: np.ndarray | None = None, **extra) -> T.Event:
        """A mining event over the still-unmined pixels of ``mask``; the face advances with ``frac`` (0..1)."""
        m = mask & (self.onset == 0)
        if frac is None:
            frac = np.zeros(m.shape, np.float32)
        on = np.where(m, days(start) + np.round(np.clip(frac, 0, 1) * duration_days).astype(np.int32), 0)
        on = on.astype(np.int32)
        self.onset[m] = on[m]
        self.mine_class[m] = mine_class
        ev = T.Event(eid, "mining", name, on, cls, extra=extra)
        self.events.append(ev)
        return ev

    def add_other(self, eid: str, name: str, mask: np.ndarray, onset: dt.date, cause: str, **extra) -> T.Event:
        on = np.where(mask, days(onset), 0).astype(np.int32)
        ev = T.Event(eid, "not_mining", name, on, cause=cause, extra=extra)
        self.events.append(ev)
        return ev

    def mining_events(self) -> list[T.Event]:
        return [e for e in self.events if e.kind == "mining"]

    # ------------------------------------------------------------------ truth
    def footprint_at(self, date: dt.date) -> np.ndarray:
        """Footprint class on ``date``: natural bare / water, then each mining event from its onset."""
        t = days(date)
        fp = np.zeros((self.n, self.n), np.uint8)
        fp[self.natural7] = T.OTHER_BARE_WATER
        for ev in self.mining_events():
            on = ev.mask & (ev.onset <= t)
            fp[on] = ev.cls
        self.footprint_changes(fp, date)
        return fp

    def footprint_changes(self, fp: np.ndarray, date: dt.date) -> None:
        """Class changes of already-mined pixels (ponds, rehabilitation); subclasses override."""

    # ------------------------------------------------------------------ rendering
    def layout(self) -> None:
        raise NotImplementedError

    def paint(self, F: np.ndarray, date: dt.date, t: int, doy: int, soil_moist: float) -> dict[str, np.ndarray]:
        """Fill the endmember fractions ``F`` for ``date``; return masks: water (0..1), pit_water,
        deep_water, bright_mine (bool)."""
        raise NotImplementedError

    def render(self, date: dt.date, snow_intensity: float, soil_moist: float,
               snow_noise: np.ndarray | None) -> tuple[np.ndarray, SurfaceFeatures]:
        n = self.n
        F = np.zeros((len(NAMES), n, n), np.float32)
        t = days(date)
        masks = self.paint(F, date, t, date.timetuple().tm_yday, soil_moist)
        water = masks["water"].astype(np.float32)
        snow = np.zeros((n, n), np.float32)
        if snow_intensity > 0:
            noise = self.snow_texture if snow_noise is None else 0.6 * self.snow_texture + 0.4 * snow_noise
            snow = np.clip((snow_intensity - 0.45 + 0.22 * noise + 0.45 * self.z01) * 2.5, 0, 1)
            snow = (snow * self.snow_damp).astype(np.float32)
            F *= (1 - snow)
            F[EM["snow"]] = snow
            water = water * (1 - snow)
        R = (E.T @ F.reshape(len(NAMES), -1)).reshape(10, n, n)
        mined = (self.onset > 0) & (self.onset <= t)
        feats = SurfaceFeatures(water=water, pit_water=masks["pit_water"] & (snow < 0.3),
                                deep_water=masks["deep_water"] & (snow < 0.3),
                                bright_mine=masks["bright_mine"] & (snow < 0.3), snow=snow, mined=mined)
        return R, feats


def put(F: np.ndarray, mask: np.ndarray, fracs: dict[str, float | np.ndarray]) -> None:
    """Replace the cover of ``mask`` pixels by the given endmember fractions."""
    F[:, mask] = 0.0
    for key, v in fracs.items():
        F[EM[key]][mask] = v[mask] if isinstance(v, np.ndarray) else v


def put_water(F: np.ndarray, wf: np.ndarray, mix: dict[str, float]) -> None:
    """Blend water fraction ``wf`` (0..1) of the given water endmembers over what is there."""
    F *= (1 - wf)
    for key, w in mix.items():
        F[EM[key]] += wf * w


def write_truth(root: Path, sc: Scenario, start: dt.date, end: dt.date, monitor_start: dt.date,
                monitor_end: dt.date, per_date: list[dict]) -> dict:
    """events.geojson, footprint_class.tif and the content of truth.json for a new scenario."""
    n, px_ha = sc.n, 0.01
    feats = T.write_events(root / "truth" / "events.geojson", sc.events, sc.grid)
    fp_area = T.write_footprint_years(root / "truth" / "footprint_class.tif", sc.grid, start.year, end.year,
                                      sc.footprint_at)
    onset = sc.onset
    ms, me = days(monitor_start), days(monitor_end)
    new = (onset >= ms) & (onset <= me)
    lic = licence_masks(root / "licences.geojson", sc.grid.crs, sc.grid.transform, n)
    covered = np.zeros((n, n), bool)
    for props, mask in lic:
        covered |= mask & valid_on(props, onset)
    outside = new & ~covered
    per_licence = [{"licence_id": p["licence_id"], "status": p["status"], "valid_from": p["valid_from"],
                    "valid_to": p["valid_to"], "area_ha": round(float(m.sum() * px_ha), 2),
                    "new_disturbance_ha": round(float((new & m).sum() * px_ha), 2),
                    "new_disturbance_licensed_ha": round(float((new & m & valid_on(p, onset)).sum() * px_ha), 2)}
                   for p, m in lic]
    down, not_down, _dem, cell, snap_m = downstream_receptors(root, sc, (onset > 0) & (onset <= me))
    cloud = np.array([p["cloud_pct"] for p in per_date])
    snow = np.array([p["snow_pct"] for p in per_date])
    recent = me - 90
    return {
        "generator": "minewatch.demo.scene",
        "scenario": sc.name,
        "seed": sc.seed,
        "crs": sc.grid.crs,
        "pixel_size_m": cell,
        "pixel_area_ha": px_ha,
        "size_px": n,
        "monitoring_period": {"start": monitor_start.isoformat(), "end": monitor_end.isoformat()},
        "rules": {
            "new_disturbance": "pixels of truth/onset_date.tif with monitor_start <= onset <= monitor_end",
            "outside_licence": "new-disturbance pixels that at their onset date lie in no licence with "
                               "status 'active' and valid_from <= onset <= valid_to (null = open)",
            "downstream": f"as the default scene: D8 over the filled dem.tif, receptors snapped within {snap_m:.0f} m",
            "footprint_class": "truth/footprint_class.tif, one band per calendar year, state on 31 December",
        },
        "new_disturbance_area_ha": round(float(new.sum() * px_ha), 2),
        "new_disturbance_pixels": int(new.sum()),
        "new_disturbance_last_90_days_ha": round(float((new & (onset > recent)).sum() * px_ha), 2),
        "outside_licence_area_ha": round(float(outside.sum() * px_ha), 2),
        "outside_licence_pixels": int(outside.sum()),
        "pre_existing_mining_area_ha": round(float(((onset > 0) & (onset < ms)).sum() * px_ha), 2),
        "mine_class_area_ha": {MINE_CLASS_NAMES[c]: round(float((sc.mine_class == c).sum() * px_ha), 2)
                               for c in range(1, 7)},
        "footprint_area_ha_by_year": fp_area,
        "events": [f["properties"] for f in feats],
        "per_licence": per_licence,
        "receptors_downstream": down,
        "receptors_not_downstream": not_down,
        "atmosphere": {
            "n_dates": len(per_date),
            "cloud_pct_definition": "share of valid pixels with thick-cloud opacity > 0.1 or haze thickness > 0.05",
            "dates_cloud_over_10pct": int((cloud > 10).sum()),
            "dates_cloud_over_30pct": int((cloud > 30).sum()),
            "dates_cloud_over_90pct": int((cloud > 90).sum()),
            "dates_clear_under_5pct": int((cloud < 5).sum()),
            "mean_cloud_pct": round(float(cloud.mean()), 2) if cloud.size else None,
            "dates_with_snow_over_10pct": int((snow > 10).sum()),
            "dates_with_swath_nodata": int(sum(p["nodata_pct"] > 0 for p in per_date)),
            "per_date": per_date,
        },
    }


