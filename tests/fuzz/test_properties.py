"""Property tests over the P1 decoder and the guard (issue 10).

* For any byte stream, framing and decoding return readings or counted
  rejections, and never raise.
* Telegrams with valid CRCs but arbitrary values decode or are refused; what
  the meter accepts is finite and plausible.
* Line noise around encrypted frames never loses a frame.
* For any sequence of finite or non-finite readings and limits, no guard step
  raises, and no step raises a device above what the limit allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
import random

from hypothesis import given, settings, strategies as st

from custom_components.stroomwijs.engine.capabilities import CurtailPriority
from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.guard import (
    Guard,
    GuardConfig,
    GuardedDevice,
)
from custom_components.stroomwijs.engine.limits import (
    DEFAULT_FAILSAFE_IMPORT_W,
    Limit,
    LimitStack,
)
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.decode import (
    TelegramDecoder,
    TelegramError,
    non_finite_fields,
)
from custom_components.stroomwijs.engine.meter.stream import (
    CipherFramer,
    P1StreamReader,
    PlainFramer,
)
from custom_components.stroomwijs.engine.meter.versions import resolve_version
from custom_components.stroomwijs.engine.simulate.household import (
    SimEvCharger,
    SimSwitchLoad,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    encrypt_frame,
    finish_telegram,
)

from .build_corpus import HEADER, SMARTY_KEY, base_lines

GRID = GridConnection(phases=3, fuse_a=25)
T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DECODERS = {key: TelegramDecoder(resolve_version(key)) for key in ("5", "2.2", "4")}


def _decode_all(framer: PlainFramer, data: bytes, meter: Meter) -> None:
    for telegram in framer.feed(data):
        for decoder in DECODERS.values():
            try:
                values = decoder.decode(telegram)
            except TelegramError:
                continue
            assert not non_finite_fields(values)
            reading = meter.process(values, T0)
            if reading is not None:
                assert math.isfinite(reading.net_power_w)


@given(st.binary(max_size=3000))
def test_any_byte_stream_decodes_or_is_refused_never_raises(data: bytes) -> None:
    """Arbitrary bytes, fed whole and split: only TelegramError, or readings."""
    meter = Meter(grid=GRID)
    _decode_all(PlainFramer(), data, meter)
    framer = PlainFramer()
    for start in range(0, len(data), 7):
        _decode_all(framer, data[start : start + 7], meter)


@given(st.binary(max_size=3000), st.sampled_from(["5", "2.2", "4"]))
def test_every_framed_telegram_is_a_reading_or_a_counted_rejection(
    data: bytes, version: str
) -> None:
    """Through the reader's own handling: each telegram lands in one counter."""
    meter = Meter(grid=GRID)
    reader = P1StreamReader(meter, "socket://127.0.0.1:9", resolve_version(version))
    framed = PlainFramer().feed(data + with_power_line())
    for telegram in framed:
        reader.handle(telegram)
    stats = meter.stats
    counted = (
        stats.telegrams
        + stats.crc_errors
        + stats.parse_errors
        + stats.decrypt_errors
        + stats.rejected_readings
    )
    assert counted == len(framed)


def with_power_line() -> bytes:
    """Return one good telegram, so that every stream holds at least one."""
    return finish_telegram(base_lines(), HEADER)


@given(st.text(max_size=2000))
def test_any_text_decodes_or_is_refused_never_raises(text: str) -> None:
    """The decoder itself, on any text, with and without telegram framing."""
    for candidate in (text, "/" + text + "\r\n!\r\n"):
        for decoder in DECODERS.values():
            with contextlib.suppress(TelegramError):
                decoder.decode(candidate)


DSMR_ALPHABET = "0123456789.*()-:kWhAVnNaIfiytsxe!/ \r\n+E"


@st.composite
def mutated_telegram(draw: st.DrawFn) -> bytes:
    """Draw a real-looking telegram with a few characters changed, CRC valid."""
    lines = base_lines()
    for _ in range(draw(st.integers(1, 6))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        position = draw(st.integers(0, len(line)))
        change = draw(st.text(DSMR_ALPHABET, min_size=0, max_size=4))
        cut = draw(st.integers(0, 3))
        lines[index] = line[:position] + change + line[position + cut :]
    return finish_telegram(lines, HEADER)


@given(mutated_telegram())
def test_valid_crc_telegrams_with_any_values_never_reach_the_guard_unchecked(
    telegram: bytes,
) -> None:
    """What the meter accepts is finite and within the connection's bounds."""
    meter = Meter(grid=GRID)
    try:
        values = DECODERS["5"].decode(telegram.decode("ascii"))
    except TelegramError:
        return
    reading = meter.process(values, T0)
    if reading is None:
        assert meter.stats.rejected_readings == 1
        return
    for value in (reading.import_w, reading.export_w, *reading.phase_currents_a):
        assert value is None or math.isfinite(value)
    assert abs(reading.net_power_w) <= GRID.plausible_max_power_w


FRAMES = [
    encrypt_frame(
        finish_telegram(base_lines(), HEADER), SMARTY_KEY, invocation_counter=n
    )
    for n in range(1, 4)
]
SMARTY = TelegramDecoder(
    resolve_version("5L", encryption_key=SMARTY_KEY), encryption_key=SMARTY_KEY
)


def _opens(frame: str) -> bool:
    try:
        SMARTY.decode(frame)
    except TelegramError:
        return False
    return True


header_like = st.builds(
    lambda title, length: bytes([0xDB, 0x08]) + title + bytes([0x82]) + length,
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=0, max_size=2),
)


