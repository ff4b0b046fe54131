"""Read telegrams from a serial P1 cable or a TCP stream, forever.

``P1StreamReader`` opens the line (``socket://host:port`` with asyncio
streams; anything else, such as ``/dev/ttyUSB0``, with serialx and the
version's serial settings), frames telegrams, decodes them and feeds the
``Meter``. A bad CRC, garbage or a half telegram is counted and skipped.
A lost or silent line is closed and opened again with exponential backoff;
nothing here ever gives up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import logging
import re
from urllib.parse import urlsplit

from .core import Meter
from .decode import TelegramDecoder, TelegramError
from .models import TelegramValues
from .versions import DsmrVersion

_LOGGER = logging.getLogger(__name__)

_TELEGRAM = re.compile(r"/[^/]+?![A-F0-9]{0,4}\0?\r\n", re.DOTALL)
_MAX_BUFFER = 64 * 1024
_CIPHER_TAG = 0xDB
_LONG_LENGTH = 0x82
_SYSTEM_TITLE = 8
"""DLMS system titles have 8 bytes."""
_MIN_CONTENT = 1 + 4 + 12
"""Security byte, invocation counter and GCM tag: the smallest frame content."""
_MAX_CONTENT = 16 * 1024
"""No P1 telegram comes near this; a longer announced frame is noise."""


class PlainFramer:
    """Cut a character stream into complete ``/...!CRC`` telegrams."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = ""

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return the complete telegrams found (oldest first)."""
        self._buffer += data.decode("latin-1")
        if "!" not in self._buffer:
            self._trim()
            return []
        found: list[str] = []
        end = 0
        for match in _TELEGRAM.finditer(self._buffer):
            found.append(match.group(0))
            end = match.end()
        self._buffer = self._buffer[end:]
        self._trim()
        return found

    def _trim(self) -> None:
        """Drop what cannot start a telegram; bound the buffer.

        A real telegram is a few kB; a longer run without its end is noise.
        """
        start = self._buffer.find("/")
        self._buffer = "" if start < 0 else self._buffer[start:]
        if len(self._buffer) > _MAX_BUFFER:
            last = self._buffer.rfind("/")
            tail = self._buffer[last:]
            self._buffer = tail if len(tail) <= _MAX_BUFFER else ""


class CipherFramer:
    """Cut a byte stream into DLMS general-global-cipher frames (as hex).

    A frame is ``DB 08 <8-byte system title> 82 <2-byte length> <content>``.
    Line noise can look like a header that announces a long frame; trusting
    it would swallow the real frames that follow. So the framer never trusts
    a header alone: given ``check`` (the reader passes "does it decrypt to a
    valid telegram"), a candidate that fails is dropped by one byte and the
    scan resumes inside it (the candidate is still returned, so the reader
    counts it as a bad frame), and while a long announced frame is still
    incomplete, a complete valid frame further on wins at once. Without
    ``check`` (one frame pasted into the CLI) headers are taken as they come.
    """

    def __init__(self, check: Callable[[str], bool] | None = None) -> None:
        """Start with an empty buffer; ``check(frame_hex)`` validates frames."""
        self._buffer = bytearray()
        self._check = check

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return complete frames as hex strings."""
        self._buffer.extend(data)
        frames: list[str] = []
        while True:
            start = self._buffer.find(_CIPHER_TAG)
            if start < 0:
                self._buffer.clear()
                return frames
            del self._buffer[:start]
            size = _frame_size(self._buffer, 0)
            if size is None:  # not a header: resynchronise on the next tag
                del self._buffer[:1]
                continue
            if size < 0:  # a header, but not all of it yet
                return frames
            if len(self._buffer) < size:
                later = self._valid_frame_after(0)
                if later is not None:
                    del self._buffer[:later]
                    continue
                if len(self._buffer) > _MAX_BUFFER:
                    del self._buffer[:1]
                    continue
                return frames
            frame = bytes(self._buffer[:size]).hex()
            frames.append(frame)
            if self._check is not None and not self._check(frame):
                # Handed on all the same, so that the reader counts it (a
                # wrong key must show); then look for real frames inside it.
                del self._buffer[:1]
                continue
            del self._buffer[:size]

    def _valid_frame_after(self, first: int) -> int | None:
        """Return where a complete frame that passes ``check`` starts, if any."""
        if self._check is None:
            return None
        position = self._buffer.find(_CIPHER_TAG, first + 1)
        while position >= 0:
            size = _frame_size(self._buffer, position)
            if (
                size is not None
                and size > 0
                and position + size <= len(self._buffer)
                and self._check(bytes(self._buffer[position : position + size]).hex())
            ):
                return position
            position = self._buffer.find(_CIPHER_TAG, position + 1)
        return None


def _frame_size(buffer: bytearray, at: int) -> int | None:
    """Return the size of the frame whose header starts at ``at``.

    None: the bytes there cannot be a header. A negative number: they may be
    one, but the header is not complete yet.
    """
    header = 2 + _SYSTEM_TITLE + 3
    if len(buffer) - at < 2:  # noqa: PLR2004
        return -1
    if buffer[at + 1] != _SYSTEM_TITLE:
        return None
    if len(buffer) - at < header:
        return -1
    if buffer[at + 2 + _SYSTEM_TITLE] != _LONG_LENGTH:
        return None
    length = int.from_bytes(buffer[at + header - 2 : at + header], "big")
    if not _MIN_CONTENT <= length <= _MAX_CONTENT:
        return None
    return header + length


def framer_for(
    version: DsmrVersion, check: Callable[[str], bool] | None = None
) -> PlainFramer | CipherFramer:
    """Return the framer that suits the version (``check``: see CipherFramer)."""
    return CipherFramer(check) if version.encrypted else PlainFramer()


def parse_socket_url(url: str) -> tuple[str, int] | None:
    """Return (host, port) of a ``socket://host:port`` URL, else None."""
    parts = urlsplit(url)
    if parts.scheme != "socket":
        return None
    if not parts.hostname or parts.port is None:
        msg = f"expected socket://HOST:PORT, got {url!r}"
        raise ValueError(msg)
    return parts.hostname, parts.port


async def open_line(
    url: str, version: DsmrVersion
) -> tuple[asyncio.StreamReader, asyncio.BaseTransport | asyncio.StreamWriter]:
    """Open a TCP stream or a serial port; return a reader and its closer."""
    address = parse_socket_url(url)
    if address is not None:
        reader, writer = await asyncio.open_connection(*address)
        return reader, writer
    from serialx import open_serial_connection  # noqa: PLC0415

    settings = dict(version.serial_settings)
    settings.pop("timeout", None)
    reader, serial_writer = await open_serial_connection(url=url, **settings)
    return reader, serial_writer


class P1StreamReader:
    """Keep a P1 line open and feed every valid telegram to a meter."""

    def __init__(
        self,
        meter: Meter,
        url: str,
        version: DsmrVersion,
        *,
        encryption_key: str = "",
        idle_timeout: float | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        """Prepare to read ``url`` (``socket://host:port`` or a serial port)."""
        self.meter = meter
        self.url = url
        self.version = version
        self._decoder = TelegramDecoder(version, encryption_key=encryption_key)
        self.idle_timeout = (
            idle_timeout
            if idle_timeout is not None
            else max(3 * version.interval_s, 30.0)
        )
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.BaseTransport | asyncio.StreamWriter | None = None
        self._got_telegram = False
        self._checked: tuple[str, TelegramValues] | None = None

    def start(self) -> None:
        """Start reading in a background task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"stroomwijs p1 {self.url}"
            )

    async def stop(self) -> None:
        """Stop reading and close the line."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._close()
        self.meter.close()

    async def run(self) -> None:
        """Read forever, reconnecting with exponential backoff."""
        delay = self.backoff_initial
        while True:
            # Set by ``handle`` for every accepted telegram, however the
            # connection ends: a line that worked and then went silent or was
            # reset starts the backoff again from ``backoff_initial``.
            self._got_telegram = False
            try:
                reader, self._writer = await open_line(self.url, self.version)
                self.meter.stats.connects += 1
                _LOGGER.debug("Connected to %s", self.url)
                await self._read(reader)
                reason = "the connection was closed"
            except Exception as err:  # noqa: BLE001  (never give up: retry)
                reason = (
                    f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                )
            finally:
                self._close()
            self.meter.stats.connection_errors += 1
            self.meter.stats.last_error = reason
            self.meter.mark_unavailable(f"{self.url}: {reason}")
            if self._got_telegram:
                delay = self.backoff_initial
            _LOGGER.debug("Reconnecting to %s in %.1f s (%s)", self.url, delay, reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def _read(self, reader: asyncio.StreamReader) -> bool:
        """Read until the line closes or stays silent; True if any telegram."""
        framer = framer_for(self.version, self._decodable)
        got = False
        while True:
            async with asyncio.timeout(self.idle_timeout):
                data = await reader.read(4096)
            if not data:
                return got
            for telegram in framer.feed(data):
                if self.handle(telegram):
                    got = True

    def _decodable(self, frame: str) -> bool:
        """Whether an encrypted frame opens and holds a valid telegram."""
        try:
            values = self._decoder.decode(frame)
        except TelegramError:
            return False
        self._checked = (frame, values)
        return True

    def handle(self, telegram: str) -> bool:
        """Decode one framed telegram and feed it; count it if it is bad."""
        checked, self._checked = self._checked, None
        try:
            if checked is not None and checked[0] == telegram:
                values = checked[1]
            else:
                values = self._decoder.decode(telegram)
        except TelegramError as err:
            stats = self.meter.stats
            if err.kind == "crc":
                stats.crc_errors += 1
            elif err.kind == "decrypt":
                stats.decrypt_errors += 1
            else:
                stats.parse_errors += 1
            stats.last_error = str(err)
            _LOGGER.debug("Skipped a telegram (%s): %s", err.kind, err)
            return False
        if self.meter.process(values) is None:
            return False
        self._got_telegram = True
        return True

    def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
