"""Value parsers: each reads one value, or records why not and returns None."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calfeed.core import wording, zones
from calfeed.core.dates import YEARS
from calfeed.core.model import ACTORS, FLAGS, MOVES, WEEKDAYS, Month
from calfeed.core.rules.report import Report, kind, show
from calfeed.core.rules.schema import Type

# Ids appear in URL paths, file names of `calfeed build` and UIDs: keep them to
# characters that need no escaping anywhere and cannot climb out of a folder.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
SAFE_ID_EXPECTED = "1-64 letters, digits, '-' or '_', starting with a letter or digit"
T = TypeVar("T")
D = TypeVar("D", bound=date)
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})\Z")
MONTH_EXPECTED = 'a quoted month like "2024-07"'
ZONE_EXPECTED = "an IANA time zone such as America/Chicago"


def typed(report: Report, where: str, value: Any, of: type[T], expected: str) -> T | None:
    """Return value if it has the type, else record a problem and return None."""
    # bool is an int in Python, never in TOML.
    if isinstance(value, of) and not (isinstance(value, bool) and of is int):
        return value
    report.add(where, f"{kind(value)} {show(value)}", expected)
    return None


def integer(expected: str) -> Callable[[Report, str, Any], int | None]:
    """A parser of whole numbers (a TOML integer, not a boolean)."""
    def parse(report: Report, where: str, value: Any) -> int | None:
        return typed(report, where, value, int, expected)
    return parse


def boolean(report: Report, where: str, value: Any) -> bool | None:
    """true or false."""
    return typed(report, where, value, bool, "true or false")


def whole(low: int, high: int, expected: str, out_of_range: str = "{} days",
          range_expected: str | None = None) -> Callable[[Report, str, Any], int | None]:
    """A parser of whole numbers from low to high; out of range says `out_of_range`."""
    def parse(report: Report, where: str, value: Any) -> int | None:
        number = typed(report, where, value, int, expected)
        if number is not None and not low <= number <= high:
            report.add(where, out_of_range.format(number), range_expected or expected)
            return None
        return number
    return parse


def choice(options: tuple[str, ...], what: str) -> Callable[[Report, str, Any], str | None]:
    """A parser of one of the options ("unknown actor "x"" otherwise)."""
    def parse(report: Report, where: str, value: Any) -> str | None:
        if isinstance(value, str) and value in options:
            return value
        report.add(where, f"unknown {what} {show(value)}", "one of: " + ", ".join(options))
        return None
    return parse


def literal_true(report: Report, where: str, value: Any) -> bool | None:
    """Exactly `true`: a flag whose only value is being there (`deadline = true`)."""
    if value is True:
        return True
    report.add(where, show(value), f"{where.rpartition('.')[2]} = true")
    return None


def in_years(report: Report, where: str, value: D) -> D | None:
    """A date or date-time within YEARS, else a problem."""
    if value.year in YEARS:
        return value
    report.add(where, f"{show(value)} is out of range", f"a date in the years {YEARS[0]}-{YEARS[-1]}")
    return None


def plain_date(report: Report, where: str, value: Any) -> date | None:
    """A TOML local date (not a date-time)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return in_years(report, where, value)
    report.add(where, f"{kind(value)} {show(value)}", "a date like 2024-01-24, unquoted")
    return None


def _local(expected: str) -> Callable[[Report, str, Any], datetime | None]:
    """A parser of TOML local date-times (the zone is given beside them)."""
    def parse(report: Report, where: str, value: Any) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            return in_years(report, where, value)
        report.add(where, f"{kind(value)} {show(value)}", expected)
        return None
    return parse


# A milestone's `at` (its zone is the milestone's tz), a yearly track's `published`
# deadline (its zone is the [yearly] tz).
local_time = _local("a local date-time like 2024-04-01T23:59:00, with tz naming its zone")
local_deadline = _local("a local date-time like 2025-03-31T23:59:00, in the [yearly] tz")


