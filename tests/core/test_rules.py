"""The loader, calfeed/core/rules/, as a coordinator meets it: the schema loop, each table,
a date's history, the roster, the checks across tables, and the Next Decision Date rule.

Every expected line is what `calfeed check` prints after the file name; every date is
one of source 000's (the November 2023 cohort's tables) or an edit of one.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from calfeed import bundled
from calfeed import settings as calfeed_settings
from calfeed.cli import main
from calfeed.core import addresses, calendars, dates, rules
from calfeed.core.model import YearlyRule
from calfeed.core.rules import reference
from calfeed.core.rules.document import RulesFile, parse_rules
from calfeed.core.rules.report import Report
from calfeed.core.rules.schema import markdown
from calfeed.notify.mail import COMPOSING
from files import ROOT, roster_row
import loading

RULES_TEXT = bundled("rules.toml").read_text(encoding="utf-8")
ROSTER_TEXT = bundled("providers.csv").read_text(encoding="utf-8")
TODAY = date(2026, 11, 21)
NDD_ACCEPTED = ("a Next Decision Date from 2024-07-31 (the first published cohort) to 2028-11-21 "
                "(2 years after today), as YYYY-MM-DD, or empty for no progress report")
EMAIL_EXPECTED = "(expected addresses like name@example.org, separated by ;)"


def edited(*pairs: str, text: str = RULES_TEXT) -> str:
    """The bundled rules.toml with each `old` (first occurrence) replaced by its `new`."""
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of a rules.toml text (with an empty roster) that must not load, today pinned."""
    found = loading.problems(tmp_path, text, today=TODAY)
    assert found, "the text loaded"
    return found


def roster_problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of a roster text with the bundled rules, without the file name."""
    path = tmp_path / "providers.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(rules.RulesError) as err:
        rules.load(bundled("rules.toml"), path, today=TODAY)
    return [line.removeprefix(f"{path}: ") for line in err.value.problems]


def check(tmp_path: Path, text: str) -> tuple[int, list[str], str, Path]:
    """`calfeed check` on a rules.toml text with the demo roster: exit code, stderr lines, stdout."""
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "providers.csv").write_text(ROSTER_TEXT, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--rules", str(path)],
                                env={"CALFEED_TODAY": TODAY.isoformat()})
    return result.exit_code, result.stderr.splitlines(), result.stdout, path


# --- the schema loop ------------------------------------------------------------------------------

def test_every_problem_of_a_table_at_once(tmp_path):
    text = edited('time = "23:59"', 'time = "25:00"', 'tz = "America/Chicago"', 'tz = "Mars/Olympus"',
                  "year_offset = 1", "year_offset = 9",
                  'move = "back-off-weekend"', 'moove = "back-off-weekend"')
    assert problems(tmp_path, text) == [
        'tracks.annual-reporting.yearly.moove: unknown key "moove", did you mean "move"? '
        "(expected one of: month, day, time, tz, year_offset, move)",
        'tracks.annual-reporting.yearly.time: "25:00" is not a time (expected a quoted time like '
        '"23:59")',
        'tracks.annual-reporting.yearly.tz: unknown time zone "Mars/Olympus" (expected an IANA '
        "time zone such as America/Chicago)",
        "tracks.annual-reporting.yearly.year_offset: 9 years (expected 0 to 5 years, usually 1)",
    ]


def test_a_check_across_keys_still_runs_when_a_key_failed(tmp_path):
    text = edited("month = 3\nday = 31", "month = 2\nday = 30", 'tz = "America/Chicago"', "tz = 5")
    assert problems(tmp_path, text) == [
        'tracks.annual-reporting.yearly.tz: an integer "5" (expected an IANA time zone such as '
        "America/Chicago)",
        "tracks.annual-reporting.yearly: month 2, day 30 is not a day of every year (expected a "
        "real month and day, February 29 excepted)",
    ]


def test_a_missing_key_and_a_value_that_is_not_a_table(tmp_path):
    text = edited('weekday = "friday"\n', "", 'roster = "providers.csv"', "notify = 3")
    assert problems(tmp_path, text) == [
        'accreditors.cma.rule: missing key "weekday" (expected weekday to be set)',
        'notify: an integer "3" (expected a table)',
    ]


def test_keys_left_out_take_their_defaults(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(edited("year_offset = 1\n", "", 'move = "back-off-weekend"\n', ""), encoding="utf-8")
    loaded = rules.load(path, roster=False)
    assert loaded.tracks["annual-reporting"].yearly == YearlyRule(3, 31, "23:59", "America/Chicago",
                                                                   1, "off-weekend")
    assert loaded.lead_days == (30, 7, 1)


def test_rules_toml_reads_as_frozen_dataclasses():
    parsed = parse_rules(Report("rules.toml"), RULES_TEXT)
    assert isinstance(parsed, RulesFile)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.roster = "other.csv"  # type: ignore[misc]
    assert parsed.roster == "providers.csv"
    assert parsed.first_ndd == date(2024, 7, 31)
    assert parsed.accreditor_ids == frozenset({"cma"})
    assert list(parsed.tracks) == ["progress-8-month", "progress-12-month", "annual-reporting"]


def test_the_readme_key_tables_are_the_schema():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = reference.tables(readme)
    assert set(found) == set(reference.TABLES), "a schema without its README table, or the reverse"
    for name, table in reference.TABLES.items():
        assert found[name] == markdown(table), (
            f"README's table of {name} is not the schema's: run "
            "`python -m calfeed.core.rules.reference README.md`")


def test_every_key_says_what_it_is_for_in_one_line():
    for table in reference.TABLES.values():
        for key in table.keys:
            assert key.help and "\n" not in key.help and "|" not in key.help, (table.name, key.name)


# --- tracks ---------------------------------------------------------------------------------------

ONE_OFF = RULES_TEXT + """
[tracks.one-off]
name = "A one-off schedule"
source = "The tests"

