"""Pieces shared by the OCPP handlers of every version.

The ``ocpp`` library ships no type information, so this module gives its
``on`` decorator a typed face and collects the parsing that does not depend
on the protocol version (meter values, timestamps, error frames).
"""

# The ocpp library is untyped and OCPP payloads are free-form JSON.
# ruff: noqa: ANN401

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import logging
import math
import re
import time
from typing import Any, Protocol, cast

from ocpp.exceptions import (
    FormatViolationError,
    InternalError,
    NotImplementedError as OcppNotImplementedError,
    OCPPError,
    ProtocolError,
    SecurityError,
)
from ocpp.messages import Call, MessageType, unpack
from ocpp.routing import on as _ocpp_on

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError

_LOGGER = logging.getLogger(__name__)

SUBPROTOCOLS: tuple[str, ...] = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
"""The OCPP-J subprotocols the central system speaks, newest first."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a frame may have.

The deepest OCPP 2.1 message nests about a dozen levels; anything deeper is
refused before it is parsed, so a hostile frame cannot exhaust the stack."""
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
MAX_THROTTLE_KEYS = 256
MAX_MULTIPLIER = 9
"""OCPP unit multipliers are small; anything beyond 10^9 is not a reading."""
POWER_MEASURANDS = frozenset({"Power.Active.Import", "Power.Active.Export"})
_UNIQUE_ID = re.compile(r'^\s*\[\s*\d+\s*,\s*"([^"\\]{1,64})"')


class LogThrottle:
    """Log what a peer can repeat at will at most once per ``interval_s``.

    Each ``key`` (a kind of refusal) gets one warning per interval; the
    repeats in between go to debug and are counted in the next warning.
    """

    def __init__(self, interval_s: float = 60.0) -> None:
        """Allow one warning per key and interval."""
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def refusal(self, key: str, msg: str, *args: object) -> None:
        """Log ``msg`` at warning level, unless ``key`` was logged recently."""
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            _LOGGER.debug(msg, *args)
            return
        if len(self._last) >= MAX_THROTTLE_KEYS and key not in self._last:
            self._last.clear()  # bounded, whatever the peer sends
            self._suppressed.clear()
        self._last[key] = now
        repeats = self._suppressed.pop(key, 0)
        text = msg % args
        if repeats:
            _LOGGER.warning("%s (and %d more like it)", text, repeats)
        else:
            _LOGGER.warning("%s", text)


def on[F: Callable[..., Any]](action: str) -> Callable[[F], F]:
    """Typed wrapper around ``ocpp.routing.on``."""
    return cast("Callable[[F], F]", _ocpp_on(action))


def utc_now_iso() -> str:
    """Now as an OCPP timestamp."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_timestamp(text: object) -> datetime | None:
    """Parse an OCPP (RFC 3339) timestamp; None when absent or malformed."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterReading:
    """What one batch of sampled values says; None where it says nothing."""

    power_w: float | None = None
    energy_wh: float | None = None
    soc_pct: float | None = None
    current_a: float | None = None
    unreadable: frozenset[str] = frozenset()
    """Measurands that were sent with a value we cannot read (NaN, text...)."""


_POWER_IMPORT = "Power.Active.Import"
_POWER_EXPORT = "Power.Active.Export"
_ENERGY_IMPORT = "Energy.Active.Import.Register"
_SOC = "SoC"
_CURRENT_IMPORT = "Current.Import"
_DEFAULT_MEASURAND = _ENERGY_IMPORT
_KILO = {"kW": 1000.0, "kWh": 1000.0}


def _scaled(sample: Mapping[str, Any]) -> float | None:
    """Return the value in base units (W, Wh, A, %), or None if unreadable."""
    raw = sample.get("value")
    if isinstance(raw, bool):
        return None
    try:
        value = float(raw)  # type: ignore[arg-type]
    except TypeError, ValueError, OverflowError:
        return None
    if not math.isfinite(value):
        return None  # NaN and Infinity say nothing about the power
    unit_of_measure = sample.get("unit_of_measure")
    unit: object = sample.get("unit")  # OCPP 1.6 puts the unit on the sample
    multiplier = 0
    if isinstance(unit_of_measure, Mapping):
        unit = unit_of_measure.get("unit", unit)
        raw_multiplier = unit_of_measure.get("multiplier", 0)
        multiplier = raw_multiplier if isinstance(raw_multiplier, int) else 0
    if isinstance(unit, str):
        value *= _KILO.get(unit, 1.0)
    if not -MAX_MULTIPLIER <= multiplier <= MAX_MULTIPLIER:
        return None
    value *= 10.0**multiplier
    return value if math.isfinite(value) else None


