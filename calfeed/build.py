"""The static build: every page and feed of the site as plain files, swapped in atomically.

The site is built *from* the Flask app, so it is byte-identical to what the server
answers: crawl.py fetches each URL from the app and this module writes its body at the
URL's path (`…/` → `…/index.html`), with a deterministic modification time, lists it
in manifest.json, and has swap.py put the finished tree in place of the old one. The
URLs are the home page, every track's and every provider's page and feeds, and every
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

from . import calendars, create_app, crawl, secret, swap, web, wording

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
    previous: Path | None  # the site being replaced, for unchanged files' mtimes
    hashes: dict[str, str]  # its manifest: path -> sha256, so unchanged files need no reading
    revised: float  # the rules revision, as a timestamp: the mtime of new files
    started: float  # the build's start: the mtime of files whose bytes changed


@dataclass(frozen=True)
class Written:
    """What a share of the build wrote: manifest lines by path, and counts."""

    lines: dict[str, str]  # file path, or a provider's "p/<token>" for its block of lines
    files: int
    changed: int  # new or different from the previous site
    kept: int  # paths the previous site's manifest lists too


def manifest_line(path: str, body: bytes, digest: str, content_type: str) -> str:
    """One file's entry in manifest.json."""
    return json.dumps({"path": path, "sha256": digest, "size": len(body),
                       "content_type": content_type}, ensure_ascii=False)


def manifest_text(lines: dict[str, str], revised: datetime) -> str:
    """manifest.json: every file with its sha256, size and content type, sorted by path.

    One file per line, so that two builds' manifests diff line by line.
    """
    entries = [lines[key] for key in sorted(lines)]
    stamp = json.dumps(wording.utc_stamp(revised))
    return ('{\n "revised": ' + stamp + ',\n "files": [\n  ' + ",\n  ".join(entries)
            + ("\n ]\n}\n" if entries else "]\n}\n"))


def _mtime(job: Job, name: str, body: bytes, digest: str) -> tuple[float, bool]:
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
        if stat.st_size == len(body) and (
                job.hashes[name] == digest if name in job.hashes else old.read_bytes() == body):
            return stat.st_mtime, False
    except OSError:
        return job.revised, True  # a new path: nobody has a copy to compare with
    return max(job.revised, job.started, stat.st_mtime + 1), True


class Tree:
    """Writes answers into the temporary tree and lists them for the manifest."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.root = str(job.temp)
        self.folders: set[str] = set()
        self.lines: dict[str, str] = {}
        self.files = self.changed = self.kept = 0

    def write(self, path: str, name: str, answer: crawl.Answer) -> None:
        """Write an answer's body at name inside the tree, with a deterministic mtime."""
        body = answer.body
        target = os.path.join(self.root, name)
        folder = os.path.dirname(target)
        if folder not in self.folders:
            os.makedirs(folder, exist_ok=True)
            self.folders.add(folder)
        digest = hashlib.sha256(body).hexdigest()
        mtime, changed = _mtime(self.job, name, body, digest)
        # One open file for the bytes and the time: a path is looked up once.
        handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(handle, view):]
            os.utime(handle, (mtime, mtime))
        finally:
            os.close(handle)
        line = manifest_line(name, body, digest, answer.content_type)
        if self.lines.setdefault(name, line) != line:
            raise BuildError(f"{name}: two different bodies for one path")
        self.files += 1
        self.changed += changed
        self.kept += name in self.job.hashes

    def take(self) -> Written:
        """What was written since the last take, and forget it."""
        written = Written(self.lines, self.files, self.changed, self.kept)
        self.lines = {}
        self.files = self.changed = self.kept = 0
        return written

    def take_block(self, key: str) -> Written:
        """What was written since the last take, as one block of lines under key."""
        written = self.take()
        block = ",\n  ".join(written.lines[name] for name in sorted(written.lines))
        # A provider's folder is written once: the next provider needs none of its names.
        self.folders.clear()
        return Written({key: block}, written.files, written.changed, written.kept)


def _private(path: str) -> bool:
    """Whether a path belongs to a provider (written by whoever renders that provider)."""
    return path.startswith("/p/")


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

    def providers(self, ids: list[str]) -> tuple[list[Written], set[str]]:
        """Write the given providers' pages, feeds and event files.

        Returns one block of manifest lines per provider, and the public paths they link to.
        """
        blocks = []
        others: set[str] = set()
        for ident in ids:
            subject = calendars.provider_of(self.secret, self.rules.providers[ident])
            # Nobody else links to a provider's paths: none need remembering.
            others |= self.crawler.crawl(subject.paths(), _private, remember=False)
            blocks.append(self.tree.take_block(subject.base.lstrip("/")))
        return blocks, others


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


def _worker_chunk(ids: list[str]) -> tuple[int, list[Written], set[str]]:
    """Render a share of the providers in a worker; hand back what it wrote."""
    assert _worker is not None
    blocks, others = _worker.providers(ids)
    return len(ids), blocks, others


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
    try:
        job = Job(temp, previous, _hashes(previous), rules.revised.timestamp(),
                  float(int(started)))
        ids = sorted(rules.providers)
        on_total(len(rules.tracks) + len(ids))
        parent = _Renderer(app, job)
        written: list[Written] = []
        others: set[str] = set()
        for track in rules.tracks:
            others |= parent.crawler.crawl(calendars.track(rules, track).paths(), _public)
            progress(1)
        written.append(parent.tree.take())  # before the providers' blocks are taken
        if workers > 1 and len(ids) >= PARALLEL_MIN_PROVIDERS \
                and "fork" in multiprocessing.get_all_start_methods():
            # Fork: the workers inherit the loaded app, so every process renders
            # from the very same rules, roster and secret.
            context = multiprocessing.get_context("fork")
            size = max(1, min(CHUNK, len(ids) // (workers * 4)))
            with context.Pool(workers, _worker_start, (app, job)) as pool:
                for count, blocks, linked in pool.imap_unordered(_worker_chunk, _chunks(ids, size)):
                    written += blocks
                    others |= linked
                    progress(count)
        else:
            for ident in ids:
                blocks, linked = parent.providers([ident])
                written += blocks
                others |= linked
                progress(1)
        # What the providers' pages link to outside their own paths (the stylesheet, the
        # home page) is public, and written once, here.
        parent.crawler.crawl(["/", "/static/style.css"] + sorted(others), _public)
        answer = parent.crawler.fetch("/" + NOT_FOUND_FILE, status=404)
        parent.tree.write("/" + NOT_FOUND_FILE, NOT_FOUND_FILE, answer)
        written.append(parent.tree.take())
        lines: dict[str, str] = {}
        for part in written:
            lines.update(part.lines)
        _write_manifest(job, lines, rules.revised)
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
        gc.unfreeze()
    return Summary(outdir, files + 1, len(rules.tracks) + len(ids),
                   sum(w.changed for w in written), removed, time.perf_counter() - clock)


def _write_manifest(job: Job, lines: dict[str, str], revised: datetime) -> None:
    """Write manifest.json, with the same mtime rule as every other file."""
    body = manifest_text(lines, revised).encode("utf-8")
    target = job.temp / MANIFEST
    target.write_bytes(body)
    mtime, _ = _mtime(job, MANIFEST, body, hashlib.sha256(body).hexdigest())
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
    for folder in sorted((p for p in temp.rglob("*") if p.is_dir()), reverse=True):
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
