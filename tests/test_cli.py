"""`calfeed check` and `calfeed events` as a coordinator runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from calfeed import bundled
from calfeed.core import rules
from calfeed.cli import main
from files import roster_row as row

ROOT = Path(__file__).resolve().parents[1]
NDD_ACCEPTED = ("a Next Decision Date from 2024-07-31 (the first published cohort) to 2028-11-21 "
                "(2 years after today), as YYYY-MM-DD, or empty for no progress report")


def test_check_ok(cli):
    result = cli("check")
    assert result.exit_code == 0
    assert result.output.endswith(
        ": OK: 3 tracks, 17 milestones, 1 accreditor, 4 providers (revised 2026-11-21T00:00:00Z)\n")


def test_check_misspelt_key(cli, data):
    text = (data / "rules.toml").read_text()
    (data / "rules.toml").write_text(text.replace("deadline = true", "deadlin = true", 1))
    result = cli("check", "--rules", str(data / "rules.toml"))
    assert result.exit_code == 1
    rules_file = str(data / "rules.toml")
    assert result.stderr.splitlines() == [
        f'{rules_file}: tracks.annual-reporting.milestones[1].deadlin: unknown key "deadlin", '
        'did you mean "deadline"? (expected one of: id, title, description, actor, links, '
        "only_if, estimated, date, month, at, tz, when, after, days, move, deadline, changes)",
        f"{rules_file}: tracks.annual-reporting.milestones[1]: no date form (expected exactly "
        "one of: date, month, at, when, after, deadline)",
    ]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def test_check_misspelt_cohort_step(cli, data):
    text = (data / "rules.toml").read_text()
    (data / "rules.toml").write_text(text.replace("enter-activity-data = 2024-01-24",
                                                  "enter-activty-data = 2024-01-24", 1))
    result = cli("check", "--rules", str(data / "rules.toml"))
    assert result.exit_code == 1
    rules_file = str(data / "rules.toml")
    assert result.stderr.splitlines() == [
        f'{rules_file}: progress.cohorts[1].dates.enter-activty-data: unknown step '
        '"enter-activty-data", did you mean "enter-activity-data"? (expected one of the '
        "[[progress.steps]] ids: review-fee, enter-activity-data, activities-selected, "
        "materials-available, materials-due, decision)",
        f'{rules_file}: progress.cohorts[1].dates: no date for step "enter-activity-data" '
        '(expected one date per dated step: enter-activity-data = a date like 2024-01-24, or '
        'a quoted month like "2024-07")',
    ]


def test_check_roster_bad_date_names_row_column_and_value(cli, data):
    roster = data / "providers.csv"
    roster.write_text(roster.read_text().replace("demo-annual,Demo Institute (annual reporting only),,",
                                                 "demo-annual,Demo Institute,2024-02-30,"))
    result = cli("check", "--rules", str(data / "rules.toml"), CALFEED_TODAY="2026-11-21")
    assert result.exit_code == 1
    assert result.stderr == (
        f'{roster}: row {row(roster, "demo-annual")} (id "demo-annual"), column next_decision_date: '
        f"2024-02-30 is not a day on the calendar (expected {NDD_ACCEPTED})\n")


def test_check_roster_impossible_decision_date_says_what_is_accepted(cli, data):
    roster = data / "providers.csv"
    roster.write_text(roster.read_text().replace("2024-07-31", "2024-03-31")
                      .replace("2024-11-30", "2029-11-30"))
    result = cli("check", "--providers", str(roster), "--rules", str(data / "rules.toml"),
                 CALFEED_TODAY="2026-11-21")
    assert result.exit_code == 1
    accepted = f"(expected {NDD_ACCEPTED})"
    assert result.stderr.splitlines() == [
        f'{roster}: row {row(roster, "demo-8-month")} (id "demo-8-month"), column '
        "next_decision_date: 2024-03-31 is before the first published cohort (Next Decision Date "
        f"2024-07-31) {accepted}",
        f'{roster}: row {row(roster, "demo-12-month")} (id "demo-12-month"), column '
        f"next_decision_date: 2029-11-30 is more than 2 years after today (2026-11-21) {accepted}",
    ]


def test_check_roster_takes_any_decision_date_a_cohort_could_have(cli, data):
    roster = data / "providers.csv"
    roster.write_text(roster.read_text().replace("2024-07-31", "2027-07-31"))
    result = cli("check", "--providers", str(roster), "--rules", str(data / "rules.toml"),
                 CALFEED_TODAY="2026-11-21")
    assert result.exit_code == 0, result.output


def test_env_chooses_files(cli, data):
    roster = data / "providers.csv"
    roster.write_text("id,name\nonly-one,Only One\n")
    result = cli("check", CALFEED_RULES=str(data / "rules.toml"), CALFEED_PROVIDERS=str(roster))
    assert result.exit_code == 0, result.output
    assert "1 accreditor, 1 provider (revised" in result.output


def test_events_json_contract(cli):
    result = cli("events", "demo-8-month", "--json", "--today", "2024-01-01")
    assert result.exit_code == 0, result.output
    feed = json.loads(result.output)
    assert feed["calendar"]["uid"] == "demo-8-month@calfeed"
    events = [e for e in feed["events"] if e["track"] == "progress-8-month"]
    assert [(e["start"], e["end"], e["precision"]) for e in events] == [
        ("2024-01-24", "2024-01-25", "day"),
        ("2024-02-07", "2024-02-08", "day"),
        ("2024-02-21", "2024-02-22", "day"),
        ("2024-04-03", "2024-04-04", "day"),
        ("2024-07-01", "2024-08-01", "month"),
        (None, None, "undated"),
    ]
    assert set(events[0]) >= {"uid", "track", "cycle", "milestone", "title", "start", "end",
                              "precision", "status", "actor", "description", "url"}
    # A cohort's step has no data year; a published one no caveat.
    assert (events[0]["data_year"], events[0]["caveats"], events[0]["bare_title"]) == (
        None, [], events[0]["title"])
    annual = [e for e in feed["events"] if e["milestone"] == "annual-agreement"]
    assert [(e["start"], e["end"], e["status"]) for e in annual] == [
        ("2024-04-01T23:59:00-05:00", "2024-04-02T00:00:00-05:00", "published"),
        ("2025-03-31T23:59:00-05:00", "2025-04-01T00:00:00-05:00", "published"),
    ]
    assert [e["data_year"] for e in annual] == [2023, 2024]
    # Sorted by start, undated last.
    assert feed["events"][-1]["precision"] == "undated"


def test_events_today_from_env(cli):
    result = cli("events", "demo-annual", "--json", CALFEED_TODAY="2026-11-21")
    starts = [e["start"][:10] for e in json.loads(result.output)["events"]
              if e["milestone"] == "program-summary"]
    assert starts[-2:] == ["2027-03-31", "2028-03-31"]


def test_events_table(cli):
    result = cli("events", "demo-state", "--today", "2026-11-21")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["when", "status", "actor", "track", "title"]
    assert any(line.startswith("2025-03-14 ") and "California Medical Association deadline" in line
               for line in lines)
    assert any(line.startswith("2024-03-15  estimated") and "California Medical Association "
               "deadline (estimated)" in line for line in lines)


def test_events_unknown_provider(cli):
    result = cli("events", "nobody")
    assert result.exit_code == 1
    assert "no provider 'nobody' (expected one of: demo-8-month, demo-12-month" in result.output


def test_bad_today(cli):
    result = cli("events", "demo-annual", "--today", "2026-13-01")
    assert result.exit_code == 2
    assert "'2026-13-01' is not a date (expected YYYY-MM-DD)" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


def test_version_is_calfeeds_own(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"calfeed {metadata.version('calfeed')}\n"
    assert "Flask" not in result.stdout and "Werkzeug" not in result.stdout


@pytest.mark.parametrize("command, options", [
    ("check", ["--rules", "--providers", "--today"]),
    ("events", ["--rules", "--providers", "--today"]),
    ("links", ["--rules", "--providers", "--today", "--base-url"]),
    ("build", ["--rules", "--providers", "--today", "--base-url"]),
    ("notify", ["--rules", "--providers", "--today", "--base-url", "--state"]),
    ("diff", ["--providers", "--today"]),
])
def test_every_command_takes_the_options_that_apply_to_it(cli, command, options):
    shown = cli(command, "--help").stdout
    for option in options:
        assert f"  {option} " in shown, (command, option)


def test_check_takes_today(cli, data):
    # a roster's Next Decision Date may be at most two years after today
    roster = data / "providers.csv"
    roster.write_text(roster.read_text().replace("2024-11-30", "2028-11-30"), encoding="utf-8")
    late = cli("check", "--rules", str(data / "rules.toml"), "--today", "2026-11-21")
    assert late.exit_code == 1
    assert "2028-11-30 is more than 2 years after today (2026-11-21)" in late.stderr
    assert cli("check", "--rules", str(data / "rules.toml"), "--today", "2027-01-01").exit_code == 0


def test_notify_takes_rules_and_providers(cli, data, tmp_path):
    roster = data / "providers.csv"
    other = tmp_path / "other.csv"
    other.write_text(roster.read_text().replace("demo-annual,", "other-annual,"), encoding="utf-8")
    result = cli("notify", "--dry-run", "--rules", str(data / "rules.toml"), "--providers",
                 str(other), "--today", "2025-03-01", "--state", str(tmp_path / "log.sqlite3"),
                 CALFEED_SECRET_KEY="notify-test-secret-0123456789")
    assert result.exit_code == 0, result.output
    assert "would send to other-annual#1: Due in 30 days: Annual Reporting in PARS (5 steps) — " \
           "Monday, March 31, 2025, 11:59 p.m. Central Time" in result.stdout
    assert "demo-annual" not in result.stdout
    assert not (tmp_path / "log.sqlite3").exists()


def test_flask_cli_has_the_commands():
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "calfeed", "check"],
                          capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr
    assert ": OK: 3 tracks" in done.stdout


@pytest.mark.wheel
def test_wheel_carries_rules_and_templates(tmp_path):
    """`pip install .` (not -e) gives a calfeed that runs on its bundled data."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(ROOT)], check=True, capture_output=True)
    wheel = next(wheels.glob("calfeed-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {"calfeed/rules.toml", "calfeed/providers.csv", "calfeed/static/style.css"} <= set(names)
    assert any(n.startswith("calfeed/templates/") and n.endswith(".html") for n in names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # The test environment's dependencies, without its editable calfeed: a plain path
    # in a .pth file, so the .pth files inside it (the editable install's) are not read.
    site = subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True).stdout.strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([venv / "bin" / "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    done = subprocess.run([venv / "bin" / "calfeed", "check"], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert str(venv) in done.stdout  # the installed copy of rules.toml, not the checkout's


def test_roster_dates_are_yyyy_mm_dd_only(cli, data):
    roster = data / "providers.csv"
    # date.fromisoformat would read both as 2024-07-31.
    roster.write_text(roster.read_text().replace("2024-07-31", "2024-W31-3")
                      .replace("2024-11-30", "20241130"))
    result = cli("check", "--rules", str(data / "rules.toml"), CALFEED_TODAY="2026-11-21")
    assert result.exit_code == 1
    assert [line.split(": ", 1)[1] for line in result.stderr.splitlines()] == [
        f'row {row(roster, "demo-8-month")} (id "demo-8-month"), column next_decision_date: '
        f'"2024-W31-3" is not a date written YYYY-MM-DD (expected {NDD_ACCEPTED})',
        f'row {row(roster, "demo-12-month")} (id "demo-12-month"), column next_decision_date: '
        f'"20241130" is not a date written YYYY-MM-DD (expected {NDD_ACCEPTED})',
    ]


# --- email reminders: the roster's email column and rules.toml's [notify] --------------------

def test_check_names_a_malformed_email_address(tmp_path):
    roster = tmp_path / "providers.csv"
    roster.write_text(bundled("providers.csv").read_text().replace(
        "cme@demo-institute.example.org;", "cme@demo-institute;"))
    result = CliRunner().invoke(main, ["check", "--providers", str(roster)])
    assert result.exit_code == 1
    assert result.stderr == (
        f'{roster}: row {row(roster, "demo-annual")} (id "demo-annual"), column email: address 1 '
        '("…@demo-institute") is not an email address (expected addresses like name@example.org, '
        "separated by ;)\n")


def test_a_malformed_address_is_named_without_its_local_part(tmp_path):
    # the same line reaches a running server's log when it refuses a reload
    roster = tmp_path / "providers.csv"
    roster.write_text("id,name,email\n"
                      "a,A,ok@example.org; jane.doe.private@example;jane.roe.private\n")
    result = CliRunner().invoke(main, ["check", "--providers", str(roster)])
    assert result.exit_code == 1
    assert "private" not in result.stderr
    assert result.stderr.splitlines() == [
        f'{roster}: row 2 (id "a"), column email: address 2 ("…@example") is not an email '
        "address (expected addresses like name@example.org, separated by ;)",
        f'{roster}: row 2 (id "a"), column email: address 3 (no "@") is not an email '
        "address (expected addresses like name@example.org, separated by ;)",
    ]


def test_check_accepts_several_addresses_and_a_trailing_semicolon(tmp_path):
    roster = tmp_path / "providers.csv"
    roster.write_text("id,name,email\n"
                      "a,A,First.Last+cme@Example.org; second@example.org;\n"
                      "b,B,\n")
    loaded = rules.load(bundled("rules.toml"), roster)
    assert loaded.providers["a"].contacts == ("first.last+cme@example.org", "second@example.org")
    assert loaded.providers["b"].contacts == ()
    assert "example.org" not in repr(loaded.providers["a"])  # never in a log line


@pytest.mark.parametrize("value, problem", [
    ("[3, 14]", None),
    ("[]", None),
    ('"30"', 'notify.days_before: a string "30" (expected an array of up to 5 whole numbers '
             "of days, 0-366, like [30, 7, 1])"),
    ("[30, -1]", "notify.days_before[2]: -1 days (expected an array of up to 5 whole numbers "
                 "of days, 0-366, like [30, 7, 1])"),
    ("[400]", "notify.days_before[1]: 400 days (expected an array of up to 5 whole numbers of "
              "days, 0-366, like [30, 7, 1])"),
    ("[7, 7]", "notify.days_before[2]: 7 days given twice (expected each lead time once)"),
    ("[1.5]", "notify.days_before[1]: a number \"1.5\" (expected an array of up to 5 whole numbers "
              "of days, 0-366, like [30, 7, 1])"),
])
def test_check_lead_times(tmp_path, value, problem):
    path = tmp_path / "rules.toml"
    path.write_text(bundled("rules.toml").read_text().replace(
        'roster = "providers.csv"', f"[notify]\ndays_before = {value}\n", 1).replace(
        "revised = ", 'roster = "providers.csv"\nrevised = ', 1))
    shutil.copy(bundled("providers.csv"), tmp_path / "providers.csv")
    result = CliRunner().invoke(main, ["check", "--rules", str(path)])
    if problem is None:
        assert result.exit_code == 0, result.output
        assert rules.load(path).lead_days == {"[3, 14]": (14, 3), "[]": ()}[value]
    else:
        assert result.exit_code == 1
        assert result.stderr == f"{path}: {problem}\n"


def test_lead_times_default_to_30_7_and_1_days():
    assert rules.load(bundled("rules.toml")).lead_days == (30, 7, 1)
