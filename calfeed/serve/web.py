"""The web service's routes and HTTP: feeds with their caching headers, pages, errors.

Whom a calendar is for and its URLs come from calendars.py, what a page shows from
views.py, every wording from wording.py; this module answers requests: it finds the
subject, renders (or finds in the cache) the feed, answers conditional requests, and
turns problems into 400, 404 and 503 answers.

Its routes come from one table: every kind of calendar (KINDS) has the same five URL
shapes (SHAPES), so a new kind is one row (a group's page has one more: its overview
by name). Public answers (/healthz, the 503) say the
state of the data and when it loaded, never why a load failed: the problem lines name
roster providers and server paths, so they go to the log and to `calfeed check`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
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
from werkzeug.http import is_resource_modified

from calfeed.core import calendars, engine, groups, reminders, wording
from calfeed.outputs import export, group_export, group_views, ical, views
from calfeed.serve import lastgood, redact, secret
from calfeed.core.calendars import BadParameter, Subject
from calfeed.core.model import Calendar, Event, Group, Lead, Profile, Rules
from calfeed.serve.store import FeedCache, Snapshot, Store

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
# Schedules kept per data load, of providers and of groups each: a build or a browser
# asks for one profile's page, feeds and event files together, never for many at once.
SCHEDULES_KEPT = 32
NOT_FOUND = "There is no calendar at this address."
# The request headers that make a GET conditional on the client's copy (RFC 9110 §13.1).
CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")
# The reminder choices in a route: any other is an unknown path.
CHOICE = "<any(" + ", ".join(c.id for c in reminders.CHOICES) + "):choice>"


class Unavailable(Exception):
    """No rules have ever loaded: answered with 503; the problems are for the log and the CLI."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class State:
    """What the app keeps between requests: the data store, the rendered feeds, the secret."""

    store: Store
    cache: FeedCache
    today: date | None  # CALFEED_TODAY
    secret: bytes  # the key of the private URLs
    site: str | None  # CALFEED_BASE_URL (settings strip its trailing "/"), if set
    root: str  # the path prefix of the site, for links within pages: from CALFEED_BASE_URL


@dataclass(frozen=True)
class Rendered:
    """A feed's bytes with the validators computed once, when they were rendered."""

    body: bytes
    etag: str
    last_modified: datetime
    filename: str  # the name of a download, without the format's extension
    # ETag, Last-Modified and Cache-Control as sent: formatted once, not per request.
    headers: tuple[tuple[str, str], ...] = ()


def init_app(app: Flask, serving: bool = True) -> None:
    """Register the blueprint, the data store, the template words and the log redaction.

    The CALFEED_* values in app.config are already parsed (calfeed.settings). A serving
    app (a WSGI server's, `calfeed run`'s) looks at the files every
    CALFEED_RELOAD_INTERVAL and answers from the server's last good copy when they are
    broken; another command's, and a static build's, reads the files once, as they are.
    """
    config = app.config
    today: date | None = config.get("CALFEED_TODAY")
    key = secret.key(config.get("CALFEED_SECRET_KEY"), app.instance_path)
    serving = serving and not config.get("CALFEED_STATIC")
    rules_path, providers_path = config["CALFEED_RULES"], config.get("CALFEED_PROVIDERS")
    groups_path = config.get("CALFEED_GROUPS")
    store = Store(rules_path, providers_path, key,
                  interval=config["CALFEED_RELOAD_INTERVAL"] if serving else None,
                  today=(lambda: today) if today else date.today,
                  keep=lastgood.folder(app.instance_path, rules_path, providers_path, groups_path)
                  if serving else None, groups_path=groups_path)
    site = config.get("CALFEED_BASE_URL") or None
    # A static build fetches every URL once: a rendered feed is never asked for again.
    # (CALFEED_STATIC is the build's own config key, not a setting anyone gives.)
    cache = FeedCache(max_bytes=0) if config.get("CALFEED_STATIC") else FeedCache()
    root = urlsplit(site).path.rstrip("/") if site else ""
    app.extensions["calfeed"] = State(store, cache, today, key, site, root)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(long_date=wording.long_date, words=wording)
    redact.install()


# ---------------------------------------------------------------------------
# What the routes share
# ---------------------------------------------------------------------------

