"""Plan the email reminders of one run: who is told what, from the rules, today and the send log.

Pure: no I/O, no clock. The send log (sendlog.py) says what each recipient has already
been sent and which date of each event they were last told; this module decides what is
due now, and dispatch.py sends it.

- A reminder goes out `days_before` (rules.toml [notify], default 30, 7 and 1) each
  dated deadline where the provider acts. A run that finds several lead times passed
  (the timer missed days) sends only the nearest one, and nothing after the deadline.
- A published date that moved is one notice ("moved"); a date that is newly published
  (a new event, or an estimate that ACCME's, or an accreditor's, publication replaced,
  at the estimate's date or another) is one notice ("published"), never a move.
  Reminders are keyed by the event's date, so after either they count again towards
  the new date.
- A recipient gets one message per run, whatever the number of providers they are on
  and calendars they signed up to (a `Source` each: a roster place, or a sign-up with
  its own lead times, keyed in the send log by its calendar, "track:…").
- The first run that meets a recipient on a provider tells them nothing new: what
  they are shown is recorded quietly as what they know.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from calfeed.core import engine
from calfeed.core.model import Event, Precision, Profile, Rules

Notice = Literal["moved", "published"]


@dataclass(frozen=True)
class Told:
    """What one recipient was last told of one event: its date key and status."""

    start: str
    status: str


# (recipient, provider id, event UID) -> what they were told of it
ToldMap = Mapping[tuple[str, str, str], Told]
# (recipient, provider id, event UID, date key, days before): reminders already sent
Reminded = Collection[tuple[str, str, str, str, int]]


@dataclass(frozen=True)
class Source:
    """One calendar a recipient is told about: a roster place, or a calendar they signed up to."""

    key: str  # the send log's provider column: the roster id, or a sign-up's "track:…"
    profile: Profile  # whose calendar (its events and UIDs)
    label: str  # how logs name it: "demo-annual#2", "subscriber k3j9xq"
    lead_days: tuple[int, ...]
    notices: bool = True  # whether moves and publications are news to them
    signup: bool = False  # a sign-up (its message part says so), not the roster's place
    # The calendar signed up to, when it is not this provider's own: a group's name
    # (its subscriber is told about each of its providers, one Source each).
    calendar: str = ""


@dataclass(frozen=True)
class Item:
    """One event in one message: a reminder, a notice, or a notice that is also the reminder."""

    provider: Profile
    event: Event
    start: str  # the event's date key (date_key)
    days_left: int  # from today to the deadline's day (a month's first), in the deadline's zone
    lead: int | None  # the reminder this is (days before), or None for a notice only
    notice: Notice | None
    was: str | None = None  # the date key the recipient was told before: a move's, or the estimate's
    was_status: str | None = None  # the status they were told it had ("estimated")
    source: Source | None = None  # the sign-up it is for; None: the roster's provider

    @property
    def key(self) -> str:
        """The send log's provider column: the provider's id, or the sign-up's calendar."""
        return self.source.key if self.source else self.provider.id

    def sent_rows(self, recipient: str) -> list[tuple[str, str, str, str, int, str]]:
        """The send log's rows for this item: (recipient, provider, uid, kind, lead, date key)."""
        rows = []
        if self.lead is not None:
            rows.append((recipient, self.key, self.event.uid, "reminder", self.lead, self.start))
        if self.notice is not None:
            rows.append((recipient, self.key, self.event.uid, self.notice, 0, self.start))
        return rows


@dataclass(frozen=True)
class Message:
    """Everything one recipient is told in one run, nearest date first."""

    recipient: str = field(repr=False)  # the address: kept out of anything that prints a Message
    label: str  # how logs name the recipient: their places in the roster, never the address
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Record:
    """What a recipient now knows of an event: written when their message is confirmed."""

    recipient: str = field(repr=False)
    provider: str
    uid: str
    start: str
    status: str


