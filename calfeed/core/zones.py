"""A time zone's changes of UTC offset, read from zoneinfo.

Feeds need them for the RRULE-form VTIMEZONE (ical.py): `observances` gives one
yearly rule per change for each period of the zone's history a feed spans. Pages and
feeds need the zone's everyday name, "CT" for CST and CDT alike (wording.py), and
the loader (rules/) the local times a change skips or repeats.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Outlook and older clients expect a VTIMEZONE rule to start no earlier than this: a
# period reaches back before it only when a feed has events there.
EPOCH = 1970


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

    def shape(self) -> tuple[int, int, time, timedelta, timedelta, str, bool]:
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
    name: str | None = getattr(moment.tzinfo, "key", None)
    if not name:
        raise ValueError(f"timed event at {moment.isoformat()} has no IANA zone")
    return name


def offset(zone: ZoneInfo, moment: datetime) -> tuple[timedelta, str, bool]:
    """The UTC offset, abbreviation and DST flag of a zone at a UTC instant."""
    local = moment.astimezone(zone)
    utcoffset, abbreviation = local.utcoffset(), local.tzname()
    assert utcoffset is not None and abbreviation is not None  # a ZoneInfo always answers
    return utcoffset, abbreviation, bool(local.dst())


def transitions(zone: ZoneInfo, year: int) -> list[Transition]:
    """Every change of offset in a year (UTC), found day by day and then to the second."""
    found = []
    day = datetime(year, 1, 1, tzinfo=timezone.utc)
    state = offset(zone, day)
    while day.year == year:
        following = day + timedelta(days=1)
        after = offset(zone, following)
        if after[:2] != state[:2]:
            # The change is in (low, high]; zoneinfo's changes fall on whole seconds.
            low, high = int(day.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if offset(zone, datetime.fromtimestamp(middle, timezone.utc))[:2] == state[:2]:
                    low = middle
                else:
                    high = middle
            at = datetime.fromtimestamp(high, timezone.utc)
            found.append(Transition(at, state[0], after[0], after[1], after[2]))
        day, state = following, after
    return found


@lru_cache(maxsize=8192)
def _in_utc_year(key: str, year: int) -> tuple[Transition, ...]:
    """transitions() of a zone by name, computed once per zone and year."""
    return tuple(transitions(ZoneInfo(key), year))


@lru_cache(maxsize=8192)
def _changes(key: str, year: int) -> tuple[Transition, ...]:
    """A zone's changes in a local year: those whose clock reads that year, before or after.

    Local, as a VTIMEZONE's DTSTART is; and a change that moves the clocks into a year
    (Kiritimati's 1994-12-31 00:00 to 1995-01-01 00:00) is that year's, so a year
    without changes starts after its last one.
    """
    return tuple(t for near in (year - 1, year, year + 1) for t in _in_utc_year(key, near)
                 if max(t.wall, (t.at + t.after).replace(tzinfo=None)).year == year)


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


@dataclass(frozen=True)
class Observance:
    """One STANDARD or DAYLIGHT part of a VTIMEZONE: a yearly rule, from `start`.

    The offset changes from `before` to `after` each year at start's time on the clock
    before the change, in start's month, on the `byday` day ("2SU"), or on start's day
    of the month without one; `count` times, or every year if None. A period without
    changes is one such rule, once, on January 1, `before` == `after`: a DTSTART alone
    would do, but python `ical` and older ical4j skip an observance without a rule.
    """

    start: datetime  # naive: local time on the clock before the change (DTSTART)
    before: timedelta
    after: timedelta
    name: str
    daylight: bool
    byday: str | None = None
    # A COUNT, not an UNTIL: an UNTIL must be UTC (RFC 5545), which dateutil (vobject)
    # compares with local times and refuses beside a local DTSTART (python `ical`,
    # icalendar's to_tz); a count reads the same everywhere.
    count: int | None = None


@lru_cache(maxsize=256)
def observances(key: str, first: int, last: int) -> tuple[Observance, ...]:
    """A zone's offsets for every instant of the years first..last, newest period first.

    A period is a run of years whose changes all happen on the same yearly rule (the
    US's first Sunday of April, 1987-2006, then its second Sunday of March), or a run
    without change; it reaches back as far as its rule held, to EPOCH at most unless
    `first` is earlier, and periods are added until one starts before `first` (or on
    its January 1). Only the newest period's rules are open-ended; older ones end
    after their years (COUNT). A reader that takes the newest rules alone, as
    Outlook may, is still right for the feed's last year.
    """
    floor = min(EPOCH, first - 1)
    found: list[Observance] = []
    year, newest = last, True
    while True:
        begin, parts = _period(key, year, floor, newest)
        found += parts
        if begin < first or (begin == first and not _changes(key, begin)):
            break
        year, newest = begin - 1, False
    # Outlook keeps one STANDARD and one DAYLIGHT, those with the latest DTSTART
    # (MS-OXCICAL 2.1.3.1.1.19.2, MS-STANOICAL 2.2.47): when the newest period has no
    # change, both must end at its offset. The last change before it is one of the two;
    # the period's one onset is the other kind (Mexico from 2023: a DAYLIGHT from -0600
    # to -0600 beside the STANDARD of October 2022), so Outlook reads no daylight time.
    if len(found) > 1 and not _changes(key, last):
        year = last
        while not _changes(key, year):
            year -= 1
        if not _changes(key, year)[-1].daylight and any(part.daylight for part in found):
            found[0] = replace(found[0], daylight=True)
    return tuple(found)


def _period(key: str, last: int, floor: int, newest: bool) -> tuple[int, list[Observance]]:
    """The first year and the observances of the period that ends with `last`."""
    rules = _changes(key, last)
    shapes = [r.shape() for r in rules]
    bydays = [r.bydays() for r in rules]
    begin, starts = last, [r.wall for r in rules]
    while begin > floor:
        earlier = _changes(key, begin - 1)
        if [r.shape() for r in earlier] != shapes:
            break
        narrowed = [days & r.bydays() for days, r in zip(bydays, earlier)]
        if not all(narrowed):
            break
        bydays, begin, starts = narrowed, begin - 1, [r.wall for r in earlier]
    if not rules:
        moment = datetime(last, 7, 1, tzinfo=timezone.utc)
        now, name, _ = offset(ZoneInfo(key), moment)
        return begin, [Observance(datetime(begin, 1, 1), now, now, name, False, None, 1)]
    parts = []
    # STANDARD before DAYLIGHT, as Outlook itself writes them.
    for rule, days, start in sorted(zip(rules, bydays, starts), key=lambda x: x[0].daylight):
        # "2SU" over "-1SU" when both fit every year: it is how the law reads in the US;
        # a last-weekday rule (Europe) is left as the only one that fits.
        byday = sorted(days, key=lambda d: (d.startswith("-"), d))[0]
        parts.append(Observance(start, rule.before, rule.after, rule.name, rule.daylight,
                                byday, None if newest else last - begin + 1))
    return begin, parts


def vtimezone_problem(key: str, local: datetime) -> tuple[str, str] | None:
    """Why no VTIMEZONE gives every calendar a local time's instant: (what, expected), or None.

    A VTIMEZONE can say an offset to the second ("-004430"), but ical.js reads only its
    hours and minutes: in a year a zone spends partly at such an offset (Liberia until
    1972, Ireland until 1916), its times would be off by those seconds there.
    """
    zone = ZoneInfo(key)
    offsets = [datetime(local.year, 1, 1, tzinfo=zone).utcoffset()]
    offsets += [change.after for change in _changes(key, local.year)]
    odd = next((o for o in offsets if o is not None and o % timedelta(minutes=1)), None)
    if odd is None:
        return None
    sign, size = ("-", -odd) if odd < timedelta(0) else ("+", odd)
    hours, rest = divmod(int(size.total_seconds()), 3600)
    shown = f"UTC{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return (f"{key} is {shown} in {local.year}, which calendars read to the minute only",
            "a time zone whose UTC offset that year is a whole number of minutes")
