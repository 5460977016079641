"""The static build: every page and feed of the site as plain files, swapped in atomically.

The site is built *from* the Flask app, so it is byte-identical to what the server
answers: crawl.py fetches each URL from the app and this module writes its body at the
URL's path (`…/` → `…/index.html`), with a deterministic modification time, lists it
in manifest.json, and has swap.py put the finished tree in place of the old one. The
URLs are the home page, every track's, provider's and group's page and feeds, and every
same-site path the written pages link to (the stylesheet, each event's own .ics).

Determinism: the same inputs give the same bytes, and a file whose bytes did not change
keeps its modification time, so rsync and `aws s3 sync` upload only what changed.
Memory and time per provider do not grow with the roster: a provider's files are
listed as one block of manifest lines, and its paths are never looked up again.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from calfeed.core import calendars, wording
from calfeed import create_app
from calfeed.build import crawl, swap
from calfeed.serve import secret, web

MANIFEST = "manifest.json"
NOT_FOUND_FILE = "404.html"
# Below this many providers, starting processes costs more than it saves.
PARALLEL_MIN_PROVIDERS = 200
# Providers per task handed to a worker: small enough for a smooth progress bar and
# an even split, large enough that passing results back costs nothing.
CHUNK = 25


class BuildError(Exception):
    """A build that cannot finish; the message is one line a person can act on."""


@dataclass(frozen=True)
class Summary:
    """What a build wrote."""

    outdir: Path
    files: int
    calendars: int
    changed: int  # files new or changed since the previous site
    removed: int  # files of the previous site that are gone
    seconds: float


@dataclass(frozen=True)
class Job:
    """Where and how a tree is written; inherited by forked workers."""

    temp: Path  # the tree being written
    parts: Path  # where providers' manifest lines wait, one file per process, until the end
    previous: Path | None  # the site being replaced, for unchanged files' mtimes
    hashes: dict[str, str]  # its manifest: path -> sha256, so unchanged files need no reading
    revised: float  # the rules revision, as a timestamp: the mtime of new files
    started: float  # the build's start: the mtime of files whose bytes changed


# A provider's manifest lines, kept in a part file: its key ("p/<token>": all its paths
# start with it, so the block sorts as one), the part file, the offset and the length.
Block = tuple[str, str, int, int]


@dataclass(frozen=True)
class Written:
    """What a share of the build wrote: manifest lines, and counts."""

    lines: dict[str, str]  # the site's own files: path -> manifest line
    blocks: tuple[Block, ...]  # the providers' lines, one block each
    files: int
    changed: int  # new or different from the previous site
    kept: int  # paths the previous site's manifest lists too


def manifest_line(path: str, size: int, digest: str, content_type: str) -> str:
    """One file's entry in manifest.json."""
    return json.dumps({"path": path, "sha256": digest, "size": size,
                       "content_type": content_type}, ensure_ascii=False)


def _mtime(job: Job, name: str, size: int, digest: str) -> tuple[float, bool]:
    """Keep the previous file's mtime when its bytes are the same; else a later one.

    A file whose bytes changed must not keep its size and mtime, or rsync's quick
    check, `aws s3 sync` and nginx's ETag (mtime and size) would all miss the change.
    Returns the mtime and whether the file is new or changed.
    """
    if job.previous is None:
        return job.revised, True
    old = job.previous / name
    try:
        stat = old.stat()
        if stat.st_size == size and (job.hashes[name] if name in job.hashes
                                     else _sha256(old)) == digest:
            return stat.st_mtime, False
    except OSError:
        return job.revised, True  # a new path: nobody has a copy to compare with
    return max(job.revised, job.started, stat.st_mtime + 1), True


