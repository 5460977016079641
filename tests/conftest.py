"""Shared fixtures, flaskr-style: an app on the bundled rules, its test client and CLI runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from calfeed import create_app
from serving import copy_data
from smtpserver import Inbox, free_port

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


@pytest.fixture
def app(tmp_path):
    """The app on the bundled rules and demo roster, today pinned, the instance folder private."""
    return make_app(tmp_path)


@pytest.fixture
def data(tmp_path):
    """A folder with private copies of the bundled rules.toml and demo roster, to edit."""
    folder = tmp_path / "data"
    copy_data(folder)
    return folder


@pytest.fixture
def inbox():
    """A real SMTP server (aiosmtpd) on a loopback port: (its handler, its smtp:// URL)."""
    from aiosmtpd.controller import Controller

    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of the app's commands."""
    return app.test_cli_runner()


SYSTEM_MARKERS = ("browser", "gunicorn", "nginx", "load", "wheel", "bench")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every slow system test (a real browser, gunicorn, nginx, a load, the wheel, the
    benchmark) is also `system`, which the quick run leaves out."""
    for item in items:
        if any(item.get_closest_marker(name) for name in SYSTEM_MARKERS):
            item.add_marker(pytest.mark.system)
