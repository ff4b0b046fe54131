"""Electric boiler: a hot-water tank with an on/off element.

The tank temperature follows a first-order model with a standing loss to
the room and a hot-water draw forecast::

    C (T[t] - T[t-1]) = eta P on[t] h - draw[t] - UA (T[t-1] - T_room) h

with ``C = volume x 1.163 Wh/(l K)``. The element is on/off (one binary per
slot). The water never drops below 40 degC (a steep penalty, explained when
the draw outruns the grid limits), and when a legionella run is due, the
tank reaches 60 degC or more in one slot of the user's window, the cheapest.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from custom_components.stroomwijs.engine.planner.lp import FloatArray, IndexArray
from custom_components.stroomwijs.engine.planner.schema import Reader
from custom_components.stroomwijs.engine.planner.timegrid import TimeGrid

from .base import (
    BLOCKED_EUR,
    PENALTY_HOT_WATER_EUR_PER_KH,
    PENALTY_LEGIONELLA_EUR,
    PENALTY_RESERVE_EUR_PER_KWH,
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

WATER_KWH_PER_LITRE_K = 4.186 / 3600.0
DP_STEP_K = 0.1
"""Temperature step of the warm start's dynamic programme."""
TOLERANCE_K = 0.05


class BoilerBlock(Block):
    """An electric hot-water boiler."""

    kind: ClassVar[str] = "boiler"

    def __init__(self, reader: Reader, grid: TimeGrid) -> None:
        """Read the tank, element, draw forecast and legionella window."""
        super().__init__(reader, grid)
        self.volume_l = reader.number("volume_l", above=0.0, high=2000.0)
        self.power_kw = reader.number("power_kw", above=0.0, high=20.0)
        self.efficiency = reader.number("efficiency", 1.0, above=0.0, high=1.0)
        self.temperature_c = reader.number("temperature_c", low=0.0, high=100.0)
        self.min_c = reader.number("min_c", 40.0, low=0.0, high=100.0)
        self.max_c = reader.number("max_c", 75.0, low=0.0, high=100.0)
        if self.min_c >= self.max_c:
            raise reader.error("min_c", "must be below max_c")
        self.room_c = reader.number("room_c", 18.0, low=-20.0, high=40.0)
        self.loss_w_per_k = reader.number("loss_w_per_k", 1.0, low=0.0, high=100.0)
        self.draw_kwh = np.asarray(
            reader.series("draw_kwh", grid.count, 0.0, low=0.0), dtype=np.float64
        )
        legionella = reader.obj("legionella")
        self.legionella_due = legionella.boolean(
            "due", default=legionella.has("window_start")
        )
        self.legionella_c = legionella.number(
            "temperature_c", 60.0, low=50.0, high=90.0
        )
        window_start = legionella.optional_time("window_start")
        window_end = legionella.optional_time("window_end")
        legionella.reject_unknown()
        if self.legionella_due:
            if window_start is None or window_end is None:
                raise legionella.error(
                    "window_start", "a due run needs window_start and window_end"
                )
            if window_end <= window_start:
                raise legionella.error("window_end", "must be after window_start")
            if self.legionella_c > self.max_c:
                raise legionella.error("temperature_c", "is above the boiler's max_c")
        self.end_condition = read_end_condition(reader)
        self.phases: PhaseShares = read_phases(reader, default_phases=1)
        reader.reject_unknown()
        self.capacity_kwh_per_k = self.volume_l * WATER_KWH_PER_LITRE_K
        if self.legionella_due and window_start and window_end:
            first = grid.index_at_or_after(window_start)
            last = grid.index_at_or_after(window_end)
            # The temperature is known at slot ends: slot t ends inside the window.
            self.legionella_slots = list(range(max(first - 1, 0), max(last - 1, 0)))
            self.legionella_slots = [t for t in self.legionella_slots if t < grid.count]
        else:
            self.legionella_slots = []
        self._on: IndexArray = np.empty(0, dtype=np.int64)
        self._temp: IndexArray = np.empty(0, dtype=np.int64)
        self._cold: IndexArray = np.empty(0, dtype=np.int64)
        self._leg: IndexArray | None = None
        self._leg_miss: IndexArray | None = None
        self._end: EndValue | None = None
        self._end_short: IndexArray | None = None

    def phase_shares(self) -> PhaseShares:
        """Return the element's phase."""
        return self.phases

    def build(self, ctx: BuildContext) -> None:
        """Add the element, the tank temperature and the hot-water rules."""
        m = ctx.model
        n = ctx.n
        hours = ctx.hours
        cap = self.capacity_kwh_per_k
        ua = self.loss_w_per_k / 1000.0
        self._on = m.add_binaries(n, ctx.time_preference * self.power_kw * hours)
        m.hint_sequence(self._on, tracker=lambda x: self._track(x, ctx))
        upper = max(self.max_c, self.temperature_c)
        self._temp = m.add_vars(n, -np.inf, upper)
        keep = 1.0 - ua * hours / cap
        rhs = (ua * self.room_c * hours - self.draw_kwh) / cap
        rhs[0] += keep[0] * self.temperature_c
        rows = m.add_rows(n, rhs, rhs)
        m.add_terms(rows, self._temp, 1.0)
        m.add_terms(rows[1:], self._temp[:-1], -keep[1:])
        m.add_terms(rows, self._on, -self.efficiency * self.power_kw * hours / cap)
        ctx.power_terms.append(PowerTerm(self._on, self.power_kw, self.phases))
        # Heat left in the tank at the end, against the start temperature:
        # see ``end_value`` (never worth more than the energy that made it).
        per_k = cap / self.efficiency
        self._end = end_value(
            ctx, self.end_condition, self.temperature_c, make_kwh=per_k, save_kwh=per_k
        )
        self._end_short = self._end.add(ctx, self._temp)

        # Never below the minimum: a steep penalty per degree and hour.
        self._cold = m.add_vars(n, 0.0, np.inf, PENALTY_HOT_WATER_EUR_PER_KH * hours)
        low = m.add_rows(n, self.min_c, np.inf)
        m.add_terms(low, self._temp, 1.0)
        m.add_terms(low, self._cold, 1.0)

        # Avoid needless switching: a small cost per start.
        starts = m.add_vars(n, 0.0, 1.0, SWITCH_COST_EUR)
        switch = m.add_rows(n, -np.inf, 0.0)  # on[t] - on[t-1] - start[t] <= 0
        m.add_terms(switch, self._on, 1.0)
        m.add_terms(switch[1:], self._on[:-1], -1.0)
        m.add_terms(switch, starts, -1.0)

        if self.legionella_due:
            self._leg_miss = m.add_vars(1, 0.0, 1.0, PENALTY_LEGIONELLA_EUR)
            row = m.add_rows(1, 1.0, 1.0)
            m.add_terms(row, self._leg_miss, 1.0)
            if self.legionella_slots:
                slots = np.asarray(self.legionella_slots, dtype=np.int64)
                self._leg = m.add_binaries(slots.shape[0])
                m.hint_choose_one(self._leg)
                m.add_terms(row, self._leg, 1.0)
                # T + cold - (60 - 40) l >= 40: tight, and 60 degC when chosen.
                lift = self.legionella_c - self.min_c
                hot = m.add_rows(slots.shape[0], self.min_c, np.inf)
                m.add_terms(hot, self._temp[slots], 1.0)
                m.add_terms(hot, self._cold[slots], 1.0)
                m.add_terms(hot, self._leg, -lift)

    def warm_hint(self, previous: WarmHint, ctx: BuildContext) -> None:
        """Hint the element as the previous plan ran it, and its legionella slot."""
        setpoint = previous.setpoint_kw
        on = np.where(
            np.isnan(setpoint), np.nan, (setpoint > self.power_kw / 2).astype(float)
        )
        ctx.model.hint(self._on, on)
        slot = previous.slot("legionella_slot")
        if self._leg is not None and slot is not None and slot in self.legionella_slots:
            chosen = np.asarray(self.legionella_slots) == slot
            ctx.model.hint(self._leg, chosen.astype(float))

    def _track(self, x: FloatArray, ctx: BuildContext) -> FloatArray:
        """On/off for the warm start: the cheapest schedule for this tank.

        With every other device held where the relaxation put it, each slot
        has a marginal cost for running the element (import, or PV surplus
        that would otherwise be exported). A dynamic programme over the tank
        temperature (0.1 K steps) then picks the cheapest on/off schedule
        that keeps the water hot and reaches the legionella temperature in
        the slot the relaxation chose.
        """
        n = ctx.n
        hours = ctx.hours
        cap = self.capacity_kwh_per_k
        ua = self.loss_w_per_k / 1000.0
        own = self.power_kw * x[self._on]
        base = x[ctx.import_cols] - x[ctx.export_cols] - own
        # Per slot: the grid cost with the element off and on.
        costs = exchange_costs(base[:, None] + np.array([0.0, self.power_kw]), ctx)
        # A thermostat's reserve counts against the cap, not in the price:
        # what the element adds to its shortfall costs what the plan pays.
        if ctx.reserve_terms:
            worst = base + ctx.reserve_kw(x) - ctx.import_cap_kw
            short = np.maximum(worst + self.power_kw, 0.0) - np.maximum(worst, 0.0)
            # ... and on the element's phase (the room there counts reserves).
            room = ctx.phase_room_kw(self.phases, x, self._on)
            short = np.maximum(short, self.power_kw - room)
            costs[:, 1] += PENALTY_RESERVE_EUR_PER_KWH * hours * short
        legionella = -1
        if self._leg is not None and (x[self._leg] > 0.5).any():  # noqa: PLR2004
            legionella = self.legionella_slots[int(np.argmax(x[self._leg]))]
        low = min(self.temperature_c, self.min_c) - 10.0
        high = max(self.max_c, self.temperature_c)
        grid_t = np.arange(low, high + DP_STEP_K, DP_STEP_K, dtype=np.float64)
        value: FloatArray = (
            self._end.cost(grid_t) if self._end is not None else np.zeros_like(grid_t)
        )
        keep = 1.0 - ua * hours / cap
        drift = (ua * self.room_c * hours - self.draw_kwh) / cap
        lift = self.efficiency * self.power_kw * hours / cap
        cold_weight = PENALTY_HOT_WATER_EUR_PER_KH * hours
        choice = np.zeros((n, grid_t.shape[0]), dtype=np.bool_)
        for t in range(n - 1, -1, -1):
            after_off = keep[t] * grid_t + drift[t]
            after = np.stack([after_off, after_off + lift[t]])  # off, on
            future = interp_rows(value, after, grid_t)
            future += cold_weight[t] * np.maximum(self.min_c - after, 0.0)
            if t == legionella:
                future += PENALTY_HOT_WATER_EUR_PER_KH * np.maximum(
                    self.legionella_c - after, 0.0
                )
            total = np.where(
                after > self.max_c + 1e-6, BLOCKED_EUR, costs[t][:, None] + future
            )
            choice[t] = total[1] < total[0]
            value = np.minimum(total[0], total[1])
        on = np.zeros(n)
        temp = self.temperature_c
        size = grid_t.shape[0]
        for t in range(n):
            index = min(max(round((temp - low) / DP_STEP_K), 0), size - 1)
            temp = float(keep[t] * temp + drift[t])
            if choice[t, index] and temp + lift[t] <= self.max_c + 1e-6:
                on[t] = 1.0
                temp += float(lift[t])
        return on

    def extract(self, values: FloatArray, ctx: BuildContext) -> DeviceResult:
        """Element power, tank temperature and hot-water explanations."""
        on = np.round(values[self._on])
        temps = np.concatenate([[self.temperature_c], values[self._temp]])
        result = DeviceResult(
            setpoint_kw=rounded(on * self.power_kw),
            series={"temperature_c": rounded(temps, 2)},
            summary={"kind": self.kind},
        )
        cold = values[self._cold]
        if (cold > TOLERANCE_K).any():
            worst = int(np.argmax(cold))
            result.explanations.append(
                f"{self.name}: water drops to {temps[worst + 1]:.1f} degC by "
                f"{ctx.grid.label(min(worst + 1, ctx.n - 1))}, below "
                f"{self.min_c:g} degC: the hot-water draw outruns what the "
                "grid limits allow"
            )
        if (
            self._end_short is not None
            and self.end_condition == "keep"
            and values[self._end_short[0]] > TOLERANCE_K
        ):
            result.explanations.append(
                f"{self.name}: ends the plan at {temps[-1]:.1f} degC, below its "
                f"start of {self.temperature_c:g} degC: the grid limits leave no "
                "room to reheat it"
            )
        if self.legionella_due:
            if self._leg is not None and (values[self._leg] > 0.5).any():  # noqa: PLR2004
                slot = self.legionella_slots[int(np.argmax(values[self._leg]))]
                result.summary["legionella_slot"] = slot
                result.explanations.append(
                    f"{self.name}: legionella run reaches {self.legionella_c:g} degC "
                    f"at {ctx.grid.label(min(slot + 1, ctx.n - 1))}"
                )
            else:
                result.summary["legionella_slot"] = None
                result.explanations.append(
                    f"{self.name}: legionella run to {self.legionella_c:g} degC is "
                    "not possible inside its window under the grid limits"
                )
        return result

    def safe_power_kw(self, ctx: BuildContext) -> FloatArray:
        """Off in the fallback plan; the tank coasts on its stored heat."""
        return np.zeros(ctx.n)
