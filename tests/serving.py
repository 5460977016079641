"""A real gunicorn for the tests that need one: loopback only, on a socket bound here.

Used by test_reload, test_security and test_load. The socket is bound to port 0 by the
test and handed to gunicorn as `fd://N`, so two suites running at once never race for a
port, and the server can be reached the moment gunicorn's workers accept.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from calfeed import bundled
from calfeed import settings as calfeed_settings

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
SECRET = "serving-test-secret-0123456789abcdef"
TODAY = "2026-11-21"
# pid, status, ETag and request line: enough to tell which worker answered what.
WHO_ANSWERED = '%(p)s %(s)s "%({etag}o)s" "%(r)s"'


def fetch(url: str, headers: Mapping[str, str] | None = None, method: str = "GET",
          timeout: float = 10, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request: status, headers, body (a 304 or 404 is an answer, not an error)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def copy_data(folder: Path) -> tuple[Path, Path]:
    """Private copies of the bundled rules.toml and demo roster, to edit under a server."""
    folder.mkdir(parents=True, exist_ok=True)
    rules = folder / "rules.toml"
    roster = folder / "providers.csv"
    shutil.copy(bundled("rules.toml"), rules)
    shutil.copy(bundled("providers.csv"), roster)
    return rules, roster


def rewrite(path: Path, text: str) -> None:
    """Save new content in place and move the mtime on, as an editor saving the file does."""
    before = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


@dataclass
class Server:
    """A running gunicorn: its base URL, master process and log files."""

    base: str
    process: subprocess.Popen
    log: Path
    access_log: Path

    def workers(self) -> list[int]:
        """The pids of the master's worker processes."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def access_lines(self) -> list[str]:
        """The access log so far, one line per answered request."""
        return self.access_log.read_text(encoding="utf-8").splitlines()


def rss_kib(pid: int) -> int:
    """A process's resident memory (VmRSS) in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))


def _has_control_socket() -> bool:
    """Whether this gunicorn has the control socket (and so --no-control-socket)."""
    import gunicorn.config

    return any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS)


def app_in(instance: Path) -> str:
    """The app to serve with its instance folder (secret key, last good copy) in instance."""
    return f"calfeed:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"


@contextmanager
def gunicorn(folder: Path, env: Mapping[str, str | None] | None = None, workers: int = 2,
             config: Path | None = GUNICORN_CONF,
             access_log_format: str | None = WHO_ANSWERED, app: str | None = None,
             start_seconds: float = 30) -> Iterator[Server]:
    """Run `gunicorn "calfeed:create_app()"` on a loopback port until the block ends.

    The app's instance folder is folder/instance unless app says otherwise (the plain
    "calfeed:create_app()" keeps it in the checkout's instance/, as an operator's would).
    """
    folder.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    port = listener.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = {**os.environ, "CALFEED_TODAY": TODAY, "CALFEED_SECRET_KEY": SECRET,
                "CALFEED_BASE_URL": base}
    for name in ("CALFEED_RULES", "CALFEED_PROVIDERS", "GUNICORN_CMD_ARGS"):
        settings.pop(name, None)
    # A test's own knobs (CALFEED_LOAD_SECONDS, …) are no settings: the server would refuse them.
    for name in [name for name in settings if name.startswith("CALFEED_")]:
        if name not in calfeed_settings.BY_NAME:
            settings.pop(name)
    for name, value in (env or {}).items():
        if value is None:
            settings.pop(name, None)
        else:
            settings[name] = value
    log = folder / "gunicorn.log"
    access_log = folder / "access.log"
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
               "--bind", f"fd://{listener.fileno()}", "--chdir", str(folder),
               "--access-logfile", str(access_log), "--graceful-timeout", "5"]
    if _has_control_socket():
        # Newer gunicorn opens one shared control socket in ~/.gunicorn; servers that
        # other tests start at the same time must not fight over it.
        command.append("--no-control-socket")
    if config is not None:
        command += ["--config", str(config)]
    if access_log_format is not None:
        command += ["--access-logformat", access_log_format]
    with log.open("w") as output:
        process = subprocess.Popen(command + [app or app_in(folder / "instance")], env=settings,
                                   pass_fds=[listener.fileno()], stdout=output,
                                   stderr=subprocess.STDOUT)
    listener.close()  # gunicorn holds its own copy
    server = Server(base, process, log, access_log)
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                if fetch(base + "/healthz", timeout=2)[0] in (200, 503) \
                        and len(server.workers()) == workers:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start:\n" + log.read_text())
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
