"""Figures of a run (matplotlib, Agg), returned as PNG bytes for embedding."""

from __future__ import annotations

import functools
import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from minewatch.analysis.geometry import geometry_to_grid  # noqa: E402


def _identity(message: str, **values) -> str:
    """Default translator: English source text, ``%(name)s`` placeholders filled."""
    return message % values if values else message

RECEPTOR_STYLE = {
    "village": ("s", "#7b3294"), "water_intake": ("v", "#0571b0"), "well": ("o", "#008837"),
    "spring": ("D", "#01665e"),
}
STATUS_COLOR = {"active": "#1a9641", "expired": "#fdae61", "suspended": "#d7191c", "revoked": "#7f0000"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _stretch(rgb: np.ndarray) -> np.ndarray:
    """Percentile stretch of a (3, h, w) reflectance composite to 0..1 (NaN -> white)."""
    out = np.empty(rgb.shape[1:] + (3,), np.float32)
    finite = np.isfinite(rgb).all(axis=0)
    for i in range(3):
        band = rgb[i]
        vals = band[np.isfinite(band)]
        lo, hi = (np.percentile(vals, [2, 98]) if vals.size else (0.0, 1.0))
        out[..., i] = np.clip((band - lo) / max(hi - lo, 1e-6), 0, 1)
    out[~finite] = 1.0
    return out


def _extent(grid):
    left, bottom, right, top = grid.bounds
    return (left, right, bottom, top)


def _metres_per_unit(grid) -> float:
    if grid.crs.is_projected:
        return grid.crs.linear_units_factor[1]
    lat = 0.5 * (grid.bounds[1] + grid.bounds[3])
    return 111_320.0 * math.cos(math.radians(lat))


def _map_furniture(ax, grid) -> None:
    """Scale bar (lower left) and north arrow (upper right)."""
    left, bottom, right, top = grid.bounds
    mpu = _metres_per_unit(grid)
    width_m = (right - left) * mpu
    nice = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000]
    length_m = max([n for n in nice if n <= width_m / 4] or [nice[0]])
    x0 = left + 0.05 * (right - left)
    y0 = bottom + 0.05 * (top - bottom)
    bar = length_m / mpu
    ax.plot([x0, x0 + bar], [y0, y0], color="black", lw=4, solid_capstyle="butt")
    ax.plot([x0, x0 + bar], [y0, y0], color="white", lw=2, solid_capstyle="butt")
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m} m"
    ax.text(x0 + bar / 2, y0 + 0.02 * (top - bottom), label, ha="center", va="bottom", fontsize=8,
            bbox=dict(facecolor="white", alpha=0.7, lw=0, pad=1))
    xn = right - 0.06 * (right - left)
    yn = top - 0.16 * (top - bottom)
    ax.annotate("N", xy=(xn, yn + 0.1 * (top - bottom)), xytext=(xn, yn), ha="center", va="center",
                fontsize=10, fontweight="bold",
                arrowprops=dict(arrowstyle="-|>", color="black", lw=1.5),
                bbox=dict(facecolor="white", alpha=0.7, lw=0, pad=1))


def _plot_geom(ax, geom, **kw) -> None:
    polys = getattr(geom, "geoms", [geom])
    for poly in polys:
        if poly.geom_type == "Polygon":
            x, y = poly.exterior.xy
            ax.plot(x, y, **kw)
        elif poly.geom_type == "LineString":
            x, y = poly.xy
            ax.plot(x, y, **kw)


