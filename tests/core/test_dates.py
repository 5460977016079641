"""Time: every deadline at 11:59 p.m. Central on the right UTC instant, in any year.

Source 001: "by April 1, 2024 at 11:59 p.m. Central Time"; ACCME's rule: data year Y
is due March 31 of Y+1, a weekend moved to the following Monday, published dates
winning. Central Time is UTC-5 (CDT) from the second Sunday of March to the first
Sunday of November (before 2007: the first Sunday of April to the last Sunday of
October) and UTC-6 (CST) otherwise: 23:59 local is 04:59Z or 05:59Z the next day.
Nothing here may depend on the server's own TZ.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ical.calendar_stream import IcsCalendarStream

from calfeed import bundled
from calfeed.core import engine, rules, wording
from calfeed.outputs.ical import render
from calfeed.core.model import Event, Profile

import readback

CHICAGO = ZoneInfo("America/Chicago")
UTC = timezone.utc
CDT, CST = timedelta(hours=-5), timedelta(hours=-6)
TIME = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TODAYS = st.dates(date(1990, 1, 1), date(2100, 12, 31))
RULES_TEXT = bundled("rules.toml").read_text(encoding="utf-8")
PUBLISHED = re.compile(r"^\[tracks\.annual-reporting\.published\]\n(?:\d{4} = .*\n)+", re.M)
# The rule's days that straddle the US switches: the second Sunday of March is one of
# March 8-14, the first Sunday of November one of November 1-7.
DST_DAYS = [(3, d) for d in range(8, 15)] + [(11, d) for d in range(1, 8)]
SATURDAY, SUNDAY = 5, 6


def rules_text(month: int = 3, day: int = 31, first_cycle: int = 2023,
               published: dict[int, str] | None = None, tz: str = "America/Chicago") -> str:
    """The bundled rules.toml with another yearly day, first data year, published table or zone."""
    text = RULES_TEXT.replace("month = 3\nday = 31", f"month = {month}\nday = {day}", 1)
    text = text.replace('tz = "America/Chicago"', f'tz = "{tz}"', 1)
    text = text.replace("first_cycle = 2023", f"first_cycle = {first_cycle}", 1)
    if published is not None:
        lines = "".join(f"{year} = {when}\n" for year, when in published.items())
        text, found = PUBLISHED.subn("[tracks.annual-reporting.published]\n" + lines, text)
        assert found == 1
    return text


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    """load(**rules_text arguments) -> Rules, written once per variant with an empty roster."""
    folder = tmp_path_factory.mktemp("time")
    roster = folder / "providers.csv"
    roster.write_text("id,name\n", encoding="utf-8")
    cache: dict[str, rules.Rules] = {}

    def load(**changes) -> rules.Rules:
        key = repr(sorted(changes.items()))
        if key not in cache:
            path = folder / f"rules-{len(cache)}.toml"
            path.write_text(rules_text(**changes), encoding="utf-8")
            cache[key] = rules.load(path, roster)
        return cache[key]

    return load


def everything(loaded: rules.Rules) -> Profile:
    """A profile that gets every track and every conditional step."""
    return Profile("time", "Time", None, True, None, tracks=tuple(loaded.tracks))


STATE = Profile("state", "State", None, True, "cma")


def us_central_offset(day: date) -> timedelta:
    """The offset of 23:59 on a day in Chicago by the US statutes, not by a zone database."""
    def sunday(month: int, nth: int) -> date:
        first = date(day.year, month, 1)
        return first + timedelta(days=(SUNDAY - first.weekday()) % 7 + 7 * (nth - 1))

    if day.year >= 2007:  # Energy Policy Act of 2005
        begins, ends = sunday(3, 2), sunday(11, 1)
    else:  # Uniform Time Act as amended in 1986
        begins = sunday(4, 1)
        ends = max(sunday(10, n) for n in range(1, 6) if sunday(10, n).month == 10)
    # The switches happen at 2 a.m.: by 23:59 the switch day has its new offset.
    return CDT if begins <= day < ends else CST


def assert_timed(event: Event) -> None:
    """23:59 in Chicago, at the UTC instant both the zone database and the statutes give."""
    local = event.start
    assert isinstance(local, datetime) and local.tzinfo is not None
    assert getattr(local.tzinfo, "key", None) == "America/Chicago"
    assert local.time() == time(23, 59)
    naive = local.replace(tzinfo=None)
    assert local.utcoffset() == CHICAGO.utcoffset(naive) == us_central_offset(local.date())
    utc = local.astimezone(UTC)
    assert utc.date() == local.date() + timedelta(days=1)
    assert utc.time() == (time(4, 59) if local.utcoffset() == CDT else time(5, 59))
    assert event.end.astimezone(UTC) - utc == timedelta(minutes=1)


def assert_times(events: list[Event]) -> None:
    """Every event's start and end as its precision says."""
    for event in events:
        if event.precision == "time":
            assert_timed(event)
        elif event.precision == "day":
            assert type(event.start) is date
            assert event.end == event.start + timedelta(days=1)
        elif event.precision == "month":
            assert type(event.start) is date and event.start.day == 1
            assert event.end == (event.start + timedelta(days=31)).replace(day=1)
        else:
            assert event.start is None and event.end is None


