"""The CALFEED_* settings as an operator meets them: one table, read at start, typos refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from calfeed import create_app, settings
from calfeed.cli import main

from apps import SECRET
from serving import GUNICORN_CONF, copy_data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_environment(monkeypatch):
    """No CALFEED_* variable from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("CALFEED_") and name not in settings.TEST_VARIABLES:
            monkeypatch.delenv(name)
    return monkeypatch


def run(*args: str, **env: str):
    """`calfeed ARGS` in-process with these variables set."""
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize("command", [["check"], ["events", "demo-annual"], ["routes"],
                                     ["diff", "rules.toml", "rules.toml"]])
def test_a_misspelt_variable_stops_every_command_with_the_name_it_meant(command):
    result = run(*command, CALFEED_SECRET_KEYS=SECRET)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: CALFEED_SECRET_KEYS: calfeed has no such setting; "
                                    "did you mean CALFEED_SECRET_KEY? (expected one of: "
                                    "CALFEED_RULES, CALFEED_PROVIDERS, ")
    assert result.stderr.count("\n") == 1


def test_a_variable_near_no_setting_is_refused_without_a_guess():
    result = run("check", CALFEED_COLOUR="blue")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: CALFEED_COLOUR: calfeed has no such setting "
                                    "(expected one of: CALFEED_RULES, ")


def test_the_app_refuses_a_misspelt_variable_at_start(tmp_path, clean_environment):
    clean_environment.setenv("CALFEED_PROVIDER", "roster.csv")
    with pytest.raises(settings.SettingsError, match="^CALFEED_PROVIDER: calfeed has no such "
                                                     "setting; did you mean CALFEED_PROVIDERS"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize("name, value, problem", [
    ("CALFEED_TODAY", "2026-13-01", "CALFEED_TODAY: '2026-13-01' is not a date (expected YYYY-MM-DD)"),
    ("CALFEED_BASE_URL", "deadlines.example.org", "CALFEED_BASE_URL: 'deadlines.example.org' is "
                                                  "not an http(s) address"),
    ("CALFEED_RELOAD_INTERVAL", "soon", "CALFEED_RELOAD_INTERVAL: 'soon' is not a number"),
    ("CALFEED_RELOAD_INTERVAL", "-1", "CALFEED_RELOAD_INTERVAL: '-1' is not a number of seconds"),
    ("CALFEED_SECRET_KEY", "short", "CALFEED_SECRET_KEY: 5 characters is too short (expected at "
                                    "least 16"),
    ("CALFEED_MAIL_FROM", "deadlines", "CALFEED_MAIL_FROM: 'deadlines' is not an address"),
    ("CALFEED_SMTP_URL", "http://mail.example.org", "CALFEED_SMTP_URL: unknown scheme 'http'"),
])
def test_a_value_calfeed_cannot_use_stops_it_at_start(name, value, problem):
    result = run("check", **{name: value})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {problem}")
    assert result.stderr.count("\n") == 1


def test_an_empty_variable_counts_as_unset():
    result = run("check", CALFEED_TODAY="", CALFEED_RULES="", CALFEED_BASE_URL="")
    assert result.exit_code == 0, result.output


def test_the_test_suites_own_variables_are_not_settings():
    assert run("check", CALFEED_LOAD_SECONDS="60").exit_code == 0


def test_a_command_line_option_is_read_by_the_settings_parser():
    # --today and CALFEED_TODAY say the same thing the same way, and the option wins
    assert run("check", "--today", "2026-13-01").stderr.endswith(
        "'2026-13-01' is not a date (expected YYYY-MM-DD)\n")
    assert run("check", "--today", "2026-11-21", CALFEED_TODAY="2026-13-01").exit_code == 1
    assert run("events", "demo-annual", "--today", "2026-11-21",
               CALFEED_TODAY="2025-01-01").stdout == run("events", "demo-annual",
                                                         CALFEED_TODAY="2026-11-21").stdout


def test_the_readme_settings_table_is_the_settings_table():
    rows = ["| variable | option | meaning | default |", "| --- | --- | --- | --- |"]
    for entry in settings.SETTINGS:
        option = f"`{entry.option} {entry.metavar}`" if entry.option else ""
        rows.append(f"| `{entry.name}` | {option} | {entry.help} | {entry.shown_default} |")
    table = "\n".join(rows) + "\n"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README.md's settings table should read:\n" + table


@pytest.mark.gunicorn
def test_gunicorn_refuses_a_misspelt_variable_before_a_worker_starts(tmp_path):
    rules, roster = copy_data(tmp_path / "data")
    env = {**os.environ, "CALFEED_RULES": str(rules), "CALFEED_SECRET_KEYS": SECRET}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF),
                           "--bind", "127.0.0.1:0", "calfeed:create_app()"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "calfeed: CALFEED_SECRET_KEYS: calfeed has no such setting; did you mean "
        "CALFEED_SECRET_KEY?")
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr
