"""A provider's files rendered straight from the outputs layer, as the web routes render them.

The server answers one URL per request: it finds the provider by its token, schedules
its events and renders one file. The build needs every file of every provider, so it
calls what the routes call (`engine.schedule`, then `web.feed_body` and
`web.page_html`, the routes' own functions) without a request each, and shares what
the providers' files repeat:

- Providers with the same answers (Next Decision Date, enduring materials,
  accreditor) have the same calendar but for their id, name and token: the same
  events but for their UIDs, the same pages, JSON and CSV but for those values. So
  each calendar *shape* is worked out once, for a stand-in provider: its events, when
  their reminders fire, and its texts cut at the stand-in's values (Slots).
- A provider then gets the shape's events with its own UIDs; its .ics files rendered
  by ical.render (the feed, three reminder calendars and one file per event, each
  event serialized once for all of them; iCalendar is never patched); and its texts
  filled in with its own values, each written as that text writes it.
- The first provider of each shape is also rendered the direct way, as the routes
  render it; any part of its files that does not come out byte-identical is rendered
  the direct way for every provider of that shape.

`tests/build/test_render.py` proves the files byte-identical to the app's answers,
for the demo site and a sample of a 1,000-provider site.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import markupsafe
from calfeed.core import calendars, engine, reminders
from calfeed.core.calendars import Subject
from calfeed.core.model import Alarm, Calendar, Event, Profile
from calfeed.outputs import ical
from calfeed.serve import web

HTML = "text/html; charset=utf-8"
# The Content-Type the server sends with each feed format.
FEED_TYPES = {"ics": "text/calendar; charset=utf-8", "json": "application/json",
              "csv": "text/csv; charset=utf-8"}
# The texts of a calendar, in the order paths() gives them: the page, each reminder
# choice's page ("page-2w2d"), the JSON and the CSV.
TEXTS = ("page-", *(f"page-{c.id}" for c in reminders.CHOICES), "json", "csv")
# Calendar shapes kept at once: providers come grouped by shape (in_shape_order), so a
# process needs one or two at a time; the bound keeps memory flat whatever the roster.
SHAPES_KEPT = 16

# What ical.render asks for each event's alarms, one per reminder choice (None: a choice
# without reminders, as reminders.alarms has it; every choice has some today).
Alarms = Callable[[Event], Sequence[Alarm]] | None


@dataclass(frozen=True)
class File:
    """One file of the site: its URL path, the Content-Type the server gives it, its bytes."""

    path: str
    content_type: str
    body: bytes


# ---------------------------------------------------------------------------
# The stand-in, and texts cut at its values
# ---------------------------------------------------------------------------

# The stand-in's values. Each shows in every text in a form of its own, which says how
# to write a provider's value there: the token and the id (URL-safe, like every roster
# id) as they are; the name HTML-escaped, percent-encoded (in the subscribe links) or
# JSON-escaped, told apart by the characters each encoding changes. All contain MARK.
MARK = "zqSTANDIN"
STAND_IN_TOKEN = (MARK + "token" * 7)[:32]
STAND_IN_ID = MARK + "id"
STAND_IN_NAME = MARK + "name &\"<'>\\"
# Each form a stand-in value takes in a text → the index of the provider's value.
FORMS = {STAND_IN_TOKEN: 0, STAND_IN_ID: 1, str(markupsafe.escape(STAND_IN_NAME)): 2,
         quote(STAND_IN_NAME, safe=""): 3, json.dumps(STAND_IN_NAME, ensure_ascii=False)[1:-1]: 4}
# The forms each text may hold: a CSV cell is quoted as a whole, so a name there
# could not be filled in (nor is there one).
ALLOWED = {"json": {0, 1, 4}, "csv": {0, 1}}
PAGE_FORMS = {0, 1, 2, 3}
_FORM = re.compile("(" + "|".join(re.escape(f) for f in sorted(FORMS, key=len, reverse=True)) + ")")


def stand_in(profile: Profile) -> Profile:
    """A provider's shape: the profile with the stand-in's id and name (and no contacts).

    Shapes are told apart by the profile's equality, which leaves out only what no
    file ever shows (the contacts); every other field makes a shape of its own.
    """
    return dataclasses.replace(profile, id=STAND_IN_ID, name=STAND_IN_NAME, rotation=0,
                               contacts=())


def in_shape_order(providers: dict[str, Profile]) -> list[str]:
    """Provider ids grouped by calendar shape (shapes in order of their first provider), by id within."""
    groups: dict[Profile, list[str]] = {}
    for ident in sorted(providers):
        groups.setdefault(stand_in(providers[ident]), []).append(ident)
    return [ident for group in groups.values() for ident in group]


def values(subject: Subject) -> tuple[bytes, ...]:
    """A provider's values, in the order FORMS indexes them, as the texts write them."""
    name = subject.profile.name
    return (subject.base.removeprefix("/p/").encode(), subject.profile.id.encode(),
            str(markupsafe.escape(name)).encode(), quote(name, safe="").encode(),
            json.dumps(name, ensure_ascii=False)[1:-1].encode())


