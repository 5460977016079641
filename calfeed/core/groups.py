"""A group's calendar: its providers' schedules as one, each step at one moment one event.

A group is many providers in one view (a consultant's clients, every provider of an
accreditor). Its calendar holds every event of every member, collapsed: the step due at
one moment for many providers (annual reporting, for everyone) is one event that names
them all, never one per provider.

Who a provider is (id, name, private URL, addresses) changes nothing in its events but
their UIDs: the engine's output depends on the rest of its profile, its *audience* (Next
Decision Date, enduring materials, accreditor). So each audience is scheduled once,
however many providers share it: a 1,500-provider group costs a handful of schedules.

UIDs (docs/design.md §3): `group/<group>/<track>/<cycle>/<milestone>@calfeed`, five
segments where every other calendar's have four, so no group event can take a
provider's, a track's or the builder's UID. A step whose content is its providers'
accreditor's (the annual deadline a Recognized Accreditor sets) adds the accreditor's id,
`…/<milestone>/cma@calfeed`; a step whose content is one provider's own (nothing else
tells it apart) adds `provider/<id>`. All are names only: an event keeps its UID when
providers join or leave the group, and when ACCME moves its date. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import combinations
from typing import Any

from calfeed.core import engine, wording
from calfeed.core.model import Calendar, Event, Group, Profile, Rules, Track

# The last segment of a group event's own .ics path: the milestone, then its variant
# (an accreditor's id after ".", a provider's after "~": ids have neither).
VARIANT_SEPARATOR = "."
OWN_SEPARATOR = "~"


@dataclass(frozen=True)
class Shared:
    """One event of a group's calendar: a step at one moment, and the providers it is due for."""

    event: Event  # as the group's feed has it: its UID, a title and description naming providers
    step: Event  # as each of those providers' own calendars has it (but its UID)
    providers: tuple[Profile, ...]  # roster order
    key: str  # its .ics path's last segment: the milestone, and its variant ("annual-agreement.cma")


@dataclass(frozen=True)
class Member:
    """One provider of a group as its overview shows it: its next step and its estimates."""

    profile: Profile
    events: tuple[Event, ...]  # its own calendar's events (its audience's; UIDs not its own)
    next: Event | None  # the next step it acts on (ACCME's own steps only when nothing else is left)
    estimated: int  # how many of its dates still ahead are estimated
    upcoming: int  # how many of its dates are still ahead


@dataclass(frozen=True)
class Schedule:
    """A group's calendar for one day: its events, collapsed, and its members, in roster order."""

    group: Group
    events: tuple[Shared, ...]  # sorted by start, undated last
    members: tuple[Member, ...]
    tracks: tuple[Track, ...]  # every schedule in it, once

    def feed(self) -> list[Event]:
        """The events as the group's feed renders them."""
        return [s.event for s in self.events]


def audience(profile: Profile) -> Profile:
    """What a provider's events depend on: its profile without who it is."""
    return replace(profile, id="", name="", rotation=0, contacts=(), groups=())


def _plain(profile: Profile) -> Profile:
    """An audience's plain form: accredited by ACCME, nothing else of its own."""
    return Profile("", "", profile.next_decision_date, profile.enduring_materials, None,
                   profile.tracks)


def _content(event: Event) -> Event:
    """An event without its UID: what two providers' copies of a step must share to be one."""
    return replace(event, uid="")


def uid(group: Group, event: Event, variant: str) -> str:
    """A group event's UID: names only, five segments or more (docs/design.md §3)."""
    tail = f"/{variant}" if variant else ""
    return f"group/{group.id}/{event.track}/{event.cycle}/{event.milestone}{tail}@calfeed"


def key(event: Event, variant: str) -> str:
    """The last segment of a group event's own .ics path."""
    if variant.startswith("provider/"):
        return event.milestone + OWN_SEPARATOR + variant.removeprefix("provider/")
    return event.milestone + (VARIANT_SEPARATOR + variant if variant else "")


class _Audiences:
    """Each audience's events scheduled once, with each event's variant."""

    def __init__(self, rules: Rules, today: date) -> None:
        self.rules = rules
        self.today = today
        self.events: dict[Profile, list[Event]] = {}
        self.variants: dict[Profile, list[str | None]] = {}

    def schedule(self, audience: Profile) -> list[Event]:
        """An audience's events (engine.schedule, once per audience)."""
        found = self.events.get(audience)
        if found is None:
            found = self.events[audience] = engine.schedule(self.rules, audience, self.today)
        return found

    def _contents(self, audience: Profile) -> dict[tuple[str, str, str], Event]:
        """An audience's events without UIDs, by track, cycle and milestone."""
        return {(e.track, e.cycle, e.milestone): _content(e) for e in self.schedule(audience)}

    def variant(self, audience: Profile) -> list[str | None]:
        """Per event of an audience: "" where every audience with its dates shares it; the
        accreditor's id where its deadline (or note) makes the step its own; None where
        nothing but the provider tells it apart (schedule() names it after the provider)."""
        found = self.variants.get(audience)
        if found is not None:
            return found
        events = self.schedule(audience)
        plain = _plain(audience)
        if plain == audience:
            found = [""] * len(events)
        else:
            base = self._contents(plain)
            accredited = replace(plain, accreditor=audience.accreditor)
            theirs = self._contents(accredited) if audience.accreditor else {}
            found = []
            for event in events:
                place, content = (event.track, event.cycle, event.milestone), _content(event)
                found.append("" if base.get(place) == content else audience.accreditor
                             if theirs.get(place) == content else None)
        self.variants[audience] = found
        return found


