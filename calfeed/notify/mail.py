"""Compose one recipient's reminder email: plain text and HTML, each step's .ics attached.

Pure: the same message, rules and addresses give the same headers and parts (Date and
Message-ID are the sender's). Dates, times, zones and actors are worded by wording.py,
as on the pages; the HTML comes from an autoescaped Jinja template.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from calfeed import bundled
from calfeed.core import engine, wording
from calfeed.outputs import ical
from calfeed.core.model import Event, Link, Rules
from calfeed.notify.plan import Item, Message, Source, parse_key

# Parts are encoded with this: quoted-printable lines may have at most 76 characters
# (RFC 2045), and Python's encoder makes them as long as the policy's line length.
COMPOSING = policy.SMTP.clone(max_line_length=76)
# How a composed message is written out. Its headers stay on one line: Python's folder
# leaves a space on both sides of a fold before an encoded word, so a folded subject
# with an em dash reads "Deadline  — now" in every client. RFC 5322 allows 998
# characters a line; the parts' bodies are already encoded when this applies.
SENDING = policy.SMTP.clone(max_line_length=998)


# How much of a provider's name an attachment's file name carries.
ATTACHMENT_NAME_CHARS = 40
# Every message says whose it is, as every page's footer does.
NOT_ACCME = ("calfeed is not an ACCME service: it copies the Accreditation Council for "
             "Continuing Medical Education's published schedules into calendars. When in "
             "doubt, ACCME's own publications, PARS and your decision report are right.")


@dataclass(frozen=True)
class Step:
    """One step in a section: its title, what to do, and who acts when it is not the reader."""

    title: str
    paragraphs: tuple[str, ...]  # what to do: ACCME's text
    actor: str | None  # None when the provider acts
    moved: str | None = None  # for a moved date, its history's last entry: when and why


@dataclass(frozen=True)
class Section:
    """Steps that share a date and a reason: "Due in 30 days: Monday, March 31, 2025, …"."""

    headline: str
    steps: tuple[Step, ...]
    links: tuple[Link, ...]
    estimated: bool


@dataclass(frozen=True)
class Provider:
    """One provider's part of a message, with the link to its private page."""

    name: str
    page: str
    sections: tuple[Section, ...]
    signup: Source | None = None  # the sign-up it is for; None: the roster's provider


@dataclass(frozen=True)
class Links:
    """A recipient's own pages (CALFEED_SIGNUP): manage what they get, and leave in one click."""

    manage: str
    unsubscribe: str  # RFC 8058's one-click address: a POST there unsubscribes


def was(item: Item) -> str:
    """The date an item's event had before it moved, worded as the event's date is."""
    assert item.was is not None
    start, precision = parse_key(item.was)
    return wording.when(replace(item.event, start=start, precision=precision))


def _left(item: Item) -> str:
    """How long to go: "due in 7 days", "due tomorrow", "due today"; for a step known
    only to its month, counted to the month's first day: "due during December 2026,
    which starts in 7 days"."""
    start = item.event.start
    assert start is not None
    if item.event.precision == "month":
        month = wording.month_year(start)
        if item.days_left <= 0:
            return f"due during {month}, which has begun"
        return f"due during {month}, which starts " + wording.days_left(item.days_left, "day",
                                                                        start)
    return "due " + wording.days_left(item.days_left, item.event.precision, start)


def _upper_first(text: str) -> str:
    """A sentence's first letter in capitals, the rest as written (not str.capitalize(),
    which would write "april")."""
    return text[:1].upper() + text[1:]


def replaces(item: Item) -> str | None:
    """What a publication says of the estimate the recipient knew: ", replacing calfeed's
    estimate of …" or ", as calfeed estimated"; None for a date that is simply new."""
    if item.notice != "published" or item.was_status != wording.ESTIMATED:
        return None
    if item.was == item.start:
        return "as calfeed estimated"
    return f"replacing calfeed's estimate of {was(item)}"


