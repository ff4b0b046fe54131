"""What a device can do, independent of brand or protocol.

Drivers implement these small protocols; the planner and the guard only ever
ask what a device *can* do. A driver composes as many as apply: an OCPP 2.1
charger is a ``PowerMeter``, a ``PowerSettable`` whose minimum is negative, and
a ``Bidirectional``. Adding a device kind means adding one driver that
implements the right protocols, and one planner block.

Sign convention everywhere in the engine: power is in watts and positive when
the device *takes* energy from the house (charging, heating); negative power
is delivered *to* the house (V2H/V2G discharge). Grid power is positive for
import and negative for export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, runtime_checkable


class CurtailPriority(StrEnum):
    """The order in which the guard curtails devices (first curtailed first)."""

    EV = "ev"
    BOILER = "boiler"
    HEAT_PUMP = "heat_pump"
    EV_PAUSE = "ev_pause"
    WHITE_GOODS = "white_goods"


class DeviceUnavailableError(Exception):
    """The device cannot be reached or refused a command."""


@runtime_checkable
class Device(Protocol):
    """Anything Stroomwijs knows about: it has a stable id and a name."""

    @property
    def device_id(self) -> str:
        """Stable identifier, unique within one household."""
        ...

    @property
    def name(self) -> str:
        """Human-readable name."""
        ...

    @property
    def available(self) -> bool:
        """Whether the device currently answers."""
        ...


@runtime_checkable
class PowerMeter(Device, Protocol):
    """A device that measures its own power and energy."""

    @property
    def power_w(self) -> float | None:
        """Power now in W (see the module's sign convention); None if unknown."""
        ...

    @property
    def energy_kwh(self) -> float | None:
        """Cumulative energy taken in kWh; None if the device does not count."""
        ...


@runtime_checkable
class Switchable(Device, Protocol):
    """On/off load with minimum run and minimum off times."""

    @property
    def is_on(self) -> bool | None:
        """Whether the load is switched on; None if unknown."""
        ...

    @property
    def rated_power_w(self) -> float:
        """Typical power when on, in W."""
        ...

    @property
    def min_on_time(self) -> timedelta:
        """Shortest run once switched on."""
        ...

    @property
    def min_off_time(self) -> timedelta:
        """Shortest rest once switched off."""
        ...

    async def async_switch(self, on: bool) -> None:  # noqa: FBT001
        """Switch the load; raises DeviceUnavailableError on failure."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerRange:
    """The setpoints a PowerSettable device accepts right now.

    ``min_w`` is negative when the device can deliver power (discharge).
    ``min_active_w`` is the smallest magnitude it can run at without stalling,
    e.g. 6 A x 230 V x 3 phases for a car; between ``-min_active_w`` and
    ``min_active_w`` only 0 (paused) is possible.
    """

    min_w: float
    max_w: float
    min_active_w: float = 0.0

    def __post_init__(self) -> None:
        """Reject inconsistent ranges."""
        if self.min_w > self.max_w:
            msg = f"min {self.min_w} W is above max {self.max_w} W"
            raise ValueError(msg)
        if self.min_active_w < 0:
            msg = "min_active_w is a magnitude and cannot be negative"
            raise ValueError(msg)

    def clamp(self, setpoint_w: float, *, allow_pause: bool = True) -> float:
        """Nearest setpoint the device accepts.

        Values inside the dead band round to 0 when pausing is allowed,
        otherwise to the smallest active charge power.
        """
        value = min(max(setpoint_w, self.min_w), self.max_w)
        if abs(value) >= self.min_active_w or value == 0.0:
            if value == 0.0 and not allow_pause:
                return min(self.min_active_w, self.max_w)
            return value
        if allow_pause:
            return 0.0
        if value < 0 and -self.min_active_w >= self.min_w:
            return -self.min_active_w
        return min(self.min_active_w, self.max_w)


@runtime_checkable
class PowerSettable(Device, Protocol):
    """A continuous setpoint between a minimum and a maximum."""

    @property
    def power_range(self) -> PowerRange:
        """What the device accepts now."""
        ...

    @property
    def setpoint_w(self) -> float | None:
        """The setpoint last applied, if any."""
        ...

    async def async_set_power(self, setpoint_w: float) -> None:
        """Apply a setpoint; raises DeviceUnavailableError on failure."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ComfortBand:
    """Allowed temperature range in degrees Celsius."""

    min_c: float
    max_c: float


@runtime_checkable
class Thermal(Device, Protocol):
    """A device with a temperature state and a comfort band."""

    @property
    def temperature_c(self) -> float | None:
        """Measured temperature; None if unknown."""
        ...

    @property
    def comfort(self) -> ComfortBand:
        """The band the planner must keep the temperature in."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeferrableRun:
    """One requested run of a deferrable appliance."""

    profile_kwh: tuple[float, ...]
    """Energy per 15-minute slot, from the start of the cycle."""
    earliest_start: datetime
    finish_by: datetime
    only_if_cheaper_than: float | None = None
    """EUR/kWh; skip the run when no window is this cheap."""


@runtime_checkable
class Deferrable(Device, Protocol):
    """An appliance whose cycle can be shifted but never split."""

    @property
    def pending_run(self) -> DeferrableRun | None:
        """The run waiting to be scheduled, if any."""
        ...

    async def async_start(self) -> None:
        """Start the pending cycle now."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DepartureNeeds:
    """What the driver needs by when it leaves."""

    departure: datetime | None
    target_soc: float | None
    """Fraction 0..1."""
    min_soc: float = 0.0
    """Guaranteed fraction that must never be undercut."""


@runtime_checkable
class Bidirectional(Device, Protocol):
    """A battery that can charge and, if allowed, discharge (EV or home battery)."""

    @property
    def soc(self) -> float | None:
        """State of charge as a fraction 0..1; None if unknown."""
        ...

    @property
    def capacity_kwh(self) -> float | None:
        """Usable capacity; None if unknown."""
        ...

    @property
    def plugged_in(self) -> bool:
        """Whether a vehicle is connected (always True for a home battery)."""
        ...

    @property
    def departure(self) -> DepartureNeeds:
        """The departure needs the user or the car declared."""
        ...

    @property
    def discharge_allowed(self) -> bool:
        """Whether V2H/V2G discharge is allowed now."""
        ...
