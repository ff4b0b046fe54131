"""Acceptance: a real Home Assistant household under a 16-21 h 4 kW window.

Issue 13's "done means": a heat pump, a boiler, a washing machine and the EV
under a 4 kW window; the plan pre-heats before the window, the guard holds
the limit by curtailing in the documented order, and comfort stays in band.

The household is the integration's own, set up from a config entry with its
subentries, inside a real Home Assistant (pytest-homeassistant-custom-component):

* a 3x25 A connection read from a DSMR 5 P1 stream on loopback, whose
  telegrams carry the base load plus what every simulated device draws at
  that moment (the loop is closed: what the guard switches changes the next
  telegram);
* an OCPP 2.1 charge point (one phase, 16 A) with a car, on loopback;
* a Lambda heat pump: a real pymodbus server (``LambdaSimulator``) over the
  thermal house model, driven by the Lambda Modbus driver;
* an electric boiler on an ``input_boolean`` relay with a tank model behind
  it (``TankSim``), its tank temperature and power as sensors;
* a washing machine on a metered plug (``input_boolean`` plus a power
  sensor), loaded and started with the plug off, armed with
  ``stroomwijs.run_before``;
* Nord Pool-shaped prices for 16 December 2025 and a 16:00-21:00 4 kW window
  subentry.

Time is simulated: Home Assistant's household gets a clock (``ports.clock``)
that runs ``rate`` times faster than the wall clock, slowly (60x) around the
moments that matter and fast (600x) between them, so 2 h 50 min of the
afternoon take about half a minute. The meter stamps readings, the limit
sources, the drivers, the guard and the simulators all read that one clock.
Sockets, pymodbus and OCPP keep real time, which is why a breach's allowed
length adds the event loop's own latency (scaled to simulated seconds) to
the guard's reaction bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import time as wall
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs import integration
from custom_components.stroomwijs.charger import SUBENTRY_CHARGER
from custom_components.stroomwijs.const import (
    CONF_EXPORT_BASIS,
    CONF_FEED_IN,
    CONF_PRICE_ENTITY,
    DOMAIN,
)
from custom_components.stroomwijs.coordinator import (
    CONF_DSMR_VERSION,
    CONF_HOST,
    CONF_SOURCE,
    CONF_TCP_PORT,
    SOURCE_NETWORK,
)
from custom_components.stroomwijs.device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from custom_components.stroomwijs.engine.drivers.appliance import (
    CycleState,
    PlugAppliance,
)
from custom_components.stroomwijs.engine.guard import Intervention, InterventionKind
from custom_components.stroomwijs.engine.household import Household, Series
from custom_components.stroomwijs.engine.simulate.boiler import TankSim
from custom_components.stroomwijs.engine.simulate.lambda_heat_pump import (
    LambdaSimulator,
)
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
    SimStation,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.engine.simulate.thermal import ThermalHouse
from custom_components.stroomwijs.engine.simulate.washer import WashingMachineSim
from custom_components.stroomwijs.guard_glue import CONF_GUARD_DATA_TIMEOUT_S
from custom_components.stroomwijs.limits_flow import (
    CONF_END,
    CONF_IMPORT_W,
    CONF_LABEL,
    CONF_LIMIT_KIND,
    CONF_START,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
)
from tests.engine.household.prices import nordpool_state

from .charger_support import ocpp_subentry, setup_loaded
from .p1_support import until

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PRICES = "sensor.nordpool_kwh_nl_eur"
LIMIT_W = 4000.0
VOLTAGE = 230.0
TELEGRAM_S = 0.05
"""Wall seconds between telegrams."""
LOOP_LATENCY_S = 0.5
"""Wall seconds the event loop may add to a reaction (service calls, OCPP and
Modbus round trips, a solve in the executor holding the GIL)."""
FAST, SLOW = 600.0, 60.0
DAY = datetime(2025, 12, 16, tzinfo=AMSTERDAM)
SIM_START = DAY.replace(hour=15)
WINDOW_START = DAY.replace(hour=16)
DEADLINE = DAY.replace(hour=17, minute=45)
COMFORT = (19.5, 22.0)
OUTDOOR_C = -3.0
HOUSE = {"heat_capacity_kwh_per_k": 12.0, "heat_loss_kw_per_k": 0.25}


def base_kw(when: datetime) -> float:
    """Return the uncontrolled load (kW) of a working day: cooking 16:30-19:30."""
    local = when.astimezone(AMSTERDAM)
    minutes = local.hour * 60 + local.minute
    if 16 * 60 + 30 <= minutes < 19 * 60 + 30:
        return 1.6
    if 16 * 60 <= minutes < 23 * 60:
        return 0.9
    if 7 * 60 <= minutes < 16 * 60:
        return 0.5
    return 0.35


SPIKE_W = 2500.0
"""An oven switched on in the window (on L2 and L3)."""


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


class SimClock:
    """Simulated time that runs ``rate`` times as fast as the wall clock."""

    def __init__(self, start: datetime, rate: float) -> None:
        """Start at ``start``, running ``rate`` times as fast as the wall clock."""
        self._base = start.astimezone(UTC)
        self._wall = wall.monotonic()
        self.rate = rate

    def __call__(self) -> datetime:
        """Return the simulated time now (UTC)."""
        return self._base + timedelta(
            seconds=(wall.monotonic() - self._wall) * self.rate
        )

    def set_rate(self, rate: float) -> None:
        """Go on from now at ``rate`` (no jump)."""
        self._base = self()
        self._wall = wall.monotonic()
        self.rate = rate

    async def run_until(self, when: datetime, rate: float) -> None:
        """Let simulated time run at ``rate`` until ``when``."""
        self.set_rate(rate)
        while self() < when:  # noqa: ASYNC110 - the clock is read, not set
            await asyncio.sleep(0.02)


@dataclass
class Sample:
    """One reading as the household's meter saw it."""

    at: datetime
    net_w: float
    rate: float


