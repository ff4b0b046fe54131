"""Runtime data that a loaded Stroomwijs config entry carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .engine.grid import GridConnection
from .engine.household import Household
from .engine.meter.core import Meter

if TYPE_CHECKING:
    from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

    from .charger import ChargerHub
    from .engine.meter.models import MeterReading
    from .household_view import HouseholdView
    from .remote_household import RemoteHousehold


@dataclass(slots=True)
class StroomwijsRuntimeData:
    """The household of one entry, and the views its entities use."""

    household: Household | None
    """The engine's household: meter, limits, guard, chargers and planner
    (None when the household runs in the add-on's gateway)."""
    grid: GridConnection
    limits: HouseholdView
    """The household as entities see it: limits, guard and planner (in this
    process, or through the gateway's API)."""
    chargers: ChargerHub
    """The household's EV chargers (``views`` in either mode)."""
    meter: Meter | None = None
    """The household's grid meter; subscribe to it for every telegram."""
    meter_coordinator: DataUpdateCoordinator[MeterReading] | None = None
    """The throttled view of the meter that entities use (in this process:
    ``MeterCoordinator``; in the gateway: ``RemoteMeterCoordinator``)."""
    household_device_id: str = ""
    """The household device's registry id (meters and chargers hang off it)."""
    remote: RemoteHousehold | None = None
    """The connection to the gateway, when the household runs there."""


type StroomwijsConfigEntry = ConfigEntry[StroomwijsRuntimeData]
