"""Checks across keys and tables: what no single value shows, run on whatever did read.

Each takes the values that read (a field that failed is simply absent), so one broken
value never hides another problem of the file.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta

from calfeed.core.dates import YEARS, YEARS_AHEAD, rule_deadline
from calfeed.core.model import (
    WEEKDAYS,
    Change,
    Day,
    Group,
    Milestone,
    Month,
    PerCohort,
    Profile,
    Relative,
    Track,
    Undated,
)
from calfeed.core.rules.groups import Row as GroupRow
from calfeed.core.rules.report import Report, did_you_mean, key_place, show
from calfeed.core.rules.values import clock_change, once

# The last data year a calendar can show: "today" is at most the last of YEARS, and a
# yearly track runs to the YEARS_AHEAD-th deadline after today.
LAST_DATA_YEAR = YEARS[-1] + YEARS_AHEAD
COHORT_DATE = 'a date like 2024-01-24, or a quoted month like "2024-07"'
# The step whose date is ACCME's decision on the progress report: in the month of the
# Next Decision Date ("July 2024" for July 31, 2024, source 000), after the decision
# cohort that asked for the report.
DECISION_STEP = "decision"
# Every milestone date ACCME has published in a progress-report table is a Wednesday
# (source 000): another weekday is possible, but more likely a typo.
WEDNESDAY = 2


def moves_once(report: Report, where: str, moves: tuple[Change, ...], zone: str) -> None:
    """Each timed `was` of a history happens once in its zone: pages and diffs word it."""
    for n, move in enumerate(moves, 1):
        if isinstance(move.was, datetime):
            once(report, f"{where}[{n}].was", move.was, zone)


def unique_ids(report: Report, where: str, items: Sequence[Milestone], what: str,
               expected: str) -> bool:
    """False (and one problem per id) where two items share an id."""
    ids = [m.id for m in items]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    for ident in twice:
        report.add(where, f"duplicate {what} {show(ident)}", expected)
    return not twice


def relative_order(report: Report, where: str, milestones: Sequence[Milestone]) -> None:
    """Relative dates must point at a dated milestone of the track, without cycles."""
    by_id = {m.id: m for m in milestones}
    for n, milestone in enumerate(milestones, 1):
        if not isinstance(milestone.when, Relative):
            continue
        target = by_id.get(milestone.when.after)
        if target is None:
            report.add(f"{where}.milestones[{n}].after",
                       f"unknown milestone {show(milestone.when.after)}",
                       "one of: " + ", ".join(by_id))
        elif isinstance(target.when, (Month, Undated)):
            report.add(f"{where}.milestones[{n}].after",
                       f"milestone {show(target.id)} has no day to count from",
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


def deadlines_once(report: Report, where: str, track: Track) -> None:
    """Every deadline a calendar can show of a yearly track happens once in its zone.

    The published ones, each; the rule's, in every data year from first_cycle to
    LAST_DATA_YEAR, in one line per rule (a rule at 02:30 on a Sunday in March falls
    into the gap only in some years).
    """
    rule = track.yearly
    assert rule is not None and track.first_cycle is not None
    for year, local in sorted(track.published.items()):
        once(report, f"{where}.published.{year}", local, rule.tz)
        moves_once(report, f"{where}.published.{year}.changes", track.history.get(year, ()),
                   rule.tz)
    failing = []
    for year in range(track.first_cycle, LAST_DATA_YEAR + 1):
        if year not in track.published:
            change = clock_change(rule.tz, rule_deadline(rule, year).replace(tzinfo=None))
            if change:
                failing.append((year, change))
    if failing:
        (year, (what, expected)), more = failing[0], len(failing) - 1
        also = (f" (and the deadlines of {more} later data years up to {LAST_DATA_YEAR})"
                if more else "")
        report.add(f"{where}.yearly.time",
                   f'"{rule.time}" on the deadline of data year {year}: {what}{also}', expected)


# --- progress-report cohorts -------------------------------------------------------------------

def cohort_steps(report: Report, where: str, dates: dict[str, object],
                 steps: Sequence[Milestone]) -> bool:
    """A cohort's `dates` name each dated step once and nothing else; False if not."""
    by_id = {s.id: s for s in steps}
    fine = True
    for key in dates:
        step = by_id.get(key)
        here = key_place(f"{where}.dates", key)
        if step is None:
            report.add(here, f"unknown step {show(key)}{did_you_mean(key, by_id)}",
                       "one of the [[progress.steps]] ids: " + ", ".join(by_id))
            fine = False
        elif not isinstance(step.when, PerCohort):
            report.add(here, f"a date for step {show(key)}, which has `when`",
                       "no date for an undated step")
            fine = False
    for step in steps:
        if isinstance(step.when, PerCohort) and step.id not in dates:
            report.add(f"{where}.dates", f"no date for step {show(step.id)}",
                       f"one date per dated step: {step.id} = {COHORT_DATE}")
            fine = False
    return fine


