"""The domain: what rules.toml and the roster describe, and what the engine returns."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

Precision = Literal["day", "month", "time", "undated"]
# "reported": a date the provider's coordinator entered from its own decision report
# (the builder's answers, or the roster): neither ACCME's publication nor an estimate.
Status = Literal["published", "estimated", "reported"]
Actor = Literal["provider", "accme", "accreditor"]
# "progress": a one-off cohort table (its cycle is the cohort, "2023-11");
# "yearly": recurs every data year (its cycles are the years, "2024").
TrackKind = Literal["progress", "yearly"]

ACTORS: tuple[str, ...] = ("provider", "accme", "accreditor")
FLAGS: tuple[str, ...] = ("enduring_materials",)
WEEKDAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)
# `move` values: a weekday name moves forward to that day; "off-weekend" moves
# a Saturday or Sunday forward to Monday; "back-off-weekend" moves it back to the
# Friday before (the last business day: an estimate that must never be late).
MOVES: tuple[str, ...] = WEEKDAYS + ("off-weekend", "back-off-weekend")


@dataclass(frozen=True)
class Link:
    """A titled link shown with a milestone (PARS, the Guide, an FAQ)."""

    title: str
    url: str


@dataclass(frozen=True)
class Day:
    """A whole day: an all-day event."""

    day: date


@dataclass(frozen=True)
class Month:
    """A month only ("July 2024"): never given an invented day."""

    year: int
    month: int


@dataclass(frozen=True)
class Timed:
    """A wall-clock moment in a named zone (11:59 p.m. America/Chicago)."""

    at: datetime  # naive local time; `tz` says where
    tz: str


@dataclass(frozen=True)
class Undated:
    """No date at all ("Due upon receipt of invoice")."""

    when: str


@dataclass(frozen=True)
class Relative:
    """A number of days after another milestone, optionally moved (estimated schedules)."""

    after: str
    days: int
    move: str | None = None


@dataclass(frozen=True)
class Deadline:
    """The yearly track's deadline for the cycle (data year) being expanded."""


@dataclass(frozen=True)
class PerCohort:
    """A progress-report step whose date each published cohort gives (or an estimate)."""


When = Day | Month | Timed | Undated | Relative | Deadline | PerCohort


@dataclass(frozen=True)
class Change:
    """One recorded move of a published date: what it was, when it was announced, why.

    `was` has the form of the date that moved: a date for a day (or the first of the
    month for a month), a local date-time for a timed deadline in rules (the zone is
    the deadline's), an aware date-time in an Event.
    """

    was: date | datetime
    announced: Day | Month  # a month when only the month of the announcement is known
    note: str | None = None

    def announced_days(self) -> tuple[date, date]:
        """The first and last day the announcement may have been made (all of a month)."""
        announced = self.announced
        if isinstance(announced, Day):
            return announced.day, announced.day
        last = calendar.monthrange(announced.year, announced.month)[1]
        return date(announced.year, announced.month, 1), date(announced.year, announced.month, last)


@dataclass(frozen=True)
class Replaced:
    """calfeed's estimate of a date that was then published: what the publication replaced.

    Never a move: `changes` record moves of published dates. `was` has the form of the
    event's start (a date, a month's first day, an aware date-time).
    """

    was: date | datetime
    precision: Precision


@dataclass(frozen=True)
class Milestone:
    """One row of an ACCME table: ACCME's words, who acts, and exactly one date form."""

    id: str
    title: str
    description: str
    actor: str
    when: When
    links: tuple[Link, ...] = ()
    only_if: str | None = None
    estimated: bool = False
    changes: tuple[Change, ...] = ()  # the date's history, oldest first
    # A progress-report step dated from the provider's own decision report: its
    # `changes` are then those of the date it replaces (ACCME's published one), which
    # only count in its SEQUENCE, so that it never goes down (engine.event_sequence).
    reported: bool = False


@dataclass(frozen=True)
class YearlyRule:
    """Data year Y is due on month/day of Y + year_offset at a local time, moved off weekends."""

    month: int
    day: int
    time: str  # "HH:MM"
    tz: str
    year_offset: int = 1
    move: str | None = "off-weekend"


