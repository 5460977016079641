"""Try to break loading: mutated rules.toml files and rosters.

Whatever a coordinator saves, `rules.load` either gives a Rules object the engine
can expand, or raises RulesError whose every line reads
`FILE: WHERE: what is wrong (expected ...)` and names the file. Never another
exception, never a traceback from `calfeed check`.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import tomllib
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from calfeed import bundled
from calfeed.core import engine, rules
from calfeed.outputs import export
from calfeed.cli import main
from calfeed.core.model import Profile
from tomlwrite import Raw, toml_document

# Reproducible and quick by default; CALFEED_FUZZ_EXAMPLES=5000 searches longer with
# a fresh seed each run (what found the crashes kept below as regression tests).
DEEPER = int(os.environ.get("CALFEED_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=DEEPER or 150, deadline=None, derandomize=not DEEPER,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=DEEPER // 4 or 40)

RULES_TEXT = bundled("rules.toml").read_text(encoding="utf-8")
RULES_BYTES = RULES_TEXT.encode("utf-8")
ROSTER_TEXT = bundled("providers.csv").read_text(encoding="utf-8")
BASE = tomllib.loads(RULES_TEXT)
ROSTER_ROWS = list(csv.reader(io.StringIO(ROSTER_TEXT)))
# The spreadsheet row of each demo provider (the header is row 1), and of a row added at the end.
ROW = {cells[0]: n for n, cells in enumerate(ROSTER_ROWS, 1)}
NEXT_ROW = len(ROSTER_ROWS) + 1
TODAY = date(2026, 11, 21)
# After the file name: WHERE, then what is wrong, then what was expected; one line.
PROBLEM = re.compile(r"[^\n]+?: [^\n]+ \(expected [^\n]+\)")
DAYS = [date(1990, 1, 1), date(2024, 1, 1), date(2026, 11, 21), date(2100, 12, 31)]


# --- the invariant ------------------------------------------------------------------------

def assert_problem_lines(problems: list[str], *files: Path | str) -> None:
    """Every problem is one printable line naming one of the files, WHERE and what was expected."""
    assert problems, "a RulesError with no problem in it"
    names = [str(f) for f in files]
    for line in problems:
        assert line.isprintable(), f"control characters in {line!r}"
        name = next((n for n in names if line.startswith(n + ": ")), None)
        assert name is not None, f"{line!r} names none of {names}"
        assert PROBLEM.fullmatch(line[len(name) + 2:]), f"{line!r} is not FILE: WHERE: ... (expected ...)"


def expand(loaded: rules.Rules) -> None:
    """Run everything downstream of a clean load: every provider, every track, every accreditor."""
    everything = tuple(loaded.tracks)
    profiles = list(loaded.providers.values()) + [
        Profile("fuzz", "Fuzz", None, None, accreditor, tracks=everything)
        for accreditor in [None, *loaded.accreditors]]
    for profile in profiles:
        header = engine.calendar(loaded, profile)
        for today in DAYS:
            events = engine.schedule(loaded, profile, today)
        export.to_json(header, events)
        export.to_csv(events, today)


def outcome(rules_path: Path, roster_path: Path | None = None) -> list[str]:
    """Load (and on success expand) the files; return the problems, [] for a clean load."""
    try:
        loaded = rules.load(rules_path, roster_path)
    except rules.RulesError as err:
        assert_problem_lines(err.problems, rules_path, *([roster_path] if roster_path else []))
        event("refused")  # --hypothesis-show-statistics: how often each way
        return err.problems
    assert isinstance(loaded, rules.Rules)
    expand(loaded)
    event("loaded and expanded")
    return []


def write(folder: Path, name: str, data: bytes | str) -> Path:
    """Write a file for one example and return its path."""
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_writer_round_trips_the_bundled_rules():
    assert tomllib.loads(toml_document(BASE)) == BASE


# --- strategies -----------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
NASTY = [
    "", " ", "provider", "accme", "accreditor", "ACCME", "enduring_materials", "off-weekend",
    "wednesday", "2024-07", "0000-01", "9999-12", "2024-13", "٢٠٢٤-٠٧", "{data_year}",
    "{data_year!r}", "{data_year!x}", "{data_year:>9999}", "{deadline:%Y}", "{data_year[0]}",
    "{", "}", "{}", "{{literal}}", "America/Chicago", "America", "America/", "Factory", "UTC",
    "../../etc/passwd", "/etc/localtime", "x" * 300, "23:59", "24:00", "7:05", "providers.csv",
    "\x00", "\x1b[31mred", "line\nbreak", "\u2028", "é", "/", "..", "a/b", "https://x.example/",
    "javascript:alert(1)", "demo-8-month", "review-fee", "enter-activity-data", "cma",
]
INTS = st.one_of(st.integers(-(2**63), 2**63 - 1),
                 st.sampled_from([0, -1, 1, 12, 13, 29, 31, 32, 1899, 2200, 2201, 3661, 9998,
                                  9999, 10000, 2**31, 2**63 - 1, -(2**63)]))
OFFSETS = st.sampled_from([timezone.utc, timezone(timedelta(hours=-12)),
                           timezone(timedelta(hours=14)), timezone(timedelta(hours=-5))])
EDGE_DAYS = st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(2024, 2, 29),
                             date(2029, 3, 31), date(1900, 1, 1)])
SCALARS = st.one_of(
    st.booleans(), INTS, st.floats(), TEXT, st.sampled_from(NASTY),
    st.dates(), EDGE_DAYS, st.datetimes(), st.datetimes(timezones=OFFSETS),
    st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59),
                     datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
                     datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1)))]),
    st.times(),
    st.sampled_from([Raw("2024-02-30"), Raw("2023-02-29T23:59:00"), Raw("9" * 30),
                     Raw("1" * 5000), Raw("[" * 3000 + "]" * 3000),
                     Raw("{a = " * 2000 + "1" + "}" * 2000)]),
)
KEYS = st.one_of(TEXT, st.sampled_from(
    ["2024", "²⁰²⁴", "٢٠٢٤", "0000", "99999", "2024.5", "dat", "Date", "id", "after", "days",
     "move", "tz", "at", "when", "month", "deadline", "only_if", "estimated", "links", "yearly",
     "published", "first_cycle", "cycle", "next_decision_date", "roster", "revised", "title",
     "progress", "steps", "cohorts", "dates", "decision", "rule", "days_before", "weekday",
     "enter-activity-data", "review-fee"]))
VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=3)
                      | st.dictionaries(KEYS, kids, max_size=3), max_leaves=6)


def all_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a nested dict/list, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += all_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += all_paths(item, prefix + (n,))
    return found


def get(data: Any, path: tuple) -> Any:
    """The value at a path."""
    for step in path:
        data = data[step]
    return data


def milestones(data: dict) -> list[dict]:
    """Every milestone table still shaped like one."""
    found = []
    tracks = data.get("tracks")
    for track in (tracks.values() if isinstance(tracks, dict) else []):
        items = track.get("milestones") if isinstance(track, dict) else None
        found += [m for m in (items if isinstance(items, list) else []) if isinstance(m, dict)]
    return found


@st.composite
def mutated_rules(draw) -> dict:
    """The bundled rules, parsed, with one to three random mutations at random places."""
    data = tomllib.loads(RULES_TEXT)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["delete", "replace", "add", "duplicate-id", "bad-date",
                                   "second-form", "relative", "set"]))
        paths = all_paths(data)
        if op in ("delete", "replace"):
            path = draw(st.sampled_from(paths[1:]))
            parent = get(data, path[:-1])
            if op == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(VALUES)
        elif op == "add":
            tables = [p for p in paths if isinstance(get(data, p), dict)]
            get(data, draw(st.sampled_from(tables)))[draw(KEYS)] = draw(VALUES)
        elif op == "bad-date":
            dated = [p for p in paths if isinstance(get(data, p), (date, datetime))]
            if dated:
                path = draw(st.sampled_from(dated))
                y, m, d = draw(st.integers(0, 9999)), draw(st.integers(0, 13)), draw(st.integers(0, 32))
                get(data, path[:-1])[path[-1]] = Raw(f"{y:04d}-{m:02d}-{d:02d}")
        else:
            found = milestones(data)
            if not found:
                continue
            one, other = draw(st.sampled_from(found)), draw(st.sampled_from(found))
            if op == "duplicate-id":
                one["id"] = other.get("id", "no-id")
            elif op == "second-form":
                one[draw(st.sampled_from(rules.DATE_FORMS))] = draw(VALUES)
            elif op == "relative":
                # Point at another milestone (maybe itself, maybe in a cycle), dropping the
                # old date form so that the relative one is the only one.
                for form in rules.DATE_FORMS:
                    one.pop(form, None)
                one["after"] = other.get("id", "no-id")
                one["days"] = draw(st.one_of(st.integers(-4000, 4000), INTS))
                if draw(st.booleans()):
                    one["move"] = draw(st.sampled_from(list(engine.WEEKDAYS) + ["off-weekend", "x"]))
            else:  # set a known key to a nasty value
                one[draw(st.sampled_from(list(rules.MILESTONE_KEYS)))] = draw(
                    st.one_of(st.sampled_from(NASTY), SCALARS))
    return data


@st.composite
def mangled_bytes(draw, original: bytes) -> bytes:
    """A file damaged the ways files get damaged: cut, spliced, re-encoded, nested deep."""
    data = original
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["truncate", "splice", "unicode", "bom", "utf-16", "latin-1",
                                   "drop-line", "double-line", "nest", "huge-int", "date"]))
        at = draw(st.integers(0, len(data)))
        lines = data.split(b"\n")
        line = draw(st.integers(0, len(lines) - 1))
        if op == "truncate":
            data = data[:at]
        elif op == "splice":
            data = data[:at] + draw(st.binary(max_size=16)) + data[at + draw(st.integers(0, 16)):]
        elif op == "unicode":
            data = data[:at] + draw(TEXT).encode("utf-8") + data[at:]
        elif op == "bom":
            data = b"\xef\xbb\xbf" + data
        elif op == "utf-16":
            data = data.decode("utf-8", "replace").encode("utf-16")
        elif op == "latin-1":
            data = data.decode("utf-8", "replace").replace("e", "é").encode("latin-1", "replace")
        elif op == "drop-line":
            data = b"\n".join(lines[:line] + lines[line + 1:])
        elif op == "double-line":
            data = b"\n".join(lines[:line + 1] + lines[line:])
        elif op == "nest":
            depth = draw(st.sampled_from([10, 500, 3000]))
            data += b"\nnest = " + b"[" * depth + b"]" * depth + b"\n"
        elif op == "huge-int":
            data += b"\nhuge = " + b"7" * draw(st.sampled_from([20, 5000])) + b"\n"
        else:
            dates = list(re.finditer(rb"\d{4}-\d{2}-\d{2}", data))
            if dates:
                hit = draw(st.sampled_from(dates))
                y, m, d = draw(st.integers(0, 9999)), draw(st.integers(0, 13)), draw(st.integers(0, 32))
                data = data[:hit.start()] + f"{y:04d}-{m:02d}-{d:02d}".encode() + data[hit.end():]
    return data


CELLS = st.one_of(TEXT, st.sampled_from([
    "", "2024-02-30", "2024-07-31", "2024-11-30", "٢٠٢٤-٠٧-٣١", "2024-W31-3", "20240731",
    "9999-12-31", "0001-01-01", "2024-7-31", "yes", "no", "maybe", "TRUE", "cma", "CMA", "../x",
    "a/b", "..", "x" * 100, "²", "1" * 7, "-1", "000001", '"', '""', "a,b", "\n", "\r\n", "\x00",
    "\ufeffid", "demo-8-month", "id", "name", "rotation", "accreditor"])).filter(
        lambda c: "\x00" not in c or len(c) == 1)


@st.composite
def mutated_roster(draw) -> str:
    """The demo roster with cells, rows and columns changed, written back as CSV or naively."""
    rows = [list(r) for r in ROSTER_ROWS]
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cell", "add-cell", "drop-cell", "duplicate-row",
                                   "blank-row", "drop-row", "header"]))
        r = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if not rows:
            rows.append([])
        row = rows[r]
        if op == "cell" and row:
            row[draw(st.integers(0, len(row) - 1))] = draw(CELLS)
        elif op == "add-cell":
            row.insert(draw(st.integers(0, len(row))), draw(CELLS))
        elif op == "drop-cell" and row:
            del row[draw(st.integers(0, len(row) - 1))]
        elif op == "duplicate-row":
            rows.insert(r, list(row))
        elif op == "blank-row":
            rows.insert(r, [])
        elif op == "drop-row":
            del rows[r]
        elif op == "header" and rows[0]:
            rows[0][draw(st.integers(0, len(rows[0]) - 1))] = draw(st.sampled_from(
                list(rules.ROSTER_COLUMNS) + ["Id", " id ", "ident", "", "next decision date"]))
    if draw(st.booleans()):
        out = io.StringIO()
        csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(rows)
        return out.getvalue()
    return "\n".join(",".join(row) for row in rows) + draw(st.sampled_from(["", "\n", "\n\n\n"]))


# --- the properties ----------------------------------------------------------------------

@st.composite
def valid_variations(draw) -> dict:
    """The bundled rules with edits a coordinator may make: these must always load."""
    data = tomllib.loads(RULES_TEXT)
    in_years = st.dates(date(1900, 1, 1), date(2200, 12, 31))
    for path in all_paths(data):
        value = get(data, path)
        # (Not the Next Decision Dates: the demo roster names them. Nor a cohort's
        # dates, which must fit between its decision and its Next Decision Date: below.)
        fixed = (path[:1] == ("revised",) or path[-1:] == ("next_decision_date",)
                 or path[:2] == ("progress", "cohorts"))
        if isinstance(value, (date, datetime)) and not fixed and draw(st.booleans()):
            day = draw(in_years)
            if isinstance(value, datetime):
                # After 4 a.m.: no zone drawn below changes its clocks then, and a time
                # that does not exist or happens twice is refused (tests/core/test_rules_clock_changes.py).
                # From 1912: before, Pago Pago kept local mean time, an offset with
                # seconds, which no VTIMEZONE gives every calendar (refused too).
                day = datetime.combine(draw(st.dates(date(1912, 1, 1), date(2200, 12, 31))),
                                       draw(st.times(time(4))).replace(microsecond=0))
            get(data, path[:-1])[path[-1]] = day
    for cohort in data["progress"]["cohorts"]:
        # Days in the steps' order, after the decision month, on or before the Next
        # Decision Date; ACCME's decision stays in that date's month.
        year, month = map(int, cohort["decision"].split("-"))
        start = date(year + month // 12, month % 12 + 1, 1)
        steps = [key for key in cohort["dates"] if key != "decision"]
        days = sorted(draw(st.lists(st.dates(start, cohort["next_decision_date"]),
                                    min_size=len(steps), max_size=len(steps))))
        cohort["dates"].update(zip(steps, days))
    yearly = data["tracks"]["annual-reporting"]
    rule = draw(st.dates(date(2001, 1, 1), date(2001, 12, 31)))
    yearly["yearly"].update(month=rule.month, day=rule.day,
                            year_offset=draw(st.integers(0, 5)),
                            move=draw(st.sampled_from(rules.MOVES)),
                            tz=draw(st.sampled_from(["America/Chicago", "Pacific/Kiritimati",
                                                     "Pacific/Pago_Pago", "Europe/London"])))
    yearly["first_cycle"] = draw(st.integers(1990, 2150))
    for track in data["tracks"].values():
        items = track["milestones"]
        for n, milestone in enumerate(items):
            anchors = [m["id"] for m in items[:n] if not {"month", "when"} & set(m)]
            if anchors and draw(st.integers(0, 3)) == 0:
                for form in rules.DATE_FORMS:
                    milestone.pop(form, None)
                milestone.update(after=draw(st.sampled_from(anchors)),
                                 days=draw(st.integers(-3660, 3660)))
                if draw(st.booleans()):
                    milestone["move"] = draw(st.sampled_from(rules.MOVES))
            milestone["actor"] = draw(st.sampled_from(rules.ACTORS))
            milestone["estimated"] = draw(st.booleans())
            if draw(st.integers(0, 4)) == 0:
                milestone["only_if"] = "enduring_materials"
    return data


@FUZZ
@given(data=valid_variations())
def test_valid_edits_always_load_and_expand(folder, data):
    assert outcome(write(folder, "rules.toml", toml_document(data)), bundled("providers.csv")) == []



@FUZZ
@given(data=mangled_bytes(RULES_BYTES))
def test_damaged_rules_file_loads_or_says_where(folder, data):
    outcome(write(folder, "rules.toml", data), bundled("providers.csv"))


@FUZZ
@given(data=mutated_rules())
def test_mutated_rules_load_or_say_where(folder, data):
    outcome(write(folder, "rules.toml", toml_document(data)), bundled("providers.csv"))


@FUZZ
@given(text=mutated_roster())
def test_mutated_roster_loads_or_says_where(folder, text):
    outcome(bundled("rules.toml"), write(folder, "providers.csv", text))


@FUZZ
@given(data=mangled_bytes(ROSTER_TEXT.encode("utf-8")))
def test_damaged_roster_file_loads_or_says_where(folder, data):
    outcome(bundled("rules.toml"), write(folder, "providers.csv", data))


@FEW
@given(data=mutated_rules(), roster=mutated_roster())
def test_check_exits_1_without_traceback(folder, data, roster):
    rules_path = write(folder, "rules.toml", toml_document(data))
    roster_path = write(folder, "providers.csv", roster)
    result = CliRunner().invoke(main, ["check", "--rules", str(rules_path),
                                       "--providers", str(roster_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 0:
        assert ": OK: " in result.stdout
        return
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert_problem_lines(result.stderr.splitlines(), rules_path, roster_path)


@pytest.mark.parametrize("data", [
    b"\xff\xfe\x00garbage",
    b"[tracks.x\n",
    b"nest = " + b"[" * 5000 + b"]" * 5000,
    RULES_BYTES.replace(b'roster = "providers.csv"', b'roster = "\\u0000"'),
], ids=["not-utf-8", "syntax", "deep-nesting", "nul-in-roster-name"])
def test_check_in_a_real_process_prints_no_traceback(tmp_path, data):
    path = write(tmp_path, "rules.toml", data)
    done = subprocess.run([sys.executable, "-c", "from calfeed.cli import main; main()", "check",
                           "--rules", str(path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    # The NUL case names the roster rules.toml points at, its NUL escaped.
    assert_problem_lines(done.stderr.splitlines(), path, tmp_path / "\\x00")


# --- inputs that once crashed load or the engine, each now one problem line -----------------

TITLE = 'title = "Accept the terms of the ACCME annual agreement"'


def edited(old: str, new: str, text: str = RULES_TEXT) -> str:
    """The bundled rules.toml (or another text) with its first `old` replaced."""
    assert old in text
    return text.replace(old, new, 1)


# A one-off track (neither yearly nor a progress-report cohort), for the checks of
# the date forms every such track may use.
ONE_OFF = RULES_TEXT + """
[tracks.one-off]
name = "A one-off schedule"
source = "The tests"

