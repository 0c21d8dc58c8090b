"""E-mail digests: one message per dispatch and subscription, plain text + HTML.

The HTML alternative shows each alert's before/after true-colour chips as inline images
(``multipart/related``, referenced by ``cid:``); the plain-text part says the same in
words. The message is sent with :mod:`smtplib` (optional STARTTLS with the certificate
checked, optional login), tried again after the retry policy's delays when the server
is unreachable or answers a temporary (4xx) error; a permanent (5xx) answer is not retried.
"""

from __future__ import annotations

import datetime as dt
import html
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from minewatch.notify.events import AlertEvent
from minewatch.notify.settings import RetryPolicy, SmtpSettings

EVENTS_HEADER = "X-Minewatch-Event-Ids"


def _licence(e: AlertEvent) -> str:
    if e.licence_id is None:
        return "outside every licence supplied"
    return f"inside licence {e.licence_id} ({e.licence_status_at_onset or 'status unknown'} " \
           "at onset)"


def _headline(e: AlertEvent) -> str:
    if e.retracted:
        return f"Alert {e.alert_id} retracted (was {e.level_name})"
    return f"Alert {e.alert_id}: {e.level_name} (level {e.level})"


def _facts(e: AlertEvent) -> list[tuple[str, str]]:
    facts = [("site", e.site_id or "-"), ("area", f"{e.area_ha:.2f} ha"),
             ("onset", str(e.onset_date or "-")), ("first seen", str(e.first_seen or "-"))]
    if e.confirmed_on:
        facts.append(("confirmed on", str(e.confirmed_on)))
    facts.append(("licence", _licence(e)))
    if e.geometry is not None:
        c = e.geometry.representative_point()
        facts.append(("location", f"{c.y:.5f}, {c.x:.5f} (lat, lon)"))
    facts.append(("event id", e.event_id))
    return facts


def _subject(events: Sequence[AlertEvent]) -> str:
    sites = sorted({e.site_id for e in events if e.site_id})
    where = f" at {', '.join(sites[:3])}" + (" ..." if len(sites) > 3 else "") if sites else ""
    top = max(events, key=lambda e: (not e.retracted, e.level))
    n = len(events)
    return (f"minewatch: {n} alert update{'s' if n != 1 else ''}{where} "
            f"(highest: {top.level_name})")


def digest(events: Sequence[AlertEvent], *, sender: str, to: str, subscription_id: str,
           now: dt.datetime | None = None, test: bool = False) -> EmailMessage:
    """One digest of ``events`` for one subscription."""
    now = now or dt.datetime.now(dt.timezone.utc)
    domain = sender.rpartition("@")[2]  # not socket.getfqdn(): it can wait on DNS
    msg = EmailMessage()
    msg["Subject"] = ("[test] " if test else "") + _subject(events)
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("minewatch", domain=domain)
    msg["X-Minewatch-Subscription"] = subscription_id
    msg[EVENTS_HEADER] = " ".join(e.event_id for e in events)

    intro = ("This is a test message: the events below are not real alerts.\n\n" if test
             else "")
    text = [intro + f"{len(events)} alert update(s) for subscription {subscription_id}.", ""]
    for e in events:
        text.append(_headline(e))
        text += [f"  {k}: {v}" for k, v in _facts(e)]
        if e.before_chip or e.after_chip:
            text.append("  images: before/after chips in the HTML version of this message")
        text.append("")
    text.append("Sent by minewatch. Each event id is sent once; a repeated id is a re-sent copy.")
    msg.set_content("\n".join(text))

    images: list[tuple[str, bytes]] = []
    blocks = []
    for e in events:
        rows = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in _facts(e))
        chips = []
        for label, path in (("before", e.before_chip), ("after", e.after_chip)):
            if path is None or not path.is_file():
                continue
            cid = make_msgid("chip", domain=domain)
            images.append((cid, path.read_bytes()))
            chips.append(f"<figure style='display:inline-block;margin:4px'>"
                         f"<img src='cid:{cid[1:-1]}' alt='{label}' width='240'>"
                         f"<figcaption>{label}</figcaption></figure>")
        blocks.append(f"<h3>{html.escape(_headline(e))}</h3><table>{rows}</table>"
                      + ("<div>" + "".join(chips) + "</div>" if chips else ""))
    body = ("<html><body>"
            + (f"<p><b>{html.escape(intro.strip())}</b></p>" if test else "")
            + f"<p>{len(events)} alert update(s) for subscription "
            f"{html.escape(subscription_id)}.</p>" + "".join(blocks)
            + "<p style='color:#666'>Sent by minewatch. Each event id is sent once; a repeated "
            "id is a re-sent copy.</p></body></html>")
    msg.add_alternative(body, subtype="html")
    html_part = msg.get_payload()[1]
    for cid, data in images:
        html_part.add_related(data, "image", "png", cid=cid)
    return msg


@dataclass(frozen=True)
class SendResult:
    """The outcome of sending one digest."""

    delivered: bool
    tries: int
    error: str | None


def _permanent(exc: smtplib.SMTPException) -> bool:
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return True  # e.g. no STARTTLS: asking again will not help
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def _send_once(msg: EmailMessage, smtp: SmtpSettings) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as conn:
        if smtp.starttls:
            ctx = ssl.create_default_context(cafile=str(smtp.cafile) if smtp.cafile else None)
            conn.starttls(context=ctx)
        if smtp.username is not None:
            conn.login(smtp.username, smtp.password)
        conn.send_message(msg)


def send(msg: EmailMessage, smtp: SmtpSettings, policy: RetryPolicy, *,
         sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send ``msg`` through ``smtp``, retrying temporary failures."""
    error = None
    for tries in range(1, policy.attempts + 1):
        try:
            _send_once(msg, smtp)
            return SendResult(True, tries, None)
        except smtplib.SMTPException as exc:
            error = f"SMTP: {type(exc).__name__}: {exc}"
            if _permanent(exc):
                return SendResult(False, tries, error + " (refused by the server; not retried)")
        except ssl.SSLCertVerificationError as exc:
            return SendResult(False, tries, f"SMTP {smtp.host}:{smtp.port}: the server's "
                              f"certificate does not verify ({exc.verify_message}; not retried)")
        except OSError as exc:
            error = f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}"
        if tries < policy.attempts:
            sleep(policy.delay(tries))
    return SendResult(False, policy.attempts, f"{error} (gave up after {policy.attempts} tries)")
