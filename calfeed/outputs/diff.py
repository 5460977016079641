"""What an edit of rules.toml does to every calendar, before it ships: the diff stage.

Plain functions over two loaded Rules. Every calendar calfeed can make is one of a few
audiences: a public track, or a builder calendar's answers (a Next Decision Date,
enduring materials or not, an accreditor), which a roster provider with the same answers
shares. Each audience is expanded once with the old rules and once with the new, and its
events are compared by their stable names (track, cycle, milestone). An event is one
line with every change it undergoes, and the audiences that see the same change are
counted together: roster providers, builder calendars, public tracks.

An estimate replaced by a published date is a publication (`published`: "estimated
Wednesday, January 20, 2027 → Wednesday, January 27, 2027"), never a move: a move is
a published date that changed (docs/design.md §7).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import product
from typing import Any, Literal, TypedDict

from calfeed.core import engine, wording
from calfeed.core.model import Day, Deadline, Event, Month, Profile, Rules, Timed

# The kinds of line, in the summary's order. A change of status is named after the new
# status ("published"; a status added later names its lines the same way), and comes
# after appears/disappears and before the other kinds.
FIXED_KINDS = ("appears", "disappears", "moved", "precision", "title")
STATUS_ORDER = ("published", "estimated")
SUMMARY_WORDS = {"appears": "appeared", "disappears": "disappeared", "published": "published",
                 "estimated": "back to estimated", "moved": "moved",
                 "precision": "changed precision", "title": "retitled"}
# What a line says changed, besides appearing or disappearing.
# "wording": an undated step's `when` ("Due upon receipt of invoice") changed: words,
# not a date a calendar holds (undated steps are in no feed), so `revised` need not rise.
ASPECTS = ("status", "date", "wording", "title")


def kinds(found: Iterable[str] = ()) -> tuple[str, ...]:
    """Every kind of line in the summary's order, with any other status found after the known ones."""
    statuses = list(STATUS_ORDER) + sorted(set(found) - set(FIXED_KINDS) - set(STATUS_ORDER))
    return ("appears", "disappears", *statuses, "moved", "precision", "title")


# Kept for callers that list the kinds: the ones calfeed's statuses make today.
KINDS = kinds()


@dataclass(frozen=True)
class Shape:
    """A builder calendar's answers: every calendar with them shows the same dates."""

    next_decision_date: date | None
    enduring_materials: bool
    accreditor: str | None


@dataclass(frozen=True)
class Side:
    """One version of an event as the report words it: its date, status and title."""

    date: str  # in words, in the deadline's own zone and its true precision; an undated step's wording
    status: str
    title: str  # ACCME's words, without caveats

    def dated(self) -> str:
        """The date, after its status when it is not a published one: "estimated Wednesday, …"."""
        return self.date if self.status == "published" else f"{self.status} {self.date}"


@dataclass(frozen=True)
class Difference:
    """One event's changes, as every audience that sees exactly these changes sees them."""

    track: str
    cycle: str
    milestone: str
    kind: str  # the line's headline: appears, disappears, a new status, moved, precision, title
    changes: tuple[str, ...]  # ("appears",), ("disappears",), or some of ASPECTS
    title: str  # the event's title: the new one, or the old one if it disappears
    old: Side | None  # None if it appears
    new: Side | None  # None if it disappears
    providers: int = 0  # roster providers who see it
    builder: frozenset[Shape] = frozenset()  # builder calendars it changes
    tracks: tuple[str, ...] = ()  # public track calendars it changes
    position: int = 0  # the milestone's place in its track, to list in ACCME's order

    @property
    def dates(self) -> bool:
        """Whether it changes a date a subscriber sees (so `revised` must rise)."""
        return self.kind in ("appears", "disappears") or "date" in self.changes

    @property
    def sort_key(self) -> tuple[str, str, int, str, str, tuple[str, ...], tuple[str, ...],
                                tuple[str, ...]]:
        """By track and cycle, then the track's own order, then the line's words."""
        def words(side: Side | None) -> tuple[str, ...]:
            return () if side is None else (side.title, side.status, side.date)

        return (self.track, self.cycle, self.position, self.milestone, self.kind, self.changes,
                words(self.old), words(self.new))


