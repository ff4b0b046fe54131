"""Home battery: continuous charge and discharge between SoC bounds.

A home battery inverter modulates down to zero, so the block needs no
binaries: charging and discharging at once only loses energy, which the
optimiser avoids by itself. The battery ends the plan no emptier than it
started (or at ``end_soc``), so that it does not sell its charge at the
horizon's edge only because the plan cannot see beyond it.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from custom_components.stroomwijs.engine.planner.lp import FloatArray, IndexArray
from custom_components.stroomwijs.engine.planner.schema import Reader
from custom_components.stroomwijs.engine.planner.timegrid import TimeGrid

from .base import (
    PENALTY_EV_TARGET_EUR_PER_KWH,
    Block,
    BuildContext,
    DeviceResult,
    PhaseShares,
    PowerTerm,
    end_value,
    read_end_condition,
    read_phases,
    rounded,
)

TOLERANCE_KWH = 0.01


class BatteryBlock(Block):
    """A stationary battery behind the meter."""

    kind: ClassVar[str] = "battery"

    def __init__(self, reader: Reader, grid: TimeGrid) -> None:
        """Read the battery's size, state and limits."""
        super().__init__(reader, grid)
        self.capacity_kwh = reader.number("capacity_kwh", above=0.0, high=1000.0)
        self.soc = reader.number("soc", low=0.0, high=1.0)
        self.min_soc = reader.number("min_soc", 0.0, low=0.0, high=1.0)
        self.max_soc = reader.number("max_soc", 1.0, low=0.0, high=1.0)
        if self.min_soc > self.max_soc:
            raise reader.error("min_soc", "is above max_soc")
        self.end_soc = reader.number("end_soc", self.soc, low=0.0, high=1.0)
        self.max_charge_kw = reader.number("max_charge_kw", low=0.0, high=1000.0)
        self.max_discharge_kw = reader.number(
            "max_discharge_kw", self.max_charge_kw, low=0.0, high=1000.0
        )
        if reader.has("round_trip_efficiency"):
            trip = reader.number("round_trip_efficiency", above=0.0, high=1.0)
            self.eta_charge = self.eta_discharge = math.sqrt(trip)
        else:
            self.eta_charge = reader.number(
                "charge_efficiency", 0.95, above=0.0, high=1.0
            )
            self.eta_discharge = reader.number(
                "discharge_efficiency", 0.95, above=0.0, high=1.0
            )
        self.degradation = reader.number("degradation_eur_per_kwh", 0.0, low=0.0)
        self.may_export = reader.boolean("may_export", default=True)
        self.end_condition = read_end_condition(reader, "keep")
        self.phases: PhaseShares = read_phases(reader, default_phases=3)
        reader.reject_unknown()
        self.e0 = self.soc * self.capacity_kwh
        self._c: IndexArray = np.empty(0, dtype=np.int64)
        self._d: IndexArray = np.empty(0, dtype=np.int64)
        self._e: IndexArray = np.empty(0, dtype=np.int64)
        self._short: IndexArray | None = None

    def phase_shares(self) -> PhaseShares:
        """Return the inverter's phases."""
        return self.phases

    def build(self, ctx: BuildContext) -> None:
        """Add charge, discharge and energy per slot."""
        m = ctx.model
        n = ctx.n
        hours = ctx.hours
        self._c = m.add_vars(n, 0.0, self.max_charge_kw, ctx.time_preference * hours)
        self._d = m.add_vars(n, 0.0, self.max_discharge_kw, self.degradation * hours)
        low = min(self.min_soc * self.capacity_kwh, self.e0)
        high = max(self.max_soc * self.capacity_kwh, self.e0)
        self._e = m.add_vars(n, low, high)
        rhs = np.zeros(n)
        rhs[0] = self.e0
        rows = m.add_rows(n, rhs, rhs)
        m.add_terms(rows, self._e, 1.0)
        m.add_terms(rows[1:], self._e[:-1], -1.0)
        m.add_terms(rows, self._c, -self.eta_charge * hours)
        m.add_terms(rows, self._d, hours / self.eta_discharge)
        ctx.power_terms.append(PowerTerm(self._c, 1.0, self.phases))
        ctx.power_terms.append(PowerTerm(self._d, -1.0, self.phases))
        if self.may_export:
            ctx.export_sources.append(PowerTerm(self._d, 1.0, self.phases))
        end = min(self.end_soc, self.max_soc) * self.capacity_kwh
        if self.end_condition != "keep":
            # Valued (or free): no hard end, the charge left is worth what
            # it saves later (see ``end_value``).
            end_value(
                ctx,
                self.end_condition,
                end,
                make_kwh=1.0 / self.eta_charge,
                save_kwh=self.eta_discharge,
            ).add(ctx, self._e)
            return
        hard_end = min(end, self.e0)
        row = m.add_rows(1, hard_end, np.inf)
        m.add_terms(row, self._e[-1:], 1.0)
        if end > hard_end + TOLERANCE_KWH:
            self._short = m.add_vars(
                1, 0.0, end - hard_end, PENALTY_EV_TARGET_EUR_PER_KWH
            )
            soft = m.add_rows(1, end, np.inf)
            m.add_terms(soft, self._e[-1:], 1.0)
            m.add_terms(soft, self._short, 1.0)

    def extract(self, values: FloatArray, ctx: BuildContext) -> DeviceResult:
        """Setpoints (charge positive) and the SoC trajectory."""
        charge = values[self._c]
        discharge = values[self._d]
        energy = np.concatenate([[self.e0], values[self._e]])
        result = DeviceResult(
            setpoint_kw=rounded(charge - discharge),
            series={"soc": rounded(energy / self.capacity_kwh)},
            summary={"kind": self.kind},
            costs={"degradation_eur": float(discharge @ ctx.hours) * self.degradation},
        )
        if self._short is not None and values[self._short[0]] > TOLERANCE_KWH:
            result.explanations.append(
                f"{self.name}: cannot end at {self.end_soc:.0%}; "
                f"{energy[-1] / self.capacity_kwh:.0%} at the end of the plan"
            )
        return result

    def safe_power_kw(self, ctx: BuildContext) -> FloatArray:
        """Idle in the fallback plan."""
        return np.zeros(ctx.n)
