"""Reminder choices (`?remind=P14D,P2D`): parsed and checked before any feed is made."""

from __future__ import annotations

import re
from datetime import timedelta

from . import ical

MOST = 3
LONGEST = timedelta(days=366)
ACCEPTED = "up to 3 ISO 8601 durations, comma-separated, like P14D,P2D or PT12H"
EXPECTED = "expected up to 3 durations like P14D,P2D or PT12H"
# ISO 8601 allows years and months; iCalendar durations (and TRIGGER) do not.
CALENDAR_UNITS = re.compile(r"P(?=\d+[YM])(\d+Y)?(\d+M)?(\d+[WD])?(T.*)?\Z")


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
            duration = ical.duration(item)
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
