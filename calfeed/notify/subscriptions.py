"""The email sign-ups, in SQLite beside the send log: requests, people, subscriptions, limits.

One file holds the send log (sendlog.py) and the sign-ups, so that deleting an address
is one transaction and `calfeed notify` reads both under its run lock. The web server
writes here too, from several gunicorn workers at once: every write is a `BEGIN
IMMEDIATE` transaction with a busy timeout (WAL lets readers read meanwhile), and the
schema has a version (`PRAGMA user_version`) whose migrations run whenever a process
opens the file (README, "Email sign-up").

- `requests`: a sign-up waiting for its confirmation, and the queue of confirmation
  messages (confirmations.py sends them): one per address and calendar, deleted on
  confirmation or when it expires (48 hours).
- `people`: a confirmed address (or a roster contact who was sent a message with a
  manage link), under a random id that the signed links carry instead of the address.
- `subscriptions`: a person's calendars, lead times and whether moves and publications
  are news to them.
- `limits`: when confirmations were queued per address and sign-ups made per client,
  each under an HMAC with the server's key (never the address or client), for 24 hours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from calfeed.notify import sendlog

# Unconfirmed requests (and their links) live this long.
REQUEST_SECONDS = 48 * 3600
# At most this many confirmation messages to one address in a day (any calendars).
ADDRESS_LIMIT = 3
ADDRESS_WINDOW = 24 * 3600
# At most this many sign-ups from one client in an hour (an office behind one address
# signs up a handful of people; a script hundreds).
CLIENT_LIMIT = 20
CLIENT_WINDOW = 3600
# A web request waits at most this long for the file (a run confirming a message holds
# it for milliseconds), then answers 503 rather than hang.
WEB_BUSY_MS = 10_000
ID_BYTES = 16  # 128 random bits: the ids the links carry

# Each migration is a list of statements (executescript would commit halfway), run in
# one transaction with the new version; a file at version N has had the first N.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the send log's tables (a file the server made first has them too) and sign-ups.
    tuple(s.strip() for s in sendlog.SCHEMA.split(";") if s.strip()) + (
        """CREATE TABLE IF NOT EXISTS people (
            id         TEXT PRIMARY KEY,
            address    TEXT NOT NULL UNIQUE COLLATE NOCASE,
            created_at TEXT NOT NULL,
            stopped_at TEXT  -- when the owner stopped the roster's emails to it
        )""",
        """CREATE TABLE IF NOT EXISTS subscriptions (
            person       TEXT NOT NULL,
            calendar     TEXT NOT NULL,  -- signups.calendar_key: track:…, builder:…, provider:…
            lead_days    TEXT NOT NULL,  -- "30,7,1"; "" for notices only
            notices      INTEGER NOT NULL,
            confirmed_at TEXT NOT NULL,
            PRIMARY KEY (person, calendar)
        )""",
        """CREATE TABLE IF NOT EXISTS requests (
            id          TEXT PRIMARY KEY,
            address     TEXT NOT NULL COLLATE NOCASE,
            calendar    TEXT NOT NULL,
            lead_days   TEXT NOT NULL,
            notices     INTEGER NOT NULL,
            created_at  REAL NOT NULL,  -- Unix seconds, as every time the queue compares
            expires_at  REAL NOT NULL,
            state       TEXT NOT NULL CHECK (state IN ('queued', 'sent')),
            attempts    INTEGER NOT NULL DEFAULT 0,
            next_try    REAL NOT NULL,
            lease_until REAL,           -- a sender is on it until then
            last_error  TEXT,           -- the server's reply, without any address
            UNIQUE (address, calendar)
        )""",
        "CREATE INDEX IF NOT EXISTS requests_due ON requests (state, next_try)",
        """CREATE TABLE IF NOT EXISTS limits (
            bucket TEXT NOT NULL CHECK (bucket IN ('address', 'client')),
            key    TEXT NOT NULL,  -- an HMAC of the address or client with the server's key
            at     REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS limits_by_key ON limits (bucket, key, at)",
    ),
)
VERSION = len(MIGRATIONS)


# Between a group sign-up's calendar and one of its providers' ids in the send log
# ("group:acme/demo-8-month", signups.member_key): no id holds it.
MEMBER_SEPARATOR = "/"