def state(app: Flask | None = None) -> State:
    """The calfeed state of the current (or given) app."""
    return (app or current_app).extensions["calfeed"]


def snapshot(app: Flask | None = None) -> Snapshot:
    """The current data (checking the files for changes); Unavailable if none ever loaded."""
    return _loaded(state(app))


def _loaded(app_state: State) -> Snapshot:
    """The state's current data; Unavailable if none ever loaded."""
    snap = app_state.store.current()
    if snap.rules is None:
        raise Unavailable(snap.errors)
    return snap


def _today() -> date:
    """Today for the engine: CALFEED_TODAY if pinned, else the server's date."""
    return state().today or date.today()


def base_url(app: Flask | None = None) -> str:
    """Where the site lives, for absolute links: CALFEED_BASE_URL, else this request's host."""
    return _site(state(app))


def _site(app_state: State) -> str:
    """CALFEED_BASE_URL, else this request's host."""
    return app_state.site or request.host_url.rstrip("/") + request.script_root


def _root() -> str:
    """The path prefix of the site, for links within pages."""
    app_state = state()
    return app_state.root if app_state.site else request.script_root


def _flag(name: str, default: bool = False) -> bool:
    """A yes/no query parameter; anything else is a 400."""
    if name not in request.args:
        return default
    answer = wording.yes_no(request.args.get(name, ""))
    if answer is None:
        raise BadParameter(name, request.args.get(name, ""), wording.YES_NO_ACCEPTED)
    return answer


def _remind(choice: reminders.Choice | None) -> tuple[Lead, ...]:
    """The reminders a feed asks for: its path's choice, or `remind`; a malformed one is a 400."""
    if "remind" not in request.args:
        # the common case, without MultiDict.get's internal KeyError
        return choice.leads if choice else ()
    text = request.args.get("remind", "")
    if choice is not None:
        raise BadParameter("remind", text, "no remind parameter on a reminder calendar",
                           f"remind: this calendar's path already chooses its reminders "
                           f"({wording.leads(choice.leads)}); expected no remind parameter")
    try:
        return reminders.leads(reminders.parse(text))
    except ValueError as err:
        raise BadParameter("remind", text, reminders.ACCEPTED, str(err)) from None


def _once(names: tuple[str, ...]) -> None:
    """Refuse a parameter this address takes that is given more than once: which one was meant?"""
    args = request.args
    for name in names:
        if name in args:
            values = args.getlist(name)
            if len(values) > 1:
                times = "twice" if len(values) == 2 else f"{len(values)} times"
                raise BadParameter(name, ", ".join(values), f"one {name}",
                                   f"{name}: given {times} ({', '.join(values)}) "
                                   f"(expected one {name})")


# ---------------------------------------------------------------------------
# The kinds of calendar, and the URL shapes each has
# ---------------------------------------------------------------------------

# Finds whom a calendar is for: from the data, the feed options its URL shape takes
# (which the builder tells from unknown answers) and the path's own arguments.
Find = Callable[..., Subject]


@dataclass(frozen=True)
class Kind:
    """One kind of calendar: the route its paths start with, and how a request finds it."""

    name: str  # the endpoints' prefix: track_page, builder_feed, provider_event, …
    base: str  # the route before "/" or ".ics" (calendars.Subject.base, with its arguments)
    find: Find  # (snapshot, feed options, **path arguments) -> Subject
    # The query parameters that say whose calendar it is (the builder's depend on the rules).
    answers: Callable[[Rules], tuple[str, ...]] = lambda rules: ()


def _track(snap: Snapshot, options: tuple[str, ...], track: str) -> Subject:
    """A published track's calendar."""
    assert snap.rules is not None  # found in a snapshot(): Unavailable when none loaded
    return calendars.track(snap.rules, track)


def _builder(snap: Snapshot, options: tuple[str, ...]) -> Subject:
    """The builder's calendar from this request's answers (and the feed options its shape takes)."""
    assert snap.rules is not None  # found in a snapshot(): Unavailable when none loaded
    return calendars.builder(snap.rules, request.args, _today(), options)


def _provider(snap: Snapshot, options: tuple[str, ...], token: str) -> Subject:
    """A roster provider's calendar behind its private token."""
    return calendars.provider(snap.provider(token), token)


