"""What every device block shares: the build context and the block contract.

A block owns its device's variables, constraints and objective terms. It
tells the core how its power enters the grid balance (``PowerTerm``), and
whether that power may leave the house (``export_sources``). The core owns
only the grid balance, the limits, the prices and the capacity cost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from custom_components.stroomwijs.engine.planner.lp import (
    FloatArray,
    IndexArray,
    ModelBuilder,
)
from custom_components.stroomwijs.engine.planner.prices import Prices
from custom_components.stroomwijs.engine.planner.schema import Reader
from custom_components.stroomwijs.engine.planner.timegrid import TimeGrid

type PhaseShares = tuple[float, float, float]
EVEN_SHARES: PhaseShares = (1 / 3, 1 / 3, 1 / 3)

# Penalties in EUR per unit. They sit far above any plausible energy price
# (the day-ahead cap of 4 EUR/kWh plus taxes), so comfort and targets only
# give way when the hard grid limits leave no other choice.
PENALTY_EV_TARGET_EUR_PER_KWH = 20.0
PENALTY_MIN_SOC_EUR_PER_KWH = 60.0
PENALTY_COMFORT_EUR_PER_KH = 10.0
PENALTY_HOT_WATER_EUR_PER_KH = 40.0
PENALTY_MISSED_RUN_EUR = 25.0
PENALTY_LEGIONELLA_EUR = 25.0

# Tie-breakers, far below a cent, so they only choose between equal plans.
SWITCH_COST_EUR = 0.002
"""Per start of an on/off device: avoids needless switching."""


@dataclass(slots=True)
class PowerTerm:
    """Columns whose values (times ``coef``) are a device's power in kW."""

    cols: IndexArray
    coef: float | FloatArray
    phases: PhaseShares


@dataclass(slots=True)
class BuildContext:
    """Everything a block needs to add itself to the model."""

    model: ModelBuilder
    grid: TimeGrid
    prices: Prices
    base_load_kw: FloatArray
    pv_kw: FloatArray
    window: npt.NDArray[np.bool_]
    """Slots inside a DSO window (an import cap below the normal one)."""
    import_cap_kw: FloatArray
    """The hard import cap per slot (DSO limit and fuse, whichever is lower)."""
    time_preference: FloatArray
    """A tiny EUR/kWh that grows over the horizon: earlier wins a tie."""
    rebound_eur_per_kw: FloatArray
    """Cost per kW of import step in the hour after a DSO window ends."""
    import_cols: IndexArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Grid import per slot (set by the core before the blocks build)."""
    export_cols: IndexArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Grid export per slot (set by the core before the blocks build)."""
    power_terms: list[PowerTerm] = field(default_factory=list)
    export_sources: list[PowerTerm] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of slots."""
        return self.grid.count

    @property
    def hours(self) -> FloatArray:
        """Slot lengths in hours."""
        return self.grid.hours


@dataclass(slots=True)
class DeviceResult:
    """A device's part of the plan."""

    setpoint_kw: list[float]
    series: dict[str, list[float]] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    explanations: list[str] = field(default_factory=list)
    summary: dict[str, float | str | bool | None] = field(default_factory=dict)


def read_phases(reader: Reader, *, default_phases: int) -> PhaseShares:
    """How a device's power spreads over the three phases."""
    phases = reader.integer("phases", default_phases, low=1, high=3)
    if phases == 2:  # noqa: PLR2004
        raise reader.error("phases", "must be 1 or 3")
    if phases == 3:  # noqa: PLR2004
        if reader.has("phase"):
            raise reader.error("phase", "only a single-phase device sits on one phase")
        return EVEN_SHARES
    phase = reader.integer("phase", 1, low=1, high=3)
    shares = [0.0, 0.0, 0.0]
    shares[phase - 1] = 1.0
    return (shares[0], shares[1], shares[2])


class Block(ABC):
    """One device kind's part of the optimisation."""

    kind: ClassVar[str]

    def __init__(self, reader: Reader, grid: TimeGrid) -> None:
        """Read the common fields: id, name and phases."""
        self.device_id = reader.text("id")
        self.name = reader.text("name", self.device_id)
        reader.text("kind")
        self.grid = grid

    @abstractmethod
    def build(self, ctx: BuildContext) -> None:
        """Add variables, constraints and costs; register power terms."""

    @abstractmethod
    def extract(self, values: FloatArray, ctx: BuildContext) -> DeviceResult:
        """Read the device's plan out of a solution."""

    @abstractmethod
    def safe_power_kw(self, ctx: BuildContext) -> FloatArray:
        """Power per slot in a rule-based plan that keeps the limits.

        Used when the solver returns nothing: the device takes no more than
        it must (a running cycle finishes; everything else waits).
        """

    def safe_result(self, ctx: BuildContext) -> DeviceResult:
        """Return the device's part of the rule-based fallback plan."""
        power = self.safe_power_kw(ctx)
        return DeviceResult(
            setpoint_kw=[round(float(p), 4) for p in power],
            explanations=[
                (
                    f"{self.name}: kept at its safe minimum because no optimal "
                    "plan was found in time."
                )
            ],
        )

    def phase_shares(self) -> PhaseShares:
        """How the device's power spreads over the phases."""
        return EVEN_SHARES


def rounded(values: FloatArray, digits: int = 4) -> list[float]:
    """JSON-friendly rounded values (with -0.0 cleaned up)."""
    return [round(float(v), digits) + 0.0 for v in values]


TERMINAL_VALUE_SHARE = 0.99


def terminal_value(ctx: BuildContext, kwh_per_unit: float) -> float:
    """EUR per unit of storage left at the end of the horizon.

    Valued just under the cheapest import price in the horizon, it recovers
    the heat or charge that on/off steps leave over, without ever paying the
    plan to store energy for its own sake.
    """
    cheapest = float(ctx.prices.import_eur_per_kwh.min())
    return max(cheapest, 0.0) * TERMINAL_VALUE_SHARE * kwh_per_unit


BLOCKED_EUR = 1e9
"""Cost of a move a warm-start dynamic programme must not make (finite, so
that interpolating between a blocked and an open state stays a number)."""


def exchange_costs(net_kw: FloatArray, ctx: BuildContext) -> FloatArray:
    """EUR for each slot's net grid exchange; blocked above the import cap.

    ``net_kw`` has the slots along its first axis (import positive); any
    further axes are alternatives within the slot.
    """
    shape = (ctx.n,) + (1,) * (net_kw.ndim - 1)
    prices = ctx.prices
    price = np.where(
        net_kw > 0,
        prices.import_eur_per_kwh.reshape(shape),
        prices.export_eur_per_kwh.reshape(shape),
    )
    cost: FloatArray = np.where(
        net_kw > ctx.import_cap_kw.reshape(shape) + 1e-6,
        BLOCKED_EUR,
        net_kw * price * ctx.hours.reshape(shape),
    )
    return cost


def interp_rows(values: FloatArray, points: FloatArray, grid: FloatArray) -> FloatArray:
    """``numpy.interp`` of each row of ``values`` (sampled on ``grid``).

    The result has shape ``values.shape[:-1] + points.shape``.
    """
    flat = points.ravel()
    rows = values.reshape(-1, values.shape[-1])
    result: FloatArray = np.stack([np.interp(flat, grid, row) for row in rows])
    return result.reshape(values.shape[:-1] + points.shape)
