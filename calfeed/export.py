"""The JSON and CSV twins of a feed: the engine's events as plain data."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

from . import wording
from .model import Calendar, Change, Day, Event

CSV_COLUMNS = ("start", "end", "precision", "status", "track", "cycle", "milestone", "title",
               "actor", "when", "url", "uid", "description", "changes")
# A line break as well as the tab and CR: a description may begin with one.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _iso(value: date | datetime | None) -> str | None:
    """ISO 8601: a date, or a date-time with its UTC offset."""
    return value.isoformat() if value is not None else None


def change_dict(change: Change) -> dict[str, Any]:
    """One move of an event's date: `was` as `start` is written, `announced` a date or a month."""
    announced = change.announced
    return {"was": _iso(change.was),
            "announced": (announced.day.isoformat() if isinstance(announced, Day)
                          else f"{announced.year:04d}-{announced.month:02d}"),
            "note": change.note}


def event_dict(event: Event) -> dict[str, Any]:
    """One event as the JSON contract lays it out."""
    return {
        "uid": event.uid, "track": event.track, "track_name": event.track_name,
        "cycle": event.cycle, "milestone": event.milestone, "title": event.title,
        "start": _iso(event.start), "end": _iso(event.end), "precision": event.precision,
        "status": event.status, "actor": event.actor, "description": event.description,
        "url": event.url, "when": event.when,
        "links": [{"title": link.title, "url": link.url} for link in event.links],
        "changes": [change_dict(c) for c in event.changes],
    }


def calendar_dict(calendar: Calendar) -> dict[str, Any]:
    """A calendar's header as JSON."""
    return {"uid": calendar.uid, "name": calendar.name, "description": calendar.description,
            "revised": calendar.revised.isoformat().replace("+00:00", "Z"),
            "sequence": calendar.sequence, "url": calendar.url}


def to_json(calendar: Calendar, events: list[Event]) -> str:
    """The JSON twin: {"calendar": {...}, "events": [...]}."""
    return json.dumps({"calendar": calendar_dict(calendar),
                       "events": [event_dict(e) for e in events]},
                      ensure_ascii=False, indent=2) + "\n"


def _cell(value: Any) -> str:
    """A CSV cell as text that a spreadsheet shows, never runs as a formula."""
    text = "" if value is None else str(value)
    # Excel, LibreOffice and Google Sheets run a cell starting with = + - @ (or a tab
    # or line break before one) as a formula: an apostrophe in front makes it plain text.
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(events: list[Event]) -> str:
    """The CSV twin: a header row, then one line per event, for spreadsheets."""
    out = io.StringIO()
    # The byte-order mark is how Excel knows the file is UTF-8 ("–" in ACCME's
    # text would otherwise come out garbled); other spreadsheets skip it.
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        row = event_dict(event)
        # A person reads the spreadsheet: the moves in words, newest first.
        row["changes"] = " ".join(wording.change_words(c, event.start, event.precision)
                                  for c in reversed(event.changes))
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()
