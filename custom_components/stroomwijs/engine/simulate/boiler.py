"""A simulated electric boiler: a stratification-free tank with a thermostat.

The tank loses heat to the room, hot water is drawn by the hour (the
driver's default daily shape times ``draw_scale``, so an estimate can be
wrong the way real ones are), and the element heats when its supply is on
and its own thermostat allows: it stops at ``thermostat_c`` and starts
again 5 K below. Three ways in, as in real homes:

* :class:`BoilerPlugSim`: a metered smart plug (switch + power sensor), with
  an optional tank sensor;
* :class:`WaterHeaterSim`: a ``water_heater`` entity whose target drives the
  thermostat;
* :class:`BoilerModbusRelaySim`: a Modbus TCP relay module (coil 0) with the
  tank temperature in holding register 100 (0.1 degC).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pymodbus.constants import ExcCodes

from custom_components.stroomwijs.engine.drivers.boiler import DEFAULT_DRAW_SHAPE

from .entities import InMemoryEntityPort
from .modbus_server import RegisterServer, to_u16
from .thermal import Clock

WATER_KWH_PER_LITRE_K = 4.186 / 3600.0
HYSTERESIS_K = 5.0
MAX_STEP_S = 30.0
REG_TANK_C = 100
MODBUS_COUNT = 200


class TankSim:
    """The tank, its element and its thermostat."""

    def __init__(
        self,
        *,
        clock: Clock,
        volume_l: float = 120.0,
        element_w: float = 2000.0,
        thermostat_c: float = 65.0,
        temperature_c: float = 50.0,
        loss_w_per_k: float = 1.5,
        room_c: float = 18.0,
        daily_draw_kwh: float = 4.0,
        draw_scale: float = 1.0,
        timezone: str = "Europe/Amsterdam",
    ) -> None:
        """Create a tank at ``temperature_c``."""
        self.clock = clock
        self.volume_l = volume_l
        self.element_w = element_w
        self.thermostat_c = thermostat_c
        self.temperature_c = temperature_c
        self.loss_w_per_k = loss_w_per_k
        self.room_c = room_c
        self.daily_draw_kwh = daily_draw_kwh * draw_scale
        self.zone = ZoneInfo(timezone)
        self.supply_on = False
        self.heating = False
        self.energy_kwh = 0.0
        self.max_seen_c = temperature_c
        self.min_seen_c = temperature_c
        self._last = clock()

    @property
    def power_w(self) -> float:
        """Electric power now."""
        return self.element_w if self.supply_on and self.heating else 0.0

    def _thermostat(self) -> None:
        if self.heating:
            self.heating = self.temperature_c < self.thermostat_c
        else:
            self.heating = self.temperature_c < self.thermostat_c - HYSTERESIS_K

    def advance(self, now: datetime | None = None) -> None:
        """Integrate up to ``now``."""
        now = self.clock() if now is None else now
        cap = self.volume_l * WATER_KWH_PER_LITRE_K
        while self._last < now:
            step = min(now - self._last, timedelta(seconds=MAX_STEP_S))
            hours = step.total_seconds() / 3600.0
            self._thermostat()
            heat = self.power_w / 1000.0 * hours
            loss = (
                self.loss_w_per_k / 1000.0 * (self.temperature_c - self.room_c) * hours
            )
            share = DEFAULT_DRAW_SHAPE[self._last.astimezone(self.zone).hour]
            draw = self.daily_draw_kwh * share * hours
            self.temperature_c += (heat - loss - draw) / cap
            self.energy_kwh += heat
            self._last += step
            self.max_seen_c = max(self.max_seen_c, self.temperature_c)
            self.min_seen_c = min(self.min_seen_c, self.temperature_c)
        self._thermostat()


class BoilerPlugSim:
    """The tank behind a metered smart plug (and maybe a tank sensor)."""

    def __init__(
        self,
        port: InMemoryEntityPort,
        tank: TankSim,
        *,
        switch: str = "switch.boiler",
        power_sensor: str | None = "sensor.boiler_power",
        temperature_sensor: str | None = None,
    ) -> None:
        """Register the plug with ``port``."""
        self.port = port
        self.tank = tank
        self.switch = switch
        self.power_sensor = power_sensor
        self.temperature_sensor = temperature_sensor
        port.handle(switch, self._call)
        self.publish()

    def _call(self, service: str, data: Mapping[str, object]) -> None:
        del data
        if service not in {"turn_on", "turn_off"}:
            msg = f"plug does not offer {service}"
            raise ValueError(msg)
        self.tank.advance()
        self.tank.supply_on = service == "turn_on"
        self.publish()

    def publish(self) -> None:
        """Advance the tank and publish the entities."""
        self.tank.advance()
        self.port.set_state(self.switch, "on" if self.tank.supply_on else "off")
        if self.power_sensor is not None:
            self.port.set_state(
                self.power_sensor,
                round(self.tank.power_w, 1),
                {"unit_of_measurement": "W", "device_class": "power"},
            )
        if self.temperature_sensor is not None:
            self.port.set_state(
                self.temperature_sensor,
                round(self.tank.temperature_c, 1),
                {"unit_of_measurement": "°C", "device_class": "temperature"},
            )


class WaterHeaterSim:
    """The tank as a ``water_heater`` entity: its target is the thermostat."""

    def __init__(
        self,
        port: InMemoryEntityPort,
        tank: TankSim,
        *,
        entity_id: str = "water_heater.boiler",
        power_sensor: str | None = "sensor.boiler_power",
        min_temp: float = 35.0,
        max_temp: float = 75.0,
    ) -> None:
        """Publish the entity; the element is always supplied."""
        self.port = port
        self.tank = tank
        self.entity_id = entity_id
        self.power_sensor = power_sensor
        self.min_temp = min_temp
        self.max_temp = max_temp
        tank.supply_on = True
        port.handle(entity_id, self._call)
        self.publish()

    def _call(self, service: str, data: Mapping[str, object]) -> None:
        if service != "set_temperature":
            msg = f"water heater does not offer {service}"
            raise ValueError(msg)
        value = data.get("temperature")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("temperature must be a number")
        if not self.min_temp <= value <= self.max_temp:
            msg = f"{value} is outside {self.min_temp}..{self.max_temp}"
            raise ValueError(msg)
        self.tank.advance()
        self.tank.thermostat_c = float(value)
        self.publish()

    def publish(self) -> None:
        """Advance the tank and publish the entities."""
        self.tank.advance()
        self.port.set_state(
            self.entity_id,
            "electric",
            {
                "temperature": self.tank.thermostat_c,
                "current_temperature": round(self.tank.temperature_c, 1),
                "min_temp": self.min_temp,
                "max_temp": self.max_temp,
            },
        )
        if self.power_sensor is not None:
            self.port.set_state(
                self.power_sensor,
                round(self.tank.power_w, 1),
                {"unit_of_measurement": "W", "device_class": "power"},
            )


class BoilerModbusRelaySim:
    """A Modbus TCP relay module: coil 0 supplies the element; tank in reg 100."""

    def __init__(self, tank: TankSim) -> None:
        """Create the relay; ``async_start`` opens the port."""
        self.tank = tank
        self._server = RegisterServer(self._action, count=MODBUS_COUNT)

    async def _action(  # noqa: PLR0917 - pymodbus calls it positionally
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        del start_address, count
        self.tank.advance()
        if set_values is not None:
            if function_code not in {5, 15} or address != 0:
                return ExcCodes.ILLEGAL_ADDRESS
            self.tank.supply_on = bool(set_values[0])
            self.tank.advance()
        registers[REG_TANK_C] = to_u16(round(self.tank.temperature_c * 10))
        return None

    async def async_start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; return the port."""
        return await self._server.async_start(host, port)

    async def async_stop(self) -> None:
        """Close the server."""
        await self._server.async_stop()
