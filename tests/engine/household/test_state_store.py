"""The JSON file state store: atomic, and never trusting what it reads.

A missing, corrupt, absurdly deep or oversized file is no state (logged),
never an exception; NaN is refused before anything is written; a write that
fails leaves the previous file whole and no temporary file behind.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from custom_components.stroomwijs.engine.household.state import (
    MAX_STATE_BYTES,
    JsonFileStateStore,
)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    """What is saved is loaded back; nothing but the file is left in the folder."""
    store = JsonFileStateStore(tmp_path / "state.json")
    assert await store.async_load() is None  # no file yet
    await store.async_save({"version": 1, "prices": [0.1, 0.2], "name": "thuis"})
    assert await store.async_load() == {
        "version": 1,
        "prices": [0.1, 0.2],
        "name": "thuis",
    }
    await store.async_save({"version": 1})
    assert await store.async_load() == {"version": 1}
    assert _names(tmp_path) == ["state.json"]


@pytest.mark.parametrize(
    "content",
    ['{"version": 1,', "[" * 100_000 + "]" * 100_000, "\udcff", ""],
)
async def test_an_unreadable_file_is_no_state(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Truncated, absurdly deep, not UTF-8 or empty: None and a warning."""
    path = tmp_path / "state.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    caplog.set_level(logging.WARNING)
    assert await JsonFileStateStore(path).async_load() is None
    assert "unreadable" in caplog.text


async def test_an_oversized_file_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state file over 20 MB is ignored (a runaway writer, not our state)."""
    path = tmp_path / "state.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_STATE_BYTES + 1)
    assert await JsonFileStateStore(path).async_load() is None
    assert "too large" in caplog.text


async def test_nan_is_refused_and_the_previous_state_kept(tmp_path: Path) -> None:
    """NaN cannot be saved (JSON has none); the file keeps the last good state."""
    store = JsonFileStateStore(tmp_path / "state.json")
    await store.async_save({"version": 1, "soc": 0.5})
    with pytest.raises(ValueError, match="Out of range float"):
        await store.async_save({"version": 1, "soc": math.nan})
    assert await store.async_load() == {"version": 1, "soc": 0.5}


async def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The rename failing (a folder where the file should be): raised, cleaned up."""
    path = tmp_path / "state.json"
    path.mkdir()
    (path / "keep").write_text("x", encoding="utf-8")
    store = JsonFileStateStore(path)
    with pytest.raises(OSError, match=r"state\.json"):
        await store.async_save({"version": 1})
    assert _names(tmp_path) == ["state.json"]
    assert (path / "keep").read_text(encoding="utf-8") == "x"
