"""results.json's target verdicts and the readable RESULTS.md, from one run's figures."""

from __future__ import annotations

import math
from typing import Any

# (path in results.json, comparison, bound, what the issue asks)
TARGETS: tuple[tuple[str, str, float | None, str], ...] = (
    ("serving.ratio_warm_to_ceiling", ">=", 0.9, "warm feed ≥ 0.9 × the ceiling endpoint"),
    ("serving.ratio_304_to_warm", ">=", 0.9, "304 ≥ 0.9 × the warm 200 rate"),
    ("serving.ratio_warm_to_nginx", "", None, "warm feed / nginx (no target: the physical limit)"),
    ("render.ratio_to_icalendar", "<=", 1.25, "render ≤ 1.25 × the bare icalendar program"),
    ("expansion.ratio_10x_providers_time", "<=", 11.0, "10× the providers ≤ 11× the time"),
    ("expansion.ratio_schedule_to_render", "<", 0.1, "expanding a provider < 0.1 × rendering it"),
    ("build.ratio_all_cores_to_one", "<=", 0.65, "build, all cores ≤ 0.65 × one worker"),
    ("build.ratio_per_provider_to_render", "<=", 1.5,
     "build time per provider ≤ 1.5 × rendering its feed"),
    ("memory.worker_rss_mb_after_10k", "<=", 150.0, "worker RSS ≤ 150 MB after 10,000 providers"),
    ("group.ratio_feed_time_to_providers", "<", 1.0,
     "a 1,500-provider group's feed < the 1,500 feeds it replaces (CPU time)"),
    ("group.ratio_feed_bytes_to_providers", "<", 1.0,
     "a 1,500-provider group's feed < the 1,500 feeds it replaces (bytes)"),
    ("group.page_ms_median", "", None, "the group's page, rendered cold (ms; no target)"),
)

# Why a target is missed and what would reach it: shown in RESULTS.md only when missed.
ANALYSIS: dict[str, str] = {
    "serving.ratio_warm_to_ceiling": """\
**Why.** A warm feed is a cache hit found by its path: what separates it from the
ceiling route is the route itself (a rule with two converters,
`/p/<token>.<any(ics, json, csv):fmt>`, against a static path), the snapshot check,
the cache lookup and the conditional-request check. In-process (a WSGI call, CPU time,
warm loop) that is about 10-15 µs of a request's 60-90 µs; inside gunicorn a request
costs 250-300 µs, so the ratio moves with the machine: the rounds range widely (see
min–max) when other processes share the two cores. Compare the CPU-per-request ratio,
which does not count waiting.""",
    "serving.ratio_304_to_warm": """\
**Why.** The 304 path is the warm path plus one string comparison of If-None-Match
with the ETag; it never renders or hashes once the feed is cached. A miss here is the
machine's noise (see min–max of the rounds); compare the CPU-per-request ratio.""",
    "build.ratio_per_provider_to_render": """\
**Why.** A provider's feed is rendered once by `ical.render` (the denominator), its
three reminder calendars and ~23 one-event `.ics` reuse those VEVENT bytes, and its
page, reminder pages, JSON and CSV are filled in from its calendar shape; what remains
is writing ~33 files (about 1 ms: open, write, time, sha256 for the manifest), the
process's start, the site's own pages and the manifest. A miss of a few percent is the
machine: the build and the render sample are timed minutes apart on cores shared with
other processes (see the render passes' min–max).""",
    "build.ratio_all_cores_to_one": """\
**Why.** Two workers on two cores shared with other processes (see the load average):
when other test suites take a core, the second worker has little to run on, and the
wall-clock seconds follow the machine's load (compare the CPU seconds). The serial part
(app start, track pages, manifest, directory times) is under a second at 10,000
providers.""",
    "memory.worker_rss_mb_after_10k": """\
**Why.** The feed cache is bounded at 64 MB of bodies (store.FeedCache), plus the
roster, its token index and Python's own arenas.""",
    "expansion.ratio_10x_providers_time": """\
**Why.** `engine.schedule` is per provider with no shared state, so time grows with the
roster; a miss here is noise from a shared machine (the time is CPU time already).""",
    "render.ratio_to_icalendar": """\
**Why.** Compare the per-provider rows: calfeed's render and the bare program write the
same bytes through the same icalendar calls.""",
    "expansion.ratio_schedule_to_render": """\
**Why.** See the per-provider schedule and render columns.""",
}

