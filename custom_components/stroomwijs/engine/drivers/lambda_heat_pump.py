"""Lambda heat pumps (EU-L series) over Modbus TCP, with Lambda's public map.

Lambda Wärmepumpen publishes its Modbus protocol ("Modbus Beschreibung und
Protokoll"); the register number is ``index * 1000 + subindex * 100 +
number``: index 0 general, 1 heat pump, 2 boiler (hot water), 5 heating
circuit. All are holding registers of unit 1, read with function 3 and
written with function 16. docs/devices.md lists the ones used here.

The driver reads power (1012, W), energy (1020/1021, Wh, high word
first), flow and return (1004/1005, 0.01 degC), compressor rating (1010,
0.01 %), heating capacity (1011, 0.1 kW), COP (1013, 0.01), the outdoor
temperature (2, 0.1 degC), the tank (2002, 0.1 degC), and heating circuit
1's room temperature (5004) and mode (5006). It steers with two writes:

* **block**: the heating circuit's operating mode 5006 to 0 (off); the
  mode it had is kept and written back to end the block;
* **boost**: the room heating setpoint 5051 raised by ``boost_k`` within
  the comfort band; **normal** writes the user's setpoint back.

A block here is as hard on the compressor as an SG-Ready block, so the same
:class:`BlockingLedger` rules apply (3 a day, 2 h a day, 10 min between
changes), a block ends by itself at the comfort floor, and the state
survives restarts. A mode or setpoint the driver did not write is the
user's and is adopted.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from .modbus_link import ModbusLink
from .sg_ready import Clock, utc_now

_LOGGER = logging.getLogger(__name__)

REG_AMBIENT = 0
REG_HEAT_PUMP = 1000
REG_BOILER = 2000
REG_HEATING_CIRCUIT = 5000
# Offsets inside each module.
HP_ERROR_STATE = 0
HP_STATE = 2
HP_OPERATING_STATE = 3
HP_FLOW = 4
HP_RETURN = 5
HP_COMPRESSOR = 10
HP_HEAT_CAPACITY = 11
HP_POWER = 12
HP_COP = 13
HP_ENERGY = 20
HP_BLOCK_LEN = 22
BOILER_HIGH = 2
HC_ROOM = 4
HC_MODE = 6
HC_ROOM_SETPOINT = 51
AMBIENT_TEMP = 2
HC_MODE_OFF = 0
HP_ERROR_FAULT = 4


def signed(value: int) -> int:
    """Decode a two's complement 16-bit register."""
    return value - 0x10000 if value & 0x8000 else value


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaConfig:
    """How to reach and steer one Lambda heat pump."""

    device_id: str
    host: str
    spec: HeatPumpSpec
    name: str = "Lambda heat pump"
    port: int = 502
    unit_id: int = 1
    heat_pump_index: int = 0
    heating_circuit_index: int = 0
    boiler_index: int | None = 0
    comfort: ComfortBand = field(
        default_factory=lambda: ComfortBand(min_c=19.5, max_c=22.0)
    )
    house: HouseModel = field(default_factory=HouseModel)
    rules: BlockingRules = field(default_factory=BlockingRules)
    boost_k: float = 1.0
    timeout_s: float = 3.0
    reconnect_s: float = 10.0

    def __post_init__(self) -> None:
        """Reject settings outside Lambda's map."""
        if not self.device_id.strip() or not self.host.strip():
            raise ValueError("device_id and host are required")
        if not 0 < self.port <= 0xFFFF:  # noqa: PLR2004
            raise ValueError("port must be within 1..65535")
        if not 0 <= self.unit_id <= 247:  # noqa: PLR2004
            raise ValueError("unit_id must be within 0..247")
        if not 0 <= self.heat_pump_index <= 2:  # noqa: PLR2004
            raise ValueError("heat_pump_index must be within 0..2")
        if not 0 <= self.heating_circuit_index <= 11:  # noqa: PLR2004
            raise ValueError("heating_circuit_index must be within 0..11")
        if self.boiler_index is not None and not 0 <= self.boiler_index <= 4:  # noqa: PLR2004
            raise ValueError("boiler_index must be within 0..4")
        comfort_checked(self.comfort)
        if not 0 <= self.boost_k <= 5:  # noqa: PLR2004
            raise ValueError("boost_k must be within 0..5")
        if not 0 < self.timeout_s <= 60 or not 0 <= self.reconnect_s <= 3600:  # noqa: PLR2004
            raise ValueError("timeout_s must be within 0..60, reconnect_s 0..3600")

    @property
    def heat_pump_base(self) -> int:
        """First register of this heat pump's module."""
        return REG_HEAT_PUMP + 100 * self.heat_pump_index

    @property
    def circuit_base(self) -> int:
        """First register of this heating circuit's module."""
        return REG_HEATING_CIRCUIT + 100 * self.heating_circuit_index


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaReading:
    """One poll of the heat pump."""

    outdoor_c: float | None
    flow_c: float
    return_c: float
    power_w: float
    heating_kw: float
    cop: float
    energy_kwh: float
    compressor_pct: float
    state: int
    operating_state: int
    error_state: int
    tank_c: float | None
    room_c: float | None
    circuit_mode: int
    room_setpoint_c: float


