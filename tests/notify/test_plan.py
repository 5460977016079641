"""Planning email reminders (notify.plan): what is due on a day, from the rules and the send log.

Dates are ACCME's, from the seeds: the 8-month progress report's materials are due
April 3, 2024 (source 000), annual reporting for 2023 by April 1, 2024 at 11:59 p.m.
Central Time (source 001), for 2024 by March 31, 2025 (published-dates.md), and the
California Medical Association's own 2024 deadline is March 14, 2025.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from calfeed import bundled
from calfeed.notify import plan as notify
from calfeed.core import rules
from calfeed.notify.plan import Plan, Told

HEALTH = "cme-office@demo-health.example.org"  # demo-8-month
SHARED = "accreditation@shared-cme.example.com"  # demo-annual and demo-state
MATERIALS_8 = "demo-8-month/progress-8-month/2023-11/materials-due@calfeed"
AGREEMENT_8 = "demo-8-month/annual-reporting/2023/annual-agreement@calfeed"


class Log:
    """An in-memory send log that confirms every message of a plan, as a perfect run would."""

    def __init__(self) -> None:
        self.told: dict[tuple[str, str, str], Told] = {}
        self.reminded: set[tuple[str, str, str, str, int]] = set()

    def run(self, loaded, today: date) -> Plan:
        """Plan a day and record it all as sent."""
        plan = notify.plan(loaded, today, self.told, self.reminded)
        for record in plan.quiet:
            self.told[record.recipient, record.provider, record.uid] = Told(record.start,
                                                                           record.status)
        for message in plan.messages:
            for item in message.items:
                self.told[message.recipient, item.provider.id, item.event.uid] = Told(
                    item.start, item.event.status)
                if item.lead is not None:
                    self.reminded.add((message.recipient, item.provider.id, item.event.uid,
                                       item.start, item.lead))
        return plan


@pytest.fixture(scope="module")
def demo():
    return rules.load(bundled("rules.toml"))


def items(plan: Plan, recipient: str) -> list[tuple[str, str, int | None, str | None, int]]:
    """(uid, date key, lead, notice, days left) of a recipient's message."""
    found = [m for m in plan.messages if m.recipient == recipient]
    assert len(found) <= 1  # one message per recipient per run
    return [(i.event.uid, i.start, i.lead, i.notice, i.days_left)
            for m in found for i in m.items]


def edited(tmp_path: Path, old: str, new: str) -> rules.Rules:
    """The bundled rules with one edit, and the demo roster."""
    text = bundled("rules.toml").read_text()
    assert old in text
    path = tmp_path / "rules.toml"
    path.write_text(text.replace(old, new, 1))
    return rules.load(path, bundled("providers.csv"))


def test_the_lead_time_due_is_the_nearest_one_reached():
    leads = (30, 7, 1)
    assert [notify.due_lead(leads, d) for d in (31, 30, 12, 8, 7, 2, 1, 0, -1)] == [
        None, 30, 30, 30, 7, 7, 1, 1, None]


def test_first_run_reminds_30_days_before_and_tells_nothing_else(demo):
    plan = notify.plan(demo, date(2024, 3, 4), {}, set())
    # The four annual steps of demo-8-month (no enduring materials) are due April 1 at
    # 11:59 p.m. CT, 28 days away; the materials April 3, 30 days away.
    assert items(plan, HEALTH) == [
        (f"demo-8-month/annual-reporting/2023/{step}@calfeed",
         "2024-04-01T23:59:00-05:00[America/Chicago]", 30, None, 28)
        for step in ("annual-agreement", "enter-activities", "program-summary",
                     "contact-information")
    ] + [(MATERIALS_8, "2024-04-03", 30, None, 30)]
    # Every date demo-8-month shows, past and ACCME's steps alike, is recorded as known.
    quiet = {r.uid: r.start for r in plan.quiet if r.recipient == HEALTH}
    assert quiet["demo-8-month/progress-8-month/2023-11/enter-activity-data@calfeed"] == "2024-01-24"
    assert quiet["demo-8-month/progress-8-month/2023-11/decision@calfeed"] == "2024-07"
    assert quiet[MATERIALS_8] == "2024-04-03"