[[tracks.one-off.milestones]]
id = "first"
title = "First"
actor = "provider"
date = 2024-01-24

[[tracks.one-off.milestones]]
id = "second"
title = "Second"
actor = "accme"
date = 2024-02-07

[[tracks.one-off.milestones]]
id = "third"
title = "Third"
actor = "accme"
date = 2024-02-21
"""


@pytest.mark.parametrize("text, expected", [
    pytest.param(RULES_TEXT + "x = " + "[" * 3000 + "]" * 3000 + "\n",
                 "TOML syntax: arrays or inline tables nested too deeply to read (expected "
                 "valid TOML nested a few levels deep)", id="nesting-RecursionError"),
    pytest.param(RULES_TEXT + "x = " + "1" * 5000 + "\n",
                 "TOML syntax: unreadable value: Exceeds the limit (4300 digits) for integer "
                 "string conversion: value has 5000 digits (expected valid TOML)",
                 id="5000-digits-ValueError"),
    pytest.param(edited('tz = "America/Chicago"', 'tz = "America"'),
                 'tracks.annual-reporting.yearly.tz: unknown time zone "America" (expected an '
                 "IANA time zone such as America/Chicago)", id="zone-folder-IsADirectoryError"),
    pytest.param(edited("month = 3\n", "month = 9223372036854775807\n"),
                 "tracks.annual-reporting.yearly: month 9223372036854775807, day 31 is not a day "
                 "of every year (expected a real month and day, February 29 excepted)",
                 id="yearly-month-OverflowError"),
    pytest.param(edited("month = 3\nday = 31", "month = 2\nday = 29"),
                 "tracks.annual-reporting.yearly: month 2, day 29 is not a day of every year "
                 "(expected a real month and day, February 29 excepted)",
                 id="yearly-feb-29-engine-ValueError"),
    pytest.param(edited("year_offset = 1", "year_offset = 8000"),
                 "tracks.annual-reporting.yearly.year_offset: 8000 years (expected 0 to 5 years, "
                 "usually 1)", id="year-offset-engine-ValueError"),
    pytest.param(edited("revised = 2026-11-21T00:00:00Z", "revised = 0001-01-01T00:00:00+01:00"),
                 'revised: "0001-01-01T00:00:00+01:00" is out of range (expected a date in the '
                 "years 1900-2200)", id="revised-astimezone-OverflowError"),
    pytest.param(edited('decision = "2024-07"', 'decision = "0000-07"'),
                 'progress.cohorts[1].dates.decision: "0000-07" is out of range '
                 "(expected a month in the years 1900-2200)", id="month-year-0-engine-ValueError"),
    pytest.param(edited("enter-activity-data = 2024-01-24", "enter-activity-data = 9999-12-31"),
                 'progress.cohorts[1].dates.enter-activity-data: "9999-12-31" is out of range '
                 "(expected a date in the years 1900-2200)", id="day-end-engine-OverflowError"),
    pytest.param(edited("date = 2024-01-24", "date = 9999-12-31", ONE_OFF),
                 'tracks.one-off.milestones[1].date: "9999-12-31" is out of range '
                 "(expected a date in the years 1900-2200)", id="track-day-end-engine-OverflowError"),
    pytest.param(edited("2024 = 2025-03-31T23:59:00", "2024 = 9999-12-31T23:59:00"),
                 'tracks.annual-reporting.published.2024: "9999-12-31T23:59:00" is out of range '
                 "(expected a date in the years 1900-2200)", id="published-engine-OverflowError"),
    pytest.param(edited("2024 = 2025-03-14", '"²⁰²⁴" = 2025-03-14'),
                 'accreditors.cma.deadlines.²⁰²⁴: "²⁰²⁴" is not a year (expected a data year '
                 "such as 2024)", id="superscript-year-int-ValueError"),
    pytest.param(edited(TITLE, 'title = "Accept {data_year!x}"'),
                 'tracks.annual-reporting.milestones[1].title: formatted placeholder '
                 '"{data_year!x}" (expected a plain {name} placeholder, without ! or :)',
                 id="conversion-engine-ValueError"),
    pytest.param(edited(TITLE, 'title = "Accept {data_year:>999999999}"'),
                 'tracks.annual-reporting.milestones[1].title: formatted placeholder '
                 '"{data_year:>999999999}" (expected a plain {name} placeholder, without ! or :)',
                 id="format-spec-gigabyte-title"),
    pytest.param(edited('actor = "accme"', 'actor = "\\u001b[31m"'),
                 'progress.steps[3].actor: unknown actor "\\x1b[31m" '
                 "(expected one of: provider, accme, accreditor)", id="terminal-escape"),
    pytest.param('"" = false\n' + RULES_TEXT,
                 '"": unknown key "" (expected one of: revised, roster, groups, tracks, progress, accreditors, notify)',
                 id="empty-key-empty-place"),
    pytest.param(edited("next_decision_date = 2024-07-31", "next_decision_date = []"),
                 'progress.cohorts[1].next_decision_date: an array "[]" (expected a date '
                 "like 2024-01-24, unquoted)", id="unhashable-date-TypeError"),
])
def test_once_crashed_now_one_problem_line(tmp_path, text, expected):
    path = write(tmp_path, "rules.toml", text)
    roster = write(tmp_path, "providers.csv", "id,name\n")
    with pytest.raises(rules.RulesError) as err:
        rules.load(path, roster)
    assert err.value.problems == [f"{path}: {expected}"]


def test_a_key_with_a_newline_stays_on_one_line(tmp_path):
    path = write(tmp_path, "rules.toml", edited("deadline = true", '"dead\\nline" = true'))
    with pytest.raises(rules.RulesError) as err:
        rules.load(path, write(tmp_path, "providers.csv", "id,name\n"))
    assert err.value.problems[0] == (
        f'{path}: tracks.annual-reporting.milestones[1]."dead\\nline": unknown key "dead\\nline", '
        'did you mean "deadline"? (expected one of: id, title, description, actor, links, '
        "only_if, estimated, date, month, at, tz, when, after, days, move, deadline, changes)")


def test_a_roster_name_with_a_nul_is_a_problem_not_a_crash(tmp_path):
    path = write(tmp_path, "rules.toml", edited('roster = "providers.csv"', 'roster = "\\u0000"'))
    with pytest.raises(rules.RulesError) as err:
        rules.load(path)
    # refused as a name with a control character, before any file is opened
    assert err.value.problems == [
        f'{path}: roster: NUL character (U+0000) at character 1 in "\\x00" '
        "(expected text on one line, without line breaks or other control characters)"]


def test_a_superscript_rotation_is_a_problem_not_a_crash(tmp_path):
    roster = write(tmp_path, "providers.csv", "id,name,rotation\nsup,Superscript,²\n")
    with pytest.raises(rules.RulesError) as err:
        rules.load(bundled("rules.toml"), roster)
    assert err.value.problems == [
        f'{roster}: row 2 (id "sup"), column rotation: "²" (expected a whole number 0-999999, '
        "raised by one to replace the private URL)"]


def test_events_with_a_today_past_year_9998_is_a_usage_error():
    result = CliRunner().invoke(main, ["events", "demo-annual", "--today", "9999-06-01"])
    assert result.exit_code == 2
    assert ("'9999-06-01' is out of range (expected a date in the years 1900-2200)"
            in result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# --- limits ---------------------------------------------------------------------------------

def test_rules_file_over_the_limit_is_refused(tmp_path, monkeypatch):
    path = write(tmp_path, "rules.toml", RULES_TEXT)
    monkeypatch.setattr(rules, "MAX_RULES_BYTES", len(RULES_BYTES))
    assert rules.load(path, bundled("providers.csv")).tracks  # exactly at the limit: read
    monkeypatch.setattr(rules, "MAX_RULES_BYTES", 8 * 1024)
    assert len(RULES_BYTES) > 8 * 1024
    result = CliRunner().invoke(main, ["check", "--rules", str(path),
                                       "--providers", str(bundled("providers.csv"))])
    assert result.exit_code == 1
    assert result.stderr == f"{path}: file: larger than 8 KiB (expected at most 8 KiB)\n"


def test_roster_over_the_limit_is_refused(tmp_path, monkeypatch):
    rows = "".join(f"provider-{n},Provider {n},,no,,\n" for n in range(400))
    roster = write(tmp_path, "providers.csv", ROSTER_TEXT + rows)
    monkeypatch.setattr(rules, "MAX_ROSTER_BYTES", 8 * 1024)
    result = CliRunner().invoke(main, ["check", "--providers", str(roster)])
    assert result.exit_code == 1
    assert result.stderr == f"{roster}: file: larger than 8 KiB (expected at most 8 KiB)\n"
    monkeypatch.setattr(rules, "MAX_ROSTER_BYTES", roster.stat().st_size)
    assert len(rules.load(bundled("rules.toml"), roster).providers) == 404


# --- what a coordinator reads for each kind of mistake ----------------------------------------
# (tests/test_cli.py has a misspelt key, a roster date 2024-02-30 and a Next Decision
# Date calfeed cannot schedule; these are the other kinds.)

def rules_problems(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    """Load a rules.toml text with the demo roster; return its path and the problems."""
    path = write(tmp_path, "rules.toml", text)
    with pytest.raises(rules.RulesError) as err:
        rules.load(path, bundled("providers.csv"))
    return path, err.value.problems


def roster_problems(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    """Load the bundled rules with a roster text; return the roster's path and the problems."""
    path = write(tmp_path, "providers.csv", text)
    with pytest.raises(rules.RulesError) as err:
        rules.load(bundled("rules.toml"), path, today=TODAY)
    return path, err.value.problems


