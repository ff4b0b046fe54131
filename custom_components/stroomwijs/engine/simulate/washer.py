"""A simulated washing machine, on a metered smart plug or with remote start.

The programme is a 40 degC cotton wash with a realistic power signature:
water intake, 15 minutes of heating at about 2 kW, washing with the drum
turning (100-200 W with short pauses of a few watts), rinses, and spins at
400-600 W, then 1-2 W of standby. A small seeded jitter makes each cycle a
little different, as real ones are. The machine keeps its programme while
unpowered and carries on where it was when power returns (as most machines
do after a power cut).

Fronts:

* :class:`PlugWasherSim`: ``switch.washer_plug`` and ``sensor.washer_power``;
  :meth:`WashingMachineSim.press_start` is the user pressing start.
* :class:`RemoteStartWasherSim`: the Home Connect shape: a remote-start
  ``binary_sensor``, an operation-state ``sensor`` and a start ``button``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
import random

from .entities import InMemoryEntityPort
from .thermal import Clock

# (seconds, watts) segments of the 40 degC cotton programme.
COTTON_40: tuple[tuple[int, float], ...] = (
    (120, 9.0),  # water intake, valve and electronics
    (900, 2050.0),  # heating
    (420, 180.0),  # washing
    (45, 4.0),  # pause
    (480, 150.0),
    (45, 4.0),
    (360, 170.0),
    (240, 110.0),  # draining
    (300, 130.0),  # rinse 1
    (240, 480.0),  # spin
    (45, 4.0),
    (300, 130.0),  # rinse 2
    (240, 520.0),  # spin
    (45, 4.0),
    (300, 140.0),  # rinse 3
    (600, 590.0),  # final spin
    (120, 60.0),  # anti-crease tumbling
)
STANDBY_W = 1.5


class WashingMachineSim:
    """The machine: programme state, power signature, power supply."""

    def __init__(self, *, clock: Clock, seed: int = 3, jitter: float = 0.08) -> None:
        """Create an idle machine."""
        self.clock = clock
        self._rng = random.Random(seed)  # noqa: S311 - simulation jitter
        self.jitter = jitter
        self.powered = True
        self.programme: list[tuple[float, float]] = []
        self.elapsed_s = 0.0
        self.state = "idle"  # idle, armed, running, finished
        self.cycles_done = 0
        self.energy_kwh = 0.0
        self._last = clock()

    def _draw_programme(self) -> list[tuple[float, float]]:
        out = []
        for seconds, watts in COTTON_40:
            factor = 1.0 + self._rng.uniform(-self.jitter, self.jitter)
            out.append((seconds * factor, watts * factor))
        return out

    @property
    def duration_s(self) -> float:
        """Length of the current programme."""
        return sum(s for s, _ in self.programme)

    def press_start(self) -> None:
        """Load the machine and press start, as the user does."""
        self.advance()
        self.programme = self._draw_programme()
        self.elapsed_s = 0.0
        self.state = "running" if self.powered else "armed"

    def set_powered(self, *, powered: bool) -> None:
        """Switch the supply (the plug)."""
        self.advance()
        self.powered = powered
        if powered and self.state == "armed":
            self.state = "running"

    def _segment_power(self) -> float:
        t = self.elapsed_s
        for seconds, watts in self.programme:
            if t < seconds:
                return watts
            t -= seconds
        return STANDBY_W

    @property
    def power_w(self) -> float:
        """Power drawn now."""
        if not self.powered:
            return 0.0
        if self.state == "running":
            return self._segment_power()
        return STANDBY_W

    def advance(self, now: datetime | None = None) -> None:
        """Run the programme up to ``now``."""
        now = self.clock() if now is None else now
        while self._last < now:
            step = min(now - self._last, timedelta(seconds=5))
            seconds = step.total_seconds()
            self.energy_kwh += self.power_w * seconds / 3_600_000.0
            if self.state == "running" and self.powered:
                self.elapsed_s += seconds
                if self.elapsed_s >= self.duration_s:
                    self.state = "finished"
                    self.cycles_done += 1
            self._last += step


class PlugWasherSim:
    """The machine behind a metered smart plug."""

    def __init__(
        self,
        port: InMemoryEntityPort,
        machine: WashingMachineSim,
        *,
        plug: str = "switch.washer_plug",
        power_sensor: str = "sensor.washer_power",
    ) -> None:
        """Register the plug with ``port``."""
        self.port = port
        self.machine = machine
        self.plug = plug
        self.power_sensor = power_sensor
        port.handle(plug, self._call)
        self.publish()

    def _call(self, service: str, data: Mapping[str, object]) -> None:
        del data
        if service not in {"turn_on", "turn_off"}:
            msg = f"plug does not offer {service}"
            raise ValueError(msg)
        self.machine.set_powered(powered=service == "turn_on")
        self.publish()

    def publish(self) -> None:
        """Advance the machine and publish the plug's entities."""
        self.machine.advance()
        self.port.set_state(self.plug, "on" if self.machine.powered else "off")
        self.port.set_state(
            self.power_sensor,
            round(self.machine.power_w, 1),
            {"unit_of_measurement": "W", "device_class": "power"},
        )


class RemoteStartWasherSim:
    """The machine as a Home Connect-like integration shows it."""

    def __init__(
        self,
        port: InMemoryEntityPort,
        machine: WashingMachineSim,
        *,
        remote_start: str = "binary_sensor.washer_remote_start",
        operation: str = "sensor.washer_operation_state",
        start_button: str = "button.washer_start",
        power_sensor: str = "sensor.washer_power",
    ) -> None:
        """Publish the entities; the machine waits for a remote start."""
        self.port = port
        self.machine = machine
        self.remote_start = remote_start
        self.operation = operation
        self.start_button = start_button
        self.power_sensor = power_sensor
        self.remote_start_enabled = False
        port.handle(start_button, self._press)
        self.publish()

    def prepare(self) -> None:
        """Load, pick the programme and enable remote start, as the user does."""
        self.machine.advance()
        self.machine.powered = False  # waits, as if for the start command
        self.machine.press_start()
        self.remote_start_enabled = True
        self.publish()

    def _press(self, service: str, data: Mapping[str, object]) -> None:
        del data
        if service != "press":
            msg = f"button does not offer {service}"
            raise ValueError(msg)
        if not self.remote_start_enabled:
            raise ValueError("remote start is not enabled")
        self.remote_start_enabled = False
        self.machine.set_powered(powered=True)
        self.publish()

    def publish(self) -> None:
        """Advance the machine and publish its entities."""
        self.machine.advance()
        self.port.set_state(
            self.remote_start, "on" if self.remote_start_enabled else "off"
        )
        state = {
            "idle": "inactive",
            "armed": "ready",
            "running": "run",
            "finished": "finished",
        }[self.machine.state]
        self.port.set_state(self.operation, state)
        self.port.set_state(
            self.power_sensor,
            round(self.machine.power_w, 1),
            {"unit_of_measurement": "W", "device_class": "power"},
        )
