"""The web service (DESIGN §5): pages, .ics feeds and their JSON/CSV twins, one blueprint.

Three kinds of calendar share every route shape: a public track (`/tracks/<id>`), the
builder (`/calendar`, answers in the query string, nothing stored) and a provider
behind its private token (`/p/<token>`). Each has a page ending in `/`, feeds ending in
`.ics` `.json` `.csv`, and one `.ics` per event under `…/events/<track>/<cycle>/<milestone>.ics`,
so that `calfeed build` can write the same paths as static files.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import quote, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from werkzeug.exceptions import HTTPException, NotFound

from . import engine, export, ical, tokens
from .model import Event, Link, Profile, Rules
from .rules import YEARS
from .store import FeedCache, Snapshot, Store

bp = Blueprint("calfeed", __name__)
log = logging.getLogger("calfeed")

FORMATS = {
    "ics": "text/calendar; charset=utf-8",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")
# Clients are told to poll every 12 hours (REFRESH-INTERVAL); an hour in caches is
# short enough that a corrected date reaches them the same day.
FEED_MAX_AGE = 3600
# Pages say "in N days": keep them fresh.
PAGE_MAX_AGE = 300
# Schedules kept per data load: a build or a browser asks for one profile's page,
# feeds and event files together, never for many profiles at once.
SCHEDULES_KEPT = 32
YES = ("1", "yes", "y", "true", "on")
NO = ("0", "no", "n", "false", "off", "")
FLAG_ACCEPTED = "yes or no (also 1/0, true/false, on/off)"
ACTORS = {"provider": "Provider", "accme": "ACCME", "accreditor": "Your accreditor"}
ZONE_NAMES = {"CT": "Central Time", "ET": "Eastern Time", "MT": "Mountain Time",
              "PT": "Pacific Time"}
REMIND_ACCEPTED = "up to 3 ISO 8601 durations, comma-separated, like P14D,P2D or PT12H"
NOT_FOUND = "There is no calendar at this address."
# A token in a logged request line is cut to its first characters (DESIGN §6). Only
# a segment longer than the prefix is cut, so a line cut once (by gunicorn's logger
# in deploy/gunicorn.conf.py) and filtered again keeps "/p/abcdef..." as it is.
TOKEN_IN_PATH = re.compile(r"(/p/)([^/?#\s\".]{%d})[^/?#\s\".]+" % tokens.PREFIX_CHARS)


class BadParameter(Exception):
    """A query parameter with a value calfeed does not accept: answered with 400."""

    def __init__(self, name: str, value: str, accepted: str, message: str | None = None) -> None:
        super().__init__(message or f"{name}: {value!r} is not accepted (expected {accepted})")
        self.reason = message  # a more precise explanation than "not accepted", if any
        self.name = name
        self.value = value
        self.accepted = accepted


class Unavailable(Exception):
    """No rules have ever loaded: answered with 503 and the problems."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class State:
    """What the app keeps between requests: the data store and the rendered feeds."""

    store: Store
    cache: FeedCache
    today: date | None  # CALFEED_TODAY, parsed once


@dataclass(frozen=True)
class Subject:
    """What a page or feed is about: whose calendar, and where its URLs live."""

    kind: str  # "track" | "builder" | "provider"
    profile: Profile
    base: str  # the path before "/" or ".ics": "/tracks/annual-reporting", "/calendar", "/p/<token>"
    query: str = ""  # the builder's answers, normalized: "" or "?next_decision_date=…"
    filename: str = "calendar"
    answers: tuple[str, ...] = ()  # the builder's answers in words

    @property
    def private(self) -> bool:
        """Whether the URL carries a secret (a provider's token)."""
        return self.kind == "provider"

    def page(self) -> str:
        """The page's path."""
        return f"{self.base}/{self.query}"

    def feed(self, fmt: str = "ics", **extra: str) -> str:
        """A feed's path, with extra query parameters."""
        return _query(f"{self.base}.{fmt}{self.query}", extra)

    def event(self, event: Event) -> str:
        """The path of the .ics of one event."""
        return f"{self.base}/events/{event.track}/{event.cycle}/{event.milestone}.ics{self.query}"


