"""The chargers' share of the DSO limit: what holds when the household is gone.

While a DSO limit is active, each OCPP charger's station limit (the
charger-side profile without an offline expiry) is its setpoint plus an equal
part of what the limit leaves beyond the house and every charger's setpoint.
Before, it was the whole DSO limit for every charger: a car plugged in drew
the limit on top of the house until the guard's first setpoint, and with the
household gone longer than a setpoint's offline validity (OCPP 2.1) the car
alone could take the whole limit, two chargers twice it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import time, timedelta
from types import SimpleNamespace

from hypothesis import given, strategies as st

from custom_components.stroomwijs.engine.household import Household, LimitConfig
from custom_components.stroomwijs.engine.household.chargers import (
    SHARE_ROUND_W,
    ChargerForGuard,
    charger_shares,
)
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
)

from .conftest import HomeFactory, car, household_config, local, two_days_of_prices

WINDOW_W = 6_000.0
MARGIN_W = 200.0  # the guard's default margin


def _config(chargers: int = 1):  # noqa: ANN202 - a HouseholdConfig
    config = household_config(
        limits=(
            LimitConfig(
                id="evening",
                kind="window",
                label="evening",
                start=time(16),
                end=time(21),
                import_w=WINDOW_W,
            ),
        )
    )
    devices = list(config.devices)
    for number in range(2, chargers + 1):
        devices.append(
            replace(
                devices[0],
                id=f"car{number}",
                name=f"Car {number}",
                charger_id=f"ev{number}",
            )
        )
    return replace(config, devices=tuple(devices))


def _station_w(sim: OcppSimulator) -> float | None:
    profile = sim.station.station_max
    if profile is None or profile.limit is None:
        return None
    return sim.station.to_watts(profile.limit, profile.unit)


async def test_a_car_plugged_in_under_a_window_starts_within_what_the_house_leaves(
    make_home: HomeFactory,
) -> None:
    """3.5 kW of house under a 6 kW window: the plug-in draws no telegram over it.

    Before, the car started at the station limit (the whole 6 kW window,
    4.5 kW as a 3-phase current of 6.5 A) before the guard's first setpoint:
    one telegram at 7,985 W.
    """
    home = await make_home(start=local(16, 17), config=_config())
    home.base_w = lambda _when: 3_500.0
    household = home.household
    household.set_prices(two_days_of_prices())
    for _ in range(10):
        await home.step(1.0)
    await asyncio.sleep(0.05)
    station = _station_w(home.sim)
    assert station is not None
    assert station <= WINDOW_W - MARGIN_W - 3_500.0
    start = len(home.grid_w)
    await home.sim.async_plug_in(car(soc=0.3))
    household.set_departure("car", {"departure": local(16, 22), "target_soc": 0.9})
    for _ in range(30):
        await asyncio.sleep(0.01)
        await home.step(1.0)
    assert max(net for _, net, _ in home.grid_w[start:]) <= WINDOW_W


async def test_with_the_household_gone_the_car_keeps_to_its_share(
    make_home: HomeFactory,
) -> None:
    """The household stops mid-window; the car's setpoint lapses after 300 s.

    What is left on the charger, the station limit, keeps house and car under
    the window (before: the car alone could take the whole 6 kW).
    """
    home = await make_home(start=local(16, 17), config=_config())
    house = [1_000.0]
    home.base_w = lambda _when: house[0]

    def _simulated_seconds() -> float:
        return home.now.timestamp()

    home.sim.station.clock = _simulated_seconds
    household = home.household
    household.set_prices(two_days_of_prices())
    await home.sim.async_plug_in(car(soc=0.3))
    household.set_departure("car", {"departure": local(16, 22), "target_soc": 0.9})
    for _ in range(120):
        await asyncio.sleep(0.01)
        await home.step(1.0)
    charging = home.sim.station.power_w
    assert charging >= 4_000.0  # the car takes what the window leaves
    # The household is gone: no telegrams, no ticks, the connection drops.
    await home.sim.async_disconnect()
    draws = []
    for _ in range(600):
        home.clock[0] += timedelta(seconds=1)
        draws.append(home.sim.station.step(1.0))
    assert home.sim.station.tx_profile is None  # the setpoint lapsed offline
    assert max(house[0] + w for w in draws) <= WINDOW_W


async def test_two_chargers_share_the_window_instead_of_taking_it_twice(
    make_home: HomeFactory,
) -> None:
    """Two OCPP chargers: their station limits add up to what the house leaves."""
    home = await make_home(start=local(16, 17), config=_config(chargers=2))
    home.base_w = lambda _when: 1_000.0
    csms = home.household.chargers.csms
    assert csms is not None
    second = OcppSimulator("ev2", version="ocpp2.1")
    await second.async_connect(csms.url)
    try:
        for _ in range(60):
            await asyncio.sleep(0.01)
            await home.step(1.0)
        first_w, second_w = _station_w(home.sim), _station_w(second)
        assert first_w is not None
        assert second_w is not None
        assert first_w + second_w <= WINDOW_W - MARGIN_W - 1_000.0
        assert min(first_w, second_w) >= 2_000.0  # each an equal part
    finally:
        await second.async_disconnect()


async def test_a_steady_house_does_not_flood_the_charger_with_limits(
    make_home: HomeFactory,
) -> None:
    """Ten minutes of a house that wobbles by 300 W: no new station limit."""
    home = await make_home(start=local(16, 17), config=_config())
    wobble = [0]
    home.base_w = lambda _when: 1_000.0 + 300.0 * (wobble[0] % 2)
    for _ in range(15):
        await home.step(1.0)
    await asyncio.sleep(0.05)
    before = len(home.sim.station.profiles_received)
    for _ in range(600):
        wobble[0] += 1
        await home.step(1.0)
    await asyncio.sleep(0.05)
    assert len(home.sim.station.profiles_received) == before


@given(
    limit=st.floats(-1e5, 1e5),
    house=st.floats(-1e5, 1e5),
    grants=st.lists(st.floats(-2e4, 5e4), min_size=1, max_size=4),
)
def test_shares_never_add_up_to_more_than_the_house_leaves(
    limit: float, house: float, grants: list[float]
) -> None:
    """Together the shares take what is free, or only what was granted."""
    shares = charger_shares(limit, house, grants)
    granted = [max(g, 0.0) for g in grants]
    assert len(shares) == len(grants)
    assert all(s >= 0.0 for s in shares)
    assert sum(shares) <= max(limit - house, sum(granted)) + 1e-6
    for share, grant in zip(shares, granted, strict=True):
        assert share >= grant - SHARE_ROUND_W


def test_shares_of_nonsense_are_the_grants_only() -> None:
    """A NaN house or limit frees nothing; a NaN setpoint counts as 0."""
    assert charger_shares(float("nan"), 1_000.0, [2_000.0]) == [2_000.0]
    assert charger_shares(6_000.0, float("nan"), [2_000.0, 0.0]) == [2_000.0, 0.0]
    assert charger_shares(6_000.0, 1_000.0, [float("nan")]) == [5_000.0]
    assert charger_shares(6_000.0, 1_000.0, []) == []


async def test_a_grant_that_was_cut_again_does_not_leave_the_station_limit_high(
    make_home: HomeFactory,
) -> None:
    """House 3.5 kW, then 1 kW (the car is granted more), then 3.5 kW again.

    The share works out the same before and after (2.3 kW), but the station
    limit the grant raised must come down with it: it stayed at the grant,
    so a household gone after that left the car room the house had taken.
    """
    home = await make_home(start=local(16, 17), config=_config())
    house = [3_500.0]
    home.base_w = lambda _when: house[0]
    household = home.household
    household.set_prices(two_days_of_prices())
    await home.sim.async_plug_in(car(soc=0.3))
    household.set_departure("car", {"departure": local(16, 22), "target_soc": 0.9})
    for _ in range(40):
        await asyncio.sleep(0.01)
        await home.step(1.0)
    low = _station_w(home.sim)
    assert low is not None
    assert low <= WINDOW_W - MARGIN_W - 3_500.0
    house[0] = 1_000.0
    for _ in range(150):
        await asyncio.sleep(0.01)
        await home.step(1.0)
    assert home.sim.station.power_w >= 4_000.0  # granted beyond the old share
    raised = _station_w(home.sim)
    assert raised is not None
    assert raised >= home.sim.station.power_w
    house[0] = 3_500.0
    for _ in range(90):
        await asyncio.sleep(0.01)
        await home.step(1.0)
    assert home.sim.station.power_w == 0.0  # cut again: the minimum does not fit
    back = _station_w(home.sim)
    assert back is not None
    assert back <= WINDOW_W - MARGIN_W - 3_500.0


class _Charger:
    """The part of an OCPP charger the adapter drives: limits and setpoints."""

    device_id = "ev"

    def __init__(self) -> None:
        self.setpoint_w: float | None = 0.0
        self.manual_setpoint_w: float | None = None
        self.limits: list[float | None] = []

    async def async_set_station_limit(self, limit_w: float | None) -> None:
        self.limits.append(limit_w)

    async def async_set_power(self, setpoint_w: float) -> None:
        self.setpoint_w = setpoint_w


async def test_a_raised_then_cut_grant_makes_the_same_share_due_again() -> None:
    """DSO 8 kW, share 3 kW; the guard grants 7 kW, then cuts to 3 kW.

    The share works out at 3 kW again, the same as sent; the station limit
    the grant raised to 7 kW must still come down (it stayed at 7 kW: with
    the household gone, car and house could draw 12 kW under 8 kW).
    """
    charger = _Charger()
    adapter = ChargerForGuard(charger)  # type: ignore[arg-type]
    await adapter.async_set_dso_limit(8_000.0)
    await adapter.async_set_share(3_000.0)
    await adapter.async_set_power(7_000.0)
    await adapter.async_set_power(3_000.0)
    assert charger.limits == [8_000.0, 3_000.0, 7_000.0]
    start = local(16, 17)
    home = SimpleNamespace(_shares_sent={adapter.device_id: (3_000.0, start)})
    assert not Household._share_due(
        home,  # type: ignore[arg-type]
        adapter,
        3_000.0,
        start + timedelta(seconds=10),  # within the interval
    )
    assert Household._share_due(
        home,  # type: ignore[arg-type]
        adapter,
        3_000.0,
        start + timedelta(seconds=31),
    )
    await adapter.async_set_share(3_000.0)
    assert charger.limits[-1] == 3_000.0
