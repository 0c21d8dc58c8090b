"""``minewatch analyze``: one monitoring run over a local STAC catalog (the batch contract)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console

from minewatch.cli.main import app
from minewatch.cli.progress import rich_progress
from minewatch.errors import InputError
from minewatch.imagery.aoi import BBox, parse_bbox


def parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date", hint="write it as YYYY-MM-DD") from None


def site_bbox(registry: str, site_id: str) -> BBox:
    """The bounding box (WGS84 ``W, S, E, N``) of a registry site, checked like ``--bbox``."""
    from minewatch.registry import open_registry

    return parse_bbox(open_registry(registry).site(site_id).bbox)


def print_summary(summary: dict, out: Path, console: Console) -> None:
    d = summary["disturbance"]
    console.print(
        f"[bold]new mining disturbance:[/] {d['total_area_ha']:.2f} ha "
        f"([bold]{d['outside_licence_area_ha']:.2f} ha outside any valid licence[/]), "
        f"first onset {d['first_date'] or '—'}, {len(summary['alerts'])} alert(s)"
    )
    for r in summary["receptors_at_risk"]:
        ids = r["alert_ids"]
        shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        console.print(f"  downstream: {r['name']} ({r['kind']}) at {r['flow_distance_m']:.0f} m along the flow "
                      f"path from {shown}")
    water = summary.get("water") or {}
    if water.get("river_signal"):
        rs = water["river_signal"]
        console.print(f"  river signal: {rs['status']}" + (f" ({len(rs['per_date'])} dates, "
                      f"{rs['n_points_upstream']} water pixels upstream, {rs['n_points_downstream']} downstream)"
                      if rs["status"] == "assessed" else f": {rs.get('reason', '')}"))
    if water.get("samples"):
        ws = water["samples"]
        console.print(f"  field samples: {ws['n_results']} results against {ws['standard']}; exceedances at "
                      f"{', '.join(ws['stations_with_exceedance']) or 'no station'}")
    console.print(f"outputs in {out}: disturbance_date.tif, summary.json, report.html"
                  + (", report.pdf" if (out / "report.pdf").exists() else "")
                  + "; evidence in evidence/ (check with `minewatch verify`)")


def check_evidence_options(sign: Path | None, pdf: bool, lang: str) -> None:
    """Fail before the analysis, not after it, on a bad key, a missing Chromium or an unknown language."""
    from minewatch.reports.i18n import check_lang

    check_lang(lang)
    if sign is not None:
        from minewatch.evidence.signing import load_private_key

        load_private_key(sign)
    if pdf:
        from minewatch.reports.pdf import require_chromium

        require_chromium()


@app.command()
def analyze(
    catalog: Path = typer.Argument(None, help="Local STAC catalog.json or collection.json. Leave out to fetch "
                                   "imagery for --bbox (or the registry --site) from a STAC API instead."),
    licences: Path = typer.Option(None, "--licences", help="Licences GeoJSON (licence_id, holder, commodity, "
                                  "status, valid_from, valid_to)."),
    receptors: Path = typer.Option(None, "--receptors", help="Receptors GeoJSON points (receptor_id, kind, name)."),
    dem: Path = typer.Option(None, "--dem", help="DEM GeoTIFF for downstream tracing."),
    start: str = typer.Option(..., "--start", help="First monitored day (YYYY-MM-DD); earlier scenes are history."),
    end: str = typer.Option(..., "--end", help="Last monitored day (YYYY-MM-DD)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    backend: str = typer.Option("auto", "--backend", help="Change engine backend: auto, cpu or gpu."),
    sign: Path = typer.Option(None, "--sign", help="Ed25519 key file (`minewatch keys generate`) to sign "
                              "OUT/evidence/manifest.json with."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the report to OUT/report.pdf (headless Chromium)."),
    lang: str = typer.Option("en", "--lang", help="Report language: en (English) or es (Español)."),
    registry: str = typer.Option(None, "--registry", help="Registry (GeoPackage path or postgresql:// URL) to "
                                 "take licences and receptors from, instead of files; the run and its alerts are "
                                 "recorded in it. Needs --site."),
    site: str = typer.Option(None, "--site", help="Site id in the registry (with --registry)."),
    bbox: str = typer.Option(None, "--bbox", help="W,S,E,N (degrees): fetch imagery for this box instead of "
                             "reading CATALOG (with --registry/--site the site's box is used)."),
    history_start: str = typer.Option(None, "--history-start", help="When fetching: first day of the history "
                                      "period (default: two years before --start)."),
    stac_url: str = typer.Option(None, "--stac-url", help="When fetching: earth-search (default), "
                                 "planetary-computer or any STAC API URL."),
    collection: list[str] = typer.Option(["sentinel-2-l2a"], "--collection", help="When fetching: "
                                         "sentinel-2-l2a and/or landsat-c2-l2."),
    max_cloud: float = typer.Option(None, "--max-cloud", help="When fetching: max eo:cloud_cover, %."),
    samples: Path = typer.Option(None, "--samples", help="Lab results (CSV or Excel; see `minewatch samples "
                                 "import`) to check against --standard and add to the report's water section."),
    samples_mapping: str = typer.Option(None, "--samples-mapping", help="Column-mapping YAML/JSON for "
                                        "--samples, or the name of a shipped mapping."),
    standard: str = typer.Option("WHO-GDWQ-2022", "--standard", help="Standard for --samples: "
                                 "WHO-GDWQ-2022 or EU-2020/2184."),
) -> None:
    """Map new mining disturbance, check it against licences and trace it downstream.

    Writes OUT/disturbance_date.tif (int32 days since 1970-01-01 of onset, 0 = none),
    OUT/confidence.tif, OUT/alerts.geojson, OUT/summary.json and OUT/report.html.
    """
    from minewatch.pipeline import AnalysisRequest, run_analysis

    if catalog is None and bbox is None and site is None:
        raise InputError("no imagery given", hint="pass a CATALOG, or --bbox W,S,E,N (or --registry/--site) "
                         "to fetch it")
    if catalog is not None and bbox is not None:
        raise InputError("give either a CATALOG or --bbox, not both")
    for path, opt in ((catalog, "CATALOG"), (licences, "--licences"), (receptors, "--receptors"), (dem, "--dem")):
        if path is not None and not path.exists():
            raise InputError(f"{opt}: file not found: {path}")
    if (registry is None) != (site is None):
        raise InputError("--registry and --site go together", hint="pass both, or neither")
    if registry is not None and licences is not None:
        raise InputError("give licences either as --licences FILE or from --registry/--site, not both")
    if licences is None and registry is None:
        raise InputError("no licences given", hint="pass --licences LICENCES.geojson or --registry URL --site ID")
    check_evidence_options(sign, pdf, lang)
    sample_check = None
    if samples is not None:  # a bad lab file fails before anything runs or is written
        from minewatch.analysis.water.run_section import import_run_samples

        sample_check = import_run_samples(samples, samples_mapping, standard=standard)
    start_d, end_d = parse_date(start, "--start"), parse_date(end, "--end")
    if catalog is None:
        if licences is not None:  # fail on bad licences before downloading anything
            from minewatch.analysis.compliance import read_licences

            read_licences(licences)
        catalog, dem = _fetch_imagery(out, bbox, registry, site, history_start, start_d, end_d, stac_url,
                                      collection, max_cloud, dem)
    req = AnalysisRequest(catalog=catalog, out=out, start=start_d, end=end_d, licences=licences,
                          receptors=receptors, dem=dem, backend=backend, sign_key=sign, pdf=pdf, lang=lang,
                          samples=samples, samples_mapping=samples_mapping, standard=standard,
                          sample_check=sample_check)
    console = Console(stderr=True)
    if registry is None:
        with rich_progress(console) as progress:
            summary = run_analysis(req, progress)
    else:
        summary = _run_with_registry(req, registry, site, console)
    print_summary(summary, out, Console())


def _fetch_imagery(out: Path, bbox, registry, site, history_start, start_d, end_d, stac_url, collection,
                   max_cloud, dem):
    """Fetch the AOI's imagery (history and monitored period) and, without --dem, a DEM into OUT/imagery."""
    from minewatch.imagery.fetch import fetch

    box = parse_bbox(bbox) if bbox is not None else site_bbox(registry, site)
    first = parse_date(history_start, "--history-start") if history_start else \
        start_d.replace(year=start_d.year - 2)
    console = Console(stderr=True)
    console.print(f"fetching imagery for {box} from {first} to {end_d}")
    report = fetch(box, first, end_d, out / "imagery", collections=tuple(collection), max_cloud=max_cloud,
                   stac_url=stac_url, dem=dem is None)
    if report.failed:
        console.print(f"[yellow]{len(report.failed)} item(s) could not be fetched and are left out; "
                      f"see {out / 'imagery' / 'fetch_report.json'}[/]")
    if dem is None and report.dem:
        dem = Path(report.catalog).parent / report.dem
    return Path(report.catalog), dem


