"""A provider's files rendered straight from the outputs layer, as the web routes render them.

The server answers one URL per request: it finds the provider by its token, schedules
its events and renders one file. The build needs all of a provider's files at once,
so it schedules once and renders each file from those events with the same public
functions the routes call (`ical.render`, `export.to_json`/`to_csv`,
`views.calendar_page` and the page templates): the bytes the server answers at each
URL, without a request each. `tests/test_build_identity.py` proves it file by file
against the app, for the demo site and a sample of a 1,000-provider site.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import markupsafe
from flask import render_template

from calfeed.core import calendars, engine, reminders
from calfeed.core.calendars import Subject
from calfeed.core.model import Calendar, Event, Lead, Profile
from calfeed.outputs import export, ical, views
from calfeed.serve import web

HTML = "text/html; charset=utf-8"
# The Content-Type the server sends with each feed format.
FEED_TYPES = {"ics": "text/calendar; charset=utf-8", "json": "application/json",
              "csv": "text/csv; charset=utf-8"}


@dataclass(frozen=True)
class File:
    """One file of the site: its URL path, the Content-Type the server gives it, its bytes."""

    path: str
    content_type: str
    body: bytes


class Alarms:
    """Each step's reminder triggers, worked out once for every calendar that holds the step.

    When a step's alarms fire depends on the step, not on whose calendar it is in; but
    each provider's copy carries its own UID, so a cache keyed by the event (as
    reminders' own is) never meets the same step twice in a build. This one is keyed
    by the event without its UID: a provider's reminder calendars then cost a lookup
    per step instead of the date arithmetic.
    """

    # Distinct steps of a build: a few hundred; the bound only keeps memory flat.
    LIMIT = 8192

    def __init__(self) -> None:
        self.memo: dict[tuple[Event, tuple[Lead, ...]], tuple[timedelta, ...]] = {}

    def choice(self, leads: tuple[Lead, ...],
               steps: dict[int, Event]) -> Callable[[Event], tuple[timedelta, ...]]:
        """What ical.render asks for each event's alarms; steps: id(event) → the event without its UID."""
        memo = self.memo

        def triggers(event: Event) -> tuple[timedelta, ...]:
            key = (steps[id(event)], leads)
            found = memo.get(key)
            if found is None:
                if len(memo) >= self.LIMIT:
                    memo.clear()
                found = memo[key] = reminders.triggers(event, leads)
            return found

        return triggers


def steps(events: list[Event]) -> dict[int, Event]:
    """id(event) → the same event without its UID (what makes it one provider's)."""
    return {id(e): dataclasses.replace(e, uid="") for e in events if e.precision != "undated"}


class Renderer:
    """Renders a provider's files from one loaded app (its data, secret, site and today)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        app_state = web.state(app)
        rules = web.snapshot(app).rules
        assert rules is not None
        self.rules = rules
        self.secret = app_state.secret
        self.today: date = app_state.today or date.today()
        self.site: str = app.config["CALFEED_BASE_URL"].rstrip("/")
        self.alarms = Alarms()
        self.shapes: OrderedDict[Profile, dict[str, Slots | None]] = OrderedDict()

    def provider(self, profile: Profile) -> tuple[Subject, list[File]]:
        """A roster provider's calendar and every file of it the site holds."""
        subject = calendars.provider_of(self.secret, profile)
        events = engine.schedule(self.rules, profile, self.today)
        calendar = engine.calendar(self.rules, profile, self.site + subject.page())
        return subject, self.feeds(subject, events, calendar) + self.texts(subject, events, calendar)

    def feeds(self, subject: Subject, events: list[Event], calendar: Calendar) -> list[File]:
        """The .ics files: the feed, its reminder calendars, and one per dated event.

        Each event is serialized once, for the feed; the others join those bytes.
        """
        ics = FEED_TYPES["ics"]
        files = [File(subject.feed("ics"), ics, ical.render(events, calendar))]
        anonymous = steps(events)
        files += [File(subject.feed(remind=choice.id), ics,
                       ical.render(events, calendar, self.alarms.choice(choice.leads, anonymous)))
                  for choice in reminders.CHOICES]
        # An event's own .ics: the events its path names (track, cycle, milestone), dated.
        files += [File(path, ics, ical.render(group, calendar))
                  for path, group in event_files(subject, events).items()]
        return files

    def texts(self, subject: Subject, events: list[Event], calendar: Calendar) -> list[File]:
        """The page, the reminder pages, the JSON and the CSV: filled in from the calendar's shape.

        Providers with the same answers (Next Decision Date, enduring materials,
        accreditor) have the same texts but for their name, id and token. Each text is
        rendered once per shape for a stand-in provider, cut at the stand-in's values
        (Slots), and filled in with each provider's. The first provider of a shape is
        rendered directly too, and a text that does not come out the same is rendered
        for every provider of that shape.
        """
        profile = subject.profile
        key = dataclasses.replace(profile, id=STAND_IN_ID, name=STAND_IN_NAME, rotation=0)
        shape = self.shapes.get(key)
        if shape is not None:
            self.shapes.move_to_end(key)
            values = _values(subject)
            return [File(path, kind_type, slots.fill(values) if slots is not None
                         else self.text(kind, subject, events, calendar))
                    for kind, (path, kind_type), slots
                    in zip(TEXTS, _paths(subject), shape.values())]
        stand_in = Subject("provider", key, f"/p/{STAND_IN_TOKEN}", filename=STAND_IN_ID)
        stand_events = engine.schedule(self.rules, key, self.today)
        stand_calendar = engine.calendar(self.rules, key, self.site + stand_in.page())
        values = _values(subject)
        shape = {}
        files = []
        for kind, (path, kind_type) in zip(TEXTS, _paths(subject)):
            body = self.text(kind, subject, events, calendar)
            slots = Slots.cut(self.text(kind, stand_in, stand_events, stand_calendar), kind)
            shape[kind] = slots if slots is not None and slots.fill(values) == body else None
            files.append(File(path, kind_type, body))
        self.shapes[key] = shape
        if len(self.shapes) > SHAPES_KEPT:
            self.shapes.popitem(last=False)
        return files

    def text(self, kind: str, subject: Subject, events: list[Event], calendar: Calendar) -> bytes:
        """One text of a calendar rendered as the server renders it: a page, the JSON or the CSV."""
        if kind == "json":
            return export.to_json(calendar, events).encode("utf-8")
        if kind == "csv":
            return export.to_csv(events, self.rules).encode("utf-8")
        choice = kind.removeprefix("page-") or None
        page = views.calendar_page(self.rules, subject, [] if choice else events, self.today,
                                   self.site, choice)
        with self.app.app_context():
            html = render_template("subscribe.html" if choice else "calendar.html", **page)
        return html.encode("utf-8")


