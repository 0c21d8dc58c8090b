"""Foreign cadastres: a mapping file for headers and codes, any CRS, CSV with WKT or lon/lat."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from minewatch.errors import InputError


def test_spanish_cadastre_csv_in_utm_with_mapping(registry, tmp_path):
    csvf = tmp_path / "catastro.csv"
    csvf.write_text(
        "CÓDIGO;TITULAR;ESTADO;TIPO;F_OTORGA;F_VENCE;PROVINCIA;WKT_GEOM\n"
        "010012319;Minera Ñandú SAC;VIGENTE;Concesión de explotación;15/03/2019;15/03/2039;"
        "Tambopata;POLYGON((480000 8600000,482000 8600000,482000 8602000,480000 8602000,"
        "480000 8600000))\n"
        "010044120;Oro Andino EIRL;EXTINGUIDO;Petitorio de exploración;01/10/2017;01/10/2020;"
        "Manu;POLYGON((490000 8610000,491000 8610000,491000 8611000,490000 8610000))\n",
        encoding="utf-8")
    mapping = tmp_path / "ingemmet.yaml"
    mapping.write_text(
        "kind: licences\n"
        "crs: EPSG:32719\n"
        "date_format: '%d/%m/%Y'\n"
        "columns: {CÓDIGO: licence_id, TITULAR: holder, ESTADO: status, TIPO: kind, "
        "F_OTORGA: valid_from, F_VENCE: valid_to}\n"
        "values:\n"
        "  status: {VIGENTE: active, EXTINGUIDO: expired}\n"
        "  kind: {Concesión de explotación: extraction, Petitorio de exploración: exploration}\n"
        "geometry: {wkt: WKT_GEOM}\n"
        "defaults: {source_document: INGEMMET catastro 2024-01}\n",
        encoding="utf-8")
    rep = registry.import_file(csvf, None, mapping=mapping)
    assert rep.inserted == 2 and not rep.errors
    a = registry.get("licences", "010012319")
    assert (a["holder"], a["status"], a["kind"]) == ("Minera Ñandú SAC", "active", "extraction")
    assert a["valid_from"] == dt.date(2019, 3, 15)
    assert json.loads(a["extra"]) == {"PROVINCIA": "Tambopata"}  # unmapped: kept, not lost
    assert a["source_document"] == "INGEMMET catastro 2024-01"
    x, y = a["geometry"].centroid.coords[0]
    assert -69.2 < x < -69.1 and -12.7 < y < -12.6  # UTM 19S -> lon/lat
    assert registry.get("licences", "010044120")["status"] == "expired"


def test_lonlat_csv_receptors(registry, tmp_path):
    f = tmp_path / "pozos.csv"
    f.write_text("id,tipo,nombre,lon,lat\nW-1,Well,Pozo 1,-70.1,-12.9\n"
                 "S-1,spring,Ojo de agua,-70.2,-12.8\n")
    m = tmp_path / "m.json"
    m.write_text(json.dumps({"columns": {"id": "receptor_id", "tipo": "kind",
                                         "nombre": "name"}}))
    rep = registry.import_file(f, "receptors", mapping=m)
    assert rep.inserted == 2
    w = registry.get("receptors", "W-1")
    assert (w["kind"], w["geometry"].x, w["geometry"].y) == ("well", -70.1, -12.9)


def test_mapping_errors_are_named(registry, tmp_path):
    m = tmp_path / "bad.yaml"
    m.write_text("columns: {A: licence_number}\n")
    f = tmp_path / "x.csv"
    f.write_text("A,wkt\n1,POINT(0 0)\n")
    with pytest.raises(InputError, match=r"bad.yaml: columns names unknown registry field "
                       r"'licence_number'"):
        registry.import_file(f, "licences", mapping=m)
    m.write_text("colums: {}\n")
    with pytest.raises(InputError, match=r"bad.yaml: unknown section"):
        registry.import_file(f, "licences", mapping=m)
