"""A published progress-report cohort as a track: what the loader builds and the engine estimates from."""

from __future__ import annotations

from dataclasses import replace

from calfeed.core.dates import progress_fields
from calfeed.core.model import Change, Cohort, Day, Milestone, Month, PerCohort, Progress, Track


def fill_step(step: Milestone, when: Day | Month | None, fields: dict[str, str],
              note: str = "", changes: tuple[Change, ...] = ()) -> Milestone:
    """A progress-report step with its cohort's date (and its history) and its texts filled in."""
    return replace(step, title=step.title.format_map(fields),
                   description=step.description.format_map(fields) + note,
                   when=when if isinstance(step.when, PerCohort) and when else step.when,
                   changes=changes)


def cohort_track(progress: Progress, cohort: Cohort) -> Track:
    """A published cohort as a track: the steps, with this cohort's dates."""
    fields = progress_fields(cohort.next_decision_date)
    return Track(cohort.id, cohort.name, cohort.source, "progress",
                 tuple(fill_step(s, cohort.dates.get(s.id), fields, "", cohort.changes.get(s.id, ()))
                       for s in progress.steps),
                 cohort.links or progress.links, cohort.cycle, cohort.next_decision_date,
                 decision=cohort.decision)
