"""Groups: the groups file, the roster's `groups` column, and a group's collapsed calendar.

Dates are the sources': ACCME's data year 2024 deadline, Monday, March 31, 2025 at 11:59
p.m. Central Time, and the California Medical Association's, Friday, March 14, 2025
(shared/seeds/published-dates.md); the November 2023 cohorts' tables (source 000).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import vobject
from click.testing import CliRunner
from hypothesis import given, strategies as st
from ical.calendar_stream import IcsCalendarStream

from calfeed.cli import main
from calfeed.core import calendars, engine, groups, rules, wording
from calfeed.outputs import ical
from calfeed.serve import web

from apps import make_app
from grouping import DEMO, GROUPS_CSV, set_groups, set_members
from readback import by_ical, by_icaljs, by_vobject
# The rules fuzzer's cells, damage and problem-line shape, for the groups file too.
from test_rules_fuzz import CELLS, FUZZ, PROBLEM, mangled_bytes
from files import FIXTURES, ROOT, roster_row

CHICAGO = ZoneInfo("America/Chicago")
MARCH_2025 = date(2025, 3, 1)
NAMES = {"demo-8-month": "Demo Health System (8-month progress report)",
         "demo-12-month": "Demo Medical Society (12-month progress report)",
         "demo-annual": "Demo Institute (annual reporting only)",
         "demo-state": "Demo Hospital (accredited by the California Medical Association)"}


def load(data, today: date = MARCH_2025):
    """The data folder's rules, roster and groups."""
    return rules.load(data / "rules.toml", today=today)


def check(data, *args: str, env: dict | None = None):
    """`calfeed check` on the data folder."""
    return CliRunner().invoke(main, ["check", "--rules", str(data / "rules.toml"),
                                     "--today", "2026-11-21", *args],
                              env={"CALFEED_GROUPS": None, **(env or {})})


def by_uid(schedule: groups.Schedule) -> dict[str, groups.Shared]:
    """A group's events by UID."""
    return {s.event.uid: s for s in schedule.events}


# --- the files -------------------------------------------------------------------------


def test_a_group_holds_the_providers_naming_it_and_an_accreditor_group_every_one_of_its(data):
    set_groups(data)
    loaded = load(data)
    assert loaded.groups["acme"].members == DEMO  # roster order
    assert loaded.groups["acme"].name == "Acme CME Consulting"
    assert loaded.groups["cma"].members == ("demo-state",)
    assert loaded.groups["cma"].accreditor == "cma"
    assert loaded.providers["demo-state"].groups == ("acme",)
    # Addresses are for the digest only: never in a repr.
    assert "acme-cme.example.com" not in repr(loaded.groups)
    assert loaded.groups["acme"].contacts == ("team@acme-cme.example.com",
                                              "lead@acme-cme.example.com")


def test_check_counts_the_groups_and_says_nothing_more_without_a_groups_file(data):
    plain = check(data)
    assert plain.exit_code == 0, plain.output
    assert plain.output.endswith("1 accreditor, 4 providers (revised 2026-11-21T00:00:00Z)\n")
    set_groups(data)
    result = check(data)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("1 accreditor, 4 providers, 2 groups "
                                  "(revised 2026-11-21T00:00:00Z)\n")