def test_a_first_message_that_failed_is_sent_again_as_reminders(demo):
    log = Log()
    first = notify.plan(demo, date(2024, 3, 4), {}, set())
    for record in first.quiet:  # what a run writes before sending; then SMTP fails
        log.told[record.recipient, record.provider, record.uid] = Told(record.start,
                                                                       record.status)
    again = notify.plan(demo, date(2024, 3, 4), log.told, log.reminded)
    assert items(again, HEALTH) == items(first, HEALTH)
    assert {i[3] for i in items(again, HEALTH)} == {None}  # no "published" notices


def test_daily_runs_send_30_7_and_1_days_before_and_nothing_after(demo):
    log = Log()
    sent = {}
    for n in range(60):
        day = date(2024, 2, 15) + timedelta(days=n)
        for uid, _, lead, _, _ in items(log.run(demo, day), HEALTH):
            if uid == MATERIALS_8:
                sent[day.isoformat()] = lead
    assert sent == {"2024-03-04": 30, "2024-03-27": 7, "2024-04-02": 1}


def test_missed_days_send_the_nearest_reminder_only(demo):
    log = Log()
    log.run(demo, date(2024, 2, 1))  # the first run: 62 days before, nothing due
    # The timer then missed everything until 4 days before: the 7-day reminder, not the 30.
    assert (MATERIALS_8, "2024-04-03", 7, None, 4) in items(log.run(demo, date(2024, 3, 30)), HEALTH)
    assert MATERIALS_8 not in [i[0] for i in items(log.run(demo, date(2024, 4, 1)), HEALTH)]
    # Missed again until the day itself: the 1-day reminder, on the day.
    assert (MATERIALS_8, "2024-04-03", 1, None, 0) in items(log.run(demo, date(2024, 4, 3)), HEALTH)
    # And never after the deadline, whatever was missed.
    fresh = Log()
    fresh.run(demo, date(2024, 2, 1))
    assert MATERIALS_8 not in [i[0] for i in items(fresh.run(demo, date(2024, 4, 4)), HEALTH)]


def test_a_moved_date_is_one_notice_and_its_reminders_start_again(demo, tmp_path):
    log = Log()
    for day in (date(2024, 3, 4), date(2024, 3, 27)):
        log.run(demo, day)  # the 30- and 7-day reminders for April 3
    moved = edited(tmp_path, "materials-due = 2024-04-03,", "materials-due = 2024-04-17,")
    plan = log.run(moved, date(2024, 3, 28))
    (message,) = [m for m in plan.messages if m.recipient == HEALTH]
    (item,) = [i for i in message.items if i.event.uid == MATERIALS_8]
    # One item: the notice, which is also the reminder due for the new date (20 days: 30).
    assert (item.notice, item.was, item.start, item.lead, item.days_left) == (
        "moved", "2024-04-03", "2024-04-17", 30, 20)
    assert MATERIALS_8 not in [i[0] for i in items(log.run(moved, date(2024, 3, 29)), HEALTH)]
    assert (MATERIALS_8, "2024-04-17", 7, None, 7) in items(log.run(moved, date(2024, 4, 10)), HEALTH)


def test_a_published_estimate_and_a_new_date_are_notices(demo, tmp_path):
    log = Log()
    # Data year 2025 is estimated (March 31, 2026) once the 2024 deadline is in view.
    plan = log.run(demo, date(2025, 11, 2))
    assert plan.messages == ()
    published = edited(tmp_path, "2024 = 2025-03-31T23:59:00",
                       "2024 = 2025-03-31T23:59:00\n2025 = 2026-03-31T23:59:00")
    found = items(log.run(published, date(2025, 11, 3)), HEALTH)
    assert ("demo-8-month/annual-reporting/2025/annual-agreement@calfeed",
            "2026-03-31T23:59:00-05:00[America/Chicago]", None, "published", 148) in found
    assert len(found) == 4  # the four steps demo-8-month has, each once
    assert items(log.run(published, date(2025, 11, 4)), HEALTH) == []