# How the hot paths are kept cheap (shown in every RESULTS.md).
HOT_PATHS = """\
- **A warm feed** is cached under its path (with the builder's normalized answers and
  the reminders): a hit is answered with the cached bytes and the ETag, Last-Modified
  and Cache-Control formatted when it was rendered, without finding the calendar again
  (no token lookup, no schedule). A 304 is one string comparison of If-None-Match with
  the ETag. The cache is bounded (64 MB of bodies, 20,000 entries) and dropped at each
  reload.
- **A render** serializes the VTIMEZONE once per zone and year, the calendar header once
  per calendar and each VEVENT once per (event, revision, URL, reminders), and joins
  them: the very bytes icalendar writes for the whole calendar. An event's own .ics
  after its feed is a lookup of bytes already serialized.
- **A data load** remembers the last 32 profiles' schedules: a page, its three feeds and
  its event files expand the profile once.
- **A build** renders a provider's files without a request: its events once, its feed
  once (the reminder calendars and one-event files join the same VEVENT bytes), its
  page, reminder pages, JSON and CSV filled in from its calendar shape (rendered once
  for a stand-in provider with the same answers, and checked byte for byte against the
  shape's first provider). Each file is written through one descriptor; a provider's
  manifest lines are kept as one block; nothing per provider is remembered, so neither
  memory nor time per provider grows with the roster.
"""


def lookup(results: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    value: Any = results
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _number(value: Any) -> float | None:
    """A finite float, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """Each target: the measured median, the bound, whether it is met and by how much it misses."""
    out: dict[str, Any] = {}
    for path, op, bound, text in TARGETS:
        value = _number(lookup(results, path))
        entry: dict[str, Any] = {"value": value, "target": f"{op} {bound:g}" if bound else None,
                                 "means": text}
        if bound is not None and value is not None:
            met = {"<=": value <= bound, "<": value < bound, ">=": value >= bound}[op]
            entry["met"] = met
            # How far off, as a share of the bound: +0.12 = 12 % worse than the target.
            entry["miss"] = 0.0 if met else abs(value - bound) / bound
        else:
            entry["met"] = None
        out[path] = entry
    return out


def finite(value: Any) -> Any:
    """The same structure with NaN and infinities as None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _f(value: Any, digits: int = 2) -> str:
    """A number for a table, or –."""
    number = _number(value)
    if number is None:
        return "–"
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:.{digits}f}"


def _span(stats: Any, digits: int = 2) -> str:
    """median (min–max)."""
    if not isinstance(stats, dict):
        return _f(stats, digits)
    if stats.get("runs", 0) <= 1:
        return _f(stats.get("median"), digits)
    return f"{_f(stats.get('median'), digits)} ({_f(stats.get('min'), digits)}–{_f(stats.get('max'), digits)})"


