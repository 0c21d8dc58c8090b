"""The REST API: one FastAPI application over a registry (``minewatch serve``).

Route handlers only parse the request and call one application function of ``run/``
(the same the CLI calls); errors are translated to HTTP statuses in one place
(:mod:`minewatch.api.errors`). See ``docs/api.md``.
"""

from minewatch.api.app import create_app

__all__ = ["create_app"]
