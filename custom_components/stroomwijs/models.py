"""Runtime data that a loaded Stroomwijs config entry carries."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .engine.grid import GridConnection


@dataclass(slots=True)
class StroomwijsRuntimeData:
    """Engine objects of one household, stored in ``entry.runtime_data``."""

    grid: GridConnection


type StroomwijsConfigEntry = ConfigEntry[StroomwijsRuntimeData]