@dataclass(frozen=True)
class Track:
    """One published schedule: a finite cohort table, or a yearly rule with published dates."""

    id: str
    name: str
    source: str
    kind: TrackKind
    milestones: tuple[Milestone, ...]
    links: tuple[Link, ...] = ()
    cycle: str = ""  # the cohort of a finite track ("2023-11")
    next_decision_date: date | None = None  # selects progress-report tracks
    estimated: bool = False
    yearly: YearlyRule | None = None
    first_cycle: int | None = None  # first data year of a yearly track
    published: dict[int, datetime] = field(default_factory=dict)  # data year -> local deadline
    # data year -> the history of its published deadline, oldest first
    history: dict[int, tuple[Change, ...]] = field(default_factory=dict)
    decision: Month | None = None  # a progress-report cohort's decision cohort, when known
    # An estimated progress-report schedule: the publication whose pattern it follows.
    follows: str | None = None


@dataclass(frozen=True)
class Cohort:
    """One published progress-report table: decision cohort, Next Decision Date, a date per step."""

    id: str  # the schedule's id in URLs and UIDs: "progress-8-month", by default "progress-<NDD>"
    cycle: str  # the cycle in UIDs: "2023-11", by default the NDD
    decision: Month
    next_decision_date: date
    name: str
    source: str
    links: tuple[Link, ...]
    dates: dict[str, Day | Month]  # step id -> its date in this cohort
    # step id -> the history of its date, oldest first
    changes: dict[str, tuple[Change, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """Progress reports: the steps, written once, and every published cohort's dates."""

    name: str
    links: tuple[Link, ...]
    steps: tuple[Milestone, ...]  # dated steps have `PerCohort` as their date form
    cohorts: tuple[Cohort, ...]


@dataclass(frozen=True)
class AccreditorRule:
    """An accreditor's usual deadline: the weekday on or before ACCME's deadline minus some days."""

    days_before: int
    weekday: str  # a WEEKDAYS name


@dataclass(frozen=True)
class Accreditor:
    """A Recognized Accreditor (state medical society) with its own, earlier deadlines."""

    id: str
    name: str
    url: str | None
    deadlines: dict[int, date]  # data year -> the accreditor's deadline
    # data year -> the history of its deadline, oldest first
    history: dict[int, tuple[Change, ...]] = field(default_factory=dict)
    rule: AccreditorRule | None = None  # estimates the years it has not published


@dataclass(frozen=True)
class Profile:
    """Whose calendar: a roster provider, a public track, or the builder's answers."""

    id: str
    name: str
    next_decision_date: date | None = None
    enduring_materials: bool | None = False  # None: unknown, show the step as conditional
    accreditor: str | None = None  # None: accredited by ACCME directly
    tracks: tuple[str, ...] | None = None  # None: every track that applies
    rotation: int = 0  # bump to give the provider a new private URL
    # Email addresses for `calfeed notify` only. Out of repr, equality and hash, so
    # no log line, cache key or rendered output can ever carry one.
    contacts: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # Progress-report step id -> its date from the provider's own decision report, in
    # the steps' order (the roster's step columns, the builder's answers).
    reported: tuple[tuple[str, Day | Month], ...] = ()
    # The groups the roster's `groups` cell names. Out of equality: membership changes
    # no event of the provider's own calendar, so its cached schedules stay good.
    groups: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Group:
    """Many providers in one view: a consultant's clients, or every provider of an accreditor."""

    id: str
    name: str
    # Provider ids in roster order: those whose `groups` cell names the group, and with
    # `accreditor`, every provider it accredits.
    members: tuple[str, ...]
    accreditor: str | None = None
    rotation: int = 0  # bump to give the group a new private URL
    # The weekly digest's addresses: as a Profile's contacts, out of repr, equality and hash.
    contacts: tuple[str, ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class Rules:
    """Everything loaded and validated: tracks, accreditors, the roster, the revision."""

    path: str
    revised: datetime  # aware, UTC
    tracks: dict[str, Track]
    accreditors: dict[str, Accreditor]
    providers: dict[str, Profile]
    providers_path: str | None = None
    lead_days: tuple[int, ...] = (30, 7, 1)  # email reminders, days before a deadline
    progress: Progress | None = None  # its cohorts are also in `tracks`, one track each
    # `calfeed check`'s warning lines: unusual but possible (a milestone not on a Wednesday)
    warnings: tuple[str, ...] = field(default=(), compare=False)
    groups: dict[str, Group] = field(default_factory=dict)  # the groups file, if any
    groups_path: str | None = None
    digest_day: str = "monday"  # the weekday of the groups' weekly digest ([notify])
    digest_weeks: int = 5  # how far ahead a digest looks


@dataclass(frozen=True)
class Event:
    """One dated (or undated) step of one provider's calendar: all an output needs of it.

    The engine fills every field, so the outputs (feeds, JSON/CSV, pages, the diff) read
    events and never the rules. wording.title() composes the title people read from
    `bare_title` and `caveats`.
    """

    uid: str
    track: str
    track_name: str
    cycle: str
    milestone: str
    # ACCME's words for the step, with the accreditor's name when the date is its own
    # ("… — California Medical Association deadline"); never a caveat.
    bare_title: str
    start: date | datetime | None  # date for day/month, aware datetime for time
    end: date | datetime | None
    precision: Precision
    status: Status
    actor: str
    description: str
    url: str | None
    links: tuple[Link, ...] = ()
    when: str | None = None  # the wording of an undated step
    changes: tuple[Change, ...] = ()  # how its date moved, oldest first
    # An estimate whose description says what it follows (an accreditor's rule, a
    # published cohort's pattern); otherwise an estimate follows ACCME's yearly rule.
    explained: bool = False
    # What the title adds in one parenthesis, in this order: ("estimated", "if you
    # offer enduring materials", "ACCME's deadline: the …'s is usually earlier").
    caveats: tuple[str, ...] = ()
    data_year: int | None = None  # the cycle of a yearly track; None for a cohort's step
    sequence: int = 0  # the feed's SEQUENCE: grows each time the date changes
    modified: datetime | None = None  # the feed's LAST-MODIFIED (UTC): when the date last moved
    # The zone a timed start is in. Aware datetimes compare by instant (23:59 in Chicago
    # equals 22:59 in Mexico City), so without it two events written in different zones
    # would be equal, and a cache of serialized events would hand one the other's bytes.
    zone: str | None = field(default=None, init=False)
    # Who sets the date: "ACCME", or the Recognized Accreditor's name for its own deadline.
    authority: str = "ACCME"
    # calfeed's estimate this published date replaced, when it differed from what was
    # published (the first published date, before any move); None otherwise.
    replaced: Replaced | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", getattr(getattr(self.start, "tzinfo", None), "key", None))

    @property
    def sort_key(self) -> tuple[int, date, int, str]:
        """Dated events by start (all-day ones before timed ones that day), undated last.

        Events at the same moment keep the order of rules.toml (the sort is stable),
        which is the order of ACCME's own checklist.
        """
        if self.start is None:
            return (1, date.max, 0, "")
        if isinstance(self.start, datetime):
            return (0, self.start.date(), 1, self.start.timetz().isoformat())
        return (0, self.start, 0, "")

    def passed(self, today: date) -> bool:
        """Whether it is over by `today`: a day before it, all of a month; undated: never."""
        start = self.start
        if start is None:
            return False
        if self.precision == "month":
            assert self.end is not None  # a month ends on the next month's first day
            return self.end <= today
        return (start.date() if isinstance(start, datetime) else start) < today


@dataclass(frozen=True)
class Lead:
    """How long before a step a reminder comes.

    Whole months and days: at the start of a working morning on that day (reminders.py
    says which). `exact`: exactly that long before the start (a `?remind=` duration
    with hours, minutes or seconds).
    """

    months: int = 0
    days: int = 0
    exact: timedelta | None = None


@dataclass(frozen=True)
class Alarm:
    """One reminder on an event: how long before its start it fires, and what it says.

    Steps due at the same moment ring once, on the first of them: its alarm's text
    names them all (reminders.py).
    """

    before: timedelta
    description: str


@dataclass(frozen=True)
class Calendar:
    """The feed's own header: its identity, name and revision."""

    uid: str
    name: str
    description: str
    revised: datetime
    sequence: int
    url: str | None = None