def before_after(grid, before: np.ndarray, after: np.ndarray, periods, labels: tuple[str, str],
                 _=_identity) -> bytes:
    """True-colour and SWIR false-colour composites before and after, licences outlined."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 10.6))
    for col, (comp, label) in enumerate(zip((before, after), labels, strict=True)):
        for row, (idx, name) in enumerate((((0, 1, 2), _("true colour")), ((3, 4, 0), _("SWIR false colour")))):
            ax = axes[row, col]
            ax.imshow(_stretch(comp[list(idx)]), extent=_extent(grid), interpolation="nearest")
            for p in periods:
                _plot_geom(ax, geometry_to_grid(p.geometry, grid), color=STATUS_COLOR.get(p.status, "k"),
                           lw=1.2)
            ax.set_title(f"{label} — {name}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
            _map_furniture(ax, grid)
    handles = [Line2D([], [], color=STATUS_COLOR.get(st, "k"), lw=1.2,
                      label=_("licence boundary (%(status)s)", status=_(st)))
               for st in sorted({p.status for p in periods})]
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return _png(fig)


def disturbance_map(grid, onset: np.ndarray, level: np.ndarray, after: np.ndarray, outside: np.ndarray, periods,
                    receptors, risk, _=_identity) -> bytes:
    """New disturbance by onset year over the latest composite (probable and confirmed; confirmed outlined
    in white, possible in cyan), with licences, receptors, flow paths."""
    fig, ax = plt.subplots(figsize=(10, 9))
    grey = np.nanmean(_stretch(after[:3]), axis=2)
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1.4, extent=_extent(grid), interpolation="nearest")
    handles = []
    disturbed = (onset > 0) & (level >= 2)
    possible = (onset > 0) & (level == 1)
    if possible.any():
        ax.imshow(np.ma.masked_where(~possible, possible.astype(float)), cmap=ListedColormap(["#00e5ff"]),
                  extent=_extent(grid), interpolation="nearest", alpha=0.9)
        handles.append(Patch(color="#00e5ff", label=_("possible (early warning)")))
    if disturbed.any():
        years = np.zeros(onset.shape, np.int32)
        years[disturbed] = onset[disturbed].astype("int64").astype("datetime64[D]").astype(
            "datetime64[Y]").astype(int) + 1970
        uniq = np.unique(years[disturbed])
        cmap = plt.get_cmap("plasma", max(len(uniq), 2))
        colors = [cmap(i) for i in range(len(uniq))]
        idx = np.full(onset.shape, np.nan)
        for i, y in enumerate(uniq):
            idx[years == y] = i
        ax.imshow(np.ma.masked_invalid(idx), cmap=ListedColormap(colors), vmin=-0.5, vmax=len(uniq) - 0.5,
                  extent=_extent(grid), interpolation="nearest", alpha=0.9)
        handles += [Patch(color=c, label=_("new disturbance %(year)s", year=y)) for c, y in zip(colors, uniq, strict=True)]
        if (level == 3).any():
            ax.contour((level == 3).astype(float), levels=[0.5], colors="white", linewidths=0.8,
                       extent=_extent(grid), origin="upper")
            handles.append(Line2D([], [], color="white", lw=1, label=_("confirmed (white outline)")))
        if (outside & disturbed).any():
            ax.contour((outside & disturbed).astype(float), levels=[0.5],
                       colors="red", linewidths=1.0, extent=_extent(grid), origin="upper")
            handles.append(Line2D([], [], color="red", lw=1, label=_("outside any valid licence")))
    for p in periods:
        _plot_geom(ax, geometry_to_grid(p.geometry, grid), color=STATUS_COLOR.get(p.status, "k"), lw=1.5,
                   ls="--")
    for status in sorted({p.status for p in periods}):
        handles.append(Line2D([], [], color=STATUS_COLOR.get(status, "k"), ls="--",
                               label=_("licence boundary (%(status)s)", status=_(status))))
    if risk is not None:
        for path in risk.paths:
            _plot_geom(ax, geometry_to_grid(path["geometry"], grid), color="#2c7bb6", lw=1.2)
        if risk.paths:
            handles.append(Line2D([], [], color="#2c7bb6", lw=1.2, label=_("downstream flow path")))
    at_risk = {r["receptor_id"] for r in (risk.receptors if risk is not None else [])}
    for kind in sorted({r.kind for r in receptors}):
        marker, color = RECEPTOR_STYLE.get(kind, ("P", "#444444"))
        for r in (r for r in receptors if r.kind == kind):
            g = geometry_to_grid(r.geometry, grid)
            ax.scatter([g.x], [g.y], marker=marker, s=80, c=color,
                       edgecolors="red" if r.receptor_id in at_risk else "white", linewidths=2, zorder=5)
            ax.annotate(r.name, (g.x, g.y), xytext=(5, 5), textcoords="offset points", fontsize=8,
                        bbox=dict(facecolor="white", alpha=0.7, lw=0, pad=1))
        handles.append(Line2D([], [], marker=marker, color=color, ls="", label=_(kind)))
    if at_risk:
        handles.append(Line2D([], [], marker="o", color="white", markeredgecolor="red", ls="",
                              label=_("receptor downstream (red ring)")))
    left, bottom, right, top = grid.bounds
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_xticks([])
    ax.set_yticks([])
    _map_furniture(ax, grid)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return _png(fig)


def area_chart(timeline: list[dict], _=_identity) -> bytes:
    """Cumulative new disturbed area over time, total and outside licence."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if timeline:
        months = np.array([np.datetime64(r["month"]) for r in timeline])
        ax.step(months, [r["total_ha"] for r in timeline], where="post", label=_("all new disturbance"),
                color="#5e3c99")
        ax.step(months, [r["outside_licence_ha"] for r in timeline], where="post",
                label=_("outside any valid licence"), color="#e66101")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, _("no new disturbance detected"), ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel(_("cumulative area (ha)"))
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def clear_chart(dates: list[str], share: list[float], start: str, _=_identity) -> bytes:
    """Share of usable (clear) observations per scene."""
    fig, ax = plt.subplots(figsize=(8, 2.5))
    d = np.array([np.datetime64(x) for x in dates])
    ax.bar(d, share, width=6, color="#4393c3")
    ax.axvline(np.datetime64(start), color="k", ls=":", lw=1)
    ax.text(np.datetime64(start), 1.02, " " + _("monitoring starts"), fontsize=8, va="bottom")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel(_("clear share"))
    fig.autofmt_xdate()
    return _png(fig)


