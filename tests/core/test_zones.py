"""Every timed event at its instant for any calendar, in any zone and any year a feed spans.

Outlook, and any client without the IANA zone database, reads a DTSTART;TZID=... time
through the feed's own VTIMEZONE. A zone whose rules changed gets yearly rules for each
period of its history the feed spans: America/Chicago 1987-2006 (first Sunday of April
to last Sunday of October) and from 2007 (second Sunday of March to first Sunday of
November); Chile, Egypt, Russia and Mexico, whose rules changed in the last years.
Three independent readers (tests/readback.py: vobject, python ical, ical.js) read every
instant back through that VTIMEZONE; the zone database says where it is.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil.tz import tzical
from ical.calendar_stream import IcsCalendarStream
from ical.types.recur import Frequency

from calfeed.core import engine, zones
from calfeed.outputs import ical as rendering
from calfeed.outputs.ical import PRODID, render, vtimezone

import readback
from test_dates import everything, variant  # noqa: F401 (variant: the fixture)

UTC = timezone.utc

# (zone, first year, last year): a feed's span. Each crosses a change of the zone's rules.
SPANS = [
    ("America/Chicago", 1988, 2030),  # the US before and after the Energy Policy Act of 2005
    ("America/Santiago", 2000, 2030),  # Chile: 2015 on -03 all year, 2016-2018 May to August,
                                       # 2022 from September 11 (a referendum's week)
    ("Africa/Cairo", 2000, 2030),  # Egypt: none 2011-2013 and 2015-2022, Ramadan breaks in
                                   # 2010 and 2014, the last Friday of April from 2023
    ("Europe/Moscow", 1990, 2030),  # Russia: +04 all year from 2011, +03 from October 2014
    ("America/Mexico_City", 1990, 2030),  # Mexico: no daylight saving time from 2023
    ("Australia/Sydney", 2000, 2030),  # the southern hemisphere, rules changed in 2008
    ("Asia/Tehran", 2015, 2030),  # March 21/22 to September 21/22 until 2022, none since
    ("Pacific/Kiritimati", 1990, 2000),  # 1994-12-31 never happened: -10 to +14
    ("America/Phoenix", 2000, 2030),  # no change at all
]


def local_times(key: str, first: int, last: int) -> list[datetime]:
    """Times a deadline may have: 23:59 or noon every fourth day, and minutes around each change.

    Not a local time the clocks skip or repeat: calfeed check refuses those
    (tests/core/test_rules_clock_changes.py).
    """
    zone = ZoneInfo(key)
    found = []
    day = datetime(first, 1, 1)
    while day.year <= last:
        found.append(day.replace(hour=23, minute=59) if day.day % 2 else day.replace(hour=12))
        day += timedelta(days=4)
    for year in range(first, last + 1):
        for change in zones.transitions(zone, year):
            for minutes in (-61, -1, 0, 1, 61):
                found.append((change.at + timedelta(minutes=minutes)).astimezone(zone)
                             .replace(tzinfo=None))
    return [t for t in found
            if first <= t.year <= last and zones.change_at(zone, t) is None]


def calendar(key: str, first: int, last: int, times: list[datetime]) -> bytes:
    """A calendar with the feed's VTIMEZONE for the span and an event at each local time."""
    cal = icalendar.Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", PRODID)
    cal.add_component(vtimezone(key, last, first))
    for number, moment in enumerate(times):
        event = icalendar.Event()
        event.add("uid", str(number))
        event.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
        event.add("dtstart", moment.replace(tzinfo=ZoneInfo(key)))
        cal.add_component(event)
    return cal.to_ical()


@pytest.fixture(scope="module")
def read():
    """(zone, first, last) -> (the local times, {reader: {uid: instant}}) for every SPANS case."""
    cases = {span: local_times(*span) for span in SPANS}
    feeds = {span: calendar(*span, times) for span, times in cases.items()}
    by_icaljs = dict(zip(feeds, readback.by_icaljs(list(feeds.values()))))
    return {span: (cases[span], {"vobject": readback.by_vobject(feed),
                                 "ical": readback.by_ical(feed), "ical.js": by_icaljs[span]})
            for span, feed in feeds.items()}


