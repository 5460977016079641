"""`bench/run [--quick]`: every measurement, then results.json and RESULTS.md.

1. serving    gunicorn (2 sync workers) warm feed / 304 / ceiling route / nginx, with wrk
2. render     ical.render per demo provider beside the bare icalendar program
3. expansion  engine.schedule over 1,000, 10,000 and 100,000 synthetic providers
4. build      `calfeed build` of 2,000 and 10,000 providers, one worker and all cores
5. memory     a gunicorn worker's RSS after serving each of 10,000 providers once
6. group      a group of 1,500 providers: its feed against its members' 1,500 feeds, its page

Loopback only; every load and every process is bounded in time. `--quick` runs a tiny
version of everything (one round, 1 s loads, small rosters) and still writes every key.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import expansion, group, memory, render, report, serving, staticbuild
from .common import ROOT, log, machine

SECTIONS = ("render", "expansion", "serving", "memory", "build", "group")
SCRATCH_NEEDED = 6 << 30


@dataclass(frozen=True)
class Plan:
    """How much of each measurement to do."""

    serving_rounds: int = 5
    serving_seconds: float = 3.0
    render_repeat: int = 30
    expansion_sizes: list[int] = field(default_factory=lambda: [1_000, 10_000, 100_000])
    expansion_runs: int = 2
    build_sizes: list[int] = field(default_factory=lambda: [2_000, 10_000])
    build_runs: dict[int, int] = field(default_factory=lambda: {2_000: 2, 10_000: 2})
    build_timeout: float = 900.0
    memory_providers: int = 10_000
    group_providers: int = 1_500
    group_repeat: int = 3


FULL = Plan()
QUICK = Plan(serving_rounds=1, serving_seconds=1.0, render_repeat=3,
             expansion_sizes=[100, 1_000], expansion_runs=1,
             build_sizes=[20, 200], build_runs={20: 1, 200: 1}, build_timeout=300.0,
             memory_providers=200, group_providers=150, group_repeat=1)


def ensure_tools() -> list[str]:
    """Install Debian's wrk and nginx when missing and allowed to (root with apt-get)."""
    missing = [tool for tool, path in (("wrk", "/usr/bin/wrk"), ("nginx", "/usr/sbin/nginx"))
               if shutil.which(tool) is None and not Path(path).exists()]
    if not missing:
        return []
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return [f"{', '.join(missing)} missing and not installable here (need root and apt-get)"]
    log(f"installing {' '.join(missing)} with apt-get")
    done = subprocess.run(["apt-get", "install", "-y", *missing], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                          check=False)
    return [] if done.returncode == 0 else [f"apt-get install {' '.join(missing)} failed: "
                                            f"{done.stderr.strip()[-300:]}"]


def scratch_folder() -> str | None:
    """tmpfs (/dev/shm) when it has room: builds then measure calfeed, not a shared disk."""
    try:
        stat = os.statvfs("/dev/shm")
    except OSError:
        return None
    # A 10,000-provider site is about 1.5 GB, and two may exist at once for a moment.
    return "/dev/shm" if stat.f_bavail * stat.f_frsize > SCRATCH_NEEDED else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a tiny version of everything (for the test suite)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})")
    parser.add_argument("--out", type=Path, default=ROOT / "bench",
                        help="where results.json and RESULTS.md go (default: bench/)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, rosters)")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(sorted(unknown))} "
                     f"(expected some of {', '.join(SECTIONS)})")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, write results.json and RESULTS.md; 1 if a section failed."""
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    chosen = [s for s in SECTIONS if s in args.only.split(",")]
    started = time.time()
    results: dict[str, Any] = {
        "command": " ".join(["bench/run"] + (argv if argv is not None else sys.argv[1:])),
        "quick": args.quick,
        "started": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "machine_start": machine(),
        "notes": ensure_tools(),
        "section_seconds": {},
    }
    cores = results["machine_start"]["usable_cores"]
    workdir = Path(tempfile.mkdtemp(prefix="calfeed-bench-", dir=scratch_folder()))
    results["workdir"] = str(workdir.parent)
    workdir.chmod(0o755)  # nginx's workers read the built site in here
    jobs: dict[str, Callable[[], dict[str, Any]]] = {
        "render": lambda: render.run(plan.render_repeat),
        "expansion": lambda: expansion.run(workdir, plan.expansion_sizes, plan.expansion_runs,
                                           results.get("render")),
        "serving": lambda: serving.run(workdir, plan.serving_rounds, plan.serving_seconds),
        "memory": lambda: memory.run(workdir, plan.memory_providers),
        "build": lambda: staticbuild.run(workdir, plan.build_sizes, plan.build_runs, cores,
                                         plan.build_timeout),
        "group": lambda: group.run(workdir, plan.group_providers, plan.group_repeat),
    }
    failed = False
    try:
        for name in chosen:
            log(f"{name}: start")
            clock = time.perf_counter()
            try:
                results[name] = jobs[name]()
            except Exception as err:  # one broken section must not lose the others' figures
                failed = True
                log(f"{name}: FAILED: {err}")
                results[name] = {"error": f"{type(err).__name__}: {err}",
                                 "traceback": traceback.format_exc()}
            results["section_seconds"][name] = round(time.perf_counter() - clock, 1)
            log(f"{name}: done in {results['section_seconds'][name]:.0f} s")
    finally:
        if args.keep:
            log(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["machine_end"] = machine()
    results["seconds"] = round(time.time() - started, 1)
    results["targets"] = report.targets(results)
    results = report.finite(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, allow_nan=False,
                                                      default=str) + "\n")
    (args.out / "RESULTS.md").write_text(report.markdown(results))
    log(f"wrote {args.out / 'results.json'} and {args.out / 'RESULTS.md'} "
        f"in {results['seconds']:.0f} s")
    return 1 if failed else 0