@dataclass(frozen=True)
class Plan:
    """One run's messages, and what recipients learn without one (first runs, new estimates)."""

    messages: tuple[Message, ...]
    quiet: tuple[Record, ...]


def date_key(event: Event) -> str:
    """An event's date as the send log keys it, in its precision.

    "2024-07" (a month), "2024-04-03" (a day), "2024-04-01T23:59:00-05:00[America/Chicago]"
    (a time, with its zone as RFC 9557 writes it), so a move of the clock time or of
    the zone is a move too, and the old date can be worded again.
    """
    start = event.start
    if event.precision == "month":
        assert isinstance(start, date)
        return f"{start:%Y-%m}"
    if isinstance(start, datetime):
        return f"{start.isoformat()}[{getattr(start.tzinfo, 'key', 'UTC')}]"
    assert isinstance(start, date)
    return start.isoformat()


def parse_key(key: str) -> tuple[date | datetime, Precision]:
    """A date key back as (start, precision): for wording what a date was before it moved."""
    if "T" in key:
        moment, zone = key.rstrip("]").split("[")
        return datetime.fromisoformat(moment).astimezone(ZoneInfo(zone)), "time"
    if len(key) == 7:
        return date.fromisoformat(key + "-01"), "month"
    return date.fromisoformat(key), "day"


def last_day(event: Event) -> date:
    """The last day an event is still ahead: its day, its local day, or its month's last day."""
    start = event.start
    if isinstance(start, datetime):
        return start.date()
    assert isinstance(start, date) and isinstance(event.end, date)
    return event.end - timedelta(days=1) if event.precision == "month" else start


def due_day(event: Event) -> date:
    """The day reminders count to: the deadline's day, or a month's first day.

    A step known only to its month may be due on its first day: reminding towards the
    1st is the only count that is never late.
    """
    start = event.start
    if isinstance(start, datetime):
        return start.date()
    assert isinstance(start, date)
    return start


def remindable(event: Event) -> bool:
    """Whether an event gets reminders: a dated step where the provider acts."""
    return event.actor == "provider" and event.precision in ("day", "time", "month")


def due_lead(lead_days: Collection[int], days_left: int) -> int | None:
    """The reminder due with days_left to go: the nearest lead time already reached.

    With leads 30, 7 and 1: 30 days before, 30; 12 days before, still 30 (a run that
    missed day 30 catches up); 7 to 2 days before, 7; on the day, 1. None before the
    first lead time and after the deadline.
    """
    if days_left < 0:
        return None
    reached = [lead for lead in lead_days if lead >= days_left]
    return min(reached) if reached else None


def recipients(rules: Rules) -> dict[str, list[tuple[Profile, int]]]:
    """Each address with the providers (and its place, from 1, in their cells) it is on."""
    found: dict[str, list[tuple[Profile, int]]] = {}
    for profile in rules.providers.values():
        for n, address in enumerate(profile.contacts, 1):
            found.setdefault(address, []).append((profile, n))
    return found


def label(places: list[tuple[Profile, int]]) -> str:
    """A recipient as logs may name them: "demo-annual#2, demo-state#1"."""
    return ", ".join(f"{profile.id}#{n}" for profile, n in places)


def sources(rules: Rules, signups: Iterable[tuple[str, Source]] = (),
            stopped: Collection[str] = ()) -> dict[str, list[Source]]:
    """Each address with what it is told about: its roster places, then its sign-ups.

    A sign-up from an address on the roster joins that address's message (compared
    without case, under the roster's spelling), unless it is for a provider the roster,
    or an earlier sign-up (a provider's own page before a group's), already tells it
    about; `stopped` (lower case) are addresses whose owners stopped the roster's emails
    to them.
    """
    found: dict[str, list[Source]] = {}
    spelt: dict[str, str] = {}
    for address, places in recipients(rules).items():
        spelt.setdefault(address.lower(), address)
        if address.lower() not in stopped:
            found[address] = [Source(profile.id, profile, f"{profile.id}#{n}", rules.lead_days)
                              for profile, n in places]
    for address, source in signups:
        mine = found.setdefault(spelt.get(address.lower(), address), [])
        if not any(s.profile == source.profile for s in mine):
            mine.append(source)
    return {address: mine for address, mine in found.items() if mine}


