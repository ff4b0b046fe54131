"""Heat pump: a first-order house model, optional tank and gas (hybrid).

The house is one thermal capacity ``C`` losing heat through ``UA`` to the
outdoor-temperature forecast::

    C (T[t] - T[t-1]) = (COP[t] P_sh[t] + Q_gas[t] + gains[t]
                         - UA (T[t-1] - T_out[t])) h

The COP follows the outdoor temperature (linear around its 7 degC rating).
The compressor modulates between ``min_modulation`` and 100 % (1.0 means
on/off), with minimum run and off times carried over from its current state.
Inside a DSO window the comfort band may drop (``window_setback_c``) and,
``preheat_minutes`` before the window, rise by as much, so that the house
pre-heats. Comfort is soft: it gives way before any grid limit does.

With ``control: block`` (an SG-Ready pump on two relays) the plan cannot
set the compressor's power: it can only block the pump or let it run on its
own thermostat. The binary is then "not blocked"; the heat the house gets
is any power from 0 to ``max_power_kw`` in an unblocked slot (the
thermostat's cycles, averaged over the slot), and the import cap and the
fuse count the pump at ``max_power_kw`` in every unblocked slot (the
thermostat may call for heat in any of them; the plan cannot stop it but
by a block). The setpoint is the power the mode stands for: ``max_power_kw``
unblocked, 0 blocked; the power the plan expects is ``power_kw``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
import math
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from custom_components.stroomwijs.engine.planner.lp import FloatArray, IndexArray
from custom_components.stroomwijs.engine.planner.schema import Reader
from custom_components.stroomwijs.engine.planner.timegrid import TimeGrid

from .base import (
    BLOCKED_EUR,
    PENALTY_COMFORT_EUR_PER_KH,
    PENALTY_HOT_WATER_EUR_PER_KH,
    SWITCH_COST_EUR,
    Block,
    BuildContext,
    DeviceResult,
    EndValue,
    PhaseShares,
    PowerTerm,
    WarmHint,
    end_value,
    exchange_costs,
    interp_rows,
    read_end_condition,
    read_phases,
    rounded,
)
from .boiler import WATER_KWH_PER_LITRE_K

COP_RANGE = (1.0, 8.0)
DP_STEP_K = 0.02
DP_LEVELS = 5
DP_MIN_SHARE = 0.1
"""A fully modulating pump is scheduled in levels from 10 % of its maximum."""
LONG_AGO_MINUTES = 1e6
"""Default time in the current state: long enough for any minimum time."""
TOLERANCE_K = 0.05
RUNNING_KW = 1e-3
"""Above this setpoint the compressor runs."""
GAS_KWH_PER_M3 = 9.77
"""Calorific (upper) value of Dutch Groningen-quality gas, kWh per m3."""
BLOCKING_MIN_KW = 0.01
"""With blocking rules, "on" draws at least this: a planned 0 W is a block."""
MAX_DAY_LENGTH = timedelta(hours=25)
"""``day_ends`` lies at most one (DST) day after the plan start."""
PENALTY_BLOCK_OVERRUN_EUR = 500.0
"""Per block beyond the rules: above shedding any load for a whole slot."""
PENALTY_BLOCKED_MINUTE_EUR = 20.0
"""Per blocked minute beyond the rules (300 EUR a quarter-hour)."""
RESERVE_TOLERANCE_KW = 1e-3
CONTROLS = ("power", "block")
"""``power``: the plan sets the compressor's power (modulating, Modbus);
``block``: the plan can only block it, its own thermostat decides the rest."""


@dataclass(frozen=True, slots=True)
class BlockingRules:
    """What the heat pump's blocking rules still allow (SG-Ready, EVU lock).

    An off-period of the plan is a block. Before ``day_ends`` at most
    ``blocks_left_today`` new off-periods and ``blocked_minutes_left_today``
    minutes off; on every later local day the full caps. A ``day_ends`` at or
    before the plan start (a budget read just before midnight) leaves only
    later days.
    """

    blocks_left_today: int
    blocked_minutes_left_today: float
    day_ends: datetime
    max_blocks_per_day: int
    max_blocked_minutes_per_day: float

    @classmethod
    def read(cls, reader: Reader, grid: TimeGrid) -> BlockingRules:
        """Read and check the ``blocking`` object."""
        max_blocks = reader.integer("max_blocks_per_day", low=0, high=96)
        max_minutes = reader.number("max_blocked_minutes_per_day", low=0.0, high=1440.0)
        blocks_left = reader.integer("blocks_left_today", low=0, high=96)
        minutes_left = reader.number("blocked_minutes_left_today", low=0.0, high=1440.0)
        day_ends = reader.time("day_ends")
        reader.reject_unknown()
        if blocks_left > max_blocks:
            raise reader.error(
                "blocks_left_today", f"is above max_blocks_per_day ({max_blocks})"
            )
        if minutes_left > max_minutes + 1e-6:
            raise reader.error(
                "blocked_minutes_left_today",
                f"is above max_blocked_minutes_per_day ({max_minutes:g})",
            )
        if day_ends > grid.start + MAX_DAY_LENGTH:
            raise reader.error(
                "day_ends",
                "must lie within a day after the plan start "
                f"({grid.start.isoformat()})",
            )
        return cls(blocks_left, minutes_left, day_ends, max_blocks, max_minutes)

    def days(self, grid: TimeGrid) -> list[tuple[IndexArray, int, float]]:
        """Per local day in the horizon: its slots, blocks and minutes allowed."""
        last_day = grid.local(self.day_ends).date()
        index = np.empty(grid.count, dtype=np.int64)
        for t in range(grid.count):
            start = grid.slot_start(t)
            index[t] = (
                0
                if start < self.day_ends
                else 1 + (grid.local(start).date() - last_day).days
            )
        result: list[tuple[IndexArray, int, float]] = []
        for day in np.unique(index):
            slots = np.nonzero(index == day)[0]
            if day == 0:
                result.append(
                    (slots, self.blocks_left_today, self.blocked_minutes_left_today)
                )
            else:
                result.append(
                    (slots, self.max_blocks_per_day, self.max_blocked_minutes_per_day)
                )
        return result

    def repair(
        self, on: FloatArray, grid: TimeGrid, *, was_on: bool, min_off: int
    ) -> FloatArray:
        """Turn off-periods the rules forbid back on (for the warm start).

        An off-period that would exceed the day's blocks is dropped; one
        that would exceed its minutes is cut short, or dropped when what is
        left is shorter than ``min_off`` slots.
        """
        fixed = on.copy()
        minutes = grid.hours * 60.0
        for slots, blocks, allowed in self.days(grid):
            blocks_left, minutes_left = blocks, allowed
            for t in slots:
                if fixed[t] > 0.5:  # noqa: PLR2004
                    continue
                new = was_on if t == 0 else bool(fixed[t - 1] > 0.5)  # noqa: PLR2004
                if new and blocks_left <= 0:
                    _fill_run(fixed, t)
                    continue
                if minutes[t] > minutes_left + 1e-6:
                    _fill_run(fixed, t)
                    continue
                if new:
                    run_end = _run_end(fixed, t)
                    if minutes[t:run_end].sum() > minutes_left + 1e-6 and (
                        minutes_left < minutes[t : t + min_off].sum() - 1e-6
                    ):
                        _fill_run(fixed, t)
                        continue
                    blocks_left -= 1
                minutes_left -= minutes[t]
        return fixed


def _within(
    on: FloatArray,
    slots: IndexArray,
    blocks: int,
    allowed: float,
    ctx: BuildContext,
    *,
    was_on: bool,
) -> bool:
    """Whether ``on`` keeps one day's blocks and blocked minutes."""
    off = on[slots] < 0.5  # noqa: PLR2004
    first = int(slots[0])
    before = (not was_on) if first == 0 else bool(on[first - 1] < 0.5)  # noqa: PLR2004
    starts = int(np.sum(off & ~np.concatenate([[before], off[:-1]])))
    used = float((ctx.hours[slots] * 60.0)[off].sum())
    return starts <= blocks and used <= allowed + 1e-6


