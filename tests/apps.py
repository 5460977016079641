"""The test app: today pinned, the test secret, a private instance folder; for any test folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from calfeed import create_app

TODAY = "2026-11-21"
SECRET = "test-secret-key-0123456789abcdef"


class BufferedClient(FlaskClient):
    """A test client that reads each answer whole and closes it, as a WSGI server does.

    Unbuffered, a static file's answer keeps its file open until the response object
    is collected, which warnings-as-errors reports in whichever test runs then.
    """

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> Any:
        """Request with the answer buffered (and so its body closed) by default."""
        return super().open(*args, buffered=buffered, **kwargs)


# Every app a test makes, here or with create_app directly, gets the buffered client.
Flask.test_client_class = BufferedClient


def settings(folder: Path, data: Path | None = None, **overrides: Any) -> dict[str, Any]:
    """create_app settings: today pinned, the test secret, an instance folder inside folder.

    With data (a folder from the `data` fixture), the app reads those copies and looks
    at them on every request, so a test's edit is seen by the next request.
    """
    found: dict[str, Any] = {"TESTING": True, "CALFEED_TODAY": TODAY, "CALFEED_SECRET_KEY": SECRET,
                             "INSTANCE_PATH": str(folder / "instance")}
    if data is not None:
        found.update(CALFEED_RULES=str(data / "rules.toml"), CALFEED_PROVIDERS=None,
                     CALFEED_RELOAD_INTERVAL=0)
    found.update(overrides)
    return found


def make_app(folder: Path, data: Path | None = None, **overrides: Any) -> Flask:
    """An app with settings(folder, data, **overrides)."""
    return create_app(settings(folder, data, **overrides))
