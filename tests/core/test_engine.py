"""The schedule engine against the ACCME source documents.

Expected dates are copied from shared/seeds/: 000 (progress-report milestones,
November 2023 cohort) and 001 (annual reporting in PARS), and from
published-dates.md.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from calfeed.core import engine, rules, wording
from calfeed.core.model import Profile

TODAY = date(2026, 11, 21)


def dated(events, track):
    """(start, precision, status) of one track's events, in calendar order."""
    return [(e.start.isoformat() if e.start else None, e.precision, e.status)
            for e in events if e.track == track]


def test_8_month_track_as_source_000(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-8-month"], date(2024, 1, 1))
    assert dated(events, "progress-8-month") == [
        ("2024-01-24", "day", "published"),
        ("2024-02-07", "day", "published"),
        ("2024-02-21", "day", "published"),
        ("2024-04-03", "day", "published"),
        ("2024-07-01", "month", "published"),
        (None, "undated", "published"),
    ]
    assert "progress-12-month" not in {e.track for e in events}
    fee = [e for e in events if e.precision == "undated"][0]
    assert wording.title(fee) == "Provider remits the progress report review fee"
    assert fee.when == "Due upon receipt of invoice"
    decision = [e for e in events if e.precision == "month"][0]
    assert (decision.start, decision.end) == (date(2024, 7, 1), date(2024, 8, 1))


def test_12_month_track_as_source_000(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-12-month"], date(2024, 1, 1))
    assert dated(events, "progress-12-month") == [
        ("2024-05-08", "day", "published"),
        ("2024-05-22", "day", "published"),
        ("2024-06-05", "day", "published"),
        ("2024-08-14", "day", "published"),
        ("2024-11-01", "month", "published"),
        (None, "undated", "published"),
    ]
    assert "progress-8-month" not in {e.track for e in events}


def test_every_progress_report_day_is_a_wednesday(loaded):
    for ident in ("demo-8-month", "demo-12-month"):
        for event in engine.schedule(loaded, loaded.providers[ident], TODAY):
            if event.track.startswith("progress") and event.precision == "day":
                assert event.start.strftime("%A") == "Wednesday", event


def test_source_000_wording_kept(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-8-month"], TODAY)
    by_id = {e.milestone: e for e in events if e.track == "progress-8-month"}
    data = by_id["enter-activity-data"]
    assert "from January 1, 2024 – July 31, 2024" in data.description
    assert data.actor == "provider" and data.url == "https://pars.accme.org/"
    selected = by_id["activities-selected"]
    assert selected.actor == "accme"
    assert "select up to five activities" in selected.description
    assert "notify ACCME right away if you note any discrepancies" in selected.description
    assert any(link.title.startswith("Guide to the ACCME Progress Report Process")
               for link in selected.links)
    assert wording.title(by_id["decision"]) == (
        "ACCME notifies provider of the July 2024 Cohort progress report decision")


def annual(events, milestone="annual-agreement"):
    """cycle -> (start, status) of one annual-reporting step."""
    return {e.cycle: (e.start.isoformat(), e.status)
            for e in events if e.track == "annual-reporting" and e.milestone == milestone}


def test_annual_published_dates_win_and_rule_is_estimated(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-annual"], TODAY)
    assert annual(events) == {
        "2023": ("2024-04-01T23:59:00-05:00", "published"),  # source 001
        "2024": ("2025-03-31T23:59:00-05:00", "published"),  # published-dates.md
        "2025": ("2026-03-31T23:59:00-05:00", "estimated"),
        "2026": ("2027-03-31T23:59:00-05:00", "estimated"),
        "2027": ("2028-03-31T23:59:00-05:00", "estimated"),
    }
    estimated = [e for e in events if e.status == "estimated"]
    assert estimated and all(wording.title(e).endswith("(estimated)") for e in estimated)
    assert [wording.title(e) for e in events if e.milestone == "program-summary"][-1] == (
        "Complete and submit your Program Summary (estimated)")


def test_annual_rule_estimates_a_weekend_on_the_last_business_day_in_march(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-annual"], date(2028, 6, 1))
    # March 31, 2029 is a Saturday: "the last business day in March" (accme.org/faq/5)
    # is Friday, March 30, three days before the Monday the 2024 precedent gives.
    assert annual(events)["2028"] == ("2029-03-30T23:59:00-05:00", "estimated")


def test_a_published_weekend_deadline_stays_as_published(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-annual"], date(2024, 1, 1))
    # March 31, 2024 was a Sunday; ACCME published Monday, April 1 (source 001).
    assert annual(events)["2023"] == ("2024-04-01T23:59:00-05:00", "published")


def test_an_accreditor_estimate_follows_the_earlier_accme_estimate(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-state"], date(2029, 1, 15))
    # ACCME's estimate for data year 2029 is Friday, March 29, 2030 (March 31 is a
    # Sunday); the CMA's rule counts 12 days back from it: Sunday, March 17, 2030,
    # moved back to Friday, March 15 (from Monday, April 1 it would be Friday, March 15
    # too). Data year 2028: Friday, March 30, 2029 - 12 = Sunday, March 18 -> Friday,
    # March 16.
    assert annual(events)["2029"] == ("2030-03-15", "estimated")
    assert annual(events)["2028"] == ("2029-03-16", "estimated")


def test_annual_window_ends_at_the_second_deadline_after_today(loaded):
    track = loaded.tracks["annual-reporting"]
    assert engine.cycles(track, date(2026, 11, 21)) == [2023, 2024, 2025, 2026, 2027]
    assert engine.cycles(track, date(2024, 1, 1)) == [2023, 2024]
    # A deadline falling today is still ahead: it is due tonight.
    assert engine.cycles(track, date(2025, 3, 31)) == [2023, 2024, 2025]


def test_enduring_materials_step_only_for_those_who_offer_them(loaded):
    with_em = engine.schedule(loaded, loaded.providers["demo-annual"], TODAY)
    without = engine.schedule(loaded, loaded.providers["demo-8-month"], TODAY)
    counts = [e for e in with_em if e.milestone == "enduring-learner-counts"]
    assert [e.cycle for e in counts] == ["2023", "2024", "2025", "2026", "2027"]
    assert not [e for e in without if e.milestone == "enduring-learner-counts"]
    step_2024 = [e for e in counts if e.cycle == "2024"][0]
    assert "as of December 31, 2024" in wording.title(step_2024)
    assert "by the March 31, 2025 annual reporting deadline" in step_2024.description
    assert not {e.track for e in with_em} & {"progress-8-month", "progress-12-month"}


def test_state_accreditor_deadline_replaces_accmes(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-state"], TODAY)
    agreement = {e.cycle: e for e in events if e.milestone == "annual-agreement"}
    cma = agreement["2024"]
    assert (cma.start, cma.end, cma.precision) == (date(2025, 3, 14), date(2025, 3, 15), "day")
    assert wording.title(cma).endswith("— California Medical Association deadline")
    assert "March 31, 2025 at 11:59 p.m. Central Time" in cma.description
    assert cma.status == "published"
    # No CMA date for data year 2023: CMA's rule, the Friday on or before ACCME's
    # April 1, 2024 minus 12 days (Wednesday March 20) = March 15, 2024; estimated.
    unknown = agreement["2023"]
    assert (unknown.start, unknown.status) == (date(2024, 3, 15), "estimated")
    assert wording.title(unknown) == ("Accept the terms of the ACCME annual agreement — "
                             "California Medical Association deadline (estimated)")
    # The same step keeps its UID whoever sets the date.
    assert cma.uid == "demo-state/annual-reporting/2024/annual-agreement@calfeed"


def test_uids_are_stable_names_and_unique(loaded):
    events = engine.schedule(loaded, loaded.providers["demo-8-month"], TODAY)
    uids = [e.uid for e in events]
    assert len(uids) == len(set(uids))
    assert "demo-8-month/progress-8-month/2023-11/materials-due@calfeed" in uids


def test_moved_date_keeps_its_uid(loaded):
    track = loaded.tracks["progress-8-month"]
    moved = replace(track, milestones=tuple(
        replace(m, when=replace(m.when, day=date(2024, 4, 10))) if m.id == "materials-due" else m
        for m in track.milestones))
    before = engine.schedule(loaded, loaded.providers["demo-8-month"], TODAY)
    after = engine.schedule(replace(loaded, tracks={**loaded.tracks, track.id: moved}),
                            loaded.providers["demo-8-month"], TODAY)
    old = {e.uid: e.start for e in before}
    new = {e.uid: e.start for e in after}
    uid = "demo-8-month/progress-8-month/2023-11/materials-due@calfeed"
    assert (old[uid], new[uid]) == (date(2024, 4, 3), date(2024, 4, 10))
    assert old.keys() == new.keys()


def test_same_inputs_same_events(loaded):
    profile = loaded.providers["demo-state"]
    assert engine.schedule(loaded, profile, TODAY) == engine.schedule(loaded, profile, TODAY)


RELATIVE_8_MONTH = """
revised = 2026-11-21T00:00:00Z

[tracks.progress-8-month]
name = "8-Month Progress Report Milestones, written relatively"
source = "Source 000, 8-month table, as an estimated schedule would be written"
cycle = "2023-11"

[[tracks.progress-8-month.milestones]]
id = "enter-activity-data"
title = "Provider enters CME activity data"
actor = "provider"
date = 2024-01-24

[[tracks.progress-8-month.milestones]]
id = "activities-selected"
title = "ACCME notifies provider of activities selected"
actor = "accme"
after = "enter-activity-data"
days = 14

[[tracks.progress-8-month.milestones]]
id = "materials-available"
title = "Materials available in PARS"
actor = "accme"
after = "activities-selected"
days = 14

[[tracks.progress-8-month.milestones]]
id = "materials-due"
title = "Progress Report Materials Submission Deadline"
actor = "provider"
after = "materials-available"
days = 40
move = "wednesday"
"""


def test_relative_rules_reproduce_the_8_month_table(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RELATIVE_8_MONTH, encoding="utf-8")
    relative = rules.load(path)
    profile = Profile("p", "P", tracks=("progress-8-month",))
    events = engine.schedule(relative, profile, TODAY)
    assert [e.start.isoformat() for e in events] == [
        "2024-01-24", "2024-02-07", "2024-02-21", "2024-04-03"]
    # 2024-02-21 + 40 days is Monday 2024-04-01, moved to the Wednesday.
    assert [e.status for e in events] == ["published", "estimated", "estimated", "estimated"]
    assert wording.title(events[1]).endswith("(estimated)")


def test_move_helper():
    assert engine.move(date(2029, 3, 31), "off-weekend") == date(2029, 4, 2)  # Saturday
    assert engine.move(date(2024, 3, 31), "off-weekend") == date(2024, 4, 1)  # Sunday
    assert engine.move(date(2026, 3, 31), "off-weekend") == date(2026, 3, 31)  # Tuesday
    assert engine.move(date(2029, 3, 31), "back-off-weekend") == date(2029, 3, 30)  # Saturday
    assert engine.move(date(2024, 3, 31), "back-off-weekend") == date(2024, 3, 29)  # Sunday
    assert engine.move(date(2026, 3, 31), "back-off-weekend") == date(2026, 3, 31)  # Tuesday
    assert engine.move(date(2024, 4, 1), "wednesday") == date(2024, 4, 3)
    assert engine.move(date(2024, 4, 3), "wednesday") == date(2024, 4, 3)


def test_sequence_grows_with_revision(loaded):
    later = loaded.revised + timedelta(minutes=5)
    assert engine.sequence(later) == engine.sequence(loaded.revised) + 5
    assert engine.sequence(datetime(2026, 11, 21, tzinfo=timezone.utc)) > 0


def test_public_track_profile_shows_conditional_step(loaded):
    profile = Profile("track-annual-reporting", "Annual Reporting in PARS",
                      enduring_materials=None, tracks=("annual-reporting",))
    events = engine.schedule(loaded, profile, TODAY)
    counts = [e for e in events if e.milestone == "enduring-learner-counts"]
    assert counts and wording.title(counts[0]).endswith("(if you offer enduring materials)")
    assert {e.track for e in events} == {"annual-reporting"}
