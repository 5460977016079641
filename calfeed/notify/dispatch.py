"""One run of `calfeed notify`: plan under the send log's lock, then claim, send and confirm each message.

Every line it reports names recipients by their places in the roster
("demo-annual#2, demo-state#1"), never by address.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

from calfeed.notify import mail, plan as notify, sendlog, signups, smtp, subscriptions
from calfeed.core import wording
from calfeed.core.model import Lead, Rules
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
    sent: list[Message] = field(default_factory=list)
    failed: list[tuple[Message, str]] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)


def _utc_now() -> datetime:
    """The clock, for the log's times and the Date header."""
    return datetime.now(timezone.utc)


def run(state: str | Path, rules: Rules, today: date, sender: str, pages: dict[str, str],
        mailer: Sender, say: Callable[[str, bool], None],
        clock: Callable[[], datetime] = _utc_now, run_id: str = "",
        time_limit: float = RUN_SECONDS, signup: Signup | None = None) -> Outcome:
    """Send today's messages; `say(line, is_problem)` reports one line per message.

    Sending stops `time_limit` seconds after the run took the lock: the messages left
    fail as "not tried", and the next run sends them.
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
        outcome.planned = len(plan.messages)
        log.learn(plan.quiet)
        domain = parseaddr(sender)[1].rpartition("@")[2] or None
        server_down: str | None = None
        for message in plan.messages:
            subject = mail.subject(message)
            if server_down is not None:
                reason = f"not tried: {server_down}"
                outcome.failed.append((message, reason))
                say(f"not sent to {message.label}: {subject}: {reason}", True)
                continue
            try:
                links = None if signup is None else signups.links(
                    signup.secret, signup.site,
                    subscriptions.person_for(log.db, message.recipient, clock().timestamp()))
                email = mail.compose(message, rules, sender, pages, links)
            except Exception as err:  # one message that cannot be written never stops the rest
                reason = f"cannot be composed: {type(err).__name__}: {smtp.scrub(str(err))}"
                outcome.failed.append((message, reason))
                say(f"not sent to {message.label}: {subject}: {reason}", True)
                continue
            now = clock()
            email["Date"] = format_datetime(now)
            email["Message-ID"] = make_msgid("calfeed", domain=domain)
            log.claim(message, now)
            try:
                mailer.send(email)
            except MailError as err:
                log.release(message)
                outcome.failed.append((message, str(err)))
                say(f"not sent to {message.label}: {subject}: {err}", True)
                if err.server_down:
                    server_down = str(err)
                continue
            log.confirm(message, clock())
            outcome.sent.append(message)
            say(f"sent to {message.label}: {subject}", False)
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
        say(f"not planned for {label}: its calendar is no longer in the rules or roster", False)
    stopped = sorted(notify.label(places) for address, places in notify.recipients(rules).items()
                     if address.lower() in found.stopped)
    if stopped:
        say(f"not planned for {', '.join(stopped)}: the address's owner stopped these emails "
            f"(remove it from the roster)", False)
    return found


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
    lines.append(f"{today.isoformat()}: {wording.count(len(plan.messages), 'message')} "
                 f"would be sent")
    return lines
