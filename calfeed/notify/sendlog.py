"""The send log: a SQLite file that says what each recipient was sent, so nothing goes twice.

One run at a time holds an exclusive lock on `<state>.lock` (flock: the kernel drops it
when the process dies, even on kill -9). Under it a run claims a message (a `claims`
row, committed), sends it, and confirms it: its `sent` rows, the dates its recipient
now knows (`told`) and the claim's removal are one transaction. A claim still there
when the next run starts belongs to a run that died between the claim and the
confirmation: the message is planned again and sent again (at least once; see the
README, "Email reminders"). A group's weekly digest goes the same way, confirmed by its
row in `digests` (recipient, group, week).

WAL lets a reader (a dry run, `sqlite3` at the shell) read while a run writes, and
`BEGIN IMMEDIATE` with a busy timeout makes a writer wait for the lock instead of
failing with "database is locked".
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from calfeed.notify.digest import Digest
from calfeed.notify.plan import Message, Record, Told

BUSY_TIMEOUT_MS = 60_000
# How long a run waits for another run's lock before giving up: longer than a run may
# take (dispatch.RUN_SECONDS), so a daily run never gives up on a healthy one.
LOCK_WAIT_SECONDS = 2400.0
LOCK_POLL_SECONDS = 0.2
SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    recipient  TEXT NOT NULL,
    provider   TEXT NOT NULL,
    uid        TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('reminder', 'moved', 'published')),
    lead_days  INTEGER NOT NULL,  -- days before the event (0 for a notice)
    event_date TEXT NOT NULL,     -- notify.date_key: 2024-04-03, 2024-07, or a time with its zone
    sent_at    TEXT NOT NULL,
    run        TEXT NOT NULL,
    PRIMARY KEY (recipient, provider, uid, kind, lead_days, event_date)
);
CREATE TABLE IF NOT EXISTS told (
    recipient  TEXT NOT NULL,
    provider   TEXT NOT NULL,
    uid        TEXT NOT NULL,
    event_date TEXT NOT NULL,
    status     TEXT NOT NULL,
    PRIMARY KEY (recipient, provider, uid)
);
CREATE TABLE IF NOT EXISTS digests (
    recipient  TEXT NOT NULL,
    grp        TEXT NOT NULL,     -- the group's id
    week       TEXT NOT NULL,     -- the digest day it is for: 2024-03-11
    sent_at    TEXT NOT NULL,
    run        TEXT NOT NULL,
    PRIMARY KEY (recipient, grp, week)
);
CREATE TABLE IF NOT EXISTS claims (
    recipient  TEXT PRIMARY KEY,
    label      TEXT NOT NULL,  -- the providers, for the warning line: never the address
    claimed_at TEXT NOT NULL,
    run        TEXT NOT NULL
);
"""


class StateError(Exception):
    """The send log cannot be opened or written; the message names the file."""


@dataclass(frozen=True)
class Contents:
    """What planning needs from the log: the dates recipients know and the reminders sent."""

    told: dict[tuple[str, str, str], Told]
    reminded: frozenset[tuple[str, str, str, str, int]]
    digested: frozenset[tuple[str, str, str]] = frozenset()  # (recipient, group, week)


