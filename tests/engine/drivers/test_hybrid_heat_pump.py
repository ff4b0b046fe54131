"""The hybrid wrapper: switch to gas sheds the compressor and keeps comfort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    DeviceUnavailableError,
    PowerSettable,
    Thermal,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_common import (
    GasOption,
    HeatPumpDriver,
    HeatPumpSpec,
)
from custom_components.stroomwijs.engine.drivers.hybrid_heat_pump import (
    HybridConfig,
    HybridHeatPump,
)
from custom_components.stroomwijs.engine.drivers.sg_ready import (
    SgReadyConfig,
    SgReadyHeatPump,
)
from custom_components.stroomwijs.engine.planner.core import solve
from custom_components.stroomwijs.engine.planner.problem import Problem
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.thermal import (
    HeatPumpUnit,
    HybridGasSwitchSim,
    SgReadyRelaySim,
    ThermalHouse,
)

from .device_support import SimClock


def _rig(clock: SimClock) -> tuple[HybridHeatPump, SgReadyRelaySim]:
    port = InMemoryEntityPort()
    unit = HeatPumpUnit(ThermalHouse(indoor_c=20.0, outdoor_c=-2.0), clock=clock)
    relays = SgReadyRelaySim(port, unit)
    HybridGasSwitchSim(port, unit, publish=relays.publish)
    inner = SgReadyHeatPump(
        SgReadyConfig(
            device_id="hp_inner",
            name="Heat pump",
            relay_1_entity=relays.relay_1,
            relay_2_entity=relays.relay_2,
            room_temperature_entity=relays.room_sensor,
            power_entity=relays.power_sensor,
            spec=HeatPumpSpec(rated_power_w=2500),
            comfort=ComfortBand(min_c=19.5, max_c=22.0),
        ),
        port,
        clock=clock,
    )
    hybrid = HybridHeatPump(
        HybridConfig(
            device_id="hybrid",
            name="Hybrid heat pump",
            gas_switch_entity="switch.hybrid_gas",
            gas=GasOption(max_kw=12, eur_per_m3=1.35, efficiency=0.9),
        ),
        inner,
        port,
        clock=clock,
    )
    return hybrid, relays


async def test_switch_to_gas_stops_the_compressor_and_keeps_the_house_warm() -> None:
    """0 W puts the burner on: no electric power, indoor stays in band for 3 h."""
    clock = SimClock()
    hybrid, relays = _rig(clock)
    unit = relays.unit
    assert isinstance(hybrid, PowerSettable)
    assert isinstance(hybrid, Thermal)
    assert isinstance(hybrid.heat_pump, HeatPumpDriver)
    await hybrid.async_update()
    clock.advance(timedelta(minutes=2))
    await hybrid.async_update()
    assert hybrid.power_range.min_w == 0.0
    await hybrid.async_set_power(0.0)
    assert hybrid.on_gas
    temps = []
    for _ in range(180):
        clock.advance(timedelta(minutes=1))
        relays.publish()
        await hybrid.async_update()
        temps.append(hybrid.temperature_c)
        assert hybrid.power_w == 0.0
    assert min(t for t in temps if t is not None) >= 19.5
    assert unit.gas_heat_kwh > 1.0
    assert hybrid.heat_pump.blocking_budget().blocks_left_today == 3  # type: ignore[attr-defined]
    await hybrid.async_set_power(2500.0)
    assert not hybrid.on_gas


async def test_switching_back_too_soon_is_refused() -> None:
    """The minimum time between switches protects both appliances."""
    clock = SimClock()
    hybrid, _ = _rig(clock)
    await hybrid.async_update()
    await hybrid.async_set_power(0.0)
    clock.advance(timedelta(minutes=3))
    assert hybrid.power_range.max_w == 0.0
    with pytest.raises(DeviceUnavailableError, match="too recently"):
        await hybrid.async_set_power(2500.0)


async def test_the_planner_prices_gas_against_electricity() -> None:
    """With power at 1.5 EUR/kWh the plan heats with gas; at 0.05 with the pump."""
    clock = SimClock(datetime(2026, 1, 14, 4, 0, tzinfo=UTC))
    hybrid, _ = _rig(clock)
    await hybrid.async_update()
    assert hybrid.config.gas_eur_per_kwh_heat() == pytest.approx(1.35 / (9.77 * 0.9))
    device = hybrid.planner_input([-2.0] * 8)
    assert device["gas"]["eur_per_m3"] == 1.35
    results = {}
    for price in (1.5, 0.05):
        problem = Problem.from_dict(
            {
                "start": "2026-01-14T04:00:00Z",
                "horizon_slots": 8,
                "prices": {"tariff": "single", "single_eur_per_kwh": price},
                "grid": {"fuse": "3x25"},
                "base_load_kw": 0.3,
                "devices": [device],
            }
        )
        plan = solve(problem).to_dict()
        series = plan["devices"]["hybrid"]
        results[price] = (sum(series["gas_kw"]), sum(series["setpoint_kw"]))
    assert results[1.5][0] > 0.5
    assert results[1.5][1] == pytest.approx(0.0, abs=0.01)
    assert results[0.05][1] > 0.5
    # An on/off compressor cannot trim exactly; gas only tops up.
    assert results[0.05][0] < results[1.5][0] / 3
