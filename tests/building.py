"""What the static build's tests share: running `calfeed build`, reading a built site.

Used by test_build, test_build_render and test_build_lock.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from click.testing import CliRunner

from calfeed import create_app
from calfeed.build import site as build
from calfeed.cli import main
from calfeed.core import tokens

from apps import SECRET, TODAY, settings

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = "https://cme.example.org"
# rules.toml's `revised = 2026-11-21T00:00:00Z`: the mtime of every file of a fresh build.
REVISED = 1795219200
TRACKS = ("progress-8-month", "progress-12-month", "annual-reporting")
PROVIDERS = ("demo-8-month", "demo-12-month", "demo-annual", "demo-state")
SUMMARY = re.compile(r"^(?P<out>.+): (?P<files>\d+) files, (?P<calendars>\d+) calendars "
                     r"\((?P<changed>\d+) changed, (?P<removed>\d+) removed\) in [\d.]+ s\n$")
# `calfeed build` in a process of its own, as an operator (or a timer) starts it.
CALFEED = [sys.executable, "-c", "import sys; sys.argv[0] = 'calfeed'; "
           "from calfeed.cli import main; main()"]


def token_of(provider: str, rotation: int = 0) -> str:
    """The private token the test secret gives a provider."""
    return tokens.token(SECRET.encode(), provider, rotation)


def synthetic_roster(count: int) -> str:
    """bench/roster.py's roster of count providers."""
    spec = importlib.util.spec_from_file_location("bench_roster", ROOT / "bench" / "roster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.roster(count)


def build_args(outdir: Path, data: Path, *args: str, today: str = TODAY) -> list[str]:
    """The arguments of `calfeed build OUTDIR` on the private data."""
    return ["build", str(outdir), "--rules", str(data / "rules.toml"), "--base-url", BASE_URL,
            "--today", today, *args]


# The environment of a build: the test secret, nothing else of calfeed's from outside.
BUILD_ENV = {"CALFEED_SECRET_KEY": SECRET, "CALFEED_RULES": None, "CALFEED_PROVIDERS": None,
             "CALFEED_BASE_URL": None, "CALFEED_TODAY": None, "CI": "1"}


def cli_build(data: Path):
    """Run `calfeed build OUTDIR …` in this process on the private data; stdout and stderr kept apart."""
    runner = CliRunner()

    def run(outdir: Path, *args: str, today: str = TODAY):
        return runner.invoke(main, build_args(outdir, data, *args, today=today), env=BUILD_ENV)
    return run


def app_like_the_build(data: Path):
    """The Flask app with the settings the build renders with."""
    return create_app(build.site_config(settings(data.parent, data, CALFEED_BASE_URL=BASE_URL)))


def tree(site: Path) -> dict[str, tuple[bytes, float, int]]:
    """Every file of a site: its bytes, mtime and permissions."""
    return {str(p.relative_to(site)): (p.read_bytes(), p.stat().st_mtime, p.stat().st_mode)
            for p in sorted(site.rglob("*")) if p.is_file()}


def siblings(site: Path) -> list[str]:
    """What sits next to the site: a build must leave no temporary tree there.

    Its lock file stays (`.site.lock`, locking nothing once the build has exited).
    """
    return sorted(p.name for p in site.parent.iterdir() if p.name != f".{site.name}.lock")
