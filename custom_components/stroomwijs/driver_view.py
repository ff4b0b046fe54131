"""Heat pumps, boilers and appliances as entities see them (``DriverView``).

Both implementations read one mapping, the engine's ``device_snapshot``
(``engine/gateway/snapshot.py``):

- ``LocalDriver`` makes it from the household in this process;
- ``RemoteDriver`` (``remote_household.py``) takes it from the gateway's
  last snapshot.

So one set of entity classes serves both, and the values are read the same
way whatever runs the household. A value of the wrong type (a newer or
broken gateway) reads as None, never as an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from .engine.drivers.appliance import CycleState
from .engine.drivers.factory import DriverConfig, config_from_dict
from .engine.drivers.heat_pump_common import HeatLevel
from .engine.drivers.sg_ready import SgReadyMode
from .engine.gateway.snapshot import device_snapshot, parse_time
from .engine.household import DeviceConfig, Household
from .engine.household.devices import with_identity
from .engine.numbers import parse_number

SG_READY_MODES: Final = [mode.name.lower() for mode in SgReadyMode]
HEAT_LEVELS: Final = [level.value for level in HeatLevel]
CYCLE_STATES: Final = [state.value for state in CycleState]
OVERRIDE_OPTIONS: Final = ["auto", "boost", "block"]


def driver_spec(device: DeviceConfig) -> DriverConfig:
    """Return a driver device's typed config from the household document."""
    return config_from_dict(
        with_identity(device.driver, device.id, device.name),
        f"devices.{device.id}.driver",
    )


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _choice(value: object, options: list[str]) -> str | None:
    return value if isinstance(value, str) and value in options else None


class SnapshotDriver:
    """The values of a ``DriverView``, read from a ``device_snapshot`` mapping."""

    def __init__(self, device: DeviceConfig) -> None:
        """Show ``device`` of the household document."""
        self.device = device
        self._spec = driver_spec(device)

    @property
    def _data(self) -> Mapping[str, Any]:
        raise NotImplementedError

    @property
    def device_id(self) -> str:
        """The household's id for it."""
        return self.device.id

    @property
    def title(self) -> str:
        """Its name."""
        return self.device.name or self.device.id

    @property
    def spec(self) -> DriverConfig:
        """Its driver's config."""
        return self._spec

    @property
    def available(self) -> bool:
        """Whether the device answers."""
        return self._data.get("available") is True

    @property
    def planned(self) -> bool:
        """Whether the plan drives it (planned unless the data says not)."""
        return self._data.get("planned") is not False

    @property
    def power_w(self) -> float | None:
        """What it draws now."""
        return parse_number(self._data.get("power_w"))

    @property
    def temperature_c(self) -> float | None:
        """The room's or the tank's temperature."""
        return parse_number(self._data.get("temperature_c"))

    @property
    def sg_mode(self) -> str | None:
        """The SG-Ready mode."""
        return _choice(self._data.get("sg_mode"), SG_READY_MODES)

    @property
    def level(self) -> str | None:
        """The heat level."""
        return _choice(self._data.get("level"), HEAT_LEVELS)

    @property
    def blocks_left_today(self) -> int | None:
        """SG-Ready blocks left today."""
        value = parse_number(self._data.get("blocks_left_today"))
        return None if value is None else round(value)

    @property
    def blocked_minutes_left_today(self) -> float | None:
        """Minutes of blocking left today."""
        return parse_number(self._data.get("blocked_minutes_left_today"))

    @property
    def heating(self) -> bool | None:
        """Whether a boiler heats."""
        return _bool(self._data.get("heating"))

    @property
    def tank_estimated(self) -> bool | None:
        """Whether the tank temperature is estimated."""
        return _bool(self._data.get("tank_estimated"))

    @property
    def legionella_due(self) -> datetime | None:
        """When the legionella run must be done by."""
        return parse_time(self._data.get("legionella_due"))

    @property
    def on_gas(self) -> bool | None:
        """Whether a hybrid heats on gas."""
        return _bool(self._data.get("on_gas"))

    @property
    def cycle_state(self) -> str | None:
        """An appliance's cycle state."""
        return _choice(self._data.get("cycle_state"), CYCLE_STATES)

    @property
    def deadline(self) -> datetime | None:
        """When the cycle must be done."""
        return parse_time(self._data.get("deadline"))

    @property
    def latest_start(self) -> datetime | None:
        """The latest start of an armed cycle."""
        return parse_time(self._data.get("latest_start"))

    @property
    def remote_start_allowed(self) -> bool | None:
        """Whether a remote start is allowed now."""
        return _bool(self._data.get("remote_start_allowed"))

    @property
    def _override(self) -> Mapping[str, Any]:
        value = self._data.get("override")
        return value if isinstance(value, Mapping) else {}

    @property
    def override_mode(self) -> str:
        """The user's override (``auto`` while there is none)."""
        mode = self._override.get("mode")
        return mode if mode in OVERRIDE_OPTIONS else "auto"

    @property
    def override_until(self) -> datetime | None:
        """When the user's boost or block ends."""
        return parse_time(self._override.get("until"))

    def planned_power_w(self, slots_ahead: int = 0) -> float | None:
        """Return what the plan gives it now (0) or in the next slot (1)."""
        key = "planned_w" if slots_ahead == 0 else "planned_next_w"
        return parse_number(self._data.get(key))


class LocalDriver(SnapshotDriver):
    """A driver of the household in this process (a ``DriverView``)."""

    def __init__(self, household: Household, device: DeviceConfig) -> None:
        """Show ``device`` of ``household``."""
        super().__init__(device)
        self.household = household

    @property
    def _data(self) -> Mapping[str, Any]:
        driver = self.household.devices.drivers.get(self.device.id)
        if driver is None:  # removed from the household
            return {}
        return device_snapshot(self.household, self.device.id, driver)

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever the household changes (ticks, commands)."""
        return self.household.add_listener(listener)

    async def async_set_planned(self, *, planned: bool) -> None:
        """Put the device in the plan or leave it to itself; the household re-plans."""
        self.household.set_device_planned(self.device.id, planned=planned)

    async def async_set_override(
        self, mode: str | None, duration: timedelta | None
    ) -> None:
        """Boost or block the device, or give it back to the plan."""
        await self.household.async_set_device_override(self.device.id, mode, duration)

    async def async_run_before(self, finish_by: datetime) -> None:
        """Arm the appliance (or move its deadline)."""
        await self.household.async_run_before(self.device.id, finish_by)

    async def async_arm(self) -> None:
        """Arm the appliance."""
        await self.household.async_arm_appliance(self.device.id)

    async def async_disarm(self) -> None:
        """Disarm the appliance."""
        await self.household.async_disarm_appliance(self.device.id)


def local_drivers(household: Household) -> dict[str, LocalDriver]:
    """Return a view of each driver device the household runs."""
    return {
        device.id: LocalDriver(household, device)
        for device in household.config.devices
        if device.kind == "driver" and device.id in household.devices.drivers
    }
