"""Drinking-water standards shipped as data, and user-defined national tables.

The shipped table ``minewatch/data/standards/drinking_water.csv`` holds one row
per (standard, parameter) with its unit, limit, edition and table. Its sidecar
``drinking_water.sources.json`` records, per row, a SHA-256 fingerprint of the
value *together with* its citation (standard, edition, table): editing a limit
or unit without also editing where it comes from makes
:func:`verify_fingerprints` fail (and the test suite with it).

User tables (national standards, permits) use the same columns and are read
with :func:`load_standards` ``(path)``.
"""

from __future__ import annotations

import hashlib
import json
import math
from importlib import resources
from pathlib import Path

import pandas as pd

from minewatch.analysis.water.units import normalise_unit
from minewatch.errors import InputError, ValidationError

REQUIRED_COLUMNS = ("standard", "parameter", "unit", "limit", "edition", "table")
OPTIONAL_COLUMNS = ("name", "lower_limit", "kind", "note", "ideal")
SHIPPED_TABLE = "drinking_water.csv"
SHIPPED_SIDECAR = "drinking_water.sources.json"
DEFAULT_STANDARD = "WHO-GDWQ-2022"


def shipped_table_path() -> Path:
    """Path of the shipped standards CSV inside the installed package."""
    return Path(str(resources.files("minewatch") / "data" / "standards" / SHIPPED_TABLE))


def shipped_sidecar_path() -> Path:
    """Path of the shipped fingerprint sidecar (JSON)."""
    return Path(str(resources.files("minewatch") / "data" / "standards" / SHIPPED_SIDECAR))


