"""Load and validate rules.toml and the roster: every problem at once, one line each.

The only module that reads files. A message reads `FILE: WHERE: what is wrong
(what was expected)`, so a coordinator can find the line without a traceback.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import re
import string
import tomllib
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calfeed.core import engine, wording, zones
from calfeed.core.engine import YEARS_AHEAD, yearly_deadline
from calfeed.core.model import (
    ACTORS,
    FLAGS,
    MOVES,
    WEEKDAYS,
    Accreditor,
    Change,
    AccreditorRule,
    Cohort,
    Day,
    Deadline,
    Link,
    Milestone,
    Month,
    PerCohort,
    Profile,
    Progress,
    Relative,
    Rules,
    Timed,
    Track,
    Undated,
    When,
    YearlyRule,
)

# Big enough for any real schedule and for a roster of every ACCME provider many
# times over; small enough that a wrong file (a log, a database dump) is refused
# before it is parsed.
MAX_RULES_BYTES = 1 << 20
# A server holds two rosters while it reloads: at 100,000 providers (about 30 times
# every provider ACCME and the state accreditors have) a worker peaks near 300 MiB and
# reloads in seconds; 950,000 rows (50.7 MB) took 1.4 GiB per worker and a minute.
# Rows are counted too: short rows pack millions of providers into few bytes.
MAX_ROSTER_BYTES = 16 << 20
MAX_ROSTER_ROWS = 100_000

# Dates of real reporting years: far enough either way for any schedule, and far
# from the ends of Python's calendar (years 1 and 9999), where the engine's next
# day, or a conversion to UTC, overflows.
YEARS = range(1900, 2201)
# The last data year a calendar can show: "today" is at most the last of YEARS, and a
# yearly track runs to the YEARS_AHEAD-th deadline after today.
LAST_DATA_YEAR = YEARS[-1] + YEARS_AHEAD

# Ids appear in URL paths, file names of `calfeed build` and UIDs: keep them to
# characters that need no escaping anywhere and cannot climb out of a folder.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})\Z")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\Z")
# Placeholders a yearly track's texts may use; see engine.cycle_fields.
FIELDS = ("data_year", "next_year", "deadline")

TOP_KEYS = {"revised": True, "roster": False, "tracks": True, "progress": False,
            "accreditors": False, "notify": False}
NOTIFY_KEYS = {"days_before": False}
# Email reminders go out this many days before each deadline where the provider acts.
DEFAULT_LEAD_DAYS = (30, 7, 1)
MAX_LEAD_DAYS = 366
MAX_LEADS = 5
TRACK_KEYS = {
    "name": True, "source": True, "milestones": True, "links": False, "cycle": False,
    "estimated": False, "yearly": False, "first_cycle": False, "published": False,
}
PROGRESS_KEYS = {"name": True, "links": False, "steps": True, "cohorts": False}
STEP_KEYS = {"id": True, "title": True, "description": False, "actor": True, "links": False,
             "only_if": False, "when": False}
COHORT_KEYS = {"decision": True, "next_decision_date": True, "source": True, "dates": True,
               "name": False, "links": False, "id": False, "cycle": False}
COHORT_DATE = 'a date like 2024-01-24, or a quoted month like "2024-07"'
# A decision report's Next Decision Date is at most a year after the decision:
# two years after today leaves room, and refuses a mistyped 2062.
NDD_YEARS_AHEAD = 2
MILESTONE_KEYS = {
    "id": True, "title": True, "description": False, "actor": True, "links": False,
    "only_if": False, "estimated": False,
    "date": False, "month": False, "at": False, "tz": False, "when": False,
    "after": False, "days": False, "move": False, "deadline": False, "changes": False,
}
DATE_FORMS = ("date", "month", "at", "when", "after", "deadline")
YEARLY_KEYS = {"month": True, "day": True, "time": True, "tz": True,
               "year_offset": False, "move": False}
ACCREDITOR_KEYS = {"name": True, "url": False, "deadlines": False, "rule": False}
ACCREDITOR_RULE_KEYS = {"days_before": True, "weekday": True}
LINK_KEYS = {"title": True, "url": True}
# A date's history: what it was, when the move was announced, and why.
CHANGE_KEYS = {"was": True, "announced": True, "note": False}
CHANGES_EXPECTED = "an array of { was, announced, note } tables, oldest first"
# Date forms whose date can move with a recorded history (the others are estimates
# or have no date).
HISTORY_FORMS = ("date", "month", "at")
ROSTER_COLUMNS = ("id", "name", "next_decision_date", "enduring_materials", "accreditor",
                  "rotation", "email")
REQUIRED_COLUMNS = ("id", "name")
# An address as HTML's <input type=email> accepts one (WHATWG "valid e-mail address"),
# with a dot in the domain: what a coordinator types, nothing an SMTP server would
# have to guess about, and no character that could start another header.
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z")
MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path, less the angle brackets
EMAIL_EXPECTED = "addresses like name@example.org, separated by ;"


class RulesError(Exception):
    """Rules or roster that do not validate; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Report:
    """Collects problems for one file, so all of them are reported at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []

    def add(self, where: str, what: str, expected: str) -> None:
        """Record one problem as `FILE: WHERE: what (expected)`."""
        line = f"{self.file}: {where}: {what} (expected {expected})"
        # Keys and values are the file's own text: escape newlines and control
        # characters, so a problem stays one line and cannot drive the terminal.
        self.problems.append("".join(
            c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in line))


def _show(value: Any) -> str:
    """A bad value as the user wrote it, quoted and cut short."""
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, (date, datetime, time)):
        text = value.isoformat()
    text = text if len(text) <= 60 else text[:57] + "..."
    return f'"{text}"'


def _kind(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table", datetime: "a date-time", date: "a date",
             time: "a time"}
    return names.get(type(value), type(value).__name__)


def _table(report: _Report, where: str, value: Any, keys: dict[str, bool]) -> dict | None:
    """Check a TOML table's keys: unknown ones and missing required ones are problems."""
    if not isinstance(value, dict):
        report.add(where, f"{_kind(value)} {_show(value)}", "a table")
        return None
    for key in value:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f', did you mean "{close[0]}"?' if close else ""
            # A key that is not a bare TOML key ("", "a b") is quoted, as TOML writes it.
            name = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _show(key)
            report.add(f"{where}.{name}" if where else name, f"unknown key {_show(key)}{hint}",
                       "one of: " + ", ".join(keys))
    for key, required in keys.items():
        if required and key not in value:
            report.add(where or "(top level)", f"missing key {_show(key)}",
                       f"{key} to be set")
    return value


def _typed(report: _Report, where: str, value: Any, kind: type | tuple, expected: str) -> Any:
    """Return value if it has the type, else record a problem and return None."""
    # bool is an int in Python, never in TOML.
    if isinstance(value, kind) and not (isinstance(value, bool) and kind is int):
        return value
    report.add(where, f"{_kind(value)} {_show(value)}", expected)
    return None


# What a character is called in a message, where its name says more than its code.
CHARACTER_NAMES = {"\n": "line break", "\r": "carriage return", "\t": "tab",
                   "\x00": "NUL character", "\x0b": "vertical tab", "\x0c": "form feed",
                   "\x85": "next-line character", "\u2028": "line separator",
                   "\u2029": "paragraph separator", " ": "space"}
ONE_LINE = "text on one line, without line breaks or other control characters"


