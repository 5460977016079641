"""Expand the rules for one profile into dated events. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from calfeed.core import wording
from calfeed.core.cohorts import fill_step
from calfeed.core.dates import (
    YEARS_AHEAD,
    cohort_identity,
    move,
    on_or_before,
    progress_fields,
    rule_deadline,
)
from calfeed.core.dates import zone as _zone
from calfeed.core.model import (
    WEEKDAYS,
    Accreditor,
    Calendar,
    Change,
    Cohort,
    Day,
    Deadline,
    Event,
    Link,
    Milestone,
    Month,
    PerCohort,
    Precision,
    Profile,
    Progress,
    Relative,
    Replaced,
    Rules,
    Timed,
    Track,
    Undated,
)

# The calendar's sequence counts minutes of revision since this instant: it only ever grows
# when `revised` grows, and fits the 32-bit integer some clients expect.
SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
# Where events' own SEQUENCE numbers start: the calendar sequence of a revision at
# 2027-01-01, above every number the calendar-wide scheme wrote before (event_sequence).
SEQUENCE_FLOOR = 3_682_080
# Estimated steps whose places in the published cohorts lie further apart than
# this are shown as a month: a day would claim more than the pattern knows.
SAME_PLACE_DAYS = 6


@dataclass(frozen=True)
class _Due:
    """A resolved date form: when, how precise, and whether a rule made it up."""

    start: date | datetime | None
    precision: Precision
    estimated: bool
    changes: tuple[Change, ...] = ()  # `was` in the same form as start
    reported: bool = False  # from the provider's own decision report


def yearly_deadline(track: Track, data_year: int) -> _Due:
    """The deadline of one data year: the published one, else the rule's (estimated)."""
    rule = track.yearly
    assert rule is not None
    zone = _zone(rule.tz)
    if data_year in track.published:
        return _Due(track.published[data_year].replace(tzinfo=zone), "time", False,
                    _in_zone(track.history.get(data_year, ()), zone))
    return _Due(rule_deadline(rule, data_year), "time", True)


def _in_zone(history: tuple[Change, ...], zone: ZoneInfo) -> tuple[Change, ...]:
    """A timed date's history with each `was` in the deadline's zone, as its start is."""
    moved = []
    for change in history:
        assert isinstance(change.was, datetime)  # the loader reads `was` in its date's form
        moved.append(replace(change, was=change.was.replace(tzinfo=zone)))
    return tuple(moved)


def cycles(track: Track, today: date) -> list[int]:
    """Data years of a yearly track: from first_cycle to the second deadline after today."""
    assert track.first_cycle is not None
    years, ahead, year = [], 0, track.first_cycle
    while ahead < YEARS_AHEAD:
        years.append(year)
        start = yearly_deadline(track, year).start
        assert isinstance(start, datetime)  # a yearly deadline is a timed one
        if start.date() >= today:
            ahead += 1
        year += 1
    return years


def cycle_fields(data_year: int, deadline: _Due) -> dict[str, str]:
    """The values of the placeholders a yearly track's texts may use."""
    day = deadline.start.date() if isinstance(deadline.start, datetime) else deadline.start
    assert day is not None  # a yearly deadline always has a date
    return {"data_year": str(data_year), "next_year": str(data_year + 1),
            "deadline": wording.long_date(day)}


