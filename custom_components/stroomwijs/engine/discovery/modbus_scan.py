"""An explicit, rate-limited, time-bounded Modbus TCP scan for known maps.

Only on the user's request, only the host or small subnet they name (a /24
at most), and only a few reads per host: it looks for

* **SunSpec** (inverters, batteries, meters): ``SunS`` at 40000, 0 or 50000,
  then the common model (manufacturer, model, serial);
* a **Lambda heat pump**: the ambient module at 0..4 and the heat pump at
  1000..1013 with plausible values;
* a **Wallbox Quasar**: power 526, state 537 and SoC 538 within the map.

Connections open at most ``max_rate_per_s`` a second and at most
``concurrency`` at a time; each connection and read is bounded by
``timeout_s`` and the whole scan by ``total_timeout_s``; a scan that runs
out of time returns what it found and says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
import ipaddress
import logging
import time
from typing import Any

from pymodbus import ModbusException
from pymodbus.client import AsyncModbusTcpClient

_LOGGER = logging.getLogger(__name__)

MAX_HOSTS = 256
SUNSPEC_BASES = (40000, 0, 50000)
SUNSPEC_MAGIC = (0x5375, 0x6E53)
SUNSPEC_COMMON_ID = 1
QUASAR_POWER = 526
QUASAR_STATES = range(15)
QUASAR_MAX_W = 7400
LAMBDA_AMBIENT = 0
LAMBDA_HEAT_PUMP = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanConfig:
    """How hard the scan may knock."""

    ports: tuple[int, ...] = (502,)
    unit_ids: tuple[int, ...] = (1,)
    timeout_s: float = 1.0
    max_rate_per_s: float = 10.0
    concurrency: int = 8
    total_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        """Reject settings that would flood a network."""
        if not self.ports or any(not 0 < p < 65536 for p in self.ports):  # noqa: PLR2004
            raise ValueError("ports must be within 1..65535")
        if len(self.ports) > 4 or len(self.unit_ids) > 4:  # noqa: PLR2004
            raise ValueError("at most 4 ports and 4 unit ids per scan")
        if any(not 0 <= u <= 247 for u in self.unit_ids):  # noqa: PLR2004
            raise ValueError("unit ids must be within 0..247")
        if not 0 < self.timeout_s <= 10:  # noqa: PLR2004
            raise ValueError("timeout_s must be within 0..10")
        if not 0 < self.max_rate_per_s <= 50:  # noqa: PLR2004
            raise ValueError("max_rate_per_s must be within 0..50")
        if not 1 <= self.concurrency <= 32:  # noqa: PLR2004
            raise ValueError("concurrency must be within 1..32")
        if not 0 < self.total_timeout_s <= 600:  # noqa: PLR2004
            raise ValueError("total_timeout_s must be within 0..600")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModbusFinding:
    """A register map recognised at host:port, unit id."""

    host: str
    port: int
    unit_id: int
    map: str
    """``sunspec``, ``lambda`` or ``quasar``."""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "source": "modbus",
            "host": self.host,
            "port": self.port,
            "unit_id": self.unit_id,
            "map": self.map,
            "details": dict(self.details),
        }


@dataclass(slots=True)
class ScanResult:
    """What a scan found, and whether it finished in time."""

    findings: list[ModbusFinding] = field(default_factory=list)
    hosts_scanned: int = 0
    connections: int = 0
    complete: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "hosts_scanned": self.hosts_scanned,
            "connections": self.connections,
            "complete": self.complete,
        }


def hosts_of(target: str) -> list[str]:
    """List the hosts of one address or CIDR (a /24 at most, no multicast)."""
    network = ipaddress.ip_network(target.strip(), strict=False)
    if network.num_addresses > MAX_HOSTS:
        msg = f"{target} has {network.num_addresses} addresses; at most {MAX_HOSTS}"
        raise ValueError(msg)
    if network.is_multicast or network.is_unspecified:
        msg = f"{target} is not a range of hosts"
        raise ValueError(msg)
    if network.num_addresses == 1:
        return [str(network.network_address)]
    return [str(h) for h in network.hosts()]


class _Pacer:
    """Spaces connection attempts ``1 / rate`` seconds apart."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self._interval


