"""The guard drives a real OCPP charge point through the capability view only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from custom_components.stroomwijs.engine.capabilities import CurtailPriority
from custom_components.stroomwijs.engine.drivers.ocpp import ChargerConfig
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import (
    Guard,
    GuardConfig,
    GuardedDevice,
)
from custom_components.stroomwijs.engine.limits import LimitStack, ManualLimitSource
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
)

from .conftest import CsmsFactory, wait_for


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """A P1 reading as the guard sees it."""

    timestamp: datetime
    import_w: float
    export_w: float = 0.0
    phase_currents_a: tuple[float | None, ...] = (None, None, None)
    quarter_average_w: float | None = None
    quarter_projection_w: float | None = None

    @property
    def net_power_w(self) -> float:
        """Import minus export."""
        return self.import_w - self.export_w


async def test_guard_curtails_a_charging_car_over_ocpp(make_csms: CsmsFactory) -> None:
    """Over the fuse, the guard lowers the OCPP charger's profile on the wire."""
    csms = await make_csms(ChargerConfig(charger_id="ev"))
    sim = OcppSimulator("ev", version="ocpp2.0.1")
    await sim.async_connect(csms.url)
    charger = csms.chargers["ev"]
    await sim.async_plug_in(SimCar(soc=0.3))
    await wait_for(lambda: charger.state.transaction_id is not None)

    grid = GridConnection(phases=3, fuse_a=25.0)  # 17.25 kW
    guard = Guard(
        GuardConfig(grid=grid, margin_w=0.0),
        [GuardedDevice(device=charger, priority=CurtailPriority.EV)],
    )
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    await guard.async_process(Reading(timestamp=now, import_w=1000.0))
    await guard.async_set_plan(charger.device_id, 11_000.0, now)
    assert sim.station.tx_profile is not None
    assert sim.station.tx_profile.limit == 15.9  # 11 kW at 3 x 230 V, rounded down
    car_w = await sim.async_step(1.0)

    # The house now draws 9 kW besides the car: 20 kW is over the 17.25 kW fuse.
    await guard.async_process(
        Reading(timestamp=now + timedelta(seconds=1), import_w=9000.0 + car_w)
    )
    assert charger.setpoint_w is not None
    assert charger.setpoint_w < car_w
    assert sim.station.tx_profile.limit < 15.9
    new_car_w = await sim.async_step(1.0)
    assert 9000.0 + new_car_w <= grid.max_power_w


async def test_a_car_that_may_not_pause_is_paused_in_a_dso_emergency(
    make_csms: CsmsFactory,
) -> None:
    """The DSO limit outranks ``minimum_instead_of_pause``: the car is paused."""
    csms = await make_csms(
        ChargerConfig(charger_id="ev", minimum_instead_of_pause=True)
    )
    sim = OcppSimulator("ev", version="ocpp2.0.1")
    await sim.async_connect(csms.url)
    charger = csms.chargers["ev"]
    await sim.async_plug_in(SimCar(soc=0.3))
    await wait_for(lambda: charger.state.transaction_id is not None)
    # Without an emergency the charger holds the car at its minimum.
    await charger.async_set_power(0.0)
    assert sim.station.tx_profile is not None
    assert sim.station.tx_profile.limit == 6.0
    grid = GridConnection(phases=3, fuse_a=25.0)
    limits = LimitStack([manual := ManualLimitSource()])
    guard = Guard(
        GuardConfig(grid=grid, margin_w=0.0),
        [
            GuardedDevice(
                device=charger, priority=CurtailPriority.EV, pause_allowed=False
            )
        ],
        limits=limits,
    )
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    manual.set_limit(now=now, import_w=5_000.0, duration=None, label="dso")
    car_w = await sim.async_step(1.0)
    # The house alone is over the 5 kW limit: the car must stop, and says why.
    for second in range(1, 16):
        await guard.async_process(
            Reading(timestamp=now + timedelta(seconds=second), import_w=5_600.0 + car_w)
        )
        await wait_for(lambda: charger.setpoint_w is not None)
        car_w = await sim.async_step(1.0)
        if sim.station.tx_profile.limit == 0.0 and car_w == 0.0:
            break
    assert sim.station.tx_profile.limit == 0.0
    assert car_w == 0.0
    status = guard.status()
    assert status.forced_pause == (charger.device_id,)
    assert status.emergency_notice is not None
