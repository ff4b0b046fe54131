"""``stroomwijs discover``: find devices and print them as JSON.

* ``stroomwijs discover --subnet 192.168.1.0/24`` scans that range (a /24
  at most) for the known Modbus maps (SunSpec, Lambda, Wallbox Quasar).
* ``--host`` names single hosts; ``--port`` and ``--unit`` widen the scan a
  little (at most four of each).
* ``--mdns SECONDS`` also listens for the zeroconf service types this long
  (needs the ``zeroconf`` package, which Home Assistant ships).

Nothing is scanned unless it is named: without a target the command says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from .modbus_scan import ScanConfig, scan
from .zeroconf import SERVICE_TYPES, candidate_from_service_info


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stroomwijs discover``."""
    parser = subparsers.add_parser(
        "discover", help="find energy devices (Modbus scan, zeroconf) as JSON"
    )
    parser.add_argument("--subnet", action="append", default=[], help="CIDR, /24 max")
    parser.add_argument("--host", action="append", default=[], help="one host")
    parser.add_argument("--port", type=int, action="append", help="Modbus port (502)")
    parser.add_argument("--unit", type=int, action="append", help="unit id (1)")
    parser.add_argument("--timeout", type=float, default=1.0, help="per request, s")
    parser.add_argument("--rate", type=float, default=10.0, help="connections/s")
    parser.add_argument("--max-time", type=float, default=60.0, help="whole scan, s")
    parser.add_argument(
        "--mdns", type=float, default=0.0, metavar="SECONDS", help="listen for mDNS"
    )
    parser.set_defaults(handler=_discover)


async def _browse(seconds: float) -> list[dict[str, Any]]:
    """Listen for our service types; [] (and a message) without zeroconf."""
    try:
        import zeroconf.asyncio  # noqa: F401, PLC0415
    except ImportError:
        print("stroomwijs discover: --mdns needs the zeroconf package", file=sys.stderr)  # noqa: T201
        return []
    return await _listen(seconds)  # pragma: no cover - sends multicast


async def _listen(seconds: float) -> list[dict[str, Any]]:  # pragma: no cover
    """Browse with real multicast DNS (tests may not send multicast)."""
    from zeroconf import ServiceStateChange  # noqa: PLC0415
    from zeroconf.asyncio import (  # noqa: PLC0415
        AsyncServiceBrowser,
        AsyncServiceInfo,
        AsyncZeroconf,
    )

    found: set[tuple[str, str]] = set()

    def _seen(**kwargs: Any) -> None:  # noqa: ANN401 - zeroconf's handler signature
        if kwargs.get("state_change") is ServiceStateChange.Added:
            found.add((str(kwargs["service_type"]), str(kwargs["name"])))

    azc = AsyncZeroconf()
    browser = AsyncServiceBrowser(
        azc.zeroconf, [s.type for s in SERVICE_TYPES], handlers=[_seen]
    )
    try:
        await asyncio.sleep(seconds)
        out = []
        for service_type, name in sorted(found):
            info = AsyncServiceInfo(service_type, name)
            if await info.async_request(azc.zeroconf, 3000):
                candidate = candidate_from_service_info(info)
                if candidate is not None:
                    out.append(candidate.to_dict())
        return out
    finally:
        await browser.async_cancel()
        await azc.async_close()


async def _discover(args: argparse.Namespace) -> int:
    targets = [*args.subnet, *args.host]
    if not targets and args.mdns <= 0:
        print(  # noqa: T201
            "stroomwijs discover: name what to scan (--subnet CIDR, --host HOST) "
            "or listen with --mdns SECONDS; nothing is scanned unasked",
            file=sys.stderr,
        )
        return 2
    try:
        config = ScanConfig(
            ports=tuple(args.port or (502,)),
            unit_ids=tuple(args.unit or (1,)),
            timeout_s=args.timeout,
            max_rate_per_s=args.rate,
            total_timeout_s=args.max_time,
        )
        output: dict[str, Any] = {}
        if targets:
            output["modbus"] = (await scan(targets, config)).to_dict()
    except ValueError as err:
        print(f"stroomwijs discover: {err}", file=sys.stderr)  # noqa: T201
        return 2
    if args.mdns > 0:
        output["zeroconf"] = await _browse(min(args.mdns, 60.0))
    print(json.dumps(output, indent=2))  # noqa: T201
    return 0