class StateError(sendlog.StateError):
    """The sign-up file cannot be opened, migrated or written; the message names the file."""


@dataclass(frozen=True)
class Choice:
    """What a sign-up asks for: reminders so many days before, and notices or not."""

    lead_days: tuple[int, ...]  # longest first; () for notices only
    notices: bool


@dataclass(frozen=True)
class Request:
    """A sign-up waiting for its confirmation."""

    id: str
    address: str = field(repr=False)
    calendar: str
    choice: Choice
    created_at: float
    expires_at: float
    attempts: int = 0


@dataclass(frozen=True)
class Subscription:
    """One calendar a person gets email about."""

    calendar: str
    choice: Choice
    confirmed_at: str


@dataclass(frozen=True)
class Person:
    """A confirmed address, with its calendars; `stopped_at` if it stopped the roster's emails."""

    id: str
    address: str = field(repr=False)
    subscriptions: tuple[Subscription, ...]
    stopped_at: str | None = None


def new_id() -> str:
    """A random id for a link: 128 bits, base32 lowercase (26 characters)."""
    return base64.b32encode(secrets.token_bytes(ID_BYTES)).decode("ascii").rstrip("=").lower()


def keyed(secret: bytes, bucket: str, value: str) -> str:
    """What the limits table stores for an address or a client: an HMAC, never the value."""
    message = f"calfeed-limit-{bucket}\n{value.strip().lower()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def days_text(days: tuple[int, ...]) -> str:
    """Lead days as stored: "30,7,1"."""
    return ",".join(str(d) for d in days)


def days_of(text: str) -> tuple[int, ...]:
    """Stored lead days back as numbers."""
    return tuple(int(d) for d in text.split(",") if d)


def _utc(moment: float) -> str:
    """Unix seconds as an ISO time, for what people read."""
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------

def connect(path: str | Path, busy_ms: int = sendlog.BUSY_TIMEOUT_MS,
            create: bool = False) -> sqlite3.Connection:
    """The file (made, owner-only, with `create`), migrated if need be: autocommit, WAL,
    waiting when busy.

    Only a process's first connection may `create`: closing any descriptor of the file
    drops every POSIX lock the process holds on it (SQLite's locks among them), so
    opening it by hand while a sender thread or a request is inside a transaction would
    let another process write under it. Later connections open it as it is (mode=rw).
    """
    path = Path(path)
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            # It holds addresses: readable by calfeed's user only (SQLite gives its -wal
            # and -shm files the database's permissions).
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True,
                             timeout=busy_ms / 1000, isolation_level=None,
                             check_same_thread=False)
    except (OSError, sqlite3.Error) as err:
        raise StateError(f"{path}: cannot open the sign-ups: {getattr(err, 'strerror', None) or err} "
                         f"(expected a writable folder)") from None
    try:
        db.execute(f"PRAGMA busy_timeout={busy_ms}")
        db.execute("PRAGMA journal_mode=WAL")
        # A confirmed sign-up or an unsubscribe must survive a power cut.
        db.execute("PRAGMA synchronous=FULL")
        migrate(db, path)
    except sqlite3.Error as err:
        db.close()
        raise StateError(f"{path}: cannot open the sign-ups: {err} "
                         f"(expected a calfeed state file, or no file)") from None
    except StateError:
        db.close()
        raise
    return db


def read_only(path: str | Path) -> sqlite3.Connection | None:
    """The file opened for reading (a dry run writes nothing); None if it has no sign-ups yet."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                             timeout=sendlog.BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        if db.execute("PRAGMA user_version").fetchone()[0] < 1:
            db.close()
            return None
    except sqlite3.Error as err:
        raise StateError(f"{path}: cannot read the sign-ups: {err} "
                         f"(expected a calfeed state file this user may read)") from None
    return db


def migrate(db: sqlite3.Connection, path: str | Path = "") -> int:
    """Bring the schema to VERSION, each step in one transaction; the version it was at."""
    if db.execute("PRAGMA user_version").fetchone()[0] == VERSION:
        return VERSION  # the usual case, without taking the write lock
    with transaction(db):
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise StateError(f"{path}: schema version {version} is newer than this calfeed's "
                             f"({VERSION}) (expected a file this calfeed or an older one wrote)")
        for number in range(version, VERSION):
            for statement in MIGRATIONS[number]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number + 1}")
    return version


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any error: all of it or none of it."""
    # IMMEDIATE takes the write lock now (waiting up to the busy timeout), so two
    # workers never both read "not there yet" and then both insert.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# ---------------------------------------------------------------------------
