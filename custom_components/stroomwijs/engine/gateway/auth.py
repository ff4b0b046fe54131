"""The API token: made at first start, kept 0600, compared in constant time."""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path
import secrets
import stat
from typing import Final

_LOGGER = logging.getLogger(__name__)

TOKEN_BYTES: Final = 32
MIN_TOKEN_LENGTH: Final = 32
"""A token file holding less than this is refused (not silently accepted)."""
MAX_TOKEN_LENGTH: Final = 512
TOKEN_FILE: Final = "api_token"  # noqa: S105 - a file name


class TokenError(Exception):
    """The token file cannot be used."""


def load_or_create_token(path: Path) -> str:
    """Return the token in ``path``, making one (0600) when there is none.

    A token file that others may read is tightened to 0600; one that holds
    no usable token is an error (the gateway will not run with a weak one).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(token + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    _LOGGER.info("Made a new API token in %s", path)
    return token


def _read_token(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _LOGGER.warning("API token file %s was readable by others; now 0600", path)
        path.chmod(0o600)
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as err:
        msg = f"{path}: cannot read the API token ({err})"
        raise TokenError(msg) from None
    if not MIN_TOKEN_LENGTH <= len(text) <= MAX_TOKEN_LENGTH or not text.isprintable():
        msg = (
            f"{path}: not a usable API token (it needs {MIN_TOKEN_LENGTH} to "
            f"{MAX_TOKEN_LENGTH} printable characters); delete it to make a new one"
        )
        raise TokenError(msg)
    return text


def token_matches(expected: str, presented: str | None) -> bool:
    """Compare a presented token with the expected one in constant time."""
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def bearer(header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
