"""The groups' weekly digest, sent by `calfeed notify` to a real SMTP server (aiosmtpd).

Dates from the seeds: annual reporting for data year 2024 is due Monday, March 31, 2025
at 11:59 p.m. Central Time (published-dates.md); the California Medical Association's own
deadline for it is Friday, March 14, 2025. Monday, March 3, 2025 is a digest day.
"""

from __future__ import annotations

import sqlite3

import pytest

from calfeed.core import tokens
from grouping import GROUP_ADDRESSES, set_groups, set_members
from serving import copy_data
from smtpserver import HEALTH, SECRET, calfeed, env

TEAM, LEAD, CMA_STAFF = GROUP_ADDRESSES
ACME_PAGE = ("https://deadlines.example.org/g/"
             f"{tokens.token(SECRET.encode(), 'acme', 0, 'group')}/")
# The first paragraph of ACCME's text of the annual agreement step (source 001).
AGREEMENT_TEXT = "located on the dashboard in PARS under Provider Agreement(s)"


@pytest.fixture
def grouped(tmp_path):
    """A data folder with the acme and cma groups (tests/grouping.py)."""
    data = tmp_path / "data"
    copy_data(data)
    set_groups(data)
    return data


def notify(tmp_path, data, url, today, *args):
    """Run `calfeed notify` on the data folder as of a day."""
    return calfeed("notify", *args, environ=env(tmp_path, url, today,
                                                 CALFEED_RULES=str(data / "rules.toml")))


def digests(handler):
    """The digests received since the last look, by recipient."""
    found = {}
    for tos, message in handler.take():
        if message["Subject"].startswith("Weekly digest"):
            for to in tos:
                found[to] = message
    return found


def text_of(message) -> str:
    """A message's plain text, its lines joined."""
    return " ".join(message.get_body(("plain",)).get_content().split())


def test_a_digest_lists_what_is_due_by_moment_with_the_providers_and_acmes_text_once(
        inbox, tmp_path, grouped):
    handler, url = inbox
    result = notify(tmp_path, grouped, url, "2025-03-03")
    assert result.returncode == 0, result.stderr
    found = digests(handler)
    assert sorted(found) == sorted(GROUP_ADDRESSES)
    acme = found[TEAM]
    assert acme["Subject"] == "Weekly digest, Acme CME Consulting: 9 steps due by April 6, 2025"
    assert acme["List-Unsubscribe"] == "<mailto:deadlines@example.org?subject=unsubscribe>"
    assert acme["Auto-Submitted"] == "auto-generated"
    assert not list(acme.iter_attachments())
    text = text_of(acme)
    html = acme.get_body(("html",)).get_content()
    march_14 = text.index("Friday, March 14, 2025 (in 11 days) For Demo Hospital (accredited by "
                          "the California Medical Association): * Accept the terms of the ACCME "
                          "annual agreement — California Medical Association deadline")
    march_31 = text.index("Monday, March 31, 2025, 11:59 p.m. Central Time (in 28 days) For Demo "
                          "Health System (8-month progress report), Demo Medical Society "
                          "(12-month progress report) and Demo Institute (annual reporting "
                          "only): * Accept the terms of the ACCME annual agreement")
    assert march_14 < march_31
    assert ("For Demo Medical Society (12-month progress report) and Demo Institute (annual "
            "reporting only): * Update the total cumulative learner counts of enduring "
            "materials as of December 31, 2024") in text
    # Four providers, two deadlines of the same step: ACCME's words once in the message.
    assert text.count(AGREEMENT_TEXT) == 1
    assert html.count(AGREEMENT_TEXT) == 1
    assert ACME_PAGE in text and f'<a href="{ACME_PAGE}">' in html
    assert "one digest every Monday" in text
    cma = found[CMA_STAFF]
    assert cma["Subject"] == ("Weekly digest, California Medical Association providers: 4 steps "
                              "due by April 6, 2025")
    assert "For Demo Hospital (accredited by the California Medical Association):" in text_of(cma)
    assert "Monday, March 31, 2025" not in text_of(cma)
    assert ("calfeed notify: sent to group:acme#1: Weekly digest, Acme CME Consulting: 9 steps "
            "due by April 6, 2025") in result.stdout


def test_one_digest_a_week_and_a_missed_digest_day_caught_up(inbox, tmp_path, grouped):
    handler, url = inbox
    # The machine was off on Monday, March 3: Wednesday's run sends that week's digest.
    assert notify(tmp_path, grouped, url, "2025-03-05").returncode == 0
    assert sorted(digests(handler)) == sorted(GROUP_ADDRESSES)
    for day in ("2025-03-05", "2025-03-06", "2025-03-09"):
        assert notify(tmp_path, grouped, url, day).returncode == 0
        assert digests(handler) == {}, day
    assert notify(tmp_path, grouped, url, "2025-03-10").returncode == 0
    assert sorted(digests(handler)) == sorted(GROUP_ADDRESSES)
    # The weekday is rules.toml's.
    rules = grouped / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8") + '\n[notify]\ndigest_day = "thursday"\n',
                     encoding="utf-8")
    # Its Thursday of the week before (March 6) had Monday's digest after it: none.
    assert notify(tmp_path, grouped, url, "2025-03-12").returncode == 0
    assert digests(handler) == {}
    assert notify(tmp_path, grouped, url, "2025-03-13").returncode == 0
    found = digests(handler)
    assert sorted(found) == sorted(GROUP_ADDRESSES)
    assert "one digest every Thursday" in text_of(found[TEAM])


