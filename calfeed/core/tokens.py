"""Private provider URLs: unguessable tokens made with the secret key, constant-time lookup.

A progress report means ACCME found noncompliance, so which providers have one is not
public (docs/design.md §6). A provider's pages live under `/p/<token>/`, where the token is an
HMAC of its id and rotation with the server's secret: stable across restarts, replaced
by raising the roster's `rotation`, and useless to anyone who does not hold the key.
A group's pages (`/g/<token>/`) have tokens of their own kind: a group and a provider
with the same id and rotation never share a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from calfeed.core.model import Group, Profile

# 160 bits: comfortably above the 128 the design asks for, and 32 base32 characters.
TOKEN_BYTES = 20
PREFIX_CHARS = 6

# sha256(token) -> (token, provider id): the lookup structure of one data load.
TokenIndex = Mapping[bytes, tuple[bytes, str]]


def token(secret: bytes, provider_id: str, rotation: int, kind: str = "provider") -> str:
    """A provider's (or group's) URL token: HMAC-SHA256 of kind, id and rotation, 160 bits,
    base32 lowercase."""
    # The separator keeps ("a1", 0) and ("a", 10) apart; ids cannot contain a newline.
    message = f"calfeed-{kind}\n{provider_id}\n{rotation}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def index(secret: bytes, providers: Iterable[Profile | Group],
          kind: str = "provider") -> TokenIndex:
    """Every provider's (or group's) current token, keyed by its sha256, built once per data load."""
    found: dict[bytes, tuple[bytes, str]] = {}
    for profile in providers:
        expected = token(secret, profile.id, profile.rotation, kind).encode("ascii")
        found[hashlib.sha256(expected).digest()] = (expected, profile.id)
    return MappingProxyType(found)


def find(tokens: TokenIndex, candidate: str) -> str | None:
    """The provider id a token belongs to, or None; no timing reveals how close a guess was."""
    # Looking up the hash, not the token, means a dictionary's early-exit string
    # comparison never runs on attacker-chosen text; compare_digest confirms the match.
    given = candidate.encode("utf-8", "replace")
    entry = tokens.get(hashlib.sha256(given).digest())
    if entry is None or not hmac.compare_digest(entry[0], given):
        return None
    return entry[1]


def prefix(candidate: str) -> str:
    """The start of a token, the most a log may show of one."""
    return candidate[:PREFIX_CHARS] + "..."