def _group(snap: Snapshot, options: tuple[str, ...], token: str) -> Subject:
    """A group's calendar behind its private token."""
    return calendars.group(snap.group(token), token)


KINDS = (
    Kind("track", "/tracks/<track>", _track),
    Kind("builder", "/calendar", _builder, calendars.builder_parameters),
    # Behind private prefixes (calendars.PRIVATE_PREFIXES): redacted from every log.
    Kind("provider", f"/{calendars.PROVIDER_PREFIX}/<token>", _provider),
    Kind("group", f"/{calendars.GROUP_PREFIX}/<token>", _group),
)

Event3 = tuple[str, str, str]  # (track, cycle, milestone): one event's .ics


def _page_view(kind: Kind) -> Callable[..., Response]:
    """The calendar page (with a reminder choice: the page that subscribes with it)."""
    def view(choice: str | None = None, **ids: str) -> Response:
        snap = snapshot()
        assert snap.rules is not None  # snapshot() is Unavailable when none loaded
        if request.environ.get("QUERY_STRING"):
            _once(kind.answers(snap.rules))
        return _page(kind.find(snap, (), **ids), snap, choice)
    return view


def _feed_view(kind: Kind) -> Callable[..., Response]:
    """A feed: .ics, .json or .csv."""
    def view(fmt: str, **ids: str) -> Response:
        return _feed(kind, ids, fmt)
    return view


def _event_view(kind: Kind) -> Callable[..., Response]:
    """One event of the calendar, as its own .ics."""
    def view(event_track: str, cycle: str, milestone: str, **ids: str) -> Response:
        return _feed(kind, ids, "ics", (event_track, cycle, milestone))
    return view


def _remind_feed_view(kind: Kind) -> Callable[..., Response]:
    """The calendar's .ics with the reminders its path chooses."""
    def view(choice: str, **ids: str) -> Response:
        return _feed(kind, ids, "ics", choice=choice)
    return view


@dataclass(frozen=True)
class Shape:
    """One URL shape every kind of calendar has."""

    name: str  # the endpoint's suffix
    rule: str  # the route, with {base} (the kind's) and {choice} (a reminder choice)
    view: Callable[[Kind], Callable[..., Response]]  # the view function for a kind


REMIND = calendars.REMIND_PREFIX + "{choice}"
SHAPES = (
    Shape("page", "{base}/", _page_view),
    Shape("feed", "{base}.<any(" + ", ".join(calendars.FORMATS) + "):fmt>", _feed_view),
    Shape("event", "{base}/events/<event_track>/<cycle>/<milestone>.ics", _event_view),
    Shape("remind_page", "{base}/" + REMIND + "/", _page_view),
    Shape("remind_feed", "{base}/" + REMIND + ".ics", _remind_feed_view),
)

for _kind in KINDS:
    for _shape in SHAPES:
        bp.add_url_rule(_shape.rule.format(base=_kind.base, choice=CHOICE),
                        f"{_kind.name}_{_shape.name}", _shape.view(_kind), methods=["GET"])


@bp.get(f"/{calendars.GROUP_PREFIX}/<token>/{calendars.ORDER_PREFIX}"
        f"<any({', '.join(calendars.GROUP_ORDERS)}):order>/")
def group_ordered_page(token: str, order: str) -> Response:
    """A group's page with its overview in another order (a path, so static hosts have it)."""
    snap = snapshot()
    return _page(_group(snap, (), token), snap, order=order)


# ---------------------------------------------------------------------------
# Feeds
# ---------------------------------------------------------------------------

