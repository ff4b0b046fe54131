"""Hostile input at the meter: non-finite, implausible, unreadable, noisy, silent.

Every case here broke the P1 reader before (issue 10, defects 1-4 and 10):
the values are carried by telegrams with valid CRCs, so only the decoder's
and the meter's own checks stand between them and the guard.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
import itertools
import json
import os
import time

import pytest

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.decode import (
    TelegramDecoder,
    TelegramError,
)
from custom_components.stroomwijs.engine.meter.models import MeterReading
from custom_components.stroomwijs.engine.meter.stream import (
    CipherFramer,
    P1StreamReader,
)
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.p1 import (
    encrypt_frame,
    finish_telegram,
)

from .telegrams import SMARTY_KEY, crafted_5l, until

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
GRID = GridConnection(phases=3, fuse_a=25)


def telegram_with_import(value: str, *, current: str = "010") -> str:
    """Return a DSMR 5 telegram with a valid CRC whose 1-0:1.7.0 is ``value``."""
    lines = [
        "0-0:1.0.0(260115120000W)",
        "1-0:1.8.1(000123.456*kWh)",
        "1-0:1.8.2(000100.000*kWh)",
        f"1-0:1.7.0({value}*kW)",
        "1-0:2.7.0(00.000*kW)",
        f"1-0:31.7.0({current}*A)",
    ]
    return finish_telegram(lines, "ISK5\\2M550T-1012").decode("ascii")


DSMR22 = (
    "/ISk5\\2ME382-1003\r\n\r\n"
    "0-0:96.1.1(4B414C37303035313235383932363131)\r\n"
    "1-0:1.8.1(00185.000*kWh)\r\n"
    "1-0:1.8.2(00084.000*kWh)\r\n"
    "1-0:1.7.0(0000.98*kW)\r\n"
    "1-0:2.7.0(0000.00*kW)\r\n"
    "!\r\n"
)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_power_with_a_valid_crc_is_a_counted_parse_error(
    value: str,
) -> None:
    """NaN or Infinity in 1-0:1.7.0 is no measurement: the telegram is refused."""
    decoder = TelegramDecoder(resolve_version("5"))
    with pytest.raises(TelegramError) as caught:
        decoder.decode(telegram_with_import(value))
    assert caught.value.kind == "parse"
    assert "import_w" in str(caught.value)


@pytest.mark.parametrize("value", ["sNaN", "1.2.3", "0x10"])
def test_an_unreadable_value_is_a_parse_error_not_an_exception(value: str) -> None:
    """decimal.InvalidOperation used to escape the decoder; now it is counted."""
    decoder = TelegramDecoder(resolve_version("5"))
    with pytest.raises(TelegramError) as caught:
        decoder.decode(telegram_with_import(value))
    assert caught.value.kind == "parse"


def test_every_single_flipped_byte_of_a_dsmr22_telegram_decodes_or_is_refused() -> None:
    """DSMR 2.2 has no CRC: any one flipped byte must not crash the decoder."""
    decoder = TelegramDecoder(resolve_version("2.2"))
    outcomes = {"ok": 0, "refused": 0}
    for index in range(len(DSMR22)):
        for replacement in "x.(*9":
            text = DSMR22[:index] + replacement + DSMR22[index + 1 :]
            try:
                decoder.decode(text)
            except TelegramError:
                outcomes["refused"] += 1
            else:
                outcomes["ok"] += 1
    assert outcomes["refused"] > 0
    assert outcomes["ok"] > 0


def test_the_meter_refuses_non_finite_values_from_any_feeder() -> None:
    """HomeWizard and HA entities feed the meter directly: it checks too."""
    from custom_components.stroomwijs.engine.meter.models import (  # noqa: PLC0415
        TelegramValues,
    )

    meter = Meter(grid=GRID)
    seen: list[MeterReading] = []
    meter.subscribe(seen.append)
    assert meter.process(TelegramValues(dsmr_version="5", import_w=1000.0), T0)
    bad = TelegramValues(dsmr_version="5", import_w=float("nan"))
    assert meter.process(bad, T0) is None
    assert len(seen) == 1
    assert meter.stats.rejected_readings == 1
    assert "not a finite number" in (meter.stats.last_error or "")


def test_an_implausible_reading_is_refused_and_repeated_it_is_data_lost() -> None:
    """+99,999.999 kW with a valid CRC: reported, never pushed; 3 in a row: lost."""
    decoder = TelegramDecoder(resolve_version("5"))
    meter = Meter(grid=GRID)
    seen: list[MeterReading] = []
    availability: list[bool] = []
    meter.subscribe(seen.append)
    meter.subscribe_availability(availability.append)
    good = decoder.decode(telegram_with_import("07.500"))
    absurd = decoder.decode(telegram_with_import("99999.999"))
    assert meter.process(good, T0) is not None
    assert meter.process(absurd, T0) is None
    assert "beyond" in (meter.stats.last_error or "")
    assert [r.import_w for r in seen] == [7500.0]
    assert meter.available
    assert meter.process(absurd, T0) is None
    assert meter.process(absurd, T0) is None
    assert not meter.available
    assert availability == [True, False]
    assert "rejected readings in a row" in (meter.unavailable_reason or "")
    assert meter.stats.rejected_readings == 3
    # The next plausible telegram brings the meter back.
    assert meter.process(good, T0) is not None
    assert meter.available


def test_a_phase_current_far_beyond_the_fuse_is_implausible() -> None:
    """A 25 A fuse cannot carry 900 A: the reading is refused."""
    decoder = TelegramDecoder(resolve_version("5"))
    meter = Meter(grid=GRID)
    assert meter.process(decoder.decode(telegram_with_import("01.000", current="040")))
    values = decoder.decode(telegram_with_import("01.000", current="900"))
    assert values.phase_currents_a == (900.0,)
    assert meter.process(values) is None
    assert meter.stats.rejected_readings == 1


def test_a_plausible_reading_beyond_the_fuse_is_still_acted_on() -> None:
    """Twice the connection's capacity is the bound: an overload is real data."""
    decoder = TelegramDecoder(resolve_version("5"))
    meter = Meter(grid=GRID)
    reading = meter.process(decoder.decode(telegram_with_import("25.000")), T0)
    assert reading is not None
    assert reading.import_w == 25_000.0


