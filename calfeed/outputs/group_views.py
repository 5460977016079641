"""What a group's page shows: an overview of its providers, then its steps by date, with names.

Pure, like views.py: the web layer passes the group's schedule, the providers' page paths,
today and the site. The overview comes first (one row per provider, in the order the
path chose: by next deadline, or by name), then every step still ahead across the
providers, a moment at a time, each with the providers it is due for; the passed steps
are folded away.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from calfeed.core import wording
from calfeed.core.calendars import Subject
from calfeed.core.groups import Member, Schedule, Shared, traits
from calfeed.core.model import Calendar, Rules
from calfeed.outputs.views import EventView, event_view, recent, subscribe_box

# A step's providers are listed; more than this many are folded behind their count.
NAMES_SHOWN = 8


@dataclass(frozen=True)
class Row:
    """One provider in the overview."""

    name: str
    page: str  # its private page, root-relative
    accreditor: str  # "ACCME", or the Recognized Accreditor's name
    ndd: str | None  # its Next Decision Date in words
    ndd_iso: str | None
    next_when: str | None  # its next step's date in words
    next_iso: str | None
    next_title: str | None
    next_left: str | None  # "in 12 days"
    estimated: int  # of its dates still ahead, how many are estimated
    upcoming: int


@dataclass(frozen=True)
class Block:
    """Steps at one moment due for the same providers."""

    providers: tuple[tuple[str, str], ...]  # (name, page path), roster order
    everyone: bool  # every provider of the group: said in words, not listed
    steps: tuple[EventView, ...]
    # Too many to list, said by what they share: "the 150 providers accredited by …".
    which: str | None = None


@dataclass(frozen=True)
class Moment:
    """Everything due at one moment across the group's providers."""

    when: str
    iso: str | None
    day: date | None
    past: bool
    blocks: tuple[Block, ...]

    @property
    def steps(self) -> int:
        """How many steps fall at this moment, for all its providers."""
        return sum(len(b.steps) for b in self.blocks)


@dataclass(frozen=True)
class Section:
    """A month ahead, or a data year or cohort in the fold of passed steps."""

    label: str
    slots: tuple[Moment, ...]  # named as a provider page's months are: one timeline template


@dataclass(frozen=True)
class Timeline:
    """The group's steps: ahead by month, the undated still open, the passed by cycle."""

    upcoming: tuple[Section, ...]
    undated: tuple[Moment, ...]
    past: tuple[Section, ...]
    passed: int  # how many steps are in the fold


def row(member: Member, page: str, accreditor: str | None, today: date) -> Row:
    """A provider's overview row."""
    profile = member.profile
    ndd = profile.next_decision_date
    following = member.next
    when = iso = title = left = None
    if following is not None:
        start = following.start
        assert start is not None
        day = start.date() if isinstance(start, datetime) else start
        when = wording.when(following)
        iso = start.isoformat()[:7] if following.precision == "month" else start.isoformat()
        title = wording.title(following)
        left = wording.days_left((day - today).days, following.precision, day)
    return Row(profile.name, page, accreditor or "ACCME", wording.long_date(ndd) if ndd else None,
               ndd.isoformat() if ndd else None, when, iso, title, left, member.estimated,
               member.upcoming)


def overview(schedule: Schedule, pages: Mapping[str, str], accreditors: Mapping[str, str],
             today: date, order: str) -> list[Row]:
    """The overview's rows: by next deadline (those with nothing ahead last), or by name."""
    members = list(schedule.members)
    if order == "name":
        members.sort(key=lambda m: m.profile.name.casefold())
    else:
        members.sort(key=lambda m: (m.next is None, m.next.sort_key if m.next else (),
                                    m.profile.name.casefold()))
    return [row(m, pages[m.profile.id], accreditors.get(m.profile.accreditor or ""), today)
            for m in members]


def _view(shared: Shared, today: date, subject: Subject) -> EventView:
    """A step as the page shows it: its own title (the providers are listed apart), its .ics."""
    view = event_view(shared.step, today, subject)
    ics = (f"{subject.base}/events/{shared.step.track}/{shared.step.cycle}/{shared.key}.ics"
           if shared.step.start is not None else None)
    # The reader looks after the providers: "Provider" acts, not "You".
    return replace(view, ics=ics, actor=wording.actor_label(shared.step.actor))


