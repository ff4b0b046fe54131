"""The demo's clock: real time, or a simulated day played ``speed`` times faster.

``script/demo --speed N`` makes one :class:`DemoClock` and hands the same one
to both processes of the demo: the household simulator (``demo.py``: devices,
P1 telegrams, the car, prices and PV by simulated time) and Home Assistant,
where the demo's companion integration (``demo/custom_components/
stroomwijs_demo``) installs it as the Stroomwijs household's clock port. Both
compute simulated time from the wall clock with the same anchor, so they agree
on it without talking: ``start + (wall - anchor) * speed``.

The clock travels as JSON, on the simulator's command line and in the
``STROOMWIJS_DEMO_CLOCK`` environment variable of Home Assistant's process.
Only the demo sets it; with speed 1 the demo runs in real time as before and
sets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time as wall_time, timedelta
import json
import math
import os
import time
from typing import Final
from zoneinfo import ZoneInfo

ENV_VAR: Final = "STROOMWIJS_DEMO_CLOCK"
"""Home Assistant's environment: the demo clock as JSON (the demo sets it)."""
MAX_SPEED: Final = 300.0
"""Faster than this, telegrams (at most 5 a wall-clock second) would be more
than a simulated minute apart, and a household counts no more than a minute
between two readings into its quarter-hour's energy."""
LOCAL_ZONE: Final = ZoneInfo("Europe/Amsterdam")


class DemoClockError(ValueError):
    """A demo clock that cannot work (bad speed, bad JSON)."""


@dataclass(frozen=True, slots=True)
class DemoClock:
    """Simulated time: ``start`` at wall-clock ``anchor``, ``speed`` times faster."""

    speed: float
    start: datetime
    """Simulated time at the anchor (aware)."""
    anchor: float
    """The wall-clock time (``time.time()``) the simulation started at."""

    def __post_init__(self) -> None:
        """Reject what cannot run: a non-finite or out-of-range speed, naive time."""
        if not math.isfinite(self.speed) or not 1.0 <= self.speed <= MAX_SPEED:
            msg = f"the demo's speed must be from 1 to {MAX_SPEED:g}, not {self.speed}"
            raise DemoClockError(msg)
        if self.start.tzinfo is None:
            msg = "the demo clock's start needs a time zone"
            raise DemoClockError(msg)
        if not math.isfinite(self.anchor):
            msg = "the demo clock's anchor must be a finite time"
            raise DemoClockError(msg)

    @classmethod
    def starting(
        cls, speed: float, start: wall_time | None = None, *, wall: float | None = None
    ) -> DemoClock:
        """Start now (or at ``wall``): today's local ``start`` (None: the real now)."""
        wall = time.time() if wall is None else wall
        real_now = datetime.fromtimestamp(wall, UTC)
        if start is None:
            sim_start = real_now
        else:
            day = real_now.astimezone(LOCAL_ZONE).date()
            sim_start = datetime.combine(day, start, tzinfo=LOCAL_ZONE).astimezone(UTC)
        return cls(speed=float(speed), start=sim_start, anchor=wall)

    @property
    def accelerated(self) -> bool:
        """Whether simulated time runs faster than real time."""
        return self.speed > 1.0

    def now(self) -> datetime:
        """Return the simulated time now (UTC)."""
        return self.at(time.time())

    def at(self, wall: float) -> datetime:
        """Return the simulated time at wall-clock time ``wall``."""
        return self.start.astimezone(UTC) + timedelta(
            seconds=(wall - self.anchor) * self.speed
        )

    def monotonic(self) -> float:
        """Return simulated seconds since the anchor (for timers in seconds)."""
        return (time.time() - self.anchor) * self.speed

    def sim_seconds(self, real_s: float) -> float:
        """How long ``real_s`` wall-clock seconds are in simulated time."""
        return real_s * self.speed

    def real_seconds(self, sim_s: float) -> float:
        """How long ``sim_s`` simulated seconds take on the wall clock."""
        return sim_s / self.speed

    def to_json(self) -> str:
        """Serialise for the command line or the environment."""
        return json.dumps(
            {
                "speed": self.speed,
                "start": self.start.isoformat(),
                "anchor": self.anchor,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> DemoClock:
        """Parse :meth:`to_json`'s output (DemoClockError when it is not)."""
        try:
            data = json.loads(text)
            return cls(
                speed=float(data["speed"]),
                start=datetime.fromisoformat(str(data["start"])),
                anchor=float(data["anchor"]),
            )
        except (ValueError, KeyError, TypeError, OverflowError) as err:
            msg = f"not a demo clock: {text!r} ({err})"
            raise DemoClockError(msg) from err

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DemoClock | None:
        """Return the clock in ``STROOMWIJS_DEMO_CLOCK``, None when unset."""
        text = (os.environ if environ is None else environ).get(ENV_VAR)
        return None if not text else cls.from_json(text)


def parse_start(text: str) -> wall_time:
    """Parse ``HH:MM`` (local time of today) for ``--start``."""
    try:
        return wall_time.fromisoformat(text)
    except ValueError as err:
        msg = f"--start wants a local time as HH:MM, not {text!r}"
        raise DemoClockError(msg) from err
