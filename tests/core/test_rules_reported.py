"""Dates from a provider's own decision report: the builder's step parameters and the
roster's step columns, shown as the provider's own (status `reported`) in every output.

The dates are the November 2023 tables' (source 000: the 8-month review, Next Decision
Date July 31, 2024: data entry January 24, 2024, activity selection February 7,
materials available February 21, materials due April 3, decision July 2024), and, for
Next Decision Date July 31, 2027, dates a coordinator might read in a decision report
(a fixture, not a publication): January 13, January 27, February 10 and April 14, 2027.
calfeed's estimate for that date follows the 8-month table: January 20, February 3,
February 17, March 31, July 2027.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import vobject
from click.testing import CliRunner

from calfeed import bundled
from calfeed.cli import main
from calfeed.core import calendars, engine, rules, wording
from calfeed.core.engine import SEQUENCE_FLOOR
from calfeed.core.model import Day, Month, Profile
from calfeed.notify import plan as notify
from calfeed.outputs import export
from calfeed.outputs import ical as feed

from apps import make_app

TODAY = date(2026, 11, 21)
RULES_TEXT = bundled("rules.toml").read_text(encoding="utf-8")
SOURCE_000 = {"enter-activity-data": "2024-01-24", "activities-selected": "2024-02-07",
              "materials-available": "2024-02-21", "materials-due": "2024-04-03",
              "decision": "2024-07"}
FOUR = {"enter-activity-data": "2027-01-13", "activities-selected": "2027-01-27",
        "materials-available": "2027-02-10", "materials-due": "2027-04-14"}
# What an operator adds if ACCME publishes the table for July 31, 2027 (a fixture).
COHORT_2027_07 = """
[[progress.cohorts]]
decision = "2026-11"
next_decision_date = 2027-07-31
source = "ACCME Progress Report Milestones — For November 2026 Cohort Decisions Requiring a Progress Report (8-month progress report review)"
dates = { enter-activity-data = 2027-01-27, activities-selected = 2027-02-10, materials-available = 2027-02-24, materials-due = 2027-04-07, decision = "2027-07" }
"""
HEADER = "id,name,next_decision_date,enduring_materials,accreditor,email"
STEPS = "enter-activity-data,activities-selected,materials-available,materials-due,decision"


@pytest.fixture(scope="module")
def bundled_rules():
    """The bundled rules, without a roster."""
    return rules.load(bundled("rules.toml"), roster=False)


def load(tmp_path: Path, roster: str, text: str = RULES_TEXT, today: date = TODAY) -> rules.Rules:
    """Rules and a roster written to tmp_path."""
    (tmp_path / "rules.toml").write_text(text, encoding="utf-8")
    (tmp_path / "providers.csv").write_text(roster, encoding="utf-8")
    return rules.load(tmp_path / "rules.toml", tmp_path / "providers.csv", today)


def builder(loaded: rules.Rules, today: date = TODAY, **answers: str) -> calendars.Subject:
    """The builder's calendar from answers (step ids written with "-")."""
    return calendars.builder(loaded, answers, today)


def own(**dates: str) -> dict[str, str]:
    """Step answers, by step id."""
    return {k.replace("_", "-"): v for k, v in dates.items()}


def progress(events):
    """(milestone, start, precision, status) of the progress-report events, in order."""
    return [(e.milestone, e.start.isoformat() if e.start else None, e.precision, e.status)
            for e in events if e.track != "annual-reporting"]


# --- the engine --------------------------------------------------------------------------------

