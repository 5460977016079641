"""The static build: every page and feed of the site as plain files, swapped in atomically.

Every file is the server's answer at its URL. The site's own pages (home, tracks, the
stylesheet, the 404 page) and each group's files (a few calendars, however large the
roster) are fetched from the Flask app by crawl.py, one WSGI call each, following their
links; a provider's files, which are nearly all of a site, are
rendered by render.py straight from the outputs layer with the functions the routes
call (one schedule per provider, not one request per file), and
`tests/build/test_render.py` proves them byte-identical to the app's answers. Each
file is written at its URL's path (`…/` → `…/index.html`), listed in manifest.json,
and swap.py puts the finished tree in place of the old one.

Builds of one OUTDIR take turns (lock.py). Determinism: the same inputs give the same
bytes, and a file whose bytes did not change keeps its modification time, so rsync and
`aws s3 sync` upload only what changed. Which files changed is decided at swap time,
against the tree actually being replaced. Memory and time per provider do not grow
with the roster: a provider's files are listed as one block of manifest lines, and
its paths are never looked up again.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from calfeed import create_app
from calfeed.build import crawl, lock, render, swap
from calfeed.core import calendars, wording
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
    changed: int  # files new or changed since the site it replaced
    removed: int  # files of the site it replaced that are gone
    seconds: float


@dataclass(frozen=True)
class Job:
    """Where and how a tree is written; inherited by forked workers."""

    temp: Path  # the tree being written
    parts: Path  # where providers' manifest lines wait, one file per process, until the end
    revised: float  # the rules revision, as a timestamp: the mtime of every new file
    started: float  # the build's start: the mtime of files whose bytes changed


# A provider's manifest lines, kept in a part file: its key ("p/<token>": all its paths
# start with it, so the block sorts as one), the part file, the offset and the length.
Block = tuple[str, str, int, int]


@dataclass(frozen=True)
class Written:
    """What a share of the build wrote: manifest lines, and how many files."""

    lines: dict[str, str]  # the site's own files: path -> manifest line
    blocks: tuple[Block, ...]  # the providers' lines, one block each
    files: int


def manifest_line(path: str, size: int, digest: str, content_type: str) -> str:
    """One file's entry in manifest.json: what json.dumps writes for it, a little faster."""
    return (f'{{"path": {_json_text(path)}, "sha256": "{digest}", "size": {size}, '
            f'"content_type": {_json_text(content_type)}}}')


def _json_text(text: str) -> str:
    """A string as JSON writes it (UTF-8 kept as it is)."""
    return json.dumps(text, ensure_ascii=False)


