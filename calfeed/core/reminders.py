"""Reminders: the choices a page offers, `?remind=` durations, and when each alarm fires.

A reminder comes at 9:00 a.m. on a working day some whole days (or months) before a
step: in the deadline's own zone for a timed deadline, and on the reader's own clock
for an all-day step (whose day is floating). Alarms are only for steps the provider
acts on, and never at or after a step's start. Each alarm is expressed as the exact
time before the step's start (what Outlook stores: minutes before the start, counted
from local midnight for an all-day event), so every client fires it at the same
instant.

Alarms help only where they are news (docs/design.md §4): steps due
at the same moment (annual reporting's five) ring once, on the first of them in ACCME's
order, with a text naming them all; and a calendar carries no alarm on a step that has
passed, nor one whose day is before the calendar's "today", which clients would show as
overdue when they import it. Pure: no clock (today is an argument), no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import FR, relativedelta

from calfeed.core import wording
from calfeed.core.model import Alarm, Event, Lead

MOST = 3
LONGEST = timedelta(days=366)
ACCEPTED = "up to 3 ISO 8601 durations, comma-separated, like P14D,P2D or PT12H"
EXPECTED = "expected up to 3 durations like P14D,P2D or PT12H"
# ISO 8601 allows years and months; iCalendar durations (and TRIGGER) do not.
# RFC 5545's dur-value: weeks alone, or days and/or a time of hours, minutes, seconds.
DURATION = re.compile(r"([+-])?P(?:(\d+)W|(\d+D)?(?:T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?)\Z")
CALENDAR_UNITS = re.compile(r"P(?=\d+[YM])(\d+Y)?(\d+M)?(\d+[WD])?(T.*)?\Z")

# When a reminder comes on its day: the start of a working morning.
WORKDAY_START = time(9, 0)
# An all-day step has no zone: the reader's clock decides its midnight. Its alarm is
# counted in hours with ACCME's (US) daylight-saving dates, which every US zone that
# keeps daylight time shares, so it lands on 9:00 a.m. there too.
DAY_ZONE = ZoneInfo("America/Chicago")
# Who must act for a step to get an alarm.
ACTING = "provider"


@dataclass(frozen=True)
class Choice:
    """A set of reminders a page offers, and the path segment of its calendar."""

    id: str  # "2w2d": the variant's path is …/remind-2w2d.ics
    leads: tuple[Lead, ...]  # longest first: Outlook keeps only the first alarm


CHOICES: tuple[Choice, ...] = (
    Choice("1w", (Lead(days=7),)),
    Choice("2w2d", (Lead(days=14), Lead(days=2))),
    Choice("1m1w1d", (Lead(months=1), Lead(days=7), Lead(days=1))),
)
BY_ID = {choice.id: choice for choice in CHOICES}


def parse(text: str) -> tuple[timedelta, ...]:
    """Reminders from `P14D,P2D`: distinct positive durations, longest first; ValueError says why not."""
    found: set[timedelta] = set()
    if not text.strip():
        return ()
    for part in text.split(","):
        item = part.strip().upper()
        if CALENDAR_UNITS.match(item):
            raise ValueError(f"remind: {part.strip()!r} counts years or months, which have no "
                             f"fixed length ({EXPECTED})")
        try:
            # "P" and "PT" parse as zero in icalendar: a duration needs a number.
            if not any(c.isdigit() for c in item):
                raise ValueError(item)
            duration = duration_of(item)
        except ValueError:
            raise ValueError(
                f"remind: {part.strip()!r} is not an ISO 8601 duration ({EXPECTED})"
            ) from None
        if duration <= timedelta(0):
            raise ValueError(f"remind: {part.strip()!r} is not a positive duration "
                             f"({EXPECTED})")
        if duration > LONGEST:
            raise ValueError(f"remind: {part.strip()!r} is longer than a year "
                             f"({EXPECTED}, each at most P366D)")
        found.add(duration)
    if len(found) > MOST:
        raise ValueError(f"remind: {len(found)} durations are too many ({EXPECTED})")
    return tuple(sorted(found, reverse=True))


def duration_of(text: str) -> timedelta:
    """An iCalendar (RFC 5545) duration like P14D, P2W or PT12H30M; ValueError if it is not one."""
    match = DURATION.match(text)
    if match is None or not any(match.groups()[1:]):
        raise ValueError(text)
    sign, weeks, *parts = match.groups()
    days, hours, minutes, seconds = (int(part[:-1]) if part else 0 for part in parts)  # "14D"
    try:
        found = timedelta(weeks=int(weeks or 0), days=days, hours=hours, minutes=minutes,
                          seconds=seconds)
    except OverflowError:  # PT999…9S: no calendar's duration, and none the checks can size
        raise ValueError(text) from None
    return -found if sign == "-" else found


def leads(durations: Sequence[timedelta]) -> tuple[Lead, ...]:
    """`?remind=` durations as leads: whole days come at 9:00 a.m., the rest exactly."""
    return tuple(Lead(days=d.days) if d % timedelta(days=1) == timedelta(0) else Lead(exact=d)
                 for d in durations)


def _start(event: Event) -> tuple[datetime, date, ZoneInfo]:
    """When a dated step starts (aware), its local day, and the zone its alarms are in."""
    start = event.start
    if isinstance(start, datetime):
        zone = start.tzinfo
        assert isinstance(zone, ZoneInfo)
        return start, start.date(), zone
    assert isinstance(start, date)
    return datetime.combine(start, time(), DAY_ZONE), start, DAY_ZONE


def working_day(day: date) -> date:
    """The day itself, or the Friday before a Saturday or Sunday."""
    return day + relativedelta(weekday=FR(-1)) if day.weekday() >= 5 else day


def moments(event: Event, chosen: Sequence[Lead],
            today: date | None = None) -> tuple[datetime, ...]:
    """When the alarms of a step fire (aware, earliest first); none if the provider does not act.

    With `today`: none for a step that has passed, and none on a day before today.
    """
    if event.start is None or event.actor != ACTING or not chosen:
        return ()
    if today is not None and event.passed(today):
        return ()
    start, day, zone = _start(event)
    found = set()
    for lead in chosen:
        if lead.exact is not None:
            moment = start.astimezone(timezone.utc) - lead.exact
        else:
            before = working_day(day - relativedelta(months=lead.months, days=lead.days))
            moment = datetime.combine(before, WORKDAY_START, zone).astimezone(timezone.utc)
        # Aware datetimes in one zone compare by wall clock: compare in UTC.
        if moment < start.astimezone(timezone.utc) and (
                today is None or moment.astimezone(zone).date() >= today):
            found.add(moment)
    return tuple(m.astimezone(zone) for m in sorted(found))


@lru_cache(maxsize=4096)
def triggers(event: Event, chosen: tuple[Lead, ...],
             today: date | None = None) -> tuple[timedelta, ...]:
    """How long before the step's start each alarm fires, longest first: Outlook keeps one."""
    found = moments(event, chosen, today)
    if not found:
        return ()
    start = _start(event)[0].astimezone(timezone.utc)
    return tuple(start - moment.astimezone(timezone.utc) for moment in found)