def test_an_estimate_coming_into_view_is_no_news(demo):
    log = Log()
    log.run(demo, date(2024, 4, 1))
    plan = log.run(demo, date(2024, 4, 2))  # data year 2025 (estimated) appears
    # Only April 3's 1-day reminder: no notice for the new data year's steps.
    assert items(plan, HEALTH) == [(MATERIALS_8, "2024-04-03", 1, None, 1)]
    assert items(plan, SHARED) == []
    assert "demo-8-month/annual-reporting/2025/annual-agreement@calfeed" in {
        r.uid for r in plan.quiet}


def test_a_contact_on_two_providers_gets_one_message(demo):
    plan = notify.plan(demo, date(2025, 3, 1), {}, set())
    (message,) = [m for m in plan.messages if m.recipient == SHARED]
    assert message.label == "demo-annual#2, demo-state#1"
    assert "example" not in repr(message) and "example" not in repr(notify.plan(
        demo, date(2025, 3, 1), {}, set()).quiet[0])  # no address in anything that prints
    # The CMA's March 14 deadline for demo-state comes first, then ACCME's March 31 for
    # demo-annual (with the enduring-materials step: it offers them).
    assert [(i.provider.id, i.start, i.lead, i.days_left) for i in message.items] == (
        [("demo-state", "2025-03-14", 30, 13)] * 4
        + [("demo-annual", "2025-03-31T23:59:00-05:00[America/Chicago]", 30, 30)] * 5)


def test_no_address_is_no_message(demo, tmp_path):
    roster = tmp_path / "providers.csv"
    roster.write_text(bundled("providers.csv").read_text().replace(HEALTH, ""))
    loaded = rules.load(bundled("rules.toml"), roster)
    plan = notify.plan(loaded, date(2024, 3, 4), {}, set())
    assert HEALTH not in [m.recipient for m in plan.messages]
    assert "demo-8-month" not in {r.provider for r in plan.quiet}


def test_date_keys_word_back(demo):
    (event,) = [e for e in notify.engine.schedule(demo, demo.providers["demo-8-month"],
                                                   date(2024, 3, 4)) if e.uid == AGREEMENT_8]
    key = notify.date_key(event)
    assert key == "2024-04-01T23:59:00-05:00[America/Chicago]"
    assert notify.parse_key(key) == (event.start, "time")
    assert str(notify.parse_key(key)[0].tzinfo) == "America/Chicago"
    assert notify.parse_key("2024-07") == (date(2024, 7, 1), "month")


def test_a_provider_step_known_only_to_its_month_is_reminded_towards_its_first_day(tmp_path):
    # As if ACCME had published only the month of the 8-month materials deadline: April
    # 2024. It may be due on April 1, so every reminder counts to April 1.
    loaded = edited(tmp_path, "materials-due = 2024-04-03", 'materials-due = "2024-04"')
    log = Log()
    log.run(loaded, date(2024, 2, 1))  # the first run meets the recipient quietly
    materials = [(day, items(log.run(loaded, day), HEALTH)) for day in
                 (date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 25), date(2024, 3, 31),
                  date(2024, 4, 1), date(2024, 4, 2))]
    assert [(day.isoformat(), [i for i in found if i[0] == MATERIALS_8]) for day, found in materials] == [
        ("2024-03-01", []),  # 31 days before April 1
        ("2024-03-02", [(MATERIALS_8, "2024-04", 30, None, 30)]),
        ("2024-03-25", [(MATERIALS_8, "2024-04", 7, None, 7)]),
        ("2024-03-31", [(MATERIALS_8, "2024-04", 1, None, 1)]),
        ("2024-04-01", []),  # the month has begun: no reminder after its first day
        ("2024-04-02", []),
    ]


def test_a_month_steps_reminder_says_when_the_month_starts(tmp_path):
    from calfeed.notify import mail

    loaded = edited(tmp_path, "materials-due = 2024-04-03", 'materials-due = "2024-04"')
    log = Log()
    log.run(loaded, date(2024, 2, 1))
    (message,) = [m for m in log.run(loaded, date(2024, 3, 25)).messages if m.recipient == HEALTH]
    assert mail.subject(message) == ("Due during April 2024, which starts in 7 days: Progress "
                                     "Report Materials Submission Deadline (and 4 more steps)")
    assert mail.headline(message.items[0]) == ("Due during April 2024, which starts in 7 days "
                                               "(no exact day published)")
