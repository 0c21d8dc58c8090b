"""Static layout of the demo scene: terrain, land cover, mine plan, licences, receptors.

Everything is designed on a 400 x 400 "design" grid (10 m pixels, 4 x 4 km) and
scaled to the requested ``size_px`` so reduced test scenes keep the same
geography.  Randomness (boundary shapes, field parcels, phenology) comes from
the seed; the *plan* (where the river runs, where and when the mine grows, which
licence it crosses) is fixed so the scene always holds the cases the analysis
must handle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from minewatch.demo.geo import Grid, days
from minewatch.demo.noise import smooth_field

D = 400.0  # design grid size

# --- land cover codes -------------------------------------------------------------------
NATURAL, FLOODPLAIN, RIPARIAN, CROP, OUTCROP, VILLAGE, ROAD, RIVER, POND = range(9)
COVER_NAMES = ("natural_steppe", "floodplain_meadow", "riparian_trees", "cropland", "rock_outcrop",
               "village", "road", "river", "seasonal_pond")

# --- mining feature kinds (rendering) and truth classes ---------------------------------
K_NONE, K_PIT, K_DUMP, K_TAIL, K_UNLIC, K_PREPIT, K_PREDUMP = range(7)
#: truth/mine_class.tif codes
CLASS_OF_KIND = np.array([0, 1, 2, 3, 4, 5, 5], dtype=np.uint8)
MINE_CLASS_NAMES = {0: "none", 1: "pit", 2: "waste_dump", 3: "tailings", 4: "unlicensed_pit",
                    5: "pre_existing_mining"}


def _d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


@dataclass(frozen=True)
class Stage:
    """One dated expansion of the mine: growth runs from ``start`` over ``duration_days``."""

    name: str
    start: dt.date
    duration_days: int
    pit: tuple[float, float, float, float] | None  # centre x, centre y, radius x, radius y (design px)
    dump: tuple[float, float, float, float] | None


#: Mine plan (design px; x = column, y = row, north up).  Pre-existing pit and dump
#: were dug 2015-2018; five expansions follow in the monitoring period.
PRE_START, PRE_END = _d("2015-04-01"), _d("2018-09-30")
PRE_PIT = (165.0, 190.0, 9.0, 7.0)
PRE_DUMP = (140.0, 215.0, 8.0, 6.0)
STAGES: tuple[Stage, ...] = (
    Stage("stage 1: pit and dump push-back", _d("2020-05-20"), 50, (165, 188, 14, 11), (138, 218, 12, 9)),
    Stage("stage 2: pit deepening, dump lift", _d("2021-04-26"), 60, (167, 184, 19, 15), (136, 222, 16, 12)),
    Stage("stage 3: pit north wall into expired licence", _d("2022-08-01"), 45, (167, 178, 23, 20), (138, 226, 17, 14)),
    Stage("stage 4: dump crosses licence boundary", _d("2023-06-05"), 55, (168, 176, 26, 22), (128, 230, 24, 16)),
    Stage("stage 5: pit push-back east, dump extension", _d("2024-05-13"), 50, (171, 174, 30, 24), (124, 234, 28, 18)),
)
TAILINGS_START, TAILINGS_DAYS = _d("2021-08-16"), 35
TAILINGS_FILL = _d("2021-10-15")  # slurry deposition starts: pond + beach
PIT_WATER_FROM = _d("2021-08-20")  # groundwater reaches the pit floor
UNLICENSED_START, UNLICENSED_DAYS = _d("2023-09-04"), 40
UNLICENSED_PIT = (335.0, 185.0, 8.0)  # centre x, y, radius (design px): ~2 ha
FIRE_DATE = _d("2021-08-09")
CLEARING_DATE = _d("2022-05-18")
TAILINGS_Y = 282.0


@dataclass(frozen=True)
class Licence:
    licence_id: str
    holder: str
    commodity: str
    status: str
    valid_from: str | None
    valid_to: str | None
    ring: tuple[tuple[float, float], ...]  # design px (x, y), closed


@dataclass(frozen=True)
class Receptor:
    receptor_id: str
    kind: str
    name: str
    xy: tuple[float, float]  # design px (x, y)


@dataclass
class Layout:
    """Static arrays and plan of one scene (all arrays ``n`` x ``n`` on the 10 m grid)."""

    grid: Grid
    seed: int
    k: float
    dem: np.ndarray
    river_d: np.ndarray  # signed distance to the river centre line, pixels (east positive)
    channel: np.ndarray  # bool, carved D8 channel
    cover: np.ndarray  # uint8 land cover code
    veg_cover: np.ndarray  # total vegetation cover 0..1 (natural)
    veg_amp: np.ndarray  # green amplitude
    veg_peak: np.ndarray  # peak day of year
    bright: np.ndarray  # brightness texture of mineral surfaces
    built_frac: np.ndarray
    field_id: np.ndarray  # int32, -1 = none
    field_calendar: dict[tuple[int, int], tuple[str, int, int, float]]  # (field, year) -> (crop, sow, harvest, gmax)
    year_factor: dict[int, float]
    burn: np.ndarray  # bool
    cleared: np.ndarray  # bool
    onset: np.ndarray  # int32 days since epoch (0 = never)
    kind: np.ndarray  # uint8 mining kind
    pit_dist: np.ndarray  # design px from the pre-existing pit centre
    tail_rho: np.ndarray  # normalised radius inside the tailings facility
    pond_dist: np.ndarray  # design px from the natural pond centre
    snow_texture: np.ndarray
    licences: list[Licence]
    receptors: list[Receptor]
    tailings_xy: tuple[float, float]
    stage_windows: list[dict] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.grid.n

    @property
    def mine_class(self) -> np.ndarray:
        return CLASS_OF_KIND[self.kind]

    def design_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Design (x, y) to continuous pixel (col, row) of this grid."""
        return x * self.k, y * self.k


