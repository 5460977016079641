"""The roster (providers.csv): one row per provider, its columns declared once.

Spreadsheets are where rosters are written, so the messages say what to do about what
spreadsheets do: a date shown as 7/31/2027, an id in capitals, addresses joined by ",".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from calfeed.core import addresses, wording
from calfeed.core.model import Day, Month, Profile
from calfeed.core.rules import checks, ndd, reported, sheets
from calfeed.core.rules.report import Report, did_you_mean, show
from calfeed.core.rules.schema import Key, Read, Table, Type
from calfeed.core.rules.text import one_line
from calfeed.core.rules.values import safe_id

# Excel and its kin show (and save as CSV) a date as month/day/year, 7/31/2027 or 7/31/27.
SPREADSHEET_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})\Z")


@dataclass(frozen=True)
class Known:
    """What a roster's cells are checked against: the rules' cohorts and accreditors, today."""

    first_ndd: date | None
    accreditors: frozenset[str]
    today: date
    steps: tuple[str, ...] = ()  # the dated progress-report steps: the roster's step columns
    groups: frozenset[str] | None = None  # the groups file's ids; None: there is no groups file
    groups_file: str = ""  # its name, for messages


def _name(report: Report, where: str, cell: str) -> str | None:
    """The provider's name: one line of text."""
    if not cell:
        report.add(where, "empty name", "the provider's name")
        return None
    return cell if one_line(report, where, cell) else None


def _spreadsheet_date(cell: str) -> str | None:
    """What a date a spreadsheet wrote (7/31/2027) says, and how to write it; None if it is not one."""
    match = SPREADSHEET_DATE.match(cell)
    if match is None:
        return None
    first, second, year = int(match[1]), int(match[2]), int(match[3])
    year += 2000 if len(match[3]) == 2 else 0
    for month, day, order in ((first, second, "month/day/year"), (second, first, "day/month/year")):
        try:
            read = date(year, month, day)
        except ValueError:
            continue
        return (f"{show(cell)} reads as {read.isoformat()} ({order}, as a spreadsheet shows "
                f"dates): write {read.isoformat()}, and format the column as text so that the "
                "spreadsheet keeps it")
    return None


def _next_decision_date(report: Report, where: str, cell: str, known: Known) -> date | None:
    """A Next Decision Date calfeed can schedule (ndd.py says which)."""
    day, what = ndd.parse(cell, known.first_ndd, known.today)
    if what is not None:
        report.add(where, _spreadsheet_date(cell) or what,
                   ndd.ndd_accepted(known.first_ndd, known.today))
    return day


def _yes_no(report: Report, where: str, cell: str) -> bool | None:
    """yes or no, in the words the builder takes too."""
    flag = wording.yes_no(cell)
    if flag is None:
        report.add(where, show(cell), wording.YES_NO_ACCEPTED)
    return flag


def _accreditor(report: Report, where: str, cell: str, known: Known) -> str | None:
    """The id of an accreditor in rules.toml."""
    if cell in known.accreditors:
        return cell
    ids = sorted(known.accreditors)
    report.add(where, f"unknown accreditor {show(cell)}{did_you_mean(cell, ids)}",
               "one of: " + ", ".join(ids) + ", or empty for ACCME" if ids
               else "empty for ACCME: rules.toml names no [accreditors]")
    return None


def _groups(report: Report, where: str, cell: str, known: Known) -> tuple[str, ...] | None:
    """Ids of the groups file's groups, separated by `;`, each once."""
    found: list[str] = []
    fine = True
    ids = sorted(known.groups or ())
    for part in cell.split(";"):
        ident = part.strip()
        if not ident or ident in found:
            continue
        # A groups file that did not read (its own problem) cannot say which ids are known.
        if ident in ids or (known.groups is None and known.groups_file):
            found.append(ident)
            continue
        fine = False
        if known.groups is None:
            report.add(where, f"unknown group {show(ident)}: there is no groups file",
                       'a groups file named in rules.toml (groups = "groups.csv") or by '
                       "--groups, or an empty cell")
        else:
            report.add(where, f"unknown group {show(ident)}{did_you_mean(ident, ids)}",
                       f"ids of {known.groups_file} separated by ;: " + ", ".join(ids)
                       if ids else f"an empty cell: {known.groups_file} has no groups")
    return tuple(found) if fine else None