def _resolve(milestone: Milestone, track: Track, done: dict[str, _Due],
             deadline: _Due | None) -> _Due:
    """Resolve one milestone's date form (relative ones after their anchors)."""
    when = milestone.when
    # A date from the provider's own decision report is nobody's guess, in any schedule.
    estimated = (milestone.estimated or track.estimated) and not milestone.reported
    if isinstance(when, Day):
        return _Due(when.day, "day", estimated, milestone.changes, milestone.reported)
    if isinstance(when, Month):
        return _Due(date(when.year, when.month, 1), "month", estimated, milestone.changes,
                    milestone.reported)
    if isinstance(when, Timed):
        zone = _zone(when.tz)
        return _Due(when.at.replace(tzinfo=zone), "time", estimated,
                    _in_zone(milestone.changes, zone))
    if isinstance(when, Undated):
        return _Due(None, "undated", estimated)
    if isinstance(when, Deadline):
        assert deadline is not None
        return _Due(deadline.start, deadline.precision, deadline.estimated or estimated,
                    deadline.changes)
    assert isinstance(when, Relative)
    anchor = done[when.after]
    base = anchor.start.date() if isinstance(anchor.start, datetime) else anchor.start
    assert base is not None  # checks.relative_order refused an anchor with no day
    day = move(base + timedelta(days=when.days), when.move)
    # A date counted from another is a rule's guess, never ACCME's word.
    return _Due(day, "day", True)


def _resolve_all(track: Track, deadline: _Due | None) -> dict[str, _Due]:
    """Resolve every milestone of a track; relative ones once their anchor is known."""
    done: dict[str, _Due] = {}
    pending = list(track.milestones)
    while pending:  # rules.load refused cycles and unknown anchors, so this ends
        waiting = []
        for milestone in pending:
            when = milestone.when
            if isinstance(when, Relative) and when.after not in done:
                waiting.append(milestone)
            else:
                done[milestone.id] = _resolve(milestone, track, done, deadline)
        pending = waiting
    return done


def _end(start: date | datetime | None, precision: Precision) -> date | datetime | None:
    """The exclusive end: the next day, the next month's first, or a minute later."""
    if precision == "undated":
        return None
    assert start is not None  # only an undated step has no start
    if precision == "day":
        return start + timedelta(days=1)
    if precision == "month":
        return start + relativedelta(months=1)
    return start + timedelta(minutes=1)


def accreditor_deadline(accreditor: Accreditor, data_year: int,
                        accme_day: date) -> tuple[date, bool] | None:
    """An accreditor's deadline for a data year and whether it is estimated; None if unknown.

    A published date wins; else the accreditor's rule: its weekday on or before
    ACCME's deadline minus its days, so the estimate is never later than the
    pattern of its published years.
    """
    if data_year in accreditor.deadlines:
        return accreditor.deadlines[data_year], False
    rule = accreditor.rule
    if rule is None:
        return None
    day = accme_day - timedelta(days=rule.days_before)
    return on_or_before(day, WEEKDAYS.index(rule.weekday)), True


def _accreditor_due(accreditor: Accreditor, data_year: int,
                    accme: _Due) -> tuple[_Due, str, str, str | None]:
    """The accreditor's deadline (published, else its rule's), else ACCME's with a warning.

    Returns the date, a suffix for the title, a note for the description, and a
    caveat for the title's parenthesis when the date is ACCME's, not the accreditor's.
    """
    accme_at = accme.start
    assert isinstance(accme_at, datetime)
    own = accreditor_deadline(accreditor, data_year, accme_at.date())
    name = accreditor.name
    if own is None:
        return (accme, "", wording.accme_not_accreditor_note(name, data_year),
                wording.accme_not_accreditor_caveat(name))
    day, estimated = own
    if estimated:
        rule = accreditor.rule
        assert rule is not None
        note = wording.accreditor_estimate_note(name, data_year, rule.weekday, rule.days_before,
                                                accme_at)
    else:
        note = wording.accreditor_published_note(name, accme_at)
    history = () if estimated else accreditor.history.get(data_year, ())
    return (_Due(day, "day", estimated, history), wording.accreditor_suffix(name), note, None)


def _accreditor_estimate(accreditor: Accreditor, accme_day: date) -> _Due | None:
    """What the accreditor's rule gives for a data year, whether or not it published a date."""
    rule = accreditor.rule
    if rule is None:
        return None
    day = on_or_before(accme_day - timedelta(days=rule.days_before), WEEKDAYS.index(rule.weekday))
    return _Due(day, "day", True)


