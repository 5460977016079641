"""Reminder choices (`?remind=`): what is accepted, and the one-line reason for what is not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calfeed.core import reminders


@pytest.mark.parametrize("text, expected", [
    ("P14D,P2D", (timedelta(days=14), timedelta(days=2))),
    ("P2D,P14D", (timedelta(days=14), timedelta(days=2))),
    (" p14d , P2W ,P1D", (timedelta(days=14), timedelta(days=1))),
    ("PT12H", (timedelta(hours=12),)),
    ("P1DT12H", (timedelta(days=1, hours=12),)),
    ("P366D", (timedelta(days=366),)),
    ("", ()),
])
def test_accepted_reminders(text, expected):
    assert reminders.parse(text) == expected


@pytest.mark.parametrize("text, message", [
    ("P14X", "remind: 'P14X' is not an ISO 8601 duration "
             "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("14", "remind: '14' is not an ISO 8601 duration "
           "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P", "remind: 'P' is not an ISO 8601 duration "
          "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P14D,", "remind: '' is not an ISO 8601 duration "
              "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("-P14D", "remind: '-P14D' is not a positive duration "
              "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("PT0S", "remind: 'PT0S' is not a positive duration "
             "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P1M", "remind: 'P1M' counts years or months, which have no fixed length "
            "(expected up to 3 durations like P14D,P2D or PT12H)"),
    ("P367D", "remind: 'P367D' is longer than a year "
              "(expected up to 3 durations like P14D,P2D or PT12H, each at most P366D)"),
    ("P1D,P2D,P3D,P4D", "remind: 4 durations are too many "
                        "(expected up to 3 durations like P14D,P2D or PT12H)"),
])
def test_refused_reminders(text, message):
    with pytest.raises(ValueError) as caught:
        reminders.parse(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------
# When the alarms of a reminder calendar fire, read back with vobject (which shares
# no code with icalendar and resolves TZID through the feed's own VTIMEZONE) and
# turned into instants. Dates: shared/seeds/000 (materials due 2024-04-03, activity
# data 2024-01-24), 001 ("April 1, 2024 at 11:59 p.m. Central Time") and
# published-dates.md (March 31, 2025, 11:59 p.m. CT; CMA's March 14, 2025).

import re
from dataclasses import replace
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import vobject
from hypothesis import given, settings, strategies as st
from ical.calendar_stream import IcsCalendarStream

from calfeed.core import tokens
from calfeed.core.model import Event, Lead
from apps import SECRET, make_app

CHICAGO = ZoneInfo("America/Chicago")
UTC = timezone.utc


def chicago(text: str) -> datetime:
    """A wall-clock time in Chicago: "2024-03-20 09:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO)


def alarms(body: bytes, local=CHICAGO) -> dict[str, list[datetime]]:
    """Each event's alarm instants by UID, in the feed's order, on `local`'s clock.

    An all-day event starts at midnight on the reader's clock: here, `local`'s.
    """
    found = {}
    for vevent in vobject.readOne(body.decode()).contents["vevent"]:
        start = vevent.dtstart.value
        if not isinstance(start, datetime):
            start = datetime.combine(start, time(), local)
        found[vevent.uid.value] = [
            (start.astimezone(UTC) + alarm.trigger.value).astimezone(local)
            for alarm in vevent.contents.get("valarm", [])]
    return found


def provider(name: str) -> str:
    """A demo provider's page path under the test secret."""
    return f"/p/{tokens.token(SECRET.encode(), name, 0)}"


@pytest.fixture
def early(tmp_path):
    """A client of the app as of January 1, 2024: the 8-month cohort and data year 2023
    still ahead."""
    return make_app(tmp_path, CALFEED_TODAY="2024-01-01").test_client()


ANNUAL_STEPS = ("annual-agreement", "enter-activities", "enduring-learner-counts",
                "program-summary", "contact-information")