# Where each Next Decision Date and each id was first seen: cohorts[n].
Seen = dict[tuple[str, object], int]


def once_each(report: Report, where: str, n: int, ndd: date | None, ident: str | None,
              seen: Seen) -> bool:
    """One cohort per Next Decision Date and per id; False (and a problem) for the second."""
    fine = True
    if ndd is not None and ("ndd", ndd) in seen:
        report.add(f"{where}.next_decision_date", f"Next Decision Date {ndd.isoformat()} again",
                   f"one cohort per Next Decision Date; first in cohorts[{seen['ndd', ndd]}]")
        fine = False
    if ident is not None and ("id", ident) in seen:
        report.add(f"{where}.id", f"id {show(ident)} again",
                   f"each id once; first in cohorts[{seen['id', ident]}]")
        fine = False
    seen.setdefault(("ndd", ndd), n)
    seen.setdefault(("id", ident), n)
    return fine


def _span(when: Day | Month) -> tuple[date, date]:
    """The first and last day a step's date may be."""
    if isinstance(when, Day):
        return when.day, when.day
    last = calendar.monthrange(when.year, when.month)[1]
    return date(when.year, when.month, 1), date(when.year, when.month, last)


def _written(when: Day | Month) -> str:
    """A step's date as rules.toml writes it."""
    return when.day.isoformat() if isinstance(when, Day) else f'"{when.year:04d}-{when.month:02d}"'


def field_date(when: Day | Month) -> str:
    """A step's date as a roster cell or a form field holds it: 2027-01-13, 2027-07."""
    return when.day.isoformat() if isinstance(when, Day) else f"{when.year:04d}-{when.month:02d}"


@dataclass(frozen=True)
class _Frame:
    """How the step checks word a date and the steps' order: for rules.toml, or for a report."""

    written: Callable[[Day | Month], str]
    order: str  # what "in order" means, as the message's expected text


COHORT_FRAME = _Frame(_written, "dates in the order of the [[progress.steps]]")


def _not_before(report: Report, here: str, when: Day | Month, before: str,
                earlier: Day | Month, frame: _Frame = COHORT_FRAME) -> bool:
    """A step's date not before the date of the step before it."""
    if _span(when)[1] >= _span(earlier)[0]:
        return True
    report.add(here, f"{frame.written(when)} is before step {show(before)} "
               f"({frame.written(earlier)}), which comes earlier", frame.order)
    return False


def _in_its_frame(report: Report, here: str, ident: str, when: Day | Month, ndd: date | None,
                  decision: Month | None, frame: _Frame = COHORT_FRAME) -> bool:
    """A step's date after the decision that required the report, and by its Next Decision
    Date; ACCME's decision in that date's month."""
    first, last = _span(when)
    written = frame.written
    fine = True
    if ndd is not None and first > ndd:
        report.add(here, f"{written(when)} is after the Next Decision Date {ndd.isoformat()}",
                   "every step on or before the Next Decision Date")
        fine = False
    if decision is not None and ident == DECISION_STEP and first <= _span(decision)[1]:
        report.add(here, f"{written(when)} is not after the decision cohort {written(decision)}",
                   "ACCME's decision on the report after the decision that required it")
        fine = False
    elif decision is not None and last < _span(decision)[0]:
        report.add(here, f"{written(when)} is before the decision cohort {written(decision)}",
                   "steps after the decision that required them")
        fine = False
    if ident == DECISION_STEP and ndd is not None and (first.year, first.month) != (
            ndd.year, ndd.month):
        report.add(here, f"{written(when)} is not the month of the Next Decision Date "
                   f"{ndd.isoformat()}", f"{written(Month(ndd.year, ndd.month))}: ACCME decides "
                   "in the month of the Next Decision Date")
        fine = False
    return fine


