"""Rendering: each demo provider's feed by calfeed, beside the bare icalendar program.

Three timings per provider, interleaved call by call so that noise hits them alike:
`ical.render` alone (the events already scheduled), the bare program on the same
events, and the end-to-end path a cold request takes (schedule + header + render).
calfeed's render caches nothing between calls that the bare program rebuilds, so the
ratio compares like with like (the VTIMEZONE is built once by both).
"""

from __future__ import annotations

import gc
import statistics
import time
from datetime import date
from typing import Any

from calfeed.core import engine, rules, tokens
from calfeed.outputs import ical

from . import bare_icalendar as bare
from .common import BASE_URL, RULES, SECRET, TODAY, ratio, summary


def provider_inputs(loaded: rules.Rules, profile: Any, today: date) -> tuple[list, Any]:
    """A provider's events and calendar header, with its private page URL as the server has it."""
    token = tokens.token(SECRET.encode(), profile.id, profile.rotation)
    return (engine.schedule(loaded, profile, today),
            engine.calendar(loaded, profile, f"{BASE_URL}/p/{token}/"))


def bare_zones(events: list) -> dict:
    """The VTIMEZONEs a feed uses, built once for the bare program (calfeed's RRULE form)."""
    latest: dict[str, int] = {}
    for event in events:
        if event.precision == "time":
            key = event.start.tzinfo.key
            latest[key] = max(latest.get(key, 0), event.start.year)
    return bare.zones([ical.vtimezone(key, year).to_ical() for key, year in latest.items()])


def clear_render_caches() -> None:
    """Forget whatever calfeed's renderer remembers between feeds (not the VTIMEZONE)."""
    clear = getattr(ical, "clear_caches", None)
    if clear is not None:
        clear()


def time_render(events: list, calendar: Any) -> float:
    """Seconds for one cold `ical.render`."""
    clear_render_caches()
    start = time.process_time()
    ical.render(events, calendar)
    return time.process_time() - start


def run(repeat: int) -> dict[str, Any]:
    """Median render times per demo provider and the ratios; `repeat` calls of each."""
    today = date.fromisoformat(TODAY)
    loaded = rules.load(RULES)
    providers: dict[str, Any] = {}
    gc.collect()
    for profile in loaded.providers.values():
        events, calendar = provider_inputs(loaded, profile, today)
        zones = bare_zones(events)
        clear_render_caches()
        same = ical.render(events, calendar) == bare.render(events, calendar, zones)
        times: dict[str, list[float]] = {"render": [], "bare": [], "schedule": [], "end_to_end": []}
        for _ in range(repeat):
            times["render"].append(time_render(events, calendar))
            start = time.process_time()
            bare.render(events, calendar, zones)
            times["bare"].append(time.process_time() - start)
            start = time.process_time()
            engine.schedule(loaded, profile, today)
            times["schedule"].append(time.process_time() - start)
            clear_render_caches()
            start = time.process_time()
            fresh = engine.schedule(loaded, profile, today)
            ical.render(fresh, engine.calendar(loaded, profile, calendar.url))
            times["end_to_end"].append(time.process_time() - start)
        medians = {k: statistics.median(v) for k, v in times.items()}
        providers[profile.id] = {
            "events": len(events), "feed_bytes": len(ical.render(events, calendar)),
            "same_bytes_as_bare": same,
            **{f"{k}_ms": summary([x * 1e3 for x in v]) for k, v in times.items()},
            "ratio_to_icalendar": ratio(medians["render"], medians["bare"]),
            "ratio_end_to_end_to_icalendar": ratio(medians["end_to_end"], medians["bare"]),
            "ratio_schedule_to_render": ratio(medians["schedule"], medians["render"]),
        }
    each = list(providers.values())
    return {
        "repeat": repeat,
        "providers": providers,
        "same_bytes": all(p["same_bytes_as_bare"] for p in each),
        "render_ms_median": statistics.median(p["render_ms"]["median"] for p in each),
        "bare_ms_median": statistics.median(p["bare_ms"]["median"] for p in each),
        "ratio_to_icalendar_providers": summary([p["ratio_to_icalendar"] for p in each]),
        "ratio_to_icalendar": statistics.median(p["ratio_to_icalendar"] for p in each),
        "ratio_end_to_end_to_icalendar": statistics.median(
            p["ratio_end_to_end_to_icalendar"] for p in each),
        "ratio_schedule_to_render": statistics.median(p["ratio_schedule_to_render"] for p in each),
    }