@dataclass
class World:
    """Everything behind the meter, closing the loop through the P1 stream."""

    hass: HomeAssistant
    clock: SimClock
    heat_pump: LambdaSimulator
    tank: TankSim
    washer: WashingMachineSim
    spike_w: float = 0.0
    station: SimStation = field(
        default_factory=lambda: SimStation(
            phases=1, max_current_a=16.0, bidirectional=False
        )
    )
    energy_kwh: float = 1200.0
    last: datetime | None = None
    indoor: list[tuple[datetime, float]] = field(default_factory=list)
    washer_finished_at: datetime | None = None

    def phase_w(self) -> tuple[float, float, float]:
        """Return what each phase draws now: base, devices, car (L1), the spike."""
        hp = self.heat_pump.unit.power_w / 3
        car = self.station.target_power_w()
        spike = self.spike_w / 2
        base = base_kw(self.clock()) * 1000 / 3
        return (
            base + hp + car,
            base + hp + self.washer.power_w + spike,
            base + hp + self.tank.power_w + spike,
        )

    def step(self) -> None:
        """Bring every model to now and publish the sensors."""
        now = self.clock()
        self.heat_pump.advance(now)
        self.tank.advance(now)
        done = self.washer.cycles_done
        self.washer.advance(now)
        if self.washer.cycles_done > done:
            self.washer_finished_at = now
        if self.last is not None:
            hours = (now - self.last).total_seconds() / 3600
            self.energy_kwh += sum(self.phase_w()) / 1000 * max(hours, 0.0)
        self.last = now
        self.indoor.append((now, self.heat_pump.house.indoor_c))
        states = self.hass.states
        states.async_set(
            "sensor.boiler_temperature",
            str(round(self.tank.temperature_c, 1)),
            {"unit_of_measurement": "°C", "device_class": "temperature"},
        )
        states.async_set(
            "sensor.boiler_power",
            str(round(self.tank.power_w, 1)),
            {"unit_of_measurement": "W", "device_class": "power"},
        )
        states.async_set(
            "sensor.washer_power",
            str(round(self.washer.power_w, 1)),
            {"unit_of_measurement": "W", "device_class": "power"},
        )

    def telegram(self, _index: int) -> bytes:
        """Return the P1 telegram for now: the loop is closed through the meter."""
        self.step()
        phases = self.phase_w()
        return build_telegram(
            TelegramValuesIn(
                timestamp=self.clock(),
                import_w=sum(phases),
                phase_import_w=phases,
                phase_currents_a=tuple(round(w / VOLTAGE) for w in phases),
                import_t1_kwh=self.energy_kwh,
            )
        )

    def on_relay(self, event: Event[EventStateChangedData]) -> None:
        """Switch the simulated supply when the boiler relay or washer plug moves."""
        new = event.data["new_state"]
        if new is None:
            return
        on = new.state == "on"
        if new.entity_id == "input_boolean.boiler":
            self.tank.advance(self.clock())
            self.tank.supply_on = on
        elif new.entity_id == "input_boolean.washer_plug":
            self.washer.set_powered(powered=on)
        self.step()


