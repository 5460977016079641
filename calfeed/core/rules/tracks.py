"""`[tracks.ID]`: a published schedule, its `[yearly]` rule and its `[[milestones]]`."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from calfeed.core.model import (
    Change,
    Day,
    Deadline,
    Link,
    Milestone,
    Month,
    Relative,
    Timed,
    Track,
    Undated,
    When,
    YearlyRule,
)
from calfeed.core.rules import checks
from calfeed.core.rules.history import CHANGES, HISTORY_FORMS, changes, split_years, years
from calfeed.core.rules.report import Report, show
from calfeed.core.rules.schema import Key, Read, Table, Type, array_of, keyed, read, table_of
from calfeed.core.rules.text import DESCRIPTION, TEXT, WEB_ADDRESS, placeholders
from calfeed.core.rules.values import (
    ACTOR,
    BOOLEAN,
    DATE,
    FLAG,
    ID,
    MONTH_TYPE,
    MOVE,
    ZONE,
    integer,
    literal_true,
    local_deadline,
    local_time,
    month_start,
    once,
    plain_date,
    safe_id,
    typed,
    whole,
)

# Placeholders a yearly track's texts may use; see engine.cycle_fields.
FIELDS = ("data_year", "next_year", "deadline")
DATE_FORMS = ("date", "month", "at", "when", "after", "deadline")
HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)\Z")
HHMM_EXPECTED = 'a quoted time like "23:59"'


# --- links ---------------------------------------------------------------------------------

def _link(report: Report, where: str, found: Read) -> Link | None:
    """A {title, url} table as a Link."""
    return Link(found["title"], found["url"]) if found.ok else None


LINK = Table("links", (
    Key("title", TEXT, "what the link is", required=True),
    Key("url", WEB_ADDRESS, "where it goes", required=True),
))
_every_link = array_of(table_of(LINK, _link), "an array of { title, url } tables")


def _links(report: Report, where: str, value: Any) -> tuple[Link, ...]:
    """An array of {title, url} tables; the ones that read (a refused one is a problem)."""
    return tuple(link for link in _every_link(report, where, value) or () if link)


LINKS = Type("array of `{ title, url }`", _links)


# --- [tracks.ID.yearly] ------------------------------------------------------------------------

def _hhmm(report: Report, where: str, value: Any) -> str | None:
    """A quoted "HH:MM" time of day."""
    found = typed(report, where, value, str, HHMM_EXPECTED)
    if found is not None and not HHMM.match(found):
        report.add(where, f"{show(found)} is not a time", HHMM_EXPECTED)
        return None
    return found


def _yearly(report: Report, where: str, found: Read) -> YearlyRule | None:
    """A [yearly] rule whose month and day is a day of every year."""
    month, day = found["month"], found["day"]
    if month is not None and day is not None:
        try:
            # 2001 is not a leap year: February 29 would crash the engine three years in four.
            date(2001, month, day)
        except (ValueError, OverflowError):
            report.add(where, f"month {month}, day {day} is not a day of every year",
                       "a real month and day, February 29 excepted")
            return None
    if not found.ok:
        return None
    return YearlyRule(month, day, found["time"], found["tz"], found["year_offset"], found["move"])


YEARLY = Table("[tracks.ID.yearly]", (
    Key("month", Type("integer", integer("a month number 1-12")),
        "month of the deadline", required=True, example="`3`"),
    Key("day", Type("integer", integer("a day of the month")),
        "day of the month", required=True, example="`31`"),
    Key("time", Type('`"HH:MM"`', _hhmm), "local time of the deadline", required=True,
        example='`"23:59"`'),
    Key("tz", ZONE, "the deadline's time zone", required=True, example='`"America/Chicago"`'),
    Key("year_offset", Type("integer", whole(0, 5, "a whole number of years, usually 1",
                                             "{} years", "0 to 5 years, usually 1")),
        "data year Y is due in Y + this", default=1, default_text="1", example="`1`"),
    Key("move", MOVE,
        '`"off-weekend"` (Saturday/Sunday → Monday), `"back-off-weekend"` (Saturday/Sunday → '
        'the Friday before: the last business day, for an estimate that must never be late) '
        'or a weekday name (forward to that day)',
        default="off-weekend", default_text='`"off-weekend"`', example='`"off-weekend"`'),
))


# --- [[tracks.ID.milestones]] ------------------------------------------------------------------

def _after(report: Report, where: str, value: Any) -> str | None:
    """The id of the milestone a relative date counts from."""
    return typed(report, where, value, str, "the id of another milestone in this track")


MILESTONE = Table("[[tracks.ID.milestones]]", (
    Key("id", ID, "stable name of the step (part of its UID; never change it when a date moves)",
        required=True, example='`"materials-due"`'),
    Key("title", TEXT, "ACCME's wording, short", required=True,
        example='`"Progress Report Materials Submission Deadline"`'),
    Key("description", DESCRIPTION,
        "the full text; line breaks are kept (a blank line between paragraphs)",
        default_text="the title"),
    Key("actor", ACTOR,
        "who acts: `provider`, `accme` or `accreditor`", required=True, example='`"provider"`'),
    Key("links", LINKS, "links for this step (shown before the track's)", default=()),
    Key("only_if", FLAG,
        "only for providers with this flag: `enduring_materials`",
        example='`"enduring_materials"`'),
    Key("estimated", BOOLEAN, "this date is a guess", default=False, example="`true`"),
    Key("date", DATE, "a whole day", group="exactly one date form", example="`date = 2024-01-24`"),
    Key("month", MONTH_TYPE, "a month only", group="exactly one date form",
        example='`month = "2024-07"`'),
    Key("at", Type("local date-time", local_time), "a timed deadline, in the zone `tz` names",
        group="exactly one date form", example="`at = 2024-04-01T23:59:00`"),
    Key("tz", ZONE, "the zone of `at`", group="exactly one date form", requirement="with `at`",
        example='`tz = "America/Chicago"`'),
    Key("when", TEXT, "undated; the wording shown instead of a date",
        group="exactly one date form", example='`when = "Due upon receipt of invoice"`'),
    Key("after", Type("id", _after),
        "N days after another milestone of the track; always estimated",
        group="exactly one date form", example='`after = "enter-activity-data"`'),
    Key("days", Type("integer", whole(-3660, 3660, "a whole number of days", "{} days",
                                      "at most ten years either way")),
        "the N of `after`", group="exactly one date form", requirement="no, with `after` (0)",
        default=0, example="`days = 14`"),
    Key("move", MOVE,
        "moves the day of `after` forward to a weekday, or off a weekend",
        group="exactly one date form", requirement="no, with `after`",
        example='`move = "wednesday"`'),
    Key("deadline", Type("`true`", literal_true), "(yearly tracks) due at the data year's deadline",
        group="exactly one date form", example="`deadline = true`"),
    Key("changes", CHANGES, "how this published date moved (below)",
        requirement="no, with `date`, `month` or `at`",
        example='`[{ was = 2024-04-03, announced = 2024-03-20, note = "…" }]`'),
))


def step_texts(report: Report, where: str, found: Read,
               fields: tuple[str, ...]) -> tuple[str, str] | None:
    """A milestone's or step's title and description (the title when it has none), their
    placeholders among `fields`; None if either is refused."""
    title = found["title"]
    words = found["description"] if found.has("description") else title
    for key, value in (("title", title), ("description", words)):
        if value and (key == "title" or found.has("description")):
            placeholders(report, f"{where}.{key}", value, fields)
    if title is None or words is None:
        return None
    return title, words


def _form(report: Report, where: str, found: Read) -> str | None:
    """A milestone's one date form, with no key beside it that goes with another form."""
    forms = [key for key in DATE_FORMS if found.has(key)]
    if len(forms) != 1:
        what = "no date form" if not forms else "two date forms: " + ", ".join(forms)
        report.add(where, what, "exactly one of: " + ", ".join(DATE_FORMS))
        return None
    form = forms[0]
    extras = {"at": ("tz",), "after": ("days", "move")}.get(form, ())
    for key in ("tz", "days", "move"):
        if found.has(key) and key not in extras:
            report.add(f"{where}.{key}", f"{key} given with {form}",
                       f"{key} only with " + ("at" if key == "tz" else "after"))
    return form