def schedule(rules: Rules, group: Group, today: date) -> Schedule:
    """A group's calendar: every member's events, a step at one moment for many one event."""
    audiences = _Audiences(rules, today)
    collected: dict[str, tuple[Event, str, list[Profile]]] = {}
    members = []
    for ident in group.members:
        profile = rules.providers[ident]
        seen = audience(profile)
        events = audiences.schedule(seen)
        for event, named in zip(events, audiences.variant(seen)):
            variant = f"provider/{profile.id}" if named is None else named
            name = uid(group, event, variant)
            entry = collected.get(name)
            if entry is None:
                collected[name] = (event, variant, [profile])
            else:
                # Two providers' copies of a step under one UID must be the same event.
                assert _content(entry[0]) == _content(event), name
                entry[2].append(profile)
        members.append(_member(profile, events, today))
    shared = []
    everyone = [rules.providers[i] for i in group.members]
    accreditors = {a.id: a.name for a in rules.accreditors.values()}
    lines: dict[tuple[str, ...], str] = {}  # many steps share their providers: worded once
    for name, (event, variant, providers) in collected.items():
        names = [p.name for p in providers]
        ids = tuple(p.id for p in providers)
        if ids not in lines:
            facts = traits(providers, everyone) if len(providers) > 1 else None
            lines[ids] = wording.providers_line(
                names, wording.providers_with(facts, len(providers), accreditors)
                if facts else None)
        shared.append(Shared(
            replace(event, uid=name, bare_title=wording.group_title(names, event.bare_title),
                    description=event.description + "\n\n" + lines[ids]),
            event, tuple(providers), key(event, variant)))
    tracks: dict[str, Track] = {}
    for seen in audiences.events:
        for track in engine.tracks_for(rules, seen):
            tracks.setdefault(track.id, track)
    # Steps at one moment in ACCME's order (a provider without enduring materials lacks
    # one of them, so the first provider's order is not enough), then the roster's.
    place = {(t.id, m.id): (n, i) for n, t in enumerate(tracks.values())
             for i, m in enumerate(t.milestones)}
    shared.sort(key=lambda s: (s.event.sort_key,
                               place.get((s.event.track, s.event.milestone), (0, 0))))
    return Schedule(group, tuple(shared), tuple(members), tuple(tracks.values()))


# What a set of providers may share that sets it apart in a group: the facts that decide
# which steps a provider has (its accreditor's deadlines, the enduring-materials step,
# its progress-report cohort).
TRAITS = ("accreditor", "enduring_materials", "next_decision_date")


def traits(providers: Sequence[Profile], members: Sequence[Profile]
           ) -> tuple[tuple[str, Any], ...] | None:
    """The fewest shared facts that hold for exactly these providers among the members
    (("accreditor", None) is ACCME's), or None when no such facts tell them apart.

    So a page or a digest can say "every provider accredited by the California Medical
    Association" instead of listing 150 names.
    """
    ids = {p.id for p in providers}
    shared = []
    for name in TRAITS:
        values = {getattr(p, name) for p in providers}
        if len(values) == 1:
            value = values.pop()
            # An absent flag or date is no fact to tell a provider by (ACCME is, as None).
            if name == "accreditor" or value:
                shared.append((name, value))
    for size in range(1, len(shared) + 1):
        for chosen in combinations(shared, size):
            if {m.id for m in members if all(getattr(m, n) == v for n, v in chosen)} == ids:
                return chosen
    return None


def next_step(events: Sequence[Event], today: date) -> Event | None:
    """The next dated step a provider acts on; ACCME's own only when nothing else is ahead."""
    upcoming = [e for e in events if e.start is not None and not e.passed(today)]
    mine = [e for e in upcoming if e.actor != "accme"] or upcoming
    return mine[0] if mine else None


def _member(profile: Profile, events: list[Event], today: date) -> Member:
    """A provider's line of the overview."""
    upcoming = [e for e in events if e.start is not None and not e.passed(today)]
    return Member(profile, tuple(events), next_step(events, today),
                  sum(e.status == "estimated" for e in upcoming), len(upcoming))


def calendar(rules: Rules, schedule: Schedule, url: str | None = None) -> Calendar:
    """The header of a group's calendar: identity, name, description, revision."""
    group = schedule.group
    return Calendar(uid=f"group/{group.id}@calfeed", name=wording.group_calendar_name(group.name),
                    description=wording.group_calendar_description(
                        group.name, len(group.members), [t.name for t in schedule.tracks]),
                    revised=rules.revised, sequence=engine.sequence(rules.revised), url=url)
