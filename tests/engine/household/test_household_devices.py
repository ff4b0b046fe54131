"""A Household with a heat pump, a boiler and a washer, built from its config.

The drivers come from the config's ``driver`` mappings and talk to simulated
devices through an in-memory entity port; the household polls them, plans
them, guards them and keeps their state over a restart.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from custom_components.stroomwijs.engine.drivers.appliance import CycleState
from custom_components.stroomwijs.engine.drivers.factory import ConfigError
from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyHeatPump
from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    GridConfig,
    Household,
    HouseholdConfig,
    HouseholdConfigError,
    HouseholdPorts,
    LimitConfig,
    MemoryStateStore,
    OptimiserConfig,
    PlanState,
    parse_temperature_forecast,
)
from custom_components.stroomwijs.engine.simulate.boiler import BoilerPlugSim, TankSim
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.entity_loads import EntityLoad
from custom_components.stroomwijs.engine.simulate.household import (
    BaseLoadProfile,
    SimHousehold,
    SimReading,
)
from custom_components.stroomwijs.engine.simulate.thermal import (
    HeatPumpUnit,
    SgReadyRelaySim,
    ThermalHouse,
)
from custom_components.stroomwijs.engine.simulate.washer import (
    PlugWasherSim,
    WashingMachineSim,
)

START = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)  # 16:00 in Amsterdam


def _config(
    relays: SgReadyRelaySim, plug: BoilerPlugSim, washer: PlugWasherSim
) -> HouseholdConfig:
    return HouseholdConfig(
        name="Devices",
        grid=GridConfig(phases=3, fuse_a=35.0),
        limits=(
            LimitConfig(
                id="evening",
                kind="window",
                start=time(16, 5),
                end=time(21),
                import_w=4000.0,
            ),
        ),
        devices=(
            DeviceConfig(
                id="heat_pump",
                kind="driver",
                name="Heat pump",
                driver={
                    "driver": "sg_ready",
                    "relay_1_entity": relays.relay_1,
                    "relay_2_entity": relays.relay_2,
                    "room_temperature_entity": relays.room_sensor,
                    "power_entity": relays.power_sensor,
                    "spec": {"rated_power_w": 2500},
                    "comfort": {"min_c": 19.5, "max_c": 22.5},
                },
            ),
            DeviceConfig(
                id="boiler",
                kind="driver",
                name="Boiler",
                driver={
                    "driver": "boiler",
                    "control": "switch",
                    "entity_id": plug.switch,
                    "power_entity": plug.power_sensor,
                    "temperature_entity": plug.temperature_sensor,
                    "volume_l": 120,
                    "power_w": 2000,
                },
            ),
            DeviceConfig(
                id="washer",
                kind="driver",
                name="Washing machine",
                driver={
                    "driver": "plug_appliance",
                    "plug_entity": washer.plug,
                    "power_entity": washer.power_sensor,
                },
            ),
        ),
        optimiser=OptimiserConfig(horizon_hours=24, time_limit_s=5.0),
    )


async def _home(store: MemoryStateStore | None = None) -> tuple[Any, ...]:
    house = SimHousehold(start=START, base_load=BaseLoadProfile.constant(1200))
    clock = house.clock
    port = InMemoryEntityPort()
    unit = HeatPumpUnit(
        ThermalHouse(indoor_c=20.6, outdoor_c=2.0), clock=clock, running=True
    )
    relays = SgReadyRelaySim(port, unit)
    house.add(
        EntityLoad(
            "heat_pump", "Heat pump", lambda: unit.power_w, relays.publish, clock=clock
        )
    )
    tank = TankSim(clock=clock, temperature_c=50.0)
    plug = BoilerPlugSim(port, tank, temperature_sensor="sensor.boiler_temperature")
    house.add(
        EntityLoad("boiler", "Boiler", lambda: tank.power_w, plug.publish, clock=clock)
    )
    machine = WashingMachineSim(clock=clock)
    washer_plug = PlugWasherSim(port, machine)
    house.add(
        EntityLoad(
            "washer",
            "Washer",
            lambda: machine.power_w,
            washer_plug.publish,
            clock=clock,
        )
    )
    household = Household(
        _config(relays, plug, washer_plug),
        HouseholdPorts(
            clock=clock,
            store=store or MemoryStateStore(),
            realtime=False,
            entity_port=port,
        ),
    )
    await household.async_start()
    return house, household, unit, tank, machine


async def _run(
    house: SimHousehold, household: Household, seconds: int
) -> list[SimReading]:
    readings: list[SimReading] = []

    async def _step(reading: SimReading) -> None:
        await household.async_feed(reading)
        if int(reading.timestamp.timestamp()) % 10 == 0:
            await household.async_tick(reading.timestamp)
        readings.append(reading)

    await house.async_run(seconds, _step)
    return readings


async def test_the_household_plans_and_guards_its_heat_pump_boiler_and_washer() -> None:
    """Built from config: planned, curtailed in order within a 4 kW window."""
    house, household, unit, tank, machine = await _home()
    assert set(household.devices.drivers) == {"heat_pump", "boiler", "washer"}
    guarded = {gd.device_id for gd in household.guard.devices}
    assert {"heat_pump", "boiler", "washer"} <= guarded
    status = await household.async_plan_now()
    assert status.state in {PlanState.OK, PlanState.TIME_LIMIT}, status.reasons
    assert household.plan is not None
    assert {"heat_pump", "boiler"} <= set(household.plan.devices)
    assert any("outdoor" in reason for reason in status.reasons)
    # The user loads the washer and presses start; the plan starts it.
    await household.devices.drivers["washer"].async_arm()  # type: ignore[union-attr]
    machine.press_start()
    readings = await _run(house, household, 40 * 60)
    in_window = [r for r in readings if r.timestamp >= START + timedelta(minutes=7)]
    over = [r for r in in_window if r.import_w > 4_000.0 + 1.0]
    # After the guard's reaction, the window holds (a few telegrams at most).
    assert len(over) <= 10, [(r.timestamp, r.import_w) for r in over[:5]]
    assert 19.5 - 0.2 <= unit.house.indoor_c <= 22.5 + 0.2
    assert tank.temperature_c >= 40.0
    # The state of every driver is saved.
    state = household.state()
    assert set(state["devices"]) == {
        "heat_pump",
        "boiler",
        "washer",
        "_unplanned",
        "_overrides",
    }
    await household.async_stop()


async def test_driver_state_survives_a_restart() -> None:
    """The SG-Ready day's blocks and an armed washer come back after a restart."""
    store = MemoryStateStore()
    _house, household, _unit, _tank, machine = await _home(store)
    washer = household.devices.drivers["washer"]
    await washer.async_arm()  # type: ignore[union-attr]
    machine.press_start()
    await household.async_stop()
    assert store.data is not None
    _house2, household2, *_ = await _home(store)
    assert household2.devices.drivers["washer"].state is CycleState.ARMED  # type: ignore[union-attr]
    await household2.async_stop()