def _feed(kind: Kind, ids: dict[str, str], fmt: str, only: Event3 | None = None,
          choice: str | None = None) -> Response:
    """A feed (or one event's .ics, or a reminder calendar), from the cache when warm.

    Feeds are cached under their path (and the builder's answers, and the reminders):
    the path named the subject when the feed was rendered, and every reload retires
    the cache, so a warm feed without a query string (what calendar clients send) is
    answered without finding its subject again.
    """
    app_state = state()
    snap = _loaded(app_state)
    today = app_state.today or date.today()
    site = _site(app_state)
    cache = app_state.cache
    cache.retire(snap.generation)
    subject = None
    chosen = reminders.BY_ID[choice] if choice else None
    if request.environ.get("QUERY_STRING"):
        # One grammar on every format: each parameter once, a bad `remind` refused on
        # .json and .csv too, though only the .ics carries alarms.
        assert snap.rules is not None  # _loaded is Unavailable when none loaded
        _once(kind.answers(snap.rules) + calendars.FEED_OPTIONS)
        subject = kind.find(snap, calendars.FEED_OPTIONS, **ids)
        remind = _remind(chosen)
        if fmt != "ics":
            remind = ()
        download = _flag("download")
        plain = _flag("plain")
        # The builder's answers, normalized, are part of what the path names.
        key = (snap.generation, today, site, request.path, subject.query, remind)
    else:
        remind, download, plain = (chosen.leads if chosen else ()), False, False
        key = (snap.generation, today, site, request.path, "", remind)
    rendered = cache.get(key)
    if rendered is None:
        subject = subject or kind.find(snap, calendars.FEED_OPTIONS, **ids)
        rendered = _render(snap, subject, fmt, remind, today, site, only, choice)
        cache.put(key, rendered, len(rendered.body) + 256)  # + the key and headers, roughly
    assert isinstance(rendered, Rendered)
    headers = rendered.headers
    # Only the validators calendar clients and caches send back: werkzeug's reading of
    # If-Match (meant for its make_conditional, which also adds a Date header the WSGI
    # server writes anyway) would answer a GET carrying one with a 304.
    environ = request.environ
    validators = {name: environ[name] for name in CONDITIONS if name in environ}
    if validators and not is_resource_modified(validators, rendered.etag,
                                               last_modified=rendered.last_modified):
        return Response(status=304, headers=headers)
    # A spreadsheet file is always a download; a feed only when asked (docs/design.md §5), and
    # one event's .ics always.
    if download or only is not None or (fmt == "csv" and not plain):
        headers += (("Content-Disposition", f'attachment; filename="{rendered.filename}.{fmt}"'),)
    mimetype = "text/plain; charset=utf-8" if plain else FORMATS[fmt]
    return Response(rendered.body, headers=headers, content_type=mimetype)


def _render(snap: Snapshot, subject: Subject, fmt: str, remind: tuple[Lead, ...],
            today: date, site: str, only: Event3 | None,
            choice: str | None = None) -> Rendered:
    """Schedule and render a feed: the only place a request does the work."""
    rules = snap.rules
    assert rules is not None
    if subject.group is not None:
        body = _group_body(snap, subject, subject.group, fmt, remind, today, site, only)
    else:
        events = _schedule(snap, subject.profile, today)
        calendar = engine.calendar(rules, subject.profile, site + subject.page())
        if only is not None:
            events = [e for e in events if (e.track, e.cycle, e.milestone) == only
                      and e.precision != "undated"]
            if not events:
                raise NotFound()
        body = feed_body(fmt, events, calendar, today, remind)
    # The feed depends on the files (revised, or a roster edit that keeps it) and
    # on today (which data years are shown): Last-Modified is the latest of them.
    midnight = datetime.combine(today, time(), timezone.utc)
    assert snap.modified is not None
    # Whole seconds, as HTTP dates have them, so If-Modified-Since can ever match.
    modified = max(snap.modified, midnight).replace(microsecond=0)
    etag = hashlib.sha256(body).hexdigest()[:40]
    filename = "-".join(only) if only is not None else subject.filename
    if choice:
        filename += f"-{calendars.REMIND_PREFIX}{choice}"
    return Rendered(body, etag, modified, filename, (
        ("ETag", f'"{etag}"'), ("Last-Modified", _http_date(modified)),
        ("Cache-Control", f"{'private' if subject.private else 'public'}, max-age={FEED_MAX_AGE}")))


def feed_body(fmt: str, events: list[Event], calendar: Calendar, today: date,
              remind: tuple[Lead, ...] = ()) -> bytes:
    """A feed's bytes in one format: what a route answers and the static build writes."""
    if fmt == "ics":
        # The alarms of the whole calendar at once: steps due together ring once, and
        # nothing rings for what is past on the calendar's day.
        return ical.render(events, calendar, reminders.alarms(remind, events, today))
    if fmt == "json":
        return export.to_json(calendar, events).encode("utf-8")
    return export.to_csv(events, today).encode("utf-8")


