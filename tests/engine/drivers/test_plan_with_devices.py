"""The drivers' planner inputs, solved together: the plan pre-heats before a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from custom_components.stroomwijs.engine.capabilities import ComfortBand
from custom_components.stroomwijs.engine.drivers.appliance import (
    PlugAppliance,
    PlugApplianceConfig,
)
from custom_components.stroomwijs.engine.drivers.boiler import (
    Boiler,
    BoilerConfig,
    ControlKind,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_common import (
    HeatPumpSpec,
    HouseModel,
)
from custom_components.stroomwijs.engine.drivers.sg_ready import (
    SgReadyConfig,
    SgReadyHeatPump,
)
from custom_components.stroomwijs.engine.planner.core import solve
from custom_components.stroomwijs.engine.planner.problem import Problem
from custom_components.stroomwijs.engine.simulate.boiler import BoilerPlugSim, TankSim
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.thermal import (
    HeatPumpUnit,
    SgReadyRelaySim,
    ThermalHouse,
)
from custom_components.stroomwijs.engine.simulate.washer import (
    PlugWasherSim,
    WashingMachineSim,
)

from .device_support import SimClock

START = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)  # 13:00 local
WINDOW = (START + timedelta(hours=4), START + timedelta(hours=6))  # 17:00-19:00
SLOTS = 40


async def test_the_plan_preheats_and_keeps_heavy_loads_out_of_the_window() -> None:
    """A 0.9 kW window 17:00-19:00: the house is heated before, nothing inside."""
    clock = SimClock(START)
    port = InMemoryEntityPort()
    unit = HeatPumpUnit(ThermalHouse(indoor_c=20.2, outdoor_c=0.0), clock=clock)
    relays = SgReadyRelaySim(port, unit)
    heat_pump = SgReadyHeatPump(
        SgReadyConfig(
            device_id="heat_pump",
            name="Heat pump",
            relay_1_entity=relays.relay_1,
            relay_2_entity=relays.relay_2,
            room_temperature_entity=relays.room_sensor,
            power_entity=relays.power_sensor,
            spec=HeatPumpSpec(rated_power_w=2500, min_modulation=0.3),
            comfort=ComfortBand(min_c=19.5, max_c=22.0),
            house=HouseModel(heat_capacity_kwh_per_k=12.0, heat_loss_kw_per_k=0.18),
        ),
        port,
        clock=clock,
    )
    await heat_pump.async_update()
    tank = TankSim(clock=clock, temperature_c=47.0)
    plug = BoilerPlugSim(port, tank, temperature_sensor="sensor.boiler_temperature")
    boiler = Boiler(
        BoilerConfig(
            device_id="boiler",
            name="Boiler",
            control=ControlKind.SWITCH,
            entity_id=plug.switch,
            temperature_entity=plug.temperature_sensor,
            volume_l=120,
            power_w=2000,
        ),
        port,
        clock=clock,
    )
    boiler.restore_state({"last_legionella": START.isoformat()})
    await boiler.async_update()
    washer_plug = PlugWasherSim(port, WashingMachineSim(clock=clock))
    washer = PlugAppliance(
        PlugApplianceConfig(
            device_id="washer",
            name="Washer",
            plug_entity=washer_plug.plug,
            power_entity=washer_plug.power_sensor,
        ),
        port,
        clock=clock,
    )
    await washer.async_arm(START + timedelta(hours=8))
    washer_input = washer.planner_input()
    assert washer_input is not None

    devices = [
        heat_pump.planner_input([0.0] * SLOTS, preheat_minutes=120),
        boiler.planner_input(start=START, slots=SLOTS),
        washer_input,
    ]

    def _plan(windows: list[dict[str, object]]) -> dict[str, Any]:
        return solve(
            Problem.from_dict(
                {
                    "start": START.isoformat(),
                    "horizon_slots": SLOTS,
                    "prices": {"tariff": "single", "single_eur_per_kwh": 0.25},
                    "grid": {"fuse": "3x25", "windows": windows},
                    "base_load_kw": 0.5,
                    "devices": devices,
                }
            )
        ).to_dict()

    window = {
        "start": WINDOW[0].isoformat(),
        "end": WINDOW[1].isoformat(),
        "import_kw": 0.9,
    }
    plan = _plan([window])
    free = _plan([])
    first, last = 16, 24  # 17:00 and 19:00 local
    indoor = plan["devices"]["heat_pump"]["indoor_c"]
    # Pre-heated: warmer at the window's start than without the window.
    assert indoor[first] > free["devices"]["heat_pump"]["indoor_c"][first] + 0.3
    # Nothing heavy runs inside the window, and comfort holds through it.
    assert max(plan["grid"]["import_kw"][first:last]) <= 0.9 + 1e-6
    assert max(plan["devices"]["heat_pump"]["setpoint_kw"][first:last]) == 0.0
    assert min(indoor[first : last + 1]) >= 19.5 - 0.05
    start_slot = plan["devices"]["washer"]["start_slot"]
    assert start_slot is not None
    assert not first - 8 < start_slot < last  # the 2 h cycle avoids the window