def test_the_november_2023_dates_entered_as_own_are_the_published_dates_as_reported(
        bundled_rules):
    today = date(2024, 1, 1)
    published = builder(bundled_rules, today, next_decision_date="2024-07-31")
    reported = builder(bundled_rules, today, next_decision_date="2024-07-31", **SOURCE_000)
    before = engine.schedule(bundled_rules, published.profile, today)
    after = engine.schedule(bundled_rules, reported.profile, today)
    assert progress(after) == [
        ("enter-activity-data", "2024-01-24", "day", "reported"),
        ("activities-selected", "2024-02-07", "day", "reported"),
        ("materials-available", "2024-02-21", "day", "reported"),
        ("materials-due", "2024-04-03", "day", "reported"),
        ("decision", "2024-07-01", "month", "reported"),
        ("review-fee", None, "undated", "published"),
    ]
    assert [(m, s, p) for m, s, p, _ in progress(after)] == [
        (m, s, p) for m, s, p, _ in progress(before)]
    # The legacy ids of the published November 2023 cohort: the same events.
    assert sorted(e.uid for e in after) == sorted(e.uid for e in before)
    assert "calendar-2024-07-31/progress-8-month/2023-11/materials-due@calfeed" in {
        e.uid for e in after}
    due = next(e for e in after if e.milestone == "materials-due")
    assert wording.title(due) == "Progress Report Materials Submission Deadline"
    assert due.caveats == ()
    assert due.description.endswith(
        "From your decision report: your organization entered this date from the decision "
        "report ACCME sent it; calfeed shows it as entered, not estimated.")
    decision = next(e for e in after if e.milestone == "decision")
    assert wording.when(decision) == "July 2024 (the month your decision report gives)"


def test_four_dates_for_july_2027_replace_the_estimate_and_keep_its_uids(bundled_rules):
    estimate = builder(bundled_rules, next_decision_date="2027-07-31")
    mine = builder(bundled_rules, next_decision_date="2027-07-31", **FOUR)
    assert mine.query == ("?next_decision_date=2027-07-31&enter-activity-data=2027-01-13"
                          "&activities-selected=2027-01-27&materials-available=2027-02-10"
                          "&materials-due=2027-04-14")
    assert mine.profile.id == estimate.profile.id == "calendar-2027-07-31"
    before = engine.schedule(bundled_rules, estimate.profile, TODAY)
    after = engine.schedule(bundled_rules, mine.profile, TODAY)
    assert progress(before) == [
        ("enter-activity-data", "2027-01-20", "day", "estimated"),
        ("activities-selected", "2027-02-03", "day", "estimated"),
        ("materials-available", "2027-02-17", "day", "estimated"),
        ("materials-due", "2027-03-31", "day", "estimated"),
        ("decision", "2027-07-01", "month", "estimated"),
        ("review-fee", None, "undated", "estimated"),
    ]
    assert progress(after) == [
        ("enter-activity-data", "2027-01-13", "day", "reported"),
        ("activities-selected", "2027-01-27", "day", "reported"),
        ("materials-available", "2027-02-10", "day", "reported"),
        ("materials-due", "2027-04-14", "day", "reported"),
        ("decision", "2027-07-01", "month", "estimated"),
        ("review-fee", None, "undated", "estimated"),
    ]
    assert sorted(e.uid for e in after) == sorted(e.uid for e in before)
    by_id = {e.milestone: e for e in after}
    assert by_id["materials-due"].uid == (
        "calendar-2027-07-31/progress-2027-07-31/2027-07-31/materials-due@calfeed")
    assert wording.title(by_id["materials-due"]) == "Progress Report Materials Submission Deadline"
    assert wording.title(by_id["decision"]) == (
        "ACCME notifies provider of the July 2027 Cohort progress report decision (estimated)")
    assert by_id["materials-due"].track_name == (
        "Progress Report Milestones — Next Decision Date July 31, 2027 (estimated), with dates "
        "from your decision report")


def test_uids_are_the_same_for_the_estimate_the_own_dates_and_a_published_cohort(
        bundled_rules, tmp_path):
    roster = f"{HEADER}\np,P,2027-07-31,no,,\n"
    published = load(tmp_path, roster, RULES_TEXT + COHORT_2027_07)
    profile = Profile("p", "P", date(2027, 7, 31))
    mine = Profile("p", "P", date(2027, 7, 31), reported=tuple(
        (k, Day(date.fromisoformat(v))) for k, v in FOUR.items()))
    uids = [sorted(e.uid for e in engine.schedule(r, who, TODAY)) for r, who in (
        (bundled_rules, profile), (bundled_rules, mine), (published, profile), (published, mine))]
    assert uids[0] == uids[1] == uids[2] == uids[3]
    assert "p/progress-2027-07-31/2027-07-31/materials-due@calfeed" in uids[0]
    # Once ACCME publishes, the provider's own dates still stand, and say ACCME's.
    after = {e.milestone: e for e in engine.schedule(published, mine, TODAY)}
    assert progress(after.values()) == [
        ("enter-activity-data", "2027-01-13", "day", "reported"),
        ("activities-selected", "2027-01-27", "day", "reported"),
        ("materials-available", "2027-02-10", "day", "reported"),
        ("materials-due", "2027-04-14", "day", "reported"),
        ("decision", "2027-07-01", "month", "published"),
        ("review-fee", None, "undated", "published"),
    ]
    assert ("ACCME's published milestones for this Next Decision Date give Wednesday, "
            "April 7, 2027; the date in your decision report stands."
            in after["materials-due"].description)


