"""A simulated Wallbox Quasar (DC bidirectional) Modbus TCP server.

It implements the registers V2G Liberty documents, with physics: the power
ramps towards the setpoint (so a driver has to let it settle), the car's
SoC follows the energy moved, charging stops at 100 % and discharging at
the car's floor, and the Modbus idle timeout hands control back to the
charger (power to zero) when the controller goes quiet.

Registers (holding, device id 1): 81 control mode (0 user, 1 remote), 83
setpoint type (0 current, 1 power), 88 Modbus idle timeout in s, 257
start (1) / stop (2), 260 power setpoint in W (two's complement), 526
actual power in W (two's complement), 537 state, 538 SoC in %.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import logging
import time
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

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
SETPOINT_CURRENT = 0
SETPOINT_POWER = 1
START = 1
STOP = 2

STATE_READY = 0
STATE_CHARGING = 1
STATE_WAITING = 2
STATE_PAUSED = 4
STATE_DISCHARGING = 11

MAX_POWER_W = 7400
MIN_POWER_W = 1380
REGISTER_COUNT = 600


def to_register(value: int) -> int:
    """Encode a signed 16-bit value as two's complement."""
    return value & 0xFFFF


def from_register(value: int) -> int:
    """Decode a two's complement 16-bit register."""
    return value - 0x10000 if value & 0x8000 else value


@dataclass(slots=True, kw_only=True)
class QuasarState:
    """What the simulated charger and car are doing."""

    control_mode: int = CONTROL_USER
    setpoint_type: int = SETPOINT_CURRENT
    idle_timeout_s: int = 0
    running: bool = False
    setpoint_w: int = 0
    power_w: float = 0.0
    plugged_in: bool = True
    soc: float = 0.5
    capacity_kwh: float = 40.0
    min_soc: float = 0.1
    failsafe_tripped: bool = False