# Sign-up: requests and limits
# ---------------------------------------------------------------------------

def client_allowed(db: sqlite3.Connection, client: str, now: float) -> bool:
    """Whether a client (its `keyed` HMAC) may sign up now; counts the sign-up if so."""
    with transaction(db):
        made = db.execute("SELECT count(*) FROM limits WHERE bucket = 'client' AND key = ? "
                          "AND at > ?", (client, now - CLIENT_WINDOW)).fetchone()[0]
        if made >= CLIENT_LIMIT:
            return False
        db.execute("INSERT INTO limits VALUES ('client', ?, ?)", (client, now))
    return True


def request(db: sqlite3.Connection, address: str, calendar: str, choice: Choice,
            address_key: str, now: float) -> bool:
    """Record a sign-up; whether a confirmation message is now queued for it.

    A request already waiting for this address and calendar takes the new choice and
    queues nothing: one confirmation until its link is followed. A fourth
    confirmation to one address in a day is not queued either. Whoever asks is told
    the same either way (the page never says which).
    """
    with transaction(db):
        db.execute("DELETE FROM requests WHERE expires_at <= ?", (now,))
        waiting = db.execute("UPDATE requests SET lead_days = ?, notices = ? "
                             "WHERE address = ? AND calendar = ?",
                             (days_text(choice.lead_days), int(choice.notices), address,
                              calendar)).rowcount
        if waiting:
            return False
        sent = db.execute("SELECT count(*) FROM limits WHERE bucket = 'address' AND key = ? "
                          "AND at > ?", (address_key, now - ADDRESS_WINDOW)).fetchone()[0]
        if sent >= ADDRESS_LIMIT:
            return False
        db.execute("INSERT INTO requests (id, address, calendar, lead_days, notices, created_at, "
                   "expires_at, state, next_try) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                   (new_id(), address, calendar, days_text(choice.lead_days),
                    int(choice.notices), now, now + REQUEST_SECONDS, now))
        db.execute("INSERT INTO limits VALUES ('address', ?, ?)", (address_key, now))
    return True


def _request(row: tuple[Any, ...]) -> Request:
    """A requests row (id, address, calendar, lead_days, notices, created, expires, attempts)."""
    return Request(row[0], row[1], row[2], Choice(days_of(row[3]), bool(row[4])), row[5], row[6],
                   row[7])


REQUEST_COLUMNS = ("id, address, calendar, lead_days, notices, created_at, expires_at, "
                   "attempts")


def waiting(db: sqlite3.Connection, ident: str, now: float) -> Request | None:
    """The unexpired request with this id, if any."""
    row = db.execute(f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ? AND expires_at > ?",
                     (ident, now)).fetchone()
    return _request(row) if row else None


def confirm(db: sqlite3.Connection, ident: str, now: float) -> Person | None:
    """Turn a waiting request into a subscription (replacing that calendar's choice); its person.

    None when there is no such request (never made, expired, or already confirmed):
    a link works once.
    """
    with transaction(db):
        row = db.execute(f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ? "
                         f"AND expires_at > ?", (ident, now)).fetchone()
        if row is None:
            return None
        found = _request(row)
        db.execute("DELETE FROM requests WHERE id = ?", (ident,))
        person = _person_id(db, found.address, now)
        db.execute("INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                   "lead_days = excluded.lead_days, notices = excluded.notices, "
                   "confirmed_at = excluded.confirmed_at",
                   (person, found.calendar, days_text(found.choice.lead_days),
                    int(found.choice.notices), _utc(now)))
    return person_by_id(db, person)


def _person_id(db: sqlite3.Connection, address: str, now: float) -> str:
    """The id of an address's person, made if it has none (inside a transaction)."""
    row = db.execute("SELECT id FROM people WHERE address = ?", (address,)).fetchone()
    if row:
        return row[0]
    ident = new_id()
    db.execute("INSERT INTO people (id, address, created_at) VALUES (?, ?, ?)",
               (ident, address, _utc(now)))
    return ident


