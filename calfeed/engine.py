"""Expand the rules for one profile into dated events. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import FR, MO, SA, SU, TH, TU, WE, relativedelta

from . import wording
from .model import (
    WEEKDAYS,
    Accreditor,
    Calendar,
    Change,
    Day,
    Deadline,
    Event,
    Milestone,
    Month,
    Profile,
    Relative,
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
# How many deadlines of a yearly track still ahead of today a calendar shows.
YEARS_AHEAD = 2
# `move` to a weekday: the first such day on or after the date.
FORWARD = {name: relativedelta(weekday=day(+1))
           for name, day in zip(WEEKDAYS, (MO, TU, WE, TH, FR, SA, SU))}
SATURDAY = 5
# A move announced this many days ago or less is news: pages flag it.
RECENT_DAYS = 30


@dataclass(frozen=True)
class _Due:
    """A resolved date form: when, how precise, and whether a rule made it up."""

    start: date | datetime | None
    precision: str
    estimated: bool
    changes: tuple[Change, ...] = ()  # `was` in the same form as start


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    """ZoneInfo objects are cached by the library too; this skips its lock."""
    return ZoneInfo(name)


def move(day: date, how: str | None) -> date:
    """Move a day forward to a named weekday, or off a weekend to Monday."""
    if how is None:
        return day
    if how == "off-weekend":
        return day + FORWARD["monday"] if day.weekday() >= SATURDAY else day
    return day + FORWARD[how]


def yearly_deadline(track: Track, data_year: int) -> _Due:
    """The deadline of one data year: the published one, else the rule's (estimated)."""
    rule = track.yearly
    assert rule is not None
    zone = _zone(rule.tz)
    if data_year in track.published:
        return _Due(track.published[data_year].replace(tzinfo=zone), "time", False,
                    _in_zone(track.history.get(data_year, ()), zone))
    hour, minute = map(int, rule.time.split(":"))
    day = move(date(data_year + rule.year_offset, rule.month, rule.day), rule.move)
    return _Due(datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone), "time", True)


def _in_zone(history: tuple[Change, ...], zone: ZoneInfo) -> tuple[Change, ...]:
    """A timed date's history with each `was` in the deadline's zone, as its start is."""
    return tuple(replace(c, was=c.was.replace(tzinfo=zone)) for c in history)


def cycles(track: Track, today: date) -> list[int]:
    """Data years of a yearly track: from first_cycle to the second deadline after today."""
    assert track.first_cycle is not None
    years, ahead, year = [], 0, track.first_cycle
    while ahead < YEARS_AHEAD:
        years.append(year)
        if yearly_deadline(track, year).start.date() >= today:  # type: ignore[union-attr]
            ahead += 1
        year += 1
    return years


def cycle_fields(data_year: int, deadline: _Due) -> dict[str, str]:
    """The values of the placeholders a yearly track's texts may use."""
    day = deadline.start.date() if isinstance(deadline.start, datetime) else deadline.start
    return {"data_year": str(data_year), "next_year": str(data_year + 1),
            "deadline": wording.long_date(day)}  # type: ignore[arg-type]


def _resolve(milestone: Milestone, track: Track, done: dict[str, _Due],
             deadline: _Due | None) -> _Due:
    """Resolve one milestone's date form (relative ones after their anchors)."""
    when = milestone.when
    estimated = milestone.estimated or track.estimated
    if isinstance(when, Day):
        return _Due(when.day, "day", estimated, milestone.changes)
    if isinstance(when, Month):
        return _Due(date(when.year, when.month, 1), "month", estimated, milestone.changes)
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
    day = move(base + timedelta(days=when.days), when.move)  # type: ignore[operator]
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


def _end(start: date | datetime | None, precision: str) -> date | datetime | None:
    """The exclusive end: the next day, the next month's first, or a minute later."""
    if precision == "day":
        return start + timedelta(days=1)  # type: ignore[operator]
    if precision == "month":
        assert isinstance(start, date)
        return start + relativedelta(months=1)
    if precision == "time":
        return start + timedelta(minutes=1)  # type: ignore[operator]
    return None


def _accreditor_due(accreditor: Accreditor, data_year: int, accme: _Due) -> tuple[_Due, str, str]:
    """The accreditor's deadline where published, else ACCME's marked to be checked.

    Returns the date, a suffix for the title ("" when ACCME's date stands) and a note
    for the description.
    """
    accme_at = accme.start
    assert isinstance(accme_at, datetime)
    if data_year in accreditor.deadlines:
        day = accreditor.deadlines[data_year]
        note = (f"Deadline set by your Recognized Accreditor, the {accreditor.name}, "
                f"which reviews providers before ACCME's own deadline of "
                f"{wording.long_date(accme_at.date())} at {wording.deadline_time(accme_at)}.")
        return (_Due(day, "day", False, accreditor.history.get(data_year, ())),
                f" — {accreditor.name} deadline", note)
    note = (f"The {accreditor.name} has published no deadline for data year {data_year}; "
            f"this is ACCME's date. Providers accredited by a state medical society may be "
            f"required to complete their annual reporting requirements earlier: check with "
            f"your Recognized Accreditor.")
    return accme, "", note