[[tracks.one-off.milestones]]
id = "first"
title = "First"
actor = "provider"
at = 2024-01-24T17:00:00
"""


def test_a_timed_milestone_needs_its_zone(tmp_path):
    assert problems(tmp_path, ONE_OFF) == [
        'tracks.one-off.milestones[1]: missing key "tz" (expected tz to be set with at)']


def test_deadline_true_only_in_a_yearly_track(tmp_path):
    text = edited("at = 2024-01-24T17:00:00", "deadline = true", text=ONE_OFF)
    assert problems(tmp_path, text) == [
        "tracks.one-off.milestones[1].deadline: deadline = true in a track that is not yearly "
        "(expected a date form of its own, or a [yearly] rule on the track)"]


def test_a_yearly_track_needs_its_first_cycle(tmp_path):
    assert problems(tmp_path, edited("first_cycle = 2023\n", "")) == [
        'tracks.annual-reporting: missing key "first_cycle" (expected first_cycle to be set with '
        "[yearly])"]


def test_progress_steps_each_once(tmp_path):
    text = edited('id = "activities-selected"', 'id = "enter-activity-data"')
    assert problems(tmp_path, text) == [
        'progress.steps: duplicate step id "enter-activity-data" (expected each id once)']


def test_an_accreditors_problems_at_once(tmp_path):
    text = edited('name = "California Medical Association"', 'name = ""',
                  "2024 = 2025-03-14", '"24" = 2025-03-14')
    assert problems(tmp_path, text) == [
        "accreditors.cma.name: empty string (expected a non-empty string)",
        'accreditors.cma.deadlines.24: "24" is not a year (expected a data year such as 2024)',
    ]


# --- a date's history -----------------------------------------------------------------------------

def test_a_was_is_read_in_the_form_of_the_date_it_belongs_to(tmp_path):
    text = edited('decision = "2024-07"', 'decision = { month = "2024-07", changes = [{ '
                  'was = 2024-06-01, announced = "2024-05" }] }')
    assert problems(tmp_path, text) == [
        'progress.cohorts[1].dates.decision.changes[1].was: a date "2024-06-01" (expected a '
        'quoted month like "2024-07")']


# --- the checks across a cohort's dates -----------------------------------------------------------

@pytest.mark.parametrize("old, new, expected", [
    pytest.param("activities-selected = 2024-02-07", "activities-selected = 2023-02-08", [
        'progress.cohorts[1].dates.activities-selected: 2023-02-08 is before step '
        '"enter-activity-data" (2024-01-24), which comes earlier (expected dates in the order of '
        "the [[progress.steps]])",
        'progress.cohorts[1].dates.activities-selected: 2023-02-08 is before the decision cohort '
        '"2023-11" (expected steps after the decision that required them)'],
        id="a-year-before-the-step-before"),
    pytest.param("materials-due = 2024-04-03", "materials-due = 2024-08-07", [
        "progress.cohorts[1].dates.materials-due: 2024-08-07 is after the Next Decision Date "
        "2024-07-31 (expected every step on or before the Next Decision Date)",
        'progress.cohorts[1].dates.decision: "2024-07" is before step "materials-due" '
        "(2024-08-07), which comes earlier (expected dates in the order of the "
        "[[progress.steps]])"], id="after-the-next-decision-date"),
    pytest.param('decision = "2024-07"', 'decision = "2024-06"', [
        'progress.cohorts[1].dates.decision: "2024-06" is not the month of the Next Decision '
        'Date 2024-07-31 (expected "2024-07": ACCME decides in the month of the Next Decision '
        "Date)"], id="decision-not-in-the-month-of-the-next-decision-date"),
    pytest.param('decision = "2024-07"', 'decision = "2023-10"', [
        'progress.cohorts[1].dates.decision: "2023-10" is before step "materials-due" '
        "(2024-04-03), which comes earlier (expected dates in the order of the "
        "[[progress.steps]])",
        'progress.cohorts[1].dates.decision: "2023-10" is not after the decision cohort '
        '"2023-11" (expected ACCME\'s decision on the report after the decision that required it)',
        'progress.cohorts[1].dates.decision: "2023-10" is not the month of the Next Decision '
        'Date 2024-07-31 (expected "2024-07": ACCME decides in the month of the Next Decision '
        "Date)"], id="decision-before-its-decision-cohort"),
])
def test_check_refuses_cohort_dates_that_cannot_be(tmp_path, old, new, expected):
    code, lines, stdout, path = check(tmp_path, edited(old, new))
    assert code == 1 and stdout == ""
    assert lines == [f"{path}: {line}" for line in expected]


def test_a_milestone_not_on_a_wednesday_is_a_warning(tmp_path):
    text = edited("materials-due = 2024-04-03", "materials-due = 2024-04-04")
    code, lines, stdout, path = check(tmp_path, text)
    assert code == 0
    assert lines == [f"{path}: progress.cohorts[1].dates.materials-due: warning: 2024-04-04 is a "
                     "Thursday (expected a Wednesday, as every milestone ACCME has published)"]
    assert ": OK: 3 tracks" in stdout
    assert rules.load(path, today=TODAY).warnings == tuple(lines)


def test_warnings_are_printed_beside_the_problems(tmp_path):
    text = edited("materials-due = 2024-04-03", "materials-due = 2024-04-04",
                  'decision = "2024-07"', 'decision = "2024-06"')
    code, lines, stdout, path = check(tmp_path, text)
    assert code == 1 and stdout == ""
    assert [line.split(": ", 2)[1] for line in lines] == [
        "progress.cohorts[1].dates.decision", "progress.cohorts[1].dates.materials-due"]
    assert "warning: 2024-04-04 is a Thursday" in lines[1]


def test_the_bundled_cohorts_have_no_warning():
    assert rules.load(bundled("rules.toml"), today=TODAY).warnings == ()


# --- the roster: what spreadsheets do -------------------------------------------------------------

def row(ident: str) -> int:
    """A demo provider's spreadsheet row in the bundled roster (the header is row 1)."""
    return roster_row(bundled("providers.csv"), ident)


