"""Progress-report cohorts, estimates for any Next Decision Date, and accreditor rules.

Published dates are copied from shared/seeds/000 (the November 2023 cohort tables)
and shared/seeds/published-dates.md (the California Medical Association's
deadlines). Estimated dates follow the rules stated above each test.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from html import unescape
from pathlib import Path

import pytest
import vobject

from calfeed import bundled
from calfeed.core import engine, rules, wording
from calfeed.outputs import ical as feed
from calfeed.core.model import Profile
import loading

TODAY = date(2026, 11, 27)
RULES_TEXT = bundled("rules.toml").read_text(encoding="utf-8")
ROSTER = "id,name,next_decision_date,enduring_materials,accreditor\n"

# What an operator adds when ACCME publishes the table for Next Decision Date
# July 31, 2027 (the README's "When ACCME publishes a new cohort"). The dates
# are a test fixture, not a publication: a week after the estimates, as a real
# table may well be.
COHORT_2027_07 = """
[[progress.cohorts]]
decision = "2026-11"
next_decision_date = 2027-07-31
name = "8-Month Progress Report Milestones (July 2027 review)"
source = "ACCME Progress Report Milestones — For November 2026 Cohort Decisions Requiring a Progress Report (8-month progress report review)"
dates = { enter-activity-data = 2027-01-27, activities-selected = 2027-02-10, materials-available = 2027-02-24, materials-due = 2027-04-07, decision = "2027-07" }
"""


def load_text(tmp_path: Path, text: str, roster: str = ROSTER) -> rules.Rules:
    """Load a rules text with a roster, today pinned."""
    (tmp_path / "rules.toml").write_text(text, encoding="utf-8")
    (tmp_path / "providers.csv").write_text(roster, encoding="utf-8")
    return rules.load(tmp_path / "rules.toml", tmp_path / "providers.csv", TODAY)


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problem lines of a rules text with the cohorts roster, which must not load."""
    found = loading.problems(tmp_path, text, ROSTER)
    assert found, "the text loaded"
    return found


def progress(events):
    """(milestone, start, precision, status) of the progress-report events."""
    return [(e.milestone, e.start.isoformat() if e.start else None, e.precision, e.status)
            for e in events if e.track != "annual-reporting"]


def profile(ndd: date) -> Profile:
    """A provider with a Next Decision Date and nothing else."""
    return Profile("p", "P", next_decision_date=ndd)


# ---------------------------------------------------------------------------
# The published cohorts


def test_november_2023_tables_are_cohorts_of_one_step_list(loaded):
    assert [s.id for s in loaded.progress.steps] == [
        "review-fee", "enter-activity-data", "activities-selected", "materials-available",
        "materials-due", "decision"]
    cohorts = {c.next_decision_date: c for c in loaded.progress.cohorts}
    assert sorted(cohorts) == [date(2024, 7, 31), date(2024, 11, 30)]
    assert {(c.decision.year, c.decision.month) for c in cohorts.values()} == {(2023, 11)}
    assert progress(engine.schedule(loaded, profile(date(2024, 11, 30)), TODAY)) == [
        ("enter-activity-data", "2024-05-08", "day", "published"),
        ("activities-selected", "2024-05-22", "day", "published"),
        ("materials-available", "2024-06-05", "day", "published"),
        ("materials-due", "2024-08-14", "day", "published"),
        ("decision", "2024-11-01", "month", "published"),
        ("review-fee", None, "undated", "published"),
    ]


def test_step_texts_take_the_cohorts_dates(loaded):
    events = engine.schedule(loaded, profile(date(2024, 11, 30)), TODAY)
    by_id = {e.milestone: e for e in events}
    assert ("from January 1, 2024 – November 30, 2024, into the ACCME's Program"
            in by_id["enter-activity-data"].description)
    assert wording.title(by_id["decision"]) == (
        "ACCME notifies provider of the November 2024 Cohort progress report decision")


# ---------------------------------------------------------------------------
# Estimates. The rule: the model is the most recent published cohort whose Next
# Decision Date is in the same month; each dated step keeps its distance (in
# days) before the Next Decision Date, then moves back to the weekday it fell on
# (Wednesday); a month-only step keeps its distance in months.