def parse_meter_values(  # noqa: C901 - one flat pass over nested samples
    meter_values: Sequence[Mapping[str, Any]],
) -> MeterReading:
    """Fold OCPP meter values (any version, snake_case keys) into one reading.

    Whole-connector values win over per-phase ones; per-phase values are
    summed when no total is given. Power is import minus export, so a
    discharging car reads negative whichever way the charger reports it.
    """
    totals: dict[str, float] = {}
    phases: dict[str, float] = {}
    unreadable: set[str] = set()
    for meter_value in meter_values:
        samples = meter_value.get("sampled_value", [])
        if not isinstance(samples, list):
            continue
        for sample in samples:
            if not isinstance(sample, Mapping):
                continue
            measurand = sample.get("measurand", _DEFAULT_MEASURAND)
            if not isinstance(measurand, str):
                continue
            value = _scaled(sample)
            if value is None:
                unreadable.add(measurand)
                continue
            phase = sample.get("phase")
            if phase is None:
                totals[measurand] = value
            elif isinstance(phase, str) and phase in {"L1", "L2", "L3"}:
                phases[measurand] = phases.get(measurand, 0.0) + value

    def pick(measurand: str) -> float | None:
        if measurand in totals:
            return totals[measurand]
        return phases.get(measurand)

    power_in = pick(_POWER_IMPORT)
    power_out = pick(_POWER_EXPORT)
    power: float | None = None
    if power_in is not None or power_out is not None:
        power = (power_in or 0.0) - (power_out or 0.0)
    current = pick(_CURRENT_IMPORT)
    if current is not None and _CURRENT_IMPORT not in totals:
        current /= 3.0  # per-phase currents were summed; report the mean
    return MeterReading(
        power_w=power,
        energy_wh=pick(_ENERGY_IMPORT),
        soc_pct=totals.get(_SOC),
        current_a=current,
        unreadable=frozenset(unreadable),
    )


class Connection(Protocol):
    """The two calls the ``ocpp`` library needs from a websocket."""

    async def recv(self) -> str:
        """Next text frame; raises ``ConnectionClosedError`` once closed."""
        ...

    async def send(self, message: str) -> None:
        """Send one text frame."""
        ...


class ConnectionClosedError(Exception):
    """The websocket closed; the session ends."""


# Messages an unaccepted (pending) charger may send.
PENDING_ALLOWED: frozenset[str] = frozenset(
    {"BootNotification", "Heartbeat", "StatusNotification"}
)