def test_two_date_forms_in_one_milestone(tmp_path):
    path, problems = rules_problems(tmp_path, edited(
        "date = 2024-02-07", 'date = 2024-02-07\nmonth = "2024-02"', ONE_OFF))
    assert problems == [
        f"{path}: tracks.one-off.milestones[2]: two date forms: date, month (expected "
        "exactly one of: date, month, at, when, after, deadline)"]


def line_of(text: str, line: str) -> int:
    """The number (from 1) of the first line of a text that is exactly `line`."""
    return text.splitlines().index(line) + 1


def test_impossible_date_keeps_line_and_column(tmp_path):
    path, problems = rules_problems(tmp_path, edited("2022 = 2023-03-17", "2022 = 2023-02-30"))
    # The line `2022 = 2023-02-30` of the edited rules.toml, the value from column 8.
    line = line_of(RULES_TEXT, "2022 = 2023-03-17")
    assert problems == [f"{path}: line {line}, column 8: TOML syntax error: Invalid date or "
                        "datetime (expected valid TOML)"]


def test_toml_syntax_error_line_and_column(tmp_path):
    path, problems = rules_problems(tmp_path, edited("2022 = 2023-03-17", '2022 = "2023-03-17'))
    line = line_of(RULES_TEXT, "2022 = 2023-03-17")
    assert problems == [f"{path}: line {line}, column 19: TOML syntax error: Illegal character "
                        "'\\n' (expected valid TOML)"]


