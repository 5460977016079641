"""A date's history: rules.toml records how a published date moved, and every output says so.

The fixture is the one real move in the sources (shared/seeds/published-dates.md):
"data year 2019 was extended ad hoc from March 31 to April 30, 2020 (COVID)" —
annual reporting due Tuesday, March 31, 2020 at 11:59 p.m. Central Time became
Thursday, April 30, 2020, announced in March 2020. tests/fixtures/extension-2019.toml
is the rules after the extension; extension-2019-before.toml the same file before it.
Feeds are read back with `ical` and `vobject`, which share no code with icalendar.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import vobject
from ical.calendar_stream import IcsCalendarStream

from calfeed import bundled
from calfeed.core import engine, rules
from calfeed.outputs import export, views
from calfeed.outputs import ical as feed
from calfeed.core.model import Day, Month
from calfeed.serve.store import Store
from files import FIXTURES
from loading import problems

AFTER = FIXTURES / "extension-2019.toml"
BEFORE = FIXTURES / "extension-2019-before.toml"
CHICAGO = ZoneInfo("America/Chicago")
UTC = timezone.utc
# The day before the old deadline: the extension is news.
TODAY = date(2020, 3, 30)
MOVED = ("Moved: was Tuesday, March 31, 2020; announced March 2020. "
         "Extended because of the COVID-19 public health emergency.")


def schedule(path: Path, provider: str = "north", today: date = TODAY):
    """A fixture provider's events."""
    loaded = rules.load(path)
    return loaded, engine.schedule(loaded, loaded.providers[provider], today)


def ics(path: Path, provider: str = "north") -> bytes:
    """A fixture provider's feed."""
    loaded, events = schedule(path, provider)
    return feed.render(events, engine.calendar(loaded, loaded.providers[provider]))