def _prices() -> dict[str, Any]:
    """Nord Pool's attributes for 16 December 2025 (tomorrow: the same prices)."""
    state = nordpool_state()

    def _shift(text: str) -> str:
        moved = datetime.fromisoformat(text) + timedelta(days=1)
        return moved.astimezone(AMSTERDAM).isoformat()

    state["raw_tomorrow"] = [
        {**row, "start": _shift(row["start"]), "end": _shift(row["end"])}
        for row in state["raw_today"]
    ]
    state["tomorrow_valid"] = True
    return state


def _device(title: str, driver: dict[str, Any]) -> ConfigSubentryData:
    return ConfigSubentryData(
        data={CONF_DRIVER: driver}, subentry_type=SUBENTRY_DEVICE, title=title
    )


def _window() -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            CONF_LIMIT_KIND: KIND_WINDOW,
            CONF_LABEL: "evening",
            CONF_START: "16:00",
            CONF_END: "21:00",
            CONF_IMPORT_W: LIMIT_W,
        },
        subentry_type=SUBENTRY_GRID_LIMIT,
        title="Evening 4 kW",
        unique_id="window_evening",
    )


async def _relays(hass: HomeAssistant) -> None:
    assert await async_setup_component(
        hass,
        "input_boolean",
        {
            "input_boolean": {
                "boiler": {"name": "Boiler relay", "initial": True},
                "washer_plug": {"name": "Washer plug", "initial": False},
            }
        },
    )
    # A smart plug is a switch: a template switch over the relay's boolean.
    plug = {"entity_id": "input_boolean.washer_plug"}
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "switch": [
                        {
                            "name": "washer_plug",
                            "state": "{{ is_state('input_boolean.washer_plug', 'on') }}",  # noqa: E501
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": plug,
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": plug,
                            },
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()


@dataclass
class Home:
    """The set-up household and what the test reads from it."""

    entry: MockConfigEntry
    household: Household
    world: World
    car: OcppSimulator
    ids: dict[str, str]
    samples: list[Sample]
    interventions: list[Intervention]


@asynccontextmanager
async def _home(  # noqa: PLR0915 - one household with all its parts
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Home]:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.states.async_set(PRICES, "0.1", _prices())
    await _relays(hass)
    clock = SimClock(SIM_START, rate=1.0)
    world = World(
        hass=hass,
        clock=clock,
        heat_pump=LambdaSimulator(
            clock=clock,
            house=ThermalHouse(indoor_c=20.6, outdoor_c=OUTDOOR_C, **HOUSE),
            rated_w=3000.0,
            room_setpoint_c=20.5,
        ),
        tank=TankSim(clock=clock, temperature_c=52.0),
        washer=WashingMachineSim(clock=clock),
    )
    world.tank.supply_on = True
    # The user loads the machine and presses start with the plug off.
    world.washer.set_powered(powered=False)
    world.washer.press_start()
    world.step()
    unsub = async_track_state_change_event(
        hass, ["input_boolean.boiler", "input_boolean.washer_plug"], world.on_relay
    )
    hp_port = await world.heat_pump.async_start()
    server = P1TelegramServer(world.telegram, interval=TELEGRAM_S)
    await server.start()
    # Home Assistant's household runs on the simulated clock from the start.
    real_ports = integration.HouseholdPorts
    monkeypatch.setattr(
        integration,
        "HouseholdPorts",
        lambda **kw: real_ports(**{**kw, "clock": clock}),
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data={
            CONF_SOURCE: SOURCE_NETWORK,
            CONF_HOST: "127.0.0.1",
            CONF_TCP_PORT: server.port,
            CONF_DSMR_VERSION: "5",
            "phases": 3,
            "fuse_a": 25.0,
        },
        options={
            "ocpp_host": "127.0.0.1",
            "ocpp_port": 0,
            CONF_PRICE_ENTITY: PRICES,
            CONF_EXPORT_BASIS: "fixed",
            CONF_FEED_IN: 0.0,
            # Telegrams come every 0.05 s of wall time: 30 s of simulated time
            # at 600x. The data timeout is in simulated seconds.
            CONF_GUARD_DATA_TIMEOUT_S: 600,
        },
        subentries_data=[
            ocpp_subentry(
                "garage", capacity_kwh=60, phases=1, max_current_a=16, min_current_a=6
            ),
            _window(),
            _device(
                "Heat pump",
                {
                    "driver": "lambda",
                    "host": "127.0.0.1",
                    "port": hp_port,
                    "spec": {"rated_power_w": 2800, "boost_power_w": 3000},
                    "house": HOUSE,
                    "comfort": {"min_c": COMFORT[0], "max_c": COMFORT[1]},
                },
            ),
            _device(
                "Boiler",
                {
                    "driver": "boiler",
                    "control": "switch",
                    "entity_id": "input_boolean.boiler",
                    "temperature_entity": "sensor.boiler_temperature",
                    "power_entity": "sensor.boiler_power",
                    "volume_l": 120,
                    "power_w": 2000,
                    "phase": 3,
                },
            ),
            _device(
                "Washer",
                {
                    "driver": "plug_appliance",
                    "plug_entity": "switch.washer_plug",
                    "power_entity": "sensor.washer_power",
                    "phase": 2,
                },
            ),
        ],
    )
    samples: list[Sample] = []
    interventions: list[Intervention] = []
    car: OcppSimulator | None = None
    ticking: asyncio.Task[None] | None = None
    try:
        await setup_loaded(hass, entry)
        household: Household = entry.runtime_data.household
        ids = {sub.title: sid for sid, sub in entry.subentries.items()}
        ids["car"] = next(
            sid
            for sid, sub in entry.subentries.items()
            if sub.subentry_type == SUBENTRY_CHARGER
        )
        meter = household.meter
        assert meter is not None
        meter.subscribe(
            lambda r: samples.append(Sample(r.timestamp, r.net_power_w, clock.rate))
        )
        household.guard.subscribe(interventions.append)
        # A frosty evening, and four weeks of the meter's history of the
        # uncontrolled load (what the household learns from its quarter-hours).
        household.set_outdoor_forecast(
            Series(
                start=DAY.replace(hour=0),
                step=timedelta(hours=1),
                values=(OUTDOOR_C,) * 48,
            )
        )
        for days in range(1, 29):
            start = DAY - timedelta(days=days)
            for quarter in range(96):
                at = start + timedelta(minutes=15 * quarter)
                household.forecaster.observe(at, base_kw(at))
        car = OcppSimulator("garage", version="ocpp2.1", station=world.station)
        csms = household.chargers.csms
        assert csms is not None
        await car.async_connect(csms.url)
        await car.async_plug_in(SimCar(capacity_kwh=60.0, soc=0.4))
        charger = household.handle(ids["car"]).device
        await until(lambda: charger.plugged_in and charger.soc is not None)

        async def _tick() -> None:
            # The household's own tick (Home Assistant's is every 5 s of
            # wall time, 50 min at 600x): every 0.1 s of wall time. The charge
            # point reports its meter values every 0.25 s of wall time (15 s
            # at 60x, 2.5 min at 600x).
            last = clock()
            count = 0
            while True:
                await asyncio.sleep(0.1)
                await household.async_tick(clock())
                count += 1
                if count % 3 == 0:
                    now = clock()
                    await car.async_step((now - last).total_seconds())
                    last = now

        ticking = asyncio.ensure_future(_tick())
        yield Home(entry, household, world, car, ids, samples, interventions)
    finally:
        if ticking is not None:
            ticking.cancel()
            with suppress(asyncio.CancelledError):
                await ticking
        if car is not None:
            await car.async_disconnect()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        unsub()
        await server.stop()
        await world.heat_pump.async_stop()


def _device_id(hass: HomeAssistant, home: Home, title: str) -> str:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, home.ids[title]), home.entry.entry_id
    )
    assert device is not None
    return device.id


