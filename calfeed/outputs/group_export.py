"""The JSON and CSV twins of a group's feed: its events, and on every row the providers.

The JSON keeps the feed's events (one per step and moment, the feed's UIDs, so a program
matches them with the .ics) and names on each the providers it is due for; before them,
one entry per provider, as the page's overview has it. The CSV is for a spreadsheet,
filtered by provider: one row per step and provider, the provider's name first.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from calfeed.core import wording
from calfeed.core.groups import Member, Schedule
from calfeed.core.model import Calendar
from calfeed.outputs.export import (
    CSV_COLUMNS,
    _cell,
    _iso,
    calendar_dict,
    csv_row,
    event_dict,
    people_order,
)

GROUP_CSV_COLUMNS = ("Provider", "Accredited by") + CSV_COLUMNS


def member_dict(member: Member, page: str | None, accreditor: str | None) -> dict[str, Any]:
    """One provider of the group, as the overview shows it."""
    profile = member.profile
    following = member.next
    return {
        "name": profile.name, "page": page,
        "accreditor": profile.accreditor, "accreditor_name": accreditor,
        "next_decision_date": (profile.next_decision_date.isoformat()
                               if profile.next_decision_date else None),
        # Its next step, as its own feed's JSON words it.
        "next": None if following is None else {
            "title": wording.title(following), "start": _iso(following.start),
            "precision": following.precision, "status": following.status,
            "track": following.track, "cycle": following.cycle,
            "milestone": following.milestone},
        "upcoming": member.upcoming, "estimated": member.estimated,
    }


def to_json(calendar: Calendar, schedule: Schedule, pages: Mapping[str, str],
            accreditors: Mapping[str, str]) -> str:
    """The JSON twin: {"calendar": {...}, "providers": [...], "events": [...]}.

    `pages` maps a provider id to its private page's URL, `accreditors` an accreditor id
    to its name. Each event is the feed's, with `providers`: the names it is due for.
    """
    return json.dumps({
        "calendar": calendar_dict(calendar),
        "providers": [member_dict(m, pages.get(m.profile.id),
                                  accreditors.get(m.profile.accreditor or ""))
                      for m in schedule.members],
        "events": [{**event_dict(s.event), "step_title": wording.title(s.step),
                    "providers": [p.name for p in s.providers]}
                   for s in schedule.events],
    }, ensure_ascii=False, indent=2) + "\n"


def to_csv(schedule: Schedule, today: date, accreditors: Mapping[str, str]) -> str:
    """The CSV twin: one row per step and provider, in the order a coordinator acts on them."""
    out = io.StringIO()
    out.write("\ufeff")  # for Excel, as the provider's CSV
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(GROUP_CSV_COLUMNS)
    by_uid = {s.event.uid: s for s in schedule.events}
    for event in people_order(schedule.feed(), today):
        shared = by_uid[event.uid]
        # The step's own row (its title without the providers' names), with the feed's UID.
        row = {**csv_row(shared.step), "uid": shared.event.uid}
        for profile in shared.providers:
            cells = {"Provider": profile.name,
                     "Accredited by": accreditors.get(profile.accreditor or "", "ACCME"),
                     **row}
            writer.writerow([_cell(cells[c]) for c in GROUP_CSV_COLUMNS])
    return out.getvalue()