def deadlines(events: list[Event]) -> dict[int, Event]:
    """The annual agreement step of each data year: the deadline every step shares."""
    return {int(e.cycle): e for e in events if e.milestone == "annual-agreement"}


def assert_rule(loaded: rules.Rules, events: list[Event], month: int, day: int) -> None:
    """Published years as published; others the rule's day, a weekend moved back to Friday."""
    track = loaded.tracks["annual-reporting"]
    for year, event in deadlines(events).items():
        if year in track.published:
            assert event.status == "published"
            assert event.start == track.published[year].replace(tzinfo=CHICAGO)
            continue
        assert event.status == "estimated" and wording.title(event).endswith("(estimated)")
        rule_day = date(year + 1, month, day)
        moved = {SATURDAY: rule_day - timedelta(days=1), SUNDAY: rule_day - timedelta(days=2)}
        assert event.start.date() == moved.get(rule_day.weekday(), rule_day)
        assert event.start.weekday() < SATURDAY


def assert_window(events: list[Event], first_cycle: int, today: date) -> None:
    """Every data year from the first one to the second deadline after today, no more."""
    due = deadlines(events)
    years = sorted(due)
    assert years == list(range(first_cycle, years[-1] + 1))
    ahead = [y for y in years if due[y].start.date() >= today]
    assert ahead == years[-2:]


# --- the source documents' dates, with their UTC instants -----------------------------------

@pytest.mark.parametrize("data_year, today, local, utc, status", [
    (2023, date(2024, 1, 1), "2024-04-01T23:59:00-05:00", "2024-04-02T04:59:00+00:00", "published"),
    (2024, date(2024, 1, 1), "2025-03-31T23:59:00-05:00", "2025-04-01T04:59:00+00:00", "published"),
    (2026, date(2026, 11, 21), "2027-03-31T23:59:00-05:00", "2027-04-01T04:59:00+00:00", "estimated"),
    # March 31, 2029 is a Saturday: the last business day in March, Friday the 30th.
    (2028, date(2028, 6, 1), "2029-03-30T23:59:00-05:00", "2029-03-31T04:59:00+00:00", "estimated"),
])
def test_annual_deadlines_of_the_sources(data_year, today, local, utc, status):
    loaded = rules.load(bundled("rules.toml"))
    event = deadlines(engine.schedule(loaded, loaded.providers["demo-annual"], today))[data_year]
    assert (event.start.isoformat(), event.start.astimezone(UTC).isoformat(), event.status) == (
        local, utc, status)


@pytest.mark.parametrize("month, day, data_year, local", [
    # 2024: DST began Sunday March 10 and ended Sunday November 3.
    (3, 8, 2023, "2024-03-08T23:59:00-06:00"),   # Friday before the switch: CST
    (3, 10, 2023, "2024-03-08T23:59:00-06:00"),  # the switch Sunday, moved back to Friday: CST
    (3, 11, 2023, "2024-03-11T23:59:00-05:00"),
    (11, 1, 2023, "2024-11-01T23:59:00-05:00"),  # Friday before the switch back: CDT
    (11, 2, 2023, "2024-11-01T23:59:00-05:00"),  # a Saturday, moved back to Friday: CDT
    (11, 3, 2023, "2024-11-01T23:59:00-05:00"),  # the switch Sunday, moved back before it: CDT
    (11, 4, 2023, "2024-11-04T23:59:00-06:00"),
    # 2006, before the Energy Policy Act: DST began April 2, so March 31 was CST.
    (3, 31, 2005, "2006-03-31T23:59:00-06:00"),
    # 2001: DST began April 1; March 30 (March 31 a Saturday, moved back) was CST.
    (3, 31, 2000, "2001-03-30T23:59:00-06:00"),
])
def test_deadlines_beside_the_dst_switches(variant, month, day, data_year, local):
    loaded = variant(month=month, day=day, first_cycle=data_year, published={})
    event = deadlines(engine.schedule(loaded, everything(loaded), date(data_year, 6, 1)))[data_year]
    assert event.start.isoformat() == local
    assert_timed(event)


