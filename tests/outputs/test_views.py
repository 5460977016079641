"""The pages as a CME coordinator reads them: what is next first, the past folded away.

Dates are literal, from source 000 (the 8-month and 12-month progress-report tables,
November 2023 cohort) and source 001 / published-dates.md (annual reporting: data year
2023 due April 1, 2024; 2024 due March 31, 2025, both 11:59 p.m. Central Time).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from calfeed.core import tokens

from apps import SECRET, make_app

BUILDER_8_MONTH = "/calendar/?next_decision_date=2024-07-31"


def client_on(tmp_path, today: str, data=None):
    """A test client of the app with "today" pinned (on a copy of the data if given)."""
    return make_app(tmp_path, data, CALFEED_TODAY=today).test_client()


def page_of(client, path: str) -> str:
    """A page's HTML, which must answer 200."""
    response = client.get(path)
    assert response.status_code == 200, path
    return response.data.decode()


def section(page: str, name: str) -> str:
    """The HTML of one of a calendar page's top-level sections, "" if it has none."""
    starts = {"upcoming": '<section class="timeline"', "undated": '<section class="undated"',
              "past": '<section class="archive"'}
    begin = page.find(starts[name])
    if begin < 0:
        return ""
    ends = [page.find(marker, begin + 1) for marker in list(starts.values()) + ["</main>"]]
    return page[begin:min(e for e in ends if e > begin)]


def times(html: str) -> list[str]:
    """The datetime attributes of the <time> elements, in order."""
    return re.findall(r'<time datetime="([^"]+)">', html)


class Headings(HTMLParser):
    """The levels of a page's h1–h6, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.levels: list[int] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        """Note a heading's level."""
        if re.fullmatch(r"h[1-6]", tag):
            self.levels.append(int(tag[1]))


def token_of(provider: str) -> str:
    """The private token the test secret gives a provider."""
    return tokens.token(SECRET.encode(), provider, 0)


# --- what comes first ------------------------------------------------------------------


def test_in_march_2024_the_page_opens_with_april_and_folds_january_and_february(tmp_path):
    page = page_of(client_on(tmp_path, "2024-03-15"), BUILDER_8_MONTH)
    upcoming, past = section(page, "upcoming"), section(page, "past")
    # first the next step: data year 2023's annual deadline, then the materials deadline
    assert times(upcoming)[:2] == ["2024-04-01T23:59:00-05:00", "2024-04-03"]
    assert "2024-01-24" not in upcoming and "2024-02-07" not in upcoming
    # the three passed steps of the cohort are in the fold, reachable
    assert "<details>" in past
    assert times(past) == ["2024-01-24", "2024-02-07", "2024-02-21"]
    assert "Show the 3 steps that have passed" in past
    assert "<h3><bdi>8-Month Progress Report Milestones</bdi></h3>" in past
    # the review fee of the running cohort has no date: listed apart, open
    assert "Due upon receipt of invoice" in section(page, "undated")
    # no step is dimmed: a passed one says so in words
    assert '<span class="passed">Passed</span>' in past
    assert '<span class="passed">' not in upcoming


def test_a_finished_cohort_takes_its_undated_fee_into_the_fold(client):
    # today 2026-11-21: every date of the November 2023 cohort has passed
    page = page_of(client, BUILDER_8_MONTH)
    assert section(page, "undated") == ""
    assert "Due upon receipt of invoice" in section(page, "past")
    assert times(section(page, "upcoming")) == [
        "2027-03-31T23:59:00-05:00", "2028-03-31T23:59:00-05:00"]


def test_the_fold_lists_data_years_and_cohorts_newest_first(tmp_path):
    page = page_of(client_on(tmp_path, "2025-06-01"), f"/p/{token_of('demo-8-month')}/")
    groups = re.findall(r"<h3><bdi>([^<]+)</bdi></h3>", section(page, "past"))
    assert groups == [
        "Annual Reporting in PARS, data year 2024",  # due March 31, 2025
        "8-Month Progress Report Milestones",  # ends July 2024
        "Annual Reporting in PARS, data year 2023",  # due April 1, 2024
    ]


