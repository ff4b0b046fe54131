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

A gap in the readings (a restart, a lost line) is filled from the meter's own
import energy register (1-0:1.8.x) where both sides of the gap carry it: the
energy the register counted is spread evenly over the gap. Without registers
a gap is missing data, not zero import.

Both trackers export their state as JSON-safe dictionaries and restore it
with validation (``export_state`` / ``restore_state``); corrupt or hostile
stored state is refused with a reason (``StateError``), never half-applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

QUARTER = timedelta(minutes=15)
QUARTER_S = QUARTER.total_seconds()
MAX_HOLD = timedelta(seconds=30)
"""A sample stands for at most this long; longer gaps count as missing data."""
BILLING_ZONE = ZoneInfo("Europe/Brussels")
"""Local time of the billing month (the same as Amsterdam's)."""
MAX_REGISTER_GAP = timedelta(hours=2)
"""Energy registers fill gaps up to this long (longer: missing data)."""
MAX_AVERAGE_W = 2.0 * 3 * 400 * 230
"""No quarter-hour average can exceed the largest connection's plausible bound."""
HISTORY_MONTHS = 13
"""Completed months of peaks kept, as the Belgian 0-0:98.1.0 register does."""


class StateError(ValueError):
    """Stored state that cannot be restored; the message says why."""


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        msg = f"{what} is not a time"
        raise StateError(msg)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = f"{what} is not an ISO 8601 time: {value[:40]!r}"
        raise StateError(msg) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"{what} has no time zone"
        raise StateError(msg)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        msg = f"{what} is out of range"
        raise StateError(msg) from None


