"""Live reload under a real gunicorn with two workers (docs/design.md §7).

An operator edits rules.toml and the roster under a running server. A broken save must
not take a feed down or change it: both workers keep serving the last good data with
its ETag, /healthz says degraded and the log says what is wrong. A fixed save reaches
every worker. The rules and roster are swapped together or not at all: a good
rules.toml next to a broken roster keeps the old rules too. An edit `calfeed diff`
refuses is refused the same way. And the last good data is the
server's, not one worker's: a worker started or restarted while the files are broken
answers from it too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from calfeed.serve import redact
from calfeed.core import tokens

from serving import SECRET, Server, app_in, copy_data, fetch, gunicorn, rewrite

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install calfeed[serve])")

# The store looks at the files at most once a second; a few seconds is plenty.
SETTLE = 10.0
OLD_REVISED = "revised = 2026-11-21T00:00:00Z"
NEW_REVISED = "revised = 2026-11-22T00:00:00Z"
# Source 000, 8-month track: "Provider submits progress report … April 3, 2024".
OLD_DATE = "materials-due = 2024-04-03,"
# The same date moved for the tests, with the history `calfeed diff` asks a published
# date to keep; without it, the edit `calfeed diff` refuses.
NEW_DATE = ("materials-due = { date = 2024-04-10, changes = [{ was = 2024-04-03, "
            "announced = 2024-03-20 }] },")
UNREVIEWED_DATE = "materials-due = 2024-04-10,"


def feed_path() -> str:
    """The 8-month provider's private feed."""
    return f"/p/{tokens.token(SECRET.encode(), 'demo-8-month', 0)}.ics"


def health(server: Server) -> dict:
    """/healthz as JSON, asserting it answers 200 (degraded is not down)."""
    status, _, body = fetch(server.base + "/healthz")
    assert status == 200, body
    return json.loads(body)


def wait_for(condition, what: str) -> None:
    """Poll until condition() holds, failing after SETTLE seconds."""
    deadline = time.monotonic() + SETTLE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def answers_from_every_worker(server: Server, path: str, check) -> set[str]:
    """Request path concurrently until both workers have answered; check each answer.

    The access log names the worker (pid) of every answer, so the test knows, rather
    than hopes, that each worker's own copy of the data was seen.
    """
    seen: set[str] = set()
    logged = redact.redact(path)  # the log shows a token's prefix only
    start = len(server.access_lines())
    deadline = time.monotonic() + SETTLE
    with ThreadPoolExecutor(8) as pool:
        while len(seen) < len(server.workers()):
            for answer in pool.map(lambda _: fetch(server.base + path), range(16)):
                check(*answer)
            lines = server.access_lines()[start:]
            seen |= {line.split()[0] for line in lines if f" {logged} " in line}
            if time.monotonic() > deadline:
                pytest.fail(f"only {seen} answered {path}")
    return seen


# calfeed's lines in gunicorn's output: "[time] [pid] [LEVEL] message".
LOG_LINE = re.compile(r"^\[[^\]]+\] \[(\d+)\] \[([A-Z]+)\] (.*)$")


def logged(server: Server, start: int = 0) -> list[tuple[int, str]]:
    """(pid, message) of each calfeed line the server logged past offset start."""
    text = server.log.read_text(encoding="utf-8")[start:]
    return [(int(m[1]), m[3]) for m in map(LOG_LINE.match, text.splitlines()) if m]


def mark(server: Server) -> int:
    """Where the server's log ends now: lines logged later are the answer to what comes next."""
    return len(server.log.read_text(encoding="utf-8"))


def every_worker_logs(server: Server, start: int, text: str) -> list[str]:
    """Wait until each worker has logged a line starting with text; the lines."""
    def found() -> list[tuple[int, str]]:
        return [(pid, line) for pid, line in logged(server, start) if line.startswith(text)]

    wait_for(lambda: {pid for pid, _ in found()} >= set(server.workers()),
             f"every worker to log {text!r}:\n{server.log.read_text()}")
    return [line for _, line in found()]


def no_secret_in(body: bytes, *private: str) -> None:
    """A public answer shows none of the given texts (problem words, paths)."""
    for text in private:
        assert text.encode() not in body, text


