"""calfeed's settings: the CALFEED_* variables, and the one reading of a pinned "today"."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from calfeed.notify import smtp
from calfeed.core import addresses
from calfeed.core.dates import YEARS

# The settings the environment may give, read when an app is created.
NAMES = ("CALFEED_RULES", "CALFEED_PROVIDERS", "CALFEED_SECRET_KEY", "CALFEED_BASE_URL",
         "CALFEED_TODAY")
DEFAULT_RELOAD_INTERVAL = 1.0
# The send log of `calfeed notify`, in the instance folder unless CALFEED_STATE says.
STATE_FILE = "calfeed.sqlite3"


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


@dataclass(frozen=True)
class Mail:
    """How `calfeed notify` sends: the SMTP server, the sender, the site its links point to."""

    server: smtp.Server
    sender: str  # CALFEED_MAIL_FROM: "ACCME deadlines <deadlines@example.org>"
    site: str  # CALFEED_BASE_URL, without a trailing slash


def mail(base_url: str | None) -> Mail:
    """CALFEED_SMTP_URL, CALFEED_MAIL_FROM and the base URL; ValueError naming what is wrong."""
    url = os.environ.get("CALFEED_SMTP_URL", "")
    if not url:
        raise ValueError(f"CALFEED_SMTP_URL is not set ({smtp.URL_EXPECTED})")
    server = smtp.parse_url(url)
    sender = os.environ.get("CALFEED_MAIL_FROM", "").strip()
    if not addresses.valid(parseaddr(sender)[1]):
        raise ValueError(f"CALFEED_MAIL_FROM: {sender!r} is not an address (expected the "
                         f"operator's address, like 'ACCME deadlines <deadlines@example.org>')")
    if not base_url or not base_url.startswith(("https://", "http://")):
        raise ValueError("CALFEED_BASE_URL is not set (expected the site's public address, like "
                         "https://deadlines.example.org, for the links in each message)")
    return Mail(server, sender, base_url.rstrip("/"))


def state_path(value: str | None, instance_path: str) -> Path:
    """The send log: CALFEED_STATE (or --state), else instance/calfeed.sqlite3."""
    return Path(value) if value else Path(instance_path) / STATE_FILE