def _rotation(report: Report, where: str, cell: str) -> int | None:
    """A small whole number, in ASCII digits (unlike str.isdigit, which takes "²")."""
    if re.fullmatch(r"[0-9]{1,6}", cell):
        return int(cell)
    report.add(where, show(cell), "a whole number 0-999999, raised by one to replace the private URL")
    return None


def _joined_by_commas(part: str) -> list[str] | None:
    """The addresses of a cell part that holds several separated by ",", else None."""
    pieces = [p.strip() for p in part.split(",")]
    if len(pieces) > 1 and all(addresses.valid(p) for p in pieces if p):
        return [p for p in pieces if p]
    return None


def _email(report: Report, where: str, cell: str) -> tuple[str, ...] | None:
    """Email addresses separated by `;`, lowercased, each once; never shown in a message."""
    found: list[str] = []
    fine = True
    for number, part in enumerate(cell.split(";"), start=1):
        address = part.strip()
        if not address:
            continue  # "a@x.org;" as spreadsheets and mail apps leave it
        if addresses.valid(address):
            if address.lower() not in found:
                found.append(address.lower())
            continue
        fine = False
        several = _joined_by_commas(address)
        if several:
            shown = '"' + ", ".join(addresses.masked(a).strip('"') for a in several) + '"'
            report.add(where, f'address {number} ({shown}) is {len(several)} addresses separated '
                       'by ",": write ";" between them', addresses.EXPECTED)
            continue
        why = addresses.why_not(address)
        report.add(where, f"address {number} ({addresses.masked(address)}) is not an email "
                   f"address{': ' + why if why else ''}", addresses.EXPECTED)
    return tuple(found) if fine else None


def _reported(report: Report, where: str, cell: str) -> Day | Month | None:
    """A step's date from the provider's own decision report: a day, or a month."""
    when, why = reported.parse(cell)
    if why is not None:
        report.add(where, _spreadsheet_date(cell) or why, reported.ACCEPTED)
    return when


COLUMNS = Table("providers.csv", (
    Key("id", Type("id", safe_id), "the provider's stable id (never shown publicly)",
        required=True, example="`demo-8-month`"),
    Key("name", Type("one-line text", _name),
        "the provider's name, shown on its page and calendar", required=True,
        example="`Demo Health System`"),
    Key("next_decision_date", Type("YYYY-MM-DD", _next_decision_date, contextual=True),
        "the Next Decision Date on its decision report: its published cohort (2024-07-31 → the "
        "8-month table, 2024-11-30 → the 12-month one), or an estimated schedule for a date no "
        "cohort covers; from the first published cohort's to two years after today; empty: no "
        "progress report", example="`2024-07-31`"),
    Key("enduring_materials", Type("yes/no", _yes_no),
        "whether it offers enduring materials (yes, y, true, 1, x, on / no, n, false, 0, off, "
        "empty: the same words as the builder's `enduring_materials` and "
        "`?download=`/`?plain=`)", default=False, example="`yes`"),
    Key("accreditor", Type("id", _accreditor, contextual=True),
        "its Recognized Accreditor, from `[accreditors]`; empty: accredited by ACCME",
        example="`cma`"),
    Key("rotation", Type("integer", _rotation),
        "raise by one to give the provider a new private URL (the old one stops working)",
        default=0, example="`1`"),
    Key("email", Type("addresses separated by `;`", _email),
        "whom `calfeed notify` emails (see \"Email reminders\"); used for nothing else: never "
        "in a page, feed, JSON, CSV, the static build or a log line", default=(),
        example="`cme@example.org; director@example.org`"),
    Key("groups", Type("ids separated by `;`", _groups, contextual=True),
        "the groups it belongs to, from the groups file (see \"Groups\"); a group with an "
        "`accreditor` needs no mention here", default=(), example="`acme-consulting`"),
), called="column")
ROSTER_COLUMNS = COLUMNS.names
HEADER_EXPECTED = "a header row: " + ",".join(ROSTER_COLUMNS[:5])
# One more column per dated step of [[progress.steps]], named by its id: the dates of
# the provider's own decision report, which its calendar shows instead of calfeed's.
STEP_COLUMN = Key("STEP-ID", Type("YYYY-MM-DD, or YYYY-MM", _reported),
                  "one column per dated progress-report step, named by its `[[progress.steps]]` "
                  "id (`enter-activity-data`, `activities-selected`, `materials-available`, "
                  "`materials-due`, `decision`): the date in the provider's own decision report, "
                  "a day, or a month where the report gives only the month. Shown as the "
                  "provider's own (`reported`) instead of calfeed's; needs `next_decision_date`; "
                  "empty: calfeed's date", example="`2027-01-13`, `2027-07`")
