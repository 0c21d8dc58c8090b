"""A real STAC API on loopback, for tests and benchmarks without internet.

:class:`LocalStacServer` serves an *archive folder* (see
:mod:`minewatch.testing.stac_archive`) over HTTP with uvicorn in a background
thread:

- ``GET /`` landing page, ``GET /conformance``, ``GET /collections[/{id}]``,
  ``GET /collections/{id}/items/{item}``;
- ``GET|POST /search`` (STAC API item search): ``collections``, ``bbox``,
  ``intersects`` (its bounding box), ``datetime``, ``ids``, ``query`` (``lt``, ``lte``,
  ``gt``, ``gte``, ``eq``), ``limit`` and paging through ``next`` links with a token;
- ``GET|HEAD /files/{path}``: the COGs, with HTTP range requests (206);
- ``GET /api/sas/v1/token/{collection}``: a Planetary-Computer-like SAS token
  endpoint; with ``require_token`` set, file requests without the token get 403.

Faults are injected per path pattern (:meth:`LocalStacServer.add_fault`): a status
(429 with ``Retry-After``, 500, 503) or a slow answer, for a number of requests.
Every request and every byte served is recorded in :attr:`LocalStacServer.log`.

Only loopback addresses are ever bound.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

_CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]


@dataclass
class Fault:
    """Answer ``times`` requests whose path matches ``pattern`` with a fault."""

    pattern: str
    status: int | None = None
    delay: float = 0.0
    times: int = 1
    retry_after: float | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.pattern, path) is not None


@dataclass
class RequestRecord:
    method: str
    path: str
    status: int
    bytes: int
    range: str | None = None


@dataclass
class ServerLog:
    """Everything the server answered, thread-safe enough for tests (appends only)."""

    records: list[RequestRecord] = field(default_factory=list)

    def clear(self) -> None:
        self.records.clear()

    def file_bytes(self, pattern: str = "") -> int:
        return sum(r.bytes for r in self.records
                   if r.path.startswith("/files/") and pattern in r.path)

    def count(self, pattern: str = "", *, status: int | None = None) -> int:
        return sum(1 for r in self.records if pattern in r.path
                   and (status is None or r.status == status))

    @property
    def total_bytes(self) -> int:
        return sum(r.bytes for r in self.records)


def _parse_interval(text: str | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    if not text:
        return None, None

    def one(s: str) -> dt.datetime | None:
        s = s.strip()
        if s in ("", ".."):
            return None
        if len(s) == 10:
            s += "T00:00:00Z"
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))

    if "/" in text:
        a, b = text.split("/", 1)
        return one(a), one(b)
    t = one(text)
    return t, t


def _item_time(item: dict) -> dt.datetime:
    props = item["properties"]
    s = props.get("datetime") or props.get("start_datetime")
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _bbox_overlap(a: list[float], b: list[float]) -> bool:
    return not (a[2] < b[0] or a[0] > b[2] or a[3] < b[1] or a[1] > b[3])


def _geom_bbox(geom: dict) -> list[float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: Any) -> None:
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for sub in c:
                walk(sub)

    walk(geom["coordinates"])
    return [min(xs), min(ys), max(xs), max(ys)]


_OPS = {"lt": lambda a, b: a < b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b, "eq": lambda a, b: a == b, "neq": lambda a, b: a != b}


class LocalStacServer:
    """Serve a STAC archive folder on ``127.0.0.1`` (context manager).

    Parameters
    ----------
    archive
        Folder with ``collections/<id>.json``, ``items/<id>/*.json`` and ``files/``.
    require_token
        When set, ``/files/`` requests must carry ``?<token>`` (as handed out by the
        SAS token endpoint) or get 403.
    max_limit
        Largest page size granted to a search (forces paging in tests).
    """

    def __init__(self, archive: str | Path, *, require_token: str | None = None,
                 max_limit: int = 100) -> None:
        self.archive = Path(archive)
        self.require_token = require_token
        self.max_limit = max_limit
        self.faults: list[Fault] = []
        self.log = ServerLog()
        self.url = ""
        self._lock = threading.Lock()
        self._collections: dict[str, dict] = {}
        self._items: dict[str, list[dict]] = {}
        self._load()
        self.app = self._make_app()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- archive ---------------------------------------------------------------------

    def _load(self) -> None:
        for path in sorted((self.archive / "collections").glob("*.json")):
            doc = json.loads(path.read_text())
            self._collections[doc["id"]] = doc
            items = [json.loads(p.read_text())
                     for p in sorted((self.archive / "items" / doc["id"]).glob("*.json"))]
            items.sort(key=lambda it: (_item_time(it), it["id"]))
            self._items[doc["id"]] = items

    def _absolute(self, item: dict) -> dict:
        out = json.loads(json.dumps(item))
        for asset in out.get("assets", {}).values():
            href = asset["href"]
            if "://" not in href:
                asset["href"] = f"{self.url}/{href.lstrip('/')}"
        out["links"] = [
            {"rel": "self", "href": f"{self.url}/collections/{item['collection']}/items/{item['id']}"},
            {"rel": "collection", "href": f"{self.url}/collections/{item['collection']}"},
            {"rel": "root", "href": f"{self.url}/"},
        ]
        return out

    # -- faults ----------------------------------------------------------------------

    def add_fault(self, pattern: str, *, status: int | None = None, delay: float = 0.0,
                  times: int = 1, retry_after: float | None = None,
                  method: str | None = None) -> Fault:
        """Inject a fault into the next ``times`` requests whose path matches ``pattern``."""
        fault = Fault(pattern, status, delay, times, retry_after, method)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    # -- app -------------------------------------------------------------------------

    def _make_app(self) -> FastAPI:
        app = FastAPI(title="minewatch local STAC API", docs_url=None, redoc_url=None,
                      openapi_url=None)
        server = self

        @app.middleware("http")
        async def faults_and_log(request: Request, call_next):  # type: ignore[no-untyped-def]
            path = request.url.path
            fault = server._take_fault(request.method, path)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = str(int(math.ceil(fault.retry_after)))
                    resp = JSONResponse({"code": "InjectedFault",
                                         "description": f"injected {fault.status}"},
                                        status_code=fault.status, headers=headers)
                    server.log.records.append(RequestRecord(request.method, path,
                                                            fault.status, 0))
                    return resp
            response = await call_next(request)
            size = int(response.headers.get("content-length", 0)) \
                if request.method != "HEAD" else 0
            server.log.records.append(RequestRecord(
                request.method, path, response.status_code, size,
                request.headers.get("range")))
            return response

        @app.get("/")
        def landing() -> dict:
            base = server.url
            return {
                "type": "Catalog", "id": "minewatch-local", "stac_version": "1.0.0",
                "description": "minewatch local STAC API (tests)", "conformsTo": _CONFORMS,
                "links": [
                    {"rel": "self", "href": f"{base}/", "type": "application/json"},
                    {"rel": "root", "href": f"{base}/", "type": "application/json"},
                    {"rel": "conformance", "href": f"{base}/conformance"},
                    {"rel": "data", "href": f"{base}/collections"},
                    {"rel": "search", "href": f"{base}/search", "method": "GET",
                     "type": "application/geo+json"},
                    {"rel": "search", "href": f"{base}/search", "method": "POST",
                     "type": "application/geo+json"},
                ] + [{"rel": "child", "href": f"{base}/collections/{cid}"}
                     for cid in server._collections],
            }

        @app.get("/conformance")
        def conformance() -> dict:
            return {"conformsTo": _CONFORMS}

        def collection_doc(cid: str) -> dict:
            doc = dict(server._collections[cid])
            doc["links"] = [
                {"rel": "self", "href": f"{server.url}/collections/{cid}"},
                {"rel": "root", "href": f"{server.url}/"},
                {"rel": "items", "href": f"{server.url}/collections/{cid}/items"},
            ]
            return doc

        @app.get("/collections")
        def collections() -> dict:
            return {"collections": [collection_doc(c) for c in server._collections],
                    "links": [{"rel": "self", "href": f"{server.url}/collections"}]}

        @app.get("/collections/{cid}")
        def collection(cid: str) -> dict:
            if cid not in server._collections:
                raise HTTPException(404, f"no collection {cid}")
            return collection_doc(cid)

        @app.get("/collections/{cid}/items/{item_id}")
        def item(cid: str, item_id: str) -> dict:
            for it in server._items.get(cid, []):
                if it["id"] == item_id:
                    return server._absolute(it)
            raise HTTPException(404, f"no item {item_id}")

        def do_search(params: dict[str, Any], method: str) -> dict:
            cids = params.get("collections") or list(server._collections)
            if isinstance(cids, str):
                cids = cids.split(",")
            bbox = params.get("bbox")
            if isinstance(bbox, str):
                bbox = [float(v) for v in bbox.split(",")]
            if params.get("intersects"):
                inter = params["intersects"]
                if isinstance(inter, str):
                    inter = json.loads(inter)
                bbox = _geom_bbox(inter)
            start, end = _parse_interval(params.get("datetime"))
            ids = params.get("ids")
            if isinstance(ids, str):
                ids = ids.split(",")
            query = params.get("query") or {}
            if isinstance(query, str):
                query = json.loads(query)
            matched = []
            for cid in cids:
                for it in server._items.get(cid, []):
                    if ids and it["id"] not in ids:
                        continue
                    if bbox and not _bbox_overlap(it["bbox"], bbox):
                        continue
                    t = _item_time(it)
                    if start and t < start:
                        continue
                    if end and t > end:
                        continue
                    ok = True
                    for prop, conds in query.items():
                        value = it["properties"].get(prop)
                        for op, ref in conds.items():
                            if isinstance(value, (int, float)) and isinstance(ref, str):
                                ref = float(ref)
                            if value is None or not _OPS[op](value, ref):
                                ok = False
                    if ok:
                        matched.append(it)
            limit = min(int(params.get("limit") or 10), server.max_limit)
            token = params.get("token") or "0"
            offset = int(str(token).split(":")[-1])
            page = matched[offset:offset + limit]
            links: list[dict] = [{"rel": "root", "href": f"{server.url}/"}]
            if offset + limit < len(matched):
                nxt = f"next:{offset + limit}"
                if method == "POST":
                    body = {k: v for k, v in params.items() if k != "token"}
                    body["token"] = nxt
                    links.append({"rel": "next", "href": f"{server.url}/search",
                                  "method": "POST", "body": body, "merge": False})
                else:
                    from urllib.parse import urlencode

                    q = {k: (",".join(map(str, v)) if isinstance(v, list) else
                             json.dumps(v) if isinstance(v, dict) else v)
                         for k, v in params.items() if k != "token"}
                    q["token"] = nxt
                    links.append({"rel": "next", "href": f"{server.url}/search?{urlencode(q)}",
                                  "method": "GET"})
            return {"type": "FeatureCollection",
                    "features": [server._absolute(it) for it in page],
                    "links": links, "numberMatched": len(matched),
                    "numberReturned": len(page)}

        @app.get("/search")
        def search_get(request: Request) -> dict:
            return do_search(dict(request.query_params), "GET")

        @app.post("/search")
        async def search_post(request: Request) -> dict:
            return do_search(await request.json(), "POST")

        @app.get("/api/sas/v1/token/{cid}")
        def sas_token(cid: str) -> dict:
            expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
            return {"msft:expiry": expiry.isoformat().replace("+00:00", "Z"),
                    "token": server.require_token or "sv=local&sig=open"}

        @app.api_route("/files/{path:path}", methods=["GET", "HEAD"])
        def files(path: str, request: Request) -> Response:
            if server.require_token is not None:
                if server.require_token not in request.url.query:
                    return JSONResponse({"code": "AuthenticationFailed",
                                         "description": "missing or wrong SAS token"},
                                        status_code=403)
            target = (server.archive / "files" / path).resolve()
            if not target.is_relative_to((server.archive / "files").resolve()) \
                    or not target.is_file():
                raise HTTPException(404, f"no file {path}")
            size = target.stat().st_size
            headers = {"Accept-Ranges": "bytes", "Content-Type": "image/tiff"}
            rng = request.headers.get("range")
            if request.method == "HEAD":
                return Response(status_code=200, headers={**headers,
                                                          "Content-Length": str(size)})
            if rng:
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
                if not m:
                    return Response(status_code=416,
                                    headers={"Content-Range": f"bytes */{size}"})
                if m.group(1) == "":
                    start = max(0, size - int(m.group(2)))
                    end = size - 1
                else:
                    start = int(m.group(1))
                    end = min(size - 1, int(m.group(2))) if m.group(2) else size - 1
                if start >= size or end < start:
                    return Response(status_code=416,
                                    headers={"Content-Range": f"bytes */{size}"})
                with target.open("rb") as fh:
                    fh.seek(start)
                    body = fh.read(end - start + 1)
                return Response(body, status_code=206, headers={
                    **headers, "Content-Range": f"bytes {start}-{end}/{size}"})
            return Response(target.read_bytes(), status_code=200, headers=headers)

        return app

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> "LocalStacServer":
        import uvicorn

        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="error",
                                access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True,
                                        name="minewatch-stac-server")
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("local STAC server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "LocalStacServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
