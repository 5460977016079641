"""gunicorn settings for calfeed in production.

    gunicorn -c deploy/gunicorn.conf.py "calfeed:create_app()"

gunicorn's access log prints each request's full path, and a provider's path carries
its private token (docs/design.md §6): whoever reads the logs could subscribe to any provider's
calendar. The logger below cuts every /p/<token> to a short prefix in every value the
access log can print (request line, path, query, Referer and other headers, environ),
whatever access_log_format says and however the path is spelt (`/%70/<token>`,
`/p//<token>/`: calfeed.serve.redact), and in gunicorn's own error lines.

An unknown CALFEED_* variable, or one calfeed cannot use, stops the master at start
with one line (on_starting), before any worker boots.
"""

from __future__ import annotations

import os
import sys

from gunicorn import glogging

from calfeed import settings
from calfeed.serve.redact import RedactTokens, redact

# Behind a reverse proxy on the same machine; a command-line --bind overrides it.
bind = "127.0.0.1:8000"
workers = 2
# Feeds render in milliseconds; a slow client should not hold a worker for long.
timeout = 30
accesslog = "-"
# gunicorn's lines, and calfeed's own in the same shape (each load of the data, what a
# reload moved, why a file was refused): calfeed.create_app sends them to stderr at
# INFO unless logging is configured otherwise (logconfig_dict with a root handler).
errorlog = "-"


def on_starting(server):  # type: ignore[no-untyped-def]
    """Refuse bad CALFEED_* settings in the master, as one line, before any worker boots."""
    try:
        settings.read(os.environ)
    except settings.SettingsError as err:
        sys.exit(f"calfeed: {err}")


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Start the worker's sender of sign-up confirmations (CALFEED_SIGNUP) as it boots, so a
    queued confirmation goes out without waiting for a request to this worker."""
    from calfeed.serve import signup

    if hasattr(worker.wsgi, "extensions"):
        signup.start(worker.wsgi)


def _redact(value: object) -> object:
    """A log value with any private token shortened to its prefix."""
    return redact(value) if isinstance(value, str) else value


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