def _run_with_registry(req, registry: str, site: str, console: Console) -> dict:
    """Take licences/receptors of ``site`` from the registry, run, record the run and its alerts."""
    import datetime as _dt

    from minewatch.analysis.compliance import periods_from_versions, receptors_from_records
    from minewatch.errors import DataError, MinewatchError
    from minewatch.pipeline import run_analysis
    from minewatch.registry import open_registry

    reg = open_registry(registry)
    licences = reg.licences_for_analysis(site)
    if not licences:
        raise DataError(f"registry {registry}: site {site!r} has no licence linked to it or meeting its area",
                        hint="import licences with `minewatch registry import`")
    req.licence_periods = periods_from_versions(licences)
    if req.receptors is None:
        req.receptor_list = receptors_from_records(reg.receptors_for_analysis(site))
    req.site = site
    started = _dt.datetime.now(_dt.timezone.utc)
    run_id = reg.record_run({"site_id": site, "started_at": started, "outcome": "running",
                             "inputs": {"catalog": str(req.catalog), "dem": str(req.dem) if req.dem else None},
                             "parameters": {"start": req.start.isoformat(), "end": req.end.isoformat()}})
    try:
        with rich_progress(console) as progress:
            summary = run_analysis(req, progress)
    except MinewatchError as exc:
        reg.record_run({"run_id": run_id, "site_id": site, "started_at": started, "outcome": "failed",
                        "finished_at": _dt.datetime.now(_dt.timezone.utc), "message": str(exc)})
        raise
    reg.record_alerts(run_id, [{**a, "site_id": site} for a in summary["alerts"]])
    reg.record_run({"run_id": run_id, "site_id": site, "started_at": started, "outcome": "ok",
                    "finished_at": _dt.datetime.now(_dt.timezone.utc), "parameters": summary["parameters"],
                    "inputs": {"catalog": str(req.catalog), "out": str(req.out)}})
    console.print(f"recorded run {run_id} and {len(summary['alerts'])} alert(s) in {registry}")
    return summary
