"""Compose a group's weekly digest: plain text and HTML, the group's page, no attachments.

Pure, as mail.py: the same digest gives the same headers and parts (Date and Message-ID
are the sender's). One message holds every provider of the group, so nothing is said
per provider that is the same for all: a step is listed once per moment with the
providers it is due for, and ACCME's text of a step is given once in the whole message,
never again for another provider, data year or accreditor. No step's .ics is attached
(a consultant's twelve clients made 36): the group's calendar holds them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parseaddr

from calfeed.core import wording
from calfeed.core.groups import Shared, traits
from calfeed.core.model import Profile, Rules
from calfeed.notify.digest import Digest, News
from calfeed.notify.mail import COMPOSING, NOT_ACCME, SENDING, _templates, unsubscribe
from calfeed.notify.plan import due_day, parse_key

# A step's providers are named in full up to this many; beyond, a few and the count.
NAMED = 12
NAMED_BEYOND = 3


@dataclass(frozen=True)
class Step:
    """One step in the digest: its title, who acts when not the provider, ACCME's words once."""

    title: str
    actor: str | None
    text: str | None  # the first time the message meets these words; None after
    estimated: bool


@dataclass(frozen=True)
class Block:
    """Steps at one moment due for the same providers."""

    providers: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Moment:
    """Everything due at one moment: when, how long to go, for whom."""

    headline: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Change:
    """One moved or published date: what it is now (and was), the step, the providers."""

    headline: str
    title: str
    providers: str
    why: str | None  # for a move, its history's last entry: when and why


@dataclass(frozen=True)
class Audience:
    """A group's providers, and its accreditors' names: to say whom a step is for."""

    members: tuple[Profile, ...]
    accreditors: dict[str, str]


def providers(names: Sequence[Profile], audience: Audience) -> str:
    """Whom a step is for, in a sentence: "For all 4 providers", "For A and B", by what they
    share ("For the 150 providers accredited by the …"), or a count."""
    everyone = len(audience.members)
    if len(names) == everyone and everyone > 1:
        return f"For all {everyone:,} providers"
    words = [p.name for p in names]
    if len(words) <= NAMED:
        return "For " + wording.and_list(words)
    facts = traits(names, audience.members)
    if facts:
        return "For " + wording.providers_with(facts, len(names), audience.accreditors)
    return (f"For {len(words):,} providers: " + ", ".join(words[:NAMED_BEYOND])
            + f" and {len(words) - NAMED_BEYOND:,} more (the group's page lists them)")


def _left(shared: Shared, today_days: int) -> str:
    """How far off a moment is, in words."""
    event = shared.event
    start = event.start
    assert start is not None
    if event.precision == "month":
        return "this month" if today_days <= 0 else f"starts in {today_days} days"
    return wording.days_left(today_days, event.precision, due_day(event))


def moments(digest: Digest, shown: set[str], audience: Audience) -> tuple[Moment, ...]:
    """The steps due, a moment at a time, by the providers they are for; ACCME's words once."""
    runs: list[list[Shared]] = []
    for item in digest.due:
        last = runs[-1][0].event if runs else None
        if last is not None and (last.start, last.precision) == (item.event.start,
                                                                  item.event.precision):
            runs[-1].append(item)
        else:
            runs.append([item])
    found = []
    for run in runs:
        first = run[0]
        days = (due_day(first.event) - digest.today).days
        headline = f"{wording.when(first.step)} ({_left(first, days)})"
        blocks: dict[tuple[str, ...], list[Shared]] = {}
        for item in run:
            blocks.setdefault(tuple(p.id for p in item.providers), []).append(item)
        found.append(Moment(headline, tuple(
            Block(providers(items[0].providers, audience),
                  tuple(_step(i, shown) for i in items)) for items in blocks.values())))
    return tuple(found)


def _step(item: Shared, shown: set[str]) -> Step:
    """A step of the digest, with ACCME's words if the message has not given them yet."""
    step = item.step
    words = step.description.split("\n\n", 1)[0].strip()
    text = None
    if words and words not in shown and words != step.bare_title:
        shown.add(words)
        text = words
    return Step(wording.title(step), None if step.actor == "provider"
                else wording.actor_label(step.actor), text, step.status == "estimated")


def change(news: News, audience: Audience) -> Change:
    """One moved or published date, as the digest says it."""
    step = news.shared.step
    now = wording.when(step)
    if news.notice == "moved" and news.was is not None:
        start, precision = parse_key(news.was)
        was = wording.when(replace(step, start=start, precision=precision))
        headline = f"Date moved to {now} (was {was})"
    else:
        headline = f"Date published: {now}"
    why = None
    if news.notice == "moved" and step.changes:
        why = wording.change_words(step.changes[-1], step.start, step.precision)
    return Change(headline, wording.title(step), providers(news.providers, audience), why)


def audience_of(digest: Digest, rules: Rules) -> Audience:
    """The digest's group's providers and the accreditors' names."""
    return Audience(tuple(rules.providers[i] for i in digest.group.members),
                    {a.id: a.name for a in rules.accreditors.values()})


def _lower_first(text: str) -> str:
    """A sentence's first letter in lower case, to go inside another: "for all 4 providers"."""
    return text[:1].lower() + text[1:]


def subject(digest: Digest) -> str:
    """The subject: the group, how many steps are due by when, and the news."""
    steps = len(digest.due)
    due = (f"{wording.count(steps, 'step')} due by {wording.long_date(digest.until)}" if steps
           else f"nothing due by {wording.long_date(digest.until)}")
    news = len(digest.news)
    more = f"; {wording.count(news, 'date')} moved or published" if news else ""
    return f"Weekly digest, {digest.group.name}: {due}{more}"


def compose(digest: Digest, rules: Rules, sender: str, page: str) -> EmailMessage:
    """The email for one digest; `page` is the group's private page."""
    name, operator = parseaddr(sender)
    shown: set[str] = set()
    everyone = len(digest.group.members)
    audience = audience_of(digest, rules)
    following = digest.following
    found = moments(digest, shown, audience)
    context = {
        "subject": subject(digest),
        "group": digest.group.name,
        "members": wording.count(everyone, "provider"),
        "weeks": wording.count(rules.digest_weeks, "week"),
        "until": wording.long_date(digest.until),
        "weekday": rules.digest_day.capitalize(),
        "changes": tuple(change(n, audience) for n in digest.news),
        "moments": found,
        "estimated": any(step.estimated for m in found for b in m.blocks for step in b.steps),
        "following": None if following is None else (
            f"{wording.when(following.step)}: {wording.title(following.step)}, "
            f"{_lower_first(providers(following.providers, audience))}"),
        "page": page,
        "operator": operator,
        "operator_name": name or operator,
        "estimated_note": wording.ESTIMATED_PAGE_NOTE,
        "not_accme": NOT_ACCME,
    }
    email = EmailMessage(policy=COMPOSING)
    email["Subject"] = context["subject"]
    email["From"] = sender
    email["To"] = Address(addr_spec=digest.recipient)
    email["List-Unsubscribe"] = unsubscribe(operator)
    email["Auto-Submitted"] = "auto-generated"
    templates = _templates()
    email.set_content(templates.get_template("email/digest.txt").render(context))
    email.add_alternative(templates.get_template("email/digest.html").render(context),
                          subtype="html")
    email.policy = SENDING
    return email
