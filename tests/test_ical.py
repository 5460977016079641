"""The .ics feed as calendar clients read it (docs/design.md §3–§4).

Dates are copied from shared/seeds/: 000 (progress-report milestones, November
2023 cohort), 001 (annual reporting: "April 1, 2024 at 11:59 p.m. Central Time")
and published-dates.md. Feeds are read back with two parsers that share no code
with icalendar: `ical` (which resolves TZID by name) and `vobject` (which uses the
feed's own VTIMEZONE, through dateutil), so the VTIMEZONE is checked too.

The golden files under tests/golden/ are the four demo providers' feeds with
today pinned to 2026-11-21. After a deliberate change, regenerate them with

    CALFEED_REGENERATE=1 python -m pytest tests/test_ical.py

and read the diff line by line before committing it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from dateutil.tz import tzical
from ical.calendar_stream import IcsCalendarStream
from icalendar import vDuration

from calfeed import bundled
from calfeed.core import engine, reminders, rules
from calfeed.outputs import ical as feed
from calfeed.core.model import Profile

TODAY = date(2026, 11, 21)
DEMOS = ("demo-8-month", "demo-12-month", "demo-annual", "demo-state")
GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("CALFEED_REGENERATE") == "1"
UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture(scope="module")
def loaded():
    """The bundled rules and demo roster."""
    return rules.load(bundled("rules.toml"))


def render(loaded, provider, remind=(), url=None, today=TODAY):
    """A demo provider's events and feed, today pinned."""
    profile = loaded.providers[provider]
    events = engine.schedule(loaded, profile, today)
    alarms = reminders.alarms(reminders.leads(remind), events, today)
    return events, feed.render(events, engine.calendar(loaded, profile, url), alarms)


def lines(body: bytes) -> list[str]:
    """The unfolded content lines of a feed."""
    return body.decode().replace("\r\n ", "").split("\r\n")[:-1]


def vevents(body: bytes) -> list[list[str]]:
    """The unfolded lines of each VEVENT, BEGIN and END included."""
    blocks, current = [], None
    for line in lines(body):
        if line == "BEGIN:VEVENT":
            current = []
        if current is not None:
            current.append(line)
        if line == "END:VEVENT":
            blocks.append(current)
            current = None
    return blocks


# ---------------------------------------------------------------------------
# Golden files: the demo providers' feeds, byte for byte.


@pytest.mark.parametrize("provider", DEMOS)
def test_demo_feed_matches_golden_file(loaded, provider):
    _, body = render(loaded, provider)
    path = GOLDEN / f"{provider}.ics"
    # In CI a regenerate would make this pass whatever the output is.
    assert not (REGENERATE and os.environ.get("CI")), "CALFEED_REGENERATE is set in CI"
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(body)
    assert body == path.read_bytes(), (
        f"{path.name} differs; if the change is intended, regenerate with "
        "CALFEED_REGENERATE=1 python -m pytest tests/test_ical.py")


# ---------------------------------------------------------------------------
# One whole small feed, as a literal.

TINY_RULES = """\
revised = 2026-11-21T00:00:00Z

[tracks.tiny]
name = "Tiny Milestones"
source = "A test schedule"
cycle = "2023-11"
links = [{ title = "Guide", url = "https://www.accme.org/progress-reports" }]

[[tracks.tiny.milestones]]
id = "review-fee"
title = "Provider remits the progress report review fee"
description = "Provider remits the progress report review fee."
actor = "provider"
when = "Due upon receipt of invoice"

[[tracks.tiny.milestones]]
id = "enter-activity-data"
title = "Provider enters CME activity data"
description = "Provider enters CME activity data, in PARS."
actor = "provider"
date = 2024-01-24
links = [{ title = "PARS", url = "https://pars.accme.org/" }]

[[tracks.tiny.milestones]]
id = "annual"
title = "Annual reporting deadline"
description = "Complete the five steps."
actor = "provider"
at = 2024-04-01T23:59:00
tz = "America/Chicago"
estimated = true

[[tracks.tiny.milestones]]
id = "decision"
title = "ACCME notifies provider of the July 2024 Cohort progress report decision"
description = "ACCME notifies provider of the July 2024 Cohort progress report decision."
actor = "accme"
month = "2024-07"
"""