def _block(items: list[Shared], views: Mapping[str, EventView], schedule: Schedule,
           pages: Mapping[str, str], accreditors: Mapping[str, str]) -> Block:
    """Steps at one moment for the same providers: named, or too many, said by what they share."""
    providers = items[0].providers
    everyone = len(schedule.members)
    which = None
    if NAMES_SHOWN < len(providers) < everyone:
        facts = traits(providers, [m.profile for m in schedule.members])
        if facts:
            which = wording.providers_with(facts, len(providers), dict(accreditors))
    return Block(tuple((p.name, pages[p.id]) for p in providers),
                 len(providers) == everyone and everyone > 1,
                 tuple(views[i.event.uid] for i in items), which)


def _moments(shared: list[Shared], views: Mapping[str, EventView], schedule: Schedule,
             pages: Mapping[str, str], accreditors: Mapping[str, str]) -> list[Moment]:
    """Consecutive steps at one moment as one Moment, its steps by the providers they are for."""
    found: list[list[Shared]] = []
    for item in shared:
        start = item.event.start
        if start is not None and found and found[-1][0].event.start == start \
                and found[-1][0].event.precision == item.event.precision:
            found[-1].append(item)
        else:
            found.append([item])
    moments = []
    for items in found:
        blocks: dict[tuple[str, ...], list[Shared]] = {}
        for item in items:
            blocks.setdefault(tuple(p.id for p in item.providers), []).append(item)
        first = views[items[0].event.uid]
        moments.append(Moment(first.when, first.iso, first.day,
                              all(views[i.event.uid].past for i in items),
                              tuple(_block(group, views, schedule, pages, accreditors)
                                    for group in blocks.values())))
    return moments


def timeline(schedule: Schedule, today: date, subject: Subject, pages: Mapping[str, str],
             accreditors: Mapping[str, str]) -> tuple[Timeline, list[EventView]]:
    """The group's steps ahead by month, undated, and passed by cycle; and every step's view."""
    views = {s.event.uid: _view(s, today, subject) for s in schedule.events}

    def cycle(item: Shared) -> tuple[str, str]:
        return (item.event.track, item.event.cycle)

    dated = [s for s in schedule.events if s.event.start is not None]
    running = {cycle(s) for s in dated if not views[s.event.uid].past}
    finished = {cycle(s) for s in dated} - running
    ahead = [s for s in dated if not views[s.event.uid].past]
    months: list[Section] = []
    for moment in _moments(ahead, views, schedule, pages, accreditors):
        assert moment.day is not None
        label = wording.month_year(moment.day)
        if months and months[-1].label == label:
            months[-1] = Section(label, months[-1].slots + (moment,))
        else:
            months.append(Section(label, (moment,)))
    gone: dict[tuple[str, str], list[Shared]] = {}
    for item in schedule.events:
        if views[item.event.uid].past or (item.event.start is None and cycle(item) in finished):
            gone.setdefault(cycle(item), []).append(item)
    # Newest first, as on a provider's page.
    order = sorted(gone, key=lambda k: max((day for day in (views[s.event.uid].day for s in gone[k])
                                            if day), default=date.min),
                   reverse=True)
    past = tuple(Section(wording.schedule(gone[k][0].step),
                         tuple(_moments(gone[k], views, schedule, pages, accreditors)))
                 for k in order)
    undated = [s for s in schedule.events if s.event.start is None and cycle(s) not in finished]
    return Timeline(tuple(months), tuple(_moments(undated, views, schedule, pages, accreditors)),
                    past, sum(len(g) for g in gone.values())), list(views.values())


def group_page(rules: Rules, subject: Subject, calendar: Calendar, schedule: Schedule,
               pages: Mapping[str, str], today: date, site: str, order: str = "deadline"
               ) -> dict[str, Any]:
    """Everything group.html shows: the overview in the chosen order, then the steps by date.

    `pages` maps each provider id to its private page's path (root-relative).
    """
    accreditors = {a.id: a.name for a in rules.accreditors.values()}
    group = schedule.group
    plan, views = timeline(schedule, today, subject, pages, accreditors)
    accreditor = rules.accreditors.get(group.accreditor or "")
    return {
        "subject": subject, "private": True, "calendar": calendar, "today": today,
        "tracks": schedule.tracks, "group": group,
        "accreditor": accreditor,
        "subscribe": subscribe_box(subject, site, calendar.name, None),
        "rows": overview(schedule, pages, accreditors, today, order), "order": order,
        "orders": {"deadline": subject.page(), "name": subject.ordered("name")},
        "timeline": plan, "recent": recent(views),
        "estimated": sum(m.estimated for m in schedule.members),
    }
