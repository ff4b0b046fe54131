"""A limit carried in the P1 meter's text-message field (OBIS 0-0:96.13.0).

Format (case-insensitive, blanks between tokens, documented in
``docs/limits-and-guard.md``)::

    LIMIT <value><unit> [EXPORT <value><unit>] [UNTIL <ISO 8601 time> | FOR <n>m|h]
    LIMIT OFF

``unit`` is ``W`` or ``kW``; a time without an offset is rejected. Examples:
``LIMIT 4.0kW UNTIL 2026-11-23T21:00Z``, ``LIMIT 3500W FOR 90m``,
``LIMIT 5kW EXPORT 0kW``. A message without ``UNTIL``/``FOR`` holds while it
stays in the field; when the field is emptied or no longer carries a limit,
the limit ends. ``LIMIT OFF`` ends it explicitly. Meters deliver the field
hex-encoded; both hex and plain text are accepted. Other text is ignored.

Every number is bounded: a value must be finite and at most ``MAX_LIMIT_W``,
``FOR`` at most ``MAX_MESSAGE_DURATION``, and ``UNTIL`` no further ahead than
that. A message out of range is rejected like a malformed one: the previous
limit stays, and the source reports the problem (a repair in Home Assistant).
Nothing in a message can make :meth:`P1MessageLimitSource.feed` raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
import math
import re

from .base import Limit, require_aware

_VALUE = r"(?P<{name}>\d+(?:[.,]\d+)?)\s*(?P<{name}_unit>kw|w)"
_PATTERN = re.compile(
    r"^\s*limit\s+(?:(?P<off>off)|"
    + _VALUE.format(name="imp")
    + r"(?:\s+export\s+"
    + _VALUE.format(name="exp")
    + r")?"
    + r"(?:\s+until\s+(?P<until>\S+)|\s+for\s+(?P<for>\d+)\s*(?P<for_unit>m|min|h))?"
    + r")\s*$",
    re.IGNORECASE,
)
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_LOGGER = logging.getLogger(__name__)

MAX_MESSAGE_DURATION = timedelta(days=7)
"""The longest a message limit may last (``FOR``, or ``UNTIL`` from now)."""
MAX_LIMIT_W = 1_000_000.0
"""No household connection carries 1 MW: a larger value is a garbled message."""
MAX_MESSAGE_CHARS = 1024
"""The DSMR text field holds 1024 characters at most."""
_MAX_DIGITS = 12


class MessageFormatError(ValueError):
    """The text message starts with LIMIT but does not follow the format."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageLimit:
    """A parsed LIMIT message."""

    off: bool
    import_w: float | None = None
    export_w: float | None = None
    until: datetime | None = None
    duration: timedelta | None = None


def decode_text(raw: str) -> str:
    """Decode a hex-encoded DSMR text field; plain text passes through."""
    stripped = raw.strip()
    if stripped and _HEX.match(stripped) and len(stripped) >= 2:  # noqa: PLR2004
        try:
            return bytes.fromhex(stripped).decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            return stripped
    return stripped


def _watts(number: str, unit: str) -> float:
    if len(number) > _MAX_DIGITS:
        msg = f"the value {number[:20]}... has too many digits"
        raise MessageFormatError(msg)
    value = float(number.replace(",", "."))
    watts = value * 1000.0 if unit.lower() == "kw" else value
    if not math.isfinite(watts) or watts > MAX_LIMIT_W:
        msg = f"the value {number}{unit} is beyond {MAX_LIMIT_W:.0f} W"
        raise MessageFormatError(msg)
    return watts


def parse_limit_message(text: str, now: datetime | None = None) -> MessageLimit | None:
    """Parse a text message; None if it is not a LIMIT message at all.

    Raise MessageFormatError for a malformed or out-of-range LIMIT message.
    With ``now``, an ``UNTIL`` time more than ``MAX_MESSAGE_DURATION`` ahead
    is out of range too.
    """
    if len(text) > 2 * MAX_MESSAGE_CHARS:
        msg = f"the text message is longer than {MAX_MESSAGE_CHARS} characters"
        raise MessageFormatError(msg)
    decoded = decode_text(text)
    if not decoded.lower().startswith("limit"):
        return None
    match = _PATTERN.match(decoded)
    if match is None:
        msg = f"not a valid LIMIT message: {decoded!r}"
        raise MessageFormatError(msg)
    if match["off"]:
        return MessageLimit(off=True)
    import_w = _watts(match["imp"], match["imp_unit"])
    export_w = _watts(match["exp"], match["exp_unit"]) if match["exp"] else None
    until: datetime | None = None
    duration: timedelta | None = None
    if match["until"]:
        until = _until(match["until"], now)
    if match["for"]:
        duration = _duration(match["for"], match["for_unit"].lower())
    return MessageLimit(
        off=False, import_w=import_w, export_w=export_w, until=until, duration=duration
    )