def test_two_weeks_and_two_days_fire_at_nine_on_the_provider_steps(early):
    body = early.get("/tracks/progress-8-month/remind-2w2d.ics").data
    found = alarms(body)
    uid = "track-progress-8-month/progress-8-month/2023-11/{}@calfeed".format
    assert found == {
        # Wednesday 2024-01-24: two weeks before is Wednesday 2024-01-10, two days before Monday
        uid("enter-activity-data"): [chicago("2024-01-10 09:00"), chicago("2024-01-22 09:00")],
        uid("activities-selected"): [],  # ACCME acts
        uid("materials-available"): [],  # ACCME acts
        # Wednesday 2024-04-03, all day: 2024-03-20 and Monday 2024-04-01, 9:00 a.m.
        uid("materials-due"): [chicago("2024-03-20 09:00"), chicago("2024-04-01 09:00")],
        uid("decision"): [],  # ACCME acts, and only a month is published
    }


def test_an_all_day_step_reminds_at_nine_on_the_readers_own_clock(early):
    body = early.get("/tracks/progress-8-month/remind-2w2d.ics").data
    uid = "track-progress-8-month/progress-8-month/2023-11/materials-due@calfeed"
    los_angeles = ZoneInfo("America/Los_Angeles")
    assert alarms(body, los_angeles)[uid] == [
        datetime(2024, 3, 20, 9, 0, tzinfo=los_angeles), datetime(2024, 4, 1, 9, 0, tzinfo=los_angeles)]


def test_steps_due_at_one_moment_ring_once_on_the_first_naming_them_all(early):
    # Data year 2023: five steps, all due Monday, April 1, 2024 at 11:59 p.m. CT. A month
    # before is Friday March 1, in standard time (daylight time began March 10); a day
    # before is a Sunday, so that one comes on Friday March 29. Only the first step in
    # ACCME's order (source 001) rings, and its alarms name all five.
    body = early.get(provider("demo-annual") + "/remind-1m1w1d.ics").data
    found = alarms(body)
    uid = "demo-annual/annual-reporting/{}/{}@calfeed".format
    expected_2023 = [chicago("2024-03-01 09:00"), chicago("2024-03-25 09:00"), chicago("2024-03-29 09:00")]
    expected_2024 = [chicago("2025-02-28 09:00"), chicago("2025-03-24 09:00"), chicago("2025-03-28 09:00")]
    assert [found[uid(2023, step)] for step in ANNUAL_STEPS] == [expected_2023] + [[]] * 4
    assert [found[uid(2024, step)] for step in ANNUAL_STEPS] == [expected_2024] + [[]] * 4
    assert [a.utcoffset() for a in expected_2023] == [
        timedelta(hours=-6), timedelta(hours=-5), timedelta(hours=-5)]
    texts = {vevent.uid.value: [alarm.description.value for alarm in vevent.contents["valarm"]]
             for vevent in vobject.readOne(body.decode()).contents["vevent"]
             if "valarm" in vevent.contents}
    said = ("Annual Reporting in PARS, data year 2023: 5 steps due Monday, April 1, 2024, "
            "11:59 p.m. CT: Accept the terms of the ACCME annual agreement; Enter all activities "
            "that started in 2023, and close all of them that also ended in 2023; Update the "
            "total cumulative learner counts of enduring materials as of December 31, 2023; "
            "Complete and submit your Program Summary; Review and update your contact "
            "information")
    assert texts[uid(2023, "annual-agreement")] == [said] * 3


def test_the_accreditors_earlier_all_day_deadline_rings_once(early):
    # The California Medical Association's Friday, March 14, 2025 (data year 2024): the
    # four steps of a provider without enduring materials, one ring on the first.
    body = early.get(provider("demo-state") + "/remind-2w2d.ics").data
    found = alarms(body)
    uid = "demo-state/annual-reporting/2024/{}@calfeed".format
    assert [found[uid(step)] for step in ANNUAL_STEPS if step != "enduring-learner-counts"] == [
        [chicago("2025-02-28 09:00"), chicago("2025-03-12 09:00")], [], [], []]


def test_the_other_parser_reads_the_same_instants_and_text(early):
    # `ical` resolves TZID by name, not through the feed's VTIMEZONE.
    body = early.get(provider("demo-annual") + "/remind-1m1w1d.ics").data
    calendar = IcsCalendarStream.calendar_from_ics(body.decode())
    by_uid = {event.uid: event for event in calendar.events}
    event = by_uid["demo-annual/annual-reporting/2023/annual-agreement@calfeed"]
    assert event.dtstart == chicago("2024-04-01 23:59")
    instants = [(event.dtstart.astimezone(UTC) + alarm.trigger).astimezone(CHICAGO)
                for alarm in event.alarm]
    assert instants == [chicago("2024-03-01 09:00"), chicago("2024-03-25 09:00"),
                        chicago("2024-03-29 09:00")]
    assert all(alarm.description.startswith("Annual Reporting in PARS, data year 2023: 5 steps "
                                            "due Monday, April 1, 2024") for alarm in event.alarm)
    assert by_uid["demo-annual/annual-reporting/2023/program-summary@calfeed"].alarm == []


