"""The demo household: a P1 meter and a V2X charger with a car, on loopback.

``script/demo`` runs this next to Home Assistant::

    python -m custom_components.stroomwijs.engine.simulate.demo
        --p1-port 2000 --csms-url ws://127.0.0.1:9000 --charger-id demo-ev

It serves DSMR 5 telegrams (valid CRC, one a second) on 127.0.0.1 and runs
an OCPP 2.1 charge point with a bidirectional car that connects to the
central system at ``--csms-url``, retrying with backoff until Home Assistant
has it up. The loop is closed: each telegram's power per phase is a real
household base load (a 15-minute profile from ``shared/data``, or the
reference household's in ``examples/``, replayed at today's time of day)
plus the power the simulated station really applies to the car, and the
station applies whatever limit or setpoint the central
system sent. The car's SoC and the meter's energy registers move with that
power. SIGINT or SIGTERM stop everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
import ipaddress
import json
import logging
from pathlib import Path
import signal
import sys
from urllib.parse import urlsplit

from .boiler import BoilerModbusRelaySim, TankSim
from .demo_clock import DemoClock, DemoClockError, parse_start
from .demo_world import DemoWorld, WorldApi
from .entity_loads import EntityLoad
from .household import BaseLoadProfile, SimDevice, SimHousehold
from .lambda_heat_pump import LambdaSimulator
from .ocpp_chargepoint import OcppSimulator, SimCar, SimStation
from .p1 import LOCAL_ZONE, P1TelegramServer, TelegramValuesIn, build_telegram
from .thermal import ThermalHouse
from .washer import WashingMachineSim

_LOGGER = logging.getLogger(__name__)

PROFILE_NAME = "household_BE_fluvius_2023-10-22_2023-12-31_15min.csv"
"""A real Belgian household, 15-minute import (Fluvius open data)."""
SHARED_DATA_DIRS = (Path(__file__).resolve().parents[5] / "shared" / "data",)
"""``shared/data`` beside the checkout (``/shared/data`` inside script/run)."""
EXAMPLE_PROBLEM = (
    Path(__file__).resolve().parents[4] / "examples" / ("reference_household.json")
)
"""The planner's reference household, whose base load the demo falls back to."""
DEFAULT_CHARGER_ID = "demo-ev"
DEFAULT_P1_PORT = 2000
DEFAULT_HEAT_PUMP_PORT = 5020
DEFAULT_BOILER_PORT = 5021
DEFAULT_WORLD_PORT = 8099
OCPP_PATH = "/ocpp/"
EQUIPMENT_ID = "E0043007012345678"
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 5.0
STATUS_EVERY_S = 30.0
MIN_TICK_S = 0.2
"""Under ``--speed`` the meter ticks once a simulated second, but at most this
often on the wall clock (5 telegrams a second: 12 simulated s apart at 60x)."""
CAR_ARRIVES = time(18)
"""When the car comes home (local time) after a day out."""
CAR_DRIVES_SOC = 0.3
"""What a day's driving takes from the battery."""
CAR_MIN_SOC = 0.15

type WallClock = Callable[[], datetime]


class ProfileMissingError(FileNotFoundError):
    """The household load profile (shared data) is not there."""


def find_profile(
    explicit: Path | None = None,
    *,
    shared_dirs: tuple[Path, ...] = SHARED_DATA_DIRS,
    fallback: Path | None = EXAMPLE_PROBLEM,
) -> Path:
    """Return the base-load profile to replay.

    ``explicit`` when given; otherwise the real 15-minute household export in
    shared/data, or, where that folder is absent (a plain clone of the
    repository), the 48-hour base load of the planner's reference household
    in ``examples/`` (itself made from real public data).
    """
    candidates = (
        [explicit]
        if explicit
        else [
            *(d / PROFILE_NAME for d in shared_dirs),
            *([fallback] if fallback else []),
        ]
    )
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(path) for path in candidates)
    msg = (
        f"the demo's household load profile is missing (looked for {looked}); "
        "it ships with the project's shared data (shared/data beside the "
        "checkout, /shared/data inside script/run), or pass --profile FILE"
    )
    raise ProfileMissingError(msg)