def test_check_names_each_problem_of_both_files_on_one_line(data):
    set_groups(data, {"demo-8-month": "acme", "demo-12-month": "acme; Acme",
                      "demo-annual": "acmee"}, groups_csv=(
        "id,name,email,accreditor\n"
        "acme,Acme CME Consulting,team@acme-cme.example.com,\n"
        "cma,California Medical Association providers,,CMA\n"
        "acme,Acme again,,\n"
        "a b,Spaces,,\n"))
    result = check(data)
    assert result.exit_code == 1
    groups_csv, roster = data / "groups.csv", data / "providers.csv"
    assert result.output.splitlines() == [
        f'{groups_csv}: row 3 (id "cma"), column accreditor: unknown accreditor "CMA", did you '
        'mean "cma"? (expected one of: cma, or empty for a group the roster\'s groups cells make)',
        f'{groups_csv}: row 4 (id "acme"), column id: duplicate group id "acme" (expected each id '
        'once; first seen in row 2)',
        f'{groups_csv}: row 5, column id: id "a b" is not safe in a URL path (expected 1-64 '
        "letters, digits, '-' or '_', starting with a letter or digit)",
        f'{roster}: row {roster_row(roster, "demo-12-month")} (id "demo-12-month"), column groups: unknown group "Acme", did you mean '
        '"acme"? (expected ids of groups.csv separated by ;: acme, cma)',
        f'{roster}: row {roster_row(roster, "demo-annual")} (id "demo-annual"), column groups: unknown group "acmee", did you mean '
        '"acme"? (expected ids of groups.csv separated by ;: acme, cma)',
    ]


def test_a_group_named_without_a_groups_file_is_refused(data):
    set_members(data, {"demo-8-month": "acme"})
    result = check(data)
    assert result.exit_code == 1
    assert result.output == (
        f'{data / "providers.csv"}: row {roster_row(data / "providers.csv", "demo-8-month")} (id "demo-8-month"), column groups: unknown group '
        '"acme": there is no groups file (expected a groups file named in rules.toml '
        '(groups = "groups.csv") or by --groups, or an empty cell)\n')


def test_a_group_nobody_belongs_to_is_a_warning(data):
    set_groups(data, {}, groups_csv="id,name\nlonely,Nobody's clients\n")
    result = check(data)
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == (
        f'{data / "groups.csv"}: row 2 (id "lonely"): warning: no provider belongs to the group '
        "(expected a roster whose groups cell names it, or an accreditor)")


def test_the_groups_file_is_chosen_by_option_or_setting_over_rules_toml(data, tmp_path):
    set_groups(data)
    other = tmp_path / "other.csv"
    other.write_text("id,name\nacme,Acme\ncma,CMA\nthird,Third\n", encoding="utf-8")
    for result in (check(data, "--groups", str(other)),
                   check(data, env={"CALFEED_GROUPS": str(other)})):
        assert result.exit_code == 0, result.output
        assert ", 3 groups (revised" in result.output.splitlines()[-1]
    assert load(data).groups_path == str(data / "groups.csv")
    assert rules.load(data / "rules.toml", groups_path=other, today=MARCH_2025).groups_path \
        == str(other)


# --- the collapsed calendar ------------------------------------------------------------


def test_annual_reporting_is_one_event_per_step_naming_every_provider(data):
    set_groups(data)
    loaded = load(data)
    schedule = groups.schedule(loaded, loaded.groups["acme"], MARCH_2025)
    found = by_uid(schedule)
    accme = found["group/acme/annual-reporting/2024/annual-agreement@calfeed"]
    assert accme.event.start == datetime(2025, 3, 31, 23, 59, tzinfo=CHICAGO)
    assert [p.id for p in accme.providers] == ["demo-8-month", "demo-12-month", "demo-annual"]
    assert accme.event.bare_title == (
        "Demo Health System (8-month progress report), Demo Medical Society (12-month progress "
        "report) and Demo Institute (annual reporting only): Accept the terms of the ACCME "
        "annual agreement")
    assert accme.event.description.endswith(
        "\n\nFor the 3 providers accredited by ACCME: Demo Health System (8-month progress "
        "report); Demo Medical Society (12-month progress report); Demo Institute (annual "
        "reporting only).")
    assert accme.event.status == "published"
    # The CMA's own, earlier deadline is its own event, for its provider alone.
    state = found["group/acme/annual-reporting/2024/annual-agreement/cma@calfeed"]
    assert state.event.start == date(2025, 3, 14)
    assert [p.id for p in state.providers] == ["demo-state"]
    assert wording.title(state.event) == (
        "Demo Hospital (accredited by the California Medical Association): Accept the terms of "
        "the ACCME annual agreement — California Medical Association deadline")
    # Enduring materials: only the two providers that offer them.
    learners = found["group/acme/annual-reporting/2024/enduring-learner-counts@calfeed"]
    assert [p.id for p in learners.providers] == ["demo-12-month", "demo-annual"]
    assert learners.event.description.endswith(
        "\n\nFor the 2 providers that offer enduring materials: Demo "
        "Medical Society (12-month progress report); Demo Institute (annual reporting only).")
    # Five steps at 11:59 p.m. on March 31, 2025, for three providers: 5 events, not 14.
    at_deadline = [s for s in schedule.events
                   if s.event.start == datetime(2025, 3, 31, 23, 59, tzinfo=CHICAGO)]
    assert len(at_deadline) == 5
    assert sum(len(s.providers) for s in at_deadline) == 14
    # In ACCME's checklist order.
    assert [s.event.milestone for s in at_deadline] == [
        "annual-agreement", "enter-activities", "enduring-learner-counts", "program-summary",
        "contact-information"]