def _cohort_estimates(progress: Progress | None, track: Track) -> dict[str, _Due]:
    """calfeed's estimate of each step of a published cohort, as it stood before the publication.

    The estimated schedule its Next Decision Date had from the cohorts above it in
    rules.toml (published before it), under the same UIDs. None for a cohort named
    otherwise (the two November 2023 tables, whose events no estimate ever held) or
    with no cohort before it.
    """
    ndd = track.next_decision_date
    if progress is None or ndd is None or track.estimated:
        return {}
    if (track.id, track.cycle) != cohort_identity(ndd):
        return {}
    place = next((n for n, c in enumerate(progress.cohorts) if c.id == track.id), 0)
    estimate = estimated_track(replace(progress, cohorts=progress.cohorts[:place]), ndd) \
        if place else None
    return _resolve_all(estimate, None) if estimate else {}


def _replaced(due: _Due, estimate: _Due | None) -> Replaced | None:
    """The estimate a published date replaced, if calfeed had one and it was not that date.

    Compared with the date as first published: a later move is history (`changes`).
    """
    if estimate is None or estimate.start is None or due.estimated or due.start is None:
        return None
    first = due.changes[0].was if due.changes else due.start
    if (estimate.start, estimate.precision) == (first, due.precision):
        return None
    return Replaced(estimate.start, estimate.precision)


def _estimated_date(cohorts: list[Cohort], step: Milestone, ndd: date) -> Day | Month:
    """Where a step falls for a Next Decision Date, placed as it was in the given cohorts.

    A day keeps its distance before the Next Decision Date, moved back to the
    weekday ACCME used; with several cohorts the earliest place wins. A step where
    the provider acts is always a day, the earliest place (a month a cohort gave
    only as a month counts from its first day): a coordinator needs a day to act by,
    and the earliest is never late. ACCME's own notices become a month where a cohort
    gave a month, or where the places disagree by more than SAME_PLACE_DAYS.
    """
    places: list[date] = []
    months = False
    for cohort in cohorts:
        when = cohort.dates[step.id]
        if isinstance(when, Day):
            ahead = cohort.next_decision_date - when.day
            places.append(on_or_before(ndd - ahead, when.day.weekday()))
        else:
            model = cohort.next_decision_date
            shift = (model.year - when.year) * 12 + model.month - when.month
            places.append(ndd.replace(day=1) - relativedelta(months=shift))
            months = True
    first = min(places)
    if step.actor != "provider" and (months or (max(places) - first).days > SAME_PLACE_DAYS):
        return Month(first.year, first.month)
    return Day(first)


def model_cohorts(progress: Progress, ndd: date) -> list[Cohort]:
    """The cohorts an estimate follows: the latest with the same review month, else all."""
    same = [c for c in progress.cohorts if c.next_decision_date.month == ndd.month]
    if same:
        return [max(same, key=lambda c: c.next_decision_date)]
    return list(progress.cohorts)


def estimated_track(progress: Progress, ndd: date) -> Track | None:
    """An estimated schedule for a Next Decision Date no published cohort covers."""
    models = model_cohorts(progress, ndd)
    if not models:
        return None
    follows = "; ".join(c.source for c in models)
    note = "\n\n" + wording.estimated_step_note(follows)
    fields = progress_fields(ndd)
    ident, cycle = cohort_identity(ndd)
    steps = tuple(
        fill_step(s, _estimated_date(models, s, ndd) if isinstance(s.when, PerCohort) else None,
              fields, note)
        for s in progress.steps)
    return Track(ident, wording.estimated_schedule_name(progress.name, ndd),
                 wording.estimated_schedule_source(follows), "progress", steps, progress.links,
                 cycle, ndd,
                 estimated=True, follows=follows)


def published_cohort(rules: Rules, ndd: date) -> Track | None:
    """ACCME's published cohort for a Next Decision Date, as a track; None if none is."""
    return next((t for t in rules.tracks.values()
                 if t.kind == "progress" and t.next_decision_date == ndd), None)


