"""Fetch a site from its WSGI app, following the links of its pages: the static build's crawler.

The build fetches the site's own pages this way (the home page, the tracks, the
stylesheet and icon, the 404 page); render.py renders the providers' files.
Each URL is one plain WSGI call of the app, as a server would make it, so the bytes
are the server's. The crawler hands each answer to a writer and follows the same-site
links of HTML answers; it never follows a query string, which a static host ignores.
"""

from __future__ import annotations

import io
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urljoin, urlsplit

# href="…" and src="…" as Jinja writes them (autoescaped, so quotes in text never
# look like attributes). A regular expression reads them about 9 times faster than
# html.parser (measured on provider pages), and pages are most of what a build reads.
_LINK = re.compile(r"""\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)



@dataclass(frozen=True)
class Answer:
    """What the app answered to a GET: the status, the Content-Type and the body."""

    status: int
    content_type: str
    body: bytes


# write(path, file name, answer): what the crawler does with each answer.
Writer = Callable[[str, str, Answer], None]


class CrawlError(Exception):
    """A URL the site cannot hold: an unexpected status, or a path that is no file name."""


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
        raise CrawlError(f"cannot write URL path {path!r} as a file (expected plain path segments)")
    return name


class Crawler:
    """Fetches paths from one WSGI app and hands each answer to a writer."""

    def __init__(self, app: Any, site: str, write: Writer) -> None:
        self.app = app
        self.write = write
        # A GET as a WSGI server would pass it: one plain call of the app per URL,
        # without a test client's request building and wrapping.
        self.environ = {
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        split = urlsplit(site)
        self.site = site
        self.origin = (split.scheme, split.netloc)
        self.root = split.path.rstrip("/")  # the site's path prefix: links carry it, routes do not
        # Paths written, which any later crawl may link to again.
        self.shared: set[str] = set()

    def fetch(self, path: str, status: int = 200, referrer: str | None = None) -> Answer:
        """GET one app path, as a WSGI server calls the app, and check its status."""
        environ = {**self.environ, "wsgi.input": io.BytesIO(),
                   # WSGI's PATH_INFO: the decoded path's bytes as latin-1 (PEP 3333).
                   "PATH_INFO": unquote_to_bytes(path).decode("latin-1")}
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append((line, headers))
            return lambda data: None  # the app returns its body instead of writing it

        body = self.app(environ, start_response)
        try:
            data = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        line, headers = started[-1]
        code = int(line.split(" ", 1)[0])
        if code != status:
            via = f" (linked from {referrer})" if referrer else ""
            raise CrawlError(f"GET {path}{via} answered {code}, expected {status}")
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        return Answer(code, content_type, data)

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
        A path written once is never fetched again, by this crawl or a later one.
        """
        queue: deque[tuple[str, str | None]] = deque((p, None) for p in seeds)
        seen = {p for p, _ in queue}
        others: set[str] = set()
        while queue:
            path, referrer = queue.popleft()
            if path in self.shared:
                continue
            answer = self.fetch(path, referrer=referrer)
            self.write(path, file_path(path), answer)
            self.shared.add(path)
            if not answer.content_type.startswith("text/html"):
                continue
            for link in links(answer.body.decode("utf-8")):
                target = self.local(link, path)
                if target is None or target in seen or target in self.shared:
                    continue
                seen.add(target)
                if mine(target):
                    queue.append((target, path))
                else:
                    others.add(target)
        return others