#: Colours of the assessment codes (0 assessed, 1 no data, 2 too few history observations, 3 none monitored).
ASSESSMENT_COLOURS = ("#d9f0d3", "#000000", "#fdb863", "#b2abd2")


def assessment_map(grid, codes: np.ndarray, labels: dict[int, str], _=_identity) -> bytes:
    """Where the change model could assess the scene, and why not elsewhere (categorical map)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    cmap = ListedColormap(ASSESSMENT_COLOURS)
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(ASSESSMENT_COLOURS) - 0.5, extent=_extent(grid),
              interpolation="nearest")
    present = sorted(int(c) for c in np.unique(codes))
    ax.legend(handles=[Patch(facecolor=ASSESSMENT_COLOURS[c], edgecolor="#666", label=_(labels[c]))
                       for c in present], loc="lower right", fontsize=8, framealpha=0.9)
    _map_furniture(ax, grid)
    ax.set_xticks([])
    ax.set_yticks([])
    return _png(fig)


def stretch_limits(*composites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band 2-98 % limits shared by several (3, h, w) composites, so they compare fairly."""
    lo = np.zeros(3, np.float32)
    hi = np.ones(3, np.float32)
    for i in range(3):
        vals = np.concatenate([c[i][np.isfinite(c[i])] for c in composites])
        if vals.size:
            lo[i], hi[i] = np.percentile(vals, [2, 98])
    return lo, hi


@functools.lru_cache(maxsize=4)
def _font(size: int):
    from matplotlib import font_manager
    from PIL import ImageFont

    try:
        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except OSError:
        return ImageFont.load_default()


