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
from collections.abc import Callable
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

from .household import BaseLoadProfile, SimDevice, SimHousehold
from .ocpp_chargepoint import OcppSimulator, SimCar, SimStation
from .p1 import LOCAL_ZONE, P1TelegramServer, TelegramValuesIn, build_telegram

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
OCPP_PATH = "/ocpp/"
EQUIPMENT_ID = "E0043007012345678"
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 5.0
STATUS_EVERY_S = 30.0

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
    ) -> None:
        """Meter a household with ``base_load`` and the ``station``'s car."""
        self._clock = clock
        self.household = SimHousehold(start=clock(), base_load=base_load)
        self.household.add(StationLoad(station, clock=self.household.clock))
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
    ) -> None:
        """Prepare the pieces; ``start`` opens the sockets."""
        self.base_url = csms_base_url(csms_url)
        self.tick_s = tick_s
        self.backoff_max_s = backoff_max_s
        self.sim = OcppSimulator(
            charger_id, version="ocpp2.1", station=SimStation(bidirectional=True)
        )
        self.car = car or demo_car(clock())
        self.meter = DemoMeter(base_load, self.sim.station, clock=clock)
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
            dt_s, last = now - last, now
            self.sim.station.step(dt_s)
            self.meter.step(dt_s)
            if self.sim.connected and self.sim.boot_status == "Accepted":
                self._send_meter_values()
            if now - last_status >= STATUS_EVERY_S:
                last_status = now
                self._log_status()

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
        _LOGGER.info(
            "grid %+.0f W, charger %+.0f W, SoC %s, central system %s",
            self.meter.net_power_w,
            self.sim.station.power_w,
            "-" if car is None else f"{car.soc:.1%}",
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
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


async def _run(args: argparse.Namespace, profile: Path) -> None:
    now = datetime.now(UTC)
    runner = DemoRunner(
        load_profile(profile, now),
        args.csms_url,
        charger_id=args.charger_id,
        p1_port=args.p1_port,
        car=demo_car(now, soc=args.soc, capacity_kwh=args.capacity),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runner.stop_event.set)
    await runner.start()
    _LOGGER.info(
        "P1 telegrams on socket://127.0.0.1:%s; charger %r -> %s%s",
        runner.p1_port,
        args.charger_id,
        runner.base_url,
        args.charger_id,
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
    except (ValueError, ProfileMissingError) as err:
        print(f"demo simulator: {err}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        asyncio.run(_run(args, profile))
    except OSError as err:  # the P1 port is taken
        print(f"demo simulator: {err}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
