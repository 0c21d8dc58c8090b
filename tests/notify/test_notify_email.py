"""E-mail digests against a real SMTP server on loopback (aiosmtpd): one digest per run and
subscription, plain text + HTML with the before/after chips inline, retries, STARTTLS and
login, no server configured."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import numpy as np
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from matplotlib import pyplot as plt
from notify_helpers import FAST, Sleeps, event, settings_for

from minewatch.errors import InputError
from minewatch.notify import RetryPolicy, SmtpSettings, notify
from minewatch.notify.email import EVENTS_HEADER
from minewatch.run.notifications import add_subscription, deliveries


def _mail(registry, address="inspector@example.org", **kw):
    return add_subscription(registry, channel="email", target=address, site_id="S-1",
                            **kw).subscription


def _chips(folder, name):
    """A before/after pair of small PNGs, as a run's evidence holds them."""
    d = folder / "evidence" / "alerts" / name
    d.mkdir(parents=True)
    rng = np.random.default_rng(len(name))
    for which in ("before", "after"):
        plt.imsave(d / f"{which}_truecolor.png", rng.random((24, 24, 3)))
    return d / "before_truecolor.png", d / "after_truecolor.png"


def test_one_digest_per_run_with_text_html_and_inline_chips(registry, smtp, tmp_path):
    box, ctl = smtp()
    sub = _mail(registry)
    b1, a1 = _chips(tmp_path, "A0001")
    b2, a2 = _chips(tmp_path, "A0002")
    events = [event("run1-A0001", 2, before=b1, after=a1),
              event("run1-A0002", 3, before=b2, after=a2),
              event("run1-A0003", 1)]  # no chips (only the first alerts get images)
    rep = notify(registry, events, settings_for(ctl))
    assert rep.emails_sent == 1 and rep.delivered == 3
    [msg] = box.messages
    assert box.envelopes == [("minewatch@example.org", ["inspector@example.org"])]
    assert msg["To"] == "inspector@example.org"
    assert "3 alert updates at S-1 (highest: confirmed)" in msg["Subject"]
    assert msg["X-Minewatch-Subscription"] == sub.subscription_id
    assert msg[EVENTS_HEADER].split() == [e.event_id for e in events]

    assert msg.get_content_type() == "multipart/alternative"
    text, related = msg.get_payload()
    assert text.get_content_type() == "text/plain"
    body = text.get_content()
    for e in events:
        assert e.alert_id in body and e.event_id in body
    assert "run1-A0002: confirmed (level 3)" in body and "outside every licence" in body

    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert [i.get_content_type() for i in images] == ["image/png"] * 4
    page = html.get_content()
    for img, path in zip(images, [b1, a1, b2, a2]):
        cid = img["Content-ID"].strip("<>")
        assert f"cid:{cid}" in page  # referenced inline by the HTML
        assert img.get_content() == path.read_bytes()

    mid = msg["Message-ID"]
    rows = deliveries(registry)
    assert {(r.state, r.attempts, r.message_id) for r in rows} == {("delivered", 1, mid)}

    # the same events again: no second digest
    again = notify(registry, events, settings_for(ctl))
    assert again.emails_sent == 0 and len(box.messages) == 1


def test_one_digest_per_subscription(registry, smtp):
    box, ctl = smtp()
    _mail(registry, "a@example.org")
    _mail(registry, "b@example.org", min_level=2)
    notify(registry, [event("x1", 1), event("x2", 2)], settings_for(ctl))
    got = {m["To"]: m[EVENTS_HEADER].split() for m in box.messages}
    assert got == {"a@example.org": [event("x1", 1).event_id, event("x2", 2).event_id],
                   "b@example.org": [event("x2", 2).event_id]}


def test_server_refusing_twice_is_retried_and_one_digest_arrives(registry, smtp):
    box, ctl = smtp(refuse_first=2)  # "451 try again later" twice
    _mail(registry)
    sleeps = Sleeps()
    rep = notify(registry, [event()], settings_for(ctl), sleep=sleeps)
    assert box.data_calls == 3 and len(box.messages) == 1
    assert sleeps == [0.01, 0.02]
    assert rep.outcomes[0].state == "delivered" and rep.outcomes[0].tries == 3