def accme_schedule(rules: Rules, ndd: date) -> Track | None:
    """ACCME's progress-report schedule for a Next Decision Date: its cohort, else an estimate."""
    found = published_cohort(rules, ndd)
    if found is None and rules.progress is not None:
        found = estimated_track(rules.progress, ndd)
    return found


def own_schedule(progress: Progress, base: Track | None, ndd: date,
                 reported: tuple[tuple[str, Day | Month], ...],
                 accreditor: Accreditor | None = None) -> Track:
    """A progress-report schedule with the provider's own dates from its decision report.

    Each step it dates is `reported`, with a note on where the date comes from (and on
    ACCME's published date, where that differs: the provider's own stands); every other
    step keeps `base`'s date. A provider with a Recognized Accreditor has no ACCME base:
    only the steps it dated, named as its accreditor's. The schedule keeps the base's id
    and cycle (else the Next Decision Date's), so its events keep the UIDs of the
    estimate and of the cohort ACCME publishes (docs/design.md §3).
    """
    own = dict(reported)
    fields = progress_fields(ndd)
    ident, cycle = (base.id, base.cycle) if base else cohort_identity(ndd)
    before = {m.id: m for m in base.milestones} if base else {}
    name = accreditor.name if accreditor else None
    steps = []
    for step in progress.steps:
        when, replaced = own.get(step.id), before.get(step.id)
        if when is None:
            if replaced is not None:
                steps.append(replaced)
            continue
        # ACCME's date for the step, where it differs (a published cohort dates every step).
        accme = (replaced.when if base is not None and not base.estimated and replaced
                 and isinstance(replaced.when, (Day, Month)) and replaced.when != when else None)
        note = "\n\n" + wording.reported_step_note(name, accme)
        made = fill_step(step, when, fields, note, replaced.changes if replaced else ())
        if accreditor is not None:
            # Its accreditor, not ACCME, acts on this provider's progress report.
            made = replace(made, title=made.title + wording.accreditor_schedule_suffix(accreditor.name),
                           actor="accreditor" if made.actor == "accme" else made.actor)
        steps.append(replace(made, reported=True))
    everything = all(s.id in own for s in progress.steps if isinstance(s.when, PerCohort))
    if accreditor is not None:
        title, source = wording.accreditor_schedule_name(progress.name, ndd, accreditor.name), \
            wording.accreditor_schedule_source(accreditor.name)
    elif everything or base is None:
        title, source = wording.reported_schedule_name(progress.name, ndd), \
            wording.REPORTED_SOURCE
    else:
        title, source = wording.with_reported(base.name), f"{wording.REPORTED_SOURCE}; {base.source}"
    # Some of ACCME's dates kept: the schedule stays as estimated as its base was.
    partial = base is not None and accreditor is None and not everything
    estimated, follows = (base.estimated, base.follows) if partial and base else (False, None)
    links: tuple[Link, ...]
    if accreditor is not None:  # its accreditor's page, not ACCME's progress-report guide
        links = (Link(accreditor.name, accreditor.url),) if accreditor.url else ()
    else:
        links = base.links if base else progress.links
    return Track(ident, title, source, "progress", tuple(steps), links, cycle, ndd,
                 estimated=estimated, decision=base.decision if base else None, follows=follows)


def progress_schedule(rules: Rules, profile: Profile) -> Track | None:
    """The progress-report schedule of a profile's Next Decision Date, as its calendar shows it.

    ACCME's published cohort for that date, else an estimate, with the provider's own
    dates from its decision report in place of calfeed's. A provider with a Recognized
    Accreditor gets no ACCME schedule: its accreditor decides on its progress reports
    (published-dates.md, "Who accredits whom"), so it has only the dates it entered.
    """
    ndd = profile.next_decision_date
    if ndd is None or profile.tracks is not None:
        return None
    accreditor = rules.accreditors.get(profile.accreditor or "")
    if accreditor is not None:
        if not profile.reported or rules.progress is None:
            return None
        # Named after the Next Decision Date, as an estimate is: never a cohort of ACCME's.
        return own_schedule(rules.progress, None, ndd, profile.reported, accreditor)
    base = accme_schedule(rules, ndd)
    if base is None or not profile.reported or rules.progress is None:
        return base
    return own_schedule(rules.progress, base, ndd, profile.reported)