def _connect(path: Path, readonly: bool = False, immutable: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, waiting when busy."""
    if readonly or immutable:
        query = "immutable=1" if immutable else "mode=ro"
        db = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True,
                             timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    else:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        # A confirmation must survive a power cut: otherwise the message goes again.
        db.execute("PRAGMA synchronous=FULL")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


def read(path: str | Path) -> Contents:
    """The log's contents, read-only; an absent file is an empty log (a dry run writes nothing).

    A log in WAL mode is read through its `-shm` index, which a reader must be able to
    create: where it cannot (a read-only folder, another user's log) and no run is
    writing, the file is read as immutable. No run is writing then: a run keeps its
    `-wal` file and leaves everything in the database when it closes.
    """
    path = Path(path)
    if not path.exists():
        return Contents({}, frozenset())
    try:
        return _read(path, readonly=True)
    except sqlite3.OperationalError as err:
        if Path(f"{path}-wal").exists() or not os.access(path, os.R_OK):
            raise StateError(f"{path}: cannot read the send log: {err} "
                             f"(expected a calfeed send log that this user may read)") from None
    except sqlite3.Error as err:
        raise StateError(f"{path}: cannot read the send log: {err} "
                         f"(expected a calfeed send log, or no file)") from None
    try:
        return _read(path, immutable=True)
    except sqlite3.Error as err:
        raise StateError(f"{path}: cannot read the send log: {err} "
                         f"(expected a calfeed send log, or no file)") from None


def _read(path: Path, readonly: bool = False, immutable: bool = False) -> Contents:
    """Open, read the contents and close."""
    db = _connect(path, readonly=readonly, immutable=immutable)
    try:
        return _contents(db)
    finally:
        db.close()


def _contents(db: sqlite3.Connection) -> Contents:
    """Read told and reminded rows."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "told" not in tables:
        return Contents({}, frozenset())
    told = {(r, p, u): Told(d, s) for r, p, u, d, s in db.execute(
        "SELECT recipient, provider, uid, event_date, status FROM told")}
    reminded = frozenset(db.execute(
        "SELECT recipient, provider, uid, event_date, lead_days FROM sent "
        "WHERE kind = 'reminder'"))
    digested = frozenset(db.execute("SELECT recipient, grp, week FROM digests")
                         ) if "digests" in tables else frozenset()
    return Contents(told, reminded, digested)


class SendLog:
    """The open log of one run: holds the run lock from open to close."""

    def __init__(self, path: str | Path, run: str,
                 on_wait: Callable[[float], None] = lambda seconds: None,
                 wait_seconds: float = LOCK_WAIT_SECONDS) -> None:
        self.path = Path(path)
        self.run = run
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise StateError(f"{self.path}: cannot create the send log: "
                             f"{err.strerror or err} (expected a writable folder)") from None
        if not self._take_lock(on_wait, wait_seconds):
            self.close()
            raise StateError(f"{self.path}: another calfeed notify run still holds the lock "
                             f"after {wait_seconds:g} s (expected it to finish; this run "
                             f"sends nothing, and the next one catches up)")
        try:
            # The log holds addresses: readable by calfeed's user only (SQLite gives its
            # -wal and -shm files the database's permissions).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            self.db = _connect(self.path)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            self.close()
            raise StateError(f"{self.path}: cannot open the send log: {err} "
                             f"(expected a calfeed send log, or no file)") from None

    def _take_lock(self, on_wait: Callable[[float], None], seconds: float) -> bool:
        """The run lock, waiting at most `seconds` for another run to finish; False if it did not."""
        deadline = time.monotonic() + seconds
        waited = False
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if not waited:
                    on_wait(seconds)
                    waited = True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(LOCK_POLL_SECONDS)

    def close(self) -> None:
        """Close the database and release the run lock."""
        if getattr(self, "db", None) is not None:
            self.db.close()
            del self.db  # closed: as before the open, so a second close does nothing
        if self._lock >= 0:
            os.close(self._lock)  # releases the flock
            self._lock = -1

    def __enter__(self) -> SendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def abandoned(self) -> list[str]:
        """Claims a dead run left (their labels), removed: those messages are planned again."""
        with _transaction(self.db):
            labels = [row[0] for row in self.db.execute(
                "SELECT label FROM claims ORDER BY claimed_at, label")]
            self.db.execute("DELETE FROM claims")
        return labels

    def contents(self) -> Contents:
        """What planning needs, read under the run lock."""
        return _contents(self.db)

    def learn(self, records: Iterable[Record]) -> None:
        """Record dates recipients know without a message (a first run, a new estimate)."""
        with _transaction(self.db):
            _told(self.db, records)

    def claim(self, message: Message | Digest, now: datetime) -> None:
        """Mark a message as being sent, before it goes to the SMTP server."""
        with _transaction(self.db):
            self.db.execute("INSERT INTO claims VALUES (?, ?, ?, ?)",
                            (message.recipient, message.label, now.isoformat(), self.run))

    def confirm(self, message: Message, now: datetime) -> None:
        """The message was accepted: record it whole, in one transaction."""
        with _transaction(self.db):
            for item in message.items:
                for row in item.sent_rows(message.recipient):
                    # A notice can repeat (a date moved away and back): keep its last time.
                    self.db.execute(
                        "INSERT INTO sent VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT DO UPDATE SET sent_at = excluded.sent_at, run = excluded.run",
                        row + (now.isoformat(), self.run))
            _told(self.db, (Record(message.recipient, i.key, i.event.uid, i.start,
                                   i.event.status) for i in message.items))
            self.db.execute("DELETE FROM claims WHERE recipient = ?", (message.recipient,))

    def confirm_digest(self, digest: Digest, now: datetime) -> None:
        """The digest was accepted: its week, the dates it told and the claim's removal, at once."""
        with _transaction(self.db):
            self.db.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?)",
                            (digest.recipient, digest.group.id, digest.week.isoformat(),
                             now.isoformat(), self.run))
            _told(self.db, digest.records)
            self.db.execute("DELETE FROM claims WHERE recipient = ?", (digest.recipient,))

    def release(self, message: Message | Digest) -> None:
        """The message failed: drop its claim, so the next run tries again."""
        with _transaction(self.db):
            self.db.execute("DELETE FROM claims WHERE recipient = ?", (message.recipient,))


def _told(db: sqlite3.Connection, records: Iterable[Record]) -> None:
    """Upsert what recipients know."""
    db.executemany(
        "INSERT INTO told VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "event_date = excluded.event_date, status = excluded.status",
        ((r.recipient, r.provider, r.uid, r.start, r.status) for r in records))


class _transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: all of it or none of it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        # IMMEDIATE takes the write lock now, waiting up to the busy timeout, so a
        # transaction never fails halfway with "database is locked".
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type | None, *exc: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
