"""Builds of one OUTDIR take turns, and each compares with the site it actually replaces.

What goes wrong without the lock: a build started, paused, overtaken by a second build with other
inputs, then resumed, finished last; it had compared its files with the site it saw
at its start, so files with new bytes kept the other build's size and mtime (the same
ETag for nginx, skipped by rsync and `aws s3 sync`), and it printed "0 changed, 0
removed". Here the builds are real processes, paused with SIGSTOP and resumed with
SIGCONT, and every file of each site is checked against the site it replaced.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from calfeed.build import lock, site as build, swap

from building import (
    BUILD_ENV,
    CALFEED,
    REVISED,
    SUMMARY,
    build_args,
    cli_build,
    synthetic_roster,
    tree,
)
from serving import copy_data

# Enough providers that a build takes a moment to pause in, few enough to be quick.
ROSTER_SIZE = 40

Tree = dict[str, tuple[bytes, float, int]]


def _env() -> dict[str, str]:
    """The environment of a build process: the test secret, no other calfeed setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALFEED_")}
    env.update({k: v for k, v in BUILD_ENV.items() if v is not None})
    return env


@pytest.fixture
def start():
    """Start `calfeed build …` as a process of its own (stdout, stderr to logs.out/.err).

    Whatever the test's outcome, each process it started ends with it: resumed if
    paused, then killed if still running.
    """
    started: list[subprocess.Popen] = []

    def run(args: list[str], logs: Path) -> subprocess.Popen:
        with logs.with_suffix(".out").open("wb") as out, logs.with_suffix(".err").open("wb") as err:
            process = subprocess.Popen(CALFEED + args, env=_env(), stdout=out, stderr=err)
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait(timeout=60)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Poll until condition() holds; fail saying what never happened."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"within {seconds} s: {what}")
        time.sleep(0.005)


def temporary_trees(site: Path, pid: int | None = None) -> list[Path]:
    """The temporary trees being written next to site (by one process, if pid is given)."""
    infix = f".{site.name}{swap.TEMP_INFIX}{pid if pid else ''}"
    return [p for p in site.parent.iterdir() if p.name.startswith(infix)]


def text(logs: Path, suffix: str) -> str:
    """What a process printed on stdout (.out) or stderr (.err)."""
    return logs.with_suffix(suffix).read_text()


def assert_replaced(old: Tree, new: Tree, summary: str) -> None:
    """new replaced old as rsync needs it, and the summary line counts what changed.

    Every file whose bytes are the old file's keeps its mtime; every other file at an
    old path has a later mtime (so never both the old size and mtime); a new path has
    the revision's time. "N changed, M removed" are the true counts.
    """
    changed = [name for name in new if name != "manifest.json"
               and (name not in old or old[name][0] != new[name][0])]
    removed = [name for name in old if name != "manifest.json" and name not in new]
    counts = SUMMARY.match(summary)
    assert counts, summary
    assert (int(counts["changed"]), int(counts["removed"])) == (len(changed), len(removed))
    for name, (body, mtime, _) in new.items():
        if name not in old:
            assert mtime == REVISED, name
        elif old[name][0] == body:
            assert mtime == old[name][1], name
        else:
            assert mtime > old[name][1], name


def same_size_changes(old: Tree, new: Tree) -> int:
    """Files whose bytes changed and whose size did not: what a wrong mtime would hide."""
    return sum(1 for name, (body, _, _) in new.items() if name in old
               and old[name][0] != body and len(old[name][0]) == len(body))


@pytest.fixture
def two_inputs(data, tmp_path):
    """Two data folders: a synthetic roster, and the same without its first 10 providers."""
    roster = synthetic_roster(ROSTER_SIZE)
    (data / "providers.csv").write_text(roster, newline="")
    other = tmp_path / "other"
    copy_data(other)
    lines = roster.split("\r\n")
    (other / "providers.csv").write_text("\r\n".join(lines[:1] + lines[11:]), newline="")
    return data, other


