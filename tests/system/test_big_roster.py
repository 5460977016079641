"""A large roster moved over a running server's, under load: no request fails.

gunicorn with deploy/gunicorn.conf.py and 2 workers serves a synthetic roster
(bench/roster.py's providers, each with three contact addresses, so that the roster
limit's 100,000 rows come close to its 16 MiB too); client threads fetch provider
feeds, track feeds, pages and /healthz without pause while a new roster (one provider
more) is moved over the live one. Each worker loads it in its poller thread while its
request thread keeps answering from the old data. Asserted: no error, only 200s, no
WORKER TIMEOUT and no worker replaced, and each worker ends up serving the new
roster. The suite runs a small roster; the README's figure is the one at the limit:

    CALFEED_ROSTER_ROWS=100000 python -m pytest -s tests/system/test_big_roster.py
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from calfeed.core import rules as rules_module
from calfeed.core import tokens

from serving import ROOT, SECRET, copy_data, fetch, gunicorn, rss_kib

pytestmark = [pytest.mark.load, pytest.mark.gunicorn]

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install calfeed[serve])")

ROWS = int(os.environ.get("CALFEED_ROSTER_ROWS", "20000"))
CLIENTS = 6
# A worker loads about 25,000 rows a second on a shared 2-core machine (boot and reload).
LOAD_SECONDS = 30 + ROWS / 5000


def synthetic(rows: int) -> str:
    """bench/roster.py's providers, that many, with three contact addresses each."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import roster
    finally:
        sys.path.pop(0)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=roster.COLUMNS + ("email",), lineterminator="\r\n")
    writer.writeheader()
    for row in roster.rows(rows):
        n = row["id"]
        row["email"] = (f"cme.office.{n}@northside-health.org; director.{n}@"
                        f"northside-health.org; coordinator.{n}@example.org")
        writer.writerow(row)
    return out.getvalue()


def loaded_lines(log: Path, rules: Path, rows: int) -> list[str]:
    """The log's lines saying a worker loaded the rules with that many providers."""
    wanted = f" providers)"
    return [line for line in log.read_text(encoding="utf-8").splitlines()
            if f"[INFO] loaded {rules} (revised " in line and line.endswith(f", {rows}{wanted}")]


def test_a_large_roster_moved_over_a_running_servers_fails_no_request(tmp_path):
    rules, roster = copy_data(tmp_path / "data")
    with roster.open("w", encoding="utf-8", newline="") as handle:
        handle.write(synthetic(ROWS - 1))
    incoming = roster.with_name("providers.new.csv")
    with incoming.open("w", encoding="utf-8", newline="") as handle:
        handle.write(synthetic(ROWS))  # one provider more: the log says which loaded
    size = incoming.stat().st_size
    assert size <= rules_module.MAX_ROSTER_BYTES and ROWS <= rules_module.MAX_ROSTER_ROWS
    paths = [f"/p/{tokens.token(SECRET.encode(), f'p{n:06d}', 0)}.ics" for n in (2, 3, 4, 5)]
    paths += ["/tracks/annual-reporting.ics", "/tracks/annual-reporting/", "/", "/healthz"]
    statuses: Counter = Counter()
    errors: list[str] = []
    latencies: list[tuple[float, float]] = []  # (when it ended, seconds)
    lock = threading.Lock()
    stop = threading.Event()

    def client(offset: int, base: str) -> None:
        n = offset
        while not stop.is_set():
            path = paths[n % len(paths)]
            n += 1
            began = time.monotonic()
            try:
                status = fetch(base + path, timeout=60)[0]
            except OSError as err:
                with lock:
                    errors.append(f"{path}: {err!r}")
                continue
            ended = time.monotonic()
            with lock:
                statuses[status] += 1
                latencies.append((ended, ended - began))

    env = {"CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster)}
    with gunicorn(tmp_path / "server", env, start_seconds=2 * LOAD_SECONDS) as server:
        workers = server.workers()
        deadline = time.monotonic() + LOAD_SECONDS
        while len(loaded_lines(server.log, rules, ROWS - 1)) < 2:  # both have booted on it
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.2)
        peak = {pid: rss_kib(pid) for pid in workers}
        threads = [threading.Thread(target=client, args=(i, server.base)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1)
            moved = time.monotonic()
            os.replace(incoming, roster)  # as the README says: write aside, then mv
            deadline = moved + LOAD_SECONDS
            while len(loaded_lines(server.log, rules, ROWS)) < 2:
                assert time.monotonic() < deadline, "the new roster never loaded"
                for pid in workers:
                    peak[pid] = max(peak[pid], rss_kib(pid))
                time.sleep(0.2)
            reloaded = time.monotonic()
            time.sleep(1)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert server.workers() == workers  # none timed out, none was replaced
        log = server.log.read_text(encoding="utf-8")
    during = [seconds for ended, seconds in latencies if moved <= ended <= reloaded]
    print(f"\n{ROWS} rows, {size / 1e6:.1f} MB: both workers reloaded in "
          f"{reloaded - moved:.1f} s; {len(during)} requests meanwhile, slowest "
          f"{max(during):.2f} s, median {statistics.median(during) * 1000:.0f} ms; "
          f"{sum(statuses.values())} requests in all {dict(statuses)}, {len(errors)} errors; "
          f"worker VmRSS peak {', '.join(f'{kib / 1024:.0f} MiB' for kib in peak.values())}")
    assert errors == []
    assert set(statuses) == {200}
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log
    assert len(during) > 0  # requests were answered while both workers loaded