def test_triggers_are_exact_hours_longest_first(early):
    # Outlook keeps one alarm per event, the first; it counts a TRIGGER in minutes, and a
    # day in a duration is nominal in RFC 5545: hours alone mean the same to every reader.
    body = early.get(provider("demo-annual") + "/remind-1m1w1d.ics").data.decode()
    lines = body.replace("\r\n ", "").split("\r\n")
    triggers = [line for line in lines if line.startswith("TRIGGER")]
    assert triggers and all(re.fullmatch(r"TRIGGER:-PT\d+H(\d+M)?", t) for t in triggers)
    # Friday 2024-03-01 09:00 CST to Monday 2024-04-01 23:59 CDT: 31 days 13 h 59 min
    # of elapsed time (the clock jumped an hour on March 10)
    assert "TRIGGER:-PT757H59M" in triggers
    for vevent in vobject.readOne(body).contents["vevent"]:
        before = [-a.trigger.value for a in vevent.contents.get("valarm", [])]
        assert before == sorted(before, reverse=True)


def test_nothing_rings_for_what_has_passed_on_the_calendars_day(tmp_path):
    # As of Tuesday, March 26, 2024: the 8-month cohort's activity data (January 24) is
    # past, and of data year 2023's reminders (March 1, March 25, March 29) only the
    # last is still to come; of its materials' (April 3), "1 month" (March 4) and "2
    # weeks" (March 20) have passed, "1 week" (March 27), "1 day" and "2 days" have not.
    client = make_app(tmp_path, CALFEED_TODAY="2024-03-26").test_client()
    one = alarms(client.get(provider("demo-8-month") + "/remind-1m1w1d.ics").data)
    two = alarms(client.get(provider("demo-8-month") + "/remind-2w2d.ics").data)
    uid = "demo-8-month/{}@calfeed".format
    assert one[uid("progress-8-month/2023-11/enter-activity-data")] == []
    assert one[uid("annual-reporting/2023/annual-agreement")] == [chicago("2024-03-29 09:00")]
    assert one[uid("progress-8-month/2023-11/materials-due")] == [chicago("2024-03-27 09:00"),
                                                                  chicago("2024-04-02 09:00")]
    assert two[uid("progress-8-month/2023-11/materials-due")] == [chicago("2024-04-01 09:00")]
    # A download is the same calendar, and so is one step's own file with reminders.
    download = client.get(provider("demo-8-month") + "/remind-2w2d.ics?download=1").data
    assert alarms(download) == two
    single = client.get(provider("demo-8-month") + "/events/progress-8-month/2023-11/"
                        "materials-due.ics?remind=P14D,P2D").data
    assert alarms(single) == {uid("progress-8-month/2023-11/materials-due"):
                              [chicago("2024-04-01 09:00")]}


def test_every_variant_of_every_demo_calendar_keeps_the_rules(client):
    # The suite's "today", November 21, 2026: the cohorts are long past, data years 2026
    # and 2027 ahead.
    today = date(2026, 11, 21)
    for base in [provider(p) for p in ("demo-8-month", "demo-12-month", "demo-annual", "demo-state")] \
            + ["/tracks/annual-reporting", "/tracks/progress-12-month"]:
        for choice in reminders.CHOICES:
            body = client.get(f"{base}/remind-{choice.id}.ics").data
            rang: set[datetime] = set()
            for vevent in vobject.readOne(body.decode()).contents["vevent"]:
                found = vevent.contents.get("valarm", [])
                start = vevent.dtstart.value
                if not isinstance(start, datetime):
                    start = datetime.combine(start, time(), CHICAGO)
                acts = "Who acts: the provider" in vevent.description.value
                if not acts or start.date() < today:
                    assert found == [], vevent.uid.value
                    continue
                # One ring per moment: a second step due then has none.
                instant = start.astimezone(UTC)
                assert len(found) == (0 if instant in rang else len(choice.leads)), vevent.uid.value
                rang.add(instant)
                for alarm in found:
                    moment = (start.astimezone(UTC) + alarm.trigger.value).astimezone(CHICAGO)
                    assert today <= moment.date() and moment < start  # never past, never late
                    assert (moment.weekday() < 5, moment.time()) == (True, time(9, 0))
            assert rang or base.endswith("progress-12-month"), base  # a cohort long past rings never


