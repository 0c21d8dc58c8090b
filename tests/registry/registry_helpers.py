"""Small builders shared by the registry tests."""

from __future__ import annotations

import datetime as dt

import shapely


def licence(lid, geom, *, status="active", kind="extraction", valid_from="2020-01-01",
            valid_to="2030-12-31", effective_from=None, **kw) -> dict:
    rec = {"licence_id": lid, "kind": kind, "status": status, "valid_from": valid_from,
           "valid_to": valid_to, "geometry": geom, **kw}
    if effective_from:
        rec["effective_from"] = effective_from
    return rec


def same_geometry(a, b, tol=1e-9) -> bool:
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=tol)


def comparable(rows: list[dict], drop=("import_id", "recorded_at")) -> list[dict]:
    out = []
    for r in rows:
        out.append({k: v for k, v in r.items() if k not in drop and k != "geometry"})
    return out


def assert_same_rows(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    assert comparable(a) == comparable(b)
    for x, y in zip(a, b):
        if x.get("geometry") is None:
            assert y.get("geometry") is None
        else:
            assert same_geometry(x["geometry"], y["geometry"]), (x, y)


TODAY = dt.date(2024, 1, 1)
