"""The registry: the user's cadastre and monitoring record, in a GeoPackage or PostGIS.

>>> from minewatch.registry import open_registry
>>> reg = open_registry("cadastre.gpkg", create=True)          # doctest: +SKIP
>>> reg.import_file("licences.geojson", "licences")            # doctest: +SKIP
>>> reg.licences_covering((-70.2, -13.1), "2023-05-01")        # doctest: +SKIP

See ``docs/registry.md``.
"""

from minewatch.registry.report import ImportReport, Issue
from minewatch.registry.sites import Site
from minewatch.registry.store import Registry, init_registry, open_registry

__all__ = ["ImportReport", "Issue", "Registry", "Site", "init_registry", "open_registry"]