# --- properties over the years --------------------------------------------------------------

@TIME
@given(today=TODAYS, first_cycle=st.sampled_from([1988, 2023]))
@example(today=date(2100, 12, 31), first_cycle=1988)
@example(today=date(1990, 1, 1), first_cycle=2023)
def test_yearly_track_any_today(variant, today, first_cycle):
    loaded = variant(first_cycle=first_cycle)
    events = engine.schedule(loaded, everything(loaded), today)
    assert_times(events)
    assert_rule(loaded, events, 3, 31)
    assert_window(events, first_cycle, today)
    # A state accreditor's own dates are all-day; where it has none, ACCME's stands.
    assert_times(engine.schedule(loaded, STATE, today))


@TIME
@given(today=TODAYS, rule_day=st.sampled_from(DST_DAYS))
def test_deadlines_beside_the_dst_switches_any_year(variant, today, rule_day):
    loaded = variant(month=rule_day[0], day=rule_day[1], first_cycle=1988, published={})
    events = engine.schedule(loaded, everything(loaded), today)
    assert_times(events)
    assert_rule(loaded, events, *rule_day)


@pytest.mark.parametrize("rule_day", DST_DAYS, ids=lambda d: f"{d[0]}-{d[1]}")
def test_dst_variants_land_on_both_sides(variant, rule_day):
    loaded = variant(month=rule_day[0], day=rule_day[1], first_cycle=1988, published={})
    events = engine.schedule(loaded, everything(loaded), date(2100, 12, 31))
    # March 8 is never after the second Sunday of March once a weekend is moved back
    # to Friday (a Sunday March 8 goes to Friday March 6); every other day of both
    # weeks falls on either side.
    both = {CDT, CST} if rule_day != (3, 8) else {CST}
    assert {e.start.utcoffset() for e in deadlines(events).values()} == both


@TIME
@given(today=TODAYS, rule=st.dates(date(2001, 1, 1), date(2001, 12, 31)))
def test_weekends_move_back_to_friday_and_weekdays_stay(variant, today, rule):
    loaded = variant(month=rule.month, day=rule.day, first_cycle=1988, published={})
    events = engine.schedule(loaded, everything(loaded), today)
    assert_times(events)
    assert_rule(loaded, events, rule.month, rule.day)


@TIME
@given(data_year=st.integers(2025, 2095),
       moment=st.datetimes(datetime(2001, 3, 1), datetime(2001, 4, 30, 23, 59)))
@example(data_year=2028, moment=datetime(2001, 3, 31, 12, 0))  # 2029-03-31, a Saturday
def test_published_dates_win_over_the_rule(variant, data_year, moment):
    published = moment.replace(year=data_year + 1, second=0, microsecond=0)
    loaded = variant(published={data_year: published.isoformat()})
    events = engine.schedule(loaded, everything(loaded), date(data_year, 6, 1))
    due = deadlines(events)
    assert due[data_year].start == published.replace(tzinfo=CHICAGO)
    assert due[data_year].status == "published"
    assert not wording.title(due[data_year]).endswith("(estimated)")
    for step in (e for e in events if e.cycle == str(data_year) and e.precision == "time"):
        assert step.start == due[data_year].start
    assert_rule(loaded, events, 3, 31)
    assert_times([e for e in events if e.cycle != str(data_year)])


# --- the server's TZ changes nothing --------------------------------------------------------

SNAPSHOT = r'''
import json, sys
from datetime import date
from calfeed.core import engine, rules, wording
from calfeed.outputs import export
from calfeed.outputs.ical import render
from calfeed.core.model import Profile

def snapshot(rules_path, roster_path):
    """JSON and .ics of every profile on a few days: what a server would serve."""
    loaded = rules.load(rules_path, roster_path)
    profiles = list(loaded.providers.values()) + [
        Profile("all", "All", None, True, None, tracks=tuple(loaded.tracks)),
        Profile("state", "State", None, None, "cma")]
    out = {}
    for profile in profiles:
        header = engine.calendar(loaded, profile)
        for today in (date(1990, 1, 1), date(2024, 3, 10), date(2026, 11, 21), date(2060, 11, 7)):
            events = engine.schedule(loaded, profile, today)
            key = f"{profile.id} {today}"
            out[key + " json"] = export.to_json(header, events)
            out[key + " ics"] = render(events, header).decode("utf-8")
    return json.dumps(out, sort_keys=True)
'''