def river_x(y: np.ndarray | float, phase: tuple[float, float]) -> np.ndarray | float:
    """River centre line, design px column as a function of design row (flows north to south)."""
    return 255.0 + 16.0 * np.sin(2 * np.pi * np.asarray(y) / 330.0 + phase[0]) \
        + 7.0 * np.sin(2 * np.pi * np.asarray(y) / 120.0 + phase[1])


def _ellipse_rho(x: np.ndarray, y: np.ndarray, e: tuple[float, float, float, float],
                 wobble: np.ndarray) -> np.ndarray:
    cx, cy, rx, ry = e
    return np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) * (1.0 + 0.08 * wobble)


def _grow(x, y, wobble, shapes, starts, durations, onset, kind, kind_code) -> None:
    """Assign progressive onset dates for a sequence of nested growth shapes.

    A pixel first covered by shape ``s`` gets ``start_s + frac * duration_s`` where
    ``frac`` is 0 at the previous boundary and 1 at the new one (the face advances).
    """
    prev_rho = None
    for shape, start, dur in zip(shapes, starts, durations):
        if shape is None:
            continue
        rho = _ellipse_rho(x, y, shape, wobble)
        new = (rho <= 1.0) & (onset == 0)
        if prev_rho is None:
            frac = np.clip(rho, 0.0, 1.0)
        else:
            den = np.maximum(prev_rho - rho, 1e-3)
            frac = np.clip((prev_rho - 1.0) / den, 0.0, 1.0)
        onset[new] = days(start) + np.round(frac[new] * dur).astype(np.int32)
        kind[new] = kind_code
        prev_rho = rho if prev_rho is None else np.minimum(prev_rho, rho)


