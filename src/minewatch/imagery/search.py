"""STAC API sources and item search.

:func:`resolve_source` maps ``--stac-url`` (a known source name or any STAC API URL)
to a URL and the signer its asset hrefs need; :func:`search_items` runs an item
search with pystac-client (POST ``/search``, every page followed, retried by
urllib3 under a :class:`~minewatch.imagery.http.RetryPolicy`) and keeps the result
in the download cache once the searched period is stable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from minewatch.errors import InputError, NetworkError
from minewatch.imagery.aoi import BBox
from minewatch.imagery.cache import Cache, digest
from minewatch.imagery.http import (
    PlanetaryComputerSigner,
    RetryPolicy,
    Signer,
    describe_connection_error,
    no_signing,
    urllib3_retry,
)

#: Source names accepted by ``--stac-url`` besides a URL.
SOURCES: dict[str, str] = {
    "earth-search": "https://earth-search.aws.element84.com/v1",
    "planetary-computer": "https://planetarycomputer.microsoft.com/api/stac/v1",
}
#: The Copernicus DEM GLO-30 collection id (same on both sources); it has no cloud cover.
DEM_COLLECTION = "cop-dem-glo-30"
#: Searches whose period ended more than this many days ago are reused from the cache.
SEARCH_STABLE_DAYS = 3


def resolve_source(stac_url: str | None) -> tuple[str, Signer]:
    """Map ``--stac-url`` (a URL or a name of :data:`SOURCES`) to a URL and its signer.

    Raises
    ------
    InputError
        Neither an ``http(s)://`` URL nor a known source name.
    """
    name = (stac_url or "earth-search").strip()
    url = SOURCES.get(name.lower(), name).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--stac-url {stac_url!r} is neither a URL nor a known source",
                         hint="use " + ", ".join(SOURCES) + " or an http(s) URL")
    if "planetarycomputer" in url:
        return url, PlanetaryComputerSigner()
    return url, no_signing


def item_datetime(item: dict[str, Any]) -> str:
    """An item's ISO timestamp (``datetime``, else ``start_datetime``; ``""`` if neither)."""
    p = item.get("properties", {})
    return p.get("datetime") or p.get("start_datetime") or ""


def search_items(
    stac_url: str,
    collections: Sequence[str],
    bbox: BBox,
    start: dt.date,
    end: dt.date,
    *,
    max_cloud: float | None = None,
    cache: Cache | None = None,
    refresh: bool = False,
    policy: RetryPolicy | None = None,
    page_size: int = 100,
    static: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    """Search a STAC API (all pages) and return item dicts, oldest first.

    Parameters
    ----------
    stac_url
        The API root (see :func:`resolve_source`).
    collections
        Collection ids, searched one after the other.
    bbox, start, end
        Area (WGS84) and inclusive period.
    max_cloud
        Keep items with ``eo:cloud_cover`` below this percentage (not applied to
        :data:`DEM_COLLECTION`).
    cache
        Where searches are kept; ``None`` neither reads nor writes one.
    refresh
        Search again even when the same search is cached.
    policy
        Retries and timeout of each request.
    page_size
        Items asked per page.
    static
        The collection does not change (the DEM): its search is cached whatever the period.

    Returns
    -------
    tuple of (list of dict, bool)
        ``(items, from_cache)``. A search whose period ended more than
        :data:`SEARCH_STABLE_DAYS` ago is answered from the cache when it was run before.

    Raises
    ------
    NetworkError
        The API cannot be reached, or keeps failing after retries.
    """
    policy = policy or RetryPolicy()
    period = f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T23:59:59Z"
    query = {"url": stac_url, "collections": list(collections), "bbox": list(bbox),
             "datetime": period, "max_cloud": max_cloud}
    key = digest("search-v1", query)
    stable = static or (dt.date.today() - end).days > SEARCH_STABLE_DAYS
    if cache is not None and stable and not refresh:
        hit = cache.get_search(key)
        if hit is not None:
            return hit, True

    import requests
    from pystac_client import Client
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    io = StacApiIO(max_retries=urllib3_retry(policy), timeout=policy.timeout)
    try:
        client = Client.open(stac_url, stac_io=io)
        items: list[dict[str, Any]] = []
        for cid in collections:
            kwargs: dict[str, Any] = {"collections": [cid], "bbox": list(bbox),
                                      "datetime": period, "limit": page_size}
            if max_cloud is not None and cid != DEM_COLLECTION:
                kwargs["query"] = {"eo:cloud_cover": {"lt": max_cloud}}
            for it in client.search(**kwargs).items_as_dicts():
                it.setdefault("collection", cid)
                items.append(it)
    except requests.exceptions.ConnectionError as exc:
        if "Max retries exceeded" in str(exc) and "ResponseError" in str(exc):
            raise NetworkError(f"STAC API {stac_url} kept failing: {exc}") from None
        raise describe_connection_error(stac_url, exc) from None
    except requests.exceptions.Timeout as exc:
        raise describe_connection_error(stac_url, exc) from None
    except requests.exceptions.RetryError as exc:
        raise NetworkError(f"STAC API {stac_url} kept failing after {policy.attempts} tries "
                           f"({str(exc)[:200]})") from None
    except APIError as exc:
        text = str(exc)
        if any(k in text for k in ("NewConnectionError", "Failed to establish", "NameResolution",
                                   "ConnectTimeout", "Connection refused", "ConnectionError")):
            raise describe_connection_error(stac_url, exc) from None
        status = getattr(exc, "status_code", None)
        raise NetworkError(f"STAC API {stac_url} answered an error"
                           f"{f' (HTTP {status})' if status else ''}: {str(exc)[:200]}",
                           hint="retry later; the API may be overloaded") from None
    items.sort(key=lambda it: (item_datetime(it), it["id"]))
    if cache is not None:
        cache.put_search(key, items, query)
    return items, False