def chip(grid, rgb: np.ndarray, mask: np.ndarray, limits, title: str, _=_identity) -> bytes:
    """One image chip as PNG: a stretched (3, h, w) composite, enlarged with square pixels, the
    alert's pixels outlined in yellow, a title, a scale bar and a north arrow (drawn with Pillow:
    fast enough for many alerts)."""
    from PIL import Image, ImageDraw
    from scipy import ndimage

    lo, hi = limits
    img = np.clip((rgb - lo[:, None, None]) / np.maximum(hi - lo, 1e-6)[:, None, None], 0, 1)
    img = np.moveaxis(img, 0, -1)
    img[~np.isfinite(img).all(axis=2)] = 1.0
    h, w = mask.shape
    k = max(1, int(math.ceil(300 / max(h, w))))
    big = np.repeat(np.repeat((img * 255).astype(np.uint8), k, axis=0), k, axis=1)
    m = np.repeat(np.repeat(mask, k, axis=0), k, axis=1)
    edge = m & ~ndimage.binary_erosion(m, iterations=2, border_value=0)
    big[edge] = (255, 230, 0)
    lines = title.split("\n")
    font = _font(12)
    head = 6 + 16 * len(lines)
    canvas = Image.new("RGB", (big.shape[1], big.shape[0] + head), "white")
    canvas.paste(Image.fromarray(big), (0, head))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((big.shape[1] // 2, 3 + 16 * i), line, fill="black", font=font, anchor="ma")
    # scale bar, lower left
    mpu = _metres_per_unit(grid)
    px_m = grid.res * mpu / k
    width_m = big.shape[1] * px_m
    nice = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
    length_m = max([n for n in nice if n <= width_m / 3] or [nice[0]])
    bar = int(round(length_m / px_m))
    x0, y0 = 8, canvas.height - 12
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m} m"
    draw.rectangle((x0 - 3, y0 - 20, x0 + bar + 3, y0 + 6), fill="white")
    draw.rectangle((x0, y0, x0 + bar, y0 + 3), fill="black")
    draw.text((x0 + bar // 2, y0 - 3), label, fill="black", font=_font(11), anchor="mb")
    # north arrow, upper right (grids are north-up)
    xn, yn = canvas.width - 16, head + 8
    draw.rectangle((xn - 9, yn - 2, xn + 9, yn + 34), fill="white")
    draw.polygon([(xn, yn), (xn - 6, yn + 12), (xn + 6, yn + 12)], fill="black")
    draw.text((xn, yn + 14), "N", fill="black", font=_font(12), anchor="ma")
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def time_series(rows: list[dict], onset: str, start: str, title: str, _=_identity) -> bytes:
    """Mean NDVI, BSI and MNDWI of an alert's pixels on each clear date, the detected break marked."""
    series = [("ndvi", _("NDVI (vegetation)"), "#1a9641", "o"), ("bsi", _("BSI (bare ground)"), "#a6611a", "s"),
              ("mndwi", _("MNDWI (water)"), "#2c7bb6", "^")]
    fig = plt.figure(figsize=(8, 3.6))
    ax = fig.add_axes((0.08, 0.2, 0.68, 0.68))
    dates = np.array([np.datetime64(r["date"]) for r in rows]) if rows else np.array([], "datetime64[D]")
    onset_d = np.datetime64(onset)
    for key, label, color, marker in series:
        vals = np.array([np.nan if r[key] is None else r[key] for r in rows], float)
        ok = np.isfinite(vals)
        ax.plot(dates[ok], vals[ok], "-", color=color, lw=0.8, alpha=0.5)
        ax.plot(dates[ok], vals[ok], marker, color=color, ms=2.8, ls="", label=label)
    ax.axvline(np.datetime64(start), color="0.4", ls=":", lw=1, label=_("monitoring starts"))
    ax.axvline(onset_d, color="#d7191c", lw=1.8, label=_("detected break %(date)s", date=onset))
    ax.set_ylabel(_("index value"), fontsize=8)
    ax.set_xlabel(_("date of the satellite image (clear observations only)"), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def updown_chart(per_date: list[dict], values: list[str]) -> bytes | None:
    """PNG: per monitored date, the median of each water index upstream and downstream of the mine.

    One panel per index; dates where a side has fewer than 3 water pixels are drawn hollow.
    """
    import pandas as pd

    if not per_date or not values:
        return None
    fig, axes = plt.subplots(len(values), 1, figsize=(9, 2.4 * len(values) + 0.6), sharex=True,
                             constrained_layout=True)
    axes = np.atleast_1d(axes)
    titles = {"ndti": "NDTI", "turbidity_dogliotti": "turbidity (FNU, approx.)", "iron_ratio": "iron ratio red/blue"}
    for ax, v in zip(axes, values, strict=True):
        for side, colour in (("upstream", "#2166ac"), ("downstream", "#b2182b")):
            rows = [r for r in per_date if r.get(v) and r[v][f"median_{side}"] is not None]
            d = [pd.Timestamp(r["date"]) for r in rows]
            y = [r[v][f"median_{side}"] for r in rows]
            n = [r[v][f"n_{side}"] for r in rows]
            ax.plot(d, y, "-", color=colour, lw=1, alpha=0.6)
            full = [k for k, m in enumerate(n) if m >= 3]
            few = [k for k, m in enumerate(n) if m < 3]
            ax.plot([d[k] for k in full], [y[k] for k in full], "o", ms=4, color=colour,
                    label=f"{side} of the mine")
            ax.plot([d[k] for k in few], [y[k] for k in few], "o", ms=4, mfc="none", color=colour)
        ax.set_ylabel(titles.get(v, v))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    axes[0].set_title("Water pixels along the river: median upstream vs downstream of the mine, per date "
                      "(hollow: fewer than 3 pixels)", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    plt.close(fig)
    return buf.getvalue()


#: Colours of the footprint classes (codes of the shared legend; 255 not assessed).
FOOTPRINT_COLOURS = {0: "#f4f1e4", 1: "#b2182b", 2: "#8c510a", 3: "#c2a5cf", 4: "#2166ac", 5: "#4d4d4d",
                     6: "#5aae61", 7: "#d9d9d9", 255: "#ffffff"}


def footprint_maps(grid, classes: np.ndarray, years: list[int], legend: dict[str, str], periods,
                   _=_identity) -> bytes:
    """The footprint classes of the first and last year side by side, licences outlined."""
    picks = [0, len(years) - 1] if len(years) > 1 else [0]
    codes = sorted(FOOTPRINT_COLOURS)
    lut = np.zeros(256, np.int64)
    for i, c in enumerate(codes):
        lut[c] = i
    cmap = ListedColormap([FOOTPRINT_COLOURS[c] for c in codes])
    fig, axes = plt.subplots(1, len(picks), figsize=(5 * len(picks), 5.4), squeeze=False)
    present: set[int] = set()
    for ax, k in zip(axes[0], picks, strict=True):
        ax.imshow(lut[classes[k]], cmap=cmap, vmin=-0.5, vmax=len(codes) - 0.5, extent=_extent(grid),
                  interpolation="nearest")
        for p in periods:
            _plot_geom(ax, geometry_to_grid(p.geometry, grid), color=STATUS_COLOR.get(p.status, "#333"), lw=1)
        ax.set_title(str(years[k]))
        _map_furniture(ax, grid)
        ax.set_xticks([])
        ax.set_yticks([])
        present |= {int(c) for c in np.unique(classes[k])}
    fig.legend(handles=[Patch(facecolor=FOOTPRINT_COLOURS[c], edgecolor="#666", label=_(legend[str(c)]))
                        for c in codes if c in present], loc="lower center", ncol=4, fontsize=8, framealpha=0.9)
    fig.subplots_adjust(bottom=0.16)
    return _png(fig)


def footprint_area_chart(by_year: list[dict], legend: dict[str, str], _=_identity) -> bytes:
    """Stacked area of each mine class per year (``summary["footprint_by_year"]``)."""
    from minewatch.analysis.footprint.classify import MINE_CLASSES

    fig, ax = plt.subplots(figsize=(8, 3.5))
    years = [r["year"] for r in by_year]
    names = [legend[str(c)] for c in MINE_CLASSES]
    values = [[r["classes"][n]["area_ha"] for r in by_year] for n in names]
    ax.stackplot(years, values, labels=[_(n) for n in names], colors=[FOOTPRINT_COLOURS[c] for c in MINE_CLASSES],
                 alpha=0.9)
    ax.set_xticks(years)
    ax.set_ylabel(_("area (ha)"))
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)
