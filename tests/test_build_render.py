"""The static build writes, at every URL, exactly what the server answers there.

A provider's files are rendered without a request (calfeed/build/render.py); these
tests are the condition on which that is allowed. An independent crawl of the app
(Flask's test client, links read with html.parser) starts where a visitor can start:
the home page, and each calendar's page, feeds and reminder calendars (the README's
URL scheme: a provider's are known only to whoever has its link). It follows every
same-site link without a query string, and the built site must hold exactly the files
it found, each with the status, bytes and Content-Type the app answered.
"""

from __future__ import annotations

import json
import random
from collections import deque
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

from calfeed.build import render
from calfeed.core import reminders
from calfeed.core import rules as rules_module

from building import (
    BASE_URL,
    PROVIDERS,
    TRACKS,
    app_like_the_build,
    cli_build,
    synthetic_roster,
    token_of,
    tree,
)

# A 1,000-provider site, and how many of its providers are compared file by file.
ROSTER_SIZE = 1000
SAMPLE = 60


@dataclass(frozen=True)
class Served:
    """What the app answered at a URL."""

    status: int
    content_type: str
    body: bytes


class _Links(HTMLParser):
    """The href and src values of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("href", "src") and value]


def calendar_urls(base: str) -> list[str]:
    """A calendar's page, feeds, reminder calendars and their pages (README: static export)."""
    return ([f"{base}/", f"{base}.ics", f"{base}.json", f"{base}.csv"]
            + [url for choice in reminders.CHOICES
               for url in (f"{base}/remind-{choice.id}.ics", f"{base}/remind-{choice.id}/")])


def served_site(client: Any, seeds: list[str], follow=lambda path: True) -> dict[str, Served]:
    """Every same-site URL path reachable from seeds that follow() accepts, as the app answers it."""
    origin = urlsplit(BASE_URL)
    queue = deque(seeds)
    seen = set(seeds)
    answers: dict[str, Served] = {}
    while queue:
        path = queue.popleft()
        response = client.get(path)
        answers[path] = Served(response.status_code, response.headers["Content-Type"],
                               response.data)
        if response.mimetype != "text/html":
            continue
        parser = _Links()
        parser.feed(response.get_data(as_text=True))
        for link in parser.found:
            url = urlsplit(urljoin(BASE_URL + path, link))
            if (url.scheme, url.netloc) != (origin.scheme, origin.netloc) or url.query:
                continue  # another site, webcal://, or what only a server answers
            if url.path not in seen and follow(url.path):
                seen.add(url.path)
                queue.append(url.path)
    return answers


def file_name(path: str) -> str:
    """The file a URL path is served from on a static host: `/a/` → `a/index.html`."""
    name = path.lstrip("/")
    return name + "index.html" if not name or name.endswith("/") else name


def manifest(site: Path) -> dict[str, dict[str, Any]]:
    """The site's manifest entries by path."""
    return {e["path"]: e for e in json.loads((site / "manifest.json").read_text())["files"]}


def assert_same(site: Path, answers: dict[str, Served], entries: dict[str, dict[str, Any]]) -> None:
    """Each answer is a 200 whose bytes and Content-Type are the built file's."""
    for path, answer in answers.items():
        name = file_name(path)
        assert answer.status == 200, path
        assert (site / name).read_bytes() == answer.body, name
        assert entries[name]["content_type"] == answer.content_type, name


def provider_files(site: Path, token: str) -> set[str]:
    """The files of a built site that belong to one provider."""
    folder = site / "p"
    return {str(p.relative_to(site)) for p in folder.glob(f"{token}.*")} | {
        str(p.relative_to(site)) for p in (folder / token).rglob("*") if p.is_file()}


def test_every_file_of_the_demo_site_is_the_servers_answer(data, tmp_path):
    site = tmp_path / "site"
    result = cli_build(data)(site)
    assert result.exit_code == 0, result.output
    client = app_like_the_build(data).test_client()
    seeds = ["/"] + [url for track in TRACKS for url in calendar_urls(f"/tracks/{track}")] + [
        url for provider in PROVIDERS for url in calendar_urls(f"/p/{token_of(provider)}")]
    answers = served_site(client, seeds)
    entries = manifest(site)
    # The very files, no more, no fewer: each page's "add this one" links, the
    # stylesheet and icon, every reminder page; the manifest and the 404 page besides.
    assert set(entries) == {file_name(p) for p in answers} | {"404.html"}
    on_disk = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert on_disk == set(entries) | {"manifest.json"}
    assert len(answers) == 208  # the README's 210 files: these, the 404 page, the manifest
    assert_same(site, answers, entries)
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert (site / "404.html").read_bytes() == missing.data
    assert entries["404.html"]["content_type"] == missing.headers["Content-Type"]


