"""Importing laboratory results of field water samples into one long table.

Three layouts are read, from CSV or Excel:

``long``
    one row per result: station, date, parameter, value, unit.
``wide``
    one row per sample, one column per parameter (unit in the header such as
    ``"Pb (mg/l)"`` or in the mapping file).
``transposed``
    one *column* per sample and one row per field or parameter, with labels in
    a label column and units in a unit column (the Pilcomayo.net export).

A column-mapping file (YAML or JSON, see :class:`SampleMapping`) maps foreign
headers to canonical names. Every problem found (unknown unit, unreadable value
or date, missing or out-of-range coordinate, duplicate result) is collected with
its line and column, as is a physically impossible value (a negative
concentration, a pH outside 0-14, a percentage above 100: see
:mod:`~minewatch.analysis.water.plausibility`), and :func:`read_samples` raises one
:class:`~minewatch.errors.ValidationError` listing them: a file is imported
completely or not at all.

The output schema (:data:`SAMPLE_COLUMNS`) is the registry's future "water
sample" table: ``sample_id, station_id, station_name, date, time, lat, lon,
river, reach_id, receptor_id, parameter, fraction, value, qualifier,
detection_limit, unit, source_file, source_line, source_column, source_label``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from minewatch.analysis.water.plausibility import physical_problem
from minewatch.analysis.water.units import normalise_unit
from minewatch.analysis.water.values import ParsedValue, ValueParseError, parse_value
from minewatch.documents import load_document
from minewatch.errors import InputError, ValidationError

SAMPLE_COLUMNS = [
    "sample_id", "station_id", "station_name", "date", "time", "lat", "lon", "river",
    "reach_id", "receptor_id", "parameter", "fraction", "value", "qualifier",
    "detection_limit", "unit", "source_file", "source_line", "source_column", "source_label",
]

META_FIELDS = ("station_id", "station_name", "date", "time", "lat", "lon", "x", "y", "river",
               "reach_id", "receptor_id")
LONG_FIELDS = ("parameter", "value", "unit", "fraction")
LAYOUTS = ("long", "wide", "transposed")
MAX_LISTED_ERRORS = 25

# Names (English, Spanish, Portuguese, French; lower case, accents stripped) -> symbol.
PARAMETER_SYNONYMS: dict[str, str] = {}
for _sym, _names in {
    "As": ["arsenic", "arsenico", "arsenio"],
    "Cd": ["cadmium", "cadmio"],
    "Pb": ["lead", "plomo", "chumbo", "plomb"],
    "Hg": ["mercury", "mercurio", "mercure"],
    "Zn": ["zinc", "zinco"],
    "Cu": ["copper", "cobre", "cuivre"],
    "Mn": ["manganese", "manganeso", "manganes"],
    "Ni": ["nickel", "niquel"],
    "Cr": ["chromium", "cromo", "chrome"],
    "Fe": ["iron", "hierro", "ferro", "fer"],
    "Al": ["aluminium", "aluminum", "aluminio"],
    "Sb": ["antimony", "antimonio", "antimoine"],
    "Se": ["selenium", "selenio"],
    "U": ["uranium", "uranio"],
    "B": ["boron", "boro", "bore"],
    "Ba": ["barium", "bario"],
    "Ag": ["silver", "plata", "prata", "argent"],
    "Tl": ["thallium", "talio"],
    "Bi": ["bismuth", "bismuto"],
    "F": ["fluoride", "fluoruro", "fluoruros", "fluorure"],
    "NO3": ["nitrate", "nitrato"],
    "NO2": ["nitrite", "nitrito"],
    "SO4": ["sulphate", "sulfate", "sulfato", "sulfatos"],
    "Cl": ["chloride", "cloruro", "cloruros", "chlorure"],
    "Na": ["sodium", "sodio"],
    "NH4": ["ammonium", "amonio"],
    "CN": ["cyanide", "cianuro", "cianuros"],
    "pH": ["ph"],
}.items():
    for _n in _names + [_sym.lower()]:
        PARAMETER_SYNONYMS[_n] = _sym


def _strip_accents(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def canonical_parameter(name: str) -> str | None:
    """Canonical code (``"As"``, ``"NO3"``, ``"pH"``) of a parameter name, or None."""
    key = _strip_accents(str(name)).strip().lower()
    return PARAMETER_SYNONYMS.get(key)


@dataclass
class ParameterSpec:
    """How one source column (or row, or long-table name) maps to a parameter."""

    parameter: str
    unit: str | None = None
    fraction: str = ""


@dataclass
class SampleMapping:
    """A column-mapping file, parsed.

    Keys of the YAML/JSON document::

        layout: transposed        # long | wide | transposed (default: guessed)
        sheet: 0                  # Excel sheet name or index
        encoding: utf-8-sig       # CSV encoding
        delimiter: ","            # CSV delimiter (default: sniffed , ; or tab)
        decimal: "."              # decimal separator of values
        header_row: 1             # 1-based header line (long / wide)
        label_column: 1           # 1-based label column (transposed)
        unit_column: 2            # 1-based unit column (transposed), optional
        date_format: "%d/%m/%Y"   # strptime format; default: ISO or day-first
        crs: EPSG:32720           # CRS of x/y when coordinates are projected
        fields:                   # canonical name -> header (or label) in the file
          station_id: Código
          date: Fecha
          lat: Latitud Decimal
          lon: Longitud Decimal
        parameters:               # header -> parameter (short form) or spec
          Arsenico total: {parameter: As, fraction: total}
          Pb (mg/l): {parameter: Pb, unit: mg/L}
        only_mapped: true         # wide/transposed: ignore unmapped columns
    """

    layout: str | None = None
    sheet: str | int = 0
    encoding: str = "utf-8-sig"
    delimiter: str | None = None
    decimal: str = "."
    header_row: int = 1
    label_column: int = 1
    unit_column: int | None = None
    date_format: str | None = None
    crs: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, ParameterSpec] = field(default_factory=dict)
    only_mapped: bool = True
    source: str = "<defaults>"

    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "<dict>") -> SampleMapping:
        """Build from a parsed YAML/JSON document, validating keys."""
        if not isinstance(doc, dict):
            raise InputError(f"mapping {source}: expected a mapping (key: value) at top level")
        known = {"layout", "sheet", "encoding", "delimiter", "decimal", "header_row",
                 "label_column", "unit_column", "date_format", "crs", "fields", "parameters",
                 "only_mapped", "description", "source"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise InputError(f"mapping {source}: unknown key(s) {', '.join(unknown)}",
                             hint="allowed keys: " + ", ".join(sorted(known)))
        layout = doc.get("layout")
        if layout is not None and layout not in LAYOUTS:
            raise InputError(f"mapping {source}: layout {layout!r} is not one of {', '.join(LAYOUTS)}")
        fields_ = {str(k): str(v) for k, v in (doc.get("fields") or {}).items()}
        bad = sorted(set(fields_) - set(META_FIELDS) - set(LONG_FIELDS))
        if bad:
            raise InputError(f"mapping {source}: unknown field(s) {', '.join(bad)}",
                             hint="fields are " + ", ".join(META_FIELDS + LONG_FIELDS))
        params: dict[str, ParameterSpec] = {}
        for header, spec in (doc.get("parameters") or {}).items():
            if isinstance(spec, str):
                params[str(header)] = ParameterSpec(spec)
            elif isinstance(spec, dict) and "parameter" in spec:
                unit = spec.get("unit")
                if unit is not None and normalise_unit(unit) is None:
                    raise InputError(f"mapping {source}: parameter {header!r}: unknown unit {unit!r}")
                params[str(header)] = ParameterSpec(
                    str(spec["parameter"]), normalise_unit(unit) if unit else None,
                    str(spec.get("fraction", "") or ""))
            else:
                raise InputError(f"mapping {source}: parameter {header!r} needs a 'parameter' code")
        decimal = str(doc.get("decimal", "."))
        if decimal not in {".", ","}:
            raise InputError(f"mapping {source}: decimal must be '.' or ','")
        return cls(
            layout=layout, sheet=doc.get("sheet", 0), encoding=doc.get("encoding", "utf-8-sig"),
            delimiter=doc.get("delimiter"), decimal=decimal,
            header_row=int(doc.get("header_row", 1)), label_column=int(doc.get("label_column", 1)),
            unit_column=int(doc["unit_column"]) if doc.get("unit_column") else None,
            date_format=doc.get("date_format"), crs=doc.get("crs"), fields=fields_,
            parameters=params, only_mapped=bool(doc.get("only_mapped", bool(params))),
            source=source,
        )


def load_mapping(path: str | Path) -> SampleMapping:
    """Read a YAML or JSON column-mapping file."""
    return SampleMapping.from_dict(load_document(path), source=str(path))


def shipped_mapping_path(name: str) -> Path:
    """Path of a mapping shipped in ``minewatch/data/mappings`` (``name`` without suffix)."""
    from importlib import resources

    return Path(str(resources.files("minewatch") / "data" / "mappings" / f"{name}.yaml"))


# --------------------------------------------------------------------------- reading grids


def _read_grid(path: Path, m: SampleMapping) -> list[list[Any]]:
    """All cells of the file as a list of rows (strings or Excel-typed cells)."""
    if not path.exists():
        raise InputError(f"sample file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        try:
            df = pd.read_excel(path, sheet_name=m.sheet, header=None, dtype=object)
        except Exception as exc:
            raise InputError(f"{path}: cannot read as Excel (sheet {m.sheet!r}): {exc}") from exc
        return [[None if (isinstance(c, float) and math.isnan(c)) else c for c in row]
                for row in df.itertuples(index=False, name=None)]
    import csv

    try:
        text = path.read_text(encoding=m.encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not readable as {m.encoding}: {exc}",
                         hint="set 'encoding' in the mapping file (e.g. latin-1)") from exc
    delim = m.delimiter
    if delim is None:
        first = text.splitlines()[0] if text else ""
        delim = max([",", ";", "\t"], key=first.count)
    return list(csv.reader(text.splitlines(), delimiter=delim))


def _col_name(idx: int) -> str:
    """Spreadsheet-style column letter for a 0-based index (0 -> A)."""
    s = ""
    idx += 1
    while idx:
        idx, r = divmod(idx - 1, 26)
        s = chr(65 + r) + s
    return s


_HEADER_UNIT = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]+)\s*[\)\]]\s*$")


def _split_header(header: str) -> tuple[str, str | None]:
    """``"Pb (mg/l)"`` -> ``("Pb", "mg/l")``; ``"Pb"`` -> ``("Pb", None)``."""
    m = _HEADER_UNIT.match(header.strip())
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return header.strip(), None


# --------------------------------------------------------------------------- parsing cells


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%y",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def _parse_date(cell: Any, fmt: str | None) -> str:
    if isinstance(cell, (dt.datetime, pd.Timestamp)):
        return cell.date().isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    text = str(cell).strip() if cell is not None else ""
    if not text:
        raise ValueError("empty date")
    for f in ([fmt] if fmt else _DATE_FORMATS):
        try:
            return dt.datetime.strptime(text, f).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"cannot read date {text!r}" + (f" with format {fmt!r}" if fmt else
                     " (tried ISO and day-first formats; set 'date_format' in the mapping)"))


def _parse_coord(cell: Any, decimal: str) -> float:
    pv = parse_value(cell, decimal=decimal)
    if pv is None or pv.qualifier:
        raise ValueError("missing or unreadable coordinate")
    return pv.value


def _parse_result(cell: Any, spec: ParameterSpec, unit: str, decimal: str) -> ParsedValue | None:
    """One result cell: parsed, and refused (:class:`ValueParseError`) when physically impossible."""
    pv = parse_value(cell, decimal=decimal)
    if pv is not None:
        problem = physical_problem(spec.parameter, unit, pv)
        if problem is not None:
            raise ValueParseError(problem)
    return pv


@dataclass
class _Meta:
    """Per-sample metadata collected before results are attached."""

    station_id: str
    station_name: str
    date: str
    time: str
    lat: float
    lon: float
    river: str
    reach_id: str
    receptor_id: str


class _Errors:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, line: int, column: str, msg: str) -> None:
        self.items.append(f"line {line}, column {column}: {msg}")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            shown = "; ".join(self.items[:MAX_LISTED_ERRORS])
            more = f" ... and {n - MAX_LISTED_ERRORS} more" if n > MAX_LISTED_ERRORS else ""
            raise ValidationError(
                f"{self.path}: {n} problem(s), nothing imported: {shown}{more}",
                hint="fix the cells named, or map the columns in a mapping file "
                     "(docs/water-quality.md)",
            )


def _project_xy(xs: list[float], ys: list[float], crs: str) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import CRS, Transformer

    try:
        src = CRS.from_user_input(crs)
    except Exception as exc:
        raise InputError(f"mapping: unknown crs {crs!r}: {exc}") from exc
    tr = Transformer.from_crs(src, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(np.asarray(xs, float), np.asarray(ys, float))
    return np.asarray(lat), np.asarray(lon)


def _resolve_meta(
    get: dict[str, tuple[Any, int, str]],
    m: SampleMapping,
    errors: _Errors,
    where_line: int,
) -> tuple[dict[str, Any], tuple[float, float] | None]:
    """Read metadata cells. ``get[field] = (cell, line, column-label)``."""
    out: dict[str, Any] = {}
    for name in ("station_id", "station_name", "time", "river", "reach_id", "receptor_id"):
        cell = get.get(name, (None, 0, ""))[0]
        out[name] = "" if cell is None else str(cell).strip()
    if not out["station_id"]:
        line, col = get.get("station_id", (None, where_line, "?"))[1:]
        errors.add(line, col, "missing station id")
    if "date" in get:
        cell, line, col = get["date"]
        try:
            out["date"] = _parse_date(cell, m.date_format)
        except ValueError as exc:
            errors.add(line, col, str(exc))
            out["date"] = ""
    xy = None
    coord_fields = ("lat", "lon") if "lat" in get or "lon" in get else ("x", "y")
    vals = {}
    for name in coord_fields:
        if name not in get:
            continue
        cell, line, col = get[name]
        try:
            vals[name] = _parse_coord(cell, m.decimal)
        except (ValueError, ValueParseError):
            errors.add(line, col, f"missing or unreadable coordinate {name} ({cell!r})")
    if coord_fields == ("lat", "lon") and len(vals) == 2:
        lat, lon = vals["lat"], vals["lon"]
        if not (-90 <= lat <= 90):
            errors.add(get["lat"][1], get["lat"][2], f"latitude {lat} outside -90..90")
        if not (-180 <= lon <= 180):
            errors.add(get["lon"][1], get["lon"][2], f"longitude {lon} outside -180..180")
        xy = (lat, lon)
    elif coord_fields == ("x", "y") and len(vals) == 2:
        xy = (vals["x"], vals["y"])  # projected later, all at once
    return out, xy


def read_samples(path: str | Path, mapping: SampleMapping | str | Path | None = None) -> pd.DataFrame:
    """Read a lab results file into the long sample table.

    Parameters
    ----------
    path : str or Path
        CSV (``,`` ``;`` or tab, sniffed) or Excel file.
    mapping : SampleMapping, path, or None
        Column mapping. Without one, canonical headers are expected: long tables
        with ``station_id, date, lat, lon, parameter, value, unit``; wide tables
        with ``station_id, date, lat, lon`` and parameter columns named
        ``"As (ug/L)"`` (symbol or name, unit in brackets).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SAMPLE_COLUMNS`, one row per result. Non-detects have
        ``qualifier == "<"``, ``value`` NaN and ``detection_limit`` set
        (see :mod:`minewatch.analysis.water.values`). Units are canonical
        spellings (``mg/L``, ``ug/L``...) and not converted.

    Raises
    ------
    InputError
        Unreadable file, missing columns, bad mapping.
    ValidationError
        Cell-level problems, each named by line and column; nothing is returned.
    """
    p = Path(path)
    if mapping is None:
        m = SampleMapping()
    elif isinstance(mapping, SampleMapping):
        m = mapping
    else:
        m = load_mapping(mapping)
    grid = _read_grid(p, m)
    if not grid:
        raise InputError(f"{p}: the file is empty")
    layout = m.layout
    if layout is None:
        hdr = [str(c).strip().lower() for c in grid[m.header_row - 1]]
        layout = "long" if ("parameter" in hdr and "value" in hdr) or (
            m.fields.get("parameter") and m.fields.get("value")) else "wide"
    errors = _Errors(p)
    if layout == "transposed":
        records, xy_needed = _read_transposed(grid, m, p, errors)
    else:
        records, xy_needed = _read_tabular(grid, m, p, errors, layout)
    errors.raise_if_any()
    df = pd.DataFrame.from_records(records, columns=SAMPLE_COLUMNS + ["_x", "_y"])
    if xy_needed and len(df):
        if not m.crs:
            raise InputError(f"{p}: coordinates are x/y but the mapping gives no 'crs'",
                             hint="add e.g. 'crs: EPSG:32720' to the mapping file")
        lat, lon = _project_xy(df["_x"].tolist(), df["_y"].tolist(), m.crs)
        df["lat"], df["lon"] = lat, lon
        bad = ~(np.isfinite(lat) & np.isfinite(lon)) | (np.abs(lat) > 90)
        if bad.any():
            r = df[bad].iloc[0]
            raise ValidationError(f"{p}: line {r['source_line']}: x/y do not project from {m.crs}")
    df = df.drop(columns=["_x", "_y"])
    if df.empty:
        raise ValidationError(f"{p}: no results found (no mapped parameter with a value)",
                              hint="check the layout and the 'parameters' of the mapping")
    dup = df.duplicated(["sample_id", "parameter", "fraction"], keep=False)
    if dup.any():
        errs = _Errors(p)
        for _, r in df[dup].iterrows():
            errs.add(int(r["source_line"]), str(r["source_column"]),
                     f"duplicate result for {r['parameter']} {r['fraction']} in sample "
                     f"{r['sample_id']}")
        errs.raise_if_any()
    df["lat"] = df["lat"].astype(float)
    df["lon"] = df["lon"].astype(float)
    return df.reset_index(drop=True)


#: Parameters whose unit is implied when none is written.
IMPLIED_UNITS = {"pH": "pH"}


def _param_spec(header: str, m: SampleMapping) -> ParameterSpec | None:
    h = str(header).strip()
    if h in m.parameters:
        spec = m.parameters[h]
        if spec.unit is None and spec.parameter in IMPLIED_UNITS:
            return ParameterSpec(spec.parameter, IMPLIED_UNITS[spec.parameter], spec.fraction)
        return spec
    if m.only_mapped and m.parameters:
        return None
    name, unit = _split_header(h)
    code = canonical_parameter(name)
    if code is None:
        return None
    unit_c = normalise_unit(unit) if unit else IMPLIED_UNITS.get(code)
    return ParameterSpec(code, unit_c, "")


def _make_record(meta: dict, lat_lon: tuple[float, float] | None, xy_projected: bool,
                 spec: ParameterSpec, pv, unit: str, src: Path, line: int, col: str,
                 label: str) -> dict:
    sample_id = f"{meta['station_id']}@{meta.get('date', '')}"
    if meta.get("time"):
        sample_id += f"T{meta['time']}"
    rec = {
        "sample_id": sample_id, "station_id": meta["station_id"],
        "station_name": meta["station_name"], "date": meta.get("date", ""), "time": meta["time"],
        "lat": math.nan, "lon": math.nan, "river": meta["river"], "reach_id": meta["reach_id"],
        "receptor_id": meta["receptor_id"], "parameter": spec.parameter,
        "fraction": spec.fraction, "value": pv.value, "qualifier": pv.qualifier,
        "detection_limit": pv.detection_limit, "unit": unit, "source_file": src.name,
        "source_line": line, "source_column": col, "source_label": label,
        "_x": math.nan, "_y": math.nan,
    }
    if lat_lon is not None:
        if xy_projected:
            rec["_x"], rec["_y"] = lat_lon
        else:
            rec["lat"], rec["lon"] = lat_lon
    return rec


def _read_transposed(grid, m: SampleMapping, src: Path, errors: _Errors):
    lab_i = m.label_column - 1
    unit_i = m.unit_column - 1 if m.unit_column else None
    first_data = max(lab_i, unit_i if unit_i is not None else -1) + 1
    labels: dict[str, int] = {}
    for i, row in enumerate(grid):
        if len(row) > lab_i:
            lab = str(row[lab_i] or "").strip()
            if lab and lab not in labels:
                labels[lab] = i
    getters: dict[str, int] = {}
    for fname, lab in m.fields.items():
        if lab not in labels:
            raise InputError(f"{src}: no row labelled {lab!r} (mapped to field {fname!r}) in "
                             f"column {_col_name(lab_i)}")
        getters[fname] = labels[lab]
    if "station_id" not in getters:
        raise InputError(f"{src}: the mapping must name the row holding 'station_id'")
    param_rows: list[tuple[int, ParameterSpec, str | None]] = []
    for lab, i in labels.items():
        if lab in m.fields.values():
            continue
        spec = _param_spec(lab, m)
        if spec is None:
            continue
        unit_cell = grid[i][unit_i] if unit_i is not None and len(grid[i]) > unit_i else None
        unit = spec.unit or (normalise_unit(unit_cell) if unit_cell else None)
        if unit is None:
            errors.add(i + 1, _col_name(unit_i) if unit_i is not None else "?",
                       f"unknown or missing unit {unit_cell!r} for {lab!r}")
            continue
        param_rows.append((i, spec, unit))
    for lab in m.parameters:
        if lab not in labels:
            raise InputError(f"{src}: mapped parameter row {lab!r} not found in column "
                             f"{_col_name(lab_i)}")
    ncols = max(len(r) for r in grid)
    xy_proj = "x" in getters
    records = []
    sid_row = grid[getters["station_id"]]
    for j in range(first_data, ncols):
        if j >= len(sid_row) or not str(sid_row[j] or "").strip():
            if any(len(grid[i]) > j and str(grid[i][j] or "").strip() for i, _, _ in param_rows):
                errors.add(getters["station_id"] + 1, _col_name(j),
                           "results without a station id")
            continue
        get = {f: (grid[i][j] if j < len(grid[i]) else None, i + 1, _col_name(j))
               for f, i in getters.items()}
        meta, ll = _resolve_meta(get, m, errors, getters["station_id"] + 1)
        for i, spec, unit in param_rows:
            cell = grid[i][j] if j < len(grid[i]) else None
            try:
                pv = _parse_result(cell, spec, unit, m.decimal)
            except ValueParseError as exc:
                errors.add(i + 1, f"{_col_name(j)} ({meta['station_id']})", str(exc))
                continue
            if pv is None:
                continue
            records.append(_make_record(meta, ll, xy_proj, spec, pv, unit, src, i + 1,
                                        _col_name(j), str(grid[i][lab_i]).strip()))
    return records, xy_proj


def _read_tabular(grid, m: SampleMapping, src: Path, errors: _Errors, layout: str):
    h_i = m.header_row - 1
    header = [str(c).strip() if c is not None else "" for c in grid[h_i]]
    index: dict[str, int] = {}
    for j, h in enumerate(header):
        if h and h not in index:
            index[h] = j
    fmap = dict(m.fields)
    for f in META_FIELDS + (LONG_FIELDS if layout == "long" else ()):
        if f not in fmap and f in index:
            fmap[f] = f
    for f, h in fmap.items():
        if h not in index:
            raise InputError(f"{src}: no column {h!r} (mapped to {f!r}) in the header on line "
                             f"{m.header_row}", hint="columns are: " + ", ".join(header))
    need = ["station_id"] + (["parameter", "value"] if layout == "long" else [])
    missing = [f for f in need if f not in fmap]
    if not (("lat" in fmap and "lon" in fmap) or ("x" in fmap and "y" in fmap)):
        missing.append("lat/lon (or x/y with crs)")
    if "date" not in fmap:
        missing.append("date")
    if missing:
        raise InputError(f"{src}: missing column(s) for {', '.join(missing)}",
                         hint="name them in the mapping file under 'fields'")
    col = {f: index[h] for f, h in fmap.items()}
    xy_proj = "x" in col and "lat" not in col
    records = []
    param_cols: list[tuple[int, ParameterSpec, str]] = []
    if layout == "wide":
        mapped_headers = set(fmap.values())
        for h, j in index.items():
            if h in mapped_headers:
                continue
            spec = _param_spec(h, m)
            if spec is None:
                if m.only_mapped and m.parameters:
                    continue
                errors.add(m.header_row, f"{_col_name(j)} ({h!r})",
                           "not a known parameter; map it in the mapping file under 'parameters'")
                continue
            if spec.unit is None:
                errors.add(m.header_row, f"{_col_name(j)} ({h!r})",
                           "unknown or missing unit; write it in the header as 'As (ug/L)' or "
                           "give 'unit' in the mapping")
                continue
            param_cols.append((j, spec, spec.unit))
        for hdr in m.parameters:
            if hdr not in index:
                raise InputError(f"{src}: mapped parameter column {hdr!r} not in the header")
    for r_i in range(h_i + 1, len(grid)):
        row = grid[r_i]
        if not any(str(c).strip() for c in row if c is not None):
            continue
        line = r_i + 1

        def cell(j: int, row: list[Any] = row) -> Any:
            return row[j] if j < len(row) else None

        get = {f: (cell(j), line, f"{_col_name(j)} ({header[j]!r})") for f, j in col.items()
               if f in META_FIELDS}
        meta, ll = _resolve_meta(get, m, errors, line)
        if layout == "wide":
            for j, spec, unit in param_cols:
                try:
                    pv = _parse_result(cell(j), spec, unit, m.decimal)
                except ValueParseError as exc:
                    errors.add(line, f"{_col_name(j)} ({header[j]!r})", str(exc))
                    continue
                if pv is None:
                    continue
                records.append(_make_record(meta, ll, xy_proj, spec, pv, unit, src, line,
                                            _col_name(j), header[j]))
        else:
            pname = str(cell(col["parameter"]) or "").strip()
            spec = m.parameters.get(pname)
            if spec is None:
                code = canonical_parameter(_split_header(pname)[0])
                if code is None and m.only_mapped and m.parameters:
                    continue
                spec = ParameterSpec(code or pname)
            unit = spec.unit
            if unit is None:
                raw_unit = cell(col["unit"]) if "unit" in col else _split_header(pname)[1]
                unit = (normalise_unit(raw_unit) if raw_unit and str(raw_unit).strip()
                        else IMPLIED_UNITS.get(spec.parameter))
                if unit is None:
                    j = col.get("unit", col["parameter"])
                    errors.add(line, f"{_col_name(j)} ({header[j]!r})",
                               f"unknown or missing unit {raw_unit!r}")
                    continue
            frac = spec.fraction or (str(cell(col["fraction"]) or "").strip()
                                     if "fraction" in col else "")
            spec = ParameterSpec(spec.parameter, unit, frac)
            j = col["value"]
            try:
                pv = _parse_result(cell(j), spec, unit, m.decimal)
            except ValueParseError as exc:
                errors.add(line, f"{_col_name(j)} ({header[j]!r})", str(exc))
                continue
            if pv is None:
                continue
            records.append(_make_record(meta, ll, xy_proj, spec, pv, unit, src, line,
                                        _col_name(j), pname))
    return records, xy_proj


def sampling_points(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per station: id, name, lat, lon, river, number of samples and dates.

    Raises
    ------
    DataError-like ValidationError
        When one station id has coordinates more than ~100 m apart between samples.
    """
    g = samples.groupby("station_id", sort=True)
    pts = g.agg(station_name=("station_name", "first"), lat=("lat", "mean"), lon=("lon", "mean"),
                river=("river", "first"), reach_id=("reach_id", "first"),
                receptor_id=("receptor_id", "first"), n_samples=("sample_id", "nunique"),
                first_date=("date", "min"), last_date=("date", "max"),
                lat_span=("lat", lambda s: float(s.max() - s.min())),
                lon_span=("lon", lambda s: float(s.max() - s.min())))
    return pts.reset_index()
