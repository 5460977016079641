"""The data a running server answers from, in one process: reviewed before it goes live,
loaded off the request path, and the last good copy shared by every worker (docs/design.md §7).

Each app here stands for one gunicorn worker: apps on the same instance folder and
files are siblings. tests/test_reload.py does the same with a real gunicorn.
"""

from __future__ import annotations

import gc
import logging
import stat
import threading
import time

import pytest
from click.testing import CliRunner

from calfeed.build import site
from calfeed.cli import main
from calfeed.core import rules as rules_module
from calfeed.core.rules import roster as roster_sheet
from calfeed.core import tokens
from calfeed.serve import lastgood, store

from conftest import SECRET, make_app, settings
from serving import copy_data, rewrite

FEED = f"/p/{tokens.token(SECRET.encode(), 'demo-8-month', 0)}.ics"
OLD_DATE = "materials-due = 2024-04-03,"
# Source 000's April 3, 2024 (8-month cohort), moved for the tests: with the history
# `calfeed diff` asks of a published date, and without it.
NEW_DATE = ("materials-due = { date = 2024-04-10, changes = [{ was = 2024-04-03, "
            "announced = 2024-03-20 }] },")
UNREVIEWED_DATE = "materials-due = 2024-04-10,"
OLD_REVISED = "revised = 2026-11-21T00:00:00Z"
NEW_REVISED = "revised = 2026-11-22T00:00:00Z"
OLD_DAY = b"DTSTART;VALUE=DATE:20240403"
NEW_DAY = b"DTSTART;VALUE=DATE:20240410"


def edit(data, old: str, new: str, revised: bool = True) -> None:
    """Change rules.toml under the running apps, raising `revised` unless told not to."""
    rules = data / "rules.toml"
    text = rules.read_text().replace(old, new, 1)
    rewrite(rules, text.replace(OLD_REVISED, NEW_REVISED) if revised else text)


def test_an_edit_calfeed_diff_refuses_keeps_the_last_good_data_until_it_is_reviewed(
        tmp_path, data, caplog):
    client = make_app(tmp_path, data).test_client()
    before = client.get(FEED)
    assert OLD_DAY in before.data
    good = (data / "rules.toml").read_text()

    # A published date moved with no history entry, `revised` raised.
    edit(data, OLD_DATE, UNREVIEWED_DATE)
    with caplog.at_level(logging.INFO, logger="calfeed"):
        during = client.get(FEED)
    assert during.status_code == 200 and during.data == before.data
    assert during.headers["ETag"] == before.headers["ETag"]
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json["status"] == "degraded" and health.json["failed_at"] is not None
    assert health.json["revision"] == "2026-11-21T00:00:00Z"
    for private in (str(data), "materials-due", "history", "2024-04-10"):
        assert private not in health.get_data(as_text=True)
    rules = data / "rules.toml"
    lines = [r.getMessage() for r in caplog.records]
    assert [line for line in lines if line.startswith("reload refused: ")] == [
        f"reload refused: {rules}: progress.cohorts[1].dates.materials-due: published date "
        "moved from 2024-04-03 to 2024-04-10 with no history entry (expected materials-due = "
        "{ date = 2024-04-10, changes = [{ was = 2024-04-03, announced = YYYY-MM-DD, "
        'note = "why it moved" }] })']
    refusal = next(line for line in lines if line.startswith(f"reload of {rules} refused"))
    kept = lastgood.find(lastgood.folder(tmp_path / "instance", str(rules), None))
    assert kept is not None
    # The log says how to see the same report: `calfeed diff` against the copy being served.
    assert f"`calfeed diff {kept.rules} {rules}`" in refusal
    assert "keeping the data loaded at " in refusal

    # The history added, `revised` as served: dates changed without raising it.
    rewrite(rules, good.replace(OLD_DATE, NEW_DATE, 1))
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="calfeed"):
        assert client.get(FEED).data == before.data
    assert [r.getMessage() for r in caplog.records][0].startswith(
        f"reload refused: {rules}: revised: 2026-11-21T00:00:00Z is not later than "
        "2026-11-21T00:00:00Z")

    # Reviewed: the history and a raised `revised`. Live at once.
    edit(data, OLD_DATE, NEW_DATE)
    after = client.get(FEED)
    assert NEW_DAY in after.data and OLD_DAY not in after.data
    assert client.get("/healthz").json["status"] == "ok"


def test_a_roster_edit_needs_no_review(tmp_path, data):
    client = make_app(tmp_path, data).test_client()
    roster = data / "providers.csv"
    rewrite(roster, roster.read_text().replace("Demo Health System", "Demo Health System East"))
    assert b"Demo Health System East" in client.get(FEED.replace(".ics", "/")).data
    assert client.get("/healthz").json["status"] == "ok"


def test_a_worker_started_while_the_files_are_broken_answers_from_the_last_good_copy(
        tmp_path, data, caplog):
    first = make_app(tmp_path, data).test_client()
    before = first.get(FEED)
    roster = data / "providers.csv"
    rewrite(roster, roster.read_text().replace("2024-07-31,no", "2024-02-30,no"))
    with caplog.at_level(logging.INFO, logger="calfeed"):
        second = make_app(tmp_path, data).test_client()  # a sibling, or a restarted worker
    got = second.get(FEED)
    assert got.status_code == 200
    assert got.data == before.data and got.headers["ETag"] == before.headers["ETag"]
    assert got.headers["Last-Modified"] == before.headers["Last-Modified"]
    health = second.get("/healthz").json
    assert health["status"] == "degraded"
    assert health["loaded_at"] == first.get("/healthz").json["loaded_at"]  # the same load
    assert any(r.getMessage().startswith(f"reload refused: {roster}: row 2")
               for r in caplog.records)
    assert any(r.getMessage().startswith("serving the last good copy ") for r in caplog.records)


