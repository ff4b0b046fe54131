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
PENALTY_RESERVE_EUR_PER_KWH = 50.0
"""Per kWh a thermostat-driven device may draw beyond the limits: below
unserved load (a possible overrun, not a certain one), so that shedding is
never chosen to make room for it, and far above any energy price."""

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
    export_cap_kw: FloatArray
    """The hard export cap per slot."""
    phase_limit_kw: float
    """What one phase of the main fuse carries."""
    fixed_phase_kw: FloatArray
    """Per phase and slot: base load minus PV on that phase (import positive)."""
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
    reserve_terms: list[PowerTerm] = field(default_factory=list)
    """Power a device may draw on top of its planned power (a thermostat the
    plan cannot hold back): it counts against the import cap and the fuse,
    not in the energy balance."""

    @property
    def n(self) -> int:
        """Number of slots."""
        return self.grid.count

    @property
    def hours(self) -> FloatArray:
        """Slot lengths in hours."""
        return self.grid.hours

    def phase_room_kw(
        self, phases: PhaseShares, x: FloatArray, own: IndexArray
    ) -> FloatArray:
        """Per slot: the most a device on ``phases`` can draw under the fuse.

        Counts the base load and PV on its phases and what the other devices
        draw there in the solution ``x`` (columns ``own`` are the device's).
        """
        single = self.fixed_phase_kw.shape[0] == 1
        load = self.fixed_phase_kw.copy()
        mine = np.zeros(x.shape[0], dtype=np.bool_)
        mine[own] = True
        for term in [*self.power_terms, *self.reserve_terms]:
            valid = term.cols >= 0
            if not valid.any() or mine[term.cols[valid]].any():
                continue
            power = np.zeros(self.n)
            coef = np.broadcast_to(np.asarray(term.coef, dtype=np.float64), (self.n,))
            power[valid] = x[term.cols[valid]] * coef[valid]
            for k in range(load.shape[0]):
                load[k] += power * (1.0 if single else term.phases[k])
        room = np.full(self.n, np.inf)
        for k, share in enumerate(phases):
            if share > 0 and (single or k < load.shape[0]):
                row = 0 if single else k
                room = np.minimum(room, (self.phase_limit_kw - load[row]) / share)
        result: FloatArray = np.maximum(room, 0.0)
        return result

    def reserve_kw(self, x: FloatArray) -> FloatArray:
        """Per slot: what the reserve terms add to the worst-case import at ``x``."""
        total = np.zeros(self.n)
        for term in self.reserve_terms:
            valid = term.cols >= 0
            coef = np.broadcast_to(np.asarray(term.coef, dtype=np.float64), (self.n,))
            total[valid] += x[term.cols[valid]] * coef[valid]
        return total


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

    def warm_hint(self, previous: WarmHint, ctx: BuildContext) -> None:  # noqa: B027
        """Hint the model with what the previous plan did (a warm re-plan).

        Called after ``build``. The default hints nothing.
        """

    def refine(self, short_kw: FloatArray) -> bool:
        """Take where a solved plan left a reserve unmet; True to solve again.

        ``short_kw`` is, per slot, how far the limits fell short of the
        reserve terms (see ``BuildContext.reserve_terms``). A device that
        can make room there (a block) takes note for the next ``build``.
        The default does nothing.
        """
        del short_kw
        return False

    def reset(self) -> None:  # noqa: B027
        """Forget what ``refine`` noted (before a new solve). Default: nothing."""


@dataclass(frozen=True, slots=True)
class WarmHint:
    """A device's part of a previous plan, moved onto the new time grid."""

    setpoint_kw: FloatArray
    """Per new slot: the previous plan's setpoint, NaN where it had none."""
    shift: int | None
    """Slots elapsed since the previous plan (None: the grids do not align)."""
    summary: dict[str, float | str | bool | None]

    def slot(self, key: str) -> int | None:
        """Return a slot index from the previous plan's summary, on the new grid."""
        value = self.summary.get(key)
        if self.shift is None or isinstance(value, bool):
            return None
        if not isinstance(value, float | int) or value != round(value):
            return None
        return round(value) - self.shift


def rounded(values: FloatArray, digits: int = 4) -> list[float]:
    """JSON-friendly rounded values (with -0.0 cleaned up)."""
    return [round(float(v), digits) + 0.0 for v in values]


