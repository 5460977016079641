"""The CSV twin as a spreadsheet opens it: words and real dates first, machine fields after.

Dates are literal, from source 000 (8-month table, November 2023 cohort), source 001
(data year 2023 due April 1, 2024, 11:59 p.m. Central Time) and published-dates.md
(the California Medical Association's March 14, 2025 deadline for data year 2024).
"""

from __future__ import annotations

import csv
import io
from datetime import date, time

from apps import make_app

HEADER = ("Date,Last day,Time,Time zone,When,Step,Who acts,Status,Changes,Schedule,Details,Link,"
          "uid,track,cycle,milestone,precision,start")


def rows_of(tmp_path, path: str, today: str = "2024-03-15") -> dict[str, dict[str, str]]:
    """A CSV's rows by "cycle/milestone", read as a spreadsheet would (UTF-8 with BOM)."""
    client = make_app(tmp_path, CALFEED_TODAY=today).test_client()
    response = client.get(path)
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    assert text.split("\r\n", 1)[0] == HEADER
    return {f"{r['cycle']}/{r['milestone']}": r for r in csv.DictReader(io.StringIO(text))}


def test_a_day_is_one_real_date_with_its_last_day_the_same(tmp_path):
    row = rows_of(tmp_path, "/calendar.csv?next_decision_date=2024-07-31")["2023-11/enter-activity-data"]
    assert (row["Date"], row["Last day"], row["Time"], row["Time zone"]) == (
        "2024-01-24", "2024-01-24", "", "")
    assert row["When"] == "Wednesday, January 24, 2024"
    assert row["Step"] == "Provider enters CME activity data"
    assert (row["Who acts"], row["Status"]) == ("Provider", "Published")
    assert row["Schedule"] == "8-Month Progress Report Milestones"
    assert row["Link"] == "https://pars.accme.org/"
    # the machine fields, after
    assert (row["uid"], row["precision"], row["start"]) == (
        "calendar-2024-07-31/progress-8-month/2023-11/enter-activity-data@calfeed", "day", "2024-01-24")


def test_a_month_runs_to_its_last_day_not_to_the_next_month(tmp_path):
    row = rows_of(tmp_path, "/calendar.csv?next_decision_date=2024-07-31")["2023-11/decision"]
    assert (row["Date"], row["Last day"]) == ("2024-07-01", "2024-07-31")
    assert row["When"] == "July 2024 (no exact day published)"
    assert row["Who acts"] == "ACCME"


def test_a_timed_deadline_has_its_local_time_and_zone_apart(tmp_path):
    row = rows_of(tmp_path, "/tracks/annual-reporting.csv")["2023/program-summary"]
    assert (row["Date"], row["Last day"], row["Time"], row["Time zone"]) == (
        "2024-04-01", "2024-04-01", "23:59", "Central Time")
    assert row["When"] == "Monday, April 1, 2024, 11:59 p.m. Central Time"
    assert row["Schedule"] == "Annual Reporting in PARS, data year 2023"
    assert row["start"] == "2024-04-01T23:59:00-05:00"


def test_an_estimated_date_says_so(tmp_path):
    row = rows_of(tmp_path, "/tracks/annual-reporting.csv", today="2026-11-21")["2026/program-summary"]
    assert (row["Date"], row["Time"], row["Status"]) == ("2027-03-31", "23:59", "Estimated")


def test_an_undated_step_has_no_date_and_says_when_in_words(tmp_path):
    row = rows_of(tmp_path, "/calendar.csv?next_decision_date=2024-07-31")["2023-11/review-fee"]
    assert (row["Date"], row["Last day"], row["Time"], row["start"]) == ("", "", "", "")
    assert row["When"] == "Due upon receipt of invoice"


def test_an_accreditors_deadline_is_its_own_day(tmp_path):
    row = rows_of(tmp_path, "/calendar.csv?accreditor=cma")["2024/program-summary"]
    assert (row["Date"], row["Last day"], row["Time"], row["Time zone"]) == (
        "2025-03-14", "2025-03-14", "", "")
    assert row["Step"] == "Complete and submit your Program Summary — California Medical Association deadline"