def page_html(rules: Rules, subject: Subject, events: list[Event], today: date, site: str,
              choice: str | None = None) -> str:
    """A calendar's page (or, with a reminder choice, the page subscribing with it), in an
    app context: what a route answers and the static build writes."""
    page = views.calendar_page(rules, subject,
                               engine.calendar(rules, subject.profile, site + subject.page()),
                               engine.tracks_for(rules, subject.profile), events, today, site,
                               choice)
    return render_template("subscribe.html" if choice else "calendar.html", **page)


def _group_body(snap: Snapshot, subject: Subject, group: Group, fmt: str,
                remind: tuple[Lead, ...], today: date, site: str, only: Event3 | None) -> bytes:
    """A group's feed in one format, or one event of it (the path names its variant after
    the milestone: groups.key)."""
    rules = snap.rules
    assert rules is not None
    shared = _group_schedule(snap, group, today)
    calendar = groups.calendar(rules, shared, site + subject.page())
    if only is not None:
        events = [s.event for s in shared.events if (s.event.track, s.event.cycle, s.key) == only
                  and s.event.precision != "undated"]
        if not events:
            raise NotFound()
        return feed_body("ics", events, calendar, today, remind)
    if fmt == "json":
        return group_export.to_json(calendar, shared, provider_pages(shared, site),
                                    _accreditor_names(rules)).encode("utf-8")
    if fmt == "csv":
        return group_export.to_csv(shared, today, _accreditor_names(rules)).encode("utf-8")
    return feed_body("ics", shared.feed(), calendar, today, remind)


def group_html(rules: Rules, subject: Subject, shared: groups.Schedule,
               today: date, site: str, choice: str | None = None,
               order: str = "deadline") -> str:
    """A group's page (the overview in `order`), or with a reminder choice the page
    subscribing with it, in an app context: what a route answers."""
    calendar = groups.calendar(rules, shared, site + subject.page())
    if choice:
        page = views.calendar_page(rules, subject, calendar, list(shared.tracks), [], today,
                                   site, choice)
        return render_template("subscribe.html", **page)
    page = group_views.group_page(rules, subject, calendar, shared, provider_pages(shared, ""),
                                  today, site, order)
    return render_template("group.html", **page)


def _schedule(snap: Snapshot, profile: Profile, today: date) -> list[Event]:
    """engine.schedule, remembered for the last few profiles of this data load (never mutated)."""
    key = (profile, today)
    events = snap.schedules.get(key)
    if events is None:
        assert snap.rules is not None  # a snapshot() is Unavailable when none loaded
        events = engine.schedule(snap.rules, profile, today)
        if len(snap.schedules) >= SCHEDULES_KEPT:
            snap.schedules.clear()  # a bound without bookkeeping: the next few refill it
        snap.schedules[key] = events
    return events


def _group_schedule(snap: Snapshot, group: Group, today: date) -> groups.Schedule:
    """groups.schedule, remembered beside the providers' schedules of this data load."""
    key = (group, today)
    found = snap.group_schedules.get(key)
    if found is None:
        assert snap.rules is not None  # a snapshot() is Unavailable when none loaded
        found = groups.schedule(snap.rules, group, today)
        if len(snap.group_schedules) >= SCHEDULES_KEPT:
            snap.group_schedules.clear()
        snap.group_schedules[key] = found
    return found


def provider_pages(shared: groups.Schedule, prefix: str) -> dict[str, str]:
    """Each member's private page, after a prefix (the site, or the site's root path)."""
    key = state().secret
    return {m.profile.id: prefix + calendars.provider_of(key, m.profile).page()
            for m in shared.members}


def _accreditor_names(rules: Rules) -> dict[str, str]:
    """Accreditor id → name."""
    return {a.id: a.name for a in rules.accreditors.values()}