def test_a_bad_driver_mapping_names_the_field() -> None:
    """The drivers' own reader checks a driver device, and the path says where."""
    data: dict[str, Any] = {
        "devices": [
            {
                "id": "boiler",
                "kind": "driver",
                "driver": {"driver": "boiler", "control": "switch", "power_w": "lots"},
            }
        ]
    }
    with pytest.raises(HouseholdConfigError) as caught:
        HouseholdConfig.from_dict(data)
    assert caught.value.path.startswith("devices[0].driver")
    data["devices"][0]["driver"] = {"driver": "toaster"}
    with pytest.raises(HouseholdConfigError):
        HouseholdConfig.from_dict(data)


def test_a_hybrid_profile_takes_the_household_id_in_its_hybrid_part() -> None:
    """A hybrid's id and name go into its ``hybrid`` part, as its driver wants."""
    data: dict[str, Any] = {
        "devices": [
            {
                "id": "hybrid",
                "kind": "driver",
                "name": "Hybrid",
                "driver": {
                    "driver": "hybrid",
                    "hybrid": {
                        "gas_switch_entity": "switch.gas",
                        "gas": {"max_kw": 20, "eur_per_m3": 1.3},
                    },
                    "heat_pump": {
                        "driver": "sg_ready",
                        "device_id": "hp",
                        "name": "Heat pump",
                        "relay_1_entity": "switch.sg1",
                        "relay_2_entity": "switch.sg2",
                        "spec": {"rated_power_w": 2500},
                    },
                },
            }
        ]
    }
    config = HouseholdConfig.from_dict(data)
    assert HouseholdConfig.from_json(config.to_json()) == config


