"""calfeed: ACCME's reporting deadlines as calendar feeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

_HERE = Path(__file__).resolve().parent


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
    web.init_app(app)
    signup.init_app(app, settings.state_path(app.config["CALFEED_STATE"], app.instance_path))
    return app