@given(
    st.lists(st.one_of(st.binary(max_size=200), header_like), max_size=4),
    st.integers(1, 600),
)
def test_noise_around_encrypted_frames_never_loses_a_frame(
    noise: list[bytes], chunk: int
) -> None:
    """Noise (shaped like headers or not) before each frame: all are found."""
    stream = b"".join(n + f for n, f in zip(noise + [b""] * 3, FRAMES, strict=False))
    framer = CipherFramer(_opens)
    found: list[bytes] = []
    for start in range(0, len(stream), chunk):
        found += [bytes.fromhex(f) for f in framer.feed(stream[start : start + chunk])]
    assert [f for f in found if f in FRAMES] == FRAMES


# ------------------------------------------------------------------ guard


@dataclass(frozen=True, slots=True)
class Reading:
    """A reading with any values at all."""

    timestamp: datetime
    import_w: float
    export_w: float
    phase_currents_a: tuple[float | None, ...]
    quarter_average_w: float | None = None
    quarter_projection_w: float | None = None

    @property
    def net_power_w(self) -> float:
        """Import minus export."""
        return self.import_w - self.export_w


class SteppedLimit:
    """A limit source whose value the test sets before each step.

    Values that ``Limit`` refuses (NaN, negative, infinite) make the source
    raise, as a buggy source would.
    """

    name = "test"

    def __init__(self) -> None:
        """Start without a limit."""
        self.value: float | None = None

    def limits_between(self, start: datetime, end: datetime) -> Sequence[Limit]:
        """Return the current value as a limit."""
        del start, end
        if self.value is None:
            return []
        return [Limit(source="test", import_w=self.value)]

    def problem(self, now: datetime) -> str | None:
        """Report nothing."""
        del now
        return None


def expected_limit(value: float | None) -> float:
    """Return the import limit the guard must respect for a source value."""
    fuse = GRID.max_power_w
    if value is None:
        return fuse
    if not math.isfinite(value) or value < 0:
        return min(fuse, DEFAULT_FAILSAFE_IMPORT_W)
    return min(fuse, value)


weird = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e12, -1e12, -5.0]),
)
# Mostly sound values, so that the guard cuts, waits and releases; now and
# then anything at all.
power = st.one_of(st.floats(0, 25_000), st.floats(0, 25_000), weird)
current = st.one_of(st.none(), st.floats(0, 40), st.floats(0, 40), weird)
limit_value = st.one_of(
    st.none(), st.floats(2_000, 20_000), st.floats(2_000, 20_000), weird
)
steps = st.lists(
    st.tuples(
        power,  # import
        st.one_of(st.just(0.0), st.just(0.0), power),  # export
        st.lists(current, max_size=3),  # currents
        limit_value,  # limit
        st.integers(1, 90),  # readings (one a second) that repeat these values
    ),
    min_size=1,
    max_size=12,
)


async def _run_guard(
    trace: list[tuple[float, float, list[float | None], float | None, int]],
) -> None:
    now = T0

    def clock() -> datetime:
        return now

    ev = SimEvCharger(clock=clock, reaction_delay=timedelta(seconds=1))
    boiler = SimSwitchLoad("boiler", "Boiler", clock=clock, rated_w=2_000)
    source = SteppedLimit()
    guard = Guard(
        GuardConfig(grid=GRID),
        [
            GuardedDevice(device=ev, priority=CurtailPriority.EV, pause_allowed=True),
            GuardedDevice(device=boiler, priority=CurtailPriority.BOILER, phases=(0,)),
        ],
        limits=LimitStack([source]),
        rng=random.Random(1),  # noqa: S311 - reproducible stagger
    )
    for import_w, export_w, currents, limit, repeats in trace:
        source.value = limit
        for _ in range(repeats):
            now += timedelta(seconds=1)
            reading = Reading(now, import_w, export_w, tuple(currents))
            await _step(guard, reading, ev, boiler, expected_limit(limit))


async def _step(
    guard: Guard,
    reading: Reading,
    ev: SimEvCharger,
    boiler: SimSwitchLoad,
    limit_w: float,
) -> None:
    """Run one guard step; check that what it raised fits under the limit."""
    before = {"ev": ev.setpoint_w or 0.0, "boiler": 2_000.0 if boiler.is_on else 0.0}
    marks = (len(ev.commands), len(boiler.commands))
    await guard.async_tick(reading.timestamp)
    await guard.async_process(reading)
    raised = sum(
        max(value - before[name], 0.0)
        for name, commands, mark in (
            ("ev", ev.commands, marks[0]),
            ("boiler", boiler.commands, marks[1]),
        )
        for _, value in commands[mark:]
    )
    if raised > 0:
        RAISES.append(raised)
        # A raise needs a sound reading that leaves room for it.
        assert math.isfinite(reading.net_power_w)
        assert abs(reading.net_power_w) <= GRID.plausible_max_power_w
        assert reading.net_power_w + raised <= limit_w + 1e-6


RAISES: list[float] = []
"""Every raise the property saw (to check that it sees some)."""


@settings(max_examples=150)
@given(steps)
def test_no_guard_step_raises_or_lifts_a_device_above_the_limit(
    trace: list[tuple[float, float, list[float | None], float | None, int]],
) -> None:
    """Any readings, any limits: every step completes within the limit."""
    asyncio.run(_run_guard(trace))


def test_the_guard_property_sees_devices_raised() -> None:
    """A cut, then a steady low load: the harness sees (and checks) a raise."""
    seen = len(RAISES)
    asyncio.run(
        _run_guard([(16_000.0, 0.0, [], 8_000.0, 3), (2_000.0, 0.0, [], 8_000.0, 90)])
    )
    assert len(RAISES) > seen