@dataclass(frozen=True)
class CalendarChange:
    """A public track calendar that the edit adds or removes (a newly published cohort)."""

    track: str
    kind: str  # "appears" | "disappears"
    name: str


@dataclass(frozen=True)
class Report:
    """Every difference between two rules files, and the lines to fix before deploying."""

    old: Rules
    new: Rules
    today: date
    differences: tuple[Difference, ...]
    problems: tuple[str, ...]
    reached: int  # roster providers who see at least one difference
    builder: frozenset[Shape] = frozenset()  # builder calendars with at least one difference
    shapes: tuple[Shape, ...] = ()  # every builder calendar compared
    calendars: tuple[CalendarChange, ...] = field(default=())

    def count(self, kind: str) -> int:
        """How many lines of one kind."""
        return sum(1 for d in self.differences if d.kind == kind)


@dataclass
class _Audience:
    """Everyone whose calendar is the same: a profile to expand and whom it stands for."""

    profile: Profile
    providers: int = 0
    shape: Shape | None = None  # the builder's answers it stands for
    track: str | None = None  # the public track calendar it is


def _shapes(old: Rules, new: Rules) -> list[Shape]:
    """The builder calendars compared: each Next Decision Date of the roster and of every cohort
    in either file, and none; with and without enduring materials; ACCME and each accreditor."""
    ndds: set[date] = {p.next_decision_date for p in new.providers.values()
                       if p.next_decision_date is not None}
    for rules in (old, new):
        ndds |= {c.next_decision_date for c in (rules.progress.cohorts if rules.progress else ())}
    accreditors = sorted(set(old.accreditors) | set(new.accreditors))
    return [Shape(ndd, enduring, accreditor)
            for ndd, enduring, accreditor in product([None, *sorted(ndds)], (False, True),
                                                     [None, *accreditors])]


def _audiences(old: Rules, new: Rules, shapes: list[Shape]) -> list[_Audience]:
    """One audience per public track, per builder calendar shape, and per roster provider
    whose calendar is no builder calendar (the roster's providers are counted in the shapes)."""
    found: dict[Profile, _Audience] = {}
    for track in sorted(set(old.tracks) & set(new.tracks)):
        body = new.tracks[track]
        # As calendars.track makes it: that track only, the conditional step shown as such.
        profile = Profile("diff", "", body.next_decision_date, enduring_materials=None,
                          tracks=(track,))
        found[profile] = _Audience(profile, track=track)
    for shape in shapes:
        profile = Profile("diff", "", shape.next_decision_date, shape.enduring_materials,
                          shape.accreditor)
        found[profile] = _Audience(profile, shape=shape)
    for provider in new.providers.values():
        # What its calendar depends on: all but its id, name, URL rotation and addresses.
        key = replace(provider, id="diff", name="", rotation=0, contacts=())
        found.setdefault(key, _Audience(key)).providers += 1
    return list(found.values())


def _words(event: Event) -> str:
    """An event's date in words, in the deadline's own zone and its true precision."""
    if event.start is None:
        return event.when or "undated"
    return wording.moment_words(event.start, event.precision)


def _side(event: Event) -> Side:
    """An event as the report words it."""
    return Side(_words(event), event.status, event.bare_title)


def _compare(old: Event | None, new: Event | None
             ) -> tuple[str, tuple[str, ...], Side | None, Side | None] | None:
    """The headline kind, the changes, and the two sides of one event; None if unchanged."""
    if old is None:
        assert new is not None  # compare passes the events of a name in either file
        return ("appears", ("appears",), None, _side(new))
    if new is None:
        return ("disappears", ("disappears",), _side(old), None)
    changes = []
    if old.status != new.status:
        changes.append("status")
    if (old.precision, old.start, old.zone) != (new.precision, new.start, new.zone):
        changes.append("date")
    elif old.when != new.when:
        changes.append("wording")
    # The bare titles: a caveat that comes or goes ("estimated", an accreditor's
    # unknown date) is a change of status or audience, not of ACCME's wording.
    if old.bare_title != new.bare_title:
        changes.append("title")
    if not changes:
        return None
    kind: str
    if "status" in changes:
        kind = new.status  # an estimate ACCME published is a publication, never a move
    elif "date" in changes:
        kind = "precision" if old.precision != new.precision else "moved"
    else:
        kind = "title"
    return kind, tuple(changes), _side(old), _side(new)


