"""The FastAPI application: :func:`create_app` over one registry."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from minewatch import __version__
from minewatch.api import access, alerts, exports, field, records
from minewatch.api.errors import add_exception_handlers
from minewatch.registry import Registry, open_registry

_METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def _docs_page(app: FastAPI) -> str:
    """The interactive documentation without a CDN: every operation, its parameters and a
    link to /openapi.json (for Swagger UI or any OpenAPI client)."""
    spec = app.openapi()
    rows = []
    for path, ops in sorted(spec["paths"].items()):
        for method in _METHOD_ORDER:
            op = ops.get(method)
            if not op:
                continue
            params = ", ".join(p["name"] for p in op.get("parameters", []))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                f"</code></td><td>{html.escape(op.get('summary', ''))}<br><small>"
                f"{html.escape(params)}</small></td></tr>")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>minewatch API</title>"
        "<style>body{font:14px system-ui;margin:2em}td{padding:.3em .6em;border-bottom:1px "
        "solid #ddd;vertical-align:top}</style></head><body>"
        f"<h1>minewatch API {html.escape(__version__)}</h1><p>OpenAPI document: "
        "<a href=/openapi.json>/openapi.json</a>. Authenticate with "
        "<code>Authorization: Bearer &lt;token&gt;</code> (POST /api/tokens) or a session "
        "(POST /api/session, then send <code>X-CSRF-Token</code> on writes).</p>"
        f"<table>{''.join(rows)}</table></body></html>")


def create_app(registry: str | Path | Registry, *, secure_cookies: bool | None = None,
               files_dir: str | Path | None = None) -> FastAPI:
    """The minewatch REST API over ``registry`` (a .gpkg path, a ``postgresql://`` URL or an
    open :class:`Registry`).

    ``secure_cookies``: mark session cookies Secure always (True), never (False) or when the
    request came over HTTPS (None, the default).
    """
    reg = registry if isinstance(registry, Registry) else open_registry(
        registry, files_dir=files_dir)
    app = FastAPI(title="minewatch", version=__version__, docs_url=None, redoc_url=None,
                  description="Mining-site monitoring: registry, alerts, review, exports.")
    app.state.registry = reg
    app.state.secure_cookies = secure_cookies
    add_exception_handlers(app)
    for module in (access, alerts, records, field, exports):
        app.include_router(module.router)
    from minewatch.web import web_router  # the dashboard, under /ui (docs/web.md)

    app.include_router(web_router())

    @app.middleware("http")
    async def _reject_nul(request: Request, call_next):
        if "%00" in request.url.query or "%00" in request.url.path or "\x00" in request.url.path:
            return JSONResponse({"detail": "NUL characters are not allowed"}, status_code=400)
        return await call_next(request)

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> str:
        return _docs_page(app)

    @app.get("/api/health", tags=["access"])
    def health() -> dict:
        """Liveness: the registry's backend and schema revision."""
        return {"ok": True, "version": __version__, "backend": reg.kind,
                "schema": reg.schema_revision()}

    return app
