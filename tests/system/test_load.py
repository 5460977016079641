"""Load and soak: gunicorn with two workers, many clients, a reload
in the middle, and nothing lost.

Bounded both ways: at most MAX_REQUESTS requests and at most SECONDS of load, on the
loopback interface only. The suite runs the short form; the README's figures come from
the full minute:

    CALFEED_LOAD_SECONDS=60 python -m pytest -s tests/system/test_load.py
"""

from __future__ import annotations

import csv
import http.client
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from calfeed.core import tokens

from serving import ROOT, SECRET, copy_data, fetch, gunicorn, rewrite, rss_kib

pytestmark = pytest.mark.load

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install calfeed[serve])")

SECONDS = float(os.environ.get("CALFEED_LOAD_SECONDS", "12"))
MAX_REQUESTS = int(os.environ.get("CALFEED_LOAD_REQUESTS", "500000"))
CLIENTS = 16
PROVIDERS = 300
# Memory is "flat" when a worker's resident size at the end of the run is within
# either bound of its size at the start.
FLAT_KIB = 10 * 1024
FLAT_FRACTION = 0.15
SENTINEL = "/tracks/annual-reporting.ics"


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    etags: dict[str, str] = field(default_factory=dict)  # path -> the last ETag of a 200
    sentinel: list[tuple[float, str]] = field(default_factory=list)  # (when, ETag) of 200s
    lock: threading.Lock = field(default_factory=threading.Lock)


def request(host: str, port: int, path: str, etag: str | None) -> tuple[int, str | None]:
    """One GET on a new connection (gunicorn's sync workers close each one)."""
    connection = http.client.HTTPConnection(host, port, timeout=15)
    try:
        connection.request("GET", path, headers={"If-None-Match": etag} if etag else {})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("ETag")
    finally:
        connection.close()


def client(base: str, paths: list[str], counter, stop: threading.Event, tally: Tally) -> None:
    """Walk all paths (shared round robin), every other request conditional.

    Every 64th request is the sentinel, so a slow machine still sees the reload soon
    after it happens, however long a walk over every path takes.
    """
    host, port = urlsplit(base).hostname, urlsplit(base).port
    while not stop.is_set():
        number = next(counter)
        if number >= MAX_REQUESTS:
            return
        path = SENTINEL if number % 64 == 0 else paths[number % len(paths)]
        etag = tally.etags.get(path) if number % 2 else None
        try:
            status, answer_etag = request(host, port, path, etag)
        except Exception as err:  # a refused or reset connection is a lost request
            with tally.lock:
                tally.errors.append(f"{path}: {err!r}")
            continue
        with tally.lock:
            tally.statuses[status] += 1
            if status not in (200, 304):
                tally.errors.append(f"{path}: {status}")
            elif status == 200 and answer_etag:
                tally.etags[path] = answer_etag
                if path == SENTINEL:
                    tally.sentinel.append((time.monotonic(), answer_etag))


def sample_memory(pids: list[int], stop: threading.Event,
                  samples: list[tuple[float, dict[int, int]]]) -> None:
    """Every worker's VmRSS, five times a second, until stopped."""
    while not stop.is_set():
        samples.append((time.monotonic(), {pid: rss_kib(pid) for pid in pids}))
        stop.wait(0.2)


def test_two_workers_under_load_lose_nothing_and_hold_their_memory(tmp_path):
    rules, _ = copy_data(tmp_path / "data")
    roster = tmp_path / "data" / "roster.csv"
    made = subprocess.run([sys.executable, str(ROOT / "bench" / "roster.py"), str(PROVIDERS)],
                          capture_output=True, check=True)
    roster.write_bytes(made.stdout)
    with roster.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == PROVIDERS
    paths = [SENTINEL, "/tracks/progress-8-month.ics", "/calendar.ics?accreditor=cma"]
    for row in rows:
        token = tokens.token(SECRET.encode(), row["id"], int(row["rotation"]))
        paths += [f"/p/{token}.ics", f"/p/{token}.json", f"/p/{token}.csv"]
    paths += [f"/p/{tokens.token(SECRET.encode(), row['id'], int(row['rotation']))}/"
              for row in rows[::20]]  # and some pages, which are rendered every time

    env = {"CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster)}
    with gunicorn(tmp_path / "server", env, access_log_format=None) as server:
        workers = server.workers()
        assert len(workers) == 2
        # Warm up: every feed once in each worker (requests land on either), so the
        # run measures the steady state, not the cache filling.
        port = int(urlsplit(server.base).port)
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda path: request("127.0.0.1", port, path, None), paths * 3))

        tally = Tally()
        stop = threading.Event()
        counter = itertools.count()
        samples: list[tuple[float, dict[int, int]]] = []
        sampler = threading.Thread(target=sample_memory, args=(workers, stop, samples))
        threads = [threading.Thread(target=client, args=(server.base, paths, counter, stop, tally))
                   for _ in range(CLIENTS)]
        started = time.monotonic()
        sampler.start()
        for thread in threads:
            thread.start()

        # Halfway: a new revision of the rules, saved under the load.
        time.sleep(SECONDS / 2)
        before_reload = {etag for _, etag in tally.sentinel}
        rewrite(rules, rules.read_text().replace("revised = 2026-11-21T00:00:00Z",
                                                 "revised = 2026-11-22T00:00:00Z"))
        reloaded = time.monotonic()
        time.sleep(max(0.0, started + SECONDS - time.monotonic()))
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        sampler.join()
        elapsed = time.monotonic() - started
        assert sorted(server.workers()) == sorted(workers)  # no worker died or was replaced
        health = fetch(server.base + "/healthz")

    total = sum(tally.statuses.values())
    window = max(1, len(samples) // 10)
    first = {pid: statistics.median(s[pid] for _, s in samples[:window]) for pid in workers}
    last = {pid: statistics.median(s[pid] for _, s in samples[-window:]) for pid in workers}
    print(f"\nload: {total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s) from "
          f"{CLIENTS} clients over {len(paths)} URLs; statuses {dict(tally.statuses)}; "
          f"errors {len(tally.errors)}")
    for pid in workers:
        print(f"worker {pid}: VmRSS {first[pid] / 1024:.1f} MiB (first 10%) -> "
              f"{last[pid] / 1024:.1f} MiB (last 10%), peak "
              f"{max(s[pid] for _, s in samples) / 1024:.1f} MiB")

    assert tally.errors == [], tally.errors[:20]
    assert total > 0 and set(tally.statuses) == {200, 304}
    assert tally.statuses[304] > total // 10  # the conditional half did get 304s
    # the reload reached the clients: a new ETag for the sentinel after it, and none of
    # the old ones once both workers had looked at the files
    after = [etag for when, etag in tally.sentinel if when > reloaded + 1.5]
    assert before_reload and after, (before_reload, after)
    assert not set(after) & before_reload
    assert b'"revision":"2026-11-22T00:00:00Z"' in health[2].replace(b" ", b"")
    for pid in workers:
        growth = last[pid] - first[pid]
        assert growth < FLAT_KIB or growth < FLAT_FRACTION * first[pid], (pid, first, last)
