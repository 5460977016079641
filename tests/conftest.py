"""Shared fixtures, flaskr-style: an app on the bundled rules, its test client and CLI runner."""

from __future__ import annotations

import pytest

from calfeed import create_app
from serving import copy_data

TODAY = "2026-11-21"
SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture
def app(tmp_path):
    """The app on the bundled rules and demo roster, today pinned, the instance folder private."""
    return create_app({
        "TESTING": True,
        "CALFEED_TODAY": TODAY,
        "CALFEED_SECRET_KEY": SECRET,
        "INSTANCE_PATH": str(tmp_path / "instance"),
    })


@pytest.fixture
def data(tmp_path):
    """A folder with private copies of the bundled rules.toml and demo roster, to edit."""
    folder = tmp_path / "data"
    copy_data(folder)
    return folder


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of the app's commands."""
    return app.test_cli_runner()