def test_steps_months_ahead_fold_their_text_but_keep_their_add_link(tmp_path):
    page = page_of(client_on(tmp_path, "2024-03-15"), "/tracks/progress-12-month/")
    upcoming = section(page, "upcoming")
    # May 8, 2024 is within two months: ACCME's text is open
    may = upcoming[upcoming.index('datetime="2024-05-08"'):upcoming.index('datetime="2024-05-22"')]
    assert "<details>" not in may and "enter available information about the CME activities" in may
    # August 14, 2024 is five months away: its text is one click away, its .ics is not
    august = upcoming[upcoming.index('datetime="2024-08-14"'):]
    assert "<summary>Full text and links" in august
    assert (">Add 'Progress Report Materials Submission Deadline' to my calendar</a>"
            in august.split("</details>", 1)[1])


def test_an_estimated_steps_title_says_so_on_the_page(client):
    # today 2026-11-21: data year 2026's deadline is calfeed's estimate
    upcoming = section(page_of(client, "/tracks/annual-reporting/"), "upcoming")
    assert ">Complete and submit your Program Summary (estimated)</h4>" in upcoming
    assert ("Add 'Complete and submit your Program Summary (estimated)' to my calendar"
            in upcoming)


# --- the home page -------------------------------------------------------------------------

# The cohort the README's how-to adds: its name is the 8-month table's of 2023.
NEW_COHORT = """
[[progress.cohorts]]
decision = "2026-11"
next_decision_date = 2027-07-31
name = "8-Month Progress Report Milestones"
source = "ACCME Progress Report Milestones — For November 2026 Cohort Decisions Requiring a Progress Report (8-month progress report review)"
dates = { enter-activity-data = 2027-01-27, activities-selected = 2027-02-10, materials-available = 2027-02-24, materials-due = 2027-04-07, decision = "2027-07" }
"""


def home_cards(page: str) -> tuple[list[str], list[str]]:
    """The card titles of the home page: those listed open, and those folded as passed."""
    listed = page[page.index('<h2 id="tracks">'):page.index('<h2 id="providers">')]
    open_part, _, folded = listed.partition('<details class="passed-tracks">')
    def titles(html: str) -> list[str]:
        return re.findall(r'<h3><a href="[^"]+"><bdi>([^<]+)</bdi></a></h3>', html)
    return titles(open_part), titles(folded)


def test_the_home_page_lists_what_applies_now_and_folds_the_passed_cohorts(client):
    # today 2026-11-21: every date of both November 2023 cohorts has passed
    page = page_of(client, "/")
    assert home_cards(page) == (["Annual Reporting in PARS"], [
        "8-Month Progress Report Milestones", "12-Month Progress Report Milestones"])
    folded = page[page.index('<details class="passed-tracks">'):]
    assert "<summary>Show the 2 schedules whose dates have all passed</summary>" in folded
    # a passed cohort's dates stay one click away, but nothing offers to subscribe to it
    assert 'href="/tracks/progress-8-month/"' in folded
    assert "progress-8-month.ics" not in page and "progress-12-month.ics" not in page
    assert "Subscribe in:" not in folded
    assert 'href="webcal://localhost/tracks/annual-reporting.ics"' in page


def test_in_march_2024_every_schedule_is_current_and_nothing_is_folded(tmp_path):
    page = page_of(client_on(tmp_path, "2024-03-15"), "/")
    assert home_cards(page) == ([
        "8-Month Progress Report Milestones", "12-Month Progress Report Milestones",
        "Annual Reporting in PARS"], [])
    assert 'href="webcal://localhost/tracks/progress-12-month.ics"' in page


def test_two_cohorts_with_one_name_are_told_apart_by_their_next_decision_date(tmp_path, data):
    rules = data / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    end = 'materials-due = 2024-08-14, decision = "2024-11" }\n'
    rules.write_text(text.replace(end, end + NEW_COHORT), encoding="utf-8")
    page = page_of(client_on(tmp_path, "2026-11-21", data), "/")
    current, passed = home_cards(page)
    assert current == ["8-Month Progress Report Milestones — Next Decision Date July 31, 2027",
                       "Annual Reporting in PARS"]
    assert passed == ["8-Month Progress Report Milestones — Next Decision Date July 31, 2024",
                      "12-Month Progress Report Milestones"]
    # the new cohort's subscribe buttons name it as its card does
    assert ("Google Calendar<span class=\"vh\"> (subscribe to <bdi>8-Month Progress Report "
            "Milestones — Next Decision Date July 31, 2027</bdi>)") in page


# --- structure -----------------------------------------------------------------------------


@pytest.mark.parametrize("today", ["2024-03-15", "2026-11-21"])
@pytest.mark.parametrize("path", ["/", "/tracks/progress-8-month/", "/tracks/annual-reporting/",
                                  BUILDER_8_MONTH, "/p/{demo-state}/", "/no/such/page/",
                                  "/calendar/?next_decision_date=2024-07-32"])
