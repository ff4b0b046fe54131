"""Measure the gateway process: start, command round trip, restart after kill -9.

    script/run python -m tests.gateway.bench_gateway [RUNS]

A real ``stroomwijs gateway`` process with a P1 telegram stream and an OCPP
2.1 charge point on loopback, as in test_gateway_process.py. Prints the
figures docs/gateway.md quotes. (Not collected by pytest.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import statistics
import sys
import tempfile
import time

import yaml

from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer

from .conftest import (
    GatewayProcess,
    api_client,
    free_port,
    house_telegram,
    household_document,
)
from .test_gateway_process import _charger, charge_point


async def _run() -> dict[str, float]:
    p1 = P1TelegramServer(lambda _i: house_telegram(1500.0), interval=1.0)
    await p1.start()
    ocpp = free_port()
    folder = Path(tempfile.mkdtemp(prefix="bench_gateway"))
    config = folder / "household.yaml"
    config.write_text(
        yaml.safe_dump(household_document(p1_port=p1.port, ocpp_port=ocpp)),
        encoding="utf-8",
    )
    gateway = GatewayProcess(
        config=config, state_dir=folder / "state", log=folder / "gateway.log"
    )
    figures: dict[str, float] = {}
    started = time.perf_counter()
    await gateway.start()
    figures["api_s"] = time.perf_counter() - started
    async with charge_point(f"ws://127.0.0.1:{ocpp}/ocpp/"):
        async with api_client(gateway.url, gateway.token) as client:
            await client.request("subscribe")
            await client.snapshot_where(lambda s: s["gateway"]["state"] == "running")
            figures["running_s"] = time.perf_counter() - started
            await client.snapshot_where(lambda s: _charger(s)["plugged_in"])
            rounds = []
            for step in range(20):
                begin = time.perf_counter()
                reply = await client.request(
                    "set_manual_limit", import_w=5000 + 10 * step, duration_min=30
                )
                assert reply["type"] == "result", reply
                rounds.append((time.perf_counter() - begin) * 1000)
            figures["command_ms"] = statistics.median(rounds)
            figures["command_max_ms"] = max(rounds)
        await asyncio.sleep(2)
        await gateway.kill()
        again = time.perf_counter()
        await gateway.start()
        async with api_client(gateway.url, gateway.token) as client:
            await client.request("subscribe")
            await client.snapshot_where(lambda s: s["gateway"]["state"] == "running")
            figures["restart_running_s"] = time.perf_counter() - again
            await client.snapshot_where(lambda s: _charger(s)["available"], 60.0)
            figures["charger_back_s"] = time.perf_counter() - again
        await gateway.terminate()
    await p1.stop()
    return figures


def main() -> None:
    """Run the measurement RUNS times (default 3) and print medians and maxima."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = [asyncio.run(_run()) for _ in range(runs)]
    for key, what in (
        ("api_s", "start to API listening (s)"),
        ("running_s", "start to household running (s)"),
        ("command_ms", "set_manual_limit round trip, median of 20 (ms)"),
        ("command_max_ms", "set_manual_limit round trip, max of 20 (ms)"),
        ("restart_running_s", "kill -9, new start to household running (s)"),
        ("charger_back_s", "kill -9, new start to charger available (s)"),
    ):
        values = [r[key] for r in results]
        print(  # noqa: T201
            f"{what}: median {statistics.median(values):.2f}, max {max(values):.2f}"
        )


if __name__ == "__main__":
    main()
