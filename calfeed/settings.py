"""calfeed's settings: every CALFEED_* variable declared once, read once when a command or app starts.

`SETTINGS` is the table (name, parser, default, one line of help); `read` takes an
environment, refuses a CALFEED_* name it does not know (with the nearest known one) and
parses every value that is set, so that a misspelt or malformed setting stops calfeed at
start with one line instead of being ignored until the moment it matters. The README's
settings table is tested against this one.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import click

from calfeed.core import addresses, wording
from calfeed.core.dates import YEARS
from calfeed.notify import smtp
from calfeed.serve import secret

PREFIX = "CALFEED_"
# The send log of `calfeed notify`, in the instance folder unless CALFEED_STATE says.
STATE_FILE = "calfeed.sqlite3"
# Knobs of the test suite in the same namespace (README: Tests): not settings of
# calfeed, so they are neither read here nor refused.
TEST_VARIABLES = ("CALFEED_FUZZ_EXAMPLES", "CALFEED_LOAD_REQUESTS", "CALFEED_LOAD_SECONDS",
                  "CALFEED_REGENERATE")


class SettingsError(click.ClickException, ValueError):
    """A CALFEED_* variable calfeed does not know, or a value it cannot use: one line.

    A click error too, so that any command line meeting it (`calfeed …`, `flask --app
    calfeed …`, which creates the app) prints that line and exits 1, never a traceback.
    """


@dataclass(frozen=True)
class Setting:
    """One CALFEED_* variable: how its text is read, its value when unset, what it means."""

    name: str
    parse: Callable[[str], Any]  # text -> value; ValueError saying what is wrong
    default: Any  # the value when the variable is unset or empty
    help: str  # one line, for the README and the command line's --help
    shown_default: str  # the default in words, for the README
    option: str | None = None  # the command-line option that overrides it, if any
    metavar: str = "FILE"  # what the option takes, in its --help


def text(value: str) -> str:
    """Any non-empty text, as given."""
    return value


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


def base_url(value: str) -> str:
    """The site's public address, without a trailing slash."""
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"{value!r} is not an http(s) address (expected the site's public "
                         f"address, like https://deadlines.example.org)")
    return value.rstrip("/")


def seconds(value: str | float) -> float:
    """A number of seconds, zero or more (inf: never)."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number (expected seconds, like 1 or 0.5)") from None
    if math.isnan(number) or number < 0:
        raise ValueError(f"{value!r} is not a number of seconds (expected 0 or more)")
    return number


def secret_key(value: str) -> str:
    """A secret key long enough to make unguessable URLs."""
    if len(value) < secret.MIN_SECRET_CHARS:
        raise ValueError(f"{len(value)} characters is too short (expected at least "
                         f"{secret.MIN_SECRET_CHARS}, e.g. from `python -c 'import secrets; "
                         f"print(secrets.token_hex())'`)")
    return value


def yes_no(value: str) -> bool:
    """yes or no, in the words the builder and the roster take."""
    answer = wording.yes_no(value)
    if answer is None:
        raise ValueError(f"{value!r} is not yes or no (expected {wording.YES_NO_ACCEPTED})")
    return answer


def count(value: str) -> int:
    """A whole number, zero or more."""
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number (expected 0, 1, 2, …)") from None
    if number < 0:
        raise ValueError(f"{value!r} is below zero (expected 0, 1, 2, …)")
    return number


def sender(value: str) -> str:
    """The From of `calfeed notify`'s messages: an address, with a display name or without."""
    value = value.strip()
    if not addresses.valid(parseaddr(value)[1]):
        raise ValueError(f"{value!r} is not an address (expected the operator's address, like "
                         f"'calfeed reminders <deadlines@example.org>')")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting("CALFEED_RULES", text, None, "the rules file", "the bundled `rules.toml`", "--rules"),
    Setting("CALFEED_PROVIDERS", text, None, "the roster CSV",
            "the file `roster` in rules.toml names", "--providers"),
    Setting("CALFEED_GROUPS", text, None, "the groups CSV (see \"Groups\")",
            "the file `groups` in rules.toml names", "--groups"),
    Setting("CALFEED_TODAY", parse_today, None,
            "pin \"today\" (YYYY-MM-DD), for demos and tests", "the clock", "--today", "YYYY-MM-DD"),
    Setting("CALFEED_SECRET_KEY", secret_key, None,
            "the key of the private URLs (at least 16 characters); changing it changes every "
            "provider's URL",
            "generated once into Flask's instance folder (`instance/secret_key`)"),
    Setting("CALFEED_BASE_URL", base_url, None,
            "the site's public address, for absolute links (`https://deadlines.example.org`)",
            "the request's host; `calfeed notify` requires it", "--base-url", "URL"),
    Setting("CALFEED_RELOAD_INTERVAL", seconds, 1.0,
            "seconds between a server's checks of the data files for changes", "1"),
    Setting("CALFEED_SMTP_URL", smtp.parse_url, None,
            "`calfeed notify`'s mail server: `smtp://…`, `smtp+starttls://…` or `smtps://…` "
            "(see \"Email reminders\")", "required by `calfeed notify`"),
    Setting("CALFEED_MAIL_FROM", sender, None,
            "`calfeed notify`'s sender, where unsubscribe requests go",
            "required by `calfeed notify`"),
    Setting("CALFEED_STATE", text, None,
            "`calfeed notify`'s send log and the email sign-ups, an SQLite file",
            "`instance/calfeed.sqlite3`", "--state"),
    Setting("CALFEED_SIGNUP", yes_no, False,
            "`yes`: every calendar page offers email reminders, the server sends the "
            "confirmations, and every message links to its manage and one-click unsubscribe "
            "pages (needs `CALFEED_SMTP_URL`, `CALFEED_MAIL_FROM` and `CALFEED_BASE_URL`; see "
            "\"Email sign-up\")", "no"),
    Setting("CALFEED_TRUSTED_PROXIES", count, 0,
            "how many reverse proxies in front of the server add `X-Forwarded-For` (nginx "
            "in front: 1), so that sign-up limits count each client, not the proxy", "0"),
)
# What CALFEED_SIGNUP needs: the server sends confirmations and writes absolute links
# (never from the request's Host header, which a client chooses).
SIGNUP_NEEDS = ("CALFEED_SMTP_URL", "CALFEED_MAIL_FROM", "CALFEED_BASE_URL")
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}