def test_every_date_and_time_parses_as_a_spreadsheet_reads_iso(tmp_path):
    rows = rows_of(tmp_path, "/calendar.csv?next_decision_date=2024-07-31&enduring_materials=yes")
    for row in rows.values():
        if row["Date"]:
            assert date.fromisoformat(row["Date"]) <= date.fromisoformat(row["Last day"])
        if row["Time"]:
            time.fromisoformat(row["Time"])


# --- the order a coordinator acts in, and "estimated" said once ------------------------


def ordered(tmp_path, path: str, today: str) -> list[dict[str, str]]:
    """A CSV's rows in the file's order."""
    client = make_app(tmp_path, CALFEED_TODAY=today).test_client()
    text = client.get(path).data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_upcoming_steps_come_first_soonest_first_then_the_past_most_recent_first(tmp_path):
    rows = ordered(tmp_path, "/calendar.csv?next_decision_date=2024-07-31&enduring_materials=yes",
                   today="2024-03-15")
    assert [r["Date"] for r in rows] == (
        ["2024-04-01"] * 5 + ["2024-04-03", "2024-07-01"] + ["2025-03-31"] * 5  # ahead
        + [""]  # the fee, due upon receipt of invoice: its cohort still runs
        + ["2024-02-21", "2024-02-07", "2024-01-24"])  # passed, the latest first
    # The steps of one deadline keep ACCME's checklist order.
    assert [r["milestone"] for r in rows[:5]] == [
        "annual-agreement", "enter-activities", "enduring-learner-counts", "program-summary",
        "contact-information"]
    assert rows[12]["milestone"] == "review-fee"


def test_a_cohort_whose_dates_all_passed_ends_the_file_with_its_fee(tmp_path):
    rows = ordered(tmp_path, "/calendar.csv?next_decision_date=2024-07-31", today="2026-11-21")
    assert (rows[0]["Date"], rows[0]["cycle"]) == ("2027-03-31", "2026")
    assert [(r["Date"], r["milestone"]) for r in rows[-4:]] == [
        ("2024-02-21", "materials-available"), ("2024-02-07", "activities-selected"),
        ("2024-01-24", "enter-activity-data"), ("", "review-fee")]
    past = [r["Date"] for r in rows if r["Date"] and r["Date"] < "2026-11-21"]
    assert past == sorted(past, reverse=True)


def test_estimated_is_said_once_in_status_and_other_caveats_stay_in_the_step(tmp_path):
    rows = rows_of(tmp_path, "/tracks/annual-reporting.csv", today="2026-11-21")
    summary = rows["2026/program-summary"]
    assert (summary["Step"], summary["Status"]) == (
        "Complete and submit your Program Summary", "Estimated")
    counts = rows["2026/enduring-learner-counts"]
    assert counts["Step"] == ("Update the total cumulative learner counts of enduring materials "
                              "as of December 31, 2026 (if you offer enduring materials)")
    assert all("estimated" not in r["Step"] for r in rows.values())
    # The JSON keeps the title as feeds show it, and gives the parts apart.
    client = make_app(tmp_path, CALFEED_TODAY="2026-11-21").test_client()
    events = {f"{e['cycle']}/{e['milestone']}": e
              for e in client.get("/tracks/annual-reporting.json").get_json()["events"]}
    both = events["2026/enduring-learner-counts"]
    assert both["title"] == ("Update the total cumulative learner counts of enduring materials as "
                             "of December 31, 2026 (estimated; if you offer enduring materials)")
    assert both["bare_title"] == ("Update the total cumulative learner counts of enduring "
                                  "materials as of December 31, 2026")
    assert both["caveats"] == ["estimated", "if you offer enduring materials"]
    assert both["data_year"] == 2026