def tracks_for(rules: Rules, profile: Profile) -> list[Track]:
    """The tracks of a profile's calendar: its progress-report schedule first, then the others."""
    if profile.tracks is not None:
        return [t for t in rules.tracks.values() if t.id in profile.tracks]
    # Published cohorts come in through progress_schedule, for their Next Decision Date.
    found = [t for t in rules.tracks.values()
             if not (t.kind == "progress" and t.next_decision_date is not None)]
    schedule = progress_schedule(rules, profile)
    return ([schedule] if schedule else []) + found


def _expand(rules: Rules, track: Track, profile: Profile, cycle: str,
            deadline: _Due | None, fields: dict[str, str]) -> list[Event]:
    """The events of one cycle of one track for one profile."""
    resolved = _resolve_all(track, deadline)
    accreditor = rules.accreditors.get(profile.accreditor or "")
    estimates = _cohort_estimates(rules.progress, track) if track.kind == "progress" else {}
    data_year = int(cycle) if track.kind == "yearly" else None
    events = []
    for milestone in track.milestones:
        flag = milestone.only_if
        if flag and getattr(profile, flag) is False:
            continue
        due = resolved[milestone.id]
        title = milestone.title.format_map(fields) if fields else milestone.title
        description = milestone.description.format_map(fields) if fields else milestone.description
        caveats = []
        if flag and getattr(profile, flag) is None:
            caveats.append(wording.FLAG_CAVEATS[flag])
        links = milestone.links + tuple(l for l in track.links if l not in milestone.links)
        explained = track.follows is not None
        estimate = estimates.get(milestone.id)
        if isinstance(milestone.when, Deadline) and track.yearly is not None:
            estimate = _Due(rule_deadline(track.yearly, int(cycle)), "time", True)
        authority = "ACCME"
        if accreditor and isinstance(milestone.when, Deadline):
            accme = due
            due, suffix, note, caveat = _accreditor_due(accreditor, int(cycle), due)
            if suffix:  # the accreditor's own date, published or estimated
                authority = accreditor.name
                assert isinstance(accme.start, datetime)  # a Deadline resolves to a moment
                estimate = _accreditor_estimate(accreditor, accme.start.date())
            explained = bool(suffix) and due.estimated  # the accreditor's rule, said in the note
            title += suffix
            description += "\n\n" + note
            if caveat:
                caveats.append(caveat)
            if accreditor.url:
                links = (Link(accreditor.name, accreditor.url),) + links
        if due.estimated:
            caveats.insert(0, wording.ESTIMATED)
        events.append(Event(
            uid=f"{profile.id}/{track.id}/{cycle}/{milestone.id}@calfeed",
            track=track.id,
            track_name=track.name,
            cycle=cycle,
            milestone=milestone.id,
            bare_title=title,
            start=due.start,
            end=_end(due.start, due.precision),
            precision=due.precision,
            status="reported" if due.reported else "estimated" if due.estimated else "published",
            actor=milestone.actor,
            description=description,
            url=links[0].url if links else None,
            links=links,
            when=milestone.when.when if isinstance(milestone.when, Undated) else None,
            # A reported date's history is that of ACCME's date it replaces: not its own.
            changes=() if due.reported else due.changes,
            explained=explained and due.estimated,
            caveats=tuple(caveats),
            data_year=data_year,
            sequence=event_sequence(due.estimated, due.changes, due.reported),
            modified=None if due.reported else modified(due.changes),
            authority=authority,
            # A coordinator's own date replaces nothing ACCME gave: its note says whose it is.
            replaced=None if due.reported else _replaced(due, estimate),
        ))
    return events


