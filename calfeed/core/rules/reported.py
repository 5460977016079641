"""Dates from a provider's own decision report: how they are written and what they may be.

One parser for the roster's step columns and the builder's answers alike; both then
check the dates with checks.reported_dates, the cohort checks the loader runs on
ACCME's tables.
"""

from __future__ import annotations

import re
from datetime import date

from calfeed.core.dates import YEARS
from calfeed.core.model import Day, Month, PerCohort, Progress
from calfeed.core.rules.ndd import ISO_DAY
from calfeed.core.rules.report import show

ISO_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})\Z")
ACCEPTED = ("a day written YYYY-MM-DD, or a month written YYYY-MM where the decision report "
            "gives only the month")


def steps(progress: Progress | None) -> tuple[str, ...]:
    """The ids of the progress-report steps a report dates (not the undated ones), in order."""
    if progress is None:
        return ()
    return tuple(s.id for s in progress.steps if isinstance(s.when, PerCohort))


def parse(text: str) -> tuple[Day | Month | None, str | None]:
    """A date as written in a report's field: (the day or month, None), or (None, why not)."""
    month = ISO_MONTH.match(text)
    if ISO_DAY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None, f"{text} is not a day on the calendar"
        return (Day(day), None) if day.year in YEARS else (None, f"{text} is out of range")
    if month:
        if not 1 <= int(month[2]) <= 12:
            return None, f"{text} is not a month"
        if int(month[1]) not in YEARS:
            return None, f"{text} is out of range"
        return Month(int(month[1]), int(month[2])), None
    return None, f"{show(text)} is not a date written YYYY-MM-DD or a month written YYYY-MM"