@pytest.fixture
def served(tmp_path):
    """gunicorn (2 workers) on private copies of rules.toml and the roster."""
    rules, roster = copy_data(tmp_path / "data")
    with gunicorn(tmp_path / "server", {"CALFEED_RULES": str(rules),
                                        "CALFEED_PROVIDERS": str(roster)}) as server:
        # A worker loads the files when it boots: both must have loaded the good ones
        # before a test breaks them, however slowly the second one started.
        answers_from_every_worker(server, "/healthz",
                                  lambda status, headers, body: status == 200 or pytest.fail(body))
        yield server, rules, roster


@pytest.mark.gunicorn
def test_broken_files_keep_the_old_feed_and_a_fix_reaches_every_worker(served):
    server, rules, roster = served
    path = feed_path()
    status, headers, old_body = fetch(server.base + path)
    assert status == 200
    old_etag = headers["ETag"]
    assert b"DTSTART;VALUE=DATE:20240403" in old_body
    assert health(server)["status"] == "ok"
    good_rules, good_roster = rules.read_text(), roster.read_text()

    # A half-edited save: a TOML syntax error, and a roster row with an impossible date.
    start = mark(server)
    rewrite(rules, good_rules.replace(OLD_DATE, "materials-due = 2024-04-,", 1))
    rewrite(roster, good_roster.replace("2024-11-30,yes", "2024-13-30,yes"))
    every_worker_logs(server, start, "reload refused: ")  # every worker looked at the files

    def old_feed(status, headers, body):
        assert status == 200
        assert headers["ETag"] == old_etag
        assert body == old_body

    assert len(answers_from_every_worker(server, path, old_feed)) == 2
    for _ in range(6):  # whichever worker answers
        report = health(server)
        assert report["status"] == "degraded"
        assert report["revision"] == "2026-11-21T00:00:00Z"
        assert report["failed_at"] is not None
    # the conditional GET a calendar client makes still says "unchanged"
    assert fetch(server.base + path, {"If-None-Match": old_etag})[0] == 304
    # why is in the log, never in the public answer
    assert re.search(rf"reload refused: {re.escape(str(rules))}: line \d+.*TOML syntax error",
                     server.log.read_text()), server.log.read_text()
    assert str(rules).encode() not in fetch(server.base + "/healthz")[2]

    # Fixed: a moved date and a raised revision; every worker serves the new feed.
    start = mark(server)
    rewrite(roster, good_roster)
    rewrite(rules, good_rules.replace(OLD_DATE, NEW_DATE, 1).replace(OLD_REVISED, NEW_REVISED))
    every_worker_logs(server, start, f"reload of {rules}: ")
    new_etags = set()

    def new_feed(status, headers, body):
        assert status == 200
        assert headers["ETag"] != old_etag
        assert b"DTSTART;VALUE=DATE:20240410" in body
        assert b"DTSTART;VALUE=DATE:20240403" not in body
        new_etags.add(headers["ETag"])

    assert len(answers_from_every_worker(server, path, new_feed)) == 2
    assert len(new_etags) == 1  # both workers render the same bytes
    assert fetch(server.base + path, {"If-None-Match": old_etag})[0] == 200
    for _ in range(6):
        report = health(server)
        assert report["status"] == "ok"
        assert report["revision"] == "2026-11-22T00:00:00Z"