def test_remind_durations_in_whole_days_follow_the_same_timing(early):
    body = early.get("/tracks/progress-8-month.ics?remind=P14D,PT12H").data
    uid = "track-progress-8-month/progress-8-month/2023-11/materials-due@calfeed"
    # 14 days: 9:00 a.m. on the day; 12 hours: exactly that, noon the day before
    assert alarms(body)[uid] == [chicago("2024-03-20 09:00"), chicago("2024-04-02 12:00")]


# --- the rule itself, for any step and any choice --------------------------

ZONES = ("America/Chicago", "America/New_York", "America/Los_Angeles", "America/Phoenix",
         "Pacific/Honolulu", "Europe/Berlin")


def step(start, actor: str = "provider") -> Event:
    """A dated step, all day (a date) or timed (an aware datetime)."""
    precision = "time" if isinstance(start, datetime) else "day"
    return Event(uid="u", track="t", track_name="T", cycle="c", milestone="m", bare_title="Step",
                 start=start, end=start, precision=precision, status="published", actor=actor,
                 description="", url=None)


starts = st.one_of(
    st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    st.builds(lambda d, minutes, zone: datetime.combine(d, time(minutes // 60, minutes % 60),
                                                        ZoneInfo(zone)),
              st.dates(date(2020, 1, 1), date(2035, 12, 31)), st.integers(0, 24 * 60 - 1),
              st.sampled_from(ZONES)))
chosen = st.one_of(
    st.sampled_from([c.leads for c in reminders.CHOICES]),
    st.lists(st.builds(Lead, months=st.integers(0, 12), days=st.integers(0, 366)).filter(
        lambda lead: lead.months or lead.days), min_size=1, max_size=3).map(tuple))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(starts, chosen)
def test_alarms_come_at_nine_on_a_working_day_before_the_step(start, leads):
    moments = reminders.moments(step(start), leads)
    begins = start if isinstance(start, datetime) else datetime.combine(start, time(), reminders.DAY_ZONE)
    assert moments == tuple(sorted(set(moments)))
    assert 1 <= len(moments) <= len(leads)
    for moment in moments:
        assert moment.astimezone(UTC) < begins.astimezone(UTC)
        assert moment.time() == time(9, 0) and moment.weekday() < 5
    triggers = reminders.triggers(step(start), leads)
    assert [begins.astimezone(UTC) - t for t in triggers] == [m.astimezone(UTC) for m in moments]
    for actor in ("accme", "accreditor"):
        assert reminders.moments(step(start, actor), leads) == ()


@settings(max_examples=200, derandomize=True, deadline=None)
@given(starts, chosen, st.dates(date(2019, 12, 1), date(2036, 1, 31)))
def test_a_calendars_today_drops_what_has_passed_and_nothing_else(start, leads, today):
    event = step(start)
    every = reminders.moments(event, leads)
    kept = reminders.moments(event, leads, today)
    if event.passed(today):
        assert kept == ()
    else:
        assert kept == tuple(m for m in every if m.date() >= today)
    # Three steps due then ring once, on the first, whose alarms say all three.
    steps = [replace(event, uid=f"u{n}", bare_title=f"Step {n}") for n in range(3)]
    found = reminders.calendar_alarms(steps, leads, today)
    assert [len(a) for a in found] == [len(kept), 0, 0]
    assert all(a.description.endswith("Step 0; Step 1; Step 2") for a in found[0])


@pytest.mark.parametrize("text", ["P14D", "P2W", "PT12H", "PT90M", "P1DT2H30M15S", "PT45S"])
def test_a_duration_reads_as_icalendar_reads_it(text):
    # The loader's own reading (no icalendar in core) agrees with icalendar's parser.
    from icalendar import vDuration

    assert reminders.duration_of(text) == vDuration.from_ical(text)