def aware_time(report: Report, where: str, value: Any) -> datetime | None:
    """A date-time with its offset (`revised`)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        report.add(where, f"{kind(value)} {show(value)}",
                   "a date-time with its offset, like 2026-11-21T00:00:00Z")
        return None
    return in_years(report, where, value)


def safe_id(report: Report, where: str, value: Any) -> str | None:
    """An id that is safe in a URL path, a file name and a UID."""
    ident = typed(report, where, value, str, "a string")
    if ident is not None and not SAFE_ID.match(ident):
        report.add(where, f"id {show(ident)} is not safe in a URL path", SAFE_ID_EXPECTED)
        return None
    return ident


def zone(report: Report, where: str, value: Any) -> str | None:
    """An IANA time zone name."""
    name = typed(report, where, value, str, ZONE_EXPECTED)
    if name is None:
        return None
    try:
        ZoneInfo(name)
    # OSError: a name that is a folder of the zone database ("America") or too long.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        report.add(where, f"unknown time zone {show(name)}", ZONE_EXPECTED)
        return None
    return name


def month(report: Report, where: str, value: Any) -> Month | None:
    """A quoted "YYYY-MM" month."""
    found = typed(report, where, value, str, MONTH_EXPECTED)
    match = MONTH.match(found) if found is not None else None
    if found is not None and (match is None or not 1 <= int(match[2]) <= 12):
        report.add(where, f"{show(found)} is not a month", MONTH_EXPECTED)
        return None
    if match and int(match[1]) not in YEARS:
        report.add(where, f"{show(found)} is out of range",
                   f"a month in the years {YEARS[0]}-{YEARS[-1]}")
        return None
    return Month(int(match[1]), int(match[2])) if match else None


def month_start(report: Report, where: str, value: Any) -> date | None:
    """A month as the date of its first day: how a moved month's `was` is kept."""
    found = month(report, where, value)
    return date(found.year, found.month, 1) if found else None


def clock_change(zone_name: str, local: datetime) -> tuple[str, str] | None:
    """What the clocks do at a local time that does not exist or happens twice in a zone.

    Returns (what is wrong, what was expected), or None for a time that happens once.
    Clients disagree on such times (libical and ical.js read 02:30 in a spring-forward
    gap an hour earlier than icalendar and node-ical), so they are refused, not guessed;
    so is a time in a year whose UTC offset has seconds, which no VTIMEZONE gives every
    calendar.
    """
    change = zones.change_at(ZoneInfo(zone_name), local)
    if change is None:
        return zones.vtimezone_problem(zone_name, local)
    old = (change.at + change.before).replace(tzinfo=None)
    new = (change.at + change.after).replace(tzinfo=None)
    if old.date() == new.date():
        moved = f"{wording.clock_span(old, new)} on {wording.weekday_date(old)}"
        earlier, later = min(old, new), max(old, new)
        expected = (f"a time outside {wording.clock_span(earlier, later, '-')} that day, "
                    "which every calendar reads as the same instant")
    else:
        moved = (f"{wording.clock(old)} on {wording.weekday_date(old)} to "
                 f"{wording.clock(new)} on {wording.weekday_date(new)}")
        expected = f"a date and time that happen exactly once in {zone_name}"
    if change.after > change.before:
        what = (f"{wording.clock(local)} does not exist there that day: "
                f"clocks jump from {moved} in {zone_name}")
    else:
        what = (f"{wording.clock(local)} happens twice there that day: "
                f"clocks go back from {moved} in {zone_name}")
    return what, expected


def once(report: Report, where: str, local: datetime, zone_name: str) -> datetime | None:
    """A local date-time that happens exactly once in its zone, else a problem."""
    change = clock_change(zone_name, local)
    if change is None:
        return local
    report.add(where, f"{show(local)}: {change[0]}", change[1])
    return None


# The types of the tables' values, as the README names them.
ID = Type("id", safe_id)
BOOLEAN = Type("boolean", boolean)
DATE = Type("date", plain_date)
MONTH_TYPE = Type('`"YYYY-MM"`', month)
ZONE = Type("IANA zone", zone)
ACTOR = Type("string", choice(ACTORS, "actor"))
FLAG = Type("string", choice(FLAGS, "flag"))
MOVE = Type("string", choice(MOVES, "move"))
WEEKDAY = Type("weekday name", choice(WEEKDAYS, "weekday"))
