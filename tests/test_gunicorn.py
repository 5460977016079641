"""Production serving: real gunicorn, two workers, on a loopback port (DESIGN §7)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

gunicorn = pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install calfeed[serve])")
import gunicorn.config  # noqa: E402  (after the skip: only when gunicorn is there)

SECRET = "gunicorn-test-secret-0123456789"


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET a URL: status, headers, body (a 304 is an answer, not an error)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture
def server(tmp_path):
    """gunicorn serving `calfeed:create_app()` on a socket bound here, so no port race."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = {**os.environ, "CALFEED_TODAY": "2026-11-21", "CALFEED_SECRET_KEY": SECRET,
           "CALFEED_BASE_URL": f"http://127.0.0.1:{port}"}
    for name in ("CALFEED_RULES", "CALFEED_PROVIDERS"):
        env.pop(name, None)
    command = [sys.executable, "-m", "gunicorn", "--workers", "2",
               "--bind", f"fd://{listener.fileno()}", "--chdir", str(tmp_path)]
    if any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS):
        # Newer gunicorn opens one shared control socket in ~/.gunicorn; servers that
        # other tests start at the same time must not fight over it.
        command.append("--no-control-socket")
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        command + ["calfeed:create_app()"],
        env=env, pass_fds=[listener.fileno()], stdout=log, stderr=subprocess.STDOUT)
    listener.close()  # gunicorn holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if fetch(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("gunicorn did not start:\n" + (tmp_path / "gunicorn.log").read_text())
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_gunicorn_serves_feeds_pages_and_304s(server):
    status, headers, body = fetch(server + "/tracks/annual-reporting.ics")
    assert status == 200
    assert headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert body.startswith(b"BEGIN:VCALENDAR\r\n")
    # both workers compute the same validators, so the 304 holds whichever answers
    for _ in range(6):
        again, again_headers, again_body = fetch(server + "/tracks/annual-reporting.ics",
                                                 {"If-None-Match": headers["ETag"]})
        assert again == 304
        assert again_body == b""
        assert again_headers["ETag"] == headers["ETag"]
    status, headers, body = fetch(server + "/calendar/?next_decision_date=2024-07-31")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"Wednesday, January 24, 2024" in body
    assert f'value="{server}/calendar.ics?next_decision_date=2024-07-31"'.encode() in body
    health = fetch(server + "/healthz")
    assert health[0] == 200 and b'"status":"ok"' in health[2].replace(b" ", b"")
