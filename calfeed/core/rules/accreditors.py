"""`[accreditors.ID]`: a Recognized Accreditor, its published deadlines and its usual rule."""

from __future__ import annotations

from typing import Any

from calfeed.core.model import Accreditor, AccreditorRule
from calfeed.core.rules.history import split_years, years
from calfeed.core.rules.report import Report
from calfeed.core.rules.schema import Key, Read, Table, Type, keyed, read, table_of
from calfeed.core.rules.text import TEXT, WEB_ADDRESS
from calfeed.core.rules.values import WEEKDAY, plain_date, safe_id, whole


def _rule(report: Report, where: str, found: Read) -> AccreditorRule | None:
    """An [accreditors.ID.rule] table as an AccreditorRule."""
    return AccreditorRule(found["days_before"], found["weekday"]) if found.ok else None


RULE = Table("[accreditors.ID.rule]", (
    Key("days_before", Type("integer 0-180", whole(
        0, 180, "a whole number of days before ACCME's deadline, such as 12", "{} days",
        "0 to 180 days before ACCME's deadline")),
        "days before ACCME's deadline", required=True, example="`12`"),
    Key("weekday", WEEKDAY, "moved back to this weekday", required=True, example='`"friday"`'),
))

ACCREDITOR = Table("[accreditors.ID]", (
    Key("name", TEXT, "the accreditor's name", required=True,
        example='`"California Medical Association"`'),
    Key("url", WEB_ADDRESS, "its page for providers; shown on the provider's page and in each "
        "deadline's description", example='`"https://www.cmadocs.org/cme/accreditation/eligibility"`'),
    Key("deadlines", Type("table of year = date, or year = `{ date, changes }`",
                          years(plain_date, "date")),
        "its own, earlier annual-reporting deadline per data year (published; these win); one "
        "that moved keeps its history in the long form (below)", example="`2024 = 2025-03-14`"),
    Key("rule", Type("table", table_of(RULE, _rule)),
        "its usual deadline, for the data years it has not published (below)"),
))


def accreditor(report: Report, where: str, ident: str, value: Any) -> Accreditor | None:
    """One [accreditors.ID] table."""
    if safe_id(report, where, ident) is None:
        return None
    found = read(report, where, value, ACCREDITOR)
    if found is None or not found.ok:
        return None
    deadlines, history = split_years(found["deadlines"])
    return Accreditor(ident, found["name"], found["url"], deadlines, history, found["rule"])


ACCREDITORS = Type("tables", keyed(accreditor, "a table of [accreditors.ID] tables"))
