"""Measure a relayed service call: gateway -> Home Assistant's client -> answer.

    script/run python -m tests.gateway.bench_entity_relay [RUNS]

An in-process gateway with its API on loopback runs a household with an
SG-Ready pump on two switch entities; the "Home Assistant" of
``test_entity_relay.py`` (the real client, entities in memory) is its
entity host. Each run times 200 calls from the gateway's entity port to the
answer. Both ends are in this one process. Prints the figures
docs/gateway.md quotes. (Not collected by pytest.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import statistics
import sys
import tempfile
import time

from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig

from .test_entity_relay import RELAYS, TOKEN, FakeHomeAssistant

CALLS = 200


async def _run() -> list[float]:
    folder = Path(tempfile.mkdtemp())
    config = HouseholdConfig.from_dict(
        {
            "version": 1,
            "name": "Bench",
            "devices": [
                {
                    "id": "hp",
                    "kind": "driver",
                    "name": "Pump",
                    "driver": {
                        "driver": "sg_ready",
                        "relay_1_entity": RELAYS[0],
                        "relay_2_entity": RELAYS[1],
                        "spec": {"rated_power_w": 2000},
                    },
                }
            ],
        }
    )
    path = folder / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=folder), config)
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    home = FakeHomeAssistant()
    for entity_id in RELAYS:
        home.entities.set_state(entity_id, "off")
    home.start(api.port)
    try:
        async with asyncio.timeout(30):
            while not gateway.entities.host_connected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        times: list[float] = []
        for index in range(CALLS):
            start = time.perf_counter()
            await gateway.entities.async_call_service(
                "switch",
                "turn_on" if index % 2 else "turn_off",
                {"entity_id": RELAYS[0]},
            )
            times.append((time.perf_counter() - start) * 1000.0)
    finally:
        await home.disconnect()
        stop.set()
        await task
        await api.async_stop()
    return sorted(times)


def main() -> None:
    """Run the measurement RUNS times (default 3) and print each."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for run in range(runs):
        times = asyncio.run(_run())
        p95 = times[int(len(times) * 0.95) - 1]
        print(  # noqa: T201 - the benchmark's output
            f"run {run + 1}: relayed call round trip median "
            f"{statistics.median(times):.2f} ms, p95 {p95:.2f} ms, "
            f"max {times[-1]:.2f} ms ({len(times)} calls)"
        )


if __name__ == "__main__":
    main()