def test_progress_report_steps_name_their_provider_and_keep_the_cohorts_dates(data):
    set_groups(data)
    loaded = load(data, date(2024, 1, 1))
    found = by_uid(groups.schedule(loaded, loaded.groups["acme"], date(2024, 1, 1)))
    due = found["group/acme/progress-8-month/2023-11/materials-due@calfeed"]
    assert due.event.start == date(2024, 4, 3)
    assert wording.title(due.event) == (
        "Demo Health System (8-month progress report): Progress Report Materials Submission "
        "Deadline")
    twelve = found["group/acme/progress-12-month/2023-11/materials-due@calfeed"]
    assert twelve.event.start == date(2024, 8, 14)
    assert [p.id for p in twelve.providers] == ["demo-12-month"]
    fee = found["group/acme/progress-8-month/2023-11/review-fee@calfeed"]
    assert fee.event.start is None and fee.event.when == "Due upon receipt of invoice"


def test_an_accreditor_group_is_every_provider_of_the_accreditor_on_its_own_deadlines(data):
    (data / "providers.csv").write_text(
        (data / "providers.csv").read_text(encoding="utf-8")
        + "state-two,Second CMA provider,,yes,cma,\n", encoding="utf-8")
    set_groups(data, {})
    loaded = load(data)
    group = loaded.groups["cma"]
    assert group.members == ("demo-state", "state-two")
    schedule = groups.schedule(loaded, group, MARCH_2025)
    dated = [s for s in schedule.events if s.event.start is not None]
    # Data years 2023-2025: the rule's Friday, March 15, 2024 (estimated), the published
    # March 14, 2025, the rule's March 13, 2026; ACCME's March 31 is no CMA provider's.
    assert sorted({s.event.start for s in dated}) == [
        date(2024, 3, 15), date(2025, 3, 14), date(2026, 3, 13)]
    agreement = by_uid(schedule)["group/cma/annual-reporting/2024/annual-agreement/cma@calfeed"]
    assert wording.title(agreement.event) == (
        "Demo Hospital (accredited by the California Medical Association) and Second CMA "
        "provider: Accept the terms of the ACCME annual agreement — California Medical "
        "Association deadline")
    estimate = by_uid(schedule)["group/cma/annual-reporting/2025/annual-agreement/cma@calfeed"]
    assert estimate.event.status == "estimated"
    assert estimate.event.caveats == ("estimated",)


