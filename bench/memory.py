"""Memory: a gunicorn worker's resident set after it has served every provider of a roster once.

One sync worker, so that the worker measured is the one that served them all; two
client threads keep it busy (sync workers close every connection, so the client's
own connect and parse overlap with the worker's rendering).
"""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path
from typing import Any

from calfeed.core import tokens

from .common import (SECRET, calfeed_env, children, gunicorn_command, listener, log, server,
                     status_kb, wait_until_up)
from .expansion import load_roster

CLIENTS = 2


def _get_all(port: int, paths: list[str], failures: list[str]) -> None:
    """GET each path once, recording anything but a 200."""
    for path in paths:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"{path[:10]}…: {response.status}")
        except OSError as err:
            failures.append(f"{path[:10]}…: {err}")
        finally:
            connection.close()


def run(workdir: Path, size: int) -> dict[str, Any]:
    """The worker's VmRSS before and after serving `size` providers' feeds once each."""
    loaded = load_roster(workdir, size)
    secret = SECRET.encode()
    paths = [f"/p/{tokens.token(secret, p.id, p.rotation)}.ics" for p in loaded.providers.values()]
    del loaded
    sock = listener()
    port = sock.getsockname()[1]
    logfile = workdir / "gunicorn-memory.log"
    env = calfeed_env(CALFEED_PROVIDERS=str(workdir / f"roster-{size}.csv"))
    with server(gunicorn_command(sock, 1), logfile, env=env, pass_fds=[sock.fileno()],
                cwd=workdir) as process:
        sock.close()
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, logfile)
        workers = children(process.pid)
        if len(workers) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {workers}")
        worker = workers[0]
        before = status_kb(worker, "VmRSS")
        log(f"memory: serving {size:,} providers' feeds once each")
        failures: list[str] = []
        start = time.perf_counter()
        threads = [threading.Thread(target=_get_all, args=(port, paths[i::CLIENTS], failures))
                   for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
        if children(process.pid) != [worker]:
            raise RuntimeError("the gunicorn worker was replaced while serving (crash or timeout)")
        after = status_kb(worker, "VmRSS")
        peak = status_kb(worker, "VmHWM")
    return {
        "providers": size, "workers": 1, "requests": len(paths), "failures": len(failures),
        "failure_examples": failures[:5], "seconds": seconds,
        "requests_per_s": len(paths) / seconds,
        "worker_rss_mb_before": before / 1024, "worker_rss_mb_after": after / 1024,
        "worker_peak_rss_mb": peak / 1024,
        "worker_rss_mb_after_10k": after / 1024,
    }