def _character(text: str, index: int) -> str:
    """A character of a text as a message names it: 'line break (U+000A) at character 9'."""
    char = text[index]
    name = CHARACTER_NAMES.get(char) or (
        "control character" if unicodedata.category(char) == "Cc"
        else unicodedata.name(char, "character").lower())
    return f"{name} (U+{ord(char):04X}) at character {index + 1}"


def _first_bad(text: str, allowed: str = "") -> int | None:
    """Where the first control character (or line or paragraph separator) is, if any.

    A one-line text (a name, a title) allows none; a description allows the line
    breaks and tabs in `allowed`.
    """
    for index, char in enumerate(text):
        if char not in allowed and unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return index
    return None


def _calendar_safe(report: _Report, where: str, text: str,
                   expected: str = "another character after the backslash") -> bool:
    """False (and a problem) for text that a calendar file cannot carry as written."""
    # icalendar reads every content line as UTF-8 with an optional byte-order mark,
    # so a value's leading U+FEFF would vanish from feeds but stay in pages.
    if text.startswith("\ufeff"):
        report.add(where, f"byte-order mark (U+FEFF) at character 1 in {_show(text)}, which "
                   "calendar files drop", "text that does not start with U+FEFF")
        return False
    # icalendar reads a backslash before N as the iCalendar escape of a line
    # break, so "\N" would reach feeds as a line break but pages as written.
    index = text.find("\\N")
    if index < 0:
        return True
    report.add(where, f'backslash before N ("\\N") at character {index + 1} in {_show(text)}, '
               "which calendar files would show as a line break", expected)
    return False


def _text(report: _Report, where: str, value: Any) -> str | None:
    """A non-empty string on one line: a name, a title, a wording, a source."""
    text = _typed(report, where, value, str, "a non-empty string")
    if text is not None and not text.strip():
        report.add(where, "empty string", "a non-empty string")
        return None
    return text if text is not None and _one_line(report, where, text) else None


def _one_line(report: _Report, where: str, text: str) -> bool:
    """False (and a problem) for a name or title with a control character or line break."""
    bad = _first_bad(text)
    if bad is not None:
        report.add(where, f"{_character(text, bad)} in {_show(text)}", ONE_LINE)
        return False
    return _calendar_safe(report, where, text)


def _description(report: _Report, where: str, value: Any) -> str | None:
    """A description: any text whose line breaks are kept, as LF, in every output."""
    text = _typed(report, where, value, str, "a string")
    if text is None:
        return None
    # A line break is one LF wherever it came from (CRLF, or a lone CR as old Macs
    # wrote), so that the feed, JSON, CSV and page carry the same text.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _first_bad(text, allowed="\n\t")
    if bad is not None:
        report.add(where, f"{_character(text, bad)} in {_show(text)}",
                   "text, tabs and line breaks, without other control characters")
        return None
    return text if _calendar_safe(
        report, where, text, "a real line break, or another character after the backslash"
    ) else None


def _web_address(report: _Report, where: str, value: Any) -> str | None:
    """An http(s) address with nothing in it that would end it early in a page or a feed."""
    url = _typed(report, where, value, str, "a string")
    if url is None:
        return None
    if not url.startswith(("https://", "http://")):
        report.add(where, f"{_show(url)} is not a web address",
                   "an address starting with https://")
        return None
    bad = next((i for i, c in enumerate(url) if c.isspace() or unicodedata.category(c) == "Cc"),
               None)
    if bad is not None:
        report.add(where, f"{_character(url, bad)} in the web address {_show(url)}",
                   "an address without spaces or control characters (write a space as %20)")
        return None
    return url


def _in_years(report: _Report, where: str, value: date) -> date | None:
    """A date or date-time within YEARS, else a problem."""
    if value.year in YEARS:
        return value
    report.add(where, f"{_show(value)} is out of range",
               f"a date in the years {YEARS[0]}-{YEARS[-1]}")
    return None