def headline(item: Item) -> str:
    """What an item says before its steps: the reason, the date, the time left."""
    month = item.event.precision == "month"
    # A month's notice says the month once: "Published by ACCME: December 2026 (no exact day …)".
    left = "" if month and item.notice else _left(item)
    if item.notice == "moved":
        return f"Date moved to {wording.when(item.event)} (was {was(item)})" + (
            f", {left}" if left else "")
    if item.notice == "published":
        # Who published it, and what it replaces: never "moved", since calfeed's
        # estimate was never a date ACCME gave.
        return (f"{wording.confirmed_by(item.event)}: {wording.when(item.event)}"
                + "".join(f", {part}" for part in (replaces(item), left) if part))
    if month:
        return f"{_upper_first(left)} (no exact day published)"
    return f"{_upper_first(left)}: {wording.when(item.event)}"


def subject(message: Message) -> str:
    """The subject: the first step (or its track, when several steps share its date) and the date.

    It names the provider when the message covers several (a consultant's address on
    many rows) or comes from a group's sign-up, and says "estimated" when the first date
    is one.
    """
    first = message.items[0]
    # A publication is one piece of news however many dates it gives (a cohort's table).
    published = first.notice == "published"

    def news(item: Item) -> tuple[object, ...]:
        """What items told together share: a publication's schedule, else one date's."""
        if published:
            return (item.event.track, item.event.cycle, item.notice, item.provider,
                    item.was_status)
        return item.start, item.event.track, item.notice, item.provider

    together = [i for i in message.items if news(i) == news(first)]
    what = (f"{first.event.track_name} ({len(together)} steps)" if len(together) > 1
            else wording.title(first.event, estimated=False))
    # A group's subscriber is told whose step it is even when one provider speaks.
    if len({i.key for i in message.items}) > 1 or (first.source and first.source.calendar):
        what = f"{first.provider.name}: {what}"
    estimated = f" ({wording.ESTIMATED})" if first.event.status == "estimated" else ""
    date = wording.when(first.event) + estimated
    if first.notice == "moved":
        text = f"Date moved: {what} — now {date}"
    elif published:
        by = wording.confirmed_by(first.event)
        if len(together) > 1:
            text = f"{by}: {what}" + (", replacing calfeed's estimates"
                                      if first.was_status == wording.ESTIMATED else "")
        else:
            text = f"{by}: {what} — {date}" + (f", {replaces(first)}" if replaces(first) else "")
    elif first.event.precision == "month":  # the month is said in how long is left
        text = f"{_upper_first(_left(first))}: {what}{estimated}"
    else:
        text = f"{_upper_first(_left(first))}: {what} — {date}"
    more = len(message.items) - len(together)
    return text + (f" (and {wording.count(more, 'more step')})" if more else "")


def providers(message: Message, pages: Mapping[str, str]) -> tuple[Provider, ...]:
    """The message's view: per provider, sections of steps that share a headline."""
    found: dict[str, dict[str, list[Item]]] = {}
    names: dict[str, str] = {}
    signups: dict[str, Source | None] = {}
    for item in message.items:
        names[item.key] = item.provider.name
        signups[item.key] = item.source
        found.setdefault(item.key, {}).setdefault(headline(item), []).append(item)
    result = []
    for ident, sections in found.items():
        parts = []
        for text, items in sections.items():
            links = tuple(dict.fromkeys(link for i in items for link in i.event.links))
            steps = tuple(Step(wording.title(i.event), tuple(i.event.description.split("\n\n")),
                               None if i.event.actor == "provider"
                               else wording.actor_label(i.event.actor), _moved(i))
                          for i in items)
            parts.append(Section(text, steps, links,
                                 any(i.event.status == "estimated" for i in items)))
        result.append(Provider(names[ident], pages[ident], tuple(parts), signups[ident]))
    return tuple(result)


def _and(words: list[str]) -> str:
    """"30, 7 and 1"."""
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]])) if words else ""


def _moved(item: Item) -> str | None:
    """What the rules say of a moved date's latest move ("Moved: was …; announced …. Why.")."""
    if item.notice != "moved" or not item.event.changes:
        return None
    return wording.change_words(item.event.changes[-1], item.event.start, item.event.precision)


