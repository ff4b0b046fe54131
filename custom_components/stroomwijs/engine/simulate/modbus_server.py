"""A small helper to serve one simulated Modbus device over TCP (pymodbus)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

type RegisterAction = Callable[
    [int, int, int, int, list[int], list[int] | list[bool] | None],
    Awaitable[ExcCodes | None],
]
"""pymodbus' simulator action: (function code, start address of the block,
request address, count, the block's registers, values written or None)."""


class RegisterServer:
    """Holding registers 0..count-1 of one unit id, served on TCP."""

    def __init__(self, action: RegisterAction, *, count: int, unit_id: int = 1) -> None:
        """Serve ``count`` registers; ``action`` sees every request first."""
        self._action = action
        self._count = count
        self._unit_id = unit_id
        self._server: ModbusTcpServer | None = None

    async def async_start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host``:``port`` (0 = any free port); return the port."""
        device = SimDevice(
            id=self._unit_id,
            simdata=[
                SimData(
                    address=0,
                    count=self._count,
                    values=0,
                    datatype=DataType.REGISTERS,
                )
            ],
            action=self._action,
        )
        server = ModbusTcpServer(device, address=(host, port))
        await server.serve_forever(background=True)
        self._server = server
        return self.port

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("server not started")
        transport: Any = self._server.transport
        return int(transport.sockets[0].getsockname()[1])

    @property
    def running(self) -> bool:
        """Whether the server listens."""
        return self._server is not None

    async def async_stop(self) -> None:
        """Close the server and its connections."""
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None


def to_u16(value: int) -> int:
    """Encode a signed 16-bit value (clamped) as two's complement."""
    return max(-0x8000, min(0x7FFF, value)) & 0xFFFF


def from_u16(value: int) -> int:
    """Decode a two's complement 16-bit register."""
    return value - 0x10000 if value & 0x8000 else value