@dataclass(frozen=True)
class Rendered:
    """A feed's bytes with the validators computed once, when they were rendered."""

    body: bytes
    etag: str
    last_modified: datetime
    # ETag, Last-Modified and Cache-Control as sent: formatted once, not per request.
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EventView:
    """An event as the page shows it: its date in words, its text, its own .ics."""

    event: Event
    when: str
    iso: str | None
    day: date | None  # the local date, for grouping and "past"
    past: bool
    actor: str
    paragraphs: tuple[str, ...]
    links: tuple[Link, ...]
    ics: str | None


@dataclass(frozen=True)
class SlotView:
    """The steps due at one moment (annual reporting has five), shown under one date.

    Text and links that every step repeats (an accreditor's note, PARS) are
    shown once for the slot instead of once per step.
    """

    when: str
    iso: str | None
    day: date | None
    past: bool
    steps: tuple[EventView, ...]
    shared: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()


@dataclass(frozen=True)
class MonthView:
    """The slots of one month."""

    label: str
    slots: tuple[SlotView, ...]
    past: bool


def init_app(app: Flask) -> None:
    """Register the blueprint, the data store and the log redaction on an app."""
    pinned = app.config.get("CALFEED_TODAY")
    today = None
    if pinned:
        try:
            today = pinned if isinstance(pinned, date) else date.fromisoformat(str(pinned))
        except ValueError:
            raise ValueError(f"CALFEED_TODAY: {pinned!r} is not a date (expected YYYY-MM-DD)") from None
        # A yearly track shows every data year up to two deadlines after today: a today
        # in year 9998 asked for year 10000 and every feed was a 500.
        if today.year not in YEARS:
            raise ValueError(f"CALFEED_TODAY: {today.isoformat()} is outside the years calfeed "
                             f"handles (expected {YEARS[0]}-{YEARS[-1]})")
    secret = tokens.secret_key(app.config.get("CALFEED_SECRET_KEY"), app.instance_path)
    store = Store(app.config["CALFEED_RULES"], app.config.get("CALFEED_PROVIDERS"), secret,
                  interval=float(app.config.get("CALFEED_RELOAD_INTERVAL", 1.0)))
    app.extensions["calfeed"] = State(store, FeedCache(), today)
    app.register_blueprint(bp)
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


class RedactTokens(logging.Filter):
    """Cut private tokens out of request lines before they are logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message with every /p/<token> shortened to its prefix."""
        message = record.getMessage()
        if "/p/" in message:
            record.msg = TOKEN_IN_PATH.sub(r"\1\2...", message)
            record.args = None
        return True


# ---------------------------------------------------------------------------
# What the routes share
# ---------------------------------------------------------------------------

def _state(app: Flask | None = None) -> State:
    """The calfeed state of the current (or given) app."""
    return (app or current_app).extensions["calfeed"]


def snapshot(app: Flask | None = None) -> Snapshot:
    """The current data (checking the files for changes), or 503 if none ever loaded."""
    snap = _state(app).store.current()
    if snap.rules is None:
        raise Unavailable(snap.errors)
    return snap


def _today() -> date:
    """Today for the engine: CALFEED_TODAY if pinned, else the server's date."""
    return _state().today or date.today()


def base_url(app: Flask | None = None) -> str:
    """Where the site lives, for absolute links: CALFEED_BASE_URL, else this request's host."""
    configured = (app or current_app).config.get("CALFEED_BASE_URL")
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/") + request.script_root


def _root() -> str:
    """The path prefix of the site, for links within pages."""
    configured = current_app.config.get("CALFEED_BASE_URL")
    if configured:
        return urlsplit(configured).path.rstrip("/")
    return request.script_root


def _query(path: str, extra: Mapping[str, str]) -> str:
    """A path with more query parameters appended."""
    if not extra:
        return path
    joined = "&".join(f"{k}={quote(v, safe=',')}" for k, v in extra.items())
    return f"{path}{'&' if '?' in path else '?'}{joined}"


def _flag(name: str, default: bool = False) -> bool:
    """A yes/no query parameter; anything else is a 400."""
    if name not in request.args:
        return default
    value = request.args.get(name, "").strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise BadParameter(name, request.args.get(name, ""), FLAG_ACCEPTED)