@pytest.mark.gunicorn
def test_good_rules_next_to_a_broken_roster_keep_the_old_rules_too(served):
    server, rules, roster = served
    track = "/tracks/progress-8-month.ics"
    status, headers, old_body = fetch(server.base + track)
    old_etag = headers["ETag"]
    good_roster = roster.read_text()

    # rules.toml alone would load (a new date, a new revision); the roster does not.
    start = mark(server)
    rewrite(roster, good_roster + "demo-8-month,A second row with the same id,,no,,\n")
    rewrite(rules, rules.read_text().replace(OLD_DATE, NEW_DATE, 1)
            .replace(OLD_REVISED, NEW_REVISED))
    every_worker_logs(server, start, "reload refused: ")

    def old_rules(status, headers, body):
        assert status == 200
        assert headers["ETag"] == old_etag
        assert b"DTSTART;VALUE=DATE:20240403" in body

    answers_from_every_worker(server, track, old_rules)
    report = health(server)
    assert report["revision"] == "2026-11-21T00:00:00Z"  # not the new rules' revision
    added = len(good_roster.splitlines()) + 1  # the spreadsheet row of the line added above
    assert re.search(rf"reload refused: {re.escape(str(roster))}: row {added} .*duplicate "
                     "provider id", server.log.read_text()), server.log.read_text()
    # the roster's other providers are the old ones too: the private feed is unchanged
    assert b"DTSTART;VALUE=DATE:20240403" in fetch(server.base + feed_path())[2]

    # The roster fixed, the waiting rules come in whole.
    start = mark(server)
    rewrite(roster, good_roster)
    every_worker_logs(server, start, f"reload of {rules}: ")

    def new_rules(status, headers, body):
        assert status == 200 and headers["ETag"] != old_etag
        assert b"DTSTART;VALUE=DATE:20240410" in body

    answers_from_every_worker(server, track, new_rules)
    assert health(server)["revision"] == "2026-11-22T00:00:00Z"


@pytest.mark.gunicorn
def test_an_edit_calfeed_diff_refuses_never_goes_live_and_a_reviewed_one_does(served):
    server, rules, roster = served
    path = feed_path()
    status, headers, old_body = fetch(server.base + path)
    old_etag = headers["ETag"]
    good = rules.read_text()

    def old_feed(status, headers, body):
        assert status == 200
        assert headers["ETag"] == old_etag and body == old_body

    # A published date moved without its history, `revised` raised: every worker
    # refuses it, keeps the old feed, and says why in the log, one problem a line.
    start = mark(server)
    rewrite(rules, good.replace(OLD_DATE, UNREVIEWED_DATE, 1).replace(OLD_REVISED, NEW_REVISED))
    lines = every_worker_logs(server, start, f"reload refused: {rules}: ")
    assert all(line.startswith(
        f"reload refused: {rules}: progress.cohorts[1].dates.materials-due: published date "
        "moved from 2024-04-03 to 2024-04-10 with no history entry") for line in lines), lines
    assert len(lines) == len(server.workers())  # one problem, one line per worker
    assert len(answers_from_every_worker(server, path, old_feed)) == 2
    for _ in range(6):
        status, _, body = fetch(server.base + "/healthz")
        assert status == 200
        report = json.loads(body)
        assert report["status"] == "degraded" and report["failed_at"] is not None
        assert report["revision"] == "2026-11-21T00:00:00Z"
        no_secret_in(body, str(rules), "materials-due", "history", "2024-04-10")

    # The history added but `revised` left as it was: refused too.
    start = mark(server)
    rewrite(rules, good.replace(OLD_DATE, NEW_DATE, 1))
    every_worker_logs(server, start, f"reload refused: {rules}: revised: 2026-11-21T00:00:00Z "
                                     "is not later than 2026-11-21T00:00:00Z")
    answers_from_every_worker(server, path, old_feed)

    # Reviewed (history kept, `revised` raised): live on every worker, and each logs
    # the reload line at gunicorn.conf.py's settings.
    start = mark(server)
    rewrite(rules, good.replace(OLD_DATE, NEW_DATE, 1).replace(OLD_REVISED, NEW_REVISED))
    assert every_worker_logs(server, start, f"reload of {rules}: ") == [
        f"reload of {rules}: events: 1 moved, 0 appeared, 0 disappeared; "
        "1 of 4 providers affected"] * len(server.workers())

    def new_feed(status, headers, body):
        assert status == 200 and headers["ETag"] != old_etag
        assert b"DTSTART;VALUE=DATE:20240410" in body

    answers_from_every_worker(server, path, new_feed)
    assert health(server)["status"] == "ok"


def replaced(server: Server, gone: int, count: int) -> bool:
    """Whether gunicorn has count workers again, none of them the one that was killed."""
    workers = server.workers()
    return len(workers) == count and gone not in workers


