"""The one rule for an email address: what `calfeed check` accepts, the mail composer can send.

email-validator reads the address as RFC 5322 and 5321 do, with the rules its authors
keep up to date (no dot at either end of the part before the @ or two in a row, a
domain with a dot that mail can reach); calfeed adds that it is ASCII, as every SMTP
server takes it. No DNS is asked: an address is checked as written, the same on every
machine. The part before the @ is never shown in a message: those lines reach logs.
"""

from __future__ import annotations

from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

EXPECTED = "addresses like name@example.org, separated by ;"


@lru_cache(maxsize=65536)
def valid(address: str) -> bool:
    """Whether calfeed can send to an address, as written (a roster repeats a shared one)."""
    if not address.isascii():
        return False
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=False,
                       allow_quoted_local=False, allow_domain_literal=False)
    except EmailNotValidError:
        return False
    return True


def masked(address: str) -> str:
    """An address without its part before the @, for a message: '"…@example.org"'."""
    if "@" not in address:
        return 'no "@"'
    text = "…@" + address.rpartition("@")[2]
    return '"' + (text if len(text) <= 60 else text[:57] + "...") + '"'


def why_not(address: str) -> str:
    """Why an address is refused, in words that never show its part before the @."""
    local = address.rpartition("@")[0]
    if ".." in local:
        return "two dots in a row before the @"
    if local.startswith("."):
        return "a dot at the start"
    if local.endswith("."):
        return "a dot just before the @"
    return ""
