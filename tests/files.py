"""Where the project's files are, for the tests wherever they sit under tests/."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"


def roster_row(roster: Path, ident: str) -> int:
    """The spreadsheet row (the header is row 1) of a provider in a roster file.

    Tests name a row by the provider's id, never by a number that an edit of the bundled
    providers.csv would shift.
    """
    lines = roster.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(ident + ","))
