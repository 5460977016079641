"""Builds of one OUTDIR take turns: an exclusive flock on `.OUTDIR.lock` beside it.

A build holds the lock from before it looks at the old site until the new one is in
place, so two builds never compare against, or replace, each other's half-finished
work. The kernel drops a flock when its holder exits, however it exits (kill -9
included): a lock file left behind locks nothing. The holder writes its process id
into the file, so that a build that waits can say whom it waits for.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# How often a waiting build tries the lock again: flock itself has no time limit.
POLL = 0.1
# How long a build waits for another build of the same OUTDIR by default: longer than
# a 10,000-provider build takes on one core, short enough that a stuck one is noticed.
WAIT: float = 600


class Busy(Exception):
    """Another build held the lock for longer than this one would wait."""

    def __init__(self, path: Path, holder: int | None, waited: float) -> None:
        who = f"another calfeed build (pid {holder})" if holder else "another calfeed build"
        super().__init__(
            f"{who} still holds {path} after {waited:g} s; wait longer with --wait SECONDS"
            if waited else
            f"{who} is building it (it holds {path}); --wait SECONDS waits for it to finish")
        self.holder = holder


def path_for(outdir: Path) -> Path:
    """The lock file of an output folder: a hidden file beside it, on the same filesystem."""
    return outdir.with_name(f".{outdir.name}.lock")


def holder(path: Path) -> int | None:
    """The process id the lock file names, if any (whoever held it last)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


@contextmanager
def held(path: Path, wait: float,
         on_wait: Callable[[int | None, float], None] = lambda pid, wait: None) -> Iterator[None]:
    """Hold the exclusive lock on path; wait up to `wait` seconds for it, else raise Busy.

    on_wait(holder's pid, seconds) is called once, before waiting, so the caller can
    say whom it waits for and for how long. With wait 0, a held lock is Busy at once.
    """
    handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        _acquire(handle, path, wait, on_wait)
        # Whoever waits next reads this: ours until we release it.
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(handle)  # releases the flock (forked workers have exited by now)


def _acquire(handle: int, path: Path, wait: float,
             on_wait: Callable[[int | None, float], None]) -> None:
    """flock(LOCK_EX) with a time limit: try, say so once, retry until the deadline."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    if wait <= 0:
        raise Busy(path, holder(path), 0)
    on_wait(holder(path), wait)
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        if waited >= wait:
            raise Busy(path, holder(path), wait)
        time.sleep(min(POLL, wait - waited))
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            continue
