"""Runtime data that a loaded Stroomwijs config entry carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .engine.grid import GridConnection
from .engine.meter.core import Meter

if TYPE_CHECKING:
    from .charger import ChargerHub
    from .coordinator import MeterCoordinator
    from .guard_glue import LimitsRuntime


@dataclass(slots=True)
class StroomwijsRuntimeData:
    """Engine objects of one household, stored in ``entry.runtime_data``."""

    grid: GridConnection
    meter: Meter | None = None
    """The household's grid meter; subscribe to it for every telegram."""
    meter_coordinator: MeterCoordinator | None = None
    """The throttled view of the meter that entities use."""
    chargers: ChargerHub | None = None
    """The household's EV chargers (OCPP central system, Quasars)."""
    limits: LimitsRuntime | None = None
    """DSO limit sources and the guard (see guard_glue.py)."""


type StroomwijsConfigEntry = ConfigEntry[StroomwijsRuntimeData]
