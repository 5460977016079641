"""The baseline for rendering: the same events written with icalendar directly, nothing else.

This is what the shortest straightforward program costs to write the very same feed
with the library (the same properties in the same order, the same text), so the ratio
calfeed/bare is calfeed's own overhead. The VTIMEZONE is built once, as any program
would: `zones()` takes calfeed's (RRULE-form) VTIMEZONE text, parsed once up front, so
both write identical bytes and `render.same_bytes` can prove they did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta, timezone

import icalendar
from icalendar import vDuration, vText

from calfeed.core.model import Calendar, Event

TWELVE_HOURS = timedelta(hours=12)
WHO = {"provider": "the provider", "accme": "ACCME", "accreditor": "your accreditor"}
ESTIMATED = ("Estimated: ACCME has not yet published this date; "
             "it follows ACCME's usual rule.")
ZONE_WORDS = {"America/Chicago": "CT"}


def _title(event: Event) -> str:
    """The title with its caveats in one parenthesis."""
    return f"{event.bare_title} ({'; '.join(event.caveats)})" if event.caveats else event.bare_title


def zones(vtimezone_ics: Sequence[bytes]) -> dict[str, icalendar.Timezone]:
    """VTIMEZONE components by TZID, parsed once before any rendering."""
    out = {}
    for text in vtimezone_ics:
        component = icalendar.Timezone.from_ical(text)
        out[str(component["TZID"])] = component
    return out


def render(events: Sequence[Event], calendar: Calendar,
           timezones: dict[str, icalendar.Timezone]) -> bytes:
    """The feed: header, the VTIMEZONEs the events use, one VEVENT per dated event."""
    cal = icalendar.Calendar()
    cal.add("version", "2.0")
    cal.add("prodid", "-//calfeed//calfeed//EN")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", calendar.name)
    cal.add("x-wr-calname", vText(calendar.name))
    undated = [f"{_title(e)} ({e.when})" if e.when else _title(e)
               for e in events if e.precision == "undated"]
    description = calendar.description
    if undated:
        description += " Not in this calendar because they have no date: " + "; ".join(undated) + "."
    cal.add("description", description)
    cal.add("x-wr-caldesc", vText(description))
    cal.add("refresh-interval", vDuration(TWELVE_HOURS, params={"VALUE": "DURATION"}))
    cal.add("x-published-ttl", vDuration(TWELVE_HOURS))
    cal.add("uid", calendar.uid)
    stamp = calendar.revised.astimezone(timezone.utc)
    cal.add("last-modified", stamp)
    dated = [e for e in events if e.precision != "undated"]
    used = dict.fromkeys(e.start.tzinfo.key for e in dated if e.precision == "time")  # type: ignore[union-attr]
    for key in used:
        cal.add_component(timezones[key])
    for e in dated:
        vevent = icalendar.Event()
        vevent.add("uid", e.uid)
        vevent.add("dtstamp", stamp)
        # The benchmark's rules record no moves: no LAST-MODIFIED, as calfeed writes
        # for a date that never moved, and its SEQUENCE numbers.
        vevent.add("sequence", e.sequence)
        if e.precision == "time":
            start = e.start
            hour = start.hour % 12 or 12  # type: ignore[union-attr]
            clock = ("noon" if (start.hour, start.minute) == (12, 0)  # type: ignore[union-attr]
                     else "midnight" if (start.hour, start.minute) == (0, 0)  # type: ignore[union-attr]
                     else f"{hour}:{start.minute:02d} {'a.m.' if start.hour < 12 else 'p.m.'}")  # type: ignore[union-attr]
            vevent.add("dtstart", start)
            vevent.add("dtend", e.end)
            summary = f"{_title(e)} — due {clock} {ZONE_WORDS[start.tzinfo.key]}"  # type: ignore[union-attr]
        else:
            day = e.start.date() if hasattr(e.start, "hour") else e.start  # type: ignore[union-attr]
            vevent.add("dtstart", day)
            vevent.add("dtend", day + timedelta(days=1))  # type: ignore[operator]
            summary = _title(e)
            if e.precision == "month":
                summary += f" — expected during {day:%B} {day.year}"  # type: ignore[union-attr]
        vevent.add("summary", summary)
        lines = [e.description, "", f"Who acts: {WHO.get(e.actor, e.actor)}"]
        if e.status == "estimated" and not e.explained:  # else its description says why
            lines.append(ESTIMATED)
        links = [f"{link.title}: {link.url}" for link in e.links]
        if calendar.url:
            links.append(f"This calendar: {calendar.url}")
        if links:
            lines += [""] + links
        vevent.add("description", "\n".join(lines))
        if e.url:
            vevent.add("url", e.url)
        vevent.add("categories", [e.track_name])
        vevent.add("status", "TENTATIVE" if e.status == "estimated" else "CONFIRMED")
        vevent.add("class", "PUBLIC")
        vevent.add("transp", "TRANSPARENT")
        vevent.add("x-microsoft-cdo-busystatus", vText("FREE"))
        cal.add_component(vevent)
    return cal.to_ical()