def test_json_output_never_carries_nan() -> None:
    """A reading's JSON is strict JSON (NaN never gets that far)."""
    decoder = TelegramDecoder(resolve_version("5"))
    reading = Meter(grid=GRID).process(decoder.decode(telegram_with_import("01.0")))
    assert reading is not None
    json.dumps(reading.as_dict(), allow_nan=False)


# ------------------------------------------------------------ 5L framing


def _frames(count: int) -> list[bytes]:
    return [
        encrypt_frame(crafted_5l(), SMARTY_KEY, invocation_counter=n + 1)
        for n in range(count)
    ]


def _smarty_check() -> tuple[CipherFramer, list[int]]:
    decoder = TelegramDecoder(
        resolve_version("5L", encryption_key=SMARTY_KEY), encryption_key=SMARTY_KEY
    )
    failures: list[int] = []

    def check(frame: str) -> bool:
        try:
            decoder.decode(frame)
        except TelegramError:
            failures.append(1)
            return False
        return True

    return CipherFramer(check), failures


def test_the_cipher_framer_resynchronises_after_a_noise_header() -> None:
    """12 bytes shaped like a header announcing a long frame swallow nothing."""
    framer, _ = _smarty_check()
    noise = bytes([0xDB, 0x08]) + b"NOISE!!!" + bytes([0x82, 0x30])
    assert len(noise) == 12
    frames = _frames(10)
    out: list[str] = []
    out += framer.feed(noise)
    for frame in frames:
        out += framer.feed(frame)
    assert [bytes.fromhex(f) for f in out] == frames


def test_a_noise_header_in_the_middle_of_a_burst_loses_no_later_frame() -> None:
    """Noise, then many frames in one read: every real frame is found."""
    framer, _ = _smarty_check()
    noise = bytes([0xDB, 0x08]) + b"\x00" * 8 + bytes([0x82, 0x3F, 0xFF])
    frames = _frames(66)
    found = framer.feed(noise + b"".join(frames))
    real = [bytes.fromhex(f) for f in found if bytes.fromhex(f) in frames]
    assert real == frames