class Tree:
    """Writes files into the temporary tree and lists them for the manifest."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.root = str(job.temp)
        self.times = (round(job.revised * 1e9),) * 2  # every new file's atime and mtime, in ns
        self.folders: set[str] = set()
        self.lines: dict[str, str] = {}
        self.blocks: list[Block] = []
        self.files = 0
        self.part: str | None = None  # this process's part file, opened at the first block
        self.part_handle = -1
        self.part_size = 0

    def write(self, path: str, name: str, answer: crawl.Answer) -> None:
        """Write an answer of the app at name inside the tree (the crawler's writer)."""
        self.put(name, answer.content_type, answer.body)

    def put(self, name: str, content_type: str, body: bytes) -> None:
        """Write a file at name inside the tree, with the revision as its mtime for now.

        Whether it keeps an old file's mtime or gets a later one is decided at swap time
        (settle), against the tree it replaces.
        """
        target = f"{self.root}/{name}"
        folder = target.rpartition("/")[0]
        if folder not in self.folders:
            self._folder(folder)
        # One open file for the bytes and the time: a path is looked up once.
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            written = os.write(handle, body)
            if written < len(body):  # a write may stop short: write the rest
                view = memoryview(body)[written:]
                while view:
                    view = view[os.write(handle, view):]
            os.utime(handle, ns=self.times)
        finally:
            os.close(handle)
        line = manifest_line(name, len(body), hashlib.sha256(body).hexdigest(), content_type)
        if self.lines.setdefault(name, line) != line:
            raise BuildError(f"{name}: two different bodies for one path")
        self.files += 1

    def _folder(self, folder: str) -> None:
        """Make a folder (and the ones above it) unless this process already has."""
        try:
            os.mkdir(folder)
        except FileExistsError:
            pass
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
        self.folders.add(folder)

    def seal(self, key: str) -> None:
        """Move the lines written since the last seal into the part file, as one block.

        The provider's own folders are finished: they get the revision's time now, so
        that the end of the build need not walk hundreds of thousands of them.
        """
        mine = f"{self.root}/{key}"
        for folder in self.folders:
            if folder == mine or folder.startswith(mine + "/"):
                os.utime(folder, ns=self.times)
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
        written = Written(self.lines, tuple(self.blocks), self.files)
        self.lines, self.blocks, self.files = {}, [], 0
        return written


def _public(path: str) -> bool:
    """Whether a path is the site's own (a provider's all start with /p/, a group's /g/)."""
    return not path.startswith(tuple(f"/{prefix}/" for prefix in calendars.PRIVATE_PREFIXES))


def _under(base: str) -> Callable[[str], bool]:
    """Whether a path is one of a calendar's own (its base, then "/" or ".")."""
    return lambda path: path.startswith((base + "/", base + "."))


class _Builder:
    """One process's renderer and tree: writes providers and hands back what it wrote."""

    def __init__(self, app: Any, job: Job) -> None:
        self.tree = Tree(job)
        self.crawler = crawl.Crawler(app, app.config["CALFEED_BASE_URL"].rstrip("/"),
                                     self.tree.write)
        self.render = render.Renderer(app)

    def providers(self, ids: list[str]) -> Written:
        """Write the given providers' pages, feeds and event files: a block of manifest lines each."""
        rules = self.render.rules
        assert rules is not None
        put = self.tree.put
        for ident in ids:
            subject, files = self.render.provider(rules.providers[ident])
            for file in files:
                put(crawl.file_path(file.path), file.content_type, file.body)
            self.tree.seal(subject.base.lstrip("/"))
        return self.tree.take()


# ---------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------

_worker: _Builder | None = None


def _worker_start(app: Any, job: Job) -> None:
    """In each forked worker: its own builder on the app inherited from the parent."""
    global _worker
    # Ctrl-C reaches the whole process group; the parent alone decides what happens,
    # and ends the workers with SIGTERM, which must simply end them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _worker = _Builder(app, job)


def _worker_chunk(ids: list[str]) -> tuple[int, Written]:
    """Write a share of the providers in a worker; hand back what it wrote."""
    assert _worker is not None
    return len(ids), _worker.providers(ids)


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
          on_total: Callable[[int], None] = lambda n: None,
          wait: float = lock.WAIT,
          on_wait: Callable[[int | None, float], None] = lambda pid, wait: None) -> Summary:
    """Write the whole site to outdir, atomically; raise BuildError, OSError or KeyboardInterrupt.

    Holds outdir's lock throughout: a build started meanwhile waits up to `wait`
    seconds (on_wait(holder's pid, wait) tells it so), then gives up with BuildError.
    """
    clock = time.perf_counter()
    outdir = Path(outdir).resolve()  # a symlinked OUTDIR: build next to what it points at
    _previous_site(outdir)  # refuse a folder that is not a site before waiting for anything
    outdir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with lock.held(lock.path_for(outdir), wait, on_wait):
            return _build(outdir, config, workers, progress, on_total, clock)
    except lock.Busy as err:
        raise BuildError(str(err)) from None