def _until(text: str, now: datetime | None) -> datetime:
    """Return the UNTIL time in UTC, bounded to ``MAX_MESSAGE_DURATION`` ahead."""
    try:
        until = datetime.fromisoformat(text)
    except ValueError:
        msg = f"UNTIL needs an ISO 8601 time, got {text!r}"
        raise MessageFormatError(msg) from None
    if until.tzinfo is None or until.utcoffset() is None:
        msg = f"UNTIL needs a time with an offset or Z, got {text!r}"
        raise MessageFormatError(msg)
    try:
        until = until.astimezone(UTC)
    except OverflowError:
        msg = f"UNTIL {text!r} is out of range"
        raise MessageFormatError(msg) from None
    if now is not None and until > now + MAX_MESSAGE_DURATION:
        msg = f"UNTIL {text!r} is more than {MAX_MESSAGE_DURATION} ahead"
        raise MessageFormatError(msg)
    return until


def _duration(amount_text: str, unit: str) -> timedelta:
    """Return the FOR duration, bounded to ``MAX_MESSAGE_DURATION``."""
    if len(amount_text) > _MAX_DIGITS:
        msg = f"FOR {amount_text[:20]}... is longer than {MAX_MESSAGE_DURATION}"
        raise MessageFormatError(msg)
    amount = int(amount_text)
    minutes = amount * 60 if unit == "h" else amount
    if minutes <= 0:
        raise MessageFormatError("FOR needs a positive duration")
    if minutes > MAX_MESSAGE_DURATION.total_seconds() / 60:
        msg = f"FOR {amount_text}{unit} is longer than {MAX_MESSAGE_DURATION}"
        raise MessageFormatError(msg)
    return timedelta(minutes=minutes)


class P1MessageLimitSource:
    """Follows the meter's text-message field, telegram by telegram."""

    def __init__(self, *, name: str = "p1_message") -> None:
        """Start without a limit."""
        self._name = name
        self._limit: Limit | None = None
        self._last_text: str | None = None
        self._error: str | None = None

    @property
    def name(self) -> str:
        """Label of the source."""
        return self._name

    @property
    def current(self) -> Limit | None:
        """The limit the message currently sets, if any."""
        return self._limit

    def feed(self, text: str | None, now: datetime) -> Limit | None:
        """Process the text field of one telegram received at ``now``.

        Never raises: whatever the message holds, a problem is reported
        (:meth:`problem`) and the previous limit stays, so a message can never
        stop readings from reaching the guard.
        """
        try:
            return self._feed(text, now)
        except Exception as err:
            _LOGGER.exception("the P1 text message could not be handled")
            self._error = f"the text message could not be handled: {err}"
            return self._limit

    def observe_reading(self, reading: object) -> None:
        """Follow a meter reading's ``text_message`` (the guard calls this)."""
        timestamp = getattr(reading, "timestamp", None)
        if not isinstance(timestamp, datetime):
            return
        text = getattr(reading, "text_message", None)
        self.feed(text if isinstance(text, str) else None, timestamp)

    def _feed(self, text: str | None, now: datetime) -> Limit | None:
        require_aware(now, "now")
        text = text or ""
        if text == self._last_text:
            return self._limit
        self._last_text = text
        try:
            parsed = parse_limit_message(text, now)
        except MessageFormatError as err:
            # Keep the previous limit: a garbled message must not lift it.
            self._error = str(err)
            return self._limit
        self._error = None
        if parsed is None or parsed.off:
            self._limit = None
            return None
        end = parsed.until
        if parsed.duration is not None:
            end = now + parsed.duration
        if end is not None and end <= now:
            self._limit = None
            return None
        self._limit = Limit(
            source=self._name,
            import_w=parsed.import_w,
            export_w=parsed.export_w,
            start=now,
            end=end,
            detail=decode_text(text),
        )
        return self._limit

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Return the message's limit if it overlaps the range."""
        if self._limit is not None and self._limit.overlaps(start, end):
            return [self._limit]
        return []

    def problem(self, now: datetime) -> str | None:  # noqa: ARG002
        """Report a malformed LIMIT message: it needs attention."""
        return self._error
