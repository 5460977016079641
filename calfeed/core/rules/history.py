"""A date's history (`changes = [{ was, announced, note }]`): the one reader for every dated value."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from calfeed.core.model import Change, Day, Month
from calfeed.core.rules.report import Report, kind, show
from calfeed.core.rules.schema import Key, Parse, Table, Type, as_written, keyed, read
from calfeed.core.rules.text import TEXT
from calfeed.core.rules.values import month, plain_date

CHANGES_EXPECTED = "an array of { was, announced, note } tables, oldest first"
# Date forms whose date can move with a recorded history (the others are estimates
# or have no date).
HISTORY_FORMS = ("date", "month", "at")


def announced(report: Report, where: str, value: Any) -> Day | Month | None:
    """When a move was announced: a date, or a quoted month when the day is not known."""
    if isinstance(value, str):
        return month(report, where, value)
    day = plain_date(report, where, value)
    return Day(day) if day else None


def _as_its_date(report: Report, where: str, value: Any, parse: Parse) -> Any:
    """A value read as the date it belongs to is (`parse`, the reading's context)."""
    return parse(report, where, value)


CHANGE = Table("changes", (
    Key("was", Type("the date's own form", _as_its_date, contextual=True),
        "the date before this move: a date, a quoted month, or a local date-time in the "
        "deadline's zone", required=True, example="`was = 2020-03-31T23:59:00`"),
    Key("announced", Type('date, or `"YYYY-MM"`', announced),
        "when the move was announced; a month when the day is not known", required=True,
        example='`announced = "2020-03"`'),
    Key("note", TEXT, "why, in a few words",
        example='`"Extended because of the COVID-19 public health emergency"`'),
))
# `changes` in another table: read by `changes` once the date it belongs to is known.
CHANGES = Type("array of `{ was, announced, note }`", as_written)


def first_day(when: Day | Month) -> date:
    """The first day an announcement may have been made."""
    return when.day if isinstance(when, Day) else date(when.year, when.month, 1)


def _written(when: Day | Month) -> str:
    """An announcement date as the file writes it."""
    if isinstance(when, Day):
        return when.day.isoformat()
    return f"{when.year:04d}-{when.month:02d}"


def changes(report: Report, where: str, value: Any, parse: Parse,
            current: Any) -> tuple[Change, ...]:
    """A dated value's history, oldest first.

    `parse` reads `was` in the same form as the value itself, and `current` is the
    value now, which no entry may repeat (a move to the same date is a typo).
    """
    if isinstance(value, dict):  # `changes = { was = … }`: the brackets were forgotten
        report.add(where, "a single table, not an array", CHANGES_EXPECTED + ", in [ ]")
        return ()
    if not isinstance(value, list):
        report.add(where, f"{kind(value)} {show(value)}", CHANGES_EXPECTED)
        return ()
    found: list[Change] = []
    for n, item in enumerate(value, 1):
        here = f"{where}[{n}]"
        entry = read(report, here, item, CHANGE, context=parse)
        if entry is None:
            continue
        was, when = entry["was"], entry["announced"]
        if was is not None and current is not None and was == current:
            report.add(f"{here}.was", f"{show(was)} is the date as it is now",
                       "the date before it moved")
            was = None
        if found and when is not None and first_day(when) < first_day(found[-1].announced):
            report.add(f"{here}.announced",
                       f"{show(_written(when))} is earlier than the entry before it",
                       "entries oldest first")
        if was is None or when is None or "note" in entry.failed:
            continue
        found.append(Change(was, when, entry["note"]))
    return tuple(found)


def dated(report: Report, where: str, value: Any, form: str,
          parse: Parse) -> tuple[Any, tuple[Change, ...]]:
    """A dated value written bare (`2024 = 2025-03-14`) or with its history.

    The long form is a table of the value under `form` and `changes`:
    `2019 = { at = 2020-04-30T23:59:00, changes = [{ was = …, announced = …, note = … }] }`.
    Returns the value (None if it is broken) and its history.
    """
    if not isinstance(value, dict):
        return parse(report, where, value), ()
    table = LONG_FORMS[form]
    entry = read(report, where, value, table, context=parse)
    if entry is None or not entry.has(form):
        return None, ()
    current = entry[form]
    return current, changes(report, f"{where}.changes", value.get("changes", []), parse, current)


# The long forms: `{ at = …, changes = […] }` for a timed deadline, `date =` for a
# day, `month =` for a month (a cohort's month-only step).
LONG_FORMS = {form: Table(f"{{ {form}, changes }}", (
    Key(form, Type("", _as_its_date, contextual=True), "the date as it is now", required=True),
    Key("changes", CHANGES, "how it moved"),
)) for form in HISTORY_FORMS}


def years(parse: Parse, form: str, expected: str = "a table of data year = date",
          ) -> Callable[[Report, str, Any], dict[str, tuple[Any, tuple[Change, ...]]] | None]:
    """A parser of a table keyed by data year (`2024 = …`), each year bare or with its history.

    Returns data year → (its value, its history); a refused year is left out.
    """
    def entry(report: Report, where: str, name: str, value: Any) -> Any:
        # Not str.isdigit(): it is true of "²⁰²⁴", which int() cannot read.
        if not re.fullmatch(r"[0-9]{4}", name):
            report.add(where, f"{show(name)} is not a year", "a data year such as 2024")
            return None
        parsed, moves = dated(report, where, value, form, parse)
        return None if parsed is None else (parsed, moves)
    return keyed(entry, expected)


def split_years(found: dict[str, tuple[Any, tuple[Change, ...]]] | None,
                ) -> tuple[dict[int, Any], dict[int, tuple[Change, ...]]]:
    """A `years` table as two: data year → value, data year → its history (where it has one)."""
    values = {int(year): value for year, (value, _) in (found or {}).items()}
    history = {int(year): moves for year, (_, moves) in (found or {}).items() if moves}
    return values, history
