"""A heat pump steered through a ``climate`` or ``water_heater`` entity's setpoint.

Many heat pumps reach Home Assistant only as a thermostat. This adapter
moves that thermostat's setpoint within the user's comfort band:

* **normal**: the user's own setpoint;
* **boost** (pre-heat before a window, cheap hours): the user's setpoint
  plus ``boost_k``, never above the top of the comfort band;
* **block** (the guard sheds load): the setpoint drops by ``setback_k``,
  never below the bottom of the comfort band, so the pump stops heating
  while the house coasts inside its band.

The user's setpoint is read when the adapter starts and restored when it
goes back to normal or is stopped (:meth:`async_restore`). A setpoint the
adapter did not write is a manual change: the user wins. It becomes the new
user setpoint, the adapter goes to normal and keeps its hands off for
``manual_hold`` (its power range is pinned, so the guard takes another
device), and :attr:`events` says so.

Power comes from a power entity when there is one; otherwise the guard
works from the level's nominal power. The room temperature comes from a
sensor entity, or the thermostat's ``current_temperature``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import logging
import math
from typing import Any

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    DeviceUnavailableError,
    PowerRange,
)

from .entities import (
    AvailabilityLog,
    EntityCallError,
    EntityPort,
    EntityState,
    attribute_number,
    check_entity_id,
    domain_of,
    usable,
)
from .heat_pump_common import (
    GasOption,
    HeatLevel,
    HeatPumpSpec,
    HouseModel,
    comfort_checked,
    heat_pump_planner_input,
    minutes_since,
)
from .sg_ready import Clock, power_entity_w, temperature_entity_c, utc_now

_LOGGER = logging.getLogger(__name__)
TOLERANCE_K = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class ClimateSetpointConfig:
    """One thermostat entity and how far the adapter may move it."""

    device_id: str
    name: str
    entity_id: str
    spec: HeatPumpSpec
    comfort: ComfortBand = field(
        default_factory=lambda: ComfortBand(min_c=19.5, max_c=22.0)
    )
    house: HouseModel = field(default_factory=HouseModel)
    boost_k: float = 1.0
    setback_k: float = 1.5
    room_temperature_entity: str | None = None
    power_entity: str | None = None
    min_between_changes: timedelta = timedelta(minutes=10)
    manual_hold: timedelta = timedelta(hours=2)
    step_c: float = 0.5
    """The thermostat's setpoint resolution."""

    def __post_init__(self) -> None:
        """Reject a configuration that cannot work."""
        if not self.device_id.strip():
            raise ValueError("device_id cannot be empty")
        check_entity_id(self.entity_id, "climate", "water_heater")
        if self.room_temperature_entity is not None:
            check_entity_id(self.room_temperature_entity, "sensor")
        if self.power_entity is not None:
            check_entity_id(self.power_entity, "sensor")
        comfort_checked(self.comfort)
        if not 0 <= self.boost_k <= 5 or not 0 <= self.setback_k <= 10:  # noqa: PLR2004
            raise ValueError("boost_k must be within 0..5 and setback_k 0..10")
        if not 0 < self.step_c <= 1:
            raise ValueError("step_c must be within 0..1")
        if self.min_between_changes < timedelta(0) or self.manual_hold < timedelta(0):
            raise ValueError("times cannot be negative")


