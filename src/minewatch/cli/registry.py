"""``minewatch registry ...``: create, fill, export and query the cadastre and monitoring record."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path

import typer
from rich.table import Table

from minewatch.cli import output
from minewatch.cli.main import app
from minewatch.jsonable import jsonable
from minewatch.errors import InputError

registry_app = typer.Typer(
    help="The registry: licences with their history, deposits, sites, parcels, receptors, "
    "monitoring runs, alerts and inspections, in a GeoPackage file or PostGIS.",
    no_args_is_help=True,
)
app.add_typer(registry_app, name="registry")

console = output.console()
err = output.console(stderr=True)

REGISTRY_OPT = typer.Option(
    ..., "--registry", "-r", envvar="MINEWATCH_REGISTRY",
    help="Registry: a .gpkg path or a postgresql:// URL (or set MINEWATCH_REGISTRY).",
)
LOCK_OPT = typer.Option(30.0, "--lock-timeout", help="Seconds to wait for another writer.")


def _open(url: str, lock_timeout: float = 30.0, create: bool = False):
    from minewatch.registry import open_registry

    return open_registry(url, create=create, lock_timeout=lock_timeout)


def _parse_sets(sets: list[str] | None) -> dict:
    out = {}
    for s in sets or []:
        if "=" not in s:
            raise InputError(f"--set {s!r}: write it as FIELD=VALUE")
        k, v = s.split("=", 1)
        out[k.strip()] = v
    return out


def _parse_floats(value: str | None, n: int, option: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != n:
        raise InputError(f"{option} {value!r}: expected {n} comma-separated numbers (lon/lat)")
    return parts


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date", hint="write it as YYYY-MM-DD") \
            from None


@registry_app.command("init")
def init(
    url: str = typer.Argument(..., help="New registry: a .gpkg path or a postgresql:// URL."),
) -> None:
    """Create a registry (or bring an old one to the current schema)."""
    reg = _open(url, create=True)
    try:
        console.print(f"registry ready: {reg.url} ({reg.kind}, schema {reg.schema_revision()})")
    finally:
        reg.close()


@registry_app.command("import")
def import_(
    source: Path = typer.Argument(..., help="GeoJSON, GeoPackage, zipped Shapefile, KML or CSV."),
    registry: str = REGISTRY_OPT,
    kind: str = typer.Option(None, "--kind", "-k", help="licences, deposits, operators, sites, "
                             "parcels, receptors, sampling_points or samples "
                             "(default: the mapping file's kind)."),
    mapping: Path = typer.Option(None, "--mapping", "-m", help="Column-mapping file (YAML/JSON)."),
    crs: str = typer.Option(None, "--crs", help="CRS of the source when it has none, e.g. "
                            "EPSG:32719."),
    layer: str = typer.Option(None, "--layer", help="Layer of a multi-layer source."),
    sets: list[str] = typer.Option(None, "--set", help="FIELD=VALUE for fields the source "
                                   "lacks (repeatable)."),
    report_path: Path = typer.Option(None, "--report", help="Write the full import report "
                                     "(JSON) here."),
    lock_timeout: float = LOCK_OPT,
) -> None:
    """Import one file in one transaction: all of it, or nothing."""
    from minewatch.errors import ValidationError
    from minewatch.registry.mapping import load_mapping

    m = load_mapping(mapping)
    kind = kind or m.kind
    if not kind:
        raise InputError("say what the file holds with --kind (e.g. --kind licences)")
    reg = _open(registry, lock_timeout)
    try:
        with _progress() as progress:
            try:
                rep = reg.import_file(source, kind, mapping=m, crs=crs, layer=layer,
                                      defaults=_parse_sets(sets), progress=progress)
            except ValidationError as exc:
                if report_path is not None and getattr(exc, "report", None) is not None:
                    _write_json(report_path, exc.report.as_dict())
                raise
    finally:
        reg.close()
    if report_path is not None:
        _write_json(report_path, rep.as_dict())
    console.print(rep.summary())
    for issue in rep.warnings[:20]:
        console.print(f"  warning: {issue.line()}", highlight=False)
    if len(rep.warnings) > 20:
        console.print(f"  ... and {len(rep.warnings) - 20} more warnings"
                      + (f" (see {report_path})" if report_path else " (--report FILE)"))


@contextlib.contextmanager
def _progress():
    """Progress bars that vanish when done, so an error stays a single line."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def callback(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)

        yield callback


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)