def cohort_dates(report: Report, where: str, dates: dict[str, Day | Month],
                 steps: Sequence[Milestone], ndd: date | None, decision: Month | None) -> bool:
    """A cohort's dates as they can be; False (and a problem each) where they cannot.

    In the order of the steps; none after the Next Decision Date; none before the
    decision cohort that required the report; ACCME's decision in the month of the Next
    Decision Date. A day that is not a Wednesday is only a warning.
    """
    ordered = [(s.id, dates[s.id]) for s in steps if s.id in dates]
    fine = True
    for n, (ident, when) in enumerate(ordered):
        here = key_place(f"{where}.dates", ident)
        if n:
            fine = _not_before(report, here, when, *ordered[n - 1]) and fine
        fine = _in_its_frame(report, here, ident, when, ndd, decision) and fine
        if isinstance(when, Day) and when.day.weekday() != WEDNESDAY:
            report.warn(here, f"{when.day.isoformat()} is a "
                        f"{WEEKDAYS[when.day.weekday()].capitalize()}",
                        "a Wednesday, as every milestone ACCME has published")
    return fine


def reported_dates(report: Report, place: Callable[[str], str], dates: dict[str, Day | Month],
                   steps: Sequence[str], ndd: date) -> bool:
    """A provider's own dates from its decision report as they can be; False (and a problem
    each, placed by `place(step id)`) where they cannot.

    The cohort checks (the steps' order, none after the Next Decision Date, the
    decision in its month), and none more than a year before the Next Decision Date: a
    progress report is due within a year of the decision that asked for it. A day that
    is not a Wednesday is the report's to say: no warning.
    """
    frame = _Frame(field_date, "dates in the order of the steps: " + ", ".join(steps))
    earliest = ndd - relativedelta(years=1)
    ordered = [(ident, dates[ident]) for ident in steps if ident in dates]
    fine = True
    for n, (ident, when) in enumerate(ordered):
        here = place(ident)
        if n:
            fine = _not_before(report, here, when, *ordered[n - 1], frame=frame) and fine
        fine = _in_its_frame(report, here, ident, when, ndd, None, frame) and fine
        if _span(when)[1] < earliest:
            report.add(here, f"{field_date(when)} is more than a year before the Next Decision "
                       f"Date {ndd.isoformat()}", f"a date from {earliest.isoformat()} to "
                       f"{ndd.isoformat()}")
            fine = False
    return fine


# --- groups --------------------------------------------------------------------------------------

def members(report: Report, rows: Mapping[str, GroupRow], providers: Mapping[str, Profile]
            ) -> dict[str, Group]:
    """Each group with its providers in roster order: those whose `groups` cell names it and,
    for a group with an accreditor, every provider it accredits. A group nobody belongs to
    is a warning: possible (a consultant's first client not yet on the roster), but more
    likely a misspelt id."""
    found: dict[str, Group] = {}
    for ident, row in rows.items():
        ids = tuple(p.id for p in providers.values()
                    if ident in p.groups or (row.accreditor and p.accreditor == row.accreditor))
        if not ids:
            report.warn(f"row {row.row} (id {show(ident)})", "no provider belongs to the group",
                        "a roster whose groups cell names it"
                        + (f", or a provider accredited by {row.accreditor}" if row.accreditor
                           else ", or an accreditor"))
        found[ident] = Group(ident, row.name, ids, row.accreditor, row.rotation, row.contacts)
    return found