def _fmt_number(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return repr(float(x))


def row_fingerprint(row: pd.Series | dict) -> str:
    """SHA-256 of a standard row's value *and* citation.

    The hashed text is ``standard|parameter|unit|limit|lower_limit|edition|table``
    with numbers in Python ``repr`` form (``0.01``, ``50.0``).
    """
    text = "|".join(
        [
            str(row["standard"]).strip(),
            str(row["parameter"]).strip(),
            str(row["unit"]).strip(),
            _fmt_number(row["limit"]),
            _fmt_number(row.get("lower_limit", math.nan)),
            str(row["edition"]).strip(),
            str(row["table"]).strip(),
        ]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_standards(path: str | Path | None = None) -> pd.DataFrame:
    """Read a standards table (the shipped one when ``path`` is None).

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``standard, parameter, unit, limit, edition, table``
        and optionally ``name, lower_limit, kind, note, ideal``.

    Returns
    -------
    pandas.DataFrame
        One row per (standard, parameter); ``unit`` canonicalised
        (``mg/L``, ``ug/L``, ``pH``...), ``limit`` / ``lower_limit`` / ``ideal`` float.

    Raises
    ------
    InputError
        Missing file or columns.
    ValidationError
        A row with an unknown unit, a non-numeric limit or a duplicate
        (standard, parameter); the message names the file, line and column.
    """
    src = Path(path) if path is not None else shipped_table_path()
    if not src.exists():
        raise InputError(f"standards table {src} does not exist")
    try:
        raw = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # parser errors from pandas
        raise InputError(f"{src}: cannot read as CSV: {exc}") from exc
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(
            f"{src}: missing column(s) {', '.join(missing)}",
            hint="a standards table needs columns " + ", ".join(REQUIRED_COLUMNS),
        )
    for c in OPTIONAL_COLUMNS:
        if c not in raw.columns:
            raw[c] = ""
    errors: list[str] = []
    rows = []
    seen: set[tuple[str, str]] = set()
    for i, r in raw.iterrows():
        line = i + 2  # header is line 1
        unit = normalise_unit(r["unit"])
        if unit is None:
            errors.append(f"line {line}, column 'unit': unknown unit {r['unit']!r}")
        nums = {}
        for col in ("limit", "lower_limit", "ideal"):
            txt = str(r[col]).strip()
            if txt == "":
                nums[col] = math.nan
                continue
            try:
                nums[col] = float(txt.replace(",", ".") if txt.count(",") == 1 and "." not in txt
                                  else txt)
            except ValueError:
                errors.append(f"line {line}, column {col!r}: {txt!r} is not a number")
                nums[col] = math.nan
        if str(r["limit"]).strip() == "":
            errors.append(f"line {line}, column 'limit': empty")
        key = (r["standard"].strip(), r["parameter"].strip())
        if not key[0] or not key[1]:
            errors.append(f"line {line}: empty 'standard' or 'parameter'")
        if key in seen:
            errors.append(f"line {line}: duplicate row for standard {key[0]!r}, parameter {key[1]!r}")
        seen.add(key)
        rows.append(
            {
                "standard": key[0],
                "parameter": key[1],
                "name": r["name"].strip(),
                "unit": unit,
                "limit": nums["limit"],
                "lower_limit": nums["lower_limit"],
                "ideal": nums["ideal"],
                "kind": r["kind"].strip() or "health",
                "edition": r["edition"].strip(),
                "table": r["table"].strip(),
                "note": r["note"].strip(),
            }
        )
    if errors:
        raise ValidationError(f"{src}: " + "; ".join(errors[:20])
                              + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
    return pd.DataFrame(rows)


def select_standard(table: pd.DataFrame, standard: str) -> pd.DataFrame:
    """Rows of one standard, indexed by parameter.

    Raises
    ------
    InputError
        When ``standard`` is not in the table (the message lists those that are).
    """
    sub = table[table["standard"] == standard]
    if sub.empty:
        have = ", ".join(sorted(table["standard"].unique()))
        raise InputError(f"standard {standard!r} is not in the standards table",
                         hint=f"choose one of: {have}")
    return sub.set_index("parameter", drop=False)


def fingerprints(table: pd.DataFrame) -> list[dict]:
    """Per-row fingerprint records as stored in the sidecar."""
    return [
        {"standard": r["standard"], "parameter": r["parameter"], "sha256": row_fingerprint(r)}
        for _, r in table.iterrows()
    ]


def verify_fingerprints(table: pd.DataFrame, sidecar: str | Path | None = None) -> list[str]:
    """Compare a table with its fingerprint sidecar.

    Returns
    -------
    list of str
        One message per row whose value/unit/citation differs from the
        recorded fingerprint, or that is missing from either side. Empty when
        the table matches.
    """
    path = Path(sidecar) if sidecar is not None else shipped_sidecar_path()
    data = json.loads(path.read_text(encoding="utf-8"))
    recorded = {(d["standard"], d["parameter"]): d["sha256"] for d in data["rows"]}
    problems = []
    current = {(d["standard"], d["parameter"]): d["sha256"] for d in fingerprints(table)}
    for key, digest in current.items():
        if key not in recorded:
            problems.append(f"{key[0]} {key[1]}: not in the sidecar (new row without a recorded source)")
        elif recorded[key] != digest:
            problems.append(
                f"{key[0]} {key[1]}: value, unit or citation changed without the sidecar being "
                "re-issued; check the source and update both"
            )
    for key in recorded:
        if key not in current:
            problems.append(f"{key[0]} {key[1]}: in the sidecar but not in the table")
    return problems


def table_version(sidecar: str | Path | None = None) -> str:
    """Version string of the shipped standards table (from its sidecar)."""
    path = Path(sidecar) if sidecar is not None else shipped_sidecar_path()
    return str(json.loads(path.read_text(encoding="utf-8"))["version"])


def write_sidecar(table: pd.DataFrame, path: str | Path, *, version: str, sources: dict) -> None:
    """Maintainer helper: write the fingerprint sidecar for ``table``."""
    doc = {"version": version, "sources": sources, "rows": fingerprints(table)}
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
