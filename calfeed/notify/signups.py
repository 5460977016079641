"""What the server and `calfeed notify` share about email sign-ups: calendars, choices, links.

- A sign-up's calendar is stored as a key naming its kind and whose it is
  (`track:annual-reporting`, `builder:next_decision_date=2024-07-31&enduring_materials=yes`,
  `provider:demo-8-month`, `group:acme`): a provider's or a group's key is its id, never
  its token, so a raised `rotation` keeps its subscribers. A new kind of calendar is one
  more row of KEYS.
- A group's sign-up is told about each of the group's providers as it stands on the
  run: one Source per member, keyed `group:acme/demo-8-month` in the send log, so each
  provider's dates are remembered apart and a provider that joins later meets the
  subscriber quietly, as any first meeting does (plan.py).
- The email choices are the page's reminder choices, counted in days (a month is 30,
  as `[notify]` counts), and whether moves and publications are news.
- Links carry a token signed with the server's key (itsdangerous), never the address:
  the confirmation link a request's random id with the time it was made (valid 48
  hours, and only while the request waits), the manage and one-click links a person's
  random id (valid while the person has anything left).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, overload
from urllib.parse import parse_qsl

from itsdangerous import BadSignature, Signer, SignatureExpired, TimestampSigner

from calfeed.core import calendars, reminders, wording
from calfeed.core.calendars import BadParameter, Subject, Unknown
from calfeed.core.model import Rules
from calfeed.notify import subscriptions
from calfeed.notify.mail import Links, asked
from calfeed.notify.plan import Source
from calfeed.notify.subscriptions import Choice

# A separator outside base32 and base64 and never cut by log redaction (which stops a
# token at "."), so the whole token is one path segment and one redacted run.
SEPARATOR = "~"
NO_REMINDERS = "none"
# A month before a step counts 30 days in email, as rules.toml's days_before does.
MONTH_DAYS = 30


# ---------------------------------------------------------------------------
# Calendars: a Subject and the key a sign-up stores
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class KeyKind:
    """How one kind of calendar is stored: its key from a Subject, and the Subject from a key."""

    kind: str  # Subject.kind
    key: Callable[[Subject], str]  # the part after "kind:"
    find: Callable[[str, Rules, date, bytes], Subject]  # Unknown or BadParameter if gone


def _provider(ident: str, rules: Rules, today: date, secret: bytes) -> Subject:
    """A roster provider's calendar by id, under its current token."""
    profile = rules.providers.get(ident)
    if profile is None:
        raise Unknown(ident)
    return calendars.provider_of(secret, profile)


def _group(ident: str, rules: Rules, today: date, secret: bytes) -> Subject:
    """A group's calendar by id, under its current token."""
    found = rules.groups.get(ident)
    if found is None:
        raise Unknown(ident)
    return calendars.group_of(secret, found)


KEYS = (
    KeyKind("track", lambda s: s.filename, lambda k, rules, today, secret:
            calendars.track(rules, k)),
    KeyKind("builder", lambda s: s.query.lstrip("?"), lambda k, rules, today, secret:
            calendars.builder(rules, dict(parse_qsl(k)), today)),
    KeyKind("provider", lambda s: s.profile.id, _provider),
    KeyKind("group", lambda s: s.profile.id, _group),
)
MEMBER_SEPARATOR = subscriptions.MEMBER_SEPARATOR  # "group:acme/demo-8-month"
BY_KIND = {kind.kind: kind for kind in KEYS}


def calendar_key(subject: Subject) -> str:
    """The key a sign-up stores for a calendar: "track:annual-reporting"."""
    return f"{subject.kind}:{BY_KIND[subject.kind].key(subject)}"


def subject_of(key: str, rules: Rules, today: date, secret: bytes) -> Subject | None:
    """The calendar a stored key names today; None if it is gone (a provider left the roster)."""
    kind, _, rest = key.partition(":")
    found = BY_KIND.get(kind)
    if found is None:
        return None
    try:
        return found.find(rest, rules, today, secret)
    except (Unknown, BadParameter):
        return None


def name(subject: Subject) -> str:
    """A calendar as messages and the manage page name it: its page's name; a group's says
    it is a group and how many providers it has today."""
    if subject.group is None:
        return subject.profile.name
    size = wording.count(len(subject.group.members), "provider")
    return f"{subject.group.name} (a group of {size})"


def member_key(calendar: str, provider: str) -> str:
    """The send log's key of one provider of a group sign-up: "group:acme/demo-8-month"."""
    return f"{calendar}{MEMBER_SEPARATOR}{provider}"


# ---------------------------------------------------------------------------
# Choices
# ---------------------------------------------------------------------------

def choice_days(choice: reminders.Choice) -> tuple[int, ...]:
    """A page's reminder choice as email lead days: 1 month, 1 week and 1 day → (30, 7, 1)."""
    return tuple(lead.months * MONTH_DAYS + lead.days for lead in choice.leads)


