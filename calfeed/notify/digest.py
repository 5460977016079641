"""Plan the groups' weekly digests: who gets one this run, and what each says. Pure.

A group's addresses get one digest a week, on rules.toml's `[notify] digest_day`
(Monday unless it says otherwise): everything due in the next `digest_weeks` weeks
across the group's providers, a moment at a time with the providers it is due for, and
every date that moved or was published since the recipient's last digest.

- **Once a week, never twice**: a digest is for its week, the latest digest day on or
  before today; the send log keeps (recipient, group, week) once a digest is confirmed,
  so a run finds it sent (or a later one: a digest day moved to earlier in the week waits
  for its next turn). A run that missed the digest day (the machine was off) sends
  that week's on its next run: never lost.
- **News since the last digest**, from what the recipient was told of each provider's
  copy of each step (the send log's `told`, under a key of the group's own, so that a
  provider's reminders and a group's digest never take each other's news). A provider
  the recipient meets for the first time (a new client, a new address) is no news: its
  dates are recorded quietly. The group event's UID is the same whoever joins or
  leaves, so a news item counts the providers it concerns.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from calfeed.core import groups
from calfeed.core.groups import Shared
from calfeed.core.model import WEEKDAYS, Group, Profile, Rules
from calfeed.notify.plan import Record, ToldMap, date_key, due_day, last_day

Notice = Literal["moved", "published"]
# The send log's `provider` column for what a group's recipient knows of one member's
# dates: never a provider id (ids have no ":" or "/").
TOLD_PREFIX = "group:"
# (recipient, group id, week): digests already sent
Digested = Collection[tuple[str, str, str]]


@dataclass(frozen=True)
class News:
    """A date of a group event that moved or was published, for the providers it concerns."""

    shared: Shared
    notice: Notice
    was: str | None  # the date key before a move
    providers: tuple[Profile, ...]


@dataclass(frozen=True)
class Digest:
    """One recipient's digest of one group for one week."""

    recipient: str = field(repr=False)  # the address: kept out of anything that prints a Digest
    label: str  # how logs name the recipient: "group:acme#1", never the address
    group: Group
    week: date  # the digest day this digest is for
    today: date
    until: date  # the last day "due in the coming weeks" covers
    due: tuple[Shared, ...]  # dated steps from today to `until`, sorted
    news: tuple[News, ...]
    records: tuple[Record, ...] = field(repr=False)  # what the recipient knows once it is sent
    following: Shared | None = None  # when nothing is due in the window: the next date


def told_key(group: Group, provider: str) -> str:
    """The send log's `provider` value for a group recipient's knowledge of one member."""
    return f"{TOLD_PREFIX}{group.id}/{provider}"


def week_of(today: date, weekday: str) -> date:
    """The digest day a digest sent today is for: the latest `weekday` on or before today."""
    return today - timedelta(days=(today.weekday() - WEEKDAYS.index(weekday)) % 7)


def recipients(rules: Rules) -> list[tuple[str, Group, int]]:
    """Each group address, its group and its place (from 1) in the group's `email` cell."""
    return [(address, group, n) for group in rules.groups.values()
            for n, address in enumerate(group.contacts, 1)]


def label(group: Group, place: int) -> str:
    """A group recipient as logs may name it: "group:acme#1"."""
    return f"{TOLD_PREFIX}{group.id}#{place}"


def plan(rules: Rules, today: date, told: ToldMap,
         digested: Digested) -> tuple[tuple[Digest, ...], tuple[Record, ...]]:
    """The digests due today, and what recipients now know without one (first meetings)."""
    week = week_of(today, rules.digest_day)
    until = today + timedelta(weeks=rules.digest_weeks) - timedelta(days=1)
    known_pairs = {(recipient, provider) for recipient, provider, _ in told}
    latest: dict[tuple[str, str], str] = {}
    for recipient, group_id, sent_week in digested:
        latest[recipient, group_id] = max(sent_week, latest.get((recipient, group_id), ""))
    schedules: dict[str, groups.Schedule] = {}
    digests, quiet = [], []
    for address, group, place in recipients(rules):
        # Already sent for this week's digest day, or a later one (the day was moved back).
        if latest.get((address, group.id), "") >= week.isoformat():
            continue
        if group.id not in schedules:
            schedules[group.id] = groups.schedule(rules, group, today)
        schedule = schedules[group.id]
        news, records, first = _news(schedule, address, today, told, known_pairs)
        quiet += first
        ahead = [s for s in schedule.events if s.event.start is not None
                 and last_day(s.event) >= today]
        due = tuple(s for s in ahead if due_day(s.event) <= until)
        digests.append(Digest(address, label(group, place), group, week, today, until, due,
                              tuple(news), tuple(records),
                              None if due or not ahead else ahead[0]))
    digests.sort(key=lambda d: d.label)
    return tuple(digests), tuple(quiet)


def _news(schedule: groups.Schedule, address: str, today: date, told: ToldMap,
          known_pairs: Collection[tuple[str, str]]
          ) -> tuple[list[News], list[Record], list[Record]]:
    """What moved or was published for one recipient; the records its digest confirms; and
    the records of providers it meets for the first time, to keep at once."""
    group = schedule.group
    found: dict[tuple[str, Notice, str | None], list[Profile]] = {}
    by_uid: dict[str, Shared] = {}
    records: list[Record] = []
    first_records: list[Record] = []
    for shared in schedule.events:
        event = shared.event
        if event.start is None:
            continue
        key = date_key(event)
        ahead = last_day(event) >= today
        for profile in shared.providers:
            whose = told_key(group, profile.id)
            now = Record(address, whose, event.uid, key, event.status)
            before = told.get((address, whose, event.uid))
            if (address, whose) not in known_pairs:
                first_records.append(now)  # a first meeting: everything is known, nothing news
                continue
            notice: Notice | None = None
            if ahead:
                if before is None:
                    # An estimate coming into view (next year's deadline) is no news.
                    notice = "published" if event.status == "published" else None
                elif before.start != key:
                    notice = "moved"
                elif before.status == "estimated" and event.status == "published":
                    notice = "published"
            if before is None or (before.start, before.status) != (key, event.status):
                records.append(now)
            if notice is not None:
                was = before.start if notice == "moved" and before is not None else None
                found.setdefault((event.uid, notice, was), []).append(profile)
                by_uid[event.uid] = shared
    news = [News(by_uid[uid], notice, was, tuple(profiles))
            for (uid, notice, was), profiles in found.items()]
    news.sort(key=lambda n: n.shared.event.sort_key)
    return news, records, first_records
