"""Reading a data file: a size limit, and UTF-8 or the place where it stops being UTF-8."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from calfeed.core.rules.report import Report


def read(path: Path, limit: int, report: Report, rows: bool = False) -> str | None:
    """Read a UTF-8 file (a byte-order mark allowed) no larger than limit.

    `rows`: the file is a CSV, whose problems are placed by row rather than by line.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        report.add("file", f"cannot read: {err.strerror or err}", "a readable file")
        return None
    except ValueError as err:  # a NUL in the name: roster = "\u0000"
        report.add("file", f"cannot read: {err}", "a file name without NUL characters")
        return None
    if len(data) > limit:
        report.add("file", f"larger than {limit // 1024} KiB", f"at most {limit // 1024} KiB")
        return None
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as err:
        report.add(*_not_utf8(data, bom, err, rows))
        return None


def _not_utf8(data: bytes, bom: int, err: UnicodeDecodeError,
              rows: bool) -> tuple[str, str, str]:
    """Where a file stops being UTF-8 (a roster's row and column, a rules file's line),
    the byte, and how to save it right."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("file", "a UTF-16 file (Excel's \"Unicode Text\")",
                'a UTF-8 file: save it as "CSV UTF-8 (Comma delimited)"')
    at = bom + err.start  # err counts from after the byte-order mark
    byte = data[at]
    # What the byte is in Windows-1252, the usual culprit (Excel's "CSV" on Windows).
    guess = bytes([byte]).decode("cp1252", errors="replace")
    seen = f" ({guess} in Windows-1252)" if guess.isprintable() and guess != "\ufffd" else ""
    what = f"byte 0x{byte:02X}{seen} at byte {at} is not UTF-8"
    before = data[bom:at].decode("utf-8")
    if not rows:
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        return f"line {line}, column {column}", what, "a UTF-8 file: save it as UTF-8"
    # The row and cell the byte falls in, read as the roster is read.
    try:
        records = list(csv.reader(io.StringIO(before + "x", newline="\n")))
    except csv.Error:  # a row broken before the byte: place it by line instead
        records = [[]] * (before.count("\n") + 1)
    header = [h.strip() for h in records[0]] if records else []
    cell = len(records[-1]) - 1 if records else 0
    where = f"row {len(records)}"
    if len(records) > 1 and 0 <= cell < len(header):
        where += f", column {header[cell]}"
    return (where, what,
            'a UTF-8 file: save it from the spreadsheet as "CSV UTF-8 (Comma delimited)"')
