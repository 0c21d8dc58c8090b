"""Per-date surface reflectance of the demo scene (before the atmosphere).

Each pixel is a linear mixture of the endmembers of :mod:`minewatch.demo.spectra`
whose fractions follow the pixel's land cover, its phenology on that date and,
from its onset date on, the mining feature that replaced it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from minewatch.demo import layout as L
from minewatch.demo.geo import days
from minewatch.demo.noise import smooth_field
from minewatch.demo.spectra import E, EM

_END_ALL = days(dt.date(2024, 12, 31))


@dataclass
class SurfaceFeatures:
    """Masks the SCL simulator and the truth statistics need (10 m grid)."""

    water: np.ndarray  # water fraction 0..1 (river, pond, pit lake, tailings pond)
    pit_water: np.ndarray  # bool, dark pit lake
    deep_water: np.ndarray  # bool, open river core (dark, flagged as shadow by Sen2Cor at times)
    bright_mine: np.ndarray  # bool, tailings beach and fresh dump (flagged as cloud at times)
    snow: np.ndarray  # snow fraction 0..1
    mined: np.ndarray  # bool, mining surface on this date


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gauss(doy: float, peak, width: float):
    return np.exp(-0.5 * ((doy - peak) / width) ** 2)


class SurfaceModel:
    """Renders surface reflectance for any date of a :class:`~minewatch.demo.layout.Layout`."""

    def __init__(self, lay: L.Layout) -> None:
        self.lay = lay
        c = lay.cover
        self.m_nat = (c == L.NATURAL)
        self.m_fp = (c == L.FLOODPLAIN)
        self.m_rip = (c == L.RIPARIAN)
        self.m_crop = (c == L.CROP)
        self.m_out = (c == L.OUTCROP)
        self.m_vil = (c == L.VILLAGE)
        self.m_road = (c == L.ROAD)
        self.m_riv = (c == L.RIVER)
        self.m_pond = (c == L.POND)
        self.abs_d = np.abs(lay.river_d)
        self.kind = lay.kind
        self.onset = lay.onset
        rng = np.random.default_rng([lay.seed, 3])
        tex = rng.normal(0, 0.04, lay.onset.shape).astype(np.float32)
        # pit benches: concentric bright faces and shaded risers, not perfectly regular
        pert = smooth_field(rng, lay.onset.shape, (max(4.0 * lay.k, 0.6),))
        self.bench = np.clip(0.86 + 0.16 * np.sin(lay.pit_dist * 2 * np.pi / 3.5 + 0.9 * pert) + tex,
                             0.6, 1.15).astype(np.float32)
        self.lake_dist = (lay.pit_dist * (1 + 0.12 * pert)).astype(np.float32)
        self.n_fields = int(lay.field_id.max()) + 1
        self.snow_damp = np.where(self.m_rip | self.m_vil, 0.65, 1.0).astype(np.float32)
        # elevation normalised 0..1 (snow lies longer higher up)
        z = lay.dem
        self.z01 = ((z - z.min()) / max(float(z.max() - z.min()), 1e-6)).astype(np.float32)

    # ------------------------------------------------------------------ helpers
    def _crop_fractions(self, date: dt.date):
        """Green, dry, soil fraction and soil brightness per crop field on ``date``."""
        nf = self.n_fields
        g = np.zeros(nf, np.float32)
        dr = np.zeros(nf, np.float32)
        so = np.ones(nf, np.float32)
        sb = np.ones(nf, np.float32)
        doy = date.timetuple().tm_yday
        for f in range(nf):
            crop, sow, harv, gmax = self.lay.field_calendar[(f, date.year)]
            if crop == "fallow":
                cov = gmax + 0.25
                gg = cov * 0.75 * float(_gauss(doy, 175, 40)) * self.lay.year_factor[date.year]
                g[f], dr[f], so[f] = min(gg, cov), cov - min(gg, cov), 1 - cov
                continue
            if doy < sow + 15:
                # previous year's stubble until spring tillage, then bare
                g[f], dr[f], so[f] = 0.0, (0.2 if doy < sow - 20 else 0.0), (0.8 if doy < sow - 20 else 1.0)
                sb[f] = 0.85 if doy < 120 else 0.95
            elif doy < harv - 25:
                gg = gmax * float(_sig((doy - (sow + 38)) / 7.0))
                g[f], dr[f], so[f] = gg, 0.0, 1 - gg
            elif doy < harv:
                gp = gmax * float(_sig((harv - 25 - (sow + 38)) / 7.0))
                gg = gp * (harv - doy) / 25.0
                g[f], dr[f], so[f] = gg, gp - gg, 1 - gp
            elif doy < 290:
                g[f], dr[f], so[f] = 0.0, 0.25, 0.75  # stubble after harvest
            else:
                g[f], dr[f], so[f], sb[f] = 0.0, 0.05, 0.95, 0.9  # autumn ploughing
        fid = np.maximum(self.lay.field_id, 0)
        return g[fid], dr[fid], so[fid], sb[fid]

    # ------------------------------------------------------------------ render
    def render(self, date: dt.date, snow_intensity: float, soil_moist: float,
               snow_noise: np.ndarray | None) -> tuple[np.ndarray, SurfaceFeatures]:
        """Surface reflectance (10, n, n) float32 and feature masks for ``date``."""
        lay = self.lay
        n = lay.n
        t = days(date)
        doy = date.timetuple().tm_yday
        yf = lay.year_factor[date.year]
        F = np.zeros((len(EM), n, n), np.float32)
        gv, dv, so = F[EM["green_veg"]], F[EM["dry_veg"]], F[EM["soil"]]

        # natural steppe (default everywhere, overwritten below)
        phen = np.minimum(_gauss(doy, lay.veg_peak, 38.0) * yf, 1.0)
        cov = lay.veg_cover.copy()
        soil_b = np.ones((n, n), np.float32)
        burn_on = lay.burn & (t >= days(L.FIRE_DATE))
        char = np.zeros((n, n), np.float32)
        if burn_on.any():
            age = t - days(L.FIRE_DATE)
            mult = 0.05 + 0.95 * (1 - np.exp(-age / 300.0))
            cov = np.where(burn_on, cov * mult, cov)
            char = np.where(burn_on, 0.85 * np.exp(-age / 90.0), 0.0).astype(np.float32)
        clr_on = lay.cleared & (t >= days(L.CLEARING_DATE))
        if clr_on.any():
            age = t - days(L.CLEARING_DATE)
            cov = np.where(clr_on, cov * 0.9 * np.clip((age - 300) / 500.0, 0, 1), cov)
            soil_b = np.where(clr_on, 1.08, soil_b)
        g_nat = cov * lay.veg_amp * phen
        gv[:] = g_nat
        dv[:] = cov - g_nat
        F[EM["char"]] = char
        so[:] = np.clip(1 - cov - char, 0, None)

        # floodplain meadow: moist, greener, later senescence
        ph_fp = float(min(_gauss(doy, 188, 50.0) * (0.5 + 0.5 * yf), 1.0))
        for m in (self.m_fp, self.m_riv, self.m_pond):  # river / pond banks default to meadow
            gv[m] = 0.95 * 0.8 * ph_fp
            dv[m] = 0.95 - 0.95 * 0.8 * ph_fp
            so[m] = 0.05
        # riparian trees (deciduous)
        leaf = float(_sig((doy - 128) / 6.0) * _sig((282 - doy) / 8.0))
        m = self.m_rip
        gv[m], dv[m], so[m] = 0.85 * leaf, 0.85 * (1 - leaf) * 0.7, 0.15 + 0.85 * (1 - leaf) * 0.3
        # cropland
        if self.n_fields:
            cg, cd, cs, cb = self._crop_fractions(date)
            m = self.m_crop
            gv[m], dv[m], so[m], soil_b[m] = cg[m], cd[m], cs[m], cb[m]
        # outcrops
        m = self.m_out
        F[EM["outcrop"]][m] = 0.8
        gv[m], dv[m], so[m] = 0.05 * phen[m], 0.10, 0.05
        # village: roofs + gardens
        m = self.m_vil
        ph_v = float(_gauss(doy, 190, 55.0))
        b = lay.built_frac[m]
        F[EM["built"]][m] = b
        gv[m], dv[m], so[m] = (1 - b) * 0.75 * ph_v, (1 - b) * 0.1, (1 - b) * (0.9 - 0.75 * ph_v)
        # gravel road
        m = self.m_road
        gv[m], dv[m], so[m] = 0.0, 0.05, 0.45
        F[EM["outcrop"]][m] = 0.5

        # river: seasonal width (snow-melt flood Apr-Jun) and turbidity
        flood = float(_gauss(doy, 130, 28.0))
        hw_design = 1.8 + 1.3 * flood
        hw = max(hw_design * lay.k, 0.7)
        wf = np.clip(hw - self.abs_d + 0.5, 0, 1).astype(np.float32) * self.m_riv
        turb = 0.15 + 0.75 * flood
        water = wf.copy()
        self._put_water(F, wf, {"river_clear": 1 - turb, "river_turbid": turb})
        deep = self.m_riv & (self.abs_d < hw - 1.0)
        # natural seasonal pond (dries out in late summer)
        pr = 3.6 if 90 <= doy < 180 else (1.8 if 180 <= doy < 270 else 2.6)
        pf = np.clip(pr - lay.pond_dist + 0.5, 0, 1).astype(np.float32) * self.m_pond
        self._put_water(F, pf, {"river_clear": 0.6, "river_turbid": 0.4})
        water = np.maximum(water, pf)

        # mining surfaces override everything from their onset date
        mined = (self.onset > 0) & (self.onset <= t)
        kind = np.where(mined, self.kind, 0)
        F[:, mined] = 0.0
        soil_b[mined] = 1.0
        pit = (kind == L.K_PIT) | (kind == L.K_PREPIT)
        F[EM["rock"]][pit] = self.bench[pit]
        pit_water = np.zeros((n, n), bool)
        if t >= days(L.PIT_WATER_FROM):
            prog = np.clip((t - days(L.PIT_WATER_FROM)) / (_END_ALL - days(L.PIT_WATER_FROM)), 0, 1)
            r_w = 3.0 + 6.0 * prog + 0.8 * float(_gauss(doy, 140, 40.0))
            pit_water = pit & (self.lake_dist < r_w) & (self.onset <= t - 120)
            F[EM["rock"]][pit_water] = 0.0
            F[EM["dark_water"]][pit_water] = 1.0
            water = np.where(pit_water, 1.0, water)
        dump = kind == L.K_DUMP
        F[EM["dump"]][dump] = 1.0
        pdump = kind == L.K_PREDUMP  # old dump, sparse weeds
        F[EM["dump"]][pdump] = 0.85
        gv[pdump], dv[pdump] = 0.12 * phen[pdump], 0.03
        tail = kind == L.K_TAIL
        beach = np.zeros((n, n), bool)
        if tail.any():
            if t < days(L.TAILINGS_FILL):
                F[EM["dump"]][tail] = 0.5
                so[tail] = 0.5
            else:
                prog = np.clip((t - days(L.TAILINGS_FILL)) / (_END_ALL - days(L.TAILINGS_FILL)), 0, 1)
                rp = 0.8 - 0.35 * prog + 0.05 * float(_gauss(doy, 140, 40.0))
                emb = tail & (lay.tail_rho > 0.85)
                pond = tail & (lay.tail_rho <= rp)
                beach = tail & ~emb & ~pond
                F[EM["dump"]][emb] = 1.0
                F[EM["turbid_water"]][pond] = 1.0
                F[EM["beach"]][beach] = 1.0
                water = np.where(pond, 1.0, water)
        unl = kind == L.K_UNLIC
        F[EM["soil"]][unl] = 0.55
        F[EM["rock"]][unl] = 0.45
        soil_b[unl] = 1.1
        water = np.where(mined & ~pit_water & ~(tail & (F[EM["turbid_water"]] > 0)), 0.0, water)

        # mineral brightness texture and soil moisture
        so *= soil_b * lay.bright * soil_moist
        for key in ("rock", "outcrop", "dump", "beach"):
            F[EM[key]] *= lay.bright

        # snow (lies on ice too); trees and roofs show less of it
        snow = np.zeros((n, n), np.float32)
        if snow_intensity > 0:
            noise = lay.snow_texture if snow_noise is None else 0.6 * lay.snow_texture + 0.4 * snow_noise
            snow = np.clip((snow_intensity - 0.45 + 0.22 * noise + 0.45 * self.z01) * 2.5, 0, 1)
            snow = (snow * self.snow_damp).astype(np.float32)
            F *= (1 - snow)
            F[EM["snow"]] = snow
            water = water * (1 - snow)

        R = (E.T @ F.reshape(len(EM), -1)).reshape(10, n, n)
        feats = SurfaceFeatures(
            water=water.astype(np.float32), pit_water=pit_water & (snow < 0.3),
            deep_water=deep & (snow < 0.3), bright_mine=(beach | dump) & (snow < 0.3),
            snow=snow, mined=mined)
        return R, feats

    @staticmethod
    def _put_water(F: np.ndarray, wf: np.ndarray, mix: dict[str, float]) -> None:
        keep = 1 - wf
        F *= keep
        for key, w in mix.items():
            F[EM[key]] += wf * w