@dataclass(frozen=True)
class Slots:
    """A text rendered for the stand-in, cut at its values: literal parts, and between
    each two the index of the provider's value that goes there."""

    parts: tuple[bytes, ...]
    slots: tuple[int, ...]

    @classmethod
    def cut(cls, text: bytes, kind: str) -> Slots | None:
        """The text cut at the stand-in's values; None if a value shows in a form not allowed there."""
        pieces = _FORM.split(text.decode("utf-8"))  # literal, value, literal, … literal
        parts, slots = pieces[::2], tuple(FORMS[f] for f in pieces[1::2])
        if any(MARK in part for part in parts) or not set(slots) <= ALLOWED.get(kind, PAGE_FORMS):
            return None
        return cls(tuple(p.encode("utf-8") for p in parts), slots)

    def fill(self, values: tuple[bytes, ...]) -> bytes:
        """The text with a provider's values in place of the stand-in's."""
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:]):
            out += (values[slot], part)
        return b"".join(out)


@dataclass
class Shape:
    """What every provider of one calendar shape shares, worked out for the stand-in."""

    events: list[Event] | None  # the stand-in's; None: each provider is scheduled
    # Per reminder choice, each event's alarms (their texts name steps, never a provider).
    alarms: list[list[tuple[Alarm, ...]]]
    texts: dict[str, Slots | None]  # per text; None: rendered for each provider


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