def _remind() -> tuple[timedelta, ...]:
    """The `remind` parameter as durations; a malformed one is a 400."""
    if "remind" not in request.args:
        return ()  # the common case, without MultiDict.get's internal KeyError
    text = request.args.get("remind", "")
    try:
        return ical.parse_remind(text)
    except ValueError as err:
        raise BadParameter("remind", text, REMIND_ACCEPTED, str(err)) from None


# ---------------------------------------------------------------------------
# Whose calendar: tracks, the builder, providers
# ---------------------------------------------------------------------------

def track_subject(rules: Rules, track_id: str) -> Subject:
    """A public track's calendar: that track only, the conditional step shown as conditional."""
    track = rules.tracks.get(track_id)
    if track is None:
        raise NotFound()
    # "track-" keeps these UIDs apart from any provider's, whatever the roster says.
    profile = Profile(id=f"track-{track.id}", name=track.name,
                      next_decision_date=track.next_decision_date, enduring_materials=None,
                      accreditor=None, tracks=(track.id,))
    return Subject("track", profile, f"/tracks/{track.id}", filename=track.id)


def builder_subject(rules: Rules, args: Mapping[str, str]) -> Subject:
    """The builder's calendar from its query parameters; unknown values are 400s."""
    ndds = {t.next_decision_date: t for t in rules.tracks.values() if t.next_decision_date}
    raw = args.get("next_decision_date", "").strip()
    ndd = None
    if raw.lower() not in ("", "none"):
        try:
            ndd = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            ndd = None
        if ndd not in ndds:
            known = ", ".join(d.isoformat() for d in sorted(ndds))
            raise BadParameter("next_decision_date", raw,
                               f"one of: {known}, or empty for no progress report")
    flag = args.get("enduring_materials", "").strip().lower()
    if flag not in YES + NO:
        raise BadParameter("enduring_materials", args.get("enduring_materials", ""), FLAG_ACCEPTED)
    enduring = flag in YES
    raw_accreditor = args.get("accreditor", "").strip()
    accreditor = raw_accreditor or None
    if accreditor == "accme" and "accme" not in rules.accreditors:
        accreditor = None
    if accreditor is not None and accreditor not in rules.accreditors:
        known = ", ".join(rules.accreditors)
        raise BadParameter("accreditor", raw_accreditor,
                           f"one of: {known}, or empty for ACCME" if known else "empty for ACCME")
    # The id (and so every UID) names the answers, never their order or spelling.
    parts = ["calendar"]
    words = []
    query = []
    if ndd:
        parts.append(ndd.isoformat())
        words.append(f"Next Decision Date {engine.long_date(ndd)}")
        query.append(f"next_decision_date={ndd.isoformat()}")
    else:
        words.append("no progress report")
    if enduring:
        parts.append("em")
        words.append("enduring materials")
        query.append("enduring_materials=yes")
    else:
        words.append("no enduring materials")
    if accreditor:
        parts.append(accreditor)
        words.append(rules.accreditors[accreditor].name)
        query.append(f"accreditor={accreditor}")
    ident = "-".join(parts)
    profile = Profile(id=ident, name=f"Your calendar ({', '.join(words)})",
                      next_decision_date=ndd, enduring_materials=enduring, accreditor=accreditor)
    return Subject("builder", profile, "/calendar", "?" + "&".join(query) if query else "",
                   filename=ident, answers=tuple(words))


def provider_subject(snap: Snapshot, token: str) -> Subject:
    """A provider's calendar behind its token; a wrong token is a plain 404."""
    profile = snap.provider(token)
    if profile is None:
        log.debug("no provider for token %s", tokens.prefix(token))
        raise NotFound()
    return Subject("provider", profile, f"/p/{token}", filename=profile.id)


def provider_urls(app: Flask, profile: Profile, site: str) -> dict[str, str]:
    """A provider's private page and feed URLs on a site (for `calfeed links`)."""
    snap = snapshot(app)
    token = tokens.token(_state(app).store.secret, profile.id, profile.rotation)
    assert snap.provider(token) == profile
    subject = Subject("provider", profile, f"/p/{token}", filename=profile.id)
    ics = site + subject.feed()
    return {"page": site + subject.page(), "webcal": _webcal(ics), "ics": ics,
            "json": site + subject.feed("json"), "csv": site + subject.feed("csv")}


# ---------------------------------------------------------------------------
# Feeds
# ---------------------------------------------------------------------------

