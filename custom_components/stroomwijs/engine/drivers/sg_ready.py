"""SG-Ready heat pump through two relays (two switch entities in the host).

The SG-Ready label defines four operating states, signalled on two inputs:

====  ======  ======  ================================================
mode  relay1  relay2  meaning
====  ======  ======  ================================================
1     on      off     blocked (the utility's "EVU-Sperre")
2     off     off     normal
3     off     on      run recommended (raise setpoints, pre-heat)
4     on      on      start command (run now, as far as the pump can)
====  ======  ======  ================================================

The driver is a :class:`PowerSettable` (0 W blocks, the rated power is
normal, the boost power asks for mode 3; see ``heat_pump_common``), a
``Thermal`` when a room-temperature entity is given, and a ``PowerMeter``
when a power entity is given. The standard's guard rules (at most 3 blocks
and 2 h blocked a day, a minimum time between mode changes) are enforced by
a :class:`BlockingLedger`; when they forbid a block, :attr:`power_range`
does not go down to 0 W, so the guard passes over the heat pump and takes
the next device. A block also ends by itself when the day's blocking time
runs out or the room reaches the comfort floor (:meth:`async_update`).

Relays change in an order that never passes through a block by accident:
relays that go off switch first (relay 1 before relay 2), then relays that
go on (relay 2 before relay 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
import logging
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
    number,
    on_off,
    switch_entity,
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
from .heat_pump_rules import BlockingBudget, BlockingLedger, BlockingRules

_LOGGER = logging.getLogger(__name__)

type Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Wall-clock time, aware."""
    return datetime.now(UTC)


class SgReadyMode(IntEnum):
    """The four SG-Ready operating states."""

    BLOCKED = 1
    NORMAL = 2
    RECOMMENDED = 3
    FORCED = 4


RELAYS: dict[SgReadyMode, tuple[bool, bool]] = {
    SgReadyMode.BLOCKED: (True, False),
    SgReadyMode.NORMAL: (False, False),
    SgReadyMode.RECOMMENDED: (False, True),
    SgReadyMode.FORCED: (True, True),
}
_MODE_OF = {relays: mode for mode, relays in RELAYS.items()}
_LEVEL_MODE = {
    HeatLevel.BLOCK: SgReadyMode.BLOCKED,
    HeatLevel.NORMAL: SgReadyMode.NORMAL,
    HeatLevel.BOOST: SgReadyMode.RECOMMENDED,
}


def mode_of(relay_1: bool, relay_2: bool) -> SgReadyMode:  # noqa: FBT001
    """Return the SG-Ready mode two relay states signal."""
    return _MODE_OF[relay_1, relay_2]


def power_entity_w(state: EntityState | None) -> float | None:
    """Read a power sensor in W (a ``kW`` unit is converted); None if unusable."""
    value = number(state)
    if value is None or state is None:
        return None
    unit = str(state.attributes.get("unit_of_measurement", "W")).strip()
    if unit == "kW":
        value *= 1000.0
    elif unit != "W":
        return None
    return value if abs(value) < 1e6 else None  # noqa: PLR2004


def temperature_entity_c(state: EntityState | None) -> float | None:
    """Read a temperature sensor in degC (plausible range only)."""
    value = number(state)
    if value is None or state is None:
        return None
    unit = str(state.attributes.get("unit_of_measurement", "°C")).strip()
    if unit == "°F":
        value = (value - 32.0) * 5.0 / 9.0
    return value if -50.0 <= value <= 120.0 else None  # noqa: PLR2004


@dataclass(frozen=True, slots=True, kw_only=True)
class SgReadyConfig:
    """One SG-Ready heat pump behind two switch entities."""

    device_id: str
    name: str
    relay_1_entity: str
    relay_2_entity: str
    spec: HeatPumpSpec
    comfort: ComfortBand = field(
        default_factory=lambda: ComfortBand(min_c=19.5, max_c=22.0)
    )
    house: HouseModel = field(default_factory=HouseModel)
    rules: BlockingRules = field(default_factory=BlockingRules)
    room_temperature_entity: str | None = None
    power_entity: str | None = None
    allow_forced: bool = False
    """Whether mode 4 may be used (only through :meth:`async_set_mode`)."""

    def __post_init__(self) -> None:
        """Reject a configuration that cannot work, with a clear reason."""
        if not self.device_id.strip():
            raise ValueError("device_id cannot be empty")
        switches = ("switch", "input_boolean")
        check_entity_id(self.relay_1_entity, *switches)
        check_entity_id(self.relay_2_entity, *switches)
        if self.relay_1_entity == self.relay_2_entity:
            raise ValueError("the two SG-Ready relays must be different entities")
        if self.room_temperature_entity is not None:
            check_entity_id(self.room_temperature_entity, "sensor", "climate")
        if self.power_entity is not None:
            check_entity_id(self.power_entity, "sensor")
        comfort_checked(self.comfort)


