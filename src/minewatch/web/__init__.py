"""The dashboard: HTML pages, static assets (MapLibre GL JS vendored) and imagery tiles of a run,
served by the API application under ``/ui`` (see docs/web.md).

The API application includes :func:`web_router`; it reads the registry from
``app.state.registry``.
"""

from minewatch.web.pages import web_router

__all__ = ["web_router"]