def _feed(subject: Subject, fmt: str, snap: Snapshot,
          only: tuple[str, str, str] | None = None) -> Response:
    """A feed (or one event's .ics), from the cache when warm, with its validators."""
    if request.environ.get("QUERY_STRING"):
        remind = _remind() if fmt == "ics" else ()
        download = _flag("download")
        plain = _flag("plain")
    else:  # what calendar clients send: no parameters to read
        remind, download, plain = (), False, False
    state = _state()
    today = state.today or date.today()
    site = base_url()
    key = (snap.generation, today, site, subject.kind, subject.profile.id, fmt, remind, only)
    cache = state.cache
    cache.retire(snap.generation)
    rendered = cache.get(key)
    if rendered is None:
        rendered = _render(snap, subject, fmt, remind, today, site, only)
        cache.put(key, rendered, len(rendered.body) + 256)  # + the key and headers, roughly
    assert isinstance(rendered, Rendered)
    headers = dict(rendered.headers)
    if _not_modified(rendered):
        return Response(status=304, headers=headers)
    if only is not None:
        name = f"{only[0]}-{only[1]}-{only[2]}"
        download = True
    else:
        name = subject.filename
    # A spreadsheet file is always a download; a feed only when asked (DESIGN §5).
    if download or (fmt == "csv" and not plain):
        headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    mimetype = "text/plain; charset=utf-8" if plain else FORMATS[fmt]
    return Response(rendered.body, headers=headers, content_type=mimetype)


def _render(snap: Snapshot, subject: Subject, fmt: str, remind: tuple[timedelta, ...],
            today: date, site: str, only: tuple[str, str, str] | None) -> Rendered:
    """Schedule and render a feed: the only place a request does the work."""
    rules = snap.rules
    assert rules is not None
    events = _schedule(snap, subject.profile, today)
    calendar = engine.calendar(rules, subject.profile, site + subject.page())
    if only is not None:
        events = [e for e in events if (e.track, e.cycle, e.milestone) == only
                  and e.precision != "undated"]
        if not events:
            raise NotFound()
    if fmt == "ics":
        body = ical.render(events, calendar, remind)
    elif fmt == "json":
        body = export.to_json(calendar, events).encode("utf-8")
    else:
        body = export.to_csv(events).encode("utf-8")
    # The feed depends on the files (revised, or a roster edit that keeps it) and
    # on today (which data years are shown): Last-Modified is the latest of them.
    midnight = datetime.combine(today, time(), timezone.utc)
    assert snap.modified is not None
    # Whole seconds, as HTTP dates have them, so If-Modified-Since can ever match.
    modified = max(snap.modified, midnight).replace(microsecond=0)
    etag = hashlib.sha256(body).hexdigest()[:40]
    return Rendered(body, etag, modified, (
        ("ETag", f'"{etag}"'), ("Last-Modified", _http_date(modified)),
        ("Cache-Control", f"{'private' if subject.private else 'public'}, max-age={FEED_MAX_AGE}")))


def _schedule(snap: Snapshot, profile: Profile, today: date) -> list[Event]:
    """engine.schedule, remembered for the last few profiles of this data load (never mutated)."""
    key = (profile, today)
    events = snap.schedules.get(key)
    if events is None:
        events = engine.schedule(snap.rules, profile, today)  # type: ignore[arg-type]
        if len(snap.schedules) >= SCHEDULES_KEPT:
            snap.schedules.clear()  # a bound without bookkeeping: the next few refill it
        snap.schedules[key] = events
    return events


def _not_modified(rendered: Rendered) -> bool:
    """A conditional GET that the client's copy satisfies: If-None-Match wins over the date."""
    # The WSGI environ, not request.headers: a missing header there costs a KeyError.
    environ = request.environ
    given = environ.get("HTTP_IF_NONE_MATCH")
    if given is not None:
        # Clients send back the one ETag they were given: no list to parse then.
        return given == f'"{rendered.etag}"' or request.if_none_match.contains_weak(rendered.etag)
    if "HTTP_IF_MODIFIED_SINCE" not in environ:
        return False
    since = request.if_modified_since
    return since is not None and rendered.last_modified <= since


def _http_date(moment: datetime) -> str:
    """An HTTP date: Sun, 22 Nov 2026 00:00:00 GMT."""
    return moment.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _webcal(url: str) -> str:
    """The webcal:// form of a feed URL, which opens the calendar app."""
    return "webcal://" + url.split("://", 1)[-1]