def test_uids_stay_when_providers_leave_and_join(data):
    set_groups(data)
    before = by_uid(groups.schedule(load(data), load(data).groups["acme"], MARCH_2025))
    set_members(data, {"demo-8-month": "acme", "demo-12-month": "acme", "demo-state": "acme"})
    loaded = load(data)
    after = by_uid(groups.schedule(loaded, loaded.groups["acme"], MARCH_2025))
    assert set(after) <= set(before)
    agreement = "group/acme/annual-reporting/2024/annual-agreement@calfeed"
    assert [p.id for p in after[agreement].providers] == ["demo-8-month", "demo-12-month"]
    assert after[agreement].event.start == before[agreement].event.start
    # The one step only demo-annual and demo-12-month have stays, for demo-12-month alone.
    learners = "group/acme/annual-reporting/2024/enduring-learner-counts@calfeed"
    assert [p.id for p in after[learners].providers] == ["demo-12-month"]
    # demo-state leaves: its CMA events go; nothing else changes its UID.
    set_members(data, {"demo-8-month": "acme", "demo-12-month": "acme"})
    loaded = load(data)
    fewer = by_uid(groups.schedule(loaded, loaded.groups["acme"], MARCH_2025))
    assert not [uid for uid in fewer if uid.endswith("/cma@calfeed")]
    assert set(fewer) <= set(after)
    # Everyone back: the very same UIDs as at first.
    set_members(data, {p: "acme" for p in DEMO})
    loaded = load(data)
    assert set(by_uid(groups.schedule(loaded, loaded.groups["acme"], MARCH_2025))) == set(before)


def test_a_provider_in_two_groups_is_in_both_calendars_under_each_groups_uids(data):
    set_groups(data)
    loaded = load(data)
    acme = by_uid(groups.schedule(loaded, loaded.groups["acme"], MARCH_2025))
    cma = by_uid(groups.schedule(loaded, loaded.groups["cma"], MARCH_2025))
    ours = "annual-reporting/2024/annual-agreement/cma@calfeed"
    assert acme[f"group/acme/{ours}"].event.start == cma[f"group/cma/{ours}"].event.start \
        == date(2025, 3, 14)
    assert not set(acme) & set(cma)
    # The provider's own calendar does not change with its groups.
    alone = engine.schedule(loaded, loaded.providers["demo-state"], MARCH_2025)
    assert "demo-state/annual-reporting/2024/annual-agreement@calfeed" in {e.uid for e in alone}


def test_no_group_uid_is_any_other_calendars(data):
    set_groups(data)
    loaded = load(data)
    others = {e.uid for p in loaded.providers.values()
              for e in engine.schedule(loaded, p, MARCH_2025)}
    others |= {e.uid for t in loaded.tracks
               for e in engine.schedule(loaded, calendars.track(loaded, t).profile, MARCH_2025)}
    mine = set()
    for group in loaded.groups.values():
        for shared in groups.schedule(loaded, group, MARCH_2025).events:
            uid = shared.event.uid
            assert uid.startswith(f"group/{group.id}/") and uid.endswith("@calfeed")
            # Five or six segments where every other UID has four: no id can forge one.
            assert uid.count("/") in (4, 5)
            mine.add(uid)
    assert all(uid.count("/") == 3 for uid in others)
    assert not mine & others


def test_a_provider_leaving_keeps_its_own_feed_byte_for_byte(data, tmp_path):
    set_groups(data)
    app = make_app(tmp_path, data)
    client = app.test_client()
    with app.app_context():
        loaded = web.snapshot(app).rules
        path = calendars.provider_of(web.state(app).secret, loaded.providers["demo-annual"]).feed()
    before = client.get(path).data
    set_members(data, {"demo-8-month": "acme"})
    assert client.get(path).data == before


# --- the feed, read back -----------------------------------------------------------------


def group_feeds(app) -> dict[str, bytes]:
    """Every group's feed and reminder calendars, by path."""
    client = app.test_client()
    with app.app_context():
        loaded = web.snapshot(app).rules
        subjects = [calendars.group_of(web.state(app).secret, g) for g in loaded.groups.values()]
    paths = [s.feed() for s in subjects] + [s.feed(remind=c) for s in subjects
                                            for c in ("1w", "2w2d", "1m1w1d")]
    answers = {p: client.get(p) for p in paths}
    assert {p: a.status_code for p, a in answers.items()} == dict.fromkeys(paths, 200)
    return {p: a.data for p, a in answers.items()}