def _run_end(on: FloatArray, start: int) -> int:
    end = start
    while end < on.shape[0] and on[end] <= 0.5:  # noqa: PLR2004
        end += 1
    return end


def _fill_run(on: FloatArray, start: int) -> None:
    on[start : _run_end(on, start)] = 1.0


def _cop(outdoor: FloatArray, at_7c: float, slope: float) -> FloatArray:
    return np.clip(at_7c + slope * (outdoor - 7.0), *COP_RANGE)


class HeatPumpBlock(Block):
    """A heat pump heating one house (and optionally its hot water)."""

    kind: ClassVar[str] = "heat_pump"

    def __init__(self, reader: Reader, grid: TimeGrid) -> None:  # noqa: PLR0915
        """Read the heat pump, the house, comfort, tank and gas options."""
        super().__init__(reader, grid)
        n = grid.count
        self.max_power_kw = reader.number("max_power_kw", above=0.0, high=30.0)
        self.min_modulation = reader.number("min_modulation", 0.3, low=0.0, high=1.0)
        self.cop_at_7c = reader.number("cop_at_7c", 3.5, low=1.0, high=8.0)
        self.cop_slope = reader.number("cop_slope_per_k", 0.08, low=0.0, high=1.0)
        self.outdoor_c = np.asarray(
            reader.series("outdoor_c", n, low=-40.0, high=50.0), dtype=np.float64
        )
        self.cop = _cop(self.outdoor_c, self.cop_at_7c, self.cop_slope)
        house = reader.obj("house")
        self.heat_capacity = house.number("heat_capacity_kwh_per_k", above=0.0)
        self.heat_loss = house.number("heat_loss_kw_per_k", above=0.0)
        self.indoor_c = house.number("indoor_c", low=-10.0, high=40.0)
        self.gains_kw = np.asarray(house.series("gains_kw", n, 0.0), dtype=np.float64)
        house.reject_unknown()
        comfort = reader.obj("comfort")
        self.comfort_min = np.asarray(
            comfort.series("min_c", n, 20.0, low=0.0, high=35.0), dtype=np.float64
        )
        self.comfort_max = np.asarray(
            comfort.series("max_c", n, 22.0, low=0.0, high=35.0), dtype=np.float64
        )
        if (self.comfort_min > self.comfort_max).any():
            raise comfort.error("min_c", "is above max_c")
        self.setback = comfort.number("window_setback_c", 0.0, low=0.0, high=5.0)
        self.preheat_minutes = comfort.number(
            "preheat_minutes", 60.0, low=0.0, high=360.0
        )
        comfort.reject_unknown()
        self.min_on_minutes = reader.number("min_on_minutes", 0.0, low=0.0, high=720.0)
        self.min_off_minutes = reader.number(
            "min_off_minutes", 0.0, low=0.0, high=720.0
        )
        self.is_on = reader.boolean("is_on", default=False)
        self.state_minutes = reader.number(
            "in_state_for_minutes", LONG_AGO_MINUTES, low=0.0
        )
        dhw = reader.obj("hot_water")
        self.has_dhw = dhw.has("volume_l")
        if self.has_dhw:
            self.dhw_volume = dhw.number("volume_l", above=0.0, high=2000.0)
            self.dhw_temp = dhw.number("temperature_c", low=0.0, high=100.0)
            self.dhw_min = dhw.number("min_c", 45.0, low=0.0, high=100.0)
            self.dhw_max = dhw.number("max_c", 55.0, low=0.0, high=100.0)
            if self.dhw_min >= self.dhw_max:
                raise dhw.error("min_c", "must be below max_c")
            cop_dhw = dhw.number("cop_at_7c", max(self.cop_at_7c - 1.0, 1.0), low=1.0)
            self.dhw_cop = _cop(self.outdoor_c, cop_dhw, self.cop_slope)
            self.dhw_loss = dhw.number("loss_w_per_k", 1.0, low=0.0)
            self.dhw_room = dhw.number("room_c", 18.0)
            self.dhw_draw = np.asarray(
                dhw.series("draw_kwh", n, 0.0, low=0.0), dtype=np.float64
            )
        dhw.reject_unknown()
        gas = reader.obj("gas")
        self.gas_max_kw = gas.number("max_kw", 0.0, low=0.0, high=100.0)
        efficiency = gas.number("efficiency", 0.9, above=0.0, high=1.1)
        if gas.has("eur_per_m3"):
            self.gas_eur_per_kwh_heat = gas.number("eur_per_m3", low=0.0) / (
                GAS_KWH_PER_M3 * efficiency
            )
        else:
            self.gas_eur_per_kwh_heat = (
                gas.number("eur_per_kwh", 0.0, low=0.0) / efficiency
            )
        if self.gas_max_kw > 0 and not (
            gas.has("eur_per_m3") or gas.has("eur_per_kwh")
        ):
            raise gas.error("eur_per_m3", "a hybrid heat pump needs a gas price")
        gas.reject_unknown()
        self.end_condition = read_end_condition(reader)
        self.phases: PhaseShares = read_phases(reader, default_phases=3)
        self.control = reader.text("control", "power", choices=CONTROLS)
        if self.control == "block" and self.has_dhw:
            raise reader.error(
                "control", "a pump that can only be blocked has no planned hot water"
            )
        has_blocking = reader.has("blocking")
        blocking = reader.obj("blocking")
        self.blocking = BlockingRules.read(blocking, grid) if has_blocking else None
        reader.reject_unknown()

        self._on: IndexArray | None = None
        self._p_sh: IndexArray = np.empty(0, dtype=np.int64)
        self._p_dhw: IndexArray | None = None
        self._gas: IndexArray | None = None
        self._t_in: IndexArray = np.empty(0, dtype=np.int64)
        self._t_dhw: IndexArray | None = None
        self._cold: IndexArray = np.empty(0, dtype=np.int64)
        self._warm: IndexArray = np.empty(0, dtype=np.int64)
        self._dhw_cold: IndexArray | None = None
        self._band_low = self.comfort_min
        self._band_high = self.comfort_max
        self._end: EndValue | None = None
        self._end_short: IndexArray | None = None
        self._dhw_end_short: IndexArray | None = None
        self._overruns: list[tuple[int, IndexArray]] = []
        self._unmet = 0
        self._extra: FloatArray | None = None
        """Slots a solved plan left short of the pump's reserve (kW)."""

    def phase_shares(self) -> PhaseShares:
        """Return the compressor's phases."""
        return self.phases

    @property
    def thermostat(self) -> bool:
        """Whether the pump runs on its own thermostat unless blocked."""
        return self.control == "block"

    def _band(self, ctx: BuildContext) -> tuple[FloatArray, FloatArray]:
        low = self.comfort_min.copy()
        high = self.comfort_max.copy()
        if self.setback > 0:
            window = ctx.window
            low[window] -= self.setback
            slot_minutes = ctx.grid.slot_minutes
            lead = math.ceil(self.preheat_minutes / slot_minutes)
            starts = np.nonzero(window & ~np.concatenate([[False], window[:-1]]))[0]
            for start in starts:
                high[max(int(start) - lead, 0) : int(start)] += self.setback
        return low, high

    def build(self, ctx: BuildContext) -> None:  # noqa: PLR0915
        """Add the compressor, house (and tank) temperatures and comfort."""
        m = ctx.model
        n = ctx.n
        hours = ctx.hours
        tie = ctx.time_preference * hours
        self._p_sh = m.add_vars(n, 0.0, self.max_power_kw, tie)
        total = [self._p_sh]
        if self.has_dhw:
            self._p_dhw = m.add_vars(n, 0.0, self.max_power_kw, tie)
            total.append(self._p_dhw)
        for cols in total:
            ctx.power_terms.append(PowerTerm(cols, 1.0, self.phases))

        needs_binary = (
            self.min_modulation > 0
            or self.min_on_minutes > 0
            or self.min_off_minutes > 0
            or self.blocking is not None
            or self.thermostat
        )
        if needs_binary:
            self._add_on_off(ctx, total)
        else:
            cap = m.add_rows(n, -np.inf, self.max_power_kw)
            for cols in total:
                m.add_terms(cap, cols, 1.0)

        if self.gas_max_kw > 0:
            self._gas = m.add_vars(
                n, 0.0, self.gas_max_kw, self.gas_eur_per_kwh_heat * hours
            )

        # House temperature.
        c = self.heat_capacity
        keep = 1.0 - self.heat_loss * hours / c
        rhs = hours * (self.gains_kw + self.heat_loss * self.outdoor_c) / c
        rhs[0] += keep[0] * self.indoor_c
        self._t_in = m.add_vars(n, -np.inf, np.inf)
        rows = m.add_rows(n, rhs, rhs)
        m.add_terms(rows, self._t_in, 1.0)
        m.add_terms(rows[1:], self._t_in[:-1], -keep[1:])
        m.add_terms(rows, self._p_sh, -hours * self.cop / c)
        if self._gas is not None:
            m.add_terms(rows, self._gas, -hours / c)

        # Heat left in the house at the end, against the start temperature.
        per_k = c / self.cop
        if self._gas is not None:
            per_k = np.minimum(per_k, c * self.gas_eur_per_kwh_heat / _max_price(ctx))
        self._end = end_value(
            ctx, self.end_condition, self.indoor_c, make_kwh=per_k, save_kwh=per_k
        )
        self._end_short = self._end.add(ctx, self._t_in)

        low, high = self._band(ctx)
        self._band_low, self._band_high = low, high
        weight = PENALTY_COMFORT_EUR_PER_KH * hours
        self._cold = m.add_vars(n, 0.0, np.inf, weight)
        self._warm = m.add_vars(n, 0.0, np.inf, weight)
        lo_rows = m.add_rows(n, low, np.inf)
        m.add_terms(lo_rows, self._t_in, 1.0)
        m.add_terms(lo_rows, self._cold, 1.0)
        hi_rows = m.add_rows(n, -np.inf, high)
        m.add_terms(hi_rows, self._t_in, 1.0)
        m.add_terms(hi_rows, self._warm, -1.0)

        if self.has_dhw and self._p_dhw is not None:
            cap_k = self.dhw_volume * WATER_KWH_PER_LITRE_K
            ua = self.dhw_loss / 1000.0
            keep_d = 1.0 - ua * hours / cap_k
            rhs_d = (ua * self.dhw_room * hours - self.dhw_draw) / cap_k
            rhs_d[0] += keep_d[0] * self.dhw_temp
            self._t_dhw = m.add_vars(n, -np.inf, max(self.dhw_max, self.dhw_temp))
            rows_d = m.add_rows(n, rhs_d, rhs_d)
            m.add_terms(rows_d, self._t_dhw, 1.0)
            m.add_terms(rows_d[1:], self._t_dhw[:-1], -keep_d[1:])
            m.add_terms(rows_d, self._p_dhw, -hours * self.dhw_cop / cap_k)
            self._dhw_cold = m.add_vars(
                n, 0.0, np.inf, PENALTY_HOT_WATER_EUR_PER_KH * hours
            )
            lo_d = m.add_rows(n, self.dhw_min, np.inf)
            m.add_terms(lo_d, self._t_dhw, 1.0)
            m.add_terms(lo_d, self._dhw_cold, 1.0)
            per_k_d = cap_k / self.dhw_cop
            dhw_end = end_value(
                ctx,
                self.end_condition,
                self.dhw_temp,
                make_kwh=per_k_d,
                save_kwh=per_k_d,
            )
            self._dhw_end_short = dhw_end.add(ctx, self._t_dhw)

    def _add_on_off(self, ctx: BuildContext, total: list[IndexArray]) -> None:
        if self.thermostat:
            self._add_thermostat(ctx, total)
            return
        m = ctx.model
        n = ctx.n
        slot = ctx.grid.slot_minutes
        on = m.add_binaries(n)
        self._on = on
        cap = m.add_rows(n, -np.inf, 0.0)  # sum p - Pmax on <= 0
        floor = m.add_rows(n, 0.0, np.inf)  # sum p - Pmin on >= 0
        for cols in total:
            m.add_terms(cap, cols, 1.0)
            m.add_terms(floor, cols, 1.0)
        m.add_terms(cap, on, -self.max_power_kw)
        p_min = self.min_modulation * self.max_power_kw
        if self.blocking is not None:
            p_min = max(p_min, BLOCKING_MIN_KW)
        m.add_terms(floor, on, -p_min)

        # on[t] - on[t-1] = up[t] - down[t]
        up = m.add_vars(n, 0.0, 1.0, SWITCH_COST_EUR)
        down = m.add_vars(n, 0.0, 1.0)
        was_on = 1.0 if self.is_on else 0.0
        rhs = np.zeros(n)
        rhs[0] = was_on
        rows = m.add_rows(n, rhs, rhs)
        m.add_terms(rows, on, 1.0)
        m.add_terms(rows[1:], on[:-1], -1.0)
        m.add_terms(rows, up, -1.0)
        m.add_terms(rows, down, 1.0)
        run = math.ceil(self.min_on_minutes / slot - 1e-9)
        rest = math.ceil(self.min_off_minutes / slot - 1e-9)
        tracker = None if self.has_dhw else self._tracker(ctx, run, rest)
        m.hint_sequence(on, min_on=run, min_off=rest, tracker=tracker)
        if self.blocking is not None:
            self._add_blocking(ctx, self.blocking, on, down)
        for length, events, sign in ((run, up, 1.0), (rest, down, -1.0)):
            if length <= 1:
                continue
            # Sum of events in the last `length` slots <= on[t] (or 1 - on[t]).
            window_rows = m.add_rows(n, -np.inf, 0.0 if sign > 0 else 1.0)
            m.add_terms(window_rows, on, -sign)
            for lag in range(length):
                m.add_terms(window_rows[lag:], events[: n - lag], 1.0)
        # Carry the current state's minimum time over the horizon start.
        held = self.state_minutes
        if self.is_on and held < self.min_on_minutes:
            keep_slots = min(math.ceil((self.min_on_minutes - held) / slot), n)
            fix = m.add_rows(keep_slots, 1.0, 1.0)
            m.add_terms(fix, on[:keep_slots], 1.0)
        if not self.is_on and held < self.min_off_minutes:
            keep_slots = min(math.ceil((self.min_off_minutes - held) / slot), n)
            fix = m.add_rows(keep_slots, 0.0, 0.0)
            m.add_terms(fix, on[:keep_slots], 1.0)

    def _tracker(
        self, ctx: BuildContext, run: int, rest: int
    ) -> Callable[[FloatArray], FloatArray]:
        """Return the warm start's on/off schedule, within the blocking rules."""
        rules = self.blocking

        def track(x: FloatArray) -> FloatArray:
            on = self._schedule(x, ctx, run, rest)
            if rules is None:
                return on
            return rules.repair(on, ctx.grid, was_on=self.is_on, min_off=rest)

        return track

    def _add_thermostat(self, ctx: BuildContext, total: list[IndexArray]) -> None:
        """Add a pump on its own thermostat: blocked where needed, else free.

        The blocks are decided before the MILP (``blocks_needed``), so the
        pump adds no binaries: "unblocked" is a column fixed at 0 or 1, the
        power any value up to ``max_power_kw`` where it is 1, and the limits
        count ``max_power_kw`` there (the reserve: ``max_power_kw x on -
        power``).
        """
        m = ctx.model
        unblocked, self._unmet = self.blocks_needed(ctx)
        on = m.add_vars(ctx.n, unblocked, unblocked)
        self._on = on
        cap = m.add_rows(ctx.n, -np.inf, 0.0)  # sum p - Pmax on <= 0
        for cols in total:
            m.add_terms(cap, cols, 1.0)
        m.add_terms(cap, on, -self.max_power_kw)
        ctx.reserve_terms.append(PowerTerm(on, self.max_power_kw, self.phases))
        for cols in total:
            ctx.reserve_terms.append(PowerTerm(cols, -1.0, self.phases))

    def refine(self, short_kw: FloatArray) -> bool:
        """Block where the solved plan left the pump's reserve short, if allowed.

        For a thermostat-driven pump: the other devices could not all move
        out of those slots (a tank at its floor, a car's target), so the
        next build tries to block the pump there as well.
        """
        if not self.thermostat:
            return False
        short = np.where(short_kw > RESERVE_TOLERANCE_KW, short_kw, 0.0)
        old = np.zeros_like(short) if self._extra is None else self._extra
        new = np.maximum(old, short)
        if not (new > old + RESERVE_TOLERANCE_KW).any():
            return False
        self._extra = new
        return True

    def reset(self) -> None:
        """Forget the slots a previous solve left short."""
        self._extra = None

    def blocks_needed(self, ctx: BuildContext) -> tuple[FloatArray, int]:
        """Return where a thermostat-driven pump is blocked (0), and slots unmet.

        A slot needs a block when the base-load forecast less PV plus the
        pump at ``max_power_kw`` exceeds the import cap, or the pump's share
        breaks the fuse of one of its phases, or when a first solve left the
        pump's reserve short there (``refine``: another device had to run).
        The blocks go to the slots that need them most, as far as the
        blocking rules allow (each local day's blocks and minutes), each at
        least the minimum off time long
        and at least the minimum run time apart; a block in force goes on
        for its minimum off time, and a run for its minimum run time. The
        flexible devices then plan around the pump (its reserve counts
        against the limits wherever it is unblocked). Returns the pattern
        and how many needing slots it could not block.
        """
        n = ctx.n
        slot = ctx.grid.slot_minutes
        net = ctx.base_load_kw - ctx.pv_kw
        need = net + self.max_power_kw - ctx.import_cap_kw
        if self._extra is not None:
            need = np.maximum(need, self._extra)
        for k, share in enumerate(self.phases):
            if share > 0 and k < ctx.fixed_phase_kw.shape[0]:
                row = ctx.fixed_phase_kw[k] + share * self.max_power_kw
                need = np.maximum(need, row - ctx.phase_limit_kw)
        run = max(math.ceil(self.min_on_minutes / slot - 1e-9), 1)
        rest = max(math.ceil(self.min_off_minutes / slot - 1e-9), 1)
        held = min(self.state_minutes, LONG_AGO_MINUTES)
        on = np.ones(n)
        fixed = np.zeros(n, dtype=np.bool_)
        if not self.is_on and held < self.min_off_minutes:
            keep = min(math.ceil((self.min_off_minutes - held) / slot), n)
            on[:keep] = 0.0
            fixed[:keep] = True
        if self.is_on and held < self.min_on_minutes:
            fixed[: min(math.ceil((self.min_on_minutes - held) / slot), n)] = True
        budgets = (
            [(np.arange(n), n, float(ctx.hours.sum() * 60.0))]
            if self.blocking is None
            else self.blocking.days(ctx.grid)
        )
        unmet = 0
        for slots, blocks, allowed in budgets:
            wanted = [int(t) for t in slots if need[t] > 1e-6]  # noqa: PLR2004
            for t in sorted(wanted, key=lambda t: -need[t]):
                if on[t] < 0.5:  # noqa: PLR2004
                    continue
                trial = self._with_block(on, fixed, t, rest, run)
                if trial is not None and _within(
                    trial, slots, blocks, allowed, ctx, was_on=self.is_on
                ):
                    on = trial
                else:
                    unmet += 1
        return on, unmet

    def _with_block(
        self, on: FloatArray, fixed: npt.NDArray[np.bool_], t: int, rest: int, run: int
    ) -> FloatArray | None:
        """``on`` with a block over slot ``t`` (None: the minimum times forbid it).

        The block starts at ``t`` or joins a block just before it, lasts at
        least ``rest`` slots, and closes gaps shorter than ``run`` slots.
        """
        n = on.shape[0]
        trial = on.copy()
        trial[t : min(t + rest, n)] = 0.0
        # Close a run shorter than the minimum run time on either side.
        for side in (-1, 1):
            edge = t - 1 if side < 0 else min(t + rest, n)
            gap: list[int] = []
            while 0 <= edge < n and trial[edge] > 0.5 and len(gap) < run:  # noqa: PLR2004
                gap.append(edge)
                edge += side
            if gap and len(gap) < run and 0 <= edge < n:
                trial[gap] = 0.0
        if (fixed & (trial != on)).any():
            return None
        return trial

    def _add_blocking(
        self,
        ctx: BuildContext,
        rules: BlockingRules,
        on: IndexArray,
        down: IndexArray,
    ) -> None:
        """Cap off-periods and off-minutes per local day.

        ``down[t]`` is at least ``on[t-1] - on[t]`` (the current state before
        slot 0), so summing it counts the blocks that start in a day; an
        off-period already running at the start is no new block. Off-minutes
        are the slot lengths (a partial first slot counts its real minutes).

        Where the grid limits leave no other way (no block left and a window
        the pump cannot run in), a steeply priced overrun keeps the problem
        solvable and is explained: the relays will refuse that block.
        """
        m = ctx.model
        minutes = ctx.hours * 60.0
        for slots, blocks, allowed in rules.days(ctx.grid):
            ones = np.zeros(slots.shape[0], dtype=np.int64)
            if blocks < slots.shape[0]:
                over = m.add_vars(1, 0.0, np.inf, PENALTY_BLOCK_OVERRUN_EUR)
                row = m.add_rows(1, -np.inf, float(blocks))
                m.add_terms(row[ones], down[slots], 1.0)
                m.add_terms(row, over, -1.0)
                self._overruns.append((int(slots[0]), over))
            total = float(minutes[slots].sum())
            if allowed < total:
                # sum minutes (1 - on) <= allowed (+ overrun)
                over = m.add_vars(1, 0.0, np.inf, PENALTY_BLOCKED_MINUTE_EUR)
                row = m.add_rows(1, total - allowed, np.inf)
                m.add_terms(row[ones], on[slots], minutes[slots])
                m.add_terms(row, over, 1.0)
                self._overruns.append((int(slots[0]), over))

    def warm_hint(self, previous: WarmHint, ctx: BuildContext) -> None:
        """On where the previous plan ran the compressor."""
        if self._on is None or self.thermostat:
            return
        setpoint = previous.setpoint_kw
        on = np.where(np.isnan(setpoint), np.nan, (setpoint > RUNNING_KW).astype(float))
        ctx.model.hint(self._on, on)

    def _track(
        self, x: FloatArray, ctx: BuildContext, min_on: int, min_off: int
    ) -> FloatArray:
        """On/off that follows the relaxed indoor temperatures.

        Switches on when the house would fall behind the relaxed plan, at
        least at the minimum modulation, and keeps minimum run and off times.
        """
        hours = ctx.hours
        c = self.heat_capacity
        target = x[self._t_in]
        gas = x[self._gas] if self._gas is not None else np.zeros(ctx.n)
        p_min = self.min_modulation * self.max_power_kw
        on = np.zeros(ctx.n)
        temp = self.indoor_c
        slot = ctx.grid.slot_minutes
        held = math.ceil(min(self.state_minutes, LONG_AGO_MINUTES) / slot)
        running = self.is_on
        for t in range(ctx.n):
            drift = (
                gas[t] + self.gains_kw[t] + self.heat_loss * (self.outdoor_c[t] - temp)
            )
            off = temp + hours[t] * drift / c
            must_run = running and held < min_on
            must_rest = not running and held < min_off
            want = off < target[t] - TOLERANCE_K
            turn_on = must_run or (want and not must_rest)
            if turn_on:
                needed = (target[t] - off) * c / (hours[t] * self.cop[t])
                power = min(max(needed, p_min), self.max_power_kw)
                temp = off + hours[t] * self.cop[t] * power / c
                on[t] = 1.0
            else:
                temp = off
            if turn_on == running:
                held += 1
            else:
                running, held = turn_on, 1
        return on

    def _schedule(
        self, x: FloatArray, ctx: BuildContext, min_on: int, min_off: int
    ) -> FloatArray:
        """On/off for the warm start: the cheapest schedule for this house.

        With every other device held where the relaxation put it, a dynamic
        programme over the indoor temperature (0.02 K steps) and the run or
        rest so far chooses, per slot, off or one of a few power levels,
        pricing each slot at its marginal grid cost plus comfort penalties.
        Falls back to following the relaxed temperatures if that fails.
        """
        try:
            return self._dynamic_programme(x, ctx, max(min_on, 1), max(min_off, 1))
        except ValueError, IndexError:  # pragma: no cover - defensive
            return self._track(x, ctx, min_on, min_off)

    def _dynamic_programme(
        self, x: FloatArray, ctx: BuildContext, run: int, rest: int
    ) -> FloatArray:
        n = ctx.n
        hours = ctx.hours
        c = self.heat_capacity
        gas = x[self._gas] if self._gas is not None else np.zeros(n)
        base = x[ctx.import_cols] - x[ctx.export_cols] - x[self._p_sh]
        p_min = max(self.min_modulation, DP_MIN_SHARE) * self.max_power_kw
        levels = np.linspace(p_min, self.max_power_kw, DP_LEVELS)
        low, high = self._band_low, self._band_high
        t_low = min(self.indoor_c, float(low.min())) - 2.0
        t_high = max(self.indoor_c, float(high.max())) + 1.0
        grid_t = np.arange(t_low, t_high + DP_STEP_K, DP_STEP_K, dtype=np.float64)
        size = grid_t.shape[0]
        # Per-slot tables, computed once: heat drift, lifts and grid costs.
        keep = 1.0 - self.heat_loss * hours / c
        drift = hours * (gas + self.gains_kw + self.heat_loss * self.outdoor_c) / c
        lifts = (hours * self.cop / c)[:, None] * levels[None, :]
        off_cost = exchange_costs(base, ctx)
        on_costs = exchange_costs(base[:, None] + levels[None, :], ctx)
        comfort = PENALTY_COMFORT_EUR_PER_KH * hours
        # Temperatures a slot ends at, from each grid point (off, or on at
        # each level), and what that slot costs: these depend on the slot
        # only, not on the run/rest mode or the future.
        after_off = keep[:, None] * grid_t[None, :] + drift[:, None]
        after_on = after_off[:, None, :] + lifts[:, :, None]
        cost_off = (
            comfort[:, None] * _outside(after_off, low[:, None], high[:, None])
            + off_cost[:, None]
        )
        cost_on = (
            comfort[:, None, None]
            * _outside(after_on, low[:, None, None], high[:, None, None])
            + on_costs[:, :, None]
        )
        off_next, may_stop, on_next, may_start = _transitions(run, rest)
        end = self._end.cost(grid_t) if self._end is not None else np.zeros(size)
        value = np.repeat(end[None, :], run + rest, axis=0)
        policy = np.zeros((n, run + rest, size), dtype=np.int8)
        for t in range(n - 1, -1, -1):
            stay_off = cost_off[t] + interp_rows(value[run:], after_off[t], grid_t)
            running = cost_on[t] + interp_rows(value[:run], after_on[t], grid_t)
            pick = np.argmin(running, axis=1)
            cheapest = running.min(axis=1)
            best = np.where(may_stop, stay_off[off_next], BLOCKED_EUR)
            start = cheapest[on_next]
            better = may_start & (start < best)
            value = np.where(better, start, best)
            policy[t] = np.where(better, pick[on_next] + 1, 0)
        # Forward: follow the policy from the current state.
        held = math.ceil(
            min(self.state_minutes, LONG_AGO_MINUTES) / ctx.grid.slot_minutes
        )
        mode = (min(held, run) - 1) if self.is_on else run + min(held, rest) - 1
        mode = max(mode, 0 if self.is_on else run)
        temp = self.indoor_c
        on = np.zeros(n)
        moves = (
            [int(k) + run for k in off_next],
            [int(k) for k in on_next],
        )
        for t in range(n):
            index = min(max(round((temp - t_low) / DP_STEP_K), 0), size - 1)
            action = int(policy[t, mode, index])
            temp = float(keep[t] * temp + drift[t])
            if action:
                on[t] = 1.0
                temp += float(lifts[t, action - 1])
            mode = moves[action > 0][mode]
        return on

    def extract(self, values: FloatArray, ctx: BuildContext) -> DeviceResult:
        """Compressor power, temperatures, gas use and comfort explanations."""
        hours = ctx.hours
        p_sh = values[self._p_sh]
        power = p_sh.copy()
        series_extra: dict[str, list[float]] = {}
        if self.thermostat and self._on is not None:
            # The setpoint is the mode: blocked (0) or the thermostat's own.
            series_extra["power_kw"] = rounded(p_sh)
            power = np.where(values[self._on] > 0.5, self.max_power_kw, 0.0)  # noqa: PLR2004
        series: dict[str, list[float]] = {
            "indoor_c": rounded(
                np.concatenate([[self.indoor_c], values[self._t_in]]), 2
            ),
            "space_heating_kw": rounded(p_sh),
            "cop": rounded(self.cop, 2),
            "comfort_min_c": rounded(self._band_low, 2),
            "comfort_max_c": rounded(self._band_high, 2),
            **series_extra,
        }
        if self._p_dhw is not None and self._t_dhw is not None:
            p_dhw = values[self._p_dhw]
            power += p_dhw
            series["hot_water_kw"] = rounded(p_dhw)
            series["tank_c"] = rounded(
                np.concatenate([[self.dhw_temp], values[self._t_dhw]]), 2
            )
        costs: dict[str, float] = {}
        if self._gas is not None:
            gas = values[self._gas]
            series["gas_kw"] = rounded(gas)
            costs["gas_eur"] = float(gas @ hours) * self.gas_eur_per_kwh_heat
        result = DeviceResult(
            setpoint_kw=rounded(power),
            series=series,
            costs=costs,
            summary={
                "kind": self.kind,
                "on_off": self.min_modulation >= 1.0 or self.thermostat,
                "control": self.control,
            },
        )
        cold = values[self._cold]
        if (cold > TOLERANCE_K).any():
            worst = int(np.argmax(cold))
            cause = (
                "the grid limit caps the heat pump"
                if ctx.window[worst]
                or ctx.import_cap_kw[worst] < ctx.import_cap_kw.max()
                else "the heat pump cannot keep up"
            )
            result.explanations.append(
                f"{self.name}: indoor {values[self._t_in][worst]:.1f} degC at "
                f"{ctx.grid.label(min(worst + 1, ctx.n - 1))}, {cold[worst]:.1f} degC "
                f"below the comfort band: {cause}"
            )
        if self.thermostat and self._unmet:
            rules = self.blocking
            left = (
                ""
                if rules is None
                else f" ({rules.blocks_left_today} block(s) and "
                f"{rules.blocked_minutes_left_today:g} min left today)"
            )
            result.explanations.append(
                f"{self.name}: {self._unmet} slot(s) need a block to keep the pump "
                f"within the limits, which the blocking rules no longer allow{left}"
            )
        for first, over in self._overruns:
            if float(values[over][0]) > TOLERANCE_K:
                result.explanations.append(
                    f"{self.name}: the grid limits need more blocking than the "
                    f"rules allow (the day from {ctx.grid.label(first)}); the "
                    "relays will refuse it and the guard must shed other load"
                )
                break
        if self._dhw_cold is not None and self._t_dhw is not None:
            dcold = values[self._dhw_cold]
            if (dcold > TOLERANCE_K).any():
                worst = int(np.argmax(dcold))
                result.explanations.append(
                    f"{self.name}: hot water {values[self._t_dhw][worst]:.1f} degC at "
                    f"{ctx.grid.label(min(worst + 1, ctx.n - 1))}, below "
                    f"{self.dhw_min:g} degC"
                )
        return result

    def safe_power_kw(self, ctx: BuildContext) -> FloatArray:
        """Off in the fallback plan (the guard keeps the house heated)."""
        return np.zeros(ctx.n)