STEP_COLUMNS = Table("providers.csv: dates from the decision report", (STEP_COLUMN,),
                     called="column")


def columns(steps: tuple[str, ...]) -> Table:
    """The roster's columns: the provider's, then one per dated progress-report step."""
    return Table(COLUMNS.name, COLUMNS.keys + tuple(
        Key(ident, STEP_COLUMN.type, STEP_COLUMN.help) for ident in steps), called="column")


def _own_dates(report: Report, place: str, found: Read, known: Known) -> bool:
    """The row's dates from its decision report as they can be (checks.reported_dates), and
    its Next Decision Date given with them; a provider whose accreditor sets its progress
    report dates without them is a warning. False (and a problem) if they cannot be."""
    own = {ident: found[ident] for ident in known.steps if found[ident] is not None}
    day = found["next_decision_date"]
    if not own:
        if day is not None and found["accreditor"]:
            report.warn(f"{place}, column accreditor", f"accredited by {show(found['accreditor'])} "
                        "with a next_decision_date: its accreditor sets its progress-report "
                        "dates, so calfeed shows none", "the dates from its decision report in "
                        "the step columns (" + ", ".join(known.steps) + ")")
        return True
    if day is None:
        if "next_decision_date" not in found.failed:
            report.add(f"{place}, column next_decision_date",
                       "empty, but the row has dates from its decision report ("
                       + ", ".join(own) + ")", "the Next Decision Date of that decision report")
        return False
    return checks.reported_dates(report, lambda ident: f"{place}, column {ident}", own,
                                 known.steps, day)


# Rows are counted as well as bytes (rules.MAX_ROSTER_BYTES): short rows pack millions
# of providers into few bytes, and a server holds two rosters while it reloads.
MAX_ROWS = 100_000


def parse_roster(report: Report, text: str, first: date | None, accreditors: Iterable[str],
                 today: date, steps: tuple[str, ...] = (), groups: Iterable[str] | None = None,
                 groups_file: str = "") -> dict[str, Profile]:
    """The providers of a roster CSV: Next Decision Dates calfeed can schedule, known
    accreditors and groups (None: there is no groups file), and the dates of their own
    decision reports (one column per step id)."""
    known = Known(first, frozenset(accreditors), today, steps,
                  None if groups is None else frozenset(groups), groups_file)
    providers: dict[str, Profile] = {}
    first_row: dict[str, int] = {}
    for row_no, place, found in sheets.rows(report, text, columns(steps), HEADER_EXPECTED, known,
                                            most=MAX_ROWS):
        ident = found["id"]
        if ident in first_row:
            report.add(f"{place}, column id", f"duplicate provider id {show(ident)}",
                       f"each id once; first seen in row {first_row[ident]}")
            continue
        if ident:
            first_row[ident] = row_no
        own = _own_dates(report, place, found, known)
        if found.ok and own:
            providers[ident] = Profile(ident, found["name"], found["next_decision_date"],
                                       found["enduring_materials"], found["accreditor"], None,
                                       found["rotation"], found["email"],
                                       reported=tuple((s, found[s]) for s in steps
                                                      if found[s] is not None),
                                       groups=found["groups"])
    return providers
