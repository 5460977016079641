"""Private provider URLs: unguessable tokens, the secret behind them, constant-time lookup.

A progress report means ACCME found noncompliance, so which providers have one is not
public (DESIGN §6). A provider's pages live under `/p/<token>/`, where the token is an
HMAC of its id and rotation with the server's secret: stable across restarts, replaced
by raising the roster's `rotation`, and useless to anyone who does not hold the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from .model import Profile

# 160 bits: comfortably above the 128 the design asks for, and 32 base32 characters.
TOKEN_BYTES = 20
SECRET_FILE = "secret_key"
# Generated keys: 256 bits, stored as hex text so an operator can copy one into
# CALFEED_SECRET_KEY to move it to another machine.
SECRET_BYTES = 32
MIN_SECRET_CHARS = 16
PREFIX_CHARS = 6

# sha256(token) -> (token, provider id): the lookup structure of one data load.
TokenIndex = Mapping[bytes, tuple[bytes, str]]


class SecretError(Exception):
    """The secret key is unusable (too short, unreadable); the message says what to do."""


def token(secret: bytes, provider_id: str, rotation: int) -> str:
    """A provider's URL token: HMAC-SHA256 of id and rotation, 160 bits, base32 lowercase."""
    # The separator keeps ("a1", 0) and ("a", 10) apart; ids cannot contain a newline.
    message = f"calfeed-provider\n{provider_id}\n{rotation}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def index(secret: bytes, providers: Iterable[Profile]) -> TokenIndex:
    """Every provider's current token, keyed by its sha256, built once per data load."""
    found: dict[bytes, tuple[bytes, str]] = {}
    for profile in providers:
        expected = token(secret, profile.id, profile.rotation).encode("ascii")
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


def secret_key(configured: str | None, folder: str | Path) -> bytes:
    """The HMAC key: CALFEED_SECRET_KEY if set, else instance/secret_key, made once."""
    if configured:
        if len(configured) < MIN_SECRET_CHARS:
            raise SecretError(f"CALFEED_SECRET_KEY: {len(configured)} characters is too short "
                              f"(expected at least {MIN_SECRET_CHARS}, e.g. from "
                              f"`python -c 'import secrets; print(secrets.token_hex())'`)")
        return configured.encode("utf-8")
    path = Path(folder) / SECRET_FILE
    if not path.exists():
        try:
            _create(path)
        except OSError as err:
            raise SecretError(f"{path}: cannot write a new secret key: {err.strerror or err} "
                              f"(expected a writable instance folder, or CALFEED_SECRET_KEY "
                              f"set)") from None
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise SecretError(f"{path}: cannot read the secret key: {err} "
                          f"(expected the hex key calfeed wrote there)") from None
    if len(text) < MIN_SECRET_CHARS:
        raise SecretError(f"{path}: {len(text)} characters is too short for a secret key "
                          f"(expected at least {MIN_SECRET_CHARS}; delete the file to make a new "
                          f"one, which changes every provider's URL)")
    return text.encode("ascii")


def _create(path: Path) -> None:
    """Write a new random key, readable by the owner only, without racing other workers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked into place: two gunicorn
    # workers starting at once both try, one wins, and neither reads half a key.
    temporary = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(SECRET_BYTES) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker was first: use its key
    finally:
        temporary.unlink(missing_ok=True)
