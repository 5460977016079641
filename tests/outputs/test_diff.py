"""`calfeed diff OLD NEW` as an operator runs it before deploying an edit of rules.toml.

The first fixture is the 2019 data year's extension (shared/seeds/published-dates.md:
"extended ad hoc from March 31 to April 30, 2020 (COVID)"); the other edits start
from the bundled rules (sources 000 and 001) and change what an operator changes:
a newly published deadline, a retitled step, a moved date.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path


from calfeed import bundled
from files import FIXTURES

AFTER = str(FIXTURES / "extension-2019.toml")
BEFORE = str(FIXTURES / "extension-2019-before.toml")

# Annual reporting is the same for every Next Decision Date, with enduring materials or
# not, and the CMA published no 2019 deadline of its own: every builder calendar moves.
EVERYONE = "3 providers; every builder calendar; public calendar annual-reporting"
EXTENSION_REPORT = f"""\
annual-reporting 2019 (Annual Reporting in PARS, data year 2019)
  moved annual-agreement "Accept the terms of the ACCME annual agreement": Tuesday, March 31, 2020, 11:59 p.m. CT → Thursday, April 30, 2020, 11:59 p.m. CT ({EVERYONE})
  moved enter-activities "Enter all activities that started in 2019, and close all of them that also ended in 2019": Tuesday, March 31, 2020, 11:59 p.m. CT → Thursday, April 30, 2020, 11:59 p.m. CT ({EVERYONE})
  moved program-summary "Complete and submit your Program Summary": Tuesday, March 31, 2020, 11:59 p.m. CT → Thursday, April 30, 2020, 11:59 p.m. CT ({EVERYONE})
