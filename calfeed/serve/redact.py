"""Keep private tokens out of logs: every `/p/<token>` cut to its first characters.

A log gets the path as the client spelt it, and more spellings than `/p/<token>` reach
a provider: gunicorn decodes percent-escapes before routing (`/%70/<token>.ics`,
`/p%2F<token>.ics`, a token with an escaped letter), werkzeug redirects doubled slashes
(`/p//<token>/`), and a client may send dotted segments (`/p/./<token>.ics`). So a token
is found after any private prefix (calendars.PRIVATE_PREFIXES: one list for every kind
of private calendar) however the separators are written, and in the decoded text when
the escapes hide it.
"""

from __future__ import annotations

import logging
import re
import string

from calfeed.core import calendars, tokens

# A separator as the router sees it: a "/" and any more "/" or "./" after it.
_SEPARATOR = r"/(?:\.?/)*"
_TOKEN_CHAR = r"[^/?#\s\".]"
_PREFIXES = "|".join(re.escape(prefix) for prefix in calendars.PRIVATE_PREFIXES)
# Only a segment longer than the prefix is cut, so a line cut once (by gunicorn's
# logger in deploy/gunicorn.conf.py) and filtered again keeps "/p/abcdef..." as it is.
TOKEN_IN_PATH = re.compile(rf"({_SEPARATOR}(?:{_PREFIXES}){_SEPARATOR})"
                           rf"({_TOKEN_CHAR}{{{tokens.PREFIX_CHARS}}}){_TOKEN_CHAR}+")
# What a text must contain to hold a token at all: the cheap test before the pattern.
_HINTS = tuple(f"{prefix}/" for prefix in calendars.PRIVATE_PREFIXES) + ("%",)
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# The escapes decoded to find a token: the characters of paths and tokens, and "%" for
# a double escape. Never a space, quote or line break: a decoded line stays one line.
_DECODED = frozenset(string.ascii_letters + string.digits + "-._~/%")
_ROUNDS = 4
# The loggers that write request lines: the development server's and gunicorn's.
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access")


def redact(text: str) -> str:
    """The text with every private token shortened to its prefix, however the path spells it."""
    if not any(hint in text for hint in _HINTS):
        return text
    if "%" in text:
        decoded = _decode(text)
        if decoded != text and TOKEN_IN_PATH.search(decoded):
            # The escapes hid a token (or a private prefix): the log gets the decoded text.
            text = decoded
    return TOKEN_IN_PATH.sub(r"\1\2...", text)


def _decode(text: str) -> str:
    """The text with the escapes of path characters decoded, a double escape too."""
    for _ in range(_ROUNDS):
        decoded = _ESCAPE.sub(_character, text)
        if decoded == text:
            break
        text = decoded
    return text


def _character(match: re.Match[str]) -> str:
    """One escape's character when it is a path character, else the escape as it was."""
    character = chr(int(match[1], 16))
    return character if character in _DECODED else match[0]


class RedactTokens(logging.Filter):
    """Cut private tokens out of request lines before they are logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message with every private token shortened to its prefix."""
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def install() -> None:
    """Put the filter on the request loggers, once."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