# The choices the form offers: the page's, and none (notices only).
CHOICES: dict[str, tuple[int, ...]] = {
    NO_REMINDERS: (), **{choice.id: choice_days(choice) for choice in reminders.CHOICES}}


def choice_label(ident: str) -> str:
    """A form's choice in words: "1 month, 1 week and 1 day before", "No reminders"."""
    if ident == NO_REMINDERS:
        return "No reminders, only the notices"
    return wording.leads(reminders.BY_ID[ident].leads)


def choice_id(days: tuple[int, ...]) -> str | None:
    """The form's choice with these lead days, if one has them."""
    return next((ident for ident, found in CHOICES.items() if found == days), None)


def describe(choice: Choice) -> str:
    """A choice in words, as messages word it (mail.asked)."""
    return asked(choice.lead_days, choice.notices)


# ---------------------------------------------------------------------------
# Signed links
# ---------------------------------------------------------------------------

@overload
def _signer(secret: bytes, purpose: str, timed: Literal[True]) -> TimestampSigner: ...
@overload
def _signer(secret: bytes, purpose: str, timed: Literal[False] = False) -> Signer: ...
def _signer(secret: bytes, purpose: str, timed: bool = False) -> Signer:
    """itsdangerous's signer for one purpose: SHA-256, the separator above."""
    kind = TimestampSigner if timed else Signer
    return kind(secret, salt=f"calfeed-{purpose}", sep=SEPARATOR, digest_method=hashlib.sha256)


def confirm_token(secret: bytes, request: str) -> str:
    """The token of a request's confirmation link: its id and the time, signed."""
    return _signer(secret, "confirm", timed=True).sign(request).decode("ascii")


def confirm_request(secret: bytes, token: str) -> str | None:
    """The request id a confirmation token carries, if it is genuine and under 48 hours old."""
    try:
        return _signer(secret, "confirm", timed=True).unsign(
            token, max_age=subscriptions.REQUEST_SECONDS).decode("ascii")
    except (BadSignature, SignatureExpired, UnicodeError):
        return None


def person_token(secret: bytes, person: str) -> str:
    """The token of a person's manage and one-click links."""
    return _signer(secret, "manage").sign(person).decode("ascii")


def token_person(secret: bytes, token: str) -> str | None:
    """The person id a manage token carries, if it is genuine."""
    try:
        return _signer(secret, "manage").unsign(token).decode("ascii")
    except (BadSignature, UnicodeError):
        return None


def confirm_path(secret: bytes, request: str) -> str:
    """The path of a request's confirmation link."""
    return f"/{calendars.CONFIRM_PREFIX}/{confirm_token(secret, request)}"


def manage_path(secret: bytes, person: str) -> str:
    """The path of a person's manage page."""
    return f"/{calendars.MANAGE_PREFIX}/{person_token(secret, person)}/"


def links(secret: bytes, site: str, person: str) -> Links:
    """A person's manage and one-click unsubscribe addresses on the site."""
    manage = site + manage_path(secret, person)
    return Links(manage, manage + "unsubscribe")


# ---------------------------------------------------------------------------
# What one `calfeed notify` run plans with
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Audience:
    """The sign-ups a run plans: sources per address, their pages, who stopped the roster."""

    signups: tuple[tuple[str, Source], ...] = field(repr=False)
    pages: dict[str, str]  # sign-up calendar key -> its page URL
    stopped: frozenset[str] = field(repr=False)  # lower-case addresses
    gone: tuple[str, ...] = ()  # labels of sign-ups whose calendar no longer exists


def audience(db: sqlite3.Connection, rules: Rules, today: date, secret: bytes,
             site: str) -> Audience:
    """The confirmed sign-ups as plan sources, labelled "subscriber <id prefix>" for logs.

    A group's sign-up is one source per provider in the group today, after the
    address's other sign-ups, so that a provider's own page signed up to wins over the
    group's copy of it (plan.sources keeps the first source of a provider).
    """
    found: list[tuple[str, Source]] = []
    members: list[tuple[str, Source]] = []
    pages: dict[str, str] = {}
    gone: list[str] = []
    for signup in subscriptions.signups(db):
        label = f"subscriber {signup.person[:6]}"
        subject = subject_of(signup.calendar, rules, today, secret)
        if subject is None:
            gone.append(f"{label} ({signup.calendar.partition(':')[0]})")
            continue
        page = site + subject.page()
        choice = signup.choice
        if subject.group is None:
            found.append((signup.address, Source(signup.calendar, subject.profile, label,
                                                 choice.lead_days, choice.notices, signup=True)))
            pages[signup.calendar] = page
            continue
        for ident in subject.group.members:
            key = member_key(signup.calendar, ident)
            members.append((signup.address, Source(
                key, rules.providers[ident], label, choice.lead_days, choice.notices,
                signup=True, calendar=name(subject))))
            pages[key] = page  # a group's subscriber is sent to the group's page
    return Audience(tuple(found + members), pages, subscriptions.stopped(db), tuple(gone))