def _text(registers: Sequence[int]) -> str:
    raw = b"".join(r.to_bytes(2, "big") for r in registers)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def _signed(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


class _Probe:
    """Reads on one open connection; every failure is just "no"."""

    def __init__(
        self, client: AsyncModbusTcpClient, unit: int, timeout_s: float
    ) -> None:
        self._client = client
        self._unit = unit
        self._timeout = timeout_s

    async def read(self, address: int, count: int) -> list[int] | None:
        try:
            async with asyncio.timeout(self._timeout * 2):
                result = await self._client.read_holding_registers(
                    address, count=count, device_id=self._unit
                )
        except ModbusException, TimeoutError, OSError:
            return None
        if result.isError() or len(result.registers) != count:
            return None
        return list(result.registers)

    async def sunspec(self) -> dict[str, Any] | None:
        for base in SUNSPEC_BASES:
            magic = await self.read(base, 2)
            if magic is None or tuple(magic) != SUNSPEC_MAGIC:
                continue
            common = await self.read(base + 2, 66)
            details: dict[str, Any] = {"base": base}
            if common is not None and common[0] == SUNSPEC_COMMON_ID:
                details.update(
                    manufacturer=_text(common[2:18]),
                    model=_text(common[18:34]),
                    version=_text(common[42:50]),
                    serial=_text(common[50:66]),
                )
            return details
        return None

    async def lambda_heat_pump(self) -> dict[str, Any] | None:
        ambient = await self.read(LAMBDA_AMBIENT, 5)
        pump = await self.read(LAMBDA_HEAT_PUMP, 14)
        if ambient is None or pump is None:
            return None
        outdoor = _signed(ambient[2]) / 10.0
        error_state, state, operating = pump[0], pump[2], pump[3]
        power = _signed(pump[12])
        plausible = (
            -40.0 <= outdoor <= 50.0  # noqa: PLR2004
            and ambient[1] <= 3  # noqa: PLR2004 - ambient operating state 0..3
            and error_state <= 4  # noqa: PLR2004
            and state < 100  # noqa: PLR2004
            and operating < 100  # noqa: PLR2004
            and 0 <= power <= 30_000  # noqa: PLR2004
        )
        if not plausible:
            return None
        return {"outdoor_c": outdoor, "power_w": power, "operating_state": operating}

    async def quasar(self) -> dict[str, Any] | None:
        block = await self.read(QUASAR_POWER, 13)
        if block is None:
            return None
        power, state, soc = _signed(block[0]), block[11], block[12]
        if state not in QUASAR_STATES or soc > 100 or abs(power) > QUASAR_MAX_W:  # noqa: PLR2004
            return None
        return {"state": state, "soc_pct": soc, "power_w": power}


async def _probe_host(
    host: str, port: int, config: ScanConfig, pacer: _Pacer, result: ScanResult
) -> None:
    await pacer.wait()
    client = AsyncModbusTcpClient(
        host, port=port, timeout=config.timeout_s, retries=0, reconnect_delay=0
    )
    result.connections += 1
    try:
        try:
            async with asyncio.timeout(config.timeout_s * 2):
                connected = await client.connect()
        except TimeoutError, OSError:
            connected = False
        if not connected:
            return
        for unit in config.unit_ids:
            probe = _Probe(client, unit, config.timeout_s)
            found: tuple[str, dict[str, Any]] | None = None
            if (details := await probe.sunspec()) is not None:
                found = ("sunspec", details)
            elif (details := await probe.lambda_heat_pump()) is not None:
                found = ("lambda", details)
            elif (details := await probe.quasar()) is not None:
                found = ("quasar", details)
            if found is not None:
                result.findings.append(
                    ModbusFinding(
                        host=host,
                        port=port,
                        unit_id=unit,
                        map=found[0],
                        details=found[1],
                    )
                )
    finally:
        client.close()


async def scan(targets: Sequence[str], config: ScanConfig | None = None) -> ScanResult:
    """Scan the named hosts or CIDR ranges; return what answered with a known map."""
    config = config or ScanConfig()
    hosts: list[str] = []
    for target in targets:
        hosts.extend(h for h in hosts_of(target) if h not in hosts)
    if len(hosts) > MAX_HOSTS:
        msg = f"{len(hosts)} hosts named; at most {MAX_HOSTS} per scan"
        raise ValueError(msg)
    result = ScanResult(hosts_scanned=len(hosts))
    pacer = _Pacer(config.max_rate_per_s)
    gate = asyncio.Semaphore(config.concurrency)

    async def _one(host: str, port: int) -> None:
        async with gate:
            await _probe_host(host, port, config, pacer, result)

    jobs = [(h, p) for h in hosts for p in config.ports]
    tasks = [asyncio.create_task(_one(h, p)) for h, p in jobs]
    try:
        async with asyncio.timeout(config.total_timeout_s):
            await asyncio.gather(*tasks)
    except TimeoutError:
        result.complete = False
        _LOGGER.warning("Modbus scan stopped after %.0f s", config.total_timeout_s)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    result.findings.sort(
        key=lambda f: (ipaddress.ip_address(f.host), f.port, f.unit_id)
    )
    return result