@pytest.mark.parametrize("cell, reads", [
    ("7/31/2027", "2027-07-31 (month/day/year"),
    ("7/31/27", "2027-07-31 (month/day/year"),
    ("31/7/2027", "2027-07-31 (day/month/year"),
])
def test_a_date_a_spreadsheet_wrote_says_how_to_write_it(tmp_path, cell, reads):
    day = reads[:10]
    assert roster_problems(tmp_path, ROSTER_TEXT.replace("2024-07-31", cell)) == [
        f'row {row("demo-8-month")} (id "demo-8-month"), column next_decision_date: "{cell}" reads '
        f"as {reads}, as a spreadsheet shows dates): write {day}, and format the column as text "
        f"so that the spreadsheet keeps it (expected {NDD_ACCEPTED})"]


def test_an_accreditor_in_capitals_suggests_its_id(tmp_path):
    assert roster_problems(tmp_path, ROSTER_TEXT.replace(",no,cma,", ",no,CMA,")) == [
        f'row {row("demo-state")} (id "demo-state"), column accreditor: unknown accreditor "CMA", '
        'did you mean "cma"? (expected one of: cma, or empty for ACCME)']


def test_addresses_joined_by_commas_say_to_use_semicolons(tmp_path):
    # A spreadsheet quotes a cell with a comma in it.
    text = ROSTER_TEXT.replace("education@demo-society.example.org;coordinator@demo-society.example.org",
                               '"education@demo-society.example.org, coordinator@demo-society.example.org"')
    found = roster_problems(tmp_path, text)
    assert found == [
        f'row {row("demo-12-month")} (id "demo-12-month"), column email: address 1 '
        '("…@demo-society.example.org, …@demo-society.example.org") is 2 addresses separated by '
        f'",": write ";" between them {EMAIL_EXPECTED}']
    assert "education" not in found[0] and "coordinator" not in found[0]


