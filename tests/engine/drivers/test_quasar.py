"""The Wallbox Quasar driver against the simulated Quasar on a real Modbus socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging
import time

from hypothesis import given, strategies as st
import pytest

from custom_components.stroomwijs.engine.capabilities import (
    Bidirectional,
    DepartureNeeds,
    DeviceUnavailableError,
    PowerMeter,
    PowerSettable,
)
from custom_components.stroomwijs.engine.drivers.quasar import (
    QuasarCharger,
    QuasarConfig,
    from_register,
    to_register,
)
from custom_components.stroomwijs.engine.simulate.quasar import (
    CONTROL_USER,
    REG_SETPOINT_W,
    QuasarSimulator,
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at 1000 s."""
        self.now = 1000.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """Return the simulator's clock."""
    return FakeClock()


@pytest.fixture
async def quasar(clock: FakeClock) -> AsyncIterator[QuasarSimulator]:
    """Run a simulated Quasar on 127.0.0.1 (free port)."""
    sim = QuasarSimulator(soc=0.5, capacity_kwh=40.0, ramp_w_per_s=4000.0, clock=clock)
    await sim.async_start("127.0.0.1", 0)
    yield sim
    await sim.async_stop()


@pytest.fixture
async def driver(quasar: QuasarSimulator) -> AsyncIterator[QuasarCharger]:
    """Connect the driver (no real settle delay; the fake clock does the settling)."""
    charger = QuasarCharger(
        QuasarConfig(
            host="127.0.0.1", port=quasar.port, settle_s=0.0, idle_timeout_s=30
        )
    )
    await charger.async_connect()
    await charger.async_update()
    yield charger
    charger.close()


async def _settle(driver: QuasarCharger, clock: FakeClock, seconds: float) -> None:
    clock.now += seconds
    await driver.async_update()


async def test_charge_and_discharge_setpoints_are_applied_and_read_back(
    driver: QuasarCharger, quasar: QuasarSimulator, clock: FakeClock
) -> None:
    """+5000 W charges, -6000 W discharges (state 11); both read back after settling."""
    assert isinstance(driver, PowerMeter)
    assert isinstance(driver, PowerSettable)
    assert isinstance(driver, Bidirectional)
    assert driver.plugged_in
    assert driver.soc == pytest.approx(0.5)
    assert driver.power_range.min_w == -7400.0

    await driver.async_set_power(5000.0)
    assert quasar.state.setpoint_w == 5000
    assert driver.power_w == 0.0  # not settled yet: the power ramps
    await _settle(driver, clock, 5.0)
    assert driver.power_w == 5000.0
    assert driver.state == "charging"

    await driver.async_set_power(-6000.0)
    registers = dict(quasar.writes)
    assert registers[REG_SETPOINT_W] == to_register(-6000) == 0x10000 - 6000
    await _settle(driver, clock, 5.0)
    assert driver.power_w == -6000.0
    assert driver.state == "discharging"
    soc_before = quasar.state.soc
    for _ in range(30):  # ten minutes of polling every 20 s
        await _settle(driver, clock, 20.0)
    assert quasar.state.soc == pytest.approx(soc_before - 1000.0 / 40_000.0, abs=1e-4)
    assert driver.soc == pytest.approx(round(quasar.state.soc * 100) / 100)


async def test_limits_of_7400_w_and_1380_w_minimum(
    driver: QuasarCharger, quasar: QuasarSimulator, clock: FakeClock
) -> None:
    """Setpoints are clamped to +/-7400 W; below 1380 W the charger pauses."""
    await driver.async_set_power(20_000.0)
    assert quasar.state.setpoint_w == 7400
    await driver.async_set_power(-20_000.0)
    assert quasar.state.setpoint_w == -7400
    await driver.async_set_power(900.0)
    assert quasar.state.setpoint_w == 0
    assert not quasar.state.running
    await _settle(driver, clock, 5.0)
    assert driver.power_w == 0.0
    assert driver.state == "paused"


async def test_minimum_instead_of_pause_holds_1380_w(
    quasar: QuasarSimulator,
) -> None:
    """With "minimum instead of pause" a tiny setpoint becomes the 1380 W minimum."""
    charger = QuasarCharger(
        QuasarConfig(
            host="127.0.0.1",
            port=quasar.port,
            settle_s=0.0,
            minimum_instead_of_pause=True,
        )
    )
    await charger.async_connect()
    await charger.async_update()
    try:
        await charger.async_set_power(0.0)
        assert quasar.state.setpoint_w == 1380
        await charger.async_set_power(-500.0)
        assert quasar.state.setpoint_w == -1380
    finally:
        charger.close()


async def test_new_setpoint_waits_for_settling_and_repeats_are_not_written(
    quasar: QuasarSimulator,
) -> None:
    """A repeated setpoint costs no Modbus writes; a new one waits out the settle."""
    charger = QuasarCharger(
        QuasarConfig(host="127.0.0.1", port=quasar.port, settle_s=0.3)
    )
    await charger.async_connect()
    await charger.async_update()
    try:
        started = time.monotonic()
        await charger.async_set_power(2000.0)
        assert time.monotonic() - started < 0.25  # the write does not wait
        assert charger.settling
        writes = len(quasar.writes)
        await charger.async_set_power(2000.0)
        assert len(quasar.writes) == writes
        await charger.async_set_power(4000.0)
        assert time.monotonic() - started >= 0.3
        assert quasar.state.setpoint_w == 4000
    finally:
        charger.close()