def _number(value: object, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{what} is not a number"
        raise StateError(msg)
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        msg = f"{what} of {number} is outside {low:g}..{high:g}"
        raise StateError(msg)
    return number


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{what} is not a mapping"
        raise StateError(msg)
    return value


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
        self._last_kwh: float | None = None

    @property
    def start(self) -> datetime | None:
        """Start of the quarter being integrated."""
        return self._start

    @property
    def covered_s(self) -> float:
        """Seconds of the current quarter covered by data."""
        return self._covered_s

    def add(
        self, moment: datetime, import_w: float, import_kwh: float | None = None
    ) -> list[QuarterResult]:
        """Add a sample; return the quarters it completed (oldest first).

        ``import_kwh`` is the meter's total import register at ``moment``: a
        gap since the previous sample is filled from what it counted.
        """
        moment = moment.astimezone(UTC)
        completed: list[QuarterResult] = []
        if self._last_at is not None and moment > self._last_at:
            gap_w = self._register_power(moment, import_kwh)
            if gap_w is not None:
                completed.extend(self._integrate(self._last_at, moment, gap_w))
            else:
                hold_until = min(moment, self._last_at + MAX_HOLD)
                completed.extend(
                    self._integrate(self._last_at, hold_until, self._last_w)
                )
        current = quarter_start(moment)
        if self._start is None:
            self._start = current
        elif current > self._start:
            completed.extend(self._close())
            self._start = current
        self._last_at = max(moment, self._last_at or moment)
        self._last_w = max(import_w, 0.0)
        if import_kwh is not None and math.isfinite(import_kwh):
            self._last_kwh = import_kwh
        return completed

    def _register_power(
        self, moment: datetime, import_kwh: float | None
    ) -> float | None:
        """Average import over a gap from the energy register, if it can tell."""
        if (
            self._last_at is None
            or self._last_kwh is None
            or import_kwh is None
            or not math.isfinite(import_kwh)
        ):
            return None
        gap = moment - self._last_at
        if gap <= MAX_HOLD or gap > MAX_REGISTER_GAP:
            return None
        counted = import_kwh - self._last_kwh
        power = counted * 3_600_000.0 / gap.total_seconds()
        if counted < 0 or power > MAX_AVERAGE_W:
            return None  # a register reset or a different meter: do not guess
        return power

    def export_state(self) -> dict[str, Any]:
        """Return the quarter in progress as JSON-safe data."""
        return {
            "start": None if self._start is None else self._start.isoformat(),
            "energy_ws": self._energy_ws,
            "covered_s": self._covered_s,
            "last_at": None if self._last_at is None else self._last_at.isoformat(),
            "last_w": self._last_w,
            "last_kwh": self._last_kwh,
        }

    def restore_state(self, data: object, now: datetime) -> None:
        """Take over an exported quarter; raise StateError if it is not sound.

        The quarter must have started no later than ``now`` and its last
        sample may not lie in the future; a quarter that has ended since is
        restored too, and closes with the next sample (it still counts for
        the month's peak).
        """
        state = _mapping(data, "the quarter")
        if state.get("start") is None:
            msg = "the quarter has no start"
            raise StateError(msg)
        start = _aware(state["start"], "the quarter's start")
        last_at = _aware(state.get("last_at"), "the last sample")
        if start != quarter_start(start):
            msg = "the quarter's start is not on a quarter-hour"
            raise StateError(msg)
        if not start <= last_at < start + QUARTER:
            msg = "the last sample lies outside its quarter"
            raise StateError(msg)
        if last_at > now.astimezone(UTC):
            msg = "the last sample lies in the future"
            raise StateError(msg)
        covered = _number(state.get("covered_s"), "covered_s", 0.0, QUARTER_S)
        energy = _number(
            state.get("energy_ws"), "energy_ws", 0.0, MAX_AVERAGE_W * QUARTER_S
        )
        last_w = _number(state.get("last_w"), "last_w", 0.0, MAX_AVERAGE_W)
        raw_kwh = state.get("last_kwh")
        last_kwh = None if raw_kwh is None else _number(raw_kwh, "last_kwh", 0.0, 1e12)
        if covered > 0 and energy / covered > MAX_AVERAGE_W:
            msg = "the stored average is implausible"
            raise StateError(msg)
        self._start = start
        self._energy_ws = energy
        self._covered_s = covered
        self._last_at = last_at
        self._last_w = last_w
        self._last_kwh = last_kwh

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


@dataclass(frozen=True, slots=True)
class MonthPeak:
    """The peak of one completed billing month."""

    month: tuple[int, int]
    power_w: float
    at: datetime


class MonthPeakTracker:
    """The highest completed quarter-hour average of the billing month.

    It also keeps the peaks of the last ``HISTORY_MONTHS`` completed months,
    for meters that do not send their own history (0-0:98.1.0).
    """

    def __init__(self) -> None:
        """Start with no peak."""
        self._month: tuple[int, int] | None = None
        self.peak_w: float | None = None
        self.peak_at: datetime | None = None
        self.history: list[MonthPeak] = []

    def add(self, quarter: QuarterResult) -> None:
        """Account for a completed quarter (its end stamps the peak)."""
        month = billing_month(quarter.start)
        if self._month is not None and month < self._month:
            return  # a quarter from before the month in progress: too late
        if month != self._month:
            if (
                self._month is not None
                and self.peak_w is not None
                and self.peak_at is not None
            ):
                self.history.append(MonthPeak(self._month, self.peak_w, self.peak_at))
                del self.history[:-HISTORY_MONTHS]
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

    def export_state(self) -> dict[str, Any]:
        """Return the month's peak and the history as JSON-safe data."""
        return {
            "month": None if self._month is None else list(self._month),
            "peak_w": self.peak_w,
            "peak_at": None if self.peak_at is None else self.peak_at.isoformat(),
            "history": [
                {
                    "month": list(record.month),
                    "power_w": record.power_w,
                    "at": record.at.isoformat(),
                }
                for record in self.history
            ],
        }

    def restore_state(self, data: object, now: datetime) -> None:
        """Take over an exported peak; raise StateError if it is not sound.

        A peak of a month other than the one holding ``now`` moves to the
        history; history entries must be distinct months before the peak's.
        """
        state = _mapping(data, "the peak")
        month = _month(state.get("month"), "the peak's month")
        if month is not None and month > billing_month(now):
            msg = "the peak's month lies in the future"
            raise StateError(msg)
        peak_w: float | None = None
        peak_at: datetime | None = None
        if state.get("peak_w") is not None:
            peak_w = _number(state["peak_w"], "the peak", 0.0, MAX_AVERAGE_W)
            peak_at = _aware(state.get("peak_at"), "the peak's time")
            if month is None or billing_month(peak_at - QUARTER) != month:
                msg = "the peak's time is not in its month"
                raise StateError(msg)
        raw_history = state.get("history", [])
        if not isinstance(raw_history, list) or len(raw_history) > 2 * HISTORY_MONTHS:
            msg = "the peak history is not a short list"
            raise StateError(msg)
        history: list[MonthPeak] = []
        for index, raw in enumerate(raw_history):
            entry = _mapping(raw, f"history entry {index}")
            entry_month = _month(entry.get("month"), f"history entry {index}")
            if entry_month is None:
                msg = f"history entry {index} has no month"
                raise StateError(msg)
            if (history and entry_month <= history[-1].month) or (
                month is not None and entry_month >= month
            ):
                msg = "the peak history is not in order"
                raise StateError(msg)
            history.append(
                MonthPeak(
                    entry_month,
                    _number(entry.get("power_w"), "a history peak", 0, MAX_AVERAGE_W),
                    _aware(entry.get("at"), "a history peak's time"),
                )
            )
        self._month = month
        self.peak_w = peak_w
        self.peak_at = peak_at
        self.history = history[-HISTORY_MONTHS:]
        current = billing_month(now)
        if month is not None and month != current:
            # The month ended while we were down: its peak is history now.
            if peak_w is not None and peak_at is not None:
                self.history.append(MonthPeak(month, peak_w, peak_at))
                del self.history[:-HISTORY_MONTHS]
            self._month = current
            self.peak_w = None
            self.peak_at = None


def _month(value: object, what: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2  # noqa: PLR2004
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 2000 <= value[0] <= 2200  # noqa: PLR2004
        or not 1 <= value[1] <= 12  # noqa: PLR2004
    ):
        msg = f"{what} is not [year, month]"
        raise StateError(msg)
    return value[0], value[1]
