"""The secret key behind the private URLs: CALFEED_SECRET_KEY, or a file made once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = "secret_key"
# Generated keys: 256 bits, stored as hex text so an operator can copy one into
# CALFEED_SECRET_KEY to move it to another machine.
SECRET_BYTES = 32
MIN_SECRET_CHARS = 16


class SecretError(Exception):
    """The secret key is unusable (too short, unreadable); the message says what to do."""


def key(configured: str | None, folder: str | Path) -> bytes:
    """The HMAC key: CALFEED_SECRET_KEY if set (its length checked by settings), else
    instance/secret_key, made once."""
    if configured:
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