def test_july_2027_follows_the_8_month_table(loaded):
    # 2024-07-31 minus 189/175/161/119 days gave 2024-01-24, -02-07, -02-21,
    # -04-03. From 2027-07-31 the same distances fall on Saturdays 2027-01-23,
    # -02-06, -02-20, -04-03: the Wednesdays before them.
    events = engine.schedule(loaded, profile(date(2027, 7, 31)), TODAY)
    assert progress(events) == [
        ("enter-activity-data", "2027-01-20", "day", "estimated"),
        ("activities-selected", "2027-02-03", "day", "estimated"),
        ("materials-available", "2027-02-17", "day", "estimated"),
        ("materials-due", "2027-03-31", "day", "estimated"),
        ("decision", "2027-07-01", "month", "estimated"),
        ("review-fee", None, "undated", "estimated"),
    ]
    first = [e for e in events if e.milestone == "enter-activity-data"][0]
    assert first.uid == "p/progress-2027-07-31/2027-07-31/enter-activity-data@calfeed"
    assert wording.title(first) == "Provider enters CME activity data (estimated)"
    assert "from January 1, 2027 – July 31, 2027" in first.description
    assert ("ACCME Progress Report Milestones — For November 2023 Cohort Decisions Requiring a "
            "Progress Report (8-month progress report review)") in first.description
    assert ("The decision report ACCME sent your organization has the exact dates."
            in first.description)


def test_november_2027_follows_the_12_month_table(loaded):
    # 2024-11-30 minus 206/192/178/108 days gave 2024-05-08, -05-22, -06-05,
    # -08-14. From 2027-11-30: Saturdays 2027-05-08, -05-22, -06-05, -08-14,
    # moved back to Wednesdays.
    assert progress(engine.schedule(loaded, profile(date(2027, 11, 30)), TODAY)) == [
        ("enter-activity-data", "2027-05-05", "day", "estimated"),
        ("activities-selected", "2027-05-19", "day", "estimated"),
        ("materials-available", "2027-06-02", "day", "estimated"),
        ("materials-due", "2027-08-11", "day", "estimated"),
        ("decision", "2027-11-01", "month", "estimated"),
        ("review-fee", None, "undated", "estimated"),
    ]


def test_a_review_month_without_a_model_gives_the_provider_the_earliest_day(loaded):
    # No March cohort is published: both tables are the pattern. Data entry
    # falls 189 or 206 days before 2027-03-31 (Wednesdays 2026-09-23 and
    # 2026-09-02), submission 119 or 108 days before (Wednesdays 2026-12-02 and
    # 2026-12-09). The provider acts on both: the earlier Wednesday, a day to act
    # by that is never late. ACCME's own notices disagree by weeks too (2026-10-07
    # or 2026-09-16; 2026-10-21 or 2026-09-30): only their month is said, the
    # earlier one, as ACCME's month-only decision.
    assert progress(engine.schedule(loaded, profile(date(2027, 3, 31)), TODAY)) == [
        ("activities-selected", "2026-09-01", "month", "estimated"),
        ("materials-available", "2026-09-01", "month", "estimated"),
        ("enter-activity-data", "2026-09-02", "day", "estimated"),
        ("materials-due", "2026-12-02", "day", "estimated"),
        ("decision", "2027-03-01", "month", "estimated"),
        ("review-fee", None, "undated", "estimated"),
    ]


def test_a_march_materials_deadline_reads_as_a_day(loaded):
    events = {e.milestone: e for e in engine.schedule(loaded, profile(date(2027, 3, 31)), TODAY)}
    assert wording.when(events["materials-due"]) == "Wednesday, December 2, 2026"
    assert wording.when(events["decision"]) == "March 2027 (no exact day published)"


def test_a_provider_step_a_cohort_gave_as_a_month_is_estimated_on_its_first_day(tmp_path):
    # A cohort that printed only "April 2026" for the submission: its estimate a
    # year on is April 1, the earliest day that reading allows, never "April 2027".
    text = RULES_TEXT.replace("materials-due = 2024-04-03", 'materials-due = "2024-04"')
    loaded = load_text(tmp_path, text)
    events = {e.milestone: e for e in engine.schedule(loaded, profile(date(2025, 7, 31)), TODAY)}
    assert (events["materials-due"].start, events["materials-due"].precision) == (
        date(2025, 4, 1), "day")


