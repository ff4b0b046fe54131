"""The SG-Ready driver against simulated relays, a heat pump and a house."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
import itertools
import json
import logging
import random
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    DeviceUnavailableError,
    PowerMeter,
    PowerSettable,
    Thermal,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_common import (
    GasOption,
    HeatLevel,
    HeatPumpSpec,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_rules import (
    BlockingLedger,
    BlockingRules,
)
from custom_components.stroomwijs.engine.drivers.sg_ready import (
    SgReadyConfig,
    SgReadyHeatPump,
    SgReadyMode,
)
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import Guard, GuardConfig
from custom_components.stroomwijs.engine.household.devices import guarded_device
from custom_components.stroomwijs.engine.limits import (
    LimitStack,
    StaticWindowSource,
    TimeWindow,
)
from custom_components.stroomwijs.engine.planner import solve
from custom_components.stroomwijs.engine.planner.problem import Problem
from custom_components.stroomwijs.engine.simulate.entities import InMemoryEntityPort
from custom_components.stroomwijs.engine.simulate.household import SimReading
from custom_components.stroomwijs.engine.simulate.thermal import (
    HeatPumpUnit,
    SgReadyRelaySim,
    ThermalHouse,
)

from .device_support import SimClock


def _rig(
    clock: SimClock, *, indoor_c: float = 21.0, comfort_min: float = 19.5
) -> tuple[SgReadyHeatPump, SgReadyRelaySim, InMemoryEntityPort]:
    port = InMemoryEntityPort()
    unit = HeatPumpUnit(ThermalHouse(indoor_c=indoor_c, outdoor_c=2.0), clock=clock)
    relays = SgReadyRelaySim(port, unit)
    config = SgReadyConfig(
        device_id="hp",
        name="Heat pump",
        relay_1_entity=relays.relay_1,
        relay_2_entity=relays.relay_2,
        room_temperature_entity=relays.room_sensor,
        power_entity=relays.power_sensor,
        spec=HeatPumpSpec(rated_power_w=2500, boost_power_w=2500),
        comfort=ComfortBand(min_c=comfort_min, max_c=22.5),
    )
    return SgReadyHeatPump(config, port, clock=clock), relays, port


async def test_modes_map_to_the_standard_relay_states_and_the_pump_obeys() -> None:
    """Mode 1 = (on, off) stops the pump, 2 = (off, off), 3 = (off, on) raises it."""
    clock = SimClock()
    driver, relays, _ = _rig(clock, indoor_c=20.0)
    await driver.async_update()
    assert driver.mode is SgReadyMode.NORMAL
    assert isinstance(driver, PowerSettable)
    assert isinstance(driver, Thermal)
    assert isinstance(driver, PowerMeter)
    clock.advance(timedelta(minutes=1))
    relays.publish()
    assert relays.unit.running  # 20.0 is below 20.5 - 0.3: the pump heats
    await driver.async_set_mode(SgReadyMode.RECOMMENDED)
    assert relays.relays == [False, True]
    assert relays.unit.target_c + relays.unit.boost_k == pytest.approx(21.5)
    clock.advance(timedelta(minutes=11))
    await driver.async_set_power(0.0)
    assert relays.relays == [True, False]
    assert relays.mode == 1
    assert not relays.unit.running
    assert driver.power_w == 0.0
    assert driver.setpoint_w == 0.0


async def test_a_change_never_passes_through_a_block() -> None:
    """From mode 3 to 4 and 4 to 2 the relays never show (on, off) on the way."""
    clock = SimClock()
    driver, relays, port = _rig(clock)
    driver.config = SgReadyConfig(**{**_fields(driver.config), "allow_forced": True})
    seen: list[int] = []
    port.subscribe(
        [relays.relay_1, relays.relay_2], lambda _s: seen.append(relays.mode)
    )
    await driver.async_update()
    for mode in (SgReadyMode.RECOMMENDED, SgReadyMode.FORCED, SgReadyMode.NORMAL):
        clock.advance(timedelta(minutes=11))
        await driver.async_set_mode(mode)
    assert relays.mode == 2
    assert 1 not in seen


def _fields(config: SgReadyConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


async def test_three_blocks_a_day_then_the_rules_refuse_and_the_range_stays_up() -> (
    None
):
    """A fourth block on the same day is refused; power_range no longer reaches 0."""
    clock = SimClock(datetime(2026, 1, 14, 7, 0, tzinfo=UTC))
    driver, _, _ = _rig(clock, indoor_c=21.5)
    await driver.async_update()
    for _ in range(3):
        assert driver.power_range.min_w == 0.0
        await driver.async_set_power(0.0)
        clock.advance(timedelta(minutes=15))
        await driver.async_set_power(2500.0)
        clock.advance(timedelta(minutes=15))
    budget = driver.blocking_budget()
    assert budget.blocks_left_today == 0
    assert budget.blocked_minutes_left_today == pytest.approx(75.0)
    assert driver.power_range.min_w == 2500.0
    with pytest.raises(DeviceUnavailableError, match="3 blocks today"):
        await driver.async_set_power(0.0)
    assert driver.mode is SgReadyMode.NORMAL
    # The next local day has a fresh budget.
    clock.now = datetime(2026, 1, 15, 0, 5, tzinfo=UTC)
    assert driver.blocking_budget().blocks_left_today == 3


async def test_two_hours_blocked_a_day_ends_the_block_by_itself() -> None:
    """After 2 h blocked in all, the driver lifts the block and refuses another."""
    clock = SimClock(datetime(2026, 1, 14, 7, 0, tzinfo=UTC))
    driver, relays, _ = _rig(clock, indoor_c=22.4, comfort_min=15.0)
    await driver.async_update()
    await driver.async_set_power(0.0)
    for _ in range(119):
        clock.advance(timedelta(minutes=1))
        await driver.async_update()
        assert relays.mode == 1
    clock.advance(timedelta(minutes=1))
    await driver.async_update()
    assert relays.mode == 2
    assert "blocking time is used up" in driver.events[-1]
    clock.advance(timedelta(minutes=30))
    assert driver.ledger.block_refused(clock()) == "already blocked 2 h today"


async def test_a_block_ends_when_the_room_reaches_the_comfort_floor() -> None:
    """The guard's block never takes the house below the comfort band."""
    clock = SimClock()
    driver, relays, _ = _rig(clock, indoor_c=19.8, comfort_min=19.5)
    await driver.async_update()
    await driver.async_set_power(0.0)
    lowest = 99.0
    for _ in range(180):
        clock.advance(timedelta(minutes=1))
        relays.publish()
        await driver.async_update()
        temp = driver.temperature_c
        assert temp is not None
        lowest = min(lowest, temp)
        if relays.mode == 2:
            break
    assert relays.mode == 2
    assert "comfort floor" in driver.events[-1]
    assert lowest >= 19.4