# ---------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------

def _when(event: Event) -> str:
    """An event's date in words, in its true precision."""
    start = event.start
    if start is None:
        return event.when or "No date published"
    if event.precision == "month":
        return f"{start:%B} {start.year} (no exact day published)"
    if isinstance(start, datetime):
        zone = ical.zone_words(start)
        return (f"{start:%A}, {engine.long_date(start.date())}, {ical.clock_words(start)} "
                f"{ZONE_NAMES.get(zone, zone)}")
    return f"{start:%A}, {engine.long_date(start)}"


def _view(event: Event, today: date, subject: Subject) -> EventView:
    """One event as the page shows it."""
    start = event.start
    day = start.date() if isinstance(start, datetime) else start
    if day is None:
        past = False
    elif event.precision == "month":
        past = event.end <= today  # type: ignore[operator]
    else:
        past = day < today
    iso = None
    if start is not None:
        iso = start.isoformat()[:7] if event.precision == "month" else start.isoformat()
    paragraphs = tuple(p.strip() for p in event.description.split("\n\n") if p.strip())
    actors = ACTORS if subject.kind == "track" else {**ACTORS, "provider": "You (the provider)"}
    return EventView(event, _when(event), iso, day, past, actors.get(event.actor, event.actor),
                     paragraphs, event.links, subject.event(event) if start is not None else None)


def _slot(views: list[EventView]) -> SlotView:
    """Steps due at the same moment, with what they all repeat taken out once."""
    first = views[0]
    if len(views) == 1:
        return SlotView(first.when, first.iso, first.day, first.past, (first,))
    # A step's first paragraph is its own text, never hoisted, so no step is left empty.
    shared = tuple(p for p in first.paragraphs[1:] if all(p in v.paragraphs[1:] for v in views))
    links = tuple(l for l in first.links if all(l in v.links for v in views))
    steps = tuple(
        replace(v, paragraphs=v.paragraphs[:1] + tuple(p for p in v.paragraphs[1:] if p not in shared),
                links=tuple(l for l in v.links if l not in links))
        for v in views)
    return SlotView(first.when, first.iso, first.day, all(v.past for v in views), steps,
                    shared, links)


def _slots(views: list[EventView]) -> list[SlotView]:
    """Consecutive events at the same moment, grouped."""
    groups: list[list[EventView]] = []
    for view in views:
        if view.day is not None and groups and groups[-1][0].event.start == view.event.start \
                and groups[-1][0].event.precision == view.event.precision:
            groups[-1].append(view)
        else:
            groups.append([view])
    return [_slot(g) for g in groups]


def _months(views: list[EventView]) -> list[MonthView]:
    """Dated events grouped by month, then by moment, in order."""
    months: list[MonthView] = []
    for slot in _slots(views):
        assert slot.day is not None
        label = f"{slot.day:%B} {slot.day.year}"
        if months and months[-1].label == label:
            last = months[-1]
            months[-1] = MonthView(label, last.slots + (slot,), last.past and slot.past)
        else:
            months.append(MonthView(label, (slot,), slot.past))
    return months


def _next(views: list[EventView], today: date) -> dict | None:
    """The next thing the provider must do, with the days left and what else falls that day."""
    upcoming = [v for v in views if v.day is not None and not v.past]
    if not upcoming:
        return None
    mine = [v for v in upcoming if v.event.actor != "accme"] or upcoming
    first = mine[0]
    same = [v for v in mine if v.event.start == first.event.start]
    days = (first.day - today).days  # type: ignore[operator]
    if first.event.precision == "month":
        left = "this month" if days <= 0 else f"{first.day:%B} {first.day.year}"  # type: ignore[union-attr]
    elif days == 0:
        left = "today"
    elif days == 1:
        left = "tomorrow"
    else:
        left = f"in {days} days"
    return {"view": first, "days": days, "left": left, "others": len(same) - 1}


def _subscribe(ics_url: str, name: str) -> dict[str, str]:
    """The one-click subscribe links of the big calendar services."""
    webcal = _webcal(ics_url)
    add = f"url={quote(ics_url, safe='')}&name={quote(name, safe='')}"
    return {
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?" + add,
        "office": "https://outlook.office.com/calendar/0/addfromweb?" + add,
    }