def _timed(report: Report, where: str, found: Read) -> Timed | None:
    """`at` in the zone `tz` names, a time that happens once there."""
    if not found.has("tz"):
        report.add(where, 'missing key "tz"', "tz to be set with at")
        return None
    zone = found["tz"]
    if zone is None or once(report, f"{where}.at", found["at"], zone) is None:
        return None
    return Timed(found["at"], zone)


def _when(report: Report, where: str, found: Read, yearly: bool) -> When | None:
    """Exactly one date form of a milestone, with the keys that go with it."""
    form = _form(report, where, found)
    if form is None or found[form] is None:
        return None
    value = found[form]
    if form == "at":
        return _timed(report, where, found)
    if form == "after":
        if found["days"] is None or "move" in found.failed:
            return None
        return Relative(value, found["days"], found["move"])
    if form == "deadline" and not yearly:
        report.add(f"{where}.deadline", "deadline = true in a track that is not yearly",
                   "a date form of its own, or a [yearly] rule on the track")
        return None
    if form == "date":
        return Day(value)
    if form == "when":
        return Undated(value)
    return value if form == "month" else Deadline()


def _history(report: Report, where: str, found: Read, when: When | None) -> tuple[Change, ...]:
    """The history of a milestone's own date (date, month or at)."""
    if not found.has("changes"):
        return ()
    form = next((key for key in DATE_FORMS if found.has(key)), None)
    here = f"{where}.changes"
    if form not in HISTORY_FORMS:
        report.add(here, f"changes given with {form or 'no date form'}",
                   "changes only with a published date: " + ", ".join(HISTORY_FORMS))
        return ()
    value = found["changes"]
    if form == "date":
        return changes(report, here, value, plain_date, when.day if isinstance(when, Day) else None)
    if form == "month":
        current = date(when.year, when.month, 1) if isinstance(when, Month) else None
        return changes(report, here, value, month_start, current)
    moves = changes(report, here, value, local_time, when.at if isinstance(when, Timed) else None)
    if isinstance(when, Timed):
        checks.moves_once(report, here, moves, when.tz)
    return moves


