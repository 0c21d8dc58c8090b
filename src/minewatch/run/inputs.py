"""Resolve a run's inputs once, before any pixel is read.

:func:`resolve_inputs` checks and reads everything a run needs and returns values the
rest of the run uses without touching the files again: the scenes (history and monitored),
the analysis grid, the licence periods (from a file or a registry site), the receptors, the
DEM routed once into a flow grid, the lab samples imported and checked, the signing key.
Every mistake a user can make with these inputs is reported here, in one line, before the
long part of the run starts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import shapely

from minewatch.analysis.geometry import geometry_to_grid
from minewatch.analysis.hydrology import FlowGrid, flow_grid, read_dem
from minewatch.analysis.licences import LicencePeriod, Receptor, periods_from_versions, read_licences, \
    read_receptors, receptors_from_records
from minewatch.errors import DataError, InputError
from minewatch.imagery.assets import inspect_assets
from minewatch.imagery.catalog import SceneItem, SkippedAsset, check_bands, open_catalog
from minewatch.imagery.load import Grid, analysis_grid, require_overlap
from minewatch.run.request import EvidenceOptions, MonitoringRequest, Progress

REFLECTANCE_BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
#: Bands the analysis cannot do without; a missing green band is replaced by blue (see notes).
REQUIRED_BANDS = ("blue", "red", "nir", "swir16", "swir22")
MASK_BANDS = ("scl", "qa_pixel", "datamask")
MIN_HISTORY_DAYS = 300


@dataclass
class ResolvedInputs:
    """What a run reads, read and checked once."""

    catalog: Path  #: the STAC catalog (fetched or given)
    dem: Path | None  #: the DEM file (fetched or given)
    items: list[SceneItem]  #: every scene used (up to the period's end), by date
    history: list[SceneItem]  #: scenes before the period's start
    grid: Grid  #: the analysis grid
    bands: list[str]  #: the bands read from every scene
    periods: list[LicencePeriod]
    receptors: list[Receptor]
    flow: FlowGrid | None  #: the DEM, routed once (None without a DEM)
    samples: dict | None  #: the lab file imported and checked against the standard
    backend: str  #: the change-engine backend resolved (cpu, gpu, torch)
    from_registry: bool  #: licences (and maybe receptors) came from a registry site
    registry: Any = None  #: the open registry of a site run
    private_key: Any = None  #: the key to sign the manifest with
    notes: list[str] = field(default_factory=list)  #: facts about the inputs the user must know
    skipped: list[SkippedAsset] = field(default_factory=list)  #: assets left out, and why

    @property
    def monitored(self) -> list[SceneItem]:
        return self.items[len(self.history):]


def split_period(items: list[SceneItem], start: dt.date, end: dt.date, where: str):
    """Items up to ``end``; history = before ``start``. Clear errors for empty parts."""
    used = [it for it in items if it.date <= end]
    history = [it for it in used if it.date < start]
    monitored = [it for it in used if it.date >= start]
    if not monitored:
        first, last = items[0].date, items[-1].date
        raise DataError(
            f"{where}: no scene between {start} and {end} (the catalog covers {first} .. {last})",
            hint="choose --start/--end inside the catalog's period",
        )
    if not history:
        raise DataError(
            f"{where}: no scene before --start {start}; the history period is empty",
            hint=f"the change model needs about a year of scenes before --start; the catalog starts "
            f"{items[0].date}",
        )
    return used, history


def _require_files(req: MonitoringRequest) -> None:
    named = ((req.inputs.catalog, "CATALOG"), (req.inputs.licences, "--licences"),
             (req.inputs.receptors, "--receptors"), (req.inputs.dem, "--dem"),
             (req.water.samples, "--samples"), (req.evidence.sign_key, "--sign"))
    for path, opt in named:
        if path is not None and not Path(path).exists():
            raise InputError(f"{opt}: file not found: {path}")


def evidence_tools(options: EvidenceOptions):
    """The signing key, loaded; Chromium present when a PDF is wanted (else a clear error)."""
    key = None
    if options.write and options.sign_key is not None:
        from minewatch.evidence.signing import load_private_key

        key = load_private_key(options.sign_key)
    if options.write and options.pdf:
        from minewatch.reports.pdf import require_chromium

        require_chromium()
    return key


def _licences_and_receptors(req: MonitoringRequest):
    """Licence periods and receptors from the files, or from the registry site."""
    registry = None
    if req.inputs.registry is not None:
        from minewatch.registry import open_registry

        registry = open_registry(req.inputs.registry)
        records = registry.licences_for_analysis(req.site)
        if not records:
            raise DataError(f"registry {req.inputs.registry}: site {req.site!r} has no licence linked to it or "
                            f"meeting its area", hint="import licences with `minewatch registry import`")
        periods = periods_from_versions(records)
        receptors = (read_receptors(req.inputs.receptors) if req.inputs.receptors is not None
                     else receptors_from_records(registry.receptors_for_analysis(req.site)))
    else:
        periods = read_licences(req.inputs.licences)
        receptors = read_receptors(req.inputs.receptors) if req.inputs.receptors is not None else []
    return periods, receptors, registry


def _route_dem(path: Path, grid: Grid, progress: Progress) -> FlowGrid:
    """Read the DEM once, check it against the grid, and route it (D8)."""
    from rasterio.warp import transform_bounds

    dem = read_dem(path)
    if dem.crs is None:
        raise InputError(f"DEM {path}: the raster has no CRS", hint="georeference the DEM")
    require_overlap(grid, transform_bounds(dem.crs, grid.crs, *dem.bounds), f"DEM ({path})")
    if not dem.valid_mask().any():
        raise DataError(f"DEM {path}: every cell is nodata", hint="give a DEM with elevations over the scene")
    progress("routing the DEM", 0, 1)
    flow = flow_grid(dem)
    progress("routing the DEM", 1, 1)
    return flow


def resolve_inputs(req: MonitoringRequest, progress: Progress, root: Path) -> ResolvedInputs:
    """Check and read every input of ``req`` (see the module docstring); imagery to fetch goes
    into ``root/imagery`` (``root``: the run's staging folder).

    Raises
    ------
    InputError, DataError, CatalogError, BackendUnavailableError
        Naming the input and what is wrong with it; nothing has been written.
    """
    from minewatch.analysis.change.backend import resolve_backend

    _require_files(req)
    backend = resolve_backend(req.detection.backend)
    key = evidence_tools(req.evidence)
    periods, receptors, registry = _licences_and_receptors(req)
    samples = None
    if req.water.samples is not None:
        from minewatch.analysis.water.workflow import import_samples

        samples = import_samples(req.water.samples, req.water.samples_mapping, standard=req.water.standard)
    catalog, dem = req.inputs.catalog, req.inputs.dem
    if req.inputs.fetch is not None:
        from minewatch.run.fetching import fetch_imagery

        catalog, fetched_dem = fetch_imagery(req, registry, root / "imagery")
        dem = dem if dem is not None else fetched_dem
    items = open_catalog(catalog)
    where = str(catalog)
    split_period(items, req.period.start, req.period.end, where)
    read = REFLECTANCE_BANDS + MASK_BANDS  # the bands a run reads; other assets are not its inputs
    in_period = [replace(it, assets={b: ref for b, ref in it.assets.items() if b in read})
                 for it in items if it.date <= req.period.end]
    grid = analysis_grid(in_period)
    progress("checking the imagery", 0, 1)
    usable, skipped = inspect_assets(in_period, grid)
    progress("checking the imagery", 1, 1)
    if not usable:
        raise DataError(f"{where}: no scene has a usable band ({len(skipped)} assets left out; the first: "
                        f"{skipped[0].href}: {skipped[0].reason})" if skipped else f"{where}: no usable scene")
    used, history = split_period(usable, req.period.start, req.period.end, where)
    check_bands(used, REQUIRED_BANDS, where)
    licence_bounds = geometry_to_grid(shapely.union_all([p.geometry for p in periods]), grid).bounds
    require_overlap(grid, licence_bounds, f"licences ({req.inputs.licences or 'registry'})")
    flow = _route_dem(Path(dem), grid, progress) if dem is not None else None
    present = {b for it in used for b in it.assets}
    notes: list[str] = []
    if "green" not in present:
        notes.append("the catalog has no green band: blue stands in for green in the water index (MNDWI), "
                     "the snow test and the true-colour pictures")
    history_days = (req.period.start - history[0].date).days
    if history_days < MIN_HISTORY_DAYS:
        notes.append(f"only {history_days} days of history before {req.period.start}: seasonal model is weak")
    if skipped:
        dates = len({(s.item_id) for s in skipped})
        notes.append(f"{len(skipped)} band file(s) of {dates} scene(s) could not be used and were left out "
                     f"(listed with the reason under assessment.skipped_assets); the first: {skipped[0].href}: "
                     f"{skipped[0].reason}")
    return ResolvedInputs(
        catalog=Path(catalog), dem=Path(dem) if dem is not None else None, items=used, history=history, grid=grid,
        bands=[b for b in REFLECTANCE_BANDS + MASK_BANDS if b in present], periods=periods, receptors=receptors,
        flow=flow, samples=samples, backend=backend, from_registry=req.inputs.registry is not None,
        registry=registry, private_key=key, notes=notes, skipped=skipped)