def _sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class Tree:
    """Writes answers into the temporary tree and lists them for the manifest."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.root = str(job.temp)
        self.folders: set[str] = set()
        self.lines: dict[str, str] = {}
        self.blocks: list[Block] = []
        self.files = self.changed = self.kept = 0
        self.part: str | None = None  # this process's part file, opened at the first block
        self.part_handle = -1
        self.part_size = 0

    def write(self, path: str, name: str, answer: crawl.Answer) -> None:
        """Write an answer's body at name inside the tree, with a deterministic mtime."""
        body = answer.body
        target = os.path.join(self.root, name)
        folder = os.path.dirname(target)
        if folder not in self.folders:
            os.makedirs(folder, exist_ok=True)
            self.folders.add(folder)
        digest = hashlib.sha256(body).hexdigest()
        mtime, changed = _mtime(self.job, name, len(body), digest)
        # One open file for the bytes and the time: a path is looked up once.
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(handle, view):]
            os.utime(handle, (mtime, mtime))
        finally:
            os.close(handle)
        line = manifest_line(name, len(body), digest, answer.content_type)
        if self.lines.setdefault(name, line) != line:
            raise BuildError(f"{name}: two different bodies for one path")
        self.files += 1
        self.changed += changed
        self.kept += name in self.job.hashes

    def seal(self, key: str) -> None:
        """Move the lines written since the last seal into the part file, as one block."""
        data = ",\n  ".join(self.lines[name] for name in sorted(self.lines)).encode("utf-8")
        if self.part is None:
            self.part = str(self.job.parts / f"{os.getpid()}.part")
            self.part_handle = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(self.part_handle, view):]
        self.blocks.append((key, self.part, self.part_size, len(data)))
        self.part_size += len(data)
        self.lines = {}
        # A provider's folder is written once: the next provider needs none of its names.
        self.folders.clear()

    def close(self) -> None:
        """Close this process's part file, if it opened one."""
        if self.part_handle >= 0:
            os.close(self.part_handle)
            self.part_handle = -1

    def take(self) -> Written:
        """What was written since the last take, and forget it."""
        written = Written(self.lines, tuple(self.blocks), self.files, self.changed, self.kept)
        self.lines, self.blocks = {}, []
        self.files = self.changed = self.kept = 0
        return written


def _private(path: str) -> bool:
    """Whether a path belongs to a provider or a group (written by whoever renders it)."""
    return path.startswith(tuple(f"/{prefix}/" for prefix in calendars.PRIVATE_PREFIXES))


def _under(base: str) -> Callable[[str], bool]:
    """Whether a path is one of a calendar's own (its base, then "/" or ".")."""
    return lambda path: path.startswith((base + "/", base + "."))


def _public(path: str) -> bool:
    """Whether a path is the site's own (written once, by the parent)."""
    return not _private(path)


class _Renderer:
    """One process's crawler and tree: renders providers and hands back what it wrote."""

    def __init__(self, app: Any, job: Job) -> None:
        self.app = app
        self.tree = Tree(job)
        self.crawler = crawl.Crawler(app, app.config["CALFEED_BASE_URL"].rstrip("/"),
                                     self.tree.write)
        self.secret = web.state(app).secret
        self.rules = web.snapshot(app).rules

    def providers(self, ids: list[str]) -> tuple[Written, set[str]]:
        """Write the given providers' pages, feeds and event files.

        Returns what was written (a block of manifest lines per provider) and the
        public paths the providers' pages link to.
        """
        others: set[str] = set()
        for ident in ids:
            subject = calendars.provider_of(self.secret, self.rules.providers[ident])
            # Nobody else links to a provider's paths: none need remembering.
            others |= self.crawler.crawl(subject.paths(), _private, remember=False)
            self.tree.seal(subject.base.lstrip("/"))
        return self.tree.take(), others


# ---------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------

_worker: _Renderer | None = None


def _worker_start(app: Any, job: Job) -> None:
    """In each forked worker: its own renderer on the app inherited from the parent."""
    global _worker
    # Ctrl-C reaches the whole process group; the parent alone decides what happens,
    # and ends the workers with SIGTERM, which must simply end them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _worker = _Renderer(app, job)


def _worker_chunk(ids: list[str]) -> tuple[int, Written, set[str]]:
    """Render a share of the providers in a worker; hand back what it wrote."""
    assert _worker is not None
    written, others = _worker.providers(ids)
    return len(ids), written, others


