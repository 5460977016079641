"""What every part of the benchmark shares: the pinned inputs, statistics, servers, the machine."""

from __future__ import annotations

import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules.toml"
# Pinned inputs: the same bytes in every run and in every server of one run.
SECRET = "bench-secret-key-0123456789abcdef"
TODAY = "2026-11-21"
# A fixed base URL makes the feed bytes independent of the port each server gets, so
# gunicorn and nginx serve byte-identical feeds (the build writes absolute links).
BASE_URL = "http://calfeed.bench"


def log(message: str) -> None:
    """Progress on stderr, so stdout stays quiet and the run can be followed."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summary(values: Sequence[float]) -> dict[str, float | int]:
    """Median with min and max beside it: how RESULTS.md reports every figure."""
    clean = [float(v) for v in values]
    if not clean:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "runs": 0}
    return {"median": statistics.median(clean), "min": min(clean), "max": max(clean),
            "runs": len(clean)}


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero (a failed measurement)."""
    return numerator / denominator if denominator else float("nan")


def calfeed_env(**extra: str) -> dict[str, str]:
    """The environment of every calfeed process the benchmark starts: pinned, repeatable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALFEED_")}
    env.update(CALFEED_SECRET_KEY=SECRET, CALFEED_TODAY=TODAY, CALFEED_BASE_URL=BASE_URL,
               CALFEED_RULES=str(RULES))
    # bench.app must be importable by gunicorn whatever the working directory.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def machine() -> dict[str, Any]:
    """Cores, load average and versions: what a reader needs to compare two runs."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    return {"cores": os.cpu_count() or 1, "usable_cores": usable,
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform()}


def listener() -> socket.socket:
    """A listening loopback socket on a free port, to hand to a server (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that bind by themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None,
          timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """GET a URL: status, headers, body (a 304 or 404 is an answer, not an error)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def wait_until_up(url: str, process: subprocess.Popen, logfile: Path, seconds: float = 60) -> None:
    """Poll url until it answers 200; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if fetch(url, timeout=5)[0] == 200:
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            text = logfile.read_text(errors="replace")[-4000:] if logfile.exists() else ""
            raise RuntimeError(f"server at {url} did not come up:\n{text}")
        time.sleep(0.1)


@contextmanager
def server(command: list[str], logfile: Path, env: dict[str, str] | None = None,
           pass_fds: Sequence[int] = (), cwd: Path | None = None,
           stop: signal.Signals = signal.SIGTERM) -> Iterator[subprocess.Popen]:
    """Run a server in its own process group and stop that group (by its id) at the end."""
    with logfile.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   pass_fds=tuple(pass_fds), cwd=cwd, start_new_session=True)
    try:
        yield process
    finally:
        _stop_group(process, stop)


def _stop_group(process: subprocess.Popen, stop: signal.Signals) -> None:
    """Stop the process group this benchmark started: politely, then for sure."""
    try:
        os.killpg(process.pid, stop)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


def children(pid: int) -> list[int]:
    """The ids of a process's children (gunicorn's workers), from /proc."""
    found: list[int] = []
    task = Path(f"/proc/{pid}/task")
    for entry in task.iterdir() if task.exists() else ():
        try:
            found += [int(x) for x in (entry / "children").read_text().split()]
        except OSError:
            continue
    return found


def status_kb(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in kB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(f"/proc/{pid}/status has no {field}")


def gunicorn_command(sock: socket.socket, workers: int, app: str = "bench.app:create_app()") -> list[str]:
    """gunicorn with sync workers on an inherited socket; no access log (it would be measured too)."""
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
               "--bind", f"fd://{sock.fileno()}", "--log-level", "warning", "--timeout", "120"]
    try:
        import gunicorn.config

        if any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS):
            # Newer gunicorn opens a shared control socket in ~/.gunicorn; tests running
            # at the same time must not fight over it.
            command.append("--no-control-socket")
    except ImportError:
        pass
    return command + [app]