def write(folder: Path, name: str, text: str) -> Path:
    """A file in a test's folder."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# The history is data.


def test_the_2019_extension_is_read_with_its_history():
    track = rules.load(AFTER).tracks["annual-reporting"]
    assert track.published == {2019: datetime(2020, 4, 30, 23, 59)}
    (change,) = track.history[2019]
    assert change.was == datetime(2020, 3, 31, 23, 59)
    assert change.announced == Month(2020, 3)
    assert change.note == "Extended because of the COVID-19 public health emergency"


def test_every_event_of_data_year_2019_carries_the_move_in_central_time():
    _, events = schedule(AFTER)
    moved = [e for e in events if e.cycle == "2019"]
    assert [e.milestone for e in moved] == ["annual-agreement", "enter-activities",
                                            "program-summary"]
    for event in moved:
        assert event.start == datetime(2020, 4, 30, 23, 59, tzinfo=CHICAGO)
        assert event.status == "published"
        (change,) = event.changes
        assert change.was == datetime(2020, 3, 31, 23, 59, tzinfo=CHICAGO)
        assert change.was.utcoffset().total_seconds() == -5 * 3600  # CDT
    assert all(e.changes == () for e in events if e.cycle == "2020")


def test_a_state_accredited_provider_sees_acccmes_move_too():
    # The CMA published no 2019 date in the fixture: ACCME's moved date stands.
    _, events = schedule(AFTER, "west")
    agreement = next(e for e in events if e.cycle == "2019" and e.milestone == "annual-agreement")
    assert agreement.start == datetime(2020, 4, 30, 23, 59, tzinfo=CHICAGO)
    assert agreement.changes[0].was == datetime(2020, 3, 31, 23, 59, tzinfo=CHICAGO)


@pytest.mark.parametrize("today, recent", [
    (date(2020, 2, 29), False),  # before March: not yet announced
    (date(2020, 3, 1), True),
    (date(2020, 3, 30), True),
    (date(2020, 4, 30), True),   # March 31 is 30 days back
    (date(2020, 5, 1), False),   # 31 days after the last day of March
])
def test_changed_recently_counts_30_days_from_any_day_of_the_announced_month(today, recent):
    _, events = schedule(AFTER, today=today)
    event = next(e for e in events if e.cycle == "2019")
    assert views.changed_recently(event, today) is recent


def test_a_milestone_day_a_month_and_an_accreditor_year_take_history(tmp_path):
    source = bundled("rules.toml").read_text(encoding="utf-8")
    # Source 000, 8-month table: materials due April 3, 2024; moved here for the test.
    edited = (source
              .replace('materials-due = 2024-04-03,', 'materials-due = { date = 2024-04-10, '
                       'changes = [{ was = 2024-04-03, announced = 2024-03-20, note = "PARS '
                       'outage" }] },')
              .replace('decision = "2024-07"', 'decision = { month = "2024-07", changes = [{ '
                       'was = "2024-06", announced = "2024-05" }] }')
              .replace("2024 = 2025-03-14\n", "2024 = { date = 2025-03-21, changes = [{ was = "
                       "2025-03-14, announced = 2025-02-03, note = \"CMA extension\" }] }\n"))
    shutil.copy(bundled("providers.csv"), tmp_path / "providers.csv")
    loaded = rules.load(write(tmp_path, "rules.toml", edited))
    events = {(e.track, e.cycle, e.milestone): e
              for e in engine.schedule(loaded, loaded.providers["demo-8-month"], TODAY)}
    due = events[("progress-8-month", "2023-11", "materials-due")]
    assert due.start == date(2024, 4, 10)
    assert [(c.was, c.announced, c.note) for c in due.changes] == [
        (date(2024, 4, 3), Day(date(2024, 3, 20)), "PARS outage")]
    decision = events[("progress-8-month", "2023-11", "decision")]
    assert decision.start == date(2024, 7, 1)
    assert [(c.was, c.announced, c.note) for c in decision.changes] == [
        (date(2024, 6, 1), Month(2024, 5), None)]
    state = {(e.cycle, e.milestone): e
             for e in engine.schedule(loaded, loaded.providers["demo-state"], date(2025, 1, 1))}
    cma = state[("2024", "annual-agreement")]
    assert cma.start == date(2025, 3, 21)
    assert cma.changes[0].was == date(2025, 3, 14)


BROKEN_HISTORY = [
    pytest.param('{ date = 2024-04-10, changes = [{ was = 2024-04-10, announced = 2024-03-20 }] }',
                 "progress.cohorts[1].dates.materials-due.changes[1].was: \"2024-04-10\" is the "
                 "date as it is now (expected the date before it moved)", id="same-date"),
    pytest.param('{ date = 2024-04-10, changes = [{ was = "2024-04-03", announced = 2024-03-20 }] }',
                 'progress.cohorts[1].dates.materials-due.changes[1].was: a string "2024-04-03" '
                 "(expected a date like 2024-01-24, unquoted)", id="quoted-was"),
    pytest.param('{ date = 2024-04-10, changes = [{ was = 2024-04-03, announced = "March" }] }',
                 'progress.cohorts[1].dates.materials-due.changes[1].announced: "March" is not a '
                 'month (expected a quoted month like "2024-07")', id="bad-announced"),
    pytest.param('{ date = 2024-04-10, changes = [{ was = 2024-04-03 }] }',
                 'progress.cohorts[1].dates.materials-due.changes[1]: missing key "announced" '
                 "(expected announced to be set)", id="no-announced"),
    pytest.param('{ date = 2024-04-10, changes = [{ was = 2024-04-03, anounced = 2024-03-20 }] }',
                 ['progress.cohorts[1].dates.materials-due.changes[1].anounced: unknown key '
                  '"anounced", did you mean "announced"? (expected one of: was, announced, note)',
                  'progress.cohorts[1].dates.materials-due.changes[1]: missing key "announced" '
                  "(expected announced to be set)"], id="misspelt-key"),
    pytest.param('{ date = 2024-04-10, changes = { was = 2024-04-03, announced = 2024-03-20 } }',
                 "progress.cohorts[1].dates.materials-due.changes: a single table, not an array "
                 "(expected an array of { was, announced, note } tables, oldest first, in [ ])",
                 id="not-an-array"),
    pytest.param('{ date = 2024-04-10, changes = [{ was = 2024-04-01, announced = 2024-03-20 }, '
                 '{ was = 2024-04-03, announced = 2024-03-01 }] }',
                 'progress.cohorts[1].dates.materials-due.changes[2].announced: "2024-03-01" is '
                 "earlier than the entry before it (expected entries oldest first)",
                 id="out-of-order"),
]


@pytest.mark.parametrize("replacement, expected", BROKEN_HISTORY)
def test_a_broken_history_is_one_line_naming_the_place(tmp_path, replacement, expected):
    source = bundled("rules.toml").read_text(encoding="utf-8")
    text = source.replace("materials-due = 2024-04-03,", f"materials-due = {replacement},")
    assert problems(tmp_path, text, roster=None) == (expected if isinstance(expected, list) else [expected])


def test_history_on_a_date_that_a_rule_makes_is_refused(tmp_path):
    source = bundled("rules.toml").read_text(encoding="utf-8")
    edited = source.replace('deadline = true\n', 'deadline = true\n'
                            'changes = [{ was = 2024-01-01, announced = 2024-01-01 }]\n', 1)
    assert problems(tmp_path, edited, roster=None) == [
        "tracks.annual-reporting.milestones[1].changes: changes given with deadline (expected "
        "changes only with a published date: date, month, at)"]


def test_a_published_year_in_the_long_form_checks_its_keys(tmp_path):
    text = AFTER.read_text(encoding="utf-8").replace("at = 2020-04-30T23:59:00",
                                                      "date = 2020-04-30T23:59:00")
    assert problems(tmp_path, text, roster=None) == [
        'tracks.annual-reporting.published.2019.date: unknown key "date", did you mean "at"? '
        "(expected one of: at, changes)",
        'tracks.annual-reporting.published.2019: missing key "at" (expected at to be set)']


# ---------------------------------------------------------------------------
# The feed: same UID, and only the moved events look changed.


def test_the_moved_events_keep_their_uids_and_only_they_look_changed():
    before = {v.uid.value: v for v in vobject.readOne(ics(BEFORE).decode()).contents["vevent"]}
    after = {v.uid.value: v for v in vobject.readOne(ics(AFTER).decode()).contents["vevent"]}
    assert list(before) == list(after) == [
        "north/annual-reporting/2019/annual-agreement@calfeed",
        "north/annual-reporting/2019/enter-activities@calfeed",
        "north/annual-reporting/2019/program-summary@calfeed",
        "north/annual-reporting/2020/annual-agreement@calfeed",
        "north/annual-reporting/2020/enter-activities@calfeed",
        "north/annual-reporting/2020/program-summary@calfeed",
    ]
    for uid, event in after.items():
        old = before[uid]
        # 3682080 for an estimate, one more once published, one more per move
        assert "last_modified" not in old.contents
        assert int(old.sequence.value) == (3682081 if "/2019/" in uid else 3682080)
        if "/2019/" in uid:
            assert old.dtstart.value.replace(tzinfo=None) == datetime(2020, 3, 31, 23, 59)
            assert event.dtstart.value.replace(tzinfo=None) == datetime(2020, 4, 30, 23, 59)
            assert int(event.sequence.value) == 3682082
            # The first day of the month it was announced in: no day was published.
            assert event.last_modified.value == datetime(2020, 3, 1, tzinfo=UTC)
            assert event.description.value.startswith(MOVED + "\n\n")
        else:
            assert int(event.sequence.value) == 3682080  # still the estimate it was
            assert "last_modified" not in event.contents
            assert event.description.value == old.description.value


def test_an_unchanged_event_is_byte_identical_but_for_the_feeds_dtstamp():
    def block(body: bytes, uid: str) -> list[str]:
        text = body.decode().replace("\r\n ", "")
        start = text.index(f"UID:{uid}")
        chunk = text[text.rindex("BEGIN:VEVENT", 0, start):text.index("END:VEVENT", start)]
        return [line for line in chunk.split("\r\n") if not line.startswith("DTSTAMP:")]

    uid = "north/annual-reporting/2020/program-summary@calfeed"
    assert block(ics(BEFORE), uid) == block(ics(AFTER), uid)
    assert "DTSTAMP:20200201T000000Z" in ics(BEFORE).decode()
    assert "DTSTAMP:20200330T000000Z" in ics(AFTER).decode()


def test_ical_reads_the_move_as_the_engine_made_it():
    calendar = IcsCalendarStream.calendar_from_ics(ics(AFTER).decode())
    first = calendar.events[0]
    assert first.uid == "north/annual-reporting/2019/annual-agreement@calfeed"
    assert first.dtstart == datetime(2020, 4, 30, 23, 59, tzinfo=CHICAGO)
    assert first.sequence == 3682082
    assert first.last_modified == datetime(2020, 3, 1, tzinfo=UTC)
    assert MOVED in first.description
    assert [e.sequence for e in calendar.events] == [3682082] * 3 + [3682080] * 3


def test_two_renders_of_the_moved_feed_are_byte_identical():
    assert ics(AFTER) == ics(AFTER)


# ---------------------------------------------------------------------------
# JSON and CSV.


def test_json_events_list_their_changes():
    loaded, events = schedule(AFTER)
    data = json.loads(export.to_json(engine.calendar(loaded, loaded.providers["north"]), events))
    assert data["events"][0]["changes"] == [{
        "was": "2020-03-31T23:59:00-05:00", "announced": "2020-03",
        "note": "Extended because of the COVID-19 public health emergency"}]
    assert data["events"][0]["start"] == "2020-04-30T23:59:00-05:00"
    assert data["events"][3]["cycle"] == "2020" and data["events"][3]["changes"] == []


def test_csv_has_a_changes_column_in_words():
    loaded, events = schedule(AFTER)
    rows = list(csv.DictReader(io.StringIO(export.to_csv(events, TODAY).lstrip("\ufeff"))))
    assert (rows[0]["Date"], rows[0]["Time"]) == ("2020-04-30", "23:59")
    assert rows[0]["start"] == "2020-04-30T23:59:00-05:00"
    assert rows[0]["Changes"] == MOVED
    assert rows[3]["Changes"] == ""


# ---------------------------------------------------------------------------
# The server's log.


def test_the_server_logs_one_line_per_reload_with_what_moved(tmp_path, caplog):
    shutil.copy(FIXTURES / "extension-2019.csv", tmp_path / "extension-2019.csv")
    path = tmp_path / "rules.toml"
    shutil.copy(BEFORE, path)
    store = Store(path, None, b"x" * 32, interval=0, today=lambda: TODAY)
    caplog.set_level(logging.INFO, logger="calfeed")
    caplog.clear()
    path.write_text(AFTER.read_text(encoding="utf-8"), encoding="utf-8")
    store._reload()
    reloads = [r.getMessage() for r in caplog.records if "events:" in r.getMessage()]
    assert reloads == [f"reload of {path}: events: 3 moved, 0 appeared, 0 disappeared; "
                       "3 of 3 providers affected"]


# ---------------------------------------------------------------------------
# The page.


def page(tmp_path, today: str) -> str:
    """The annual-reporting track page of the fixture, today pinned."""
    from calfeed import create_app

    app = create_app({"TESTING": True, "CALFEED_TODAY": today, "CALFEED_SECRET_KEY": "s" * 32,
                      "CALFEED_RULES": str(AFTER), "INSTANCE_PATH": str(tmp_path / "instance")})
    response = app.test_client().get("/tracks/annual-reporting/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_page_flags_a_move_announced_in_the_last_30_days(tmp_path):
    html = page(tmp_path, "2020-03-30")
    top = html.index('<section class="card changed"')
    assert top < html.index('<section class="next"') < html.index('<section class="card subscribe"')
    assert "Changed in the last 30 days" in html
    assert ("now <time datetime=\"2020-04-30T23:59:00-05:00\">Thursday, April 30, 2020, 11:59 "
            "p.m. Central Time</time>. " + MOVED) in html
    next_box = html[html.index('<section class="next"'):html.index('<section class="card subscribe"')]
    assert f'<p class="moved">{MOVED}</p>' in next_box
    # The three steps of the moved slot say it once, and each is tagged.
    assert html.count(f'<p class="moved">{MOVED}</p>') == 2
    assert html.count('<span class="tag changed">Changed recently</span>') == 3


def test_an_old_move_is_still_said_but_no_longer_flagged(tmp_path):
    html = page(tmp_path, "2020-06-01")
    assert "Changed in the last 30 days" not in html
    assert '<span class="tag changed">' not in html
    assert html.count('<span class="tag moved">Moved</span>') == 3
    assert html.count(f'<p class="moved">{MOVED}</p>') == 1


def test_a_group_page_flags_the_move_as_its_providers_pages_do(tmp_path):
    from calfeed import create_app
    from calfeed.core import tokens

    shutil.copy(FIXTURES / "extension-2019.csv", tmp_path / "extension-2019.csv")
    rules = tmp_path / "rules.toml"
    rules.write_text(AFTER.read_text(encoding="utf-8").replace(
        'roster = "extension-2019.csv"\n',
        'roster = "extension-2019.csv"\ngroups = "groups.csv"\n', 1), encoding="utf-8")
    (tmp_path / "groups.csv").write_text("id,name,accreditor\ncma,CMA providers,cma\n",
                                         encoding="utf-8")
    secret = "s" * 32
    app = create_app({"TESTING": True, "CALFEED_TODAY": "2020-03-30",
                      "CALFEED_SECRET_KEY": secret, "CALFEED_RULES": str(rules),
                      "INSTANCE_PATH": str(tmp_path / "instance")})
    token = tokens.token(secret.encode(), "cma", 0, "group")
    html = app.test_client().get(f"/g/{token}/").get_data(as_text=True)
    card = html[html.index('<section class="card changed"'):html.index('<section class="overview"')]
    assert "Changed in the last 30 days" in card
    assert ("now <time datetime=\"2020-04-30T23:59:00-05:00\">Thursday, April 30, 2020, 11:59 "
            "p.m. Central Time</time>. " + MOVED) in card
