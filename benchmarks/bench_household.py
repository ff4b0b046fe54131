"""The household runtime: event-to-setpoint latency, solve times, loop, memory.

One real ``Household`` in real time, everything on 127.0.0.1:

* a P1 telegram server streams DSMR 5 telegrams (valid CRCs) once a second;
* the household's OCPP central system and an OCPP 2.1 charge point with a
  V2X car (the ``ocpp`` library) on a websocket;
* day-ahead prices for two days (the shipped NL quarter-hour prices), a
  16:00-21:00 4 kW window, a 3x25 A connection.

Figures (median and max over the runs):

* latency from an event (the car is plugged in; its messages answered) to
  the re-plan's setpoint at the driver (the guard's ``plan`` intervention
  for the car, recorded once the charge point has answered the
  SetChargingProfile): the re-plan debounce, the solve in the executor,
  the guard and the OCPP round trip;
* a cold solve (a new household's first plan) and a warm re-plan (the next
  one, inputs barely changed), as the household measures them;
* how long the event loop was blocked (a 5 ms ticker's worst overshoot, and
  asyncio debug's slow-callback count over 20 ms) while planning;
* the resident memory the runtime adds to a process that has Home
  Assistant's core, its HTTP server and aiohttp loaded already.

Run: ``script/run python benchmarks/bench_household.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime, time, timedelta
import logging
from pathlib import Path
import statistics
import subprocess
import sys
import time as wall
from typing import Any


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


# Home Assistant's core, its HTTP server (every installation runs it, and it
# brings cryptography) and aiohttp are what a host has loaded anyway.
import aiohttp  # noqa: E402, F401
import homeassistant.components.http  # noqa: E402
import homeassistant.core  # noqa: E402, F401

RSS_HOST_MB = _rss_mb()

from custom_components.stroomwijs.engine.drivers.ocpp import (  # noqa: E402
    SessionOptions,
)
from custom_components.stroomwijs.engine.household import (  # noqa: E402
    DeviceConfig,
    GridConfig,
    Household,
    HouseholdConfig,
    HouseholdEvent,
    HouseholdPorts,
    LimitConfig,
    MemoryStateStore,
    MeterConfig,
    OcppServerConfig,
    OptimiserConfig,
    Series,
    TariffConfig,
)

PRICES = (
    Path(__file__).parents[1] / "tests" / "fixtures" / "prices_NL_2025-12-16_15min.csv"
)
FAST = SessionOptions(response_timeout_s=5.0, boot_wait_s=0.2, pending_retry_s=5)


def _prices(now: datetime) -> Series:
    values = [
        float(line.split(",")[1]) / 1000.0
        for line in PRICES.read_text(encoding="utf-8").splitlines()[1:]
    ]
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return Series(start, timedelta(minutes=15), tuple(values + values))


def _telegram(_index: int) -> bytes:
    from custom_components.stroomwijs.engine.simulate.p1 import (  # noqa: PLC0415
        TelegramValuesIn,
        build_telegram,
    )

    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=600,
            phase_import_w=(200, 200, 200),
            phase_currents_a=(1, 1, 1),
        )
    )


class LagMonitor:
    """The worst overshoot of a 5 ms sleep: how long the loop was blocked."""

    def __init__(self) -> None:
        """Start with no lag seen."""
        self.worst_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = wall.perf_counter()
            await asyncio.sleep(0.005)
            lag = (wall.perf_counter() - start - 0.005) * 1000.0
            self.worst_ms = max(self.worst_ms, lag)

    def start(self) -> None:
        """Start measuring."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class SlowCallbacks(logging.Handler):
    """Counts asyncio debug's "Executing ... took" warnings."""

    def __init__(self) -> None:
        """Count from zero."""
        super().__init__()
        self.count = 0
        self.worst = ""

    def emit(self, record: logging.LogRecord) -> None:
        """Count one warning if it is a slow callback."""
        message = record.getMessage()
        if "took" in message:
            self.count += 1
            self.worst = message[:160]


def _config(server_port: int) -> HouseholdConfig:
    return HouseholdConfig(
        name="Benchmark household",
        grid=GridConfig(phases=3, fuse_a=25.0),
        meter=MeterConfig(source="network", host="127.0.0.1", tcp_port=server_port),
        limits=(
            LimitConfig(
                id="evening",
                kind="window",
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
                charger_id="bench",
                capacity_kwh=60.0,
            ),
        ),
        ocpp=OcppServerConfig(host="127.0.0.1", port=0),
        tariff=TariffConfig(export_basis="fixed", export_fixed_eur_per_kwh=0.0),
        optimiser=OptimiserConfig(horizon_hours=24, time_limit_s=3.0),
    )


