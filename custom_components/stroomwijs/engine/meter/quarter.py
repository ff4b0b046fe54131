"""Quarter-hour average import power and the monthly peak, computed locally.

Capacity tariffs (Belgium today, the Netherlands soon) bill the highest
quarter-hour average import power of each month. Meters of the Belgian
e-MUCS family send the running average (1-0:1.4.0) and the month's peak
(1-0:1.6.0); for every other meter Stroomwijs computes both itself.

Quarters are cut on UTC boundaries. Dutch and Belgian local time differ from
UTC by whole hours, so UTC quarters are the local quarters, and nothing
special happens when the clocks change: the night of the change simply has
four quarters more or fewer in local terms. Months, on the other hand, are
local calendar months (that is what the DSO bills).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

QUARTER = timedelta(minutes=15)
QUARTER_S = QUARTER.total_seconds()
MAX_HOLD = timedelta(seconds=30)
"""A sample stands for at most this long; longer gaps count as missing data."""
BILLING_ZONE = ZoneInfo("Europe/Brussels")
"""Local time of the billing month (the same as Amsterdam's)."""


def quarter_start(moment: datetime) -> datetime:
    """Return the UTC start of the quarter-hour that holds ``moment``."""
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class QuarterResult:
    """A completed quarter-hour."""

    start: datetime
    average_w: float
    coverage: float
    """Share of the quarter for which there was data (0..1)."""

    @property
    def end(self) -> datetime:
        """When the quarter ended."""
        return self.start + QUARTER


class QuarterTracker:
    """Integrate import power into quarter-hour averages (step-hold).

    Each sample's power holds until the next sample, for at most
    ``MAX_HOLD``. The average is the energy divided by the time covered by
    data, so a short outage does not drag the average down.
    """

    def __init__(self) -> None:
        """Start with no data."""
        self._start: datetime | None = None
        self._energy_ws = 0.0
        self._covered_s = 0.0
        self._last_at: datetime | None = None
        self._last_w = 0.0

    @property
    def start(self) -> datetime | None:
        """Start of the quarter being integrated."""
        return self._start

    def add(self, moment: datetime, import_w: float) -> list[QuarterResult]:
        """Add a sample; return the quarters it completed (oldest first)."""
        moment = moment.astimezone(UTC)
        completed: list[QuarterResult] = []
        if self._last_at is not None and moment > self._last_at:
            hold_until = min(moment, self._last_at + MAX_HOLD)
            completed.extend(self._integrate(self._last_at, hold_until, self._last_w))
        current = quarter_start(moment)
        if self._start is None:
            self._start = current
        elif current > self._start:
            completed.extend(self._close())
            self._start = current
        self._last_at = max(moment, self._last_at or moment)
        self._last_w = max(import_w, 0.0)
        return completed

    def _integrate(
        self, begin: datetime, end: datetime, power_w: float
    ) -> list[QuarterResult]:
        """Add ``power_w`` from ``begin`` to ``end``, closing quarters passed."""
        completed: list[QuarterResult] = []
        while begin < end:
            start = quarter_start(begin)
            if self._start is None:
                self._start = start
            if start > self._start:
                completed.extend(self._close())
                self._start = start
            piece_end = min(end, start + QUARTER)
            seconds = (piece_end - begin).total_seconds()
            self._energy_ws += power_w * seconds
            self._covered_s += seconds
            begin = piece_end
        return completed

    def _close(self) -> list[QuarterResult]:
        """Finish the current quarter; return it if it had any data."""
        result: list[QuarterResult] = []
        if self._start is not None and self._covered_s > 0:
            result.append(
                QuarterResult(
                    start=self._start,
                    average_w=self._energy_ws / self._covered_s,
                    coverage=min(self._covered_s / QUARTER_S, 1.0),
                )
            )
        self._energy_ws = 0.0
        self._covered_s = 0.0
        return result

    def average_w(self) -> float | None:
        """Average import power so far in this quarter; None without data.

        At the very start of a quarter, before any time has passed, the
        average is the power of the sample that opened it.
        """
        if self._covered_s <= 0:
            if (
                self._last_at is not None
                and quarter_start(self._last_at) == self._start
            ):
                return self._last_w
            return None
        return self._energy_ws / self._covered_s

    def projection_w(self, moment: datetime, import_w: float) -> float | None:
        """Where the quarter ends if ``import_w`` holds until its end."""
        if self._start is None:
            return None
        remaining = max((self._start + QUARTER - moment).total_seconds(), 0.0)
        total = self._covered_s + remaining
        if total <= 0:
            return None
        return (self._energy_ws + max(import_w, 0.0) * remaining) / total


def project_from_meter(average_w: float, moment: datetime, import_w: float) -> float:
    """Project a meter-reported running average (1-0:1.4.0) to the quarter's end.

    The meter's value is the average over the part of the quarter that has
    passed; the rest is assumed to continue at ``import_w``.
    """
    start = quarter_start(moment)
    elapsed = (moment.astimezone(UTC) - start).total_seconds()
    remaining = QUARTER_S - elapsed
    return (average_w * elapsed + max(import_w, 0.0) * remaining) / QUARTER_S


def billing_month(moment: datetime) -> tuple[int, int]:
    """Return the (year, month) of the local billing month that holds ``moment``."""
    local = moment.astimezone(BILLING_ZONE)
    return local.year, local.month


class MonthPeakTracker:
    """The highest completed quarter-hour average of the billing month."""

    def __init__(self) -> None:
        """Start with no peak."""
        self._month: tuple[int, int] | None = None
        self.peak_w: float | None = None
        self.peak_at: datetime | None = None

    def add(self, quarter: QuarterResult) -> None:
        """Account for a completed quarter (its end stamps the peak)."""
        month = billing_month(quarter.start)
        if month != self._month:
            self._month = month
            self.peak_w = None
            self.peak_at = None
        if self.peak_w is None or quarter.average_w > self.peak_w:
            self.peak_w = quarter.average_w
            self.peak_at = quarter.end

    def current(self, moment: datetime) -> tuple[float | None, datetime | None]:
        """Return the peak and its time if ``moment`` is in the same month."""
        if self._month != billing_month(moment):
            return None, None
        return self.peak_w, self.peak_at
