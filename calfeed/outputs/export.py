"""The JSON and CSV twins of a feed: the engine's events as plain data.

Reads events and the calendar header only: everything a row says is in the event.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
from datetime import date, datetime
from typing import Any

from calfeed.core import wording
from calfeed.core.model import Calendar, Change, Day, Event

# What a person reads first, in words and in values a spreadsheet parses (an ISO date,
# a 24-hour time); then the fields a program matches on, named as in the JSON.
CSV_COLUMNS = ("Date", "Last day", "Time", "Time zone", "When", "Step", "Who acts", "Status",
               "Changes", "Schedule", "Details", "Link",
               "uid", "track", "cycle", "milestone", "precision", "start")
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


def replaced_dict(event: Event) -> dict[str, Any] | None:
    """The estimate a published date replaced: `was` as `start` is written, its precision, who
    published the date, and the sentence pages say; None if it replaced no other estimate."""
    replaced = event.replaced
    if replaced is None:
        return None
    return {"was": _iso(replaced.was), "precision": replaced.precision,
            "by": event.authority, "note": wording.replaced_words(event)}


def event_dict(event: Event) -> dict[str, Any]:
    """One event as the JSON contract lays it out."""
    return {
        "uid": event.uid, "track": event.track, "track_name": event.track_name,
        "cycle": event.cycle, "milestone": event.milestone, "title": wording.title(event),
        "bare_title": event.bare_title, "caveats": list(event.caveats),
        "data_year": event.data_year,
        "start": _iso(event.start), "end": _iso(event.end), "precision": event.precision,
        "status": event.status, "actor": event.actor, "description": event.description,
        "url": event.url, "when": event.when,
        "links": [{"title": link.title, "url": link.url} for link in event.links],
        "changes": [change_dict(c) for c in event.changes],
        "replaced": replaced_dict(event),
    }


def calendar_dict(calendar: Calendar) -> dict[str, Any]:
    """A calendar's header as JSON."""
    return {"uid": calendar.uid, "name": calendar.name, "description": calendar.description,
            "revised": wording.utc_stamp(calendar.revised),
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


def csv_row(event: Event) -> dict[str, str | None]:
    """One event as a spreadsheet row: its local day (and time, and zone) apart, inclusive."""
    start = event.start
    first = last = clock = zone = None
    if isinstance(start, datetime):
        # The deadline's own local day and time, never converted to the reader's zone.
        first = last = start.date().isoformat()
        clock = f"{start:%H:%M}"
        zone = wording.zone_name(start)
    elif isinstance(start, date):
        first = last = start.isoformat()
        if event.precision == "month":
            # A month is all of it: the last day is inclusive, never the next month's first.
            last = start.replace(day=calendar.monthrange(start.year, start.month)[1]).isoformat()
    return {
        "Date": first, "Last day": last, "Time": clock, "Time zone": zone, "When": wording.when(event),
        # "Estimated" is said once, in Status; other caveats stay with the title.
        "Step": wording.title(event, estimated=False), "Who acts": wording.actor_label(event.actor),
        "Status": wording.status_label(event.status),
        # The moves in words, newest first, then the estimate the publication replaced.
        "Changes": " ".join([wording.change_words(c, event.start, event.precision)
                             for c in reversed(event.changes)]
                            + [wording.replaced_words(event) or ""]).strip(),
        "Schedule": wording.schedule(event),
        "Details": event.description, "Link": event.url,
        "uid": event.uid, "track": event.track, "cycle": event.cycle,
        "milestone": event.milestone, "precision": event.precision, "start": _iso(start),
    }


def people_order(events: list[Event], today: date) -> list[Event]:
    """Events in the order a coordinator acts on them: what is ahead first, then the past.

    Upcoming steps soonest first; the steps without a date; the passed steps most recent
    first; last, the undated steps of a cohort whose every date has passed (its fee), as
    the page folds them away with it. Steps due together keep ACCME's order.
    """
    def cycle(event: Event) -> tuple[str, str]:
        return (event.track, event.cycle)

    dated = [e for e in events if e.start is not None]
    upcoming = [e for e in dated if not e.passed(today)]
    # A stable sort, even reversed: the steps of one deadline stay in ACCME's order.
    past = sorted((e for e in dated if e.passed(today)), key=lambda e: e.sort_key, reverse=True)
    finished = {cycle(e) for e in dated} - {cycle(e) for e in upcoming}
    undated = [e for e in events if e.start is None]
    return (upcoming + [e for e in undated if cycle(e) not in finished] + past
            + [e for e in undated if cycle(e) in finished])


def to_csv(events: list[Event], today: date) -> str:
    """The CSV twin: a header row, then one line per event (people_order), for spreadsheets."""
    out = io.StringIO()
    # The byte-order mark is how Excel knows the file is UTF-8 ("–" in ACCME's
    # text would otherwise come out garbled); other spreadsheets skip it.
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in people_order(events, today):
        row = csv_row(event)
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()