class SessionBase:
    """Behaviour every version's session adds to the library's ChargePoint.

    * Frames that are not valid OCPP-J get an OCPP CALLERROR, not silence.
    * Actions without a handler get ``NotImplemented``, also on OCPP 2.1
      (where the library would otherwise drop them without an answer).
    * A charger that has not been accepted by the user may only boot, beat
      and report status; anything else is refused with ``SecurityError``.
    """

    id: str
    route_map: dict[str, dict[str, Any]]
    accepted: bool
    _response_queue: asyncio.Queue[Any]
    _ocpp_version: str
    _connection: Any
    _call_lock: asyncio.Lock
    # Provided by the library's ChargePoint, which comes later in the MRO.
    _send: Callable[[str], Awaitable[None]]
    _handle_call: Callable[[Call], Awaitable[Any]]

    async def _send_error_frame(self, unique_id: str, error: OCPPError) -> None:
        await self._send(error_frame(unique_id, error))

    @property
    def log_throttle(self) -> LogThrottle:
        """This connection's throttle for refusals a peer can repeat."""
        throttle: LogThrottle | None = getattr(self, "_log_throttle", None)
        if throttle is None:
            throttle = self._log_throttle = LogThrottle()
        return throttle

    def frame_received(self) -> None:
        """Note that the peer sent something (the session watches silence)."""

    def answer_received(self) -> None:
        """Note that the peer answered one of our CALLs."""

    def call_timed_out(self, what: str) -> None:
        """Note that the peer did not answer ``what`` in time."""

    async def route_message(self, raw_msg: str) -> None:
        """Route one frame; no frame, however hostile, ends the session.

        Malformed frames get an OCPP CALLERROR. Any other failure while
        handling a frame is logged with its traceback and answered with an
        ``InternalError`` CALLERROR; only a closed connection ends the session.
        """
        self.frame_received()
        try:
            await self._route_message(raw_msg)
        except ConnectionClosedError:
            raise
        except Exception as err:
            _LOGGER.exception("%s: failed to handle frame %.200r", self.id, raw_msg)
            with suppress(Exception):
                await self._send_error_frame(
                    guess_unique_id(raw_msg),
                    InternalError(details={"cause": type(err).__name__}),
                )

    async def _route_message(self, raw_msg: str) -> None:
        if json_too_deep(raw_msg):
            self.log_throttle.refusal(
                "deep",
                "%s: frame nested deeper than %d levels refused",
                self.id,
                MAX_JSON_DEPTH,
            )
            await self._send_error_frame(
                guess_unique_id(raw_msg),
                FormatViolationError(
                    details={"cause": f"nested deeper than {MAX_JSON_DEPTH} levels"}
                ),
            )
            return
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            self.log_throttle.refusal(
                "malformed", "%s: malformed frame %.200r: %s", self.id, raw_msg, error
            )
            await self._send_error_frame(guess_unique_id(raw_msg), error)
            return
        if msg.message_type_id != MessageType.Call:
            if not self._call_lock.locked():
                # Nobody waits for an answer: drop it rather than let a peer
                # fill the queue (or confuse the next call).
                self.log_throttle.refusal(
                    "unsolicited",
                    "%s: unsolicited %s dropped",
                    self.id,
                    type(msg).__name__,
                )
                return
            self.answer_received()
            self._response_queue.put_nowait(msg)
            return
        if not isinstance(msg.action, str) or not isinstance(msg.payload, dict):
            await self._send_error_frame(
                str(msg.unique_id),
                FormatViolationError(details={"cause": "action or payload malformed"}),
            )
            return
        try:
            if not self.accepted and msg.action not in PENDING_ALLOWED:
                raise SecurityError(
                    details={"cause": f"charger {self.id} is not accepted yet"}
                )
            if msg.action not in self.route_map:
                raise OcppNotImplementedError(
                    details={"cause": f"No handler for {msg.action} registered."}
                )
            await self._handle_call(msg)
        except OCPPError as error:
            _LOGGER.debug("%s: refused %s: %s", self.id, msg.action, error)
            await self._send(msg.create_call_error(error).to_json())


def json_too_deep(raw_msg: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw_msg`` nests arrays or objects deeper than ``limit``.

    Linear in the frame, without parsing it: brackets inside strings are
    skipped, and a frame with fewer opening brackets than ``limit`` is not
    scanned at all.
    """
    if raw_msg.count("[") + raw_msg.count("{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(raw_msg):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def guess_unique_id(raw_msg: str) -> str:
    """Return the message id of a broken frame if readable, else ``-1``."""
    if json_too_deep(raw_msg):
        match = _UNIQUE_ID.match(raw_msg)
        return match.group(1) if match else "-1"
    try:
        decoded = json.loads(raw_msg)
    except ValueError, TypeError, RecursionError:
        return "-1"
    if isinstance(decoded, list) and len(decoded) > 1 and isinstance(decoded[1], str):
        return decoded[1]
    return "-1"


def error_frame(unique_id: str, error: OCPPError) -> str:
    """Serialise a CALLERROR frame."""
    frame = [
        MessageType.CallError,
        unique_id,
        error.code,
        error.description,
        error.details or {},
    ]
    return json.dumps(frame, separators=(",", ":"))


async def checked_call(
    session: Any, payload: Any, *, what: str, timeout_s: float
) -> Any:
    """Send a CALL and return its result; failures become DeviceUnavailableError."""
    try:
        async with asyncio.timeout(timeout_s):
            return await session.call(payload, suppress=False)
    except OCPPError as err:
        msg = f"charger {session.id} refused {what}: {err.code} {err.description}"
        raise DeviceUnavailableError(msg) from err
    except TimeoutError as err:
        session.call_timed_out(what)
        msg = f"charger {session.id} did not answer {what} in time"
        raise DeviceUnavailableError(msg) from err
    except ConnectionClosedError as err:
        msg = f"charger {session.id} disconnected during {what}"
        raise DeviceUnavailableError(msg) from err


__all__ = [
    "MAX_JSON_DEPTH",
    "PENDING_ALLOWED",
    "POWER_MEASURANDS",
    "SUBPROTOCOLS",
    "Connection",
    "ConnectionClosedError",
    "LogThrottle",
    "MeterReading",
    "ProtocolError",
    "SessionBase",
    "checked_call",
    "error_frame",
    "guess_unique_id",
    "json_too_deep",
    "on",
    "parse_meter_values",
    "parse_timestamp",
    "utc_now_iso",
]