def test_every_group_feed_reads_back_the_same_in_three_parsers(data, tmp_path):
    set_groups(data)
    app = make_app(tmp_path, data, CALFEED_TODAY="2025-03-01")
    feeds = group_feeds(app)
    loaded = load(data)
    expected = {}
    for group in loaded.groups.values():
        for s in groups.schedule(loaded, group, MARCH_2025).events:
            if s.event.precision == "time":
                expected[s.event.uid] = s.event.start.astimezone(ZoneInfo("UTC"))
    thirds = by_icaljs(list(feeds.values()))
    for (path, feed), js in zip(feeds.items(), thirds):
        group = "acme" if by_vobject(feed) and next(iter(by_vobject(feed))).startswith(
            "group/acme/") else "cma"
        mine = {uid: at for uid, at in expected.items() if uid.startswith(f"group/{group}/")}
        assert by_vobject(feed) == by_ical(feed) == js == mine, path
    acme = next(f for p, f in feeds.items() if b"group/acme/" in f and "remind" not in p)
    events = {e.uid.value: e for e in vobject.readOne(acme.decode()).vevent_list}
    agreement = events["group/acme/annual-reporting/2024/annual-agreement@calfeed"]
    assert agreement.summary.value == (
        "Demo Health System (8-month progress report), Demo Medical Society (12-month progress "
        "report) and Demo Institute (annual reporting only): Accept the terms of the ACCME "
        "annual agreement — due 11:59 p.m. CT")
    assert agreement.status.value == "CONFIRMED"
    assert "For the 3 providers accredited by ACCME: Demo Health System" in agreement.description.value
    estimate = IcsCalendarStream.calendar_from_ics(acme.decode())
    tentative = {e.uid for e in estimate.events if str(e.status).endswith("TENTATIVE")}
    assert "group/acme/annual-reporting/2025/annual-agreement/cma@calfeed" in tentative
    assert "group/acme/annual-reporting/2024/annual-agreement/cma@calfeed" not in tentative
    calendar = vobject.readOne(acme.decode())
    assert calendar.x_wr_calname.value == "Acme CME Consulting — ACCME deadlines"


def test_reminder_calendars_of_a_group_ring_before_its_providers_steps_only(data, tmp_path):
    set_groups(data)
    app = make_app(tmp_path, data, CALFEED_TODAY="2025-03-01")
    feeds = group_feeds(app)
    path = next(p for p, f in feeds.items() if p.endswith("remind-1w.ics") and b"group/acme/" in f)
    parsed = vobject.readOne(feeds[path].decode())
    alarms = {e.uid.value: [a.trigger.value for a in e.contents.get("valarm", [])]
              for e in parsed.vevent_list}
    # A week before the CMA's Friday, March 14, 2025: 9:00 a.m. on Friday, March 7, 158
    # hours before the day's midnight (the clocks sprang forward on March 9); before
    # ACCME's 11:59 p.m. CT on Monday, March 31: 9:00 a.m. CT on Monday, March 24.
    state = "group/acme/annual-reporting/2024/annual-agreement/cma@calfeed"
    assert alarms[state] == [-timedelta(hours=158)]
    accme = "group/acme/annual-reporting/2024/annual-agreement@calfeed"
    assert alarms[accme] == [-timedelta(hours=182, minutes=59)]
    # ACCME's own steps (its decisions) ring for nobody.
    assert not any(alarms[uid] for uid in alarms if uid.endswith("/decision@calfeed"))