class LambdaHeatPump:
    """A Lambda heat pump: PowerSettable, PowerMeter and Thermal."""

    def __init__(
        self,
        config: LambdaConfig,
        *,
        clock: Clock = utc_now,
        link: ModbusLink | None = None,
    ) -> None:
        """Create the driver; the first :meth:`async_update` connects."""
        self.config = config
        self._clock = clock
        self._link = link or ModbusLink(
            config.host,
            config.port,
            config.unit_id,
            config.name,
            _LOGGER,
            timeout_s=config.timeout_s,
            reconnect_s=config.reconnect_s,
        )
        self.ledger = BlockingLedger(config.rules)
        self.reading: LambdaReading | None = None
        self._level = HeatLevel.NORMAL
        self._user_mode: int | None = None
        self._user_setpoint_c: float | None = None
        self._written_setpoint_c: float | None = None
        self._changed_at: datetime | None = None
        self.events: list[str] = []

    # -- Device -------------------------------------------------------------
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
        """Whether the last Modbus exchange worked and the pump reports no fault."""
        reading = self.reading
        return (
            self._link.available
            and reading is not None
            and reading.error_state < HP_ERROR_FAULT
        )

    # -- PowerMeter / Thermal ------------------------------------------------------
    @property
    def power_w(self) -> float | None:
        """Electric power of the compressor unit's inverter."""
        return None if self.reading is None else self.reading.power_w

    @property
    def energy_kwh(self) -> float | None:
        """Electric energy the compressor unit has taken."""
        return None if self.reading is None else self.reading.energy_kwh

    @property
    def temperature_c(self) -> float | None:
        """Room temperature of the heating circuit's room device."""
        return None if self.reading is None else self.reading.room_c

    @property
    def comfort(self) -> ComfortBand:
        """The band the house is kept in."""
        return self.config.comfort

    @property
    def level(self) -> HeatLevel:
        """The level the driver has set."""
        return self._level

    @property
    def user_setpoint_c(self) -> float | None:
        """The user's room setpoint (restored after a boost)."""
        return self._user_setpoint_c

    # -- polling -----------------------------------------------------------
    async def async_connect(self) -> None:
        """Connect now; DeviceUnavailableError if the pump does not answer."""
        await self._link.async_connect()

    def close(self) -> None:
        """Close the connection."""
        self._link.close()

    async def async_update(self) -> LambdaReading:
        """Poll the pump; adopt manual changes; end a block that is due."""
        cfg = self.config
        ambient = await self._link.read(REG_AMBIENT, AMBIENT_TEMP + 1)
        hp = await self._link.read(cfg.heat_pump_base, HP_BLOCK_LEN)
        circuit = await self._link.read(cfg.circuit_base, HC_MODE + 1)
        setpoint = await self._link.read(cfg.circuit_base + HC_ROOM_SETPOINT, 1)
        tank: float | None = None
        if cfg.boiler_index is not None:
            boiler = await self._link.read(
                REG_BOILER + 100 * cfg.boiler_index, BOILER_HIGH + 1
            )
            tank = _plausible(signed(boiler[BOILER_HIGH]) / 10.0, 0.0, 100.0)
        energy_wh = (hp[HP_ENERGY] << 16) | hp[HP_ENERGY + 1]
        if energy_wh & 0x80000000:
            energy_wh -= 0x100000000
        reading = LambdaReading(
            outdoor_c=_plausible(signed(ambient[AMBIENT_TEMP]) / 10.0, -50.0, 60.0),
            flow_c=signed(hp[HP_FLOW]) / 100.0,
            return_c=signed(hp[HP_RETURN]) / 100.0,
            power_w=float(max(signed(hp[HP_POWER]), 0)),
            heating_kw=signed(hp[HP_HEAT_CAPACITY]) / 10.0,
            cop=signed(hp[HP_COP]) / 100.0,
            energy_kwh=max(energy_wh, 0) / 1000.0,
            compressor_pct=hp[HP_COMPRESSOR] / 100.0,
            state=hp[HP_STATE],
            operating_state=hp[HP_OPERATING_STATE],
            error_state=hp[HP_ERROR_STATE],
            tank_c=tank,
            room_c=_plausible(signed(circuit[HC_ROOM]) / 10.0, -10.0, 45.0),
            circuit_mode=circuit[HC_MODE],
            room_setpoint_c=signed(setpoint[0]) / 10.0,
        )
        self.reading = reading
        self._adopt_manual(reading)
        if self._level is HeatLevel.BLOCK:
            await self._end_block_if_due()
        return reading

    def _adopt_manual(self, reading: LambdaReading) -> None:
        now = self._clock()
        if self._user_setpoint_c is None:
            self._user_setpoint_c = reading.room_setpoint_c
            self._written_setpoint_c = reading.room_setpoint_c
        elif (
            self._written_setpoint_c is not None
            and abs(reading.room_setpoint_c - self._written_setpoint_c) > 0.05  # noqa: PLR2004
        ):
            self._user_setpoint_c = reading.room_setpoint_c
            self._written_setpoint_c = reading.room_setpoint_c
            if self._level is HeatLevel.BOOST:
                self._level = HeatLevel.NORMAL
            self.events.append(f"manual room setpoint {reading.room_setpoint_c:g} degC")
        if reading.circuit_mode != HC_MODE_OFF:
            if self._level is HeatLevel.BLOCK:
                # Someone switched the circuit back on: the block is over.
                self.ledger.record_change(now, blocked=False)
                self._level = HeatLevel.NORMAL
                self._changed_at = now
                self.events.append("heating circuit switched on outside Stroomwijs")
            self._user_mode = reading.circuit_mode
        elif self._level is not HeatLevel.BLOCK and self._user_mode is None:
            # Off by the user's choice: nothing to block, nothing to restore.
            self._user_mode = HC_MODE_OFF

    async def _end_block_if_due(self) -> None:
        now = self._clock()
        temp = self.temperature_c
        reason: str | None = None
        if self.ledger.remaining_block_time(now) <= timedelta(0):
            reason = "the day's blocking time is used up"
        elif temp is not None and temp <= self.config.comfort.min_c:
            reason = f"the room is at {temp:.1f} degC, the comfort floor"
        if reason is None or not self.ledger.can_change(now):
            return
        await self._apply(HeatLevel.NORMAL, now)
        self.events.append(f"block ended: {reason}")
        _LOGGER.info("%s: block ended: %s", self.name, reason)

    # -- PowerSettable --------------------------------------------------------
    @property
    def setpoint_w(self) -> float | None:
        """The nominal power of the current level."""
        return self.config.spec.nominal_w(self._level)

    @property
    def power_range(self) -> PowerRange:
        """0 W only when the blocking rules allow a block now."""
        spec = self.config.spec
        now = self._clock()
        current = spec.nominal_w(self._level)
        if self.reading is None:
            return PowerRange(min_w=current, max_w=current)
        if not self.ledger.can_change(now):
            return PowerRange(min_w=current, max_w=current)
        blockable = (
            self.ledger.block_refused(now) is None and self._user_mode != HC_MODE_OFF
        )
        low = 0.0 if blockable else spec.rated_power_w
        return PowerRange(min_w=low, max_w=spec.max_w, min_active_w=spec.rated_power_w)

    async def async_set_power(self, setpoint_w: float) -> None:
        """Apply the level ``setpoint_w`` maps to (see heat_pump_common)."""
        level = self.config.spec.level_for(setpoint_w)
        if level is self._level:
            return
        if self.reading is None:
            msg = f"{self.name}: not read yet"
            raise DeviceUnavailableError(msg)
        now = self._clock()
        if level is HeatLevel.BLOCK:
            refused = self.ledger.block_refused(now)
            if refused is not None:
                msg = f"{self.name}: no block: {refused}"
                raise DeviceUnavailableError(msg)
            if self._user_mode == HC_MODE_OFF:
                msg = f"{self.name}: the circuit is off already"
                raise DeviceUnavailableError(msg)
        elif not self.ledger.can_change(now):
            msg = f"{self.name}: change too soon"
            raise DeviceUnavailableError(msg)
        await self._apply(level, now)

    async def _apply(self, level: HeatLevel, now: datetime) -> None:
        base = self.config.circuit_base
        user = self._user_setpoint_c
        if user is None:
            msg = f"{self.name}: user setpoint unknown"
            raise DeviceUnavailableError(msg)
        if level is HeatLevel.BLOCK:
            await self._link.write(base + HC_MODE, [HC_MODE_OFF])
        else:
            if self._level is HeatLevel.BLOCK:
                mode = self._user_mode or 2
                await self._link.write(base + HC_MODE, [mode])
            target = user
            if level is HeatLevel.BOOST:
                step = math.floor(
                    min(user + self.config.boost_k, self.comfort.max_c) * 10
                )
                target = max(step / 10.0, user)
            if self._written_setpoint_c is None or (
                abs(target - self._written_setpoint_c) > 0.05  # noqa: PLR2004
            ):
                await self._link.write(base + HC_ROOM_SETPOINT, [round(target * 10)])
                self._written_setpoint_c = target
        self.ledger.record_change(now, blocked=level is HeatLevel.BLOCK)
        self._level = level
        self._changed_at = now

    # -- planner / persistence ----------------------------------------------------
    def blocking_budget(self) -> BlockingBudget:
        """Return what the blocking rules still allow today."""
        return self.ledger.budget(self._clock())

    def planner_input(
        self,
        outdoor_c: Sequence[float] | None = None,
        *,
        slots: int = 192,
        gas: GasOption | None = None,
        window_setback_c: float = 0.0,
        preheat_minutes: float = 60.0,
    ) -> dict[str, Any]:
        """Build the planner's ``heat_pump`` device from the live state.

        Without a forecast, the measured outdoor temperature is held flat
        over ``slots`` slots.
        """
        now = self._clock()
        reading = self.reading
        if outdoor_c is None:
            if reading is None or reading.outdoor_c is None:
                msg = f"{self.name}: no outdoor temperature"
                raise DeviceUnavailableError(msg)
            outdoor_c = [reading.outdoor_c] * slots
        # On/off is the level the driver set, as the time in it is: the last
        # poll's power lags a block (and an unblocked compressor may not have
        # restarted yet), and "on for seconds" would make the planner keep it
        # on its minimum run while the blocking rules hold the block.
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
            blocking=self.blocking_budget(),
        )

    def export_state(self) -> dict[str, Any]:
        """JSON-safe state: rules, the user's mode and setpoint, the level."""
        return {
            "ledger": self.ledger.export_state(),
            "level": self._level.value,
            "user_mode": self._user_mode,
            "user_setpoint_c": self._user_setpoint_c,
            "written_setpoint_c": self._written_setpoint_c,
        }

    def restore_state(self, data: object) -> None:
        """Load :meth:`export_state` data; malformed data raises ValueError."""
        if not isinstance(data, dict):
            raise ValueError("Lambda state must be an object")  # noqa: TRY004
        self.ledger.restore_state(data.get("ledger"))
        level = HeatLevel(str(data.get("level", "normal")))
        mode = data.get("user_mode")
        if mode is not None and (
            isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 7  # noqa: PLR2004
        ):
            raise ValueError("user_mode must be 0..7")
        values: list[float | None] = []
        for key in ("user_setpoint_c", "written_setpoint_c"):
            raw = data.get(key)
            if raw is not None and (
                isinstance(raw, bool)
                or not isinstance(raw, int | float)
                or not 5 <= raw <= 35  # noqa: PLR2004
            ):
                msg = f"{key} must be within 5..35"
                raise ValueError(msg)
            values.append(None if raw is None else float(raw))
        self._level = level
        self._user_mode = mode
        self._user_setpoint_c, self._written_setpoint_c = values


def _plausible(value: float, low: float, high: float) -> float | None:
    return value if low <= value <= high else None
