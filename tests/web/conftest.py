"""Dashboard fixtures: a small demo run recorded in a GeoPackage registry, served by
``minewatch serve`` (uvicorn on loopback, a real process), users of each role, and a headless
Debian chromium driven by Playwright (``executable_path``; nothing downloads a browser).

Without chromium or Playwright the browser tests skip with the reason, except under CI
(``CI=true``), where that is a failure. Screenshots go to ``$MINEWATCH_SCREENSHOTS`` (default: a
temporary folder, printed) so that a person can look at them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from web_helpers import build_demo_registry

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ADMIN_PASSWORD = "web-admin-password-1"
PASSWORDS = {"analyst": "web-analyst-password-1", "viewer": "web-viewer-password-1"}
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str:
    """The Debian chromium, or skip (fail under CI) saying what is missing."""
    found = os.environ.get("MINEWATCH_CHROMIUM") or next(
        (p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None) or shutil.which("chromium")
    why = None
    if not found:
        why = "chromium not found (/usr/bin/chromium; install it with scripts/install-system-deps)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            why = "playwright is not installed (pip install minewatch[test])"
    if why:
        if CI:
            pytest.fail(why + "; CI must run the browser tests")
        pytest.skip(why)
    return found


@pytest.fixture(scope="session")
def demo_registry(tmp_path_factory) -> dict:
    """A reduced demo run recorded in ``registry.gpkg`` (built once per session; with
    ``MINEWATCH_TEST_WEB_DEMO=DIR`` built once into DIR and reused, to iterate faster)."""
    keep = os.environ.get("MINEWATCH_TEST_WEB_DEMO")
    if keep:
        root = Path(keep)
        if (root / "built.json").exists():
            import json

            d = json.loads((root / "built.json").read_text())
            return {**d, "registry": Path(d["registry"]), "run": Path(d["run"])}
        root.mkdir(parents=True, exist_ok=True)
        d = build_demo_registry(root)
        import json

        (root / "built.json").write_text(json.dumps({**d, "registry": str(d["registry"]), "run": str(d["run"])}))
        return d
    return build_demo_registry(tmp_path_factory.mktemp("webdemo"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(demo_registry, tmp_path_factory) -> dict:
    """``minewatch serve`` on a free loopback port over a copy of the demo registry, with an
    analyst and a viewer created through the API by the first admin."""
    folder = tmp_path_factory.mktemp("served")
    reg = folder / "registry.gpkg"
    shutil.copy(demo_registry["registry"], reg)
    port = _free_port()
    env = {**os.environ, "MINEWATCH_ADMIN_PASSWORD": ADMIN_PASSWORD,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    log = open(folder / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "minewatch", "serve", "--registry", str(reg),
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("minewatch serve did not start: " + (folder / "serve.log").read_text()[-2000:])
        time.sleep(0.3)
    with httpx.Client(base_url=base) as admin:
        r = admin.post("/api/session", json={"username": "admin", "password": ADMIN_PASSWORD})
        r.raise_for_status()
        csrf = r.json()["csrf_token"]
        for role, password in PASSWORDS.items():
            r = admin.post("/api/users", json={"username": role, "role": role, "password": password},
                           headers={"X-CSRF-Token": csrf})
            assert r.status_code == 201, r.text
    yield {"base": base, "registry": reg, "log": folder / "serve.log", "run": demo_registry["run"],
           "summary": demo_registry["summary"]}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("MINEWATCH_SCREENSHOTS") or tempfile.mkdtemp(prefix="minewatch-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\ndashboard screenshots in {folder}")
    return folder


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--use-gl=swiftshader",
                                                          "--enable-unsafe-swiftshader"])
        yield b
        b.close()


@pytest.fixture
def page_as(browser, server):
    """Factory: a new page (own cookies) signed in as ``role`` through the login page, or
    anonymous for ``None``. Page errors are collected in ``page.errors`` and fail the test."""
    contexts, pages = [], []

    def make(role: str | None, lang: str = "en"):
        ctx = browser.new_context(viewport={"width": 1300, "height": 900}, locale=lang)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        pages.append(page)
        if role:
            page.goto(server["base"] + "/ui/login")
            page.fill("#username", role)
            page.fill("#password", PASSWORDS[role])
            page.click("#login-form button[type=submit]")
            page.wait_for_url("**/ui/queue")
        return page

    yield make
    for page in pages:
        assert not page.errors, f"errors in the page: {page.errors}"
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session")
def passwords() -> dict[str, str]:
    """The test users' passwords, by role."""
    return PASSWORDS
