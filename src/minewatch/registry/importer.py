"""Turn source features into validated registry rows (no database work here).

Everything a user can get wrong is found here, before any write: missing
required columns, unknown codes, bad dates and numbers, validity that ends
before it starts, duplicate ids, unknown or wrong CRS, invalid geometries
(repaired with ``make_valid`` where safe, else rejected). Each problem is an
:class:`~minewatch.registry.report.Issue` naming file, feature and field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from minewatch.jsonable import jsonable
from minewatch.errors import InputError
from minewatch.registry.geometry import check_lonlat, normalise, repair, to_wgs84
from minewatch.registry.mapping import ColumnMapping
from minewatch.registry.report import ImportReport
from minewatch.registry.schema import Field, TableSpec
from minewatch.registry.sources import SourceTable
from minewatch.registry.vocabulary import (
    CONTRACT_KIND,
    IGNORE,
    STATUS_SINCE,
    contract_versions,
    resolve_columns,
    takes_effect_on_its_date,
)

MAX_ERRORS = 1000


def _norm_choice(v: str) -> str:
    return "_".join(str(v).strip().lower().replace("-", " ").split())


def coerce(value, f: Field, date_format: str | None = None):
    """Convert a raw cell to the field's type; raises ValueError with a short reason."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if isinstance(value, float) and math.isnan(value):
        return None
    t = f.type
    if t == "text":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out = str(value)
        if f.choices:
            n = _norm_choice(out)
            if n not in f.choices:
                raise ValueError(f"{out!r} is not one of {', '.join(f.choices)}")
            out = n
        return out
    if t == "int":
        if isinstance(value, bool):
            return int(value)
        x = float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
        if not x.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(x)
    if t == "float":
        if isinstance(value, str):
            s = value.replace(",", ".") if ("," in value and "." not in value) else value
            try:
                return float(s)
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
        return float(value)
    if t == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        s = str(value)
        if date_format:
            try:
                return dt.datetime.strptime(s, date_format).date()
            except ValueError:
                pass
        try:
            if len(s) >= 10 and s[4] == "-":
                return dt.date.fromisoformat(s[:10])
            return dt.datetime.strptime(s, "%Y/%m/%d").date()
        except ValueError:
            raise ValueError(f"{s!r} is not a date (YYYY-MM-DD"
                             + (f" or {date_format}" if date_format else "") + ")") from None
    if t == "datetime":
        if isinstance(value, dt.datetime):
            d = value
        elif isinstance(value, dt.date):
            d = dt.datetime(value.year, value.month, value.day)
        else:
            try:
                d = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO date-time") from None
        if d.tzinfo is None:
            d = d.replace(tzinfo=dt.timezone.utc)
        return d.astimezone(dt.timezone.utc)
    if t == "json":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("not valid JSON") from None
        return json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False, default=str)
    if t == "bool":
        s = str(value).strip().lower()
        if s in ("1", "true", "yes", "y", "t"):
            return True
        if s in ("0", "false", "no", "n", "f"):
            return False
        raise ValueError(f"{value!r} is not true/false")
    raise AssertionError(t)


class _Formatter(dict):
    def __missing__(self, key):
        raise KeyError(key)


