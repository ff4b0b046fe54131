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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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
    value = float(number.replace(",", "."))
    return value * 1000.0 if unit.lower() == "kw" else value


def parse_limit_message(text: str) -> MessageLimit | None:
    """Parse a text message; None if it is not a LIMIT message at all."""
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
        try:
            until = datetime.fromisoformat(match["until"])
        except ValueError:
            msg = f"UNTIL needs an ISO 8601 time, got {match['until']!r}"
            raise MessageFormatError(msg) from None
        if until.tzinfo is None:
            msg = f"UNTIL needs a time with an offset or Z, got {match['until']!r}"
            raise MessageFormatError(msg)
    if match["for"]:
        amount = int(match["for"])
        unit = match["for_unit"].lower()
        duration = timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount)
        if duration <= timedelta(0):
            raise MessageFormatError("FOR needs a positive duration")
    return MessageLimit(
        off=False, import_w=import_w, export_w=export_w, until=until, duration=duration
    )


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
        """Process the text field of one telegram received at ``now``."""
        require_aware(now, "now")
        text = text or ""
        if text == self._last_text:
            return self._limit
        self._last_text = text
        try:
            parsed = parse_limit_message(text)
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