def test_a_worker_started_on_a_refused_edit_answers_from_the_last_good_copy(tmp_path, data):
    before = make_app(tmp_path, data).test_client().get(FEED)
    edit(data, OLD_DATE, UNREVIEWED_DATE)
    later = make_app(tmp_path, data).test_client()
    assert later.get(FEED).data == before.data
    assert later.get("/healthz").json["status"] == "degraded"
    # and once reviewed, the same worker takes it
    edit(data, UNREVIEWED_DATE, NEW_DATE)
    assert NEW_DAY in later.get(FEED).data
    assert later.get("/healthz").json["status"] == "ok"


def test_a_worker_behind_its_sibling_takes_the_newer_copy_when_the_files_break(tmp_path, data):
    first = make_app(tmp_path, data).test_client()
    second = make_app(tmp_path, data).test_client()
    assert OLD_DAY in second.get(FEED).data
    # A reviewed edit, seen by the first worker only, then a broken save.
    edit(data, OLD_DATE, NEW_DATE)
    assert NEW_DAY in first.get(FEED).data
    rules = data / "rules.toml"
    rewrite(rules, rules.read_text().replace("revised = ", "revised = = "))
    # The second worker never loaded the edit; it answers with the server's last good data.
    for client in (second, first):
        answer = client.get(FEED)
        assert answer.status_code == 200
        assert NEW_DAY in answer.data and OLD_DAY not in answer.data
        assert client.get("/healthz").json["status"] == "degraded"


def test_another_rules_file_never_finds_this_ones_copy(tmp_path, data):
    make_app(tmp_path, data).test_client().get(FEED)  # keeps a copy of data's files
    other = tmp_path / "other"
    copy_data(other)
    (other / "rules.toml").write_text("revised = \n", encoding="utf-8")
    client = make_app(tmp_path, other).test_client()  # the same instance folder
    assert client.get(FEED).status_code == 503
    assert client.get("/healthz").json["status"] == "unavailable"


def test_the_kept_copy_is_the_bytes_that_loaded_and_private(tmp_path, data):
    make_app(tmp_path, data).test_client().get("/healthz")
    rules = data / "rules.toml"
    folder = lastgood.folder(tmp_path / "instance", str(rules), None)
    kept = lastgood.find(folder)
    assert kept is not None and kept.roster is not None
    assert kept.rules.read_bytes() == rules.read_bytes()
    assert kept.roster.read_bytes() == (data / "providers.csv").read_bytes()  # addresses too
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_build_reads_the_files_as_they_are_never_the_kept_copy(tmp_path, data):
    make_app(tmp_path, data).test_client().get("/healthz")  # a server kept a copy
    roster = data / "providers.csv"
    rewrite(roster, roster.read_text().replace("2024-07-31,no", "2024-02-30,no"))
    with pytest.raises(site.BuildError, match="row 2"):
        site.build(tmp_path / "out", settings(tmp_path, data, CALFEED_BASE_URL="https://x.org"))


def test_a_slow_load_never_holds_up_a_request(tmp_path, data, monkeypatch):
    """The poller loads; requests answer from the old data meanwhile, then from the new."""
    client = make_app(tmp_path, data, CALFEED_RELOAD_INTERVAL=0.05).test_client()
    before = client.get(FEED)  # starts the worker's poller
    loading, release = threading.Event(), threading.Event()
    real = rules_module.load

    def slow(*args, **kwargs):
        loading.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(store.rules_module, "load", slow)
    edit(data, OLD_DATE, NEW_DATE)
    assert loading.wait(10), "the poller never began loading"
    try:
        began = time.monotonic()
        for _ in range(20):  # every one answered while the load cannot finish
            answer = client.get(FEED)
            assert answer.status_code == 200 and answer.data == before.data
        assert time.monotonic() - began < 5
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while NEW_DAY not in client.get(FEED).data:
        assert time.monotonic() < deadline, "the new data never arrived"
        time.sleep(0.05)


def test_a_poller_ends_with_its_app(tmp_path, data):
    def pollers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "calfeed-reload"}

    others = pollers()
    app = make_app(tmp_path, data, CALFEED_RELOAD_INTERVAL=0.05)
    started = pollers() - others
    assert len(started) == 1  # the app's own, from its start, before any request
    (poller,) = started
    del app
    gc.collect()
    poller.join(5)
    assert not poller.is_alive(), "the poller outlived its app"


def test_calfeed_check_refuses_a_roster_longer_than_the_limit(tmp_path, monkeypatch):
    # Short rows: many providers in few bytes, which the byte limit alone would let in.
    rows = rules_module.MAX_ROSTER_ROWS + 1
    roster = tmp_path / "providers.csv"
    roster.write_text("id,name\n" + "".join(f"p{n},P\n" for n in range(rows)), encoding="utf-8")
    assert roster.stat().st_size < rules_module.MAX_ROSTER_BYTES
    result = CliRunner().invoke(main, ["check", "--providers", str(roster)])
    assert result.exit_code == 1
    assert result.stderr == (f"{roster}: row 100002: more than 100,000 rows "
                             "(expected at most 100,000 rows after the header)\n")
    # as many rows as the limit: accepted
    monkeypatch.setattr(roster_sheet, "MAX_ROWS", 3)
    roster.write_text("id,name\na,A\nb,B\nc,C\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["check", "--providers", str(roster)]).exit_code == 0