@registry_app.command("export")
def export(
    out: Path = typer.Argument(..., help="Output: .geojson, .gpkg, .zip (Shapefile), .kml, .csv."),
    registry: str = REGISTRY_OPT,
    kind: str = typer.Option("licences", "--kind", "-k", help="What to export (licences: every "
                             "version, the whole history)."),
    bbox: str = typer.Option(None, "--bbox", help="minlon,minlat,maxlon,maxlat"),
) -> None:
    """Export one kind of record to a file."""
    reg = _open(registry)
    try:
        n = reg.export(kind, out, bbox=_parse_floats(bbox, 4, "--bbox"))
    finally:
        reg.close()
    console.print(f"wrote {n} {kind} to {out}")


_LIST_COLUMNS = {
    "licence_versions": ["licence_id", "version", "kind", "status", "holder", "valid_from",
                         "valid_to", "effective_from"],
    "alerts": ["alert_id", "onset_date", "area_ha", "licence_id", "licence_status_at_onset",
               "triage_state", "site_id"],
    "monitoring_runs": ["run_id", "site_id", "started_at", "finished_at", "outcome",
                        "code_version"],
}


@registry_app.command("list")
def list_(
    registry: str = REGISTRY_OPT,
    kind: str = typer.Option("licences", "--kind", "-k", help="licences, sites, receptors, "
                             "alerts, parcels, deposits, monitoring_runs, ..."),
    at: str = typer.Option(None, "--at", help="Licences valid on this date (YYYY-MM-DD)."),
    point: str = typer.Option(None, "--point", help="lon,lat: licences covering this point "
                              "(with --at; default today)."),
    bbox: str = typer.Option(None, "--bbox", help="minlon,minlat,maxlon,maxlat"),
    queue: bool = typer.Option(False, "--queue", help="Alerts: the triage queue only."),
    all_versions: bool = typer.Option(False, "--all-versions", help="Licences: every version, "
                                      "not only the current one."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (with geometries)."),
    limit: int = typer.Option(50, "--limit", help="Rows to print in the table (0: all)."),
) -> None:
    """List records; for licences optionally those valid on a date / at a point."""
    from minewatch.registry.schema import spec_for

    spec = spec_for(kind)
    reg = _open(registry)
    try:
        box = _parse_floats(bbox, 4, "--bbox")
        day = _date(at, "--at")
        if spec.name == "licence_versions" and point:
            lon, lat = _parse_floats(point, 2, "--point")
            import shapely

            rows = reg.licences_covering(shapely.Point(lon, lat), day or dt.date.today())
        elif spec.name == "licence_versions" and day:
            rows = reg.licences_valid_at(day, bbox=box)
        elif spec.name == "alerts" and queue:
            rows = reg.triage_queue()
        else:
            rows = reg.rows(kind, bbox=box if spec.geometry else None)
            if spec.name == "licence_versions" and not all_versions:
                rows = [r for r in rows if r["effective_to"] is None]  # current versions
    finally:
        reg.close()
    if as_json:
        console.print_json(json.dumps([jsonable(r) for r in rows], default=str))
        return
    cols = _LIST_COLUMNS.get(spec.name) or [f.name for f in spec.fields if f.name != "extra"][:7]
    table = Table(title=f"{len(rows)} {kind}")
    for c in cols:
        table.add_column(c)
    for r in rows[: limit or None]:
        table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in cols))
    console.print(table)
    if limit and len(rows) > limit:
        console.print(f"... {len(rows) - limit} more (--limit 0 or --json)")