@pytest.mark.gunicorn
def test_a_worker_started_while_the_files_are_broken_serves_the_last_good_data(served):
    server, rules, roster = served
    path = feed_path()
    status, headers, old_body = fetch(server.base + path)
    old_etag = headers["ETag"]
    good_roster = roster.read_text()

    def old_feed(status, headers, body):
        assert status == 200, body
        assert headers["ETag"] == old_etag and body == old_body

    rewrite(roster, good_roster.replace("2024-11-30,yes", "2024-13-30,yes"))
    start = mark(server)
    every_worker_logs(server, start, f"reload refused: {roster}: row ")

    # gunicorn restarts a worker killed outright, with the roster still broken ...
    workers_before = server.workers()
    victim = workers_before[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: replaced(server, victim, 2), "gunicorn to replace the killed worker")
    # ... and starts a third on demand (TTIN): neither has ever loaded the good roster.
    server.process.send_signal(signal.SIGTTIN)
    wait_for(lambda: len(server.workers()) == 3, "a third worker")
    # Every answer of every worker is the old feed: none is a 503.
    assert len(answers_from_every_worker(server, path, old_feed)) == 3
    for _ in range(9):
        report = health(server)
        assert report["status"] == "degraded"
        assert report["revision"] == "2026-11-21T00:00:00Z"
    started = {pid for pid, line in logged(server, start)
               if line.startswith("serving the last good copy ")}
    assert started == set(server.workers()) - set(workers_before)

    # Fixed: every worker, old and new, takes it (each says so in the log: a few health
    # answers could all come from the same two workers while the third still loads).
    start = mark(server)
    rewrite(roster, good_roster.replace("Demo Health System", "Demo Health System East"))
    every_worker_logs(server, start, f"reload of {rules}: ")
    assert all(health(server)["status"] == "ok" for _ in range(6))

    def renamed(status, headers, body):
        assert status == 200 and b"Demo Health System East" in body

    answers_from_every_worker(server, path, renamed)


@pytest.mark.gunicorn
def test_a_server_started_on_broken_or_refused_files_serves_the_last_good_data(tmp_path):
    rules, roster = copy_data(tmp_path / "data")
    # Each run has its own port: one site address makes their feeds comparable.
    env = {"CALFEED_RULES": str(rules), "CALFEED_PROVIDERS": str(roster),
           "CALFEED_BASE_URL": "https://deadlines.example.org"}
    app = app_in(tmp_path / "instance")  # the same instance folder for every run
    path = feed_path()
    with gunicorn(tmp_path / "first", env, app=app) as server:
        answers_from_every_worker(server, path, lambda status, *_: status == 200 or pytest.fail())
        status, headers, old_body = fetch(server.base + path)
        old_etag = headers["ETag"]
    good = rules.read_text()
    assert b"DTSTART;VALUE=DATE:20240403" in old_body

    def old_feed(status, headers, body):
        assert status == 200, body
        assert body == old_body and headers["ETag"] == old_etag

    # Broken while the server was down: it starts on the last good copy, degraded.
    rewrite(rules, good.replace(OLD_DATE, "materials-due = 2024-04-,", 1))
    with gunicorn(tmp_path / "second", env, app=app) as server:
        answers_from_every_worker(server, path, old_feed)
        assert health(server)["status"] == "degraded"
    # An edit `calfeed diff` refuses, made while it was down: the same.
    rewrite(rules, good.replace(OLD_DATE, UNREVIEWED_DATE, 1).replace(OLD_REVISED, NEW_REVISED))
    with gunicorn(tmp_path / "third", env, app=app) as server:
        answers_from_every_worker(server, path, old_feed)
        assert health(server)["status"] == "degraded"
        assert any(line.startswith(f"reload refused: {rules}: progress.cohorts[1]")
                   for _, line in logged(server))
    # Reviewed: it starts on the files.
    rewrite(rules, good.replace(OLD_DATE, NEW_DATE, 1).replace(OLD_REVISED, NEW_REVISED))
    with gunicorn(tmp_path / "fourth", env, app=app) as server:
        answers_from_every_worker(server, path, lambda status, headers, body: (
            status == 200 and b"DTSTART;VALUE=DATE:20240410" in body) or pytest.fail(body))
        assert health(server)["status"] == "ok"