# The texts of a calendar, in the order _paths() gives their paths: the page, each
# reminder choice's page ("page-2w2d"), the JSON and the CSV.
TEXTS = ("page-", *(f"page-{c.id}" for c in reminders.CHOICES), "json", "csv")
# Calendar shapes whose texts are kept: more than a roster has answers to combine.
SHAPES_KEPT = 512


def _paths(subject: Subject) -> list[tuple[str, str]]:
    """The path and Content-Type of each of TEXTS for a calendar."""
    return ([(subject.page(), HTML)] + [(subject.page(c.id), HTML) for c in reminders.CHOICES]
            + [(subject.feed("json"), FEED_TYPES["json"]), (subject.feed("csv"), FEED_TYPES["csv"])])


# The stand-in's values. Each shows in every text in a form of its own, which says how
# to write a provider's value there: the token and the id (URL-safe, like every roster
# id) as they are; the name HTML-escaped, percent-encoded (in the subscribe links) or
# JSON-escaped, told apart by the characters each encoding changes. All share MARK.
MARK = "zqSTANDIN"
STAND_IN_TOKEN = (MARK + "token" * 7)[:32]
STAND_IN_ID = MARK + "id"
STAND_IN_NAME = MARK + "name &\"<'>\\"


def _forms() -> dict[str, int]:
    """Each form a stand-in value takes in a text → the index of the provider's value."""
    return {STAND_IN_TOKEN: 0, STAND_IN_ID: 1, str(markupsafe.escape(STAND_IN_NAME)): 2,
            quote(STAND_IN_NAME, safe=""): 3, json.dumps(STAND_IN_NAME, ensure_ascii=False)[1:-1]: 4}


FORMS = _forms()
# The name's forms allowed in each text: a CSV cell is quoted as a whole, so a name
# in it could not be filled in (nor is one there).
ALLOWED = {"json": {0, 1, 4}, "csv": {0, 1}}
_FORM = re.compile("(" + "|".join(re.escape(f) for f in sorted(FORMS, key=len, reverse=True)) + ")")


def _values(subject: Subject) -> tuple[bytes, ...]:
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
        if any(MARK in part for part in parts) or not set(slots) <= ALLOWED.get(kind, {0, 1, 2, 3}):
            return None
        return cls(tuple(p.encode("utf-8") for p in parts), slots)

    def fill(self, values: tuple[bytes, ...]) -> bytes:
        """The text with a provider's values in place of the stand-in's."""
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:]):
            out += (values[slot], part)
        return b"".join(out)


def event_files(subject: Subject, events: list[Event]) -> dict[str, list[Event]]:
    """Each dated event's own .ics path, and the events it holds (in calendar order)."""
    files: dict[str, list[Event]] = {}
    for event in events:
        if event.precision != "undated":
            files.setdefault(subject.event(event), []).append(event)
    return files
