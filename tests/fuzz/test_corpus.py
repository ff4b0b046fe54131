"""Replay the fuzz corpus through the real P1 path and the guard, in CI.

Every file in ``corpus/`` goes over a loopback TCP line into a
``P1StreamReader`` (framing, decoding, the meter's checks), then every
reading that gets through is handed to a guard. Nothing may raise, the line
must stay up until the peer closes it, and each case must land where the
manifest says. ``build_corpus.py`` explains and regenerates the files.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import json
from pathlib import Path

import pytest

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.limits import LimitStack
from custom_components.stroomwijs.engine.limits.p1_message import (
    MessageFormatError,
    P1MessageLimitSource,
    parse_limit_message,
)
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.meter.stream import P1StreamReader
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from tests.engine.guard.support import build_rig
from tests.engine.meter.telegrams import until

from .build_corpus import SMARTY_KEY

CORPUS = Path(__file__).parent / "corpus"
MANIFEST: dict[str, dict[str, str]] = json.loads(
    (CORPUS / "manifest.json").read_text(encoding="utf-8")
)
MESSAGES: list[str] = json.loads((CORPUS / "messages.json").read_text("utf-8"))
CLOSED = "the connection was closed"


def test_the_manifest_lists_every_file_of_the_corpus() -> None:
    """No case is left out of the replay."""
    files = {p.name for p in CORPUS.iterdir()} - {"manifest.json", "messages.json"}
    assert files == set(MANIFEST)


async def _replay(data: bytes, version_key: str) -> tuple[Meter, list[MeterReading]]:
    """Send ``data`` once over loopback TCP; return the meter and its readings."""
    sent = asyncio.Event()

    async def serve(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not sent.is_set():
            sent.set()
            for start in range(0, len(data), 1000):  # several reads, like a line
                writer.write(data[start : start + 1000])
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    key = SMARTY_KEY if version_key == "5L" else ""
    meter = Meter(grid=GridConnection(phases=3, fuse_a=25))
    readings: list[MeterReading] = []
    meter.subscribe(readings.append)
    reader = P1StreamReader(
        meter,
        f"socket://127.0.0.1:{port}",
        resolve_version(version_key, encryption_key=key),
        encryption_key=key,
        idle_timeout=5,
        backoff_initial=5,
    )
    reader.start()
    try:
        await until(lambda: meter.stats.connection_errors >= 1, limit=10)
    finally:
        await reader.stop()
        server.close()
        await server.wait_closed()
    return meter, readings


@pytest.mark.parametrize("name", sorted(MANIFEST))
async def test_every_corpus_case_lands_where_it_must(name: str) -> None:
    """Counted or accepted, the line stays up, and the guard takes the rest."""
    case = MANIFEST[name]
    meter, readings = await _replay((CORPUS / name).read_bytes(), case["version"])
    stats = meter.stats
    # The line ended because the peer closed it, not because of an exception.
    assert stats.last_error == CLOSED
    assert stats.connects == 1
    counts = {
        "accepted": stats.telegrams,
        "crc": stats.crc_errors,
        "parse": stats.parse_errors,
        "decrypt": stats.decrypt_errors,
        "rejected": stats.rejected_readings,
    }
    outcome = case["outcome"]
    if outcome == "none":
        assert not any(counts.values()), counts
    else:
        assert counts[outcome] >= 1, counts
    if outcome != "accepted":
        assert stats.telegrams == 0
    for reading in readings:
        json.dumps(reading.as_dict(), allow_nan=False)

    rig = build_rig(start=datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    for reading in readings:
        await rig.guard.async_process(reading)
    assert rig.guard.status().bad_readings == 0


@pytest.mark.parametrize("message", MESSAGES, ids=range(len(MESSAGES)))
def test_every_hostile_message_is_a_problem_report_never_an_exception(
    message: str,
) -> None:
    """Parse or reject; feeding the source never raises and never lifts a limit."""
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    try:
        parsed = parse_limit_message(message, now)
    except MessageFormatError:
        parsed = None
    if parsed is not None and not parsed.off:
        assert parsed.import_w is not None
        assert 0 <= parsed.import_w <= 1_000_000
    source = P1MessageLimitSource()
    source.feed("LIMIT 5kW", now)
    stack = LimitStack([source])
    source.feed(message, now)
    effective = stack.effective(now)
    if source.problem(now) is not None:
        assert effective.import_w == 5_000  # the previous limit stays
        assert effective.problems