TINY_FEED = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//calfeed//calfeed//EN
CALSCALE:GREGORIAN
METHOD:PUBLISH
DESCRIPTION:ACCME deadlines for Tiny Provider: Tiny Milestones. Made by ca
 lfeed from ACCME's published schedules\\; dates marked (estimated) follow A
 CCME's usual rule and are not yet published. Not in this calendar because 
 they have no date: Provider remits the progress report review fee (Due upo
 n receipt of invoice).
X-WR-CALDESC:ACCME deadlines for Tiny Provider: Tiny Milestones. Made by c
 alfeed from ACCME's published schedules\\; dates marked (estimated) follow 
 ACCME's usual rule and are not yet published. Not in this calendar because
  they have no date: Provider remits the progress report review fee (Due up
 on receipt of invoice).
NAME:Tiny Provider — ACCME deadlines
X-WR-CALNAME:Tiny Provider — ACCME deadlines
LAST-MODIFIED:20261121T000000Z
REFRESH-INTERVAL;VALUE=DURATION:PT12H
UID:tiny@calfeed
X-PUBLISHED-TTL:PT12H
BEGIN:VTIMEZONE
TZID:America/Chicago
BEGIN:STANDARD
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZNAME:CST
TZOFFSETFROM:-0500
TZOFFSETTO:-0600
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZNAME:CDT
TZOFFSETFROM:-0600
TZOFFSETTO:-0500
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
SUMMARY:Provider enters CME activity data
DTSTART;VALUE=DATE:20240124
DTEND;VALUE=DATE:20240125
DTSTAMP:20261121T000000Z
UID:tiny/tiny/2023-11/enter-activity-data@calfeed
SEQUENCE:3682081
CATEGORIES:Tiny Milestones
CLASS:PUBLIC
DESCRIPTION:Provider enters CME activity data\\, in PARS.\\n\\nWho acts: the 
 provider\\n\\nPARS: https://pars.accme.org/\\nGuide: https://www.accme.org/pr
 ogress-reports\\nThis calendar: https://calfeed.example/calendar.ics
STATUS:CONFIRMED
TRANSP:TRANSPARENT
URL:https://pars.accme.org/
X-MICROSOFT-CDO-BUSYSTATUS:FREE
END:VEVENT
BEGIN:VEVENT
SUMMARY:Annual reporting deadline (estimated) — due 11:59 p.m. CT
DTSTART;TZID=America/Chicago:20240401T235900
DTEND;TZID=America/Chicago:20240402T000000
DTSTAMP:20261121T000000Z
UID:tiny/tiny/2023-11/annual@calfeed
SEQUENCE:3682080
CATEGORIES:Tiny Milestones
CLASS:PUBLIC
DESCRIPTION:Complete the five steps.\\n\\nWho acts: the provider\\nEstimated:
  ACCME has not yet published this date\\; it follows ACCME's usual rule.\\n
 \\nGuide: https://www.accme.org/progress-reports\\nThis calendar: https://ca
 lfeed.example/calendar.ics
STATUS:TENTATIVE
TRANSP:TRANSPARENT
URL:https://www.accme.org/progress-reports
X-MICROSOFT-CDO-BUSYSTATUS:FREE
END:VEVENT
BEGIN:VEVENT
SUMMARY:ACCME notifies provider of the July 2024 Cohort progress report de
 cision — expected during July 2024
DTSTART;VALUE=DATE:20240701
DTEND;VALUE=DATE:20240702
DTSTAMP:20261121T000000Z
UID:tiny/tiny/2023-11/decision@calfeed
SEQUENCE:3682081
CATEGORIES:Tiny Milestones
CLASS:PUBLIC
DESCRIPTION:ACCME notifies provider of the July 2024 Cohort progress repor
 t decision.\\n\\nWho acts: ACCME\\n\\nGuide: https://www.accme.org/progress-re
 ports\\nThis calendar: https://calfeed.example/calendar.ics