def prepare(spec: TableSpec, src: SourceTable, mapping: ColumnMapping,
            defaults: dict | None = None, *, source_label: str | None = None,
            progress: Callable[[str, int, int], None] | None = None,
            ) -> tuple[list[dict], ImportReport]:
    """Validate and convert ``src`` into rows for ``spec``'s table (geometry in ``geom``, 4326)."""
    label = source_label or src.name
    report = ImportReport(source=label, kind=spec.name, features=len(src.rows))
    mapping.validate_targets(spec.field_names)
    defaults = {**mapping.defaults, **(defaults or {})}
    for k in defaults:
        if k not in spec.field_names:
            raise InputError(f"default for unknown field {k!r}",
                             hint="fields: " + ", ".join(spec.field_names))
    licences = spec.name == "licence_versions"
    col_target = resolve_columns(spec, src.columns, mapping)
    provided = {t for t in col_target.values() if t} | set(mapping.templates) | set(defaults)
    if licences and "valid_from" in provided:
        provided.add("effective_from")
    if licences and "kind" not in provided:
        defaults["kind"] = CONTRACT_KIND
        provided.add("kind")
        report.add("warning", f"no kind column: every licence recorded as {CONTRACT_KIND} "
                   "(a licence that authorises mining, as in the batch contract); give "
                   "--set kind=exploration or a kind column to say otherwise",
                   feature_id="every feature", field="kind", code="default_kind")
    for f in spec.fields:
        if f.required and f.name not in provided:
            report.add("error", f"required column is missing (the file has: "
                       f"{', '.join(src.columns) or 'no columns'}); name it so or map a "
                       "column to it in a --mapping file", feature_id="every feature",
                       field=f.name, code="missing_column")
    if spec.geometry and spec.geometry_required and src.fmt == "csv" and \
            all(g is None for g in src.geometries) and len(src.rows):
        report.add("error", "no geometry column found (a WKT column, or lon and lat columns)",
                   field="geometry", code="missing_column")
    if report.errors:
        return [], report
    if spec.geometry and src.crs is None and any(g is not None for g in src.geometries):
        report.add("error", "unknown CRS: the file declares none", field="geometry",
                   code="unknown_crs")
        return [], report

    rows: list[dict] = []
    file_stem = Path(src.name).stem
    for i, raw in enumerate(src.rows):
        feat = i + 1
        rec: dict = {}
        extra: dict = {}
        for c, v in raw.items():
            tgt = col_target.get(c)
            if tgt == IGNORE:
                continue
            if tgt is None:
                if v is not None and v != "":
                    extra[c] = v
                continue
            rec[tgt] = v
        for fname, tmpl in mapping.templates.items():
            try:
                rec[fname] = tmpl.format_map(_Formatter({**raw, "_row": feat, "_file": file_stem}))
            except (KeyError, ValueError, IndexError) as exc:
                report.add("error", f"template {tmpl!r} refers to unknown column {exc}",
                           feature=feat, field=fname)
        for fname, dv in defaults.items():
            if rec.get(fname) in (None, ""):
                rec[fname] = dv
        for fname, table in mapping.values.items():
            v = rec.get(fname)
            if v is not None and str(v).strip() in table:
                rec[fname] = table[str(v).strip()]
        out: dict = {}
        key_hint = ", ".join(f"{k}={rec.get(k)}" for k in spec.key[:1]
                             if rec.get(k) not in (None, ""))
        for f in spec.fields:
            if f.name == "extra":
                continue
            try:
                out[f.name] = coerce(rec.get(f.name), f, mapping.date_format)
            except ValueError as exc:
                out[f.name] = None
                report.add("error", str(exc), feature=feat, feature_id=key_hint or None,
                           field=f.name, code="bad_value")
        if "extra" in spec.field_names:
            ex = {}
            if rec.get("extra"):
                try:
                    ex = json.loads(rec["extra"]) if isinstance(rec["extra"], str) else dict(
                        rec["extra"])
                except ValueError:
                    report.add("error", "not valid JSON", feature=feat, field="extra")
            ex.update({k: v for k, v in extra.items()})
            out["extra"] = (json.dumps(jsonable(ex), sort_keys=True, ensure_ascii=False,
                                       default=str) if ex else None)
        since = None
        if licences:
            since = _status_since(rec, out, feat, key_hint, mapping, report)
            if out.get("effective_from") is None:
                out["effective_from"] = out.get("valid_from")
            vf, vt = out.get("valid_from"), out.get("valid_to")
            if vf and vt and vt < vf:
                report.add("error", f"validity ends {vt} before it starts {vf}", feature=feat,
                           feature_id=key_hint, field="valid_to", code="bad_dates")
        for f in spec.fields:
            if f.required and out.get(f.name) is None and not any(
                    x.feature == feat and x.field == f.name for x in report.errors[-3:]):
                report.add("error", "required value is empty", feature=feat,
                           feature_id=key_hint or None, field=f.name, code="missing_value")
        out["_feature"] = feat
        out["_key_hint"] = key_hint
        rows.extend(contract_versions(out, since) if since else [out])
        if len(report.errors) >= MAX_ERRORS:
            break
        if progress and (feat % 1000 == 0 or feat == len(src.rows)):
            progress("validate", feat, len(src.rows))

    if spec.geometry and not report.errors:
        _prepare_geometries(spec, src, rows, report)
    if not report.errors:
        _check_duplicates(spec, rows, report)
    return rows, report