class Renderer:
    """Renders providers' files from one loaded app (its data, secret, site and today)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        app_state = web.state(app)
        rules = web.snapshot(app).rules
        assert rules is not None
        self.rules = rules
        self.secret = app_state.secret
        self.today: date = app_state.today or date.today()
        self.site: str = app.config["CALFEED_BASE_URL"].rstrip("/")
        self.shapes: OrderedDict[Profile, Shape] = OrderedDict()

    def provider(self, profile: Profile) -> tuple[Subject, list[File]]:
        """A roster provider's calendar and every file of it the site holds."""
        subject = calendars.provider_of(self.secret, profile)
        key = stand_in(profile)
        shape = self.shapes.get(key)
        if shape is None:
            return subject, self.first(subject, key)
        self.shapes.move_to_end(key)
        return subject, self.shared(subject, shape)

    def direct(self, subject: Subject) -> list[File]:
        """Every file of a calendar rendered as the routes render it, nothing shared."""
        events = engine.schedule(self.rules, subject.profile, self.today)
        calendar = engine.calendar(self.rules, subject.profile, self.site + subject.page())
        files = self.feeds(subject, events, calendar, self.alarms(events))
        return files + [File(path, content_type, self.text(kind, subject, events, calendar))
                         for kind, (path, content_type) in zip(TEXTS, paths(subject))]

    def shared(self, subject: Subject, shape: Shape) -> list[File]:
        """A calendar's files from its shape: its own UIDs, its own .ics, its values filled in."""
        profile = subject.profile
        if shape.events is None:
            events = engine.schedule(self.rules, profile, self.today)
            alarms = self.alarms(events)
        else:
            events = [dataclasses.replace(e, uid=e.uid.replace(STAND_IN_ID, profile.id))
                      for e in shape.events]
            alarms = _alarms(events, shape.alarms)
        calendar = engine.calendar(self.rules, profile, self.site + subject.page())
        files = self.feeds(subject, events, calendar, alarms)
        mine = values(subject)
        for kind, (path, content_type) in zip(TEXTS, paths(subject)):
            slots = shape.texts[kind]
            files.append(File(path, content_type, slots.fill(mine) if slots is not None
                              else self.text(kind, subject, events, calendar)))
        return files

    def first(self, subject: Subject, key: Profile) -> list[File]:
        """The first provider of a shape: work the shape out, and keep what renders it right."""
        other = Subject("provider", key, f"/p/{STAND_IN_TOKEN}", filename=STAND_IN_ID)
        events = engine.schedule(self.rules, key, self.today)
        calendar = engine.calendar(self.rules, key, self.site + other.page())
        shape = Shape(events, [reminders.calendar_alarms(events, c.leads, self.today)
                               for c in reminders.CHOICES],
                      {kind: Slots.cut(self.text(kind, other, events, calendar), kind)
                       for kind in TEXTS})
        direct = self.direct(subject)
        shared = self.shared(subject, shape)
        texts = len(TEXTS)
        if shared[:-texts] != direct[:-texts]:
            shape.events = None
        for kind, mine, right in zip(TEXTS, shared[-texts:], direct[-texts:]):
            if mine != right:
                shape.texts[kind] = None
        self.shapes[key] = shape
        if len(self.shapes) > SHAPES_KEPT:
            self.shapes.popitem(last=False)
        return direct

    def alarms(self, events: list[Event]) -> list[Alarms]:
        """Each reminder choice's alarms for a calendar's events, as a route asks for them."""
        return [reminders.alarms(c.leads, events, self.today) for c in reminders.CHOICES]

    def feeds(self, subject: Subject, events: list[Event], calendar: Calendar,
              alarms: list[Alarms]) -> list[File]:
        """The .ics files: the feed, its reminder calendars (alarms: one per choice), one per event.

        Each event is serialized once, for the feed; the others join those bytes.
        """
        ics = FEED_TYPES["ics"]
        files = [File(subject.feed("ics"), ics, web.feed_body("ics", events, calendar, self.today))]
        files += [File(subject.feed(remind=choice.id), ics, ical.render(events, calendar, each))
                  for choice, each in zip(reminders.CHOICES, alarms)]
        # An event's own .ics: the events its path names (track, cycle, milestone), dated.
        files += [File(path, ics, ical.render(group, calendar))
                  for path, group in event_files(subject, events).items()]
        return files

    def text(self, kind: str, subject: Subject, events: list[Event], calendar: Calendar) -> bytes:
        """One of TEXTS rendered as the server renders it: a page, the JSON or the CSV."""
        if kind in ("json", "csv"):
            return web.feed_body(kind, events, calendar, self.today)
        choice = kind.removeprefix("page-") or None
        # A reminder choice's page lists no dates, as the route passes it none.
        with self.app.app_context():
            html = web.page_html(self.rules, subject, [] if choice else events, self.today,
                                 self.site, choice)
        return html.encode("utf-8")


def _alarms(events: list[Event], shared: list[list[tuple[Alarm, ...]]]) -> list[Alarms]:
    """Each reminder choice's alarms for a provider's events, from its shape's alarms."""
    index = {id(e): n for n, e in enumerate(events)}

    def choice(found: list[tuple[Alarm, ...]]) -> Alarms:
        return lambda event: found[index[id(event)]]

    return [choice(found) for found in shared]


def paths(subject: Subject) -> list[tuple[str, str]]:
    """The path and Content-Type of each of TEXTS for a calendar."""
    return ([(subject.page(), HTML)] + [(subject.page(c.id), HTML) for c in reminders.CHOICES]
            + [(subject.feed("json"), FEED_TYPES["json"]), (subject.feed("csv"), FEED_TYPES["csv"])])


def event_files(subject: Subject, events: list[Event]) -> dict[str, list[Event]]:
    """Each dated event's own .ics path, and the events it holds (in calendar order)."""
    files: dict[str, list[Event]] = {}
    for event in events:
        if event.precision != "undated":
            files.setdefault(subject.event(event), []).append(event)
    return files
