"""``minewatch serve`` on a fresh registry: prints the URL and the first admin's password
once, and the API answers over real HTTP on loopback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(registry: Path, port: int, env: dict):
    return subprocess.Popen(
        [sys.executable, "-m", "minewatch", "serve", "--registry", str(registry),
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(SRC), **env})


def _lines_until_url(proc) -> list[str]:
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "minewatch API on http://" in line:
            return lines
    raise AssertionError(f"serve did not start: {lines}")


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("no answer")


def test_serve_first_start(tmp_path):
    env = {"MINEWATCH_ADMIN_PASSWORD": ""}
    registry, port = tmp_path / "new.gpkg", _free_port()
    proc = _serve(registry, port, env)
    try:
        lines = _lines_until_url(proc)
        password = re.search(r"created user 'admin' with password (\S+)", "\n".join(lines))
        assert password, lines
        url = f"http://127.0.0.1:{port}"
        assert f"minewatch API on {url}/" in lines[-1]
        _wait_up(url)
        with httpx.Client(base_url=url) as c:
            assert c.get("/api/runs").status_code == 401
            r = c.post("/api/session", json={"username": "admin",
                                             "password": password.group(1)})
            assert r.status_code == 200, r.text
            assert "Secure" not in r.headers["set-cookie"]  # plain HTTP on loopback
            assert c.get("/api/runs").status_code == 200
            assert c.get("/docs").status_code == 200
            assert "/api/alerts" in c.get("/openapi.json").json()["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    proc = _serve(registry, port, env)  # second start: no new password
    try:
        lines = _lines_until_url(proc)
        assert not any("password" in x for x in lines), lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)
