"""The demo scenarios: one module per synthetic landscape, all written by :mod:`minewatch.demo.scene`.

``default`` is the original steppe gold mine; ``tropical``, ``arid`` and ``temperate`` are built on
:mod:`minewatch.demo.scenarios.base` (same spectra, atmosphere, sensor, SCL and hydrology).
See docs/demo-scene.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from minewatch.demo.atmosphere import Climate

NAMES = ("default", "tropical", "arid", "temperate")


@dataclass(frozen=True)
class ScenarioSpec:
    """What :func:`minewatch.demo.scene.generate_scene` needs from a scenario module."""

    name: str
    description: str  # STAC catalog description
    climate: Climate
    start: str  # default acquisition period and cadence
    end: str
    cadence_days: int
    size_px: int
    monitor_start: str  # the period the analysis monitors (history before it)
    monitor_end: str
    build: Callable[[int, int], tuple[Any, Any]]  # (size_px, seed) -> (layout, surface model)
    #: (root, layout, start, end, monitor start, monitor end, per-date stats) -> truth.json content;
    #: also writes events.geojson and footprint_class.tif
    write_truth: Callable[..., dict]


def get(name: str) -> ScenarioSpec:
    """The scenario called ``name`` (one of :data:`NAMES`)."""
    from minewatch.errors import InputError

    if name not in NAMES:
        raise InputError(f"unknown demo scenario {name!r}", hint=f"use one of: {', '.join(NAMES)}")
    return importlib.import_module(f"minewatch.demo.scenarios.{name}").SPEC