def build_layout(grid: Grid, seed: int) -> Layout:
    """Build the static scene for ``grid`` from ``seed``."""
    n = grid.n
    k = n / D
    rng = np.random.default_rng([seed, 1])
    rows, cols = np.mgrid[0:n, 0:n].astype(np.float32)
    X = (cols + 0.5) / k  # design coordinates of pixel centres
    Y = (rows + 0.5) / k
    sig = lambda s: max(s * k, 0.6)  # noqa: E731 - design sigma to pixel sigma

    phase = (0.4 + float(rng.uniform(-0.12, 0.12)), 1.2 + float(rng.uniform(-0.2, 0.2)))
    xr = river_x(Y, phase)
    d = X - xr  # design px, east positive
    dm = d * 10.0  # design metres

    # ---- terrain ------------------------------------------------------------------
    z_r = 430.0 - 0.04 * Y  # 16 m fall over 4 km (0.4 %)
    ridge = 362.0 + 5.0 * np.sin(2 * np.pi * Y / 170.0)
    fp = 120.0  # floodplain half-width, m
    west = 1.5 * np.minimum(-dm, fp) / fp + 0.05 * np.clip(-dm - fp, 0, None)
    up_e = 1.5 * np.minimum(dm, fp) / fp + 0.045 * np.clip(np.minimum(dm, (ridge - xr) * 10) - fp, 0, None)
    east = up_e - 0.05 * np.clip((X - ridge) * 10.0, 0, None)
    z = z_r + np.where(d < 0, west, east)
    hills = smooth_field(rng, (n, n), (sig(25), sig(10)), (1.0, 0.35))
    fine = smooth_field(rng, (n, n), (sig(2.5),))
    w_h = np.clip((np.abs(dm) - 2 * fp) / 400.0, 0, 1)  # hills only well away from the floodplain
    z = z + 6.0 * w_h * hills + 0.25 * fine
    # carve a continuous 8-connected channel along the centre line, falling downstream
    channel = np.zeros((n, n), bool)
    ccol = np.clip(np.round(river_x((np.arange(n) + 0.5) / k, phase) * k - 0.5).astype(int), 0, n - 1)
    path: list[tuple[int, int]] = []
    for r in range(n):
        c = int(ccol[r])
        if path:
            pc = path[-1][1]
            step = 1 if c > pc else -1
            for cc in range(pc + step, c, step):  # fill the horizontal gap in the previous row
                path.append((r - 1, cc))
        path.append((r, c))
    zc = np.array([430.0 - 0.04 * (pr + 0.5) / k for pr, _ in path]) - 2.0
    zc = zc - 1e-3 * np.arange(len(path))  # strictly decreasing along the path
    for (pr, pc_), zz in zip(path, zc):
        channel[pr, pc_] = True
        z[pr, pc_] = zz
    dem = z.astype(np.float32)

    # ---- land cover -------------------------------------------------------------------
    cover = np.full((n, n), NATURAL, np.uint8)
    tex = smooth_field(rng, (n, n), (sig(6), sig(1.5)), (1.0, 0.5))
    tex2 = smooth_field(rng, (n, n), (sig(12), sig(3)), (1.0, 0.5))
    cover[np.abs(dm) < fp] = FLOODPLAIN
    rip = (np.abs(d) > 3.2) & (np.abs(d) < 7.5) & (tex2 > -0.5)
    cover[rip] = RIPARIAN
    # outcrops: upper west slope and along the eastern ridge
    out_zone = (X < 75) | (np.abs(X - ridge) < 14)
    cover[out_zone & (tex > 1.15)] = OUTCROP

    # crop parcels
    field_id = np.full((n, n), -1, np.int32)
    zones = [(20.0, 112.0, 12.0, 100.0, None), (None, 352.0, 12.0, 148.0, "east"),
             (None, 356.0, 306.0, 396.0, "east")]
    fid = 0
    for x0, x1, y0, y1, rel in zones:
        y = y0
        while y < y1 - 8:
            h = float(rng.uniform(12, 24))
            ya, yb = y, min(y + h, y1)
            xs = x0 if rel is None else float(river_x((ya + yb) / 2, phase)) + 14.0
            x = xs
            while x < x1 - 8:
                w = float(rng.uniform(14, 28))
                xa, xb = x, min(x + w, x1)
                m = (X >= xa + 0.8) & (X < xb - 0.8) & (Y >= ya + 0.8) & (Y < yb - 0.8)
                m &= np.abs(dm) >= fp * 0.9
                if m.any():
                    field_id[m] = fid
                    cover[m] = CROP
                    fid += 1
                x = xb
            y = yb
    n_fields = fid
    years = range(2010, 2031)
    calendar: dict[tuple[int, int], tuple[str, int, int, float]] = {}
    for f in range(n_fields):
        for yr in years:
            u = rng.random()
            if u < 0.55:
                sow = int(rng.integers(122, 142))
                calendar[(f, yr)] = ("wheat", sow, sow + int(rng.integers(92, 108)), float(rng.uniform(0.72, 0.92)))
            elif u < 0.78:
                sow = int(rng.integers(132, 150))
                calendar[(f, yr)] = ("sunflower", sow, sow + int(rng.integers(118, 134)), float(rng.uniform(0.6, 0.8)))
            else:
                calendar[(f, yr)] = ("fallow", 0, 0, float(rng.uniform(0.25, 0.45)))
    year_factor = {yr: float(np.clip(rng.normal(1.0, 0.12), 0.75, 1.25)) for yr in years}
    year_factor[2021] = 0.72  # a drought summer: natural vegetation browns early everywhere

    # village on the west bank, ~120-380 m from the channel, road to the mine
    xr_v = float(river_x(335.0, phase))
    vrho = np.hypot((X - (xr_v - 25.0)) / 14.0, (Y - 335.0) / 16.0) * (1 + 0.18 * tex2)
    vil = (vrho < 1.0) & (d < -10)
    cover[vil] = VILLAGE
    # houses, yards and gardens: a fine mosaic; streets on a loose grid
    house = smooth_field(rng, (n, n), (max(0.8 * k, 0.5),))
    street = (np.abs(((X - xr_v) % 9.0) - 4.5) > 4.0) | (np.abs((Y % 11.0) - 5.5) > 5.0)
    built_frac = np.clip(0.45 + 0.3 * house + 0.35 * street, 0.08, 0.97).astype(np.float32)
    road_pts = [(xr_v - 24.0, 330.0), (178.0, 303.0), (160.0, 262.0), (150.0, 246.0)]
    road = np.zeros((n, n), bool)
    for (ax, ay), (bx, by) in zip(road_pts[:-1], road_pts[1:]):
        vx, vy = bx - ax, by - ay
        t = np.clip(((X - ax) * vx + (Y - ay) * vy) / (vx * vx + vy * vy), 0, 1)
        dist = np.hypot(X - (ax + t * vx), Y - (ay + t * vy))
        road |= dist * k < 0.75
    cover[road & (cover != VILLAGE)] = ROAD
    cover[(np.abs(d) < 4.0) | (np.abs(d) * k < 1.2)] = RIVER  # zone the river may occupy at high flow
    cover[channel] = RIVER

    # natural vegetation parameters
    veg_cover = np.clip(0.72 + 0.12 * tex2 + 0.05 * tex, 0.45, 0.95).astype(np.float32)
    veg_amp = np.clip(0.58 + 0.10 * smooth_field(rng, (n, n), (sig(15),)), 0.35, 0.8).astype(np.float32)
    veg_peak = (165.0 + 12.0 * smooth_field(rng, (n, n), (sig(30),))).astype(np.float32)
    bright = np.clip(1.0 + 0.07 * tex + 0.04 * fine, 0.8, 1.2).astype(np.float32)

    # confounders: a grass fire east of the river and a cleared-then-abandoned plot
    bw = smooth_field(rng, (n, n), (sig(8),))
    burn = (np.hypot((X - 306) / 30.0, (Y - 262) / 24.0) * (1 + 0.15 * bw) < 1.0) & (cover == NATURAL)
    cleared = (X > 40) & (X < 62) & (Y > 190) & (Y < 208) & (cover == NATURAL)

    # ---- mine --------------------------------------------------------------------------
    onset = np.zeros((n, n), np.int32)
    kind = np.zeros((n, n), np.uint8)
    wob = smooth_field(rng, (n, n), (sig(7), sig(2.5)), (1.0, 0.4))
    # pre-existing pit and dump
    _grow(X, Y, wob, [PRE_PIT], [PRE_START], [(PRE_END - PRE_START).days], onset, kind, K_PREPIT)
    _grow(X, Y, wob, [PRE_DUMP], [PRE_START + dt.timedelta(days=90)], [(PRE_END - PRE_START).days - 90],
          onset, kind, K_PREDUMP)
    pit_shapes = [PRE_PIT] + [s.pit for s in STAGES]
    dump_shapes = [PRE_DUMP] + [s.dump for s in STAGES]
    starts = [PRE_START] + [s.start for s in STAGES]
    durs = [1] + [s.duration_days for s in STAGES]
    # the pre-existing footprint is already assigned; the loop only fills new pixels
    _grow(X, Y, wob, pit_shapes, starts, durs, onset, kind, K_PIT)
    _grow(X, Y, wob, dump_shapes, starts, durs, onset, kind, K_DUMP)
    # tailings facility on the lower slope / floodplain edge, built in one campaign
    tx = float(river_x(TAILINGS_Y, phase)) - 40.0
    trho = (np.hypot((X - tx) / 17.0, (Y - TAILINGS_Y) / 19.0) * (1 + 0.04 * wob)).astype(np.float32)
    tail = (trho <= 1.0) & (onset == 0)
    frac = np.clip((X - (tx - 17.0)) / 34.0, 0, 1)  # earthworks advance west to east
    onset[tail] = days(TAILINGS_START) + np.round(frac[tail] * TAILINGS_DAYS).astype(np.int32)
    kind[tail] = K_TAIL
    # unlicensed pit east of the river
    ux, uy, ur = UNLICENSED_PIT
    urho = np.hypot(X - ux, Y - uy) / ur * (1 + 0.1 * wob)
    un = (urho <= 1.0) & (onset == 0)
    onset[un] = days(UNLICENSED_START) + np.round(np.clip(urho[un], 0, 1) * UNLICENSED_DAYS).astype(np.int32)
    kind[un] = K_UNLIC
    # a small natural seasonal pond that the tailings facility swallows
    pond_dist = (np.hypot(X - (tx + 5.0), Y - (TAILINGS_Y + 4.0))).astype(np.float32)
    cover[(pond_dist < 3.6) & (cover != RIVER)] = POND
    # mining overrides field / burn / clearing designations
    mined = kind > 0
    burn &= ~mined
    cleared &= ~mined
    pit_dist = np.hypot(X - PRE_PIT[0], Y - PRE_PIT[1]).astype(np.float32)

    snow_texture = smooth_field(rng, (n, n), (sig(20), sig(5)), (1.0, 0.5))

    licences = _licences(tx)
    receptors = _receptors(phase)
    windows = [{"name": "pre-existing mining", "start": PRE_START.isoformat(), "end": PRE_END.isoformat()}]
    for s in STAGES:
        windows.append({"name": s.name, "start": s.start.isoformat(),
                        "end": (s.start + dt.timedelta(days=s.duration_days)).isoformat()})
    windows.append({"name": "tailings facility construction", "start": TAILINGS_START.isoformat(),
                    "end": (TAILINGS_START + dt.timedelta(days=TAILINGS_DAYS)).isoformat()})
    windows.append({"name": "unlicensed pit", "start": UNLICENSED_START.isoformat(),
                    "end": (UNLICENSED_START + dt.timedelta(days=UNLICENSED_DAYS)).isoformat()})
    return Layout(
        grid=grid, seed=seed, k=k, dem=dem, river_d=(d * k).astype(np.float32), channel=channel,
        cover=cover, veg_cover=veg_cover, veg_amp=veg_amp, veg_peak=veg_peak, bright=bright,
        built_frac=built_frac, field_id=field_id, field_calendar=calendar, year_factor=year_factor,
        burn=burn, cleared=cleared, onset=onset, kind=kind, pit_dist=pit_dist, tail_rho=trho,
        pond_dist=pond_dist, snow_texture=snow_texture, licences=licences, receptors=receptors,
        tailings_xy=(tx, TAILINGS_Y), stage_windows=windows,
    )