def test_the_cipher_framer_decodes_again_after_a_64_kb_garbage_burst() -> None:
    """A 64 KB burst of random bytes, then frames: they decode again."""
    framer, _ = _smarty_check()
    garbage = os.urandom(64 * 1024)
    framer.feed(garbage)
    frames = _frames(3)
    out: list[str] = []
    for frame in frames:
        out += framer.feed(frame)
    assert [bytes.fromhex(f) for f in out][-3:] == frames


def test_a_wrong_key_still_shows_as_decrypt_errors() -> None:
    """Frames that fail the check are still handed on, to be counted."""
    framer, failures = _smarty_check()
    other = encrypt_frame(crafted_5l(), "00" * 16, invocation_counter=3)
    out = framer.feed(other)
    assert out == [other.hex()]
    assert failures


# ------------------------------------------------------- stream and backoff


async def test_a_garbled_dsmr22_telegram_on_a_live_line_keeps_the_line_up() -> None:
    """An unreadable DSMR 2.2 telegram is counted; the next good one still counts."""
    good = DSMR22.encode("ascii")
    bad = DSMR22.replace("0000.98", "00x0.98").encode("ascii")
    sent = [bad, good]
    server_ready = asyncio.Event()
    done = asyncio.Event()
    connections = 0

    async def serve(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        nonlocal connections
        connections += 1
        for data in sent:
            writer.write(data)
            await writer.drain()
        server_ready.set()
        await done.wait()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    meter = Meter(grid=GRID)
    readings: list[MeterReading] = []
    meter.subscribe(readings.append)
    reader = P1StreamReader(
        meter, f"socket://127.0.0.1:{port}", resolve_version("2.2"), idle_timeout=5
    )
    reader.start()
    try:
        await until(lambda: len(readings) >= 1)
        assert meter.stats.parse_errors == 1
        assert connections == 1
        assert meter.stats.connection_errors == 0
    finally:
        await reader.stop()
        done.set()
        server.close()
        await server.wait_closed()


async def test_the_backoff_starts_again_after_telegrams_arrived() -> None:
    """A line that delivers, then goes silent, is retried after backoff_initial."""
    good = telegram_with_import("01.000").encode("ascii")
    connected_at: list[float] = []
    done = asyncio.Event()

    async def serve(
        _reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        connected_at.append(time.monotonic())
        writer.write(good)
        await writer.drain()
        await done.wait()  # silent until then: the reader's idle timeout ends it
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    meter = Meter(grid=GRID)
    reader = P1StreamReader(
        meter,
        f"socket://127.0.0.1:{port}",
        resolve_version("5"),
        idle_timeout=0.1,
        backoff_initial=0.05,
        backoff_max=5.0,
    )
    reader.start()
    try:
        await until(lambda: len(connected_at) >= 5, limit=5)
    finally:
        await reader.stop()
        done.set()
        server.close()
        await server.wait_closed()
    gaps = [b - a for a, b in itertools.pairwise(connected_at)]
    # Each gap is the idle timeout (0.1 s) plus the initial backoff (0.05 s);
    # without the reset they grow to 0.2, 0.3, 0.5 s.
    assert max(gaps) < 0.3, gaps


def test_a_telegram_without_import_power_is_never_read_as_zero_watts() -> None:
    """DSMR 2.2, power line garbled: the energy registers alone give no reading."""
    garbled = DSMR22.replace("0000.98*kW)", "0000.98*kW(")
    values = TelegramDecoder(resolve_version("2.2")).decode(garbled)
    assert values.import_w is None
    assert values.import_t1_kwh == 185.0
    meter = Meter(grid=GRID)
    assert meter.process(values, T0) is None
    assert meter.stats.last_error == "the telegram holds no import power"


@pytest.mark.parametrize("voltage", [0.0, -230.0, 0.001, 99_999.0])
def test_a_glitched_voltage_never_makes_the_headroom_larger(voltage: float) -> None:
    """The derived current uses the nominal voltage when the register is absurd."""
    from custom_components.stroomwijs.engine.meter.models import (  # noqa: PLC0415
        TelegramValues,
    )

    values = TelegramValues(
        dsmr_version="5",
        import_w=4_600.0,
        phase_import_w=(4_600.0,),
        phase_voltages_v=(voltage,),
    )
    reading = Meter(grid=GRID).process(values, T0)
    assert reading is not None
    assert reading.phase_headroom_a == (pytest.approx(25 - 20),)