def test_moves_since_the_last_digest_are_told_once_with_their_history(inbox, tmp_path, grouped):
    handler, url = inbox
    assert notify(tmp_path, grouped, url, "2025-03-03").returncode == 0
    handler.take()
    rules = grouped / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    moved = text.replace("revised = 2026-11-21T00:00:00Z", "revised = 2026-11-22T00:00:00Z"
                         ).replace("2024 = 2025-03-14", '2024 = { date = 2025-03-21, changes = '
                                   '[{ was = 2025-03-14, announced = 2025-03-05, note = '
                                   '"Extended by the CMA" }] }')
    assert moved != text
    rules.write_text(moved, encoding="utf-8")
    assert notify(tmp_path, grouped, url, "2025-03-10").returncode == 0
    found = digests(handler)
    acme = found[TEAM]
    assert acme["Subject"] == ("Weekly digest, Acme CME Consulting: 9 steps due by April 13, "
                               "2025; 4 dates moved or published")
    said = text_of(acme)
    assert ("* Date moved to Friday, March 21, 2025 (was Friday, March 14, 2025) Accept the terms "
            "of the ACCME annual agreement — California Medical Association deadline For Demo "
            "Hospital (accredited by the California Medical Association) Moved: was Friday, "
            "March 14, 2025; announced March 5, 2025. Extended by the CMA.") in said
    assert said.index("Moved or published since the last digest") < said.index("Due in the next")
    # Told once: the next week's digest has no news.
    assert notify(tmp_path, grouped, url, "2025-03-17").returncode == 0
    later = digests(handler)[TEAM]
    assert "moved or published" not in later["Subject"]
    assert "Date moved" not in text_of(later)


def test_a_provider_joining_is_no_news_and_keeps_the_groups_events(inbox, tmp_path, grouped):
    handler, url = inbox
    set_members(grouped, {"demo-8-month": "acme"})
    assert notify(tmp_path, grouped, url, "2025-03-03").returncode == 0
    first = digests(handler)[TEAM]
    assert first["Subject"] == "Weekly digest, Acme CME Consulting: 4 steps due by April 6, 2025"
    set_members(grouped, {"demo-8-month": "acme", "demo-state": "acme"})
    assert notify(tmp_path, grouped, url, "2025-03-10").returncode == 0
    second = digests(handler)[TEAM]
    assert second["Subject"] == "Weekly digest, Acme CME Consulting: 8 steps due by April 13, 2025"
    assert "For Demo Hospital (accredited by the California Medical Association):" in text_of(second)


def test_an_address_on_a_group_and_a_provider_gets_both(inbox, tmp_path, grouped):
    handler, url = inbox
    text = (grouped / "groups.csv").read_text(encoding="utf-8")
    (grouped / "groups.csv").write_text(text.replace("lead@acme-cme.example.com", HEALTH),
                                        encoding="utf-8")
    result = notify(tmp_path, grouped, url, "2025-03-03")
    assert result.returncode == 0, result.stderr
    subjects = sorted(m["Subject"] for tos, m in handler.take() if HEALTH in tos)
    assert subjects == [
        "Due in 28 days: Annual Reporting in PARS (4 steps) — Monday, March 31, 2025, 11:59 p.m. "
        "Central Time",
        "Weekly digest, Acme CME Consulting: 9 steps due by April 6, 2025"]


def test_a_refused_digest_is_sent_by_the_next_run_and_never_twice(inbox, tmp_path, grouped):
    handler, url = inbox
    handler.refuse_rcpt = {LEAD}
    first = notify(tmp_path, grouped, url, "2025-03-03")
    assert first.returncode == 1
    assert sorted(digests(handler)) == [CMA_STAFF, TEAM]
    assert ("calfeed notify: not sent to group:acme#2: Weekly digest, Acme CME Consulting: 9 steps "
            "due by April 6, 2025") in first.stderr
    assert LEAD not in first.stderr + first.stdout  # lines name places, never addresses
    handler.refuse_rcpt = set()
    second = notify(tmp_path, grouped, url, "2025-03-04")
    assert second.returncode == 0, second.stderr
    assert sorted(digests(handler)) == [LEAD]
    third = notify(tmp_path, grouped, url, "2025-03-04")
    assert digests(handler) == {} and third.returncode == 0


def test_a_claim_a_dead_run_left_is_sent_again_and_said(inbox, tmp_path, grouped):
    handler, url = inbox
    assert notify(tmp_path, grouped, url, "2025-03-03").returncode == 0
    handler.take()
    state = tmp_path / "state" / "calfeed.sqlite3"
    # A run died after handing the digest of March 10 over, before confirming it.
    with sqlite3.connect(state) as db:
        db.execute("INSERT INTO claims VALUES (?, 'group:cma#1', '2025-03-10T07:00:00+00:00', "
                   "'dead run')", (CMA_STAFF,))
    result = notify(tmp_path, grouped, url, "2025-03-10")
    assert ("a run stopped while sending to group:cma#1: sending again (it may arrive twice)"
            in result.stderr)
    assert CMA_STAFF in digests(handler)


def test_dry_run_lists_the_digests_and_sends_nothing(inbox, tmp_path, grouped):
    handler, url = inbox
    result = notify(tmp_path, grouped, url, "2025-03-03", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert ("calfeed notify: would send to group:acme#1: Weekly digest, Acme CME Consulting: "
            "9 steps due by April 6, 2025") in result.stdout.splitlines()
    assert ("calfeed notify: would send to group:cma#1: Weekly digest, California Medical "
            "Association providers: 4 steps due by April 6, 2025") in result.stdout.splitlines()
    assert handler.take() == []
