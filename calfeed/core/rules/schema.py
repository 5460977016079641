"""The schema machinery: a table's keys declared once, as data, and the one loop that reads them.

A `Key` says what a key is called, its `Type` (how the README names it, and the parser
that reads it), whether it is required or its default, and a one-line help. `read` checks
a TOML table against its keys (unknown ones with a did-you-mean, missing required ones)
and parses every key present, so every problem of the table is reported at once; the
table's own module then builds its frozen dataclass and runs the checks that need more
than one value. The README's key tables are `markdown` of the same declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from calfeed.core.rules.report import Report, did_you_mean, key_place, kind, show

# A parser reads one value: the value, or None after recording why not.
Parse = Callable[[Report, str, Any], Any]


@dataclass(frozen=True)
class Type:
    """A value's type: how the README names it, and the parser that reads it."""

    name: str
    parse: Callable[..., Any]
    # The parser also takes the reading's context (what other files or tables decide,
    # such as the accreditors a roster may name): parse(report, where, value, context).
    contextual: bool = False


@dataclass(frozen=True)
class Key:
    """One key of a TOML table, or one column of a CSV file."""

    name: str
    type: Type
    help: str  # one line: what it means (the README's "meaning")
    required: bool = False
    default: Any = None  # the value when it is absent (an empty cell, in a CSV file)
    default_text: str = ""  # the default as the README shows it, when it is worth saying
    requirement: str = ""  # the README's "required" cell, when it depends on another key
    example: str = ""  # as the README shows it (Markdown)
    group: str = ""  # the README lists the keys of a group under one heading row


@dataclass(frozen=True)
class Table:
    """The keys of one kind of table (or the columns of one kind of CSV file), in order."""

    name: str  # as the README heads it: "[tracks.ID]", "providers.csv"
    keys: tuple[Key, ...]
    called: str = "key"  # what the README calls an entry: "key", or a CSV file's "column"

    @property
    def names(self) -> tuple[str, ...]:
        """The keys' names, in order."""
        return tuple(k.name for k in self.keys)

    def __getitem__(self, name: str) -> Key:
        return next(k for k in self.keys if k.name == name)


class Read:
    """One table as read: each key's value (its default when absent) and which keys failed."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.present: set[str] = set()
        self.failed: set[str] = set()  # present but refused, or required and missing

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def has(self, name: str) -> bool:
        """Whether the key was written (read or refused)."""
        return name in self.present

    @property
    def ok(self) -> bool:
        """Whether every key present was read, and every required one was there."""
        return not self.failed


def parse_with(key: Key, report: Report, where: str, value: Any, context: Any = None) -> Any:
    """Parse one value as its key's type says."""
    if key.type.contextual:
        return key.type.parse(report, where, value, context)
    return key.type.parse(report, where, value)


def read(report: Report, where: str, value: Any, table: Table, context: Any = None) -> Read | None:
    """Read a TOML table by its keys: None (and a problem) if it is not a table at all."""
    if not isinstance(value, dict):
        report.add(where, f"{kind(value)} {show(value)}", "a table")
        return None
    names = table.names
    for key in value:
        if key not in names:
            report.add(key_place(where, key), f"unknown key {show(key)}{did_you_mean(str(key), names)}",
                       "one of: " + ", ".join(names))
    found = Read()
    for key in table.keys:
        if key.required and key.name not in value:
            report.add(where or "(top level)", f"missing key {show(key.name)}",
                       f"{key.name} to be set")
            found.failed.add(key.name)
    for key in table.keys:
        if key.name not in value:
            found.values[key.name] = key.default
            continue
        found.present.add(key.name)
        parsed = parse_with(key, report, key_place(where, key.name), value[key.name], context)
        found.values[key.name] = parsed
        if parsed is None:
            found.failed.add(key.name)
    return found


def as_written(report: Report, where: str, value: Any) -> Any:
    """A value kept as written, for code to read once what it depends on has been read
    (a cohort's dates name the steps; a history's dates have the form of its date)."""
    return value


def table_of(table: Table, build: Callable[[Report, str, Read], Any]) -> Parse:
    """A parser of one table: `read` by its keys, then `build` (None if it failed to read)."""
    def parse(report: Report, where: str, value: Any) -> Any:
        found = read(report, where, value, table)
        return None if found is None else build(report, where, found)
    return parse


def array_of(parse: Parse, expected: str, empty: tuple[str, str] | None = None) -> Parse:
    """A parser of an array: every item parsed (None where refused); `empty` refuses []."""
    def parse_all(report: Report, where: str, value: Any) -> list[Any] | None:
        if not isinstance(value, list):
            report.add(where, f"{kind(value)} {show(value)}", expected)
            return None
        if not value and empty:
            report.add(where, *empty)
            return None
        return [parse(report, f"{where}[{n}]", item) for n, item in enumerate(value, 1)]
    return parse_all


def complete(items: list[Any] | None) -> tuple[Any, ...] | None:
    """An array's items if every one was read, else None."""
    return None if items is None or None in items else tuple(items)


def keyed(entry: Callable[[Report, str, str, Any], Any], expected: str,
          quote: bool = False) -> Parse:
    """A parser of a table of named entries (`[tracks.ID]`, `2024 = …`): name → value.

    `entry(report, where, name, value)` returns the value, or None (refused, left out).
    With `quote`, WHERE writes a name that is not a bare TOML key in quotes.
    """
    def parse(report: Report, where: str, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            report.add(where, f"{kind(value)} {show(value)}", expected)
            return None
        found = {}
        for name, item in value.items():
            here = key_place(where, name) if quote else f"{where}.{name}"
            parsed = entry(report, here, name, item)
            if parsed is not None:
                found[name] = parsed
        return found
    return parse


# --- the README --------------------------------------------------------------------------------

def _requirement(key: Key) -> str:
    """The README's "required" cell."""
    if key.requirement or key.group:
        return key.requirement
    if key.required:
        return "yes"
    return f"no ({key.default_text})" if key.default_text else "no"


def _row(*cells: str) -> str:
    """One Markdown table row."""
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def markdown_rows(table: Table) -> Iterator[str]:
    """The README's table of a schema, line by line."""
    yield _row(table.called, "required", "type", "meaning", "example")
    yield _row(*["---"] * 5)
    group = ""
    for key in table.keys:
        if key.group and key.group != group:
            yield _row(f"**{key.group}:**", "", "", "", "")
        group = key.group
        yield _row(f"`{key.name}`", _requirement(key), key.type.name, key.help, key.example)


def markdown(table: Table) -> str:
    """The README's table of a schema."""
    return "\n".join(markdown_rows(table)) + "\n"