def test_estimates_are_never_later_than_the_pattern(loaded):
    for ndd in (date(2025, 7, 31), date(2026, 7, 31), date(2027, 7, 31), date(2028, 7, 31)):
        events = {e.milestone: e for e in engine.schedule(loaded, profile(ndd), TODAY)}
        due = events["materials-due"].start
        assert due.weekday() == 2  # Wednesday, as every published date
        assert 119 <= (ndd - due).days < 119 + 7


def test_estimated_events_are_tentative_in_the_feed(loaded):
    who = profile(date(2027, 7, 31))
    events = engine.schedule(loaded, who, TODAY)
    body = feed.render(events, engine.calendar(loaded, who), ())
    parsed = {v.uid.value: v for v in vobject.readOne(body.decode()).contents["vevent"]}
    due = parsed["p/progress-2027-07-31/2027-07-31/materials-due@calfeed"]
    assert due.dtstart.value == date(2027, 3, 31)
    assert due.status.value == "TENTATIVE"
    assert due.summary.value == "Progress Report Materials Submission Deadline (estimated)"
    assert "has the exact dates" in due.description.value


def test_a_published_cohort_moves_the_estimates_in_place(loaded, tmp_path):
    who = profile(date(2027, 7, 31))
    before = engine.schedule(loaded, who, TODAY)
    published = load_text(tmp_path, RULES_TEXT + COHORT_2027_07)
    after = engine.schedule(published, who, TODAY)
    # No event twice, none lost: the same UIDs, at their published dates.
    assert sorted(e.uid for e in before) == sorted(e.uid for e in after)
    assert len({e.uid for e in after}) == len(after)
    assert progress(after) == [
        ("enter-activity-data", "2027-01-27", "day", "published"),
        ("activities-selected", "2027-02-10", "day", "published"),
        ("materials-available", "2027-02-24", "day", "published"),
        ("materials-due", "2027-04-07", "day", "published"),
        ("decision", "2027-07-01", "month", "published"),
        ("review-fee", None, "undated", "published"),
    ]
    assert {e.uid: e.start for e in before}[
        "p/progress-2027-07-31/2027-07-31/materials-due@calfeed"] == date(2027, 3, 31)
    assert all("(estimated)" not in wording.title(e) for e in after if e.track != "annual-reporting")
    # The new cohort is a public track too.
    assert published.tracks["progress-2027-07-31"].name == (
        "8-Month Progress Report Milestones (July 2027 review)")


def test_the_published_cohort_becomes_the_model_for_its_month(loaded, tmp_path):
    published = load_text(tmp_path, RULES_TEXT + COHORT_2027_07)
    # July 2028 now follows the July 2027 table: 185 days before 2027-07-31 was
    # 2027-01-27; 185 days before 2028-07-31 is Thursday 2028-01-27 -> 2028-01-26.
    events = engine.schedule(published, profile(date(2028, 7, 31)), TODAY)
    assert progress(events)[0] == ("enter-activity-data", "2028-01-26", "day", "estimated")
    entry = [e for e in events if e.milestone == "enter-activity-data"][0]
    assert "For November 2026 Cohort Decisions" in entry.description


# What the builder's calendar for Next Decision Date July 31, 2027 says of the table
# once it is published: ACCME published these dates, in place of calfeed's estimates.
REPLACED_ENTRY = ("Published by ACCME: replaces calfeed's estimate of Wednesday, January 20, "
                  "2027.")


def published_app(tmp_path: Path, extra: str = COHORT_2027_07):
    """The app on the bundled rules with `extra` added, today pinned."""
    from apps import make_app

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "rules.toml").write_text(RULES_TEXT + extra, encoding="utf-8")
    (folder / "providers.csv").write_text(bundled("providers.csv").read_text(), encoding="utf-8")
    return make_app(tmp_path, folder, CALFEED_TODAY=TODAY.isoformat()).test_client()


