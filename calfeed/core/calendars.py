"""Whom a calendar is for, and where its URLs are: the site's URL scheme.

Four kinds of calendar share every URL shape: a public track (`/tracks/<id>`), the
builder (`/calendar`, answers in the query string, nothing stored), a provider
behind its private token (`/p/<token>`) and a group of providers behind its own
(`/g/<token>`). Each has a page ending in `/`, feeds ending in
`.ics` `.json` `.csv`, one `.ics` per event under
`…/events/<track>/<cycle>/<milestone>.ics`, and per reminder choice a calendar with
alarms at `…/remind-<choice>.ics` and the page that subscribes to it at
`…/remind-<choice>/`, so a static build can write the same paths.
The web routes, the static build and `calfeed links` all take their paths from here.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from calfeed.core import reminders, tokens, wording
from calfeed.core.model import Day, Event, Group, Month, Profile, Rules
from calfeed.core.rules import checks, reported
from calfeed.core.rules import ndd as ndd_rules
from calfeed.core.rules.report import Report

FORMATS = ("ics", "json", "csv")
# The builder's questions, and the options its feeds also take: any other parameter is
# refused, since a misspelt answer would otherwise be dropped without a word. It also
# takes one parameter per dated progress-report step (builder_parameters).
BUILDER_ANSWERS = ("next_decision_date", "enduring_materials", "accreditor")
FEED_OPTIONS = ("remind", "download", "plain")
# A reminder calendar's path segment: …/remind-2w2d.ics, …/remind-2w2d/.
REMIND_PREFIX = "remind-"
# A provider's calendars: /p/<token>/…
PROVIDER_PREFIX = "p"
# A group's calendars: /g/<token>/…
GROUP_PREFIX = "g"
# A group page's orders: its overview by next deadline at …/, by name at …/by-name/.
GROUP_ORDERS = ("name",)
ORDER_PREFIX = "by-"
# Email sign-up (CALFEED_SIGNUP): every calendar's form posts to …/email/; the links in
# messages are /confirm/<token> and /manage/<token>/ (…/unsubscribe: RFC 8058's).
SIGNUP_SEGMENT = "email"
CONFIRM_PREFIX = "confirm"
MANAGE_PREFIX = "manage"
# The first path segments whose next segment is a secret token: whatever the spelling
# of a path, a token after one of them never reaches a log whole (serve/redact.py).
PRIVATE_PREFIXES = (PROVIDER_PREFIX, GROUP_PREFIX, CONFIRM_PREFIX, MANAGE_PREFIX)


class Unknown(LookupError):
    """No calendar at this address (an unknown track, a wrong token)."""


class BadParameter(Exception):
    """A query parameter with a value calfeed does not accept."""

    def __init__(self, name: str, value: str, accepted: str, message: str | None = None,
                 unknown: bool = False, suggestion: str | None = None) -> None:
        super().__init__(f"{name}: {message} (expected {accepted})" if unknown else
                         message or f"{name}: {value!r} is not accepted (expected {accepted})")
        self.reason = message  # a more precise explanation than "not accepted", if any
        self.name = name
        self.value = value
        self.accepted = accepted
        self.unknown = unknown  # the parameter itself is not one calfeed knows
        self.suggestion = suggestion  # the known parameter nearest an unknown one


@dataclass(frozen=True)
class Subject:
    """What a page or feed is about: whose calendar, and where its URLs live."""

    kind: str  # "track" | "builder" | "provider" | "group"
    profile: Profile  # a group's: its id and name only
    base: str  # the path before "/" or ".ics": "/tracks/annual-reporting", "/calendar", "/p/<token>"
    query: str = ""  # the builder's answers, normalized: "" or "?next_decision_date=…"
    filename: str = "calendar"
    answers: tuple[str, ...] = ()  # the builder's answers in words
    group: Group | None = None  # a group's calendar: the group

    @property
    def private(self) -> bool:
        """Whether the URL carries a secret (a provider's or a group's token)."""
        return self.kind in ("provider", "group")

    def page(self, remind: str | None = None) -> str:
        """The page's path; with a reminder choice, the page that subscribes with it."""
        return f"{self.base}/{REMIND_PREFIX}{remind}/{self.query}" if remind else \
            f"{self.base}/{self.query}"

    def feed(self, fmt: str = "ics", remind: str | None = None, **extra: str) -> str:
        """A feed's path, with extra query parameters; with a reminder choice, its .ics."""
        if remind:
            assert fmt == "ics"
            return with_query(f"{self.base}/{REMIND_PREFIX}{remind}.ics{self.query}", extra)
        return with_query(f"{self.base}.{fmt}{self.query}", extra)

    def signup(self) -> str:
        """The path its email sign-up form posts to (and the page showing that form alone)."""
        return f"{self.base}/{SIGNUP_SEGMENT}/{self.query}"

    def event(self, event: Event) -> str:
        """The path of the .ics of one event."""
        return f"{self.base}/events/{event.track}/{event.cycle}/{event.milestone}.ics{self.query}"

    def ordered(self, order: str) -> str:
        """A group page in another order: …/by-name/."""
        return f"{self.base}/{ORDER_PREFIX}{order}/"

    def paths(self) -> list[str]:
        """The page, the three feeds and the reminder variants: what a static site holds
        (and a group page's other orders)."""
        return ([self.page()] + [self.feed(fmt) for fmt in FORMATS]
                + [path for choice in reminders.CHOICES
                   for path in (self.page(choice.id), self.feed(remind=choice.id))]
                + [self.ordered(order) for order in GROUP_ORDERS if self.group is not None])