def load_profile(path: Path, now: datetime) -> BaseLoadProfile:
    """Replay ``path`` from today's local midnight, so the hours match.

    A CSV is a ``start_utc,import_kwh`` 15-minute export; a JSON file is a
    planner problem whose ``base_load_kw`` series is repeated for a week.
    """
    local = now.astimezone(LOCAL_ZONE)
    midnight = datetime.combine(local.date(), time(0), tzinfo=LOCAL_ZONE)
    start = midnight.astimezone(UTC)
    if path.suffix != ".json":
        return BaseLoadProfile.from_csv(path, align_to=start)
    problem = json.loads(path.read_text(encoding="utf-8"))
    step = timedelta(minutes=int(problem.get("slot_minutes", 15)))
    series = [float(kw) * 1000.0 for kw in problem["base_load_kw"]]
    repeats = max(1, int(timedelta(days=7) / (step * len(series))))
    watts = series * repeats
    return BaseLoadProfile([start + i * step for i in range(len(watts))], watts)


def csms_base_url(url: str) -> str:
    """Return the chargers' base URL (``.../ocpp/``); loopback addresses only."""
    parts = urlsplit(url)
    if parts.scheme not in {"ws", "wss"}:
        msg = f"the central system URL must start with ws:// or wss://, not {url!r}"
        raise ValueError(msg)
    try:
        loopback = ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        msg = f"the demo only talks to a loopback address (127.0.0.1), not {url!r}"
        raise ValueError(msg)
    path = parts.path if parts.path not in {"", "/"} else OCPP_PATH
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}/"


def tariff_at(now: datetime) -> int:
    """Dutch meters: tariff 1 (low) at night and at weekends, else 2 (normal)."""
    local = now.astimezone(LOCAL_ZONE)
    night = local.hour >= 23 or local.hour < 7  # noqa: PLR2004
    return 1 if night or local.weekday() >= 5 else 2  # noqa: PLR2004


class StationLoad(SimDevice):
    """The charger as the household sees it: the power its station applies."""

    def __init__(self, station: SimStation, *, clock: WallClock) -> None:
        """Follow ``station`` (three phases, or one for a 1-phase station)."""
        phases = (0, 1, 2) if station.phases == 3 else (0,)  # noqa: PLR2004
        super().__init__("charger", "Charger", clock=clock, phases=phases)
        self._station = station

    def load_w(self) -> float:
        """Power into the car now (negative while it discharges)."""
        return self._station.power_w


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSpec:
    """A simulated device's power (W, negative is production) in the meter."""

    device_id: str
    name: str
    power: Callable[[], float]
    publish: Callable[[], None] = lambda: None
    phases: tuple[int, ...] = (0,)


@dataclass(slots=True, kw_only=True)
class EnergyRegisters:
    """The meter's four energy registers in kWh (import/export, T1/T2)."""

    import_t1_kwh: float = 4_321.123
    import_t2_kwh: float = 3_890.456
    export_t1_kwh: float = 512.007
    export_t2_kwh: float = 1_024.512

    def add(self, net_w: float, dt_s: float, tariff: int) -> None:
        """Count ``net_w`` (import positive) for ``dt_s`` seconds."""
        kwh = abs(net_w) * dt_s / 3_600_000.0
        if net_w >= 0:
            if tariff == 1:
                self.import_t1_kwh += kwh
            else:
                self.import_t2_kwh += kwh
        elif tariff == 1:
            self.export_t1_kwh += kwh
        else:
            self.export_t2_kwh += kwh


