"""``minewatch subscribe ...`` and ``minewatch notify ...`` end to end, with real receivers."""

from __future__ import annotations

import json

from notify_helpers import event

from minewatch.cli.main import main
from minewatch.notify import enqueue


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_subscribe_and_send_a_test_webhook(registry, receiver, capsys):
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    rx = receiver()
    code, out, _ = _run(capsys, "subscribe", "add", "-r", url, "--webhook", rx.url,
                        "--site", "S-1", "--min-level", "probable", "--min-area", "0.5",
                        "--id", "ministry")
    assert code == 0, out
    assert "added ministry: webhook" in out and "level >= 2, area >= 0.5 ha" in out
    secret = out.split("signing secret (give it to the receiver): ")[1].split()[0]
    rx.secret = secret  # the receiver is configured with the printed secret

    code, out, _ = _run(capsys, "notify", "test", "-r", url, "--backoff", "0.01")
    assert code == 0, out
    assert out.startswith("delivered ministry webhook TEST-")
    [hit] = rx.hits
    assert hit.signature_ok and hit.body["test"] is True and hit.body["alert"]["level"] == 3
    assert hit.body["alert"]["site_id"] == "S-1"
    assert _run(capsys, "notify", "list", "-r", url)[1] == "no deliveries\n"  # tests: no record

    code, out, _ = _run(capsys, "subscribe", "list", "-r", url, "--json")
    [sub] = json.loads(out)
    assert sub["subscription_id"] == "ministry" and sub["min_level"] == 2
    assert secret not in out
    code, out, _ = _run(capsys, "subscribe", "remove", "ministry", "-r", url)
    assert (code, out) == (0, "removed ministry\n")
    assert _run(capsys, "subscribe", "list", "-r", url)[1] == "no subscriptions\n"


def test_test_email_through_the_smtp_options(registry, smtp, capsys, tmp_path):
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    box, ctl = smtp()
    aoi = tmp_path / "aoi.geojson"
    aoi.write_text('{"type": "Polygon", "coordinates": '
                   '[[[-70.3, -13.2], [-70.2, -13.2], [-70.2, -13.1], [-70.3, -13.2]]]}')
    assert _run(capsys, "subscribe", "add", "-r", url, "--email", "ngo@example.org",
                "--aoi", str(aoi), "--id", "ngo")[0] == 0
    code, _, err = _run(capsys, "notify", "test", "-r", url, "-s", "ngo")
    assert code == 2 and "needs an SMTP server" in err
    code, _, err = _run(capsys, "notify", "test", "-r", url, "-s", "ngo", "--smtp-host",
                          ctl.hostname, "--smtp-port", str(ctl.port), "--smtp-from",
                          "alerts@example.org")
    assert code == 0, err
    [msg] = box.messages
    assert msg["Subject"].startswith("[test] minewatch: 1 alert update")
    assert msg["From"] == "alerts@example.org" and msg["To"] == "ngo@example.org"


def test_failures_dead_letters_and_requeue(registry, receiver, capsys):
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    rx = receiver(answer=lambda n, hit: 500)
    _run(capsys, "subscribe", "add", "-r", url, "--webhook", rx.url, "--site", "S-1",
         "--id", "h", "--secret", "0123456789abcdef0123")
    code, _, err = _run(capsys, "notify", "test", "-r", url, "--attempts", "2",
                          "--backoff", "0.01")
    assert code == 2
    assert err.startswith("error: the test notification failed for 1 of 1 subscription(s): "
                          "HTTP 500")
    assert len(rx.hits) == 2

    enqueue(registry, [event("a1", 2)])  # what `watch` records with the alert change
    code, out, _ = _run(capsys, "notify", "send", "-r", url, "--attempts", "2",
                        "--backoff", "0.01", "--json")
    rep = json.loads(out)
    assert (code, rep["dead"], rep["delivered"]) == (0, 1, 0)
    code, out, _ = _run(capsys, "notify", "list", "-r", url, "--state", "dead")
    assert out.startswith("dead      h a1 level 2 ev_") and "attempts=2: HTTP 500" in out

    rx.answer = lambda n, hit: 200
    assert _run(capsys, "notify", "requeue", "-r", url)[1] == "1 dead letter(s) pending again\n"
    code, out, _ = _run(capsys, "notify", "send", "-r", url)
    assert code == 0 and "1 delivered, 0 dead-lettered" in out
    assert len(rx.accepted()) == 1


def test_usage_mistakes_are_one_error_line(registry, capsys):
    url = registry.url if registry.kind == "geopackage" else registry.backend.url
    for argv, message in [
        (["--site", "S-1"], "error: give one of --webhook URL or --email ADDRESS"),
        (["--email", "a@example.org"], "error: give one of --site SITE_ID, --aoi"),
        (["--email", "a@example.org", "--site", "S-1", "--min-level", "7"],
         "error: --min-level '7': give 1, 2, 3 or possible, probable, confirmed"),
        (["--email", "a@example.org", "--bbox", "1,2,3"], "error: --bbox '1,2,3'"),
        (["--email", "a@example.org", "--site", "S-9"], "error: no site 'S-9'"),
    ]:
        code, _, err = _run(capsys, "subscribe", "add", "-r", url, *argv)
        assert code == 2 and err.startswith(message) and len(err.strip().splitlines()) == 1, err
