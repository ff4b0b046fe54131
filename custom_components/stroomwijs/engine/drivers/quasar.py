"""Wallbox Quasar (DC bidirectional, CHAdeMO) over Modbus TCP with pymodbus.

Register map as published by V2G Liberty: 81 control mode (1 = remote),
83 setpoint type (1 = power), 88 Modbus idle timeout (the failsafe: when
Stroomwijs goes quiet for that long the charger takes control back and
stops), 257 start (1) / stop (2), 260 power setpoint in W as two's
complement (negative = discharge); status 526 power, 537 state (11 =
discharging), 538 SoC.

The charger accepts at most 7400 W either way and nothing between 0 and
1380 W; after a write the power needs a few seconds to settle, so a new
setpoint waits until the previous one has settled (the write itself returns
at once, so the guard never stalls), and an unchanged setpoint is not
written again. The Quasar sometimes reports
a SoC of 0 or a sudden jump right after plug-in; such values are ignored
until they repeat.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import logging
import math
import time

from pymodbus import ModbusException
from pymodbus.client import AsyncModbusTcpClient

from custom_components.stroomwijs.engine.capabilities import (
    DepartureNeeds,
    DeviceUnavailableError,
    PowerRange,
)

_LOGGER = logging.getLogger(__name__)

REG_CONTROL_MODE = 81
REG_SETPOINT_TYPE = 83
REG_IDLE_TIMEOUT = 88
REG_START_STOP = 257
REG_SETPOINT_W = 260
REG_POWER = 526
REG_STATE = 537
REG_SOC = 538

CONTROL_USER = 0
CONTROL_REMOTE = 1
SETPOINT_POWER = 1
START = 1
STOP = 2

INT16_MIN = -0x8000
INT16_MAX = 0x7FFF
MAX_POWER_W = 7400.0
PLAUSIBLE_POWER_FACTOR = 2.0
"""A power register beyond this times the 7.4 kW the Quasar carries is corrupt."""
MIN_POWER_W = 1380.0

STATE_NAMES: dict[int, str] = {
    0: "ready",
    1: "charging",
    2: "waiting_for_car",
    3: "waiting_for_schedule",
    4: "paused",
    5: "schedule_end",
    6: "locked",
    7: "error",
    8: "waiting_current_assignment",
    9: "unconfigured_power_sharing",
    10: "queued_power_boost",
    11: "discharging",
    12: "waiting_admin_auth",
    13: "waiting_mid_safety",
    14: "waiting_mid_check",
}
STATE_DISCONNECTED = 0
STATE_DISCHARGING = 11


def to_register(value: int) -> int:
    """Encode a signed 16-bit value as two's complement."""
    if not INT16_MIN <= value <= INT16_MAX:
        msg = f"{value} does not fit a signed 16-bit register"
        raise ValueError(msg)
    return value & 0xFFFF


def from_register(value: int) -> int:
    """Decode a two's complement 16-bit register."""
    return value - 0x10000 if value & 0x8000 else value


@dataclass(frozen=True, slots=True, kw_only=True)
class QuasarConfig:
    """How to reach and drive one Quasar."""

    host: str
    port: int = 502
    device_id: int = 1
    name: str = "Wallbox Quasar"
    capacity_kwh: float | None = None
    max_power_w: float = MAX_POWER_W
    min_power_w: float = MIN_POWER_W
    idle_timeout_s: int = 60
    """Failsafe: the charger takes control back after this much silence."""
    settle_s: float = 5.0
    timeout_s: float = 3.0
    minimum_instead_of_pause: bool = False
    soc_max_jump_pct: float = 10.0

    def __post_init__(self) -> None:
        """Reject settings the charger cannot take."""
        if not 0 < self.max_power_w <= MAX_POWER_W:
            msg = f"maximum power must be within 0..{MAX_POWER_W:g} W"
            raise ValueError(msg)
        if not MIN_POWER_W <= self.min_power_w <= self.max_power_w:
            msg = f"minimum power must be within {MIN_POWER_W:g} W..maximum"
            raise ValueError(msg)
        if not 0 < self.idle_timeout_s <= 0xFFFF:  # noqa: PLR2004
            msg = "idle timeout must be 1..65535 s (0 would disable the failsafe)"
            raise ValueError(msg)
        if self.settle_s < 0:
            msg = "settle time cannot be negative"
            raise ValueError(msg)