class DemoMeter:
    """The household's P1 meter: base load plus the charger, with registers."""

    def __init__(
        self,
        base_load: BaseLoadProfile,
        station: SimStation,
        *,
        clock: WallClock,
        registers: EnergyRegisters | None = None,
        loads: Sequence[LoadSpec] = (),
    ) -> None:
        """Meter ``base_load``, the ``station``'s car and the other ``loads``."""
        self._clock = clock
        self.household = SimHousehold(start=clock(), base_load=base_load)
        self.household.add(StationLoad(station, clock=self.household.clock))
        for spec in loads:
            self.household.add(
                EntityLoad(
                    spec.device_id,
                    spec.name,
                    spec.power,
                    spec.publish,
                    clock=self.household.clock,
                    phases=spec.phases,
                )
            )
        self.registers = registers or EnergyRegisters()
        self.values = self._values(self.household.now)

    def _values(self, now: datetime) -> TelegramValuesIn:
        self.household.now = now
        registers = self.registers
        return replace(
            self.household.telegram_values(),
            import_t1_kwh=registers.import_t1_kwh,
            import_t2_kwh=registers.import_t2_kwh,
            export_t1_kwh=registers.export_t1_kwh,
            export_t2_kwh=registers.export_t2_kwh,
            tariff=tariff_at(now),
            equipment_id=EQUIPMENT_ID,
        )

    @property
    def net_power_w(self) -> float:
        """Import minus export at the last step."""
        return self.values.import_w - self.values.export_w

    def step(self, dt_s: float) -> TelegramValuesIn:
        """Count the last ``dt_s`` seconds' power and take a new reading."""
        self.registers.add(self.net_power_w, dt_s, self.values.tariff)
        self.values = self._values(self._clock())
        return self.values

    def frame(self, _index: int = 0) -> bytes:
        """Render the latest reading as a telegram (the P1 server calls this)."""
        return build_telegram(self.values)


def demo_car(now: datetime, *, soc: float = 0.4, capacity_kwh: float = 60.0) -> SimCar:
    """Make a bidirectional car that leaves at 07:00 tomorrow, wanting 80 %."""
    local = now.astimezone(LOCAL_ZONE)
    departure = datetime.combine(
        local.date() + timedelta(days=1), time(7), tzinfo=LOCAL_ZONE
    )
    return SimCar(
        capacity_kwh=capacity_kwh,
        soc=soc,
        max_charge_w=11_000.0,
        max_discharge_w=11_000.0,
        target_soc=0.8,
        departure=departure,
    )


WASHER_START = time(9, 30)
"""When the demo's user starts the washing machine (local time, daily)."""


