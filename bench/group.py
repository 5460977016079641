"""A group of 1,500 providers (an accreditor's size): its feed against the feeds it replaces, and its page.

The roster is bench/roster.py's, every provider in one group. Each pass, interleaved:
the group's feed cold (groups.schedule + its header + ical.render, the renderer's caches
cleared), then every member's own feed cold (engine.schedule + header + render), summed;
then the group's page, as the server answers it (its schedule forgotten first). Shared
steps are one event in the group's feed, so it must cost less than the feeds it
replaces, in bytes and in time.
"""

from __future__ import annotations

import gc
import time
from datetime import date
from pathlib import Path
from typing import Any

from calfeed import create_app
from calfeed.core import calendars, groups, rules
from calfeed.outputs import ical
from calfeed.serve import web

from . import roster
from .common import BASE_URL, RULES, SECRET, TODAY, log, ratio, summary
from .render import clear_render_caches, provider_inputs

GROUP = "everyone"


def data_folder(workdir: Path, size: int) -> Path:
    """The bundled rules, a synthetic roster of `size` providers, all in one group."""
    folder = workdir / f"group-{size}"
    folder.mkdir(exist_ok=True)
    text = RULES.read_text(encoding="utf-8").replace(
        'roster = "providers.csv"\n', 'roster = "providers.csv"\ngroups = "groups.csv"\n', 1)
    (folder / "rules.toml").write_text(text, encoding="utf-8")
    lines = roster.roster(size).split("\r\n")
    lines = [lines[0] + ",groups"] + [line + f",{GROUP}" for line in lines[1:] if line]
    (folder / "providers.csv").write_text("\r\n".join(lines) + "\r\n", newline="")
    (folder / "groups.csv").write_text(f"id,name\n{GROUP},Every provider ({size})\n",
                                       encoding="utf-8")
    return folder


def group_feed(loaded: rules.Rules, today: date) -> tuple[float, bytes, int, int]:
    """CPU seconds for the group's feed cold, its bytes, its events, and its providers' copies."""
    group = loaded.groups[GROUP]
    clear_render_caches()
    gc.collect()
    start = time.process_time()
    schedule = groups.schedule(loaded, group, today)
    calendar = groups.calendar(loaded, schedule, f"{BASE_URL}/g/group/")
    body = ical.render(schedule.feed(), calendar)
    seconds = time.process_time() - start
    dated = [s for s in schedule.events if s.event.precision != "undated"]
    return seconds, body, len(dated), sum(len(s.providers) for s in dated)


def provider_feeds(loaded: rules.Rules, today: date) -> tuple[float, int, int]:
    """CPU seconds for every member's own feed cold, their bytes, and their events."""
    seconds, size, events = 0.0, 0, 0
    gc.collect()
    for ident in loaded.groups[GROUP].members:
        profile = loaded.providers[ident]
        clear_render_caches()
        start = time.process_time()
        found, calendar = provider_inputs(loaded, profile, today)
        body = ical.render(found, calendar)
        seconds += time.process_time() - start
        size += len(body)
        events += sum(e.precision != "undated" for e in found)
    return seconds, size, events


def page(app: Any, path: str) -> tuple[float, int]:
    """CPU seconds for the group's page as the server answers it, its schedule not yet known."""
    client = app.test_client()
    snap = web.snapshot(app)
    snap.schedules.clear()
    snap.group_schedules.clear()
    clear_render_caches()
    gc.collect()
    start = time.process_time()
    response = client.get(path)
    seconds = time.process_time() - start
    assert response.status_code == 200, response.status_code
    return seconds, len(response.data)


def run(workdir: Path, size: int, repeat: int) -> dict[str, Any]:
    """The group's feed and page, and the sum of its members' feeds, `repeat` passes."""
    today = date.fromisoformat(TODAY)
    folder = data_folder(workdir, size)
    loaded = rules.load(folder / "rules.toml", today=today)
    assert len(loaded.groups[GROUP].members) == size
    app = create_app({"CALFEED_RULES": str(folder / "rules.toml"), "CALFEED_TODAY": TODAY,
                      "CALFEED_SECRET_KEY": SECRET, "CALFEED_BASE_URL": BASE_URL,
                      "CALFEED_RELOAD_INTERVAL": float("inf"),
                      "INSTANCE_PATH": str(folder / "instance")})
    with app.app_context():
        snap = web.snapshot(app)
        path = calendars.group_of(web.state(app).secret, snap.rules.groups[GROUP]).page()
    times: dict[str, list[float]] = {"group_feed": [], "provider_feeds": [], "page": []}
    body = b""
    page_bytes = provider_bytes = events = copies = provider_events = 0
    for n in range(repeat):
        seconds, body, events, copies = group_feed(loaded, today)
        times["group_feed"].append(seconds * 1e3)
        seconds, provider_bytes, provider_events = provider_feeds(loaded, today)
        times["provider_feeds"].append(seconds * 1e3)
        seconds, page_bytes = page(app, path)
        times["page"].append(seconds * 1e3)
        log(f"group of {size:,}: pass {n + 1}/{repeat}: feed {times['group_feed'][-1]:.0f} ms, "
            f"{size:,} feeds {times['provider_feeds'][-1]:.0f} ms, page {times['page'][-1]:.0f} ms")
    ratios = [ratio(g, p) for g, p in zip(times["group_feed"], times["provider_feeds"])]
    return {
        "providers": size,
        "feed_bytes": len(body),
        "feed_events": events,
        "feed_event_providers": copies,  # the provider copies of steps the events stand for
        "providers_feed_bytes": provider_bytes,
        "providers_feed_events": provider_events,
        "feed_ms": summary(times["group_feed"]),
        "providers_feed_ms": summary(times["provider_feeds"]),
        "page_ms": summary(times["page"]),
        "page_bytes": page_bytes,
        "ratio_feed_time_to_providers_rounds": summary(ratios),
        "ratio_feed_time_to_providers": summary(ratios)["median"],
        "ratio_feed_bytes_to_providers": ratio(len(body), provider_bytes),
        "page_ms_median": summary(times["page"])["median"],
    }
