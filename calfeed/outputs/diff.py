"""What an edit of rules.toml does to every calendar, before it ships: the diff stage.

Plain functions over two loaded Rules. Every calendar calfeed can make is one of
a few audiences (a Next Decision Date, enduring materials or not, an accreditor),
so each audience is expanded once with the old rules and once with the new, and
its events are compared by their stable names (track, cycle, milestone). The
roster says how many providers each audience, and so each difference, reaches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from calfeed.core import engine, wording
from calfeed.core.model import Day, Deadline, Event, Month, Profile, Rules, Timed

# The order of kinds within a milestone, and their names in the summary.
KINDS = ("appears", "disappears", "moved", "precision", "status", "title")
SUMMARY_WORDS = {"appears": "appeared", "disappears": "disappeared", "moved": "moved",
                 "precision": "changed precision", "status": "changed status",
                 "title": "retitled"}
# Kinds that change a date a subscriber sees: they need `revised` raised.
DATE_KINDS = ("appears", "disappears", "moved", "precision")


@dataclass(frozen=True)
class Difference:
    """One change to one event, with how many roster providers see it."""

    track: str
    cycle: str
    milestone: str
    kind: str  # one of KINDS
    title: str  # the event's title: the new one, or the old one if it disappears
    old: str | None  # the old date (or title, status) in words; None if it appears
    new: str | None  # the new one; None if it disappears
    providers: int = 0
    position: int = 0  # the milestone's place in its track, to list in ACCME's order

    @property
    def sort_key(self) -> tuple:
        """By track and cycle, then the track's own order, then kind."""
        return (self.track, self.cycle, self.position, self.milestone, KINDS.index(self.kind),
                self.old or "", self.new or "", self.title)


@dataclass(frozen=True)
class Report:
    """Every difference between two rules files, and the lines to fix before deploying."""

    old: Rules
    new: Rules
    today: date
    differences: tuple[Difference, ...]
    problems: tuple[str, ...]
    reached: int  # roster providers who see at least one difference

    def count(self, kind: str) -> int:
        """How many differences of one kind."""
        return sum(1 for d in self.differences if d.kind == kind)


@dataclass
class _Audience:
    """Everyone whose calendar is the same: a profile to expand and the providers it stands for."""

    profile: Profile
    providers: int


def _audiences(old: Rules, new: Rules) -> dict[tuple, _Audience]:
    """One audience per shape of calendar: each roster shape, each public track, each accreditor."""
    found: dict[tuple, _Audience] = {}
    for track in sorted(set(old.tracks) | set(new.tracks)):
        # A public track page shows every step, conditional ones marked so.
        profile = Profile("diff", "", enduring_materials=None, tracks=(track,))
        found[("track", track)] = _Audience(profile, 0)
    for accreditor in sorted(set(old.accreditors) | set(new.accreditors)):
        yearly = tuple(sorted(t.id for r in (old, new) for t in r.tracks.values() if t.yearly))
        profile = Profile("diff", "", enduring_materials=None, accreditor=accreditor,
                          tracks=yearly)
        found[("accreditor", accreditor)] = _Audience(profile, 0)
    for provider in new.providers.values():
        key = ("roster", provider.next_decision_date, provider.enduring_materials,
               provider.accreditor, provider.reported)  # own dates: a calendar of its own
        if key not in found:
            found[key] = _Audience(Profile("diff", "", provider.next_decision_date,
                                           provider.enduring_materials, provider.accreditor,
                                           reported=provider.reported), 0)
        found[key].providers += 1
    return found


def _words(event: Event) -> str:
    """An event's date in words, in the deadline's own zone and its true precision."""
    if event.start is None:
        return event.when or "undated"
    return wording.moment_words(event.start, event.precision)


def _compare(old: Event | None, new: Event | None) -> list[tuple[str, str | None, str | None]]:
    """The kinds of change between two versions of one event, each with old and new words."""
    if old is None:
        return [("appears", None, _words(new))]  # type: ignore[arg-type]
    if new is None:
        return [("disappears", _words(old), None)]
    found = []
    if old.precision != new.precision:
        found.append(("precision", _words(old), _words(new)))
    elif old.start != new.start:
        found.append(("moved", _words(old), _words(new)))
    if old.status != new.status:
        found.append(("status", old.status, new.status))
    # The bare titles: a caveat that comes or goes ("estimated", an accreditor's
    # unknown date) is a change of status or audience, not of ACCME's wording.
    if old.bare_title != new.bare_title:
        found.append(("title", old.bare_title, new.bare_title))
    return found


