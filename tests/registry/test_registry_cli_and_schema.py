"""The ``minewatch registry`` commands end to end, and schema migrations."""

from __future__ import annotations

import json
import sqlite3

import pytest
import shapely

from minewatch.cli.main import main
from minewatch.errors import RegistryError
from minewatch.registry import init_registry, migrate, open_registry
from minewatch.registry.schema import SPECS


def _run(capsys, *args) -> str:
    rc = main([*args])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return out.out


def test_cli_init_import_list_show_history_export(new_url, tmp_path, capsys, monkeypatch):
    url = new_url()
    monkeypatch.setenv("COLUMNS", "200")
    assert "registry ready" in _run(capsys, "registry", "init", url)
    src = tmp_path / "lic.csv"
    src.write_text(
        "licence_id,kind,status,holder,valid_from,valid_to,effective_from,source_document,wkt\n"
        "C-1,extraction,active,Uno,2019-01-01,2029-01-01,2019-01-01,RD-1,"
        "\"POLYGON((-70.3 -13.2,-70.2 -13.2,-70.2 -13.1,-70.3 -13.1,-70.3 -13.2))\"\n"
        "C-1,extraction,active,Dos,2019-01-01,2029-01-01,2022-06-01,Transfer-9,"
        "\"POLYGON((-70.3 -13.2,-70.2 -13.2,-70.2 -13.1,-70.3 -13.1,-70.3 -13.2))\"\n"
        "C-2,exploration,expired,Tres,2015-01-01,2020-01-01,2015-01-01,RD-2,"
        "\"POLYGON((-70.25 -13.15,-70.1 -13.15,-70.1 -13.0,-70.25 -13.0,-70.25 -13.15))\"\n")
    report = tmp_path / "report.json"
    out = _run(capsys, "registry", "import", str(src), "-r", url, "-k", "licences",
               "--report", str(report))
    assert "3 new" in out
    assert json.loads(report.read_text())["inserted"] == 3
    out = _run(capsys, "registry", "list", "-r", url, "--json")
    assert [(r["licence_id"], r["version"]) for r in json.loads(out)] == [("C-1", 2), ("C-2", 1)]
    out = _run(capsys, "registry", "list", "-r", url, "--json", "--all-versions")
    assert len(json.loads(out)) == 3
    out = _run(capsys, "registry", "list", "-r", url)
    assert "2 licences" in out and "C-1" in out
    out = _run(capsys, "registry", "list", "-r", url, "--point", "-70.22,-13.12",
               "--at", "2023-01-01", "--json")
    assert [(r["licence_id"], r["holder"]) for r in json.loads(out)] == [("C-1", "Dos")]
    out = _run(capsys, "registry", "list", "-r", url, "--at", "2018-01-01", "--json")
    assert [r["licence_id"] for r in json.loads(out)] == ["C-2"]
    out = _run(capsys, "registry", "show", "licences", "C-1", "-r", url)
    shown = json.loads(out)
    assert shown["holder"] == "Dos" and shown["version"] == 2
    assert shown["geometry"]["type"] == "MultiPolygon"
    out = _run(capsys, "registry", "history", "C-1", "-r", url)
    assert "Transfer-9" in out and "holder" in out and "2022-06-01" in out
    exp = tmp_path / "out.gpkg"
    assert "wrote 3 licences" in _run(capsys, "registry", "export", str(exp), "-r", url)
    out = _run(capsys, "registry", "list", "-r", url, "--kind", "receptors")
    assert "0 receptors" in out


def test_cli_triage(registry, capsys):
    run = registry.record_run({"outcome": "ok"})
    aid = registry.record_alerts(run, [{"alert_id": "A-1", "onset_date": "2023-01-01",
                                        "area_ha": 1.0,
                                        "geometry": shapely.box(0, 0, 0.01, 0.01)}])["A-1"]
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    _run(capsys, "registry", "triage", aid, "--state", "confirmed", "--by", "me",
         "--reason", "seen on site", "-r", url)
    out = json.loads(_run(capsys, "registry", "show", "alerts", aid, "-r", url))
    assert out["triage_state"] == "confirmed"
    assert [h["state"] for h in out["triage_history"]] == ["new", "confirmed"]
    out = json.loads(_run(capsys, "registry", "list", "-r", url, "-k", "alerts", "--queue",
                          "--json"))
    assert out == []


def test_migrations_create_the_head_schema(new_url):
    reg = init_registry(new_url())
    try:
        assert reg.schema_revision() == migrate.head_revision()
        with reg.read() as conn:
            import sqlalchemy as sa

            names = set(sa.inspect(conn).get_table_names())
        assert set(SPECS) <= names and migrate.VERSION_TABLE in names
    finally:
        reg.close()


def test_open_refuses_foreign_and_newer_databases(tmp_path):
    import geopandas as gpd

    foreign = tmp_path / "qgis_layer.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=4326).to_file(foreign)
    with pytest.raises(RegistryError, match="is not a minewatch registry"):
        open_registry(foreign)
    path = tmp_path / "r.gpkg"
    init_registry(path).close()
    con = sqlite3.connect(path)
    with con:
        con.execute(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'")
    con.close()
    with pytest.raises(RegistryError, match="schema 9999, newer than this minewatch"):
        open_registry(path)