async def test_idle_timeout_failsafe_returns_control_to_the_charger(
    driver: QuasarCharger, quasar: QuasarSimulator, clock: FakeClock
) -> None:
    """When the controller goes quiet past register 88, discharge stops by itself."""
    await driver.async_set_power(-7000.0)
    assert quasar.state.idle_timeout_s == 30
    await _settle(driver, clock, 5.0)
    assert driver.power_w == -7000.0
    clock.now += 31.0  # Stroomwijs is gone for longer than the idle timeout
    quasar.advance()
    assert quasar.state.failsafe_tripped
    assert quasar.state.control_mode == CONTROL_USER
    await _settle(driver, clock, 5.0)
    assert driver.power_w == 0.0
    # The next setpoint takes control back.
    await driver.async_set_power(3000.0)
    await _settle(driver, clock, 5.0)
    assert driver.power_w == 3000.0


async def test_implausible_soc_readings_are_filtered(
    driver: QuasarCharger, quasar: QuasarSimulator
) -> None:
    """0 % and one-off jumps are ignored; a jump that repeats is accepted."""
    assert driver.soc == pytest.approx(0.5)
    quasar.glitch_soc(0, 250, 97)
    await driver.async_update()
    await driver.async_update()
    await driver.async_update()
    assert driver.soc == pytest.approx(0.5)
    assert driver.rejected_soc_readings == 3
    quasar.state.soc = 0.8  # e.g. a different car: the new value repeats
    await driver.async_update()
    await driver.async_update()
    assert driver.soc == pytest.approx(0.8)


async def test_discharge_not_offered_below_minimum_soc_or_when_forbidden(
    driver: QuasarCharger,
) -> None:
    """The power range has no negative part at the minimum SoC or without consent."""
    driver.set_departure(DepartureNeeds(departure=None, target_soc=0.9, min_soc=0.6))
    assert not driver.discharge_allowed
    assert driver.power_range.min_w == 0.0
    driver.set_departure(DepartureNeeds(departure=None, target_soc=0.9, min_soc=0.2))
    driver.set_v2g_allowed(False)
    assert driver.power_range.min_w == 0.0
    driver.set_v2g_allowed(True)
    assert driver.power_range.min_w == -7400.0


async def test_unreachable_quasar_raises_device_unavailable() -> None:
    """A closed port gives DeviceUnavailableError, not a hang or a crash."""
    sim = QuasarSimulator()
    port = await sim.async_start("127.0.0.1", 0)
    await sim.async_stop()
    charger = QuasarCharger(
        QuasarConfig(host="127.0.0.1", port=port, settle_s=0.0, timeout_s=0.5)
    )
    with pytest.raises(DeviceUnavailableError):
        await charger.async_connect()
    assert not charger.available
    charger.close()


def test_config_rejects_unsafe_settings() -> None:
    """No failsafe (timeout 0) and powers beyond the charger are refused."""
    with pytest.raises(ValueError, match="idle timeout"):
        QuasarConfig(host="127.0.0.1", idle_timeout_s=0)
    with pytest.raises(ValueError, match="maximum power"):
        QuasarConfig(host="127.0.0.1", max_power_w=11_000.0)


@given(st.integers(min_value=-0x8000, max_value=0x7FFF))
def test_twos_complement_round_trips(value: int) -> None:
    """Every signed 16-bit setpoint survives the register encoding."""
    encoded = to_register(value)
    assert 0 <= encoded <= 0xFFFF
    assert from_register(encoded) == value


async def test_lost_quasar_is_logged_once_and_its_power_is_unknown(
    quasar: QuasarSimulator,
    driver: QuasarCharger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """log-when-unavailable: one info line when lost, one when back."""
    caplog.set_level(logging.DEBUG, logger="custom_components.stroomwijs")
    assert driver.power_w is not None
    port = quasar.port
    await quasar.async_stop()
    for _ in range(3):
        with pytest.raises(DeviceUnavailableError):
            await driver.async_update()
    assert not driver.available
    assert driver.power_w is None  # the last reading says nothing about now
    restarted = QuasarSimulator(soc=0.5)
    await restarted.async_start("127.0.0.1", port)
    try:
        for _ in range(2):
            if not driver.available:
                await driver.async_connect()
            await driver.async_update()
    finally:
        await restarted.async_stop()
    assert driver.available
    lines = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name.endswith("drivers.quasar") and r.levelno >= logging.INFO
    ]
    assert [level for level, _ in lines] == [logging.INFO, logging.INFO]
    assert "is unavailable" in lines[0][1]
    assert "available again" in lines[1][1]


async def test_implausible_power_register_reads_as_unknown(
    quasar: QuasarSimulator, driver: QuasarCharger
) -> None:
    """A power of 30 kW from a 7.4 kW charger is counted and never passed on."""
    quasar.glitch_power(30_000, -32_000)
    await driver.async_update()
    assert driver.power_w is None
    await driver.async_update()
    assert driver.power_w is None
    await driver.async_update()
    assert driver.power_w is not None
    assert abs(driver.power_w) <= 7400.0
    assert driver.rejected_power_readings == 2
