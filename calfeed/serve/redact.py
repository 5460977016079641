"""Keep private tokens out of logs: every `/p/<token>` cut to its first characters."""

from __future__ import annotations

import logging
import re

from calfeed.core import tokens

# Only a segment longer than the prefix is cut, so a line cut once (by gunicorn's
# logger in deploy/gunicorn.conf.py) and filtered again keeps "/p/abcdef..." as it is.
TOKEN_IN_PATH = re.compile(r"(/p/)([^/?#\s\".]{%d})[^/?#\s\".]+" % tokens.PREFIX_CHARS)
# The loggers that write request lines: the development server's and gunicorn's.
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access")


def redact(text: str) -> str:
    """The text with every /p/<token> shortened to its prefix."""
    return TOKEN_IN_PATH.sub(r"\1\2...", text)


class RedactTokens(logging.Filter):
    """Cut private tokens out of request lines before they are logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message with every /p/<token> shortened to its prefix."""
        message = record.getMessage()
        if "/p/" in message:
            record.msg = redact(message)
            record.args = None
        return True


def install() -> None:
    """Put the filter on the request loggers, once."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
