"""Real receivers on loopback for the notification tests: an HTTP webhook receiver that
checks signatures (and can fail on purpose) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import shapely
from aiosmtpd.controller import Controller

from minewatch.notify import AlertEvent, NotifySettings, RetryPolicy, SmtpSettings
from minewatch.notify.webhook import (
    SIGNATURE_HEADER,
    verify_signature,
)


@dataclass
class Hit:
    """One request the receiver got: the body, whether its signature verified, what it
    answered."""

    body: dict
    raw: bytes
    signature_ok: bool
    headers: dict
    status: int

    @property
    def event_id(self) -> str:
        return self.body["event_id"]


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1.

    ``answer(n, hit)`` gives the HTTP status of the n-th request (1-based), or (status,
    extra headers); the default accepts everything. It may also act (kill a process) before
    the answer is sent.
    """

    secret: str
    answer: Callable[[int, Hit], int | tuple[int, dict]] = lambda n, hit: 200
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                hit = Hit(json.loads(raw), raw,
                          verify_signature(receiver.secret, raw,
                                           self.headers.get(SIGNATURE_HEADER)),
                          dict(self.headers), 0)
                with receiver._lock:
                    receiver.hits.append(hit)
                    n = len(receiver.hits)
                answer = receiver.answer(n, hit)
                hit.status, extra = answer if isinstance(answer, tuple) else (answer, {})
                try:
                    self.send_response(hit.status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok" if hit.status < 300 else b"no")
                except OSError:
                    pass  # the sender is gone (the crash test kills it)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def accepted(self) -> list[Hit]:
        """The requests answered 2xx: what the receiver took in."""
        return [h for h in self.hits if 200 <= h.status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fails_first(k: int, status: int = 500) -> Callable[[int, Hit], int]:
    """Answer ``status`` to the first ``k`` requests, then 200."""
    return lambda n, hit: status if n <= k else 200


class Mailbox:
    """What an aiosmtpd handler received: the parsed messages and their envelopes."""

    def __init__(self, refuse_first: int = 0):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_first = refuse_first
        self.data_calls = 0

    async def handle_DATA(self, server, session, envelope):
        self.data_calls += 1
        if self.data_calls <= self.refuse_first:
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def smtp_server(mailbox: Mailbox, **kw) -> Controller:
    """A started aiosmtpd server on 127.0.0.1 (a free port); stop it with ``.stop()``."""
    with socket.socket() as s:  # aiosmtpd checks its port by connecting to it: not 0
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(mailbox, hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    return ctl


SECRET = "s3cret-for-the-receiver-0123456789"
SITE_POLY = shapely.box(-70.30, -13.20, -70.20, -13.10)
SITE2_POLY = shapely.box(-70.10, -13.20, -70.00, -13.10)
#: Fast retries (3 tries, waits of 0.01 and 0.02 s).
FAST = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05)


class Sleeps(list):
    """A ``sleep`` that records the waits asked for (and waits them)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


def settings_for(ctl=None, **smtp_kw) -> NotifySettings:
    """Fast retries; the SMTP server of ``ctl`` when given."""
    smtp = None
    if ctl is not None:
        smtp = SmtpSettings(host=ctl.hostname, port=ctl.port, sender="minewatch@example.org",
                            timeout_s=5, **smtp_kw)
    return NotifySettings(retry=FAST, http_timeout_s=5, smtp=smtp)


def event(alert_id: str = "run1-A0001", level: int = 1, *, site_id: str | None = "S-1",
          area_ha: float = 2.5, retracted: bool = False, geometry=None,
          before=None, after=None) -> AlertEvent:
    """An alert event inside the test site (an 80 m square near its centre)."""
    return AlertEvent(
        alert_id=alert_id, site_id=site_id, level=level, retracted=retracted, area_ha=area_ha,
        onset_date=dt.date(2023, 3, 14), first_seen=dt.date(2023, 4, 2),
        confirmed_on=dt.date(2023, 6, 1) if level == 3 else None, licence_id=None,
        licence_status_at_onset="no_licence",
        geometry=geometry if geometry is not None else shapely.box(-70.2504, -13.1504,
                                                                   -70.2496, -13.1496),
        before_chip=before, after_chip=after, run_id="run1")