def test_after_an_unknown_milestone(tmp_path):
    path, problems = rules_problems(tmp_path, edited(
        "date = 2024-02-07", 'after = "firs"\ndays = 14', ONE_OFF))
    assert problems == [
        f'{path}: tracks.one-off.milestones[2].after: unknown milestone "firs" (expected one '
        "of: first, second, third)"]


def test_a_cycle_among_relative_dates(tmp_path):
    text = edited("date = 2024-02-07", 'after = "third"\ndays = 14', ONE_OFF)
    path, problems = rules_problems(tmp_path, text.replace(
        "date = 2024-02-21", 'after = "second"\ndays = 14', 1))
    assert problems == [
        f"{path}: tracks.one-off.milestones[2].after: relative dates form a cycle: "
        "second -> third -> second (expected each relative date to lead back to a fixed date)",
    ]  # one line per cycle, not one per milestone in it


def test_an_unknown_actor(tmp_path):
    path, problems = rules_problems(tmp_path, edited('actor = "accme"', 'actor = "ACCME"'))
    assert problems == [f'{path}: progress.steps[3].actor: unknown actor '
                        '"ACCME" (expected one of: provider, accme, accreditor)']


def test_an_unknown_flag(tmp_path):
    path, problems = rules_problems(tmp_path, edited(
        'only_if = "enduring_materials"', 'only_if = "enduring-materials"'))
    assert problems == [f'{path}: tracks.annual-reporting.milestones[3].only_if: unknown flag '
                        '"enduring-materials" (expected one of: enduring_materials)']


