"""``minewatch serve``: the REST API (and dashboard) over a registry."""

from __future__ import annotations

from pathlib import Path

import typer

from minewatch.cli import output
from minewatch.cli.main import app


@app.command()
def serve(
    registry: str = typer.Option(
        "registry.gpkg", "--registry", "-r", envvar="MINEWATCH_REGISTRY",
        help="Registry: a .gpkg path (created if missing) or a postgresql:// URL."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    files: Path = typer.Option(
        None, "--files", envvar="MINEWATCH_REGISTRY_FILES",
        help="Folder of inspection photos (default: <registry>.gpkg.files beside a GeoPackage; "
        "required for PostGIS to accept photos)."),
    secure_cookies: bool = typer.Option(
        None, "--secure-cookies/--no-secure-cookies",
        help="Mark session cookies Secure (default: when the request came over HTTPS; force it "
        "behind a TLS-terminating proxy)."),
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs) over a registry. On first
    start an admin user is created: password from MINEWATCH_ADMIN_PASSWORD, or generated and
    printed once."""
    import uvicorn

    from minewatch.api import create_app
    from minewatch.registry import init_registry, open_registry
    from minewatch.run.accounts import ADMIN_USER, ensure_admin

    is_file = "://" not in registry or registry.startswith("file://")
    reg = (init_registry(registry, files_dir=files) if is_file and not Path(registry).exists()
           else open_registry(registry, files_dir=files))
    console = output.console()
    generated = ensure_admin(reg)
    if generated:
        console.print(f"first start: created user {ADMIN_USER!r} with password {generated} "
                      "(shown once; change it with: minewatch users passwd admin)")
    application = create_app(reg, secure_cookies=secure_cookies)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"minewatch API on http://{shown}:{port}/  (docs: /docs, registry: {reg.url})")
    try:
        uvicorn.run(application, host=host, port=port, log_level="warning")
    finally:
        reg.close()
