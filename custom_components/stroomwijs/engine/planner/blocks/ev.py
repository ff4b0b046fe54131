"""Electric vehicle: charge-only, V2H-only or fully bidirectional (V2G).

Per plugged-in slot the block has an AC charge power ``c`` and, when the car
may discharge, an AC discharge power ``d``; the battery energy follows::

    e[t+1] = e[t] + eta_c * c[t] * h - d[t] / eta_d * h

Cars stall below 6-8 A, so when ``min_charge_kw`` is set the charge power is
semi-continuous (0, or between the minimum and the maximum), with one binary
per slot; discharge likewise. The guaranteed minimum SoC is a hard bound
(when the car arrives below it, the bound is its current SoC and a penalty
pushes it up as fast as the limits allow). The departure target is soft: if
the grid limits make it unreachable the plan says so, in words.

Discharged energy costs a degradation rate, and, with ``double_energy_tax``
(the Dutch situation for a car that feeds back), the energy tax once more:
it was paid when the energy went in and is paid again when it comes back.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from custom_components.stroomwijs.engine.planner.lp import FloatArray, IndexArray
from custom_components.stroomwijs.engine.planner.schema import Reader
from custom_components.stroomwijs.engine.planner.timegrid import TimeGrid

from .base import (
    BLOCKED_EUR,
    PENALTY_EV_TARGET_EUR_PER_KWH,
    PENALTY_MIN_SOC_EUR_PER_KWH,
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

MODES = ("v2g", "v2h", "charge_only")
TOLERANCE_KWH = 0.01
DP_STEP_KWH = 0.25
"""Energy step of the warm start's dynamic programme."""
DP_LEVELS = 4
"""Charge (and discharge) power levels the programme chooses from."""


