"""The typed request of one monitoring run, in parts: inputs, period, detection, water, evidence.

Each part validates what it can see by itself in ``__post_init__`` (a date order, a known
backend or language); everything that needs the files (they exist, they overlap, they parse)
is checked by :func:`minewatch.run.inputs.resolve_inputs` before any pixel is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from minewatch.analysis.change.backend import BACKENDS
from minewatch.analysis.disturbance import DisturbanceParams
from minewatch.errors import InputError

#: ``progress(step, done, total)``: how a run reports progress to whoever called it.
Progress = Callable[[str, int, int], None]
STANDARDS = ("WHO-GDWQ-2022", "EU-2020/2184")


def no_progress(step: str, done: int, total: int) -> None:
    """A :data:`Progress` that shows nothing."""


@dataclass(frozen=True)
class FetchOptions:
    """Fetch the imagery (and a DEM when none is given) from a STAC API before the run."""

    bbox: tuple[float, float, float, float] | None = None  #: W, S, E, N degrees; None: the registry site's box
    history_start: dt.date | None = None  #: default: two years before the period's start
    stac_url: str | None = None  #: earth-search (default), planetary-computer or a STAC API URL
    collections: tuple[str, ...] = ("sentinel-2-l2a",)
    max_cloud: float | None = None  #: max eo:cloud_cover, %


@dataclass(frozen=True)
class RunInputs:
    """Where the run's data come from. Licences come from a file or from the registry (for the
    request's site)."""

    catalog: Path | None = None  #: local STAC catalog; None with ``fetch``
    licences: Path | None = None  #: licences GeoJSON (or a licence-periods document saved by a run)
    receptors: Path | None = None  #: receptors GeoJSON (default with ``site``: the registry's)
    dem: Path | None = None  #: DEM for downstream tracing and the river signal
    registry: str | None = None  #: registry (GeoPackage path or postgresql:// URL) of the request's site
    fetch: FetchOptions | None = None

    def __post_init__(self) -> None:
        if self.catalog is None and self.fetch is None:
            raise InputError("no imagery given", hint="pass a CATALOG, or --bbox W,S,E,N (or --registry/--site) "
                             "to fetch it")
        if self.catalog is not None and self.fetch is not None:
            raise InputError("give either a CATALOG or --bbox, not both")
        if self.registry is not None and self.licences is not None:
            raise InputError("give licences either as --licences FILE or from --registry/--site, not both")
        if self.registry is None and self.licences is None:
            raise InputError("no licences given", hint="pass --licences LICENCES.geojson or --registry URL --site ID")
        if self.fetch is not None and self.fetch.bbox is None and self.registry is None:
            raise InputError("nothing to fetch", hint="pass --bbox W,S,E,N or --registry URL --site ID")


@dataclass(frozen=True)
class Period:
    """The monitored period; scenes before ``start`` are the history."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError(f"--end {self.end} is before --start {self.start}")


@dataclass(frozen=True)
class DetectionOptions:
    """How disturbance is detected."""

    params: DisturbanceParams = field(default_factory=DisturbanceParams)
    tile_size: int = 512  #: pixels; COGs are usually tiled in 512 px blocks, read each once
    backend: str = "auto"  #: change-engine backend: auto or cpu (gpu/torch are refused)
    max_flow_distance_m: float = 20_000.0  #: how far downstream receptors are looked for

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InputError(f"--backend {self.backend!r} is unknown", hint=f"use one of {', '.join(BACKENDS)}")
        if self.tile_size < 16:
            raise InputError(f"tile size {self.tile_size} is too small", hint="use 256 or 512 pixels")
        if not self.max_flow_distance_m > 0:
            raise InputError(f"max flow distance {self.max_flow_distance_m} m must be positive")


@dataclass(frozen=True)
class WaterOptions:
    """The water section: field samples against a standard, and the river signal."""

    samples: Path | None = None  #: lab file (CSV or Excel)
    samples_mapping: str | None = None  #: column-mapping name or file
    standard: str = "WHO-GDWQ-2022"
    river_signal: bool = True

    def __post_init__(self) -> None:
        if self.samples is None and self.samples_mapping is not None:
            raise InputError("--samples-mapping needs --samples")


@dataclass(frozen=True)
class EvidenceOptions:
    """The evidence package (``OUT/evidence/``) and the report."""

    write: bool = True  #: write the evidence package (verify's re-run does not)
    lang: str = "en"  #: report language
    sign_key: Path | None = None  #: Ed25519 private key to sign the manifest with
    pdf: bool = False  #: also print the report to PDF

    def __post_init__(self) -> None:
        from minewatch.reports.i18n import check_lang

        check_lang(self.lang)


@dataclass(frozen=True)
class ExecutionOptions:
    """Where the tiles run and whether finished tiles are reused; never changes the results."""

    scheduler: str | None = None  #: serial, local or a Dask scheduler address; None: $MINEWATCH_SCHEDULER or serial
    n_workers: int | None = None  #: worker processes of a local cluster (default: one per core)
    resume: bool = True  #: checkpoint finished tiles beside OUT and reuse them after a killed run

    def __post_init__(self) -> None:
        if self.n_workers is not None and self.n_workers < 1:
            raise InputError(f"--workers {self.n_workers} must be at least 1")


@dataclass(frozen=True)
class MonitoringRequest:
    """Everything one monitoring run needs (see docs/batch-contract.md)."""

    inputs: RunInputs
    period: Period
    out: Path
    site: str | None = None  #: the site the run is about (its id in the registry); named in the summary
    detection: DetectionOptions = field(default_factory=DetectionOptions)
    water: WaterOptions = field(default_factory=WaterOptions)
    evidence: EvidenceOptions = field(default_factory=EvidenceOptions)
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)

    def __post_init__(self) -> None:
        if self.inputs.registry is not None and self.site is None:
            raise InputError("--registry and --site go together", hint="pass both, or neither")
