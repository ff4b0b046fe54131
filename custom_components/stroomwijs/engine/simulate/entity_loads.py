"""Entity-backed simulators as loads of a :class:`SimHousehold`.

The household sums the power of its ``SimDevice`` loads on every reading.
:class:`EntityLoad` puts a simulator that lives behind an in-memory entity
host (SG-Ready relays, a boiler on a plug, a washer on a plug) into that
sum: each reading first brings the simulator up to the household's clock
and publishes its entities, so drivers and guard see the same instant.
"""

from __future__ import annotations

from collections.abc import Callable

from .household import Clock, SimDevice


class EntityLoad(SimDevice):
    """A simulator's physical power as a household load."""

    def __init__(
        self,
        device_id: str,
        name: str,
        power: Callable[[], float],
        publish: Callable[[], None],
        *,
        clock: Clock,
        phases: tuple[int, ...] = (0,),
    ) -> None:
        """Sum ``power()`` after ``publish()`` on every reading."""
        super().__init__(device_id, name, clock=clock, phases=phases)
        self._read_power = power
        self._publish = publish

    def load_w(self) -> float:
        """Power at the household's time."""
        self._publish()
        return self._read_power()
