"""The bundled demo providers' events keep their UIDs and dates.

A subscribed calendar matches events by UID: if a change to how rules.toml is
written gave an event a new UID, or moved it, subscribers would see it twice or
at a new date. The pairs below were taken from `calfeed events PROVIDER --json
--today 2026-11-27` before progress reports became cohorts.
"""

from __future__ import annotations

from datetime import date

import pytest

from calfeed.core import engine

TODAY = date(2026, 11, 27)

DEMO_EVENTS = {
    "demo-8-month": [
        ("demo-8-month/progress-8-month/2023-11/enter-activity-data@calfeed", "2024-01-24"),
        ("demo-8-month/progress-8-month/2023-11/activities-selected@calfeed", "2024-02-07"),
        ("demo-8-month/progress-8-month/2023-11/materials-available@calfeed", "2024-02-21"),
        ("demo-8-month/annual-reporting/2023/annual-agreement@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2023/enter-activities@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2023/program-summary@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2023/contact-information@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-8-month/progress-8-month/2023-11/materials-due@calfeed", "2024-04-03"),
        ("demo-8-month/progress-8-month/2023-11/decision@calfeed", "2024-07-01"),
        ("demo-8-month/annual-reporting/2024/annual-agreement@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2024/enter-activities@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2024/program-summary@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2024/contact-information@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2025/annual-agreement@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2025/enter-activities@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2025/program-summary@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2025/contact-information@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2026/annual-agreement@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2026/enter-activities@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2026/program-summary@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2026/contact-information@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2027/annual-agreement@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2027/enter-activities@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2027/program-summary@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-8-month/annual-reporting/2027/contact-information@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-8-month/progress-8-month/2023-11/review-fee@calfeed", None),
    ],
    "demo-12-month": [
        ("demo-12-month/annual-reporting/2023/annual-agreement@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2023/enter-activities@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2023/enduring-learner-counts@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2023/program-summary@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2023/contact-information@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-12-month/progress-12-month/2023-11/enter-activity-data@calfeed", "2024-05-08"),
        ("demo-12-month/progress-12-month/2023-11/activities-selected@calfeed", "2024-05-22"),
        ("demo-12-month/progress-12-month/2023-11/materials-available@calfeed", "2024-06-05"),
        ("demo-12-month/progress-12-month/2023-11/materials-due@calfeed", "2024-08-14"),
        ("demo-12-month/progress-12-month/2023-11/decision@calfeed", "2024-11-01"),
        ("demo-12-month/annual-reporting/2024/annual-agreement@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2024/enter-activities@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2024/enduring-learner-counts@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2024/program-summary@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2024/contact-information@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2025/annual-agreement@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2025/enter-activities@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2025/enduring-learner-counts@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2025/program-summary@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2025/contact-information@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2026/annual-agreement@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2026/enter-activities@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2026/enduring-learner-counts@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2026/program-summary@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2026/contact-information@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2027/annual-agreement@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2027/enter-activities@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2027/enduring-learner-counts@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2027/program-summary@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-12-month/annual-reporting/2027/contact-information@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-12-month/progress-12-month/2023-11/review-fee@calfeed", None),
    ],
    "demo-annual": [
        ("demo-annual/annual-reporting/2023/annual-agreement@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2023/enter-activities@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2023/enduring-learner-counts@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2023/program-summary@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2023/contact-information@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2024/annual-agreement@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2024/enter-activities@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2024/enduring-learner-counts@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2024/program-summary@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2024/contact-information@calfeed", "2025-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2025/annual-agreement@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2025/enter-activities@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2025/enduring-learner-counts@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2025/program-summary@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2025/contact-information@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2026/annual-agreement@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2026/enter-activities@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2026/enduring-learner-counts@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2026/program-summary@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2026/contact-information@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2027/annual-agreement@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2027/enter-activities@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2027/enduring-learner-counts@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2027/program-summary@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-annual/annual-reporting/2027/contact-information@calfeed", "2028-03-31T23:59:00-05:00"),
    ],
    "demo-state": [
        ("demo-state/annual-reporting/2023/annual-agreement@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-state/annual-reporting/2023/enter-activities@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-state/annual-reporting/2023/program-summary@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-state/annual-reporting/2023/contact-information@calfeed", "2024-04-01T23:59:00-05:00"),
        ("demo-state/annual-reporting/2024/annual-agreement@calfeed", "2025-03-14"),
        ("demo-state/annual-reporting/2024/enter-activities@calfeed", "2025-03-14"),
        ("demo-state/annual-reporting/2024/program-summary@calfeed", "2025-03-14"),
        ("demo-state/annual-reporting/2024/contact-information@calfeed", "2025-03-14"),
        ("demo-state/annual-reporting/2025/annual-agreement@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2025/enter-activities@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2025/program-summary@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2025/contact-information@calfeed", "2026-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2026/annual-agreement@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2026/enter-activities@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2026/program-summary@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2026/contact-information@calfeed", "2027-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2027/annual-agreement@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2027/enter-activities@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2027/program-summary@calfeed", "2028-03-31T23:59:00-05:00"),
        ("demo-state/annual-reporting/2027/contact-information@calfeed", "2028-03-31T23:59:00-05:00"),
    ],
}


# The one move made on purpose: the demo-state provider's accreditor, the
# California Medical Association, has no published deadline for these data years,
# and its rule (the Friday on or before ACCME's deadline minus 12 days) now gives
# them, two weeks before the ACCME date main showed. Same UIDs, earlier dates.
CMA_ESTIMATES = {"2023": "2024-03-15", "2025": "2026-03-13", "2026": "2027-03-19",
                 "2027": "2028-03-17"}


def expected(provider: str) -> list[tuple[str, str | None]]:
    """Main's pairs, with the intended CMA moves for demo-state."""
    if provider != "demo-state":
        return DEMO_EVENTS[provider]
    return [(uid, CMA_ESTIMATES.get(uid.split("/")[2], start)) for uid, start in DEMO_EVENTS[provider]]


@pytest.mark.parametrize("provider", sorted(DEMO_EVENTS))
def test_demo_provider_keeps_every_uid_and_date(loaded, provider):
    events = engine.schedule(loaded, loaded.providers[provider], TODAY)
    got = [(e.uid, e.start.isoformat() if e.start else None) for e in events]
    assert got == expected(provider)