@pytest.mark.parametrize("span", SPANS, ids=lambda s: f"{s[0]}-{s[1]}-{s[2]}")
def test_every_reader_gives_the_zone_databases_instant(read, span):
    times, readers = read[span]
    zone = ZoneInfo(span[0])
    expected = {str(n): t.replace(tzinfo=zone).astimezone(UTC) for n, t in enumerate(times)}
    assert len(expected) > 600
    for reader, seen in readers.items():
        wrong = {uid: (expected[uid], seen.get(uid)) for uid in expected
                 if seen.get(uid) != expected[uid]}
        assert not wrong, f"{reader}: {len(wrong)} wrong, e.g. {next(iter(wrong.items()))}"


# Instants the zone database (IANA tzdata) gives, written out: a reader that agrees
# with them reads the rules of that period, not another's.
SPOTS = [
    ("America/Chicago", "2001-04-02T23:59", "2001-04-03T04:59"),  # CDT from April 1, 2001
    ("America/Chicago", "2006-03-31T23:59", "2006-04-01T05:59"),  # CST until April 2, 2006
    ("America/Chicago", "2006-10-31T23:59", "2006-11-01T05:59"),  # CST from October 29, 2006
    ("America/Chicago", "2007-03-31T23:59", "2007-04-01T04:59"),  # CDT from March 11, 2007
    ("America/Chicago", "2007-10-31T23:59", "2007-11-01T04:59"),  # CDT until November 4, 2007
    ("America/Santiago", "2015-06-30T23:59", "2015-07-01T02:59"),  # -03 all 2015
    ("America/Santiago", "2022-09-05T23:59", "2022-09-06T03:59"),  # -04 until September 11
    ("America/Santiago", "2024-04-01T23:59", "2024-04-02T02:59"),  # -03 until April 7, 2024
    ("America/Santiago", "2024-04-08T23:59", "2024-04-09T03:59"),
    ("Africa/Cairo", "2022-07-01T12:00", "2022-07-01T10:00"),  # EET: none 2015-2022
    ("Africa/Cairo", "2023-07-01T12:00", "2023-07-01T09:00"),  # EEST again from 2023
    ("Africa/Cairo", "2024-04-01T23:59", "2024-04-01T21:59"),  # EET until April 26, 2024
    # EEST through October 31, whose 11 p.m. hour happens twice (so 23:59 is refused).
    ("Africa/Cairo", "2024-10-31T21:59", "2024-10-31T18:59"),
    ("Europe/Moscow", "2010-07-01T12:00", "2010-07-01T08:00"),  # MSD
    ("Europe/Moscow", "2013-01-15T12:00", "2013-01-15T08:00"),  # +04 all year
    ("Europe/Moscow", "2015-01-15T12:00", "2015-01-15T09:00"),  # +03 from October 26, 2014
    ("America/Mexico_City", "2022-04-04T23:59", "2022-04-05T04:59"),  # CDT from April 3
    ("America/Mexico_City", "2022-10-29T23:59", "2022-10-30T04:59"),  # CDT until October 30
    ("America/Mexico_City", "2023-04-03T23:59", "2023-04-04T05:59"),  # CST from 2023 on
]


def test_instants_written_out():
    feeds = [calendar(*span_of(key), [datetime.fromisoformat(local)]) for key, local, _ in SPOTS]
    for (key, local, utc), feed, icaljs in zip(SPOTS, feeds, readback.by_icaljs(feeds)):
        expected = datetime.fromisoformat(utc).replace(tzinfo=UTC)
        assert datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(key)) == expected
        for reader, seen in (("vobject", readback.by_vobject(feed)),
                             ("ical", readback.by_ical(feed)), ("ical.js", icaljs)):
            assert seen == {"0": expected}, (reader, key, local)