class QuasarCharger:
    """A Quasar as a PowerMeter, PowerSettable and Bidirectional."""

    def __init__(
        self, config: QuasarConfig, *, client: AsyncModbusTcpClient | None = None
    ) -> None:
        """Create the driver; ``async_connect`` opens the connection."""
        self.config = config
        self._client = client or AsyncModbusTcpClient(
            config.host, port=config.port, timeout=config.timeout_s, retries=1
        )
        self._lock = asyncio.Lock()
        self._available = False
        self._logged_unavailable = False
        self._power_w: float | None = None
        self._state_code: int | None = None
        self._soc_pct: float | None = None
        self._soc_candidate: float | None = None
        self._setpoint_w: float | None = None
        self._remote = False
        self._written_at = -math.inf
        self._settled_at = -math.inf
        self._v2g_allowed = True
        self._min_soc = 0.2
        self._departure = DepartureNeeds(departure=None, target_soc=None)
        self.rejected_soc_readings = 0
        self.rejected_power_readings = 0

    # -- Device ------------------------------------------------------------------
    @property
    def device_id(self) -> str:
        """Stable identifier."""
        return f"quasar_{self.config.host}_{self.config.device_id}"

    @property
    def name(self) -> str:
        """Human-readable name."""
        return self.config.name

    @property
    def available(self) -> bool:
        """Whether the last Modbus exchange worked."""
        return self._available

    def _set_available(self, *, available: bool, reason: str = "") -> None:
        """Track availability; log once when it is lost and once when back."""
        self._available = available
        if not available and not self._logged_unavailable:
            self._logged_unavailable = True
            _LOGGER.info("Quasar %s is unavailable: %s", self.name, reason)
        elif available and self._logged_unavailable:
            self._logged_unavailable = False
            _LOGGER.info("Quasar %s is available again", self.name)

    # -- PowerMeter --------------------------------------------------------------
    @property
    def power_w(self) -> float | None:
        """Measured power, negative while discharging; None while unavailable."""
        return self._power_w if self._available else None

    @property
    def energy_kwh(self) -> float | None:
        """The Quasar has no energy register in this map."""
        return None

    # -- Bidirectional -----------------------------------------------------------
    @property
    def soc(self) -> float | None:
        """Filtered SoC as a fraction."""
        return None if self._soc_pct is None else self._soc_pct / 100.0

    @property
    def capacity_kwh(self) -> float | None:
        """From the configuration."""
        return self.config.capacity_kwh

    @property
    def plugged_in(self) -> bool:
        """Whether a car is connected (any state but ``ready``)."""
        return self._state_code not in (None, STATE_DISCONNECTED)

    @property
    def state(self) -> str | None:
        """The charger state as a name."""
        if self._state_code is None:
            return None
        return STATE_NAMES.get(self._state_code, f"unknown_{self._state_code}")

    @property
    def departure(self) -> DepartureNeeds:
        """The user's departure needs (the Quasar does not report any)."""
        return self._departure

    @property
    def discharge_allowed(self) -> bool:
        """Whether discharge is allowed now."""
        if not (self._v2g_allowed and self.plugged_in):
            return False
        soc = self.soc
        return soc is not None and soc > self._departure.min_soc

    def set_departure(self, needs: DepartureNeeds) -> None:
        """Set the user's departure needs."""
        self._departure = needs

    @property
    def v2g_allowed(self) -> bool:
        """Whether the user allows discharge at all."""
        return self._v2g_allowed

    def set_v2g_allowed(self, allowed: bool) -> None:  # noqa: FBT001
        """Allow or forbid discharge."""
        self._v2g_allowed = allowed

    # -- PowerSettable -----------------------------------------------------------
    @property
    def power_range(self) -> PowerRange:
        """+/- 7400 W, nothing between 0 and 1380 W; no discharge unless allowed."""
        if not self.plugged_in:
            return PowerRange(min_w=0.0, max_w=0.0)
        min_w = -self.config.max_power_w if self.discharge_allowed else 0.0
        return PowerRange(
            min_w=min_w,
            max_w=self.config.max_power_w,
            min_active_w=self.config.min_power_w,
        )

    @property
    def setpoint_w(self) -> float | None:
        """The setpoint last written."""
        return self._setpoint_w

    def clamp(self, setpoint_w: float) -> int:
        """Return the whole-watt setpoint that would be written."""
        allow_pause = not self.config.minimum_instead_of_pause
        return round(self.power_range.clamp(setpoint_w, allow_pause=allow_pause))

    @property
    def settling(self) -> bool:
        """Whether the last write is still settling (readings not final yet)."""
        return time.monotonic() < self._settled_at

    async def async_set_power(self, setpoint_w: float) -> None:
        """Take remote control and write the setpoint.

        Returns once written: the guard must not stall for the settle time.
        A new, different setpoint waits until the previous one has settled;
        an unchanged one is not written again (while well inside the idle
        timeout, so remote control is re-asserted now and then).
        """
        if math.isnan(setpoint_w):
            msg = "setpoint is not a number"
            raise ValueError(msg)
        await self._async_write_setpoint(self.clamp(setpoint_w))

    async def async_emergency_pause(self) -> None:
        """Stop charging now, even with ``minimum_instead_of_pause``.

        Only the guard calls this, when the DSO limit or the fuse cannot be
        held otherwise (it tells the user why).
        """
        await self._async_write_setpoint(0)

    async def _async_write_setpoint(self, value: int) -> None:
        async with self._lock:
            now = time.monotonic()
            fresh = now - self._written_at < self.config.idle_timeout_s / 2
            if self._remote and fresh and self._setpoint_w == float(value):
                return
            if (wait := self._settled_at - now) > 0:
                await asyncio.sleep(wait)
            # Re-assert remote control every time: the idle-timeout failsafe
            # may have handed control back to the charger since the last write.
            await self._write(REG_CONTROL_MODE, CONTROL_REMOTE)
            await self._write(REG_SETPOINT_TYPE, SETPOINT_POWER)
            await self._write(REG_IDLE_TIMEOUT, self.config.idle_timeout_s)
            self._remote = True
            await self._write(REG_SETPOINT_W, to_register(value))
            await self._write(REG_START_STOP, START if value != 0 else STOP)
            self._setpoint_w = float(value)
            self._written_at = time.monotonic()
            self._settled_at = self._written_at + self.config.settle_s

    async def async_release(self) -> None:
        """Hand control back to the charger (user mode)."""
        async with self._lock:
            await self._write(REG_CONTROL_MODE, CONTROL_USER)
            self._remote = False
            self._setpoint_w = None

    # -- Modbus ------------------------------------------------------------------
    async def async_connect(self) -> None:
        """Open the TCP connection; DeviceUnavailableError if it fails."""
        if not await self._client.connect():
            msg = f"no Modbus connection to {self.config.host}:{self.config.port}"
            self._set_available(available=False, reason=msg)
            raise DeviceUnavailableError(msg)
        self._set_available(available=True)

    def close(self) -> None:
        """Close the TCP connection (the idle timeout then releases control)."""
        self._client.close()
        self._available = False
        self._remote = False

    async def async_update(self) -> None:
        """Read power, state and SoC in one request."""
        async with self._lock:
            try:
                result = await self._client.read_holding_registers(
                    REG_POWER,
                    count=REG_SOC - REG_POWER + 1,
                    device_id=self.config.device_id,
                )
            except ModbusException as err:
                msg = f"Quasar read failed: {err}"
                self._set_available(available=False, reason=msg)
                raise DeviceUnavailableError(msg) from err
        if result.isError():
            msg = f"Quasar refused the read: {result}"
            self._set_available(available=False, reason=msg)
            raise DeviceUnavailableError(msg)
        registers = result.registers
        self._set_available(available=True)
        power = float(from_register(registers[0]))
        if abs(power) > PLAUSIBLE_POWER_FACTOR * MAX_POWER_W:
            # A corrupt register, not a reading: the power is unknown.
            self.rejected_power_readings += 1
            self._power_w = None
            _LOGGER.debug("Quasar %s: implausible power %s W ignored", self.name, power)
        else:
            self._power_w = power
        state_code = registers[REG_STATE - REG_POWER]
        if state_code == STATE_DISCONNECTED and self._state_code != STATE_DISCONNECTED:
            self._soc_pct = None
            self._soc_candidate = None
        self._state_code = state_code
        if state_code == STATE_DISCONNECTED:
            return
        self._accept_soc(float(registers[REG_SOC - REG_POWER]))

    def _accept_soc(self, value: float) -> None:
        """Keep plausible SoC readings; a jump counts once it repeats."""
        if not 1.0 <= value <= 100.0:  # noqa: PLR2004 - 0 = not read from the car yet
            self.rejected_soc_readings += 1
            return
        last = self._soc_pct
        if last is None or abs(value - last) <= self.config.soc_max_jump_pct:
            self._soc_pct = value
            self._soc_candidate = None
            return
        if self._soc_candidate is not None and abs(value - self._soc_candidate) <= 1.0:
            self._soc_pct = value
            self._soc_candidate = None
            return
        self._soc_candidate = value
        self.rejected_soc_readings += 1

    async def _write(self, address: int, value: int) -> None:
        try:
            result = await self._client.write_register(
                address, value, device_id=self.config.device_id
            )
        except ModbusException as err:
            self._remote = False
            msg = f"Quasar write of register {address} failed: {err}"
            self._set_available(available=False, reason=msg)
            raise DeviceUnavailableError(msg) from err
        if result.isError():
            self._remote = False
            msg = f"Quasar refused {value} for register {address}"
            raise DeviceUnavailableError(msg)
