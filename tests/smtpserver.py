"""A real SMTP server for the tests of anything that sends mail: aiosmtpd on loopback."""

from __future__ import annotations

import asyncio
import email
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from email import policy
from email.message import EmailMessage
from pathlib import Path

from ical.calendar_stream import IcsCalendarStream


def free_port() -> int:
    """A loopback port nobody listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts.

    `refuse_from`: answer 421 (closing) from that message on, as a server going down.
    `hold_at`: on that message, signal `held` and wait for `release`, then answer 451,
    so a test can kill the sender while the message is in flight and not accepted.
    `delay`: seconds to think before accepting each message.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[tuple[str, ...], EmailMessage]] = []
        self.raw: list[bytes] = []  # every accepted message as it came over the wire
        self.count = 0
        self.refuse_from: int | None = None
        self.refuse_once: int | None = None  # answer 421 to that message only
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.delay = 0.0
        self.refuse_rcpt: set[str] = set()  # addresses answered 550 at RCPT, every time
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse_rcpt:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.count += 1
            number = self.count
        if number == self.refuse_once or (self.refuse_from is not None
                                          and number >= self.refuse_from):
            return "421 4.3.2 Service shutting down for <everyone@example.org>"
        if number == self.hold_at:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=policy.default)
        with self.lock:
            self.messages.append((tuple(envelope.rcpt_tos), message))
            self.raw.append(envelope.original_content)
        return "250 2.0.0 OK"

    def take(self) -> list[tuple[tuple[str, ...], EmailMessage]]:
        """The messages received since the last take."""
        with self.lock:
            taken, self.messages = self.messages, []
        return taken


class Trickle:
    """A server that greets with "220-still here" every `every` seconds and never finishes.

    smtplib's timeout is per read, so each line resets it: only a limit on the whole
    conversation ends a wait on this server.
    """

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Its smtp:// URL."""
        return f"smtp://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._greet, args=(conn,), daemon=True).start()

    def _greet(self, conn: socket.socket) -> None:
        with conn:
            while not self.stopped.is_set():
                try:
                    conn.sendall(b"220-still here\r\n")
                except OSError:
                    return
                self.stopped.wait(self.every)

    def stop(self) -> None:
        """Stop accepting and greeting."""
        self.stopped.set()
        self.thread.join()
        self.listener.close()


# --- running `calfeed notify` against it ---------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-secret-key-0123456789abcdef"
SENDER = "calfeed reminders <deadlines@example.org>"
HEALTH = "cme-office@demo-health.example.org"
SHARED = "accreditation@shared-cme.example.com"
DEMO_ADDRESSES = (HEALTH, SHARED, "education@demo-society.example.org",
                  "coordinator@demo-society.example.org", "cme@demo-institute.example.org")


def env(tmp_path: Path, url: str, today: str, **extra: str) -> dict[str, str]:
    """The environment of a production run, pinned to a day."""
    return {**os.environ, "CALFEED_SMTP_URL": url, "CALFEED_MAIL_FROM": SENDER,
            "CALFEED_STATE": str(tmp_path / "state" / "calfeed.sqlite3"),
            "CALFEED_BASE_URL": "https://deadlines.example.org",
            "CALFEED_SECRET_KEY": SECRET, "CALFEED_TODAY": today, **extra}


# The installed command, as cron and the systemd unit run it.
CALFEED = str(Path(sys.executable).parent / "calfeed")


def calfeed(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `calfeed ARGS` as a process."""
    return subprocess.run([CALFEED, *args], env=environ, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def start(*args: str, environ: dict[str, str]) -> subprocess.Popen:
    """Start `calfeed ARGS` as a process."""
    return subprocess.Popen([CALFEED, *args], env=environ, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def uids(message: EmailMessage) -> list[str]:
    """The UIDs of the events attached to a message, parsed back with `ical`."""
    found = []
    for part in message.iter_attachments():
        assert part.get_content_type() == "text/calendar"
        calendar = IcsCalendarStream.calendar_from_ics(part.get_content())
        found += [event.uid for event in calendar.events]
    return found


def received(inbox: Inbox) -> Counter:
    """(recipient, event UID) pairs of the messages received since the last look."""
    return Counter((to, uid) for tos, message in inbox.take() for to in tos
                   for uid in uids(message))