def _chunks(items: list[str], size: int) -> list[list[str]]:
    """items cut into lists of at most size."""
    return [items[i:i + size] for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------

def site_config(config: dict[str, Any]) -> dict[str, Any]:
    """The app settings a build renders with: the given ones, as a static site."""
    # Never reload mid-build: every page must come from the same rules and roster.
    return {**config, "CALFEED_STATIC": True, "CALFEED_RELOAD_INTERVAL": float("inf")}


def _load(config: dict[str, Any]) -> Any:
    """The app a build renders from, its data loaded; BuildError if it cannot be."""
    try:
        app = create_app(site_config(config))
        web.snapshot(app)
    except secret.SecretError as err:
        raise BuildError(str(err)) from None
    except web.Unavailable as err:
        raise BuildError("; ".join(err.problems) or "the rules did not load") from None
    return app


def build(outdir: str | Path, config: dict[str, Any], workers: int = 1,
          progress: Callable[[int], None] = lambda n: None,
          on_total: Callable[[int], None] = lambda n: None) -> Summary:
    """Write the whole site to outdir, atomically; raise BuildError, OSError or KeyboardInterrupt."""
    started = time.time()
    clock = time.perf_counter()
    outdir = Path(outdir).resolve()  # a symlinked OUTDIR: build next to what it points at
    previous = _previous_site(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    swap.remove_stale(outdir)
    app = _load(config)
    rules = web.snapshot(app).rules
    assert rules is not None
    temp = swap.temporary(outdir)
    # What is loaded now lives until the end: the collector need not look at it again,
    # and forked workers share its memory pages instead of copying them.
    gc.freeze()
    parent: _Renderer | None = None
    try:
        parts = temp / ".manifest-parts"
        parts.mkdir()
        job = Job(temp, parts, previous, _hashes(previous), rules.revised.timestamp(),
                  float(int(started)))
        ids = sorted(rules.providers)
        on_total(len(rules.tracks) + len(rules.groups) + len(ids))
        parent = _Renderer(app, job)
        written: list[Written] = []
        others: set[str] = set()
        for track in rules.tracks:
            others |= parent.crawler.crawl(calendars.track(rules, track).paths(), _public)
            progress(1)
        written.append(parent.tree.take())  # before the providers' blocks are taken
        for group in rules.groups.values():
            subject = calendars.group_of(parent.secret, group)
            # Its page links to its providers' pages: theirs to write, never the site's.
            linked = parent.crawler.crawl(subject.paths(), _under(subject.base), remember=False)
            others |= {path for path in linked if not _private(path)}
            parent.tree.seal(subject.base.lstrip("/"))
            progress(1)
        if workers > 1 and len(ids) >= PARALLEL_MIN_PROVIDERS \
                and "fork" in multiprocessing.get_all_start_methods():
            # Fork: the workers inherit the loaded app, so every process renders
            # from the very same rules, roster and secret.
            context = multiprocessing.get_context("fork")
            size = max(1, min(CHUNK, len(ids) // (workers * 4)))
            with context.Pool(workers, _worker_start, (app, job)) as pool:
                for count, share, linked in pool.imap_unordered(_worker_chunk, _chunks(ids, size)):
                    written.append(share)
                    others |= linked
                    progress(count)
        else:
            for ident in ids:
                share, linked = parent.providers([ident])
                written.append(share)
                others |= linked
                progress(1)
        # What the providers' pages link to outside their own paths (the stylesheet, the
        # home page) is public, and written once, here.
        parent.crawler.crawl(["/", "/static/style.css"] + sorted(others), _public)
        answer = parent.crawler.fetch("/" + NOT_FOUND_FILE, status=404)
        parent.tree.write("/" + NOT_FOUND_FILE, NOT_FOUND_FILE, answer)
        written.append(parent.tree.take())
        parent.tree.close()
        _write_manifest(job, written, rules.revised)
        shutil.rmtree(parts)
        files = sum(w.files for w in written)
        removed = _count_removed(job, sum(w.kept for w in written))
        _settle_directories(temp, job.revised)
        swap.swap(temp, outdir)
    except crawl.CrawlError as err:
        shutil.rmtree(temp, ignore_errors=True)
        raise BuildError(str(err)) from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        if parent is not None:
            parent.tree.close()
        gc.unfreeze()
    return Summary(outdir, files + 1, len(rules.tracks) + len(rules.groups) + len(ids),
                   sum(w.changed for w in written), removed, time.perf_counter() - clock)


def _write_manifest(job: Job, written: list[Written], revised: datetime) -> None:
    """Write manifest.json from the lines and blocks, with the same mtime rule as every other file.

    Every file with its sha256, size and content type, sorted by path, one file per
    line (so two builds' manifests diff line by line); streamed, so the manifest is
    never whole in memory.
    """
    entries: list[tuple[str, str | Block]] = [
        (key, item) for share in written
        for key, item in [*share.lines.items(), *((b[0], b) for b in share.blocks)]]
    entries.sort(key=lambda entry: entry[0])
    target = job.temp / MANIFEST
    digest = hashlib.sha256()
    size = 0
    parts: dict[str, int] = {}
    with target.open("wb") as out:

        def put(text: str | bytes) -> None:
            nonlocal size
            data = text.encode("utf-8") if isinstance(text, str) else text
            out.write(data)
            digest.update(data)
            size += len(data)

        put('{\n "revised": ' + json.dumps(wording.utc_stamp(revised)) + ',\n "files": [\n  ')
        try:
            for n, (_, item) in enumerate(entries):
                if n:
                    put(",\n  ")
                if isinstance(item, str):
                    put(item)
                else:
                    _, part, offset, length = item
                    if part not in parts:
                        parts[part] = os.open(part, os.O_RDONLY)
                    put(os.pread(parts[part], length, offset))
        finally:
            for handle in parts.values():
                os.close(handle)
        put("\n ]\n}\n" if entries else "]\n}\n")
    mtime, _ = _mtime(job, MANIFEST, size, digest.hexdigest())
    os.utime(target, (mtime, mtime))


def _hashes(previous: Path | None) -> dict[str, str]:
    """The previous build's manifest as path -> sha256; empty if there is none or it is unreadable."""
    if previous is None:
        return {}
    try:
        entries = json.loads((previous / MANIFEST).read_text(encoding="utf-8"))["files"]
        return {e["path"]: e["sha256"] for e in entries}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # then the old files themselves are compared


def _count_removed(job: Job, kept: int) -> int:
    """How many files of the previous site the new one no longer has."""
    if job.previous is None:
        return 0
    if job.hashes:
        return len(job.hashes) - kept
    old = (p.relative_to(job.previous) for p in job.previous.rglob("*") if p.is_file())
    return sum(1 for p in old if str(p) != MANIFEST and not (job.temp / p).is_file())


def _settle_directories(temp: Path, revised: float) -> None:
    """Directories get the revision as mtime too, and the usual permissions (mkdtemp's are 0700)."""
    mask = os.umask(0)
    os.umask(mask)
    # Bottom-up, and only the folders' names held: a site has hundreds of thousands of files.
    for folder, _, _ in os.walk(temp, topdown=False):
        os.utime(folder, (revised, revised))
    temp.chmod(0o777 & ~mask)
    os.utime(temp, (revised, revised))


def _previous_site(outdir: Path) -> Path | None:
    """The site a build replaces, or None; refuse to replace anything that is not one."""
    if not outdir.exists():
        return None
    if not outdir.is_dir():
        raise BuildError(f"{outdir}: exists and is not a directory (expected a site folder or nothing)")
    if (outdir / MANIFEST).is_file():
        return outdir
    if any(outdir.iterdir()):
        raise BuildError(f"{outdir}: not empty and has no {MANIFEST}, so it is not a calfeed "
                         f"site; refusing to replace it (expected an earlier build, an empty "
                         f"folder, or a new name)")
    return None
