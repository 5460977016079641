"""Date arithmetic that the loader and the engine both need: beneath both, importing neither."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta

from calfeed.core import wording
from calfeed.core.model import WEEKDAYS, YearlyRule

# Dates of real reporting years: far enough either way for any schedule, and far
# from the ends of Python's calendar (years 1 and 9999), where the engine's next
# day, or a conversion to UTC, overflows.
YEARS = range(1900, 2201)
# How many deadlines of a yearly track still ahead of today a calendar shows.
YEARS_AHEAD = 2
# `move` to a weekday: the first such day on or after the date.
DAYS = (MO, TU, WE, TH, FR, SA, SU)
FORWARD = {name: relativedelta(weekday=day(+1)) for name, day in zip(WEEKDAYS, DAYS)}
FRIDAY = 4
SATURDAY = 5
# Placeholders a progress-report step's texts may use; see progress_fields.
PROGRESS_FIELDS = ("next_decision_date", "review_cohort", "review_year")


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    """ZoneInfo objects are cached by the library too; this skips its lock."""
    return ZoneInfo(name)


def move(day: date, how: str | None) -> date:
    """Move a day forward to a named weekday, or off a weekend: to Monday, or back to Friday."""
    if how is None:
        return day
    if how == "off-weekend":
        return day + FORWARD["monday"] if day.weekday() >= SATURDAY else day
    if how == "back-off-weekend":
        return on_or_before(day, FRIDAY) if day.weekday() >= SATURDAY else day
    return day + FORWARD[how]


def on_or_before(day: date, weekday: int) -> date:
    """The given weekday (Monday = 0) on or before a day."""
    return day + relativedelta(weekday=DAYS[weekday](-1))


def rule_deadline(rule: YearlyRule, data_year: int) -> datetime:
    """A yearly rule's deadline for a data year: its day moved as the rule says, at its time, in its zone."""
    hour, minute = map(int, rule.time.split(":"))
    day = move(date(data_year + rule.year_offset, rule.month, rule.day), rule.move)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(rule.tz))


def cohort_identity(ndd: date) -> tuple[str, str]:
    """The schedule id and cycle of a Next Decision Date's events, in URLs and UIDs.

    Named after the Next Decision Date alone, because that is all a provider
    knows: an estimate and the cohort published later get the same UIDs.
    """
    return f"progress-{ndd.isoformat()}", ndd.isoformat()


def progress_fields(ndd: date) -> dict[str, str]:
    """The values of a progress-report step's placeholders, from the Next Decision Date."""
    return {"next_decision_date": wording.long_date(ndd), "review_cohort": wording.month_year(ndd),
            "review_year": str(ndd.year)}