def test_server_always_refusing_is_dead_lettered_once(registry, smtp):
    box, ctl = smtp(refuse_first=99)
    _mail(registry)
    rep = notify(registry, [event()], settings_for(ctl))
    [o] = rep.outcomes
    assert o.state == "dead" and o.tries == FAST.attempts and "451" in o.error
    notify(registry, [event()], settings_for(ctl))
    assert box.data_calls == FAST.attempts  # not sent again


def test_without_smtp_server_email_waits(registry, smtp):
    _mail(registry)
    rep = notify(registry, [event()], settings_for())
    assert rep.waiting == 1 and rep.emails_sent == 0
    assert "no SMTP server configured" in rep.notes[0]
    box, ctl = smtp()
    rep = notify(registry, [], settings_for(ctl))
    assert rep.delivered == 1 and len(box.messages) == 1


def _certificate(tmp_path):
    """A private CA and a certificate for 127.0.0.1 signed by it: (server context, CA file)."""
    now = dt.datetime.now(dt.timezone.utc)

    def make(subject, issuer, key, sign_key, ca):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(days=1))
             .not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                            critical=False))
        if ca:
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                              False, False), critical=True)
        else:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                sign_key.public_key()), critical=False)
        return b.sign(sign_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minewatch test CA")])
    ca = make(ca_name, ca_name, ca_key, ca_key, True)
    leaf = make(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name,
                key, ca_key, False)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "cert.pem").write_bytes(leaf.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return ctx, tmp_path / "ca.pem"


def _login(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and \
        (auth_data.login, auth_data.password) == (b"minewatch", b"pa55word")
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself


@pytest.mark.parametrize("password, delivered", [("pa55word", True), ("wrong", False)])
def test_starttls_and_login(registry, smtp, tmp_path, password, delivered):
    ctx, cafile = _certificate(tmp_path)
    box, ctl = smtp(tls_context=ctx, require_starttls=True, authenticator=_login,
                    auth_require_tls=True)
    _mail(registry)
    settings = settings_for(ctl, starttls=True, cafile=cafile, username="minewatch",
                            password=password)
    rep = notify(registry, [event()], settings)
    [o] = rep.outcomes
    assert (o.state == "delivered") is delivered and len(box.messages) == int(delivered)
    if not delivered:  # 535: a permanent refusal, not retried
        assert o.tries == 1 and "535" in o.error and "not retried" in o.error


def test_starttls_with_an_untrusted_certificate_is_not_sent(registry, smtp, tmp_path):
    ctx, _ = _certificate(tmp_path)
    box, ctl = smtp(tls_context=ctx, require_starttls=True)
    _mail(registry)
    rep = notify(registry, [event()], settings_for(ctl, starttls=True))  # system CAs only
    [o] = rep.outcomes
    assert o.state == "dead" and "certificate does not verify" in o.error and o.tries == 1
    assert box.messages == []


@pytest.mark.parametrize("kw, message", [
    ({"host": ""}, "SMTP host is empty"),
    ({"sender": "nobody"}, "SMTP sender 'nobody' is not an e-mail address"),
    ({"port": 70000}, "SMTP port 70000"),
    ({"username": "u"}, "needs both a user name and a password"),
    ({"cafile": "/nonexistent/ca.pem"}, "SMTP CA file /nonexistent/ca.pem not found"),
])
def test_bad_smtp_settings_are_refused(kw, message):
    with pytest.raises(InputError, match=message):
        SmtpSettings(**{"host": "127.0.0.1", "sender": "a@example.org", **kw})


@pytest.mark.parametrize("kw, message", [
    ({"attempts": 0}, "retry attempts 0"),
    ({"base_s": -1}, "retry base_s -1"),
    ({"base_s": 5, "cap_s": 1}, "retry cap_s 1 is below base_s 5"),
])
def test_bad_retry_policies_are_refused(kw, message):
    with pytest.raises(InputError, match=message):
        RetryPolicy(**kw)
