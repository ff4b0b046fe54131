"""Belgian capacity tariff: keep the quarter-hour average under a monthly budget.

The tariff bills the highest quarter-hour average import of the month. The
user sets a budget, or the source derives it from this month's peak so far
(never below the tariff's floor of 2.5 kW). Within a quarter the source turns
the budget into an instantaneous import limit: what may still be drawn on
average during the rest of the quarter so that the quarter's average stays
at or below the budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import math
from zoneinfo import ZoneInfo

from .base import Limit, require_aware

QUARTER = timedelta(minutes=15)
CAPACITY_FLOOR_W = 2_500.0
"""Fluvius bills at least 2.5 kW, so a lower peak saves nothing."""
MIN_REMAINING = timedelta(seconds=30)
"""Spread the rest of the budget over at least this long (no spikes at :59)."""


def quarter_start(when: datetime) -> datetime:
    """Start of the quarter-hour containing ``when`` (same zone)."""
    return when.replace(minute=when.minute - when.minute % 15, second=0, microsecond=0)


def _check_budget(budget_w: float | None) -> None:
    if budget_w is not None and not (math.isfinite(budget_w) and budget_w > 0):
        msg = f"the capacity budget must be a positive number, got {budget_w}"
        raise ValueError(msg)


class CapacityTariffSource:
    """Turns a monthly quarter-hour peak budget into an import limit."""

    def __init__(
        self,
        *,
        budget_w: float | None = None,
        floor_w: float = CAPACITY_FLOOR_W,
        time_zone: str = "Europe/Brussels",
        name: str = "capacity",
        burst_factor: float = 1.5,
    ) -> None:
        """Use a fixed ``budget_w``, or None to follow this month's peak.

        ``burst_factor`` caps the instantaneous allowance at that multiple of
        the target: budget left over early in a quarter is not spent as one
        big burst in its last minute (which would only churn the devices).
        """
        _check_budget(budget_w)
        if not math.isfinite(burst_factor) or burst_factor < 1:
            raise ValueError("the burst factor must be at least 1")
        self._burst = burst_factor
        self._budget_w = budget_w
        self._floor_w = floor_w
        self._tz = ZoneInfo(time_zone)
        self._name = name
        self._month: tuple[int, int] | None = None
        self._month_peak_w = 0.0
        self._quarter: datetime | None = None
        self._quarter_avg_w: float | None = None
        self._last_seen: datetime | None = None

    @property
    def name(self) -> str:
        """Label of the source."""
        return self._name

    @property
    def month_peak_w(self) -> float:
        """Highest completed quarter-hour average of this month so far."""
        return self._month_peak_w

    @property
    def target_w(self) -> float:
        """The quarter-hour average the source aims to stay under."""
        if self._budget_w is not None:
            return self._budget_w
        return max(self._month_peak_w, self._floor_w)

    def set_budget(self, budget_w: float | None) -> None:
        """Change the budget (None: derive it from the month's peak)."""
        _check_budget(budget_w)
        self._budget_w = budget_w

    def observe(self, timestamp: datetime, quarter_average_w: float | None) -> None:
        """Feed one meter reading: its time and the quarter's average so far."""
        require_aware(timestamp, "timestamp")
        local = timestamp.astimezone(self._tz)
        start = quarter_start(local)
        if self._quarter is not None and start != self._quarter:
            self._close_quarter()
        month = (local.year, local.month)
        if month != self._month:
            self._month = month
            self._month_peak_w = 0.0
        self._quarter = start
        if (
            quarter_average_w is not None
            and math.isfinite(quarter_average_w)
            and quarter_average_w >= 0
        ):
            # A non-finite or negative average is no measurement: ignored.
            self._quarter_avg_w = quarter_average_w
        self._last_seen = timestamp

    def _close_quarter(self) -> None:
        if self._quarter_avg_w is not None and self._quarter is not None:
            month = (self._quarter.year, self._quarter.month)
            if month == self._month:
                self._month_peak_w = max(self._month_peak_w, self._quarter_avg_w)
        self._quarter_avg_w = None

    def allowed_w(self, now: datetime) -> float:
        """Average import allowed for the rest of the quarter containing ``now``."""
        local = now.astimezone(self._tz)
        start = quarter_start(local)
        elapsed = (local - start).total_seconds()
        remaining = max((start + QUARTER - local), MIN_REMAINING).total_seconds()
        average = self._quarter_avg_w if start == self._quarter else None
        used_j = (average or 0.0) * elapsed
        budget_j = self.target_w * QUARTER.total_seconds()
        allowed = (budget_j - used_j) / remaining
        return min(max(allowed, 0.0), self.target_w * self._burst)

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Return the limit for the quarter containing ``start``, if it overlaps."""
        local = start.astimezone(self._tz)
        begin = quarter_start(local)
        limit = Limit(
            source=self._name,
            import_w=self.allowed_w(start),
            start=begin,
            end=begin + QUARTER,
            detail=f"quarter-hour target {self.target_w:.0f} W",
            moving=True,
        )
        return [limit] if limit.overlaps(start, end) else []

    def problem(self, now: datetime) -> str | None:  # noqa: ARG002
        """Report no problem: the capacity target never needs a repair."""
        return None