class ClimateSetpointHeatPump:
    """A thermostat entity as a PowerSettable, Thermal (and PowerMeter)."""

    def __init__(
        self,
        config: ClimateSetpointConfig,
        port: EntityPort,
        *,
        clock: Clock = utc_now,
    ) -> None:
        """Steer ``config.entity_id`` through ``port``."""
        self.config = config
        self._port = port
        self._clock = clock
        self._health = AvailabilityLog(_LOGGER, config.name)
        self.user_setpoint_c: float | None = None
        self._written_c: float | None = None
        self._level = HeatLevel.NORMAL
        self._changed_at: datetime | None = None
        self._held_until: datetime | None = None
        self.events: list[str] = []

    # -- Device ---------------------------------------------------------------
    @property
    def device_id(self) -> str:
        """Stable identifier."""
        return self.config.device_id

    @property
    def name(self) -> str:
        """Human-readable name."""
        return self.config.name

    @property
    def available(self) -> bool:
        """Whether the thermostat entity reports a setpoint."""
        return self._health.available

    def _entity(self) -> EntityState | None:
        return self._port.get_state(self.config.entity_id)

    def _setpoint_now(self) -> float | None:
        state = self._entity()
        if not usable(state) or (state is not None and state.state == "off"):
            return None
        value = attribute_number(state, "temperature")
        return value if value is not None and 0 <= value <= 90 else None  # noqa: PLR2004

    # -- Thermal / PowerMeter ---------------------------------------------------
    @property
    def temperature_c(self) -> float | None:
        """Room (or tank) temperature."""
        entity = self.config.room_temperature_entity
        if entity is not None:
            return temperature_entity_c(self._port.get_state(entity))
        value = attribute_number(self._entity(), "current_temperature")
        return value if value is not None and -50 <= value <= 100 else None  # noqa: PLR2004

    @property
    def comfort(self) -> ComfortBand:
        """The user's comfort band."""
        return self.config.comfort

    @property
    def power_w(self) -> float | None:
        """Measured power, if a power entity is configured."""
        entity = self.config.power_entity
        return None if entity is None else power_entity_w(self._port.get_state(entity))

    @property
    def energy_kwh(self) -> float | None:
        """Not counted."""
        return None

    # -- levels ---------------------------------------------------------------
    @property
    def level(self) -> HeatLevel:
        """The level the setpoint stands for."""
        return self._level

    @property
    def manual_hold_until(self) -> datetime | None:
        """Until when a manual change keeps the adapter's hands off."""
        now = self._clock()
        if self._held_until is not None and self._held_until > now:
            return self._held_until
        return None

    def target_for(self, level: HeatLevel) -> float:
        """Return the setpoint a level writes, inside the comfort band."""
        user = self.user_setpoint_c
        comfort = self.config.comfort
        if user is None:
            msg = f"{self.name}: user setpoint unknown"
            raise DeviceUnavailableError(msg)
        step = self.config.step_c
        if level is HeatLevel.BOOST:
            # Round down so the band's top is never crossed.
            value = math.floor(min(user + self.config.boost_k, comfort.max_c) / step)
            return max(value * step, user)
        if level is HeatLevel.BLOCK:
            value = math.ceil(max(user - self.config.setback_k, comfort.min_c) / step)
            return min(value * step, user)
        return user

    @property
    def setpoint_w(self) -> float | None:
        """The nominal power of the current level."""
        return self.config.spec.nominal_w(self._level)

    @property
    def power_range(self) -> PowerRange:
        """Pinned while a manual change holds or a change must wait."""
        spec = self.config.spec
        now = self._clock()
        current = spec.nominal_w(self._level)
        if self.manual_hold_until is not None or not self._may_change(now):
            return PowerRange(min_w=current, max_w=current)
        return PowerRange(min_w=0.0, max_w=spec.max_w, min_active_w=spec.rated_power_w)

    def _may_change(self, now: datetime) -> bool:
        changed = self._changed_at
        return changed is None or now - changed >= self.config.min_between_changes

    async def async_start(self) -> None:
        """Read the user's setpoint (call once, before the first command)."""
        self.async_check_manual()
        if self.user_setpoint_c is None:
            value = self._setpoint_now()
            if value is None:
                self._health.down("the thermostat reports no setpoint")
                msg = f"{self.name}: no setpoint to start from"
                raise DeviceUnavailableError(msg)
            self.user_setpoint_c = value
            self._written_c = value
        self._health.up()

    async def async_set_power(self, setpoint_w: float) -> None:
        """Move the setpoint to the level ``setpoint_w`` maps to."""
        level = self.config.spec.level_for(setpoint_w)
        self.async_check_manual()
        now = self._clock()
        if self.manual_hold_until is not None:
            return  # the user's setting wins
        if level is self._level:
            return
        if not self._may_change(now):
            msg = f"{self.name}: setpoint changed too recently"
            raise DeviceUnavailableError(msg)
        await self._write(self.target_for(level))
        self._level = level
        self._changed_at = now

    async def async_restore(self) -> None:
        """Put the user's setpoint back (on stop, or to end an adjustment)."""
        self.async_check_manual()
        if self.user_setpoint_c is None or self._level is HeatLevel.NORMAL:
            return
        await self._write(self.user_setpoint_c)
        self._level = HeatLevel.NORMAL
        self._changed_at = self._clock()

    async def _write(self, target_c: float) -> None:
        domain = domain_of(self.config.entity_id)
        try:
            await self._port.async_call_service(
                domain,
                "set_temperature",
                {"entity_id": self.config.entity_id, "temperature": target_c},
            )
        except EntityCallError as err:
            self._health.down(str(err))
            raise
        self._written_c = target_c
        self._health.up()

    def async_check_manual(self) -> bool:
        """Detect a setpoint the adapter did not write; the user then wins.

        Returns whether a manual change was found. (Synchronous: it only
        reads the host's state; the name marks it safe in the event loop.)
        """
        seen = self._setpoint_now()
        if seen is None:
            if not usable(self._entity()):
                self._health.down("thermostat entity unavailable")
            return False
        self._health.up()
        written = self._written_c
        if written is None or abs(seen - written) <= TOLERANCE_K:
            return False
        now = self._clock()
        self.user_setpoint_c = seen
        self._written_c = seen
        self._level = HeatLevel.NORMAL
        self._changed_at = now
        self._held_until = now + self.config.manual_hold
        message = f"manual setpoint {seen:g} degC: Stroomwijs steps back"
        self.events.append(message)
        _LOGGER.info("%s: %s", self.name, message)
        return True

    async def async_update(self) -> None:
        """Check for manual changes and availability (call on every poll).

        A thermostat that was not there at ``async_start`` (its integration
        still loading, a gateway's Home Assistant not connected yet) gives
        its setpoint, the user's, at the first poll that sees it.
        """
        if self.user_setpoint_c is None:
            value = self._setpoint_now()
            if value is not None:
                self.user_setpoint_c = value
                self._written_c = value
        self.async_check_manual()

    def attach(self) -> Callable[[], None]:
        """Detect manual changes as soon as the host reports them."""
        entities: Sequence[str] = (self.config.entity_id,)

        def _changed(state: EntityState) -> None:
            del state
            self.async_check_manual()

        return self._port.subscribe(entities, _changed)

    # -- planner / persistence -------------------------------------------------
    def planner_input(
        self,
        outdoor_c: Sequence[float],
        *,
        gas: GasOption | None = None,
        window_setback_c: float = 0.0,
        preheat_minutes: float = 60.0,
    ) -> dict[str, Any]:
        """Build the planner's ``heat_pump`` device from the live state."""
        now = self._clock()
        # On/off is the level the adapter set, as the time in it is: a power
        # sensor lags a block (and the compressor runs out its minimum
        # on-time), and "on for seconds" would make the planner keep it on its
        # minimum run while the adapter refuses a change that soon.
        is_on = self._level is not HeatLevel.BLOCK
        return heat_pump_planner_input(
            self.device_id,
            self.name,
            self.config.spec,
            self.config.house,
            self.config.comfort,
            indoor_c=self.temperature_c,
            outdoor_c=outdoor_c,
            is_on=is_on,
            in_state_for=minutes_since(self._changed_at, now),
            gas=gas,
            window_setback_c=window_setback_c,
            preheat_minutes=preheat_minutes,
        )

    def export_state(self) -> dict[str, Any]:
        """JSON-safe state: the user's setpoint survives a restart mid-boost."""
        return {
            "user_setpoint_c": self.user_setpoint_c,
            "written_c": self._written_c,
            "level": self._level.value,
        }

    def restore_state(self, data: object) -> None:
        """Load :meth:`export_state` data; malformed data raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError("climate adapter state must be an object")  # noqa: TRY004
        user = data.get("user_setpoint_c")
        written = data.get("written_c")
        for value in (user, written):
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 90  # noqa: PLR2004
            ):
                raise ValueError("setpoints must be numbers within 0..90")
        self.user_setpoint_c = None if user is None else float(user)
        self._written_c = None if written is None else float(written)
        self._level = HeatLevel(str(data.get("level", "normal")))