def milestone(report: Report, where: str, value: Any, yearly: bool) -> Milestone | None:
    """One [[milestones]] table of a track (`yearly`: its texts may name the data year)."""
    found = read(report, where, value, MILESTONE)
    if found is None:
        return None
    texts = step_texts(report, where, found, FIELDS if yearly else ())
    when = _when(report, where, found, yearly)
    history = _history(report, where, found, when)
    if texts is None or when is None or {"id", "actor", "estimated", "only_if"} & found.failed:
        return None
    return Milestone(found["id"], *texts, found["actor"], when, found["links"], found["only_if"],
                     found["estimated"], history)


def _milestones(report: Report, where: str, value: Any, yearly: bool) -> list[Any] | None:
    """A track's milestones, read knowing whether the track is yearly."""
    parse = array_of(lambda r, w, v: milestone(r, w, v, yearly), "an array of [[milestones]] tables",
                     ("no milestones", "at least one [[milestones]] table"))
    found: list[Any] | None = parse(report, where, value)
    return found


# --- [tracks.ID] -------------------------------------------------------------------------------

TRACK = Table("[tracks.ID]", (
    Key("name", TEXT, "the schedule's title", required=True,
        example='`"8-Month Progress Report Milestones"`'),
    Key("source", TEXT, "the publication it comes from", required=True,
        example='`"ACCME Progress Report Milestones — For November 2023 Cohort …"`'),
    Key("milestones", Type("array of tables", _milestones, contextual=True),
        "the steps, in the publication's order", required=True),
    Key("links", LINKS, "links shown with every milestone of the track", default=(),
        example='`[{ title = "PARS", url = "https://pars.accme.org/" }]`'),
    Key("cycle", ID, "the cycle of a one-off track (part of every UID; default: the track id)",
        example='`"2023-11"`'),
    Key("estimated", BOOLEAN, "every date in the track is a guess (a future cohort)",
        default=False, example="`true`"),
    Key("yearly", Type("table", table_of(YEARLY, _yearly)),
        "makes the track recur every data year (below)"),
    Key("first_cycle", Type("integer", whole(1900, 2200, "the first data year to show, such as 2023", "{}",
                                        "a year between 1900 and 2200")),
        "the first data year a calendar shows", requirement="with `yearly`", example="`2023`"),
    Key("published", Type("table of year = local date-time, or year = `{ at, changes }`",
                          years(local_deadline, "at")),
        "deadlines ACCME published; they win over the rule. A deadline that moved keeps its "
        "history in the long form (below)", requirement="no, with `yearly`",
        example="`2023 = 2024-04-01T23:59:00`"),
))


def _cycles(report: Report, where: str, ident: str, found: Read,
            yearly: bool) -> tuple[str, int | None]:
    """A track's cycle (a one-off track's, by default its id) and first data year (a
    yearly track's), refusing the keys of the other kind of track."""
    if not yearly:
        for key in ("first_cycle", "published"):
            if found.has(key):
                report.add(f"{where}.{key}", f"{key} in a track without [yearly]",
                           f"{key} only with a [tracks.{ident}.yearly] rule")
        return (found["cycle"] if found.has("cycle") else ident), None
    if found.has("cycle"):
        report.add(f"{where}.cycle", "cycle in a yearly track",
                   "cycles of a yearly track to be data years from first_cycle")
    if not found.has("first_cycle"):
        report.add(where, 'missing key "first_cycle"', "first_cycle to be set with [yearly]")
    return "", found["first_cycle"]


def track(report: Report, where: str, ident: str, value: Any) -> Track | None:
    """One [tracks.ID] table with its milestones."""
    if safe_id(report, where, ident) is None:
        return None
    yearly = isinstance(value, dict) and "yearly" in value
    found = read(report, where, value, TRACK, context=yearly)
    if found is None:
        return None
    cycle, first_cycle = _cycles(report, where, ident, found, yearly)
    items = found["milestones"]
    checks.unique_ids(report, f"{where}.milestones", [m for m in items or [] if m],
                      "milestone id", "each id once per track")
    if items is None or None in items:
        return None
    checks.relative_order(report, where, items)
    if {"name", "source", "estimated", "cycle", "yearly"} & found.failed or (
            yearly and first_cycle is None):
        return None
    published, history = split_years(found["published"])
    made = Track(ident, found["name"], found["source"], "yearly" if yearly else "progress",
                 tuple(items), found["links"], cycle, None, found["estimated"], found["yearly"],
                 first_cycle, published, history)
    if made.yearly is not None:
        checks.deadlines_once(report, where, made)
    return made


TRACKS = Type("tables", keyed(track, "a table of [tracks.ID] tables"))