def _page(subject: Subject, snap: Snapshot) -> Response:
    """The calendar page of any subject."""
    rules = snap.rules
    assert rules is not None
    today = _today()
    site = base_url()
    events = _schedule(snap, subject.profile, today)
    calendar = engine.calendar(rules, subject.profile, site + subject.page())
    views = [_view(e, today, subject) for e in events]
    dated = [v for v in views if v.day is not None]
    tracks = [t for t in rules.tracks.values() if engine.applies(t, subject.profile)]
    ics_url = site + subject.feed()
    html = render_template(
        "calendar.html", subject=subject, private=subject.private, calendar=calendar, today=today,
        months=_months(dated), undated=_slots([v for v in views if v.day is None]),
        next=_next(dated, today), tracks=tracks, rules=rules,
        links=_subscribe(ics_url, calendar.name), ics_url=ics_url,
        remind_url=site + subject.feed(remind="P14D,P2D"),
        builder=_builder_form(rules, subject) if subject.kind == "builder" else None,
    )
    response = make_response(html)
    response.headers["Cache-Control"] = (
        f"{'private' if subject.private else 'public'}, max-age={PAGE_MAX_AGE}")
    if subject.private:
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _builder_form(rules: Rules, subject: Subject | None = None) -> dict:
    """The builder form's choices, with a subject's answers selected."""
    profile = subject.profile if subject else None
    return {
        "ndds": [(t.next_decision_date.isoformat(), f"{engine.long_date(t.next_decision_date)} — {t.name}")
                 for t in sorted(rules.tracks.values(), key=lambda t: t.next_decision_date or date.min)
                 if t.next_decision_date],
        "accreditors": [(a.id, a.name) for a in rules.accreditors.values()],
        "ndd": profile.next_decision_date.isoformat() if profile and profile.next_decision_date else "",
        "enduring": bool(profile and profile.enduring_materials),
        "accreditor": (profile.accreditor or "") if profile else "",
    }


# ---------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------

@bp.get("/")
def home() -> Response:
    """What calfeed is, the public track calendars, and the calendar builder."""
    snap = snapshot()
    rules = snap.rules
    assert rules is not None
    tracks = [track_subject(rules, ident) for ident in rules.tracks]
    response = make_response(render_template(
        "home.html", tracks=[(s, rules.tracks[s.filename]) for s in tracks],
        builder=_builder_form(rules), rules=rules))
    response.headers["Cache-Control"] = f"public, max-age={PAGE_MAX_AGE}"
    return response


@bp.get("/tracks/<track>/")
def track_page(track: str) -> Response:
    """One published track's page."""
    snap = snapshot()
    return _page(track_subject(snap.rules, track), snap)  # type: ignore[arg-type]


@bp.get("/tracks/<track>.<any(ics, json, csv):fmt>")
def track_feed(track: str, fmt: str) -> Response:
    """One published track's feed."""
    snap = snapshot()
    return _feed(track_subject(snap.rules, track), fmt, snap)  # type: ignore[arg-type]


@bp.get("/tracks/<track>/events/<event_track>/<cycle>/<milestone>.ics")
def track_event(track: str, event_track: str, cycle: str, milestone: str) -> Response:
    """One event of a track, as its own .ics."""
    snap = snapshot()
    subject = track_subject(snap.rules, track)  # type: ignore[arg-type]
    return _feed(subject, "ics", snap, (event_track, cycle, milestone))


@bp.get("/calendar/")
def builder_page() -> Response:
    """The builder's calendar page, from the form's answers."""
    snap = snapshot()
    return _page(builder_subject(snap.rules, request.args), snap)  # type: ignore[arg-type]


@bp.get("/calendar.<any(ics, json, csv):fmt>")
def builder_feed(fmt: str) -> Response:
    """The builder's feed."""
    snap = snapshot()
    return _feed(builder_subject(snap.rules, request.args), fmt, snap)  # type: ignore[arg-type]


@bp.get("/calendar/events/<event_track>/<cycle>/<milestone>.ics")
def builder_event(event_track: str, cycle: str, milestone: str) -> Response:
    """One event of the builder's calendar."""
    snap = snapshot()
    subject = builder_subject(snap.rules, request.args)  # type: ignore[arg-type]
    return _feed(subject, "ics", snap, (event_track, cycle, milestone))


