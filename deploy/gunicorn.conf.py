"""gunicorn settings for calfeed in production.

    gunicorn -c deploy/gunicorn.conf.py "calfeed:create_app()"

gunicorn's access log prints each request's full path, and a provider's path carries
its private token (DESIGN §6): whoever reads the logs could subscribe to any provider's
calendar. The logger below cuts every /p/<token> to a short prefix in every value the
access log can print (request line, path, query, Referer and other headers, environ),
whatever access_log_format says, and in gunicorn's own error lines.
"""

from __future__ import annotations

from gunicorn import glogging

from calfeed.serve.redact import RedactTokens, redact

# Behind a reverse proxy on the same machine; a command-line --bind overrides it.
bind = "127.0.0.1:8000"
workers = 2
# Feeds render in milliseconds; a slow client should not hold a worker for long.
timeout = 30
accesslog = "-"
errorlog = "-"


def _redact(value: object) -> object:
    """A log value with any /p/<token> shortened to its prefix."""
    if isinstance(value, str) and "/p/" in value:
        return redact(value)
    return value


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, with private tokens cut out of access and error lines."""

    def atoms(self, resp, req, environ, request_time):  # type: ignore[no-untyped-def]
        """The access log's values, each with tokens shortened."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: _redact(value) for name, value in atoms.items()}

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        """gunicorn's setup, then a filter on the error log ("Error handling request /p/…")."""
        super().setup(cfg)
        if not any(isinstance(f, RedactTokens) for f in self.error_log.filters):
            self.error_log.addFilter(RedactTokens())


logger_class = RedactingLogger