class QuasarSimulator:
    """The Modbus server and its physics."""

    def __init__(
        self,
        *,
        soc: float = 0.5,
        capacity_kwh: float = 40.0,
        ramp_w_per_s: float = 4000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the simulated charger; ``async_start`` opens the port."""
        self.state = QuasarState(soc=soc, capacity_kwh=capacity_kwh)
        self.ramp_w_per_s = ramp_w_per_s
        self.clock = clock
        self._last_update = clock()
        self._last_access = clock()
        self._soc_glitches: list[int] = []
        self._power_glitches: list[int] = []
        self._server: ModbusTcpServer | None = None
        self.writes: list[tuple[int, int]] = []

    # -- physics -----------------------------------------------------------------------
    def target_power_w(self) -> float:
        """Return the power the charger steers towards."""
        state = self.state
        if not (state.plugged_in and state.running):
            return 0.0
        if (
            state.control_mode != CONTROL_REMOTE
            or state.setpoint_type != SETPOINT_POWER
        ):
            return 0.0
        target = max(-MAX_POWER_W, min(MAX_POWER_W, state.setpoint_w))
        if abs(target) < MIN_POWER_W:
            return 0.0
        if target > 0 and state.soc >= 1.0:
            return 0.0
        if target < 0 and state.soc <= state.min_soc:
            return 0.0
        return float(target)

    def advance(self) -> None:
        """Bring power and SoC up to the clock (tripping the failsafe on time)."""
        now = self.clock()
        state = self.state
        if state.control_mode == CONTROL_REMOTE and state.idle_timeout_s > 0:
            trip_at = self._last_access + state.idle_timeout_s
            if now > trip_at:
                self._integrate(max(0.0, trip_at - self._last_update))
                _LOGGER.debug("Modbus idle timeout: control returns to the charger")
                state.control_mode = CONTROL_USER
                state.running = False
                state.setpoint_w = 0
                state.failsafe_tripped = True
        self._integrate(max(0.0, now - self._last_update))

    def _integrate(self, dt: float) -> None:
        """Ramp the power towards the target for ``dt`` s and move the SoC."""
        self._last_update += dt
        state = self.state
        target = self.target_power_w()
        start = state.power_w
        ramp_time = abs(target - start) / self.ramp_w_per_s
        if ramp_time <= dt:
            state.power_w = target
            energy_ws = (start + target) / 2.0 * ramp_time + target * (dt - ramp_time)
        else:
            step = self.ramp_w_per_s * dt
            state.power_w = start + step if target > start else start - step
            energy_ws = (start + state.power_w) / 2.0 * dt
        state.soc += energy_ws / 3_600_000.0 / state.capacity_kwh
        state.soc = min(1.0, max(0.0, state.soc))

    def state_code(self) -> int:
        """Return register 537."""
        state = self.state
        if not state.plugged_in:
            return STATE_READY
        if state.power_w < 0:
            return STATE_DISCHARGING
        if state.power_w > 0:
            return STATE_CHARGING
        if state.control_mode == CONTROL_REMOTE and not state.running:
            return STATE_PAUSED
        return STATE_WAITING

    def glitch_soc(self, *values: int) -> None:
        """Make the next SoC reads return ``values`` (as some firmware does)."""
        self._soc_glitches.extend(values)

    def glitch_power(self, *values: int) -> None:
        """Make the next power reads return ``values`` in W (a corrupt register)."""
        self._power_glitches.extend(values)

    # -- Modbus -----------------------------------------------------------------------
    async def _action(  # noqa: PLR0917 - pymodbus calls it positionally
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        del function_code, count
        self.advance()
        self._last_access = self.clock()
        if set_values is not None:
            for offset, raw in enumerate(set_values):
                error = self._write(address + offset, int(raw))
                if error is not None:
                    return error
            self.advance()
        power = round(self.state.power_w)
        if self._power_glitches and set_values is None:
            power = self._power_glitches.pop(0)
        registers[REG_POWER - start_address] = to_register(power)
        registers[REG_STATE - start_address] = self.state_code()
        soc = round(self.state.soc * 100.0)
        if self._soc_glitches and set_values is None:
            soc = self._soc_glitches.pop(0)
        registers[REG_SOC - start_address] = soc
        return None

    def _write(self, address: int, raw: int) -> ExcCodes | None:  # noqa: PLR0911
        state = self.state
        self.writes.append((address, raw))
        if address == REG_CONTROL_MODE and raw in {CONTROL_USER, CONTROL_REMOTE}:
            state.control_mode = raw
            state.failsafe_tripped = False
            if raw == CONTROL_USER:
                state.running = False
            return None
        if address == REG_SETPOINT_TYPE and raw in {SETPOINT_CURRENT, SETPOINT_POWER}:
            state.setpoint_type = raw
            return None
        if address == REG_IDLE_TIMEOUT:
            state.idle_timeout_s = raw
            return None
        if address in {REG_START_STOP, REG_SETPOINT_W}:
            if state.control_mode != CONTROL_REMOTE:
                return ExcCodes.ILLEGAL_VALUE  # only in remote control
            if address == REG_START_STOP and raw in {START, STOP}:
                state.running = raw == START
                return None
            if address == REG_SETPOINT_W:
                value = from_register(raw)
                if abs(value) > MAX_POWER_W:
                    return ExcCodes.ILLEGAL_VALUE
                state.setpoint_w = value
                return None
        return ExcCodes.ILLEGAL_VALUE

    async def async_start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host``:``port`` (0 = any free port); returns the port."""
        device = SimDevice(
            id=1,
            simdata=[
                SimData(
                    address=0,
                    count=REGISTER_COUNT,
                    values=0,
                    datatype=DataType.REGISTERS,
                )
            ],
            action=self._action,
        )
        server = ModbusTcpServer(device, address=(host, port))
        await server.serve_forever(background=True)
        self._server = server
        return self.port

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            msg = "simulator not started"
            raise RuntimeError(msg)
        transport: Any = self._server.transport
        return int(transport.sockets[0].getsockname()[1])

    async def async_stop(self) -> None:
        """Close the server."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None


def main(argv: list[str] | None = None) -> int:
    """Serve a simulated Quasar until interrupted (for the demo)."""
    import argparse  # noqa: PLC0415
    import asyncio  # noqa: PLC0415
    import contextlib  # noqa: PLC0415

    parser = argparse.ArgumentParser(description="Simulated Wallbox Quasar")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5020)
    parser.add_argument("--soc", type=float, default=0.5, help="start SoC, 0..1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    async def _serve() -> None:
        sim = QuasarSimulator(soc=args.soc)
        port = await sim.async_start(args.host, args.port)
        _LOGGER.info("simulated Quasar on %s:%s", args.host, port)
        try:
            await asyncio.Event().wait()
        finally:
            await sim.async_stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
