"""The groups file (groups.csv): one row per group of providers, its columns declared once.

A group is many providers in one view: a consultant's clients (the roster's `groups`
cell names the group) or every provider of one Recognized Accreditor (the group's
`accreditor`). The rows are read here; which providers belong is settled once the
roster is read too (checks.members).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable
from datetime import date

from calfeed.core.rules import sheets
# The roster's own cell readers: a group's addresses, accreditor and rotation read as a provider's.
from calfeed.core.rules.roster import Known, _email, _rotation
from calfeed.core.rules.report import Report, did_you_mean, show
from calfeed.core.rules.schema import Key, Table, Type
from calfeed.core.rules.text import one_line
from calfeed.core.rules.values import safe_id

# As many groups as a roster has providers would be absurd; a wrong file is refused early.
MAX_ROWS = 10_000


@dataclass(frozen=True)
class Row:
    """One group as its row says it: who it is, whom to email, and its accreditor."""

    id: str
    name: str
    contacts: tuple[str, ...]
    accreditor: str | None
    rotation: int
    row: int  # the row number, for messages about it once the roster is read


def _name(report: Report, where: str, cell: str) -> str | None:
    """The group's name: one line of text."""
    if not cell:
        report.add(where, "empty name", "the group's name")
        return None
    return cell if one_line(report, where, cell) else None


def _accreditor(report: Report, where: str, cell: str, known: Known) -> str | None:
    """The id of an accreditor in rules.toml, whose providers all belong to the group."""
    if cell in known.accreditors:
        return cell
    ids = sorted(known.accreditors)
    report.add(where, f"unknown accreditor {show(cell)}{did_you_mean(cell, ids)}",
               ("one of: " + ", ".join(ids) if ids else "no accreditor: rules.toml names no "
                "[accreditors]") + ", or empty for a group the roster's groups cells make")
    return None


COLUMNS = Table("groups.csv", (
    Key("id", Type("id", safe_id), "the group's stable id: what the roster's `groups` cell "
        "names (never shown publicly)", required=True, example="`acme-consulting`"),
    Key("name", Type("one-line text", _name),
        "the group's name, shown on its page, calendar and digest", required=True,
        example="`Acme CME Consulting`"),
    Key("email", Type("addresses separated by `;`", _email),
        "whom `calfeed notify` sends the weekly digest (see \"Groups\"); used for nothing else",
        default=(), example="`team@acme-cme.example.com`"),
    Key("accreditor", Type("id", _accreditor, contextual=True),
        "a Recognized Accreditor from `[accreditors]`: every provider it accredits belongs to "
        "the group; empty: the providers whose `groups` cell names it", example="`cma`"),
    Key("rotation", Type("integer", _rotation),
        "raise by one to give the group a new private URL (the old one stops working)",
        default=0, example="`1`"),
), called="column")
GROUP_COLUMNS = COLUMNS.names
HEADER_EXPECTED = "a header row: " + ",".join(GROUP_COLUMNS[:2]) + ", and any of " + ",".join(
    GROUP_COLUMNS[2:])


def parse_groups(report: Report, text: str, accreditors: Iterable[str],
                 today: date) -> tuple[dict[str, Row], frozenset[str]]:
    """The rows of a groups CSV (ids once each, known accreditors), and every id written.

    The ids include those of rows with another problem, so that the roster's cells naming
    such a group are not also errors.
    """
    known = Known(None, frozenset(accreditors), today)
    found: dict[str, Row] = {}
    first_row: dict[str, int] = {}
    for row_no, place, read in sheets.rows(report, text, COLUMNS, HEADER_EXPECTED, known,
                                           most=MAX_ROWS):
        ident = read["id"]
        if ident in first_row:
            report.add(f"{place}, column id", f"duplicate group id {show(ident)}",
                       f"each id once; first seen in row {first_row[ident]}")
            continue
        if ident:
            first_row[ident] = row_no
        if read.ok:
            found[ident] = Row(ident, read["name"], read["email"], read["accreditor"],
                               read["rotation"], row_no)
    return found, frozenset(first_row)
