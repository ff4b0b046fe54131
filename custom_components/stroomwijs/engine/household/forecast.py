"""The base-load forecast, learned from the meter's own history.

Method: a profile of 2 x 96 quarter-hour buckets (working days and weekend
days, local time). Each quarter-hour the household observes the average
*uncontrolled* load: the metered net import minus what its controlled
devices drew, plus the PV forecast that was in force for that quarter when a
PV forecast is configured (so that the profile holds consumption, and PV is
added back by the forecast). A bucket's forecast is the mean of its most
recent samples over the last ``weeks`` weeks (5 samples a week for working
days, 2 for weekends).

Until a bucket has a sample, the start-up default applies: 0.4 kW, the
average draw of a 3,500 kWh/year household. Without a PV forecast the
profile keeps the net load, so a negative mean (midday PV surplus) becomes a
PV "forecast" by persistence, and the plan status says so.

The state is JSON-safe (``to_state``/``restore``) and bounded: at most
``weeks * 5`` samples per bucket.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
import math
from typing import Any, Final
from zoneinfo import ZoneInfo

DEFAULT_BASE_KW: Final = 0.4
QUARTERS_PER_DAY: Final = 96
MAX_PLAUSIBLE_KW: Final = 250.0


class BaseLoadForecaster:
    """Learns a weekday/weekend quarter-hour profile of uncontrolled load."""

    def __init__(self, *, time_zone: str, weeks: int = 4) -> None:
        """Start with the default profile."""
        self._zone = ZoneInfo(time_zone)
        self.weeks = weeks
        self._buckets: dict[tuple[int, int], deque[float]] = {}

    def _key(self, when: datetime) -> tuple[int, int]:
        local = when.astimezone(self._zone)
        day_type = 1 if local.weekday() >= 5 else 0  # noqa: PLR2004
        return day_type, local.hour * 4 + local.minute // 15

    def _maxlen(self, day_type: int) -> int:
        return self.weeks * (2 if day_type else 5)

    def observe(self, quarter_start: datetime, load_kw: float) -> None:
        """Record the uncontrolled load of the quarter that starts then."""
        if not math.isfinite(load_kw) or abs(load_kw) > MAX_PLAUSIBLE_KW:
            return
        key = self._key(quarter_start)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = deque(maxlen=self._maxlen(key[0]))
        bucket.append(load_kw)

    def samples(self) -> int:
        """How many samples the profile holds."""
        return sum(len(b) for b in self._buckets.values())

    def forecast_kw(self, when: datetime) -> float:
        """Return the expected uncontrolled load for the quarter holding ``when``."""
        bucket = self._buckets.get(self._key(when))
        if not bucket:
            return DEFAULT_BASE_KW
        return sum(bucket) / len(bucket)

    def series(self, start: datetime, slots: int, slot: timedelta) -> list[float]:
        """Forecast for ``slots`` slots from ``start``."""
        return [self.forecast_kw(start + slot * i) for i in range(slots)]

    def to_state(self) -> dict[str, Any]:
        """JSON-safe state."""
        return {
            f"{day}:{quarter}": [round(v, 4) for v in values]
            for (day, quarter), values in sorted(self._buckets.items())
        }

    def restore(self, state: object) -> None:
        """Restore ``to_state`` output; malformed parts are skipped."""
        if not isinstance(state, Mapping):
            return
        for key, values in state.items():
            try:
                day_text, quarter_text = str(key).split(":")
                day, quarter = int(day_text), int(quarter_text)
            except ValueError:
                continue
            if day not in {0, 1} or not 0 <= quarter < QUARTERS_PER_DAY:
                continue
            if not isinstance(values, list):
                continue
            bucket: deque[float] = deque(maxlen=self._maxlen(day))
            for value in values:
                number = _plausible_kw(value)
                if number is not None:
                    bucket.append(number)
            if bucket:
                self._buckets[day, quarter] = bucket


def _plausible_kw(value: object) -> float | None:
    """Return a saved load as a float if it is a plausible one, else None."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)  # an int beyond a float's range overflows
    except OverflowError:
        return None
    if not math.isfinite(number) or abs(number) > MAX_PLAUSIBLE_KW:
        return None
    return number