def test_sequence_never_goes_down_from_estimate_or_publication_to_own_date(bundled_rules):
    def sequences(**answers):
        subject = builder(bundled_rules, next_decision_date="2027-07-31", **answers)
        return {e.milestone: e.sequence for e in engine.schedule(
            bundled_rules, subject.profile, TODAY) if e.track != "annual-reporting"}
    assert sequences()["materials-due"] == SEQUENCE_FLOOR
    assert sequences(**FOUR)["materials-due"] == SEQUENCE_FLOOR + 2
    today = date(2024, 1, 1)
    published = builder(bundled_rules, today, next_decision_date="2024-07-31")
    mine = builder(bundled_rules, today, next_decision_date="2024-07-31", **SOURCE_000)
    assert {e.sequence for e in engine.schedule(bundled_rules, published.profile, today)
            if e.milestone == "materials-due"} == {SEQUENCE_FLOOR + 1}
    assert {e.sequence for e in engine.schedule(bundled_rules, mine.profile, today)
            if e.milestone == "materials-due"} == {SEQUENCE_FLOOR + 2}


# --- the outputs -------------------------------------------------------------------------------

def test_feed_json_and_csv_say_the_date_is_from_the_decision_report(bundled_rules):
    subject = builder(bundled_rules, next_decision_date="2027-07-31", **FOUR)
    events = engine.schedule(bundled_rules, subject.profile, TODAY)
    calendar = engine.calendar(bundled_rules, subject.profile)
    parsed = vobject.readOne(feed.render(events, calendar).decode())
    vevents = {v.uid.value: v for v in parsed.contents["vevent"]}
    due = vevents["calendar-2027-07-31/progress-2027-07-31/2027-07-31/materials-due@calfeed"]
    assert due.dtstart.value == date(2027, 4, 14)
    assert due.status.value == "CONFIRMED"
    assert due.summary.value == "Progress Report Materials Submission Deadline"
    assert "From your decision report" in due.description.value
    decision = vevents["calendar-2027-07-31/progress-2027-07-31/2027-07-31/decision@calfeed"]
    assert decision.status.value == "TENTATIVE"
    assert ("Dates from your decision report are as your organization entered them."
            in parsed.x_wr_caldesc.value)

    data = json.loads(export.to_json(calendar, events))
    statuses = {e["milestone"]: (e["start"], e["status"], e["caveats"]) for e in data["events"]
                if e["track"] == "progress-2027-07-31"}
    assert statuses["materials-due"] == ("2027-04-14", "reported", [])
    assert statuses["decision"] == ("2027-07-01", "estimated", ["estimated"])

    rows = {r["milestone"]: r for r in csv.DictReader(
        io.StringIO(export.to_csv(events, TODAY).lstrip("\ufeff")))}
    assert (rows["materials-due"]["Date"], rows["materials-due"]["Status"]) == (
        "2027-04-14", "From your decision report")
    assert rows["decision"]["Status"] == "Estimated"


def test_the_page_one_event_and_reminder_calendar_of_own_dates(client):
    query = "?next_decision_date=2027-07-31&materials-due=2027-04-14"
    page = client.get("/calendar/" + query).get_data(as_text=True)
    assert "<li><bdi>1 date from your decision report</bdi></li>" in page
    assert ('<span class="tag reported">From your decision report</span>' in page)
    assert "1 date in this calendar is from your decision report" in page
    one = client.get("/calendar/events/progress-2027-07-31/2027-07-31/materials-due.ics" + query)
    assert one.status_code == 200
    event = vobject.readOne(one.get_data(as_text=True)).vevent
    assert (event.dtstart.value, event.status.value) == (date(2027, 4, 14), "CONFIRMED")
    # The 1-week reminder counts to the coordinator's date: 9:00 a.m. on Wednesday, April 7,
    # 159 hours before the start of April 14.
    reminded = vobject.readOne(client.get("/calendar/remind-1w.ics" + query).get_data(
        as_text=True))
    due = next(v for v in reminded.vevent_list if v.uid.value.endswith("/materials-due@calfeed"))
    assert [a.trigger.value for a in due.valarm_list] == [-timedelta(hours=159)]


