"""CSV files as a spreadsheet exports them, read by a column schema (a `Table` of columns).

Row 1 is the header; rows are numbered as a spreadsheet numbers them; a cell is read by
its column's type, an empty cell of an optional column is its default. The first column
names the row in every message: `row 4 (id "demo-annual"), column email: …`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from calfeed.core.rules.report import Report, did_you_mean, show
from calfeed.core.rules.schema import Read, Table, parse_with


def _csv_problem(err: csv.Error) -> tuple[str, str]:
    """What is wrong with an unreadable row, and what was expected."""
    if "new-line character" in str(err):
        return ("carriage return (U+000D) inside the row, outside quotes",
                "each row on one line ending in LF or CRLF; save the file again as CSV")
    return f"unreadable CSV: {err}", "well-formed CSV"


def _rows(reader: Any, report: Report) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header, numbered as a spreadsheet does.

    A row the csv module cannot read is a problem of its own row, and reading goes
    on with the next one, so every row's problems are reported at once.
    """
    row_no = 1
    while True:
        row_no += 1
        line = reader.line_num
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            report.add(f"row {row_no}", *_csv_problem(err))
            if reader.line_num == line:  # nothing consumed: it would fail again
                return
            continue
        yield row_no, cells


def _header(report: Report, reader: Any, table: Table, expected: str) -> list[str] | None:
    """The header row, if it names known columns, each once, the required ones included."""
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as err:
        report.add("row 1", *_csv_problem(err))
        return None
    if not header:
        report.add("row 1", "empty file", expected)
        return None
    fine = True
    for name in header:
        if name not in table.names:
            report.add("row 1", f"unknown column {show(name)}{did_you_mean(name, table.names)}",
                       "columns among: " + ", ".join(table.names))
            fine = False
    for key in table.keys:
        if key.required and key.name not in header:
            report.add("row 1", f"missing column {show(key.name)}", expected)
            fine = False
    if len(set(header)) != len(header):
        report.add("row 1", "a column named twice", "each column once")
        fine = False
    return header if fine else None


def _wrong_length(header: list[str], cells: list[str]) -> str:
    """`N cells`, and where a quote that never closes swallowed the rows after it."""
    spans = [(n, c.rstrip("\r\n").count("\n")) for n, c in enumerate(cells) if "\n" in c]
    hint = ""
    if spans and len(cells) < len(header):
        n, lines = spans[0]
        column = header[n] if n < len(header) else f"cell {n + 1}"
        hint = (f"; the quoted cell in column {column} runs over {lines + 1} lines "
                '(a " that never closes?)')
    return f"{len(cells)} cells{hint}"


def rows(report: Report, text: str, table: Table, header_expected: str,
         context: Any = None, most: int | None = None) -> Iterator[tuple[int, str, Read]]:
    """Each row that is not blank and has one cell per column: its number, its place in
    messages (`row 4 (id "demo-annual")`), and its cells as read; at most `most` rows
    after the header (a problem, and no more rows, beyond)."""
    # Rows end at LF or CRLF only: a lone CR is a character like any other, so one
    # inside a quoted cell stays in its cell (and a name refuses it by its row), and one
    # outside quotes is reported at its row instead of splitting it.
    reader = csv.reader(io.StringIO(text, newline="\n"))
    header = _header(report, reader, table, header_expected)
    if header is None:
        return
    first = table.keys[0]  # required: _header saw it
    named_by = header.index(first.name)
    columns = [(key, header.index(key.name) if key.name in header else None) for key in table.keys]
    for row_no, cells in _rows(reader, report):
        if most is not None and row_no > most + 1:  # row 1 is the header
            report.add(f"row {row_no}", f"more than {most:,} rows",
                       f"at most {most:,} rows after the header")
            return
        if not any(c.strip() for c in cells):
            continue  # spreadsheets leave blank lines at the end
        if len(cells) != len(header):
            report.add(f"row {row_no}", _wrong_length(header, cells),
                       f"{len(header)} cells, one per column of the header")
            continue
        place = f"row {row_no} ({first.name} {show(cells[named_by].strip())})"
        found = Read()
        for key, index in columns:
            cell = cells[index].strip() if index is not None else ""
            if not cell and not key.required:
                found.values[key.name] = key.default
                continue
            where = f"row {row_no}, column {key.name}" if key is first else f"{place}, column {key.name}"
            parsed = parse_with(key, report, where, cell, context)
            found.present.add(key.name)
            found.values[key.name] = parsed
            if parsed is None:
                found.failed.add(key.name)
        yield row_no, place, found
