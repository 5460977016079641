"""The data a running server answers from: the last good rules and roster, reloaded off the request path.

rules.load reads and validates. A request only reads the current Snapshot (one
attribute): a thread of the worker's own looks at the files every interval, loads a
changed one, has it reviewed against the data being served (what `calfeed diff` would
refuse is refused), and swaps the new immutable Snapshot in with one assignment. So a
request sees the old data or the new, never half of each, and never waits for a load,
however large the roster. A load that fails or is refused keeps the
last good data and says why in the log (docs/design.md §7). The bytes of every good load are
kept in the instance folder (lastgood), so that a worker started or restarted while
the files are broken answers from the server's last good data too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

from calfeed.outputs import diff
from calfeed.core import rules as rules_module
from calfeed.core import groups, tokens
from calfeed.core.model import Event, Group, Profile, Rules
from calfeed.core.tokens import TokenIndex  # a field below is named tokens
from calfeed.serve import lastgood

log = logging.getLogger("calfeed")

# (path, (mtime_ns, size, inode) or None when missing)
Signature = tuple[tuple[str, tuple[int, int, int] | None], ...]
# The bytes of the rules, the roster and the groups file that loaded, to keep.
Copy = tuple[bytes, bytes | None, bytes | None]


@dataclass(frozen=True)
class Snapshot:
    """One load of the rules and roster, with everything derived from it once."""

    rules: Rules | None  # None: no load has ever succeeded
    tokens: TokenIndex = field(default_factory=dict)
    group_tokens: TokenIndex = field(default_factory=dict)
    generation: int = 0  # grows with every successful load; part of every cache key
    loaded_at: datetime | None = None  # when the server first loaded this data, to the second
    modified: datetime | None = None  # the latest of `revised` and the files' mtimes
    errors: tuple[str, ...] = ()  # the problems of the last failed (or refused) load, if it failed
    failed_at: datetime | None = None
    # The content of the files this data came from (lastgood.ident), when known, and
    # when it loaded to the microsecond: which of two kept copies is the newer.
    kept: lastgood.Ident | None = None
    saved: datetime | None = None
    # (profile, today) -> engine.schedule's events, for the few profiles asked about
    # last: a page, its three feeds and each event's .ics all expand the same profile.
    schedules: dict[tuple[Profile, date], list[Event]] = field(
        default_factory=dict, compare=False, repr=False)
    # (group, today) -> groups.schedule, the same for the few groups asked about last.
    group_schedules: dict[tuple[Group, date], groups.Schedule] = field(
        default_factory=dict, compare=False, repr=False)

    def provider(self, token: str) -> Profile | None:
        """The roster provider a private URL token belongs to, or None."""
        if self.rules is None:
            return None
        ident = tokens.find(self.tokens, token)
        return self.rules.providers.get(ident) if ident else None

    def group(self, token: str) -> Group | None:
        """The group a private URL token belongs to, or None."""
        if self.rules is None:
            return None
        ident = tokens.find(self.group_tokens, token)
        return self.rules.groups.get(ident) if ident else None


class Store:
    """Holds the current Snapshot and replaces it when the watched files change.

    interval: seconds between looks at the files, by a thread of the process that
    answers (started with the store, and again in a process forked from it, which
    threads do not survive); 0 looks before every answer, inside it (for tests, whose
    next request must see an edit); None or infinity never looks again (the CLI and
    `calfeed build` read once).
    keep: the folder of the last good copy (lastgood.folder), or None to keep none.
    """

    def __init__(self, rules_path: str | Path, providers_path: str | Path | None,
                 secret: bytes, interval: float | None = 1.0,
                 today: Callable[[], date] = date.today, keep: Path | None = None,
                 groups_path: str | Path | None = None) -> None:
        self.rules_path = str(rules_path)
        self.providers_path = str(providers_path) if providers_path else None
        self.groups_path = str(groups_path) if groups_path else None
        self.secret = secret
        self.interval = interval
        self.keep = keep
        # Which data years calendars show (the reload log), and the latest Next
        # Decision Date a roster may name.
        self.today = today
        self._lock = threading.Lock()  # one look at the files at a time
        self._watched: tuple[str, ...] = tuple(
            p for p in (self.rules_path, self.providers_path, self.groups_path) if p)
        self._signature: Signature = ()
        self._kept_signature: tuple[int, int, int] | None = None  # the pointer, when last read
        self._poller: int | None = None  # the process whose thread looks at the files
        self._snapshot = Snapshot(None)
        self._reload()
        if self._polls():
            self._start()

    def current(self) -> Snapshot:
        """The data to answer from; never waits for a load (unless interval is 0)."""
        if self.interval == 0:
            self.poll()
        elif self._poller != os.getpid() and self._polls():
            self._start()  # forked (gunicorn's preload): this process has no poller yet
        return self._snapshot

    def _polls(self) -> bool:
        """Whether a thread looks at the files (rather than each answer, or nobody)."""
        return self.interval is not None and 0 < self.interval < float("inf")

    def poll(self) -> None:
        """Look at the files once: load them if they changed; while degraded, take a newer kept copy."""
        with self._lock:
            try:
                if _stat(self._watched) != self._signature:
                    self._reload()
                elif self._snapshot.errors and self.keep is not None:
                    self._adopt_newer_copy()
            except Exception:  # the poller must outlive any bug: the last good data stays
                log.exception("looking at %s failed unexpectedly", self.rules_path)

    def _start(self) -> None:
        """Start this process's poller thread, once."""
        with _starting:
            pid = os.getpid()
            if self._poller == pid:
                return
            # A lock copied by fork may be held by a thread the child does not have.
            self._lock = threading.Lock()
            self._poller = pid
            thread = threading.Thread(target=_watch, args=(weakref.ref(self), self.interval),
                                      name="calfeed-reload", daemon=True)
            thread.start()

    # -- loading -------------------------------------------------------------

    def _reload(self) -> None:
        """Load the files again; swap the result in, or keep the last good data and say why."""
        # Stat before reading: a change made during the load shows as a new
        # signature at the next check, never as data the signature claims to cover.
        signature = _stat(self._watched)
        started = time.time_ns()
        old = self._snapshot
        now = datetime.now(timezone.utc)
        refused = False
        try:
            loaded = rules_module.load(self.rules_path, self.providers_path, today=self.today(),
                                       groups_path=self.groups_path)
        except rules_module.RulesError as err:
            problems = tuple(err.problems) or (f"{self.rules_path}: does not load",)
        except Exception as err:  # a bug in the loader must not take the server down
            log.exception("loading %s failed unexpectedly", self.rules_path)
            problems = (f"{self.rules_path}: unexpected error while loading: {err!r}",)
        else:
            watched = tuple(dict.fromkeys(
                p for p in (self.rules_path, self.providers_path, loaded.providers_path,
                            self.groups_path, loaded.groups_path) if p))
            after, copy = self._read_back(watched, signature, started, loaded)
            problems = self._review(old, loaded, copy)
            if not problems:
                self._take(old, loaded, watched, after, copy, now)
                return
            refused = True
        self._refuse(old, problems, signature, now, refused)

    def _read_back(self, watched: tuple[str, ...], before: Signature, started: int,
                   loaded: Rules) -> tuple[Signature | None, Copy | None]:
        """The files' signature after a load and, to keep, their bytes, if both are what loaded.

        (None, None) when a file changed during the load: it is loaded again at the next
        look. A roster first named by rules.toml had no signature before the load; it
        counts as unchanged if it was last written before the load began.
        """
        after = _stat(watched)
        known = dict(before)
        for path, stat in after:
            if stat is None or (known[path] != stat if path in known else stat[0] >= started):
                return None, None
        if self.keep is None:
            return after, None
        try:
            data = {path: Path(path).read_bytes() for path, _ in after}
        except OSError:
            return None, None
        if _stat(watched) != after:
            return None, None
        roster, groups = loaded.providers_path, loaded.groups_path
        return after, (data[self.rules_path], data[roster] if roster else None,
                       data[groups] if groups else None)

    def _review(self, old: Snapshot, loaded: Rules, copy: Copy | None) -> tuple[str, ...]:
        """What `calfeed diff` would refuse in the new rules against the data being served.

        A worker that serves nothing yet compares with the server's last good copy,
        unless the files are that copy.
        """
        served = old.rules
        if served is None and self.keep is not None:
            kept = lastgood.find(self.keep)
            if kept is not None and (copy is None or lastgood.ident(*copy) != kept.ident):
                served = self._kept_rules(kept)
        if served is None:
            return ()
        try:
            return tuple(diff.compare(served, loaded, self.today()).problems)
        except Exception:  # `calfeed diff` would fail too, not refuse: a bug, logged
            log.exception("reviewing %s against the data being served failed", loaded.path)
            return ()

    def _take(self, old: Snapshot, loaded: Rules, watched: tuple[str, ...],
              after: Signature | None, copy: Copy | None, now: datetime) -> None:
        """Swap new data in (one assignment), keep its bytes, and log what it changed."""
        self._watched = watched
        # Unsure what loaded (a file changed meanwhile): look again at the next check.
        self._signature = after if after is not None else ()
        modified = max([loaded.revised] + _mtimes(after or _stat(watched)))
        kept = self._keep(copy, now, modified, loaded) if copy is not None else None
        self._snapshot = Snapshot(
            rules=loaded,
            tokens=tokens.index(self.secret, loaded.providers.values()),
            group_tokens=tokens.index(self.secret, loaded.groups.values(), "group"),
            generation=old.generation + 1,
            loaded_at=now.replace(microsecond=0),
            modified=modified,
            kept=kept,
            saved=now,
        )
        log.info("loaded %s (revised %s, %d providers)", loaded.path,
                 loaded.revised.isoformat(), len(loaded.providers))
        if old.rules is not None:
            self._log_changes(old.rules, loaded)

    def _refuse(self, old: Snapshot, problems: tuple[str, ...], signature: Signature,
                now: datetime, refused: bool) -> None:
        """Keep the last good data (this worker's, or the server's kept copy if newer); say why."""
        for problem in problems:
            log.error("reload refused: %s", problem)
        # The files the problems name are watched too, so that fixing a broken
        # roster alone (the rules file unchanged) is noticed.
        named = _named_files(problems)
        watched = tuple(dict.fromkeys(self._watched + named))
        self._signature = signature + _stat(p for p in watched if p not in self._watched)
        self._watched = watched
        snapshot = replace(old, errors=problems, failed_at=now)
        kept = self._newer_copy(old)
        if kept is not None:
            snapshot = self._load_kept(kept, old, problems, now) or snapshot
        self._snapshot = snapshot
        keeping = (f"keeping the data loaded at {snapshot.loaded_at.isoformat()}"
                   if snapshot.rules and snapshot.loaded_at else "no good data to serve yet")
        if refused:
            served = self._served_path(snapshot)
            log.error("reload of %s refused: %d problem(s) against the data being served "
                      "(`calfeed diff %s %s` says the same); %s", self.rules_path, len(problems),
                      served, self.rules_path, keeping)
        else:
            log.error("reload of %s failed with %d problem(s); %s", self.rules_path,
                      len(problems), keeping)

    # -- the kept copy -------------------------------------------------------

    def _keep(self, copy: Copy, now: datetime, modified: datetime,
              loaded: Rules) -> lastgood.Ident:
        """Keep the bytes that loaded as the server's last good copy, unless they are already."""
        ident = lastgood.ident(*copy)
        assert self.keep is not None
        kept = lastgood.find(self.keep)
        if kept is None or kept.ident != ident:
            try:
                lastgood.save(self.keep, copy[0], copy[1], saved=now, modified=modified,
                              sources=(loaded.path, loaded.providers_path), groups=copy[2],
                              groups_source=loaded.groups_path)
            except OSError as err:
                log.warning("cannot keep a copy of the data in %s: %s (a worker started while "
                            "the files are broken will have nothing to serve)", self.keep,
                            err.strerror or err)
        self._kept_signature = lastgood.signature(self.keep)
        return ident

    def _newer_copy(self, old: Snapshot) -> lastgood.Kept | None:
        """The kept copy, if it is not this data and was kept after it loaded (or none loaded)."""
        if self.keep is None:
            return None
        self._kept_signature = lastgood.signature(self.keep)
        kept = lastgood.find(self.keep)
        if kept is None or kept.ident == old.kept:
            return None
        if old.rules is not None and old.saved is not None and kept.saved <= old.saved:
            return None
        return kept

    def _adopt_newer_copy(self) -> None:
        """While the files stay broken: take the copy another worker kept since this one loaded."""
        assert self.keep is not None
        if lastgood.signature(self.keep) == self._kept_signature:
            return
        old = self._snapshot
        kept = self._newer_copy(old)
        if kept is None:
            return
        adopted = self._load_kept(kept, old, old.errors, old.failed_at)
        if adopted is not None:
            self._snapshot = adopted
            # The files, refused against the older data, may pass against this one.
            self._signature = ()

    def _kept_rules(self, kept: lastgood.Kept) -> Rules | None:
        """The kept copy's rules alone (what `calfeed diff` reads as OLD), or None."""
        loaded = self._load_copy(kept, roster=False)
        if loaded is None:  # a copy an older calfeed accepted: no review is possible
            log.warning("taking %s unreviewed: the last good copy does not load",
                        self.rules_path)
        return loaded

    def _load_copy(self, kept: lastgood.Kept, roster: bool) -> Rules | None:
        """The kept copy loaded (with its roster, or without), or None with each problem logged."""
        try:
            return rules_module.load(kept.rules, kept.roster if roster else None,
                                     roster=roster and kept.roster is not None,
                                     today=self.today(),
                                     groups_path=kept.groups if roster else None)
        except Exception as err:
            lines = err.problems if isinstance(err, rules_module.RulesError) else [repr(err)]
            for line in lines:
                log.error("the last good copy does not load: %s", line)
            return None

    def _load_kept(self, kept: lastgood.Kept, old: Snapshot, problems: tuple[str, ...],
                   failed_at: datetime | None) -> Snapshot | None:
        """A Snapshot of the kept copy, still degraded by the live files' problems; None if it fails."""
        loaded = self._load_copy(kept, roster=True)
        if loaded is None:
            return None
        log.warning("serving the last good copy %s (kept at %s)", kept.rules,
                    kept.saved.replace(microsecond=0).isoformat())
        if old.rules is not None:
            self._log_changes(old.rules, loaded)
        return Snapshot(
            rules=loaded,
            tokens=tokens.index(self.secret, loaded.providers.values()),
            group_tokens=tokens.index(self.secret, loaded.groups.values(), "group"),
            generation=old.generation + 1,
            loaded_at=kept.saved.replace(microsecond=0),
            modified=kept.modified,
            errors=problems,
            failed_at=failed_at,
            kept=kept.ident,
            saved=kept.saved,
        )

    def _served_path(self, snapshot: Snapshot) -> str:
        """The file holding the rules being served: the kept copy if it is theirs."""
        if self.keep is not None and snapshot.kept is not None:
            kept = lastgood.find(self.keep)
            if kept is not None and kept.ident == snapshot.kept:
                return str(kept.rules)
        return snapshot.rules.path if snapshot.rules else "OLD"

    def _log_changes(self, old: Rules, new: Rules) -> None:
        """One line saying how many events the reload moved, added and removed."""
        try:
            log.info("reload of %s: %s", new.path, diff.reload_line(old, new, self.today()))
        except Exception:  # the new data is good and in place: a report must not undo that
            log.exception("reload of %s: comparing with the previous data failed", new.path)


# Starting a poller is rare; one lock for all stores keeps two threads from both starting one.
_starting = threading.Lock()


def _watch(ref: weakref.ref[Store], interval: float) -> None:
    """A poller thread: look at the files every interval until the store is gone."""
    while True:
        time.sleep(interval)
        store = ref()
        if store is None:
            return
        store.poll()
        del store  # hold no reference while sleeping: an app no one uses can be collected


def _stat(paths: Iterable[str]) -> Signature:
    """What identifies each file's current content cheaply: mtime, size and inode."""
    found: list[tuple[str, tuple[int, int, int] | None]] = []
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
