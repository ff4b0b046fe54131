"""Shared helpers for the heat pump, boiler and appliance driver tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SimClock:
    """A clock the test moves by hand (aware UTC)."""

    def __init__(self, start: datetime | None = None) -> None:
        """Start at ``start`` (default: a Wednesday in winter, 06:00 UTC)."""
        self.now = start or datetime(2026, 1, 14, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        """Return the current time."""
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward."""
        self.now += delta