@registry_app.command("show")
def show(
    kind: str = typer.Argument(..., help="licences, sites, receptors, alerts, ..."),
    ident: str = typer.Argument(..., help="The record's id."),
    registry: str = REGISTRY_OPT,
) -> None:
    """Show one record (licences: the current version) as JSON."""
    reg = _open(registry)
    try:
        if kind == "inspections":
            rec = reg.inspection(ident)
        else:
            rec = reg.get(kind, ident)
            if kind == "alerts":
                rec["triage_history"] = reg.triage_history(ident)
    finally:
        reg.close()
    out = jsonable(rec)
    if "triage_history" in out:
        out["triage_history"] = [jsonable(x) for x in out["triage_history"]]
    if "photos" in out:
        out["photos"] = [jsonable(x) for x in out["photos"]]
    console.print_json(json.dumps(out, default=str))


@registry_app.command("history")
def history(
    licence_id: str = typer.Argument(..., help="Licence id."),
    registry: str = REGISTRY_OPT,
) -> None:
    """Every version of a licence: what changed, when, on which document."""
    reg = _open(registry)
    try:
        rows = reg.licence_history(licence_id)
    finally:
        reg.close()
    table = Table(title=f"licence {licence_id}: {len(rows)} version(s)")
    for c in ("version", "effective_from", "effective_to", "changes", "status", "holder",
              "valid_from", "valid_to", "area_ha", "source_document"):
        table.add_column(c)
    from minewatch.registry.geometry import area_ha

    for r in rows:
        table.add_row(str(r["version"]), str(r["effective_from"]), str(r["effective_to"] or ""),
                      ", ".join(r["changes"]), r["status"], r["holder"] or "",
                      str(r["valid_from"]), str(r["valid_to"] or ""),
                      f"{area_ha(r['geometry']):.2f}", r["source_document"] or "")
    console.print(table)


@registry_app.command("triage")
def triage(
    alert_id: str = typer.Argument(..., help="Alert id."),
    state: str = typer.Option(..., "--state", help="new, confirmed, dismissed or escalated."),
    by: str = typer.Option(..., "--by", help="Who decides."),
    reason: str = typer.Option(..., "--reason", help="Why."),
    registry: str = REGISTRY_OPT,
    lock_timeout: float = LOCK_OPT,
) -> None:
    """Change an alert's triage state (who, when and why are kept)."""
    reg = _open(registry, lock_timeout)
    try:
        reg.set_triage(alert_id, state, by=by, reason=reason)
    finally:
        reg.close()
    console.print(f"alert {alert_id}: {state}")


@registry_app.command("review")
def review(
    alert_id: str = typer.Argument(..., help="Alert id."),
    state: str = typer.Option(..., "--state",
                              help="pre-validated, validated, rejected or audited."),
    by: str = typer.Option(..., "--by", help="The registry user (analyst or admin) reviewing."),
    comment: str = typer.Option(None, "--comment", help="Why (kept with the transition)."),
    publish: bool = typer.Option(None, "--publish/--unpublish",
                                 help="Show a validated alert to the public, or withdraw it."),
    registry: str = REGISTRY_OPT,
    lock_timeout: float = LOCK_OPT,
) -> None:
    """Move an alert through the review workflow new -> pre-validated -> validated | rejected
    -> audited (who, when and the comment are kept; see docs/api.md)."""
    from minewatch.run.accounts import principal_for_user
    from minewatch.run.alerts import review_alert

    reg = _open(registry, lock_timeout)
    try:
        rec = review_alert(reg, principal_for_user(reg, by), alert_id, state, comment=comment,
                           publish=publish)
    finally:
        reg.close()
    pub = ", published" if rec["published"] else ""
    console.print(f"alert {alert_id}: {rec['from_state']} -> {rec['state']}{pub}")
