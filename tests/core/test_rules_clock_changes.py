"""Deadlines at local times that do not exist or happen twice are refused, once for all.

On Sunday, March 9, 2025 Chicago's clocks jump from 2:00 to 3:00 a.m.: 02:30 never
happens, and libical and ical.js put it at 07:30Z while icalendar and node-ical put it
at 08:30Z. On Sunday, November 2, 2025 they go back from 2:00 to 1:00 a.m.: 01:30
happens twice. calfeed check refuses both, with the day, the zone and what the clocks
do, for `at` + `tz`, a yearly track's `published` years and its rule in every data year
a calendar can show (through 2202), so no client ever has to guess.
"""

from __future__ import annotations

from datetime import date

import pytest

from test_rules_fuzz import ONE_OFF, edited
from files import FIXTURES
from loading import problems

PUBLISHED_2023 = "2023 = 2024-04-01T23:59:00"
RULE = 'month = 3\nday = 31\ntime = "23:59"\ntz = "America/Chicago"\nyear_offset = 1\nmove = "back-off-weekend"'


def timed(at: str, tz: str = "America/Chicago") -> str:
    """The bundled rules and a one-off track whose second step is due at a local time."""
    return edited("date = 2024-02-07", f'at = {at}\ntz = "{tz}"', ONE_OFF)


def test_a_time_in_the_spring_forward_gap_is_refused_with_what_the_clocks_do(tmp_path):
    assert problems(tmp_path, timed("2025-03-09T02:30:00")) == [
        'tracks.one-off.milestones[2].at: "2025-03-09T02:30:00": 2:30 a.m. does not '
        "exist there that day: clocks jump from 2:00 to 3:00 a.m. on Sunday, March 9, 2025 in "
        "America/Chicago (expected a time outside 2:00-3:00 a.m. that day, which every "
        "calendar reads as the same instant)"]


def test_a_time_in_the_fall_back_hour_is_refused_as_happening_twice(tmp_path):
    assert problems(tmp_path, timed("2025-11-02T01:30:00")) == [
        'tracks.one-off.milestones[2].at: "2025-11-02T01:30:00": 1:30 a.m. happens '
        "twice there that day: clocks go back from 2:00 to 1:00 a.m. on Sunday, November 2, "
        "2025 in America/Chicago (expected a time outside 1:00-2:00 a.m. that day, which "
        "every calendar reads as the same instant)"]


@pytest.mark.parametrize("at, tz", [
    ("2025-03-09T01:59:00", "America/Chicago"),  # a minute before the jump
    ("2025-03-09T03:00:00", "America/Chicago"),  # the first minute after it
    ("2025-11-02T02:00:00", "America/Chicago"),  # after the repeated hour: once
    ("2025-11-02T00:59:00", "America/Chicago"),
    ("2025-03-09T02:30:00", "America/Phoenix"),  # no daylight saving time there
    ("2025-03-30T02:30:00", "America/Chicago"),  # Europe's switch day, not Chicago's
])
def test_times_beside_the_switches_load(tmp_path, at, tz):
    assert problems(tmp_path, timed(at, tz)) == []


def test_a_zone_that_skipped_a_whole_day_is_named_with_both_days(tmp_path):
    # Samoa moved across the date line: December 30, 2011 never happened in Apia.
    assert problems(tmp_path, timed("2011-12-30T12:00:00", "Pacific/Apia")) == [
        'tracks.one-off.milestones[2].at: "2011-12-30T12:00:00": noon does not '
        "exist there that day: clocks jump from midnight on Friday, December 30, 2011 to "
        "midnight on Saturday, December 31, 2011 in Pacific/Apia (expected a date and time "
        "that happen exactly once in Pacific/Apia)"]


def test_a_change_at_midnight_is_worded_as_midnight(tmp_path):
    # Brazil's daylight saving time began at midnight: 00:30 on November 4, 2018 never was.
    assert problems(tmp_path, timed("2018-11-04T00:30:00", "America/Sao_Paulo")) == [
        'tracks.one-off.milestones[2].at: "2018-11-04T00:30:00": 12:30 a.m. does not '
        "exist there that day: clocks jump from midnight to 1:00 a.m. on Sunday, November 4, "
        "2018 in America/Sao_Paulo (expected a time outside midnight-1:00 a.m. that day, which "
        "every calendar reads as the same instant)"]