async def test_switching_the_optimiser_off_releases_the_devices() -> None:
    """Without a plan a boiler or heat pump follows its own rules again."""
    house, household, _unit, _tank, _machine = await _home()
    await household.async_plan_now()
    await _run(house, household, 60)
    state = household.guard._state
    planned = {d for d in ("heat_pump", "boiler") if state[d].plan_w is not None}
    assert planned
    household.set_enabled(False)
    await household.async_plan_now()
    assert all(state[d].plan_w is None for d in ("heat_pump", "boiler"))
    await household.async_stop()


async def test_an_outdoor_forecast_reaches_the_heat_pump_and_is_held() -> None:
    """Six hours of forecast: the heat pump sees them, then the last value held."""
    _house, household, _unit, _tank, _machine = await _home()
    forecast = parse_temperature_forecast(
        [
            {"datetime": (START + timedelta(hours=h)).isoformat(), "temperature": t}
            for h, t in enumerate((-2.0, -3.0, -4.0, -5.0, -4.0, -3.0))
        ]
    )
    household.set_outdoor_forecast(forecast)
    status = await household.async_plan_now()
    assert household.plan_inputs is not None
    heat_pump = next(
        d for d in household.plan_inputs.problem["devices"] if d["id"] == "heat_pump"
    )
    outdoor = heat_pump["outdoor_c"]
    slots = household.plan_inputs.problem["horizon_slots"]
    assert outdoor[:4] == [-2.0] * 4
    assert outdoor[4:8] == [-3.0] * 4
    assert outdoor[20:] == [-3.0] * (slots - 20)
    assert any("outdoor forecast covers 24 of" in r for r in status.reasons)
    assert not any("10 °C assumed" in r for r in status.reasons)
    # A forecast that has ended (stale) is no forecast: 10 degC and said so.
    household.set_outdoor_forecast(
        parse_temperature_forecast(
            [{"datetime": (START - timedelta(days=2)).isoformat(), "temperature": 5}]
        )
    )
    status = await household.async_plan_now()
    assert any("10 °C assumed" in r for r in status.reasons)
    await household.async_stop()


async def test_run_before_arms_moves_and_refuses() -> None:
    """Idle is armed, armed moves, a running cycle, the past and others refuse."""
    _house, household, _unit, _tank, machine = await _home()
    washer = household.devices.drivers["washer"]
    with pytest.raises(KeyError):
        await household.async_run_before("boiler", START + timedelta(hours=3))
    with pytest.raises(ValueError, match="time zone"):
        await household.async_run_before("washer", datetime(2026, 1, 15, 8))  # noqa: DTZ001
    with pytest.raises(ValueError, match="passed"):
        await household.async_run_before("washer", START - timedelta(minutes=1))
    await household.async_run_before("washer", START + timedelta(hours=6))
    assert washer.state is CycleState.ARMED  # type: ignore[union-attr]
    await household.async_run_before("washer", START + timedelta(hours=4))
    assert washer.deadline == START + timedelta(hours=4)  # type: ignore[union-attr]
    await household.async_arm_appliance("washer")  # armed already: unchanged
    assert washer.deadline == START + timedelta(hours=4)  # type: ignore[union-attr]
    await household.async_disarm_appliance("washer")
    assert washer.state is CycleState.IDLE  # type: ignore[union-attr]
    assert washer.deadline is None  # type: ignore[union-attr]
    await household.async_disarm_appliance("washer")  # idle: nothing to do
    await household.async_arm_appliance("washer")
    machine.press_start()
    await washer.async_start()  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="running"):
        await household.async_run_before("washer", START + timedelta(hours=6))
    with pytest.raises(ValueError, match="running"):
        await household.async_arm_appliance("washer")
    await household.async_stop()