def person_for(db: sqlite3.Connection, address: str, now: float) -> str:
    """The id of an address's person, made if need be: a roster contact's manage links carry it."""
    row = db.execute("SELECT id FROM people WHERE address = ?", (address,)).fetchone()
    if row:
        return row[0]
    with transaction(db):
        return _person_id(db, address, now)


def person_by_id(db: sqlite3.Connection, ident: str) -> Person | None:
    """A person and their calendars, by the id a link carries."""
    row = db.execute("SELECT id, address, stopped_at FROM people WHERE id = ?",
                     (ident,)).fetchone()
    if row is None:
        return None
    subscriptions = tuple(
        Subscription(calendar, Choice(days_of(days), bool(notices)), confirmed)
        for calendar, days, notices, confirmed in db.execute(
            "SELECT calendar, lead_days, notices, confirmed_at FROM subscriptions "
            "WHERE person = ? ORDER BY confirmed_at, calendar", (ident,)))
    return Person(row[0], row[1], subscriptions, row[2])


# ---------------------------------------------------------------------------
# Managing: change, leave, stop the roster's emails
# ---------------------------------------------------------------------------

def change(db: sqlite3.Connection, person: str, calendar: str, choice: Choice) -> bool:
    """Give one of a person's calendars another choice; False if they have no such calendar."""
    with transaction(db):
        return bool(db.execute("UPDATE subscriptions SET lead_days = ?, notices = ? "
                               "WHERE person = ? AND calendar = ?",
                               (days_text(choice.lead_days), int(choice.notices), person,
                                calendar)).rowcount)


def _forget(db: sqlite3.Connection, address: str, calendar: str | None) -> None:
    """Delete what the send log keeps of an address's sign-up (all of them with None)."""
    # Sign-up calendars are keyed "kind:…"; roster providers never have a ":". A group's
    # sign-up keeps its providers apart: "group:acme/demo-8-month" (signups.member_key).
    where, args = (("(provider = ? OR substr(provider, 1, length(?) + 1) = ?)",
                    (calendar, calendar, calendar + MEMBER_SEPARATOR)) if calendar
                   else ("provider LIKE '%:%'", ()))
    for table in ("sent", "told"):
        db.execute(f"DELETE FROM {table} WHERE recipient = ? COLLATE NOCASE AND {where}",
                   (address,) + args)


def leave(db: sqlite3.Connection, person: str, calendar: str | None, roster: bool) -> bool:
    """Delete one of a person's calendars (all with None) and what the log keeps of it.

    The person goes too once nothing is left, unless `roster` (the address is a roster
    contact, whose links must keep working) or they stopped the roster's emails.
    False if there was nothing to delete.
    """
    with transaction(db):
        row = db.execute("SELECT address, stopped_at FROM people WHERE id = ?",
                         (person,)).fetchone()
        if row is None:
            return False
        address, stopped = row
        if calendar is None:
            gone = db.execute("DELETE FROM subscriptions WHERE person = ?", (person,)).rowcount
            db.execute("DELETE FROM requests WHERE address = ?", (address,))
        else:
            gone = db.execute("DELETE FROM subscriptions WHERE person = ? AND calendar = ?",
                              (person, calendar)).rowcount
        _forget(db, address, calendar)
        left = db.execute("SELECT count(*) FROM subscriptions WHERE person = ?",
                          (person,)).fetchone()[0]
        if not left and not roster and not stopped:
            db.execute("DELETE FROM people WHERE id = ?", (person,))
    return bool(gone) or calendar is None


def stop_roster(db: sqlite3.Connection, person: str, now: float | None) -> bool:
    """Stop (a time) or start again (None) the roster's emails to a person's address."""
    with transaction(db):
        return bool(db.execute("UPDATE people SET stopped_at = ? WHERE id = ?",
                               (_utc(now) if now is not None else None, person)).rowcount)


# ---------------------------------------------------------------------------
# The confirmation queue (confirmations.py)
# ---------------------------------------------------------------------------