def test_every_problem_of_a_row_at_once(tmp_path):
    text = "id,name,enduring_materials,rotation,email\nx,,maybe,-1,cme@demo\n"
    assert roster_problems(tmp_path, text) == [
        'row 2 (id "x"), column name: empty name (expected the provider\'s name)',
        'row 2 (id "x"), column enduring_materials: "maybe" (expected yes or no (also y/n, 1/0, '
        "true/false, on/off, x))",
        'row 2 (id "x"), column rotation: "-1" (expected a whole number 0-999999, raised by one '
        "to replace the private URL)",
        f'row 2 (id "x"), column email: address 1 ("…@demo") is not an email address {EMAIL_EXPECTED}',
    ]


def test_a_byte_that_is_not_utf8_after_a_broken_first_row_is_placed_by_row(tmp_path):
    # Found by the deeper fuzzing: a lone CR before the header, a Windows-1252 byte after it.
    path = tmp_path / "providers.csv"
    path.write_bytes(b"\rid,name\n\x80demo,Demo\n")
    with pytest.raises(rules.RulesError) as err:
        rules.load(bundled("rules.toml"), path, today=TODAY)
    assert err.value.problems == [
        f"{path}: row 2: byte 0x80 (€ in Windows-1252) at byte 9 is not UTF-8 (expected a UTF-8 "
        'file: save it from the spreadsheet as "CSV UTF-8 (Comma delimited)")']


def test_a_column_in_another_case_suggests_its_name(tmp_path):
    assert roster_problems(tmp_path, "id,name,Email\na,A,a@example.org\n") == [
        'row 1: unknown column "Email", did you mean "email"? (expected columns among: id, name, '
        "next_decision_date, enduring_materials, accreditor, rotation, email, groups, enter-activity-data, "
        "activities-selected, materials-available, materials-due, decision)"]


# --- addresses: what mail can carry ---------------------------------------------------------------

@pytest.mark.parametrize("address, why", [
    ("john..smith@example.org", ": two dots in a row before the @"),
    (".lead@example.org", ": a dot at the start"),
    ("trail.@example.org", ": a dot just before the @"),
    ('"quoted"@example.org', ""),
    ("jöhn@example.org", ""),
    ("cme@bücher.example", ""),
])
def test_an_address_mail_cannot_carry_is_refused_without_its_local_part(tmp_path, address, why):
    found = roster_problems(tmp_path, f"id,name,email\na,A,ok@example.org;{address}\n")
    assert found == [f'row 2 (id "a"), column email: address 2 ({addresses.masked(address)}) is '
                     f"not an email address{why} {EMAIL_EXPECTED}"]
    assert address.split("@")[0].strip('"') not in found[0]