def applies(track: Track, profile: Profile) -> bool:
    """Whether a track is part of a profile's calendar."""
    if profile.tracks is not None:
        return track.id in profile.tracks
    if track.kind == "progress" and track.next_decision_date is not None:
        return track.next_decision_date == profile.next_decision_date
    return True


def _expand(rules: Rules, track: Track, profile: Profile, cycle: str,
            deadline: _Due | None, fields: dict[str, str]) -> list[Event]:
    """The events of one cycle of one track for one profile."""
    resolved = _resolve_all(track, deadline)
    accreditor = rules.accreditors.get(profile.accreditor or "")
    events = []
    for milestone in track.milestones:
        flag = milestone.only_if
        if flag and getattr(profile, flag) is False:
            continue
        due = resolved[milestone.id]
        title = milestone.title.format_map(fields) if fields else milestone.title
        description = milestone.description.format_map(fields) if fields else milestone.description
        # Caveats go into one parenthesis: "(estimated; check with your accreditor)".
        caveats = []
        if flag and getattr(profile, flag) is None:
            caveats.append(wording.FLAG_CAVEATS[flag])
        if accreditor and isinstance(milestone.when, Deadline):
            due, suffix, note = _accreditor_due(accreditor, int(cycle), due)
            title += suffix
            description += "\n\n" + note
            if not suffix:
                caveats.append(wording.CHECK_WITH_ACCREDITOR)
        if due.estimated:
            caveats.insert(0, wording.ESTIMATED)
        title = wording.with_caveats(title, caveats)
        links = milestone.links + tuple(l for l in track.links if l not in milestone.links)
        events.append(Event(
            uid=f"{profile.id}/{track.id}/{cycle}/{milestone.id}@calfeed",
            track=track.id,
            track_name=track.name,
            cycle=cycle,
            milestone=milestone.id,
            title=title,
            start=due.start,
            end=_end(due.start, due.precision),
            precision=due.precision,  # type: ignore[arg-type]
            status="estimated" if due.estimated else "published",
            actor=milestone.actor,
            description=description,
            url=links[0].url if links else None,
            links=links,
            when=milestone.when.when if isinstance(milestone.when, Undated) else None,
            changes=due.changes,
        ))
    return events


def schedule(rules: Rules, profile: Profile, today: date) -> list[Event]:
    """Every event of a profile's calendar, sorted by start, undated last."""
    events: list[Event] = []
    for track in rules.tracks.values():
        if not applies(track, profile):
            continue
        if track.kind == "progress":
            events += _expand(rules, track, profile, track.cycle, None, {})
            continue
        for year in cycles(track, today):
            deadline = yearly_deadline(track, year)
            events += _expand(rules, track, profile, str(year), deadline,
                              cycle_fields(year, deadline))
    return sorted(events, key=lambda e: e.sort_key)


def announced_span(change: Change) -> tuple[date, date]:
    """The first and last day the announcement of a change may have been made."""
    announced = change.announced
    if isinstance(announced, Day):
        return announced.day, announced.day
    first = date(announced.year, announced.month, 1)
    return first, _end(first, "month") - timedelta(days=1)  # type: ignore[operator]


def changed_recently(event: Event, today: date, days: int = RECENT_DAYS) -> bool:
    """Whether a move of the event was announced within the last `days` days.

    An announcement known only by its month counts while any day of that month does.
    """
    for change in event.changes:
        first, last = announced_span(change)
        if first <= today and last >= today - timedelta(days=days):
            return True
    return False


def event_sequence(event: Event) -> int:
    """An event's SEQUENCE: never lower than any earlier feed gave it, higher at each change.

    Feeds once numbered every event with the calendar's `sequence`, which stays below
    SEQUENCE_FLOOR for any rules revised before 2027; a client may ignore an update whose
    SEQUENCE went down, so each event counts up from there: one for becoming published
    (an estimate replaced by ACCME's date moves the event) and one per recorded move.
    Estimated dates carry no history, so the count only ever grows.
    """
    return SEQUENCE_FLOOR + (event.status == "published") + len(event.changes)


def sequence(revised: datetime) -> int:
    """The calendar's revision number (JSON `sequence`): grows with the rules revision.

    An event's own SEQUENCE counts the moves of its date instead (ical.py).
    """
    return max(0, int((revised - SEQUENCE_EPOCH).total_seconds() // 60))


def calendar(rules: Rules, profile: Profile, url: str | None = None) -> Calendar:
    """The header of a profile's calendar: identity, name, description, revision."""
    names = [t.name for t in rules.tracks.values() if applies(t, profile)]
    description = ("ACCME deadlines for " + profile.name + ": " + "; ".join(names) + ". "
                   "Made by calfeed from ACCME's published schedules; dates marked "
                   "(estimated) follow ACCME's usual rule and are not yet published.")
    return Calendar(uid=f"{profile.id}@calfeed", name=f"{profile.name} — ACCME deadlines",
                    description=description, revised=rules.revised,
                    sequence=sequence(rules.revised), url=url)