def test_every_output_says_a_published_date_replaced_calfeeds_estimate(tmp_path):
    client = published_app(tmp_path)
    base = "/calendar{}?next_decision_date=2027-07-31"
    # The page: under the step, where a move would be said; never "Moved".
    html = unescape(client.get(base.format("/")).get_data(as_text=True))
    assert f'<p class="moved">{REPLACED_ENTRY}</p>' in html
    assert ('<p class="moved">Published by ACCME: replaces calfeed\'s estimate of Wednesday, '
            "March 31, 2027.</p>") in html
    assert '<span class="tag moved">' not in html
    # The decision month was estimated right: nothing to say.
    assert "estimate of July 2027" not in html
    # The JSON: what was estimated, in the form of `start`, and who published it.
    events = {e["milestone"]: e for e in client.get(base.format(".json")).get_json()["events"]
              if e["track"] == "progress-2027-07-31"}
    assert events["enter-activity-data"]["replaced"] == {
        "was": "2027-01-20", "precision": "day", "by": "ACCME", "note": REPLACED_ENTRY}
    assert events["enter-activity-data"]["changes"] == []  # a publication is not a move
    assert events["decision"]["replaced"] is None
    # The CSV: in the Changes column, in words.
    rows = {r["milestone"]: r for r in csv.DictReader(io.StringIO(
        client.get(base.format(".csv")).get_data(as_text=True).lstrip("\ufeff")))}
    assert rows["enter-activity-data"]["Changes"] == REPLACED_ENTRY
    assert rows["enter-activity-data"]["Status"] == "Published"
    # The feed: first in the event's description, read back by vobject.
    body = client.get(base.format(".ics")).get_data(as_text=True)
    descriptions = {v.uid.value: v.description.value
                    for v in vobject.readOne(body).contents["vevent"]}
    uid = "calendar-2027-07-31/progress-2027-07-31/2027-07-31/enter-activity-data@calfeed"
    assert descriptions[uid].startswith(REPLACED_ENTRY + "\n\nProvider enters CME activity data.")


def test_the_first_tables_and_dates_published_as_estimated_replace_nothing(loaded):
    # The November 2023 tables came before any estimate (and keep their own UIDs); annual
    # reporting's published deadlines are where ACCME's rule puts them, and so are the
    # California Medical Association's. April 1, 2024 (data year 2023) is not where
    # today's rule puts it (Friday, March 29: the last business day in March), but it
    # passed long before: a publication is news only while its date is ahead.
    for provider in loaded.providers.values():
        assert [e.uid for e in engine.schedule(loaded, provider, TODAY) if e.replaced] == []
    on_the_eve = engine.schedule(loaded, loaded.providers["demo-annual"], date(2024, 3, 1))
    assert {(e.cycle, wording.replaced_words(e)) for e in on_the_eve if e.replaced} == {
        ("2023", "Published by ACCME: replaces calfeed's estimate of Friday, March 29, 2024, "
                 "11:59 p.m. CT.")}


def test_a_deadline_published_off_the_rule_replaces_its_estimate(tmp_path):
    # Invented publications: ACCME's 2025 deadline a day before its rule's March 31, 2026,
    # and the CMA's a week before its rule's Friday, March 13, 2026 (seen in January 2026,
    # while both are ahead).
    text = RULES_TEXT.replace("2024 = 2025-03-31T23:59:00",
                              "2024 = 2025-03-31T23:59:00\n2025 = 2026-03-30T23:59:00")
    text = text.replace("2024 = 2025-03-14", "2024 = 2025-03-14\n2025 = 2026-03-06")
    published = load_text(tmp_path, text, bundled("providers.csv").read_text())
    found = {(e.uid, wording.replaced_words(e))
             for p in ("demo-annual", "demo-state")
             for e in engine.schedule(published, published.providers[p], date(2026, 1, 15))
             if e.milestone == "program-summary" and e.cycle == "2025"}
    assert found == {
        ("demo-annual/annual-reporting/2025/program-summary@calfeed",
         "Published by ACCME: replaces calfeed's estimate of Tuesday, March 31, 2026, "
         "11:59 p.m. CT."),
        ("demo-state/annual-reporting/2025/program-summary@calfeed",
         "Published by the California Medical Association: replaces calfeed's estimate of "
         "Friday, March 13, 2026."),
    }
    # Once passed, no longer news.
    assert not any(e.replaced for p in ("demo-annual", "demo-state")
                   for e in engine.schedule(published, published.providers[p], TODAY))