@pytest.fixture(scope="module")
def large_site(tmp_path_factory):
    """A 1,000-provider site from bench/roster.py, built with two workers; and its data folder."""
    from serving import copy_data

    folder = tmp_path_factory.mktemp("large")
    data = folder / "data"
    copy_data(data)
    (data / "providers.csv").write_text(synthetic_roster(ROSTER_SIZE), newline="")
    site = folder / "site"
    result = cli_build(data)(site, "--workers", "2")
    assert result.exit_code == 0, result.output
    return site, data


def sample(data: Path) -> list[Any]:
    """SAMPLE roster providers, drawn the same way every run, with every kind among them."""
    loaded = rules_module.load(data / "rules.toml", data / "providers.csv")
    profiles = sorted(loaded.providers.values(), key=lambda p: p.id)
    chosen = random.Random(17).sample(profiles, SAMPLE)
    # Each shape a provider's calendar can take is in the sample (else the draw is changed).
    assert len({p.next_decision_date for p in chosen}) == 3
    assert {p.enduring_materials for p in chosen} == {True, False}
    assert {p.accreditor for p in chosen} == {None, "cma"}
    assert any(p.rotation for p in chosen)
    assert any('"' in p.name or "," in p.name for p in chosen)
    assert any(not p.name.isascii() for p in chosen)
    return chosen


def test_a_sample_of_a_large_site_is_the_servers_answer(large_site):
    site, data = large_site
    client = app_like_the_build(data).test_client()
    entries = manifest(site)
    for profile in sample(data):
        token = token_of(profile.id, profile.rotation)
        mine = f"/p/{token}"
        answers = served_site(client, calendar_urls(mine),
                              follow=lambda path: path.startswith((mine + "/", mine + ".")))
        # Its page links to its own files and the site's; the site's are checked below.
        assert provider_files(site, token) == {file_name(p) for p in answers}, profile.id
        assert_same(site, answers, entries)


def test_a_large_site_holds_every_provider_and_the_sites_own_pages(large_site):
    site, data = large_site
    client = app_like_the_build(data).test_client()
    loaded = rules_module.load(data / "rules.toml", data / "providers.csv")
    tokens = {token_of(p.id, p.rotation) for p in loaded.providers.values()}
    pages = {p.parent.name for p in (site / "p").glob("*/index.html")}
    assert pages == tokens and len(pages) == ROSTER_SIZE
    assert {p.name.split(".")[0] for p in (site / "p").iterdir()} == tokens
    # The site's own pages, whole: what the home page and the tracks lead to.
    seeds = ["/"] + [url for track in TRACKS for url in calendar_urls(f"/tracks/{track}")]
    answers = served_site(client, seeds, follow=lambda path: not path.startswith("/p/"))
    entries = manifest(site)
    public = {name for name in entries if not name.startswith("p/")}
    assert public == {file_name(p) for p in answers} | {"404.html"}
    assert_same(site, answers, entries)


def test_a_shape_is_shared_only_where_it_renders_the_same_bytes(data, tmp_path, monkeypatch):
    # Normally the texts are rendered once per shape; where a shape's first provider
    # does not come out byte-identical, that shape's providers are each rendered
    # the direct way, and the site is the same.
    (data / "providers.csv").write_text(synthetic_roster(40), newline="")
    rendered: list[str] = []
    text = render.Renderer.text

    def counted(self, kind, subject, events, calendar):
        if render.MARK not in subject.base:
            rendered.append(subject.profile.id)
        return text(self, kind, subject, events, calendar)

    monkeypatch.setattr(render.Renderer, "text", counted)
    shared = tmp_path / "shared"
    assert cli_build(data)(shared).exit_code == 0
    shapes = len(set(rendered))
    assert len(rendered) == shapes * len(render.TEXTS) and shapes < 20
    # Wrong values to fill in, and reminders that never fire: nothing can be shared.
    monkeypatch.setattr(render, "values", lambda subject: (b"wrong",) * len(render.FORMS))
    monkeypatch.setattr(render, "_alarms", lambda events, triggers: [lambda event: ()] * 3)
    rendered.clear()
    direct = tmp_path / "direct"
    assert cli_build(data)(direct).exit_code == 0
    assert len(set(rendered)) == 40
    assert tree(direct) == tree(shared)