def parse(setting: Setting, value: Any) -> Any:
    """A setting's value from its text (anything else is taken as already parsed); SettingsError."""
    if value is None or value == "":
        return setting.default
    if not isinstance(value, str):
        return value
    try:
        return setting.parse(value)
    except ValueError as err:
        reason = str(err)
        # Some parsers name the variable themselves (smtp.parse_url does, for notify).
        if not reason.startswith(setting.name):
            reason = f"{setting.name}: {reason}"
        raise SettingsError(reason) from None


def unknown(names: Mapping[str, Any]) -> None:
    """Refuse the first CALFEED_* name that is not a setting, with the nearest known name."""
    for name in sorted(names):
        if name.startswith(PREFIX) and name not in BY_NAME and name not in TEST_VARIABLES:
            # Compared without the prefix they all share, which would make any name "close".
            near = difflib.get_close_matches(name.removeprefix(PREFIX),
                                             [known.removeprefix(PREFIX) for known in BY_NAME],
                                             n=1, cutoff=0.6)
            hint = f"; did you mean {PREFIX}{near[0]}?" if near else ""
            raise SettingsError(f"{name}: calfeed has no such setting{hint} (expected one of: "
                                f"{', '.join(BY_NAME)})")


def read(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every setting's value from an environment (empty counts as unset); SettingsError, one line."""
    unknown(environ)
    values = {setting.name: parse(setting, environ.get(setting.name)) for setting in SETTINGS}
    together(values)
    return values


def together(values: Mapping[str, Any]) -> None:
    """Refuse settings that are each fine but cannot work together (sign-up without mail)."""
    if values.get("CALFEED_SIGNUP"):
        missing = [name for name in SIGNUP_NEEDS if not values.get(name)]
        if missing:
            raise SettingsError(f"CALFEED_SIGNUP: needs {', '.join(missing)} set too (expected "
                                f"the server's mail settings and public address, or "
                                f"CALFEED_SIGNUP=no)")


def resolve(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a mapping (an app's config) gives, each parsed; others are left out."""
    return {name: parse(BY_NAME[name], value) for name, value in config.items()
            if name in BY_NAME}


@dataclass(frozen=True)
class Mail:
    """How `calfeed notify` sends: the SMTP server, the sender, the site its links point to."""

    server: smtp.Server
    sender: str  # CALFEED_MAIL_FROM: "calfeed reminders <deadlines@example.org>"
    site: str  # CALFEED_BASE_URL, without a trailing slash


def mail(values: Mapping[str, Any], site: str | None) -> Mail:
    """The mail settings `calfeed notify` needs, all present; SettingsError naming what is missing."""
    server = values.get("CALFEED_SMTP_URL")
    if server is None:
        raise SettingsError(f"CALFEED_SMTP_URL is not set ({smtp.URL_EXPECTED})")
    from_ = values.get("CALFEED_MAIL_FROM")
    if from_ is None:
        raise SettingsError("CALFEED_MAIL_FROM is not set (expected the operator's address, "
                            "like 'calfeed reminders <deadlines@example.org>')")
    if not site:
        raise SettingsError("CALFEED_BASE_URL is not set (expected the site's public address, "
                            "like https://deadlines.example.org, for the links in each message)")
    return Mail(server, from_, site)


def state_path(value: str | None, instance_path: str) -> Path:
    """The send log: CALFEED_STATE (or --state), else instance/calfeed.sqlite3."""
    return Path(value) if value else Path(instance_path) / STATE_FILE
