"""A limit set by hand: the HA service, the number entity or the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta

from .base import Limit, require_aware

MAX_MANUAL_DURATION = timedelta(days=7)


class ManualLimitSource:
    """Holds at most one manual limit with a value, a duration and a label."""

    def __init__(self, *, name: str = "manual") -> None:
        """Start without a limit."""
        self._name = name
        self._limit: Limit | None = None

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
        label = label.strip() or "user"
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

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Return the manual limit if it overlaps the range."""
        if self._limit is not None and self._limit.overlaps(start, end):
            return [self._limit]
        return []

    def problem(self, now: datetime) -> str | None:  # noqa: ARG002
        """Report no problem: a manual limit never needs a repair."""
        return None
