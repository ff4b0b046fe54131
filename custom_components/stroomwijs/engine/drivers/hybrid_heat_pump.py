"""A hybrid heat pump: any heat-pump driver plus the "switch to gas" input.

Hybrid systems (a heat pump beside a gas boiler, one controller) offer an
input that makes the controller heat with gas instead of the compressor;
in Home Assistant it is a switch entity (a relay on the controller's
external-heat input, or the integration's own "boiler only" switch). The
wrapper drives it:

* a setpoint of 0 W switches to gas: the compressor stops, the burner
  keeps the house warm, so shedding the heat pump costs no comfort and
  does not count against SG-Ready's blocking rules (it is not a block);
* any other setpoint switches gas off and passes the setpoint on to the
  heat pump's own driver (SG-Ready, thermostat or Modbus).

A minimum time between switches protects both appliances. For the planner,
:meth:`planner_input` adds the ``gas`` option to the heat pump: heat from
gas costs ``eur_per_m3 / (9.77 kWh/m3 x efficiency)`` per kWh, heat from
the compressor costs the slot's electricity price divided by the COP, and
the planner picks per slot (docs/devices.md, "Hybrid").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    check_entity_id,
    on_off,
    switch_entity,
)
from .heat_pump_common import GasOption, HeatPumpDriver
from .sg_ready import Clock, utc_now

_LOGGER = logging.getLogger(__name__)
GAS_KWH_PER_M3 = 9.77


@dataclass(frozen=True, slots=True, kw_only=True)
class HybridConfig:
    """The gas side of a hybrid heat pump."""

    device_id: str
    name: str
    gas_switch_entity: str
    gas: GasOption
    min_between_switches: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        """Reject a configuration that cannot work."""
        if not self.device_id.strip():
            raise ValueError("device_id cannot be empty")
        check_entity_id(self.gas_switch_entity, "switch", "input_boolean")
        if not timedelta(0) <= self.min_between_switches <= timedelta(hours=6):
            raise ValueError("min_between_switches must be within 0..6 h")

    def gas_eur_per_kwh_heat(self) -> float:
        """Return what a kWh of heat from gas costs."""
        return self.gas.eur_per_m3 / (GAS_KWH_PER_M3 * self.gas.efficiency)


class HybridHeatPump:
    """PowerSettable, PowerMeter, Thermal: the heat pump, or gas instead."""

    def __init__(
        self,
        config: HybridConfig,
        heat_pump: HeatPumpDriver,
        port: EntityPort,
        *,
        clock: Clock = utc_now,
    ) -> None:
        """Wrap ``heat_pump``; switch to gas through ``port``."""
        self.config = config
        self.heat_pump = heat_pump
        self._port = port
        self._clock = clock
        self._health = AvailabilityLog(_LOGGER, config.name)
        self._switched_at: datetime | None = None

    @property
    def device_id(self) -> str:
        """Stable identifier."""
        return self.config.device_id

    @property
    def name(self) -> str:
        """Human-readable name."""
        return self.config.name

    @property
    def on_gas(self) -> bool | None:
        """Whether the controller heats with gas now."""
        return on_off(self._port.get_state(self.config.gas_switch_entity))

    @property
    def available(self) -> bool:
        """Whether the gas switch has a state (the heat pump may still be down)."""
        known = self.on_gas is not None
        if known:
            self._health.up()
        else:
            self._health.down("the gas switch has no on/off state")
        return known

    @property
    def power_w(self) -> float | None:
        """The heat pump's electric power (0 on gas once it has stopped)."""
        return self.heat_pump.power_w

    @property
    def energy_kwh(self) -> float | None:
        """The heat pump's energy."""
        return self.heat_pump.energy_kwh

    @property
    def temperature_c(self) -> float | None:
        """Room temperature."""
        return self.heat_pump.temperature_c

    @property
    def comfort(self) -> ComfortBand:
        """Comfort band."""
        return self.heat_pump.comfort

    @property
    def setpoint_w(self) -> float | None:
        """0 W on gas, else the heat pump's."""
        if self.on_gas:
            return 0.0
        return self.heat_pump.setpoint_w

    def _may_switch(self, now: datetime) -> bool:
        since = self._switched_at
        return since is None or now - since >= self.config.min_between_switches

    @property
    def power_range(self) -> PowerRange:
        """Down to 0 W (gas) whenever a switch is allowed."""
        inner = self.heat_pump.power_range
        now = self._clock()
        gas = self.on_gas
        if gas is None:
            return PowerRange(min_w=0.0, max_w=0.0)
        if not self._may_switch(now):
            if gas:
                return PowerRange(min_w=0.0, max_w=0.0)
            return inner
        return PowerRange(
            min_w=0.0, max_w=inner.max_w, min_active_w=max(inner.min_active_w, 0.0)
        )

    async def async_set_power(self, setpoint_w: float) -> None:
        """0 W: switch to gas; more: gas off and the heat pump takes over."""
        now = self._clock()
        gas = self.on_gas
        if gas is None:
            msg = f"{self.name}: gas switch state unknown"
            raise DeviceUnavailableError(msg)
        want_gas = setpoint_w <= 0
        if want_gas != gas:
            if not self._may_switch(now):
                msg = f"{self.name}: switched too recently"
                raise DeviceUnavailableError(msg)
            try:
                await switch_entity(
                    self._port, self.config.gas_switch_entity, on=want_gas
                )
            except EntityCallError as err:
                self._health.down(str(err))
                raise
            self._switched_at = now
            _LOGGER.info("%s: %s", self.name, "gas" if want_gas else "heat pump")
        if not want_gas:
            await self.heat_pump.async_set_power(setpoint_w)

    async def async_update(self) -> None:
        """Poll the heat pump."""
        await self.heat_pump.async_update()

    def planner_input(
        self,
        outdoor_c: Sequence[float],
        *,
        window_setback_c: float = 0.0,
        preheat_minutes: float = 60.0,
    ) -> dict[str, Any]:
        """Build the heat pump's planner input with the gas option priced in."""
        data = self.heat_pump.planner_input(
            outdoor_c,
            gas=self.config.gas,
            window_setback_c=window_setback_c,
            preheat_minutes=preheat_minutes,
        )
        data["id"] = self.device_id
        data["name"] = self.name
        return data