def test_a_second_build_waits_for_the_first_and_compares_with_the_site_it_replaces(
        two_inputs, tmp_path, start):
    data, other = two_inputs
    site = tmp_path / "site"
    assert cli_build(data)(site).exit_code == 0
    original = tree(site)

    # The first build: paused once it is writing its providers' files.
    first_log = tmp_path / "first"
    first = start(build_args(site, data, "--workers", "1", today="2026-11-22"), first_log)
    wait_for(lambda: any((t / "p").is_dir() for t in temporary_trees(site, first.pid)),
             "the first build writes its providers")
    os.kill(first.pid, signal.SIGSTOP)
    try:
        # The second, with other inputs, waits for it and says for how long.
        second_log = tmp_path / "second"
        second = start(build_args(site, other, "--workers", "1", "--wait", "120",
                                  today="2026-11-23"), second_log)
        wait_for(lambda: "waiting" in text(second_log, ".err"), "the second build says it waits")
        assert text(second_log, ".err") == (
            f"calfeed build: {site} is being built by another calfeed build (pid {first.pid}); "
            f"waiting up to 120 s for it to finish (--wait SECONDS)\n")
        # A third refuses at once with --wait 0, a fourth gives up after its --wait.
        refused = subprocess.run(CALFEED + build_args(site, other, "--wait", "0"),
                                 capture_output=True, text=True, env=_env(), timeout=60)
        assert refused.returncode == 1
        assert refused.stderr == (
            f"calfeed build: another calfeed build (pid {first.pid}) is building it (it holds "
            f"{lock.path_for(site)}); --wait SECONDS waits for it to finish; "
            f"{site} is unchanged\n")
        gave_up = subprocess.run(CALFEED + build_args(site, other, "--wait", "0.5"),
                                 capture_output=True, text=True, env=_env(), timeout=60)
        assert gave_up.returncode == 1
        assert gave_up.stderr.splitlines() == [
            f"calfeed build: {site} is being built by another calfeed build (pid {first.pid}); "
            f"waiting up to 0.5 s for it to finish (--wait SECONDS)",
            f"calfeed build: another calfeed build (pid {first.pid}) still holds "
            f"{lock.path_for(site)} after 0.5 s; wait longer with --wait SECONDS; "
            f"{site} is unchanged"]
        # Nobody but the first build has touched anything.
        assert second.poll() is None
        assert temporary_trees(site) == temporary_trees(site, first.pid)
        assert tree(site) == original
        # Hold the second while the first finishes, to see the site the first leaves.
        os.kill(second.pid, signal.SIGSTOP)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=120) == 0, text(first_log, ".err")
    between = tree(site)
    os.kill(second.pid, signal.SIGCONT)
    assert second.wait(timeout=120) == 0, text(second_log, ".err")
    last = tree(site)

    assert_replaced(original, between, text(first_log, ".out"))
    assert_replaced(between, last, text(second_log, ".out"))
    # What the attack hid: pages one day apart, with the same size and new bytes.
    assert same_size_changes(original, between) >= ROSTER_SIZE // 2
    assert same_size_changes(between, last) >= ROSTER_SIZE // 2
    assert int(SUMMARY.match(text(second_log, ".out"))["removed"]) >= 10 * 30
    assert temporary_trees(site) == []


def test_a_site_swapped_in_behind_the_builds_back_is_what_it_compares_with(
        two_inputs, tmp_path, monkeypatch):
    # Something that takes no lock (an older calfeed, a person with mv) replaces the
    # site while a build runs: the build's mtimes and counts follow what it replaces.
    data, other = two_inputs
    site, intruder = tmp_path / "site", tmp_path / "intruder"
    assert cli_build(data)(site).exit_code == 0
    assert cli_build(other)(intruder, today="2026-11-23").exit_code == 0
    assert cli_build(other)(intruder, today="2026-11-24").exit_code == 0  # some later mtimes
    replaced = tree(intruder)
    providers = build._Builder.providers
    swapped = []

    def swap_then_render(self, ids):
        if not swapped:
            intruder.rename(tmp_path / "aside")
            site.rename(intruder)
            (tmp_path / "aside").rename(site)
            swapped.append(True)
        return providers(self, ids)

    monkeypatch.setattr(build._Builder, "providers", swap_then_render)
    result = cli_build(data)(site, today="2026-11-22")
    assert result.exit_code == 0, result.output
    assert swapped
    assert_replaced(replaced, tree(site), result.stdout)
    assert same_size_changes(replaced, tree(site)) >= ROSTER_SIZE // 2


def test_a_killed_builds_lock_file_locks_nothing(two_inputs, tmp_path, start):
    data, _ = two_inputs
    site = tmp_path / "site"
    logs = tmp_path / "killed"
    killed = start(build_args(site, data, "--workers", "1"), logs)
    wait_for(lambda: any((t / "p").is_dir() for t in temporary_trees(site, killed.pid)),
             "the build writes its providers")
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)
    assert lock.holder(lock.path_for(site)) == killed.pid
    result = cli_build(data)(site, "--wait", "0")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert temporary_trees(site) == []
    assert lock.holder(lock.path_for(site)) == os.getpid()
