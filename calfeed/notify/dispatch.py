"""One run of `calfeed notify`: plan under the send log's lock, then claim, send and confirm each message.

Every line it reports names recipients by their places in the roster
("demo-annual#2, demo-state#1"), never by address.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from functools import partial
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol, TypeVar

from calfeed.notify import (digest, digest_mail, mail, plan as notify, sendlog, signups, smtp,
                            subscriptions)
from calfeed.core import wording
from calfeed.core.model import Lead, Rules
from calfeed.notify.digest import Digest
from calfeed.notify.plan import Message
from calfeed.notify.smtp import MailError


# A run sends for at most this long once it holds the lock; what is left is sent by the
# next run. A real run of 2,000 providers takes about two minutes (README, "Email reminders").
RUN_SECONDS = 1800.0


class Sender(Protocol):
    """What sends a message: smtp.Mailer, or anything that raises MailError when it cannot.

    `until`: the time.monotonic() instant no conversation may go past (the run's limit).
    """

    until: float | None

    def send(self, message: EmailMessage) -> None:
        """Hand one message over, or raise MailError."""


@dataclass(frozen=True)
class Signup:
    """CALFEED_SIGNUP's part of a run: sign-ups are planned, and every message carries the
    recipient's manage and one-click links, signed with the server's key, on its site."""

    secret: bytes = field(repr=False)
    site: str


@dataclass
class Outcome:
    """What a run did: messages sent, messages that failed (with why), claims a dead run left."""

    planned: int = 0
    sent: list[Message | Digest] = field(default_factory=list)
    failed: list[tuple[Message | Digest, str]] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)


def _utc_now() -> datetime:
    """The clock, for the log's times and the Date header."""
    return datetime.now(timezone.utc)


def run(state: str | Path, rules: Rules, today: date, sender: str, pages: dict[str, str],
        mailer: Sender, say: Callable[[str, bool], None],
        clock: Callable[[], datetime] = _utc_now, run_id: str = "",
        time_limit: float = RUN_SECONDS, group_pages: Mapping[str, str] | None = None,
        signup: Signup | None = None) -> Outcome:
    """Send today's messages, then the groups' digests due; `say(line, is_problem)` reports
    one line per message.

    Sending stops `time_limit` seconds after the run took the lock: the messages left
    fail as "not tried", and the next run sends them. `group_pages` maps each group's id
    to its private page, which its digest links to.
    """
    outcome = Outcome()

    def waiting(seconds: float) -> None:
        say(f"{state}: another calfeed notify run holds the lock; waiting up to "
            f"{wording.lead(Lead(exact=timedelta(seconds=seconds)))} for it to finish", False)

    run_id = run_id or f"{clock().isoformat()} pid {os.getpid()}"
    with sendlog.SendLog(state, run_id, on_wait=waiting) as log:
        mailer.until = time.monotonic() + time_limit
        outcome.abandoned = log.abandoned()
        for label in outcome.abandoned:
            say(f"a run stopped while sending to {label}: sending again "
                f"(it may arrive twice)", True)
        contents = log.contents()
        audience = _audience(log.db, state, rules, today, signup, say)
        plan = notify.plan(rules, today, contents.told, contents.reminded, audience.signups,
                           audience.stopped)
        pages = {**pages, **audience.pages}
        digests, first_met = digest.plan(rules, today, contents.told, contents.digested)
        outcome.planned = len(plan.messages) + len(digests)
        log.learn(plan.quiet + first_met)
        domain = parseaddr(sender)[1].rpartition("@")[2] or None
        server_down: str | None = None
        for message in plan.messages:
            compose = partial(_reminder, message, rules, sender, pages, log, signup, clock)
            server_down = _deliver(message, mail.subject(message), compose, log.confirm, log,
                                   mailer, outcome, say, clock, domain, server_down)
        for letter in digests:
            compose = partial(digest_mail.compose, letter, rules, sender,
                              (group_pages or {}).get(letter.group.id, ""))
            server_down = _deliver(letter, digest_mail.subject(letter), compose,
                                   log.confirm_digest, log, mailer, outcome, say, clock, domain,
                                   server_down)
        if signup is not None:
            subscriptions.tidy(log.db, {a.lower() for a in notify.recipients(rules)},
                               clock().timestamp())
    return outcome


def _audience(db: sqlite3.Connection, state: str | Path, rules: Rules, today: date,
              signup: Signup | None, say: Callable[[str, bool], None]) -> signups.Audience:
    """The sign-ups to plan (none without CALFEED_SIGNUP), and a line on what is left out."""
    if signup is None:
        return signups.Audience((), {}, frozenset())
    subscriptions.migrate(db, state)
    found = signups.audience(db, rules, today, signup.secret, signup.site)
    for label in found.gone:
        say(f"not planned for {label}: its calendar is no longer in the rules, roster or "
            f"groups file", False)
    stopped = sorted(notify.label(places) for address, places in notify.recipients(rules).items()
                     if address.lower() in found.stopped)
    if stopped:
        say(f"not planned for {', '.join(stopped)}: the address's owner stopped these emails "
            f"(remove it from the roster)", False)
    return found


def _reminder(message: Message, rules: Rules, sender: str, pages: dict[str, str],
              log: sendlog.SendLog, signup: Signup | None,
              clock: Callable[[], datetime]) -> EmailMessage:
    """One recipient's reminders and notices, with their manage links when sign-up is on."""
    links = None if signup is None else signups.links(
        signup.secret, signup.site,
        subscriptions.person_for(log.db, message.recipient, clock().timestamp()))
    return mail.compose(message, rules, sender, pages, links)


Letter = TypeVar("Letter", Message, Digest)


def _deliver(letter: Letter, subject: str, compose: Callable[[], EmailMessage],
             confirm: Callable[[Letter, datetime], None], log: sendlog.SendLog, mailer: Sender,
             outcome: Outcome, say: Callable[[str, bool], None], clock: Callable[[], datetime],
             domain: str | None, server_down: str | None) -> str | None:
    """Compose, claim, send and confirm one message (reminders or a digest); returns why the
    server is down (the messages after it are not tried: "not tried"), or None."""
    if server_down is not None:
        reason = f"not tried: {server_down}"
        outcome.failed.append((letter, reason))
        say(f"not sent to {letter.label}: {subject}: {reason}", True)
        return server_down
    try:
        email = compose()
    except Exception as err:  # one message that cannot be written never stops the rest
        reason = f"cannot be composed: {type(err).__name__}: {smtp.scrub(str(err))}"
        outcome.failed.append((letter, reason))
        say(f"not sent to {letter.label}: {subject}: {reason}", True)
        return None
    now = clock()
    email["Date"] = format_datetime(now)
    email["Message-ID"] = make_msgid("calfeed", domain=domain)
    log.claim(letter, now)
    try:
        mailer.send(email)
    except MailError as err:
        log.release(letter)
        outcome.failed.append((letter, str(err)))
        say(f"not sent to {letter.label}: {subject}: {err}", True)
        return str(err) if err.server_down else None
    confirm(letter, clock())
    outcome.sent.append(letter)
    say(f"sent to {letter.label}: {subject}", False)
    return None


def preview(state: str | Path, rules: Rules, today: date,
            signup: Signup | None = None) -> list[str]:
    """What a run would send today, one line per message and one per item; writes nothing."""
    contents = sendlog.read(state)
    audience = signups.Audience((), {}, frozenset())
    if signup is not None:
        db = subscriptions.read_only(state)
        if db is not None:
            try:
                audience = signups.audience(db, rules, today, signup.secret, signup.site)
            finally:
                db.close()
    plan = notify.plan(rules, today, contents.told, contents.reminded, audience.signups,
                       audience.stopped)
    lines = []
    for message in plan.messages:
        lines.append(f"would send to {message.label}: {mail.subject(message)}")
        for item in message.items:
            what = (f"{item.lead}-day reminder" if item.lead is not None and item.notice is None
                    else f"{item.notice} notice")
            lines.append(f"  {item.key}: {what}: {wording.title(item.event)} "
                         f"({mail.headline(item)})")
    digests, _ = digest.plan(rules, today, contents.told, contents.digested)
    for letter in digests:
        members = digest_mail.audience_of(letter, rules)
        lines.append(f"would send to {letter.label}: {digest_mail.subject(letter)}")
        for news in letter.news:
            lines.append(f"  {news.notice} notice: {wording.title(news.shared.step)} "
                         f"({digest_mail.change(news, members).headline})")
    lines.append(f"{today.isoformat()}: "
                 f"{wording.count(len(plan.messages) + len(digests), 'message')} would be sent")
    return lines