def test_public_cohort_tracks_keep_their_paths(loaded):
    assert list(loaded.tracks) == ["progress-8-month", "progress-12-month", "annual-reporting"]
    assert loaded.tracks["progress-8-month"].cycle == "2023-11"


# ---------------------------------------------------------------------------
# Which Next Decision Dates calfeed accepts


def test_next_decision_dates_accepted(loaded):
    first = rules.first_ndd(loaded.progress)
    assert first == date(2024, 7, 31)
    assert rules.ndd_problem(first, date(2024, 7, 31), TODAY) is None
    assert rules.ndd_problem(first, date(2028, 11, 27), TODAY) is None
    assert rules.ndd_problem(first, date(2024, 3, 31), TODAY) == (
        "2024-03-31 is before the first published cohort (Next Decision Date 2024-07-31)")
    assert rules.ndd_problem(first, date(2028, 11, 28), TODAY) == (
        "2028-11-28 is more than 2 years after today (2026-11-27)")
    assert rules.ndd_accepted(first, TODAY) == (
        "a Next Decision Date from 2024-07-31 (the first published cohort) to 2028-11-27 "
        "(2 years after today), as YYYY-MM-DD, or empty for no progress report")


def test_roster_takes_an_uncovered_next_decision_date(tmp_path):
    loaded = load_text(tmp_path, RULES_TEXT, ROSTER + "later,Later,2027-07-31,no,\n")
    events = engine.schedule(loaded, loaded.providers["later"], TODAY)
    assert progress(events)[0] == ("enter-activity-data", "2027-01-20", "day", "estimated")


# ---------------------------------------------------------------------------
# Accreditors. CMA's rule: the Friday on or before ACCME's deadline minus 12
# days (the same as the Friday on or before March 19 while ACCME's is March 31).


def test_cma_rule_fits_every_published_year(loaded):
    cma = loaded.accreditors["cma"]
    rule_only = replace(cma, deadlines={})
    accme = {2020: date(2021, 3, 31), 2021: date(2022, 3, 31), 2022: date(2023, 3, 31),
             2024: date(2025, 3, 31)}
    published = {2020: date(2021, 3, 19), 2021: date(2022, 3, 18), 2022: date(2023, 3, 17),
                 2024: date(2025, 3, 14)}
    assert cma.deadlines == published
    for year, day in accme.items():
        assert engine.accreditor_deadline(rule_only, year, day) == (published[year], True)
        assert engine.accreditor_deadline(cma, year, day) == (published[year], False)