3 moved; reaches 3 of 3 providers on the roster and every builder calendar; revised 2020-02-01T00:00:00Z → 2020-03-30T00:00:00Z
"""


def edit(folder: Path, name: str, *replacements: tuple[str, str], source: Path | None = None) -> str:
    """A copy of a rules file with each (old, new) replaced exactly once."""
    text = (source or bundled("rules.toml")).read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    if not (folder / "providers.csv").exists():
        shutil.copy(bundled("providers.csv"), folder / "providers.csv")
    return str(path)


def test_the_2019_extension_moves_every_step_for_every_provider(cli):
    result = cli("diff", BEFORE, AFTER, "--today", "2020-03-30")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == EXTENSION_REPORT
    # Stable: it can be pasted into a change log and compared later.
    assert cli("diff", BEFORE, AFTER, "--today", "2020-03-30").stdout == EXTENSION_REPORT


def test_the_same_move_without_history_or_a_raised_revised_is_refused(cli, tmp_path):
    shutil.copy(FIXTURES / "extension-2019.csv", tmp_path / "extension-2019.csv")
    new = edit(tmp_path, "rules.toml", ("2019 = 2020-03-31T23:59:00", "2019 = 2020-04-30T23:59:00"),
               source=Path(BEFORE))
    result = cli("diff", BEFORE, new, "--today", "2020-03-30")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{new}: revised: 2020-02-01T00:00:00Z is not later than 2020-02-01T00:00:00Z in "
        f"{BEFORE}, and dates changed (expected revised raised to when you made this edit, so "
        "subscribed calendars update)",
        f"{new}: tracks.annual-reporting.published.2019: published date moved from "
        "2020-03-31T23:59:00 to 2020-04-30T23:59:00 with no history entry (expected 2019 = { at = "
        "2020-04-30T23:59:00, changes = [{ was = 2020-03-31T23:59:00, announced = YYYY-MM-DD, "
        'note = "why it moved" }] })',
    ]
    # The report itself is still printed, to see what the edit does.
    assert result.stdout.splitlines()[1].startswith('  moved annual-agreement "Accept the terms')


def test_a_cohort_step_moved_without_history_names_its_place(cli, tmp_path):
    # Source 000, 8-month table: materials due April 3, 2024.
    new = edit(tmp_path, "rules.toml", ("materials-due = 2024-04-03,", "materials-due = 2024-04-10,"),
               ("revised = 2026-11-21T00:00:00Z", "revised = 2026-11-28T00:00:00Z"))
    result = cli("diff", str(bundled("rules.toml")), new, "--today", "2024-01-01")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{new}: progress.cohorts[1].dates.materials-due: published date moved from 2024-04-03 "
        "to 2024-04-10 with no history entry (expected materials-due = { date = 2024-04-10, "
        'changes = [{ was = 2024-04-03, announced = YYYY-MM-DD, note = "why it moved" }] })']
    assert result.stdout.splitlines()[:2] == [
        "progress-8-month 2023-11 (8-Month Progress Report Milestones, cycle 2023-11)",
        '  moved materials-due "Progress Report Materials Submission Deadline": '
        "Wednesday, April 3, 2024 → Wednesday, April 10, 2024 (1 provider; builder calendars "
        "with Next Decision Date 2024-07-31, accredited by ACCME; public calendar progress-8-month)",
    ]


def test_publishing_retitling_and_refining_a_date_are_listed_by_track_and_cycle(cli, tmp_path):
    new = edit(
        tmp_path, "rules.toml",
        ("revised = 2026-11-21T00:00:00Z", "revised = 2026-11-28T00:00:00Z"),
        # Data year 2025 published at the date the rule already gave: no move.
        ('at 11:59 pm Central Time"\n', 'at 11:59 pm Central Time"\n2025 = 2026-03-31T23:59:00\n'),
        ('decision = "2024-11"', "decision = 2024-11-20"),
        ('title = "Review and update your contact information"',
         'title = "Review and update your organization\'s contact information"'),
    )
    result = cli("diff", str(bundled("rules.toml")), new, "--today", "2026-11-21")
    assert result.exit_code == 0, result.output
    accme = "3 providers; builder calendars accredited by ACCME; public calendar annual-reporting"
    contact = ('  title contact-information: "Review and update your contact information" → '
               f'"Review and update your organization\'s contact information" ({accme})')
    # The state-accredited provider's step carries its accreditor's name: its own line.
    cma = ('  title contact-information: "Review and update your contact information — California '
           'Medical Association deadline" → "Review and update your organization\'s contact '
           'information — California Medical Association deadline" (1 provider; builder '
           'calendars accredited by the California Medical Association)')
    assert result.stdout.splitlines() == [
        "annual-reporting 2023 (Annual Reporting in PARS, data year 2023)",
        contact, cma,
        "annual-reporting 2024 (Annual Reporting in PARS, data year 2024)",
        contact, cma,
        "annual-reporting 2025 (Annual Reporting in PARS, data year 2025)",
        # ACCME's 2025 deadline published at the date calfeed estimated: a publication, each
        # step once with all that changed; CMA's for the state provider is still its estimate.
        '  published annual-agreement "Accept the terms of the ACCME annual agreement": '
        f"Tuesday, March 31, 2026, 11:59 p.m. CT, estimated → published ({accme})",
        '  published enter-activities "Enter all activities that started in 2025, and close all '
        'of them that also ended in 2025": Tuesday, March 31, 2026, 11:59 p.m. CT, estimated → '
        f"published ({accme})",
        '  published enduring-learner-counts "Update the total cumulative learner counts of '
        'enduring materials as of December 31, 2025": Tuesday, March 31, 2026, 11:59 p.m. CT, '
        "estimated → published (2 providers; builder calendars with enduring materials, "
        "accredited by ACCME; public calendar annual-reporting)",
        '  published program-summary "Complete and submit your Program Summary": Tuesday, '
        f"March 31, 2026, 11:59 p.m. CT, estimated → published ({accme})",
        '  published contact-information "Review and update your organization\'s contact '
        'information": Tuesday, March 31, 2026, 11:59 p.m. CT, estimated → published; retitled '
        f'from "Review and update your contact information" ({accme})',
        cma,
        "annual-reporting 2026 (Annual Reporting in PARS, data year 2026)",
        contact, cma,
        "annual-reporting 2027 (Annual Reporting in PARS, data year 2027)",
        contact, cma,
        "progress-12-month 2023-11 (12-Month Progress Report Milestones, cycle 2023-11)",
        '  precision decision "ACCME notifies provider of the November 2024 Cohort progress '
        'report decision": November 2024 → Wednesday, November 20, 2024 (1 provider; builder '
        "calendars with Next Decision Date 2024-11-30, accredited by ACCME; public calendar progress-12-month)",
        "5 published, 1 changed precision, 9 retitled; reaches 4 of 4 providers on the roster "
        "and every builder calendar; revised 2026-11-21T00:00:00Z → 2026-11-28T00:00:00Z",
    ]


def test_appearing_and_disappearing_steps(cli, tmp_path):
    text = bundled("rules.toml").read_text(encoding="utf-8")
    # A step ACCME no longer lists: gone from the steps and from every cohort.
    start = text.index("[[progress.steps]]\nid = \"activities-selected\"")
    end = text.index("[[progress.steps]]", start + 1)
    removed = (text[:start] + text[end:]).replace(" activities-selected = 2024-02-07,", "")
    removed = removed.replace(" activities-selected = 2024-05-22,", "")
    removed = removed.replace("revised = 2026-11-21T00:00:00Z", "revised = 2026-11-28T00:00:00Z")
    (tmp_path / "rules.toml").write_text(removed, encoding="utf-8")
    shutil.copy(bundled("providers.csv"), tmp_path / "providers.csv")
    old, new = str(bundled("rules.toml")), str(tmp_path / "rules.toml")
    result = cli("diff", old, new, "--today", "2024-01-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "progress-12-month 2023-11 (12-Month Progress Report Milestones, cycle 2023-11)",
        '  disappears activities-selected "ACCME notifies provider of activities selected for '
        'performance-in-practice review": Wednesday, May 22, 2024 (1 provider; builder calendars '
        'with Next Decision Date 2024-11-30, accredited by ACCME; public calendar progress-12-month)',
        "progress-8-month 2023-11 (8-Month Progress Report Milestones, cycle 2023-11)",
        '  disappears activities-selected "ACCME notifies provider of activities selected for '
        'performance-in-practice review": Wednesday, February 7, 2024 (1 provider; builder '
        'calendars with Next Decision Date 2024-07-31, accredited by ACCME; public calendar progress-8-month)',
        "2 disappeared; reaches 2 of 4 providers on the roster and builder calendars with Next "
        "Decision Date 2024-07-31 or 2024-11-30, accredited by ACCME; revised 2026-11-21T00:00:00Z → "
        "2026-11-28T00:00:00Z",
    ]
    back = cli("diff", new, old, "--today", "2024-01-01")
    # Going back is an appearance, and revised went down: refused.
    assert back.exit_code == 1
    assert back.stdout.splitlines()[1] == (
        '  appears activities-selected "ACCME notifies provider of activities selected for '
        'performance-in-practice review": Wednesday, May 22, 2024 (1 provider; builder calendars '
        'with Next Decision Date 2024-11-30, accredited by ACCME; public calendar progress-12-month)')
    assert back.stderr.startswith(f"{old}: revised: 2026-11-21T00:00:00Z is not later than "
                                  f"2026-11-28T00:00:00Z in {new}, and dates changed")


def test_json_report(cli):
    result = cli("diff", BEFORE, AFTER, "--today", "2020-03-30", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    title = "Accept the terms of the ACCME annual agreement"
    every = [{"next_decision_dates": "any", "enduring_materials": [False, True],
              "accreditors": [None, "cma"]}]
    assert data["differences"][0] == {
        "track": "annual-reporting", "cycle": "2019", "milestone": "annual-agreement",
        "kind": "moved", "changes": ["date"], "title": title,
        "old": {"date": "Tuesday, March 31, 2020, 11:59 p.m. CT", "status": "published",
                "title": title},
        "new": {"date": "Thursday, April 30, 2020, 11:59 p.m. CT", "status": "published",
                "title": title},
        "providers": 3, "builder": every, "tracks": ["annual-reporting"],
        "reaches": EVERYONE, "text": EXTENSION_REPORT.splitlines()[1].strip()}
    assert data["calendars"] == []
    assert data["summary"]["moved"] == 3 and data["summary"]["providers"] == 3
    assert data["summary"]["published"] == 0 and data["summary"]["builder"] == every
    assert data["summary"]["text"] == EXTENSION_REPORT.splitlines()[-1]
    assert data["problems"] == []
    assert (data["old"]["revised"], data["new"]["revised"]) == (
        "2020-02-01T00:00:00Z", "2020-03-30T00:00:00Z")


def test_providers_come_from_the_roster_given(cli, tmp_path):
    roster = tmp_path / "two.csv"
    roster.write_text("id,name\none,One\ntwo,Two\n", encoding="utf-8")
    result = cli("diff", BEFORE, AFTER, "--today", "2020-03-30", "--providers", str(roster))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == (
        "3 moved; reaches 2 of 2 providers on the roster and every builder calendar; "
        "revised 2020-02-01T00:00:00Z → 2020-03-30T00:00:00Z")


def test_broken_files_get_checks_lines_from_both_and_no_traceback(cli, tmp_path):
    old = tmp_path / "old.toml"
    old.write_text("revised = 2020\n", encoding="utf-8")
    result = cli("diff", str(old), str(tmp_path / "missing.toml"))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f'{old}: (top level): missing key "tracks" (expected tracks to be set)',
        f'{old}: revised: an integer "2020" (expected a date-time with its offset, like '
        "2026-11-21T00:00:00Z)",
        f"{tmp_path / 'missing.toml'}: file: cannot read: No such file or directory "
        "(expected a readable file)",
    ]
    assert "Traceback" not in result.output


def test_no_change_is_no_news(cli):
    result = cli("diff", AFTER, AFTER, "--today", "2020-03-30")
    assert result.exit_code == 0
    assert result.stdout == ("no changes; reaches 0 of 3 providers on the roster; "
                             "revised 2020-03-30T00:00:00Z → 2020-03-30T00:00:00Z\n")


def test_an_undated_steps_new_wording_is_words_not_a_moved_date(cli, tmp_path):
    # "Due upon receipt of invoice" (source 000) is in no feed: rewording it needs no
    # raised `revised`, and the report says what the words were and are.
    old = str(bundled("rules.toml"))
    new = edit(tmp_path, "new.toml", ('when = "Due upon receipt of invoice"',
                                      'when = "Due within 30 days of the invoice"'))
    result = cli("diff", old, new, "--today", "2024-01-01")
    assert result.exit_code == 0, result.output
    assert ('  title review-fee "Provider remits the progress report review fee": "Due upon '
            'receipt of invoice" → "Due within 30 days of the invoice"') in result.stdout
    assert " moved " not in result.stdout
