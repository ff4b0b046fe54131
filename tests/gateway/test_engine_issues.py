"""Engine defects the gateway's tests ran into; fixed, and kept as tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from custom_components.stroomwijs.engine.household import HouseholdConfig
from tests.engine.household.conftest import (  # noqa: F401 - fixtures
    HomeFactory,
    car,
    local,
    loopback_sockets,
    make_home,
)


async def test_a_pause_right_after_a_new_limit_stays_a_pause(
    make_home: HomeFactory,  # noqa: F811 - the imported fixture
) -> None:
    """A manual limit, then at once the user's pause: the car must stop."""
    home = await make_home(start=local(16, 12))
    household = home.household
    await home.sim.async_plug_in(car(soc=0.3))
    for _ in range(3):
        await home.step(1)
    assert home.sim.station.target_power_w() == 11_000.0
    household.set_manual_limit(
        import_w=6000.0, duration=timedelta(minutes=120), label="dso"
    )
    # The charger-side limit is on its way to the charger (as when the
    # gateway gets the two commands as two messages) ...
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # ... when the user pauses the car.
    await household.async_set_override("car", 0.0)
    await asyncio.sleep(0.5)
    setpoints = [p.setpoint for p in home.sim.station.profiles_received[-2:]]
    assert home.sim.station.target_power_w() == 0.0, setpoints


def test_a_document_without_a_network_meter_round_trips() -> None:
    """to_yaml/from_yaml and to_json/from_json give back the same document."""
    config = HouseholdConfig(name="No network meter")
    assert HouseholdConfig.from_json(config.to_json()) == config
    assert HouseholdConfig.from_yaml(config.to_yaml()) == config