class SgReadyHeatPump:
    """An SG-Ready heat pump: PowerSettable, Thermal, PowerMeter."""

    def __init__(
        self, config: SgReadyConfig, port: EntityPort, *, clock: Clock = utc_now
    ) -> None:
        """Drive the relays of ``config`` through ``port``."""
        self.config = config
        self._port = port
        self._clock = clock
        self.ledger = BlockingLedger(config.rules)
        self._health = AvailabilityLog(_LOGGER, config.name)
        self._mode: SgReadyMode | None = None
        self._changed_at: datetime | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.events: list[str] = []
        """Things the user should hear about (auto-ended blocks, manual changes)."""

    # -- Device -----------------------------------------------------------
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
        """Whether both relays have a known state."""
        return self._health.available

    @property
    def runs_on_own_thermostat(self) -> bool:
        """Released (mode 2 or 3), the pump's own thermostat decides its power.

        The guard then does not block it before it draws (see the guard's
        plan following), and the planner counts it at its full power.
        """
        return True

    # -- reading ------------------------------------------------------------
    def _read_mode(self) -> SgReadyMode | None:
        one = on_off(self._port.get_state(self.config.relay_1_entity))
        two = on_off(self._port.get_state(self.config.relay_2_entity))
        if one is None or two is None:
            self._health.down("an SG-Ready relay entity has no on/off state")
            return None
        self._health.up()
        return mode_of(one, two)

    @property
    def mode(self) -> SgReadyMode | None:
        """The mode the relays signal now."""
        return self._mode

    @property
    def temperature_c(self) -> float | None:
        """Room temperature from the configured entity."""
        entity = self.config.room_temperature_entity
        if entity is None:
            return None
        state = self._port.get_state(entity)
        if entity.startswith("climate."):
            value = attribute_number(state, "current_temperature")
            return value if value is not None and -50 <= value <= 60 else None  # noqa: PLR2004
        return temperature_entity_c(state)

    @property
    def comfort(self) -> ComfortBand:
        """The band the house is kept in."""
        return self.config.comfort

    @property
    def power_w(self) -> float | None:
        """Measured power, when a power entity is configured."""
        entity = self.config.power_entity
        return None if entity is None else power_entity_w(self._port.get_state(entity))

    @property
    def energy_kwh(self) -> float | None:
        """Not counted by this driver."""
        return None

    # -- PowerSettable --------------------------------------------------------
    def _level(self) -> HeatLevel | None:
        mode = self._mode
        if mode is None:
            return None
        if mode is SgReadyMode.BLOCKED:
            return HeatLevel.BLOCK
        if mode is SgReadyMode.NORMAL:
            return HeatLevel.NORMAL
        return HeatLevel.BOOST

    @property
    def setpoint_w(self) -> float | None:
        """The power the current mode stands for."""
        level = self._level()
        return None if level is None else self.config.spec.nominal_w(level)

    @property
    def power_range(self) -> PowerRange:
        """0 W only when a block is allowed now; nothing while changes must wait."""
        spec = self.config.spec
        now = self._clock()
        current = self.setpoint_w
        if current is None:
            return PowerRange(min_w=0.0, max_w=0.0)
        if not self.ledger.can_change(now):
            return PowerRange(min_w=current, max_w=current)
        low = 0.0 if self.ledger.block_refused(now) is None else spec.rated_power_w
        return PowerRange(min_w=low, max_w=spec.max_w, min_active_w=spec.rated_power_w)

    async def async_set_power(self, setpoint_w: float) -> None:
        """Apply a setpoint as an SG-Ready mode (see the module's table)."""
        level = self.config.spec.level_for(setpoint_w)
        await self.async_set_mode(_LEVEL_MODE[level])

    async def async_set_mode(self, mode: SgReadyMode) -> None:
        """Switch the relays to ``mode`` if the rules allow it.

        Raises DeviceUnavailableError when the relays do not answer or the
        rules forbid the change now (a refused block, a change too soon).
        """
        now = self._clock()
        current = self._read_mode()
        if current is None:
            msg = f"{self.name}: relay state unknown"
            raise DeviceUnavailableError(msg)
        self._mode = current
        if mode == current:
            return
        if mode is SgReadyMode.FORCED and not self.config.allow_forced:
            msg = f"{self.name}: mode 4 is not allowed"
            raise DeviceUnavailableError(msg)
        if mode is SgReadyMode.BLOCKED:
            refused = self.ledger.block_refused(now)
            if refused is not None:
                msg = f"{self.name}: no block: {refused}"
                raise DeviceUnavailableError(msg)
        elif not self.ledger.can_change(now):
            msg = f"{self.name}: mode change too soon after the last one"
            raise DeviceUnavailableError(msg)
        await self._write(current, mode)
        self.ledger.record_change(now, blocked=mode is SgReadyMode.BLOCKED)
        self._mode = mode
        self._changed_at = now

    async def _write(self, current: SgReadyMode, target: SgReadyMode) -> None:
        entities = (self.config.relay_1_entity, self.config.relay_2_entity)
        have = RELAYS[current]
        want = RELAYS[target]
        offs = [entities[i] for i in (0, 1) if have[i] and not want[i]]
        ons = [entities[i] for i in (1, 0) if want[i] and not have[i]]
        try:
            for entity in offs:
                await switch_entity(self._port, entity, on=False)
            for entity in ons:
                await switch_entity(self._port, entity, on=True)
        except EntityCallError as err:
            seen = self._read_mode()
            if seen is not None and seen != current:
                # Half done: one relay moved. Count what the pump now sees.
                now = self._clock()
                self.ledger.record_change(now, blocked=seen is SgReadyMode.BLOCKED)
                self._changed_at = now
            self._mode = seen
            self._health.down(str(err))
            raise
        self._health.up()

    # -- upkeep -------------------------------------------------------------
    async def async_update(self) -> None:
        """Re-read the relays; end a block that ran out of budget or comfort.

        A mode the driver did not set (the user or another controller moved
        a relay) is taken over and counted: a block is a block.
        """
        now = self._clock()
        seen = self._read_mode()
        if seen is None:
            return
        if self._mode is not None and seen != self._mode:
            self.events.append(f"relays changed outside Stroomwijs to mode {seen}")
            self.ledger.record_change(now, blocked=seen is SgReadyMode.BLOCKED)
            self._changed_at = now
        elif (
            self._mode is None
            and seen is SgReadyMode.BLOCKED
            and not (self.ledger.blocking)
        ):
            # Found blocked at start-up with no record of it: count it now.
            self.ledger.record_change(now, blocked=True)
            self._changed_at = now
        self._mode = seen
        if seen is SgReadyMode.BLOCKED:
            await self._end_block_if_due(now)

    async def _end_block_if_due(self, now: datetime) -> None:
        temp = self.temperature_c
        reason: str | None = None
        if self.ledger.remaining_block_time(now) <= timedelta(0):
            reason = "the day's blocking time is used up"
        elif temp is not None and temp <= self.config.comfort.min_c:
            reason = f"the room is at {temp:.1f} degC, the comfort floor"
        if reason is None or not self.ledger.can_change(now):
            return
        await self._write(SgReadyMode.BLOCKED, SgReadyMode.NORMAL)
        self.ledger.record_change(now, blocked=False)
        self._mode = SgReadyMode.NORMAL
        self._changed_at = now
        message = f"block ended: {reason}"
        self.events.append(message)
        _LOGGER.info("%s: %s", self.name, message)

    def attach(self) -> Callable[[], None]:
        """Follow relay changes as they happen (the host calls back)."""
        entities: Sequence[str] = (
            self.config.relay_1_entity,
            self.config.relay_2_entity,
        )

        def _changed(state: EntityState) -> None:
            del state
            self._read_mode()

        self._unsubscribe = self._port.subscribe(entities, _changed)
        return self._unsubscribe

    # -- planner and persistence -----------------------------------------------
    def blocking_budget(self) -> BlockingBudget:
        """Return what the rules still allow today (for the planner and the UI)."""
        return self.ledger.budget(self._clock())

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
        level = self._level()
        return heat_pump_planner_input(
            self.device_id,
            self.name,
            self.config.spec,
            self.config.house,
            self.config.comfort,
            indoor_c=self.temperature_c,
            outdoor_c=outdoor_c,
            is_on=level is not None and level is not HeatLevel.BLOCK,
            in_state_for=minutes_since(self._changed_at, now),
            gas=gas,
            window_setback_c=window_setback_c,
            preheat_minutes=preheat_minutes,
            blocking=self.blocking_budget(),
            # Two relays: the plan can block the pump, not set its power. A
            # hybrid's block is its switch to gas, which the plan prices.
            thermostat=gas is None,
        )

    def export_state(self) -> dict[str, Any]:
        """JSON-safe state to store across restarts."""
        return {
            "ledger": self.ledger.export_state(),
            "changed_at": None
            if self._changed_at is None
            else self._changed_at.isoformat(),
        }

    def restore_state(self, data: object) -> None:
        """Load :meth:`export_state` data; malformed data raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError("SG-Ready state must be an object")  # noqa: TRY004
        self.ledger.restore_state(data.get("ledger"))
        changed = data.get("changed_at")
        if changed is not None:
            if not isinstance(changed, str):
                raise ValueError("changed_at must be an ISO time")
            when = datetime.fromisoformat(changed)
            if when.tzinfo is None:
                # A naive time cannot be compared with the clock's (TypeError
                # in every planner input after the restart).
                raise ValueError("changed_at must carry a time zone")
            self._changed_at = when