def _transitions(
    run: int, rest: int
) -> tuple[IndexArray, npt.NDArray[np.bool_], IndexArray, npt.NDArray[np.bool_]]:
    """Where each run/rest mode goes when the pump is off or on next.

    Modes ``0..run-1`` mean on for ``k + 1`` slots, ``run..run+rest-1`` off
    for ``k + 1 - run`` slots. Returns the next mode when off (counted from
    ``run``, that is, a row of the off modes) and whether stopping is allowed,
    then the next mode when on (an on mode) and whether starting is allowed;
    the flags are columns, to broadcast over temperatures.
    """
    modes = np.arange(run + rest)
    is_on = modes < run
    count = np.where(is_on, modes, modes - run) + 1
    off_next = np.where(is_on, 0, np.minimum(count, rest - 1))
    may_stop = (~is_on | (count >= run))[:, None]
    on_next = np.where(is_on, np.minimum(count, run - 1), 0)
    may_start = (is_on | (count >= rest))[:, None]
    return off_next, may_stop, on_next, may_start


def _max_price(ctx: BuildContext) -> float:
    """Return the dearest import price (EUR/kWh), at least a cent."""
    return max(float(ctx.prices.import_eur_per_kwh.max()), 0.01)


def _outside(temps: FloatArray, low: FloatArray, high: FloatArray) -> FloatArray:
    """Kelvin outside the comfort band."""
    outside: FloatArray = np.maximum(low - temps, 0.0) + np.maximum(temps - high, 0.0)
    return outside