def with_query(path: str, extra: Mapping[str, str]) -> str:
    """A path with more query parameters appended."""
    if not extra:
        return path
    joined = "&".join(f"{k}={quote(v, safe=',')}" for k, v in extra.items())
    return f"{path}{'&' if '?' in path else '?'}{joined}"


def webcal(url: str) -> str:
    """The webcal:// form of a feed URL, which opens the calendar app."""
    return "webcal://" + url.split("://", 1)[-1]


def track(rules: Rules, track_id: str) -> Subject:
    """A public track's calendar: that track only, the conditional step shown as conditional."""
    found = rules.tracks.get(track_id)
    if found is None:
        raise Unknown(track_id)
    # "track-" keeps these UIDs apart from any provider's, whatever the roster says.
    profile = Profile(id=f"track-{found.id}", name=found.name,
                      next_decision_date=found.next_decision_date, enduring_materials=None,
                      accreditor=None, tracks=(found.id,))
    return Subject("track", profile, f"/tracks/{found.id}", filename=found.id)


def known_parameters(args: Mapping[str, str], known: tuple[str, ...]) -> None:
    """Refuse the first parameter that is not known, suggesting the nearest known one."""
    for name in args:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise BadParameter(name, args.get(name, ""), "one of: " + ", ".join(known),
                               f"calfeed does not know this parameter{hint}",
                               unknown=True, suggestion=near[0] if near else None)


def builder_parameters(rules: Rules) -> tuple[str, ...]:
    """The builder's answers: its questions, then one per dated progress-report step
    (its id: the date in the coordinator's own decision report)."""
    return BUILDER_ANSWERS + reported.steps(rules.progress)


def builder_name(rules: Rules, ndd: date | None, enduring: bool, accreditor: str | None,
                 own: bool = False) -> str:
    """The builder's calendar named in plain words from its answers, as calendar apps list it."""
    name = (f"Progress report (Next Decision Date {wording.long_date(ndd)}) and annual reporting"
            if ndd else "Annual reporting")
    details = ["with enduring materials"] if enduring else []
    if accreditor:
        details.append(f"accredited by the {rules.accreditors[accreditor].name}")
    if own:
        details.append(f"with dates {wording.REPORTED}")
    return ", ".join([name] + details)


def own_dates(rules: Rules, args: Mapping[str, str],
              ndd: date | None) -> tuple[tuple[str, Day | Month], ...]:
    """The dates a coordinator gave from their decision report, in the steps' order, checked
    as the roster's are (checks.reported_dates); an empty answer keeps calfeed's date.
    Anything else is BadParameter naming the step's parameter."""
    order = reported.steps(rules.progress)
    given = {ident: args.get(ident, "").strip() for ident in order if args.get(ident, "").strip()}
    if not given:
        return ()
    if ndd is None:
        ident = next(iter(given))
        raise BadParameter(ident, given[ident], "a next_decision_date with it",
                           f"{ident}: a date from a decision report needs that report's Next "
                           f"Decision Date (expected a next_decision_date with it)")
    dates: dict[str, Day | Month] = {}
    for ident, text in given.items():
        when, why = reported.parse(text)
        if why is not None:
            raise BadParameter(ident, text, reported.ACCEPTED,
                               f"{ident}: {why} (expected {reported.ACCEPTED})")
        assert when is not None  # parse gives a date, or why not
        dates[ident] = when
    report = Report("")
    if not checks.reported_dates(report, lambda ident: ident, dates, order, ndd):
        ident, what, expected = report.found[0]
        raise BadParameter(ident, given[ident], expected, f"{ident}: {what} (expected {expected})")
    return tuple((ident, dates[ident]) for ident in order if ident in dates)


