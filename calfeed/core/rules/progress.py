"""`[progress]`: the progress-report steps, written once, and each published cohort's dates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from calfeed.core import wording
from calfeed.core.dates import PROGRESS_FIELDS, cohort_identity
from calfeed.core.model import Change, Cohort, Day, Milestone, Month, PerCohort, Progress, Undated
from calfeed.core.rules import checks
from calfeed.core.rules.history import dated
from calfeed.core.rules.report import Report, kind, show
from calfeed.core.rules.schema import Key, Read, Table, Type, array_of, as_written, keyed, read
from calfeed.core.rules.text import DESCRIPTION, TEXT
from calfeed.core.rules.tracks import LINKS, step_texts
from calfeed.core.rules.values import ACTOR, DATE, FLAG, ID, MONTH_TYPE, month_start, plain_date

STEP = Table("[[progress.steps]]", (
    Key("id", ID, "stable name of the step (part of its UID)", required=True,
        example='`"materials-due"`'),
    Key("title", TEXT, "ACCME's wording, short", required=True,
        example='`"Progress Report Materials Submission Deadline"`'),
    Key("description", DESCRIPTION, "the full paragraph", default_text="the title"),
    Key("actor", ACTOR, "`provider`, `accme` or `accreditor`", required=True,
        example='`"accme"`'),
    Key("links", LINKS, "links for this step", default=(),
        example='`[{ title = "PARS", url = "https://pars.accme.org/" }]`'),
    Key("only_if", FLAG, "only for providers with this flag: `enduring_materials`"),
    Key("when", TEXT, "an undated step: the wording shown instead of a date; cohorts give it "
        "no date", example='`"Due upon receipt of invoice"`'),
))


def step(report: Report, where: str, value: Any) -> Milestone | None:
    """One progress-report step: ACCME's words and who acts; dated per cohort unless `when`."""
    before = len(report.problems)
    found = read(report, where, value, STEP)
    if found is None:
        return None
    texts = step_texts(report, where, found, PROGRESS_FIELDS)
    # Any problem (a bad placeholder too) drops the step: its texts are formatted later.
    if texts is None or not found.ok or len(report.problems) > before:
        return None
    when = Undated(found["when"]) if found.has("when") else PerCohort()
    return Milestone(found["id"], *texts, found["actor"], when, found["links"], found["only_if"])


def cohort_date(report: Report, where: str, name: str,
                value: Any) -> tuple[Day | Month, tuple[Change, ...]] | None:
    """One step's date in a published cohort, and its history.

    A day (`2024-01-24`) or a month only (`"2024-07"`), bare, or in the long form
    with its history: `{ date = 2024-04-10, changes = [...] }`, `{ month = "2024-07",
    changes = [...] }` (`dated` reads it, as every other dated value).
    """
    if isinstance(value, datetime) or not isinstance(value, (date, str, dict)):
        report.add(where, f"{kind(value)} {show(value)}", checks.COHORT_DATE)
        return None
    if isinstance(value, str) or (isinstance(value, dict) and "month" in value):
        first, history = dated(report, where, value, "month", month_start)
        return (Month(first.year, first.month), history) if first else None
    day, history = dated(report, where, value, "date", plain_date)
    return (Day(day), history) if day else None


COHORT = Table("[[progress.cohorts]]", (
    Key("decision", MONTH_TYPE, "the decision cohort the table is for (before the Next Decision "
        "Date)", required=True, example='`"2023-11"`'),
    Key("next_decision_date", DATE, "the Next Decision Date the table applies to", required=True,
        example="`2024-07-31`"),
    Key("source", TEXT, "the publication", required=True,
        example='`"ACCME Progress Report Milestones — For November 2023 Cohort …"`'),
    Key("dates", Type("table of step id = date",
                      keyed(cohort_date, "a table of step id = " + checks.COHORT_DATE, quote=True)),
        "one date per dated step, in the steps' order, none after the Next Decision Date: a day "
        "(`2024-01-24`) or a month only (`\"2024-07\"`); a date that moved keeps its history in "
        "the long form `{ date = …, changes = […] }` (see `changes`)", required=True,
        example='`{ enter-activity-data = 2024-01-24, …, decision = "2024-07" }`'),
    Key("name", TEXT, "the schedule's title (default: \"Progress Report Milestones — Next "
        "Decision Date July 31, 2027\")", example='`"8-Month Progress Report Milestones"`'),
    Key("links", LINKS, "this cohort's links (its Guide), instead of `[progress].links`",
        default=()),
    Key("id", ID, "the schedule's id in URLs and UIDs; default `progress-<next_decision_date>`. "
        "**Leave it out**: only the two November 2023 tables set it (`progress-8-month`, "
        "`progress-12-month`), because calendars held their events before cohorts were data"),
    Key("cycle", ID, "the cycle in UIDs; default the Next Decision Date. Leave it out, as `id`"),
))