def span_of(key: str) -> tuple[str, int, int]:
    """The SPANS case of a zone."""
    return next(span for span in SPANS if span[0] == key)


# ---------------------------------------------------------------------------
# A feed: the bundled annual deadline, 11:59 p.m. on March 31 (a weekend back to Friday), in
# a zone whose rules changed, for data years 2005-2030.

@pytest.mark.parametrize("key, due_2024", [
    # Data year 2023 by the rule: Sunday, March 31, 2024 back to Friday, March 29.
    ("America/Santiago", "2024-03-30T02:59"),  # -03 until April 7, 2024
    ("Africa/Cairo", "2024-03-29T21:59"),  # EET until April 26, 2024
    ("Europe/Moscow", "2024-03-29T20:59"),  # +03
    ("America/Mexico_City", "2024-03-30T05:59"),  # CST: no daylight saving time since 2023
])
def test_a_feed_in_a_zone_whose_rules_changed(variant, key, due_2024):
    loaded = variant(first_cycle=2005, published={}, tz=key)
    profile = everything(loaded)
    events = engine.schedule(loaded, profile, date(2029, 1, 1))
    timed = [e for e in events if e.precision == "time"]
    assert {e.start.year for e in timed} == set(range(2006, 2031))
    # ical.py keeps each VEVENT's bytes by its Event, and an Event equals one in another
    # zone at the same instant (aware datetimes compare by instant: a CST deadline in
    # Chicago and in Mexico City), so another test's Chicago VEVENT could stand in.
    rendering.clear_caches()
    feed = render(events, engine.calendar(loaded, profile))
    assert feed.count(b"TZID:") == 1 and feed.count(b"COUNT=") >= 2  # more than one period
    expected = {e.uid: e.start.astimezone(UTC) for e in timed}
    uid = "time/annual-reporting/2023/annual-agreement@calfeed"
    assert expected[uid] == datetime.fromisoformat(due_2024).replace(tzinfo=UTC)
    for reader, seen in (("vobject", readback.by_vobject(feed)), ("ical", readback.by_ical(feed)),
                         ("ical.js", readback.by_icaljs([feed])[0])):
        assert seen == expected, reader


# ---------------------------------------------------------------------------
# The form Outlook reads: DTSTART, one yearly RRULE and the offsets.

def test_the_us_before_and_after_2007_as_two_periods():
    text = vtimezone("America/Chicago", 2030, 2001).to_ical().decode()
    assert text.split("\r\n") == [
        "BEGIN:VTIMEZONE",
        "TZID:America/Chicago",
        # The newest rules first and open-ended, as in a feed of 2008 and later.
        "BEGIN:STANDARD",
        "DTSTART:20071104T020000",
        "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
        "TZNAME:CST",
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0600",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:20070311T020000",
        "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
        "TZNAME:CDT",
        "TZOFFSETFROM:-0600",
        "TZOFFSETTO:-0500",
        "END:DAYLIGHT",
        # 1987-2006: twenty years, each once.
        "BEGIN:STANDARD",
        "DTSTART:19871025T020000",
        "RRULE:FREQ=YEARLY;COUNT=20;BYDAY=-1SU;BYMONTH=10",
        "TZNAME:CST",
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0600",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:19870405T020000",
        "RRULE:FREQ=YEARLY;COUNT=20;BYDAY=1SU;BYMONTH=4",
        "TZNAME:CDT",
        "TZOFFSETFROM:-0600",
        "TZOFFSETTO:-0500",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
        "",
    ]


def test_a_span_within_one_period_is_the_one_rule_pair_as_before():
    # The bundled rules' feeds (tests/golden) span 2024 on: their zone is unchanged.
    newest = vtimezone("America/Chicago", 2030).to_ical()
    assert vtimezone("America/Chicago", 2030, 2008).to_ical() == newest
    assert newest.count(b"BEGIN:") == 3 and b"COUNT" not in newest