def _local(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["start"])).astimezone(AMSTERDAM)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _rank(home: Home, item: Intervention) -> int:
    """Rank in the documented order: EV, boiler, heat pump, EV pause, white goods."""
    ids = home.ids
    if item.device_id == home.household.handle(ids["car"]).device.device_id:
        return 3 if (item.to_w or 0.0) <= 0 else 0
    order: dict[str, int] = {ids["Boiler"]: 1, ids["Heat pump"]: 2, ids["Washer"]: 4}
    return order[str(item.device_id)]


def _breaches(
    samples: list[Sample], start: datetime, end: datetime
) -> list[tuple[datetime, datetime, float]]:
    """Stretches (first, last, rate) where the meter read over the limit."""
    out: list[tuple[datetime, datetime, float]] = []
    first: Sample | None = None
    last: Sample | None = None
    for sample in samples:
        if not start <= sample.at < end:
            continue
        if sample.net_w > LIMIT_W:
            first = first or sample
            last = sample
        elif first is not None and last is not None:
            out.append((first.at, sample.at, max(first.rate, last.rate)))
            first = last = None
    if first is not None and last is not None:
        out.append((first.at, last.at, max(first.rate, last.rate)))
    return out


async def test_the_household_preheats_and_holds_the_window_in_order(  # noqa: PLR0915
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pre-heat, the 4 kW window held in the documented order, comfort in band."""
    async with _home(hass, monkeypatch) as home:
        household = home.household
        world = home.world
        clock = world.clock
        hp, boiler, washer_id = home.ids["Heat pump"], home.ids["Boiler"], "Washer"
        washer = household.devices.appliance(home.ids[washer_id])
        assert isinstance(washer, PlugAppliance)

        # The car leaves tomorrow at 07:00 with 80 %; the washer must be done
        # by 17:45 (the user's action from an automation or the dashboard).
        await hass.services.async_call(
            DOMAIN,
            "set_departure",
            {
                "device_id": _device_id(hass, home, "car"),
                "departure": "2025-12-17T07:00:00+01:00",
                "target_soc": 80,
            },
            blocking=True,
        )
        await hass.services.async_call(
            DOMAIN,
            "run_before",
            {
                "device_id": _device_id(hass, home, washer_id),
                "finish_by": DEADLINE.isoformat(),
            },
            blocking=True,
        )
        assert washer.state in {CycleState.ARMED, CycleState.RUNNING}
        status = await household.async_plan_now()
        assert status.state.value in {"ok", "time_limit"}, status

        # (1) The plan pre-heats: heat pump and boiler draw more before the
        # window than in it, and the plan holds the window in every slot.
        rows = household.plan_rows(limit=96)
        before = [r for r in rows if _local(r) < WINDOW_START]
        window = [r for r in rows if WINDOW_START <= _local(r) < DAY.replace(hour=21)]
        assert before
        assert window
        for row in window:
            assert row["grid_kw"] <= LIMIT_W / 1000 + 1e-6, row
        hp_before = _mean([r[hp] for r in before])
        hp_window = _mean([r[hp] for r in window])
        boiler_before = _mean([r[boiler] for r in before])
        boiler_window = _mean([r[boiler] for r in window])
        assert hp_before > hp_window, (hp_before, hp_window)
        assert boiler_before >= boiler_window, (boiler_before, boiler_window)
        assert hp_before + boiler_before > hp_window + boiler_window

        # Up to the window, fast; its start, slowly.
        await clock.run_until(WINDOW_START - timedelta(minutes=2), FAST)
        await clock.run_until(WINDOW_START + timedelta(minutes=5), SLOW)
        await clock.run_until(WINDOW_START + timedelta(minutes=14), FAST)
        # The user boosts the car in the window, then the oven goes on.
        await clock.run_until(WINDOW_START + timedelta(minutes=15), SLOW)
        await hass.services.async_call(
            DOMAIN,
            "boost",
            {"device_id": _device_id(hass, home, "car")},
            blocking=True,
        )
        await clock.run_until(WINDOW_START + timedelta(minutes=20), SLOW)
        world.spike_w = SPIKE_W
        await clock.run_until(WINDOW_START + timedelta(minutes=25), SLOW)
        world.spike_w = 0.0
        await clock.run_until(WINDOW_START + timedelta(minutes=27), SLOW)
        await clock.run_until(DEADLINE + timedelta(minutes=5), FAST)
        end = clock()

    # (1b) The pre-heat happened in the house, not only in the plan.
    at_start = world.indoor[0][1]
    at_window = next(c for t, c in world.indoor if t >= WINDOW_START)
    assert at_window > at_start, (at_start, at_window)

    # (2) The window holds, except within the guard's reaction bound (plus the
    # event loop's latency, in simulated time) after a load jump.
    in_window = [s for s in home.samples if WINDOW_START <= s.at < end]
    assert len(in_window) > 100
    for first, last, rate in _breaches(home.samples, WINDOW_START, end):
        bound = household.guard.reaction_bound(
            timedelta(seconds=TELEGRAM_S * rate)
        ) + timedelta(seconds=LOOP_LATENCY_S * rate)
        assert last - first <= bound, (first, last, rate, bound)
    window_log = [i for i in home.interventions if WINDOW_START <= i.timestamp < end]
    not_holdable = [
        i for i in window_log if i.kind is InterventionKind.LIMIT_NOT_HOLDABLE
    ]
    assert not not_holdable, _log(
        [
            i
            for i in window_log
            if not_holdable[0].timestamp - timedelta(minutes=10)
            <= i.timestamp
            <= not_holdable[0].timestamp
        ]
    )

    # (3) The guard curtails in the documented order: within every pass (the
    # cuts made on one reading) EV to its minimum, boiler, heat pump, EV
    # pause, and white goods last, in an emergency only. The window's start
    # and the oven (2.5 kW at 16:20) push the house over.
    passes: dict[datetime, list[Intervention]] = {}
    around = WINDOW_START - timedelta(minutes=1)  # the guard looks ahead
    for item in [i for i in home.interventions if around <= i.timestamp < end]:
        if item.kind in {InterventionKind.CURTAIL, InterventionKind.EMERGENCY}:
            passes.setdefault(item.timestamp, []).append(item)
    assert passes, _log(window_log)
    assert any(len(cuts) >= 2 for cuts in passes.values()), _log(window_log)
    for cuts in passes.values():
        ranks = [_rank(home, i) for i in cuts]
        assert ranks == sorted(ranks), _log(cuts)
        assert all(
            i.kind is InterventionKind.EMERGENCY for i in cuts if _rank(home, i) == 4
        ), _log(cuts)

    # (4) Comfort: the room stays within the band all afternoon.
    temperatures = [c for _, c in world.indoor]
    assert COMFORT[0] <= min(temperatures), min(temperatures)
    assert max(temperatures) <= COMFORT[1], max(temperatures)

    # (5) The washer ran its programme before the deadline.
    washer_log = [
        i
        for i in home.interventions
        if i.device_id == home.ids[washer_id]
        or (
            i.kind in {InterventionKind.CURTAIL, InterventionKind.EMERGENCY}
            and WINDOW_START <= i.timestamp < end
        )
    ]
    assert world.washer.cycles_done == 1, _log(washer_log)
    assert world.washer_finished_at is not None
    assert world.washer_finished_at <= DEADLINE

    # (6) The washer gives way only in an emergency that nothing above it in
    # the order can meet any more: the car is paused first (in the same pass
    # or before). The oven on top of the boosted car and the washer's own
    # heating phase can make that happen, which is the documented order at
    # work. And a boosted car is held within the window, not paused and
    # released over and over (a charger report that lags the meter made the
    # guard count a granted rise twice; docs/limits-and-guard.md).
    car_id = household.handle(home.ids["car"]).device.device_id
    car_log = [i for i in home.interventions if i.device_id == car_id]
    for cut in washer_log:
        if cut.device_id != home.ids[washer_id] or (cut.to_w or 0.0) > 0:
            continue
        assert cut.kind is InterventionKind.EMERGENCY, _log(washer_log)
        before = [
            i for i in car_log if i.timestamp <= cut.timestamp and i.to_w is not None
        ]
        assert before, _log(washer_log)
        assert (before[-1].to_w or 0.0) <= 0, _log(washer_log)
    car_pauses = [
        i
        for i in window_log
        if i.device_id == car_id
        and i.kind is InterventionKind.EMERGENCY
        and (i.to_w or 0.0) <= 0
    ]
    assert len(car_pauses) <= 2, _log(window_log)


def _log(items: list[Intervention]) -> str:
    return "; ".join(
        f"{i.timestamp.astimezone(AMSTERDAM):%H:%M:%S} {i.kind} {i.device_id} "
        f"{i.from_w}->{i.to_w} {i.reason}"
        for i in items
    )