class DemoDevices:
    """The household's other devices, each on its real protocol, and its world.

    * a Lambda heat pump (Modbus TCP) heating a first-order house whose
      outdoor temperature is the world's;
    * a 120 l / 2 kW boiler behind a Modbus TCP relay module (coil 0, tank
      temperature in register 100);
    * a washing machine on a metered smart plug (the world API's
      ``/api/washer/plug``), which the demo's user loads and starts with the
      plug off every day at 09:30, for Stroomwijs to run by its plan;
    * the PV system, producing what the world says;
    * the world's loopback HTTP API (prices, PV forecast, device states).
    """

    def __init__(
        self,
        world: DemoWorld,
        *,
        clock: WallClock,
        heat_pump_port: int = 0,
        boiler_port: int = 0,
        world_port: int = 0,
    ) -> None:
        """Create the simulators; ``start`` opens their ports (0: any free)."""
        self.ports = (heat_pump_port, boiler_port, world_port)
        self.world = world
        self.clock = clock
        # A little below the thermostat, so the heat pump starts within minutes.
        self.house = ThermalHouse(indoor_c=20.1, outdoor_c=world.outdoor_c())
        self.heat_pump = LambdaSimulator(
            clock=clock, house=self.house, rated_w=2200.0, room_setpoint_c=20.5
        )
        self.tank = TankSim(clock=clock, temperature_c=55.0)
        self.boiler = BoilerModbusRelaySim(self.tank)
        # The relay module starts open (coil 0 off); the household's boiler
        # driver closes it when its plan or the tank's 40 degC floor says so.
        self.washer = WashingMachineSim(clock=clock)
        self.washer_day: object = None
        self.api = WorldApi(world, self.state, self.set_washer_plug)

    def loads(self) -> list[LoadSpec]:
        """Return the devices as loads of the P1 meter."""
        return [
            LoadSpec(
                device_id="heat_pump",
                name="Heat pump",
                power=lambda: self.heat_pump.unit.power_w,
                publish=self.advance_heat_pump,
                phases=(0, 1, 2),
            ),
            LoadSpec(
                device_id="boiler",
                name="Boiler",
                power=lambda: self.tank.power_w,
                publish=self.tank.advance,
                phases=(1,),
            ),
            LoadSpec(
                device_id="washer",
                name="Washing machine",
                power=lambda: self.washer.power_w,
                publish=self.washer.advance,
                phases=(2,),
            ),
            LoadSpec(
                device_id="pv",
                name="PV",
                power=lambda: -self.world.pv_w(),
                phases=(0, 1, 2),
            ),
        ]

    def advance_heat_pump(self) -> None:
        """Bring the house and the heat pump up to the clock."""
        self.house.outdoor_c = self.world.outdoor_c()
        self.heat_pump.advance()

    def set_washer_plug(self, on: bool) -> None:  # noqa: FBT001 - the API's body
        """Switch the smart plug's relay."""
        self.washer.set_powered(powered=on)

    def user(self) -> None:
        """Act as the user: load the washer once a day at 09:30, for the plan.

        The user switches the smart plug off at its button, loads the machine
        and presses start: the machine keeps its programme until power comes
        (its state is ``armed``). The demo's Home Assistant automation
        (``demo/demo_automations.yaml``) sees that and asks Stroomwijs to
        have the cycle done within 8 hours (``stroomwijs.run_before``); the
        plan switches the plug on.
        """
        now = self.clock()
        local = now.astimezone(LOCAL_ZONE)
        if local.time() < WASHER_START or self.washer_day == local.date():
            return
        self.washer_day = local.date()
        if self.washer.state != "running":
            self.washer.set_powered(powered=False)
            self.washer.press_start()
            _LOGGER.info(
                "the washing machine was loaded and started with its plug off "
                "(40 degC cotton; it runs when the plug goes on)"
            )

    def state(self) -> dict[str, object]:
        """Everything the demo integration shows, at the clock's now."""
        now = self.clock()
        self.advance_heat_pump()
        self.tank.advance()
        self.washer.advance()
        unit = self.heat_pump.unit
        return {
            "time": now.isoformat(),
            "outdoor_c": round(self.world.outdoor_c(now), 2),
            "pv_w": round(self.world.pv_w(now), 1),
            "price_eur_per_kwh": round(self.world.price_at(now), 5),
            "heat_pump": {
                "power_w": round(unit.power_w, 1),
                "running": unit.running,
                "room_c": round(self.house.indoor_c, 2),
                "room_setpoint_c": unit.target_c,
                "circuit_mode": self.heat_pump.hc_mode,
                "energy_kwh": round(unit.energy_kwh, 3),
            },
            "boiler": {
                "power_w": round(self.tank.power_w, 1),
                "relay_on": self.tank.supply_on,
                "tank_c": round(self.tank.temperature_c, 2),
                "energy_kwh": round(self.tank.energy_kwh, 3),
            },
            "washer": {
                "power_w": round(self.washer.power_w, 1),
                "plug_on": self.washer.powered,
                "state": self.washer.state,
                "energy_kwh": round(self.washer.energy_kwh, 3),
                "cycles": self.washer.cycles_done,
            },
        }

    async def start(self) -> None:
        """Open the Modbus ports and the world API on 127.0.0.1."""
        heat_pump_port, boiler_port, world_port = self.ports
        await self.heat_pump.async_start("127.0.0.1", heat_pump_port)
        await self.boiler.async_start("127.0.0.1", boiler_port)
        await self.api.start(world_port)
        self.ports = (self.heat_pump.port, self.boiler_port, self.api.port)

    @property
    def boiler_port(self) -> int:
        """The relay module's port."""
        return self.boiler._server.port  # noqa: SLF001 - the simulator's own server

    async def stop(self) -> None:
        """Close everything."""
        await self.api.stop()
        await self.boiler.async_stop()
        await self.heat_pump.async_stop()


