"""A minimal SunSpec device (common model only) on Modbus TCP, for discovery."""

from __future__ import annotations

from pymodbus.constants import ExcCodes

from .modbus_server import RegisterServer

BASE = 40000
COUNT = BASE + 100


def _string(text: str, registers: int) -> list[int]:
    raw = text.encode("ascii")[: registers * 2].ljust(registers * 2, b"\0")
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


class SunSpecSimulator:
    """``SunS``, the common model (1) and the end marker, read-only."""

    def __init__(
        self,
        *,
        manufacturer: str = "Fronius",
        model: str = "Symo GEN24 6.0",
        version: str = "1.28.7-1",
        serial: str = "34120987",
    ) -> None:
        """Describe the device; ``async_start`` opens the port."""
        common = [
            1,
            66,
            *_string(manufacturer, 16),
            *_string(model, 16),
            *_string("", 8),
            *_string(version, 8),
            *_string(serial, 16),
            1,
            0,
        ]
        self.map = [0x5375, 0x6E53, *common, 0xFFFF, 0]
        self._server = RegisterServer(self._action, count=COUNT)

    async def _action(  # noqa: PLR0917 - pymodbus calls it positionally
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        del function_code, start_address, address, count
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        registers[BASE : BASE + len(self.map)] = self.map
        return None

    async def async_start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; return the port."""
        return await self._server.async_start(host, port)

    async def async_stop(self) -> None:
        """Close the server."""
        await self._server.async_stop()
