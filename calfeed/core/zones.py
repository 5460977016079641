"""A time zone's changes of UTC offset in a year, read from zoneinfo.

Feeds need them for the RRULE-form VTIMEZONE (ical.py), pages and feeds for the
zone's everyday name, "CT" for CST and CDT alike (wording.py), and the loader
(rules/) for the local times a change skips or repeats.
"""

from __future__ import annotations

import calendar as _calendar
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


class Transition:
    """One change of UTC offset: when (UTC), the offsets around it, the new name."""

    __slots__ = ("at", "before", "after", "name", "daylight")

    def __init__(self, at: datetime, before: timedelta, after: timedelta, name: str,
                 daylight: bool) -> None:
        self.at, self.before, self.after, self.name, self.daylight = (
            at, before, after, name, daylight)

    @property
    def wall(self) -> datetime:
        """The local time the change happens at, on the clock before it (02:00)."""
        return (self.at + self.before).replace(tzinfo=None)

    def shape(self) -> tuple:
        """What a yearly rule must keep the same: month, weekday, time, offsets, name."""
        wall = self.wall
        return (wall.month, wall.weekday(), wall.time(), self.before, self.after,
                self.name, self.daylight)

    def bydays(self) -> set[str]:
        """The RRULE BYDAY values that name this day: "2SU", and "-1SU" if it is the last."""
        wall = self.wall
        weekday = BYDAY[wall.weekday()]
        days = {f"{(wall.day - 1) // 7 + 1}{weekday}"}
        if wall.day + 7 > _calendar.monthrange(wall.year, wall.month)[1]:
            days.add(f"-1{weekday}")
        return days


def key(moment: datetime) -> str:
    """The IANA name of an aware datetime's zone."""
    name = getattr(moment.tzinfo, "key", None)
    if not name:
        raise ValueError(f"timed event at {moment.isoformat()} has no IANA zone")
    return name


def offset(zone: ZoneInfo, moment: datetime) -> tuple[timedelta, str, bool]:
    """The UTC offset, abbreviation and DST flag of a zone at a UTC instant."""
    local = moment.astimezone(zone)
    return local.utcoffset(), local.tzname(), bool(local.dst())  # type: ignore[return-value]


def transitions(zone: ZoneInfo, year: int) -> list[Transition]:
    """Every change of offset in a year, found day by day and then to the second."""
    found = []
    day = datetime(year, 1, 1, tzinfo=timezone.utc)
    state = offset(zone, day)
    while day.year == year:
        following = day + timedelta(days=1)
        after = offset(zone, following)
        if after[:2] != state[:2]:
            low, high = day, following  # the change is in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(zone, middle)[:2] == state[:2]:
                    low = middle
                else:
                    high = middle
            found.append(Transition(high, state[0], after[0], after[1], after[2]))
        day, state = following, after
    return found


@lru_cache(maxsize=256)
def everyday_name(name: str, year: int) -> str | None:
    """CST + CDT -> CT, EST + EDT -> ET; None where a zone's names do not pair that way."""
    names = {t.name: t.daylight for t in transitions(ZoneInfo(name), year)}
    standard = [n for n, d in names.items() if not d]
    daylight = [n for n, d in names.items() if d]
    if len(standard) != 1 or len(daylight) != 1:
        return None
    s, d = standard[0], daylight[0]
    if len(s) == len(d) == 3 and s[0] == d[0] and s[2] == d[2] == "T" and (s[1], d[1]) == ("S", "D"):
        return s[0] + "T"
    return None


def change_at(zone: ZoneInfo, local: datetime) -> Transition | None:
    """The change of offset that makes a local time not exist or happen twice there.

    None for a local time that happens exactly once. PEP 495: fold=0 gives the offset
    before a change, fold=1 the one after it; they differ only in a gap or an overlap.
    """
    before = local.replace(tzinfo=zone, fold=0).utcoffset()
    after = local.replace(tzinfo=zone, fold=1).utcoffset()
    if before is None or after is None or before == after:
        return None
    # The change happens within a day of the local time: find its second.
    low = int((local - before).replace(tzinfo=timezone.utc).timestamp()) - 86400
    high = low + 2 * 86400
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    at = datetime.fromtimestamp(high, timezone.utc)
    _, name, daylight = offset(zone, at)
    return Transition(at, before, after, name, daylight)
