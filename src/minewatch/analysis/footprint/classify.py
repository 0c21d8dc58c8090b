"""Stage (b) of the footprint classes: context rules on the per-year features of the whole grid.

Codes (shared legend, uint8): 0 not mine, 1 open pit, 2 waste dump / heap, 3 tailings, 4 mine
water, 5 roads and pads, 6 rehabilitated, 7 other bare / natural water, 255 not assessed.
The rules, in order, are documented in docs/method.md ("Footprint classes"); every threshold is a
field of :class:`FootprintRules`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from minewatch.analysis.footprint.features import FEATURES

NOT_MINE, PIT, DUMP, TAILINGS, MINE_WATER, ROADS, REHABILITATED, OTHER_BARE = range(8)
NOT_ASSESSED = 255
#: Code -> name, exactly as the shared legend spells them.
FOOTPRINT_LEGEND = {
    NOT_MINE: "not mine", PIT: "open pit", DUMP: "waste dump / heap", TAILINGS: "tailings",
    MINE_WATER: "mine water", ROADS: "roads and pads", REHABILITATED: "rehabilitated",
    OTHER_BARE: "other bare / natural water", NOT_ASSESSED: "not assessed",
}
#: The classes that are mine ground.
MINE_CLASSES = (PIT, DUMP, TAILINGS, MINE_WATER, ROADS, REHABILITATED)
_EIGHT = np.ones((3, 3), bool)


@dataclass(frozen=True)
class FootprintRules:
    """Thresholds of the footprint rules (docs/method.md, "Footprint classes")."""

    veg_ndvi: float = 0.25  #: greenest NDVI (p90) at or above which ground is vegetated that year
    water_share: float = 0.5  #: share of clear observations that are water (MNDWI > 0) for water
    min_bare_blue: float = 0.07  #: darker non-water ground (char, shadow) is not taken for bare
    seed_blue: float = 0.095  #: newly bare ground at least this bright in blue is mineral (not soil)
    min_seed_ha: float = 0.2  #: smallest newly bare / wet patch that starts a mine footprint
    join_m: float = 300.0  #: bare / wet ground joins a footprint within this distance through bare ground
    late_bare_ndvi: float = 0.2  #: NDVI of the year's last clear observations below which it ended bare
    fine_blue: float = 0.22  #: fine, bright deposits (tailings beach): blue at least this ...
    fine_iron: float = 1.5  #: ... and red / blue below this
    iron_dump: float = 1.75  #: red / blue at or above this: iron-stained spoil (waste dump / heap)
    turbid_ndti: float = -0.12  #: a pond whose median NDTI is above this is turbid (suspended fines)
    min_pond_ha: float = 0.1  #: smallest turbid pond that marks a tailings facility
    dam_m: float = 40.0  #: mine ground within this distance of a tailings surface is its dam
    pit_depth_m: float = 3.0  #: with a DEM, bare mine ground in a depression this deep is pit
    pit_rim_m: float = 1.0  #: a pit found by its depression takes in the bare ground this deep or more
    road_min_px: int = 10  #: thin (<= 2 px wide) mine ground in pieces at least this long: roads
    road_gap_m: float = 60.0  #: thin bare lines that come this close to mine ground (any year) are its roads

    def as_dict(self) -> dict:
        return asdict(self)


def _layer(feat: np.ndarray, name: str) -> np.ndarray:
    return feat[:, FEATURES.index(name)]


def _reach(start: np.ndarray, through: np.ndarray, steps: int) -> np.ndarray:
    """Pixels of ``through`` reached from ``start`` in at most ``steps`` 8-connected moves inside it."""
    if not start.any():
        return start
    return ndimage.binary_dilation(start, _EIGHT, iterations=steps, mask=through) | start


def _turbid_ponds(mask: np.ndarray, wet: np.ndarray, ndti: np.ndarray, turbid: float, min_px: int) -> np.ndarray:
    """Components of ``mask`` holding at least ``min_px`` wet pixels whose median NDTI is above ``turbid``."""
    labels, n = ndimage.label(mask, _EIGHT)
    if n == 0:
        return np.zeros(mask.shape, bool)
    wet_labels = np.where(wet & mask, labels, 0)
    counts = np.bincount(wet_labels.ravel(), minlength=n + 1)
    idx = np.flatnonzero(counts >= min_px)
    idx = idx[idx > 0]
    keep = np.zeros(n + 1, bool)
    if idx.size:
        medians = np.asarray(ndimage.median(ndti, wet_labels, idx))
        keep[idx[medians > turbid]] = True
    return keep[labels]


def _drop_small(mask: np.ndarray, min_px: int) -> np.ndarray:
    labels, n = ndimage.label(mask, _EIGHT)
    if n == 0:
        return mask
    keep = np.bincount(labels.ravel()) >= min_px
    keep[0] = False
    return keep[labels]


def classify_years(feat: np.ndarray, pixel_m: float, *, depth: np.ndarray | None = None,
                   rules: FootprintRules = FootprintRules()) -> np.ndarray:
    """Footprint class per pixel and year from the per-year features of the whole grid.

    Parameters
    ----------
    feat : (Y, FEATURES, h, w) float32
        :func:`~minewatch.analysis.footprint.features.year_features` of every tile, years in order.
    pixel_m : float
        Pixel size in metres (areas and distances of the rules).
    depth : (h, w) float, optional
        Depth of each pixel below its depression-filled DEM, metres (pits lie in depressions).
    rules : FootprintRules

    Returns
    -------
    (Y, h, w) uint8 codes of :data:`FOOTPRINT_LEGEND`.
    """
    r = rules
    Y = feat.shape[0]
    px_ha = pixel_m * pixel_m / 10_000.0
    blue, green, red = _layer(feat, "blue"), _layer(feat, "green"), _layer(feat, "red")
    with np.errstate(invalid="ignore", divide="ignore"):
        iron = red / blue
        ndti = (red - green) / (red + green)
    assessed = _layer(feat, "n_clear") > 0
    water = (_layer(feat, "water_share") >= r.water_share) & assessed
    veg = (_layer(feat, "ndvi_p90") >= r.veg_ndvi) & ~water & assessed
    bare = ~veg & ~water & (blue >= r.min_bare_blue) & assessed
    surface = bare | water
    first = surface[0]

    # 1. seeds: ground that was not bare / wet in the first year and turned mineral or wet
    turned = surface & ~first[None] & (water | (blue >= r.seed_blue))
    seeds_all = _drop_small(turned.any(axis=0), max(int(round(r.min_seed_ha / px_ha)), 1))
    turned &= seeds_all[None]
    # 2. the footprint each year: bare / wet ground reached from the seeds of that year or before
    steps = max(int(round(r.join_m / pixel_m)), 1)
    mine = np.zeros_like(surface)
    seen = np.zeros_like(first)
    pits = np.zeros_like(first)
    if depth is not None:  # with a DEM: bare mineral ground deep in a closed depression is a pit
        with np.errstate(invalid="ignore"):
            hollow = depth >= r.pit_depth_m
        pits = _drop_small(hollow & bare.all(axis=0) & (blue >= r.seed_blue).all(axis=0),
                           max(int(round(r.min_seed_ha / px_ha)), 1))
    for y in range(Y):
        seen |= turned[y]
        start = ndimage.binary_dilation(seen, _EIGHT) & surface[y]
        mine[y] = _reach(start, surface[y], steps)
        if pits.any():  # the depression's own bare ground (not beyond its rim)
            with np.errstate(invalid="ignore"):
                mine[y] |= _reach(pits & surface[y], surface[y] & (depth >= r.pit_rim_m), steps)
    # 3. mining older than the series: ground bare from the first year that the footprint takes in
    #    later stays mine back to the first year while it stays bare
    for y in range(Y - 2, -1, -1):
        mine[y] |= mine[y + 1] & bare[y] & first & ~turned[: y + 1].any(axis=0)
    # 4. rehabilitated: mine ground of an earlier year that is vegetated now
    was_mine = np.logical_or.accumulate(mine, axis=0)
    rehab = np.zeros_like(mine)
    rehab[1:] = was_mine[:-1] & veg[1:]

    ever = mine.any(axis=0)
    near_mine = ndimage.binary_dilation(ever, _EIGHT, iterations=max(int(round(r.road_gap_m / pixel_m)), 1)) \
        if ever.any() else ever
    out = np.zeros(surface.shape, np.uint8)
    dam_steps = max(int(round(r.dam_m / pixel_m)), 1)
    road_struct = _EIGHT
    for y in range(Y):
        m = mine[y]
        cls = out[y]
        cls[surface[y] & first & ~m] = OTHER_BARE
        cls[water[y] & ~m] = OTHER_BARE
        cls[m & bare[y]] = PIT
        cls[m & bare[y] & (iron[y] >= r.iron_dump)] = DUMP
        if depth is not None:
            cls[m & bare[y] & (depth >= r.pit_depth_m)] = PIT
        cls[m & water[y]] = MINE_WATER
        # tailings: fine bright deposits and turbid ponds together, around a pond of some size, with
        # the dam (mine ground next to them) and what they enclose
        fine = m & bare[y] & (blue[y] >= r.fine_blue) & (iron[y] < r.fine_iron)
        facility = _turbid_ponds(fine | (water[y] & m), water[y] & m, ndti[y], r.turbid_ndti,
                                 max(int(round(r.min_pond_ha / px_ha)), 1))
        if facility.any():
            facility = ndimage.binary_fill_holes(facility)
            facility = _reach(facility, m, dam_steps)
            cls[facility & m] = TAILINGS
        # roads and pads: thin mine ground (at most two pixels across) in long enough pieces
        thin = m & ~ndimage.binary_opening(m, road_struct) & (cls != TAILINGS)
        cls[_drop_small(thin, r.road_min_px)] = ROADS
        # and thin bare lines outside the footprint that lead to it (haul and access roads)
        lines = bare[y] & ~m & ~ndimage.binary_opening(bare[y], road_struct)
        lines = _drop_small(lines, r.road_min_px)
        if lines.any():
            labels, n = ndimage.label(lines, _EIGHT)
            touch = np.unique(labels[lines & near_mine])
            cls[np.isin(labels, touch[touch > 0])] = ROADS
        cls[rehab[y]] = REHABILITATED
    # 5. ground that turned late in a year (not bare in the first year, mine the next year, already
    #    bare at the year's end) is counted from that year, in the class it turned into
    last = _layer(feat, "ndvi_last")
    for y in range(Y - 2, -1, -1):
        late = (~mine[y] & mine[y + 1] & ~rehab[y + 1] & ~first & assessed[y] & (last[y] < r.late_bare_ndvi)
                & np.isin(out[y + 1], MINE_CLASSES))
        out[y][late] = out[y + 1][late]
        mine[y] |= late
    out[~assessed] = NOT_ASSESSED
    return out