def _positions(old: Rules, new: Rules) -> dict[tuple[str, str], int]:
    """Each milestone's place in its track: the new file's order, then the old one's."""
    positions: dict[tuple[str, str], int] = {}
    for rules in (new, old):
        for track in rules.tracks.values():
            for n, milestone in enumerate(track.milestones):
                positions.setdefault((track.id, milestone.id), n)
    return positions


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
    where, form = _place(rules, new, accreditor)
    was, now = _toml(old.start, old.precision), _toml(new.start, new.precision)  # type: ignore[arg-type]
    entry = f'changes = [{{ was = {was}, announced = YYYY-MM-DD, note = "why it moved" }}]'
    if (form in ("at", "date") and not where.startswith("tracks." + new.track + ".milestones")) \
            or where.startswith("progress."):
        # A data year's date, or a cohort's, is written bare; its history needs the long form.
        key = where.rsplit(".", 1)[1]
        entry = f"{key} = {{ {form} = {now}, {entry} }}"
    return (f"{rules.path}: {where}: published date moved from {was} to {now} with no history "
            f"entry (expected {entry})")


def compare(old: Rules, new: Rules, today: date) -> Report:
    """Every event that appears, disappears or changes between two rules, for every audience."""
    positions = _positions(old, new)
    merged: dict[tuple, Difference] = {}
    reach: dict[tuple, int] = {}
    history: dict[str, None] = {}
    reached = 0
    for audience in _audiences(old, new).values():
        before = {(e.track, e.cycle, e.milestone): e
                  for e in engine.schedule(old, audience.profile, today)}
        after = {(e.track, e.cycle, e.milestone): e
                 for e in engine.schedule(new, audience.profile, today)}
        seen = False
        for key in sorted(set(before) | set(after)):
            was, now = before.get(key), after.get(key)
            for kind, old_words, new_words in _compare(was, now):
                seen = True
                ident = key + (kind, old_words, new_words)
                if ident not in merged:
                    title = (now or was).bare_title  # type: ignore[union-attr]
                    merged[ident] = Difference(*key, kind, title, old_words, new_words,
                                               0, positions.get((key[0], key[2]), 0))
                reach[ident] = reach.get(ident, 0) + audience.providers
            if was is not None and now is not None:
                line = _history_problem(new, was, now, audience.profile.accreditor)
                if line:
                    history[line] = None
        reached += audience.providers if seen else 0
    differences = sorted(
        (Difference(d.track, d.cycle, d.milestone, d.kind, d.title, d.old, d.new,
                    reach[ident], d.position) for ident, d in merged.items()),
        key=lambda d: d.sort_key)
    problems = []
    if any(d.kind in DATE_KINDS for d in differences) and new.revised <= old.revised:
        problems.append(
            f"{new.path}: revised: {wording.utc_stamp(new.revised)} is not later than "
            f"{wording.utc_stamp(old.revised)} in {old.path}, and dates changed (expected "
            f"revised raised to when you made this edit, so subscribed calendars update)")
    problems += sorted(history)
    return Report(old, new, today, tuple(differences), tuple(problems), reached)


def lines(report: Report) -> list[str]:
    """The report as text: a heading per track and cycle, a line per difference, a summary last."""
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
        if d.kind == "title":  # the old and new titles say it all
            reach = wording.count(d.providers, "provider")
            out.append(f'  title {d.milestone}: "{d.old}" → "{d.new}" ({reach})')
            continue
        change = (d.new if d.old is None else d.old if d.new is None else f"{d.old} → {d.new}")
        out.append(f'  {d.kind} {d.milestone} "{d.title}": {change} '
                   f"({wording.count(d.providers, 'provider')})")
    out.append(summary(report))
    return out


def summary(report: Report) -> str:
    """One line: how many of each kind, how many providers they reach, the revisions."""
    counts = ", ".join(f"{report.count(k)} {SUMMARY_WORDS[k]}" for k in KINDS if report.count(k))
    roster = len(report.new.providers)
    return (f"{counts or 'no changes'}; reaches {report.reached} of "
            f"{wording.count(roster, 'provider')} on the roster; revised "
            f"{wording.utc_stamp(report.old.revised)} → {wording.utc_stamp(report.new.revised)}")


def as_dict(report: Report) -> dict:
    """The report as plain data, for --json."""
    return {
        "old": {"path": report.old.path, "revised": wording.utc_stamp(report.old.revised)},
        "new": {"path": report.new.path, "revised": wording.utc_stamp(report.new.revised)},
        "today": report.today.isoformat(),
        "differences": [
            {"track": d.track, "cycle": d.cycle, "milestone": d.milestone, "kind": d.kind,
             "title": d.title, "old": d.old, "new": d.new, "providers": d.providers}
            for d in report.differences],
        "summary": {**{k: report.count(k) for k in KINDS}, "providers": report.reached,
                    "roster": len(report.new.providers), "text": summary(report)},
        "problems": list(report.problems),
    }


def reload_line(old: Rules, new: Rules, today: date) -> str:
    """What a reload changed, for the server's log: events moved, appeared, disappeared."""
    report = compare(old, new, today)
    counts: Iterable[str] = (f"{report.count(k)} {SUMMARY_WORDS[k]}"
                             for k in ("moved", "appears", "disappears"))
    return (f"events: {', '.join(counts)}; {report.reached} of "
            f"{wording.count(len(new.providers), 'provider')} affected")