def test_roster_unknown_accreditor(tmp_path):
    path, problems = roster_problems(tmp_path, ROSTER_TEXT.replace(",no,cma", ",no,CMA"))
    assert problems == [f'{path}: row {ROW["demo-state"]} (id "demo-state"), column accreditor: '
                        'unknown accreditor "CMA", did you mean "cma"? (expected one of: cma, or '
                        "empty for ACCME)"]


def test_roster_duplicate_ids_name_both_rows(tmp_path):
    path, problems = roster_problems(tmp_path, ROSTER_TEXT + "demo-annual,Another,,no,,\n")
    assert problems == [f'{path}: row {NEXT_ROW} (id "demo-annual"), column id: duplicate '
                        'provider id "demo-annual" (expected each id once; first seen in row '
                        f'{ROW["demo-annual"]})']


def test_roster_ids_that_could_leave_a_folder(tmp_path):
    path, problems = roster_problems(tmp_path, ROSTER_TEXT + "a/b,Slash,,no,,\n..,Dots,,no,,\n")
    assert problems == [
        f"{path}: row {NEXT_ROW}, column id: id \"a/b\" is not safe in a URL path (expected "
        "1-64 letters, digits, '-' or '_', starting with a letter or digit)",
        f"{path}: row {NEXT_ROW + 1}, column id: id \"..\" is not safe in a URL path (expected "
        "1-64 letters, digits, '-' or '_', starting with a letter or digit)",
    ]


def test_roster_date_in_another_format(tmp_path):
    path, problems = roster_problems(tmp_path, ROSTER_TEXT.replace("2024-11-30", "11/30/2024"))
    assert problems == [
        f'{path}: row {ROW["demo-12-month"]} (id "demo-12-month"), column next_decision_date: '
        '"11/30/2024" reads as 2024-11-30 (month/day/year, as a spreadsheet shows dates): write '
        "2024-11-30, and format the column as text so that the spreadsheet keeps it (expected a "
        "Next Decision Date from 2024-07-31 (the first published cohort) to 2028-11-21 (2 years "
        "after today), as YYYY-MM-DD, or empty for no progress report)"]


def test_roster_row_with_the_wrong_cell_count(tmp_path):
    path, problems = roster_problems(tmp_path, ROSTER_TEXT + "x,y\n\n\n")
    assert problems == [f"{path}: row {NEXT_ROW}: 2 cells (expected 6 cells, one per column of "
                        "the header)"]