def test_heading_levels_never_skip_one(tmp_path, today, path):
    client = client_on(tmp_path, today)
    html = client.get(path.replace("{demo-state}", token_of("demo-state"))).data.decode()
    parser = Headings()
    parser.feed(html)
    assert parser.levels[0] == 1 and parser.levels.count(1) == 1
    jumps = [(a, b) for a, b in zip(parser.levels, parser.levels[1:]) if b > a + 1]
    assert jumps == []


def test_link_texts_say_what_they_do(client):
    page = page_of(client, "/tracks/progress-8-month/")
    assert (">Add 'Progress Report Materials Submission Deadline' to my calendar</a>") in page
    for vague in (">this address<", ">JSON<", "Add this one"):
        assert vague not in page
    assert ">Download the dates for a spreadsheet (CSV)</a>" in page
    assert ">The dates as JSON, for programs</a>" in page


# --- names in any script -------------------------------------------------------------------


def test_names_are_isolated_for_right_to_left_text(tmp_path, data):
    (data / "providers.csv").write_text(
        "id,name,next_decision_date,enduring_materials,accreditor\n"
        "rtl,המרכז הרפואי (12-month),2024-11-30,no,\n", encoding="utf-8")
    rules = (data / "rules.toml").read_text()
    (data / "rules.toml").write_text(
        rules.replace('name = "California Medical Association"', 'name = "الجمعية الطبية"'))
    client = client_on(tmp_path, "2024-03-15", data)
    page = page_of(client, f"/p/{token_of('rtl')}/")
    # the heading takes its direction from the name; its "(12-month)" stays at its end
    assert '<h1 dir="auto">המרכז הרפואי (12-month)</h1>' in page
    home = page_of(client, "/")
    assert '<option value="cma" dir="auto">الجمعية الطبية</option>' in home
    builder = page_of(client, "/calendar/?accreditor=cma")
    assert "<li><bdi>الجمعية الطبية</bdi></li>" in builder


# --- the builder -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/calendar/", "/calendar.ics", "/calendar.csv",
                                  "/calendar/events/progress-8-month/2023-11/materials-due.ics"])
def test_a_misspelt_builder_parameter_is_refused_with_the_nearest_known_one(client, path):
    response = client.get(f"{path}?next_decison_date=2024-07-31")
    assert response.status_code == 400
    text = response.data.decode()
    if path.endswith("/"):
        assert "<dd><code>next_decison_date</code></dd>" in text
        assert "calfeed does not know this parameter; did you mean next_decision_date?" in text
        # one click to the calendar that was meant
        assert '<a href="/calendar/?next_decision_date=2024-07-31">' in text
    else:
        assert text == (
            "400 Bad Request\nnext_decison_date: calfeed does not know this parameter; did you "
            "mean next_decision_date? (expected one of: next_decision_date, enduring_materials, "
            "accreditor, enter-activity-data, activities-selected, materials-available, "
            "materials-due, decision, remind, download, plain)\n")


def test_a_parameter_like_no_known_one_is_refused_without_a_guess(client):
    response = client.get("/calendar/?colour=blue")
    assert response.status_code == 400
    text = response.data.decode()
    assert "calfeed does not know this parameter</dd>" in text
    assert "did you mean" not in text


def test_feed_options_are_known_to_the_builders_feeds_only(client):
    assert client.get("/calendar.ics?next_decision_date=2024-07-31&remind=P2D&download=1&plain=1"
                      ).status_code == 200
    assert client.get("/calendar/?next_decision_date=2024-07-31&download=1").status_code == 400


@pytest.mark.parametrize("query, name", [
    ("", "Annual reporting"),
    ("enduring_materials=yes", "Annual reporting, with enduring materials"),
    ("accreditor=cma", "Annual reporting, accredited by the California Medical Association"),
    ("next_decision_date=2024-11-30&enduring_materials=yes&accreditor=cma",
     "Progress report (Next Decision Date November 30, 2024) and annual reporting, with "
     "enduring materials, accredited by the California Medical Association"),
])
def test_the_builders_calendar_is_named_in_plain_words(client, query, name):
    feed = client.get(f"/calendar.json?{query}").get_json()
    assert feed["calendar"]["name"] == f"{name} — ACCME deadlines"
    page = page_of(client, f"/calendar/?{query}")
    assert f"<title>Your ACCME calendar: {name} · calfeed</title>" in page
