"""One Modbus TCP connection with bounded waits and paced reconnects.

Every request is bounded twice: pymodbus' own ``timeout`` (with one retry,
as for the Quasar) and an outer ``asyncio.timeout`` so that a peer which
accepts the connection but never answers cannot stall a driver. A broken
connection is closed and opened again on the next request, but not more
often than every ``reconnect_s``, so a device that is off is not hammered.
Failures raise :class:`DeviceUnavailableError`; availability changes are
logged once each way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import logging
import time

from pymodbus import ModbusException
from pymodbus.client import AsyncModbusTcpClient

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError

from .entities import AvailabilityLog


class ModbusLink:
    """A paced, time-bounded Modbus TCP client for one device."""

    def __init__(
        self,
        host: str,
        port: int,
        unit_id: int,
        name: str,
        logger: logging.Logger,
        *,
        timeout_s: float = 3.0,
        reconnect_s: float = 10.0,
    ) -> None:
        """Talk to ``unit_id`` at ``host``:``port``."""
        self.host = host
        self.port = port
        self.unit_id = unit_id
        self.name = name
        self.timeout_s = timeout_s
        self.reconnect_s = reconnect_s
        self.health = AvailabilityLog(logger, name)
        self._client: AsyncModbusTcpClient | None = None
        self._lock = asyncio.Lock()
        self._last_attempt = -float("inf")
        self.connects = 0

    @property
    def available(self) -> bool:
        """Whether the last exchange worked."""
        return self.health.available

    def _new_client(self) -> AsyncModbusTcpClient:
        return AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.timeout_s,
            retries=1,
            reconnect_delay=0,
        )

    async def _ensure(self) -> AsyncModbusTcpClient:
        client = self._client
        if client is not None and client.connected:
            return client
        now = time.monotonic()
        if now - self._last_attempt < self.reconnect_s and client is not None:
            msg = f"{self.name}: not connected; next attempt in {self.reconnect_s:g} s"
            raise DeviceUnavailableError(msg)
        self._last_attempt = now
        if client is not None:
            client.close()
        client = self._new_client()
        self._client = client
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                connected = await client.connect()
        except TimeoutError:
            connected = False
        if not connected:
            client.close()
            msg = f"no Modbus connection to {self.host}:{self.port}"
            self.health.down(msg)
            raise DeviceUnavailableError(msg)
        self.connects += 1
        return client

    async def async_connect(self) -> None:
        """Connect now (the first request also connects)."""
        async with self._lock:
            self._last_attempt = -float("inf")
            await self._ensure()

    def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _failed(
        self, what: str, address: int, err: BaseException | str
    ) -> DeviceUnavailableError:
        msg = f"{self.name}: {what} {address} failed: {err}"
        self.health.down(msg)
        if self._client is not None and not isinstance(err, str):
            self._client.close()
        return DeviceUnavailableError(msg)

    async def read(self, address: int, count: int) -> list[int]:
        """Read holding registers; DeviceUnavailableError on any failure."""
        async with self._lock:
            client = await self._ensure()
            try:
                async with asyncio.timeout(self.timeout_s * 2 + 1):
                    result = await client.read_holding_registers(
                        address, count=count, device_id=self.unit_id
                    )
            except (ModbusException, TimeoutError, OSError) as err:
                raise self._failed("read of", address, err) from err
            if result.isError():
                raise self._failed("read of", address, str(result))
            registers = list(result.registers)
            if len(registers) != count:
                raise self._failed("read of", address, "short answer")
            self.health.up()
            return registers

    async def write(self, address: int, values: Sequence[int]) -> None:
        """Write holding registers (function 16)."""
        async with self._lock:
            client = await self._ensure()
            try:
                async with asyncio.timeout(self.timeout_s * 2 + 1):
                    result = await client.write_registers(
                        address, list(values), device_id=self.unit_id
                    )
            except (ModbusException, TimeoutError, OSError) as err:
                raise self._failed("write of", address, err) from err
            if result.isError():
                msg = f"{self.name}: refused {list(values)} for register {address}"
                raise DeviceUnavailableError(msg)
            self.health.up()

    async def write_coil(self, address: int, *, on: bool) -> None:
        """Write one coil (function 5)."""
        async with self._lock:
            client = await self._ensure()
            try:
                async with asyncio.timeout(self.timeout_s * 2 + 1):
                    result = await client.write_coil(
                        address, on, device_id=self.unit_id
                    )
            except (ModbusException, TimeoutError, OSError) as err:
                raise self._failed("write of coil", address, err) from err
            if result.isError():
                msg = f"{self.name}: refused coil {address}"
                raise DeviceUnavailableError(msg)
            self.health.up()

    async def read_coils(self, address: int, count: int) -> list[bool]:
        """Read coils (function 1)."""
        async with self._lock:
            client = await self._ensure()
            try:
                async with asyncio.timeout(self.timeout_s * 2 + 1):
                    result = await client.read_coils(
                        address, count=count, device_id=self.unit_id
                    )
            except (ModbusException, TimeoutError, OSError) as err:
                raise self._failed("read of coil", address, err) from err
            if result.isError():
                raise self._failed("read of coil", address, str(result))
            self.health.up()
            return list(result.bits[:count])
