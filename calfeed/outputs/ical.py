"""Render events as an iCalendar feed: the only module that imports icalendar.

What real clients need (docs/design.md §4) decides every choice here: all-day markers from
`date` objects, an RRULE-form VTIMEZONE that Outlook reads correctly, no VALARM
unless asked, and output that depends on nothing but the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import icalendar
from icalendar import vCategory, vDDDTypes, vDuration, vInt, vText

from calfeed.core import wording, zones
from calfeed.core.model import Alarm, Calendar, Event

PRODID = "-//calfeed//calfeed//EN"
# Clients poll twice a day at most; ACCME publishes a handful of times a year.
REFRESH = timedelta(hours=12)
# Values every VEVENT carries, encoded once: icalendar only reads them when it
# serializes, so one object can stand in many events.
# A date from the provider's own decision report is as firm as a published one.
STATUS = {"estimated": vText("TENTATIVE"), "published": vText("CONFIRMED"),
          "reported": vText("CONFIRMED")}
PUBLIC = vText("PUBLIC")
TRANSPARENT = vText("TRANSPARENT")
FREE = vText("FREE")
DISPLAY = vText("DISPLAY")


def render(events: Sequence[Event], calendar: Calendar,
           alarms: Callable[[Event], Sequence[Alarm | timedelta]] | None = None) -> bytes:
    """The .ics bytes of a calendar: the same inputs always give the same bytes.

    `alarms` says, for each event, its reminders (reminders.alarms makes it: when each
    fires and what it says); each becomes a VALARM, in that order. A bare timedelta is
    a reminder that says the event's own title.
    """
    dated = [e for e in events if e.precision != "undated"]
    # VTIMEZONEs before the events that name them: some clients read in one pass.
    # Each carries the zone's rules for every year from the first to the last the feed
    # uses that zone in.
    spans: dict[str, tuple[int, int]] = {}
    for event in dated:
        if event.precision == "time":
            assert isinstance(event.start, datetime)  # a timed step starts at an aware moment
            key = zones.key(event.start)
            year = event.start.year
            low, high = spans.get(key, (year, year))
            spans[key] = (min(low, year), max(high, year))
    # icalendar writes a calendar as its own lines, then each subcomponent's lines,
    # folding every line on its own: the header's bytes, each component's bytes and
    # the END line, joined, are exactly what Calendar.to_ical() writes. Serialized
    # apart, the parts that repeat (the zone in every feed; the header and events of
    # a feed again in each event's own .ics) are serialized once.
    parts = [_header(calendar, _calendar_description(events, calendar))]
    parts += [_vtimezone_ical(key, high, low) for key, (low, high) in spans.items()]
    parts += [_alarmed(event, calendar.revised, calendar.url,
                       tuple(alarms(event)) if alarms else ())
              for event in dated]
    parts.append(_END)
    return b"".join(parts)


def _ical(component: icalendar.Component) -> bytes:
    """A component's bytes, typed: icalendar 7 leaves Component.to_ical unannotated."""
    text: bytes = component.to_ical()
    return text


# The line that closes a calendar, as icalendar writes it.
_END = _ical(icalendar.Calendar()).split(b"\r\n", 1)[1]
# The line that closes an event: its VALARMs go just before it.
_VEVENT_END = _ical(icalendar.Event()).split(b"\r\n", 1)[1]


@lru_cache(maxsize=64)
def _header(calendar: Calendar, description: str) -> bytes:
    """The calendar's own lines, from BEGIN:VCALENDAR up to (not including) its END line."""
    cal = icalendar.Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", PRODID)
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # NAME (RFC 7986) and the X- properties have no type icalendar knows: it would
    # write them unescaped, and a comma, semicolon or newline would break the line.
    cal.add("name", vText(calendar.name))
    cal.add("x-wr-calname", vText(calendar.name))
    cal.add("description", description)
    cal.add("x-wr-caldesc", vText(description))
    # icalendar's own refresh_interval drops VALUE=DURATION, which RFC 7986 requires.
    cal.add("refresh-interval", vDuration(REFRESH, params={"VALUE": "DURATION"}))
    # An X- property has no known type: a bare timedelta would print "12:00:00".
    cal.add("x-published-ttl", vDuration(REFRESH))
    cal.add("uid", calendar.uid)
    cal.add("last-modified", _utc(calendar.revised))
    text = _ical(cal)
    assert text.endswith(_END)
    return text[:-len(_END)]


