"""Webhooks: one signed JSON POST per event, retried with exponential backoff.

The body is compact JSON (UTF-8, sorted keys). Headers:

* ``X-Minewatch-Signature: sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the
  subscription's secret (:func:`sign`; receivers check it with :func:`verify_signature`);
* ``X-Minewatch-Timestamp``: the Unix time of ``sent_at`` in the (signed) body;
* ``X-Minewatch-Event-Id``: the event's id (the receiver's idempotency key).

A 2xx answer delivers the event. Connection failures, time-outs, 408, 425, 429 and 5xx
are tried again after :meth:`RetryPolicy.delay` (or the receiver's ``Retry-After``, up to
the cap); any other answer (a 3xx, 4xx) is the receiver refusing the event and is not
retried. After the last try the delivery is a dead letter with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from minewatch import __version__
from minewatch.notify.events import SCHEMA, AlertEvent
from minewatch.notify.settings import RetryPolicy

SIGNATURE_HEADER = "X-Minewatch-Signature"
TIMESTAMP_HEADER = "X-Minewatch-Timestamp"
EVENT_HEADER = "X-Minewatch-Event-Id"
_RETRY_STATUS = {408, 425, 429}


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` + hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header)


def payload(event: AlertEvent, subscription_id: str, sent_at: dt.datetime, *,
            test: bool = False) -> dict:
    """The webhook body's JSON (docs/notifications.md)."""
    return {"schema": SCHEMA, "event_id": event.event_id, "type": event.kind, "test": test,
            "subscription_id": subscription_id,
            "sent_at": sent_at.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "alert": event.to_json()}


def body_bytes(doc: dict) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class WebhookResult:
    """The outcome of one delivery: ``delivered``, how many ``tries``, the last HTTP status
    (``None``: no answer), when not delivered why, and whether the receiver ``refused`` it
    (answered, but not with 2xx nor a status worth retrying)."""

    delivered: bool
    tries: int
    status: int | None
    error: str | None
    refused: bool = False


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: use our own backoff


def post(client: httpx.Client, url: str, secret: str, doc: dict, policy: RetryPolicy, *,
         sleep: Callable[[float], None] = time.sleep) -> WebhookResult:
    """POST ``doc`` to ``url`` until it is accepted, refused, or ``policy.attempts`` tries
    failed."""
    body = body_bytes(doc)
    sent_at = dt.datetime.fromisoformat(doc["sent_at"])
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"minewatch/{__version__}",
        SIGNATURE_HEADER: sign(secret, body),
        TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
        EVENT_HEADER: doc["event_id"],
    }
    status, error = None, None
    for tries in range(1, policy.attempts + 1):
        wait = None
        try:
            resp = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            status = resp.status_code
            if 200 <= status < 300:
                return WebhookResult(True, tries, status, None)
            text = resp.text.strip().replace("\n", " ")[:200]
            error = f"HTTP {status} {resp.reason_phrase}" + (f": {text}" if text else "")
            if status not in _RETRY_STATUS and status < 500:
                return WebhookResult(False, tries, status,
                                     error + " (refused by the receiver; not retried)", True)
            wait = _retry_after(resp)
        if tries < policy.attempts:
            sleep(min(policy.cap_s, wait) if wait is not None else policy.delay(tries))
    return WebhookResult(False, policy.attempts, status,
                         f"{error} (gave up after {policy.attempts} tries)")