def _licences(tx: float) -> list[Licence]:
    # vertices sit off pixel centres (x.3 / x.6) so the pixel-centre rule is unambiguous
    a = ((116.3, 161.4), (214.7, 161.4), (214.7, 240.6), (tx + 24.3, 248.3), (tx + 24.3, 309.6),
         (150.6, 309.6), (116.3, 275.2), (116.3, 161.4))
    b = ((121.6, 108.3), (209.7, 108.3), (209.7, 161.4), (121.6, 161.4), (121.6, 108.3))
    c = ((300.3, 300.6), (360.6, 300.6), (360.6, 362.3), (300.3, 362.3), (300.3, 300.6))
    e = ((25.3, 290.6), (95.6, 290.6), (95.6, 380.3), (25.3, 380.3), (25.3, 290.6))
    return [
        Licence("ML-0147", "Altyn Dala Mining LLP", "gold", "active", "2016-03-01", "2036-02-28", a),
        Licence("ML-0093", "Shygys Resources JSC", "gold", "expired", "2012-07-01", "2022-06-30", b),
        Licence("EL-0311", "Ertis Prospecting LLP", "gold", "suspended", "2020-02-15", "2026-02-14", c),
        Licence("EL-0420", "Kokpekty Copper LLP", "copper", "active", "2021-09-01", None, e),
    ]