async def _setpoint_after(
    applied: list[tuple[float, HouseholdEvent]], device_id: str, wait_s: float = 5.0
) -> tuple[float, bool]:
    """Return when the re-plan's setpoint for the car was at its driver.

    That is the guard's ``plan`` intervention for the car after the re-plan's
    ``plan_updated``: the guard records it once the driver has the setpoint
    (the charge point answered its SetChargingProfile). A plan that leaves
    the car where the plug-in left it sends nothing: the re-plan's end is
    then the time.
    """
    deadline = wall.perf_counter() + wait_s
    while True:
        replanned = next(
            (when for when, event in reversed(applied) if event.kind == "plan_updated"),
            None,
        )
        if replanned is not None:
            for when, event in applied:
                if (
                    when >= replanned
                    and event.kind == "plan"
                    and event.data.get("device_id") == device_id
                ):
                    return when, True
            if wall.perf_counter() > deadline:
                return replanned, False
        elif wall.perf_counter() > deadline:
            raise TimeoutError("no re-plan after the plug-in")
        await asyncio.sleep(0.001)


async def _plug_in(
    household: Household,
    sim: Any,  # noqa: ANN401 - the OcppSimulator (imported late)
    car: Any,  # noqa: ANN401 - its SimCar class
) -> tuple[float, bool]:
    """Plug a car in; return the time to its new setpoint, and if one was sent."""
    replans = household.plan_status.last_replan
    device_id = household.handle("car").device.device_id
    applied: list[tuple[float, HouseholdEvent]] = []
    unsubscribe = household.subscribe(
        lambda event: applied.append((wall.perf_counter(), event))
    )
    try:
        await sim.async_plug_in(
            car(capacity_kwh=60.0, soc=0.4, max_discharge_w=11_000.0)
        )
        start = wall.perf_counter()
        # The re-plan that plans the car (one made before the car was seen
        # plugged in, on its availability alone, does not count).
        while household.plan_status.last_replan == replans or (
            household.plan is None or "car" not in household.plan.devices
        ):
            if wall.perf_counter() - start > 20.0:  # noqa: PLR2004
                raise TimeoutError("no plan with the car after the plug-in")
            await asyncio.sleep(0.001)
        done, sent = await _setpoint_after(applied, device_id)
    finally:
        unsubscribe()
    return done - start, sent


async def _run(runs: int) -> dict[str, Any]:
    # The simulators run in this process here (the charge point answers the
    # driver's SetChargingProfile): they are imported only now, after the
    # memory figure.
    from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (  # noqa: PLC0415
        OcppSimulator,
        SimCar,
    )
    from custom_components.stroomwijs.engine.simulate.p1 import (  # noqa: PLC0415
        P1TelegramServer,
    )

    loop = asyncio.get_running_loop()
    slow = SlowCallbacks()
    logging.getLogger("asyncio").addHandler(slow)
    lag = LagMonitor()
    latencies: list[float] = []
    colds: list[float] = []
    warms: list[float] = []
    setpoints_sent = 0
    warm_started = 0
    server = P1TelegramServer(_telegram, interval=1.0)
    await server.start()
    rss_running = 0.0
    try:
        for _ in range(runs):
            store = MemoryStateStore()
            household = Household(
                _config(server.port),
                HouseholdPorts(store=store, ocpp_session=FAST),
            )
            await household.async_start()
            household.set_prices(_prices(datetime.now(UTC)))
            csms = household.chargers.csms
            if csms is None:
                raise RuntimeError("the central system did not start")
            sim = OcppSimulator("bench", version="ocpp2.1")
            await sim.async_connect(csms.url)
            await asyncio.sleep(0.5)
            lag.start()
            loop.set_debug(True)
            loop.slow_callback_duration = 0.02
            # The event: a car is plugged in (the driver hears it, then the
            # household re-plans and the guard sends the setpoint). That
            # first plan with the car is the cold solve.
            latency, sent = await _plug_in(household, sim, SimCar)
            latencies.append(latency)
            setpoints_sent += sent
            plan = household.plan
            if plan is None or plan.solver.warm_start:
                raise RuntimeError("the first plan with the car was not a cold solve")
            colds.append(household.plan_status.solve_time_s or 0.0)
            # Warm re-plans: the inputs barely changed.
            for _ in range(3):
                status = await household.async_plan_now()
                plan = household.plan
                warm_started += plan is not None and plan.solver.warm_start
                warms.append(status.solve_time_s or 0.0)
            loop.set_debug(False)
            await lag.stop()
            rss_running = max(rss_running, _rss_mb())
            await sim.async_disconnect()
            await household.async_stop()
    finally:
        await server.stop()
    return {
        "latency": latencies,
        "setpoints_sent": setpoints_sent,
        "warm_started": warm_started,
        "cold": colds,
        "warm": warms,
        "lag_ms": lag.worst_ms,
        "slow_callbacks": slow.count,
        "slow_worst": slow.worst,
        "rss_in_process_mb": rss_running,
    }


