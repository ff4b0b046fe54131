"""The household's grid connection: phases, main fuse and nominal voltage."""

from __future__ import annotations

from dataclasses import dataclass

NOMINAL_VOLTAGE_V = 230.0
"""Nominal phase-to-neutral voltage in the Netherlands and Belgium."""

FUSE_RANGE_A = (1.0, 400.0)
"""Main fuse ratings a household connection can have."""
VOLTAGE_RANGE_V = (100.0, 260.0)
"""Plausible nominal phase voltages."""
MULTIPLICATION_SIGN = "\u00d7"
PLAUSIBLE_FACTOR = 2.0
"""Readings beyond this multiple of the connection's capacity are implausible.

A main fuse carries twice its rating for seconds at most before it blows, so
no real reading stays beyond it: a larger value (a valid CRC around
+99,999 kW) is a fault of the meter or the line, never a load to act on.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class GridConnection:
    """The physical limits of a household's connection to the grid.

    ``phases`` is 1 or 3 and ``fuse_a`` is the main fuse rating per phase,
    so a Dutch "3x25 A" connection is ``GridConnection(phases=3, fuse_a=25)``.
    """

    phases: int = 3
    fuse_a: float = 25.0
    voltage_v: float = NOMINAL_VOLTAGE_V

    def __post_init__(self) -> None:
        """Reject connections that cannot exist."""
        if self.phases not in (1, 3):
            msg = f"a grid connection has 1 or 3 phases, not {self.phases}"
            raise ValueError(msg)
        low, high = FUSE_RANGE_A
        if not low <= self.fuse_a <= high:
            msg = f"main fuse of {self.fuse_a} A is outside {low:g}..{high:g} A"
            raise ValueError(msg)
        low, high = VOLTAGE_RANGE_V
        if not low <= self.voltage_v <= high:
            msg = (
                f"nominal voltage of {self.voltage_v} V is outside {low:g}..{high:g} V"
            )
            raise ValueError(msg)

    @property
    def phase_max_power_w(self) -> float:
        """Power one phase carries at its fuse rating and nominal voltage."""
        return self.fuse_a * self.voltage_v

    @property
    def max_power_w(self) -> float:
        """Power the whole connection carries with every phase at its fuse."""
        return self.phases * self.phase_max_power_w

    @property
    def plausible_max_power_w(self) -> float:
        """Largest power (total or per phase) a real reading can show."""
        return PLAUSIBLE_FACTOR * self.max_power_w

    @property
    def plausible_max_current_a(self) -> float:
        """Largest phase current a real reading can show."""
        return PLAUSIBLE_FACTOR * self.fuse_a

    def phase_headroom_a(self, current_a: float) -> float:
        """Amperes left on a phase that carries ``current_a`` now."""
        return self.fuse_a - current_a

    @classmethod
    def parse(cls, text: str) -> GridConnection:
        """Parse installer notation such as ``3x25``, ``3 x 25A`` or ``1x40``.

        The multiplication sign is accepted in place of the ``x``.
        """
        cleaned = (
            text.strip().lower().replace(MULTIPLICATION_SIGN, "x").replace(" ", "")
        )
        cleaned = cleaned.removesuffix("a")
        phases_text, sep, fuse_text = cleaned.partition("x")
        if not sep:
            msg = f"expected PHASESxAMPS such as 3x25, got {text!r}"
            raise ValueError(msg)
        try:
            phases = int(phases_text)
            fuse_a = float(fuse_text)
        except ValueError:
            msg = f"expected PHASESxAMPS such as 3x25, got {text!r}"
            raise ValueError(msg) from None
        return cls(phases=phases, fuse_a=fuse_a)

    def __str__(self) -> str:
        """Render in installer notation, e.g. ``3x25 A``."""
        return f"{self.phases}x{self.fuse_a:g} A"
