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
    """The Flask application: settings from CALFEED_* variables or test_config."""
    app = Flask(__name__, instance_relative_config=True,
                instance_path=(test_config or {}).get("INSTANCE_PATH"),
                template_folder=str(bundled("templates")), static_folder=str(bundled("static")))
    from calfeed import cli, settings
    from calfeed.serve import web

    app.config.from_mapping(settings.from_environment(str(bundled("rules.toml"))))
    if test_config is not None:
        app.config.from_mapping(test_config)

    cli.register(app)
    web.init_app(app)
    return app