async def test_minimum_time_between_changes_holds_the_mode() -> None:
    """Within 10 minutes of a change the range is pinned and a change is refused."""
    clock = SimClock()
    driver, _, _ = _rig(clock)
    await driver.async_update()
    await driver.async_set_mode(SgReadyMode.RECOMMENDED)
    clock.advance(timedelta(minutes=5))
    assert driver.power_range.min_w == driver.power_range.max_w == 2500.0
    with pytest.raises(DeviceUnavailableError, match="too soon"):
        await driver.async_set_mode(SgReadyMode.NORMAL)
    clock.advance(timedelta(minutes=5))
    await driver.async_set_mode(SgReadyMode.NORMAL)


async def test_the_rules_survive_a_restart_through_json() -> None:
    """Two blocks, a restart from JSON: only one block is left, mid-block included."""
    clock = SimClock(datetime(2026, 1, 14, 7, 0, tzinfo=UTC))
    driver, _, port = _rig(clock, indoor_c=22.0, comfort_min=15.0)
    await driver.async_update()
    await driver.async_set_power(0.0)
    clock.advance(timedelta(minutes=30))
    await driver.async_set_power(2500.0)
    clock.advance(timedelta(minutes=30))
    await driver.async_set_power(0.0)
    clock.advance(timedelta(minutes=20))
    saved = json.dumps(driver.export_state())

    fresh = SgReadyHeatPump(driver.config, port, clock=clock)
    fresh.restore_state(json.loads(saved))
    await fresh.async_update()
    assert fresh.mode is SgReadyMode.BLOCKED
    budget = fresh.blocking_budget()
    assert budget.blocks_left_today == 1
    assert budget.blocked_minutes_left_today == pytest.approx(70.0)
    assert budget.blocked_now


