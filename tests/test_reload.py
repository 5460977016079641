"""Live reload under a real gunicorn with two workers (DESIGN §7).

An operator edits rules.toml and the roster under a running server. A broken save must
not take a feed down or change it: both workers keep serving the last good data with
its ETag, /healthz says degraded and the log says what is wrong. A fixed save reaches
every worker. And the
rules and roster are swapped together or not at all: a good rules.toml next to a
broken roster keeps the old rules too.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from calfeed.serve import redact
from calfeed.core import tokens

from serving import SECRET, Server, copy_data, fetch, gunicorn, rewrite

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install calfeed[serve])")

# The store looks at the files at most once a second; a few seconds is plenty.
SETTLE = 10.0
OLD_REVISED = "revised = 2026-11-21T00:00:00Z"
NEW_REVISED = "revised = 2026-11-22T00:00:00Z"
# Source 000, 8-month track: "Provider submits progress report … April 3, 2024".
OLD_DATE = "materials-due = 2024-04-03"
NEW_DATE = "materials-due = 2024-04-10"


def feed_path() -> str:
    """The 8-month provider's private feed."""
    return f"/p/{tokens.token(SECRET.encode(), 'demo-8-month', 0)}.ics"


def health(server: Server) -> dict:
    """/healthz as JSON, asserting it answers 200 (degraded is not down)."""
    import json

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
    rewrite(rules, good_rules.replace(OLD_DATE, "materials-due = 2024-04-", 1))
    rewrite(roster, good_roster.replace("2024-11-30,yes", "2024-13-30,yes"))
    wait_for(lambda: health(server)["status"] == "degraded", "/healthz to say degraded")
    time.sleep(1.2)  # past the reload interval: every worker has now looked at the files

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
    rewrite(roster, good_roster)
    rewrite(rules, good_rules.replace(OLD_DATE, NEW_DATE, 1).replace(OLD_REVISED, NEW_REVISED))
    wait_for(lambda: fetch(server.base + path)[1]["ETag"] != old_etag, "a new ETag")
    time.sleep(1.2)
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
    rewrite(roster, good_roster + "demo-8-month,A second row with the same id,,no,,\n")
    rewrite(rules, rules.read_text().replace(OLD_DATE, NEW_DATE, 1)
            .replace(OLD_REVISED, NEW_REVISED))
    wait_for(lambda: health(server)["status"] == "degraded", "/healthz to say degraded")
    time.sleep(1.2)

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
    rewrite(roster, good_roster)
    wait_for(lambda: health(server)["status"] == "ok", "/healthz to say ok")
    time.sleep(1.2)

    def new_rules(status, headers, body):
        assert status == 200 and headers["ETag"] != old_etag
        assert b"DTSTART;VALUE=DATE:20240410" in body

    answers_from_every_worker(server, track, new_rules)
    assert health(server)["revision"] == "2026-11-22T00:00:00Z"