async def _peer() -> None:
    """Run the other side in its own process: the P1 meter and the charge point.

    Prints the meter's port, reads the central system's URL, connects an
    OCPP 2.1 charge point, plugs a V2X car in, prints ``plugged`` and holds
    on until its input closes.
    """
    from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (  # noqa: PLC0415
        OcppSimulator,
        SimCar,
    )
    from custom_components.stroomwijs.engine.simulate.p1 import (  # noqa: PLC0415
        P1TelegramServer,
    )

    loop = asyncio.get_running_loop()
    server = P1TelegramServer(_telegram, interval=1.0)
    await server.start()
    print(server.port, flush=True)
    url = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
    sim = OcppSimulator("bench", version="ocpp2.1")
    await sim.async_connect(url)
    await asyncio.sleep(0.5)
    await sim.async_plug_in(
        SimCar(capacity_kwh=60.0, soc=0.4, max_discharge_w=11_000.0)
    )
    print("plugged", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    await sim.async_disconnect()
    await server.stop()


async def _memory(runs: int) -> list[float]:
    """Measure this process (HA loaded) while a household runs, its peers elsewhere.

    The meter and the charge point run in a child process, so what this
    process holds is Home Assistant's core plus the household: its engine
    (meter, guard, OCPP central system, planner) and a plan with the car.
    """
    peaks: list[float] = []
    for _ in range(runs):
        peer = subprocess.Popen(  # noqa: S603, ASYNC220
            [sys.executable, __file__, "--peer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if peer.stdin is None or peer.stdout is None:
            raise RuntimeError("no pipe to the peer process")
        loop = asyncio.get_running_loop()
        port = int(await loop.run_in_executor(None, peer.stdout.readline))
        household = Household(
            _config(port), HouseholdPorts(store=MemoryStateStore(), ocpp_session=FAST)
        )
        try:
            await household.async_start()
            household.set_prices(_prices(datetime.now(UTC)))
            csms = household.chargers.csms
            if csms is None:
                raise RuntimeError("the central system did not start")
            replans = household.plan_status.last_replan
            peer.stdin.write(csms.url + "\n")
            peer.stdin.flush()
            line = await loop.run_in_executor(None, peer.stdout.readline)
            if line.strip() != "plugged":
                msg = f"peer: {line!r}"
                raise RuntimeError(msg)
            deadline = wall.perf_counter() + 20.0
            while household.plan_status.last_replan == replans:
                if wall.perf_counter() > deadline:
                    raise TimeoutError("no re-plan after the plug-in")
                await asyncio.sleep(0.01)
            for _ in range(3):
                await household.async_plan_now()
            await asyncio.sleep(1.0)  # a few more telegrams and guard ticks
            peaks.append(_rss_mb())
        finally:
            await household.async_stop()
            peer.stdin.close()
            await loop.run_in_executor(None, peer.wait)
    return peaks


def _line(name: str, values: list[float], unit: str = "s") -> str:
    scale = 1000.0 if unit == "ms" else 1.0
    return (
        f"{name:<38} median {statistics.median(values) * scale:8.3f} {unit}"
        f"   max {max(values) * scale:8.3f} {unit}   (n={len(values)})"
    )


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.peer:
        asyncio.run(_peer())
        return
    # Memory first, before this process imports any simulator.
    rss = asyncio.run(_memory(3))
    result = asyncio.run(_run(args.runs))
    print("Household runtime benchmark (real time, loopback, one thread for HiGHS)")
    print(_line("event (plug-in) -> setpoint at driver", result["latency"], "ms"))
    print(
        f"{'  (a new setpoint was sent in':<38} {result['setpoints_sent']:8d} of "
        f"{len(result['latency'])} runs; else: the re-plan's end)"
    )
    print(_line("cold solve (first plan)", result["cold"]))
    print(_line("warm re-plan (inputs barely changed)", result["warm"]))
    print(
        f"{'  (warm-started from the last plan in':<38} {result['warm_started']:8d} of "
        f"{len(result['warm'])})"
    )
    print(f"{'event loop: worst 5 ms-sleep overshoot':<38} {result['lag_ms']:8.1f} ms")
    print(
        f"{'event loop: callbacks over 20 ms':<38} {result['slow_callbacks']:8d}"
        + (f"   worst: {result['slow_worst']}" if result["slow_worst"] else "")
    )
    print(f"{'memory: host (HA core, http, aiohttp)':<38} {RSS_HOST_MB:8.1f} MB")
    extra = [value - RSS_HOST_MB for value in rss]
    print(
        f"{'memory: with the running household':<38} {max(rss):8.1f} MB"
        f"   (+{statistics.median(extra):.1f} MB median, +{max(extra):.1f} MB max,"
        f" n={len(rss)}; meter and charge point in another process)"
    )
    print(
        f"{'memory: simulators in this process too':<38} "
        f"{result['rss_in_process_mb']:8.1f} MB"
        f"   (+{result['rss_in_process_mb'] - RSS_HOST_MB:.1f} MB)"
    )


if __name__ == "__main__":
    main()
