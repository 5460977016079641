"""calfeed: ACCME's reporting deadlines as calendar feeds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

_HERE = Path(__file__).resolve().parent
# calfeed's own lines, in the shape of gunicorn's ("[time] [pid] [LEVEL] message"), so
# that one log reads as one stream whichever process wrote a line.
LOG_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def bundled(name: str) -> Path:
    """A file shipped with calfeed: inside the installed wheel, or at the checkout's top."""
    inside = _HERE / name
    return inside if inside.exists() else _HERE.parent / name


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The Flask application: settings from CALFEED_* variables, then test_config over them.

    An unknown CALFEED_* variable or a value calfeed cannot use is settings.SettingsError
    (a ValueError), one line, before anything starts.
    """
    import os

    from calfeed import cli, settings
    from calfeed.serve import signup, web

    app = Flask(__name__, instance_relative_config=True,
                instance_path=(test_config or {}).get("INSTANCE_PATH"),
                template_folder=str(bundled("templates")), static_folder=str(bundled("static")))
    app.config.from_mapping(settings.read(os.environ))
    if test_config is not None:
        app.config.from_mapping(test_config)
        app.config.from_mapping(settings.resolve(test_config))
        settings.together(app.config)
    app.config["CALFEED_RULES"] = app.config["CALFEED_RULES"] or str(bundled("rules.toml"))

    cli.register(app)
    serving = _serving()
    if serving:
        _log_to_stderr(app)
    web.init_app(app, serving)
    signup.init_app(app, settings.state_path(app.config["CALFEED_STATE"], app.instance_path))
    return app


def _serving() -> bool:
    """Whether this app answers requests (under a WSGI server or `calfeed run`) rather than
    running one of the CLI's other commands, which read the files once and print their own
    output."""
    import click

    context = click.get_current_context(silent=True)
    return context is None or context.command.name == "run"


def _log_to_stderr(app: Flask) -> None:
    """Let the server's INFO lines (each load, what a reload moved) reach stderr, unless the
    operator has configured logging: then their configuration decides, and no line is
    printed twice (by a handler here and again by theirs)."""
    logger = logging.getLogger(app.name)  # app.logger's, before Flask adds its own handler
    if logger.level == logging.NOTSET and not logger.handlers \
            and not logging.getLogger().handlers:
        handler = logging.StreamHandler()  # stderr: gunicorn's error log, the dev server's terminal
        handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