def _positions(old: Rules, new: Rules) -> dict[tuple[str, str], int]:
    """Each milestone's place in its track: the new file's order, then the old one's."""
    positions: dict[tuple[str, str], int] = {}
    for rules in (new, old):
        for track in rules.tracks.values():
            for n, milestone in enumerate(track.milestones):
                positions.setdefault((track.id, milestone.id), n)
        if rules.progress:
            for n, step in enumerate(rules.progress.steps):
                positions.setdefault(("progress", step.id), n)
    return positions


def _position(positions: dict[tuple[str, str], int], track: str, milestone: str) -> int:
    """A milestone's place in its track; an estimated schedule's steps in [progress] order."""
    return positions.get((track, milestone), positions.get(("progress", milestone), 0))


def _toml(value: date | datetime, precision: str) -> str:
    """A date as rules.toml writes it: a local date-time in the deadline's zone, a date, a month."""
    if precision == "month":
        return f'"{value:%Y-%m}"'
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    return value.isoformat()


def _place(rules: Rules, event: Event, accreditor: str | None) -> tuple[str, str]:
    """Where in rules.toml an event's date is written, and how `was` is written there."""
    track = rules.tracks[event.track]
    milestone = next(m for m in track.milestones if m.id == event.milestone)
    cohorts = rules.progress.cohorts if rules.progress else ()
    for n, cohort in enumerate(cohorts, 1):
        if cohort.id == track.id:
            return (f"progress.cohorts[{n}].dates.{milestone.id}",
                    "month" if isinstance(milestone.when, Month) else "date")
    if isinstance(milestone.when, Deadline):
        body = rules.accreditors.get(accreditor or "")
        if body and int(event.cycle) in body.deadlines:
            return f"accreditors.{body.id}.deadlines.{event.cycle}", "date"
        return f"tracks.{track.id}.published.{event.cycle}", "at"
    n = track.milestones.index(milestone) + 1
    form = {Day: "date", Month: "month", Timed: "at"}.get(type(milestone.when), "date")
    return f"tracks.{track.id}.milestones[{n}]", form


def _history_problem(rules: Rules, old: Event, new: Event, accreditor: str | None) -> str | None:
    """The line to fix when a published date moved without a history entry naming its old date."""
    if old.status != "published" or new.status != "published" or old.precision != new.precision:
        return None
    if old.start == new.start or any(c.was == old.start for c in new.changes):
        return None
    # Both published, with one precision and two starts: neither is undated.
    assert old.start is not None and new.start is not None
    where, form = _place(rules, new, accreditor)
    was, now = _toml(old.start, old.precision), _toml(new.start, new.precision)
    entry = f'changes = [{{ was = {was}, announced = YYYY-MM-DD, note = "why it moved" }}]'
    if (form in ("at", "date") and not where.startswith("tracks." + new.track + ".milestones")) \
            or where.startswith("progress."):
        # A data year's date, or a cohort's, is written bare; its history needs the long form.
        key = where.rsplit(".", 1)[1]
        entry = f"{key} = {{ {form} = {now}, {entry} }}"
    return (f"{rules.path}: {where}: published date moved from {was} to {now} with no history "
            f"entry (expected {entry})")


# A line's identity: its event's name (track, cycle, milestone), kind, changes and sides.
_Ident = tuple[str, str, str, str, tuple[str, ...], Side | None, Side | None]