def test_output_does_not_depend_on_the_server_tz(tmp_path):
    # Deadlines on March 10, the earliest second Sunday: on both sides of the switch.
    path = tmp_path / "rules.toml"
    path.write_text(rules_text(3, 10, first_cycle=1988), encoding="utf-8")
    roster = bundled("providers.csv")
    namespace: dict = {}
    exec(SNAPSHOT, namespace)
    here = namespace["snapshot"](str(path), str(roster))
    for zone in ("Asia/Tokyo", "America/Los_Angeles"):
        env = {**os.environ, "TZ": zone}
        done = subprocess.run(
            [sys.executable, "-c", SNAPSHOT + "\nprint(snapshot(sys.argv[1], sys.argv[2]), end='')",
             str(path), str(roster)], env=env, capture_output=True, text=True, check=True)
        assert done.stdout == here, f"TZ={zone} changed the output"
    assert "T23:59:00-05:00" in here and "T23:59:00-06:00" in here


# --- the feed, read back by a calendar library -------------------------------------------------

@settings(TIME, max_examples=25)
@given(today=TODAYS, rule_day=st.sampled_from([(3, 31)] + DST_DAYS))
def test_feed_dtstart_is_the_engines_instant(variant, today, rule_day):
    loaded = variant(month=rule_day[0], day=rule_day[1], first_cycle=1988, published={})
    profile = everything(loaded)
    events = engine.schedule(loaded, profile, today)
    feed = IcsCalendarStream.calendar_from_ics(render(events, engine.calendar(loaded, profile))
                                               .decode("utf-8"))
    by_uid = {e.uid: e for e in events}
    read = {e.uid: e for e in feed.events}
    assert set(read) == {e.uid for e in events if e.precision != "undated"}
    for uid, parsed in read.items():
        event = by_uid[uid]
        if event.precision == "time":
            assert parsed.dtstart.astimezone(UTC) == event.start.astimezone(UTC)
            assert parsed.dtend.astimezone(UTC) == event.end.astimezone(UTC)
        else:
            # All-day markers from dates (never through UTC), one day long; a month's
            # marker on its first day.
            assert type(parsed.dtstart) is date and parsed.dtstart == event.start
            assert parsed.dtend == parsed.dtstart + timedelta(days=1)


def vtimezone_instants(feed: bytes) -> dict[str, dict[str, datetime]]:
    """Each timed DTSTART as vobject, python ical and ical.js read it through the feed's VTIMEZONE."""
    return {"vobject": readback.by_vobject(feed), "ical": readback.by_ical(feed),
            "ical.js": readback.by_icaljs([feed])[0]}


@pytest.mark.parametrize("rule_day", [(3, 31), (3, 8), (3, 14), (11, 1), (11, 5)],
                         ids=lambda d: f"{d[0]}-{d[1]}")
def test_vtimezone_gives_the_engines_instant_from_2007(variant, rule_day):
    """Outlook reads the feed's VTIMEZONE, not its own zone database, for TZID=America/Chicago."""
    loaded = variant(month=rule_day[0], day=rule_day[1], first_cycle=2007, published={})
    profile = everything(loaded)
    events = engine.schedule(loaded, profile, date(2100, 12, 31))
    timed = [e for e in events if e.precision == "time"]
    assert len(timed) > 400
    for reader, seen in vtimezone_instants(render(events, engine.calendar(loaded, profile))).items():
        assert seen == {e.uid: e.start.astimezone(UTC) for e in timed}, reader


@pytest.mark.parametrize("first_cycle", [1988, 2000])
def test_vtimezone_gives_the_engines_instant_before_2007(variant, first_cycle):
    """Deadlines under the 1987-2006 US rules and the 2007 ones in one feed, each at its instant."""
    loaded = variant(first_cycle=first_cycle, published={})
    profile = everything(loaded)
    events = engine.schedule(loaded, profile, date(2030, 1, 1))
    timed = [e for e in events if e.precision == "time"]
    for event in timed:
        assert_timed(event)  # the zone database and the statutes agree
    assert {e.start.year for e in timed} >= {2001, 2006, 2007, 2031}
    for reader, seen in vtimezone_instants(render(events, engine.calendar(loaded, profile))).items():
        assert seen == {e.uid: e.start.astimezone(UTC) for e in timed}, reader
        # Data year 2000: March 31, 2001 was a Saturday, so Friday, March 30, 2001 at
        # 11:59 p.m., before the first Sunday of April: CST.
        assert seen["time/annual-reporting/2000/annual-agreement@calfeed"] == datetime(
            2001, 3, 31, 5, 59, tzinfo=UTC), reader