def test_the_builder_page_prefills_calfeeds_dates_then_keeps_the_coordinators(client):
    page = client.get("/calendar/?next_decision_date=2027-07-31").get_data(as_text=True)
    assert ('<input type="date" id="own-materials-due" name="materials-due" value="2027-03-31"'
            in page)
    assert ('<input type="month" id="own-decision" name="decision" value="2027-07"' in page)
    assert "calfeed&#39;s date: Wednesday, March 31, 2027 (estimated)." in page
    mine = client.get("/calendar/?next_decision_date=2027-07-31&materials-due=2027-04-14")
    page = mine.get_data(as_text=True)
    assert ('<input type="date" id="own-materials-due" name="materials-due" value="2027-04-14"'
            in page)
    # A step the coordinator left out stays empty, calfeed's date beside it.
    assert ('<input type="date" id="own-enter-activity-data" name="enter-activity-data" '
            'value=""' in page)
    # The answers form keeps the coordinator's date when an answer changes.
    assert '<input type="hidden" name="materials-due" value="2027-04-14">' in page


@pytest.mark.parametrize("answers, field, problem", [
    ("materials-due=2027-02-30", "materials-due",
     "materials-due: 2027-02-30 is not a day on the calendar (expected a day written "
     "YYYY-MM-DD, or a month written YYYY-MM where the decision report gives only the month)"),
    ("materials-due=soon", "materials-due",
     'materials-due: "soon" is not a date written YYYY-MM-DD or a month written YYYY-MM'),
    ("enter-activity-data=2027-01-13&materials-due=2027-01-06", "materials-due",
     'materials-due: 2027-01-06 is before step "enter-activity-data" (2027-01-13), which comes '
     "earlier (expected dates in the order of the steps: enter-activity-data, "
     "activities-selected, materials-available, materials-due, decision)"),
    ("materials-due=2027-08-04", "materials-due",
     "materials-due: 2027-08-04 is after the Next Decision Date 2027-07-31 (expected every step "
     "on or before the Next Decision Date)"),
    ("enter-activity-data=2026-07-29", "enter-activity-data",
     "enter-activity-data: 2026-07-29 is more than a year before the Next Decision Date "
     "2027-07-31 (expected a date from 2026-07-31 to 2027-07-31)"),
    ("decision=2027-06", "decision",
     "decision: 2027-06 is not the month of the Next Decision Date 2027-07-31 (expected "
     "2027-07: ACCME decides in the month of the Next Decision Date)"),
])
def test_a_date_that_cannot_be_is_a_400_naming_the_field_with_the_form_refilled(
        client, answers, field, problem):
    response = client.get(f"/calendar/?next_decision_date=2027-07-31&{answers}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"<dd><code>{field}</code></dd>" in page
    assert problem.replace('"', "&#34;") in page
    value = dict(pair.split("=") for pair in answers.split("&"))[field]
    assert (f'id="own-{field}" name="{field}" value="{value}" aria-describedby="own-{field}-error '
            f'own-{field}-hint" aria-invalid="true"') in page
    assert '<input type="date" id="next_decision_date" name="next_decision_date" value="2027-07-31"' in page
    feed_answer = client.get(f"/calendar.json?next_decision_date=2027-07-31&{answers}")
    assert feed_answer.status_code == 400
    assert feed_answer.get_data(as_text=True).startswith(f"400 Bad Request\n{field}: ")


def test_own_dates_without_a_next_decision_date_a_repeat_or_a_typo_are_refused(client):
    alone = client.get("/calendar.ics?materials-due=2027-04-14")
    assert alone.status_code == 400
    assert alone.get_data(as_text=True) == (
        "400 Bad Request\nmaterials-due: a date from a decision report needs that report's Next "
        "Decision Date (expected a next_decision_date with it)\n")
    twice = client.get("/calendar/?next_decision_date=2027-07-31&materials-due=2027-04-14"
                       "&materials-due=2027-04-21")
    assert twice.status_code == 400
    assert "materials-due: given twice (2027-04-14, 2027-04-21)" in twice.get_data(as_text=True)
    typo = client.get("/calendar.csv?next_decision_date=2027-07-31&materials-du=2027-04-14")
    assert typo.status_code == 400
    assert "did you mean materials-due?" in typo.get_data(as_text=True)
    # An empty field is no answer: calfeed's date stays.
    empty = client.get("/calendar.json?next_decision_date=2027-07-31&materials-due=")
    due = [e for e in empty.get_json()["events"] if e["milestone"] == "materials-due"]
    assert [(e["start"], e["status"]) for e in due] == [("2027-03-31", "estimated")]


# --- a Recognized Accreditor sets the progress-report dates ---------------------------------------

def test_a_state_accredited_provider_is_shown_no_accme_cohort(bundled_rules):
    today = date(2024, 1, 1)
    subject = builder(bundled_rules, today, next_decision_date="2024-07-31", accreditor="cma")
    events = engine.schedule(bundled_rules, subject.profile, today)
    assert {e.track for e in events} == {"annual-reporting"}
    calendar = engine.calendar(bundled_rules, subject.profile)
    assert calendar.description.endswith(
        "Your progress report (Next Decision Date July 31, 2024) is decided by the California "
        "Medical Association, your Recognized Accreditor, which sets its dates in your decision "
        "report: calfeed shows no ACCME dates for it. Enter the dates from that report to have "
        "them in this calendar.")
    parsed = vobject.readOne(feed.render(events, calendar).decode())
    assert "sets its dates in your decision report" in parsed.x_wr_caldesc.value


def test_a_state_accredited_providers_own_dates_are_its_accreditors_schedule(bundled_rules):
    subject = builder(bundled_rules, next_decision_date="2027-07-31", accreditor="cma",
                      **{"enter-activity-data": "2027-01-13", "activities-selected": "2027-01-27"})
    events = [e for e in engine.schedule(bundled_rules, subject.profile, TODAY)
              if e.track != "annual-reporting"]
    assert [(e.uid, e.start.isoformat(), e.status, e.actor, wording.title(e)) for e in events] == [
        ("calendar-2027-07-31-cma/progress-2027-07-31/2027-07-31/enter-activity-data@calfeed",
         "2027-01-13", "reported", "provider",
         "Provider enters CME activity data — California Medical Association schedule"),
        ("calendar-2027-07-31-cma/progress-2027-07-31/2027-07-31/activities-selected@calfeed",
         "2027-01-27", "reported", "accreditor",
         "ACCME notifies provider of activities selected for performance-in-practice review — "
         "California Medical Association schedule"),
    ]
    assert events[0].track_name == ("Progress Report Milestones — Next Decision Date July 31, "
                                    "2027 (from your California Medical Association decision "
                                    "report)")
    assert "your Recognized Accreditor, the California Medical Association, sets your " \
           "progress-report dates" in events[0].description
    # The accreditor's page, never ACCME's progress-report guide, as the schedule's link.
    assert [link.title for link in events[0].links] == ["PARS", "California Medical Association"]


def test_the_page_of_a_state_accredited_provider_says_who_sets_its_dates(client):
    page = client.get("/calendar/?next_decision_date=2027-07-31&accreditor=cma").get_data(
        as_text=True)
    assert "calfeed shows no ACCME dates for it" in page
    assert "progress-2027-07-31" not in page
    assert ('<input type="date" id="own-materials-due" name="materials-due" value=""' in page)
    assert '<input type="hidden" name="accreditor" value="cma">' in page


# --- the roster --------------------------------------------------------------------------------

def test_roster_step_columns_are_the_providers_own_dates(tmp_path):
    roster = (f"{HEADER},{STEPS}\n"
              "alder,Alder,2027-07-31,no,,,2027-01-13,2027-01-27,2027-02-10,2027-04-14,\n"
              "birch,Birch,2027-07-31,no,,,,,,,\n")
    loaded = load(tmp_path, roster)
    alder = loaded.providers["alder"]
    assert alder.reported == (
        ("enter-activity-data", Day(date(2027, 1, 13))),
        ("activities-selected", Day(date(2027, 1, 27))),
        ("materials-available", Day(date(2027, 2, 10))),
        ("materials-due", Day(date(2027, 4, 14))))
    assert loaded.providers["birch"].reported == ()
    assert progress(engine.schedule(loaded, alder, TODAY))[:5] == [
        ("enter-activity-data", "2027-01-13", "day", "reported"),
        ("activities-selected", "2027-01-27", "day", "reported"),
        ("materials-available", "2027-02-10", "day", "reported"),
        ("materials-due", "2027-04-14", "day", "reported"),
        ("decision", "2027-07-01", "month", "estimated"),
    ]


def test_check_names_the_row_and_the_step(tmp_path):
    roster = (f"{HEADER},materials-due,decision\n"
              "alder,Alder,2027-07-31,no,,,2027-08-04,\n"
              "birch,Birch,,no,,,2027-04-14,\n"
              "cedar,Cedar,2027-07-31,no,,,4/14/2027,2027-13\n"
              "dogwood,Dogwood,2027-07-31,no,cma,,,\n")
    (tmp_path / "rules.toml").write_text(RULES_TEXT, encoding="utf-8")
    (tmp_path / "providers.csv").write_text(roster, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--rules", str(tmp_path / "rules.toml"),
                                       "--today", "2026-11-21"])
    assert result.exit_code == 1
    roster_path = tmp_path / "providers.csv"
    assert result.stderr.splitlines() == [f"{roster_path}: {line}" for line in [
        'row 2 (id "alder"), column materials-due: 2027-08-04 is after the Next Decision Date '
        "2027-07-31 (expected every step on or before the Next Decision Date)",
        'row 3 (id "birch"), column next_decision_date: empty, but the row has dates from its '
        "decision report (materials-due) (expected the Next Decision Date of that decision report)",
        'row 4 (id "cedar"), column materials-due: "4/14/2027" reads as 2027-04-14 (month/day/year, '
        "as a spreadsheet shows dates): write 2027-04-14, and format the column as text so that "
        "the spreadsheet keeps it (expected a day written YYYY-MM-DD, or a month written YYYY-MM "
        "where the decision report gives only the month)",
        'row 4 (id "cedar"), column decision: 2027-13 is not a month (expected a day written '
        "YYYY-MM-DD, or a month written YYYY-MM where the decision report gives only the month)",
        'row 5 (id "dogwood"), column accreditor: warning: accredited by "cma" with a '
        "next_decision_date: its accreditor sets its progress-report dates, so calfeed shows none "
        "(expected the dates from its decision report in the step columns (enter-activity-data, "
        "activities-selected, materials-available, materials-due, decision))",
    ]]


