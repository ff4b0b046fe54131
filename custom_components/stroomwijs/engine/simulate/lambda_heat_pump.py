"""A simulated Lambda heat pump (EU-L series) on Modbus TCP, with a house.

It serves the registers of Lambda's published Modbus description that the
driver uses (see docs/devices.md), computed from a :class:`HeatPumpUnit`
heating a :class:`ThermalHouse` on every request: ambient temperature (2),
heat pump state, flow and return temperatures, compressor rating, heating
capacity, electric power, COP and energy (1000..1021), hot-water tank
temperatures (2002/2003), and heating circuit 1 (5000..5006, 5050..5052).
Writable: the heating circuit's operating mode (5006; 0 = off stops the
compressor) and its room heating setpoint (5051, 0.1 degC). Other writes
are refused with ILLEGAL_ADDRESS, values out of range with ILLEGAL_VALUE.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from pymodbus.constants import ExcCodes

from .modbus_server import RegisterServer, to_u16
from .thermal import Clock, HeatPumpUnit, ThermalHouse, cop_at

REG_AMBIENT_TEMP = 2
REG_HP_ERROR_STATE = 1000
REG_HP_STATE = 1002
REG_HP_OPERATING_STATE = 1003
REG_HP_FLOW = 1004
REG_HP_RETURN = 1005
REG_HP_COMPRESSOR = 1010
REG_HP_HEAT_CAPACITY = 1011
REG_HP_POWER = 1012
REG_HP_COP = 1013
REG_HP_ENERGY = 1020
REG_BOILER_HIGH = 2002
REG_BOILER_LOW = 2003
REG_HC_OPERATING_STATE = 5001
REG_HC_FLOW = 5002
REG_HC_RETURN = 5003
REG_HC_ROOM = 5004
REG_HC_FLOW_SETPOINT = 5005
REG_HC_MODE = 5006
REG_HC_OFFSET = 5050
REG_HC_ROOM_SETPOINT = 5051
REGISTER_COUNT = 5100

HC_MODE_OFF = 0
HC_MODE_AUTOMATIC = 2
HC_MODES = range(8)
OPERATING_STANDBY = 0
OPERATING_HEATING = 1
OPERATING_OFF = 6


class LambdaSimulator:
    """The Modbus server and its physics."""

    def __init__(
        self,
        *,
        clock: Clock,
        house: ThermalHouse | None = None,
        rated_w: float = 2200.0,
        room_setpoint_c: float = 20.5,
        tank_c: float = 48.0,
    ) -> None:
        """Create the heat pump; ``async_start`` opens the port."""
        self.house = house or ThermalHouse(indoor_c=20.5, outdoor_c=3.0)
        self.unit = HeatPumpUnit(
            self.house, clock=clock, rated_w=rated_w, target_c=room_setpoint_c
        )
        self.clock = clock
        self.hc_mode = HC_MODE_AUTOMATIC
        self.tank_c = tank_c
        self.writes: list[tuple[int, int]] = []
        self.requests = 0
        self.delay_s = 0.0
        """Answer this late (a slow or hung gateway)."""
        self._server = RegisterServer(self._action, count=REGISTER_COUNT)

    def advance(self, now: datetime | None = None) -> None:
        """Bring the physics up to the clock."""
        self.unit.sg_mode = 1 if self.hc_mode == HC_MODE_OFF else 2
        self.unit.advance(now)
        self.unit.control(self.clock())

    def _fill(self, registers: list[int]) -> None:
        unit = self.unit
        running = unit.running
        cop = cop_at(self.house.outdoor_c)
        flow = 35.0 if running else 27.0
        registers[REG_AMBIENT_TEMP] = to_u16(round(self.house.outdoor_c * 10))
        registers[REG_HP_ERROR_STATE] = 0
        registers[REG_HP_STATE] = 3 if running else 1
        operating = OPERATING_HEATING if running else OPERATING_STANDBY
        if self.hc_mode == HC_MODE_OFF:
            operating = OPERATING_OFF
        registers[REG_HP_OPERATING_STATE] = operating
        registers[REG_HP_FLOW] = to_u16(round(flow * 100))
        registers[REG_HP_RETURN] = to_u16(round((flow - 5.0) * 100))
        registers[REG_HP_COMPRESSOR] = 10000 if running else 0
        registers[REG_HP_HEAT_CAPACITY] = to_u16(round(unit.power_w * cop / 100))
        registers[REG_HP_POWER] = to_u16(round(unit.power_w))
        registers[REG_HP_COP] = to_u16(round(cop * 100)) if running else 0
        energy_wh = round(unit.energy_kwh * 1000) & 0xFFFFFFFF
        registers[REG_HP_ENERGY] = energy_wh >> 16
        registers[REG_HP_ENERGY + 1] = energy_wh & 0xFFFF
        registers[REG_BOILER_HIGH] = to_u16(round(self.tank_c * 10))
        registers[REG_BOILER_LOW] = to_u16(round((self.tank_c - 6.0) * 10))
        registers[REG_HC_OPERATING_STATE] = 0 if self.hc_mode == HC_MODE_OFF else 1
        registers[REG_HC_FLOW] = to_u16(round(flow * 10))
        registers[REG_HC_RETURN] = to_u16(round((flow - 5.0) * 10))
        registers[REG_HC_ROOM] = to_u16(round(self.house.indoor_c * 10))
        registers[REG_HC_FLOW_SETPOINT] = to_u16(350)
        registers[REG_HC_MODE] = self.hc_mode
        registers[REG_HC_ROOM_SETPOINT] = to_u16(round(unit.target_c * 10))

    async def _action(  # noqa: PLR0917 - pymodbus calls it positionally
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        del function_code, start_address, count
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        self.requests += 1
        self.advance()
        if set_values is not None:
            for offset, raw in enumerate(set_values):
                error = self._write(address + offset, int(raw))
                if error is not None:
                    return error
            self.advance()
        self._fill(registers)
        return None

    def _write(self, address: int, raw: int) -> ExcCodes | None:
        self.writes.append((address, raw))
        if address == REG_HC_MODE:
            if raw not in HC_MODES:
                return ExcCodes.ILLEGAL_VALUE
            self.hc_mode = raw
            return None
        if address == REG_HC_ROOM_SETPOINT:
            if not 150 <= raw <= 300:  # noqa: PLR2004 - 15.0..30.0 degC
                return ExcCodes.ILLEGAL_VALUE
            self.unit.target_c = raw / 10.0
            return None
        return ExcCodes.ILLEGAL_ADDRESS

    async def async_start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; return the port."""
        return await self._server.async_start(host, port)

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.port

    async def async_stop(self) -> None:
        """Close the server."""
        await self._server.async_stop()
