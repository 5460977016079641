"""`calfeed build OUTDIR`: the static site an operator publishes, as the Flask app would serve it."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from calfeed.build import site as build, swap
from calfeed.cli import main

from apps import SECRET, TODAY

from building import (
    BASE_URL,
    PROVIDERS,
    ROOT,
    REVISED,
    SUMMARY,
    TRACKS,
    app_like_the_build,
    cli_build,
    siblings,
    synthetic_roster,
    token_of,
    tree,
)


@pytest.fixture
def calfeed_build(data):
    """Run `calfeed build OUTDIR …` on the private data; stdout and stderr kept apart."""
    return cli_build(data)


def test_build_writes_every_page_and_feed(calfeed_build, tmp_path):
    site = tmp_path / "site"
    result = calfeed_build(site)
    assert result.exit_code == 0, result.output
    summary = SUMMARY.match(result.stdout)
    assert summary, result.stdout
    assert summary["out"] == str(site) and summary["calendars"] == "7"
    assert result.stderr == ""  # quiet: not a terminal
    for name in ("index.html", "404.html", "static/style.css", "static/favicon.svg", "manifest.json"):
        assert (site / name).is_file(), name
    for track in TRACKS:
        for name in (f"tracks/{track}/index.html", f"tracks/{track}.ics", f"tracks/{track}.json",
                     f"tracks/{track}.csv"):
            assert (site / name).is_file(), name
    for provider in PROVIDERS:
        token = token_of(provider)
        for name in (f"p/{token}/index.html", f"p/{token}.ics", f"p/{token}.json", f"p/{token}.csv"):
            assert (site / name).is_file(), name
    # The "add this one" links of a page are files too, and nothing under a query string.
    assert (site / f"p/{token_of('demo-8-month')}/events/progress-8-month/2023-11/materials-due.ics").is_file()
    assert not [p for p in site.rglob("*") if "?" in p.name]
    # Only tokens: no provider's id or name anywhere in the tree's paths.
    assert not [p for p in site.rglob("*") if "demo" in str(p.relative_to(site))]
    assert int(summary["files"]) == len(list(p for p in site.rglob("*") if p.is_file()))


def test_manifest_lists_every_file_with_its_hash(calfeed_build, tmp_path):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["revised"] == "2026-11-21T00:00:00Z"
    entries = manifest["files"]
    paths = [e["path"] for e in entries]
    assert paths == sorted(paths)
    on_disk = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    assert paths == [p for p in on_disk if p != "manifest.json"]
    for entry in entries:
        body = (site / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest(), entry["path"]
        assert entry["size"] == len(body)
    types = {e["path"]: e["content_type"] for e in entries}
    assert types["index.html"] == "text/html; charset=utf-8"
    assert types["tracks/annual-reporting.ics"] == "text/calendar; charset=utf-8"
    assert types["tracks/annual-reporting.json"] == "application/json"
    assert types["tracks/annual-reporting.csv"] == "text/csv; charset=utf-8"
    assert types["static/style.css"] == "text/css; charset=utf-8"


def test_static_home_page_explains_private_links_instead_of_the_builder(calfeed_build, tmp_path):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    home = (site / "index.html").read_text()
    assert "<form" not in home
    assert "ask your CME office" in home
    assert 'href="/tracks/annual-reporting/"' in home
    # the public calendars are subscribed to, at the site's address, never downloaded
    assert 'href="webcal://cme.example.org/tracks/annual-reporting.ics"' in home
    # A provider page offers no ?remind address, which a static host would ignore.
    page = (site / "p" / token_of("demo-8-month") / "index.html").read_text()
    assert "remind=" not in page
    assert f"webcal://cme.example.org/p/{token_of('demo-8-month')}.ics" in page


def test_build_writes_each_reminder_calendar_and_its_page(calfeed_build, data, tmp_path):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    client = app_like_the_build(data).test_client()
    for base in [f"tracks/{t}" for t in TRACKS] + [f"p/{token_of(p)}" for p in PROVIDERS]:
        page = (site / base / "index.html").read_text()
        for choice in ("1w", "2w2d", "1m1w1d"):
            feed = site / base / f"remind-{choice}.ics"
            subscribe = site / base / f"remind-{choice}" / "index.html"
            assert feed.read_bytes() == client.get(f"/{base}/remind-{choice}.ics").data
            # A cohort whose every date has passed rings never: an alarm there is no news.
            assert (b"BEGIN:VALARM" in feed.read_bytes()) == ("progress" not in base), base
            # the calendar page links to the choice's page, whose buttons give its feed
            assert f'href="/{base}/remind-{choice}/#subscribe"' in page
            assert f'href="webcal://cme.example.org/{base}/remind-{choice}.ics"' in subscribe.read_text()


def test_second_build_changes_no_byte_and_no_mtime(calfeed_build, tmp_path):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    first = tree(site)
    assert {mtime for _, mtime, _ in first.values()} == {REVISED}
    again = calfeed_build(site)
    assert again.exit_code == 0
    assert SUMMARY.match(again.stdout)["changed"] == "0"
    assert tree(site) == first
    assert site.stat().st_mtime == REVISED
    assert siblings(site) == ["data", "site"]


def test_a_changed_file_gets_a_newer_mtime_and_the_rest_keep_theirs(calfeed_build, tmp_path):
    site = tmp_path / "site"
    assert calfeed_build(site, today="2026-11-21").exit_code == 0
    result = calfeed_build(site, today="2026-11-22")
    assert result.exit_code == 0
    # The page says "N days" left: one day later it is different, with the same size
    # perhaps; the mtime must move, or rsync and nginx's ETag would miss the change.
    page = site / "p" / token_of("demo-annual") / "index.html"
    assert page.stat().st_mtime > REVISED
    assert (site / "static" / "style.css").stat().st_mtime == REVISED
    assert int(SUMMARY.match(result.stdout)["changed"]) > 0


def test_broken_rules_fail_and_leave_the_old_site(calfeed_build, data, tmp_path):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    before = tree(site)
    text = (data / "rules.toml").read_text()
    (data / "rules.toml").write_text(text.replace("deadline = true", "deadlin = true", 1))
    result = calfeed_build(site)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        f'{data / "rules.toml"}: tracks.annual-reporting.milestones[1].deadlin: unknown key "deadlin"')
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert tree(site) == before
    assert siblings(site) == ["data", "site"]


def test_a_removed_provider_disappears(calfeed_build, data, tmp_path):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    gone = token_of("demo-state")
    assert (site / "p" / gone / "index.html").is_file()
    roster = data / "providers.csv"
    roster.write_text("".join(l for l in roster.read_text().splitlines(keepends=True)
                              if not l.startswith("demo-state,")))
    result = calfeed_build(site)
    assert result.exit_code == 0
    assert SUMMARY.match(result.stdout)["calendars"] == "6"
    assert int(SUMMARY.match(result.stdout)["removed"]) >= 4
    assert not list((site / "p").glob(gone + "*"))
    assert gone not in (site / "manifest.json").read_text()
    assert (site / "p" / token_of("demo-annual") / "index.html").is_file()


def test_ctrl_c_mid_build_leaves_the_old_site_and_no_temporary_tree(calfeed_build, tmp_path,
                                                                     monkeypatch):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    before = tree(site)
    written = []
    original = build.Tree.put

    def write_then_interrupt(self, name, *args):
        # Stopped among the providers' files, after the tracks' were written.
        if len([n for n in written if n.startswith("p/")]) == 20:
            raise KeyboardInterrupt
        written.append(name)
        return original(self, name, *args)

    monkeypatch.setattr(build.Tree, "put", write_then_interrupt)
    result = calfeed_build(site, today="2026-12-01")
    assert result.exit_code == 130
    assert result.stderr == f"calfeed build: interrupted; {site} is unchanged\n"
    assert tree(site) == before
    assert siblings(site) == ["data", "site"]


def test_a_full_disk_leaves_the_old_site(calfeed_build, tmp_path, monkeypatch):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    before = tree(site)

    def full(self, name, content_type, body):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.job.temp / name))

    monkeypatch.setattr(build.Tree, "put", full)
    result = calfeed_build(site)
    assert result.exit_code == 1
    assert result.stderr.endswith(f": No space left on device; {site} is unchanged\n")
    assert len(result.stderr.splitlines()) == 1
    assert tree(site) == before
    assert siblings(site) == ["data", "site"]


def test_a_folder_that_is_not_a_site_is_never_replaced(calfeed_build, tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    result = calfeed_build(precious)
    assert result.exit_code == 1
    assert "has no manifest.json" in result.stderr
    assert (precious / "thesis.txt").read_text() == "years of work"
    assert siblings(precious) == ["data", "documents"]


def test_workers_2_build_equals_workers_1(calfeed_build, data, tmp_path, monkeypatch):
    (data / "providers.csv").write_text(synthetic_roster(30), newline="")
    # Fork even for this small roster; each worker leaves a note with its pid.
    monkeypatch.setattr(build, "PARALLEL_MIN_PROVIDERS", 2)
    notes = tmp_path / "workers"
    notes.mkdir()
    start = build._worker_start

    def noted_start(app, job):
        (notes / str(os.getpid())).touch()
        start(app, job)

    monkeypatch.setattr(build, "_worker_start", noted_start)
    one, two = tmp_path / "one", tmp_path / "two"
    first = calfeed_build(one, "--workers", "1")
    assert first.exit_code == 0, first.output
    assert not list(notes.iterdir())
    second = calfeed_build(two, "--workers", "2")
    assert second.exit_code == 0, second.output
    pids = {int(p.name) for p in notes.iterdir()}
    assert len(pids) == 2 and os.getpid() not in pids
    assert SUMMARY.match(first.stdout)["calendars"] == SUMMARY.match(second.stdout)["calendars"] == "33"
    assert tree(one) == tree(two)


def test_synthetic_roster_is_deterministic_realistic_and_valid(tmp_path):
    text = synthetic_roster(2000)
    assert text == synthetic_roster(2000)
    lines = text.split("\r\n")
    assert lines[0] == "id,name,next_decision_date,enduring_materials,accreditor,rotation"
    assert lines[1].startswith("p000001,") and lines[2000].startswith("p002000,")
    rows = [l.split(",") for l in lines[1:] if l and '"' not in l]  # quoted names have commas
    share = lambda test: sum(1 for r in rows if test(r)) / len(rows)
    assert 0.03 < share(lambda r: r[-4] == "2024-07-31") < 0.07
    assert 0.03 < share(lambda r: r[-4] == "2024-11-30") < 0.07
    assert 0.35 < share(lambda r: r[-3] == "yes") < 0.45
    assert 0.07 < share(lambda r: r[-2] == "cma") < 0.13
    roster = tmp_path / "providers.csv"
    roster.write_text(text, newline="")
    result = CliRunner().invoke(main, ["check", "--providers", str(roster)],
                                env={"CALFEED_RULES": None, "CALFEED_PROVIDERS": None})
    assert result.exit_code == 0, result.output
    assert "2000 providers" in result.output


def test_without_an_atomic_exchange_two_renames_replace_the_site(calfeed_build, data, tmp_path,
                                                                  monkeypatch):
    site = tmp_path / "site"
    assert calfeed_build(site).exit_code == 0
    monkeypatch.setattr(swap, "exchange", lambda a, b: False)  # a kernel without renameat2
    (data / "providers.csv").write_text(
        "id,name,next_decision_date,enduring_materials,accreditor\n"
        "solo,Solo Provider,,no,\n")
    result = calfeed_build(site)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (site / "p").iterdir()) == [token_of("solo"), token_of("solo") + ".csv",
                                                           token_of("solo") + ".ics", token_of("solo") + ".json"]
    assert siblings(site) == ["data", "site"]


@pytest.mark.wheel
def test_the_installed_wheel_builds_a_site(tmp_path):
    """`pip install .` (not -e) gives a calfeed whose `build` runs: the wheel carries calfeed/build/."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next(wheels.glob("calfeed-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"calfeed/build/{m}.py" for m in ("site", "render", "crawl", "swap", "lock")} <= names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    # Its dependencies from this test run's environment, after the wheel's own calfeed
    # (a plain path: that environment's editable calfeed is not put in front of it).
    purelib = Path(subprocess.run([venv / "bin" / "python", "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([venv / "bin" / "python", "-c",
                            "import calfeed.build.render as r; print(r.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(str(purelib)), where
    site = tmp_path / "site"
    done = subprocess.run([venv / "bin" / "calfeed", "build", str(site), "--base-url", BASE_URL,
                           "--today", TODAY], capture_output=True, text=True, cwd=tmp_path,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("CALFEED_")},
                               "CALFEED_SECRET_KEY": SECRET})
    assert done.returncode == 0, done.stderr
    assert SUMMARY.match(done.stdout)["files"] == "210"
    assert (site / "p" / token_of("demo-annual") / "index.html").is_file()
