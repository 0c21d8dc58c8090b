"""Import -> export -> re-import loses nothing, in every format, on both backends."""

from __future__ import annotations

import pytest
import shapely

from minewatch.errors import InputError
from minewatch.registry import init_registry
from registry_helpers import assert_same_rows, licence

FORMATS = ["geojson", "gpkg", "zip", "kml", "csv"]


def _fill(reg):
    poly_hole = shapely.Polygon(
        [(-70.3, -13.2), (-70.1, -13.2), (-70.1, -13.0), (-70.3, -13.0)],
        [[(-70.25, -13.15), (-70.2, -13.15), (-70.2, -13.1), (-70.25, -13.15)]])
    multi = shapely.MultiPolygon([shapely.box(-69.5, -12.5, -69.4, -12.4),
                                  shapely.box(-69.3, -12.5, -69.2, -12.4)])
    reg.import_records("licences", [
        licence("PE-01", poly_hole, holder="Compañía Minera Ñuñoa S.A.C.", commodities="Au,Cu",
                deposit_id="D-1", operator_id="OP-7", source_document="R.D. 1/2019",
                valid_from="2019-01-01", valid_to="2039-01-01", change_note="otorgamiento",
                **{"Región": "Madre de Dios", "Área (ha)": 412.5}),
        licence("PE-01", poly_hole.buffer(0.01, join_style="mitre"), holder="Compañía Minera "
                "Ñuñoa S.A.C.", commodities="Au,Cu", deposit_id="D-1", operator_id="OP-7",
                valid_from="2019-01-01", valid_to="2039-01-01", effective_from="2021-07-15",
                source_document="R.D. 88/2021", change_note="ampliación"),
        licence("PE-01", poly_hole.buffer(0.01, join_style="mitre"), holder="Oro Verde SAC",
                status="suspended", commodities="Au,Cu", deposit_id="D-1", operator_id="OP-9",
                valid_from="2019-01-01", valid_to="2039-01-01", effective_from="2023-02-01",
                source_document="Oficio 3/2023"),
        licence("PE-02", multi, kind="exploration", status="application",
                valid_from="2024-03-01", valid_to=None),
    ])
    reg.import_records("sites", [{
        "site_id": "S-1", "name": "Huepetuhe", "deposit_ids": "D-1", "licence_ids": "PE-01,PE-02",
        "receptor_ids": "R-2", "geometry": shapely.box(-70.4, -13.3, -69.0, -12.3)}])
    reg.import_records("receptors", [
        {"receptor_id": "R-1", "kind": "village", "name": "Boca Colorado", "population": 1800,
         "geometry": shapely.Point(-70.0, -12.9)},
        {"receptor_id": "R-2", "kind": "river_reach", "name": "Río Madre de Dios",
         "geometry": shapely.LineString([(-70.2, -12.8), (-69.8, -12.7), (-69.4, -12.6)])},
        {"receptor_id": "R-3", "kind": "protected_area", "name": "Tambopata",
         "geometry": shapely.box(-69.9, -13.2, -69.6, -12.95)},
    ])


@pytest.mark.parametrize("fmt", FORMATS)
def test_licences_roundtrip(registry, new_url, tmp_path, fmt):
    _fill(registry)
    out = tmp_path / f"licences.{fmt}"
    assert registry.export("licences", out) == 4
    other = init_registry(new_url())
    try:
        rep = other.import_file(out, "licences")
        assert (rep.inserted, rep.errors) == (4, [])
        assert_same_rows(registry.rows("licences"), other.rows("licences"))
        assert [h["changes"] for h in other.licence_history("PE-01")] == [
            ["created"], ["boundary"], ["holder", "operator_id", "status"]]
        # Re-importing into the original changes nothing.
        again = registry.import_file(out, "licences")
        assert (again.inserted, again.unchanged) == (0, 4)
        # And the copy exports to the same file content, feature for feature.
        out2 = tmp_path / f"again.{fmt}"
        other.export("licences", out2)
        third = init_registry(new_url())
        third.import_file(out2, "licences")
        assert_same_rows(registry.rows("licences"), third.rows("licences"))
        third.close()
    finally:
        other.close()


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "kml", "csv"])
def test_sites_and_mixed_receptors_roundtrip(registry, new_url, tmp_path, fmt):
    _fill(registry)
    other = init_registry(new_url())
    try:
        for kind in ("sites", "receptors"):
            out = tmp_path / f"{kind}.{fmt}"
            registry.export(kind, out)
            other.import_file(out, kind)
            assert_same_rows(registry.rows(kind), other.rows(kind))
        assert other.site("S-1").licence_ids == ["PE-01", "PE-02"]
    finally:
        other.close()


def test_shapefile_refuses_mixed_geometry_types(registry, tmp_path):
    _fill(registry)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match="mixes geometry types"):
        registry.export("receptors", out / "r.zip")
    assert list(out.iterdir()) == []  # no half-written leftovers


def test_export_is_readable_by_gdal(registry, tmp_path):
    import pyogrio

    _fill(registry)
    for fmt in FORMATS[:4]:
        out = tmp_path / f"l.{fmt}"
        registry.export("licences", out)
        df = pyogrio.read_dataframe(out)
        assert len(df) == 4
        # Shapefile and KML do not tell Polygon from MultiPolygon: one-part shapes read as
        # Polygon (and are promoted back on import).
        allowed = {"MultiPolygon", "Polygon"} if fmt in ("zip", "kml") else {"MultiPolygon"}
        assert set(df.geometry.geom_type) <= allowed


def test_import_from_another_registry_file(registry, new_url, tmp_path):
    """A registry GeoPackage has many layers: import picks the one named like the kind."""
    _fill(registry)
    src = init_registry(str(tmp_path / "other.gpkg"))
    src.import_records("receptors", [{"receptor_id": "X-1", "kind": "spring",
                                      "geometry": shapely.Point(-70, -12)}])
    src.import_records("licences", registry.rows("licences")[:1] and [
        {k: v for k, v in registry.rows("licences")[0].items()
         if k not in ("version", "effective_to", "import_id")}])
    src.close()
    rep = registry.import_file(tmp_path / "other.gpkg", "receptors")
    assert rep.inserted == 1 and registry.get("receptors", "X-1")["kind"] == "spring"
    assert registry.import_file(tmp_path / "other.gpkg", "licences").unchanged == 1
    import geopandas as gpd

    two = tmp_path / "two.gpkg"
    for name in ("a", "b"):
        gpd.GeoDataFrame({"parcel_id": ["P"]}, geometry=[shapely.box(0, 0, 1, 1)],
                         crs=4326).to_file(two, layer=name)
    with pytest.raises(InputError, match=r"two.gpkg: holds 2 layers \(a, b\)"):
        registry.import_file(two, "parcels")
    assert registry.import_file(two, "parcels", layer="b").inserted == 1