def _decision(report: Report, where: str, found: Read) -> Month | None:
    """The decision cohort, which comes before the Next Decision Date."""
    decision: Month | None = found["decision"]
    ndd: date | None = found["next_decision_date"]
    if decision and ndd and (decision.year, decision.month) >= (ndd.year, ndd.month):
        report.add(f"{where}.decision", f'"{decision.year:04d}-{decision.month:02d}" is not '
                   f"before the Next Decision Date {ndd.isoformat()}",
                   "the month ACCME decided, before the Next Decision Date")
        return None
    return decision


def _identity(found: Read) -> tuple[str | None, str | None]:
    """The cohort's id and cycle in URLs and UIDs: its Next Decision Date's, unless given."""
    ndd = found["next_decision_date"]
    ident, cycle = cohort_identity(ndd) if ndd else (None, None)
    return (found["id"] if found.has("id") else ident,
            found["cycle"] if found.has("cycle") else cycle)


def cohort(report: Report, where: str, value: Any, steps: tuple[Milestone, ...] | None,
           ) -> tuple[Cohort | None, date | None, str | None]:
    """One [[progress.cohorts]] table: a published table of one Next Decision Date.

    With `steps` None (a step did not load) its dates are checked as dates only, so
    every other problem is still reported. Returns the cohort (None if refused), and
    its Next Decision Date and id where they read, for the checks across cohorts.
    """
    found = read(report, where, value, COHORT)
    if found is None:
        return None, None, None
    decision, ndd = _decision(report, where, found), found["next_decision_date"]
    ident, cycle = _identity(found)
    entries = found["dates"]
    if entries is None:  # not a table: said once, and no step's date is missing twice
        return None, ndd, ident
    dates = {key: when for key, (when, _) in entries.items()}
    fine = found.ok and decision is not None and len(entries) == len(value["dates"])
    if steps is not None:
        fine = checks.cohort_steps(report, where, value["dates"], steps) and fine
        fine = checks.cohort_dates(report, where, dates, steps, ndd, decision) and fine
    if not fine or steps is None or ndd is None or decision is None or not ident or not cycle:
        return None, ndd, ident
    name = found["name"] or (
        f"Progress Report Milestones — Next Decision Date {wording.long_date(ndd)}")
    return Cohort(ident, cycle, decision, ndd, name, found["source"], found["links"], dates,
                  {key: moves for key, (_, moves) in entries.items() if moves}), ndd, ident


PROGRESS = Table("[progress]", (
    Key("name", TEXT, 'the name of an estimated schedule ("… — Next Decision Date July 31, 2027 '
        '(estimated)")', required=True, example='`"Progress Report Milestones"`'),
    Key("links", LINKS, "links shown with every step of an estimate, and of a cohort that lists "
        "none", default=(), example='`[{ title = "ACCME: Progress reports", url = '
        '"https://www.accme.org/progress-reports" }]`'),
    Key("steps", Type("array of tables", array_of(
        step, "an array of [[progress.steps]] tables", ("no steps", "at least one "
                                                        "[[progress.steps]] table"))),
        "the steps, in the publication's order", required=True),
    # Cohorts are read once the steps are: their dates name the steps.
    Key("cohorts", Type("array of tables", array_of(
        as_written, "an array of [[progress.cohorts]] tables")),
        "the published tables, one per Next Decision Date", default=[]),
))


def progress(report: Report, where: str, value: Any) -> Progress | None:
    """The [progress] table: the steps once, then one [[progress.cohorts]] per published table."""
    found = read(report, where, value, PROGRESS)
    if found is None:
        return None
    steps = found["steps"]
    unique = checks.unique_ids(report, f"{where}.steps", [s for s in steps or [] if s],
                               "step id", "each id once")
    known = tuple(steps) if steps and None not in steps and unique else None
    cohorts: list[Cohort] = []
    fine = known is not None and found.ok
    seen: checks.Seen = {}
    for n, item in enumerate(found["cohorts"] or [], 1):
        here = f"{where}.cohorts[{n}]"
        made, ndd, ident = cohort(report, here, item, known)
        fine = checks.once_each(report, here, n, ndd, ident, seen) and made is not None and fine
        cohorts += [made] if made else []
    if not fine or known is None:
        return None
    return Progress(found["name"], found["links"], known, tuple(cohorts))
