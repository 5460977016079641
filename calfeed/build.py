"""`calfeed build OUTDIR`: every page and feed of the site as plain files for a static host.

The site is built *from* the Flask app, so it is byte-identical to what the server
answers: each URL is fetched from the app (a plain WSGI call) and its body written at the
URL's path (`…/` → `…/index.html`). The URLs are the home page, every track's and every
provider's page and feeds, and every same-site path the written pages link to (the
stylesheet, each event's own .ics); never a query string, which a static host ignores.

Determinism: the same inputs give the same bytes, and a file whose bytes did not change
keeps its modification time, so rsync and `aws s3 sync` upload only what changed.
Atomicity: the tree is written into a temporary directory next to OUTDIR and swapped in
with one rename (renameat2 RENAME_EXCHANGE where the kernel has it, else two renames); a
failed or interrupted build removes its temporary directory and leaves OUTDIR as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urljoin, urlsplit

import click

from . import create_app, tokens

MANIFEST = "manifest.json"
NOT_FOUND_FILE = "404.html"
# Below this many providers, starting processes costs more than it saves.
PARALLEL_MIN_PROVIDERS = 200
# Providers per task handed to a worker: small enough for a smooth progress bar and
# an even split, large enough that passing results back costs nothing.
CHUNK = 25
TEMP_PREFIX = ".build-"


class BuildError(Exception):
    """A build that cannot finish; the message is one line a person can act on."""


@dataclass(frozen=True)
class File:
    """One written file, as the manifest lists it."""

    path: str  # relative to the site's root, "/"-separated
    sha256: str
    size: int
    content_type: str
    changed: bool  # new, or different bytes than the previous site had there


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
class _Job:
    """Where and how a renderer writes; inherited by forked workers."""

    temp: Path  # the tree being written
    previous: Path | None  # the site being replaced, for unchanged files' mtimes
    hashes: dict[str, str]  # its manifest: path -> sha256, so unchanged files need no reading
    revised: float  # the rules revision, as a timestamp: the mtime of new files
    started: float  # the build's start: the mtime of files whose bytes changed


# ---------------------------------------------------------------------------
# Fetching and writing
# ---------------------------------------------------------------------------

# href="…" and src="…" as Jinja writes them (autoescaped, so quotes in text never
# look like attributes). A regular expression reads them about 9 times faster than
# html.parser (measured on provider pages), and pages are most of what a build reads.
_LINK = re.compile(r"""\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def links(html: str) -> list[str]:
    """The href and src values of an HTML page, in document order."""
    return [unescape(a or b) for a, b in _LINK.findall(html) if a or b]


def file_path(path: str) -> str:
    """The file a URL path is written to: `/a/` → `a/index.html`, `/a.ics` → `a.ics`."""
    name = unquote(path).lstrip("/")
    if not name or name.endswith("/"):
        name += "index.html"
    parts = name.split("/")
    # A path the app answered cannot point outside the tree, but a crafted link could.
    if any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise BuildError(f"cannot write URL path {path!r} as a file (expected plain path segments)")
    return name


def _mtime(job: _Job, name: str, body: bytes, digest: str) -> tuple[float, bool]:
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


