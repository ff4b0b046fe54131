"""Guard latency: from a P1 telegram arriving to the corrective command sent.

Everything runs on 127.0.0.1 with real sockets:

* a P1 telegram server streams DSMR 5 telegrams with valid CRCs whose import
  is above the DSO limit (a simulated household at 3 kW over a 6 kW limit);
* the real P1 stream reader frames them, dsmr-parser parses them (CRC check
  included) and the meter derives each reading;
* the guard, attached to the meter as in production, decides and sends a
  new setpoint to an EV charger that is a TCP peer: one JSON line per
  command, read by a loopback device server.

The clock starts when a complete telegram has been framed from the socket
(before parsing) and stops when the command has been written to the
device's socket (``drain`` returned); the time until the device server has
read the line is reported too. Run: ``script/run python benchmarks/bench_guard.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
from datetime import UTC, datetime, timedelta
import json
import math
import statistics
import time

from custom_components.stroomwijs.engine.capabilities import CurtailPriority, PowerRange
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import Guard, GuardConfig, GuardedDevice
from custom_components.stroomwijs.engine.limits import LimitStack, ManualLimitSource
from custom_components.stroomwijs.engine.meter import Meter
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    TelegramValuesIn,
    build_telegram,
)

LIMIT_W = 6_000.0
IMPORT_W = 9_000.0
EV_MAX_W = 11_040.0


class TimedReader(P1StreamReader):
    """The production reader, stamping each framed telegram on arrival."""

    arrivals: list[int]

    def handle(self, telegram: str) -> bool:
        """Stamp, then parse and feed as usual."""
        self.arrivals.append(time.perf_counter_ns())
        return super().handle(telegram)


class LoopbackCharger:
    """An EV charger reached over TCP: each setpoint is one JSON line."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        """Send commands on ``writer``."""
        self._writer = writer
        self.setpoint: float = EV_MAX_W
        self.sent: list[int] = []
        self.enough = asyncio.Event()
        self.wanted = 0
        self._range = PowerRange(min_w=0, max_w=EV_MAX_W, min_active_w=4_140)

    device_id = "ev"
    name = "Loopback EV charger"
    available = True

    @property
    def power_range(self) -> PowerRange:
        """Accepted setpoints."""
        return self._range

    @property
    def setpoint_w(self) -> float | None:
        """Last setpoint."""
        return self.setpoint

    async def async_set_power(self, setpoint_w: float) -> None:
        """Write the command and wait until the socket took it."""
        line = json.dumps({"set_power_w": round(setpoint_w)}) + "\n"
        self._writer.write(line.encode())
        await self._writer.drain()
        self.sent.append(time.perf_counter_ns())
        self.setpoint = setpoint_w
        if len(self.sent) >= self.wanted:
            self.enough.set()


async def run(samples: int, interval: float) -> None:
    """Stream ``samples`` telegrams and print the latency figures."""
    received: list[int] = []

    async def device_server(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while line := await reader.readline():
            received.append(time.perf_counter_ns())
            json.loads(line)
        writer.close()

    device = await asyncio.start_server(device_server, "127.0.0.1", 0)
    port = device.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    charger = LoopbackCharger(writer)

    def frame(_index: int) -> bytes:
        # The plan keeps raising the car to full power; the guard must cut it.
        charger.setpoint = EV_MAX_W
        return build_telegram(
            TelegramValuesIn(
                timestamp=datetime.now(UTC),
                import_w=IMPORT_W,
                phase_import_w=(IMPORT_W / 3,) * 3,
                phase_currents_a=(IMPORT_W / 3 / 230,) * 3,
            )
        )

    manual = ManualLimitSource()
    manual.set_limit(
        now=datetime.now(UTC), import_w=LIMIT_W, duration=timedelta(hours=1)
    )
    guard = Guard(
        GuardConfig(grid=GridConnection(phases=3, fuse_a=25)),
        [
            GuardedDevice(
                device=charger,
                priority=CurtailPriority.EV,
                reaction_delay=timedelta(0),
            )
        ],
        limits=LimitStack([manual]),
    )
    meter = Meter(stale_after=5.0)
    guard.attach(meter)
    stop = asyncio.Event()
    worker = asyncio.create_task(guard.async_run(stop, lambda: datetime.now(UTC)))
    async with P1TelegramServer(frame, interval=interval) as server:
        reader = TimedReader(meter, server.url, resolve_version("5"))
        reader.arrivals = []
        reader.start()
        charger.wanted = samples
        await charger.enough.wait()
        await asyncio.sleep(0.05)
        await reader.stop()
    stop.set()
    await worker
    writer.close()
    device.close()
    await device.wait_closed()

    # Pair each command with the newest telegram framed before it (the guard
    # coalesces readings if it ever falls behind, so counts may differ).
    sent_ms: list[float] = []
    recv_ms: list[float] = []
    for index, sent in enumerate(charger.sent):
        position = bisect.bisect_right(reader.arrivals, sent) - 1
        if position < 0 or index >= len(received):
            continue
        arrival = reader.arrivals[position]
        sent_ms.append((sent - arrival) / 1e6)
        recv_ms.append((received[index] - arrival) / 1e6)
    print(f"telegrams: {len(reader.arrivals)}, commands: {len(charger.sent)}")
    for label, values in (
        ("telegram framed -> command sent", sent_ms),
        ("telegram framed -> command read by device", recv_ms),
    ):
        ordered = sorted(values)
        p99 = ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]
        print(
            f"{label}: median {statistics.median(values):.3f} ms, "
            f"p99 {p99:.3f} ms, max {ordered[-1]:.3f} ms (n={len(values)})"
        )


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument(
        "--interval", type=float, default=0.02, help="seconds between telegrams"
    )
    args = parser.parse_args()
    asyncio.run(run(args.samples, args.interval))


if __name__ == "__main__":
    main()