@lru_cache(maxsize=1)
def _templates() -> Environment:
    """Jinja for the email templates: HTML autoescaped, text as written."""
    return Environment(loader=FileSystemLoader(str(bundled("templates"))),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def unsubscribe(operator: str, links: Links | None = None) -> str:
    """The List-Unsubscribe value (RFC 2369): the one-click address if any, and a mailto to
    the operator.

    It names no provider: a roster id is never shown outside the operator's files, and
    the operator finds the sender's address in the roster.
    """
    mailto = f"<mailto:{operator}?subject=unsubscribe>"
    return f"<{links.unsubscribe}>, {mailto}" if links else mailto


def asked(lead_days: tuple[int, ...], notices: bool) -> str:
    """What a sign-up asked for, in words: "a reminder 30, 7 and 1 days before each step you
    act on, and a notice when a date moves or is published"."""
    parts = []
    if lead_days:
        parts.append(f"a reminder {_and([str(d) for d in lead_days])} "
                     f"day{'s' if lead_days != (1,) else ''} before each step you act on")
    if notices:
        parts.append("a notice when a date moves or is published")
    return ", and ".join(parts) or "nothing"


def attachment_name(event: Event, provider: str | None) -> str:
    """An attached step's file name: the page's "add this one" name, after its provider's name
    when the message has several providers (never its roster id)."""
    name = f"{event.track}-{event.cycle}-{event.milestone}.ics"
    if provider is None:
        return name
    words = re.findall(r"[a-z0-9]+", unicodedata.normalize(
        "NFKD", provider).encode("ascii", "ignore").decode("ascii").lower())
    slug = ""
    for word in words:  # whole words, up to about 40 characters: a name, not a sentence
        if slug and len(slug) + 1 + len(word) > ATTACHMENT_NAME_CHARS:
            break
        slug = f"{slug}-{word}" if slug else word[:ATTACHMENT_NAME_CHARS]
    return f"{slug or 'provider'}-{name}"


def compose(message: Message, rules: Rules, sender: str, pages: Mapping[str, str],
            links: Links | None = None) -> EmailMessage:
    """The email for one planned message; `pages` maps each provider id (and sign-up calendar,
    Item.key) to its page URL; `links`, the recipient's manage and one-click pages."""
    name, operator = parseaddr(sender)
    view = providers(message, pages)
    roster = [p for p in view if p.signup is None]
    context = {
        "subject": subject(message),
        "providers": view,
        "operator": operator,
        "operator_name": name or operator,
        "lead_days": _and([str(days) for days in rules.lead_days]),
        "estimated_note": wording.ESTIMATED_PAGE_NOTE,
        "contacts_for": _and([p.name for p in roster]),
        # A group's sign-up once, by the group's name, however many of its providers speak.
        "signups": list(dict.fromkeys((p.signup.calendar or p.name,
                                       asked(p.signup.lead_days, p.signup.notices))
                                      for p in view if p.signup is not None)),
        "links": links,
        "not_accme": NOT_ACCME,
    }
    email = EmailMessage(policy=COMPOSING)
    email["Subject"] = context["subject"]
    email["From"] = sender
    email["To"] = Address(addr_spec=message.recipient)
    email["List-Unsubscribe"] = unsubscribe(operator, links)
    if links:
        # RFC 8058: a mail app's Unsubscribe button POSTs "List-Unsubscribe=One-Click" to
        # the https address, with no page to read and no login.
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # RFC 3834: out-of-office replies and other robots leave it alone.
    email["Auto-Submitted"] = "auto-generated"
    templates = _templates()
    email.set_content(templates.get_template("email/reminder.txt").render(context))
    email.add_alternative(templates.get_template("email/reminder.html").render(context),
                          subtype="html")
    several = len(view) > 1
    for item in dict((i.event.uid, i) for i in message.items).values():
        event = item.event
        calendar = engine.calendar(rules, item.provider, pages[item.key])
        # The charset, or a mail app reads the UTF-8 of a name like "é" as Latin-1.
        email.add_attachment(ical.render([event], calendar), maintype="text",
                             subtype="calendar", params={"method": "PUBLISH", "charset": "utf-8"},
                             filename=attachment_name(event, item.provider.name if several
                                                      else None))
    email.policy = SENDING
    return email
