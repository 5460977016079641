"""Which Next Decision Dates calfeed takes: one rule, and one wording of it, for the roster and the builder."""

from __future__ import annotations

import re
from datetime import date

from calfeed.core.model import Progress
from calfeed.core.rules.report import show

# YYYY-MM-DD only: date.fromisoformat also takes 20240731 and 2024-W31-3.
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
# A decision report's Next Decision Date is at most a year after the decision:
# two years after today leaves room, and refuses a mistyped 2062.
NDD_YEARS_AHEAD = 2


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
    """What a Next Decision Date may be, in words: every message's "expected"."""
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


def parse(text: str, first: date | None, today: date) -> tuple[date | None, str | None]:
    """A Next Decision Date as written (YYYY-MM-DD), or why it cannot be one.

    Returns (the date, None) or (None, what is wrong); what was expected is always
    `ndd_accepted(first, today)`.
    """
    if not ISO_DAY.match(text):
        return None, f"{show(text)} is not a date written YYYY-MM-DD"
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None, f"{text} is not a day on the calendar"
    why = ndd_problem(first, day, today)
    return (None, why) if why else (day, None)