class DemoRunner:
    """Run the meter and the charge point together until stopped."""

    def __init__(
        self,
        base_load: BaseLoadProfile,
        csms_url: str,
        *,
        charger_id: str = DEFAULT_CHARGER_ID,
        p1_port: int = 0,
        car: SimCar | None = None,
        tick_s: float = 1.0,
        backoff_max_s: float = BACKOFF_MAX_S,
        clock: WallClock = lambda: datetime.now(UTC),
        devices: DemoDevices | None = None,
        demo_clock: DemoClock | None = None,
        car_arrives: time = CAR_ARRIVES,
    ) -> None:
        """Prepare the pieces; ``start`` opens the sockets.

        With ``demo_clock`` (``--speed``) everything runs on its simulated
        time: ``clock`` must be its ``now``, each tick's physics covers the
        simulated seconds that passed, the meter ticks once a simulated second
        (but not more often than every ``MIN_TICK_S`` on the wall clock) and
        the station's offline timers count simulated seconds.
        """
        self.base_url = csms_base_url(csms_url)
        self.speed = demo_clock.speed if demo_clock is not None else 1.0
        if demo_clock is not None and demo_clock.accelerated:
            tick_s = max(MIN_TICK_S, tick_s / self.speed)
        self.tick_s = tick_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        station = SimStation(bidirectional=True)
        if demo_clock is not None:
            station.clock = demo_clock.monotonic
        self.sim = OcppSimulator(charger_id, version="ocpp2.1", station=station)
        self.car = car or demo_car(clock())
        self.car_home = True
        """The car is plugged in at the start, leaves at its departure and
        comes back at ``CAR_ARRIVES``."""
        self.car_back_at: datetime | None = None
        self.car_arrives = car_arrives
        self.devices = devices
        self.meter = DemoMeter(
            base_load,
            self.sim.station,
            clock=clock,
            loads=devices.loads() if devices is not None else (),
        )
        self.server = P1TelegramServer(
            self.meter.frame, interval=tick_s, host="127.0.0.1", port=p1_port
        )
        self.stop_event = asyncio.Event()
        self.connects = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._report: asyncio.Task[None] | None = None

    @property
    def p1_port(self) -> int:
        """The port the telegrams are served on."""
        return self.server.port

    async def start(self) -> None:
        """Open the P1 port and start the physics and the OCPP connection."""
        if self.devices is not None:
            await self.devices.start()
        await self.server.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._physics()),
            loop.create_task(self._connection()),
        ]

    async def stop(self) -> None:
        """Stop everything: the charge point disconnects, the port closes."""
        self.stop_event.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._report is not None:
            self._report.cancel()
            await asyncio.gather(self._report, return_exceptions=True)
        await self.sim.async_disconnect()
        await self.server.stop()
        if self.devices is not None:
            await self.devices.stop()

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` or until the stop event, whichever comes first."""
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stop_event.wait()

    async def _physics(self) -> None:
        """Every tick: the car takes the station's power, the meter counts."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        last_status = last
        while not self.stop_event.is_set():
            await self._sleep(self.tick_s)
            now = loop.time()
            dt_s, last = (now - last) * self.speed, now
            self.sim.station.step(dt_s)
            if self.devices is not None:
                self.devices.user()
            self.meter.step(dt_s)
            await self._car_comes_and_goes()
            if self.sim.connected and self.sim.boot_status == "Accepted":
                self._send_meter_values()
            if now - last_status >= STATUS_EVERY_S:
                last_status = now
                self._log_status()

    async def _car_comes_and_goes(self) -> None:
        """Let the car leave at its departure and come back at ``car_arrives``.

        It comes back with what a day's driving left (never below
        ``CAR_MIN_SOC``) and wants to leave at 07:00 the next morning again.
        Plugging in happens on the connection's loop (it needs the central
        system); here the car only leaves and is marked back home.
        """
        now = self.clock()
        car = self.car
        if (
            self.car_home
            and car.departure is not None
            and now >= car.departure
            and self.sim.transaction_id is not None
        ):
            soc = self.sim.station.car.soc if self.sim.station.car else car.soc
            try:
                await self.sim.async_unplug()
            except Exception as err:  # noqa: BLE001 - retried on the next tick
                _LOGGER.debug("could not end the car's session: %s", err)
                return
            self.car_home = False
            local = now.astimezone(LOCAL_ZONE)
            self.car_back_at = datetime.combine(
                local.date(), self.car_arrives, tzinfo=LOCAL_ZONE
            )
            if self.car_back_at <= now:
                self.car_back_at += timedelta(days=1)
            car.soc = max(CAR_MIN_SOC, soc - CAR_DRIVES_SOC)
            _LOGGER.info(
                "the car left at %s with %.0f %%; back at %s",
                local.strftime("%Y-%m-%d %H:%M"),
                soc * 100,
                self.car_back_at.strftime("%H:%M"),
            )
        elif (
            not self.car_home
            and self.car_back_at is not None
            and now >= self.car_back_at
        ):
            local = now.astimezone(LOCAL_ZONE)
            car.departure = datetime.combine(
                local.date() + timedelta(days=1), time(7), tzinfo=LOCAL_ZONE
            )
            self.car_home = True
            self.car_back_at = None

    def _send_meter_values(self) -> None:
        """Report the station's meter values, one message in flight at most."""
        if self._report is not None and not self._report.done():
            return

        async def _report() -> None:
            try:
                await self.sim.async_step(0.0)  # no time passes: report only
            except Exception as err:  # noqa: BLE001 - a lost link is retried
                _LOGGER.debug("meter values not sent: %s", err)

        self._report = asyncio.get_running_loop().create_task(_report())

    def _log_status(self) -> None:
        car = self.sim.station.car
        devices = ""
        if self.devices is not None:
            d = self.devices
            devices = (
                f", heat pump {d.heat_pump.unit.power_w:.0f} W "
                f"(room {d.house.indoor_c:.1f} degC), boiler {d.tank.power_w:.0f} W "
                f"({d.tank.temperature_c:.0f} degC), washer {d.washer.power_w:.0f} W, "
                f"PV {d.world.pv_w():.0f} W"
            )
        _LOGGER.info(
            "%sgrid %+.0f W, charger %+.0f W, SoC %s%s, central system %s",
            ""
            if self.speed == 1.0
            else self.clock()
            .astimezone(LOCAL_ZONE)
            .strftime("simulated %Y-%m-%d %H:%M: "),
            self.meter.net_power_w,
            self.sim.station.power_w,
            "-" if car is None else f"{car.soc:.1%}",
            devices,
            self.sim.boot_status if self.sim.connected else "not connected",
        )

    async def _connection(self) -> None:
        """Stay connected to the central system; plug the car in once."""
        delay = BACKOFF_INITIAL_S
        while not self.stop_event.is_set():
            try:
                await self.sim.async_connect(self.base_url)
                self.connects += 1
                delay = BACKOFF_INITIAL_S
                _LOGGER.info(
                    "%s connected to %s (boot %s)",
                    self.sim.charger_id,
                    self.base_url,
                    self.sim.boot_status,
                )
                while self.sim.connected and not self.stop_event.is_set():
                    if (
                        self.sim.boot_status == "Accepted"
                        and self.sim.transaction_id is None
                        and self.car_home
                    ):
                        await self.sim.async_plug_in(self.car)
                        _LOGGER.info(
                            "car plugged in: %.0f kWh at %.0f %%",
                            self.car.capacity_kwh,
                            self.car.soc * 100,
                        )
                    await self._sleep(self.tick_s)
            except Exception as err:  # noqa: BLE001 - refused, reset, timed out
                _LOGGER.debug("central system not reached: %r", err)
            await self.sim.async_disconnect()
            if not self.stop_event.is_set():
                _LOGGER.info(
                    "central system at %s not there; retrying in %.0f s",
                    self.base_url,
                    delay,
                )
                await self._sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.stroomwijs.engine.simulate.demo",
        description="Demo household on 127.0.0.1: a P1 meter and a V2X charger.",
    )
    parser.add_argument("--p1-port", type=int, default=DEFAULT_P1_PORT)
    parser.add_argument("--csms-url", default="ws://127.0.0.1:9000")
    parser.add_argument("--charger-id", default=DEFAULT_CHARGER_ID)
    parser.add_argument("--profile", type=Path, help="15-minute base-load CSV")
    parser.add_argument("--soc", type=float, default=0.4, help="start SoC, 0..1")
    parser.add_argument("--capacity", type=float, default=60.0, help="kWh")
    parser.add_argument("--heat-pump-port", type=int, default=DEFAULT_HEAT_PUMP_PORT)
    parser.add_argument("--boiler-port", type=int, default=DEFAULT_BOILER_PORT)
    parser.add_argument("--world-port", type=int, default=DEFAULT_WORLD_PORT)
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="play simulated time this many times faster than real time",
    )
    parser.add_argument(
        "--start",
        default=None,
        help="with --speed: the local time of today the simulation starts at "
        "(HH:MM; default the real time now)",
    )
    parser.add_argument(
        "--clock",
        default=None,
        help="the demo clock as JSON (script/demo passes the one Home "
        "Assistant gets; overrides --speed and --start)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def demo_clock_of(args: argparse.Namespace) -> DemoClock | None:
    """Return the demo clock the arguments ask for; None: real time."""
    if args.clock:
        return DemoClock.from_json(args.clock)
    if args.speed == 1.0 and args.start is None:
        return None
    start = parse_start(args.start) if args.start else None
    return DemoClock.starting(args.speed, start)


async def _run(
    args: argparse.Namespace, profile: Path, demo_clock: DemoClock | None = None
) -> None:
    def real_clock() -> datetime:
        return datetime.now(UTC)

    clock: WallClock = real_clock if demo_clock is None else demo_clock.now
    now = clock()
    if demo_clock is not None:
        _LOGGER.info(
            "simulated time from %s, %g times real time",
            now.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M"),
            demo_clock.speed,
        )

    world = DemoWorld.load(
        clock=clock, shared_dirs=SHARED_DATA_DIRS, example=EXAMPLE_PROBLEM
    )
    devices = DemoDevices(
        world,
        clock=clock,
        heat_pump_port=args.heat_pump_port,
        boiler_port=args.boiler_port,
        world_port=args.world_port,
    )
    runner = DemoRunner(
        load_profile(profile, now),
        args.csms_url,
        charger_id=args.charger_id,
        p1_port=args.p1_port,
        car=demo_car(now, soc=args.soc, capacity_kwh=args.capacity),
        clock=clock,
        devices=devices,
        demo_clock=demo_clock,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runner.stop_event.set)
    await runner.start()
    _LOGGER.info(
        "P1 telegrams on socket://127.0.0.1:%s; charger %r -> %s%s; heat pump "
        "(Lambda, Modbus) on 127.0.0.1:%s; boiler relay (Modbus) on 127.0.0.1:%s; "
        "world API on http://127.0.0.1:%s/api/",
        runner.p1_port,
        args.charger_id,
        runner.base_url,
        args.charger_id,
        *devices.ports,
    )
    try:
        await runner.stop_event.wait()
    finally:
        await runner.stop()
        _LOGGER.info("stopped")


def main(argv: list[str] | None = None) -> int:
    """Run the demo household until SIGINT or SIGTERM."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="[demo-sim] %(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    if args.verbose is False:
        logging.getLogger("ocpp").setLevel(logging.WARNING)
        logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        csms_base_url(args.csms_url)
        profile = find_profile(args.profile)
        demo_clock = demo_clock_of(args)
    except (ValueError, ProfileMissingError, DemoClockError) as err:
        print(f"demo simulator: {err}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        asyncio.run(_run(args, profile, demo_clock))
    except OSError as err:  # the P1 port is taken
        print(f"demo simulator: {err}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