def _status_since(rec: dict, out: dict, feat: int, key_hint: str, mapping: ColumnMapping,
                  report: ImportReport) -> dt.date | None:
    """The batch contract's ``status_since`` of a licence row, when it makes versions.

    It dates the row's own (suspended or revoked) status, so it cannot come with an
    ``effective_from``; for statuses it does not date it is kept in ``extra``.
    """
    raw = rec.get(STATUS_SINCE)
    try:
        since = coerce(raw, Field(STATUS_SINCE, "date"), mapping.date_format)
    except ValueError as exc:
        report.add("error", str(exc), feature=feat, feature_id=key_hint or None,
                   field=STATUS_SINCE, code="bad_value")
        return None
    if since is None:
        return None
    if not takes_effect_on_its_date(out.get("status")):
        extra = json.loads(out["extra"]) if out.get("extra") else {}
        extra[STATUS_SINCE] = since.isoformat()
        out["extra"] = json.dumps(jsonable(extra), sort_keys=True, ensure_ascii=False, default=str)
        return None
    if out.get("effective_from") is not None:
        report.add("error", f"give either effective_from (a dated version) or {STATUS_SINCE} "
                   "(the batch contract's date of the status), not both", feature=feat,
                   feature_id=key_hint or None, field=STATUS_SINCE, code="bad_dates")
        return None
    return since


def _prepare_geometries(spec: TableSpec, src: SourceTable, rows: list[dict],
                        report: ImportReport) -> None:
    from shapely import GeometryType

    n = len(rows)
    geoms = src.geometries[[r["_feature"] - 1 for r in rows]]  # a feature may make 2 rows
    present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    out = np.empty(n, dtype=object)
    if present.any():
        out[present] = to_wgs84(np.asarray(list(geoms[present]), dtype=object), src.crs)
    # Vectorised fast path: valid, in lon/lat range, already of the column's type.
    valid = np.zeros(n, dtype=bool)
    in_range = np.zeros(n, dtype=bool)
    types = np.full(n, -1)
    if present.any():
        sub = out[present].astype(object)
        valid[present] = shapely.is_valid(sub)
        b = shapely.bounds(sub)
        in_range[present] = (np.isfinite(b).all(axis=1) & (b[:, 0] >= -180.0001)
                             & (b[:, 2] <= 180.0001) & (b[:, 1] >= -90.0001)
                             & (b[:, 3] <= 90.0001))
        types[present] = shapely.get_type_id(sub)
    fast = present & valid & in_range
    if spec.geometry == "MULTIPOLYGON":
        is_poly = fast & (types == GeometryType.POLYGON)
        if is_poly.any():
            k = int(is_poly.sum())
            out[is_poly] = shapely.multipolygons(out[is_poly].astype(object),
                                                 indices=np.arange(k))
        fast &= (types == GeometryType.POLYGON) | (types == GeometryType.MULTIPOLYGON)
    elif spec.geometry == "POINT":
        fast &= types == GeometryType.POINT
    for i in np.flatnonzero(fast):
        rows[i]["geom"] = out[i]
    for i in np.flatnonzero(~fast):
        row = rows[i]
        feat, hint = row["_feature"], row["_key_hint"]
        g = out[i] if present[i] else None
        if g is None:
            if spec.geometry_required:
                report.add("error", "geometry is missing or empty", feature=feat,
                           feature_id=hint, field="geometry", code="no_geometry")
            row["geom"] = None
            continue
        msg = check_lonlat(g)
        if msg:
            report.add("error", msg, feature=feat, feature_id=hint, field="geometry",
                       code="wrong_crs")
            continue
        if not valid[i]:
            fixed, note = repair(g, spec.geometry)
            if fixed is None:
                report.add("error", note + "; fix it in the source", feature=feat,
                           feature_id=hint, field="geometry", code="invalid_geometry")
                continue
            report.add("warning", note, feature=feat, feature_id=hint, field="geometry",
                       code="repaired")
            g = fixed
        g2, err = normalise(g, spec.geometry)
        if err:
            report.add("error", err, feature=feat, feature_id=hint, field="geometry",
                       code="geometry_type")
            continue
        row["geom"] = g2
        if len(report.errors) >= MAX_ERRORS:
            break


def _check_duplicates(spec: TableSpec, rows: list[dict], report: ImportReport) -> None:
    seen: dict[tuple, int] = {}
    for row in rows:
        key = tuple(row.get(k) for k in spec.key)
        if key in seen:
            report.add("error", f"duplicate {'/'.join(spec.key)} {'/'.join(map(str, key))}: "
                       f"also feature {seen[key]}", feature=row["_feature"],
                       feature_id=row["_key_hint"], field=spec.key[0], code="duplicate_id")
            if len(report.errors) >= MAX_ERRORS:
                return
        else:
            seen[key] = row["_feature"]
