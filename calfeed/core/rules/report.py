"""The problem report: every problem of a file at once, one line each, and its warnings.

A line reads `FILE: WHERE: what is wrong (expected …)`, so a coordinator can find the
place without a traceback; a warning says `warning:` after WHERE and stops nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

# A TOML key that needs no quotes: written as is in WHERE, others quoted as TOML writes them.
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class RulesError(Exception):
    """Rules or roster that do not validate; `problems` holds one line per problem."""

    def __init__(self, problems: list[str], warnings: list[str] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.warnings = warnings or []


class Report:
    """Collects the problems and warnings of one file, so all of them are reported at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []
        self.warnings: list[str] = []
        # Each problem's parts, for a reader that words them itself (the builder's 400).
        self.found: list[tuple[str, str, str]] = []

    def add(self, where: str, what: str, expected: str) -> None:
        """Record one problem as `FILE: WHERE: what (expected …)`."""
        self.problems.append(self._line(where, what, expected))
        self.found.append((where, what, expected))

    def warn(self, where: str, what: str, expected: str) -> None:
        """Record something unusual but possible as `FILE: WHERE: warning: what (expected …)`."""
        self.warnings.append(self._line(where, f"warning: {what}", expected))

    def _line(self, where: str, what: str, expected: str) -> str:
        """One line; keys and values are the file's own text, so control characters are
        escaped: a problem stays one line and cannot drive the terminal."""
        line = f"{self.file}: {where}: {what} (expected {expected})"
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                       for c in line)


def show(value: Any) -> str:
    """A bad value as the user wrote it, quoted and cut short."""
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, (date, datetime, time)):
        text = value.isoformat()
    text = text if len(text) <= 60 else text[:57] + "..."
    return f'"{text}"'


def kind(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "an array", dict: "a table", datetime: "a date-time", date: "a date",
             time: "a time"}
    return names.get(type(value), type(value).__name__)


def key_place(where: str, key: str) -> str:
    """WHERE of a key inside a table: `tracks.x.name`, or `tracks.x."a b"` for a quoted key."""
    name = key if BARE_KEY.fullmatch(key) else show(key)
    return f"{where}.{name}" if where else name


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`, did you mean "x"?` for the known name nearest a wrong one (same letters in
    another case first), or nothing."""
    known = list(known)
    same = [k for k in known if k.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, known, n=1)
    return f', did you mean "{close[0]}"?' if close else ""
