"""rules.toml as a whole: its top-level keys, `[notify]`, and the checks across its tables."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from calfeed.core.cohorts import cohort_track
from calfeed.core.model import Accreditor, Progress, Track
from calfeed.core.rules.accreditors import ACCREDITORS
from calfeed.core.rules.progress import progress
from calfeed.core.rules.report import Report, show
from calfeed.core.rules.schema import Key, Read, Table, Type, read, table_of
from calfeed.core.rules.text import TEXT
from calfeed.core.rules.tracks import TRACKS
from calfeed.core.rules.values import WEEKDAY, aware_time, typed

# Email reminders go out this many days before each deadline where the provider acts.
DEFAULT_LEAD_DAYS = (30, 7, 1)
MAX_LEAD_DAYS = 366
MAX_LEADS = 5
LEADS_EXPECTED = (f"an array of up to {MAX_LEADS} whole numbers of days, 0-{MAX_LEAD_DAYS}, "
                  "like [30, 7, 1]")
# The groups' weekly digest: on this weekday, everything due this many weeks ahead.
DEFAULT_DIGEST_DAY = "monday"
DEFAULT_DIGEST_WEEKS = 5
MAX_DIGEST_WEEKS = 26


@dataclass(frozen=True)
class RulesFile:
    """rules.toml as read: what `load` makes Rules of, and checks the roster against."""

    revised: datetime | None  # aware, UTC
    roster: str | None
    groups: str | None  # the groups file, relative to rules.toml
    tracks: dict[str, Track]  # the published cohorts' tracks first
    accreditors: dict[str, Accreditor]
    progress: Progress | None
    lead_days: tuple[int, ...]
    digest_day: str
    digest_weeks: int
    # The first Next Decision Date the roster may name, and the accreditors it may name:
    # taken from the tables as written, so that one broken cohort or accreditor does not
    # also make every provider naming it an error.
    first_ndd: date | None
    accreditor_ids: frozenset[str]
    # The dated progress-report steps, as written: the roster's step columns.
    steps: tuple[str, ...] = ()


def _days_before(report: Report, where: str, value: Any) -> tuple[int, ...] | None:
    """How many days before a deadline the email reminders go out, latest first."""
    items = typed(report, where, value, list, LEADS_EXPECTED)
    if items is None:
        return None
    days: list[int] = []
    for n, item in enumerate(items, 1):
        number = typed(report, f"{where}[{n}]", item, int, LEADS_EXPECTED)
        if number is None:
            continue
        if not 0 <= number <= MAX_LEAD_DAYS:
            report.add(f"{where}[{n}]", f"{number} days", LEADS_EXPECTED)
        elif number in days:
            report.add(f"{where}[{n}]", f"{number} days given twice", "each lead time once")
        else:
            days.append(number)
    if len(items) > MAX_LEADS:
        report.add(where, f"{len(items)} lead times", LEADS_EXPECTED)
    return tuple(sorted(days, reverse=True))


def _digest_weeks(report: Report, where: str, value: Any) -> int | None:
    """How many weeks ahead a group's digest looks: a whole number, 1-26."""
    expected = f"a whole number of weeks, 1-{MAX_DIGEST_WEEKS}"
    weeks = typed(report, where, value, int, expected)
    if weeks is not None and not 1 <= weeks <= MAX_DIGEST_WEEKS:
        report.add(where, f"{weeks} weeks", expected)
        return None
    return weeks


NOTIFY = Table("[notify]", (
    Key("days_before", Type(f"array of up to {MAX_LEADS} whole numbers, 0–{MAX_LEAD_DAYS}, each once",
                            _days_before),
        "how many days before each deadline where the provider acts `calfeed notify` emails its "
        "contacts; `[]`: no reminders, only the notices of moved and newly published dates",
        default=DEFAULT_LEAD_DAYS, default_text="`[30, 7, 1]`",
        example="`days_before = [30, 7, 1]`"),
    Key("digest_day", WEEKDAY, "the weekday `calfeed notify` sends each group its "
        "weekly digest (see \"Groups\")", default=DEFAULT_DIGEST_DAY, default_text="`\"monday\"`",
        example='`digest_day = "monday"`'),
    Key("digest_weeks", Type(f"integer 1-{MAX_DIGEST_WEEKS}", _digest_weeks),
        "how many weeks ahead a group's digest lists what is due",
        default=DEFAULT_DIGEST_WEEKS, default_text=f"`{DEFAULT_DIGEST_WEEKS}`",
        example="`digest_weeks = 5`"),
))

