"""``stroomwijs p1``: read or decode P1 telegrams, for installers.

``stroomwijs p1 read --url socket://HOST:PORT`` (or ``--port /dev/ttyUSB0``)
prints every telegram as it arrives, until interrupted or after
``--count N``; ``stroomwijs p1 decode`` decodes telegram text from stdin.
With ``--json`` each telegram is one JSON line; the fields are described in
``docs/p1.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from custom_components.stroomwijs.engine.grid import GridConnection

from .core import Meter
from .decode import TelegramDecoder, TelegramError, detect_version
from .models import MeterReading
from .stream import P1StreamReader, framer_for, parse_socket_url
from .versions import (
    DEFAULT_VERSION,
    VERSIONS,
    DsmrVersion,
    resolve_version,
    validate_key,
)

_PUBLIC_VERSIONS = [key for key in VERSIONS if key != "5L-encrypted"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``p1 read`` and ``p1 decode``."""
    p1 = subparsers.add_parser("p1", help="read or decode DSMR P1 telegrams")
    commands = p1.add_subparsers(dest="p1_command", metavar="ACTION", required=True)

    read = commands.add_parser("read", help="print telegrams from a meter")
    source = read.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="network P1 dongle, e.g. socket://HOST:PORT")
    source.add_argument("--port", help="serial port of a P1 cable, e.g. /dev/ttyUSB0")
    _common(read)
    read.add_argument(
        "--count", type=int, default=0, help="stop after N telegrams (0: never)"
    )
    read.add_argument(
        "--timeout",
        type=float,
        default=0.0,
        help="give up if no valid telegram comes for this many seconds (0: never)",
    )
    read.set_defaults(handler=_cmd_read)

    decode = commands.add_parser("decode", help="decode telegram text from stdin")
    _common(decode)
    decode.set_defaults(handler=_cmd_decode)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsmr-version",
        choices=_PUBLIC_VERSIONS,
        default=None,
        help=f"telegram dialect (read: default {DEFAULT_VERSION}; decode: detected)",
    )
    parser.add_argument(
        "--key", default="", help="encryption key (32 hex digits) of an encrypted meter"
    )
    parser.add_argument("--fuse", help="main fuse, e.g. 3x25, to show headroom")
    parser.add_argument("--json", action="store_true", help="print JSON lines")


def _settings(
    args: argparse.Namespace,
) -> tuple[DsmrVersion | None, str, GridConnection | None]:
    key = validate_key(args.key) if args.key else ""
    version = (
        resolve_version(args.dsmr_version, encryption_key=key)
        if args.dsmr_version
        else None
    )
    grid = GridConnection.parse(args.fuse) if args.fuse else None
    return version, key, grid


def _print(reading: MeterReading, *, as_json: bool, out: TextIO) -> None:
    if as_json:
        # allow_nan=False: NaN and Infinity are not JSON; the meter rejects
        # them before a reading exists, and this keeps it that way.
        out.write(
            json.dumps(reading.as_dict(), ensure_ascii=False, allow_nan=False) + "\n"
        )
    else:
        out.write(format_reading(reading) + "\n")
    out.flush()


def _fmt(value: float | None, unit: str, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f} {unit}"


def format_reading(reading: MeterReading) -> str:
    """Render a reading as one human-readable line."""
    parts = [
        reading.timestamp.strftime("%H:%M:%S"),
        f"net {_fmt(reading.net_power_w, 'W')}",
    ]
    for index, current in enumerate(reading.phase_currents_a):
        parts.append(f"L{index + 1} {_fmt(current, 'A', 1)}")
    parts.append(f"quarter {_fmt(reading.quarter_average_w, 'W')}")
    parts.append(f"peak {_fmt(reading.month_peak_w, 'W')}")
    if reading.text_message:
        parts.append(f"message {reading.text_message!r}")
    return "  ".join(parts)


def _error(message: str) -> int:
    print(f"stroomwijs p1: {message}", file=sys.stderr)  # noqa: T201
    return 2


async def _cmd_read(args: argparse.Namespace) -> int:
    """Read telegrams from a serial port or a TCP stream and print them."""
    try:
        version, key, grid = _settings(args)
        url = args.url or args.port
        if args.url is not None and parse_socket_url(args.url) is None:
            return _error(f"--url takes socket://HOST:PORT, not {args.url!r}")
        version = version or resolve_version(DEFAULT_VERSION)
    except ValueError as err:
        return _error(str(err))
    meter = Meter(name=url, grid=grid)
    queue: asyncio.Queue[MeterReading] = asyncio.Queue()
    meter.subscribe(queue.put_nowait)
    reader = P1StreamReader(meter, url, version, encryption_key=key)
    reader.start()
    printed = 0
    try:
        while args.count <= 0 or printed < args.count:
            try:
                async with asyncio.timeout(args.timeout or None):
                    reading = await queue.get()
            except TimeoutError:
                stats = meter.stats
                _error(
                    f"no valid telegram from {url} within {args.timeout:g} s "
                    f"(CRC errors {stats.crc_errors}, unreadable {stats.parse_errors}"
                    f", rejected {stats.rejected_readings}"
                    f", last error: {stats.last_error or 'none'})"
                )
                return 1
            _print(reading, as_json=args.json, out=sys.stdout)
            printed += 1
    finally:
        await reader.stop()
    return 0


def _cmd_decode(args: argparse.Namespace) -> int:
    """Decode telegrams read from stdin and print them."""
    try:
        version, key, grid = _settings(args)
    except ValueError as err:
        return _error(str(err))
    data = sys.stdin.buffer.read()
    if version is None or not version.encrypted:
        if b"\r\n" not in data:
            data = data.replace(b"\n", b"\r\n")
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
    framer = framer_for(version) if version is not None else framer_for(VERSIONS["5"])
    telegrams = framer.feed(data)
    if not telegrams:
        return _error("no complete telegram on stdin (from '/' to the '!' line)")
    meter = Meter(name="stdin", grid=grid)
    failures = 0
    for telegram in telegrams:
        chosen = version or VERSIONS[detect_version(telegram)]
        try:
            values = TelegramDecoder(chosen, encryption_key=key).decode(telegram)
        except TelegramError as err:
            failures += 1
            print(f"stroomwijs p1: skipped a telegram: {err}", file=sys.stderr)  # noqa: T201
            continue
        reading = meter.process(values)
        if reading is None:
            failures += 1
            print(  # noqa: T201
                f"stroomwijs p1: rejected a reading: {meter.stats.last_error}",
                file=sys.stderr,
            )
            continue
        _print(reading, as_json=args.json, out=sys.stdout)
    return 1 if failures == len(telegrams) else 0
