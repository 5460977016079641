"""Expansion: `engine.schedule` over synthetic rosters of growing size (bench/roster.py).

Each run times every provider of every roster once, the sizes interleaved run by run;
the growth ratio time(10 n) / time(n) is taken within a run, then its median.
"""

from __future__ import annotations

import gc
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from calfeed.core import engine, rules
from calfeed.outputs import ical

from . import roster
from .common import RULES, TODAY, log, ratio, summary
from .render import clear_render_caches, provider_inputs


def load_roster(workdir: Path, count: int) -> rules.Rules:
    """The bundled rules with a synthetic roster of count providers, loaded (and validated) by calfeed."""
    path = workdir / f"roster-{count}.csv"
    if not path.exists():
        path.write_text(roster.roster(count), newline="")
    return rules.load(RULES, path)


def expand_all(loaded: rules.Rules, today: date) -> float:
    """CPU seconds to schedule every provider of a roster once."""
    profiles = list(loaded.providers.values())
    gc.collect()
    # CPU time: on a shared machine, other processes' turns on the core are not ours.
    start = time.process_time()
    for profile in profiles:
        engine.schedule(loaded, profile, today)
    return time.process_time() - start


def mean_render(loaded: rules.Rules, today: date, sample: int) -> tuple[float, float]:
    """Mean CPU seconds to expand (schedule + header), and to render cold, the first `sample` providers."""
    scheduled = rendered = 0.0
    profiles = list(loaded.providers.values())[:sample]
    for profile in profiles:
        start = time.process_time()
        events, calendar = provider_inputs(loaded, profile, today)
        scheduled += time.process_time() - start
        clear_render_caches()
        start = time.process_time()
        ical.render(events, calendar)
        rendered += time.process_time() - start
    return scheduled / len(profiles), rendered / len(profiles)


def run(workdir: Path, sizes: list[int], runs: int, render: dict[str, Any] | None) -> dict[str, Any]:
    """Providers per second at each size and the growth from one size to the next."""
    today = date.fromisoformat(TODAY)
    loaded: dict[int, rules.Rules] = {}
    load_seconds: dict[str, float] = {}
    for size in sizes:
        start = time.perf_counter()
        loaded[size] = load_roster(workdir, size)
        load_seconds[str(size)] = time.perf_counter() - start
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for number in range(runs):
        log(f"expansion: run {number + 1}/{runs} over {', '.join(f'{s:,}' for s in sizes)} providers")
        for size in sizes:
            times[size].append(expand_all(loaded[size], today))
    growth: dict[str, Any] = {}
    for small, large in zip(sizes, sizes[1:]):
        per_run = [ratio(b, a) for a, b in zip(times[small], times[large])]
        growth[f"{small}_to_{large}"] = {"size_factor": large / small, **summary(per_run),
                                         "ratio_normalized_to_10x": statistics.median(per_run)
                                         * 10 / (large / small)}
    # The target is about 10x steps: the worst step's median growth, scaled to 10x.
    worst = max((g["ratio_normalized_to_10x"] for g in growth.values()), default=float("nan"))
    sample_size = min(200, sizes[0])
    schedule_s, render_s = mean_render(loaded[sizes[0]], today, sample_size)
    out: dict[str, Any] = {
        "sizes": sizes, "runs": runs,
        "load_seconds": load_seconds,
        "seconds": {str(size): summary(times[size]) for size in sizes},
        "providers_per_s": {str(size): summary([size / t for t in times[size]]) for size in sizes},
        "growth": growth,
        "ratio_10x_providers_time": worst,
        "roster_sample": {"providers": sample_size, "schedule_ms_mean": schedule_s * 1e3,
                          "render_ms_mean": render_s * 1e3,
                          "ratio_schedule_to_render": ratio(schedule_s, render_s)},
    }
    # One provider's expansion against its own render: the demo providers' medians.
    out["ratio_schedule_to_render"] = (render["ratio_schedule_to_render"] if render
                                       else out["roster_sample"]["ratio_schedule_to_render"])
    for size in sizes:
        del loaded[size]
    return out