TOP = Table("top level", (
    Key("revised", Type("date-time with offset", aware_time),
        "when the rules last changed; feeds take DTSTAMP and the calendar's LAST-MODIFIED from "
        "it, and servers their Last-Modified. **Raise it whenever you change a date**, so "
        "subscribed calendars update (`calfeed diff` refuses an edit that does not)",
        required=True, example="`revised = 2026-11-21T00:00:00Z`"),
    Key("roster", TEXT, "the roster CSV, relative to rules.toml (`CALFEED_PROVIDERS` / "
        "`--providers` override it)", example='`roster = "providers.csv"`'),
    Key("groups", TEXT, "the groups CSV (see \"Groups\"), relative to rules.toml "
        "(`CALFEED_GROUPS` / `--groups` override it)", example='`groups = "groups.csv"`'),
    Key("tracks", TRACKS, "one `[tracks.ID]` table per published schedule (yearly, or one-off)",
        required=True, default={}),
    Key("progress", Type("table", progress), "progress reports: the steps once, and one entry "
        "per published cohort (below)"),
    Key("accreditors", ACCREDITORS, "one `[accreditors.ID]` table per Recognized Accreditor",
        default={}),
    Key("notify", Type("table", table_of(NOTIFY, lambda report, where, found: found)),
        "the email reminders: `days_before`, and the groups' digest, below"),
))


def _toml(report: Report, text: str) -> dict[str, Any] | None:
    """The TOML document, or None (and a problem placed by line and column)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        # tomllib's message ends "(at line L, column C)": move the place to the front.
        match = re.search(r"\(at line (\d+), column (\d+)\)$", str(err))
        where = f"line {match[1]}, column {match[2]}" if match else "TOML syntax"
        message = str(err)[: match.start()].strip() if match else str(err)
        report.add(where, f"TOML syntax error: {message}", "valid TOML")
    except RecursionError:
        # tomllib recurses once per level of nested arrays and inline tables.
        report.add("TOML syntax", "arrays or inline tables nested too deeply to read",
                   "valid TOML nested a few levels deep")
    except ValueError as err:
        # An integer of thousands of digits: Python refuses to convert it.
        report.add("TOML syntax", f"unreadable value: {str(err).split(';')[0]}", "valid TOML")
    return None


def _with_cohorts(report: Report, found: Read, written: dict[str, Any]) -> dict[str, Track]:
    """The tracks, after one track per published cohort (an id neither may share)."""
    tracks: dict[str, Track] = found["tracks"] or {}
    made: Progress | None = found["progress"]
    if made is None:
        return tracks
    raw_tracks = written.get("tracks")
    cohort_tracks = {}
    for n, cohort in enumerate(made.cohorts, 1):
        if cohort.id in tracks or (isinstance(raw_tracks, dict) and cohort.id in raw_tracks):
            report.add(f"progress.cohorts[{n}].id", f"id {show(cohort.id)} is also a track",
                       "an id no [tracks.ID] table has")
        cohort_tracks[cohort.id] = cohort_track(made, cohort)
    # Progress reports first, as ACCME's publications come.
    return {**cohort_tracks, **tracks}


def _first_ndd(written: dict[str, Any]) -> date | None:
    """The earliest Next Decision Date a cohort names, read from the tables as written."""
    raw = written.get("progress")
    cohorts = raw.get("cohorts") if isinstance(raw, dict) else None
    named = [c.get("next_decision_date") for c in (cohorts if isinstance(cohorts, list) else [])
             if isinstance(c, dict)]
    days = [d for d in named if isinstance(d, date) and not isinstance(d, datetime)]
    return min(days) if days else None


def _dated_steps(written: dict[str, Any]) -> tuple[str, ...]:
    """The ids of the dated [[progress.steps]] (those without `when`), read as written."""
    raw = written.get("progress")
    steps = raw.get("steps") if isinstance(raw, dict) else None
    return tuple(dict.fromkeys(
        s["id"] for s in (steps if isinstance(steps, list) else [])
        if isinstance(s, dict) and isinstance(s.get("id"), str) and "when" not in s))


def parse_rules(report: Report, text: str) -> RulesFile | None:
    """Parse and check rules.toml text; None if it is not TOML (every problem in `report`)."""
    written = _toml(report, text)
    if written is None:
        return None
    found = read(report, "", written, TOP)
    assert found is not None  # a TOML document is a table
    revised = found["revised"]
    raw_accreditors = written.get("accreditors")
    notify = found["notify"]

    def notified(name: str, default: Any) -> Any:
        value = notify[name] if notify is not None else None
        return default if value is None else value

    return RulesFile(
        revised=revised and revised.astimezone(timezone.utc), roster=found["roster"],
        groups=found["groups"],
        tracks=_with_cohorts(report, found, written), accreditors=found["accreditors"] or {},
        progress=found["progress"],
        lead_days=notified("days_before", DEFAULT_LEAD_DAYS),
        digest_day=notified("digest_day", DEFAULT_DIGEST_DAY),
        digest_weeks=notified("digest_weeks", DEFAULT_DIGEST_WEEKS),
        first_ndd=_first_ndd(written),
        accreditor_ids=frozenset(raw_accreditors if isinstance(raw_accreditors, dict) else ()),
        steps=_dated_steps(written))