def _build(outdir: Path, config: dict[str, Any], workers: int,
           progress: Callable[[int], None], on_total: Callable[[int], None],
           clock: float) -> Summary:
    """The build itself, under outdir's lock."""
    started = time.time()
    swap.remove_stale(outdir)
    app = _load(config)
    rules = web.snapshot(app).rules
    assert rules is not None
    temp = swap.temporary(outdir)
    # What is loaded now lives until the end: the collector need not look at it again,
    # and forked workers share its memory pages instead of copying them.
    gc.freeze()
    parent: _Builder | None = None
    try:
        parts = temp / ".manifest-parts"
        parts.mkdir()
        job = Job(temp, parts, rules.revised.timestamp(), float(int(started)))
        # Grouped by calendar shape: each process works a shape out once (render.py).
        ids = render.in_shape_order(rules.providers)
        on_total(len(rules.tracks) + len(rules.groups) + len(ids))
        parent = _Builder(app, job)
        written: list[Written] = []
        for track in rules.tracks:
            parent.crawler.crawl(calendars.track(rules, track).paths(), _public)
            progress(1)
        for group in rules.groups.values():
            subject = calendars.group_of(parent.render.secret, group)
            # Its page links to its providers' pages: theirs to write, not the group's.
            parent.crawler.crawl(subject.paths(), _under(subject.base))
            parent.tree.seal(subject.base.lstrip("/"))
            progress(1)
        written.append(parent.tree.take())  # before the providers' blocks are taken
        if workers > 1 and len(ids) >= PARALLEL_MIN_PROVIDERS \
                and "fork" in multiprocessing.get_all_start_methods():
            # Fork: the workers inherit the loaded app, so every process renders
            # from the very same rules, roster and secret.
            context = multiprocessing.get_context("fork")
            size = max(1, min(CHUNK, len(ids) // (workers * 4)))
            with context.Pool(workers, _worker_start, (app, job)) as pool:
                for count, share in pool.imap_unordered(_worker_chunk, _chunks(ids, size)):
                    written.append(share)
                    progress(count)
        else:
            for ident in ids:
                written.append(parent.providers([ident]))
                progress(1)
        # The rest of the site's own files: the home page and what it links to.
        parent.crawler.crawl(["/", "/static/style.css"], _public)
        answer = parent.crawler.fetch("/" + NOT_FOUND_FILE, status=404)
        parent.tree.write("/" + NOT_FOUND_FILE, NOT_FOUND_FILE, answer)
        written.append(parent.tree.take())
        parent.tree.close()
        _write_manifest(job, written, rules.revised)
        shutil.rmtree(parts)
        # Decided now, against the tree actually being replaced: what another build
        # (or a person) did to OUTDIR before this build took the lock counts, and no
        # build swaps a tree in meanwhile.
        files = sum(w.files for w in written)
        changed, removed = settle(job, _previous_site(outdir), files)
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
                   changed, removed,
                   time.perf_counter() - clock)


def _write_manifest(job: Job, written: list[Written], revised: datetime) -> None:
    """Write manifest.json from the lines and blocks.

    Every file with its sha256, size and content type, sorted by path, one file per
    line (so two builds' manifests diff line by line, and settle() reads it a line at
    a time); streamed, so the manifest is never whole in memory.
    """
    entries: list[tuple[str, str | Block]] = []
    for share in written:
        entries += share.lines.items()
        entries += ((b[0], b) for b in share.blocks)
    entries.sort(key=lambda entry: entry[0])
    target = job.temp / MANIFEST
    parts: dict[str, int] = {}
    with target.open("wb") as out:
        out.write(b'{\n "revised": ' + json.dumps(wording.utc_stamp(revised)).encode()
                  + b',\n "files": [\n  ')
        try:
            for n, (_, item) in enumerate(entries):
                if n:
                    out.write(b",\n  ")
                if isinstance(item, str):
                    out.write(item.encode("utf-8"))
                else:
                    _, part, offset, length = item
                    if part not in parts:
                        parts[part] = os.open(part, os.O_RDONLY)
                    out.write(os.pread(parts[part], length, offset))
        finally:
            for handle in parts.values():
                os.close(handle)
        out.write(b"\n ]\n}\n" if entries else b"]\n}\n")
    os.utime(target, (job.revised, job.revised))


# ---------------------------------------------------------------------------
# Swap time: modification times and counts against the tree being replaced
# ---------------------------------------------------------------------------

def settle(job: Job, previous: Path | None, files: int) -> tuple[int, int]:
    """Give each new file its modification time from the tree it replaces; (changed, removed).

    A file whose bytes are the old file's keeps the old file's mtime; any other file at
    an old path gets a later one (the build's start, or a second after the old one),
    so that a change never keeps both the size and the mtime that rsync's quick check,
    `aws s3 sync` and nginx's ETag go by. A new path keeps the revision's time. Both
    manifests are sorted by path and read a line at a time, side by side: memory stays
    flat however large the site. `files`: how many the new tree has, manifest.json aside
    (the counts leave it aside too).
    """
    if previous is None:
        return files, 0  # every file is new, and keeps the revision's time
    new = _read_entries(job.temp / MANIFEST)
    old = _entries(previous / MANIFEST)
    if old is None:
        # No usable manifest: the old files themselves are hashed, and looked for.
        changed = sum(_settle_file(job, previous, path, None, size, digest)
                      for path, digest, size in new)
        _settle_manifest(job, previous)
        return changed, _count_removed_by_walking(job.temp, previous)
    changed = removed = 0
    pending = next(old, None)
    for path, digest, size in new:
        while pending is not None and pending[0] < path:
            removed += 1
            pending = next(old, None)
        known = None
        if pending is not None and pending[0] == path:
            known = pending[1]
            pending = next(old, None)
        changed += _settle_file(job, previous, path, known, size, digest)
    if pending is not None:
        removed += 1 + sum(1 for _ in old)
    _settle_manifest(job, previous)
    return changed, removed


def _settle_file(job: Job, previous: Path, name: str, old_digest: str | None,
                 size: int, digest: str) -> bool:
    """Set one new file's mtime from the old file at its path; whether it is new or changed."""
    try:
        stat = os.stat(previous / name)
    except OSError:
        return True  # a new path: nobody has a copy to compare with; it keeps the revision
    same = stat.st_size == size and (old_digest or _sha256(previous / name)) == digest
    mtime = stat.st_mtime if same else max(job.revised, job.started, stat.st_mtime + 1)
    if mtime != job.revised:
        os.utime(job.temp / name, (mtime, mtime))
    return not same


def _settle_manifest(job: Job, previous: Path) -> None:
    """manifest.json follows the rule of every other file (the old one lists no hash of itself)."""
    target = job.temp / MANIFEST
    _settle_file(job, previous, MANIFEST, None, target.stat().st_size, _sha256(target))


def _entries(manifest: Path) -> Iterator[tuple[str, str, int]] | None:
    """A manifest's (path, sha256, size), a line at a time; None if it is missing or not ours.

    Checked whole before anything is read from it: one broken or unsorted line, and
    no line of it is trusted.
    """
    try:
        with manifest.open("rb") as handle:
            last = ""
            for line in handle:
                entry = _entry(line)
                if entry is False:
                    return None
                if entry is not None:
                    if entry[0] <= last:
                        return None
                    last = entry[0]
    except OSError:
        return None
    return _read_entries(manifest)


def _read_entries(manifest: Path) -> Iterator[tuple[str, str, int]]:
    """The entries of a manifest _entries() has checked."""
    with manifest.open("rb") as handle:
        for line in handle:
            entry = _entry(line)
            if entry:
                yield entry


def _entry(line: bytes) -> tuple[str, str, int] | None | Literal[False]:
    """One manifest line's (path, sha256, size); None for the lines around the list; False if unreadable."""
    text = line.strip().rstrip(b",")
    if not text.startswith(b'{"path"'):
        return None if text in (b"{", b"}", b"]", b'"files": [', b"") \
            or text.startswith(b'"revised"') else False
    try:
        entry = json.loads(text)
        path, digest, size = entry["path"], entry["sha256"], entry["size"]
    except (ValueError, KeyError, TypeError):
        return False
    if not (isinstance(path, str) and isinstance(digest, str) and isinstance(size, int)):
        return False
    return path, digest, size


def _sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _count_removed_by_walking(temp: Path, previous: Path) -> int:
    """How many files of the previous site the new one does not have, found on disk."""
    old = (p.relative_to(previous) for p in previous.rglob("*") if p.is_file())
    return sum(1 for p in old if str(p) != MANIFEST and not (temp / p).is_file())


def _settle_directories(temp: Path, revised: float) -> None:
    """Directories get the revision as mtime too, and the usual permissions (mkdtemp's are 0700).

    A provider's folders got theirs when it was sealed: the walk does not enter them.
    """
    mask = os.umask(0)
    os.umask(mask)
    providers = str(temp / "p")
    for folder, subfolders, _ in os.walk(temp):
        if folder == providers:
            subfolders.clear()
        # Setting a folder's times never changes its parent's: any order will do.
        os.utime(folder, (revised, revised))
    temp.chmod(0o777 & ~mask)


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
