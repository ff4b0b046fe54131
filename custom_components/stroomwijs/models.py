"""Runtime data that a loaded Stroomwijs config entry carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .engine.grid import GridConnection
from .engine.household import Household
from .engine.meter.core import Meter

if TYPE_CHECKING:
    from .charger import ChargerHub
    from .coordinator import MeterCoordinator
    from .guard_glue import LimitsRuntime


@dataclass(slots=True)
class StroomwijsRuntimeData:
    """The household of one entry, and the views its entities use."""

    household: Household
    """The engine's household: meter, limits, guard, chargers and planner."""
    grid: GridConnection
    limits: LimitsRuntime
    """The limit sources and the guard, as entities see them."""
    chargers: ChargerHub
    """The household's EV chargers."""
    meter: Meter | None = None
    """The household's grid meter; subscribe to it for every telegram."""
    meter_coordinator: MeterCoordinator | None = None
    """The throttled view of the meter that entities use."""
    household_device_id: str = ""
    """The household device's registry id (meters and chargers hang off it)."""


type StroomwijsConfigEntry = ConfigEntry[StroomwijsRuntimeData]
