"""Text that reaches every output as written: names, titles, descriptions, web addresses."""

from __future__ import annotations

import string
import unicodedata
from typing import Any

from calfeed.core.rules.report import Report, show
from calfeed.core.rules.schema import Type
from calfeed.core.rules.values import typed

# What a character is called in a message, where its name says more than its code.
CHARACTER_NAMES = {"\n": "line break", "\r": "carriage return", "\t": "tab",
                   "\x00": "NUL character", "\x0b": "vertical tab", "\x0c": "form feed",
                   "\x85": "next-line character", "\u2028": "line separator",
                   "\u2029": "paragraph separator", " ": "space"}
ONE_LINE = "text on one line, without line breaks or other control characters"


def character(text: str, index: int) -> str:
    """A character of a text as a message names it: 'line break (U+000A) at character 9'."""
    char = text[index]
    name = CHARACTER_NAMES.get(char) or (
        "control character" if unicodedata.category(char) == "Cc"
        else unicodedata.name(char, "character").lower())
    return f"{name} (U+{ord(char):04X}) at character {index + 1}"


def first_bad(text: str, allowed: str = "") -> int | None:
    """Where the first control character (or line or paragraph separator) is, if any.

    A one-line text (a name, a title) allows none; a description allows the line
    breaks and tabs in `allowed`.
    """
    for index, char in enumerate(text):
        if char not in allowed and unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return index
    return None


def calendar_safe(report: Report, where: str, text: str,
                  expected: str = "another character after the backslash") -> bool:
    """False (and a problem) for text that a calendar file cannot carry as written."""
    # icalendar reads every content line as UTF-8 with an optional byte-order mark,
    # so a value's leading U+FEFF would vanish from feeds but stay in pages.
    if text.startswith("\ufeff"):
        report.add(where, f"byte-order mark (U+FEFF) at character 1 in {show(text)}, which "
                   "calendar files drop", "text that does not start with U+FEFF")
        return False
    # icalendar reads a backslash before N as the iCalendar escape of a line
    # break, so "\N" would reach feeds as a line break but pages as written.
    index = text.find("\\N")
    if index < 0:
        return True
    report.add(where, f'backslash before N ("\\N") at character {index + 1} in {show(text)}, '
               "which calendar files would show as a line break", expected)
    return False


def one_line(report: Report, where: str, text: str) -> bool:
    """False (and a problem) for a name or title with a control character or line break."""
    bad = first_bad(text)
    if bad is not None:
        report.add(where, f"{character(text, bad)} in {show(text)}", ONE_LINE)
        return False
    return calendar_safe(report, where, text)


def text(report: Report, where: str, value: Any) -> str | None:
    """A non-empty string on one line: a name, a title, a wording, a source."""
    found = typed(report, where, value, str, "a non-empty string")
    if found is not None and not found.strip():
        report.add(where, "empty string", "a non-empty string")
        return None
    return found if found is not None and one_line(report, where, found) else None


def description(report: Report, where: str, value: Any) -> str | None:
    """A description: any text whose line breaks are kept, as LF, in every output."""
    found = typed(report, where, value, str, "a string")
    if found is None:
        return None
    # A line break is one LF wherever it came from (CRLF, or a lone CR as old Macs
    # wrote), so that the feed, JSON, CSV and page carry the same text.
    found = found.replace("\r\n", "\n").replace("\r", "\n")
    bad = first_bad(found, allowed="\n\t")
    if bad is not None:
        report.add(where, f"{character(found, bad)} in {show(found)}",
                   "text, tabs and line breaks, without other control characters")
        return None
    return found if calendar_safe(
        report, where, found, "a real line break, or another character after the backslash"
    ) else None


def web_address(report: Report, where: str, value: Any) -> str | None:
    """An http(s) address with nothing in it that would end it early in a page or a feed."""
    url = typed(report, where, value, str, "a string")
    if url is None:
        return None
    if not url.startswith(("https://", "http://")):
        report.add(where, f"{show(url)} is not a web address", "an address starting with https://")
        return None
    bad = next((i for i, c in enumerate(url) if c.isspace() or unicodedata.category(c) == "Cc"),
               None)
    if bad is not None:
        report.add(where, f"{character(url, bad)} in the web address {show(url)}",
                   "an address without spaces or control characters (write a space as %20)")
        return None
    return url


def placeholders(report: Report, where: str, text: str, allowed: tuple[str, ...]) -> None:
    """Check {placeholders}: only the allowed names, in well-formed braces."""
    try:
        fields = [(name, spec, conversion)
                  for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as err:
        report.add(where, f"broken braces in {show(text)}: {err}",
                   "{name} placeholders, or {{ and }} for literal braces")
        return
    for name, spec, conversion in fields:
        # The engine formats with these: "{data_year:d}" raises, "{data_year:>999999999}"
        # builds a gigabyte string.
        if spec or conversion:
            shown = "{" + name + ("!" + conversion if conversion else "") + (
                ":" + spec if spec else "") + "}"
            report.add(where, f"formatted placeholder {show(shown)}",
                       "a plain {name} placeholder, without ! or :")
    for name, _, _ in fields:
        if name not in allowed:
            report.add(where, f"unknown placeholder {show('{' + name + '}')}",
                       "one of: " + ", ".join("{%s}" % a for a in allowed) if allowed
                       else "no placeholders in a track that is not yearly")


# The types of the tables' texts, as the README names them.
TEXT = Type("one-line string", text)
DESCRIPTION = Type("string", description)
WEB_ADDRESS = Type("web address", web_address)