@lru_cache(maxsize=256)
def _vtimezone_ical(key: str, year: int, first: int) -> bytes:
    """A VTIMEZONE's bytes, serialized once per zone and span of years."""
    return _ical(vtimezone(key, year, first))


@lru_cache(maxsize=64)
def _common(revised: datetime, url: str | None) -> _Common:
    """The values every VEVENT of a feed shares, converted once."""
    return _Common(revised, url)


# A provider's feed has some 30 events; this holds a few dozen feeds' worth.
@lru_cache(maxsize=1024)
def _vevent_ical(event: Event, revised: datetime, url: str | None) -> bytes:
    """A VEVENT's bytes without alarms; an event's own .ics reuses what its feed serialized."""
    return _ical(_vevent(event, _common(revised, url)))


def _alarmed(event: Event, revised: datetime, url: str | None,
             triggers: tuple[Alarm | timedelta, ...]) -> bytes:
    """A VEVENT's bytes with a VALARM per alarm, last, in the order given.

    icalendar writes a component's own lines, then each subcomponent's, then its END
    line: the event serialized once (and shared by the calendar without reminders and
    each reminder calendar) with the VALARMs' bytes put before its END line is exactly
    what icalendar writes for the event with the alarms added.
    """
    plain = _vevent_ical(event, revised, url)
    if not triggers:
        return plain
    assert plain.endswith(_VEVENT_END)
    summary = _summary(event)
    return (plain[:-len(_VEVENT_END)]
            + b"".join(_valarm_ical(t.description, t.before) if isinstance(t, Alarm)
                       else _valarm_ical(summary, t) for t in triggers)
            + _VEVENT_END)


@lru_cache(maxsize=4096)
def _valarm_ical(description: str, before: timedelta) -> bytes:
    """A display alarm's bytes: what it says, `before` the event's start."""
    alarm = icalendar.Alarm()
    alarm.add("action", DISPLAY)
    alarm.add("description", vText(description))
    alarm.add("trigger", ExactDuration(-before))
    return _ical(alarm)


def clear_caches() -> None:
    """Forget the serialized headers and events (the benchmark times cold renders)."""
    _header.cache_clear()
    _common.cache_clear()
    _vevent_ical.cache_clear()
    _valarm_ical.cache_clear()


class _Common:
    """What every VEVENT of one feed shares, converted once per render."""

    def __init__(self, revised: datetime, url: str | None) -> None:
        self.stamp = vDDDTypes(_utc(revised))
        self.footer = f"This calendar: {url}" if url else ""
        self.categories: dict[str, vCategory] = {}

    def category(self, name: str) -> vCategory:
        """The CATEGORIES value of a track, made once per feed."""
        if name not in self.categories:
            self.categories[name] = vCategory([name])
        return self.categories[name]


def _vevent(event: Event, common: _Common) -> icalendar.Event:
    """One dated event as a VEVENT, without alarms (_alarmed adds them)."""
    start = event.start
    assert start is not None
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", common.stamp)
    # The change a subscriber must notice is a moved date, and each move is a history
    # entry: so the event alone gives SEQUENCE and LAST-MODIFIED, and an event whose
    # date never moved keeps both however often `revised` rises (README: "A date's
    # history").
    vevent.add("sequence", vInt(event.sequence))
    if event.modified is not None:
        vevent.add("last-modified", event.modified)
    if event.precision == "time":
        assert isinstance(start, datetime)
        vevent.add("dtstart", start)
        vevent.add("dtend", event.end)
    else:
        # A month marker is one day long on the 1st: never the whole month, which
        # would fill every day of it, and never an invented day.
        day = start.date() if isinstance(start, datetime) else start
        vevent.add("dtstart", day)
        vevent.add("dtend", day + timedelta(days=1))
    vevent.add("summary", _summary(event))
    vevent.add("description", _event_description(event, common))
    if event.url:
        vevent.add("url", event.url)
    vevent.add("categories", common.category(event.track_name))
    vevent.add("status", STATUS[event.status])
    vevent.add("class", PUBLIC)
    # A deadline marker must not make anyone look busy.
    vevent.add("transp", TRANSPARENT)
    vevent.add("x-microsoft-cdo-busystatus", FREE)
    return vevent