@bp.get("/p/<token>/")
def provider_page(token: str) -> Response:
    """A provider's private page."""
    snap = snapshot()
    return _page(provider_subject(snap, token), snap)


@bp.get("/p/<token>.<any(ics, json, csv):fmt>")
def provider_feed(token: str, fmt: str) -> Response:
    """A provider's private feed."""
    snap = snapshot()
    return _feed(provider_subject(snap, token), fmt, snap)


@bp.get("/p/<token>/events/<event_track>/<cycle>/<milestone>.ics")
def provider_event(token: str, event_track: str, cycle: str, milestone: str) -> Response:
    """One event of a provider's calendar."""
    snap = snapshot()
    return _feed(provider_subject(snap, token), "ics", snap, (event_track, cycle, milestone))


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness and the data's state: ok, degraded (a reload failed) or unavailable."""
    snap = _state().store.current()
    rules = snap.rules
    status = "unavailable" if rules is None else "degraded" if snap.errors else "ok"
    body = {
        "status": status,
        "revision": rules.revised.isoformat().replace("+00:00", "Z") if rules else None,
        "loaded_at": snap.loaded_at.isoformat().replace("+00:00", "Z") if snap.loaded_at else None,
        "errors": list(snap.errors),
        "failed_at": snap.failed_at.isoformat().replace("+00:00", "Z") if snap.failed_at else None,
    }
    response = jsonify(body)
    response.status_code = 503 if rules is None else 200
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------
# Errors and headers
# ---------------------------------------------------------------------------

def _is_feed() -> bool:
    """Whether this request asked for a feed rather than a page."""
    return request.path.rsplit(".", 1)[-1] in FORMATS


def _error_page(status: int, title: str, message: str, **extra: object) -> Response:
    """An error in the site's style."""
    response = make_response(render_template("error.html", status=status, title=title,
                                             message=message, **extra), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_errorhandler(BadParameter)
def bad_parameter(err: BadParameter) -> Response:
    """400: the parameter, the value and what is accepted."""
    if _is_feed():
        response = make_response(f"400 Bad Request\n{err}\n", 400)
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        response.headers["Cache-Control"] = "no-store"
        return response
    return _error_page(400, "That calendar cannot be made",
                       "One parameter in this address has a value calfeed does not accept.",
                       parameter=err)


@bp.app_errorhandler(Unavailable)
def unavailable(err: Unavailable) -> Response:
    """503: no rules ever loaded; the problems say why."""
    message = "The deadline rules did not load, so calfeed has nothing to serve yet."
    if _is_feed():
        response = make_response("503 Service Unavailable\n" + message + "\n"
                                 + "".join(f"{p}\n" for p in err.problems), 503)
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        response.headers["Cache-Control"] = "no-store"
    else:
        response = _error_page(503, "Calendars are unavailable", message, problems=err.problems)
    # The store looks at the files again within a second; clients may retry soon.
    response.headers["Retry-After"] = "60"
    return response


@bp.app_errorhandler(404)
def not_found(err: HTTPException) -> Response:
    """404: the same page for an unknown path, track or token."""
    return _error_page(404, "Not found", NOT_FOUND)


@bp.app_errorhandler(HTTPException)
def http_error(err: HTTPException) -> Response:
    """Any other HTTP error (405, …) as a page, keeping its headers (Allow)."""
    if err.code == 404:
        return not_found(err)
    response = _error_page(err.code or 500, err.name, err.description or err.name)
    for name, value in err.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


@bp.app_errorhandler(Exception)
def server_error(err: Exception) -> Response:
    """500 for a bug: logged with its traceback, shown to nobody."""
    if isinstance(err, HTTPException):  # routing redirects and the like
        return err  # type: ignore[return-value]
    current_app.logger.exception("error answering %s", TOKEN_IN_PATH.sub(r"\1\2...", request.path))
    return _error_page(500, "Something went wrong", "calfeed could not answer this request.")


@bp.after_app_request
def security_headers(response: Response) -> Response:
    """No referrer (tokens stay private), no sniffing, and a strict policy for pages."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@bp.app_context_processor
def template_globals() -> dict:
    """Helpers every template uses: the site root for links."""
    return {"root": _root(), "long_date": engine.long_date}
