"""Figures of a run (matplotlib, Agg), returned as PNG bytes for embedding."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from minewatch.analysis.compliance import geometry_to_grid  # noqa: E402

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


def before_after(grid, before: np.ndarray, after: np.ndarray, periods, labels: tuple[str, str]) -> bytes:
    """True-colour and SWIR false-colour composites before and after, licences outlined."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 10))
    for col, (comp, label) in enumerate(zip((before, after), labels, strict=True)):
        for row, (idx, name) in enumerate((((0, 1, 2), "true colour"), ((3, 4, 0), "SWIR false colour"))):
            ax = axes[row, col]
            ax.imshow(_stretch(comp[list(idx)]), extent=_extent(grid), interpolation="nearest")
            for p in periods:
                _plot_geom(ax, geometry_to_grid(p.geometry, grid), color=STATUS_COLOR.get(p.status, "k"),
                           lw=1.2)
            ax.set_title(f"{label} — {name}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
            _map_furniture(ax, grid)
    fig.tight_layout()
    return _png(fig)


def disturbance_map(grid, onset: np.ndarray, after: np.ndarray, outside: np.ndarray, periods, receptors,
                    risk) -> bytes:
    """New disturbance by onset year over the latest composite, with licences, receptors, flow paths."""
    fig, ax = plt.subplots(figsize=(10, 9))
    grey = np.nanmean(_stretch(after[:3]), axis=2)
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1.4, extent=_extent(grid), interpolation="nearest")
    handles = []
    disturbed = onset > 0
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
        handles += [Patch(color=c, label=f"new disturbance {y}") for c, y in zip(colors, uniq, strict=True)]
        if outside.any():
            ax.contour(outside.astype(float), levels=[0.5],
                       colors="red", linewidths=1.0, extent=_extent(grid), origin="upper")
            handles.append(Line2D([], [], color="red", lw=1, label="outside any valid licence"))
    for p in periods:
        _plot_geom(ax, geometry_to_grid(p.geometry, grid), color=STATUS_COLOR.get(p.status, "k"), lw=1.5,
                   ls="--")
    for status in sorted({p.status for p in periods}):
        handles.append(Line2D([], [], color=STATUS_COLOR.get(status, "k"), ls="--", label=f"licence ({status})"))
    if risk is not None:
        for path in risk.paths:
            _plot_geom(ax, geometry_to_grid(path["geometry"], grid), color="#2c7bb6", lw=1.2)
        if risk.paths:
            handles.append(Line2D([], [], color="#2c7bb6", lw=1.2, label="downstream flow path"))
    at_risk = {r["receptor_id"] for r in (risk.receptors if risk is not None else [])}
    for kind in sorted({r.kind for r in receptors}):
        marker, color = RECEPTOR_STYLE.get(kind, ("P", "#444444"))
        for r in (r for r in receptors if r.kind == kind):
            g = geometry_to_grid(r.geometry, grid)
            ax.scatter([g.x], [g.y], marker=marker, s=80, c=color,
                       edgecolors="red" if r.receptor_id in at_risk else "white", linewidths=2, zorder=5)
            ax.annotate(r.name, (g.x, g.y), xytext=(5, 5), textcoords="offset points", fontsize=8,
                        bbox=dict(facecolor="white", alpha=0.7, lw=0, pad=1))
        handles.append(Line2D([], [], marker=marker, color=color, ls="", label=kind.replace("_", " ")))
    if at_risk:
        handles.append(Line2D([], [], marker="o", color="white", markeredgecolor="red", ls="",
                              label="receptor downstream (red ring)"))
    left, bottom, right, top = grid.bounds
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_xticks([])
    ax.set_yticks([])
    _map_furniture(ax, grid)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.tight_layout()
    return _png(fig)


def area_chart(timeline: list[dict]) -> bytes:
    """Cumulative new disturbed area over time, total and outside licence."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if timeline:
        months = np.array([np.datetime64(r["month"]) for r in timeline])
        ax.step(months, [r["total_ha"] for r in timeline], where="post", label="all new disturbance",
                color="#5e3c99")
        ax.step(months, [r["outside_licence_ha"] for r in timeline], where="post",
                label="outside any valid licence", color="#e66101")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no new disturbance detected", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("cumulative area (ha)")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def clear_chart(dates: list[str], share: list[float], start: str) -> bytes:
    """Share of usable (clear) observations per scene."""
    fig, ax = plt.subplots(figsize=(8, 2.5))
    d = np.array([np.datetime64(x) for x in dates])
    ax.bar(d, share, width=6, color="#4393c3")
    ax.axvline(np.datetime64(start), color="k", ls=":", lw=1)
    ax.text(np.datetime64(start), 1.02, " monitoring starts", fontsize=8, va="bottom")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("clear share")
    fig.autofmt_xdate()
    return _png(fig)
