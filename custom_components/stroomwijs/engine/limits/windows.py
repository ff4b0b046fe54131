"""Static time windows: fixed-window congestion contracts and GAC-style rules.

A window such as "16:00-21:00 on weekdays in winter at 4 kW" is written in the
household's local time and turned into UTC per local date, so it keeps its
wall-clock meaning over daylight-saving changes. A window whose end is not
after its start runs past midnight into the next day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
import math
from zoneinfo import ZoneInfo

from .base import Limit, require_aware

ALL_DAYS = frozenset(range(7))
"""Monday (0) to Sunday (6), as ``date.weekday()`` counts."""
WORKDAYS = frozenset(range(5))
WINTER = frozenset({1, 2, 3, 10, 11, 12})
SUMMER = frozenset({4, 5, 6, 7, 8, 9})
ALL_MONTHS = frozenset(range(1, 13))


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeWindow:
    """A recurring local-time window with its import and export limit."""

    start: time
    end: time
    import_w: float | None = None
    export_w: float | None = None
    weekdays: frozenset[int] = ALL_DAYS
    months: frozenset[int] = ALL_MONTHS
    """The season: the months (1-12) of the day on which the window starts."""
    label: str = "window"

    def __post_init__(self) -> None:
        """Reject windows that can never apply or limit nothing."""
        if self.import_w is None and self.export_w is None:
            raise ValueError("a time window must limit import, export or both")
        if self.start == self.end:
            raise ValueError("a time window needs a start different from its end")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are local wall-clock times, without zone")
        if not self.weekdays or not self.weekdays <= ALL_DAYS:
            raise ValueError("weekdays must be a non-empty subset of 0 (Mon)..6 (Sun)")
        if not self.months or not self.months <= ALL_MONTHS:
            raise ValueError("months must be a non-empty subset of 1..12")
        for value in (self.import_w, self.export_w):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError("window limits must be finite, non-negative numbers")

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        import_w: float | None = None,
        export_w: float | None = None,
        weekdays: Iterable[int] = ALL_DAYS,
        months: Iterable[int] = ALL_MONTHS,
        label: str = "window",
    ) -> TimeWindow:
        """Build a window from ``HH:MM-HH:MM`` text."""
        start_text, sep, end_text = text.strip().partition("-")
        if not sep:
            msg = f"expected HH:MM-HH:MM, got {text!r}"
            raise ValueError(msg)
        try:
            start = time.fromisoformat(start_text.strip())
            end = time.fromisoformat(end_text.strip())
        except ValueError:
            msg = f"expected HH:MM-HH:MM, got {text!r}"
            raise ValueError(msg) from None
        return cls(
            start=start,
            end=end,
            import_w=import_w,
            export_w=export_w,
            weekdays=frozenset(weekdays),
            months=frozenset(months),
            label=label,
        )

    def applies_on(self, day: date) -> bool:
        """Whether the window starts on the local date ``day``."""
        return day.weekday() in self.weekdays and day.month in self.months

    def occurrence(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Return the window starting on local date ``day``, in UTC.

        A wall-clock time skipped by the spring-forward change maps to the
        instant one hour later; an ambiguous autumn time takes its first
        occurrence (``fold=0``).
        """
        start = datetime.combine(day, self.start, tzinfo=tz)
        end_day = day if self.end > self.start else day + timedelta(days=1)
        end = datetime.combine(end_day, self.end, tzinfo=tz)
        # Return UTC: arithmetic between datetimes sharing one ZoneInfo is
        # wall-clock arithmetic in Python and would be wrong across DST.
        return start.astimezone(UTC), end.astimezone(UTC)


class StaticWindowSource:
    """Limit source built from a list of :class:`TimeWindow`."""

    def __init__(
        self,
        windows: Sequence[TimeWindow],
        *,
        time_zone: str | ZoneInfo = "Europe/Amsterdam",
        name: str = "window",
    ) -> None:
        """Use ``windows`` in the household's time zone."""
        self._windows = tuple(windows)
        self._tz = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
        self._name = name

    @property
    def name(self) -> str:
        """Label of the source."""
        return self._name

    @property
    def windows(self) -> tuple[TimeWindow, ...]:
        """The configured windows."""
        return self._windows

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Every window occurrence overlapping ``[start, end)``."""
        require_aware(start, "start")
        require_aware(end, "end")
        first = start.astimezone(self._tz).date() - timedelta(days=1)
        last = end.astimezone(self._tz).date()
        found: list[Limit] = []
        day = first
        while day <= last:
            for window in self._windows:
                if not window.applies_on(day):
                    continue
                begin, finish = window.occurrence(day, self._tz)
                if finish <= begin:
                    continue
                limit = Limit(
                    source=f"{self._name}:{window.label}",
                    import_w=window.import_w,
                    export_w=window.export_w,
                    start=begin,
                    end=finish,
                    detail=(f"{window.start:%H:%M}-{window.end:%H:%M} {self._tz.key}"),
                )
                if limit.overlaps(start, end):
                    found.append(limit)
            day += timedelta(days=1)
        return found

    def problem(self, now: datetime) -> str | None:  # noqa: ARG002
        """Report no problem: static windows never need a repair."""
        return None