def test_notify_reminds_towards_the_providers_own_date_and_announces_no_move(tmp_path):
    roster = (f"{HEADER},materials-due\n"
              "alder,Alder,2027-07-31,no,,cme@alder.example.org,\n")
    estimate = load(tmp_path, roster)
    told: dict = {}
    for record in notify.plan(estimate, date(2027, 1, 2), {}, set()).quiet:
        told[record.recipient, record.provider, record.uid] = notify.Told(record.start,
                                                                          record.status)
    mine = load(tmp_path, roster.replace("cme@alder.example.org,", "cme@alder.example.org,"
                                         "2027-04-14"))
    uid = "alder/progress-2027-07-31/2027-07-31/materials-due@calfeed"
    # 30 days before the estimate (March 31) nothing is due for the coordinator's April 14,
    # nor any notice: the date is the one they gave.
    day = notify.plan(mine, date(2027, 3, 1), told, set())
    assert [i.event.uid for m in day.messages for i in m.items if "/progress-" in i.event.uid] == []
    due = notify.plan(mine, date(2027, 3, 15), told, set())
    assert [(i.event.uid, i.start, i.lead, i.notice, i.event.status)
            for m in due.messages for i in m.items if "/progress-" in i.event.uid] == [
        (uid, "2027-04-14", 30, None, "reported")]