def test_cma_estimates_for_unpublished_years(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-state"], TODAY)
    summary = {e.cycle: (e.start.isoformat(), e.status) for e in events
               if e.milestone == "program-summary"}
    assert summary == {
        "2023": ("2024-03-15", "estimated"),  # ACCME 2024-04-01 - 12 = Wed 03-20
        "2024": ("2025-03-14", "published"),
        "2025": ("2026-03-13", "estimated"),  # ACCME 2026-03-31 - 12 = Thu 03-19
        "2026": ("2027-03-19", "estimated"),  # ACCME 2027-03-31 - 12 = Fri 03-19
        "2027": ("2028-03-17", "estimated"),  # ACCME 2028-03-31 - 12 = Sun 03-19
    }
    estimated = [e for e in events if e.cycle == "2025"][0]
    assert wording.title(estimated).endswith("— California Medical Association deadline (estimated)")
    assert "Friday on or before ACCME's deadline minus 12 days" in estimated.description
    assert estimated.links[0].title == "California Medical Association"
    assert estimated.links[0].url == "https://www.cmadocs.org/cme/accreditation/eligibility"


def test_without_a_rule_accmes_date_says_the_accreditors_is_earlier(tmp_path):
    text = RULES_TEXT.replace("[accreditors.cma.rule]\ndays_before = 12\nweekday = \"friday\"\n", "")
    assert "days_before" not in text
    loaded = load_text(tmp_path, text, ROSTER + "state,State,,no,cma\n")
    events = engine.schedule(loaded, loaded.providers["state"], TODAY)
    later = [e for e in events if e.cycle == "2025" and e.milestone == "program-summary"][0]
    assert later.start.isoformat() == "2026-03-31T23:59:00-05:00"
    assert wording.title(later) == ("Complete and submit your Program Summary (estimated; ACCME's "
                           "deadline: the California Medical Association's is usually earlier)")
    assert ("This is ACCME's deadline, not your accreditor's: the California Medical "
            "Association has published no deadline for data year 2025, and its deadline is "
            "usually earlier") in later.description
    body = feed.render(events, engine.calendar(loaded, loaded.providers["state"]), ())
    parsed = {v.uid.value: v for v in vobject.readOne(body.decode()).contents["vevent"]}
    text = parsed["state/annual-reporting/2025/program-summary@calfeed"].description.value
    assert "California Medical Association: https://www.cmadocs.org/cme/accreditation/eligibility" in text


# ---------------------------------------------------------------------------
# `calfeed check` lines for every new key


BROKEN = [
    ('name = "Progress Report Milestones"', 'name = "Progress Report Milestones"\nlinx = []',
     'progress.linx: unknown key "linx", did you mean "links"? (expected one of: name, links, '
     "steps, cohorts)"),
    ('id = "review-fee"', 'id = "review-fee"\ndate = 2024-01-01',
     'progress.steps[1].date: unknown key "date" (expected one of: id, title, description, '
     "actor, links, only_if, when)"),
    ('title = "ACCME notifies provider of the {review_cohort} Cohort',
     'title = "ACCME notifies provider of the {data_year} Cohort',
     'progress.steps[6].title: unknown placeholder "{data_year}" (expected one of: '
     "{next_decision_date}, {review_cohort}, {review_year})"),
    ('decision = "2023-11"\nnext_decision_date = 2024-07-31',
     'decision = "2024-08"\nnext_decision_date = 2024-07-31',
     'progress.cohorts[1].decision: "2024-08" is not before the Next Decision Date 2024-07-31 '
     "(expected the month ACCME decided, before the Next Decision Date)"),
    ('decision = "2023-11"\nnext_decision_date = 2024-07-31', 'next_decision_date = 2024-07-31',
     'progress.cohorts[1]: missing key "decision" (expected decision to be set)'),
    ("next_decision_date = 2024-11-30", "next_decision_date = 2024-07-31", [
        # The 12-month table's dates cannot be the 8-month one's either.
        "progress.cohorts[2].dates.materials-due: 2024-08-14 is after the Next Decision Date "
        "2024-07-31 (expected every step on or before the Next Decision Date)",
        'progress.cohorts[2].dates.decision: "2024-11" is after the Next Decision Date 2024-07-31 '
        "(expected every step on or before the Next Decision Date)",
        'progress.cohorts[2].dates.decision: "2024-11" is not the month of the Next Decision Date '
        '2024-07-31 (expected "2024-07": ACCME decides in the month of the Next Decision Date)',
        "progress.cohorts[2].next_decision_date: Next Decision Date 2024-07-31 again (expected one "
        "cohort per Next Decision Date; first in cohorts[1])"]),
    ('id = "progress-12-month"', 'id = "annual-reporting"',
     'progress.cohorts[2].id: id "annual-reporting" is also a track (expected an id no '
     "[tracks.ID] table has)"),
    ('cycle = "2023-11"', 'cycle = "2023/11"',
     "progress.cohorts[1].cycle: id \"2023/11\" is not safe in a URL path (expected 1-64 "
     "letters, digits, '-' or '_', starting with a letter or digit)"),
    ("enter-activity-data = 2024-01-24", 'enter-activity-data = "January 24"',
     'progress.cohorts[1].dates.enter-activity-data: "January 24" is not a month (expected a '
     'quoted month like "2024-07")'),
    ("enter-activity-data = 2024-01-24", "enter-activity-data = 2024-01-24T12:00:00",
     'progress.cohorts[1].dates.enter-activity-data: a date-time "2024-01-24T12:00:00" '
     '(expected a date like 2024-01-24, or a quoted month like "2024-07")'),
    ("dates = { enter-activity-data = 2024-01-24,", 'dates = { review-fee = 2024-01-01, '
     "enter-activity-data = 2024-01-24,",
     'progress.cohorts[1].dates.review-fee: a date for step "review-fee", which has `when` '
     "(expected no date for an undated step)"),
    ('url = "https://www.cmadocs.org/cme/accreditation/eligibility"', 'url = "cmadocs.org"',
     'accreditors.cma.url: "cmadocs.org" is not a web address (expected an address starting '
     "with https://)"),
    ("days_before = 12", "days_before = 400",
     "accreditors.cma.rule.days_before: 400 days (expected 0 to 180 days before ACCME's "
     "deadline)"),
    ('weekday = "friday"', 'weekday = "Friday"',
     'accreditors.cma.rule.weekday: unknown weekday "Friday" (expected one of: monday, '
     "tuesday, wednesday, thursday, friday, saturday, sunday)"),
    ('weekday = "friday"', 'weekday = "friday"\nmove = "off-weekend"',
     'accreditors.cma.rule.move: unknown key "move" (expected one of: days_before, weekday)'),
]


@pytest.mark.parametrize("old, new, expected", BROKEN,
                         ids=[str(b[2]).split(":")[0].strip("['") for b in BROKEN])
def test_check_names_each_new_key(tmp_path, old, new, expected):
    assert RULES_TEXT.count(old) >= 1
    assert problems(tmp_path, RULES_TEXT.replace(old, new, 1)) == (
        expected if isinstance(expected, list) else [expected])


def test_a_cohort_without_a_steps_date_is_one_line(tmp_path):
    text = RULES_TEXT.replace(" materials-due = 2024-04-03,", "", 1)
    assert problems(tmp_path, text) == [
        'progress.cohorts[1].dates: no date for step "materials-due" (expected one date per '
        'dated step: materials-due = a date like 2024-01-24, or a quoted month like "2024-07")']


def test_old_style_progress_track_is_refused_with_the_key(tmp_path):
    text = RULES_TEXT.replace('first_cycle = 2023', 'first_cycle = 2023\nnext_decision_date = 2024-07-31')
    assert problems(tmp_path, text) == [
        'tracks.annual-reporting.next_decision_date: unknown key "next_decision_date" (expected '
        "one of: name, source, milestones, links, cycle, estimated, yearly, first_cycle, "
        "published)"]


# ---------------------------------------------------------------------------
# `calfeed diff` before deploying a new cohort


def test_diff_of_a_new_cohort_is_a_publication_that_replaces_the_estimates(tmp_path):
    # The table ACCME publishes for Next Decision Date July 31, 2027 (COHORT_2027_07, a
    # week after calfeed's estimates): each step once, as a publication of that date in
    # place of the estimate, never a move, reaching the roster's provider with that date
    # and every builder calendar with it.
    import json

    from click.testing import CliRunner

    from calfeed.cli import main

    text = RULES_TEXT.replace('roster = "providers.csv"', 'roster = "roster.csv"')
    (tmp_path / "old.toml").write_text(text, encoding="utf-8")
    (tmp_path / "new.toml").write_text(text.replace(
        "revised = 2026-11-21T00:00:00Z", "revised = 2026-11-28T00:00:00Z") + COHORT_2027_07,
        encoding="utf-8")
    (tmp_path / "roster.csv").write_text(ROSTER + "later,Later,2027-07-31,no,\n", encoding="utf-8")
    args = ["diff", str(tmp_path / "old.toml"), str(tmp_path / "new.toml"), "--today", "2026-11-27"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    reach = "(1 provider; builder calendars with Next Decision Date 2027-07-31, accredited by ACCME)"
    assert result.stdout.splitlines() == [
        "progress-2027-07-31 2027-07-31 (8-Month Progress Report Milestones (July 2027 review), "
        "cycle 2027-07-31)",
        '  published review-fee "Provider remits the progress report review fee": Due upon '
        f"receipt of invoice, estimated → published {reach}",
        '  published enter-activity-data "Provider enters CME activity data": estimated '
        f"Wednesday, January 20, 2027 → Wednesday, January 27, 2027 {reach}",
        '  published activities-selected "ACCME notifies provider of activities selected for '
        "performance-in-practice review\": estimated Wednesday, February 3, 2027 → Wednesday, "
        f"February 10, 2027 {reach}",
        '  published materials-available "ACCME notifies provider that the Progress Report '
        'Narrative and Performance-in-Practice Structured Abstracts are available in PARS": '
        f"estimated Wednesday, February 17, 2027 → Wednesday, February 24, 2027 {reach}",
        '  published materials-due "Progress Report Materials Submission Deadline": estimated '
        f"Wednesday, March 31, 2027 → Wednesday, April 7, 2027 {reach}",
        '  published decision "ACCME notifies provider of the July 2027 Cohort progress report '
        f'decision": July 2027, estimated → published {reach}',
        'appears public calendar progress-2027-07-31 "8-Month Progress Report Milestones (July '
        '2027 review)" (/tracks/progress-2027-07-31/)',
        "6 published; reaches 1 of 1 provider on the roster and builder calendars with Next "
        "Decision Date 2027-07-31, accredited by ACCME; revised 2026-11-21T00:00:00Z → 2026-11-28T00:00:00Z",
    ]
    data = json.loads(CliRunner().invoke(main, args + ["--json"]).stdout)
    (due,) = [d for d in data["differences"] if d["milestone"] == "materials-due"]
    assert {k: due[k] for k in ("kind", "changes", "old", "new", "providers", "builder")} == {
        "kind": "published", "changes": ["status", "date"],
        "old": {"date": "Wednesday, March 31, 2027", "status": "estimated",
                "title": "Progress Report Materials Submission Deadline"},
        "new": {"date": "Wednesday, April 7, 2027", "status": "published",
                "title": "Progress Report Materials Submission Deadline"},
        "providers": 1,
        "builder": [{"next_decision_dates": ["2027-07-31"], "enduring_materials": [False, True],
                     "accreditors": [None]}]}  # a state-accredited provider has no ACCME cohort
    assert data["calendars"] == [{
        "track": "progress-2027-07-31", "kind": "appears",
        "name": "8-Month Progress Report Milestones (July 2027 review)",
        "text": result.stdout.splitlines()[-2]}]
    assert (data["summary"]["published"], data["summary"]["moved"],
            data["summary"]["appears"]) == (6, 0, 0)
    # Without a roster provider on that date, the builder's calendars still change.
    (tmp_path / "roster.csv").write_text(ROSTER + "other,Other,2027-11-30,no,\n", encoding="utf-8")
    last = CliRunner().invoke(main, args).stdout.splitlines()[-1]
    assert last.startswith("6 published; reaches 0 of 1 provider on the roster and builder "
                           "calendars with Next Decision Date 2027-07-31")


def test_diff_names_an_estimate_moved_by_its_model(tmp_path):
    from click.testing import CliRunner

    from calfeed.cli import main

    text = RULES_TEXT.replace('roster = "providers.csv"', 'roster = "roster.csv"')
    (tmp_path / "old.toml").write_text(text, encoding="utf-8")
    (tmp_path / "new.toml").write_text(text.replace(
        "revised = 2026-11-21T00:00:00Z", "revised = 2026-11-28T00:00:00Z").replace(
        "materials-due = 2024-04-03,", "materials-due = { date = 2024-04-10, changes = [{ was = "
        "2024-04-03, announced = 2024-03-20 }] },"), encoding="utf-8")
    (tmp_path / "roster.csv").write_text(ROSTER + "later,Later,2027-07-31,no,\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["diff", str(tmp_path / "old.toml"),
                                       str(tmp_path / "new.toml"), "--today", "2026-11-27"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "progress-2027-07-31 2027-07-31 (estimated progress-report schedule, cycle 2027-07-31)",
        # calfeed's estimate moved, not a date ACCME gave: it says so.
        '  moved materials-due "Progress Report Materials Submission Deadline": estimated '
        "Wednesday, March 31, 2027 → estimated Wednesday, April 7, 2027 (1 provider; builder "
        "calendars with Next Decision Date 2027-07-31, accredited by ACCME)",
    ]


def test_a_broken_step_does_not_hide_a_cohorts_problems(tmp_path):
    text = RULES_TEXT.replace('actor = "accme"', 'actor = "ACCME"', 1).replace(
        'id = "progress-8-month"', 'id = "progress/8"', 1)
    assert problems(tmp_path, text) == [
        'progress.steps[3].actor: unknown actor "ACCME" (expected one of: provider, accme, '
        "accreditor)",
        "progress.cohorts[1].id: id \"progress/8\" is not safe in a URL path (expected 1-64 "
        "letters, digits, '-' or '_', starting with a letter or digit)",
    ]