async def test_devices_are_added_and_removed_while_the_household_runs() -> None:
    """No restart: the guard and the plan take a new boiler, and let one go."""
    house, household, _unit, tank, _machine = await _home()
    guard, meter_feed = household.guard, household.feed
    await household.async_plan_now()
    port = household.ports.entity_port
    assert isinstance(port, InMemoryEntityPort)
    garage_tank = TankSim(clock=house.clock, temperature_c=45.0)
    garage = BoilerPlugSim(
        port,
        garage_tank,
        switch="switch.garage_boiler",
        power_sensor="sensor.garage_boiler_power",
    )
    house.add(
        EntityLoad(
            "garage",
            "Garage boiler",
            lambda: garage_tank.power_w,
            garage.publish,
            clock=house.clock,
        )
    )
    device = DeviceConfig(
        id="garage",
        kind="driver",
        name="Garage boiler",
        driver={
            "driver": "boiler",
            "control": "switch",
            "entity_id": garage.switch,
            "power_entity": garage.power_sensor,
            "volume_l": 80,
            "power_w": 2000,
        },
    )
    await household.async_add_device(device)
    assert household.guard is guard
    assert household.feed is meter_feed
    assert "garage" in household.devices.drivers
    assert "garage" in {gd.device_id for gd in guard.devices}
    assert household.config.device("garage") == device
    status = await household.async_plan_now()
    assert status.state in {PlanState.OK, PlanState.TIME_LIMIT}, status.reasons
    assert household.plan is not None
    assert "garage" in household.plan.devices
    with pytest.raises(ValueError, match="already"):
        await household.async_add_device(device)
    with pytest.raises(ValueError, match="driver devices"):
        await household.async_add_device(
            DeviceConfig(id="car", kind="ocpp", name="Car", charger_id="CP1")
        )
    with pytest.raises(ConfigError, match="volume_l"):
        await household.async_add_device(
            DeviceConfig(
                id="toaster",
                kind="driver",
                name="Toaster",
                driver={"driver": "boiler", "control": "switch", "power_w": 1},
            )
        )
    assert "toaster" not in household.devices.drivers
    assert "toaster" not in {gd.device_id for gd in guard.devices}
    # In the 4 kW window the guard curtails the new boiler like the others.
    readings = await _run(house, household, 12 * 60)
    late = [r for r in readings if r.timestamp >= START + timedelta(minutes=7)]
    assert late
    assert max(r.import_w for r in late[-60:]) <= 4_000.0 + 1.0
    # The first boiler goes: the guard lets go of it and it is switched on
    # (its own thermostat decides again), whatever the guard had done.
    await household.async_remove_device("boiler")
    assert household.guard is guard
    assert "boiler" not in household.devices.drivers
    assert "boiler" not in {gd.device_id for gd in guard.devices}
    assert household.config.device("boiler") is None
    assert tank.supply_on
    assert "boiler" not in guard.status().curtailed
    await household.async_plan_now()
    assert household.plan is not None
    assert "boiler" not in household.plan.devices
    await _run(house, household, 60)  # the guard runs on without it
    state = household.state()
    assert "boiler" not in state["devices"]
    assert "garage" in state["devices"]
    with pytest.raises(KeyError):
        await household.async_remove_device("boiler")
    await household.async_stop()