def claim(db: sqlite3.Connection, now: float, lease: float) -> Request | None:
    """The next confirmation due, leased to this sender for `lease` seconds; None if none is due.

    A sender that dies holding a lease leaves the request to the next sender once the
    lease ends: at least once, never lost.
    """
    with transaction(db):
        row = db.execute(f"SELECT {REQUEST_COLUMNS} FROM requests WHERE state = 'queued' "
                         f"AND next_try <= ? AND expires_at > ? AND (lease_until IS NULL OR "
                         f"lease_until <= ?) ORDER BY next_try, created_at LIMIT 1",
                         (now, now, now)).fetchone()
        if row is None:
            return None
        db.execute("UPDATE requests SET lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                   (now + lease, row[0]))
    return _request(row[:-1] + (row[-1] + 1,))


def mark_sent(db: sqlite3.Connection, ident: str) -> None:
    """The server took the confirmation: never send it again."""
    with transaction(db):
        db.execute("UPDATE requests SET state = 'sent', lease_until = NULL, last_error = NULL "
                   "WHERE id = ?", (ident,))


def drop(db: sqlite3.Connection, ident: str) -> None:
    """Delete a request whose calendar is gone: there is nothing to confirm."""
    with transaction(db):
        db.execute("DELETE FROM requests WHERE id = ?", (ident,))


def retry(db: sqlite3.Connection, ident: str, at: float, reason: str) -> None:
    """The confirmation was not taken: try again at `at`."""
    with transaction(db):
        db.execute("UPDATE requests SET lease_until = NULL, next_try = ?, last_error = ? "
                   "WHERE id = ?", (at, reason, ident))


def next_due(db: sqlite3.Connection, now: float) -> float | None:
    """When the next queued confirmation is due (or its lease ends), if any is queued."""
    row = db.execute("SELECT min(max(next_try, coalesce(lease_until, 0))) FROM requests "
                     "WHERE state = 'queued' AND expires_at > ?", (now,)).fetchone()
    return row[0]


def expire(db: sqlite3.Connection, now: float) -> int:
    """Delete expired requests and limits past their window; how many requests went."""
    with transaction(db):
        gone = db.execute("DELETE FROM requests WHERE expires_at <= ?", (now,)).rowcount
        db.execute("DELETE FROM limits WHERE at <= ?",
                   (now - max(ADDRESS_WINDOW, CLIENT_WINDOW),))
    return gone


# ---------------------------------------------------------------------------
# What `calfeed notify` reads
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Signup:
    """One confirmed calendar of one address, as a run plans it."""

    address: str = field(repr=False)
    person: str
    calendar: str
    choice: Choice


def signups(db: sqlite3.Connection) -> list[Signup]:
    """Every confirmed subscription, address by address."""
    return [Signup(address, person, calendar, Choice(days_of(days), bool(notices)))
            for address, person, calendar, days, notices in db.execute(
                "SELECT p.address, p.id, s.calendar, s.lead_days, s.notices FROM subscriptions s "
                "JOIN people p ON p.id = s.person ORDER BY p.address, s.calendar")]


def stopped(db: sqlite3.Connection) -> frozenset[str]:
    """The addresses (lower case) whose owners stopped the roster's emails."""
    return frozenset(row[0].lower() for row in db.execute(
        "SELECT address FROM people WHERE stopped_at IS NOT NULL"))


def tidy(db: sqlite3.Connection, roster: set[str], now: float) -> None:
    """Delete people with nothing left (no calendars, not on the roster) and the log rows of
    sign-ups that are gone (an unsubscribe while a run was sending)."""
    with transaction(db):
        for ident, address in db.execute(
                "SELECT id, address FROM people WHERE NOT EXISTS (SELECT 1 FROM subscriptions "
                "WHERE person = people.id)").fetchall():
            if address.lower() not in roster:
                db.execute("DELETE FROM people WHERE id = ?", (ident,))
        for table in ("sent", "told"):
            db.execute(f"DELETE FROM {table} WHERE provider LIKE '%:%' AND NOT EXISTS ("
                       f"SELECT 1 FROM subscriptions s JOIN people p ON p.id = s.person "
                       f"WHERE p.address = {table}.recipient COLLATE NOCASE "
                       f"AND (s.calendar = {table}.provider OR substr({table}.provider, 1, "
                       f"length(s.calendar) + 1) = s.calendar || '{MEMBER_SEPARATOR}'))")
    expire(db, now)


# ---------------------------------------------------------------------------
# The operator's commands
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Count:
    """One calendar's sign-ups: confirmed and waiting."""

    calendar: str
    confirmed: int
    waiting: int


def counts(db: sqlite3.Connection, now: float) -> list[Count]:
    """Confirmed and waiting sign-ups per calendar."""
    found: dict[str, list[int]] = {}
    for calendar, n in db.execute("SELECT calendar, count(*) FROM subscriptions "
                                  "GROUP BY calendar"):
        found.setdefault(calendar, [0, 0])[0] = n
    for calendar, n in db.execute("SELECT calendar, count(*) FROM requests WHERE expires_at > ? "
                                  "GROUP BY calendar", (now,)):
        found.setdefault(calendar, [0, 0])[1] = n
    return [Count(calendar, *found[calendar]) for calendar in sorted(found)]


def people_counts(db: sqlite3.Connection) -> tuple[int, int]:
    """How many addresses have a sign-up, and how many stopped the roster's emails."""
    subscribed = db.execute("SELECT count(DISTINCT person) FROM subscriptions").fetchone()[0]
    stopped_count = db.execute("SELECT count(*) FROM people WHERE stopped_at IS NOT NULL"
                               ).fetchone()[0]
    return subscribed, stopped_count


def export(db: sqlite3.Connection, address: str, address_key: str) -> dict[str, Any]:
    """Everything the file holds about one address, as JSON-ready data."""
    person = db.execute("SELECT id, created_at, stopped_at FROM people WHERE address = ?",
                        (address,)).fetchone()
    subscriptions = [] if person is None else [
        {"calendar": c, "lead_days": list(days_of(d)), "notices": bool(n), "confirmed_at": t}
        for c, d, n, t in db.execute("SELECT calendar, lead_days, notices, confirmed_at FROM "
                                     "subscriptions WHERE person = ? ORDER BY calendar",
                                     (person[0],))]
    requests = [
        {"calendar": c, "lead_days": list(days_of(d)), "notices": bool(n),
         "requested_at": _utc(made), "expires_at": _utc(ends), "confirmation": state,
         "attempts": attempts, "last_error": error}
        for c, d, n, made, ends, state, attempts, error in db.execute(
            "SELECT calendar, lead_days, notices, created_at, expires_at, state, attempts, "
            "last_error FROM requests WHERE address = ? ORDER BY calendar", (address,))]
    sent = [{"calendar": p, "uid": u, "kind": k, "lead_days": lead, "event_date": d,
             "sent_at": at}
            for p, u, k, lead, d, at in db.execute(
                "SELECT provider, uid, kind, lead_days, event_date, sent_at FROM sent "
                "WHERE recipient = ? COLLATE NOCASE ORDER BY sent_at, provider, uid, kind",
                (address,))]
    told = [{"calendar": p, "uid": u, "event_date": d, "status": s}
            for p, u, d, s in db.execute(
                "SELECT provider, uid, event_date, status FROM told WHERE recipient = ? "
                "COLLATE NOCASE ORDER BY provider, uid", (address,))]
    limits = [_utc(at) for (at,) in db.execute(
        "SELECT at FROM limits WHERE bucket = 'address' AND key = ? ORDER BY at",
        (address_key,))]
    return {
        "address": address,
        "person": None if person is None else {"created_at": person[1],
                                               "roster_emails_stopped_at": person[2]},
        "subscriptions": subscriptions,
        "waiting_requests": requests,
        "confirmations_queued_at": limits,
        "sent": sent,
        "told": told,
    }


def delete(db: sqlite3.Connection, address: str, address_key: str) -> dict[str, int]:
    """Delete everything the file holds about one address; how many rows of each kind."""
    with transaction(db):
        gone: dict[str, int] = {}
        person = db.execute("SELECT id FROM people WHERE address = ?", (address,)).fetchone()
        gone["subscriptions"] = 0 if person is None else db.execute(
            "DELETE FROM subscriptions WHERE person = ?", (person[0],)).rowcount
        gone["people"] = db.execute("DELETE FROM people WHERE address = ?", (address,)).rowcount
        gone["requests"] = db.execute("DELETE FROM requests WHERE address = ?",
                                      (address,)).rowcount
        gone["limits"] = db.execute("DELETE FROM limits WHERE bucket = 'address' AND key = ?",
                                    (address_key,)).rowcount
        for table in ("sent", "told", "claims"):
            gone[table] = db.execute(f"DELETE FROM {table} WHERE recipient = ? COLLATE NOCASE",
                                     (address,)).rowcount
    return gone
