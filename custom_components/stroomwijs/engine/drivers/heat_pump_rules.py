"""Blocking rules for heat pumps (SG-Ready's, and the same rules over Modbus).

SG-Ready (the German BWP label) lets a utility or energy manager block a heat
pump, but only so often that the compressor and the house take no harm:

* at most 3 blocks a (local) day,
* at most 2 hours blocked a day in all,
* a minimum time between two mode changes (10 minutes by default).

:class:`BlockingLedger` keeps count, answers whether a block is allowed now
and how long it may last, and exports its state as plain JSON so that the
counts survive a restart (a restart must not hand out three fresh blocks).
A block that runs into midnight counts on the day it started; its minutes
count on the day they fall on. :meth:`BlockingLedger.budget` is what the
planner needs to know in advance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo

STATE_VERSION = 1
_KEEP_DAYS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockingRules:
    """The limits on blocking one heat pump."""

    max_blocks_per_day: int = 3
    max_blocked_per_day: timedelta = timedelta(hours=2)
    min_between_changes: timedelta = timedelta(minutes=10)
    timezone: str = "Europe/Amsterdam"
    """Where "a day" starts and ends."""

    def __post_init__(self) -> None:
        """Reject limits that make no sense."""
        if not 0 <= self.max_blocks_per_day <= 24:  # noqa: PLR2004
            raise ValueError("max_blocks_per_day must be within 0..24")
        if not timedelta(0) <= self.max_blocked_per_day <= timedelta(hours=24):
            raise ValueError("max_blocked_per_day must be within 0..24 h")
        if not timedelta(0) <= self.min_between_changes <= timedelta(hours=6):
            raise ValueError("min_between_changes must be within 0..6 h")
        ZoneInfo(self.timezone)  # raises for an unknown zone


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockingBudget:
    """What is left today: the planner's view of the rules."""

    blocks_left_today: int
    blocked_minutes_left_today: float
    next_change_allowed: datetime
    day_ends: datetime
    blocked_now: bool
    max_blocks_per_day: int
    max_blocked_minutes_per_day: float
    min_minutes_between_changes: float

    def to_dict(self) -> dict[str, Any]:
        """Return the budget as JSON-ready data."""
        return {
            "blocks_left_today": self.blocks_left_today,
            "blocked_minutes_left_today": round(self.blocked_minutes_left_today, 1),
            "next_change_allowed": self.next_change_allowed.isoformat(),
            "day_ends": self.day_ends.isoformat(),
            "blocked_now": self.blocked_now,
            "max_blocks_per_day": self.max_blocks_per_day,
            "max_blocked_minutes_per_day": self.max_blocked_minutes_per_day,
            "min_minutes_between_changes": self.min_minutes_between_changes,
        }


