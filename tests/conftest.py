"""Shared fixtures (one home): the app and its client and CLI runner, the rules, data, an inbox."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from apps import make_app
from calfeed import bundled
from calfeed.cli import main
from calfeed.core import rules
from serving import copy_data
from smtpserver import Inbox, free_port


@pytest.fixture
def app(tmp_path):
    """The app on the bundled rules and demo roster, today pinned, the instance folder private."""
    return make_app(tmp_path)


@pytest.fixture(scope="session")
def loaded():
    """The bundled rules and demo roster, loaded once (a test must not change them)."""
    return rules.load(bundled("rules.toml"))


@pytest.fixture
def cli():
    """Run `calfeed ARGS` in-process, with extra environment variables; stdout and stderr kept apart."""
    runner = CliRunner()
    return lambda *args, **env: runner.invoke(main, list(args), env=env or None)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for a module's hypothesis examples: each example overwrites its files."""
    return tmp_path_factory.mktemp("examples")


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