def _receptors(phase: tuple[float, float]) -> list[Receptor]:
    xv = float(river_x(335.0, phase))
    xi = float(river_x(378.0, phase))
    xw = float(river_x(45.0, phase))
    return [
        Receptor("R-VIL-01", "village", "Karaotkel village", (xv - 17.0, 335.0)),
        Receptor("R-INT-01", "water_intake", "Karaotkel drinking-water intake", (xi + 2.5, 378.0)),
        Receptor("R-WEL-01", "well", "Zhanatalap farm well", (xw - 14.0, 45.0)),
        Receptor("R-SPR-01", "spring", "Tasbulak spring", (384.0, 250.0)),
    ]


def design_ring_to_lonlat(lay: Layout, ring) -> list[list[float]]:
    """Design-px ring to WGS84 (lon, lat) coordinates rounded to 1e-7 degrees."""
    tr = lay.grid.to_lonlat()
    cols = np.array([p[0] for p in ring]) * lay.k
    rows = np.array([p[1] for p in ring]) * lay.k
    x, y = lay.grid.pixel_to_xy(cols, rows)
    lon, lat = tr.transform(x, y)
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]


def signed_ring_area(coords: list[list[float]]) -> float:
    """Shoelace area (positive = counter-clockwise)."""
    s = 0.0
    for (x1, y1), (x2, y2) in zip(coords[:-1], coords[1:]):
        s += x1 * y2 - x2 * y1
    return 0.5 * s


def doy(date: dt.date) -> int:
    return date.timetuple().tm_yday

