"""The dashboard's routes: HTML pages, static assets, a run's map layers and imagery tiles.

Pages are server-rendered shells (translated with the one gettext catalogue of
:mod:`minewatch.reports.i18n`); their scripts read the REST API (``/api``) with the browser's
session cookie and send the CSRF token on writes. Everything lives under ``/ui`` (``/`` redirects
there), so the API and the dashboard never compete for a path.
"""

from __future__ import annotations

import json
import mimetypes
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from minewatch.api.auth import Reg, Who
from minewatch.errors import InputError
from minewatch.reports.i18n import LANGUAGES, Translator, extract_messages
from minewatch.web import tiles

PREFIX = "/ui"
LANG_COOKIE = "minewatch_lang"
_WEB = resources.files("minewatch.web")
STATIC = Path(str(_WEB.joinpath("static")))
TEMPLATES = Path(str(_WEB.joinpath("templates")))


def pick_lang(request: Request) -> str:
    """The page language: ``?lang=``, else the language cookie, else the browser's
    ``Accept-Language`` (first shipped one), else English."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGUAGES:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


@lru_cache(maxsize=None)
def script_messages() -> tuple[str, ...]:
    """The message ids the dashboard's scripts translate (``t("...")``)."""
    found: set = set()
    for path in STATIC.glob("*.js"):
        found |= {m for m in extract_messages(path.read_text(encoding="utf-8")) if isinstance(m, str)}
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def _env(lang: str) -> jinja2.Environment:
    t = Translator(lang)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)
    return env


def render_page(request: Request, template: str, **context) -> HTMLResponse:
    """Render ``template`` in the request's language, with the scripts' config and messages."""
    lang = pick_lang(request)
    t = Translator(lang)
    config = {"lang": lang, "api": "/api", "ui": PREFIX, "decimal": "," if t.decimal_comma else ".",
              "messages": {m: t.gettext(m) for m in script_messages()}, **context}
    html = _env(lang).get_template(template).render(
        lang=lang, languages=LANGUAGES, ui=PREFIX, path=request.url.path,
        config=json.dumps(config, ensure_ascii=False).replace("<", "\\u003c"), **context)
    response = HTMLResponse(html)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def run_dir(reg, who, run_id: str) -> Path:
    """The output folder of ``run_id`` for a caller who may read runs (404 when unknown or gone)."""
    from minewatch.run import accounts
    from minewatch.run.alerts import run_folder

    accounts.require(who, "read")
    folder = run_folder(reg, run_id)
    if folder is None:
        raise HTTPException(404, f"no outputs of run {run_id!r} on this server")
    return folder


def run_layers(folder: Path) -> dict:
    """What the map can show of a run: its tile layers, bounds (lon/lat), flow paths and timeline."""
    import rasterio
    from rasterio.warp import transform_bounds

    bounds = None
    for name in ("composite_after.tif", "footprint.tif"):
        if (folder / name).exists():
            with rasterio.open(folder / name) as src:
                bounds = list(transform_bounds(src.crs, "EPSG:4326", *src.bounds))
            break
    paths = {"type": "FeatureCollection", "features": []}
    if (folder / "flow_paths.geojson").exists():
        paths = json.loads((folder / "flow_paths.geojson").read_text(encoding="utf-8"))
    summary = {}
    if (folder / "summary.json").exists():
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return {"layers": tiles.available_layers(folder), "bounds": bounds, "flow_paths": paths,
            "timeline": summary.get("disturbance", {}).get("timeline", []),
            "period": summary.get("period"), "receptors_at_risk": summary.get("receptors_at_risk", []),
            "footprint": summary.get("footprint")}


def web_router() -> APIRouter:
    """The dashboard's routes (include it in the API application)."""
    r = APIRouter(include_in_schema=False)

    @r.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=307)

    @r.get(PREFIX + "/")
    def map_page(request: Request):
        return render_page(request, "map.html.j2")

    @r.get(PREFIX + "/queue")
    def queue_page(request: Request):
        return render_page(request, "queue.html.j2")

    @r.get(PREFIX + "/alerts/{alert_id}")
    def alert_page(request: Request, alert_id: str):
        return render_page(request, "alert.html.j2", alert_id=alert_id)

    @r.get(PREFIX + "/sites/{site_id}")
    def site_page(request: Request, site_id: str):
        return render_page(request, "site.html.j2", site_id=site_id)

    @r.get(PREFIX + "/login")
    def login_page(request: Request):
        return render_page(request, "login.html.j2")

    @r.get(PREFIX + "/runs/{run_id}/layers")
    def layers(run_id: str, who: Who, reg: Reg) -> dict:
        return run_layers(run_dir(reg, who, run_id))

    @r.get(PREFIX + "/tiles/{run_id}/{layer}/{z}/{x}/{y}.png")
    def tile(run_id: str, layer: str, z: int, x: int, y: int, who: Who, reg: Reg) -> Response:
        folder = run_dir(reg, who, run_id)
        if not (0 <= z <= 24 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
            raise HTTPException(404, f"no tile {z}/{x}/{y}")
        try:
            png = tiles.render_tile(folder, layer, z, x, y)
        except InputError as exc:
            raise HTTPException(404, str(exc)) from None
        if png is None:
            return Response(status_code=204)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @r.get(PREFIX + "/static/{path:path}")
    def static(path: str) -> Response:
        target = (STATIC / path).resolve()
        if not target.is_file() or STATIC.resolve() not in target.parents:
            raise HTTPException(404, "not found")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".js":
            kind = "text/javascript"
        return Response(target.read_bytes(), media_type=kind, headers={"Cache-Control": "public, max-age=3600"})

    return r