def _http_date(moment: datetime) -> str:
    """An HTTP date: Sun, 22 Nov 2026 00:00:00 GMT."""
    return moment.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _page(subject: Subject, snap: Snapshot, choice: str | None = None,
          order: str = "deadline") -> Response:
    """The calendar page of any subject; with a reminder choice, the page subscribing with it.

    A group's page orders its overview by next deadline, or by `order`.
    """
    rules = snap.rules
    assert rules is not None
    today = _today()
    if subject.group is not None:
        html = group_html(rules, subject, _group_schedule(snap, subject.group, today), today,
                          base_url(), choice, order)
    else:
        # A reminder choice's page lists no dates: nothing to schedule.
        events = [] if choice else _schedule(snap, subject.profile, today)
        html = page_html(rules, subject, events, today, base_url(), choice)
    response = make_response(html)
    response.headers["Cache-Control"] = (
        f"{'private' if subject.private else 'public'}, max-age={PAGE_MAX_AGE}")
    if subject.private:
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# ---------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------

@bp.get("/")
def home() -> Response:
    """What calfeed is, the public track calendars, and the calendar builder."""
    snap = snapshot()
    rules, today = snap.rules, _today()
    assert rules is not None
    tracks = [calendars.track(rules, ident) for ident in rules.tracks]
    schedules = [(s, engine.calendar(rules, s.profile), _schedule(snap, s.profile, today))
                 for s in tracks]
    response = make_response(render_template(
        "home.html", **views.home_page(rules, schedules, base_url(), today)))
    response.headers["Cache-Control"] = f"public, max-age={PAGE_MAX_AGE}"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """The data's state and when it loaded; why a load failed is in the log, never here.

    ok; degraded (a reload failed: the last good data is served); unavailable (503: no
    data has ever loaded). `revision` is the rules' `revised`, which every page shows.
    """
    snap = state().store.current()
    rules = snap.rules
    status = "unavailable" if rules is None else "degraded" if snap.errors else "ok"
    body = {
        "status": status,
        "revision": wording.utc_stamp(rules.revised) if rules else None,
        "loaded_at": wording.utc_stamp(snap.loaded_at) if snap.loaded_at else None,
        "failed_at": wording.utc_stamp(snap.failed_at) if snap.failed_at else None,
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
    corrected = None
    refilled = None
    if request.path.startswith("/calendar/"):
        snap = state().store.current()
        if snap.rules is not None:
            refilled = views.builder_refilled(snap.rules, _today(), request.args, err)
    if err.suggestion:
        # The same address with the nearest known name: one click to what was meant.
        query = "&".join(f"{quote(err.suggestion if k == err.name else k, safe='')}={quote(v, safe=',')}"
                         for k, v in request.args.items(multi=True))
        corrected = f"{_root()}{request.path}?{query}"
    return _error_page(400, "That calendar cannot be made",
                       "This address has a parameter calfeed does not know." if err.unknown else
                       "One parameter in this address has a value calfeed does not accept.",
                       parameter=err, corrected=corrected, builder=refilled)


@bp.app_errorhandler(Unavailable)
def unavailable(err: Unavailable) -> Response:
    """503: no rules ever loaded. Why is in the log: its lines name providers and paths."""
    message = "The deadline rules did not load, so calfeed has nothing to serve yet."
    if _is_feed():
        response = make_response(f"503 Service Unavailable\n{message}\n", 503)
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        response.headers["Cache-Control"] = "no-store"
    else:
        response = _error_page(503, "Calendars are unavailable", message)
    # The store looks at the files again within a second; clients may retry soon.
    response.headers["Retry-After"] = "60"
    return response


@bp.app_errorhandler(calendars.Unknown)
def unknown(err: calendars.Unknown) -> Response:
    """404: no calendar at this address; the same page as for any unknown path."""
    log.debug("no calendar for %s", err)
    return not_found(NotFound())


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
def server_error(err: Exception) -> Response | HTTPException:
    """500 for a bug: logged with its traceback, shown to nobody."""
    if isinstance(err, HTTPException):  # routing redirects and the like: Flask answers with them
        return err
    current_app.logger.exception("error answering %s", redact.redact(request.path))
    return _error_page(500, "Something went wrong", "calfeed could not answer this request.")


@bp.after_app_request
def security_headers(response: Response) -> Response:
    """No referrer (tokens stay private), no sniffing, and a strict policy for pages."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@bp.app_context_processor
def template_globals() -> dict[str, str]:
    """What every template uses: the site root for links."""
    return {"root": _root()}