class BlockingLedger:
    """Counts blocks and blocked time per local day; survives restarts."""

    def __init__(self, rules: BlockingRules | None = None) -> None:
        """Start with no history (use :meth:`restore` after a restart)."""
        self.rules = rules or BlockingRules()
        self._zone = ZoneInfo(self.rules.timezone)
        self._blocks: dict[date, int] = {}
        self._blocked_s: dict[date, float] = {}
        self._block_start: datetime | None = None
        self._last_change: datetime | None = None

    # ------------------------------------------------------------- queries
    @property
    def blocking(self) -> bool:
        """Whether a block is in force."""
        return self._block_start is not None

    @property
    def last_change(self) -> datetime | None:
        """When the mode last changed."""
        return self._last_change

    def _day(self, when: datetime) -> date:
        return when.astimezone(self._zone).date()

    def _day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self._zone)

    def _day_end(self, when: datetime) -> datetime:
        return self._day_start(self._day(when) + timedelta(days=1))

    def blocks_today(self, now: datetime) -> int:
        """Blocks started on ``now``'s day."""
        return self._blocks.get(self._day(now), 0)

    def blocked_today(self, now: datetime) -> timedelta:
        """Time blocked on ``now``'s day, the running block included."""
        day = self._day(now)
        seconds = self._blocked_s.get(day, 0.0)
        if self._block_start is not None:
            since = max(self._block_start, self._day_start(day))
            seconds += max((now - since).total_seconds(), 0.0)
        return timedelta(seconds=seconds)

    def next_change_allowed(self, now: datetime) -> datetime:
        """Earliest time of the next mode change."""
        if self._last_change is None:
            return now
        return max(now, self._last_change + self.rules.min_between_changes)

    def can_change(self, now: datetime) -> bool:
        """Whether the minimum time since the last mode change has passed."""
        return self.next_change_allowed(now) <= now

    def block_refused(self, now: datetime) -> str | None:
        """Why a new block is not allowed now; None when it is."""
        rules = self.rules
        if self.blocking:
            return None
        if self.blocks_today(now) >= rules.max_blocks_per_day:
            return f"already {rules.max_blocks_per_day} blocks today"
        if self.blocked_today(now) >= rules.max_blocked_per_day:
            hours = rules.max_blocked_per_day.total_seconds() / 3600
            return f"already blocked {hours:g} h today"
        if self.remaining_block_time(now) < rules.min_between_changes:
            # A block must last the minimum time between changes before it
            # can be lifted; it would overrun the day's blocking time.
            minutes = self.remaining_block_time(now).total_seconds() / 60
            return f"only {minutes:.0f} min of blocking left today"
        if not self.can_change(now):
            return (
                "the mode changed less than "
                f"{rules.min_between_changes.total_seconds() / 60:g} min ago"
            )
        return None

    def remaining_block_time(self, now: datetime) -> timedelta:
        """How much longer blocking may go on today."""
        left = self.rules.max_blocked_per_day - self.blocked_today(now)
        return max(left, timedelta(0))

    def budget(self, now: datetime) -> BlockingBudget:
        """Return the rules' state for the planner."""
        rules = self.rules
        return BlockingBudget(
            blocks_left_today=max(rules.max_blocks_per_day - self.blocks_today(now), 0),
            blocked_minutes_left_today=self.remaining_block_time(now).total_seconds()
            / 60.0,
            next_change_allowed=self.next_change_allowed(now),
            day_ends=self._day_end(now),
            blocked_now=self.blocking,
            max_blocks_per_day=rules.max_blocks_per_day,
            max_blocked_minutes_per_day=rules.max_blocked_per_day.total_seconds()
            / 60.0,
            min_minutes_between_changes=rules.min_between_changes.total_seconds()
            / 60.0,
        )

    # ------------------------------------------------------------- changes
    def record_change(self, now: datetime, *, blocked: bool) -> None:
        """Record a mode change that took place at ``now``."""
        if blocked and self._block_start is None:
            day = self._day(now)
            self._blocks[day] = self._blocks.get(day, 0) + 1
            self._block_start = now
        elif not blocked and self._block_start is not None:
            self._close_block(now)
        self._last_change = now
        self._prune(now)

    def _close_block(self, now: datetime) -> None:
        start = self._block_start
        if start is None:
            return
        cursor = start
        while cursor < now:
            day = self._day(cursor)
            end = min(now, self._day_start(day + timedelta(days=1)))
            self._blocked_s[day] = (
                self._blocked_s.get(day, 0.0) + (end - cursor).total_seconds()
            )
            cursor = end
        self._block_start = None

    def _prune(self, now: datetime) -> None:
        oldest = self._day(now) - timedelta(days=_KEEP_DAYS)
        for table in (self._blocks, self._blocked_s):
            for day in [d for d in table if d < oldest]:
                del table[day]

    # ----------------------------------------------------------- persistence
    def export_state(self) -> dict[str, Any]:
        """Return the ledger as JSON-safe data."""
        return {
            "version": STATE_VERSION,
            "blocks": {d.isoformat(): n for d, n in sorted(self._blocks.items())},
            "blocked_s": {
                d.isoformat(): round(s, 3) for d, s in sorted(self._blocked_s.items())
            },
            "block_start": None
            if self._block_start is None
            else self._block_start.isoformat(),
            "last_change": None
            if self._last_change is None
            else self._last_change.isoformat(),
        }

    def restore_state(self, data: object) -> None:
        """Load what :meth:`export_state` wrote; reject anything malformed.

        On bad data the ledger assumes the worst case (today's blocks used
        up is not knowable, so it raises and the caller keeps a fresh ledger
        that at least enforces the minimum time between changes).
        """
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError("not a blocking ledger state of version 1")
        blocks = _day_table(data.get("blocks"), "blocks", integer=True)
        blocked = _day_table(data.get("blocked_s"), "blocked_s", integer=False)
        start = _optional_time(data.get("block_start"), "block_start")
        last = _optional_time(data.get("last_change"), "last_change")
        self._blocks = {d: int(n) for d, n in blocks.items()}
        self._blocked_s = blocked
        self._block_start = start
        self._last_change = last


def _day_table(raw: object, name: str, *, integer: bool) -> dict[date, float]:
    if not isinstance(raw, dict):
        msg = f"{name} must be an object of ISO dates"
        raise ValueError(msg)  # noqa: TRY004 - a ValueError for all bad data
    table: dict[date, float] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            msg = f"{name}: keys must be dates"
            raise ValueError(msg)  # noqa: TRY004
        day = date.fromisoformat(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{name}[{key}] must be a number"
            raise ValueError(msg)  # noqa: TRY004
        number = float(value)
        if not math.isfinite(number) or number < 0 or number > 86_400:  # noqa: PLR2004
            msg = f"{name}[{key}] is out of range"
            raise ValueError(msg)
        if integer and number != int(number):
            msg = f"{name}[{key}] must be whole"
            raise ValueError(msg)
        table[day] = number
    return table


def _optional_time(raw: object, name: str) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        msg = f"{name} must be an ISO time or null"
        raise ValueError(msg)  # noqa: TRY004
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        msg = f"{name} must carry a time zone"
        raise ValueError(msg)
    return value