def _moment(event: Event) -> tuple[str, object]:
    """When a step is due, as one key for every step due then: its precision and start
    (an aware start compares as an instant)."""
    return event.precision, event.start


def calendar_alarms(events: Sequence[Event], chosen: Sequence[Lead],
                    today: date) -> list[tuple[Alarm, ...]]:
    """Each event's alarms, in the order of `events` (a calendar's, so ACCME's order at
    each moment): one ring per deadline moment, on its first step, naming every step."""
    found: list[tuple[Alarm, ...]] = [()] * len(events)
    frozen = tuple(chosen)
    if not frozen:
        return found
    together: dict[tuple[str, object], list[int]] = {}
    for n, event in enumerate(events):
        if event.start is not None and event.actor == ACTING and not event.passed(today):
            together.setdefault(_moment(event), []).append(n)
    for places in together.values():
        first = events[places[0]]
        before = triggers(first, frozen, today)
        if before:
            text = wording.alarm_text([events[n] for n in places])
            found[places[0]] = tuple(Alarm(b, text) for b in before)
    return found


def alarms(chosen: Sequence[Lead], events: Sequence[Event],
           today: date) -> Callable[[Event], tuple[Alarm, ...]] | None:
    """What ical.render asks for each of a calendar's events: its alarms (calendar_alarms);
    None for a calendar without reminders."""
    if not chosen:
        return None
    found = dict(zip(events, calendar_alarms(events, chosen, today)))
    return lambda event: found.get(event, ())
