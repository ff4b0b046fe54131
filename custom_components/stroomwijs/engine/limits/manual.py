"""A limit set by hand: the HA service, the number entity or the CLI.

The limit survives a restart through its host: ``export_state`` returns it as
JSON-safe data and ``restore_state`` takes it back, checked field by field.
A limit that has ended by then, or stored state that is corrupt, is dropped
with a logged reason; nothing there raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
import logging
import math
from typing import Any

from .base import Limit, require_aware

MAX_MANUAL_DURATION = timedelta(days=7)
MAX_MANUAL_W = 1_000_000.0
"""A manual limit above 1 MW is a typo, not a household's limit."""
STATE_VERSION = 1
_LOGGER = logging.getLogger(__name__)


class ManualLimitSource:
    """Holds at most one manual limit with a value, a duration and a label."""

    def __init__(self, *, name: str = "manual") -> None:
        """Start without a limit."""
        self._name = name
        self._limit: Limit | None = None
        self._label: str | None = None

    @property
    def name(self) -> str:
        """Label of the source."""
        return self._name

    @property
    def current(self) -> Limit | None:
        """The limit last set (it may have expired)."""
        return self._limit

    def set_limit(
        self,
        *,
        now: datetime,
        import_w: float | None,
        duration: timedelta | None,
        label: str = "user",
        export_w: float | None = None,
    ) -> Limit:
        """Set a limit from ``now`` for ``duration`` (None: until cleared)."""
        require_aware(now, "now")
        if duration is not None and not timedelta(0) < duration <= MAX_MANUAL_DURATION:
            msg = (
                f"duration must be between 0 and {MAX_MANUAL_DURATION}, got {duration}"
            )
            raise ValueError(msg)
        for value in (import_w, export_w):
            if value is not None and not (
                math.isfinite(value) and 0 <= value <= MAX_MANUAL_W
            ):
                msg = f"a manual limit must be 0..{MAX_MANUAL_W:.0f} W, got {value}"
                raise ValueError(msg)
        label = label.strip() or "user"
        self._label = label
        self._limit = Limit(
            source=f"{self._name}:{label}",
            import_w=import_w,
            export_w=export_w,
            start=now,
            end=None if duration is None else now + duration,
        )
        return self._limit

    def clear(self) -> None:
        """Remove the manual limit."""
        self._limit = None
        self._label = None

    def export_state(self) -> dict[str, Any]:
        """Return the active limit (None if there is none) as JSON-safe data."""
        limit = self._limit
        if limit is None or limit.start is None:
            return {"version": STATE_VERSION, "limit": None}
        return {
            "version": STATE_VERSION,
            "limit": {
                "label": self._label or "user",
                "import_w": limit.import_w,
                "export_w": limit.export_w,
                "start": limit.start.isoformat(),
                "end": None if limit.end is None else limit.end.isoformat(),
            },
        }

    def restore_state(self, data: object, now: datetime) -> bool:
        """Take back an exported limit; return whether one is active now.

        Dropped, with the reason logged: a limit that has ended by ``now``,
        one that starts in the future or lasts longer than the longest
        manual limit, and anything that is not what ``export_state`` writes.
        """
        require_aware(now, "now")
        try:
            limit = self._parse_state(data, now)
        except (ValueError, TypeError, OverflowError) as err:
            _LOGGER.warning("stored manual limit ignored: %s", err)
            return False
        if limit is None:
            return False
        label, import_w, export_w, start, end = limit
        self._label = label
        self._limit = Limit(
            source=f"{self._name}:{label}",
            import_w=import_w,
            export_w=export_w,
            start=start,
            end=end,
        )
        return True

    def _parse_state(
        self, data: object, now: datetime
    ) -> tuple[str, float | None, float | None, datetime, datetime | None] | None:
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            msg = f"not version {STATE_VERSION} state"
            raise ValueError(msg)
        raw = data.get("limit")
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise TypeError("the limit is not a mapping")
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > 100:  # noqa: PLR2004
            raise ValueError("the label is not a short text")
        values = [_watts(raw.get(key), key) for key in ("import_w", "export_w")]
        if values[0] is None and values[1] is None:
            raise ValueError("the limit limits nothing")
        start, end = _window(raw.get("start"), raw.get("end"), now)
        if end is not None and end <= now:
            _LOGGER.info("stored manual limit ended at %s: dropped", end)
            return None
        return label.strip(), values[0], values[1], start, end

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Return the manual limit if it overlaps the range."""
        if self._limit is not None and self._limit.overlaps(start, end):
            return [self._limit]
        return []

    def problem(self, now: datetime) -> str | None:  # noqa: ARG002
        """Report no problem: a manual limit never needs a repair."""
        return None


def _watts(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{what} is not a number"
        raise TypeError(msg)
    if not math.isfinite(value) or not 0 <= value <= MAX_MANUAL_W:
        msg = f"{what} of {value} is out of range"
        raise ValueError(msg)
    return float(value)


def _window(
    raw_start: object, raw_end: object, now: datetime
) -> tuple[datetime, datetime | None]:
    start = _time(raw_start, "start")
    if start is None:
        raise ValueError("the limit has no start")
    if start > now.astimezone(UTC):
        raise ValueError("the limit starts in the future")
    end = _time(raw_end, "end")
    if end is not None and (end <= start or end - start > MAX_MANUAL_DURATION):
        raise ValueError("the limit's end is out of range")
    return start, end


def _time(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"{what} is not a time"
        raise TypeError(msg)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"{what} has no time zone"
        raise ValueError(msg)
    return moment.astimezone(UTC)