STATUS:CONFIRMED
TRANSP:TRANSPARENT
URL:https://www.accme.org/progress-reports
X-MICROSOFT-CDO-BUSYSTATUS:FREE
END:VEVENT
END:VCALENDAR
"""


def test_whole_small_feed(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(TINY_RULES, encoding="utf-8")
    tiny = rules.load(path)
    profile = Profile(id="tiny", name="Tiny Provider")
    events = engine.schedule(tiny, profile, TODAY)
    calendar = engine.calendar(tiny, profile, "https://calfeed.example/calendar.ics")
    body = feed.render(events, calendar)
    assert body == TINY_FEED.replace("\n", "\r\n").encode("utf-8")


# ---------------------------------------------------------------------------
# What independent parsers read.


@pytest.mark.parametrize("provider", DEMOS)
def test_ical_package_reads_every_event_as_the_engine_made_it(loaded, provider):
    events, body = render(loaded, provider)
    parsed = IcsCalendarStream.calendar_from_ics(body.decode())
    dated = [e for e in events if e.precision != "undated"]
    assert [e.uid for e in parsed.events] == [e.uid for e in dated]
    for event, got in zip(dated, parsed.events):
        if event.precision == "time":
            assert got.dtstart == event.start and got.dtstart.utcoffset() == event.start.utcoffset()
            assert got.dtend == event.end == event.start + timedelta(minutes=1)
        else:
            # All-day: a date, not a date-time; ending the next day, exclusive.
            assert type(got.dtstart) is date and type(got.dtend) is date
            assert got.dtstart == event.start
            assert got.dtend == event.start + timedelta(days=1)
            if event.precision == "day":
                assert got.dtend == event.end
            else:
                assert got.dtstart.day == 1
        # No date in the bundled rules has moved: nothing looks changed.
        assert got.last_modified is None
        assert got.sequence == (3682081 if event.status == "published" else 3682080)
        assert got.status.value == ("TENTATIVE" if event.status == "estimated" else "CONFIRMED")
        assert got.transparency == "TRANSPARENT"


@pytest.mark.parametrize("provider", DEMOS)
def test_vobject_reads_every_event_through_the_feeds_own_vtimezone(loaded, provider):
    events, body = render(loaded, provider)
    parsed = vobject.readOne(body.decode())
    dated = [e for e in events if e.precision != "undated"]
    got_events = parsed.contents["vevent"]
    assert [v.uid.value for v in got_events] == [e.uid for e in dated]
    for event, got in zip(dated, got_events):
        start, end = got.dtstart.value, got.dtend.value
        if event.precision == "time":
            # vobject builds the zone from the VTIMEZONE in the feed, not from tzdata.
            assert type(start.tzinfo).__name__ == "_tzicalvtz"
            assert start.astimezone(UTC) == event.start.astimezone(UTC)
            assert end.astimezone(UTC) == event.end.astimezone(UTC)
        else:
            assert type(start) is date and type(end) is date
            assert (start, end) == (event.start, event.start + timedelta(days=1))


def test_2024_annual_deadline_is_april_2_0459_utc(loaded):
    # Source 001: "by April 1, 2024 at 11:59 p.m. Central Time" (CDT, UTC-5).
    _, body = render(loaded, "demo-annual")
    uid = "demo-annual/annual-reporting/2023/annual-agreement@calfeed"
    by_vobject = {v.uid.value: v for v in vobject.readOne(body.decode()).contents["vevent"]}
    by_ical = {e.uid: e for e in IcsCalendarStream.calendar_from_ics(body.decode()).events}
    expected = datetime(2024, 4, 2, 4, 59, tzinfo=UTC)
    assert by_vobject[uid].dtstart.value.astimezone(UTC) == expected
    assert by_ical[uid].dtstart.astimezone(UTC) == expected
    assert by_vobject[uid].summary.value == (
        "Accept the terms of the ACCME annual agreement — due 11:59 p.m. CT")


def test_progress_report_days_and_month_as_source_000(loaded):
    _, body = render(loaded, "demo-8-month")
    parsed = vobject.readOne(body.decode()).contents["vevent"]
    days = [(v.dtstart.value, v.dtend.value, v.summary.value) for v in parsed
            if "/progress-8-month/" in v.uid.value]
    assert days == [
        (date(2024, 1, 24), date(2024, 1, 25), "Provider enters CME activity data"),
        (date(2024, 2, 7), date(2024, 2, 8),
         "ACCME notifies provider of activities selected for performance-in-practice review"),
        (date(2024, 2, 21), date(2024, 2, 22),
         "ACCME notifies provider that the Progress Report Narrative and "
         "Performance-in-Practice Structured Abstracts are available in PARS"),
        (date(2024, 4, 3), date(2024, 4, 4), "Progress Report Materials Submission Deadline"),
        (date(2024, 7, 1), date(2024, 7, 2),
         "ACCME notifies provider of the July 2024 Cohort progress report decision"
         " — expected during July 2024"),
    ]


def test_undated_fee_is_named_in_the_calendar_not_an_event(loaded):
    _, body = render(loaded, "demo-12-month")
    parsed = vobject.readOne(body.decode())
    assert "review-fee" not in body.decode()
    assert all("remits" not in v.summary.value for v in parsed.contents["vevent"])
    sentence = ("Not in this calendar because they have no date: Provider remits the "
                "progress report review fee (Due upon receipt of invoice).")
    assert parsed.contents["description"][0].value.endswith(sentence)
    assert parsed.contents["x-wr-caldesc"][0].value == parsed.contents["description"][0].value


def test_estimated_and_accreditor_events_say_so(loaded):
    _, body = render(loaded, "demo-state")
    parsed = {v.uid.value: v for v in vobject.readOne(body.decode()).contents["vevent"]}
    cma = parsed["demo-state/annual-reporting/2024/program-summary@calfeed"]
    assert (cma.dtstart.value, cma.dtend.value) == (date(2025, 3, 14), date(2025, 3, 15))
    assert cma.summary.value == ("Complete and submit your Program Summary — "
                                 "California Medical Association deadline")
    assert cma.status.value == "CONFIRMED"
    assert "California Medical Association: https://www.cmadocs.org/cme/accreditation/eligibility" \
        in cma.description.value
    # No CMA date for data year 2025: its rule, the Friday on or before ACCME's
    # (estimated) March 31, 2026 minus 12 days = Friday March 13, 2026.
    later = parsed["demo-state/annual-reporting/2025/program-summary@calfeed"]
    assert (later.dtstart.value, later.dtend.value) == (date(2026, 3, 13), date(2026, 3, 14))
    assert later.summary.value == ("Complete and submit your Program Summary — "
                                   "California Medical Association deadline (estimated)")
    assert later.status.value == "TENTATIVE"
    # The estimate says whose rule it follows, not ACCME's.
    assert ("Its published deadlines fell on the Friday on or before ACCME's deadline minus "
            "12 days") in later.description.value
    assert "it follows ACCME's usual rule" not in later.description.value


def test_event_description_carries_the_text_who_acts_and_links(loaded):
    _, body = render(loaded, "demo-8-month", url="https://calfeed.example/p/abc.ics")
    parsed = {v.uid.value: v for v in vobject.readOne(body.decode()).contents["vevent"]}
    selected = parsed["demo-8-month/progress-8-month/2023-11/activities-selected@calfeed"]
    text = selected.description.value
    assert text.startswith("ACCME notifies provider of activities selected for "
                           "performance-in-practice review. Based on the CME activity data")
    assert text.endswith(
        "demonstrate compliance.\n\nWho acts: ACCME\n\n"
        "Guide to the ACCME Progress Report Process: For Progress Reports to be Reviewed in "
        "the March, July, and November 2024 Cohorts: https://www.accme.org/progress-reports\n"
        "This calendar: https://calfeed.example/p/abc.ics")
    assert selected.url.value == "https://www.accme.org/progress-reports"
    assert selected.categories.value == ["8-Month Progress Report Milestones"]


# ---------------------------------------------------------------------------
# The calendar header, the wire format.


def test_calendar_header(loaded):
    _, body = render(loaded, "demo-annual")
    head = lines(body)[:lines(body).index("BEGIN:VTIMEZONE")]
    assert head[:5] == ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calfeed//calfeed//EN",
                        "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT12H" in head
    assert "X-PUBLISHED-TTL:PT12H" in head
    assert "UID:demo-annual@calfeed" in head
    assert "LAST-MODIFIED:20261121T000000Z" in head
    assert "NAME:Demo Institute (annual reporting only) — ACCME deadlines" in head
    assert "X-WR-CALNAME:Demo Institute (annual reporting only) — ACCME deadlines" in head


@pytest.mark.parametrize("provider", DEMOS)
def test_crlf_and_folding(loaded, provider):
    _, body = render(loaded, provider)
    assert body.endswith(b"END:VCALENDAR\r\n")
    raw = body.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in raw)
    assert max(len(line) for line in raw) <= 75


def test_every_event_is_transparent_public_and_free(loaded):
    _, body = render(loaded, "demo-12-month")
    blocks = vevents(body)
    assert len(blocks) == 30
    for block in blocks:
        for line in ("TRANSP:TRANSPARENT", "X-MICROSOFT-CDO-BUSYSTATUS:FREE", "CLASS:PUBLIC",
                     "DTSTAMP:20261121T000000Z"):
            assert line in block
        # No date moved: SEQUENCE is the floor above the old calendar-wide numbers
        # (3623040 for this revision), one more once ACCME has published the date.
        published = "STATUS:CONFIRMED" in block
        assert ("SEQUENCE:3682081" if published else "SEQUENCE:3682080") in block
        assert not any(line.startswith("LAST-MODIFIED") for line in block)


# ---------------------------------------------------------------------------
# Identity and determinism (docs/design.md §3).


RENDER_IN_A_NEW_PROCESS = """
import sys
from datetime import date, timedelta
from calfeed import bundled
from calfeed.core import engine, reminders, rules
from calfeed.outputs import ical
loaded = rules.load(bundled("rules.toml"))
profile = loaded.providers[sys.argv[1]]
events = engine.schedule(loaded, profile, date.fromisoformat(sys.argv[2]))
remind = [timedelta(days=int(d)) for d in sys.argv[3:]]
alarms = reminders.alarms(reminders.leads(remind), events, date.fromisoformat(sys.argv[2]))
sys.stdout.buffer.write(ical.render(events, engine.calendar(loaded, profile), alarms))
"""


@pytest.mark.parametrize("provider, remind", [("demo-state", []), ("demo-8-month", [2])])
def test_renders_are_byte_identical_across_processes(loaded, provider, remind):
    # Each render from scratch: the serialization caches emptied in this process, and
    # two fresh processes whose string hashes (so set and dict orders) differ.
    feed.clear_caches()
    here = render(loaded, provider, [timedelta(days=d) for d in remind])[1]
    bodies = [subprocess.run([sys.executable, "-c", RENDER_IN_A_NEW_PROCESS, provider, TODAY.isoformat(),
                              *map(str, remind)], capture_output=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout
              for seed in ("1", "2")]
    assert bodies == [here, here]


def test_a_moved_date_keeps_its_uid_and_raises_sequence(loaded, tmp_path):
    source = Path(loaded.path).read_text(encoding="utf-8")
    assert source.count("materials-due = 2024-04-03,") == 1
    assert source.count("revised = 2026-11-21T00:00:00Z\n") == 1
    moved = (source.replace("materials-due = 2024-04-03,", "materials-due = { date = 2024-04-10, "
                            "changes = [{ was = 2024-04-03, announced = 2026-11-30, note = "
                            "\"A test move\" }] },")
             .replace("revised = 2026-11-21T00:00:00Z\n", "revised = 2026-12-01T09:30:00Z\n"))
    (tmp_path / "rules.toml").write_text(moved, encoding="utf-8")
    roster = Path(loaded.providers_path).read_text(encoding="utf-8")
    (tmp_path / "providers.csv").write_text(roster, encoding="utf-8")
    changed = rules.load(tmp_path / "rules.toml")

    uid = "demo-8-month/progress-8-month/2023-11/materials-due@calfeed"
    before = {v.uid.value: v for v in
              vobject.readOne(render(loaded, "demo-8-month")[1].decode()).contents["vevent"]}
    after = {v.uid.value: v for v in
             vobject.readOne(render(changed, "demo-8-month")[1].decode()).contents["vevent"]}
    assert list(before) == list(after)
    assert before[uid].dtstart.value == date(2024, 4, 3)
    assert after[uid].dtstart.value == date(2024, 4, 10)
    assert (int(before[uid].sequence.value), int(after[uid].sequence.value)) == (3682081, 3682082)
    assert after[uid].dtstamp.value == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    # The day the move was announced, not the revision: a later, unrelated edit
    # leaves it as it is.
    assert after[uid].last_modified.value == datetime(2026, 11, 30, tzinfo=UTC)
    assert "was Wednesday, April 3, 2024; announced November 30, 2026. A test move." in (
        after[uid].description.value)
    # Every other event is as it was, apart from the feed's DTSTAMP.
    for other in set(before) - {uid}:
        assert after[other].sequence.value == before[other].sequence.value
        assert "last_modified" not in after[other].contents
        assert after[other].dtstart.value == before[other].dtstart.value


# ---------------------------------------------------------------------------
# The time zone Outlook reads.


def test_one_vtimezone_in_rrule_form(loaded):
    _, body = render(loaded, "demo-12-month")
    unfolded = lines(body)
    assert unfolded.count("BEGIN:VTIMEZONE") == 1
    assert not any(line.startswith("RDATE") for line in unfolded)
    zone = unfolded[unfolded.index("BEGIN:VTIMEZONE"):unfolded.index("END:VTIMEZONE") + 1]
    assert zone == [
        "BEGIN:VTIMEZONE",
        "TZID:America/Chicago",
        "BEGIN:STANDARD",
        "DTSTART:20071104T020000",
        "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11",
        "TZNAME:CST",
        "TZOFFSETFROM:-0500",
        "TZOFFSETTO:-0600",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:20070311T020000",
        "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3",
        "TZNAME:CDT",
        "TZOFFSETFROM:-0600",
        "TZOFFSETTO:-0500",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    ]
    # Before the first event that names it.
    assert unfolded.index("END:VTIMEZONE") < unfolded.index("BEGIN:VEVENT")


def test_no_vtimezone_without_timed_events(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(TINY_RULES.replace('at = 2024-04-01T23:59:00\ntz = "America/Chicago"',
                                       "date = 2024-04-01"), encoding="utf-8")
    tiny = rules.load(path)
    profile = Profile(id="tiny", name="Tiny Provider")
    body = feed.render(engine.schedule(tiny, profile, TODAY), engine.calendar(tiny, profile))
    assert b"VTIMEZONE" not in body and b"TZID" not in body


@pytest.mark.parametrize("key", ["America/Chicago", "Europe/Berlin", "Australia/Sydney",
                                 "America/Phoenix"])
def test_vtimezone_agrees_with_tzdata_all_year(key):
    # dateutil reads the VTIMEZONE as a client would; every half hour of 2026 must
    # have the UTC offset the zone database gives.
    text = feed.vtimezone(key, 2026).to_ical().decode()
    assert "RDATE" not in text
    read = tzical(io.StringIO(text)).get()
    zone = ZoneInfo(key)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    while moment.year == 2026:
        assert moment.astimezone(read).utcoffset() == moment.astimezone(zone).utcoffset(), moment
        moment += timedelta(minutes=30)


def test_vtimezone_rules_for_other_zones():
    berlin = feed.vtimezone("Europe/Berlin", 2026).to_ical().decode()
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in berlin
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in berlin
    phoenix = feed.vtimezone("America/Phoenix", 2026).to_ical().decode()
    # No change to rule: one onset, with the rule every reader finds (zones.Observance).
    assert "RRULE:FREQ=YEARLY;COUNT=1;BYMONTHDAY=1;BYMONTH=1" in phoenix
    assert "BYDAY" not in phoenix and "TZOFFSETTO:-0700" in phoenix
    assert feed.vtimezone("America/Chicago", 2026) is feed.vtimezone("America/Chicago", 2026)


# ---------------------------------------------------------------------------
# Reminders: none unless asked.


def test_no_valarm_by_default(loaded):
    for provider in DEMOS:
        assert b"VALARM" not in render(loaded, provider)[1]


def test_remind_adds_valarms_last_in_each_provider_vevent(loaded):
    # As of January 1, 2024: the 8-month cohort (source 000) and annual reporting for
    # 2023 (due April 1, 2024, 11:59 p.m. CT) and 2024 (March 31, 2025), four steps each
    # for a provider without enduring materials.
    _, body = render(loaded, "demo-8-month", reminders.parse("P2D,P14D"), today=date(2024, 1, 1))
    blocks = vevents(body)
    assert len(blocks) == 13
    reminded = [b for b in blocks if "BEGIN:VALARM" in b]
    # The provider's two cohort steps, and the first annual step of each data year: the
    # four steps due at one moment ring once. ACCME's three steps get none.
    assert [next(l for l in b if l.startswith("UID:")) for b in reminded] == [
        "UID:demo-8-month/progress-8-month/2023-11/enter-activity-data@calfeed",
        "UID:demo-8-month/annual-reporting/2023/annual-agreement@calfeed",
        "UID:demo-8-month/progress-8-month/2023-11/materials-due@calfeed",
        "UID:demo-8-month/annual-reporting/2024/annual-agreement@calfeed",
    ]
    annual = ("DESCRIPTION:Annual Reporting in PARS\\, data year {year}: 4 steps due {due}: "
              "Accept the terms of the ACCME annual agreement\\; Enter all activities that "
              "started in {year}\\, and close all of them that also ended in {year}\\; Complete "
              "and submit your Program Summary\\; Review and update your contact information")
    said = [
        "DESCRIPTION:Provider enters CME activity data",
        annual.format(year=2023, due="Monday\\, April 1\\, 2024\\, 11:59 p.m. CT"),
        "DESCRIPTION:Progress Report Materials Submission Deadline",
        annual.format(year=2024, due="Monday\\, March 31\\, 2025\\, 11:59 p.m. CT"),
    ]
    for block, text in zip(reminded, said):
        first = block.index("BEGIN:VALARM")
        assert [line for line in block[first:] if not line.startswith("TRIGGER")] == [
            "BEGIN:VALARM", "ACTION:DISPLAY", text, "END:VALARM",
            "BEGIN:VALARM", "ACTION:DISPLAY", text, "END:VALARM",
            "END:VEVENT",
        ]
    # Provider enters CME activity data, Wednesday 2024-01-24 (all day): 9:00 a.m. on
    # Wednesday 2024-01-10 and Monday 2024-01-22, 13 days 15 hours and 1 day 15 hours before
    parsed = vobject.readOne(body.decode()).contents["vevent"][0]
    assert parsed.dtstart.value == date(2024, 1, 24)
    assert parsed.contents["valarm"][0].description.value == (
        "Provider enters CME activity data")
    assert [a.trigger.value for a in parsed.contents["valarm"]] == [
        -timedelta(days=13, hours=15), -timedelta(days=1, hours=15)]


@pytest.mark.parametrize("provider", DEMOS)
def test_a_reminder_feed_is_what_icalendar_writes_for_it(loaded, provider):
    # Each VEVENT is serialized once and its VALARMs put before its END line: icalendar,
    # reading the feed and writing it again, must give the same bytes, but for the
    # TRIGGER values, which it writes with nominal days.
    for choice in reminders.CHOICES:
        profile = loaded.providers[provider]
        events = engine.schedule(loaded, profile, TODAY)
        body = feed.render(events, engine.calendar(loaded, profile),
                           reminders.alarms(choice.leads, events, TODAY))
        assert b"BEGIN:VALARM" in body
        again = icalendar.Calendar.from_ical(body).to_ical()
        def without_triggers(text: bytes) -> list[str]:
            return [l for l in lines(text) if not l.startswith("TRIGGER")]
        assert without_triggers(again) == without_triggers(body)
        assert [vDuration.from_ical(l.split(":", 1)[1]) for l in lines(again) if l.startswith("TRIGGER")] \
            == [vDuration.from_ical(l.split(":", 1)[1]) for l in lines(body) if l.startswith("TRIGGER")]