def compare(old: Rules, new: Rules, today: date) -> Report:
    """Every event that appears, disappears or changes between two rules, for every audience."""
    positions = _positions(old, new)
    shapes = _shapes(old, new)
    merged: dict[_Ident, Difference] = {}
    reach: dict[_Ident, tuple[int, set[Shape], set[str]]] = {}
    history: dict[str, None] = {}
    reached = 0
    builder: set[Shape] = set()
    for audience in _audiences(old, new, shapes):
        before = {(e.track, e.cycle, e.milestone): e
                  for e in engine.schedule(old, audience.profile, today)}
        after = {(e.track, e.cycle, e.milestone): e
                 for e in engine.schedule(new, audience.profile, today)}
        seen = False
        for key in sorted(set(before) | set(after)):
            was, now = before.get(key), after.get(key)
            found = _compare(was, now)
            if found is not None:
                seen = True
                kind, changes, old_side, new_side = found
                ident: _Ident = key + (kind, changes, old_side, new_side)
                if ident not in merged:
                    shown = now or was  # the new version, or the old one if it disappears
                    assert shown is not None  # _compare found a change: a side exists
                    merged[ident] = Difference(*key, kind, changes, shown.bare_title,
                                               old_side, new_side,
                                               position=_position(positions, key[0], key[2]))
                    reach[ident] = (0, set(), set())
                providers, shapes_reached, tracks = reach[ident]
                reach[ident] = (providers + audience.providers, shapes_reached, tracks)
                if audience.shape is not None:
                    shapes_reached.add(audience.shape)
                if audience.track is not None:
                    tracks.add(audience.track)
            if was is not None and now is not None:
                line = _history_problem(new, was, now, audience.profile.accreditor)
                if line:
                    history[line] = None
        if seen:
            reached += audience.providers
            if audience.shape is not None:
                builder.add(audience.shape)
    differences = sorted(
        (replace(d, providers=reach[ident][0], builder=frozenset(reach[ident][1]),
                 tracks=tuple(sorted(reach[ident][2])))
         for ident, d in merged.items()),
        key=lambda d: d.sort_key)
    problems = []
    if any(d.dates for d in differences) and new.revised <= old.revised:
        problems.append(
            f"{new.path}: revised: {wording.utc_stamp(new.revised)} is not later than "
            f"{wording.utc_stamp(old.revised)} in {old.path}, and dates changed (expected "
            f"revised raised to when you made this edit, so subscribed calendars update)")
    problems += sorted(history)
    calendars = tuple(
        [CalendarChange(t, "appears", new.tracks[t].name) for t in sorted(set(new.tracks) - set(old.tracks))]
        + [CalendarChange(t, "disappears", old.tracks[t].name)
           for t in sorted(set(old.tracks) - set(new.tracks))])
    return Report(old, new, today, tuple(differences), tuple(problems), reached,
                  frozenset(builder), tuple(shapes), calendars)


# ---------------------------------------------------------------------------
# Whom a line reaches, in words


def _accredited(rules: Rules, accreditor: str | None) -> str:
    """An accreditor as the builder's answer names it: "ACCME", "the California Medical Association"."""
    body = rules.accreditors.get(accreditor or "")
    return "ACCME" if accreditor is None else wording.authority(body.name if body else accreditor)


@dataclass(frozen=True)
class BuilderGroup:
    """Builder calendars a line reaches, described at once: Next Decision Dates by answers."""

    ndds: tuple[date, ...] | None  # None: any Next Decision Date, and none
    enduring: tuple[bool, ...]
    accreditors: tuple[str | None, ...]


