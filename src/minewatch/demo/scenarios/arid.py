"""``arid``: an open-pit copper mine in a high desert.

A pit with terraces in a DEM depression (pushed back three times, the last in the final 90 days),
an acid pit lake, waste dumps growing outward (one across its licence boundary), a tailings facility
with pond, wet beach and dry beach behind a dam, a heap-leach pad gaining cells, haul roads and a
plant pad, exploration pads; bright natural rock outcrops, a dry salt / clay pan that wets after
rare rain, an ephemeral wash, sparse vegetation, few clouds and frequent dust. See docs/demo-scene.md.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from minewatch.demo import layout as L
from minewatch.demo.atmosphere import Climate
from minewatch.demo.geo import days
from minewatch.demo.scenarios import ScenarioSpec
from minewatch.demo.scenarios import base as B
from minewatch.demo.scenarios import truth_files as T

CLIMATE = Climate(
    lat=-22.5,
    # "altiplanic winter" showers in January-February, otherwise cloudless; dust haze often
    p_cloudy=(0.14, 0.14, 0.08, 0.03, 0.03, 0.04, 0.05, 0.04, 0.03, 0.02, 0.03, 0.07),
    p_overcast=0.05, haze_p=(0.18, 0.2), haze_range=(0.02, 0.10),
    snow=((7, 0.04, 0.3, 0.7),), wet_months=(2,),
)

PIT_PRE = (150.0, 170.0, 45.0, 38.0)
PIT_STAGES = (("2019-05-06", 80, (152.0, 168.0, 50.0, 42.0)), ("2021-09-13", 90, (155.0, 166.0, 56.0, 46.0)),
              ("2024-10-14", 60, (158.0, 165.0, 60.0, 49.0)))
DUMPS = (  # name, pre-existing ellipse, then (start, days, ellipse) stages growing outward
    ("west dump", (80.0, 115.0, 26.0, 18.0), (("2020-02-03", 120, (76.0, 114.0, 31.0, 22.0)),
                                              ("2022-06-06", 150, (71.0, 113.0, 37.0, 26.0)))),
    ("south dump", (140.0, 250.0, 22.0, 13.0), (("2021-03-01", 100, (139.0, 254.0, 27.0, 16.0)),
                                                ("2024-03-04", 120, (136.0, 259.0, 33.0, 20.0)))),
)
TSF_PRE = (235.0, 300.0, 30.0, 22.0)
TSF_EXP = ("2022-03-07", 60, (235.0, 304.0, 40.0, 30.0))
HEAP_CELLS = ((("2016-01-01", 1), (70, 100, 300, 325)), (("2021-06-14", 30), (100, 125, 300, 325)),
              (("2023-05-08", 35), (70, 125, 328, 348)))
PIT_LAKE_FROM = dt.date(2020, 3, 2)
RAIN = (dt.date(2019, 2, 12), dt.date(2023, 1, 30))  # rare storms: the wash runs, the pan wets


class Arid(B.Scenario):
    name = "arid"
    epsg = 32719
    origin = (498_000.0, 7_512_000.0)

    def layout(self) -> None:
        rng = self.rng
        X, Y = self.X, self.Y
        ph = float(rng.uniform(-0.4, 0.4))
        self.rx = lambda y: 312.0 + 10.0 * np.sin(2 * np.pi * np.asarray(y) / 200.0 + ph)
        dem, self.channel, self.dd = self.valley_dem(self.rx, 2450.0, 30.0, 60.0, 0.045, 0.03, 15.0)
        self.abs_d = np.abs(self.dd)
        wob = self.field(8, 2.5, weights=(1.0, 0.4))
        self.tex = np.clip(1.0 + 0.06 * self.field(6, 1.5, weights=(1.0, 0.5)), 0.85, 1.15).astype(np.float32)
        self.wash = (self.abs_d < 3.0) | self.channel
        # the pit as the DEM saw it (pre-existing pit, 12 m benches down to about 130 m)
        rp = self.rho(*PIT_PRE, wob)
        depth = np.where(rp < 1, 12.0 * np.ceil(np.clip(1 - rp, 0, 1) * 11.0), 0.0)
        dem = dem - depth
        self.pit_rho = np.minimum(rp, 1.0)
        self.bench = np.clip(0.85 + 0.18 * np.sin(rp * 11.0 * 2 * np.pi + 0.6 * wob), 0.6, 1.15).astype(np.float32)
        # mounds of the pre-existing dumps in the DEM
        for _name, pre, _st in DUMPS:
            r = self.rho(*pre, wob)
            dem = dem + np.where(r < 1, 40.0 * np.clip((1 - r) * 3, 0, 1), 0.0)
        self.dem = dem.astype(np.float32)

        # natural ground: bright outcrops on ridges, a salt / clay pan, sparse shrubs
        out = (self.field(10, 3, weights=(1.0, 0.4)) > 1.05) & (self.abs_d > 12)
        self.pan = self.rho(345.0, 90.0, 30.0, 20.0, wob, 0.1) <= 1
        self.veg = np.clip(0.04 + 0.03 * self.field(12), 0.0, 0.1).astype(np.float32)

        # ---- the mine ----
        self.kind = np.zeros(self.dem.shape, np.uint8)  # 1 pit 2 dump 3 tsf 4 heap 5 road/pad
        pre_pit = rp <= 1
        self.add_mining("pit-pre", "pre-existing open pit", pre_pit, B.d("2008-03-03"), 2000, T.OPEN_PIT,
                        B.MC_PRE, np.clip(rp, 0, 1))
        prev = rp
        for i, (start, dur, e) in enumerate(PIT_STAGES, start=1):
            r = self.rho(*e, wob)
            frac = np.clip((prev - 1) / np.maximum(prev - r, 1e-3), 0, 1)
            self.add_mining(f"pit-pushback{i}", f"pit push-back {i}", r <= 1, B.d(start), dur, T.OPEN_PIT,
                            B.MC_PIT, frac)
            prev = np.minimum(prev, r)
        self.kind[self.onset > 0] = 1
        for j, (name, pre, stages) in enumerate(DUMPS, start=1):
            r0 = self.rho(*pre, wob)
            self.add_mining(f"dump{j}-pre", f"pre-existing {name}", r0 <= 1, B.d("2009-06-01"), 1500,
                            T.WASTE_DUMP, B.MC_PRE, np.clip(r0, 0, 1))
            prev = r0
            for i, (start, dur, e) in enumerate(stages, start=1):
                r = self.rho(*e, wob)
                frac = np.clip((prev - 1) / np.maximum(prev - r, 1e-3), 0, 1)
                self.add_mining(f"dump{j}-stage{i}", f"{name} grows outward ({i})", r <= 1, B.d(start), dur,
                                T.WASTE_DUMP, B.MC_DUMP, frac)
                prev = np.minimum(prev, r)
        self.kind[(self.onset > 0) & (self.kind == 0)] = 2
        self.tsf_rho = self.rho(TSF_EXP[2][0], TSF_EXP[2][1], TSF_EXP[2][2], TSF_EXP[2][3], wob, 0.04)
        r0 = self.rho(*TSF_PRE, wob, 0.04)
        self.add_mining("tsf-pre", "pre-existing tailings facility", r0 <= 1, B.d("2012-04-02"), 200,
                        T.TAILINGS, B.MC_PRE)
        self.add_mining("tsf-raise", "tailings facility expansion (dam raise and new beach)", self.tsf_rho <= 1,
                        B.d(TSF_EXP[0]), TSF_EXP[1], T.TAILINGS, B.MC_TAIL,
                        np.clip((Y - 270.0) / 70.0, 0, 1))
        self.tsf_pre_rho = r0
        self.kind[(self.onset > 0) & (self.kind == 0)] = 3
        self.heap_on = np.zeros(self.dem.shape, np.int32)
        for i, ((start, dur), (x0, x1, y0, y1)) in enumerate(HEAP_CELLS, start=1):
            m = (X >= x0) & (X < x1) & (Y >= y0) & (Y < y1)
            self.add_mining(f"heap-cell{i}", f"heap-leach pad cell {i}", m, B.d(start), dur, T.WASTE_DUMP,
                            B.MC_PRE if i == 1 else B.MC_DUMP, np.clip((X - x0) / max(x1 - x0, 1), 0, 1))
            self.heap_on[m & (self.heap_on == 0)] = days(B.d(start))
        self.kind[(self.onset > 0) & (self.kind == 0)] = 4
        plant = (np.abs(X - 205) < 12) & (np.abs(Y - 232) < 9)
        roads = self._road((150, 210), (205, 232), (235, 275)) | self._road((120, 150), (85, 135)) | \
            self._road((205, 232), (110, 300))
        self.add_mining("plant-roads", "plant pad and haul roads", plant | roads, B.d("2010-05-03"), 60,
                        T.ROADS_PADS, B.MC_PRE)
        new_road = self._road((110, 300), (98, 328))
        self.add_mining("road-2023", "haul road to heap cell 3", new_road, B.d("2023-01-16"), 20, T.ROADS_PADS,
                        B.MC_OTHER)
        pads = np.zeros(self.dem.shape, bool)
        for (px, py) in ((300.0, 200.0), (330.0, 230.0), (290.0, 250.0)):
            pads |= self.at_least_one((np.abs(X - px) < 2.6) & (np.abs(Y - py) < 2.6), px, py)
        pads |= self._road((300, 200), (330, 230), (290, 250))
        self.add_mining("exploration-pads", "exploration drill pads and track", pads & ~self.wash, B.d("2024-11-11"),
                        25, T.ROADS_PADS, B.MC_OTHER)
        self.kind[(self.onset > 0) & (self.kind == 0)] = 5
        lake_r = self.rho(PIT_PRE[0], PIT_PRE[1], 9.0, 7.0, wob, 0.2)
        self.lake_r = lake_r
        lake_mask = (lake_r <= 1) & (self.kind == 1)
        self.events.append(T.Event("pit-lake", "mining", "acid pit lake (extent at the end of the series)",
                                   np.where(lake_mask, days(PIT_LAKE_FROM), 0).astype(np.int32), T.MINE_WATER))
        self.natural7 = (out | self.pan | self.wash) & (self.onset == 0)
        self.outcrop = out & (self.onset == 0)
        self.pan &= self.onset == 0
        for dd_ in RAIN:
            self.add_other(f"wet-pan-{dd_.year}", f"salt pan flooded by the {dd_.year} storm", self.pan, dd_, "flood")
            self.add_other(f"wash-flow-{dd_.year}", f"the wash runs after the {dd_.year} storm", self.wash, dd_, "flood")

        self.licences = [
            L.Licence("CL-2201", "Minera Cerro Pampa SA", "copper", "active", "1998-01-01", "2040-12-31",
                      ((35.3, 70.6), (282.6, 70.6), (282.6, 345.3), (108.3, 345.3), (108.3, 262.4), (35.3, 262.4),
                       (35.3, 70.6))),
            L.Licence("CL-3150", "Cerro Pampa Exploraciones SpA", "copper", "active", "2024-06-01", "2029-05-31",
                      ((285.3, 185.6), (345.6, 185.6), (345.6, 262.3), (285.3, 262.3), (285.3, 185.6))),
        ]
        xs = float(self.rx(370.0))
        self.receptors = [
            L.Receptor("R-VIL-01", "village", "Pampa Alta village", (xs - 14.0, 370.0)),
            L.Receptor("R-WEL-01", "well", "Pampa Alta well", (float(self.rx(390.0)) + 3.0, 390.0)),
            L.Receptor("R-SPR-01", "spring", "Vertiente Chica spring (upstream)", (float(self.rx(30.0)) - 4.0, 30.0)),
        ]

    def _road(self, *pts, half_w: float = 1.0) -> np.ndarray:
        m = np.zeros(self.dem.shape, bool)
        for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
            vx, vy = bx - ax, by - ay
            t = np.clip(((self.X - ax) * vx + (self.Y - ay) * vy) / (vx * vx + vy * vy), 0, 1)
            m |= np.hypot(self.X - (ax + t * vx), self.Y - (ay + t * vy)) * self.k < max(half_w * self.k, 0.75)
        return m

    def _pond_radius(self, t: int, doy: int) -> float:
        """Tailings pond radius (normalised, in the expanded facility's frame)."""
        grow = np.clip((t - days(B.d(TSF_EXP[0]))) / 900.0, 0, 1)
        return 0.35 + 0.15 * float(grow) + 0.05 * float(np.cos(2 * np.pi * (doy - 40) / 365.0))

    def _lake_scale(self, t: int) -> float:
        return float(np.clip((t - days(PIT_LAKE_FROM)) / 1200.0, 0, 1))

    def footprint_changes(self, fp: np.ndarray, date: dt.date) -> None:
        t = days(date)
        lake = (self.kind == 1) & (self.lake_r <= self._lake_scale(t)) & (t >= days(PIT_LAKE_FROM))
        fp[lake] = T.MINE_WATER

    def paint(self, F, date, t, doy, soil_moist):
        n = self.n
        rain_age = [t - days(r) for r in RAIN if 0 <= t - days(r) < 120]
        wet = float(np.exp(-rain_age[0] / 25.0)) if rain_age else 0.0
        green = float(B.gauss(doy, 75, 30)) * (0.5 + 1.5 * (len(rain_age) > 0))
        v = self.veg
        F[B.EM["desert_soil"]] = (1 - v) * self.tex * (0.97 - 0.15 * wet)
        F[B.EM["green_veg"]] = v * 0.3 * min(green, 1.0)
        F[B.EM["dry_veg"]] = v * (1 - 0.3 * min(green, 1.0))
        B.put(F, self.outcrop, {"bright_outcrop": 0.9 * self.tex, "desert_soil": 0.1})
        B.put(F, self.pan, {"salt_pan": 0.85 * (1 - 0.35 * wet), "desert_soil": 0.15})
        B.put(F, self.wash, {"sand": 0.7 * self.tex, "desert_soil": 0.3})
        water = np.zeros((n, n), np.float32)
        if wet > 0.2:
            wf = (self.pan * 0.5 * wet + self.wash * 0.8 * (wet > 0.6)).astype(np.float32)
            B.put_water(F, wf, {"river_turbid": 1.0})
            water = wf
        mined = (self.onset > 0) & (self.onset <= t)
        k = self.kind
        pit = mined & (k == 1)
        B.put(F, pit, {"oxide_rock": 0.7 * self.bench, "rock": 0.3 * self.bench})
        pit_water = np.zeros((n, n), bool)
        if t >= days(PIT_LAKE_FROM):
            s = self._lake_scale(t) + 0.08 * float(np.cos(2 * np.pi * (doy - 200) / 365.0))
            pit_water = pit & (self.lake_r <= max(s, 0.15))
            B.put(F, pit_water, {"cu_water": 1.0})
        dump = mined & (k == 2)
        fresh = dump & (self.onset > t - 90)
        B.put(F, dump, {"dump": 0.6 * self.tex, "oxide_rock": 0.4 * self.tex})
        B.put(F, fresh, {"dump": 0.45, "rock": 0.55})
        tsf = mined & (k == 3)
        rp = self._pond_radius(t, doy)
        expanded = t >= days(B.d(TSF_EXP[0]))
        rr = self.tsf_rho if expanded else self.tsf_pre_rho
        pond_c = rr * 1.0
        dam = tsf & (rr > 0.9)
        pond = tsf & ~dam & (pond_c <= (rp if expanded else rp * 0.9))
        wetb = tsf & ~dam & ~pond & (pond_c <= rp + 0.15)
        dryb = tsf & ~dam & ~pond & ~wetb
        B.put(F, dam, {"dump": 0.8, "desert_soil": 0.2})
        B.put(F, dryb, {"beach": 0.95 * self.tex})
        B.put(F, wetb, {"beach": 0.55, "turbid_water": 0.45})
        B.put(F, pond, {"turbid_water": 0.7, "cu_water": 0.3})
        heap = mined & (k == 4)
        B.put(F, heap, {"heap_leach": 0.9 * self.tex, "rock": 0.1})
        B.put(F, heap & (self.heap_on > t - 60), {"rock": 0.6, "heap_leach": 0.4})
        road = mined & (k == 5)
        B.put(F, road, {"desert_soil": 0.6, "built": 0.4})
        water = np.where(pit_water | pond, 1.0, np.where(wetb, 0.45, water)).astype(np.float32)
        return {"water": water, "pit_water": pit_water, "deep_water": np.zeros((n, n), bool),
                "bright_mine": dryb | fresh}


def build(n: int, seed: int):
    sc = Arid(n, seed)
    return sc, sc


SPEC = ScenarioSpec(
    name="arid",
    description="Synthetic Sentinel-2 L2A time series of a fictitious open-pit copper mine in a high desert "
                "(generated by minewatch.demo; not real data).",
    climate=CLIMATE, start="2018-01-01", end="2024-12-31", cadence_days=5, size_px=400,
    monitor_start="2019-01-01", monitor_end="2024-12-31", build=build, write_truth=B.write_truth)