@pytest.mark.parametrize("span", SPANS, ids=lambda s: f"{s[0]}-{s[1]}-{s[2]}")
def test_every_observance_is_a_yearly_rule_outlook_reads(span):
    """MS-OXCICAL: a YEARLY RRULE with BYMONTH and one nth weekday or one day of the month."""
    text = calendar(*span, []).decode()
    assert "RDATE" not in text and "UNTIL" not in text
    zone = IcsCalendarStream.calendar_from_ics(text).timezones[0]
    for part in zone.standard + zone.daylight:
        rule = part.rrule
        assert rule is not None and rule.freq == Frequency.YEARLY and len(rule.by_month) == 1
        if rule.by_weekday:
            assert len(rule.by_weekday) == 1 and rule.by_weekday[0].occurrence and not rule.by_month_day
        else:
            assert len(rule.by_month_day) == 1
        assert next(iter(part.as_ruleset())) == part.dtstart  # DTSTART is the first onset
    # Newest period first: a reader that takes the first rules takes today's.
    starts = [line for line in text.split("\r\n") if line.startswith("DTSTART:")]
    years = [int(line[8:12]) for line in starts]
    assert years == sorted(years, reverse=True)


def newest_rules_only(text: bytes) -> tzical:
    """The zone as Outlook keeps it: the STANDARD and the DAYLIGHT with the latest DTSTART.

    MS-STANOICAL 2.2.47: Outlook approximates a VTIMEZONE by one yearly change each
    way; MS-OXCICAL 2.1.3.1.1.19.2: the parts with the largest DTSTART, their RRULE's
    month and day every year (it keeps no year and no COUNT).
    """
    newest: dict[str, icalendar.cal.Component] = {}
    for part in icalendar.Timezone.from_ical(text).subcomponents:
        if part.name not in newest or part["DTSTART"].dt > newest[part.name]["DTSTART"].dt:
            newest[part.name] = part
    zone = icalendar.Timezone()
    zone.add("tzid", "Outlook")
    for part in newest.values():
        kept = icalendar.TimezoneStandard() if part.name == "STANDARD" else icalendar.TimezoneDaylight()
        # Every year, as Outlook's rule has no year: from 28 years back (same weekdays).
        kept.add("dtstart", part["DTSTART"].dt.replace(year=part["DTSTART"].dt.year - 28))
        kept.add("rrule", {k: v for k, v in part["RRULE"].items() if k != "COUNT"})
        kept.add("tzoffsetfrom", part["TZOFFSETFROM"].td)
        kept.add("tzoffsetto", part["TZOFFSETTO"].td)
        zone.add_component(kept)
    return tzical(io.StringIO(zone.to_ical().decode())).get()


@pytest.mark.parametrize("span", SPANS, ids=lambda s: f"{s[0]}-{s[1]}-{s[2]}")
def test_outlook_keeping_only_the_newest_rules_is_right_in_the_last_year(span):
    """Older years may then be off in Outlook; never the year the feed runs to."""
    key, first, last = span
    outlook, zone = newest_rules_only(vtimezone(key, last, first).to_ical()), ZoneInfo(key)
    day = datetime(last, 1, 1)
    while day.year == last:
        for moment in (day.replace(hour=12), day.replace(hour=23, minute=59)):
            if zones.change_at(zone, moment) is None:
                assert (moment.replace(tzinfo=outlook).utcoffset()
                        == moment.replace(tzinfo=zone).utcoffset()), moment
        day += timedelta(days=1)