def builder_groups(reached: Iterable[Shape], compared: Iterable[Shape]) -> list[BuilderGroup]:
    """The builder calendars reached, grouped so that each group is all the calendars of its answers.

    A change that reaches the calendar without a Next Decision Date is a change to annual
    reporting, which every Next Decision Date's calendar shows alike: "any".
    """
    answers = sorted({(s.enduring_materials, s.accreditor) for s in compared},
                     key=lambda a: (a[0], a[1] or ""))
    ndds: dict[tuple[bool, str | None], set[date | None]] = {}
    for shape in reached:
        ndds.setdefault((shape.enduring_materials, shape.accreditor), set()).add(
            shape.next_decision_date)
    by_dates: dict[tuple[date, ...] | None, list[tuple[bool, str | None]]] = {}
    for answer in answers:
        if answer in ndds:
            found = ndds[answer]
            key = None if None in found else tuple(sorted(d for d in found if d is not None))
            by_dates.setdefault(key, []).append(answer)
    groups = []
    for key, group in by_dates.items():
        enduring = tuple(sorted({e for e, _ in group}))
        accreditors = tuple(sorted({a for _, a in group}, key=lambda a: a or ""))
        if len(group) == len(enduring) * len(accreditors):
            groups.append(BuilderGroup(key, enduring, accreditors))
        else:  # not every combination: one group per accreditor
            for accreditor in accreditors:
                groups.append(BuilderGroup(key, tuple(e for e, a in group if a == accreditor),
                                           (accreditor,)))
    return groups


def builder_words(rules: Rules, reached: Iterable[Shape], compared: Iterable[Shape]) -> str:
    """The builder calendars reached, in words: "builder calendars with Next Decision Date 2027-07-31"."""
    compared = list(compared)
    every_enduring = {s.enduring_materials for s in compared}
    every_accreditor = {s.accreditor for s in compared}
    phrases = []
    for group in builder_groups(reached, compared):
        words = []
        if group.ndds is not None:
            words.append("with Next Decision Date " + " or ".join(d.isoformat() for d in group.ndds))
        if set(group.enduring) != every_enduring:
            words.append("with enduring materials" if group.enduring == (True,)
                         else "without enduring materials")
        if set(group.accreditors) != every_accreditor:
            words.append("accredited by " + " or ".join(_accredited(rules, a)
                                                        for a in group.accreditors))
        phrases.append("builder calendars " + ", ".join(words) if words else "every builder calendar")
    return "; ".join(phrases)


def reach_words(report: Report, difference: Difference) -> str:
    """Whom a line reaches: "2 providers; builder calendars with …; public calendar annual-reporting"."""
    parts = [wording.count(difference.providers, "provider")]
    builder = builder_words(report.new, difference.builder, report.shapes)
    if builder:
        parts.append(builder)
    if difference.tracks:
        parts.append(("public calendar " if len(difference.tracks) == 1 else "public calendars ")
                     + ", ".join(difference.tracks))
    return "; ".join(parts)


# ---------------------------------------------------------------------------
# The report as text and as data


def detail(d: Difference) -> str:
    """What a line says changed: "estimated Wednesday, January 20, 2027 → Wednesday, January 27, 2027"."""
    if d.old is None:
        assert d.new is not None  # a line has at least one side
        return d.new.dated()
    if d.new is None:
        return d.old.dated()
    parts = []
    if "date" in d.changes:
        parts.append(f"{d.old.dated()} → {d.new.dated()}")
    elif "status" in d.changes:
        parts.append(f"{d.new.date}, {d.old.status} → {d.new.status}")
    if "wording" in d.changes:
        parts.append(f'"{d.old.date}" → "{d.new.date}"')
    if "title" in d.changes:
        parts.append(f'retitled from "{d.old.title}"')
    return "; ".join(parts)


def line(report: Report, d: Difference) -> str:
    """One event's line: what happened to it, its changes, whom it reaches."""
    reach = reach_words(report, d)
    if d.changes == ("title",):  # the old and new titles say it all
        assert d.old is not None and d.new is not None  # a retitled event is in both files
        return f'{d.kind} {d.milestone}: "{d.old.title}" → "{d.new.title}" ({reach})'
    return f'{d.kind} {d.milestone} "{d.title}": {detail(d)} ({reach})'


def calendar_line(change: CalendarChange) -> str:
    """A public calendar the edit adds or removes."""
    return (f"{change.kind} public calendar {change.track} \"{change.name}\" "
            f"(/tracks/{change.track}/)")