def test_a_group_event_of_a_published_date_that_moved_keeps_its_history(tmp_path):
    # tests/fixtures/extension-2019.toml: data year 2019 extended from March 31 to April 30,
    # 2020 (published-dates.md).
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURES / "extension-2019.toml", data / "rules.toml")
    roster = data / "providers.csv"
    roster.write_text("id,name,groups\nnorth,North Clinic,pair\nsouth,South Clinic,pair\n",
                      encoding="utf-8")
    (data / "groups.csv").write_text("id,name\npair,Two clinics\n", encoding="utf-8")
    loaded = rules.load(data / "rules.toml", roster, today=date(2020, 3, 30),
                        groups_path=data / "groups.csv")
    schedule = groups.schedule(loaded, loaded.groups["pair"], date(2020, 3, 30))
    moved = by_uid(schedule)["group/pair/annual-reporting/2019/annual-agreement@calfeed"]
    assert moved.event.start == datetime(2020, 4, 30, 23, 59, tzinfo=CHICAGO)
    assert len(moved.event.changes) == 1 and moved.event.sequence == engine.SEQUENCE_FLOOR + 2
    feed = ical.render(schedule.feed(), groups.calendar(loaded, schedule)).decode()
    event = next(e for e in vobject.readOne(feed).vevent_list
                 if e.uid.value == moved.event.uid)
    assert event.description.value.startswith(
        "Moved: was Tuesday, March 31, 2020; announced March 2020. Extended because of the "
        "COVID-19 public health emergency.")
    assert event.sequence.value == str(engine.SEQUENCE_FLOOR + 2)


# --- never a traceback ---------------------------------------------------------------------


@st.composite
def groups_files(draw) -> tuple[bytes, dict[str, str]]:
    """A damaged groups file, and roster cells naming groups, known or not."""
    text = GROUPS_CSV
    rows = [line.split(",") for line in text.splitlines()]
    for _ in range(draw(st.integers(0, 3))):
        row = draw(st.integers(0, len(rows) - 1))
        rows[row][draw(st.integers(0, len(rows[row]) - 1))] = draw(CELLS)
    data = "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = draw(mangled_bytes(data))
    names = st.sampled_from(["acme", "cma", "Acme", "acme;cma", "; ;", "nobody", "a b", ""])
    cells = {p: draw(st.one_of(names, CELLS)) for p in DEMO}
    return data, cells


@FUZZ
@given(files=groups_files())
def test_any_groups_file_loads_and_expands_or_says_where(tmp_path_factory, files):
    data = tmp_path_factory.mktemp("fuzz-groups")
    shutil.copy(ROOT / "rules.toml", data / "rules.toml")
    shutil.copy(ROOT / "providers.csv", data / "providers.csv")
    set_groups(data, files[1])
    (data / "groups.csv").write_bytes(files[0])
    try:
        loaded = rules.load(data / "rules.toml", today=MARCH_2025)
    except rules.RulesError as err:
        assert err.problems
        for problem in err.problems:
            assert PROBLEM.fullmatch(problem), problem
        return
    for group in loaded.groups.values():
        schedule = groups.schedule(loaded, group, MARCH_2025)
        ical.render(schedule.feed(), groups.calendar(loaded, schedule))


def test_a_step_only_its_provider_has_is_named_after_it(data, monkeypatch):
    # Today every difference between providers' steps is their accreditor's; a fact of a
    # provider's own (here: enduring materials, taken out of what providers share) makes
    # the step its own event, named after the provider, never under one UID with another.
    set_groups(data)
    loaded = load(data)
    monkeypatch.setattr(groups, "_plain", lambda p: groups.Profile(
        "", "", p.next_decision_date, False, None, p.tracks))
    schedule = groups.schedule(loaded, loaded.groups["acme"], MARCH_2025)
    found = by_uid(schedule)
    own = "group/acme/annual-reporting/2024/enduring-learner-counts/provider/demo-12-month@calfeed"
    assert [p.id for p in found[own].providers] == ["demo-12-month"]
    assert found[own].key == "enduring-learner-counts~demo-12-month"
    assert "group/acme/annual-reporting/2024/enduring-learner-counts@calfeed" not in found
    # The steps every ACCME provider shares are still one event.
    shared = found["group/acme/annual-reporting/2024/annual-agreement@calfeed"]
    assert [p.id for p in shared.providers] == ["demo-8-month", "demo-12-month", "demo-annual"]