async def test_a_block_found_at_start_without_a_record_is_counted() -> None:
    """Relays left blocked by a crash count as a block even with lost state."""
    clock = SimClock()
    driver, relays, port = _rig(clock)
    relays.relays = [True, False]
    relays.publish()
    await driver.async_update()
    assert driver.blocking_budget().blocks_left_today == 2
    assert driver.blocking_budget().blocked_now
    del port


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"version": 2},
        {"version": 1, "blocks": {"2026-01-14": -1}, "blocked_s": {}},
        {"version": 1, "blocks": {"2026-01-14": 1.5}, "blocked_s": {}},
        {"version": 1, "blocks": {}, "blocked_s": {"2026-01-14": float("nan")}},
        {"version": 1, "blocks": {}, "blocked_s": {}, "block_start": "2026-01-14"},
        {"version": 1, "blocks": {"x": 1}, "blocked_s": {}},
    ],
)
def test_malformed_ledger_state_is_rejected(bad: object) -> None:
    """Corrupt stored state raises instead of silently granting fresh blocks."""
    with pytest.raises(ValueError):  # noqa: PT011 - any malformed input
        BlockingLedger().restore_state(bad)


def test_rules_reject_impossible_limits() -> None:
    """Negative or absurd limits and unknown time zones fail at configuration."""
    with pytest.raises(ValueError, match="max_blocks_per_day"):
        BlockingRules(max_blocks_per_day=-1)
    with pytest.raises(ValueError, match="max_blocked_per_day"):
        BlockingRules(max_blocked_per_day=timedelta(hours=25))
    with pytest.raises(KeyError):
        BlockingRules(timezone="Mars/Olympus")


def test_config_errors_are_clear() -> None:
    """Same relay twice, a sensor as relay and a bad comfort band are rejected."""
    spec = HeatPumpSpec(rated_power_w=2000)
    with pytest.raises(ValueError, match="different entities"):
        SgReadyConfig(
            device_id="hp",
            name="hp",
            relay_1_entity="switch.a",
            relay_2_entity="switch.a",
            spec=spec,
        )
    with pytest.raises(ValueError, match="domains"):
        SgReadyConfig(
            device_id="hp",
            name="hp",
            relay_1_entity="sensor.a",
            relay_2_entity="switch.b",
            spec=spec,
        )
    with pytest.raises(ValueError, match="comfort band"):
        SgReadyConfig(
            device_id="hp",
            name="hp",
            relay_1_entity="switch.a",
            relay_2_entity="switch.b",
            spec=spec,
            comfort=ComfortBand(min_c=22, max_c=20),
        )