def test_a_published_deadline_in_the_gap_is_refused_by_its_year(tmp_path):
    text = edited(PUBLISHED_2023, "2023 = 2024-03-10T02:15:00")
    assert problems(tmp_path, text) == [
        'tracks.annual-reporting.published.2023: "2024-03-10T02:15:00": 2:15 a.m. does not '
        "exist there that day: clocks jump from 2:00 to 3:00 a.m. on Sunday, March 10, 2024 in "
        "America/Chicago (expected a time outside 2:00-3:00 a.m. that day, which every "
        "calendar reads as the same instant)"]


def test_a_rule_is_checked_in_every_year_a_calendar_can_show(tmp_path):
    # "March 9, moved forward to a Sunday, at 02:30" is the second Sunday of March (the
    # US switch since 2007) in most years, but not when March 9 is a Monday: data year
    # 2025 is due Sunday, March 15, 2026 and loads; data year 2026 is due Sunday,
    # March 14, 2027, which is the switch. Published years (2020-2024) are not the rule's.
    rule = RULE.replace("day = 31", "day = 9").replace('"23:59"', '"02:30"').replace(
        '"back-off-weekend"', '"sunday"')
    switch_days = [year for year in range(2026, 2203)
                   if 8 <= 9 + (6 - date(year + 1, 3, 9).weekday()) % 7 <= 14]
    assert switch_days[0] == 2026
    assert problems(tmp_path, edited(RULE, rule)) == [
        'tracks.annual-reporting.yearly.time: "02:30" on the deadline of data year 2026: '
        "2:30 a.m. does not exist there that day: clocks jump from 2:00 to 3:00 a.m. on "
        f"Sunday, March 14, 2027 in America/Chicago (and the deadlines of {len(switch_days) - 1} "
        "later data years up to 2202) (expected a time outside 2:00-3:00 a.m. that day, "
        "which every calendar reads as the same instant)"]


def test_a_rule_that_never_meets_a_switch_loads(tmp_path):
    # March 9 moved off weekends is a weekday: never the switch, which is on a Sunday.
    rule = RULE.replace("day = 31", "day = 9").replace('"23:59"', '"02:30"')
    assert problems(tmp_path, edited(RULE, rule)) == []


def test_the_bundled_rules_have_no_deadline_at_a_missing_or_doubled_time(tmp_path):
    assert problems(tmp_path, edited(RULE, RULE)) == []


def test_a_moved_deadlines_old_time_in_the_gap_is_refused_where_it_is_written(tmp_path):
    # A history's `was` is worded on the page ("Moved: was …") and in calfeed diff, so it
    # must name one instant too.
    moved = edited("date = 2024-02-07", 'at = 2025-03-10T23:59:00\ntz = "America/Chicago"\n'
                   'changes = [{ was = 2025-03-09T02:30:00, announced = 2025-03-01, '
                   'note = "Moved a day" }]', ONE_OFF)
    assert problems(tmp_path, moved) == [
        'tracks.one-off.milestones[2].changes[1].was: "2025-03-09T02:30:00": 2:30 a.m. does not '
        "exist there that day: clocks jump from 2:00 to 3:00 a.m. on Sunday, March 9, 2025 in "
        "America/Chicago (expected a time outside 2:00-3:00 a.m. that day, which every "
        "calendar reads as the same instant)"]


def test_a_published_years_old_time_that_happened_twice_is_refused(tmp_path):
    fixture = FIXTURES / "extension-2019.toml"
    text = fixture.read_text(encoding="utf-8")
    assert text.count("was = 2020-03-31T23:59:00") == 1
    text = text.replace("was = 2020-03-31T23:59:00", "was = 2019-11-03T01:30:00")
    assert problems(tmp_path, text) == [
        'tracks.annual-reporting.published.2019.changes[1].was: "2019-11-03T01:30:00": 1:30 a.m. '
        "happens twice there that day: clocks go back from 2:00 to 1:00 a.m. on Sunday, "
        "November 3, 2019 in America/Chicago (expected a time outside 1:00-2:00 a.m. that day, "
        "which every calendar reads as the same instant)"]


def test_a_time_in_a_year_whose_offset_has_seconds_is_refused(tmp_path):
    # Liberia kept UTC-0:44:30 until May 1, 1972: a VTIMEZONE can write those seconds,
    # but ical.js reads offsets to the minute, so calendars would disagree by 30 s.
    assert problems(tmp_path, timed("1971-06-01T12:00:00", "Africa/Monrovia")) == [
        'tracks.one-off.milestones[2].at: "1971-06-01T12:00:00": Africa/Monrovia is '
        "UTC-0:44:30 in 1971, which calendars read to the minute only (expected a time zone "
        "whose UTC offset that year is a whole number of minutes)"]
    assert problems(tmp_path, timed("1973-06-01T12:00:00", "Africa/Monrovia")) == []
