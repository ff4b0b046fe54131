"""The simulated charge point: it must refuse what a real station refuses.

The CSMS tests trust the simulator to reject a profile a real station would
(wrong unit, stack level, discharge on a one-way charger), to drop a profile
that may not outlive the central system, and to keep retrying a central
system that is not there.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
    SimProfile,
    SimStation,
    async_run,
)


def _profile(**changes: object) -> SimProfile:
    fields: dict[str, object] = {
        "profile_id": 1,
        "purpose": "TxProfile",
        "unit": "W",
        "limit": 7000.0,
    }
    fields.update(changes)
    return SimProfile(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"unit": "kW"}, "UnsupportedRateUnit"),
        ({"stack_level": 4}, "InvalidStackLevel"),
        ({"operation_mode": "CentralSetpoint", "setpoint": 3000.0}, "UnsupportedMode"),
        ({"limit": -3000.0}, "InvalidSchedule"),
        ({"discharge_limit": 2000.0}, "InvalidSchedule"),
    ],
)
def test_a_one_way_station_rejects_what_it_cannot_do(
    changes: dict[str, object], reason: str
) -> None:
    """Unknown unit, too high a stack, V2G on a one-way charger: rejected."""
    station = SimStation(car=SimCar())
    assert station.install(_profile(**changes)) == reason
    assert station.tx_profile is None
    assert not station.profiles_received


def test_a_central_setpoint_follows_its_limits_both_ways() -> None:
    """Bidirectional: a setpoint is capped by the limit and the discharge limit."""
    car = SimCar(max_discharge_w=11_000.0, soc=0.5)
    station = SimStation(bidirectional=True, car=car)
    setpoint = _profile(
        operation_mode="CentralSetpoint",
        setpoint=-9000.0,
        limit=5000.0,
        discharge_limit=-4000.0,
    )
    assert station.install(setpoint) is None
    assert station.target_power_w() == -4000.0
    station.tx_profile = _profile(
        operation_mode="CentralSetpoint", setpoint=9000.0, limit=5000.0
    )
    assert station.target_power_w() == 5000.0


def test_below_the_cars_floor_nothing_flows() -> None:
    """A limit under 6 A (or a discharge under the car's minimum) gives 0 W."""
    car = SimCar(max_discharge_w=11_000.0, min_discharge_w=2000.0)
    station = SimStation(bidirectional=True, car=car)
    station.tx_profile = _profile(limit=2000.0)
    assert station.target_power_w() == 0.0
    station.tx_profile = _profile(
        operation_mode="CentralSetpoint", setpoint=-1000.0, limit=None
    )
    assert station.target_power_w() == 0.0


def test_a_full_car_takes_nothing_and_an_empty_one_gives_nothing() -> None:
    """At 100 % charging stops; at 0 % discharging does."""
    full = SimCar(soc=1.0)
    assert full.absorb(7000.0, 60.0) == 0.0
    empty = SimCar(soc=0.0, max_discharge_w=11_000.0)
    assert empty.absorb(-7000.0, 60.0) == 0.0
    station = SimStation()
    assert station.step(60.0) == 0.0  # no car
    assert station.target_power_w() == 0.0


def test_a_profile_that_may_not_outlive_the_central_system_lapses() -> None:
    """Offline longer than its max_offline_s: the profile goes, full power again."""
    now = [1000.0]
    station = SimStation(clock=lambda: now[0], car=SimCar())
    station.tx_profile = _profile(
        limit=4200.0, invalid_after_offline=True, max_offline_s=60
    )
    station.offline_since = now[0]
    now[0] += 30
    assert station.target_power_w() == 4200.0
    now[0] += 31
    assert station.target_power_w() == 11_000.0
    assert station.tx_profile is None


def test_the_simulator_refuses_an_unknown_version_and_calls_offline() -> None:
    """OCPP 3 does not exist; a call before connecting is an error."""
    with pytest.raises(ValueError, match="unknown OCPP version"):
        OcppSimulator("cp", version="ocpp3.0")


async def test_calls_before_connecting_and_needs_without_a_car_are_errors() -> None:
    """Nothing is sent before the websocket is up; no needs without a car."""
    sim = OcppSimulator("cp")
    with pytest.raises(RuntimeError, match="not connected"):
        await sim.async_call(object())
    with pytest.raises(RuntimeError, match="no car"):
        await sim.async_notify_needs()


class _Watch(logging.Handler):
    """Set an event when a log message holds a text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@pytest.mark.usefixtures("socket_enabled")
async def test_the_run_loop_keeps_retrying_a_missing_central_system() -> None:
    """No central system on the port: logged, retried, and it stops on request."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is free again: nothing listens there.
    logger = logging.getLogger(async_run.__module__)
    watch = _Watch("connection failed")
    logger.addHandler(watch)
    level = logger.level
    logger.setLevel(logging.INFO)
    sim = OcppSimulator("cp")
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(
            async_run(sim, f"ws://127.0.0.1:{port}/ocpp/", stop=stop, tick_s=0.01)
        )
        async with asyncio.timeout(10):
            await watch.seen.wait()
        stop.set()
        async with asyncio.timeout(5):
            await task
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)
    assert not sim.connected