def schedule(rules: Rules, profile: Profile, today: date) -> list[Event]:
    """Every event of a profile's calendar, sorted by start, undated last."""
    events: list[Event] = []
    for track in tracks_for(rules, profile):
        if track.kind == "progress":
            events += _expand(rules, track, profile, track.cycle, None, {})
            continue
        for year in cycles(track, today):
            deadline = yearly_deadline(track, year)
            events += _expand(rules, track, profile, str(year), deadline,
                              cycle_fields(year, deadline))
    # A publication replacing calfeed's estimate is news while its date is ahead; once it
    # has passed, saying so forever would claim estimates calfeed may never have shown
    # (a yearly rule written after ACCME published the year).
    events = [replace(e, replaced=None) if e.replaced and e.passed(today) else e for e in events]
    return sorted(events, key=lambda e: e.sort_key)


def event_sequence(estimated: bool, changes: tuple[Change, ...], reported: bool = False) -> int:
    """An event's SEQUENCE: never lower than any earlier feed gave it, higher at each change.

    Feeds once numbered every event with the calendar's `sequence`, which stays below
    SEQUENCE_FLOOR for any rules revised before 2027; a client may ignore an update whose
    SEQUENCE went down, so each event counts up from there: one for becoming published
    (an estimate replaced by ACCME's date moves the event) and one per recorded move.
    Estimated dates carry no history, so the count only ever grows. A date from the
    provider's own decision report counts one more than a published date it replaces
    (`changes` are that date's history), two more than an estimate, so switching to it
    moves the event.
    """
    return SEQUENCE_FLOOR + (not estimated) + len(changes) + reported


def modified(changes: tuple[Change, ...]) -> datetime | None:
    """An event's LAST-MODIFIED: the start of the day (UTC) its latest move was announced.

    None for a date that never moved, so `revised` rising leaves it alone; a move announced
    in a month counts from the month's first day.
    """
    if not changes:
        return None
    first, _ = changes[-1].announced_days()
    return datetime(first.year, first.month, first.day, tzinfo=timezone.utc)


def sequence(revised: datetime) -> int:
    """The calendar's revision number (JSON `sequence`): grows with the rules revision.

    An event's own SEQUENCE counts the moves of its date instead (ical.py).
    """
    return max(0, int((revised - SEQUENCE_EPOCH).total_seconds() // 60))


def calendar(rules: Rules, profile: Profile, url: str | None = None) -> Calendar:
    """The header of a profile's calendar: identity, name, description, revision."""
    tracks = tracks_for(rules, profile)
    names = [t.name for t in tracks]
    description = ("ACCME deadlines for " + profile.name + ": " + "; ".join(names) + ". "
                   "Made by calfeed from ACCME's published schedules; dates marked "
                   "(estimated) follow ACCME's usual rule and are not yet published.")
    if any(m.reported for t in tracks for m in t.milestones):
        description += " " + wording.REPORTED_CALENDAR_NOTE
    note = progress_note(rules, profile)
    if note:
        description += " " + note
    return Calendar(uid=f"{profile.id}@calfeed", name=f"{profile.name} — ACCME deadlines",
                    description=description, revised=rules.revised,
                    sequence=sequence(rules.revised), url=url)


def progress_note(rules: Rules, profile: Profile) -> str | None:
    """What a calendar says of whose progress-report dates it shows, when not ACCME's.

    A provider with a Recognized Accreditor and a Next Decision Date: its accreditor
    sets those dates, so calfeed shows only the ones entered from its decision report.
    """
    accreditor = rules.accreditors.get(profile.accreditor or "")
    if accreditor is None or profile.next_decision_date is None or profile.tracks is not None:
        return None
    return wording.accreditor_progress_note(accreditor.name, profile.next_decision_date,
                                            bool(profile.reported))
