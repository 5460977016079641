"""The data a running server answers from: the last good rules, reloaded when the files change.

rules.load reads and validates; the store only stats the files, at most once per
interval, and swaps a new immutable Snapshot in with one assignment, so a request
sees either the old data or the new, never half of each. A reload that fails keeps
the last good data and records why (DESIGN §7).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

from calfeed.outputs import diff
from calfeed.core import rules as rules_module
from calfeed.core import tokens
from calfeed.core.model import Profile, Rules

log = logging.getLogger("calfeed")

# (path, (mtime_ns, size, inode) or None when missing)
Signature = tuple[tuple[str, tuple[int, int, int] | None], ...]


@dataclass(frozen=True)
class Snapshot:
    """One load of the rules and roster, with everything derived from it once."""

    rules: Rules | None  # None: no load has ever succeeded
    tokens: tokens.TokenIndex = field(default_factory=dict)
    generation: int = 0  # grows with every successful load; part of every cache key
    loaded_at: datetime | None = None
    modified: datetime | None = None  # the latest of `revised` and the files' mtimes
    errors: tuple[str, ...] = ()  # the problems of the last failed load, if it failed
    failed_at: datetime | None = None
    # (profile, today) -> engine.schedule's events, for the few profiles asked about
    # last: a page, its three feeds and each event's .ics all expand the same profile.
    schedules: dict = field(default_factory=dict, compare=False, repr=False)

    def provider(self, token: str) -> Profile | None:
        """The roster provider a private URL token belongs to, or None."""
        if self.rules is None:
            return None
        ident = tokens.find(self.tokens, token)
        return self.rules.providers.get(ident) if ident else None


class Store:
    """Holds the current Snapshot and replaces it when the watched files change."""

    def __init__(self, rules_path: str | Path, providers_path: str | Path | None,
                 secret: bytes, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], date] = date.today) -> None:
        self.rules_path = str(rules_path)
        self.providers_path = str(providers_path) if providers_path else None
        self.secret = secret
        self.interval = interval
        self.clock = clock
        # Which data years calendars show (the reload log), and the latest Next
        # Decision Date a roster may name.
        self.today = today
        self._lock = threading.Lock()
        self._watched: tuple[str, ...] = tuple(p for p in (self.rules_path, self.providers_path) if p)
        self._signature: Signature = ()
        self._checked = float("-inf")
        self._snapshot = Snapshot(None)
        self._reload()

    def current(self) -> Snapshot:
        """The data to answer from, after a cheap check (at most once per interval) for changes."""
        now = self.clock()
        if now - self._checked < self.interval:
            return self._snapshot
        # One thread checks; the others answer from the data they already have.
        if self._lock.acquire(blocking=False):
            try:
                self._checked = now
                if _stat(self._watched) != self._signature:
                    self._reload()
            finally:
                self._lock.release()
        return self._snapshot

    def _reload(self) -> None:
        """Load the files again; swap the result in, or keep the last good data and say why."""
        # Stat before reading: a change made during the load shows as a new
        # signature at the next check, never as data the signature claims to cover.
        signature = _stat(self._watched)
        old = self._snapshot
        now = datetime.now(timezone.utc).replace(microsecond=0)
        try:
            loaded = rules_module.load(self.rules_path, self.providers_path, today=self.today())
        except rules_module.RulesError as err:
            problems = tuple(err.problems) or (f"{self.rules_path}: does not load",)
        except Exception as err:  # a bug in the loader must not take the server down
            log.exception("loading %s failed unexpectedly", self.rules_path)
            problems = (f"{self.rules_path}: unexpected error while loading: {err!r}",)
        else:
            watched = tuple(dict.fromkeys(
                p for p in (self.rules_path, self.providers_path, loaded.providers_path) if p))
            self._signature = signature + _stat(p for p in watched if p not in self._watched)
            self._watched = watched
            self._snapshot = Snapshot(
                rules=loaded,
                tokens=tokens.index(self.secret, loaded.providers.values()),
                generation=old.generation + 1,
                loaded_at=now,
                modified=max([loaded.revised] + _mtimes(self._signature)),
            )
            log.info("loaded %s (revised %s, %d providers)", loaded.path,
                     loaded.revised.isoformat(), len(loaded.providers))
            if old.rules is not None:
                self._log_changes(old.rules, loaded)
            return
        for problem in problems:
            log.error("reload refused: %s", problem)
        keeping = (f"keeping the data loaded at {old.loaded_at.isoformat()}"
                   if old.rules else "no good data to serve yet")
        log.error("reload of %s failed with %d problem(s); %s", self.rules_path,
                  len(problems), keeping)
        # The files the problems name are watched too, so that fixing a broken
        # roster alone (the rules file unchanged) is noticed.
        named = _named_files(problems)
        watched = tuple(dict.fromkeys(self._watched + named))
        self._signature = signature + _stat(p for p in watched if p not in self._watched)
        self._watched = watched
        self._snapshot = replace(old, errors=problems, failed_at=now)


    def _log_changes(self, old: Rules, new: Rules) -> None:
        """One line saying how many events the reload moved, added and removed."""
        try:
            log.info("reload of %s: %s", new.path, diff.reload_line(old, new, self.today()))
        except Exception:  # the new data is good and in place: a report must not undo that
            log.exception("reload of %s: comparing with the previous data failed", new.path)


def _stat(paths) -> Signature:
    """What identifies each file's current content cheaply: mtime, size and inode."""
    found = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            found.append((path, None))
        else:
            found.append((path, (st.st_mtime_ns, st.st_size, st.st_ino)))
    return tuple(found)


def _mtimes(signature: Signature) -> list[datetime]:
    """The files' modification times, to whole seconds as HTTP dates have them."""
    return [datetime.fromtimestamp(stat[0] // 1_000_000_000, timezone.utc)
            for _, stat in signature if stat is not None]


def _named_files(problems: tuple[str, ...]) -> tuple[str, ...]:
    """The existing files that problem lines (`FILE: WHERE: …`) start with."""
    named = []
    for problem in problems:
        head = problem.split(": ", 1)[0]
        if head and os.path.isfile(head):
            named.append(head)
    return tuple(dict.fromkeys(named))


class FeedCache:
    """A least-recently-used map from what determines a feed to its rendered bytes.

    Bounded by total size, not by count: a roster of a few thousand providers fits
    whole (a feed is tens of kilobytes), so a load spread over all of them stays warm.
    """

    def __init__(self, max_bytes: int = 64 << 20, max_items: int = 20_000) -> None:
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.size = 0
        self._items: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def retire(self, generation: int) -> None:
        """Forget everything rendered from data older than this generation (Snapshot.generation)."""
        # Every key names its generation, so after a reload no old entry is ever hit
        # again; left to the LRU bound they doubled a worker's cache (and its memory).
        if generation <= self._generation:
            return
        with self._lock:
            if generation > self._generation:
                self._generation = generation
                self._items.clear()
                self.size = 0

    def get(self, key: Hashable) -> object | None:
        """The cached value, marked as recently used, or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: object, size: int) -> None:
        """Remember a value of a given size, forgetting the least recently used beyond the bounds."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._items[key] = (value, size)
            self.size += size
            while self._items and (self.size > self.max_bytes or len(self._items) > self.max_items):
                _, (_, dropped) = self._items.popitem(last=False)
                self.size -= dropped