def _summary(event: Event) -> str:
    """An event's title as a calendar shows it, and its own reminders say it."""
    return wording.summary(event)


def _event_description(event: Event, common: _Common) -> str:
    """Its moves (newest first) and the estimate its publication replaced, ACCME's full text,
    who acts, whether it is estimated, the links."""
    moves = [wording.change_words(c, event.start, event.precision) for c in reversed(event.changes)]
    replaced = wording.replaced_words(event)
    if replaced:
        moves.append(replaced)
    lines = moves + ([""] if moves else []) + [
        event.description, "", f"Who acts: {wording.actor_phrase(event.actor)}"]
    if event.status == "estimated" and not event.explained:
        lines.append(wording.ESTIMATED_FEED_NOTE)
    # Google shows no URL property: the links must be in the text to be seen.
    links = [f"{link.title}: {link.url}" for link in event.links]
    if common.footer:
        links.append(common.footer)
    if links:
        lines += [""] + links
    return "\n".join(lines)


def _calendar_description(events: Sequence[Event], calendar: Calendar) -> str:
    """The calendar's description, naming the undated steps that are not events."""
    undated = [f"{wording.title(e)} ({e.when})" if e.when else wording.title(e)
               for e in events if e.precision == "undated"]
    if not undated:
        return calendar.description
    return (f"{calendar.description} Not in this calendar because they have no date: "
            + "; ".join(undated) + ".")


def _utc(moment: datetime) -> datetime:
    """An aware datetime in UTC, so it serializes with a Z."""
    return moment.astimezone(timezone.utc)


@lru_cache(maxsize=256)
def vtimezone(key: str, year: int, first: int | None = None) -> icalendar.Timezone:
    """The zone's rules for every instant of the years `first` (default `year`) to `year`.

    In the RRULE form Outlook reads (DTSTART, RRULE and the offsets): icalendar's
    Timezone.from_tzinfo writes RDATE lists instead, which Outlook misreads. Each
    period of the zone's history the years span has its own yearly rules, the older
    ones ended by COUNT (zones.observances); the newest comes first and starts in the
    first year it held (2007 for America/Chicago), or 1970. Built once per zone and
    span and shared: callers only add it to calendars, never change it.
    """
    vtz = icalendar.Timezone()
    vtz.add("tzid", key)
    for part in zones.observances(key, year if first is None else first, year):
        observance = icalendar.TimezoneDaylight() if part.daylight else icalendar.TimezoneStandard()
        observance.add("dtstart", part.start)
        rule = {"freq": "yearly", "bymonth": part.start.month}
        if part.byday:
            rule["byday"] = part.byday
        else:
            rule["bymonthday"] = part.start.day
        if part.count:
            rule["count"] = part.count
        observance.add("rrule", rule)
        observance.add("tzoffsetfrom", part.before)
        observance.add("tzoffsetto", part.after)
        observance.add("tzname", part.name)
        vtz.add_component(observance)
    return vtz


class ExactDuration(vDuration):
    """A duration written in hours, minutes and seconds only: `-PT327H`, not `-P13DT15H`.

    A day in an iCalendar duration is nominal (RFC 5545 §3.3.6: across a change to or
    from daylight time it is 23 or 25 hours), while Outlook counts a TRIGGER in minutes
    and Apple in seconds. Without days, every reader fires the alarm at the same instant.
    """

    def to_ical(self) -> bytes:
        """The duration as `[-]PT…H…M…S`."""
        seconds = int(self.td.total_seconds())
        sign = "-" if seconds < 0 else ""
        hours, rest = divmod(abs(seconds), 3600)
        minutes, seconds = divmod(rest, 60)
        # RFC 5545's grammar: hours, then minutes, then seconds, none skipped in between.
        text = (f"{hours}H" if hours else "") + (
            f"{minutes}M" if minutes or (hours and seconds) else "") + (
            f"{seconds}S" if seconds or not (hours or minutes) else "")
        return f"{sign}PT{text}".encode("ascii")

