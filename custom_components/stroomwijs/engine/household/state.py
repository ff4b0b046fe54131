"""Where a household keeps what must survive a restart.

A host gives the household a :class:`StateStore`. Home Assistant wraps its
``Store`` helper; the add-on gateway and the command line use
:class:`JsonFileStateStore`, which writes atomically (a temporary file in the
same folder, flushed and synced, then renamed), so a crash mid-write leaves
the previous state whole. Tests and the simulator use
:class:`MemoryStateStore`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
import tempfile
from typing import Any, Final, Protocol

_LOGGER = logging.getLogger(__name__)

STATE_VERSION: Final = 1
MAX_STATE_BYTES: Final = 20_000_000


class StateStore(Protocol):
    """Loads and saves one household's state (a JSON-safe mapping)."""

    async def async_load(self) -> object:
        """Return what was saved last, or None."""

    async def async_save(self, data: dict[str, Any]) -> None:
        """Save ``data`` (it replaces what was there)."""


class MemoryStateStore:
    """A state store in memory (tests, simulations)."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        """Start with ``data`` (as if it had been saved before)."""
        self.data = data
        self.saves = 0

    async def async_load(self) -> object:
        """Return a copy of what was saved."""
        return None if self.data is None else json.loads(json.dumps(self.data))

    async def async_save(self, data: dict[str, Any]) -> None:
        """Keep a copy (as JSON would)."""
        self.data = json.loads(json.dumps(data, allow_nan=False))
        self.saves += 1


class JsonFileStateStore:
    """A state store in one JSON file, written atomically."""

    def __init__(self, path: Path) -> None:
        """Use ``path``; its folder must exist."""
        self.path = path

    def _read(self) -> object:
        try:
            if self.path.stat().st_size > MAX_STATE_BYTES:
                _LOGGER.warning("State file %s is too large; ignored", self.path)
                return None
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as err:
            _LOGGER.warning("State file %s is unreadable (%s); ignored", self.path, err)
            return None

    def _write(self, text: str) -> None:
        folder = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def async_load(self) -> object:
        """Read the file (None when it is missing or unreadable)."""
        return await asyncio.to_thread(self._read)

    async def async_save(self, data: dict[str, Any]) -> None:
        """Write the file atomically."""
        text = json.dumps(data, allow_nan=False, separators=(",", ":"))
        await asyncio.to_thread(self._write, text)