def markdown(results: dict[str, Any]) -> str:
    """RESULTS.md: the verdicts first, then every section's figures, then the misses explained."""
    start, end = results.get("machine_start", {}), results.get("machine_end", {})
    lines = [
        "# calfeed benchmark results",
        "",
        f"Produced by `{results.get('command')}` (started {results.get('started')}, "
        f"{results.get('seconds')} s).",
        f"Machine: {start.get('cores')} cores ({start.get('usable_cores')} usable), "
        f"{start.get('platform')}, Python {start.get('python')}; load average "
        f"{' '.join(map(str, start.get('loadavg', [])))} at start, "
        f"{' '.join(map(str, end.get('loadavg', [])))} at end (1, 5, 15 min).",
        "Every figure is the median of its runs, with (min–max) beside it; every ratio is "
        "taken within one run, then its median.",
        "Time per section: " + ", ".join(f"{name} {sec:.0f} s" for name, sec in
                                        results.get("section_seconds", {}).items()) + ".",
        f"Work folder (rosters, built sites): {results.get('workdir') or 'the system temp folder'}.",
        "",
    ]
    if results.get("quick"):
        lines += ["**Quick run** (`--quick`): tiny loads and rosters, figures only show that "
                  "every part works.", ""]
    for note in results.get("notes", []):
        lines.append(f"- Note: {note}")
    lines += ["## Targets", "", "| key | target | measured | met |", "|---|---|---|---|"]
    for path, entry in results.get("targets", {}).items():
        met = {True: "yes", False: f"**no** (off by {entry.get('miss', 0) * 100:.0f} %)",
               None: "–"}[entry.get("met")]
        lines.append(f"| `{path}` | {entry.get('target') or '–'} | {_f(entry.get('value'))} | {met} |")
    lines.append("")
    lines += _serving(results.get("serving", {}))
    lines += _render(results.get("render", {}))
    lines += _expansion(results.get("expansion", {}))
    lines += _build(results.get("build", {}))
    lines += _memory(results.get("memory", {}))
    lines += _group(results.get("group", {}))
    missed = [(p, e) for p, e in results.get("targets", {}).items() if e.get("met") is False]
    if missed:
        lines += ["## Where a target is missed", ""]
        for path, entry in missed:
            lines += [f"### `{path}`: {_f(entry['value'])} against {entry['target']} "
                      f"(off by {entry['miss'] * 100:.0f} %)", "",
                      ANALYSIS.get(path, "No analysis written for this miss yet."), ""]
    lines += ["## How the hot paths are kept cheap", "", HOT_PATHS.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def _error(section: dict[str, Any], title: str) -> list[str] | None:
    """A failed or skipped section's lines, or None."""
    if not section:
        return [f"## {title}", "", "Not run.", ""]
    if "error" in section:
        first = (section["error"].splitlines() or [""])[0][:300]
        return [f"## {title}", "", f"Failed: `{first}` (results.json has the traceback)", ""]
    return None


def _serving(s: dict[str, Any]) -> list[str]:
    """The serving tables."""
    failed = _error(s, "Serving")
    if failed:
        return failed
    lines = ["## Serving", "",
             f"gunicorn, {s['gunicorn_workers']} sync workers, no access log; wrk {s['wrk']}, "
             f"{s['rounds']} rounds of {s['seconds_per_load']:g} s per load, interleaved; "
             f"the feed is {s['feed_bytes']:,} bytes.", "",
             "| load | requests/s | p50 ms | p99 ms | errors | worker CPU µs/request |",
             "|---|---|---|---|---|---|"]
    for load in s["loads"].values():
        lines.append(f"| {load['label']} | {_span(load['requests_per_s'], 0)} | "
                     f"{_span(load['p50_ms'])} | {_span(load['p99_ms'])} | {load['errors']} | "
                     f"{_span(load.get('worker_cpu_us_per_request'), 0)} |")
    lines += ["", "| ratio (per round) | median (min–max) |", "|---|---|"]
    for name, label in (("warm_to_ceiling", "a/c warm / ceiling"), ("304_to_warm", "b/a 304 / warm"),
                        ("warm_to_nginx", "a/d warm / nginx")):
        lines.append(f"| {label} | {_span(s.get(f'ratio_{name}_rounds'))} |")
    lines += ["", f"The same ratios in the gunicorn workers' CPU per request (what an answer costs, "
              f"whatever else the machine runs): ceiling / warm "
              f"{_f(s.get('ratio_warm_to_ceiling_cpu'))}, warm / 304 {_f(s.get('ratio_304_to_warm_cpu'))}."]
    if s.get("nginx_same_bytes") is not None:
        lines.append("")
        lines.append(f"nginx served the very bytes gunicorn did: "
                     f"{'yes' if s['nginx_same_bytes'] else 'no'}.")
    for note in s.get("notes", []):
        lines.append(f"- {note}")
    return lines + [""]


def _render(r: dict[str, Any]) -> list[str]:
    """The rendering table."""
    failed = _error(r, "Rendering")
    if failed:
        return failed
    lines = ["## Rendering", "",
             f"{r['repeat']} calls each, interleaved; calfeed's output and the bare program's "
             f"are byte-identical: {'yes' if r['same_bytes'] else '**no**'}.", "",
             "| provider | events | bytes | ical.render ms | bare icalendar ms | ratio | "
             "schedule+render ms | schedule ms |", "|---|---|---|---|---|---|---|---|"]
    for ident, p in r["providers"].items():
        lines.append(f"| {ident} | {p['events']} | {p['feed_bytes']:,} | {_span(p['render_ms'])} | "
                     f"{_span(p['bare_ms'])} | {_f(p['ratio_to_icalendar'])} | "
                     f"{_span(p['end_to_end_ms'])} | {_span(p['schedule_ms'], 3)} |")
    lines += ["", f"Median ratio calfeed / bare: {_f(r['ratio_to_icalendar'])}; end to end "
              f"(schedule + header + render) / bare: {_f(r['ratio_end_to_end_to_icalendar'])}.", ""]
    return lines


def _expansion(e: dict[str, Any]) -> list[str]:
    """The expansion table."""
    failed = _error(e, "Expansion")
    if failed:
        return failed
    lines = ["## Expansion", "", f"`engine.schedule` for every provider, {e['runs']} run(s).", "",
             "| providers | seconds | providers/s | roster load s |", "|---|---|---|---|"]
    for size in e["sizes"]:
        lines.append(f"| {size:,} | {_span(e['seconds'][str(size)], 3)} | "
                     f"{_span(e['providers_per_s'][str(size)], 0)} | {_f(e['load_seconds'].get(str(size)))} |")
    lines += ["", "| growth | time ratio | scaled to 10× |", "|---|---|---|"]
    for step, g in e["growth"].items():
        lines.append(f"| {step.replace('_to_', ' → ')} ({g['size_factor']:g}×) | {_span(g)} | "
                     f"{_f(g['ratio_normalized_to_10x'])} |")
    sample = e["roster_sample"]
    lines += ["", f"One provider: expanding / rendering = {_f(e['ratio_schedule_to_render'], 3)} "
              f"(demo providers' medians); over the first {sample['providers']} roster providers "
              f"{_f(sample['schedule_ms_mean'], 3)} ms / {_f(sample['render_ms_mean'])} ms = "
              f"{_f(sample['ratio_schedule_to_render'], 3)}.", ""]
    return lines


def _build(b: dict[str, Any]) -> list[str]:
    """The build table."""
    failed = _error(b, "Static build")
    if failed:
        return failed
    lines = ["## Static build", "",
             "Fresh `calfeed build` into an empty folder each time; CPU counts the build and its "
             "forked workers; peak RSS is the largest VmHWM of the build and of each worker, polled "
             "every 20 ms. The render is a cold `ical.render` of a provider's feed, the mean "
             "over the roster's first 100 providers: the median of passes before and after the "
             "builds (their min–max in brackets).", "",
             "| providers | workers | seconds | CPU s | files | MB written | files/s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    for size, entry in b["builds"].items():
        for key, w in entry.items():
            if key.startswith("workers_"):
                lines.append(f"| {int(size):,} | {key[8:]} | {_span(w['seconds'])} | "
                             f"{_span(w.get('cpu_seconds'))} | {w['files']:,} | "
                             f"{w['bytes'] / 1e6:,.0f} | {_span(w['files_per_s'], 0)} | "
                             f"{_span(w['peak_rss_mb'], 0)} |")
    lines += ["", "| providers | all cores / one (wall) | per provider, 1 worker: wall / CPU | "
              "render ms (CPU, cold) | per provider / render: CPU (wall) |", "|---|---|---|---|---|"]
    for size, entry in b["builds"].items():
        lines.append(f"| {int(size):,} | {_span(entry['ratio_all_cores_to_one'])} | "
                     f"{entry['seconds_per_provider_one_worker'] * 1e3:.1f} / "
                     f"{entry['cpu_seconds_per_provider_one_worker'] * 1e3:.1f} ms | "
                     f"{_f(entry['render_ms_mean_sample'])}{_passes(entry)} | "
                     f"{_f(entry['ratio_per_provider_to_render'])} "
                     f"({_f(entry['ratio_per_provider_to_render_wall'])}) |")
    return lines + [""]


def _passes(entry: dict[str, Any]) -> str:
    """The render passes' min–max, when the run recorded them."""
    passes = entry.get("render_ms_mean_sample_passes")
    return f" ({_f(passes['min'])}–{_f(passes['max'])})" if passes else ""


def _memory(m: dict[str, Any]) -> list[str]:
    """The memory figures."""
    failed = _error(m, "Memory")
    if failed:
        return failed
    return ["## Memory", "",
            f"One gunicorn sync worker served each of {m['providers']:,} providers' feeds once "
            f"({m['requests']:,} requests, {m['failures']} failures, {m['seconds']:.0f} s, "
            f"{m['requests_per_s']:.0f}/s).", "",
            f"Worker VmRSS: {m['worker_rss_mb_before']:.1f} MB after start, "
            f"{m['worker_rss_mb_after']:.1f} MB after serving them all (peak "
            f"{m['worker_peak_rss_mb']:.1f} MB).", ""]


def _group(g: dict[str, Any]) -> list[str]:
    """The group figures."""
    failed = _error(g, "A group of providers")
    if failed:
        return failed
    return ["## A group of providers", "",
            f"One group of all {g['providers']:,} providers of a bench/roster.py roster, cold "
            f"each pass (CPU time).", "",
            "| | events | provider copies | bytes | ms |", "|---|---|---|---|---|",
            f"| the group's feed | {g['feed_events']:,} | {g['feed_event_providers']:,} | "
            f"{g['feed_bytes']:,} | {_span(g['feed_ms'], 0)} |",
            f"| its members' {g['providers']:,} feeds | {g['providers_feed_events']:,} | "
            f"{g['providers_feed_events']:,} | {g['providers_feed_bytes']:,} | "
            f"{_span(g['providers_feed_ms'], 0)} |",
            f"| the group's page | | | {g['page_bytes']:,} | {_span(g['page_ms'], 0)} |", "",
            f"The group's feed / its members' feeds: time {_span(g['ratio_feed_time_to_providers_rounds'], 3)}, "
            f"bytes {_f(g['ratio_feed_bytes_to_providers'], 3)}.", ""]