def lines(report: Report) -> list[str]:
    """The report as text: a heading per track and cycle, a line per event, a summary last."""
    out: list[str] = []
    heading = None
    for d in report.differences:
        if (d.track, d.cycle) != heading:
            heading = (d.track, d.cycle)
            track = report.new.tracks.get(d.track) or report.old.tracks.get(d.track)
            # A Next Decision Date no cohort covers has an estimated schedule, in no file.
            name = track.name if track else "estimated progress-report schedule"
            cycle = f"data year {d.cycle}" if track and track.yearly else f"cycle {d.cycle}"
            out.append(f"{d.track} {d.cycle} ({name}, {cycle})")
        out.append("  " + line(report, d))
    out += [calendar_line(c) for c in report.calendars]
    out.append(summary(report))
    return out


def summary(report: Report) -> str:
    """One line: how many of each kind, whom they reach, the revisions."""
    found = {d.kind for d in report.differences}
    counts = ", ".join(f"{report.count(k)} {SUMMARY_WORDS.get(k, 'now ' + k)}"
                       for k in kinds(found) if report.count(k))
    roster = len(report.new.providers)
    builder = builder_words(report.new, report.builder, report.shapes)
    return (f"{counts or 'no changes'}; reaches {report.reached} of "
            f"{wording.count(roster, 'provider')} on the roster"
            f"{' and ' + builder if builder else ''}; revised "
            f"{wording.utc_stamp(report.old.revised)} → {wording.utc_stamp(report.new.revised)}")


class SideData(TypedDict):
    """A Side in --json."""

    date: str
    status: str
    title: str


class BuilderGroupData(TypedDict):
    """A BuilderGroup in --json."""

    next_decision_dates: Literal["any"] | list[str]
    enduring_materials: list[bool]
    accreditors: list[str | None]


def _side_dict(side: Side | None) -> SideData | None:
    """One version of an event as data."""
    return None if side is None else {"date": side.date, "status": side.status, "title": side.title}


def _groups_dict(report: Report, shapes: Iterable[Shape]) -> list[BuilderGroupData]:
    """Builder calendars reached, as the groups the words name."""
    return [{"next_decision_dates": "any" if g.ndds is None else [d.isoformat() for d in g.ndds],
             "enduring_materials": list(g.enduring), "accreditors": list(g.accreditors)}
            for g in builder_groups(shapes, report.shapes)]


def as_dict(report: Report) -> dict[str, Any]:
    """The report as plain data, for --json."""
    found = {d.kind for d in report.differences}
    return {
        "old": {"path": report.old.path, "revised": wording.utc_stamp(report.old.revised)},
        "new": {"path": report.new.path, "revised": wording.utc_stamp(report.new.revised)},
        "today": report.today.isoformat(),
        "differences": [
            {"track": d.track, "cycle": d.cycle, "milestone": d.milestone, "kind": d.kind,
             "changes": list(d.changes), "title": d.title,
             "old": _side_dict(d.old), "new": _side_dict(d.new),
             "providers": d.providers, "builder": _groups_dict(report, d.builder),
             "tracks": list(d.tracks), "reaches": reach_words(report, d),
             "text": line(report, d)}
            for d in report.differences],
        "calendars": [{"track": c.track, "kind": c.kind, "name": c.name, "text": calendar_line(c)}
                      for c in report.calendars],
        "summary": {**{k: report.count(k) for k in kinds(found)}, "providers": report.reached,
                    "roster": len(report.new.providers),
                    "builder": _groups_dict(report, report.builder), "text": summary(report)},
        "problems": list(report.problems),
    }


def reload_line(old: Rules, new: Rules, today: date) -> str:
    """What a reload changed, for the server's log: events moved, appeared, disappeared, published."""
    report = compare(old, new, today)
    counts = [f"{report.count(k)} {SUMMARY_WORDS[k]}" for k in ("moved", "appears", "disappears")]
    if report.count("published"):
        counts.append(f"{report.count('published')} published")
    return (f"events: {', '.join(counts)}; {report.reached} of "
            f"{wording.count(len(new.providers), 'provider')} affected")