class _Renderer:
    """Fetches URLs from one app and writes their bodies into the temporary tree."""

    def __init__(self, app: Any, job: _Job) -> None:
        self.app = app
        # A GET as a WSGI server would pass it: one plain call of the app per URL costs
        # about half of what the test client's request building and wrapping did
        # (bench/run, issue 6: a 1,000-provider build 18.3 -> 14.9 s of CPU).
        self.environ = {
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        self.job = job
        site = app.config["CALFEED_BASE_URL"].rstrip("/")
        split = urlsplit(site)
        self.site = site
        self.origin = (split.scheme, split.netloc)
        self.root = split.path.rstrip("/")  # the site's path prefix: links carry it, routes do not
        self.written: set[str] = set()
        self.files: list[File] = []
        self.folders: set[Path] = set()

    def fetch(self, path: str, status: int = 200, referrer: str | None = None) -> Any:
        """GET one app path and check its status."""
        environ = {**self.environ, "wsgi.input": io.BytesIO(),
                   # WSGI's PATH_INFO: the decoded path's bytes as latin-1 (PEP 3333).
                   "PATH_INFO": unquote_to_bytes(path).decode("latin-1")}
        response = self.app.response_class.from_app(self.app, environ, buffered=True)
        if response.status_code != status:
            via = f" (linked from {referrer})" if referrer else ""
            raise BuildError(f"GET {path}{via} answered {response.status_code}, expected {status}")
        return response

    def write(self, path: str, name: str, response: Any) -> None:
        """Write a response body at name inside the tree, with a deterministic mtime."""
        body = response.get_data()
        target = self.job.temp / name
        if target.parent not in self.folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.folders.add(target.parent)
        target.write_bytes(body)
        digest = hashlib.sha256(body).hexdigest()
        mtime, changed = _mtime(self.job, name, body, digest)
        os.utime(target, (mtime, mtime))
        self.written.add(path)
        self.files.append(File(name, digest, len(body), response.headers.get("Content-Type", ""),
                               changed))

    def local(self, link: str, page: str) -> str | None:
        """The app path a link on page points to, if a static host can serve it."""
        url = urlsplit(urljoin(self.site + page, link))
        if (url.scheme, url.netloc) != self.origin or url.query:
            return None  # another site, webcal://, or a query string only a server answers
        if not (url.path + "/").startswith(self.root + "/"):
            return None
        return url.path[len(self.root):] or "/"

    def crawl(self, seeds: Iterable[str], mine: Callable[[str], bool]) -> set[str]:
        """Fetch and write seeds and every page they link to that mine() accepts.

        Returns the linked paths that mine() refused, for someone else to write.
        """
        queue = [(p, None) for p in seeds]
        # self.written (every path so far) is looked up, never copied: a copy per
        # provider made a 10,000-provider build quadratic (issue 6).
        seen = {p for p, _ in queue}
        others: set[str] = set()
        while queue:
            path, referrer = queue.pop(0)
            if path in self.written:
                continue
            response = self.fetch(path, referrer=referrer)
            self.write(path, file_path(path), response)
            if response.mimetype != "text/html":
                continue
            for link in links(response.get_data(as_text=True)):
                target = self.local(link, path)
                if target is None or target in seen or target in self.written:
                    continue
                seen.add(target)
                if mine(target):
                    queue.append((target, path))
                else:
                    others.add(target)
        return others


def _private(path: str) -> bool:
    """Whether a path belongs to a provider (written by whoever renders that provider)."""
    return path.startswith("/p/")


def _provider_seeds(app: Any, profile: Any) -> list[str]:
    """A provider's page and feed paths."""
    from . import web  # the app knows the secret its tokens come from

    urls = web.provider_urls(app, profile, "")
    return [urls["page"], urls["ics"], urls["json"], urls["csv"]]


def _render_providers(renderer: _Renderer, ids: list[str]) -> set[str]:
    """Write the given providers' pages, feeds and event files; return public paths they link."""
    from . import web

    rules = web.snapshot(renderer.app).rules
    others: set[str] = set()
    for ident in ids:
        others |= renderer.crawl(_provider_seeds(renderer.app, rules.providers[ident]), _private)
    return others


# ---------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------

_worker: _Renderer | None = None


def _worker_start(app: Any, job: _Job) -> None:
    """In each forked worker: its own renderer on the app inherited from the parent."""
    global _worker
    # Ctrl-C reaches the whole process group; the parent alone decides what happens,
    # and ends the workers with SIGTERM, which must simply end them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _worker = _Renderer(app, job)


def _worker_chunk(ids: list[str]) -> tuple[int, list[File], set[str]]:
    """Render a share of the providers in a worker; hand back what it wrote."""
    assert _worker is not None
    _worker.files = []
    others = _render_providers(_worker, ids)
    return len(ids), _worker.files, others


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


def build(outdir: str | Path, config: dict[str, Any], workers: int = 1,
          progress: Callable[[int], None] = lambda n: None,
          on_total: Callable[[int], None] = lambda n: None) -> Summary:
    """Write the whole site to outdir, atomically; raise BuildError, OSError or KeyboardInterrupt."""
    from . import web

    started = time.time()
    clock = time.perf_counter()
    outdir = Path(outdir).resolve()  # a symlinked OUTDIR: build next to what it points at
    previous = _previous_site(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(outdir)
    config = site_config(config)
    try:
        app = create_app(config)
        snap = web.snapshot(app)
    except tokens.SecretError as err:
        raise BuildError(str(err)) from None
    except web.Unavailable as err:
        raise BuildError("; ".join(err.problems) or "the rules did not load") from None
    rules = snap.rules
    assert rules is not None
    temp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}{TEMP_PREFIX}{os.getpid()}-",
                                 dir=outdir.parent))
    try:
        job = _Job(temp, previous, _hashes(previous), rules.revised.timestamp(),
                   float(int(started)))
        ids = sorted(rules.providers)
        on_total(len(rules.tracks) + len(ids))
        parent = _Renderer(app, job)
        others: set[str] = set()
        files: list[File] = []
        for track in rules.tracks:
            subject = web.track_subject(rules, track)
            seeds = [subject.page()] + [subject.feed(fmt) for fmt in ("ics", "json", "csv")]
            others |= parent.crawl(seeds, lambda p: not _private(p))
            progress(1)
        if workers > 1 and len(ids) >= PARALLEL_MIN_PROVIDERS \
                and "fork" in multiprocessing.get_all_start_methods():
            # Fork: the workers inherit the loaded app, so every process renders
            # from the very same rules, roster and secret.
            context = multiprocessing.get_context("fork")
            size = max(1, min(CHUNK, len(ids) // (workers * 4)))
            with context.Pool(workers, _worker_start, (app, job)) as pool:
                for count, written, linked in pool.imap_unordered(_worker_chunk, _chunks(ids, size)):
                    files += written
                    others |= linked
                    progress(count)
        else:
            for chunk in _chunks(ids, 1):
                others |= _render_providers(parent, chunk)
                progress(len(chunk))
        # What the providers' pages link to outside their own paths (the stylesheet, the
        # home page) is public, and written once, here.
        parent.crawl(["/", "/static/style.css"] + sorted(others), lambda p: not _private(p))
        response = parent.fetch("/" + NOT_FOUND_FILE, status=404)
        parent.write("/" + NOT_FOUND_FILE, NOT_FOUND_FILE, response)
        files = _unique(files + parent.files)
        _write_manifest(job, files, rules.revised)
        removed = _count_removed(previous, job.hashes, {f.path for f in files})
        _settle_directories(temp, job.revised)
        _swap(temp, outdir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return Summary(outdir, len(files) + 1, len(rules.tracks) + len(ids),
                   sum(f.changed for f in files), removed, time.perf_counter() - clock)


def _unique(files: list[File]) -> list[File]:
    """Files by path, sorted; two renderers writing one path must have written the same bytes."""
    by_path: dict[str, File] = {}
    for f in files:
        if f.path in by_path and by_path[f.path].sha256 != f.sha256:
            raise BuildError(f"{f.path}: two different bodies for one path")
        by_path[f.path] = f
    return [by_path[p] for p in sorted(by_path)]


def manifest_text(files: list[File], revised: datetime) -> str:
    """manifest.json: every file with its sha256, size and content type, sorted by path.

    One file per line, so that two builds' manifests diff line by line.
    """
    lines = [json.dumps({"path": f.path, "sha256": f.sha256, "size": f.size,
                         "content_type": f.content_type}, ensure_ascii=False) for f in files]
    stamp = json.dumps(revised.isoformat().replace("+00:00", "Z"))
    return ('{\n "revised": ' + stamp + ',\n "files": [\n  ' + ",\n  ".join(lines)
            + ("\n ]\n}\n" if lines else "]\n}\n"))


def _write_manifest(job: _Job, files: list[File], revised: datetime) -> None:
    """Write manifest.json, with the same mtime rule as every other file."""
    body = manifest_text(files, revised).encode("utf-8")
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


def _count_removed(previous: Path | None, hashes: dict[str, str], kept: set[str]) -> int:
    """How many files of the previous site the new one no longer has."""
    if previous is None:
        return 0
    if hashes:
        return len(set(hashes) - kept)
    old = {str(p.relative_to(previous)) for p in previous.rglob("*") if p.is_file()}
    return len(old - kept - {MANIFEST})


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


def _remove_stale_temps(outdir: Path) -> None:
    """Remove temporary trees that killed builds (kill -9, power loss) left behind."""
    pattern = re.compile(re.escape(f".{outdir.name}{TEMP_PREFIX}") + r"(\d+)-")
    for entry in outdir.parent.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process id is running (then its temporary tree is not ours to remove)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# renameat2(2) flag: exchange two paths atomically (Linux 3.15+, glibc 2.28+).
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # an old kernel or a filesystem without it: two renames instead
    raise OSError(code, os.strerror(code), str(b))


def _swap(temp: Path, outdir: Path) -> None:
    """Put the new tree at outdir; the old one ends up at temp and is deleted."""
    if not outdir.exists():
        temp.rename(outdir)
        return
    if not _exchange(temp, outdir):
        # Two renames: for a moment between them OUTDIR does not exist.
        aside = temp.with_name(temp.name + "-old")
        outdir.rename(aside)
        try:
            temp.rename(outdir)
        except BaseException:
            aside.rename(outdir)  # put the old site back before giving up
            raise
        aside.rename(temp)
    shutil.rmtree(temp, ignore_errors=True)


# ---------------------------------------------------------------------------
# The command line's side: progress, messages, exit codes
# ---------------------------------------------------------------------------

def _show_progress() -> bool:
    """A progress bar only for a person watching a terminal, never in CI logs."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def _interrupt(signum: int, frame: Any) -> None:
    """`kill` (SIGTERM) stops a build as Ctrl-C does: cleaned up, the old site kept."""
    raise KeyboardInterrupt


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while the build runs."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _progress() -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    """(update, set_total) for a click progress bar on stderr, or no-ops."""
    if not _show_progress():
        yield (lambda n: None), (lambda n: None)
        return
    state: dict[str, Any] = {}

    def total(n: int) -> None:
        bar = click.progressbar(length=n, label="calendars", file=sys.stderr,
                                show_pos=True, show_eta=False)
        state["bar"] = bar.__enter__()

    try:
        yield (lambda n: state["bar"].update(n) if "bar" in state else None), total
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)


def run(outdir: str, rules_path: str, providers_path: str | None, base_url: str | None,
        today: date, workers: int | None, secret: str | None = None) -> None:
    """`calfeed build`: build, print one summary line, or one line saying why not and exit."""
    if not base_url:
        click.echo("calfeed build: no --base-url (or CALFEED_BASE_URL): subscribe links will "
                   "point at http://localhost", err=True)
        base_url = "http://localhost"
    config = {"CALFEED_RULES": rules_path, "CALFEED_PROVIDERS": providers_path,
              "CALFEED_BASE_URL": base_url.rstrip("/"), "CALFEED_TODAY": today.isoformat()}
    if secret:
        config["CALFEED_SECRET_KEY"] = secret
    target = Path(outdir)
    try:
        with _terminate_as_interrupt(), _progress() as (update, total):
            summary = build(target, config, workers or os.cpu_count() or 1, update, total)
    except KeyboardInterrupt:
        click.echo(f"calfeed build: interrupted; {target} is unchanged", err=True)
        sys.exit(130)
    except BuildError as err:
        click.echo(f"calfeed build: {err}; {target} is unchanged", err=True)
        sys.exit(1)
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        click.echo(f"calfeed build: {where}{err.strerror or err}; {target} is unchanged", err=True)
        sys.exit(1)
    click.echo(f"{summary.outdir}: {summary.files} files, {summary.calendars} calendars "
               f"({summary.changed} changed, {summary.removed} removed) in "
               f"{summary.seconds:.1f} s")