def builder(rules: Rules, args: Mapping[str, str], today: date,
            options: tuple[str, ...] = ()) -> Subject:
    """The builder's calendar from its answers (and `options`); anything else is BadParameter.

    Any Next Decision Date from the first published cohort's to two years after
    today is taken: a published cohort, or an estimated schedule; with it, the dates of
    the coordinator's own decision report, one parameter per step (own_dates).
    """
    known_parameters(args, builder_parameters(rules) + options)
    raw = args.get("next_decision_date", "").strip()
    ndd = None
    if raw.lower() not in ("", "none"):
        first = ndd_rules.first_ndd(rules.progress)
        accepted = ndd_rules.ndd_accepted(first, today)
        ndd, why = ndd_rules.parse(raw, first, today)
        if why:
            raise BadParameter("next_decision_date", raw, accepted,
                               f"next_decision_date: {why} (expected {accepted})")
    enduring = wording.yes_no(args.get("enduring_materials", ""))
    if enduring is None:
        raise BadParameter("enduring_materials", args.get("enduring_materials", ""),
                           wording.YES_NO_ACCEPTED)
    raw_accreditor = args.get("accreditor", "").strip()
    accreditor = raw_accreditor or None
    if accreditor == "accme" and "accme" not in rules.accreditors:
        accreditor = None
    if accreditor is not None and accreditor not in rules.accreditors:
        known = ", ".join(rules.accreditors)
        raise BadParameter("accreditor", raw_accreditor,
                           f"one of: {known}, or empty for ACCME" if known else "empty for ACCME")
    own = own_dates(rules, args, ndd)
    # The id (and so every UID) names the answers, never their order or spelling.
    parts = ["calendar"]
    words = []
    query = []
    if ndd:
        parts.append(ndd.isoformat())
        words.append(f"Next Decision Date {wording.long_date(ndd)}")
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
    if own:
        # Not in the id: the events keep the UIDs of calfeed's dates they replace.
        words.append(wording.count(len(own), "date") + " " + wording.REPORTED)
        query += [f"{step}={checks.field_date(when)}" for step, when in own]
    ident = "-".join(parts)
    profile = Profile(id=ident, name=builder_name(rules, ndd, enduring, accreditor, bool(own)),
                      next_decision_date=ndd, enduring_materials=enduring, accreditor=accreditor,
                      reported=own)
    return Subject("builder", profile, "/calendar", "?" + "&".join(query) if query else "",
                   filename=ident, answers=tuple(words))


def provider(profile: Profile | None, token: str) -> Subject:
    """A provider's calendar behind its token (the provider it finds, if any); else Unknown."""
    if profile is None:
        raise Unknown(tokens.prefix(token))
    return Subject("provider", profile, f"/{PROVIDER_PREFIX}/{token}", filename=profile.id)


def provider_of(secret: bytes, profile: Profile) -> Subject:
    """A roster provider's calendar, its token made with the secret key."""
    return provider(profile, tokens.token(secret, profile.id, profile.rotation))


def provider_urls(secret: bytes, profile: Profile, site: str) -> dict[str, str]:
    """A provider's private page and feed URLs on a site (for `calfeed links`)."""
    return _urls(provider_of(secret, profile), site)


def group(found: Group | None, token: str) -> Subject:
    """A group's calendar behind its token (the group it finds, if any); else Unknown."""
    if found is None:
        raise Unknown(tokens.prefix(token))
    # Only the id and name: a group's events come from its providers' (core/groups.py).
    profile = Profile(id=found.id, name=found.name, tracks=())
    return Subject("group", profile, f"/{GROUP_PREFIX}/{token}", filename=found.id, group=found)


def group_of(secret: bytes, found: Group) -> Subject:
    """A group's calendar, its token made with the secret key."""
    return group(found, tokens.token(secret, found.id, found.rotation, "group"))


def group_urls(secret: bytes, found: Group, site: str) -> dict[str, str]:
    """A group's private page and feed URLs on a site (for `calfeed links`)."""
    return _urls(group_of(secret, found), site)


def _urls(subject: Subject, site: str) -> dict[str, str]:
    """A private calendar's page and feed URLs, in the order `calfeed links` prints them."""
    ics = site + subject.feed()
    return {"page": site + subject.page(), "webcal": webcal(ics), "ics": ics,
            "json": site + subject.feed("json"), "csv": site + subject.feed("csv")}
