"""Column-mapping files: a national cadastre's own headers and codes -> registry fields.

A mapping file (YAML or JSON) looks like::

    kind: licences                # optional: the registry kind this file maps to
    crs: EPSG:32719               # optional: CRS of sources that carry none (CSV, bare .shp)
    date_format: "%d/%m/%Y"       # optional: strptime format of date cells (ISO always works)
    columns:                      # source header -> registry field (any language)
      "Código de concesión": licence_id
      Titular: holder
      Estado: status
      "Fecha de otorgamiento": valid_from
    values:                       # per registry field: source value -> registry value
      status: {VIGENTE: active, CADUCADO: expired, EN TRÁMITE: application}
      kind: {"Explotación": extraction, "Exploración": exploration}
    defaults:                     # a value for fields the source lacks (or leaves empty)
      kind: extraction
    templates:                    # build a field from other columns; {_row} = feature number
      licence_id: "PE-{CODIGO}"   # {_file} = source file name without extension
    geometry:                     # CSV only: where the geometry is
      wkt: WKT_GEOM               #   either a WKT column
      lon: ESTE                   #   or a lon/x and a lat/y column
      lat: NORTE
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from minewatch.documents import load_document
from minewatch.errors import InputError


@dataclass
class ColumnMapping:
    """A parsed mapping file (or the empty mapping)."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    defaults: dict[str, object] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    geometry: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    crs: str | None = None
    date_format: str | None = None
    source: str = "<none>"

    def validate_targets(self, field_names: tuple[str, ...]) -> None:
        allowed = set(field_names) | {"geometry"}
        for section, names in (("columns", self.columns.values()), ("values", self.values),
                               ("defaults", self.defaults), ("templates", self.templates)):
            for n in names:
                if n not in allowed:
                    raise InputError(
                        f"{self.source}: {section} names unknown registry field {n!r}",
                        hint="fields: " + ", ".join(field_names),
                    )


def load_mapping(path: str | Path | None) -> ColumnMapping:
    """Read a mapping file (``.yaml``, ``.yml`` or ``.json``); ``None`` gives the empty mapping."""
    if path is None:
        return ColumnMapping()
    p = Path(path)
    data = load_document(p)
    known = {"columns", "values", "defaults", "templates", "geometry", "kind", "crs",
             "date_format"}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"{p}: unknown section(s) {sorted(unknown)}",
                         hint="sections: " + ", ".join(sorted(known)))
    for sec in ("columns", "values", "defaults", "templates", "geometry"):
        if sec in data and not isinstance(data[sec], dict):
            raise InputError(f"{p}: section '{sec}' must be a mapping of key: value")
    values = {k: {str(a): b for a, b in (v or {}).items()} for k, v in
              (data.get("values") or {}).items()}
    return ColumnMapping(
        columns={str(k): str(v) for k, v in (data.get("columns") or {}).items()},
        values=values,
        defaults=dict(data.get("defaults") or {}),
        templates={str(k): str(v) for k, v in (data.get("templates") or {}).items()},
        geometry={str(k): str(v) for k, v in (data.get("geometry") or {}).items()},
        kind=data.get("kind"),
        crs=data.get("crs"),
        date_format=data.get("date_format"),
        source=str(p),
    )
