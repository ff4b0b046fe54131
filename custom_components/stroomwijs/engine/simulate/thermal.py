"""Simulated heat pumps: a house, a heat pump, SG-Ready relays, a thermostat.

A thermal house, a heat pump with its own controller, SG-Ready relays and a
``climate`` entity, all on an in-memory entity host.

The house is the planner's first-order model, integrated in small steps::

    C dT/dt = Q_heat + gains - UA (T - T_out)

The heat pump runs its own thermostat with hysteresis and minimum run and
rest times, as real controllers do; SG-Ready mode 1 stops it, mode 3 raises
its target by ``boost_k``, mode 4 runs it up to the top of its range. Its
COP follows the outdoor temperature like the planner's. The simulated pump
publishes a power sensor and a room-temperature sensor, so drivers read it
exactly as they read a real one through Home Assistant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from .entities import InMemoryEntityPort

type Clock = Callable[[], datetime]

MAX_STEP_S = 60.0


@dataclass(slots=True, kw_only=True)
class ThermalHouse:
    """A first-order house."""

    indoor_c: float = 20.5
    outdoor_c: float = 5.0
    heat_capacity_kwh_per_k: float = 12.0
    heat_loss_kw_per_k: float = 0.18
    gains_kw: float = 0.2

    def advance(self, seconds: float, heat_kw: float) -> None:
        """Integrate ``seconds`` with ``heat_kw`` going in."""
        remaining = seconds
        while remaining > 0:
            step = min(remaining, MAX_STEP_S)
            hours = step / 3600.0
            flow = (
                heat_kw
                + self.gains_kw
                - self.heat_loss_kw_per_k * (self.indoor_c - self.outdoor_c)
            )
            self.indoor_c += flow * hours / self.heat_capacity_kwh_per_k
            remaining -= step


def cop_at(outdoor_c: float, at_7c: float = 3.5, slope: float = 0.08) -> float:
    """Return the COP for an outdoor temperature (the planner's curve)."""
    return min(max(at_7c + slope * (outdoor_c - 7.0), 1.0), 8.0)


class HeatPumpUnit:
    """A heat pump with its own thermostat (on/off compressor)."""

    def __init__(
        self,
        house: ThermalHouse,
        *,
        clock: Clock,
        rated_w: float = 2500.0,
        target_c: float = 20.5,
        hysteresis_k: float = 0.3,
        boost_k: float = 1.0,
        max_c: float = 24.0,
        min_on: timedelta = timedelta(minutes=10),
        min_off: timedelta = timedelta(minutes=10),
        running: bool = False,
    ) -> None:
        """Heat ``house``; the thermostat holds ``target_c``."""
        self.house = house
        self.clock = clock
        self.rated_w = rated_w
        self.target_c = target_c
        self.hysteresis_k = hysteresis_k
        self.boost_k = boost_k
        self.max_c = max_c
        self.min_on = min_on
        self.min_off = min_off
        self.sg_mode = 2
        self.running = running
        self._since = clock() - max(min_on, min_off)
        self._last = clock()
        self.energy_kwh = 0.0
        self.heat_kwh = 0.0
        self.gas_mode = False
        """Hybrid: the gas burner heats instead of the compressor."""
        self.gas_kw = 12.0
        self.burner_on = False
        self.gas_heat_kwh = 0.0

    @property
    def power_w(self) -> float:
        """Electric power now."""
        return self.rated_w if self.running else 0.0

    def _wants_heat(self) -> bool:
        temp = self.house.indoor_c
        if self.sg_mode == 1:
            return False
        if self.sg_mode == 4:  # noqa: PLR2004
            return temp < self.max_c
        target = self.target_c + (self.boost_k if self.sg_mode == 3 else 0.0)  # noqa: PLR2004
        target = min(target, self.max_c)
        if self.running:
            return temp < target + self.hysteresis_k
        return temp < target - self.hysteresis_k

    def control(self, now: datetime) -> None:
        """Run the controller: thermostat, minimum times, SG-Ready, gas."""
        held = now - self._since
        want = self._wants_heat()
        if self.gas_mode:
            # The hybrid's controller stops the compressor; the burner
            # follows the thermostat (an SG-Ready block does not stop gas).
            self.burner_on = self.house.indoor_c < self.target_c + (
                self.hysteresis_k if self.burner_on else -self.hysteresis_k
            )
            if self.running:
                self.running = False
                self._since = now
            return
        self.burner_on = False
        if self.sg_mode == 1 and self.running:
            # A block stops the compressor at once (the utility's right).
            self.running = False
            self._since = now
            return
        if want and not self.running and held >= self.min_off:
            self.running = True
            self._since = now
        elif not want and self.running and held >= self.min_on:
            self.running = False
            self._since = now

    def advance(self, now: datetime | None = None) -> None:
        """Run the physics and the controller up to ``now``."""
        now = self.clock() if now is None else now
        while self._last < now:
            step = min(now - self._last, timedelta(seconds=MAX_STEP_S))
            seconds = step.total_seconds()
            power_kw = self.power_w / 1000.0
            heat_kw = power_kw * cop_at(self.house.outdoor_c)
            if self.burner_on:
                heat_kw += self.gas_kw
                self.gas_heat_kwh += self.gas_kw * seconds / 3600.0
            self.house.advance(seconds, heat_kw)
            self.energy_kwh += power_kw * seconds / 3600.0
            self.heat_kwh += heat_kw * seconds / 3600.0
            self._last += step
            self.control(self._last)


class SgReadyRelaySim:
    """Two relays (switch entities) wired to a heat pump's SG-Ready inputs.

    It also publishes the pump's power and the room temperature as sensors.
    """

    def __init__(
        self,
        port: InMemoryEntityPort,
        unit: HeatPumpUnit,
        *,
        relay_1: str = "switch.sg_ready_1",
        relay_2: str = "switch.sg_ready_2",
        power_sensor: str = "sensor.heat_pump_power",
        room_sensor: str = "sensor.living_room_temperature",
    ) -> None:
        """Register the relays with ``port`` and publish the start state."""
        self.port = port
        self.unit = unit
        self.relay_1 = relay_1
        self.relay_2 = relay_2
        self.power_sensor = power_sensor
        self.room_sensor = room_sensor
        self.relays = [False, False]
        self.switch_log: list[tuple[datetime, str, bool]] = []
        port.handle(relay_1, self._handler(0))
        port.handle(relay_2, self._handler(1))
        self.publish()

    def _handler(self, index: int) -> Callable[[str, Mapping[str, object]], None]:
        def _call(service: str, data: Mapping[str, object]) -> None:
            del data
            if service not in {"turn_on", "turn_off"}:
                msg = f"relay does not offer {service}"
                raise ValueError(msg)
            self.unit.advance()
            self.relays[index] = service == "turn_on"
            entity = (self.relay_1, self.relay_2)[index]
            self.switch_log.append((self.unit.clock(), entity, self.relays[index]))
            self.publish()

        return _call

    @property
    def mode(self) -> int:
        """The SG-Ready mode the relays signal."""
        table = {(True, False): 1, (False, False): 2, (False, True): 3, (True, True): 4}
        return table[self.relays[0], self.relays[1]]

    def publish(self) -> None:
        """Bring the pump up to the clock and publish every entity."""
        self.unit.sg_mode = self.mode
        self.unit.advance()
        self.unit.control(self.unit.clock())
        port = self.port
        port.set_state(self.relay_1, "on" if self.relays[0] else "off")
        port.set_state(self.relay_2, "on" if self.relays[1] else "off")
        port.set_state(
            self.power_sensor,
            round(self.unit.power_w, 1),
            {"unit_of_measurement": "W", "device_class": "power"},
        )
        port.set_state(
            self.room_sensor,
            round(self.unit.house.indoor_c, 2),
            {"unit_of_measurement": "°C", "device_class": "temperature"},
        )


class ClimateEntitySim:
    """A ``climate`` entity in heat mode whose setpoint drives the pump."""

    def __init__(
        self,
        port: InMemoryEntityPort,
        unit: HeatPumpUnit,
        *,
        entity_id: str = "climate.heat_pump",
        power_sensor: str | None = "sensor.heat_pump_power",
        min_temp: float = 7.0,
        max_temp: float = 28.0,
    ) -> None:
        """Publish the entity and take ``set_temperature`` calls."""
        self.port = port
        self.unit = unit
        self.entity_id = entity_id
        self.power_sensor = power_sensor
        self.min_temp = min_temp
        self.max_temp = max_temp
        self.hvac_mode = "heat"
        port.handle(entity_id, self._call)
        self.publish()

    def _call(self, service: str, data: Mapping[str, object]) -> None:
        if service != "set_temperature":
            msg = f"climate does not offer {service}"
            raise ValueError(msg)
        value = data.get("temperature")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("temperature must be a number")
        if not self.min_temp <= value <= self.max_temp:
            msg = f"temperature {value} outside {self.min_temp}..{self.max_temp}"
            raise ValueError(msg)
        self.unit.advance()
        self.unit.target_c = float(value)
        self.publish()

    def user_sets(self, target_c: float) -> None:
        """Turn the thermostat as the user would (a manual change)."""
        self.unit.advance()
        self.unit.target_c = target_c
        self.publish()

    def publish(self) -> None:
        """Bring the pump up to the clock and publish the entity."""
        self.unit.advance()
        self.unit.control(self.unit.clock())
        self.port.set_state(
            self.entity_id,
            self.hvac_mode,
            {
                "temperature": self.unit.target_c,
                "current_temperature": round(self.unit.house.indoor_c, 2),
                "min_temp": self.min_temp,
                "max_temp": self.max_temp,
                "hvac_action": "heating" if self.unit.running else "idle",
            },
        )
        if self.power_sensor is not None:
            self.port.set_state(
                self.power_sensor,
                round(self.unit.power_w, 1),
                {"unit_of_measurement": "W", "device_class": "power"},
            )


class HybridGasSwitchSim:
    """The hybrid's "switch to gas" input as a switch entity."""

    def __init__(
        self,
        port: InMemoryEntityPort,
        unit: HeatPumpUnit,
        *,
        entity_id: str = "switch.hybrid_gas",
        publish: Callable[[], None] | None = None,
    ) -> None:
        """Register the switch; ``publish`` refreshes the pump's entities."""
        self.port = port
        self.unit = unit
        self.entity_id = entity_id
        self._publish = publish
        port.handle(entity_id, self._call)
        port.set_state(entity_id, "off")

    def _call(self, service: str, data: Mapping[str, object]) -> None:
        del data
        if service not in {"turn_on", "turn_off"}:
            msg = f"switch does not offer {service}"
            raise ValueError(msg)
        self.unit.advance()
        self.unit.gas_mode = service == "turn_on"
        self.unit.control(self.unit.clock())
        self.port.set_state(self.entity_id, "on" if self.unit.gas_mode else "off")
        if self._publish is not None:
            self._publish()
