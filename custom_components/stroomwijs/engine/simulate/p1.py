"""A simulated P1 port: a telegram builder and a loopback TCP telegram server.

``build_telegram`` renders a DSMR 5 (or Belgian e-MUCS, "5B") telegram with
a valid CRC-16/ARC from plain values, so a load model, the guard's tests and
the demo can produce realistic meter output. ``encrypt_frame`` wraps a
telegram in the DLMS general-global-cipher frame that encrypted meters send.

``P1TelegramServer`` streams telegrams to every client on 127.0.0.1, like a
P1 dongle or ser2net, and can misbehave on request: pause (a silent meter),
cut a telegram in half and drop the line (a cable pulled), inject garbage,
and send a telegram with a wrong CRC.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
import contextlib
from dataclasses import dataclass
from datetime import datetime
import itertools
from typing import Self
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")
SMARTY_AUTH_KEY = "00112233445566778899AABBCCDDEEFF"
"""The public authentication key of every Luxembourg Smarty meter."""


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (poly 0xA001 reflected, init 0), as DSMR 4+ uses."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def finish_telegram(lines: Sequence[str], header: str) -> bytes:
    """Join a header and data lines into a telegram ending in a valid CRC."""
    body = f"/{header}\r\n\r\n" + "".join(f"{line}\r\n" for line in lines) + "!"
    raw = body.encode("ascii")
    return raw + f"{crc16_arc(raw):04X}\r\n".encode("ascii")


def corrupt_crc(telegram: bytes) -> bytes:
    """Return the telegram with its CRC changed (so it no longer matches)."""
    head, sep, tail = telegram.rpartition(b"!")
    crc = tail[:4]
    wrong = f"{(int(crc, 16) ^ 0x5A5A):04X}".encode("ascii")
    return head + sep + wrong + tail[4:]


def dsmr_timestamp(moment: datetime) -> str:
    """Render YYMMDDhhmmssX in Dutch local time (X: S summer, W winter)."""
    local = moment.astimezone(LOCAL_ZONE)
    flag = "S" if local.dst() else "W"
    return local.strftime("%y%m%d%H%M%S") + flag


@dataclass(frozen=True, slots=True, kw_only=True)
class TelegramValuesIn:
    """Plain values a simulated meter reports (powers in W, energy in kWh)."""

    timestamp: datetime
    import_w: float = 0.0
    export_w: float = 0.0
    phase_import_w: Sequence[float] = (0.0, 0.0, 0.0)
    phase_export_w: Sequence[float] = (0.0, 0.0, 0.0)
    phase_currents_a: Sequence[float] = (0.0, 0.0, 0.0)
    phase_voltages_v: Sequence[float] = (230.0, 230.0, 230.0)
    import_t1_kwh: float = 0.0
    import_t2_kwh: float = 0.0
    export_t1_kwh: float = 0.0
    export_t2_kwh: float = 0.0
    tariff: int = 1
    text_message: str | None = None
    equipment_id: str = "E0000000000000001"
    quarter_average_w: float | None = None
    month_peak_w: float | None = None
    month_peak_at: datetime | None = None
    peak_history: Sequence[tuple[datetime, datetime, float]] = ()
    """(month start, peak time, W) per month, for 0-0:98.1.0."""


def _kw(watts: float) -> str:
    return f"{watts / 1000:06.3f}*kW"


def build_telegram(values: TelegramValuesIn, *, flavour: str = "5") -> bytes:
    """Render a telegram with a valid CRC.

    ``flavour`` "5" renders a Dutch DSMR 5 meter (whole amperes), "5B" a
    Belgian e-MUCS meter (centiamperes, 1-0:1.4.0, 1-0:1.6.0, 0-0:98.1.0).
    """
    if flavour not in {"5", "5B"}:
        msg = f"unknown flavour {flavour!r}"
        raise ValueError(msg)
    belgian = flavour == "5B"
    equipment = values.equipment_id.encode("ascii").hex().upper()
    lines = [
        "0-0:96.1.4(50217)" if belgian else "1-3:0.2.8(50)",
        f"0-0:1.0.0({dsmr_timestamp(values.timestamp)})",
        f"0-0:96.1.1({equipment})",
        f"1-0:1.8.1({values.import_t1_kwh:010.3f}*kWh)",
        f"1-0:1.8.2({values.import_t2_kwh:010.3f}*kWh)",
        f"1-0:2.8.1({values.export_t1_kwh:010.3f}*kWh)",
        f"1-0:2.8.2({values.export_t2_kwh:010.3f}*kWh)",
        f"0-0:96.14.0({values.tariff:04d})",
    ]
    if belgian:
        if values.quarter_average_w is not None:
            lines.append(f"1-0:1.4.0({_kw(values.quarter_average_w)})")
        if values.month_peak_w is not None and values.month_peak_at is not None:
            lines.append(
                f"1-0:1.6.0({dsmr_timestamp(values.month_peak_at)})"
                f"({_kw(values.month_peak_w)})"
            )
        if values.peak_history:
            history = "".join(
                f"({dsmr_timestamp(month)})({dsmr_timestamp(at)})({_kw(watts)})"
                for month, at, watts in values.peak_history
            )
            lines.append(
                f"0-0:98.1.0({len(values.peak_history)})(1-0:1.6.0)(1-0:1.6.0)"
                + history
            )
    lines += [
        f"1-0:1.7.0({_kw(values.import_w)})",
        f"1-0:2.7.0({_kw(values.export_w)})",
    ]
    text = (values.text_message or "").encode("utf-8").hex().upper()
    lines.append(f"0-0:96.13.0({text})")
    for index, volts in enumerate(values.phase_voltages_v):
        lines.append(f"1-0:{32 + 20 * index}.7.0({volts:05.1f}*V)")
    for index, amps in enumerate(values.phase_currents_a):
        amount = f"{amps:06.2f}" if belgian else f"{round(amps):03d}"
        lines.append(f"1-0:{31 + 20 * index}.7.0({amount}*A)")
    for index, watts in enumerate(values.phase_import_w):
        lines.append(f"1-0:{21 + 20 * index}.7.0({_kw(watts)})")
    for index, watts in enumerate(values.phase_export_w):
        lines.append(f"1-0:{22 + 20 * index}.7.0({_kw(watts)})")
    header = "FLU5\\253769484_A" if belgian else "SIM5\\2STROOMWIJS-1"
    return finish_telegram(lines, header)


def encrypt_frame(
    telegram: bytes,
    encryption_key: str,
    *,
    system_title: bytes = b"SAGxxxxx",
    invocation_counter: int = 1,
    authentication_key: str = SMARTY_AUTH_KEY,
) -> bytes:
    """Wrap a telegram in an AES-128-GCM general-global-cipher frame."""
    if len(system_title) != 8:  # noqa: PLR2004
        msg = "the system title has 8 bytes"
        raise ValueError(msg)
    security = 0x30  # encrypted and authenticated, suite 0
    iv = system_title + invocation_counter.to_bytes(4, "big")
    aad = bytes([security]) + bytes.fromhex(authentication_key)
    sealed = AESGCM(bytes.fromhex(encryption_key)).encrypt(iv, telegram, aad)
    ciphertext, tag = sealed[:-16], sealed[-16:-4]  # DLMS uses a 12-byte tag
    content = (
        bytes([security]) + invocation_counter.to_bytes(4, "big") + ciphertext + tag
    )
    return (
        bytes([0xDB, len(system_title)])
        + system_title
        + bytes([0x82])
        + len(content).to_bytes(2, "big")
        + content
    )


type FrameSource = Callable[[int], bytes]


class P1TelegramServer:
    """Stream telegrams over TCP on 127.0.0.1, like a P1 dongle."""

    def __init__(
        self,
        frames: Sequence[bytes] | FrameSource,
        *,
        interval: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Serve ``frames`` (cycled) or ``frames(index)`` every ``interval`` s."""
        if callable(frames):
            self._source: FrameSource = frames
        else:
            cycle = list(frames)
            if not cycle:
                msg = "give at least one telegram"
                raise ValueError(msg)
            self._source = lambda index: cycle[index % len(cycle)]
        self.interval = interval
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._client_event = asyncio.Event()
        self.paused = False
        self.sent = 0
        self.connections = 0
        self._cut_next = False
        self._corrupt_next = False
        self._counter = itertools.count()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            msg = "the server is not started"
            raise RuntimeError(msg)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """The ``socket://`` URL of the server."""
        return f"socket://{self._host}:{self.port}"

    @property
    def client_count(self) -> int:
        """How many clients are connected now."""
        return len(self._clients)

    async def start(self) -> None:
        """Listen and start streaming."""
        self._server = await asyncio.start_server(
            self._on_client, self._host, self._port
        )
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        """Stop streaming and close every connection."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await self.drop_clients()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        """Start on entering a context."""
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        """Stop on leaving a context."""
        await self.stop()

    async def wait_for_client(self) -> None:
        """Wait until at least one client is connected (wrap it in a timeout)."""
        while not self._clients:
            self._client_event.clear()
            await self._client_event.wait()

    def pause(self) -> None:
        """Stop sending (the meter falls silent); connections stay open."""
        self.paused = True

    def resume(self) -> None:
        """Send again after a pause."""
        self.paused = False

    def cut_next(self) -> None:
        """Send only half of the next telegram, then drop every connection."""
        self._cut_next = True

    def corrupt_next(self) -> None:
        """Send the next telegram with a wrong CRC."""
        self._corrupt_next = True

    async def inject(self, data: bytes) -> None:
        """Send raw bytes (garbage, or anything) to every client now."""
        await self._broadcast(data)

    async def drop_clients(self) -> None:
        """Close every client connection (the dongle rebooted)."""
        clients, self._clients = self._clients, set()
        for writer in clients:
            writer.close()
        for writer in clients:
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def send_now(self) -> None:
        """Send the next telegram at once (ignores the pause)."""
        frame = self._source(next(self._counter))
        if self._corrupt_next:
            self._corrupt_next = False
            frame = corrupt_crc(frame)
        if self._cut_next:
            self._cut_next = False
            await self._broadcast(frame[: len(frame) // 2])
            await self.drop_clients()
            return
        await self._broadcast(frame)
        self.sent += 1

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self.paused and self._clients:
                await self.send_now()

    async def _broadcast(self, data: bytes) -> None:
        for writer in list(self._clients):
            try:
                writer.write(data)
                await writer.drain()
            except OSError, ConnectionError:
                self._clients.discard(writer)
                writer.close()

    async def _on_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._clients.add(writer)
        self.connections += 1
        self._client_event.set()
        try:
            while await reader.read(1024):
                pass  # a P1 port ignores what it is sent
        except OSError, ConnectionError:
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