def test_the_sender_follows_the_same_rule():
    environ = {"CALFEED_SMTP_URL": "smtp://mail.example.org:25",
               "CALFEED_MAIL_FROM": "Deadlines <john..smith@example.org>"}
    with pytest.raises(ValueError, match="CALFEED_MAIL_FROM: .* is not an address"):
        calfeed_settings.read(environ)
    environ["CALFEED_MAIL_FROM"] = "Deadlines <john.smith@example.org>"
    values = calfeed_settings.read(environ)
    assert calfeed_settings.mail(values, "https://deadlines.example.org").sender.endswith(
        "<john.smith@example.org>")


# Mostly what a coordinator types (letters, RFC 5322's other atext characters and dots
# anywhere, twice in a row too), sometimes what only a quoted local part can carry.
ATEXT = "abcXYZ0189!#$%&'*+-/=?^_`{|}~"
LOCAL = st.text(st.sampled_from(ATEXT + "."), min_size=1, max_size=30) | st.text(
    st.sampled_from(ATEXT + '."\\ (),:;<>@[]é\t'), min_size=1, max_size=20)
LABEL = st.text(st.sampled_from("abz09-"), min_size=1, max_size=12)
DOMAIN = st.builds(lambda labels, tld: ".".join(labels + [tld]), st.lists(LABEL, max_size=3),
                   st.text(st.sampled_from("orgcmxyz"), min_size=2, max_size=6)) | st.lists(
    st.text(st.sampled_from("az09-é_."), min_size=1, max_size=12), max_size=4).map(".".join)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(local=LOCAL, domain=DOMAIN)
def test_every_address_the_check_takes_composes(local, domain):
    address = f"{local}@{domain}"
    if not addresses.valid(address):
        return
    # What mail.compose does with a recipient, and how smtplib is handed the message.
    message = EmailMessage(policy=COMPOSING)
    message["From"] = f"Deadlines <{address}>"
    message["To"] = Address(addr_spec=address)
    message.set_content("x")
    assert address.encode("ascii") in message.as_bytes()


@pytest.mark.parametrize("address", ["first.last+cme@example.org", "a!#$%&'*+/=?^_`{|}~-@x.co.uk",
                                     "cme@demo-health.example.org"])
def test_plain_addresses_are_taken(address):
    assert addresses.valid(address)
    assert Address(addr_spec=address).addr_spec == address


# --- the Next Decision Date rule: one for the roster and the builder ------------------------------

@pytest.mark.parametrize("value", ["2024-02-30", "July", "20270731", "2024-03-31", "2029-01-01"])
def test_roster_and_builder_say_the_same_of_a_next_decision_date(tmp_path, value):
    (line,) = roster_problems(tmp_path, ROSTER_TEXT.replace("2024-07-31", value))
    loaded = rules.load(bundled("rules.toml"), today=TODAY)
    with pytest.raises(calendars.BadParameter) as err:
        calendars.builder(loaded, {"next_decision_date": value}, TODAY)
    assert line.endswith(", column " + str(err.value)), (line, str(err.value))
    assert line.endswith(f"(expected {NDD_ACCEPTED})")


# --- date arithmetic beneath the loader and the engine --------------------------------------------

def test_the_loader_does_not_import_the_engine():
    done = subprocess.run([sys.executable, "-c", "import sys, calfeed.core.rules; "
                           "print(sorted(m for m in sys.modules if m.startswith('calfeed.')))"],
                          capture_output=True, text=True, check=True)
    assert "calfeed.core.engine" not in done.stdout and "calfeed.outputs" not in done.stdout


def test_the_yearly_rule_gives_source_001s_deadline():
    # Source 001: data year 2023 "by April 1, 2024 at 11:59 p.m. Central Time" (March 31 a Sunday).
    rule = YearlyRule(3, 31, "23:59", "America/Chicago", 1, "off-weekend")
    assert dates.rule_deadline(rule, 2023) == datetime(2024, 4, 1, 23, 59,
                                                       tzinfo=ZoneInfo("America/Chicago"))
    assert dates.cohort_identity(date(2024, 7, 31)) == ("progress-2024-07-31", "2024-07-31")
