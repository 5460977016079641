"""The last good rules, roster and groups file, kept on disk so that every worker can answer from them.

Each gunicorn worker loads the files itself, so "the last good data" of one worker
was lost to a worker started or restarted while the files were broken: it answered
503 beside a sibling serving good data. The bytes that loaded are therefore kept in
the instance folder, and a worker whose files are broken, or refused, loads them.

Why a copy on disk rather than gunicorn's master loading the data once (preload):
the master's data would be the data of the day it started, not the last good data
(workers reload without it), `kill -HUP` could no longer bring new code, and a whole
server restarted while the files are broken would have nothing. The copy serves all
three, and is what `calfeed diff` can be run against.

One folder per pair of live paths (another rules file never finds this one's copy).
The files are named by their content's hash and written whole under a private name,
then renamed into place; `current.json`, renamed into place last, names the pair. A
reader that finds the pointer finds the files it names, whichever worker wrote them.
The roster holds contact addresses: the folder is the owner's alone (0700, files 0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

FOLDER = "last-good"
POINTER = "current.json"
# Files no pointer names any more are removed once this old: a worker that read the
# previous pointer a moment ago may still be opening them.
STALE_SECONDS = 600
# Whose copy it is: rules file (and roster, if given) by absolute path.
_KEY_CHARS = 16

# sha256 of the rules' bytes, of the roster's and of the groups file's (None: none)
Ident = tuple[str, str | None, str | None]


@dataclass(frozen=True)
class Kept:
    """The copy a pointer names: where its files are, what they hold, when it was saved."""

    rules: Path
    roster: Path | None
    ident: Ident
    saved: datetime  # when a worker loaded these bytes from the live files and kept them
    modified: datetime  # the served data's Last-Modified when it was kept
    groups: Path | None = None


def folder(instance: str | Path, rules_path: str, providers_path: str | None,
           groups_path: str | None = None) -> Path:
    """The folder holding the copy of these live files, inside the instance folder."""
    whose = f"{os.path.abspath(rules_path)}\n{os.path.abspath(providers_path) if providers_path else ''}"
    if groups_path:  # only when given, so that a server's folder stays where it was
        whose += f"\n{os.path.abspath(groups_path)}"
    return Path(instance) / FOLDER / hashlib.sha256(whose.encode()).hexdigest()[:_KEY_CHARS]


def ident(rules: bytes, roster: bytes | None, groups: bytes | None = None) -> Ident:
    """What identifies the files' content."""
    return (hashlib.sha256(rules).hexdigest(),
            hashlib.sha256(roster).hexdigest() if roster is not None else None,
            hashlib.sha256(groups).hexdigest() if groups is not None else None)


def find(where: Path) -> Kept | None:
    """The copy the pointer names, or None when there is none (or it cannot be read)."""
    try:
        pointer = json.loads((where / POINTER).read_text(encoding="utf-8"))
        roster = pointer["roster"]
        groups = pointer.get("groups")  # a copy kept before groups existed has none
        return Kept(where / pointer["rules"], where / roster if roster else None,
                    (pointer["rules_sha256"], pointer["roster_sha256"],
                     pointer.get("groups_sha256")),
                    datetime.fromisoformat(pointer["saved"]),
                    datetime.fromisoformat(pointer["modified"]),
                    where / groups if groups else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def signature(where: Path) -> tuple[int, int, int] | None:
    """The pointer's mtime, size and inode: a new one means another copy was kept."""
    try:
        st = os.stat(where / POINTER)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def save(where: Path, rules: bytes, roster: bytes | None, saved: datetime,
         modified: datetime, sources: tuple[str, str | None],
         groups: bytes | None = None, groups_source: str | None = None) -> Kept:
    """Keep these bytes as the last good copy, atomically; OSError if the folder is not writable."""
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    found = ident(rules, roster, groups)
    rules_name = f"rules-{found[0][:_KEY_CHARS]}.toml"
    roster_name = f"providers-{found[1][:_KEY_CHARS]}.csv" if found[1] else None
    groups_name = f"groups-{found[2][:_KEY_CHARS]}.csv" if found[2] else None
    _write(where / rules_name, rules)
    if roster_name is not None:
        assert roster is not None  # named only when ident hashed it
        _write(where / roster_name, roster)
    if groups_name is not None:
        assert groups is not None  # named only when ident hashed it
        _write(where / groups_name, groups)
    origins = {"rules": sources[0], "roster": sources[1]}
    pointer = {"rules": rules_name, "roster": roster_name, "rules_sha256": found[0],
               "roster_sha256": found[1], "saved": saved.isoformat(),
               "modified": modified.isoformat(), "from": origins}
    if groups_name is not None:
        pointer.update(groups=groups_name, groups_sha256=found[2])
        origins["groups"] = groups_source
    _write(where / POINTER, (json.dumps(pointer, indent=1) + "\n").encode(), replace=True)
    _prune(where, {POINTER, rules_name, roster_name, groups_name})
    return Kept(where / rules_name, where / roster_name if roster_name else None, found,
                saved, modified, where / groups_name if groups_name else None)


def _write(path: Path, data: bytes, replace: bool = False) -> None:
    """Write a file whole under a private name, then rename it into place."""
    if not replace and path.exists():
        # Named by its hash: the same bytes are there already. Fresh again, so that
        # no worker prunes it as stale while the new pointer names it.
        os.utime(path)
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _prune(where: Path, keep: set[str | None]) -> None:
    """Remove the copies (and abandoned temporary files) no pointer has named for a while."""
    now = time.time()
    for entry in where.iterdir():
        if entry.name in keep:
            continue
        try:
            if now - entry.stat().st_mtime > STALE_SECONDS:
                entry.unlink()
        except OSError:
            pass  # another worker removed it first
