"""The planner's time grid: regular slots, of which the first may be partial."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np

from .lp import FloatArray

MAX_SLOTS = 48 * 4
"""The planner looks at most 48 hours of quarter-hours ahead."""


@dataclass(frozen=True, slots=True)
class TimeGrid:
    """Slots from ``start``; slot 0 lasts ``first_slot_minutes``."""

    start: datetime
    count: int
    slot_minutes: int = 15
    first_slot_minutes: float = 15.0
    zone: tzinfo = UTC
    """The household's time zone, for tariffs and explanations."""

    def slot_start(self, index: int) -> datetime:
        """When slot ``index`` begins (``index == count`` gives the end)."""
        if index <= 0:
            return self.start
        return self.start + timedelta(
            minutes=self.first_slot_minutes + (index - 1) * self.slot_minutes
        )

    @property
    def end(self) -> datetime:
        """When the horizon ends."""
        return self.slot_start(self.count)

    @property
    def hours(self) -> FloatArray:
        """Duration of every slot in hours."""
        hours = np.full(self.count, self.slot_minutes / 60.0)
        if self.count:
            hours[0] = self.first_slot_minutes / 60.0
        return hours

    def index_at_or_after(self, moment: datetime) -> int:
        """Return the first slot starting at or after ``moment`` (``count`` if none)."""
        if moment <= self.start:
            return 0
        elapsed = (moment - self.start).total_seconds() / 60.0
        if elapsed <= self.first_slot_minutes:
            return 1 if elapsed > 0 else 0
        rest = elapsed - self.first_slot_minutes
        index = 1 + int(np.ceil(rest / self.slot_minutes - 1e-9))
        return min(index, self.count)

    def index_containing(self, moment: datetime) -> int:
        """Return the slot that contains ``moment`` (clamped into the horizon)."""
        if moment <= self.start:
            return 0
        elapsed = (moment - self.start).total_seconds() / 60.0
        if elapsed < self.first_slot_minutes:
            return 0
        rest = elapsed - self.first_slot_minutes
        return min(1 + int(rest // self.slot_minutes), self.count - 1)

    def label(self, index: int) -> str:
        """Local clock time for explanations, e.g. ``07:00``."""
        return self.local(self.slot_start(index)).strftime("%H:%M")

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the household's time zone."""
        return moment.astimezone(self.zone)

    def starts_iso(self) -> list[str]:
        """Every slot start as ISO 8601 text."""
        return [self.slot_start(i).isoformat() for i in range(self.count)]