async def test_a_removed_heat_pump_is_left_at_its_normal_level() -> None:
    """An SG-Ready pump leaves blocked or boosted for mode 2 (normal)."""
    _house, household, unit, _tank, _machine = await _home()
    pump = household.devices.drivers["heat_pump"]
    await pump.async_set_power(0.0)  # type: ignore[union-attr]
    assert unit.sg_mode == 1
    household.devices.drivers["heat_pump"].ledger._last_change = None  # type: ignore[union-attr]
    await household.async_remove_device("heat_pump")
    assert unit.sg_mode == 2
    await household.async_stop()


async def test_the_plan_keeps_an_sg_ready_pump_on_once_its_blocks_are_spent() -> None:
    """Three blocks this morning: the plan blocks nothing more until midnight.

    The driver's budget reaches the planner through the household; without it
    the plan blocks the pump in the 4 kW window, which the relays then refuse.
    """
    _house, household, _unit, _tank, _machine = await _home()
    pump = household.devices.drivers["heat_pump"]
    assert isinstance(pump, SgReadyHeatPump)
    for hour in (7, 9, 11):
        start = datetime(2026, 1, 14, hour, 0, tzinfo=UTC)
        pump.ledger.record_change(start, blocked=True)
        pump.ledger.record_change(start + timedelta(minutes=20), blocked=False)
    status = await household.async_plan_now()
    assert status.state in {PlanState.OK, PlanState.TIME_LIMIT}, status.reasons
    assert household.plan_inputs is not None
    device = next(
        d for d in household.plan_inputs.problem["devices"] if d["id"] == "heat_pump"
    )
    assert device["blocking"] == {
        "blocks_left_today": 0,
        "blocked_minutes_left_today": 60.0,
        "day_ends": "2026-01-15T00:00:00+01:00",
        "max_blocks_per_day": 3,
        "max_blocked_minutes_per_day": 120.0,
    }
    plan = household.plan
    assert plan is not None
    starts = [datetime.fromisoformat(s) for s in plan.slot_starts]
    today = [
        i for i, s in enumerate(starts) if s < datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    ]
    setpoint = plan.devices["heat_pump"].setpoint_kw
    assert today
    assert min(setpoint[i] for i in today) > 0.0
    await household.async_stop()


async def test_a_device_going_away_and_coming_back_is_re_planned_for() -> None:
    """A boiler that stops answering, and answers again, each start a re-plan."""
    now = [START]
    port = InMemoryEntityPort()
    port.set_state("switch.boiler", "off")
    port.set_state("sensor.boiler_temperature", 55.0)
    household = Household(
        HouseholdConfig(
            name="Boiler",
            devices=(
                DeviceConfig(
                    id="boiler",
                    kind="driver",
                    name="Boiler",
                    driver={
                        "driver": "boiler",
                        "control": "switch",
                        "entity_id": "switch.boiler",
                        "temperature_entity": "sensor.boiler_temperature",
                        "volume_l": 120,
                        "power_w": 2000,
                    },
                ),
            ),
            optimiser=OptimiserConfig(horizon_hours=24, time_limit_s=5.0),
        ),
        HouseholdPorts(clock=lambda: now[0], realtime=False, entity_port=port),
    )
    await household.async_start()
    try:
        await household.async_tick(now[0])
        await household.async_plan_now()
        assert household.devices.drivers["boiler"].available
        events: list[Any] = []
        household.subscribe(events.append)

        async def _reasons_after(seconds: int) -> list[str]:
            events.clear()
            for _ in range(seconds // 5):
                now[0] += timedelta(seconds=5)
                await household.async_tick(now[0])
            return [
                reason
                for event in events
                if event.kind == "plan_updated"
                for reason in event.data["reasons"]
            ]

        # Within the quarter-hour: no scheduled re-plan is due.
        port.set_unavailable("switch.boiler")
        reasons = await _reasons_after(30)
        assert not household.devices.drivers["boiler"].available
        assert reasons == ["Boiler became unavailable"]
        port.set_state("switch.boiler", "off")
        reasons = await _reasons_after(30)
        assert household.devices.drivers["boiler"].available
        assert reasons == ["Boiler became available"]
        assert now[0] < START + timedelta(minutes=15)
    finally:
        await household.async_stop()