class EvBlock(Block):
    """One car and its plugged-in session."""

    kind: ClassVar[str] = "ev"

    def __init__(self, reader: Reader, grid: TimeGrid) -> None:
        """Read the car, its session and the driver's needs."""
        super().__init__(reader, grid)
        self.capacity_kwh = reader.number("capacity_kwh", above=0.0, high=500.0)
        self.soc = reader.number("soc", low=0.0, high=1.0)
        self.target_soc = reader.number("target_soc", self.soc, low=0.0, high=1.0)
        self.min_soc = reader.number("min_soc", 0.0, low=0.0, high=1.0)
        self.max_charge_kw = reader.number("max_charge_kw", low=0.0, high=400.0)
        self.min_charge_kw = reader.number("min_charge_kw", 0.0, low=0.0)
        if self.min_charge_kw > self.max_charge_kw:
            raise reader.error("min_charge_kw", "is above max_charge_kw")
        self.mode = reader.text("mode", "charge_only", choices=MODES)
        discharge_default = 0.0 if self.mode == "charge_only" else self.max_charge_kw
        self.max_discharge_kw = reader.number(
            "max_discharge_kw", discharge_default, low=0.0, high=400.0
        )
        if self.mode == "charge_only":
            self.max_discharge_kw = 0.0
        self.min_discharge_kw = reader.number(
            "min_discharge_kw", self.min_charge_kw, low=0.0
        )
        if self.max_discharge_kw and self.min_discharge_kw > self.max_discharge_kw:
            raise reader.error("min_discharge_kw", "is above max_discharge_kw")
        if reader.has("round_trip_efficiency"):
            trip = reader.number("round_trip_efficiency", above=0.0, high=1.0)
            self.eta_charge = self.eta_discharge = math.sqrt(trip)
        else:
            self.eta_charge = reader.number(
                "charge_efficiency", 0.92, above=0.0, high=1.0
            )
            self.eta_discharge = reader.number(
                "discharge_efficiency", 0.92, above=0.0, high=1.0
            )
        self.degradation = reader.number("degradation_eur_per_kwh", 0.0, low=0.0)
        self.double_tax = reader.boolean("double_energy_tax", default=True)
        self.end_condition = read_end_condition(reader)
        arrival = reader.optional_time("arrival")
        departure = reader.optional_time("departure")
        self.phases: PhaseShares = read_phases(reader, default_phases=3)
        reader.reject_unknown()
        if arrival and departure and departure <= arrival:
            raise reader.error("departure", "must be after arrival")

        self.first = grid.index_at_or_after(arrival) if arrival else 0
        self.last = grid.index_at_or_after(departure) if departure else grid.count
        self.departure_in_horizon = departure is not None and departure <= grid.end
        self.departure_label = (
            grid.local(departure).strftime("%H:%M")
            if departure is not None and self.departure_in_horizon
            else "the end of the plan"
        )
        self.slots = max(self.last - self.first, 0)
        self.e0 = self.soc * self.capacity_kwh
        self.e_min = self.min_soc * self.capacity_kwh
        self.e_target = self.target_soc * self.capacity_kwh
        self._c: IndexArray = np.empty(0, dtype=np.int64)
        self._d: IndexArray | None = None
        self._e: IndexArray = np.empty(0, dtype=np.int64)
        self._short: IndexArray | None = None
        self._below: IndexArray | None = None
        self._end: EndValue | None = None
        self._discharge_cost = 0.0
        self._on_c: IndexArray | None = None
        self._on_d: IndexArray | None = None

    def phase_shares(self) -> PhaseShares:
        """Return the car's phases."""
        return self.phases

    def build(self, ctx: BuildContext) -> None:  # noqa: C901, PLR0915
        """Add charge/discharge powers, energy states and the session's needs."""
        if self.slots == 0:
            return
        m = ctx.model
        span = slice(self.first, self.last)
        hours = ctx.hours[span]
        k = self.slots
        self._c = m.add_vars(
            k, 0.0, self.max_charge_kw, ctx.time_preference[span] * hours
        )
        ctx.power_terms.append(PowerTerm(self._pad(self._c, ctx), 1.0, self.phases))
        e_low = min(self.e_min, self.e0)
        self._e = m.add_vars(k, e_low, self.capacity_kwh)
        # e[j] - e[j-1] - eta_c h c[j] + h d[j] / eta_d = 0 (e[-1] = e0)
        rhs = np.zeros(k)
        rhs[0] = self.e0
        rows = m.add_rows(k, rhs, rhs)
        m.add_terms(rows, self._e, 1.0)
        m.add_terms(rows[1:], self._e[:-1], -1.0)
        m.add_terms(rows, self._c, -self.eta_charge * hours)

        on_c: IndexArray | None = None
        if self.min_charge_kw > 0:
            on_c = m.add_binaries(k)
            self._semi_continuous(
                ctx, self._c, on_c, self.min_charge_kw, self.max_charge_kw
            )
        on_d: IndexArray | None = None
        if self.max_discharge_kw > 0:
            d_upper = np.full(k, self.max_discharge_kw)
            if self.mode == "v2h":
                # Discharge no more than the home's own load.
                d_upper = np.minimum(d_upper, ctx.base_load_kw[span])
            cost = self.degradation + (
                ctx.prices.energy_tax_incl_vat if self.double_tax else 0.0
            )
            self._discharge_cost = cost
            self._d = m.add_vars(k, 0.0, d_upper, cost * hours)
            m.add_terms(rows, self._d, hours / self.eta_discharge)
            ctx.power_terms.append(
                PowerTerm(self._pad(self._d, ctx), -1.0, self.phases)
            )
            if self.mode == "v2g":
                ctx.export_sources.append(
                    PowerTerm(self._pad(self._d, ctx), 1.0, self.phases)
                )
            if self.min_discharge_kw > 0 or on_c is not None:
                on_d = m.add_binaries(k)
                self._semi_continuous(
                    ctx, self._d, on_d, self.min_discharge_kw, d_upper
                )
                if on_c is not None:
                    excl = m.add_rows(k, -np.inf, 1.0)
                    m.add_terms(excl, on_c, 1.0)
                    m.add_terms(excl, on_d, 1.0)
        self._on_c, self._on_d = on_c, on_d
        if on_c is not None:
            m.hint_sequence(
                on_c,
                partner=on_d,
                tracker=lambda x: self._schedule(x, ctx),
                first_slot=self.first,
            )
        elif on_d is not None:
            m.hint_sequence(on_d, first_slot=self.first)

        if self.e_min > self.e0 + TOLERANCE_KWH:
            # Arrived below the guaranteed minimum: reach it as soon as possible.
            self._below = m.add_vars(
                k, 0.0, self.e_min - self.e0, PENALTY_MIN_SOC_EUR_PER_KWH * hours
            )
            low = m.add_rows(k, self.e_min, np.inf)
            m.add_terms(low, self._e, 1.0)
            m.add_terms(low, self._below, 1.0)
        target = min(self.e_target, self.capacity_kwh)
        # Charge left beyond the target (or the arrival level, if that is
        # higher) at departure saves charging later (see ``end_value``).
        per_kwh = 1.0 / self.eta_charge
        self._end = end_value(
            ctx,
            self.end_condition,
            max(target, self.e0),
            make_kwh=per_kwh,
            save_kwh=per_kwh,
        )
        self._end.add(ctx, self._e)
        if target > e_low + TOLERANCE_KWH:
            self._short = m.add_vars(1, 0.0, target, PENALTY_EV_TARGET_EUR_PER_KWH)
            row = m.add_rows(1, target, np.inf)
            m.add_terms(row, self._e[-1:], 1.0)
            m.add_terms(row, self._short, 1.0)

    def _track(self, x: FloatArray, ctx: BuildContext) -> FloatArray:
        """Charging slots for the warm start, where the limits leave room.

        Charges the energy the relaxation charged, in the cheapest plugged-in
        slots whose headroom under the import cap fits at least the minimum
        charge power (earlier first on a tie), each at the most it can take.
        """
        span = slice(self.first, self.last)
        hours = ctx.hours[span]
        charge = x[self._c]
        discharge = x[self._d] if self._d is not None else np.zeros(self.slots)
        others = x[ctx.import_cols[span]] - x[ctx.export_cols[span]]
        others = others - charge + discharge + ctx.reserve_kw(x)[span]
        headroom = ctx.import_cap_kw[span] - others
        usable = np.minimum(headroom, self.max_charge_kw)
        price = (
            ctx.prices.import_eur_per_kwh[span]
            + ctx.time_preference[span]
            + ctx.rebound_eur_per_kw[span] / hours
        )
        remaining = float(charge @ hours)
        on = np.zeros(self.slots)
        for t in np.argsort(price, kind="stable"):
            if remaining <= TOLERANCE_KWH:
                break
            if usable[t] < max(self.min_charge_kw, TOLERANCE_KWH) - 1e-9:
                continue
            on[t] = 1.0
            remaining -= float(usable[t] * hours[t])
        return on

    def warm_hint(self, previous: WarmHint, ctx: BuildContext) -> None:
        """Charge where the previous plan charged, discharge where it discharged."""
        setpoint = previous.setpoint_kw[self.first : self.last]
        known = ~np.isnan(setpoint)
        if self._on_c is not None:
            on = np.where(known, (setpoint > TOLERANCE_KWH).astype(float), np.nan)
            ctx.model.hint(self._on_c, on)
        if self._on_d is not None:
            on = np.where(known, (setpoint < -TOLERANCE_KWH).astype(float), np.nan)
            ctx.model.hint(self._on_d, on)

    def _schedule(self, x: FloatArray, ctx: BuildContext) -> FloatArray:
        """Charge (and discharge) slots for the warm start: the car's own plan.

        With every other device held where the relaxation put it, a dynamic
        programme over the car's energy (0.25 kWh steps) chooses per slot to
        idle, charge or discharge at one of a few power levels, priced at the
        slot's marginal grid cost (import, or export forgone), wear and the
        energy tax paid again, with the target and the value of charge left
        at departure. Returns the charge on/off values, followed by the
        discharge ones when the car may discharge. Falls back to the cheapest
        slots if that fails.
        """
        try:
            return self._dynamic_programme(x, ctx)
        except ValueError, IndexError:  # pragma: no cover - defensive
            on = self._track(x, ctx)
            if self._d is None:
                return on
            return np.concatenate([on, np.zeros(self.slots)])

    def _dynamic_programme(  # noqa: PLR0915
        self, x: FloatArray, ctx: BuildContext
    ) -> FloatArray:
        span = slice(self.first, self.last)
        k = self.slots
        hours = ctx.hours[span]
        charge = x[self._c]
        discharge = x[self._d] if self._d is not None else np.zeros(k)
        base = x[ctx.import_cols[span]] - x[ctx.export_cols[span]]
        base = base - charge + discharge
        # The most the car can take per slot: its charger, the import cap
        # left by the rest of the house, and its phases' fuse.
        c_low = max(self.min_charge_kw, 0.1 * self.max_charge_kw)
        # A thermostat's reserve counts against the cap, not in the price.
        room = ctx.import_cap_kw[span] - base - ctx.reserve_kw(x)[span]
        c_high = np.minimum(self.max_charge_kw, room)
        own = self._c if self._d is None else np.concatenate([self._c, self._d])
        c_high = np.minimum(c_high, ctx.phase_room_kw(self.phases, x, own)[span])
        levels = np.linspace(0.0, 1.0, DP_LEVELS)[None, :]
        charging = c_low + (np.maximum(c_high, c_low) - c_low)[:, None] * levels
        can_charge = c_high >= c_low - 1e-9
        powers = [np.zeros((k, 1)), charging]
        d_upper = np.full(k, self.max_discharge_kw)
        if self.mode == "v2h":
            d_upper = np.minimum(d_upper, ctx.base_load_kw[span])
        if self._d is not None and self.max_discharge_kw > 0:
            d_low = max(self.min_discharge_kw, 0.1 * self.max_discharge_kw)
            top = np.maximum(d_upper, d_low)
            powers.append(-(d_low + (top - d_low)[:, None] * levels))
        power = np.concatenate(powers, axis=1)  # kW per slot, discharge negative
        # Energy change and cost of each action in each slot.
        delta = np.where(
            power > 0,
            self.eta_charge * power * hours[:, None],
            power * hours[:, None] / self.eta_discharge,
        )
        padded = np.zeros((ctx.n, power.shape[1]))
        padded[span] = base[:, None] + power
        cost = exchange_costs(padded, ctx)[span]
        cost += np.maximum(-power, 0.0) * hours[:, None] * self._discharge_cost
        cost += (
            np.maximum(power, 0.0) * hours[:, None] * ctx.time_preference[span][:, None]
        )
        # Charging just after a DSO window steps the import up (the rebound
        # tie-breaker charges per kW of step).
        cost += np.maximum(power, 0.0) * ctx.rebound_eur_per_kw[span][:, None]
        blocked = ((power > 0) & ~can_charge[:, None]) | (
            -power > d_upper[:, None] + 1e-9
        )
        cost = np.where(blocked, BLOCKED_EUR, cost)
        e_low = min(self.e_min, self.e0)
        grid_e = np.arange(
            e_low, self.capacity_kwh + DP_STEP_KWH, DP_STEP_KWH, dtype=np.float64
        )
        grid_e = np.minimum(grid_e, self.capacity_kwh)
        target = min(self.e_target, self.capacity_kwh)
        value: FloatArray = PENALTY_EV_TARGET_EUR_PER_KWH * np.maximum(
            target - grid_e, 0.0
        )
        if self._end is not None:
            value = value + self._end.cost(grid_e)
        choice = np.zeros((k, grid_e.shape[0]), dtype=np.int64)
        for t in range(k - 1, -1, -1):
            after = grid_e[None, :] + delta[t][:, None]
            future = interp_rows(value[None, :], after, grid_e)[0]
            outside = (after > self.capacity_kwh + 1e-6) | (after < e_low - 1e-6)
            total = np.where(outside, BLOCKED_EUR, cost[t][:, None] + future)
            choice[t] = np.argmin(total, axis=0)
            value = total[choice[t], np.arange(grid_e.shape[0])]
        on_c = np.zeros(k)
        on_d = np.zeros(k)
        energy = self.e0
        for t in range(k):
            index = int(np.argmin(np.abs(grid_e - energy)))
            action = int(choice[t, index])
            after = energy + float(delta[t, action])
            if not e_low - 1e-6 <= after <= self.capacity_kwh + 1e-6:
                continue
            energy = after
            if power[t, action] > 0:
                on_c[t] = 1.0
            elif power[t, action] < 0:
                on_d[t] = 1.0
        if self._d is None:
            return on_c
        return np.concatenate([on_c, on_d])

    def _pad(self, cols: IndexArray, ctx: BuildContext) -> IndexArray:
        """Map plugged-in columns onto all slots (-1 where unplugged)."""
        full = np.full(ctx.n, -1, dtype=np.int64)
        full[self.first : self.last] = cols
        return full

    @staticmethod
    def _semi_continuous(
        ctx: BuildContext,
        power: IndexArray,
        on: IndexArray,
        low: float,
        high: float | FloatArray,
    ) -> None:
        m = ctx.model
        k = power.shape[0]
        upper = m.add_rows(k, -np.inf, 0.0)  # p - high * on <= 0
        m.add_terms(upper, power, 1.0)
        m.add_terms(upper, on, -np.broadcast_to(np.asarray(high, dtype=float), (k,)))
        if low > 0:
            lower = m.add_rows(k, 0.0, np.inf)  # p - low * on >= 0
            m.add_terms(lower, power, 1.0)
            m.add_terms(lower, on, -low)

    def extract(self, values: FloatArray, ctx: BuildContext) -> DeviceResult:
        """Return the car's setpoints, SoC trajectory, costs and explanations."""
        n = ctx.n
        setpoint = np.zeros(n)
        energy = np.full(n + 1, self.e0)
        discharged = 0.0
        if self.slots:
            span = slice(self.first, self.last)
            charge = values[self._c]
            setpoint[span] = charge
            if self._d is not None:
                discharge = values[self._d]
                setpoint[span] -= discharge
                discharged = float(discharge @ ctx.hours[span])
            energy[self.first + 1 : self.last + 1] = values[self._e]
            energy[self.last + 1 :] = values[self._e[-1]]
        result = DeviceResult(
            setpoint_kw=rounded(setpoint),
            series={"soc": rounded(energy / self.capacity_kwh)},
            summary={
                "kind": self.kind,
                "mode": self.mode,
                "departure_slot": self.last if self.departure_in_horizon else None,
                "soc_at_departure": round(
                    float(energy[self.last]) / self.capacity_kwh, 4
                ),
            },
        )
        result.costs["degradation_eur"] = discharged * self.degradation
        if self.double_tax:
            result.costs["double_energy_tax_eur"] = (
                discharged * ctx.prices.energy_tax_incl_vat
            )
        self._explain(values, ctx, energy, result)
        return result

    def _explain(
        self,
        values: FloatArray,
        ctx: BuildContext,
        energy: FloatArray,
        result: DeviceResult,
    ) -> None:
        if self.slots == 0:
            result.explanations.append(f"{self.name}: not plugged in during the plan.")
            return
        when = self.departure_label
        if self._short is not None and values[self._short[0]] > TOLERANCE_KWH:
            reached = float(energy[self.last]) / self.capacity_kwh
            span = slice(self.first, self.last)
            possible = self.e0 + self.eta_charge * self.max_charge_kw * float(
                ctx.hours[span].sum()
            )
            if possible < self.e_target - TOLERANCE_KWH:
                reason = f"at {self.max_charge_kw:g} kW in the time plugged in"
            else:
                caps = ctx.import_cap_kw[span]
                imports = values[ctx.import_cols[span]]
                binding = imports >= caps - 1e-3
                limit = (
                    float(caps[binding].min()) if binding.any() else float(caps.min())
                )
                reason = f"under the {limit:g} kW limit"
            result.explanations.append(
                f"{self.name}: target {self.target_soc:.0%} unreachable {reason}; "
                f"{reached:.0%} by {when}"
            )
            result.summary["target_reached"] = False
        else:
            result.summary["target_reached"] = True
        if self._below is not None:
            below = values[self._below] > TOLERANCE_KWH
            if below.any():
                last_below = self.first + int(np.nonzero(below)[0][-1])
                result.explanations.append(
                    f"{self.name}: arrived at {self.soc:.0%}, below its guaranteed "
                    f"{self.min_soc:.0%}; it charges first and reaches it by "
                    f"{ctx.grid.label(min(last_below + 1, ctx.n - 1))}"
                    if last_below + 1 < self.last
                    else f"{self.name}: arrived at {self.soc:.0%}, below its "
                    f"guaranteed {self.min_soc:.0%}, and cannot reach it by {when}"
                )

    def safe_power_kw(self, ctx: BuildContext) -> FloatArray:
        """No charging in the fallback plan: a parked car is always safe."""
        return np.zeros(ctx.n)
