"""``temperate``: an alpine-foreland valley with a limestone quarry, seasonal snow and farming.

Snow from November to April that lies longer higher up (it must not read as change: winter
gaps), deciduous forest on the lower slopes and conifers above, crops with harvests and
ploughing on the valley floor, a forest clear-cut that regrows (none of them mining); a quarry
expanding in benches (the last push in the final 90 days, partly beyond its licence), a waste
dump growing downslope, a settling pond, part of the old quarry rehabilitated; a natural lake
(not mine) and a river with a drinking-water intake downstream. See docs/demo-scene.md.
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
    lat=47.4,
    p_cloudy=(0.60, 0.55, 0.50, 0.45, 0.45, 0.40, 0.35, 0.35, 0.40, 0.50, 0.60, 0.65),
    p_overcast=0.25, haze_p=(0.1, 0.25), haze_range=(0.02, 0.10),
    snow=((12, 0.85, 0.5, 1.0), (1, 0.9, 0.55, 1.0), (2, 0.85, 0.5, 1.0), (3, 0.55, 0.15, 0.75),
          (11, 0.45, 0.1, 0.7), (4, 0.2, 0.0, 0.45), (10, 0.08, 0.0, 0.3)),
    wet_months=(3, 4, 11),
)

QUARRY_PRE = (305.0, 185.0, 22.0, 15.0)
QUARRY_STAGES = (("2019-06-03", 60, (306.0, 183.0, 26.0, 18.0)), ("2020-09-07", 70, (308.0, 181.0, 30.0, 21.0)),
                 ("2022-05-02", 60, (310.0, 178.0, 34.0, 24.0)), ("2023-08-14", 50, (312.0, 176.0, 37.0, 27.0)),
                 ("2024-10-21", 40, (314.0, 171.0, 40.0, 32.0)))
DUMP_PRE = (282.0, 222.0, 12.0, 8.0)
DUMP_STAGES = (("2021-04-12", 90, (279.0, 226.0, 16.0, 11.0)), ("2023-05-15", 80, (276.0, 230.0, 20.0, 14.0)))
POND = ("2020-07-06", (340.0, 226.0, 5.0, 4.0))
REHAB_FROM = dt.date(2021, 4, 1)  # the old south benches are topsoiled and planted
CLEARCUT = dt.date(2021, 2, 15)


class Temperate(B.Scenario):
    name = "temperate"
    epsg = 32633
    origin = (452_000.0, 5_246_000.0)

    def layout(self) -> None:
        rng = self.rng
        X, Y = self.X, self.Y
        ph = float(rng.uniform(-0.4, 0.4))
        self.rx = lambda y: 215.0 + 14.0 * np.sin(2 * np.pi * np.asarray(y) / 260.0 + ph)
        self.dem, self.channel, self.dd = self.valley_dem(self.rx, 640.0, 20.0, 150.0, 0.16, 0.14, 20.0)
        self.abs_d = np.abs(self.dd)
        wob = self.field(7, 2.5, weights=(1.0, 0.4))
        dm = self.dd * 10.0
        floor = np.abs(dm) < 170
        self.river = (self.abs_d < 2.6) | self.channel
        z01 = (self.dem - self.dem.min()) / max(float(self.dem.max() - self.dem.min()), 1e-6)
        self.lake = (self.rho(float(self.rx(90.0)) - 24.0, 90.0, 10.0, 7.0, wob, 0.1) <= 1) & ~self.river
        # crops on the valley floor, parcels of 1-4 ha
        self.field_id = np.full(self.dem.shape, -1, np.int32)
        fid = 0
        for y0 in np.arange(10.0, 392.0, 18.0):
            xs = float(self.rx(y0 + 9)) - 160.0
            x = xs
            while x < xs + 310:
                w = float(rng.uniform(15, 30))
                m = (X >= x + 0.8) & (X < x + w - 0.8) & (Y >= y0 + 0.8) & (Y < y0 + 17.2) & floor
                m &= ~self.river & ~self.lake & (self.abs_d > 5)
                if m.any() and rng.random() < 0.7:
                    self.field_id[m] = fid
                    fid += 1
                x += w
        self.n_fields = fid
        self.calendar = {}
        for f in range(fid):
            for yr in range(2015, 2026):
                u = rng.random()
                if u < 0.45:
                    self.calendar[(f, yr)] = ("wheat", 0, int(rng.integers(190, 212)), float(rng.uniform(0.75, 0.9)))
                elif u < 0.8:
                    sow = int(rng.integers(112, 130))
                    self.calendar[(f, yr)] = ("maize", sow, int(rng.integers(268, 295)), float(rng.uniform(0.7, 0.9)))
                else:
                    self.calendar[(f, yr)] = ("meadow", 0, 0, 0.8)
        self.crop = self.field_id >= 0
        self.meadow = floor & ~self.crop & ~self.river & ~self.lake
        xv = float(self.rx(340.0))
        self.village = (np.hypot((X - (xv - 35)) / 18.0, (Y - 340) / 14.0) < 1) & ~self.river
        self.crop &= ~self.village
        self.meadow &= ~self.village
        self.built = np.clip(0.5 + 0.3 * self.field(1.0), 0.1, 0.95).astype(np.float32)
        slope = ~floor
        self.conifer = slope & (z01 + 0.08 * self.field(10) > 0.55)
        self.decid = slope & ~self.conifer
        self.snow_damp = np.where(self.conifer, 0.5, np.where(self.decid, 0.75, np.where(self.village, 0.65, 1.0)))
        self.snow_damp = self.snow_damp.astype(np.float32)
        self.clearcut = (self.rho(95.0, 260.0, 14.0, 10.0, wob, 0.15) <= 1) & slope

        # ---- the quarry ----
        rp = self.rho(*QUARRY_PRE, wob)
        self.q_rho = rp
        self.bench = np.clip(0.85 + 0.17 * np.sin(self.rho(*QUARRY_PRE) * 7.0 * 2 * np.pi + 0.6 * wob),
                             0.6, 1.15).astype(np.float32)
        self.add_mining("quarry-pre", "pre-existing quarry", rp <= 1, B.d("2006-04-03"), 1500, T.OPEN_PIT, B.MC_PRE,
                        np.clip(rp, 0, 1))
        prev = rp
        for i, (start, dur, e) in enumerate(QUARRY_STAGES, start=1):
            r = self.rho(*e, wob)
            frac = np.clip((prev - 1) / np.maximum(prev - r, 1e-3), 0, 1)
            self.add_mining(f"quarry-stage{i}", f"quarry expansion {i}", r <= 1, B.d(start), dur, T.OPEN_PIT,
                            B.MC_PIT, frac)
            prev = np.minimum(prev, r)
        self.quarry = self.onset > 0
        r0 = self.rho(*DUMP_PRE, wob)
        self.add_mining("dump-pre", "pre-existing waste dump", r0 <= 1, B.d("2010-05-03"), 900, T.WASTE_DUMP,
                        B.MC_PRE, np.clip(r0, 0, 1))
        prev = r0
        for i, (start, dur, e) in enumerate(DUMP_STAGES, start=1):
            r = self.rho(*e, wob)
            frac = np.clip((prev - 1) / np.maximum(prev - r, 1e-3), 0, 1)
            self.add_mining(f"dump-stage{i}", f"waste dump grows downslope ({i})", r <= 1, B.d(start), dur,
                            T.WASTE_DUMP, B.MC_DUMP, frac)
            prev = np.minimum(prev, r)
        self.dump = (self.onset > 0) & ~self.quarry
        self.pond = (self.rho(*POND[1], wob, 0.1) <= 1) & (self.onset == 0)
        self.pond = self.at_least_one(self.pond, POND[1][0], POND[1][1]) & (self.onset == 0)
        self.add_mining("settling-pond", "quarry settling pond", self.pond, B.d(POND[0]), 15, T.MINE_WATER, B.MC_OTHER)
        road = self._road((float(self.rx(200.0)) + 6.0, 200.0), (270.0, 200.0), (292.0, 190.0))
        road &= (self.onset == 0) & ~self.river
        self.add_mining("access-road", "quarry access road", road, B.d("2006-03-01"), 10, T.ROADS_PADS, B.MC_PRE)
        self.road = road
        # rehabilitation: the southern benches of the old quarry (class 6 once green, a year on)
        self.rehab = self.quarry & (self.Y > QUARRY_PRE[1] + 6.0) & (self.onset < days(B.d("2019-01-01")))
        self.rehab &= rp <= 1
        self.natural7 = self.lake | self.river

        self.add_other("clearcut", "forest clear-cut (replanted)", self.clearcut & (self.onset == 0), CLEARCUT,
                       "logging")
        for year in range(2018, 2025):
            on = np.zeros(self.dem.shape, np.int32)
            for f in range(self.n_fields):
                crop, _sow, harv, _g = self.calendar[(f, year)]
                if crop != "meadow":
                    on[self.field_id == f] = days(dt.date(year, 1, 1) + dt.timedelta(days=harv - 1))
            self.events.append(T.Event(f"harvest-{year}", "not_mining", f"harvests and ploughing {year}", on,
                                       cause="harvest"))
        for year in range(2018, 2025):
            self.add_other(f"snow-{year}", f"winter snow cover {year}/{year + 1} (whole scene)",
                           np.ones(self.dem.shape, bool), dt.date(year, 11, 15), "snow")

        self.licences = [
            L.Licence("QL-0577", "Kalkwerk Talboden GmbH", "limestone", "active", "2005-01-01", "2034-12-31",
                      ((262.3, 152.6), (352.6, 152.6), (352.6, 250.3), (262.3, 250.3), (262.3, 152.6))),
            L.Licence("QL-0611", "Kalkwerk Talboden GmbH", "limestone", "expired", "2008-01-01", "2018-12-31",
                      ((262.3, 120.4), (352.6, 120.4), (352.6, 152.6), (262.3, 152.6), (262.3, 120.4))),
        ]
        xi = float(self.rx(375.0))
        self.receptors = [
            L.Receptor("R-INT-01", "water_intake", "Talboden drinking-water intake", (xi + 3.0, 375.0)),
            L.Receptor("R-VIL-01", "village", "Talboden village", (xv - 20.0, 340.0)),
            L.Receptor("R-SPR-01", "spring", "Hochwald spring (upstream)", (float(self.rx(25.0)) - 3.0, 25.0)),
        ]

    def _road(self, *pts, half_w: float = 0.9) -> np.ndarray:
        m = np.zeros(self.dem.shape, bool)
        for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
            vx, vy = bx - ax, by - ay
            t = np.clip(((self.X - ax) * vx + (self.Y - ay) * vy) / (vx * vx + vy * vy), 0, 1)
            m |= np.hypot(self.X - (ax + t * vx), self.Y - (ay + t * vy)) * self.k < max(half_w * self.k, 0.75)
        return m

    def footprint_changes(self, fp: np.ndarray, date: dt.date) -> None:
        if date >= REHAB_FROM + dt.timedelta(days=365):
            fp[self.rehab] = T.REHABILITATED

    def _crop(self, date: dt.date):
        nf = self.n_fields
        g, dr, so = np.zeros(nf, np.float32), np.zeros(nf, np.float32), np.ones(nf, np.float32)
        doy = date.timetuple().tm_yday
        for f in range(nf):
            crop, sow, harv, gmax = self.calendar[(f, date.year)]
            if crop == "meadow":
                gg = 0.85 * float(B.gauss(doy, 175, 55))
                g[f], dr[f], so[f] = gg, 0.85 - gg, 0.15
            elif crop == "wheat":  # winter wheat: green from March, harvested in July, ploughed in autumn
                if doy < harv - 30:
                    gg = gmax * float(B.sig((doy - 95) / 10.0))
                    g[f], dr[f], so[f] = gg, 0.0, 1 - gg
                elif doy < harv:
                    g[f], dr[f], so[f] = gmax * (harv - doy) / 30.0, gmax * (1 - (harv - doy) / 30.0), 1 - gmax
                elif doy < harv + 50:
                    g[f], dr[f], so[f] = 0.0, 0.3, 0.7
                else:
                    g[f], dr[f], so[f] = 0.15 * float(B.sig((doy - harv - 70) / 8.0)), 0.0, 1.0
                    so[f] -= g[f]
            else:  # maize
                if doy < sow + 20:
                    g[f], dr[f], so[f] = 0.0, 0.1, 0.9
                elif doy < harv - 20:
                    gg = gmax * float(B.sig((doy - (sow + 55)) / 8.0))
                    g[f], dr[f], so[f] = gg, 0.0, 1 - gg
                elif doy < harv:
                    g[f], dr[f], so[f] = gmax * (harv - doy) / 20.0, gmax * (1 - (harv - doy) / 20.0), 1 - gmax
                else:
                    g[f], dr[f], so[f] = 0.0, 0.15, 0.85
        fid = np.maximum(self.field_id, 0)
        return g[fid], dr[fid], so[fid]

    def paint(self, F, date, t, doy, soil_moist):
        n = self.n
        leaf = float(B.sig((doy - 120) / 6.0) * B.sig((292 - doy) / 8.0))
        gm = float(B.gauss(doy, 180, 60))
        F[B.EM["green_veg"]] = 0.85 * gm
        F[B.EM["dry_veg"]] = 0.85 * (1 - gm)
        F[B.EM["soil"]] = 0.15 * soil_moist
        B.put(F, self.decid, {"green_veg": 0.85 * leaf, "bare_branches": 0.6 * (1 - leaf),
                              "soil": 0.15 + 0.25 * (1 - leaf)})
        B.put(F, self.conifer, {"conifer": 0.8, "green_veg": 0.05 + 0.05 * leaf, "soil": 0.1})
        cc = self.clearcut & (t >= days(CLEARCUT))
        if cc.any():
            age = t - days(CLEARCUT)
            rg = float(np.clip(age / 1100.0, 0, 1))
            B.put(F, cc, {"dry_veg": 0.45 * (1 - rg), "soil": 0.4 * (1 - rg) + 0.1,
                          "green_veg": (0.15 + 0.6 * rg) * (0.3 + 0.7 * leaf)})
        if self.n_fields:
            g, dr, so = self._crop(date)
            B.put(F, self.crop, {"green_veg": g, "dry_veg": dr, "soil": so * soil_moist})
        B.put(F, self.village, {"built": self.built, "green_veg": (1 - self.built) * 0.7 * gm,
                                "soil": (1 - self.built) * (1 - 0.7 * gm)})
        water = np.zeros((n, n), np.float32)
        for m, mix in ((self.river, {"river_clear": 0.7, "river_turbid": 0.3}), (self.lake, {"river_clear": 1.0})):
            B.put(F, m, {"green_veg": 0.5 * gm, "dry_veg": 0.3, "soil": 0.2})
            wf = m.astype(np.float32)
            B.put_water(F, wf, mix)
            water = np.maximum(water, wf)
        mined = (self.onset > 0) & (self.onset <= t)
        q = mined & self.quarry
        B.put(F, q, {"limestone": 0.9 * self.bench, "soil": 0.1})
        if t >= days(REHAB_FROM):
            rg = float(np.clip((t - days(REHAB_FROM)) / 500.0, 0, 1))
            r = self.rehab
            B.put(F, r, {"limestone": 0.6 * (1 - rg) + 0.05, "soil": 0.3 * (1 - rg) + 0.1,
                         "green_veg": (0.1 + 0.6 * rg) * (0.2 + 0.8 * gm), "dry_veg": (0.1 + 0.6 * rg) * 0.8 * (1 - gm)})
        dump = mined & self.dump
        fresh = dump & (self.onset > t - 120)
        B.put(F, dump, {"limestone": 0.5, "soil": 0.35, "green_veg": 0.1 * gm, "dry_veg": 0.05})
        B.put(F, fresh, {"limestone": 0.6, "soil": 0.4})
        pond = mined & self.pond
        B.put(F, pond, {"turbid_water": 1.0})
        road = mined & self.road
        B.put(F, road, {"asphalt": 0.7, "soil": 0.3})
        water = np.where(pond, 1.0, water).astype(np.float32)
        return {"water": water, "pit_water": np.zeros((n, n), bool), "deep_water": self.river & (self.abs_d < 1.0),
                "bright_mine": fresh | (q & (self.onset > t - 120))}


def build(n: int, seed: int):
    sc = Temperate(n, seed)
    return sc, sc


SPEC = ScenarioSpec(
    name="temperate",
    description="Synthetic Sentinel-2 L2A time series of a fictitious limestone quarry in a temperate valley "
                "with seasonal snow (generated by minewatch.demo; not real data).",
    climate=CLIMATE, start="2018-01-01", end="2024-12-31", cadence_days=5, size_px=400,
    monitor_start="2019-01-01", monitor_end="2024-12-31", build=build, write_truth=B.write_truth)