def test_diff_counts_no_provider_whose_own_dates_a_publication_leaves_alone(tmp_path):
    roster = (f"{HEADER},{STEPS}\n"
              "alder,Alder,2027-07-31,no,,,2027-01-13,2027-01-27,2027-02-10,2027-04-14,2027-07\n"
              "birch,Birch,2027-07-31,no,,,,,,,\n")
    (tmp_path / "old.toml").write_text(RULES_TEXT.replace('roster = "providers.csv"\n', ""),
                                       encoding="utf-8")
    (tmp_path / "new.toml").write_text(RULES_TEXT.replace(
        "revised = 2026-11-21T00:00:00Z", "revised = 2026-12-01T00:00:00Z") + COHORT_2027_07,
        encoding="utf-8")
    (tmp_path / "providers.csv").write_text(roster, encoding="utf-8")
    result = CliRunner().invoke(main, ["diff", str(tmp_path / "old.toml"),
                                       str(tmp_path / "new.toml"), "--today", "2026-11-21",
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    published = [d for d in report["differences"] if d["track"] == "progress-2027-07-31"]
    # Only birch's calendar follows ACCME's table; alder's dates are its own.
    assert {d["milestone"] for d in published} >= {
        "enter-activity-data", "activities-selected", "materials-available", "materials-due"}
    assert max(d["providers"] for d in published) == 1


def test_the_static_build_carries_a_providers_own_dates(tmp_path):
    from calfeed.core import tokens

    from apps import SECRET

    roster = (f"{HEADER},materials-due\n"
              "alder,Alder Heart Institute,2027-07-31,no,,,2027-04-14\n")
    load(tmp_path, roster)
    site = tmp_path / "site"
    env = {"CALFEED_SECRET_KEY": SECRET, "CALFEED_RULES": None, "CALFEED_PROVIDERS": None,
           "CALFEED_BASE_URL": None, "CALFEED_TODAY": None, "CI": "1"}
    result = CliRunner().invoke(main, ["build", str(site), "--rules", str(tmp_path / "rules.toml"),
                                       "--base-url", "https://cme.example.org", "--today",
                                       "2026-11-21", "--workers", "1"], env=env)
    assert result.exit_code == 0, result.output
    private = site / "p" / tokens.token(SECRET.encode(), "alder", 0)
    page = (private / "index.html").read_text(encoding="utf-8")
    assert '<span class="tag reported">From your decision report</span>' in page
    event = vobject.readOne((private / "events" / "progress-2027-07-31" / "2027-07-31" /
                             "materials-due.ics").read_text(encoding="utf-8")).vevent
    assert (event.dtstart.value, event.status.value) == (date(2027, 4, 14), "CONFIRMED")
    # The builder stays on the server: no form of it in the static site.
    assert "own-dates" not in (site / "index.html").read_text(encoding="utf-8")


def test_where_accmes_table_disagrees_the_page_shows_both_and_the_report_stands(tmp_path):
    client = make_app(tmp_path, CALFEED_TODAY="2024-03-15").test_client()
    page = client.get("/calendar/?next_decision_date=2024-07-31&materials-due=2024-04-10"
                      ).get_data(as_text=True)
    assert '<time datetime="2024-04-10">Wednesday, April 10, 2024</time>' in page
    assert ("ACCME&#39;s published milestones for this Next Decision Date give Wednesday, "
            "April 3, 2024; the date in your decision report stands." in page)
    assert 'datetime="2024-04-03"' not in page


def test_the_reminder_email_of_an_own_date_is_not_estimated(tmp_path):
    from email import policy
    from email.parser import BytesParser

    from calfeed.notify import mail

    roster = (f"{HEADER},materials-due\n"
              "alder,Alder Heart Institute,2027-07-31,no,,cme@alder.example.org,2027-04-14\n")
    loaded = load(tmp_path, roster)
    plan = notify.plan(loaded, date(2027, 3, 15), {}, set())
    (message,) = plan.messages
    (item,) = [i for i in message.items if "/progress-" in i.event.uid]
    assert (item.start, item.lead, item.event.status) == ("2027-04-14", 30, "reported")
    composed = mail.compose(message, loaded, "Deadlines <deadlines@example.org>",
                            {"alder": "https://cme.example.org/p/alder/"})
    parsed = BytesParser(policy=policy.default).parsebytes(composed.as_bytes())
    plain = " ".join(parsed.get_body(("plain",)).get_content().split())
    assert "Wednesday, April 14, 2027" in plain
    assert "From your decision report: your organization entered this date" in plain
    assert "Progress Report Materials Submission Deadline (estimated)" not in plain