async def test_unavailable_relay_is_logged_once_and_back_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unavailable relay makes the driver unavailable, logged once each way."""
    clock = SimClock()
    driver, relays, port = _rig(clock)
    await driver.async_update()
    assert driver.available
    caplog.set_level(logging.INFO)
    port.set_unavailable(relays.relay_1)
    for _ in range(5):
        await driver.async_update()
    assert not driver.available
    with pytest.raises(DeviceUnavailableError):
        await driver.async_set_mode(SgReadyMode.BLOCKED)
    relays.publish()
    await driver.async_update()
    assert driver.available
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("is back" in m for m in messages) == 1


async def test_planner_input_is_a_valid_heat_pump_block_with_gas() -> None:
    """The planner reads the driver's input, the hybrid's gas option included."""
    clock = SimClock(datetime(2026, 1, 14, 4, 0, tzinfo=UTC))
    driver, _, _ = _rig(clock, indoor_c=20.7)
    await driver.async_update()
    device = driver.planner_input([3.0] * 8, gas=GasOption(max_kw=20, eur_per_m3=1.35))
    assert device["house"]["indoor_c"] == pytest.approx(20.7)
    problem = Problem.from_dict(
        {
            "start": "2026-01-14T04:00:00Z",
            "horizon_slots": 8,
            "prices": {"tariff": "single", "single_eur_per_kwh": 0.3},
            "grid": {"fuse": "3x25"},
            "base_load_kw": 0.3,
            "devices": [device],
        }
    )
    assert problem.devices[0].device_id == "hp"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=30),
            st.sampled_from(["block", "normal", "boost", "wait"]),
        ),
        min_size=30,
        max_size=80,
    )
)
async def test_no_sequence_of_commands_breaks_the_sg_ready_rules(
    steps: list[tuple[int, str]],
) -> None:
    """Whatever the guard asks, the relays never break the standard's rules.

    Checked on the relays' own switch log: at most 3 blocks started per local
    day, at most 2 h blocked per local day (polled every minute), and at
    least 10 minutes between two mode changes.
    """
    clock = SimClock(datetime(2026, 3, 28, 20, 0, tzinfo=UTC))  # over a DST change
    driver, relays, _ = _rig(clock, indoor_c=21.0, comfort_min=10.0)
    await driver.async_update()
    setpoint = {"block": 0.0, "normal": 2500.0, "boost": 2500.0}
    for gap, action in steps:
        for _ in range(gap):
            clock.advance(timedelta(minutes=1))
            relays.publish()
            await driver.async_update()
        if action == "wait":
            continue
        try:
            if action == "boost":
                await driver.async_set_mode(SgReadyMode.RECOMMENDED)
            else:
                await driver.async_set_power(setpoint[action])
        except DeviceUnavailableError:
            pass
    _check_rules(relays, clock.now)


def _check_rules(relays: SgReadyRelaySim, end: datetime) -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    modes: list[tuple[datetime, int]] = []
    state = [False, False]
    table = {(True, False): 1, (False, False): 2, (False, True): 3, (True, True): 4}
    for at, entity, on in relays.switch_log:
        state[0 if entity == relays.relay_1 else 1] = on
        mode = table[state[0], state[1]]
        if modes and modes[-1][0] == at:
            modes[-1] = (at, mode)  # two relays in one command
        elif not modes or modes[-1][1] != mode:
            modes.append((at, mode))
    for (a, _), (b, _) in itertools.pairwise(modes):
        assert b - a >= timedelta(minutes=10)
    starts: dict[object, int] = {}
    blocked: dict[object, float] = {}
    for index, (at, mode) in enumerate(modes):
        if mode != 1:
            continue
        day = at.astimezone(zone).date()
        starts[day] = starts.get(day, 0) + 1
        until = modes[index + 1][0] if index + 1 < len(modes) else end
        cursor = at
        while cursor < until:
            local = cursor.astimezone(zone)
            next_day = datetime.combine(
                local.date() + timedelta(days=1), time(0), tzinfo=zone
            )
            stop = min(until, next_day)
            key = local.date()
            blocked[key] = blocked.get(key, 0.0) + (stop - cursor).total_seconds()
            cursor = stop
    assert all(count <= 3 for count in starts.values())
    assert all(seconds <= 2 * 3600 + 60 for seconds in blocked.values())


async def test_no_new_block_that_would_overrun_the_days_blocking_time() -> None:
    """119 of 120 minutes used: a new block would last 10 min, so it is refused."""
    clock = SimClock(datetime(2026, 1, 14, 7, 0, tzinfo=UTC))
    driver, _, _ = _rig(clock, indoor_c=22.0, comfort_min=10.0)
    await driver.async_update()
    await driver.async_set_power(0.0)
    clock.advance(timedelta(minutes=119))
    await driver.async_set_power(2500.0)
    clock.advance(timedelta(minutes=10))
    assert driver.power_range.min_w == 2500.0
    with pytest.raises(DeviceUnavailableError, match="1 min of blocking left"):
        await driver.async_set_power(0.0)


async def test_planner_input_carries_what_the_rules_still_allow_today() -> None:
    """Two blocks used: the planner gets one block and 100 min until midnight."""
    clock = SimClock(datetime(2026, 1, 14, 7, 0, tzinfo=UTC))
    driver, _, _ = _rig(clock, indoor_c=21.5)
    await driver.async_update()
    for _ in range(2):
        await driver.async_set_power(0.0)
        clock.advance(timedelta(minutes=10))
        await driver.async_set_power(2500.0)
        clock.advance(timedelta(minutes=15))
    device = driver.planner_input([3.0] * 8)
    assert device["blocking"] == {
        "blocks_left_today": 1,
        "blocked_minutes_left_today": 100.0,
        "day_ends": "2026-01-15T00:00:00+01:00",
        "max_blocks_per_day": 3,
        "max_blocked_minutes_per_day": 120.0,
    }
    problem = Problem.from_dict(
        {
            "start": clock().isoformat(),
            "horizon_slots": 8,
            "prices": {"tariff": "single", "single_eur_per_kwh": 0.3},
            "grid": {"fuse": "3x25"},
            "base_load_kw": 0.3,
            "devices": [device],
        }
    )
    assert problem.devices[0].device_id == "hp"


async def test_planner_input_asks_for_a_pump_the_plan_can_only_block() -> None:
    """Two relays: the plan blocks or releases; the thermostat sets the power.

    So the planner counts the pump at its rated power in every unblocked
    slot, and the plan's setpoint is the mode (rated power or 0 W).
    """
    clock = SimClock(datetime(2026, 1, 14, 15, 0, tzinfo=UTC))
    driver, _, _ = _rig(clock, indoor_c=20.5)
    await driver.async_update()
    device = driver.planner_input([3.0] * 24)
    assert device["control"] == "block"
    plan = solve(
        Problem.from_dict(
            {
                "start": clock().isoformat(),
                "horizon_slots": 24,
                "prices": {"tariff": "single", "single_eur_per_kwh": 0.3},
                "grid": {
                    "fuse": "3x25",
                    "windows": [
                        {
                            "start": "2026-01-14T16:00:00Z",
                            "end": "2026-01-14T20:00:00Z",
                            "import_kw": 4.0,
                        }
                    ],
                },
                "base_load_kw": 2.0,
                "devices": [device],
            }
        )
    )
    setpoint = plan.devices["hp"].setpoint_kw
    assert set(setpoint) == {0.0, 2.5}
    # 2 kW base + 2.5 kW pump break the 4 kW window: blocked 120 min there.
    assert sum(1 for kw in setpoint if kw == 0.0) == 8
    for kw in setpoint:
        level = driver.config.spec.level_for(kw * 1000.0)
        assert level.value == ("block" if kw == 0.0 else "normal")


def _reading(clock: SimClock, import_w: float) -> SimReading:
    return SimReading(
        timestamp=clock(),
        import_w=import_w,
        export_w=0.0,
        phase_power_w=(import_w / 3.0,) * 3,
        phase_currents_a=(None, None, None),
        quarter_average_w=None,
        quarter_projection_w=None,
    )


async def test_the_guard_blocks_a_released_pump_when_it_draws_not_before() -> None:
    """Idle in a 4 kW window with 2 kW used: no block until the pump draws.

    The plan releases the pump (2500 W, its normal mode) while only 1.8 kW of
    headroom is left. Blocking it then would spend one of the day's blocks
    and its minutes while the pump is idle anyway; the guard keeps it
    released, and blocks it once its thermostat calls and the import goes
    over the limit.
    """
    clock = SimClock(datetime(2026, 1, 14, 15, 0, tzinfo=UTC))
    driver, relays, _ = _rig(clock, indoor_c=20.8)
    await driver.async_update()
    guard = Guard(
        GuardConfig(grid=GridConnection(phases=3, fuse_a=25)),
        [guarded_device(driver)],
        limits=LimitStack(
            [
                StaticWindowSource(
                    (
                        TimeWindow(
                            start=time(0, 0),
                            end=time(23, 59),
                            import_w=4000,
                            label="window",
                        ),
                    )
                )
            ]
        ),
        rng=random.Random(3),  # noqa: S311 - reproducible stagger
    )
    for _ in range(5):
        clock.advance(timedelta(seconds=1))
        await guard.async_process(_reading(clock, 2000.0))
    await guard.async_set_plan("hp", 2500.0, clock())
    for _ in range(60):
        clock.advance(timedelta(seconds=1))
        relays.publish()
        await guard.async_process(_reading(clock, 2000.0 + (driver.power_w or 0.0)))
    assert driver.mode is SgReadyMode.NORMAL
    assert driver.blocking_budget().blocks_left_today == 3
    # The room cools below the thermostat's band: the pump starts.
    relays.unit.house.indoor_c = 20.0
    for _ in range(120):
        clock.advance(timedelta(seconds=1))
        relays.publish()
        await guard.async_process(_reading(clock, 2000.0 + (driver.power_w or 0.0)))
    assert driver.mode is SgReadyMode.BLOCKED
    assert driver.blocking_budget().blocks_left_today == 2


async def test_a_released_pump_with_a_boost_power_is_in_its_normal_mode() -> None:
    """Released by the plan, a pump with a boost power goes to mode 2, not 3.

    The plan counts a pump on two relays at its maximum when unblocked and
    sends that as its setpoint; with the boost power as that maximum every
    released slot asked for mode 3 (increased operation), so the pump ran
    hotter than planned (seen as an extra relay call in the gateway's
    relay test).
    """
    clock = SimClock(datetime(2026, 1, 14, 15, 0, tzinfo=UTC))
    driver, _, _ = _rig(clock, indoor_c=20.5)
    driver.config = SgReadyConfig(
        **{
            **_fields(driver.config),
            "spec": HeatPumpSpec(rated_power_w=2000, boost_power_w=2600),
        }
    )
    await driver.async_update()
    device = driver.planner_input([3.0] * 24)
    assert device["control"] == "block"
    assert device["max_power_kw"] == 2.0
    await driver.async_set_power(device["max_power_kw"] * 1000.0)
    assert driver.mode is SgReadyMode.NORMAL
    # A boost the user asks for (the boost power) is still mode 3.
    clock.advance(timedelta(minutes=20))
    await driver.async_set_power(2600.0)
    assert driver.mode is SgReadyMode.RECOMMENDED


async def test_a_pump_left_in_mode_3_goes_back_to_mode_2_on_a_release() -> None:
    """A boost that ended leaves the pump in mode 3; the plan's release is mode 2.

    The guard leaves a released pump alone until it draws; a pump in mode 3
    (its boost power) idling below the plan's rated power counted as
    released already, so it stayed in mode 3 and could draw its boost power
    where the plan counted its rated power.
    """
    clock = SimClock(datetime(2026, 1, 14, 15, 0, tzinfo=UTC))
    driver, relays, _ = _rig(clock, indoor_c=23.5)  # warm: the pump idles
    driver.config = SgReadyConfig(
        **{
            **_fields(driver.config),
            "spec": HeatPumpSpec(rated_power_w=2000, boost_power_w=2600),
        }
    )
    await driver.async_update()
    await driver.async_set_mode(SgReadyMode.RECOMMENDED)
    guard = Guard(
        GuardConfig(grid=GridConnection(phases=3, fuse_a=25)),
        [guarded_device(driver)],
        rng=random.Random(3),  # noqa: S311 - reproducible stagger
    )
    clock.advance(timedelta(minutes=20))  # past the minimum between changes
    relays.publish()
    await guard.async_process(_reading(clock, 1000.0))
    assert driver.power_w == 0.0
    await guard.async_set_plan("hp", 2000.0, clock())
    assert driver.mode is SgReadyMode.NORMAL


def test_a_boost_threshold_at_or_below_the_rated_power_is_refused() -> None:
    """Otherwise the rated power itself boosts, and a release is a mode 3."""
    with pytest.raises(ValueError, match="above rated_power_w"):
        HeatPumpSpec(rated_power_w=2000, boost_power_w=2600, boost_above_w=2000)
    spec = HeatPumpSpec(rated_power_w=2000, boost_power_w=2600, boost_above_w=2300)
    assert spec.level_for(2000) is HeatLevel.NORMAL
    assert spec.level_for(2300) is HeatLevel.BOOST
