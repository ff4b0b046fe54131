"""§14a EnWG-style dim input: a relay or binary sensor from the grid operator.

While the input is on, either every controllable device is held to at most
4.2 kW (per-device mode), or the whole connection is limited to
``4.2 kW + (n - 1) * f * 4.2 kW`` for ``n`` controllable devices with the
simultaneity factor ``f`` of the German rule (f = 0.75 for three devices,
giving 10.5 kW).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from .base import Limit, require_aware

DIM_POWER_W = 4_200.0
SIMULTANEITY = {1: 1.0, 2: 0.8, 3: 0.75, 4: 0.7, 5: 0.65, 6: 0.6, 7: 0.55, 8: 0.5}
"""Simultaneity factor per number of controllable devices; 0.45 from 9 on."""
SIMULTANEITY_MANY = 0.45


class DimMode(StrEnum):
    """How a dim signal is applied."""

    PER_DEVICE = "per_device"
    CONNECTION = "connection"


def connection_limit_w(devices: int) -> float:
    """Return the connection limit while dimmed, for ``devices`` devices."""
    if devices < 1:
        raise ValueError("a dim input needs at least one controllable device")
    factor = SIMULTANEITY.get(devices, SIMULTANEITY_MANY)
    return DIM_POWER_W + (devices - 1) * factor * DIM_POWER_W


class DimInputSource:
    """Limit source driven by an on/off dim input."""

    def __init__(
        self,
        *,
        devices: int,
        mode: DimMode = DimMode.CONNECTION,
        name: str = "dim14a",
    ) -> None:
        """Configure for ``devices`` controllable devices."""
        connection_limit_w(devices)
        self._devices = devices
        self._mode = mode
        self._name = name
        self._since: datetime | None = None

    @property
    def name(self) -> str:
        """Label of the source."""
        return self._name

    @property
    def mode(self) -> DimMode:
        """Per-device cap or connection limit."""
        return self._mode

    @property
    def active(self) -> bool:
        """Whether the dim input is on."""
        return self._since is not None

    @property
    def device_cap_w(self) -> float | None:
        """The cap for each controllable device now (per-device mode only)."""
        if self._since is not None and self._mode is DimMode.PER_DEVICE:
            return DIM_POWER_W
        return None

    def set_input(self, *, on: bool, now: datetime) -> None:
        """Follow the relay or binary sensor."""
        require_aware(now, "now")
        if on and self._since is None:
            self._since = now
        elif not on:
            self._since = None

    def limits_between(self, start: datetime, end: datetime) -> list[Limit]:
        """Return the connection limit while dimmed (connection mode)."""
        if self._since is None or self._mode is not DimMode.CONNECTION:
            return []
        limit = Limit(
            source=self._name,
            import_w=connection_limit_w(self._devices),
            start=self._since,
            detail=f"{self._devices} controllable devices",
        )
        return [limit] if limit.overlaps(start, end) else []

    def problem(self, now: datetime) -> str | None:  # noqa: ARG002
        """Report no problem: a dim input never needs a repair."""
        return None
