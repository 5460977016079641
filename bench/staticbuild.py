"""Static build: `calfeed build` of synthetic rosters, with one worker and with all cores.

Every build is a fresh one (a new, empty OUTDIR), run as its own process so that its
wall time, its files and its peak memory (wait4's ru_maxrss: the largest of the build
and its forked workers) are its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

from .common import BASE_URL, TODAY, calfeed_env, children, log, ratio, status_kb, summary
from .expansion import load_roster, mean_render
from .serving import BUILD_MODULE, CALFEED_CLI

SUMMARY_LINE = re.compile(r": (\d+) files, (\d+) calendars")
# Passes of the render sample before the builds of a size, and as many after.
RENDER_PASSES = 3
# Seconds to wait after removing a built site (hundreds of thousands of files).
SETTLE = 3.0


def build_once(workdir: Path, roster_csv: Path, workers: int, timeout: float) -> dict[str, Any]:
    """One fresh `calfeed build`: seconds, files, calendars, peak memory."""
    site = workdir / f"site-{roster_csv.stem}-w{workers}"
    shutil.rmtree(site, ignore_errors=True)
    command = CALFEED_CLI + ["build", str(site), "--base-url", BASE_URL, "--today", TODAY,
                             "--workers", str(workers), "--providers", str(roster_csv)]
    out, err = workdir / "build.out", workdir / "build.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=calfeed_env(), stdout=stdout, stderr=stderr,
                                   cwd=workdir, start_new_session=True)
        deadline = start + timeout
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = max(peak_kb, _high_water_kb(process.pid))
            if time.perf_counter() > deadline:
                os.killpg(process.pid, 9)
                os.wait4(process.pid, 0)
                raise RuntimeError(f"calfeed build of {roster_csv.name} took over {timeout:.0f} s")
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text() + err.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"calfeed build failed ({process.returncode}): {text[-2000:]}")
    match = SUMMARY_LINE.search(text)
    manifest = json.loads((site / "manifest.json").read_text())
    files = int(match.group(1)) if match else len(manifest["files"]) + 1
    calendars = int(match.group(2)) if match else 0
    size = sum(f["size"] for f in manifest["files"])
    shutil.rmtree(site, ignore_errors=True)
    # The kernel frees a removed tree's inodes and dentries a moment later, and charges
    # that to whichever process runs then: let it happen before the next measurement.
    time.sleep(SETTLE)
    # CPU of the build and its forked workers (wait4 counts children it waited for).
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "cpu_seconds": cpu, "files": files, "calendars": calendars,
            "bytes": size, "files_per_s": files / seconds, "peak_rss_mb": peak_kb / 1024}


def _high_water_kb(pid: int) -> int:
    """The largest VmHWM (peak RSS, kB) of a process and its children, 0 if they are gone.

    Not wait4's ru_maxrss: Linux carries a process's peak over fork and exec, so a
    build started by this benchmark would report at least the benchmark's own size.
    """
    peak = 0
    for each in [pid, *children(pid)]:
        try:
            peak = max(peak, status_kb(each, "VmHWM"))
        except (OSError, KeyError, ValueError):
            continue  # it ended meanwhile
    return peak


def run(workdir: Path, sizes: list[int], runs: dict[int, int], cores: int,
        timeout: float) -> dict[str, Any]:
    """Builds of each size with 1 worker and with all cores; the ratios of the largest."""
    if not BUILD_MODULE.exists():
        raise RuntimeError("calfeed build does not exist yet")
    today = date.fromisoformat(TODAY)
    out: dict[str, Any] = {"sizes": sizes, "cores": cores, "builds": {}}
    worker_counts = [1, cores] if cores > 1 else [1]
    for size in sizes:
        loaded = load_roster(workdir, size)
        csv = workdir / f"roster-{size}.csv"
        sample = min(100, size)
        # The feed's render is timed around the builds, a few passes before and after:
        # a sample of 100 renders takes a second, a build minutes, and the machine's
        # load moves in between; the median pass stands for the run.
        renders = [mean_render(loaded, today, sample)[1] for _ in range(RENDER_PASSES)]
        per: dict[int, list[dict[str, Any]]] = {w: [] for w in worker_counts}
        for number in range(runs.get(size, 1)):
            for workers in worker_counts:  # interleaved: 1, all, 1, all …
                log(f"build: {size:,} providers, --workers {workers} (run {number + 1})")
                per[workers].append(build_once(workdir, csv, workers, timeout))
        renders += [mean_render(loaded, today, sample)[1] for _ in range(RENDER_PASSES)]
        entry: dict[str, Any] = {}
        for workers, results in per.items():
            entry[f"workers_{workers}"] = {
                "seconds": summary([r["seconds"] for r in results]),
                "cpu_seconds": summary([r["cpu_seconds"] for r in results]),
                "files_per_s": summary([r["files_per_s"] for r in results]),
                "peak_rss_mb": summary([r["peak_rss_mb"] for r in results]),
                "files": results[0]["files"], "calendars": results[0]["calendars"],
                "bytes": results[0]["bytes"],
            }
        one = [r["seconds"] for r in per[1]]
        every = [r["seconds"] for r in per[worker_counts[-1]]]
        entry["ratio_all_cores_to_one"] = summary([ratio(b, a) for a, b in zip(one, every)])
        # Time per provider against rendering that provider's feed once (a roster sample).
        # Both sides in CPU time (the build's own and its workers'), so that a busy
        # shared machine's waits do not count; the wall-clock ratio is kept beside it.
        render_s = statistics.median(renders)
        per_provider = summary(one)["median"] / size
        cpu_per_provider = summary([r["cpu_seconds"] for r in per[1]])["median"] / size
        entry["seconds_per_provider_one_worker"] = per_provider
        entry["cpu_seconds_per_provider_one_worker"] = cpu_per_provider
        entry["render_ms_mean_sample"] = render_s * 1e3
        entry["render_ms_mean_sample_passes"] = summary([r * 1e3 for r in renders])
        entry["ratio_per_provider_to_render"] = ratio(cpu_per_provider, render_s)
        entry["ratio_per_provider_to_render_wall"] = ratio(per_provider, render_s)
        out["builds"][str(size)] = entry
    largest = out["builds"][str(sizes[-1])]
    out["ratio_all_cores_to_one"] = largest["ratio_all_cores_to_one"]["median"]
    out["ratio_per_provider_to_render"] = largest["ratio_per_provider_to_render"]
    return out
