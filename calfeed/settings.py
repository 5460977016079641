"""calfeed's settings: the CALFEED_* variables, and the one reading of a pinned "today"."""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from .rules import YEARS

# The settings the environment may give, read when an app is created.
NAMES = ("CALFEED_RULES", "CALFEED_PROVIDERS", "CALFEED_SECRET_KEY", "CALFEED_BASE_URL",
         "CALFEED_TODAY")
DEFAULT_RELOAD_INTERVAL = 1.0


def from_environment(default_rules: str) -> dict[str, Any]:
    """The CALFEED_* variables that are set (empty ones count as unset), with the bundled rules."""
    found: dict[str, Any] = {name: os.environ.get(name) or None for name in NAMES}
    found["CALFEED_RULES"] = found["CALFEED_RULES"] or default_rules
    return found


def parse_today(value: str | date | None) -> date | None:
    """A pinned today (YYYY-MM-DD) or None; ValueError with the reason for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{str(value)!r} is not a date (expected YYYY-MM-DD)") from None
    # A yearly track shows every data year up to two deadlines after today: a today in
    # year 9998 would ask for year 10000.
    if day.year not in YEARS:
        raise ValueError(f"{day.isoformat()!r} is out of range (expected a date in the years "
                         f"{YEARS[0]}-{YEARS[-1]})")
    return day


def today(value: str | date | None = None) -> date:
    """Today: the given value, else CALFEED_TODAY, else the clock; ValueError if pinned badly."""
    return parse_today(value or os.environ.get("CALFEED_TODAY")) or date.today()


def reload_interval(config: Any) -> float:
    """Seconds between checks of the data files (CALFEED_RELOAD_INTERVAL)."""
    return float(config.get("CALFEED_RELOAD_INTERVAL", DEFAULT_RELOAD_INTERVAL))
