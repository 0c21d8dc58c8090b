"""HTTP plumbing for fetching imagery: retries with backoff, GDAL settings, signing.

- STAC API searches go through pystac-client, whose ``StacApiIO`` is given a
  urllib3 ``Retry`` (429, 500, 502, 503, 504 and timeouts; ``Retry-After`` honoured).
- Pixels are read by GDAL over ``/vsicurl/`` (HTTP range requests) with its own
  retry settings (:func:`gdal_env`), wrapped in :func:`with_retries` for faults GDAL
  does not retry itself.
- :class:`PlanetaryComputerSigner` appends a SAS token to asset hrefs, fetched
  from a token endpoint and cached until it expires.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, TypeVar
from urllib.parse import urlparse

import httpx

from minewatch.errors import NetworkError

T = TypeVar("T")

RETRY_STATUS = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` tries, sleeping ``backoff * 2**n`` (+ jitter) between."""

    attempts: int = 5
    backoff: float = 0.5
    max_sleep: float = 30.0
    timeout: float = 30.0

    def sleep_for(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        return min(self.max_sleep, self.backoff * (2 ** attempt)) * (1 + 0.1 * random.random())


def urllib3_retry(policy: RetryPolicy) -> Any:
    """A urllib3 ``Retry`` for pystac-client's ``StacApiIO`` (POST searches included)."""
    from urllib3.util.retry import Retry

    return Retry(
        total=policy.attempts - 1, connect=policy.attempts - 1, read=policy.attempts - 1,
        status=policy.attempts - 1, backoff_factor=policy.backoff, backoff_max=policy.max_sleep,
        status_forcelist=RETRY_STATUS, allowed_methods=None, respect_retry_after_header=True,
        raise_on_status=False,
    )


def gdal_env(policy: RetryPolicy) -> dict[str, Any]:
    """GDAL configuration for reading COG windows over HTTP with range requests."""
    return {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_MULTIPLEX": "YES",
        "GDAL_HTTP_MAX_RETRY": str(policy.attempts - 1),
        "GDAL_HTTP_RETRY_DELAY": str(policy.backoff),
        "GDAL_HTTP_RETRY_CODES": ",".join(str(c) for c in RETRY_STATUS),
        "GDAL_HTTP_TIMEOUT": str(int(max(1, policy.timeout))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(int(max(1, min(policy.timeout, 10)))),
        "VSI_CACHE": "FALSE",
        "CPL_VSIL_CURL_CHUNK_SIZE": "8192",
        "GDAL_INGESTED_BYTES_AT_OPEN": "8192",
        "GDAL_CACHEMAX": 64,
    }


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure is worth another try (network trouble, 429/5xx, timeouts)."""
    text = str(exc).lower()
    if isinstance(exc, (httpx.TimeoutException, httpx.TransportError)):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in RETRY_STATUS
    code = re.search(r"http (?:response )?(?:code|status)[: ]+(\d{3})", text)
    if code:
        return int(code.group(1)) in RETRY_STATUS
    needles = ("timed out", "timeout", "connection", "curl error", "reset by peer",
               "transfer closed", "empty reply")
    return any(n in text for n in needles)


def with_retries(fn: Callable[[int], T], policy: RetryPolicy, what: str) -> T:
    """Call ``fn(attempt)`` until it succeeds, retrying retryable failures with backoff.

    Raises
    ------
    NetworkError
        After ``policy.attempts`` failed tries, naming ``what`` and the last error.
    """
    last: BaseException | None = None
    for attempt in range(policy.attempts):
        try:
            return fn(attempt)
        except NetworkError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            if not is_retryable(exc):
                raise
            last = exc
            if attempt + 1 < policy.attempts:
                time.sleep(policy.sleep_for(attempt))
    msg = str(last).splitlines()[0] if last else "unknown error"
    raise NetworkError(f"{what}: still failing after {policy.attempts} tries ({msg})")


def describe_connection_error(url: str, exc: BaseException) -> NetworkError:
    """A clear message for an unreachable service (offline, DNS, refused)."""
    host = urlparse(url).netloc or url
    text = str(exc)
    low = text.lower()
    if any(s in low for s in ("name or service not known", "nodename nor servname",
                              "temporary failure in name resolution", "getaddrinfo")):
        why = "the host name could not be resolved"
    elif "refused" in low:
        why = "the connection was refused"
    elif "timed out" in low or "timeout" in low:
        why = "the connection timed out"
    else:
        why = text.splitlines()[0][:200] if text else type(exc).__name__
    return NetworkError(
        f"cannot reach {host} ({why})",
        hint="check the internet connection (are you offline?) or the --stac-url; "
        "cached results are used without a connection only when the same search was "
        "run before",
    )


# -- signing -----------------------------------------------------------------------------


class Signer(Protocol):
    """Turns an asset href into one the server accepts (e.g. appends a SAS token)."""

    def __call__(self, href: str, collection: str | None) -> str: ...


def no_signing(href: str, collection: str | None) -> str:
    """The :class:`Signer` of sources that need none: the href unchanged."""
    return href


@dataclass
class PlanetaryComputerSigner:
    """Microsoft Planetary Computer URL signing (SAS tokens per collection).

    ``token_url`` is a template with ``{collection}``; the token endpoint answers
    ``{"token": "...", "msft:expiry": "..."}``. Tokens are cached until 5 minutes
    before they expire. Anonymous tokens suffice for public collections (no
    subscription key is sent).
    """

    token_url: str = "https://planetarycomputer.microsoft.com/api/sas/v1/token/{collection}"
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    _tokens: dict[str, tuple[str, dt.datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    requests_made: int = 0

    def token(self, collection: str) -> str:
        """The SAS token for a collection (one request per collection while it is valid)."""
        with self._lock:  # parallel readers wait for one token request
            now = dt.datetime.now(dt.timezone.utc)
            cached = self._tokens.get(collection)
            if cached and cached[1] - dt.timedelta(minutes=5) > now:
                return cached[0]
            url = self.token_url.format(collection=collection)

            def get(_: int) -> dict:
                self.requests_made += 1
                resp = httpx.get(url, timeout=self.policy.timeout)
                resp.raise_for_status()
                return resp.json()

            try:
                doc = with_retries(get, self.policy, f"SAS token for {collection}")
            except httpx.HTTPStatusError as exc:
                raise NetworkError(f"SAS token endpoint {url} answered "
                                   f"HTTP {exc.response.status_code}") from None
            token = str(doc["token"]).lstrip("?")
            expiry_s = doc.get("msft:expiry")
            expiry = (dt.datetime.fromisoformat(expiry_s) if expiry_s
                      else now + dt.timedelta(minutes=45))
            self._tokens[collection] = (token, expiry)
            return token

    def __call__(self, href: str, collection: str | None) -> str:
        if collection is None or not href.startswith(("http://", "https://")):
            return href
        if "sig=" in href:
            return href  # already signed
        token = self.token(collection)
        return f"{href}{'&' if '?' in href else '?'}{token}"


def unsigned(href: str) -> str:
    """The href without its query string (cache keys must not depend on tokens)."""
    return href.split("?", 1)[0]