def _plain_date(report: _Report, where: str, value: Any) -> date | None:
    """A TOML local date (not a date-time)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return _in_years(report, where, value)
    report.add(where, f"{_kind(value)} {_show(value)}", "a date like 2024-01-24, unquoted")
    return None


def _safe_id(report: _Report, where: str, value: Any) -> str | None:
    """An id that is safe in a URL path, a file name and a UID."""
    ident = _typed(report, where, value, str, "a string")
    if ident is not None and not SAFE_ID.match(ident):
        report.add(where, f"id {_show(ident)} is not safe in a URL path",
                   "1-64 letters, digits, '-' or '_', starting with a letter or digit")
        return None
    return ident


def _links(report: _Report, where: str, value: Any) -> tuple[Link, ...]:
    """An array of {title, url} tables."""
    if _typed(report, where, value, list, "an array of { title, url } tables") is None:
        return ()
    links = []
    for n, item in enumerate(value, 1):
        here = f"{where}[{n}]"
        table = _table(report, here, item, LINK_KEYS)
        if table is None:
            continue
        title = _text(report, f"{here}.title", table.get("title", "?"))
        url = _web_address(report, f"{here}.url", table.get("url"))
        if title and url:
            links.append(Link(title, url))
    return tuple(links)


def _zone(report: _Report, where: str, value: Any) -> str | None:
    """An IANA time zone name."""
    name = _typed(report, where, value, str, "an IANA time zone such as America/Chicago")
    if name is None:
        return None
    try:
        ZoneInfo(name)
    # OSError: a name that is a folder of the zone database ("America") or too long.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        report.add(where, f"unknown time zone {_show(name)}",
                   "an IANA time zone such as America/Chicago")
        return None
    return name


def _clock_change(zone_name: str, local: datetime) -> tuple[str, str] | None:
    """What the clocks do at a local time that does not exist or happens twice in a zone.

    Returns (what is wrong, what was expected), or None for a time that happens once.
    Clients disagree on such times (libical and ical.js read 02:30 in a spring-forward
    gap an hour earlier than icalendar and node-ical), so they are refused, not guessed.
    """
    change = zones.change_at(ZoneInfo(zone_name), local)
    if change is None:
        return None
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


def _once(report: _Report, where: str, local: datetime, zone_name: str) -> datetime | None:
    """A local date-time that happens exactly once in its zone, else a problem."""
    change = _clock_change(zone_name, local)
    if change is None:
        return local
    report.add(where, f"{_show(local)}: {change[0]}", change[1])
    return None


def _placeholders(report: _Report, where: str, text: str, allowed: tuple[str, ...]) -> None:
    """Check {placeholders}: only the allowed names, in well-formed braces."""
    try:
        fields = [(name, spec, conversion)
                  for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as err:
        report.add(where, f"broken braces in {_show(text)}: {err}",
                   "{name} placeholders, or {{ and }} for literal braces")
        return
    names = [name for name, _, _ in fields]
    for name, spec, conversion in fields:
        # The engine formats with these: "{data_year:d}" raises, "{data_year:>999999999}"
        # builds a gigabyte string.
        if spec or conversion:
            shown = "{" + name + ("!" + conversion if conversion else "") + (
                ":" + spec if spec else "") + "}"
            report.add(where, f"formatted placeholder {_show(shown)}",
                       "a plain {name} placeholder, without ! or :")
    for name in names:
        if name not in allowed:
            report.add(where, f"unknown placeholder {_show('{' + name + '}')}",
                       "one of: " + ", ".join("{%s}" % a for a in allowed) if allowed
                       else "no placeholders in a track that is not yearly")


def _month(report: _Report, where: str, value: Any) -> Month | None:
    """A quoted "YYYY-MM" month."""
    text = _typed(report, where, value, str, 'a quoted month like "2024-07"')
    match = MONTH.match(text) if text is not None else None
    if text is not None and (match is None or not 1 <= int(match[2]) <= 12):
        report.add(where, f"{_show(text)} is not a month", 'a quoted month like "2024-07"')
        return None
    if match and int(match[1]) not in YEARS:
        report.add(where, f"{_show(text)} is out of range",
                   f"a month in the years {YEARS[0]}-{YEARS[-1]}")
        return None
    return Month(int(match[1]), int(match[2])) if match else None


def _at(report: _Report, where: str, value: Any) -> datetime | None:
    """A local date-time of a timed milestone (its zone is the milestone's tz)."""
    if not isinstance(value, datetime) or value.tzinfo is not None:
        report.add(where, f"{_kind(value)} {_show(value)}",
                   "a local date-time like 2024-04-01T23:59:00, with tz naming its zone")
        return None
    return _in_years(report, where, value)  # type: ignore[return-value]


def _month_start(report: _Report, where: str, value: Any) -> date | None:
    """A month as the date of its first day: how a moved month's `was` is kept."""
    month = _month(report, where, value)
    return date(month.year, month.month, 1) if month else None


def _announced(report: _Report, where: str, value: Any) -> Day | Month | None:
    """When a move was announced: a date, or a quoted month when the day is not known."""
    if isinstance(value, str):
        return _month(report, where, value)
    day = _plain_date(report, where, value)
    return Day(day) if day else None


def changes(report: _Report, where: str, value: Any, parse: Callable[[_Report, str, Any], Any],
            current: Any) -> tuple[Change, ...]:
    """A dated value's history (`changes = [{ was, announced, note }]`), oldest first.

    The one reader of history for every kind of dated value: `parse` reads `was` in
    the same form as the value itself, and `current` is the value now, which no
    entry may repeat (a move to the same date is a typo).
    """
    if isinstance(value, dict):  # `changes = { was = … }`: the brackets were forgotten
        report.add(where, "a single table, not an array", CHANGES_EXPECTED + ", in [ ]")
        return ()
    if _typed(report, where, value, list, CHANGES_EXPECTED) is None:
        return ()
    found: list[Change] = []
    for n, item in enumerate(value, 1):
        here = f"{where}[{n}]"
        table = _table(report, here, item, CHANGE_KEYS)
        if table is None:
            continue
        was = parse(report, f"{here}.was", table["was"]) if "was" in table else None
        announced = (_announced(report, f"{here}.announced", table["announced"])
                     if "announced" in table else None)
        note = _text(report, f"{here}.note", table["note"]) if "note" in table else None
        if was is not None and current is not None and was == current:
            report.add(f"{here}.was", f"{_show(was)} is the date as it is now",
                       "the date before it moved")
            was = None
        if (found and announced is not None
                and _first_day(announced) < _first_day(found[-1].announced)):
            report.add(f"{here}.announced",
                       f"{_show(_announced_text(announced))} is earlier than the entry before it",
                       "entries oldest first")
        if was is None or announced is None or ("note" in table and note is None):
            continue
        found.append(Change(was, announced, note))
    return tuple(found)


def _first_day(announced: Day | Month) -> date:
    """The first day an announcement may have been made."""
    return announced.day if isinstance(announced, Day) else date(announced.year, announced.month, 1)


def _announced_text(announced: Day | Month) -> str:
    """An announcement date as the file writes it."""
    if isinstance(announced, Day):
        return announced.day.isoformat()
    return f"{announced.year:04d}-{announced.month:02d}"


def dated(report: _Report, where: str, value: Any, key: str,
          parse: Callable[[_Report, str, Any], Any]) -> tuple[Any, tuple[Change, ...]]:
    """A dated value written bare (`2024 = 2025-03-14`) or with its history.

    The long form is a table of the value under `key` and `changes`:
    `2019 = { at = 2020-04-30T23:59:00, changes = [{ was = …, announced = …, note = … }] }`.
    Returns the value (None if it is broken) and its history.
    """
    if not isinstance(value, dict):
        return parse(report, where, value), ()
    table = _table(report, where, value, {key: True, "changes": False})
    if table is None or key not in table:
        return None, ()
    current = parse(report, f"{where}.{key}", table[key])
    return current, changes(report, f"{where}.changes", table.get("changes", []), parse, current)


def _when(report: _Report, where: str, table: dict, yearly: bool) -> When | None:
    """Exactly one date form of a milestone."""
    forms = [key for key in DATE_FORMS if key in table]
    if len(forms) != 1:
        what = ("no date form" if not forms
                else "two date forms: " + ", ".join(forms))
        report.add(where, what, "exactly one of: " + ", ".join(DATE_FORMS))
        return None
    form = forms[0]
    extras = {"at": ("tz",), "after": ("days", "move")}.get(form, ())
    for key in ("tz", "days", "move"):
        if key in table and key not in extras:
            report.add(f"{where}.{key}", f"{key} given with {form}",
                       f"{key} only with " + ("at" if key == "tz" else "after"))
    value = table[form]
    here = f"{where}.{form}"
    if form == "deadline":
        if value is not True:
            report.add(here, f"{_show(value)}", "deadline = true")
            return None
        if not yearly:
            report.add(here, "deadline = true in a track that is not yearly",
                       "a date form of its own, or a [yearly] rule on the track")
            return None
        return Deadline()
    if form == "date":
        day = _plain_date(report, here, value)
        return Day(day) if day else None
    if form == "month":
        return _month(report, here, value)
    if form == "at":
        zone = _zone(report, f"{where}.tz", table.get("tz"))
        at = _at(report, here, value)
        if zone is None or at is None or _once(report, here, at, zone) is None:
            return None
        return Timed(at, zone)
    if form == "when":
        text = _text(report, here, value)
        return Undated(text) if text else None
    # after: relative to another milestone of the same track
    after = _typed(report, here, value, str, "the id of another milestone in this track")
    days = _typed(report, f"{where}.days", table.get("days", 0), int, "a whole number of days")
    if days is not None and not -3660 <= days <= 3660:
        report.add(f"{where}.days", f"{days} days", "at most ten years either way")
        days = None
    move = table.get("move")
    if move is not None and move not in MOVES:
        report.add(f"{where}.move", f"unknown move {_show(move)}", "one of: " + ", ".join(MOVES))
        return None
    if after is None or days is None:
        return None
    return Relative(after, days, move)


def _step_words(report: _Report, where: str, table: dict, fields: tuple[str, ...],
                ) -> tuple[str | None, str | None, str | None, str | None]:
    """A milestone's or step's title, description, actor and flag; None where refused."""
    title = _text(report, f"{where}.title", table.get("title", "?"))
    description = _description(report, f"{where}.description",
                               table.get("description", title or ""))
    for key, text in (("title", title), ("description", description)):
        if text:
            _placeholders(report, f"{where}.{key}", text, fields)
    actor = table.get("actor")
    if actor is not None and actor not in ACTORS:
        report.add(f"{where}.actor", f"unknown actor {_show(actor)}", "one of: " + ", ".join(ACTORS))
        actor = None
    only_if = table.get("only_if")
    if only_if is not None and only_if not in FLAGS:
        report.add(f"{where}.only_if", f"unknown flag {_show(only_if)}", "one of: " + ", ".join(FLAGS))
        only_if = None
    return title, description, actor, only_if


def _milestone(report: _Report, where: str, value: Any, yearly: bool) -> Milestone | None:
    """One milestone table."""
    table = _table(report, where, value, MILESTONE_KEYS)
    if table is None:
        return None
    ident = _safe_id(report, f"{where}.id", table.get("id"))
    title, description, actor, only_if = _step_words(report, where, table,
                                                     FIELDS if yearly else ())
    estimated = _typed(report, f"{where}.estimated", table.get("estimated", False), bool,
                       "true or false")
    links = _links(report, f"{where}.links", table.get("links", []))
    when = _when(report, where, table, yearly)
    history = _milestone_changes(report, where, table, when)
    if None in (ident, title, description, actor, when, estimated) or (
        "only_if" in table and only_if is None
    ):
        return None
    return Milestone(ident, title, description, actor, when, links, only_if, estimated, history)


def _milestone_changes(report: _Report, where: str, table: dict,
                       when: When | None) -> tuple[Change, ...]:
    """The history of a milestone's own date (date, month or at)."""
    if "changes" not in table:
        return ()
    form = next((key for key in DATE_FORMS if key in table), None)
    if form not in HISTORY_FORMS:
        report.add(f"{where}.changes", f"changes given with {form or 'no date form'}",
                   "changes only with a published date: " + ", ".join(HISTORY_FORMS))
        return ()
    here = f"{where}.changes"
    value = table["changes"]
    if form == "date":
        current = when.day if isinstance(when, Day) else None
        return changes(report, here, value, _plain_date, current)
    if form == "month":
        current = date(when.year, when.month, 1) if isinstance(when, Month) else None
        return changes(report, here, value, _month_start, current)
    found = changes(report, here, value, _at, when.at if isinstance(when, Timed) else None)
    if isinstance(when, Timed):
        _moves_once(report, here, found, when.tz)
    return found


def _moves_once(report: _Report, where: str, moves: tuple[Change, ...], zone: str) -> None:
    """Each timed `was` of a history happens once in its zone: pages and diffs word it."""
    for n, move in enumerate(moves, 1):
        if isinstance(move.was, datetime):
            _once(report, f"{where}[{n}].was", move.was, zone)


def _relative_order(report: _Report, where: str, milestones: list[Milestone]) -> None:
    """Relative dates must point at a dated milestone of the track, without cycles."""
    by_id = {m.id: m for m in milestones}
    for n, milestone in enumerate(milestones, 1):
        if not isinstance(milestone.when, Relative):
            continue
        target = by_id.get(milestone.when.after)
        if target is None:
            report.add(f"{where}.milestones[{n}].after",
                       f"unknown milestone {_show(milestone.when.after)}",
                       "one of: " + ", ".join(by_id))
        elif isinstance(target.when, (Month, Undated)):
            report.add(f"{where}.milestones[{n}].after",
                       f"milestone {_show(target.id)} has no day to count from",
                       "a milestone with a date, a time, a deadline or a relative date")
    reported: set[frozenset[str]] = set()
    for n, milestone in enumerate(milestones, 1):
        seen = [milestone.id]
        step = milestone
        while isinstance(step.when, Relative) and step.when.after in by_id:
            step = by_id[step.when.after]
            if step.id in seen:
                # One line per cycle, at its first milestone in the file; a milestone
                # that only leads into a cycle is not itself the mistake.
                members = frozenset(seen[seen.index(step.id):])
                if step.id == milestone.id and members not in reported:
                    reported.add(members)
                    report.add(f"{where}.milestones[{n}].after",
                               "relative dates form a cycle: " + " -> ".join(seen + [step.id]),
                               "each relative date to lead back to a fixed date")
                break
            seen.append(step.id)


def _year_keys(report: _Report, where: str, value: Any, parse: Callable,
               history: dict[int, tuple[Change, ...]] | None = None,
               form: str = "") -> dict[int, Any]:
    """A table keyed by data year ("2024" = ...).

    With `history` (filled in place), each year may also be written with its
    history, as `dated` reads it, the date under the key `form`.
    """
    if _typed(report, where, value, dict, "a table of data year = date") is None:
        return {}
    years = {}
    for key, item in value.items():
        here = f"{where}.{key}"
        # Not str.isdigit(): it is true of "²⁰²⁴", which int() cannot read.
        if not re.fullmatch(r"[0-9]{4}", key):
            report.add(here, f"{_show(key)} is not a year", "a data year such as 2024")
            continue
        if history is not None:
            parsed, moves = dated(report, here, item, form, parse)
            if moves:
                history[int(key)] = moves
        else:
            parsed = parse(report, here, item)
        if parsed is not None:
            years[int(key)] = parsed
    return years


def _local_datetime(report: _Report, where: str, value: Any) -> datetime | None:
    """A TOML local date-time (the zone comes from the track)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return _in_years(report, where, value)  # type: ignore[return-value]
    report.add(where, f"{_kind(value)} {_show(value)}",
               "a local date-time like 2025-03-31T23:59:00, in the [yearly] tz")
    return None


def _yearly(report: _Report, where: str, value: Any) -> YearlyRule | None:
    """The [yearly] rule of a recurring track."""
    table = _table(report, where, value, YEARLY_KEYS)
    if table is None:
        return None
    month = _typed(report, f"{where}.month", table.get("month"), int, "a month number 1-12")
    day = _typed(report, f"{where}.day", table.get("day"), int, "a day of the month")
    if month is not None and day is not None:
        try:
            # 2001 is not a leap year: February 29 would crash the engine three years in four.
            date(2001, month, day)
        except (ValueError, OverflowError):
            report.add(where, f"month {month}, day {day} is not a day of every year",
                       "a real month and day, February 29 excepted")
            month = None
    hhmm = _typed(report, f"{where}.time", table.get("time"), str, 'a quoted time like "23:59"')
    if hhmm is not None and not HHMM.match(hhmm):
        report.add(f"{where}.time", f"{_show(hhmm)} is not a time", 'a quoted time like "23:59"')
        hhmm = None
    zone = _zone(report, f"{where}.tz", table.get("tz"))
    offset = _typed(report, f"{where}.year_offset", table.get("year_offset", 1), int,
                    "a whole number of years, usually 1")
    if offset is not None and not 0 <= offset <= 5:
        report.add(f"{where}.year_offset", f"{offset} years", "0 to 5 years, usually 1")
        offset = None
    move = table.get("move", "off-weekend")
    if move not in MOVES:
        report.add(f"{where}.move", f"unknown move {_show(move)}", "one of: " + ", ".join(MOVES))
        return None
    if None in (month, day, hhmm, zone, offset):
        return None
    return YearlyRule(month, day, hhmm, zone, offset, move)


def _track(report: _Report, ident: str, value: Any) -> Track | None:
    """One [tracks.ID] table with its milestones."""
    where = f"tracks.{ident}"
    if _safe_id(report, where, ident) is None:
        return None
    table = _table(report, where, value, TRACK_KEYS)
    if table is None:
        return None
    name = _text(report, f"{where}.name", table.get("name", "?"))
    source = _text(report, f"{where}.source", table.get("source", "?"))
    links = _links(report, f"{where}.links", table.get("links", []))
    estimated = _typed(report, f"{where}.estimated", table.get("estimated", False), bool,
                       "true or false")
    yearly = _yearly(report, f"{where}.yearly", table["yearly"]) if "yearly" in table else None
    is_yearly = "yearly" in table
    cycle = table.get("cycle", "")
    first_cycle = None
    published: dict[int, datetime] = {}
    history: dict[int, tuple[Change, ...]] = {}
    if is_yearly:
        if "cycle" in table:
            report.add(f"{where}.cycle", "cycle in a yearly track",
                       "cycles of a yearly track to be data years from first_cycle")
        first_cycle = _typed(report, f"{where}.first_cycle", table.get("first_cycle"), int,
                             "the first data year to show, such as 2023")
        if first_cycle is not None and not 1900 <= first_cycle <= 2200:
            report.add(f"{where}.first_cycle", f"{first_cycle}", "a year between 1900 and 2200")
            first_cycle = None
        published = _year_keys(report, f"{where}.published", table.get("published", {}),
                               _local_datetime, history, "at")
    else:
        for key in ("first_cycle", "published"):
            if key in table:
                report.add(f"{where}.{key}", f"{key} in a track without [yearly]",
                           f"{key} only with a [tracks.{ident}.yearly] rule")
        cycle = _safe_id(report, f"{where}.cycle", cycle) if "cycle" in table else ident
    raw = _typed(report, f"{where}.milestones", table.get("milestones", []), list,
                 "an array of [[milestones]] tables")
    milestones = [
        _milestone(report, f"{where}.milestones[{n}]", item, is_yearly)
        for n, item in enumerate(raw or [], 1)
    ]
    if raw == []:
        report.add(f"{where}.milestones", "no milestones", "at least one [[milestones]] table")
    ids = [m.id for m in milestones if m]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        report.add(f"{where}.milestones", f"duplicate milestone id {_show(dup)}",
                   "each id once per track")
    if None in milestones or not raw:
        return None
    _relative_order(report, where, milestones)
    if None in (name, source, estimated, cycle) or (is_yearly and None in (yearly, first_cycle)):
        return None
    track = Track(ident, name, source, "yearly" if is_yearly else "progress",
                  tuple(milestones), links, cycle or "", None, estimated, yearly, first_cycle,
                  published, history)
    if yearly is not None:
        _deadlines_once(report, where, track)
    return track


def _deadlines_once(report: _Report, where: str, track: Track) -> None:
    """Every deadline a calendar can show of a yearly track happens once in its zone.

    The published ones, each; the rule's, in every data year from first_cycle to
    LAST_DATA_YEAR, in one line per rule (a rule at 02:30 on a Sunday in March falls
    into the gap only in some years).
    """
    rule = track.yearly
    assert rule is not None and track.first_cycle is not None
    for year, local in sorted(track.published.items()):
        _once(report, f"{where}.published.{year}", local, rule.tz)
        _moves_once(report, f"{where}.published.{year}.changes",
                    track.history.get(year, ()), rule.tz)
    failing = []
    for year in range(track.first_cycle, LAST_DATA_YEAR + 1):
        if year not in track.published:
            due = yearly_deadline(track, year).start
            local = due.replace(tzinfo=None)  # type: ignore[union-attr]
            change = _clock_change(rule.tz, local)
            if change:
                failing.append((year, change))
    if failing:
        (year, (what, expected)), more = failing[0], len(failing) - 1
        also = (f" (and the deadlines of {more} later data years up to {LAST_DATA_YEAR})"
                if more else "")
        report.add(f"{where}.yearly.time",
                   f'"{rule.time}" on the deadline of data year {year}: {what}{also}', expected)


def _step(report: _Report, where: str, value: Any) -> Milestone | None:
    """One progress-report step: ACCME's words and who acts; dated per cohort unless `when`."""
    table = _table(report, where, value, STEP_KEYS)
    if table is None:
        return None
    before = len(report.problems)
    ident = _safe_id(report, f"{where}.id", table.get("id"))
    title, description, actor, only_if = _step_words(report, where, table,
                                                     engine.PROGRESS_FIELDS)
    links = _links(report, f"{where}.links", table.get("links", []))
    when: When | None = PerCohort()
    if "when" in table:
        text = _text(report, f"{where}.when", table["when"])
        when = Undated(text) if text else None
    # Any problem (a bad placeholder too) drops the step: its texts are formatted later.
    if None in (ident, title, description, actor, when) or len(report.problems) > before:
        return None
    return Milestone(ident, title, description, actor, when, links, only_if)  # type: ignore[arg-type]


def cohort_date(report: _Report, where: str,
                value: Any) -> tuple[Day | Month | None, tuple[Change, ...]]:
    """One step's date in a published cohort, and its history.

    A day (`2024-01-24`) or a month only (`"2024-07"`), bare, or in the long form
    with its history: `{ date = 2024-04-10, changes = [...] }`, `{ month = "2024-07",
    changes = [...] }` (`dated` reads it, as every other dated value).
    """
    if isinstance(value, datetime) or not isinstance(value, (date, str, dict)):
        report.add(where, f"{_kind(value)} {_show(value)}", COHORT_DATE)
        return None, ()
    if isinstance(value, str) or (isinstance(value, dict) and "month" in value):
        first, history = dated(report, where, value, "month", _month_start)
        return (Month(first.year, first.month) if first else None), history
    day, history = dated(report, where, value, "date", _plain_date)
    return (Day(day) if day else None), history


def _cohort(report: _Report, where: str, value: Any,
            steps: list[Milestone] | None) -> Cohort | None:
    """One [[progress.cohorts]] table: a published table of one Next Decision Date.

    With `steps` None (a step did not load) its dates are checked as dates only, so
    every other problem is still reported.
    """
    table = _table(report, where, value, COHORT_KEYS)
    if table is None:
        return None
    decision = _month(report, f"{where}.decision", table["decision"]) if "decision" in table else None
    ndd = _plain_date(report, f"{where}.next_decision_date", table.get("next_decision_date"))
    source = _text(report, f"{where}.source", table.get("source", "?"))
    name = _text(report, f"{where}.name", table["name"]) if "name" in table else None
    links = _links(report, f"{where}.links", table.get("links", []))
    if decision and ndd and (decision.year, decision.month) >= (ndd.year, ndd.month):
        report.add(f"{where}.decision", f'"{decision.year:04d}-{decision.month:02d}" is not '
                   f"before the Next Decision Date {ndd.isoformat()}",
                   "the month ACCME decided, before the Next Decision Date")
        decision = None
    ident, cycle = engine.cohort_identity(ndd) if ndd else ("", "")
    if "id" in table:
        ident = _safe_id(report, f"{where}.id", table["id"])
    if "cycle" in table:
        cycle = _safe_id(report, f"{where}.cycle", table["cycle"])
    by_id = {s.id: s for s in steps or []}
    dates: dict[str, Day | Month] = {}
    history: dict[str, tuple[Change, ...]] = {}
    raw = _typed(report, f"{where}.dates", table.get("dates", {}), dict,
                 "a table of step id = " + COHORT_DATE)
    for key, item in (raw or {}).items():
        here = f"{where}.dates.{key if re.fullmatch(r'[A-Za-z0-9_-]+', key) else _show(key)}"
        step = by_id.get(key)
        if steps is None:
            cohort_date(report, here, item)
        elif step is None:
            close = difflib.get_close_matches(key, by_id, n=1)
            hint = f', did you mean "{close[0]}"?' if close else ""
            report.add(here, f"unknown step {_show(key)}{hint}",
                       "one of the [[progress.steps]] ids: " + ", ".join(by_id))
        elif not isinstance(step.when, PerCohort):
            report.add(here, f"a date for step {_show(key)}, which has `when`",
                       "no date for an undated step")
        else:
            parsed, moves = cohort_date(report, here, item)
            if parsed:
                dates[key] = parsed
            if moves:
                history[key] = moves
    if raw is not None and steps is not None:
        for step in steps:
            if isinstance(step.when, PerCohort) and step.id not in raw:
                report.add(f"{where}.dates", f"no date for step {_show(step.id)}",
                           f"one date per dated step: {step.id} = {COHORT_DATE}")
    if None in (decision, ndd, source, ident, cycle, raw, steps) \
            or ("name" in table and name is None) \
            or len(dates) != sum(isinstance(s.when, PerCohort) for s in steps or []):
        return None
    assert ndd is not None and decision is not None
    return Cohort(ident, cycle, decision, ndd,  # type: ignore[arg-type]
                  name or f"Progress Report Milestones — Next Decision Date {wording.long_date(ndd)}",
                  source, links, dates, history)  # type: ignore[arg-type]


def _progress(report: _Report, value: Any) -> Progress | None:
    """The [progress] table: the steps once, then one [[progress.cohorts]] per published table."""
    where = "progress"
    table = _table(report, where, value, PROGRESS_KEYS)
    if table is None:
        return None
    name = _text(report, f"{where}.name", table.get("name", "?"))
    links = _links(report, f"{where}.links", table.get("links", []))
    raw_steps = _typed(report, f"{where}.steps", table.get("steps", []), list,
                       "an array of [[progress.steps]] tables")
    if raw_steps == []:
        report.add(f"{where}.steps", "no steps", "at least one [[progress.steps]] table")
    steps = [_step(report, f"{where}.steps[{n}]", item)
             for n, item in enumerate(raw_steps or [], 1)]
    ids = [s.id for s in steps if s]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        report.add(f"{where}.steps", f"duplicate step id {_show(dup)}", "each id once")
    known = None if None in steps or not raw_steps or len(set(ids)) != len(ids) else steps
    raw_cohorts = _typed(report, f"{where}.cohorts", table.get("cohorts", []), list,
                         "an array of [[progress.cohorts]] tables")
    cohorts = [_cohort(report, f"{where}.cohorts[{n}]", item, known)  # type: ignore[arg-type]
               for n, item in enumerate(raw_cohorts or [], 1)]
    seen_ndd: dict[date, int] = {}
    seen_id: dict[str, int] = {}
    for n, cohort in enumerate(cohorts, 1):
        if cohort is None:
            continue
        if cohort.next_decision_date in seen_ndd:
            report.add(f"{where}.cohorts[{n}].next_decision_date",
                       f"Next Decision Date {cohort.next_decision_date.isoformat()} again",
                       f"one cohort per Next Decision Date; first in cohorts[{seen_ndd[cohort.next_decision_date]}]")
        if cohort.id in seen_id:
            report.add(f"{where}.cohorts[{n}].id", f"id {_show(cohort.id)} again",
                       f"each id once; first in cohorts[{seen_id[cohort.id]}]")
        seen_ndd.setdefault(cohort.next_decision_date, n)
        seen_id.setdefault(cohort.id, n)
    if known is None or None in cohorts or raw_cohorts is None or name is None:
        return None
    if len(seen_ndd) != len(cohorts) or len(seen_id) != len(cohorts):
        return None
    return Progress(name, links, tuple(steps), tuple(cohorts))  # type: ignore[arg-type]


def _accreditor_rule(report: _Report, where: str, value: Any) -> AccreditorRule | None:
    """An accreditor's [rule]: the weekday on or before ACCME's deadline minus some days."""
    table = _table(report, where, value, ACCREDITOR_RULE_KEYS)
    if table is None:
        return None
    days = _typed(report, f"{where}.days_before", table.get("days_before"), int,
                  "a whole number of days before ACCME's deadline, such as 12")
    if days is not None and not 0 <= days <= 180:
        report.add(f"{where}.days_before", f"{days} days", "0 to 180 days before ACCME's deadline")
        days = None
    weekday = table.get("weekday")
    if weekday is not None and weekday not in WEEKDAYS:
        report.add(f"{where}.weekday", f"unknown weekday {_show(weekday)}",
                   "one of: " + ", ".join(WEEKDAYS))
        weekday = None
    if days is None or weekday is None:
        return None
    return AccreditorRule(days, weekday)


def _accreditor(report: _Report, ident: str, value: Any) -> Accreditor | None:
    """One [accreditors.ID] table."""
    where = f"accreditors.{ident}"
    if _safe_id(report, where, ident) is None:
        return None
    table = _table(report, where, value, ACCREDITOR_KEYS)
    if table is None:
        return None
    name = _text(report, f"{where}.name", table.get("name", "?"))
    url = table.get("url")
    if url is not None:
        url = _web_address(report, f"{where}.url", url)
    history: dict[int, tuple[Change, ...]] = {}
    deadlines = _year_keys(report, f"{where}.deadlines", table.get("deadlines", {}), _plain_date,
                           history, "date")
    rule = _accreditor_rule(report, f"{where}.rule", table["rule"]) if "rule" in table else None
    if not name or ("url" in table and url is None) or ("rule" in table and rule is None):
        return None
    return Accreditor(ident, name, url, deadlines, history, rule)


def parse_rules(text: str, file: str) -> tuple[dict[str, Any], list[str]]:
    """Parse and validate rules.toml text; return its parts and the problems found."""
    report = _Report(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message ends "(at line L, column C)": move the place to the front.
        match = re.search(r"\(at line (\d+), column (\d+)\)$", str(err))
        where = f"line {match[1]}, column {match[2]}" if match else "TOML syntax"
        message = str(err)[: match.start()].strip() if match else str(err)
        report.add(where, f"TOML syntax error: {message}", "valid TOML")
        return {}, report.problems
    except RecursionError:
        # tomllib recurses once per level of nested arrays and inline tables.
        report.add("TOML syntax", "arrays or inline tables nested too deeply to read",
                   "valid TOML nested a few levels deep")
        return {}, report.problems
    except ValueError as err:
        # An integer of thousands of digits: Python refuses to convert it.
        report.add("TOML syntax", f"unreadable value: {str(err).split(';')[0]}", "valid TOML")
        return {}, report.problems
    _table(report, "", data, TOP_KEYS)
    revised = data.get("revised")
    if revised is not None and (not isinstance(revised, datetime) or revised.tzinfo is None):
        report.add("revised", f"{_kind(revised)} {_show(revised)}",
                   "a date-time with its offset, like 2026-11-21T00:00:00Z")
        revised = None
    elif revised is not None:
        revised = _in_years(report, "revised", revised)
    roster = data.get("roster")
    if roster is not None and _text(report, "roster", roster) is None:
        roster = None
    tracks: dict[str, Track] = {}
    raw_tracks = _typed(report, "tracks", data.get("tracks", {}), dict,
                        "a table of [tracks.ID] tables")
    for ident, value in (raw_tracks or {}).items():
        track = _track(report, ident, value)
        if track:
            tracks[ident] = track
    accreditors: dict[str, Accreditor] = {}
    raw_accreditors = _typed(report, "accreditors", data.get("accreditors", {}), dict,
                             "a table of [accreditors.ID] tables")
    for ident, value in (raw_accreditors or {}).items():
        accreditor = _accreditor(report, ident, value)
        if accreditor:
            accreditors[ident] = accreditor
    lead_days = _lead_days(report, data.get("notify", {}))
    progress = _progress(report, data["progress"]) if "progress" in data else None
    if progress is not None:
        cohort_tracks = {}
        for n, cohort in enumerate(progress.cohorts, 1):
            if cohort.id in tracks or cohort.id in (raw_tracks or {}):
                report.add(f"progress.cohorts[{n}].id", f"id {_show(cohort.id)} is also a track",
                           "an id no [tracks.ID] table has")
            cohort_tracks[cohort.id] = engine.cohort_track(progress, cohort)
        # Progress reports first, as ACCME's publications come.
        tracks = {**cohort_tracks, **tracks}
    # The first Next Decision Date the roster may name, taken from the raw tables
    # too, so that one broken cohort does not also make every provider an error.
    raw_progress = data.get("progress")
    raw_cohorts = raw_progress.get("cohorts") if isinstance(raw_progress, dict) else None
    declared = [c.get("next_decision_date") for c in raw_cohorts or []
                if isinstance(raw_cohorts, list) and isinstance(c, dict)]
    dated = [d for d in declared if isinstance(d, date) and not isinstance(d, datetime)]
    parts = {"revised": revised and revised.astimezone(timezone.utc), "roster": roster,
             "tracks": tracks, "accreditors": accreditors, "progress": progress,
             "first_ndd": min(dated) if dated else None,
             "accreditor_ids": set(raw_accreditors or {}), "lead_days": lead_days}
    return parts, report.problems


def _lead_days(report: _Report, value: Any) -> tuple[int, ...]:
    """The [notify] table: how many days before a deadline the email reminders go out."""
    table = _table(report, "notify", value, NOTIFY_KEYS)
    if table is None or "days_before" not in table:
        return DEFAULT_LEAD_DAYS
    where = "notify.days_before"
    expected = (f"an array of up to {MAX_LEADS} whole numbers of days, 0-{MAX_LEAD_DAYS}, "
                f"like [30, 7, 1]")
    raw = _typed(report, where, table["days_before"], list, expected)
    if raw is None:
        return DEFAULT_LEAD_DAYS
    days: list[int] = []
    for n, item in enumerate(raw, 1):
        number = _typed(report, f"{where}[{n}]", item, int, expected)
        if number is None:
            continue
        if not 0 <= number <= MAX_LEAD_DAYS:
            report.add(f"{where}[{n}]", f"{number} days", expected)
        elif number in days:
            report.add(f"{where}[{n}]", f"{number} days given twice", "each lead time once")
        else:
            days.append(number)
    if len(raw) > MAX_LEADS:
        report.add(where, f"{len(raw)} lead times", expected)
    return tuple(sorted(days, reverse=True))


def _masked(address: str) -> str:
    """A bad address without its local part: this line also reaches a server's log."""
    if "@" not in address:
        return 'no "@"'
    return _show("…@" + address.rpartition("@")[2])


def _contacts(report: _Report, where: str, cell: str) -> tuple[str, ...]:
    """A roster cell of email addresses separated by `;`, lowercased, each once."""
    found: list[str] = []
    for number, part in enumerate(cell.split(";"), start=1):
        address = part.strip()
        if not address:
            continue  # "a@x.org;" as spreadsheets and mail apps leave it
        if len(address) > MAX_EMAIL_CHARS or not EMAIL.match(address):
            report.add(where, f"address {number} ({_masked(address)}) is not an email address",
                       EMAIL_EXPECTED)
            continue
        if address.lower() not in found:
            found.append(address.lower())
    return tuple(found)


def first_ndd(progress: Progress | None) -> date | None:
    """The earliest Next Decision Date of a published cohort: the oldest one calfeed shows."""
    if progress is None or not progress.cohorts:
        return None
    return min(c.next_decision_date for c in progress.cohorts)


def last_ndd(today: date) -> date:
    """The latest Next Decision Date calfeed takes: NDD_YEARS_AHEAD years after today."""
    try:
        return today.replace(year=today.year + NDD_YEARS_AHEAD)
    except ValueError:  # February 29
        return today.replace(year=today.year + NDD_YEARS_AHEAD, day=28)


def ndd_accepted(first: date | None, today: date) -> str:
    """What a Next Decision Date may be, in words, for messages."""
    if first is None:
        return "empty: the rules have no [[progress.cohorts]] to schedule a progress report from"
    last = last_ndd(today)
    return (f"a Next Decision Date from {first.isoformat()} (the first published cohort) to "
            f"{last.isoformat()} ({NDD_YEARS_AHEAD} years after today), as YYYY-MM-DD, or empty "
            f"for no progress report")


def ndd_problem(first: date | None, ndd: date, today: date) -> str | None:
    """Why a date cannot be a Next Decision Date calfeed schedules, or None if it can."""
    if first is None:
        return f"no progress-report cohorts for Next Decision Date {ndd.isoformat()}"
    if ndd < first:
        return (f"{ndd.isoformat()} is before the first published cohort "
                f"(Next Decision Date {first.isoformat()})")
    if ndd > last_ndd(today):
        return (f"{ndd.isoformat()} is more than {NDD_YEARS_AHEAD} years after today "
                f"({today.isoformat()})")
    return None


def parse_roster(text: str, file: str, first: date | None, accreditors: set[str],
                 today: date) -> tuple[dict[str, Profile], list[str]]:
    """Parse and validate a roster CSV: Next Decision Dates calfeed can schedule, known accreditors."""
    report = _Report(file)
    # Rows end at LF or CRLF only: a lone CR is a character like any other, so one
    # inside a quoted cell stays in its cell (and a name refuses it by its row), and one
    # outside quotes is reported at its row instead of splitting it.
    reader = csv.reader(io.StringIO(text, newline="\n"))
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as err:
        report.add("row 1", *_csv_problem(err))
        return {}, report.problems
    if not header:
        report.add("row 1", "empty file", "a header row: " + ",".join(ROSTER_COLUMNS[:5]))
        return {}, report.problems
    for name in header:
        if name not in ROSTER_COLUMNS:
            report.add("row 1", f"unknown column {_show(name)}",
                       "columns among: " + ", ".join(ROSTER_COLUMNS))
    for name in REQUIRED_COLUMNS:
        if name not in header:
            report.add("row 1", f"missing column {_show(name)}",
                       "a header row: " + ",".join(ROSTER_COLUMNS[:5]))
    if len(set(header)) != len(header):
        report.add("row 1", "a column named twice", "each column once")
    if report.problems:
        return {}, report.problems
    providers: dict[str, Profile] = {}
    first_row: dict[str, int] = {}
    for row_no, cells in _rows(reader, report):
        if row_no > MAX_ROSTER_ROWS + 1:  # row 1 is the header
            report.add(f"row {row_no}", f"more than {MAX_ROSTER_ROWS:,} rows of providers",
                       f"at most {MAX_ROSTER_ROWS:,} rows after the header")
            break
        if not any(c.strip() for c in cells):
            continue  # spreadsheets leave blank lines at the end
        if len(cells) != len(header):
            # A quote that never closes swallows the rows after it into one cell.
            spans = [(n, c.rstrip("\r\n").count("\n")) for n, c in enumerate(cells)
                     if "\n" in c]
            hint = ""
            if spans and len(cells) < len(header):
                n, lines = spans[0]
                column = header[n] if n < len(header) else f"cell {n + 1}"
                hint = (f"; the quoted cell in column {column} runs over {lines + 1} lines "
                        '(a " that never closes?)')
            report.add(f"row {row_no}", f"{len(cells)} cells{hint}",
                       f"{len(header)} cells, one per column of the header")
            continue
        row = dict(zip(header, (c.strip() for c in cells)))
        problems_before = len(report.problems)
        ident = _safe_id(report, f"row {row_no}, column id", row["id"])
        place = f"row {row_no} (id {_show(row['id'])})"
        if ident in first_row:
            report.add(f"{place}, column id", f"duplicate provider id {_show(ident)}",
                       f"each id once; first seen in row {first_row[ident]}")
        elif ident:
            first_row[ident] = row_no
        if not row["name"]:
            report.add(f"{place}, column name", "empty name", "the provider's name")
        else:
            _one_line(report, f"{place}, column name", row["name"])
        ndd = None
        raw_ndd = row.get("next_decision_date", "")
        if raw_ndd:
            try:
                # fromisoformat also takes 20240731 and 2024-W31-3: a roster says YYYY-MM-DD.
                if not ISO_DATE.match(raw_ndd):
                    raise ValueError
                ndd = date.fromisoformat(raw_ndd)
            except ValueError:
                report.add(f"{place}, column next_decision_date",
                           f"{_show(raw_ndd)} is not a date",
                           "YYYY-MM-DD, or empty for no progress report")
            else:
                why = ndd_problem(first, ndd, today)
                if why:
                    report.add(f"{place}, column next_decision_date", why,
                               ndd_accepted(first, today))
        flag = wording.yes_no(row.get("enduring_materials", ""))
        if flag is None:
            report.add(f"{place}, column enduring_materials",
                       f"{_show(row['enduring_materials'])}", wording.YES_NO_ACCEPTED)
        accreditor = row.get("accreditor", "") or None
        if accreditor is not None and accreditor not in accreditors:
            report.add(f"{place}, column accreditor", f"unknown accreditor {_show(accreditor)}",
                       "one of: " + ", ".join(sorted(accreditors)) + ", or empty for ACCME")
        rotation = row.get("rotation", "") or "0"
        if not re.fullmatch(r"[0-9]{1,6}", rotation):  # ASCII only, unlike isdigit()
            report.add(f"{place}, column rotation", f"{_show(rotation)}",
                       "a whole number 0-999999, raised by one to replace the private URL")
        contacts = _contacts(report, f"{place}, column email", row.get("email", ""))
        if len(report.problems) == problems_before:
            providers[ident] = Profile(ident, row["name"], ndd, bool(flag), accreditor,
                                       None, int(rotation), contacts)
    return providers, report.problems


def _rows(reader: Any, report: _Report) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header, numbered as a spreadsheet does.

    A row the csv module cannot read is a problem of its own row, and reading goes
    on with the next one, so every row's problems are reported at once.
    """
    row_no = 1
    while True:
        row_no += 1
        line = reader.line_num
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            report.add(f"row {row_no}", *_csv_problem(err))
            if reader.line_num == line:  # nothing consumed: it would fail again
                return
            continue
        yield row_no, cells


def _csv_problem(err: csv.Error) -> tuple[str, str]:
    """What is wrong with an unreadable row, and what was expected."""
    if "new-line character" in str(err):
        return ("carriage return (U+000D) inside the row, outside quotes",
                "each row on one line ending in LF or CRLF; save the file again as CSV")
    return f"unreadable CSV: {err}", "well-formed CSV"


def _read(path: Path, limit: int, report: _Report, rows: bool = False) -> str | None:
    """Read a UTF-8 file (a byte-order mark allowed) no larger than limit.

    `rows`: the file is a CSV, whose problems are placed by row rather than by line.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        report.add("file", f"cannot read: {err.strerror or err}", "a readable file")
        return None
    except ValueError as err:  # a NUL in the name: roster = "\u0000"
        report.add("file", f"cannot read: {err}", "a file name without NUL characters")
        return None
    if len(data) > limit:
        report.add("file", f"larger than {limit // 1024} KiB", f"at most {limit // 1024} KiB")
        return None
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        report.add(*_not_utf8(data, bom, err, rows))
        return None


def _not_utf8(data: bytes, bom: int, err: UnicodeDecodeError,
              rows: bool) -> tuple[str, str, str]:
    """Where a file stops being UTF-8 (a roster's row and column, a rules file's line),
    the byte, and how to save it right."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("file", "a UTF-16 file (Excel's \"Unicode Text\")",
                'a UTF-8 file: save it as "CSV UTF-8 (Comma delimited)"')
    at = bom + err.start  # err counts from after the byte-order mark
    byte = data[at]
    # What the byte is in Windows-1252, the usual culprit (Excel's "CSV" on Windows).
    guess = bytes([byte]).decode("cp1252", errors="replace")
    seen = f" ({guess} in Windows-1252)" if guess.isprintable() and guess != "\ufffd" else ""
    what = f"byte 0x{byte:02X}{seen} at byte {at} is not UTF-8"
    before = data[bom:at].decode("utf-8")
    if not rows:
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return f"line {line}, column {column}", what, "a UTF-8 file: save it as UTF-8"
    # The row and cell the byte falls in, read as the roster is read.
    try:
        records = list(csv.reader(io.StringIO(before + "x", newline="\n")))
    except csv.Error:  # a row broken before the byte: place it by line instead
        records = [[]] * (before.count("\n") + 1)
    header = [h.strip() for h in records[0]] if records else []
    cell = len(records[-1]) - 1 if records else 0
    where = f"row {len(records)}"
    if len(records) > 1 and cell < len(header):
        where += f", column {header[cell]}"
    return (where, what,
            'a UTF-8 file: save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"')


def load(rules_path: str | Path, providers_path: str | Path | None = None,
         roster: bool = True, today: date | None = None) -> Rules:
    """Load rules.toml and its roster, or raise RulesError listing every problem.

    With roster=False the roster rules.toml names is not read (`calfeed diff` reads
    the old rules alone: their roster may be gone, and the new one is what counts).
    `today` (default: the clock) bounds the roster's Next Decision Dates from above.
    """
    rules_path = Path(rules_path)
    report = _Report(str(rules_path))
    text = _read(rules_path, MAX_RULES_BYTES, report)
    if text is None:
        raise RulesError(report.problems)
    parts, problems = parse_rules(text, str(rules_path))
    if providers_path is None and parts.get("roster") and roster:
        providers_path = rules_path.parent / parts["roster"]
    providers: dict[str, Profile] = {}
    if providers_path is not None and parts:
        roster_report = _Report(str(providers_path))
        roster_text = _read(Path(providers_path), MAX_ROSTER_BYTES, roster_report, rows=True)
        problems += roster_report.problems
        if roster_text is not None:
            providers, roster_problems = parse_roster(
                roster_text, str(providers_path), parts["first_ndd"], parts["accreditor_ids"],
                today or date.today())
            problems += roster_problems
    if problems:
        raise RulesError(problems)
    return Rules(str(rules_path), parts["revised"], parts["tracks"], parts["accreditors"],
                 providers, str(providers_path) if providers_path else None,
                 lead_days=parts["lead_days"], progress=parts["progress"])
