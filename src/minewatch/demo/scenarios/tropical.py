"""``tropical``: a cloudy rain-forest river with artisanal gold mining and a licensed operation.

Frequent heavy cloud and haze (60-80 % of acquisitions cloudy), evergreen forest with a mild dry
season, a meandering river whose sand bars emerge every dry season (not mining), small artisanal
clearings and turbid ponds appearing along the river at different dates (some in the last 90 days),
a licensed operation growing inside its concession, slash-and-burn plots that regrow (not mining),
a village and intake downstream and a village upstream. See docs/demo-scene.md.
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
    lat=6.2,
    # bimodal rains (Apr-Jul, Sep-Nov); the harmattan dry season is clearer but hazy
    p_cloudy=(0.45, 0.50, 0.65, 0.75, 0.80, 0.85, 0.80, 0.70, 0.80, 0.80, 0.70, 0.50),
    p_overcast=0.3, haze_p=(0.25, 0.3), haze_range=(0.02, 0.15), snow=(), wet_months=(5, 6, 9, 10),
)

#: artisanal sites: (design x offset from the river centre, design y, radius, onset, growth days, pond)
_SITES = (
    (-9.0, 62.0, 3.0, "2019-03-18", 25, True), (11.0, 95.0, 4.5, "2019-11-04", 30, True),
    (-14.0, 128.0, 2.0, "2020-06-22", 15, False), (8.5, 148.0, 5.5, "2020-12-07", 40, True),
    (-10.5, 176.0, 3.5, "2021-05-10", 20, True), (13.0, 206.0, 1.5, "2021-10-25", 15, False),
    (-8.5, 232.0, 4.0, "2022-04-04", 30, True), (10.0, 258.0, 5.0, "2022-12-12", 35, True),
    (-12.0, 286.0, 2.5, "2023-06-19", 20, False), (9.0, 306.0, 4.5, "2024-01-15", 30, True),
    (-9.5, 112.0, 3.0, "2024-07-08", 20, True), (12.0, 186.0, 3.5, "2024-10-07", 25, True),
    (-11.0, 270.0, 2.5, "2024-11-04", 20, True), (8.0, 80.0, 2.0, "2024-12-02", 15, False),
)
_BURNS = ((330.0, 60.0, 9.0, "2019-02-11"), (60.0, 300.0, 8.0, "2020-01-20"), (335.0, 330.0, 10.0, "2021-02-08"),
          (45.0, 150.0, 7.0, "2022-01-24"), (350.0, 200.0, 8.0, "2023-02-13"), (70.0, 60.0, 9.0, "2024-01-29"),
          (40.0, 240.0, 7.0, "2024-11-18"))
#: licensed operation: stages (start, days, pit ellipse (dx from river at y=200, y, rx, ry), dump ellipse)
_OP_STAGES = (
    ("2019-02-11", 60, (60, 205, 12, 10), (85, 230, 8, 6)),
    ("2020-11-02", 50, (62, 203, 17, 14), (88, 234, 11, 8)),
    ("2022-03-14", 70, (64, 200, 22, 18), (90, 238, 14, 10)),
    ("2023-08-21", 45, (66, 198, 26, 21), (92, 242, 17, 12)),
    ("2024-10-07", 40, (69, 196, 30, 24), (95, 246, 20, 14)),
)
_PONDS = (("2020-12-14", (38, 232, 5, 4)), ("2023-09-11", (40, 244, 6, 4)))
_SSM_SITE = 7  # this artisanal site lies inside the small-scale licence SSM-0412


def river_level(doy: int) -> float:
    """Relative river stage 0 (dry season low) .. 1 (rainy-season high)."""
    return float(min(1.0, 1.1 * B.gauss(doy, 165, 40) + 1.0 * B.gauss(doy, 290, 32)))


class Tropical(B.Scenario):
    name = "tropical"
    epsg = 32630
    origin = (612_000.0, 690_000.0)

    def layout(self) -> None:
        rng = self.rng
        X, Y = self.X, self.Y
        ph = (float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.5, 0.5)))
        self.rx = lambda y: 200.0 + 70.0 * np.sin(2 * np.pi * np.asarray(y) / 300.0 + ph[0]) \
            + 18.0 * np.sin(2 * np.pi * np.asarray(y) / 110.0 + ph[1])
        self.dem, self.channel, self.dd = self.valley_dem(self.rx, 120.0, 8.0, 150.0, 0.03, 0.03, 8.0)
        self.abs_d = np.abs(self.dd)  # design px
        tex = self.field(6, 1.5, weights=(1.0, 0.5))
        self.fc = np.clip(0.86 + 0.05 * tex, 0.7, 0.95).astype(np.float32)
        self.river_zone = (self.abs_d < 4.4) | self.channel
        self.sandbar = self.river_zone & (self.abs_d > 2.0) & (self.field(5) > -0.2)
        self.natural7 = self.river_zone.copy()
        # villages and their gardens; a farm mosaic around each
        xv, xu = float(self.rx(335.0)), float(self.rx(40.0))
        self.village = (np.hypot((X - (xv - 28)) / 13.0, (Y - 335) / 15.0) < 1) | \
                       (np.hypot((X - (xu + 26)) / 10.0, (Y - 40) / 11.0) < 1)
        self.village &= ~self.river_zone
        self.built = np.clip(0.45 + 0.35 * self.field(1.0), 0.1, 0.9).astype(np.float32)
        farm = (np.hypot((X - (xv - 40)) / 40.0, (Y - 345) / 35.0) < 1) | \
               (np.hypot((X - (xu + 40)) / 35.0, (Y - 35) / 30.0) < 1)
        self.farm = farm & ~self.village & ~self.river_zone & (self.field(4) > -0.3)
        self.snow_damp[:] = 0.0  # no snow in the tropics (the climate never draws any)

        # licences
        x0 = float(self.rx(200.0))
        self.licences = [
            L.Licence("GL-0231", "Asuo Nkwanta Gold Ltd", "gold", "active", "2015-01-01", "2035-12-31",
                      ((x0 + 20.3, 160.4), (x0 + 125.6, 160.4), (x0 + 125.6, 275.3), (x0 + 20.3, 275.3),
                       (x0 + 20.3, 160.4))),
            L.Licence("SSM-0412", "Kwabena Small-Scale Mining Group", "gold", "active", "2021-06-01", "2026-05-31",
                      self._around_site(_SITES[_SSM_SITE], 9.3)),
            L.Licence("PL-0107", "Offin Prospecting Co.", "gold", "expired", "2014-03-01", "2019-02-28",
                      ((20.3, 250.6), (120.6, 250.6), (120.6, 390.3), (20.3, 390.3), (20.3, 250.6))),
        ]
        xi = float(self.rx(378.0))
        self.receptors = [
            L.Receptor("R-VIL-01", "village", "Nkwanta village (downstream)", (xv - 20.0, 335.0)),
            L.Receptor("R-INT-01", "water_intake", "Nkwanta water intake", (xi + 3.5, 378.0)),
            L.Receptor("R-VIL-02", "village", "Asuboa village (upstream)", (xu + 20.0, 40.0)),
        ]

        wob = self.field(7, 2.5, weights=(1.0, 0.4))
        # licensed operation: pre-existing pit and plant pad, then five stages
        ox = lambda e: (x0 + e[0], e[1], e[2], e[3])  # noqa: E731
        pre = self.rho(*ox((58, 207, 8, 7)), wob) <= 1
        self.add_mining("op-pre", "licensed operation: pre-existing pit", pre, B.d("2016-05-02"), 300,
                        T.OPEN_PIT, B.MC_PRE, np.clip(self.rho(*ox((58, 207, 8, 7))), 0, 1))
        pad = (np.abs(X - (x0 + 40)) < 7) & (np.abs(Y - 215) < 5)
        self.add_mining("op-pad", "licensed operation: wash plant pad", pad, B.d("2016-08-01"), 30,
                        T.ROADS_PADS, B.MC_PRE)
        road = self._segment(x0 + 40, 215, x0 + 62, 210, 0.9) | self._segment(x0 + 40, 215, x0 + 12, 222, 0.9)
        self.add_mining("op-road", "licensed operation: haul road", road, B.d("2017-01-10"), 20,
                        T.ROADS_PADS, B.MC_PRE)
        prev_pit = prev_dump = None
        for i, (start, dur, pit, dump) in enumerate(_OP_STAGES, start=1):
            rp = self.rho(*ox(pit), wob)
            rd = self.rho(*ox(dump), wob)
            fp = np.clip(rp if prev_pit is None else (prev_pit - 1) / np.maximum(prev_pit - rp, 1e-3), 0, 1)
            fd = np.clip(rd if prev_dump is None else (prev_dump - 1) / np.maximum(prev_dump - rd, 1e-3), 0, 1)
            self.add_mining(f"op-stage{i}-pit", f"licensed operation stage {i}: pit", rp <= 1, B.d(start), dur,
                            T.OPEN_PIT, B.MC_PIT, fp)
            self.add_mining(f"op-stage{i}-dump", f"licensed operation stage {i}: spoil heap", rd <= 1,
                            B.d(start), dur, T.WASTE_DUMP, B.MC_DUMP, fd)
            prev_pit = rp if prev_pit is None else np.minimum(prev_pit, rp)
            prev_dump = rd if prev_dump is None else np.minimum(prev_dump, rd)
        self.settling = np.zeros(self.dem.shape, bool)
        for j, (start, e) in enumerate(_PONDS, start=1):
            m = self.rho(*ox(e), wob) <= 1
            self.settling |= m & (self.onset == 0)
            self.add_mining(f"op-pond{j}", f"licensed operation: settling pond {j}", m, B.d(start), 20,
                            T.MINE_WATER, B.MC_OTHER)
        self.op_pit = np.isin(self.mine_class, (B.MC_PIT,)) | pre
        self.op_dump = self.mine_class == B.MC_DUMP
        self.op_pad = pad | road
        # artisanal clearings and their ponds along the river
        self.art = np.zeros(self.dem.shape, bool)
        self.art_pond_on = np.zeros(self.dem.shape, np.int32)
        for i, (dx, y, r, start, dur, has_pond) in enumerate(_SITES):
            x = float(self.rx(y)) + dx + np.sign(dx) * 2.0
            rr = self.rho(x, y, r, r * 0.85, wob, 0.15)
            m = self.at_least_one((rr <= 1) & ~self.river_zone, x, y) & (self.onset == 0)
            mc = B.MC_PIT if i == _SSM_SITE else B.MC_UNLICENSED
            self.add_mining(f"art-{i + 1:02d}", f"artisanal clearing {i + 1}", m, B.d(start), dur, T.OPEN_PIT, mc,
                            np.clip(rr, 0, 1))
            self.art |= m
            if has_pond:
                pm = m & (rr <= 0.55)
                p_on = B.d(start) + dt.timedelta(days=dur // 2 + 10)
                if pm.any():
                    self.art_pond_on[pm] = days(p_on)
                    self.events.append(T.Event(f"art-{i + 1:02d}-pond", "mining", f"artisanal turbid pond {i + 1}",
                                               np.where(pm, days(p_on), 0).astype(np.int32), T.MINE_WATER))
        # slash-and-burn plots (not mining) and the dry-season sand bars
        self.burn_on = np.zeros(self.dem.shape, np.int32)
        for i, (x, y, r, date) in enumerate(_BURNS, start=1):
            m = (self.rho(x, y, r, r * 0.8, wob, 0.15) <= 1) & (self.onset == 0) & ~self.river_zone & ~self.village
            self.burn_on[m] = days(B.d(date))
            self.add_other(f"burn-{i}", f"slash-and-burn plot {i}", m, B.d(date), "burn")
        for year in range(2017, 2024):  # the dry season runs from about December to March
            emerge = next(dt.date(year, 1, 1) + dt.timedelta(days=k) for k in range(300, 365)
                          if river_level(k + 1) < 0.25)
            self.add_other(f"sandbar-{year + 1}", f"sand bars emerge in the {year}/{year + 1} dry season",
                           self.sandbar, emerge, "sandbar")

    def _segment(self, ax, ay, bx, by, half_w) -> np.ndarray:
        vx, vy = bx - ax, by - ay
        t = np.clip(((self.X - ax) * vx + (self.Y - ay) * vy) / (vx * vx + vy * vy), 0, 1)
        return np.hypot(self.X - (ax + t * vx), self.Y - (ay + t * vy)) * self.k < max(half_w * self.k, 0.75)

    def _around_site(self, site, half: float):
        dx, y, _r, *_ = site
        x = float(self.rx(y)) + dx + np.sign(dx) * 2.0
        return ((x - half + 0.3, y - half + 0.4), (x + half + 0.3, y - half + 0.4), (x + half + 0.3, y + half + 0.4),
                (x - half + 0.3, y + half + 0.4), (x - half + 0.3, y - half + 0.4))

    def footprint_changes(self, fp: np.ndarray, date: dt.date) -> None:
        pass  # ponds are their own events (class 4 from their onset)

    def paint(self, F, date, t, doy, soil_moist):
        n = self.n
        dry = float(min(1.0, B.gauss(doy, 30, 38) + B.gauss(doy, 395, 38)))
        fc = self.fc * (1 - 0.08 * dry)
        F[B.EM["forest"]] = fc
        F[B.EM["dry_veg"]] = self.fc * 0.08 * dry
        F[B.EM["green_veg"]] = 0.03
        F[B.EM["laterite"]] = np.clip(1 - self.fc - 0.03, 0, None)
        wet = 1 - dry
        g = 0.25 + 0.45 * wet
        B.put(F, self.farm, {"green_veg": g, "dry_veg": 0.15 * dry + 0.05, "laterite": 0.8 - g - 0.15 * dry})
        B.put(F, self.village, {"built": self.built, "green_veg": (1 - self.built) * 0.6,
                                "laterite": (1 - self.built) * 0.4})
        # slash and burn: char, then crops, then regrowing bush
        b = self.burn_on > 0
        if b.any():
            age = np.where(b, t - self.burn_on, -1).astype(np.float32)
            char = b & (age >= 0) & (age < 45)
            crop = b & (age >= 45) & (age < 220)
            reg = b & (age >= 220)
            B.put(F, char, {"char": 0.7, "laterite": 0.3})
            gc = 0.6 * B.sig((age - 90) / 15.0)
            B.put(F, crop, {"green_veg": gc, "laterite": 1 - gc})
            f_re = 0.86 * (1 - np.exp(-(age - 220) / 450.0))
            B.put(F, reg, {"forest": f_re, "green_veg": 0.55 * (1 - f_re / 0.86), "laterite":
                           np.clip(1 - f_re - 0.55 * (1 - f_re / 0.86), 0, None)})
        # river: banks, seasonal sand bars, water
        lev = river_level(doy)
        B.put(F, self.river_zone, {"green_veg": 0.5 * wet + 0.2, "laterite": 0.5 - 0.5 * wet + 0.3 - 0.2,
                                   "dry_veg": 0.0})
        hw = 2.0 + 2.4 * lev
        B.put(F, self.sandbar & (self.abs_d > hw), {"sand": 0.9, "green_veg": 0.05, "laterite": 0.05})
        hw_px = max(hw * self.k, 0.7)
        wf = (np.clip(hw_px - self.abs_d * self.k + 0.5, 0, 1) * self.river_zone).astype(np.float32)
        wf[self.channel] = 1.0
        turb = 0.45 + 0.45 * lev
        B.put_water(F, wf, {"river_clear": 1 - turb, "river_turbid": turb})
        water = wf.copy()
        deep = self.river_zone & (self.abs_d * self.k < hw_px - 1.0)
        # mining
        mined = (self.onset > 0) & (self.onset <= t)
        tex = 0.93 + 0.07 * self.fc / 0.86
        B.put(F, mined & self.op_pit, {"laterite": 0.55 * tex, "rock": 0.35 * tex, "sand": 0.1})
        B.put(F, mined & self.op_dump, {"laterite": 0.7, "sand": 0.2, "green_veg": 0.05})
        B.put(F, mined & self.op_pad, {"laterite": 0.5, "built": 0.4, "sand": 0.1})
        sp = mined & self.settling
        B.put(F, sp, {"muddy_water": 1.0})
        B.put(F, mined & self.art, {"laterite": 0.55, "sand": 0.45})
        ap = mined & (self.art_pond_on > 0) & (self.art_pond_on <= t)
        B.put(F, ap, {"muddy_water": 0.9, "laterite": 0.1})
        water = np.where(sp | ap, 1.0, water)
        F[:, ~(sp | ap | (wf > 0))] *= np.float32(0.97 + 0.03 * soil_moist)
        return {"water": water, "pit_water": sp, "deep_water": deep,
                "bright_mine": np.zeros((n, n), bool)}


def build(n: int, seed: int):
    sc = Tropical(n, seed)
    return sc, sc


SPEC = ScenarioSpec(
    name="tropical",
    description="Synthetic Sentinel-2 L2A time series of a cloudy tropical river with fictitious artisanal "
                "gold mining and a licensed operation (generated by minewatch.demo; not real data).",
    climate=CLIMATE, start="2018-01-01", end="2024-12-31", cadence_days=5, size_px=400,
    monitor_start="2019-01-01", monitor_end="2024-12-31", build=build, write_truth=B.write_truth)
