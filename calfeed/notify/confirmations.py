"""Confirmation messages of email sign-ups: composed here, sent by a sender thread in the server.

A sign-up's page never waits on the mail server: the request is a row in SQLite
(subscriptions.requests), and a `Sender` thread in each server process drains that
queue. Senders in several gunicorn workers share it safely: a sender leases one request
at a time in a `BEGIN IMMEDIATE` transaction, sends it within smtp.py's deadlines, and
marks it sent; a message the server does not take is tried again later, each wait twice
the last (30 seconds to 30 minutes), until the request expires. A sender that dies
holding a lease leaves the request to the others once the lease ends (at least once:
the message could arrive twice if a process died between the server's "250" and the
commit). This is a queue worker, not a scheduler: the daily reminders stay with cron or
the systemd timer (`calfeed notify`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from calfeed import bundled
from calfeed.notify import mail, smtp, subscriptions
from calfeed.notify.subscriptions import Request

log = logging.getLogger("calfeed")

POLL_SECONDS = 10.0  # how often a sender looks for work queued by another process
RETRY_FIRST = 30.0
RETRY_MOST = 1800.0
# A lease outlasts the longest conversation smtp.Mailer allows, so two senders never
# hold one request at once.
LEASE_SECONDS = smtp.MESSAGE_SECONDS + 60
TIDY_SECONDS = 60.0  # how often expired requests and old limits are deleted


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation message says: the calendar, its page, the choice and the link."""

    calendar: str  # its name, as its page says it
    page: str  # its page URL
    choice: str  # in words: "a reminder 30, 7 and 1 days before each step you act on, …"
    confirm: str  # the confirmation link


# What the server knows of a request's calendar today: None if it no longer exists.
Describe = Callable[[Request], Confirmation | None]


@lru_cache(maxsize=1)
def _templates() -> Environment:
    """Jinja for the email templates: HTML autoescaped, text as written."""
    return Environment(loader=FileSystemLoader(str(bundled("templates"))),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def subject(view: Confirmation) -> str:
    """The confirmation's subject."""
    return f"Confirm your email reminders: {view.calendar}"


def compose(address: str, sender: str, view: Confirmation, site: str) -> EmailMessage:
    """The confirmation message to one address."""
    context = {"view": view, "subject": subject(view), "site": site,
               "hours": subscriptions.REQUEST_SECONDS // 3600, "not_accme": mail.NOT_ACCME,
               "operator": parseaddr(sender)[1]}
    email = EmailMessage(policy=mail.COMPOSING)
    email["Subject"] = context["subject"]
    email["From"] = sender
    email["To"] = Address(addr_spec=address)
    email["Auto-Submitted"] = "auto-generated"
    templates = _templates()
    email.set_content(templates.get_template("email/confirm.txt").render(context))
    email.add_alternative(templates.get_template("email/confirm.html").render(context),
                          subtype="html")
    email.policy = mail.SENDING
    return email


def backoff(attempts: int, first: float = RETRY_FIRST) -> float:
    """Seconds to wait after the n-th failed attempt: 30, 60, 120, … up to 30 minutes."""
    return min(first * 2 ** max(attempts - 1, 0), RETRY_MOST)


class Sender:
    """Drains the confirmation queue of one state file: in a thread (start), or once (drain)."""

    def __init__(self, path: str | Path, server: smtp.Server, sender: str, site: str,
                 describe: Describe, clock: Callable[[], float] = time.time,
                 poll: float = POLL_SECONDS, retry_first: float = RETRY_FIRST) -> None:
        self.path = Path(path)
        self.server = server
        self.sender = sender
        self.site = site
        self.describe = describe
        self.clock = clock
        self.poll = poll
        self.retry_first = retry_first
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one drain at a time in this process
        self._tidied = float("-inf")
        self.next_due: float | None = None  # when the queue next has work, after a drain

    def start(self) -> None:
        """Run in a daemon thread (once), draining now and whenever woken or polled."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="calfeed-confirmations",
                                                daemon=True)
                self._thread.start()

    @property
    def running(self) -> bool:
        """Whether its thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """A request was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after the message it is sending, if any."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        """The thread: drain, then wait for a wake-up, a due retry or the poll."""
        while not self._stop.is_set():
            wait = self.poll
            try:
                self.drain()
                if self.next_due is not None:
                    wait = min(wait, max(self.next_due - self.clock(), 0.05))
            except Exception:  # a sender that dies sends nothing more: log, wait, go on
                log.exception("confirmation sender: draining %s failed", self.path)
            self._wake.wait(wait)
            self._wake.clear()

    def drain(self) -> int:
        """Send every confirmation due now; how many the server took."""
        with self._lock:
            db = subscriptions.connect(self.path)
            try:
                sent = self._drain(db)
                self.next_due = subscriptions.next_due(db, self.clock())
                return sent
            finally:
                db.close()

    def _drain(self, db: sqlite3.Connection) -> int:
        """Lease, send and mark each due request until none is left or the server is down."""
        now = self.clock()
        if now - self._tidied >= TIDY_SECONDS:
            self._tidied = now
            gone = subscriptions.expire(db, now)
            if gone:
                log.info("sign-up: %d unconfirmed request(s) expired and were deleted", gone)
        sent = 0
        with smtp.Mailer(self.server) as mailer:
            while not self._stop.is_set():
                now = self.clock()
                request = subscriptions.claim(db, now, LEASE_SECONDS)
                if request is None:
                    break
                name = f"confirmation {request.id[:6]}"
                try:
                    view = self.describe(request)
                    email = None if view is None else compose(request.address, self.sender,
                                                              view, self.site)
                except Exception as err:  # one that cannot be written never stops the rest
                    reason = f"cannot be composed: {type(err).__name__}: {smtp.scrub(str(err))}"
                    self._failed(db, request, now, name, reason)
                    continue
                if email is None:
                    log.info("%s: its calendar no longer exists: deleted", name)
                    subscriptions.drop(db, request.id)
                    continue
                email["Date"] = format_datetime(datetime.now(timezone.utc))
                email["Message-ID"] = make_msgid(
                    "calfeed", domain=parseaddr(self.sender)[1].rpartition("@")[2] or None)
                try:
                    mailer.send(email)
                except smtp.MailError as err:
                    self._failed(db, request, now, name, str(err))
                    if err.server_down:
                        break  # the next ones would fail alike: wait for the next try
                    continue
                subscriptions.mark_sent(db, request.id)
                sent += 1
                log.info("%s: sent (attempt %d)", name, request.attempts)
        return sent

    def _failed(self, db: sqlite3.Connection, request: Request, now: float, name: str,
                reason: str) -> None:
        """Put a request back for a later try, and say so in one line (no address)."""
        wait = backoff(request.attempts, self.retry_first)
        subscriptions.retry(db, request.id, now + wait, reason)
        log.warning("%s: not sent (attempt %d): %s; trying again in %d s", name,
                    request.attempts, reason, wait)
