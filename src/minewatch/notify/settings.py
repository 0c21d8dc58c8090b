"""How notifications are sent: the retry policy, the HTTP timeout and the SMTP server."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from minewatch.errors import InputError


@dataclass(frozen=True)
class RetryPolicy:
    """Tries of one delivery: ``attempts`` in all, waiting ``base_s``, 2 x ``base_s``,
    4 x ``base_s`` ... between them, never more than ``cap_s`` (a receiver's
    ``Retry-After`` is honoured up to ``cap_s``)."""

    attempts: int = 5
    base_s: float = 2.0
    cap_s: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) \
                or self.attempts < 1:
            raise InputError(f"retry attempts {self.attempts!r}: give a whole number >= 1")
        for name in ("base_s", "cap_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise InputError(f"retry {name} {v!r}: give a number of seconds >= 0")
        if self.cap_s < self.base_s:
            raise InputError(f"retry cap_s {self.cap_s} is below base_s {self.base_s}")

    def delay(self, tries_done: int) -> float:
        """Seconds to wait after the ``tries_done``-th failed try (1, 2, ...)."""
        return float(min(self.cap_s, self.base_s * 2 ** (tries_done - 1)))

    def delays(self) -> list[float]:
        """Every wait of a delivery that fails each try."""
        return [self.delay(i) for i in range(1, self.attempts)]


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP server e-mail digests go through.

    Parameters
    ----------
    host, port
        The server (port 25 or 587 for STARTTLS).
    sender
        The ``From`` address.
    starttls
        Upgrade the connection with STARTTLS before anything else (certificate checked).
    username, password
        Log in when given (after STARTTLS when asked).
    cafile
        A CA bundle to check the server's certificate with, for a private CA.
    timeout_s
        Seconds to wait for the server.
    """

    host: str
    sender: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: Path | None = None
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.host:
            raise InputError("SMTP host is empty", hint="give --smtp-host (or MINEWATCH_SMTP_HOST)")
        if "@" not in (self.sender or ""):
            raise InputError(f"SMTP sender {self.sender!r} is not an e-mail address",
                             hint="give --smtp-from (or MINEWATCH_SMTP_FROM)")
        if not 0 < int(self.port) < 65536:
            raise InputError(f"SMTP port {self.port!r} is not a port number")
        if (self.username is None) != (self.password is None):
            raise InputError("SMTP login needs both a user name and a password",
                             hint="set MINEWATCH_SMTP_USER and MINEWATCH_SMTP_PASSWORD")
        if self.cafile is not None and not Path(self.cafile).is_file():
            raise InputError(f"SMTP CA file {self.cafile} not found")


@dataclass(frozen=True)
class NotifySettings:
    """Everything a dispatch needs besides the registry: retries, HTTP timeout, SMTP
    (``None``: e-mail deliveries wait, pending, until a dispatch has an SMTP server)."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    http_timeout_s: float = 10.0
    smtp: SmtpSettings | None = None