TERMINAL_VALUE_SHARE = 0.99
"""Left-over energy is credited at just under its bound, so that a tie
between storing and exporting (or buying) never tips towards storing."""
END_CONDITIONS = ("value", "keep", "free")
"""How a store may end the horizon (the ``end_condition`` field):

* ``value``: energy left above the start level is credited at what it would
  really save later, never above its replacement cost nor above what the
  energy that made it was worth (PV surplus: the export price); energy
  short of the start level costs what replacing it later would cost;
* ``keep``: end no emptier than the start (a steep penalty, explained when
  the grid limits force it), and no credit above it;
* ``free``: left-over energy is worth nothing and the store may run down.
"""
PENALTY_END_EUR_PER_KWH = 20.0
"""Per electric kWh a ``keep`` store ends short of its start level."""


@dataclass(frozen=True, slots=True)
class EndValue:
    """The value of what a store holds at the end of the horizon.

    Piecewise linear around the reference level (usually the start level):
    each unit short of it costs ``below_eur``, each unit above it earns
    ``above_eur`` (never more than ``below_eur``, so the cost is convex and
    needs no binaries).
    """

    condition: str
    reference: float
    below_eur: float
    above_eur: float

    def cost(self, level: FloatArray) -> FloatArray:
        """EUR the objective adds for ending at ``level`` (a credit is negative)."""
        short = np.maximum(self.reference - level, 0.0)
        over = np.maximum(level - self.reference, 0.0)
        result: FloatArray = self.below_eur * short - self.above_eur * over
        return result

    def add(self, ctx: BuildContext, level_col: IndexArray) -> IndexArray | None:
        """Add the end condition on column ``level_col``; returns the shortfall."""
        if self.condition == "free" or level_col.shape[0] == 0:
            return None
        m = ctx.model
        # The cost is minus above times (level - reference) plus (below -
        # above) times short, where short is at least reference - level.
        short = m.add_vars(1, 0.0, np.inf, self.below_eur - self.above_eur)
        row = m.add_rows(1, self.reference, np.inf)
        m.add_terms(row, level_col[-1:], 1.0)
        m.add_terms(row, short, 1.0)
        if self.above_eur:
            m.add_cost(level_col[-1:], -self.above_eur)
            m.offset += self.above_eur * self.reference
        return short


def read_end_condition(reader: Reader, default: str = "value") -> str:
    """Read a store's ``end_condition`` (see ``END_CONDITIONS``)."""
    return reader.text("end_condition", default, choices=END_CONDITIONS)


def surplus_worth(ctx: BuildContext) -> FloatArray:
    """EUR/kWh a kWh of electricity is worth at least, per slot.

    Bought, it costs the import price; taken from a PV surplus, it is worth
    the export price it would have earned, and nothing where the export
    cap may force PV to be curtailed.
    """
    prices = ctx.prices
    worth = np.minimum(prices.import_eur_per_kwh, prices.export_eur_per_kwh)
    may_curtail = ctx.pv_kw > ctx.base_load_kw + ctx.export_cap_kw + 1e-9
    result: FloatArray = np.where(may_curtail, 0.0, worth)
    return result


def end_value(
    ctx: BuildContext,
    condition: str,
    reference: float,
    *,
    make_kwh: float | FloatArray,
    save_kwh: float | FloatArray,
) -> EndValue:
    """Return the end value of a store, per unit of its level (kWh, K).

    ``make_kwh`` is the electricity that puts one unit in (per slot, e.g.
    capacity / COP), ``save_kwh`` the electricity one unit saves when it is
    used later (the same for heat; discharge efficiency for a battery).
    Left-over energy saves buying electricity later: valued at the cheapest
    import price in the horizon (a lower bound on what it saves), and never
    above its replacement cost (``make_kwh`` at that price). Energy above the
    reference level was made here: never valued above what the energy that
    made it was worth (the export price, for a PV surplus).
    """
    n = ctx.n
    make = np.broadcast_to(np.asarray(make_kwh, dtype=np.float64), (n,))
    save = np.broadcast_to(np.asarray(save_kwh, dtype=np.float64), (n,))
    imports = ctx.prices.import_eur_per_kwh
    saves = float((imports * np.minimum(save, make)).min())
    made = float((surplus_worth(ctx) * make).min())
    below = max(saves, 0.0) * TERMINAL_VALUE_SHARE
    above = max(min(saves, made), 0.0) * TERMINAL_VALUE_SHARE
    if condition == "keep":
        penalty = PENALTY_END_EUR_PER_KWH * float(make.max())
        return EndValue(condition, reference, penalty, 0.0)
    if condition == "free":
        return EndValue(condition, reference, 0.0, 0.0)
    return EndValue(condition, reference, below, above)


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
