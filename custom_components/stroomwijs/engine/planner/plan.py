"""The plan: setpoints per device per slot, grid flows, costs and reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import json
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from .blocks import DeviceResult
from .blocks.base import rounded
from .lp import FloatArray
from .schema import ProblemError, Reader

if TYPE_CHECKING:
    from .problem import Problem

PLAN_VERSION = 1
_FLAT_LIST = re.compile(r"\[\s+([^\[\]{}]*?)\s+\]")
"""A JSON list of plain values, spread over lines by ``indent``."""


@dataclass(frozen=True, slots=True)
class SolverReport:
    """What the solver said and how long it took."""

    status: str
    """``optimal``, ``time_limit`` (best plan found) or ``fallback``."""
    solver_status: str
    mip_gap: float
    solve_time_s: float
    objective_eur: float
    variables: int
    constraints: int
    warm_start: bool = False
    """Whether a previous plan was used as the first incumbent."""


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Money over the horizon, in EUR (positive is paid)."""

    import_eur: float
    export_revenue_eur: float
    capacity_eur: float
    device_eur: dict[str, float]
    """Per cost kind over all devices: gas, degradation, double energy tax."""
    penalties_eur: float
    """Penalties for comfort and targets that gave way (plus tie-breakers)."""

    @property
    def total_eur(self) -> float:
        """Energy, capacity and device costs, without penalties."""
        return (
            self.import_eur
            - self.export_revenue_eur
            + self.capacity_eur
            + sum(self.device_eur.values())
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The planner's answer for one household."""

    created: datetime
    slot_starts: list[str]
    slot_hours: list[float]
    import_kw: list[float]
    export_kw: list[float]
    import_price: list[float]
    export_price: list[float]
    import_cap_kw: list[float]
    export_cap_kw: list[float]
    pv_curtailed_kw: list[float]
    unserved_load_kw: list[float]
    phase_kw: list[list[float]]
    """Net power per phase per slot (import positive)."""
    devices: dict[str, DeviceResult]
    cost: CostBreakdown
    capacity_peak_kw: float | None
    explanations: list[str]
    solver: SolverReport
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def assemble(
        cls,
        *,
        problem: Problem,
        created: datetime,
        imports: FloatArray,
        exports: FloatArray,
        shed: FloatArray,
        curtailed: FloatArray,
        devices: dict[str, DeviceResult],
        capacity_extra_eur: float,
        capacity_peak_kw: float | None,
        objective_eur: float,
        explanations: list[str],
        report: SolverReport,
    ) -> Plan:
        """Put a plan together from the solved (or fallback) values."""
        hours = problem.grid.hours
        prices = problem.prices
        import_eur = float(imports * prices.import_eur_per_kwh @ hours)
        export_eur = float(exports * prices.export_eur_per_kwh @ hours)
        device_eur: dict[str, float] = {}
        for result in devices.values():
            for kind, value in result.costs.items():
                device_eur[kind] = device_eur.get(kind, 0.0) + value
        phases = problem.connection.phases
        phase_kw = np.zeros((phases, problem.grid.count))
        for k in range(phases):
            base_share = 1.0 if phases == 1 else problem.base_phases[k]
            pv_share = 1.0 if phases == 1 else problem.pv_phases[k]
            phase_kw[k] = base_share * (problem.base_load_kw - shed) - pv_share * (
                problem.pv_kw - curtailed
            )
        for device in problem.devices:
            result = devices[device.device_id]
            # A thermostat-driven pump's setpoint is its mode; it is expected
            # to draw ``power_kw``.
            power = np.asarray(result.series.get("power_kw", result.setpoint_kw))
            for k in range(phases):
                share = 1.0 if phases == 1 else device.phase_shares()[k]
                phase_kw[k] += share * power
        cost = CostBreakdown(
            import_eur=import_eur,
            export_revenue_eur=export_eur,
            capacity_eur=capacity_extra_eur,
            device_eur=device_eur,
            penalties_eur=0.0,
        )
        penalties = (
            objective_eur - cost.total_eur if math.isfinite(objective_eur) else 0.0
        )
        cost = CostBreakdown(
            import_eur=import_eur,
            export_revenue_eur=export_eur,
            capacity_eur=capacity_extra_eur,
            device_eur=device_eur,
            penalties_eur=max(penalties, 0.0),
        )
        all_explanations = list(explanations)
        for result in devices.values():
            all_explanations.extend(result.explanations)
        return cls(
            created=created,
            slot_starts=problem.grid.starts_iso(),
            slot_hours=rounded(hours, 6),
            # Rounded for JSON, but never past a hard cap.
            import_kw=rounded(
                np.minimum(np.round(imports, 4), problem.import_cap_kw), 6
            ),
            export_kw=rounded(
                np.minimum(np.round(exports, 4), problem.export_cap_kw), 6
            ),
            import_price=rounded(prices.import_eur_per_kwh, 5),
            export_price=rounded(prices.export_eur_per_kwh, 5),
            import_cap_kw=rounded(problem.import_cap_kw),
            export_cap_kw=rounded(problem.export_cap_kw),
            pv_curtailed_kw=rounded(curtailed),
            unserved_load_kw=rounded(shed),
            phase_kw=[rounded(row) for row in phase_kw],
            devices=devices,
            cost=cost,
            capacity_peak_kw=capacity_peak_kw,
            explanations=all_explanations,
            solver=report,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data (see docs/planner.md)."""
        return {
            "version": PLAN_VERSION,
            "created": self.created.isoformat(),
            "status": self.solver.status,
            "solver": {
                "status": self.solver.status,
                "highs_status": self.solver.solver_status,
                "mip_gap": _finite(self.solver.mip_gap),
                "solve_time_s": round(self.solver.solve_time_s, 4),
                "objective_eur": _finite(self.solver.objective_eur),
                "variables": self.solver.variables,
                "constraints": self.solver.constraints,
                "warm_start": self.solver.warm_start,
            },
            "slots": {"start": self.slot_starts, "hours": self.slot_hours},
            "grid": {
                "import_kw": self.import_kw,
                "export_kw": self.export_kw,
                "import_cap_kw": self.import_cap_kw,
                "export_cap_kw": self.export_cap_kw,
                "phase_kw": self.phase_kw,
                "pv_curtailed_kw": self.pv_curtailed_kw,
                "unserved_load_kw": self.unserved_load_kw,
                "import_price_eur_per_kwh": self.import_price,
                "export_price_eur_per_kwh": self.export_price,
                "capacity_peak_kw": (
                    None
                    if self.capacity_peak_kw is None
                    else round(self.capacity_peak_kw, 4)
                ),
            },
            "devices": {
                device_id: {
                    **result.summary,
                    "setpoint_kw": result.setpoint_kw,
                    **result.series,
                    "costs_eur": {k: round(v, 4) for k, v in result.costs.items()},
                }
                for device_id, result in self.devices.items()
            },
            "cost": {
                "import_eur": round(self.cost.import_eur, 4),
                "export_revenue_eur": round(self.cost.export_revenue_eur, 4),
                "capacity_eur": round(self.cost.capacity_eur, 4),
                **{k: round(v, 4) for k, v in self.cost.device_eur.items()},
                "total_eur": round(self.cost.total_eur, 4),
                "penalties_eur": round(self.cost.penalties_eur, 4),
            },
            "explanations": self.explanations,
        }

    @classmethod
    def from_dict(cls, data: object) -> Plan:
        """Read a plan written by ``to_dict`` (e.g. the last valid plan, stored).

        Raises ProblemError naming the field when the data is not a plan.
        """
        plan = Reader(data, "plan")
        version = plan.integer("version", low=1, high=PLAN_VERSION)
        if version != PLAN_VERSION:  # pragma: no cover - one version so far
            raise plan.error("version", f"unsupported version {version}")
        plan.text("status")
        solver = plan.obj("solver")
        report = SolverReport(
            status=solver.text("status", choices=("optimal", "time_limit", "fallback")),
            solver_status=solver.text("highs_status"),
            mip_gap=_number_or(solver, "mip_gap", math.inf),
            solve_time_s=solver.number("solve_time_s", low=0.0),
            objective_eur=_number_or(solver, "objective_eur", math.nan),
            variables=solver.integer("variables", low=0, high=10**9),
            constraints=solver.integer("constraints", low=0, high=10**9),
            warm_start=solver.boolean("warm_start", default=False),
        )
        solver.reject_unknown()
        slots = plan.obj("slots")
        starts = slots.texts("start")
        n = len(starts)
        hours = slots.series("hours", n, low=0.0)
        slots.reject_unknown()
        grid = plan.obj("grid")
        series = {
            key: grid.series(key, n)
            for key in (
                "import_kw",
                "export_kw",
                "import_cap_kw",
                "export_cap_kw",
                "pv_curtailed_kw",
                "unserved_load_kw",
                "import_price_eur_per_kwh",
                "export_price_eur_per_kwh",
            )
        }
        phase_kw = [
            _row(row, f"{grid.where('phase_kw')}[{i}]", n)
            for i, row in enumerate(grid.lists("phase_kw"))
        ]
        peak = grid.optional_number("capacity_peak_kw")
        grid.reject_unknown()
        devices = {
            device_id: _device_from_dict(value, plan.where(f"devices.{device_id}"), n)
            for device_id, value in plan.mapping("devices").items()
        }
        cost = plan.obj("cost")
        known = {"import_eur", "export_revenue_eur", "capacity_eur", "total_eur"}
        known.add("penalties_eur")
        breakdown = CostBreakdown(
            import_eur=cost.number("import_eur"),
            export_revenue_eur=cost.number("export_revenue_eur"),
            capacity_eur=cost.number("capacity_eur"),
            device_eur={
                key: cost.number(key) for key in cost.names() if key not in known
            },
            penalties_eur=cost.number("penalties_eur"),
        )
        cost.number("total_eur")
        explanations = plan.texts("explanations")
        created = plan.time("created")
        plan.reject_unknown()
        return cls(
            created=created,
            slot_starts=starts,
            slot_hours=hours,
            import_kw=series["import_kw"],
            export_kw=series["export_kw"],
            import_price=series["import_price_eur_per_kwh"],
            export_price=series["export_price_eur_per_kwh"],
            import_cap_kw=series["import_cap_kw"],
            export_cap_kw=series["export_cap_kw"],
            pv_curtailed_kw=series["pv_curtailed_kw"],
            unserved_load_kw=series["unserved_load_kw"],
            phase_kw=phase_kw,
            devices=devices,
            cost=breakdown,
            capacity_peak_kw=peak,
            explanations=explanations,
            solver=report,
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a plan from JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            msg = f"plan is not valid JSON: {err.msg} at line {err.lineno}"
            raise ProblemError(msg) from None
        return cls.from_dict(data)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Return the plan as JSON text, with each series on one line."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if indent is None:
            return text
        return _FLAT_LIST.sub(lambda m: "[" + " ".join(m[1].split()) + "]", text)


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _number_or(reader: Reader, key: str, missing: float) -> float:
    return reader.number(key) if reader.has(key) else missing


def _row(values: object, where: str, n: int) -> list[float]:
    row = Reader({"row": values}, where).series("row", n)
    if len(row) != n:  # pragma: no cover - series() already checks
        msg = f"{where}: expected {n} values"
        raise ProblemError(msg)
    return row


def _device_from_dict(data: object, where: str, n: int) -> DeviceResult:
    reader = Reader(data, where)
    setpoint = reader.series("setpoint_kw", n)
    costs_reader = reader.obj("costs_eur")
    costs = {key: costs_reader.number(key) for key in costs_reader.names()}
    series: dict[str, list[float]] = {}
    summary: dict[str, float | str | bool | None] = {}
    for key in reader.names():
        if key in {"setpoint_kw", "costs_eur"}:
            continue
        value = reader.raw(key)
        if isinstance(value, list):
            series[key] = reader.numbers(key) or []
        elif value is None or isinstance(value, str | bool | int | float):
            summary[key] = value
        else:
            raise reader.error(key, "expected a number, text, flag or list")
    return DeviceResult(
        setpoint_kw=setpoint, series=series, costs=costs, summary=summary
    )
