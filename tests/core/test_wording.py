"""wording.py: every date, time, zone, actor and yes/no as pages, feeds and the CLI say it.

Dates come from the sources: 001 "by April 1, 2024 at 11:59 p.m. Central Time"
(a Monday), 000 "July 2024 — ACCME notifies provider of the … decision".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from calfeed.core import wording
from calfeed.core.model import Event, Lead

CHICAGO = ZoneInfo("America/Chicago")


def event(start, precision: str, when: str | None = None, caveats: tuple[str, ...] = ()) -> Event:
    """An event with only what wording reads filled in."""
    return Event(uid="u", track="t", track_name="T", cycle="2023", milestone="m",
                 bare_title="Title", start=start, end=None, precision=precision,
                 status="published", actor="provider", description="", url=None, when=when,
                 caveats=caveats)


@pytest.mark.parametrize("at, tz, words", [
    (datetime(2024, 4, 1, 23, 59), "America/Chicago", "11:59 p.m. CT"),
    (datetime(2024, 12, 2, 9, 5), "America/New_York", "9:05 a.m. ET"),
    (datetime(2024, 6, 3, 12, 0), "America/Los_Angeles", "noon PT"),
    (datetime(2024, 6, 3, 0, 0), "America/Denver", "midnight MT"),
    (datetime(2024, 6, 3, 17, 0), "Europe/Berlin", "5:00 p.m. CEST"),
    (datetime(2024, 6, 3, 17, 30), "America/Phoenix", "5:30 p.m. MST"),
])
def test_time_and_zone(at, tz, words):
    moment = at.replace(tzinfo=ZoneInfo(tz))
    assert f"{wording.clock(moment)} {wording.zone(moment)}" == words


def test_a_deadline_in_words_as_the_source_writes_it():
    at = datetime(2024, 4, 1, 23, 59, tzinfo=CHICAGO)
    assert f"{wording.long_date(at.date())} at {wording.deadline_time(at)}" == (
        "April 1, 2024 at 11:59 p.m. Central Time")
    assert wording.weekday_date(at.date()) == "Monday, April 1, 2024"


def test_an_event_date_in_its_true_precision():
    timed = event(datetime(2024, 4, 1, 23, 59, tzinfo=CHICAGO), "time")
    month = event(date(2024, 7, 1), "month")
    day = event(date(2024, 1, 24), "day")
    undated = event(None, "undated", "Due upon receipt of invoice")
    assert [wording.when(e) for e in (timed, month, day, undated)] == [
        "Monday, April 1, 2024, 11:59 p.m. Central Time",
        "July 2024 (no exact day published)",
        "Wednesday, January 24, 2024",
        "Due upon receipt of invoice",
    ]
    assert [wording.when_short(e) for e in (timed, month, day, undated)] == [
        "2024-04-01 23:59 CDT", "July 2024", "2024-01-24", "Due upon receipt of invoice"]
    assert [wording.due(e) for e in (timed, month, day)] == [
        " — due 11:59 p.m. CT", " — expected during July 2024", ""]


def test_days_left():
    assert wording.days_left(0, "day", date(2024, 1, 24)) == "today"
    assert wording.days_left(1, "day", date(2024, 1, 24)) == "tomorrow"
    assert wording.days_left(12, "time", date(2024, 4, 1)) == "in 12 days"
    assert wording.days_left(0, "month", date(2024, 7, 1)) == "this month"
    assert wording.days_left(40, "month", date(2024, 7, 1)) == "July 2024"


def test_actors_on_pages_and_in_feeds():
    assert [wording.actor_label(a) for a in ("provider", "accme", "accreditor")] == [
        "Provider", "ACCME", "Your accreditor"]
    assert wording.actor_label("provider", you=True) == "You (the provider)"
    assert wording.actor_label("accme", you=True) == "ACCME"
    assert [wording.actor_phrase(a) for a in ("provider", "accme", "accreditor")] == [
        "the provider", "ACCME", "your accreditor"]


@pytest.mark.parametrize("text, answer", [
    ("yes", True), (" Y ", True), ("TRUE", True), ("1", True), ("x", True), ("on", True),
    ("no", False), ("N", False), ("false", False), ("0", False), ("off", False), ("", False),
    ("maybe", None), ("2", None), ("yess", None),
])
def test_yes_no(text, answer):
    assert wording.yes_no(text) is answer


def test_utc_stamp():
    assert wording.utc_stamp(datetime(2026, 11, 21, tzinfo=timezone.utc)) == "2026-11-21T00:00:00Z"
    assert wording.utc_stamp(datetime(2024, 4, 1, 23, 59, tzinfo=CHICAGO)) == "2024-04-02T04:59:00Z"


def test_count():
    assert [wording.count(n, "track") for n in (0, 1, 3)] == ["0 tracks", "1 track", "3 tracks"]


def test_caveats_share_one_parenthesis_and_a_table_can_leave_estimated_to_its_status():
    assert wording.title(event(None, "undated")) == "Title"
    both = event(None, "undated", caveats=(wording.ESTIMATED, "if you offer enduring materials"))
    assert wording.title(both) == "Title (estimated; if you offer enduring materials)"
    assert wording.title(both, estimated=False) == "Title (if you offer enduring materials)"
    assert wording.title(event(None, "undated", caveats=(wording.ESTIMATED,)),
                         estimated=False) == "Title"


@pytest.mark.parametrize("leads, words", [
    ((), "no reminders"),
    ((Lead(days=7),), "1 week before"),
    ((Lead(days=14), Lead(days=2)), "2 weeks and 2 days before"),
    ((Lead(months=1), Lead(days=7), Lead(days=1)), "1 month, 1 week and 1 day before"),
    ((Lead(days=10), Lead(exact=timedelta(hours=12))), "10 days and 12 hours before"),
    ((Lead(exact=timedelta(hours=36, minutes=30)),), "36 hours 30 minutes before"),
])
def test_reminders_in_words(leads, words):
    assert wording.leads(leads) == words
