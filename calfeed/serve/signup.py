"""Email sign-up on every calendar page: the form, the confirmation, the manage pages.

With CALFEED_SIGNUP, every kind of calendar in web.KINDS gets `…/email/` (the form
alone on GET, the sign-up on POST), so a new kind (a group's page) has it too. The
links in messages are `/confirm/<token>` and `/manage/<token>/` (`…/unsubscribe`, RFC
8058's one-click address), under private prefixes that log redaction cuts. A GET never
changes anything (mail scanners open links): confirming and leaving are buttons that
POST, except the one-click POST mail apps send themselves.

Forgery across sites: these forms carry no session or cookie, so a forged request can
only do what anyone can do by hand; still, a POST a browser marks as coming from
another site (`Sec-Fetch-Site`, or else an `Origin` that is not the site's) is refused,
as Go's CrossOriginProtection does, and a form must carry the token of the page it was
printed on (an HMAC of its path with the server's key: the same bytes for everyone, so
pages stay cacheable and a static build can print it). Pages send `Referrer-Policy:
no-referrer`, under which browsers send `Origin: null`: that is read as no Origin.

The answer to a sign-up is the same whether the address is new, waiting or already
subscribed, and whether a confirmation was queued; no page, log line or file carries
an address (README, "Email sign-up").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, make_response, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix

from calfeed.core import addresses, calendars
from calfeed.core.calendars import Subject
from calfeed.core.model import Rules
from calfeed.notify import confirmations, signups, subscriptions
from calfeed.notify.subscriptions import Choice, Person
from calfeed.serve import web

log = logging.getLogger("calfeed")

EXTENSION = "calfeed.signup"
# The choice a calendar page's form starts with: the roster's own lead days (30, 7, 1).
DEFAULT_CHOICE = "1m1w1d"
# What a sign-up answers whatever became of it (new, waiting, subscribed, over a limit).
SENT_TITLE = "Check your email"
NOT_FOUND_TITLE = "This link does not work"
NOT_FOUND_TEXT = ("It was used already, it expired (a confirmation link works for 48 hours), "
                  "or it was never a calfeed link. Nothing was changed.")
MAX_ADDRESS = 254  # RFC 5321's longest path
FORM_TOKEN_BYTES = 20
# Sec-Fetch-Site values of a form on this site, or of a person typing the address.
SAME_SITE = ("same-origin", "none")


@dataclass
class Signup:
    """What the sign-up pages keep between requests."""

    path: str  # the state file
    origin: str  # the site's scheme and host (CALFEED_BASE_URL), for the Origin check
    sender: confirmations.Sender | None
    started_in: int = 0  # the process the sender thread was started in


@dataclass(frozen=True)
class Option:
    """One reminder choice of a form."""

    id: str
    label: str
    checked: bool


@dataclass(frozen=True)
class Form:
    """The sign-up form of one calendar (or the choice of one subscription on the manage page)."""

    action: str  # root-relative
    token: str
    options: tuple[Option, ...]
    notices: bool
    prefix: str = "signup"  # ids of the fields: one page may hold several forms
    error: str | None = None
    field: str | None = None  # the field the error is about: "email" or "remind"


def on(app: Flask | None = None) -> bool:
    """Whether this site offers email sign-up."""
    return bool((app or current_app).config.get("CALFEED_SIGNUP"))


def init_app(app: Flask, path: str | Path) -> None:
    """Sign-up's routes and its sender (with CALFEED_SIGNUP), and the form for every page.

    `path`: the state file (CALFEED_STATE, or the instance folder's).
    """
    app.context_processor(lambda: {"signup_form": signup_form})
    proxies = app.config.get("CALFEED_TRUSTED_PROXIES") or 0
    if proxies:
        # request.remote_addr is the client's, as the nearest `proxies` proxies saw it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]  # Flask's way
    if not on(app):
        return
    config = app.config
    split = urlsplit(config["CALFEED_BASE_URL"])
    sender = None
    if not config.get("CALFEED_STATIC"):  # a static build prints forms, it never sends
        # Made and migrated before any request or thread of this process opens it.
        subscriptions.connect(path, create=True).close()
        sender = confirmations.Sender(path, config["CALFEED_SMTP_URL"], config["CALFEED_MAIL_FROM"],
                                      config["CALFEED_BASE_URL"], _describer(app),
                                      **config.get("SIGNUP_SENDER_OPTIONS", {}))
    app.extensions[EXTENSION] = Signup(str(path), f"{split.scheme}://{split.netloc}", sender)
    app.register_blueprint(_blueprint())
    if sender is not None and config.get("SIGNUP_SENDER", True):
        app.before_request(lambda: start(app))


def extension(app: Flask | None = None) -> Signup:
    """The sign-up state of the current (or given) app."""
    return (app or current_app).extensions[EXTENSION]


def start(app: Flask) -> None:
    """Start this process's confirmation sender, once per process (gunicorn forks workers
    from a master that may have created the app: a thread does not survive the fork)."""
    found = app.extensions.get(EXTENSION)
    if found is None or found.sender is None:
        return
    if found.started_in != os.getpid():
        found.started_in = os.getpid()
        found.sender.start()


def _describer(app: Flask) -> confirmations.Describe:
    """What the sender asks of a request's calendar: its name and page today, or None."""
    def describe(found: subscriptions.Request) -> confirmations.Confirmation | None:
        app_state = web.state(app)
        snap = app_state.store.current()
        if snap.rules is None:
            raise RuntimeError("the rules have not loaded")
        subject = signups.subject_of(found.calendar, snap.rules, app_state.today or date.today(),
                                     app_state.secret)
        if subject is None:
            return None
        site = app.config["CALFEED_BASE_URL"]
        return confirmations.Confirmation(
            signups.name(subject), site + subject.page(), signups.describe(found.choice),
            site + signups.confirm_path(app_state.secret, found.id))
    return describe


