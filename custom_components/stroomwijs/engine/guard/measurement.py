"""What the guard reads: one grid measurement per telegram, from a meter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class GridMeasurement(Protocol):
    """One reading of the grid connection (the P1 meter's ``MeterReading``).

    Powers are in W; ``net_power_w`` is import minus export. Phase currents
    are magnitudes in A per phase (None where the meter does not report
    one). The quarter values are the running quarter-hour average and its
    projection to the end of the quarter, where the meter provides them.
    """

    @property
    def timestamp(self) -> datetime:
        """When the meter took the reading (aware, UTC)."""
        ...

    @property
    def import_w(self) -> float:
        """Power drawn from the grid."""
        ...

    @property
    def export_w(self) -> float:
        """Power fed into the grid."""
        ...

    @property
    def net_power_w(self) -> float:
        """Import minus export."""
        ...

    @property
    def phase_currents_a(self) -> tuple[float | None, ...]:
        """Current per phase."""
        ...

    @property
    def quarter_average_w(self) -> float | None:
        """Average import over the quarter-hour so far."""
        ...

    @property
    def quarter_projection_w(self) -> float | None:
        """Projected average at the end of the quarter-hour."""
        ...


type ReadingCallback = Callable[[GridMeasurement], object]


class Meter(Protocol):
    """A source of readings: calls back with each new one."""

    def subscribe(self, callback: ReadingCallback) -> Callable[[], None]:
        """Call ``callback(reading)`` for every reading; returns unsubscribe."""
        ...
