"""Hosting for real: Debian's nginx with deploy/nginx.conf over a `calfeed build` site.

Every file is fetched through nginx and held against what the Flask app answers at the
same URL: the same bytes, content type, Cache-Control and security headers.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from calfeed.build import site as build
from calfeed import create_app
from calfeed.core import tokens

from apps import SECRET, TODAY
from grouping import set_groups
from serving import copy_data
from files import ROOT

NGINX = Path("/usr/sbin/nginx")
SERVER_BLOCK = ROOT / "deploy" / "nginx.conf"
SAME_HEADERS = ("Content-Type", "Cache-Control", "Referrer-Policy", "X-Content-Type-Options",
                "Content-Security-Policy", "X-Robots-Tag")

pytestmark = [pytest.mark.nginx, pytest.mark.skipif(
    not NGINX.exists(), reason="/usr/sbin/nginx is missing (scripts/test installs it: apt-get install nginx)")]


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET a path from 127.0.0.1:port: status, headers, body (no redirects followed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def nginx_conf(prefix: Path, port: int, site: Path) -> Path:
    """A whole nginx.conf around deploy/nginx.conf, every path under prefix."""
    block = SERVER_BLOCK.read_text()
    assert block.count("listen 80;") == 1 and block.count("root /srv/calfeed/site;") == 1
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};")
    block = block.replace("root /srv/calfeed/site;", f"root {site};")
    (prefix / "calfeed.conf").write_text(block)
    temps = "\n".join(f"    {name}_temp_path {prefix / name};"
                      for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, the workers would drop to `nobody`, who cannot read pytest's private tmp.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} notice;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / "access.log"};
{temps}
    include {prefix / "calfeed.conf"};
}}
""")
    return conf


@pytest.fixture
def site(tmp_path):
    """The demo site with its groups (tests/grouping.py), built for the port nginx will
    listen on, and that port's socket."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    rules, _ = copy_data(tmp_path / "data")
    set_groups(tmp_path / "data")
    config = {"CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": None,
              "CALFEED_SECRET_KEY": SECRET, "CALFEED_TODAY": TODAY,
              "CALFEED_BASE_URL": f"http://127.0.0.1:{port}",
              "INSTANCE_PATH": str(tmp_path / "instance")}
    build.build(tmp_path / "site", config)
    try:
        yield tmp_path / "site", port, listener, config
    finally:
        listener.close()


@pytest.fixture
def nginx(site, tmp_path):
    """Debian's nginx in the foreground over the built site, on the socket bound above."""
    root, port, listener, config = site
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    conf = nginx_conf(prefix, port, root)
    # nginx takes over listening sockets named in $NGINX (its binary-upgrade hand-over),
    # so the port bound above is never free for another test to take.
    with (prefix / "stderr.log").open("w") as stderr:  # nginx holds its own copy, too
        process = subprocess.Popen(
            [str(NGINX), "-e", str(prefix / "error.log"), "-c", str(conf), "-p", str(prefix) + "/"],
            env={**os.environ, "NGINX": f"{listener.fileno()};"}, pass_fds=[listener.fileno()],
            stdout=subprocess.DEVNULL, stderr=stderr)
    listener.close()  # nginx holds its own copy

    def logs() -> str:
        return "\n".join(p.read_text() for p in (prefix / "stderr.log", prefix / "error.log")
                         if p.exists())

    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if fetch(port, "/")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("nginx did not start:\n" + logs())
            time.sleep(0.1)
        yield port, root, create_app(build.site_config({**config, "TESTING": True})).test_client()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "[emerg]" not in logs() and "[alert]" not in logs()


def url_of(path: str) -> str:
    """The URL a file of the site answers: `a/index.html` → `/a/`."""
    return "/" + (path[:-len("index.html")] if path.endswith("index.html") else path)


def test_a_feed_through_nginx_is_the_apps(nginx):
    port, root, app = nginx
    path = f"/p/{tokens.token(SECRET.encode(), 'demo-8-month', 0)}.ics"
    status, headers, body = fetch(port, path)
    assert status == 200
    assert headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert body == app.get(path).data
    assert body.startswith(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert headers["Cache-Control"] == "private, max-age=3600"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in headers
    assert headers["ETag"]


def test_a_page_through_nginx_is_the_apps(nginx):
    port, root, app = nginx
    status, headers, body = fetch(port, "/tracks/annual-reporting/")
    assert status == 200
    expected = app.get("/tracks/annual-reporting/")
    assert body == expected.data
    assert b"Annual Reporting in PARS" in body
    for name in SAME_HEADERS:
        assert headers.get(name) == expected.headers.get(name), name


def test_nginx_answers_304_only_for_the_current_etag(nginx):
    port, root, app = nginx
    path = "/tracks/annual-reporting.ics"
    status, headers, _ = fetch(port, path)
    assert status == 200
    status, again, body = fetch(port, path, {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")
    assert again["ETag"] == headers["ETag"]
    assert again["Cache-Control"] == "public, max-age=3600"
    status, _, body = fetch(port, path, {"If-None-Match": '"something-else"'})
    assert status == 200 and body == app.get(path).data


def test_nginx_answers_404_with_the_sites_page(nginx):
    port, root, app = nginx
    for path in ("/p/" + "a" * 32 + "/", "/p/" + "a" * 32 + ".ics", "/no/such/page", "/p/",
                 "/manifest.json", "/index.html"):
        status, headers, body = fetch(port, path)
        assert status == 404, path
        assert body == (root / "404.html").read_bytes() == app.get("/no/such/page").data, path
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_every_file_through_nginx_is_what_the_app_serves(nginx):
    port, root, app = nginx
    entries = json.loads((root / "manifest.json").read_text())["files"]
    assert len(entries) > 100
    for entry in entries:
        if entry["path"] == "404.html":
            continue
        url = url_of(entry["path"])
        status, headers, body = fetch(port, url)
        with app.get(url) as expected:
            expected.get_data()
        assert (status, body) == (200, expected.data), url
        for name in SAME_HEADERS:
            assert headers.get(name) == expected.headers.get(name), (url, name)
        disposition = headers.get("Content-Disposition")
        if url.startswith(("/p/", "/g/")) and url.endswith(".csv"):
            # The app names a provider's (or group's) CSV after its id, which nginx cannot know.
            assert disposition == "attachment"
        elif url.startswith("/static/"):
            assert disposition is None  # Flask's "inline; filename=…" is the default anyway
        else:
            assert disposition == expected.headers.get("Content-Disposition"), url


def test_download_links_work_through_nginx(nginx):
    port, root, app = nginx
    path = "/tracks/progress-8-month.ics?download=1"
    status, headers, body = fetch(port, path)
    assert status == 200
    assert headers["Content-Disposition"] == app.get(path).headers["Content-Disposition"]
    assert headers["Content-Disposition"] == 'attachment; filename="progress-8-month.ics"'


def test_a_reminder_calendar_downloads_through_nginx_as_from_the_app(nginx):
    port, root, app = nginx
    path = "/tracks/annual-reporting/remind-2w2d.ics"
    assert (root / path.lstrip("/")).is_file()
    status, headers, body = fetch(port, path + "?download=1")
    assert (status, body) == (200, app.get(path).data)
    assert b"BEGIN:VALARM" in body
    assert headers["Content-Disposition"] == app.get(path + "?download=1").headers["Content-Disposition"]
    assert headers["Content-Disposition"] == 'attachment; filename="annual-reporting-remind-2w2d.ics"'
    assert headers["Cache-Control"] == "public, max-age=3600"