@pytest.mark.parametrize("span", [
    ("America/Chicago", 1988, 2030), ("America/Santiago", 2000, 2030),
    ("Europe/Moscow", 1994, 2030), ("America/Mexico_City", 1990, 2030),
    ("Australia/Sydney", 2000, 2030), ("Asia/Tehran", 2015, 2030),
], ids=lambda s: s[0])
def test_each_period_starts_in_a_year_of_its_own(span):
    """Outlook keeps one rule per year, by DTSTART's year (MS-OXCICAL 2.1.3.1.1.19.2).

    Years with more than one change each way, which no yearly pair can say, are left
    out: Egypt's 2010 and 2014 (four changes each), Russia's 1992 (three).
    """
    zone = IcsCalendarStream.calendar_from_ics(calendar(*span, []).decode()).timezones[0]
    for parts in (zone.standard, zone.daylight):
        years = [part.dtstart.year for part in parts]
        assert len(years) == len(set(years))


# ---------------------------------------------------------------------------
# What no VTIMEZONE can say: calfeed check refuses it (zones.vtimezone_problem).

@pytest.mark.parametrize("key, local, shown", [
    ("Africa/Monrovia", "1971-04-01T23:59", "UTC-0:44:30 in 1971"),
    ("Africa/Monrovia", "1972-04-03T23:59", "UTC-0:44:30 in 1972"),  # until January 7, 1972
    ("Europe/Dublin", "1916-03-31T23:59", "UTC-0:25:21 in 1916"),  # Dublin Mean Time
    ("Europe/Amsterdam", "1937-03-31T23:59", "UTC+0:19:32 in 1937"),
])
def test_an_offset_in_seconds_is_refused(key, local, shown):
    assert zones.vtimezone_problem(key, datetime.fromisoformat(local)) == (
        f"{key} is {shown}, which calendars read to the minute only",
        "a time zone whose UTC offset that year is a whole number of minutes")


@pytest.mark.parametrize("key, local", [
    ("Africa/Monrovia", "1973-04-02T23:59"), ("Europe/Dublin", "1917-03-31T23:59"),
    ("Europe/Amsterdam", "1938-03-31T23:59"), ("America/Chicago", "1900-04-02T23:59"),
    ("America/Chicago", "2024-04-01T23:59"), ("Pacific/Kiritimati", "1995-03-31T23:59"),
])
def test_whole_minutes_are_served(key, local):
    assert zones.vtimezone_problem(key, datetime.fromisoformat(local)) is None


def test_an_offset_in_seconds_is_what_icaljs_misreads():
    """Why it is refused: ical.js reads Liberia's -0:44:30 in 1971 as -0:44."""
    feed = calendar("Africa/Monrovia", 1971, 1971, [datetime(1971, 4, 1, 23, 59)])
    assert readback.by_vobject(feed)["0"] == datetime(1971, 4, 2, 0, 43, 30, tzinfo=UTC)
    assert readback.by_icaljs([feed])[0]["0"] == datetime(1971, 4, 2, 0, 43, tzinfo=UTC)


def test_a_deadline_moved_to_another_zone_at_the_same_instant_is_written_in_its_new_zone():
    # 11:59 p.m. in Chicago and 10:59 p.m. in Mexico City are one instant in 2025 (Mexico
    # City keeps UTC-6 all year since 2022): the two events must still render apart.
    from dataclasses import replace
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from calfeed.core.model import Calendar, Event
    from calfeed.outputs import ical

    chicago = datetime(2025, 3, 31, 23, 59, tzinfo=ZoneInfo("America/Chicago"))
    event = Event("u@calfeed", "t", "T", "2024", "m", "Due", chicago, chicago, "time",
                  "published", "provider", "Due.", None)
    mexico = replace(event, start=chicago.astimezone(ZoneInfo("America/Mexico_City")))
    assert event.start == mexico.start and event != mexico
    calendar = Calendar("c@calfeed", "C", "C", chicago, 1)
    first = ical.render([event], calendar)
    second = ical.render([mexico], calendar)
    assert b"DTSTART;TZID=America/Chicago:20250331T235900" in first
    assert b"DTSTART;TZID=America/Mexico_City:20250331T225900" in second