def plan(rules: Rules, today: date, told: ToldMap, reminded: Reminded,
         signups: Iterable[tuple[str, Source]] = (), stopped: Collection[str] = ()) -> Plan:
    """The messages due today, and what recipients now know without a message."""
    schedules: dict[Profile, list[Event]] = {}
    known_pairs = {(recipient, provider) for recipient, provider, _ in told}
    sent = _reminded_by_event(reminded)
    messages, quiet = [], []
    for address, found in sorted(sources(rules, signups, stopped).items()):
        items = []
        for source in found:
            key = source.key
            first = (address, key) not in known_pairs
            events = schedules.get(source.profile)
            if events is None:
                events = schedules[source.profile] = engine.schedule(rules, source.profile, today)
            for event in events:
                if event.start is None:
                    continue
                item = _item(source, today, address, event, first, told, sent)
                if item is not None:
                    items.append(item)
                # A first meeting records every date at once, those in the message too:
                # if the message fails, the next run must still see what it tells as
                # reminders, never as news. Otherwise a date is only recorded as known
                # once the message telling it is confirmed.
                if (first or item is None) and told.get((address, key, event.uid)) != Told(
                        date_key(event), event.status):
                    quiet.append(Record(address, key, event.uid, date_key(event), event.status))
        if items:
            items.sort(key=lambda i: (due_day(i.event), i.event.sort_key, i.key))
            labels = ", ".join(dict.fromkeys(source.label for source in found))
            messages.append(Message(address, labels, tuple(items)))
    messages.sort(key=lambda m: m.label)  # the order an operator reads the roster in
    return Plan(tuple(messages), tuple(quiet))


def _reminded_by_event(reminded: Reminded) -> dict[tuple[str, str, str, str], int]:
    """The nearest lead time already sent for each (recipient, provider, uid, date key)."""
    nearest: dict[tuple[str, str, str, str], int] = {}
    for recipient, provider, uid, start, lead in reminded:
        key = (recipient, provider, uid, start)
        nearest[key] = min(lead, nearest.get(key, lead))
    return nearest


def _item(source: Source, today: date, address: str, event: Event, first: bool,
          told: ToldMap, sent: Mapping[tuple[str, str, str, str], int]) -> Item | None:
    """What one recipient is due about one event today, if anything."""
    key = date_key(event)
    ahead = last_day(event) >= today
    before = told.get((address, source.key, event.uid))
    notice: Notice | None = None
    if not first and ahead and source.notices:
        if before is None:
            # An estimate coming into view (next year's deadline) is no news; a date
            # ACCME published is.
            notice = "published" if event.status == "published" else None
        elif event.status == "reported" and before.status != "reported":
            notice = None  # the provider's own date, from its own decision report: not news
        elif before.status == "estimated" and event.status == "published":
            # A publication replacing calfeed's estimate, at its date or another: the
            # estimate was never a date ACCME gave, so this is no move.
            notice = "published"
        elif before.start != key:
            notice = "moved"
    days_left = (due_day(event) - today).days
    lead = None
    if remindable(event):
        due = due_lead(source.lead_days, days_left)
        already = sent.get((address, source.key, event.uid, key))
        # Never a farther reminder after a nearer one for the same date.
        if due is not None and (already is None or already > due):
            lead = due
    if notice is None and lead is None:
        return None
    signup = source if source.signup else None
    if notice is None or before is None:
        return Item(source.profile, event, key, days_left, lead, notice, source=signup)
    return Item(source.profile, event, key, days_left, lead, notice, before.start,
                before.status, signup)
