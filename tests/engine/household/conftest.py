"""A household under a simulated clock, with a real OCPP 2.1 car on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.stroomwijs.engine.drivers.ocpp import SessionOptions
from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    GridConfig,
    Household,
    HouseholdConfig,
    HouseholdEvent,
    HouseholdPorts,
    LimitConfig,
    MemoryStateStore,
    OcppServerConfig,
    OptimiserConfig,
    Series,
    TariffConfig,
)
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
)

from .prices import quarter_prices

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FAST = SessionOptions(response_timeout_s=5.0, boot_wait_s=0.2, pending_retry_s=5)


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """A meter reading as the household's guard sees it."""

    timestamp: datetime
    import_w: float
    export_w: float = 0.0
    phase_currents_a: tuple[float | None, ...] = (None, None, None)
    quarter_average_w: float | None = None
    quarter_projection_w: float | None = None
    text_message: str | None = None

    @property
    def net_power_w(self) -> float:
        """Import minus export."""
        return self.import_w - self.export_w


def household_config(**changes: Any) -> HouseholdConfig:  # noqa: ANN401
    """Return the test household: 3x25 A, a 16-21 h 4 kW window, one V2X car."""
    config = HouseholdConfig(
        name="Test household",
        time_zone="Europe/Amsterdam",
        grid=GridConfig(phases=3, fuse_a=25.0),
        limits=(
            LimitConfig(
                id="evening",
                kind="window",
                label="evening",
                start=time(16),
                end=time(21),
                import_w=4000.0,
            ),
        ),
        devices=(
            DeviceConfig(
                id="car",
                kind="ocpp_charger",
                name="Car",
                charger_id="ev1",
                capacity_kwh=60.0,
            ),
        ),
        ocpp=OcppServerConfig(host="127.0.0.1", port=0),
        tariff=TariffConfig(export_basis="fixed", export_fixed_eur_per_kwh=0.0),
        optimiser=OptimiserConfig(horizon_hours=24, time_limit_s=5.0),
    )
    return replace(config, **changes)


def day_prices(day_offset: int = 0) -> Series:
    """Return the 16 December 2025 prices, moved ``day_offset`` days on."""
    prices = quarter_prices()
    start = prices[0][0] + timedelta(days=day_offset)
    return Series(start, timedelta(minutes=15), tuple(p for _, p in prices))


def two_days_of_prices() -> Series:
    """16 December 2025 and the same prices again for the day after."""
    values = tuple(p for _, p in quarter_prices())
    return Series(quarter_prices()[0][0], timedelta(minutes=15), values + values)


@dataclass(slots=True)
class SimHome:
    """A household, its clock, its car and what happened."""

    household: Household
    store: MemoryStateStore
    clock: list[datetime]
    sim: OcppSimulator
    events: list[HouseholdEvent] = field(default_factory=list)
    base_w: Callable[[datetime], float] = lambda _when: 500.0
    grid_w: list[tuple[datetime, float, float]] = field(default_factory=list)
    """(time, net import W, import limit W) per step."""

    @property
    def now(self) -> datetime:
        """The simulated time."""
        return self.clock[0]

    async def step(self, seconds: float = 60.0) -> float:
        """Advance the clock: the car draws its setpoint, the meter reads the house."""
        self.clock[0] += timedelta(seconds=seconds)
        car_w = await self.sim.async_step(seconds)
        net = self.base_w(self.now) + car_w
        reading = Reading(
            timestamp=self.now, import_w=max(net, 0.0), export_w=max(-net, 0.0)
        )
        await self.household.async_feed(reading)
        await self.household.async_tick(self.now)
        self.grid_w.append((self.now, net, self.household.limits.import_limit_w))
        return net


type HomeFactory = Callable[..., Awaitable[SimHome]]


@pytest.fixture
async def make_home() -> AsyncIterator[HomeFactory]:
    """Start households with a connected OCPP 2.1 car; stop them afterwards."""
    started: list[SimHome] = []

    async def _make(
        *,
        start: datetime,
        config: HouseholdConfig | None = None,
        store: MemoryStateStore | None = None,
        solver: Any = None,  # noqa: ANN401
        sim: OcppSimulator | None = None,
    ) -> SimHome:
        clock = [start]
        store = store or MemoryStateStore()
        ports = HouseholdPorts(
            clock=lambda: clock[0],
            store=store,
            realtime=False,
            ocpp_session=FAST,
        )
        if solver is not None:
            ports.solver = solver
        household = Household(config or household_config(), ports)
        await household.async_start()
        csms = household.chargers.csms
        assert csms is not None
        sim = sim or OcppSimulator("ev1", version="ocpp2.1")
        await sim.async_connect(csms.url)
        home = SimHome(household=household, store=store, clock=clock, sim=sim)
        household.subscribe(home.events.append)
        started.append(home)
        return home

    yield _make
    for home in started:
        await home.sim.async_disconnect()
        await home.household.async_stop()


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Return a local time in December 2025, as UTC."""
    return datetime(2025, 12, day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


def car(soc: float = 0.4) -> SimCar:
    """Return a 60 kWh bidirectional car."""
    return SimCar(
        capacity_kwh=60.0,
        soc=soc,
        max_charge_w=11_000.0,
        max_discharge_w=11_000.0,
        target_soc=0.8,
    )