# ---------------------------------------------------------------------------
# The form on every calendar page
# ---------------------------------------------------------------------------

def form_token(secret: bytes, path: str) -> str:
    """The token a form printed on `path` carries: an HMAC of the path with the server's key."""
    digest = hmac.new(secret, f"calfeed-form\n{path}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:FORM_TOKEN_BYTES]).decode("ascii").lower()


def options(checked: str | None) -> tuple[Option, ...]:
    """The reminder choices of a form, one of them checked."""
    return tuple(Option(ident, signups.choice_label(ident), ident == checked)
                 for ident in signups.CHOICES)


def signup_form(subject: Subject, error: str | None = None,
                field: str | None = None) -> Form | None:
    """The sign-up form of a calendar page (None without CALFEED_SIGNUP)."""
    if not on():
        return None
    choice = (request.view_args or {}).get("choice") if request else None
    action = subject.signup()
    return Form(action, form_token(web.state().secret, action),
                options(choice if choice in signups.CHOICES else DEFAULT_CHOICE),
                notices=True, error=error, field=field)


def _token_ok(path: str) -> bool:
    """Whether the form carries the token of the page it claims to come from."""
    given = request.form.get("form", "")
    return hmac.compare_digest(given.encode("utf-8", "replace"),
                               form_token(web.state().secret, path).encode("ascii"))


def _cross_site() -> bool:
    """Whether the browser says this POST comes from another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site not in SAME_SITE
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":  # no browser, an old one, or no-referrer
        return False
    return origin != extension().origin


def _choice() -> Choice | str:
    """The reminder choice this request's form sent, or what is wrong with it (in words)."""
    form = request.form
    remind = form.get("remind", "")
    if remind not in signups.CHOICES:
        return "Choose when to be reminded."
    notices = form.get("notices", "") == "yes"
    if not signups.CHOICES[remind] and not notices:
        return ("Choose reminders, the notices of moved and published dates, or both: with "
                "neither, there is nothing to send.")
    return Choice(signups.CHOICES[remind], notices)


def _db() -> sqlite3.Connection:
    """The state file, waiting a little when a run is writing it."""
    return subscriptions.connect(extension().path, busy_ms=subscriptions.WEB_BUSY_MS)


def _page(template: str, status: int = 200, **context: object) -> Response:
    """A sign-up page: never cached (it answers one person), never indexed."""
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(status: int, title: str, message: str) -> Response:
    """An error page in the site's style, not cached."""
    response = make_response(render_template("error.html", status=status, title=title,
                                             message=message), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _busy() -> Response:
    """503: the state file stayed locked (a long run): nothing was recorded, try again."""
    response = _refused(503, "Try again in a minute",
                        "calfeed is busy and could not record this. Nothing was changed.")
    response.headers["Retry-After"] = "60"
    return response


def _email_view(kind: web.Kind) -> Callable[..., Response]:
    """A calendar's `…/email/`: the form alone (GET), or a sign-up (POST)."""
    def view(**ids: str) -> Response:
        snap = web.snapshot()
        subject = kind.find(snap, (), **ids)
        if request.method == "GET":
            return _form_page(subject)
        return _sign_up(subject)
    return view


def _form_page(subject: Subject, status: int = 200, error: str | None = None,
               field: str | None = None) -> Response:
    """The form alone, for a calendar: also where a refused sign-up is answered."""
    return _page("signup_form.html", status, subject=subject, private=subject.private,
                 form=signup_form(subject, error, field))


def _sign_up(subject: Subject) -> Response:
    """Record a sign-up and queue its confirmation; the same answer whatever became of it."""
    if _cross_site() or not _token_ok(subject.signup()):
        return _refused(403, "This form did not come from its page",
                        "Open the calendar page again and send the form from there.")
    address = request.form.get("email", "").strip()
    if len(address) > MAX_ADDRESS or not addresses.valid(address):
        return _form_page(subject, 400, "Enter an email address like name@example.org.", "email")
    choice = _choice()
    if isinstance(choice, str):
        return _form_page(subject, 400, choice, "remind")
    secret = web.state().secret
    now = time.time()
    try:
        db = _db()
        try:
            if not subscriptions.client_allowed(
                    db, subscriptions.keyed(secret, "client", request.remote_addr or ""), now):
                response = _refused(429, "Too many sign-ups",
                                    "Too many sign-ups came from your network in the last hour. "
                                    "Try again later.")
                response.headers["Retry-After"] = str(subscriptions.CLIENT_WINDOW)
                return response
            queued = subscriptions.request(db, address, signups.calendar_key(subject), choice,
                                           subscriptions.keyed(secret, "address", address), now)
        finally:
            db.close()
    except sqlite3.OperationalError:
        return _busy()
    found = extension()
    if queued and found.sender is not None:
        found.sender.wake()
    return _page("signup_sent.html", subject=subject, private=subject.private,
                 title=SENT_TITLE)


# ---------------------------------------------------------------------------
# Confirming
# ---------------------------------------------------------------------------

def _gone() -> Response:
    """404: a link that was used, expired or forged; the same page for each."""
    return _refused(404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)


def _rules() -> tuple[Rules, date, bytes]:
    """The data now, today and the key: what naming a stored calendar needs."""
    rules = web.snapshot().rules
    assert rules is not None
    app_state = web.state()
    return rules, app_state.today or date.today(), app_state.secret


def confirm(token: str) -> Response:
    """A confirmation link: a page with the button (GET), the subscription made (POST)."""
    rules, today, secret = _rules()
    ident = signups.confirm_request(secret, token)
    if ident is None:
        return _gone()
    if request.method == "POST" and (_cross_site() or not _token_ok(request.path)):
        return _refused(403, "This form did not come from its page",
                        "Open the link in the message again and press the button there.")
    now = time.time()
    try:
        db = _db()
        try:
            waiting = subscriptions.waiting(db, ident, now)
            if waiting is None:
                return _gone()
            subject = signups.subject_of(waiting.calendar, rules, today, secret)
            name = signups.name(subject) if subject else None
            if request.method == "GET":
                return _page("signup_confirm.html", subject=subject, name=name, private=True,
                             choice=signups.describe(waiting.choice),
                             token=form_token(secret, request.path), done=False)
            person = subscriptions.confirm(db, ident, now)
        finally:
            db.close()
    except sqlite3.OperationalError:
        return _busy()
    if person is None:
        return _gone()
    return _page("signup_confirm.html", subject=subject, name=name, private=True,
                 choice=signups.describe(waiting.choice), done=True,
                 manage=web.state().root + signups.manage_path(secret, person.id))


# ---------------------------------------------------------------------------
# Managing and leaving
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One subscription on the manage page."""

    name: str
    page: str | None  # root-relative; None if the calendar is gone
    key: str
    choice: str  # in words
    form: Form


def _roster_names(rules: Rules, address: str) -> list[str]:
    """The providers whose roster row lists an address (compared without case)."""
    wanted = address.lower()
    return [p.name for p in rules.providers.values()
            if any(a.lower() == wanted for a in p.contacts)]


def _manage_page(person: Person, status: str | None = None, error: str | None = None) -> Response:
    """A person's manage page: each calendar's choice, leave one, the roster's emails."""
    rules, today, secret = _rules()
    token = form_token(secret, _manage_base())
    entries = []
    for n, sub in enumerate(person.subscriptions, 1):
        subject = signups.subject_of(sub.calendar, rules, today, secret)
        form = Form(_manage_base(), token, options(signups.choice_id(sub.choice.lead_days)),
                    sub.choice.notices, prefix=f"sub{n}")
        entries.append(Entry(signups.name(subject) if subject else "A calendar that no longer "
                             "exists", subject.page() if subject else None, sub.calendar,
                             signups.describe(sub.choice), form))
    return _page("signup_manage.html", 400 if error else 200, entries=entries, token=token,
                 roster=_roster_names(rules, person.address), stopped=person.stopped_at,
                 done=status, error=error, private=True,
                 unsubscribe=_manage_base() + "unsubscribe")


def _manage_base() -> str:
    """The manage page's path (without the site's prefix), from this request's."""
    path = request.path
    return path.removesuffix("unsubscribe") if path.endswith("/unsubscribe") else path


def _person(token: str) -> tuple[sqlite3.Connection, Person] | None:
    """The open file and the person a manage token names, if both exist."""
    ident = signups.token_person(web.state().secret, token)
    if ident is None:
        return None
    db = _db()
    person = subscriptions.person_by_id(db, ident)
    if person is None:
        db.close()
        return None
    return db, person


def _as_person(token: str, answer: Callable[[sqlite3.Connection, Person], Response]) -> Response:
    """Answer for the person a manage token names, with the state file open; 404 for no one,
    503 when the file stayed locked."""
    try:
        found = _person(token)
        if found is None:
            return _gone()
        db, person = found
        try:
            return answer(db, person)
        finally:
            db.close()
    except sqlite3.OperationalError:
        return _busy()


def manage(token: str) -> Response:
    """A person's manage page (GET), or one change to it (POST)."""
    def answer(db: sqlite3.Connection, person: Person) -> Response:
        if request.method == "GET":
            return _manage_page(person)
        if _cross_site() or not _token_ok(_manage_base()):
            return _refused(403, "This form did not come from its page",
                            "Open the link in a message again and change it there.")
        return _manage_post(db, person)
    return _as_person(token, answer)


def _manage_post(db: sqlite3.Connection, person: Person) -> Response:
    """Save a calendar's choice, leave it, or stop or restart the roster's emails."""
    rules, _, _ = _rules()
    action = request.form.get("action", "")
    calendar = request.form.get("calendar", "")
    roster = bool(_roster_names(rules, person.address))
    if action == "save":
        choice = _choice()
        if isinstance(choice, str):
            return _manage_page(person, error=choice)
        if not subscriptions.change(db, person.id, calendar, choice):
            return _manage_page(person, error="That calendar is not in your list any more.")
        status = "Saved."
    elif action == "leave":
        subscriptions.leave(db, person.id, calendar, roster)
        status = "You will get no more email about that calendar."
    elif action in ("stop", "resume"):
        subscriptions.stop_roster(db, person.id, time.time() if action == "stop" else None)
        status = ("The site's operator will send you no more reminders."
                  if action == "stop" else "The site's operator's reminders start again.")
    else:
        return _manage_page(person, error="That button is not one of this page's.")
    after = subscriptions.person_by_id(db, person.id)
    if after is None:
        return _page("signup_unsubscribed.html", private=True)
    return _manage_page(after, status)


def unsubscribe(token: str) -> Response:
    """Leave everything: a page with the button (GET), or the leaving (POST, RFC 8058's too).

    A mail app's one-click POST carries `List-Unsubscribe=One-Click` and nothing else
    (no page token, no browser headers); the page's button sends the same field.
    """
    def answer(db: sqlite3.Connection, person: Person) -> Response:
        if request.method == "GET":
            return _page("signup_unsubscribe.html", private=True, done=False,
                         manage=web.state().root + _manage_base())
        if _cross_site() or request.form.get("List-Unsubscribe") != "One-Click":
            return _refused(400, "Unsubscribe with the button",
                            "This address unsubscribes with a POST of "
                            "List-Unsubscribe=One-Click, as mail apps send it.")
        rules, _, _ = _rules()
        roster = bool(_roster_names(rules, person.address))
        subscriptions.leave(db, person.id, None, roster)
        if roster:
            subscriptions.stop_roster(db, person.id, time.time())
        log.info("sign-up: subscriber %s unsubscribed from everything", person.id[:6])
        return _page("signup_unsubscribed.html", private=True)
    return _as_person(token, answer)


def _blueprint() -> Blueprint:
    """The routes: `…/email/` for every kind of calendar, and the links in messages."""
    bp = Blueprint("signup", __name__)
    for kind in web.KINDS:
        bp.add_url_rule(f"{kind.base}/{calendars.SIGNUP_SEGMENT}/", f"{kind.name}_email",
                        _email_view(kind), methods=["GET", "POST"])
    bp.add_url_rule(f"/{calendars.CONFIRM_PREFIX}/<token>", "confirm", confirm,
                    methods=["GET", "POST"])
    bp.add_url_rule(f"/{calendars.MANAGE_PREFIX}/<token>/", "manage", manage,
                    methods=["GET", "POST"])
    bp.add_url_rule(f"/{calendars.MANAGE_PREFIX}/<token>/unsubscribe", "unsubscribe",
                    unsubscribe, methods=["GET", "POST"])
    return bp
