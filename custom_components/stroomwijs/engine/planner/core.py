"""The planner core: grid balance, hard limits, prices and capacity cost.

Per slot ``t`` (powers in kW, averaged over the slot)::

    import[t] - export[t] = base[t] - shed[t] - (pv[t] - curtailed[t])
                            + sum of device powers[t]

with, as hard bounds that no penalty can buy off:

* ``import[t] <= min(DSO import cap[t], whole fuse)``,
  ``export[t] <= min(DSO export cap[t], whole fuse)``;
* per phase, ``|net power on the phase| <= fuse x voltage``;
* export only from PV and from storage allowed to feed back (V2G, battery).

``shed`` is uncontrolled load the grid limits cannot carry (a steep penalty
and an explanation: the guard must then curtail), so a plan always exists.
When the export price beats the import price in a slot, a direction binary
stops the plan importing and exporting at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
import hashlib
import time

import numpy as np

from .blocks import BuildContext, DeviceResult, PowerTerm, WarmHint
from .blocks.base import PENALTY_RESERVE_EUR_PER_KWH
from .lp import FloatArray, IndexArray, ModelBuilder, Solution, SolveStatus
from .plan import Plan, SolverReport
from .problem import Problem

PENALTY_SHED_EUR_PER_KWH = 100.0
CURTAIL_EUR_PER_KWH = 1e-4
"""PV is curtailed only when exporting it costs money or breaks a limit."""
SELF_CONSUMPTION_EUR_PER_KWH = 1e-4
"""Tie-breaker on grid exchange: with equal costs, use energy at home."""
TIME_PREFERENCE_EUR_PER_KWH = 1e-4
"""Tie-breaker growing over the horizon: with equal costs, act earlier."""
REBOUND_EUR_PER_KW = 1e-4
"""Tie-breaker on import steps right after a DSO window ends. Like the others
it only chooses between plans of (nearly) equal cost: at 0.02 EUR/kW it was a
price, and bought smoothness with real money (0.1-0.3 cents a day on the
autumn reference days); the guard staggers releases at a window's end anyway."""
REBOUND_SLOTS = 4
FREEZE_AFTER_HOURS = 12.0
"""A warm re-plan proves its gap with the on/off pattern it kept from the
previous plan held from this many hours on (see ``solve``)."""
KW_TOLERANCE = 1e-3
MIN_SECOND_SOLVE_S = 0.2
"""The solve after a thermostat's first plan gets at least this long."""
FIRST_SOLVE_SHARE = 0.3
"""Share of the time left a thermostat's trial solve may take."""
MAX_REFINES = 3
"""Rounds of blocks added where a trial plan left a thermostat's reserve short."""


@dataclass(slots=True)
class _Core:
    """Column indices the core owns."""

    imp: IndexArray
    exp: IndexArray
    shed: IndexArray
    curtail: IndexArray
    peaks: list[tuple[IndexArray, float, str]]
    reserve_short: list[IndexArray] = field(default_factory=list)
    """Slack of the reserve rows: import (first), then each phase."""


def _context(problem: Problem, model: ModelBuilder) -> BuildContext:
    n = problem.grid.count
    ramp = np.arange(n, dtype=np.float64) / max(n - 1, 1)
    if problem.connection.phases == 1:
        fixed = (problem.base_load_kw - problem.pv_kw)[None, :]
    else:
        fixed = np.stack(
            [
                problem.base_phases[k] * problem.base_load_kw
                - problem.pv_phases[k] * problem.pv_kw
                for k in range(3)
            ]
        )
    return BuildContext(
        model=model,
        grid=problem.grid,
        prices=problem.prices,
        base_load_kw=problem.base_load_kw,
        pv_kw=problem.pv_kw,
        window=problem.window,
        import_cap_kw=problem.import_cap_kw,
        export_cap_kw=problem.export_cap_kw,
        phase_limit_kw=problem.phase_limit_kw,
        fixed_phase_kw=fixed,
        time_preference=TIME_PREFERENCE_EUR_PER_KWH * ramp,
        rebound_eur_per_kw=_rebound_weights(problem.import_cap_kw),
    )


def _term_matrix(
    model: ModelBuilder, rows: IndexArray, term: PowerTerm, scale: float | FloatArray
) -> None:
    cols = term.cols
    coef = np.broadcast_to(np.asarray(term.coef, dtype=np.float64) * scale, cols.shape)
    valid = cols >= 0
    model.add_terms(rows[valid], cols[valid], coef[valid])


def _build_core(problem: Problem, ctx: BuildContext) -> _Core:
    m = ctx.model
    n = ctx.n
    hours = ctx.hours
    prices = problem.prices
    # Import and export, with a direction binary where exporting pays more.
    imp = m.add_vars(
        n,
        0.0,
        problem.import_cap_kw,
        (prices.import_eur_per_kwh + SELF_CONSUMPTION_EUR_PER_KWH) * hours,
    )
    exp = m.add_vars(
        n,
        0.0,
        problem.export_cap_kw,
        (-prices.export_eur_per_kwh + SELF_CONSUMPTION_EUR_PER_KWH) * hours,
    )
    ctx.import_cols = imp
    ctx.export_cols = exp
    arbitrage = np.nonzero(
        prices.export_eur_per_kwh
        >= prices.import_eur_per_kwh - 2 * SELF_CONSUMPTION_EUR_PER_KWH
    )[0]
    if arbitrage.shape[0]:
        direction = m.add_binaries(arbitrage.shape[0])
        rows = m.add_rows(arbitrage.shape[0], -np.inf, 0.0)  # imp - cap * dir <= 0
        m.add_terms(rows, imp[arbitrage], 1.0)
        m.add_terms(rows, direction, -problem.import_cap_kw[arbitrage])
        rows = m.add_rows(arbitrage.shape[0], -np.inf, problem.export_cap_kw[arbitrage])
        m.add_terms(rows, exp[arbitrage], 1.0)  # exp + cap * dir <= cap
        m.add_terms(rows, direction, problem.export_cap_kw[arbitrage])
    shed = m.add_vars(n, 0.0, problem.base_load_kw, PENALTY_SHED_EUR_PER_KWH * hours)
    curtail = m.add_vars(n, 0.0, problem.pv_kw, CURTAIL_EUR_PER_KWH * hours)
    return _Core(imp=imp, exp=exp, shed=shed, curtail=curtail, peaks=[])


def _add_balance(problem: Problem, ctx: BuildContext, core: _Core) -> None:
    m = ctx.model
    n = ctx.n
    # imp - exp + shed - curtail - sum(devices) = base - pv
    balance = m.add_rows(
        n, problem.base_load_kw - problem.pv_kw, problem.base_load_kw - problem.pv_kw
    )
    m.add_terms(balance, core.imp, 1.0)
    m.add_terms(balance, core.exp, -1.0)
    m.add_terms(balance, core.shed, 1.0)
    m.add_terms(balance, core.curtail, -1.0)
    for term in ctx.power_terms:
        _term_matrix(m, balance, term, -1.0)

    # Per-phase fuse: -limit <= device share + base share - pv share <= limit.
    limit = problem.phase_limit_kw
    phases = problem.connection.phases
    for phase in range(phases):
        if phases == 1:
            base_share = pv_share = 1.0
        else:
            base_share = problem.base_phases[phase]
            pv_share = problem.pv_phases[phase]
        fixed = base_share * problem.base_load_kw - pv_share * problem.pv_kw
        rows = m.add_rows(n, -limit - fixed, limit - fixed)
        m.add_terms(rows, core.shed, -base_share)
        m.add_terms(rows, core.curtail, pv_share)
        for term in ctx.power_terms:
            share = 1.0 if phases == 1 else term.phases[phase]
            if share:
                _term_matrix(m, rows, term, share)

    if ctx.reserve_terms:
        _add_reserve(problem, ctx, core)

    # Export only from PV and from storage allowed to feed back.
    rows = m.add_rows(n, -np.inf, problem.pv_kw)  # exp + curtail - sources <= pv
    m.add_terms(rows, core.exp, 1.0)
    m.add_terms(rows, core.curtail, 1.0)
    for term in ctx.export_sources:
        _term_matrix(m, rows, term, -1.0)


def _add_reserve(problem: Problem, ctx: BuildContext, core: _Core) -> None:
    """Add the import cap and the fuse once more, with the reserve terms.

    A thermostat-driven device may draw more than its planned power (up to
    its reserve) whenever the plan lets it run; the limits must hold then
    too. Only the import side: extra load never raises export. A slack,
    priced steeply (below unserved load) and explained, keeps the problem
    solvable where nothing else can make room (the guard must then shed).
    """
    m = ctx.model
    n = ctx.n
    weight = PENALTY_RESERVE_EUR_PER_KWH * ctx.hours
    # imp - exp + reserve - short <= import cap
    short = m.add_vars(n, 0.0, np.inf, weight)
    rows = m.add_rows(n, -np.inf, problem.import_cap_kw)
    m.add_terms(rows, core.imp, 1.0)
    m.add_terms(rows, core.exp, -1.0)
    m.add_terms(rows, short, -1.0)
    for term in ctx.reserve_terms:
        _term_matrix(m, rows, term, 1.0)
    core.reserve_short.append(short)
    limit = problem.phase_limit_kw
    phases = problem.connection.phases
    for phase in range(phases):
        if phases == 1:
            base_share = pv_share = 1.0
        else:
            base_share = problem.base_phases[phase]
            pv_share = problem.pv_phases[phase]
        fixed = base_share * problem.base_load_kw - pv_share * problem.pv_kw
        short = m.add_vars(n, 0.0, np.inf, weight)
        rows = m.add_rows(n, -np.inf, limit - fixed)
        m.add_terms(rows, core.shed, -base_share)
        m.add_terms(rows, core.curtail, pv_share)
        m.add_terms(rows, short, -1.0)
        for term in [*ctx.power_terms, *ctx.reserve_terms]:
            share = 1.0 if phases == 1 else term.phases[phase]
            if share:
                _term_matrix(m, rows, term, share)
        core.reserve_short.append(short)


def _reserve_explanations(
    problem: Problem, core: _Core, values: FloatArray
) -> list[str]:
    """Say where a thermostat-driven device may break a limit the plan keeps."""
    if not core.reserve_short:
        return []
    short = np.max(np.stack([values[cols] for cols in core.reserve_short]), axis=0)
    over = np.nonzero(short > KW_TOLERANCE)[0]
    if not over.shape[0]:
        return []
    first = int(over[0])
    message = (
        f"From {problem.grid.label(first)}, a heat pump on its own thermostat may "
        f"draw up to {float(short.max()):.1f} kW more than the grid limit or the "
        f"fuse leaves ({over.shape[0]} slot(s)) where the plan cannot block it; "
        "if it runs there, the guard must curtail other load."
    )
    return [message]


def _rebound_weights(caps: FloatArray) -> FloatArray:
    """EUR per kW of import step in each slot of the hour after a DSO window."""
    weights = np.zeros(caps.shape[0])
    ends = np.nonzero(caps[1:] > caps[:-1] + KW_TOLERANCE)[0] + 1
    for end in ends:
        for k in range(REBOUND_SLOTS):
            t = int(end) + k
            if t < caps.shape[0]:
                weight = REBOUND_EUR_PER_KW * (REBOUND_SLOTS - k) / REBOUND_SLOTS
                weights[t] = max(weights[t], weight)
    return weights


def _add_rebound(problem: Problem, ctx: BuildContext, core: _Core) -> None:
    """Penalise import steps just after a DSO window, most at its very end."""
    m = ctx.model
    index = np.nonzero(ctx.rebound_eur_per_kw)[0]
    if not index.shape[0]:
        return
    steps = m.add_vars(index.shape[0], 0.0, np.inf, ctx.rebound_eur_per_kw[index])
    rows = m.add_rows(index.shape[0], -np.inf, 0.0)  # imp[t] - imp[t-1] - step <= 0
    m.add_terms(rows, core.imp[index], 1.0)
    m.add_terms(rows, core.imp[index - 1], -1.0)
    m.add_terms(rows, steps, -1.0)


def _add_capacity(problem: Problem, ctx: BuildContext, core: _Core) -> None:
    """One peak per calendar month in the horizon, floored as billed."""
    tariff = problem.capacity
    if tariff is None:
        return
    m = ctx.model
    grid = problem.grid
    months = [grid.local(grid.slot_start(t)).strftime("%Y-%m") for t in range(ctx.n)]
    quarter_h = 0.25
    for number, month in enumerate(dict.fromkeys(months)):
        slots = np.asarray([t for t, name in enumerate(months) if name == month])
        floor = tariff.minimum_kw
        if number == 0:
            floor = max(floor, tariff.month_peak_so_far_kw)
        peak = m.add_vars(1, floor, np.inf, tariff.eur_per_kw_month)
        m.offset -= tariff.eur_per_kw_month * floor
        scale = np.ones(slots.shape[0])
        rhs = np.zeros(slots.shape[0])
        if (
            number == 0
            and slots[0] == 0
            and grid.first_slot_minutes < grid.slot_minutes
        ):
            # The first quarter-hour already carries energy imported before now.
            scale[0] = grid.hours[0] / quarter_h
            rhs[0] = tariff.current_quarter_energy_kwh / quarter_h
        rows = m.add_rows(slots.shape[0], rhs, np.inf)  # peak - avg import >= rhs
        m.add_terms(rows, peak, 1.0)
        m.add_terms(rows, core.imp[slots], -scale)
        core.peaks.append((peak, floor, month))


def _build(problem: Problem) -> tuple[ModelBuilder, BuildContext, _Core]:
    model = ModelBuilder()
    ctx = _context(problem, model)
    core = _build_core(problem, ctx)
    for device in problem.devices:
        device.build(ctx)
    _add_balance(problem, ctx, core)
    _add_rebound(problem, ctx, core)
    _add_capacity(problem, ctx, core)
    return model, ctx, core


def model_fingerprint(problem: Problem) -> str:
    """Return a hash of the MILP a problem builds (a reference solve's key)."""
    model, _, _ = _build(problem)
    digest = hashlib.sha256()
    for part in model.arrays():
        digest.update(np.ascontiguousarray(part).tobytes())
    return digest.hexdigest()[:24]


def _align(problem: Problem, previous: Plan) -> tuple[list[int], int | None]:
    """For each new slot, the previous plan's slot that covers it (-1: none).

    Also returns how many of the previous plan's slots have passed when the
    grids line up slot for slot (the new slot 1, or slot 0 when whole, starts
    where a previous slot starts), else None.
    """
    grid = problem.grid
    try:
        starts = [datetime.fromisoformat(text) for text in previous.slot_starts]
    except ValueError:
        return [-1] * grid.count, None
    if any(start.tzinfo is None for start in starts):
        return [-1] * grid.count, None  # times without a zone cannot be placed
    ends = [
        s + timedelta(hours=h)
        for s, h in zip(starts, previous.slot_hours, strict=False)
    ]
    index: list[int] = []
    j = 0
    for t in range(grid.count):
        moment = grid.slot_start(t)
        while j < len(starts) and ends[j] <= moment:
            j += 1
        index.append(j if j < len(starts) and starts[j] <= moment else -1)
    shift: int | None = None
    probe = 1 if grid.first_slot_minutes < grid.slot_minutes else 0
    if (
        probe < grid.count
        and index[probe] >= 0
        and starts[index[probe]] == grid.slot_start(probe)
    ):
        shift = index[probe] - probe
    return index, shift


def _hint_from(problem: Problem, ctx: BuildContext, previous: Plan) -> bool:
    """Hint the model with ``previous`` (a warm re-plan); False if nothing fits."""
    index, shift = _align(problem, previous)
    where = np.asarray(index)
    if (where < 0).all():
        return False
    used = False
    for device in problem.devices:
        result = previous.devices.get(device.device_id)
        if result is None or len(result.setpoint_kw) != len(previous.slot_starts):
            continue
        old = np.asarray(result.setpoint_kw, dtype=np.float64)
        aligned = np.where(where >= 0, old[np.maximum(where, 0)], np.nan)
        device.warm_hint(
            WarmHint(setpoint_kw=aligned, shift=shift, summary=dict(result.summary)),
            ctx,
        )
        used = True
    return used


def _freeze_slot(ctx: BuildContext) -> int:
    """Return the first slot that starts ``FREEZE_AFTER_HOURS`` or more from now."""
    starts = np.concatenate([[0.0], np.cumsum(ctx.hours)[:-1]])
    return int(np.searchsorted(starts, FREEZE_AFTER_HOURS - 1e-9))


def solve(
    problem: Problem,
    *,
    now: datetime | None = None,
    warm_start: Plan | None = None,
) -> Plan:
    """Plan the household; never raises for a valid problem.

    The solve is bounded by ``problem.solver.time_limit_s``; on a timeout the
    best plan found so far is used, and if there is none, a rule-based plan
    that keeps every device at its safe minimum.

    ``warm_start`` is a previous plan (model-predictive control: re-planning
    every few minutes). It may be on an older time grid: each new slot takes
    the setpoints of the previous slot that covers it, slots past its end
    are completed from the relaxation, and devices it does not know are
    planned as usual. What it did becomes the first incumbent; the solve then
    only has to improve on it (and stops at the usual gap). ``now`` is the
    plan's creation time (default: the clock).
    """
    for device in problem.devices:
        device.reset()
    limit = problem.solver.time_limit_s
    started = time.perf_counter()
    model, ctx, core = _build(problem)
    solution: Solution | None = None
    solve_s = 0.0
    if ctx.reserve_terms:
        built, warm, solution, solve_s = _refine_blocks(
            problem, (model, ctx, core), warm_start, started
        )
        model, ctx, core = built
    else:
        warm = _warm(problem, ctx, warm_start)
    if solution is None:
        left = limit
        if solve_s > 0.0:  # after a thermostat's trial plans
            left = max(limit - (time.perf_counter() - started), MIN_SECOND_SOLVE_S)
        solution = _run(problem, model, ctx, warm, left)
        solve_s += solution.solve_time_s
    report = SolverReport(
        status=solution.status.value,
        solver_status=solution.solver_status,
        mip_gap=solution.mip_gap,
        solve_time_s=solve_s,
        objective_eur=solution.objective,
        variables=model.num_cols,
        constraints=model.num_rows,
        warm_start=warm,
    )
    created = now or datetime.now(UTC)
    if solution.status is SolveStatus.NO_SOLUTION:
        return _fallback(problem, ctx, report, created)
    values = solution.values
    results = {d.device_id: d.extract(values, ctx) for d in problem.devices}
    imports = values[core.imp]
    exports = values[core.exp]
    shed = values[core.shed]
    curtailed = values[core.curtail]
    explanations: list[str] = []
    if solution.status is SolveStatus.TIME_LIMIT:
        explanations.append(
            f"The solver stopped at its {problem.solver.time_limit_s:g} s limit; "
            f"this is the best plan found (gap {solution.mip_gap:.1%})."
        )
    explanations.extend(_shed_explanations(problem, shed))
    explanations.extend(_reserve_explanations(problem, core, values))
    capacity_eur = 0.0
    peak_kw: float | None = None
    for peak, floor, month in core.peaks:
        value = float(values[peak[0]])
        peak_kw = value if peak_kw is None else peak_kw
        capacity_eur += (value - floor) * (
            problem.capacity.eur_per_kw_month if problem.capacity else 0.0
        )
        if value > floor + KW_TOLERANCE:
            explanations.append(
                f"The {month} capacity peak rises from {floor:.2f} kW to "
                f"{value:.2f} kW: the extra energy is worth more than the extra "
                "capacity cost."
            )
    return Plan.assemble(
        problem=problem,
        created=created,
        imports=imports,
        exports=exports,
        shed=shed,
        curtailed=curtailed,
        devices=results,
        capacity_extra_eur=capacity_eur,
        capacity_peak_kw=peak_kw,
        objective_eur=solution.objective,
        explanations=explanations,
        report=report,
    )


def _refine_blocks(
    problem: Problem,
    built: tuple[ModelBuilder, BuildContext, _Core],
    warm_start: Plan | None,
    started: float,
) -> tuple[tuple[ModelBuilder, BuildContext, _Core], bool, Solution | None, float]:
    """Trial plans for a thermostat-driven pump; block where they fall short.

    Returns the model to solve (rebuilt when blocks were added) and whether
    the previous plan hints it, a plan already proven optimal (else None)
    and the solve time spent.
    """
    limit = problem.solver.time_limit_s
    spent = 0.0
    for _ in range(MAX_REFINES):
        model, ctx, core = built
        warm = _warm(problem, ctx, warm_start)
        left = limit - (time.perf_counter() - started)
        first, used = _first_plan(problem, model, ctx, core, warm, limit=left)
        spent += used
        if first is not None:
            proven = first if first.status is SolveStatus.OPTIMAL else None
            return built, warm, proven, spent
        built = _build(problem)
    return built, _warm(problem, built[1], warm_start), None, spent


def _first_plan(
    problem: Problem,
    model: ModelBuilder,
    ctx: BuildContext,
    core: _Core,
    warm: bool,  # noqa: FBT001
    *,
    limit: float,
) -> tuple[Solution | None, float]:
    """Return a first plan for a household with a thermostat-driven pump.

    Where the pump's reserve is left short because another device must run
    there (a tank at its floor), the pump is to be blocked there too, as far
    as its rules allow: then None (build and solve again). The short shows
    in the warm start's plan or, failing that, in a solve given part of the
    time (of ``limit``). Also returns the solve time spent.
    """
    first = _run(problem, model, ctx, warm, limit, incumbent_only=True)
    spent = first.solve_time_s
    short = _reserve_short(core, first)
    if short is None and first.status is not SolveStatus.OPTIMAL:
        first = _run(problem, model, ctx, warm, limit * FIRST_SOLVE_SHARE)
        spent += first.solve_time_s
        short = _reserve_short(core, first)
    if short is not None:
        refined = [device.refine(short) for device in problem.devices]
        if any(refined):
            return None, spent
    return first, spent


def _warm(problem: Problem, ctx: BuildContext, warm_start: Plan | None) -> bool:
    """Hint the model with the previous plan; whether it could be used."""
    # A fallback plan holds safe minimums, not a plan worth starting from.
    return (
        warm_start is not None
        and warm_start.solver.status != "fallback"
        and _hint_from(problem, ctx, warm_start)
    )


def _run(
    problem: Problem,
    model: ModelBuilder,
    ctx: BuildContext,
    warm: bool,  # noqa: FBT001
    time_limit_s: float,
    *,
    incumbent_only: bool = False,
) -> Solution:
    return model.solve(
        time_limit_s=time_limit_s,
        mip_rel_gap=problem.solver.mip_rel_gap,
        mip_abs_gap=problem.solver.mip_abs_gap_eur,
        threads=problem.solver.threads,
        freeze_from=_freeze_slot(ctx) if warm else None,
        incumbent_only=incumbent_only,
    )


def _reserve_short(core: _Core, solution: Solution) -> FloatArray | None:
    """Per slot, how far the limits fell short of the reserve (None: nowhere)."""
    if not core.reserve_short or solution.status is SolveStatus.NO_SOLUTION:
        return None
    values = solution.values
    short: FloatArray = np.max(
        np.stack([values[cols] for cols in core.reserve_short]), axis=0
    )
    return short if (short > KW_TOLERANCE).any() else None


def _shed_explanations(problem: Problem, shed: FloatArray) -> list[str]:
    over = np.nonzero(shed > KW_TOLERANCE)[0]
    if not over.shape[0]:
        return []
    first = int(over[0])
    message = (
        f"The uncontrolled load ({problem.base_load_kw[first]:.1f} kW at "
        f"{problem.grid.label(first)}) exceeds what the grid limit "
        f"({problem.import_cap_kw[first]:g} kW) allows with PV; the guard must "
        f"curtail {float(shed.max()):.1f} kW in {over.shape[0]} slot(s)."
    )
    return [message]


def _fallback(
    problem: Problem, ctx: BuildContext, report: SolverReport, created: datetime
) -> Plan:
    """Return a rule-based plan that keeps the limits: devices at their safe minimum."""
    n = ctx.n
    results: dict[str, DeviceResult] = {}
    phase_power = np.zeros((3, n))
    total = np.zeros(n)
    phases = problem.connection.phases
    for device in problem.devices:
        result = device.safe_result(ctx)
        results[device.device_id] = result
        power = np.asarray(result.setpoint_kw)
        total += power
        for k, share in enumerate(device.phase_shares()):
            phase_power[k] += share * power
    net = problem.base_load_kw - problem.pv_kw + total
    shed = np.clip(net - problem.import_cap_kw, 0.0, problem.base_load_kw)
    limit = problem.phase_limit_kw
    if phases == 3:  # noqa: PLR2004
        for k in range(3):
            share = problem.base_phases[k]
            phase_net = (
                share * problem.base_load_kw
                - problem.pv_phases[k] * problem.pv_kw
                + phase_power[k]
            )
            if share > 0:
                need = np.clip((phase_net - limit) / share, 0.0, None)
                shed = np.minimum(np.maximum(shed, need), problem.base_load_kw)
    net -= shed
    curtailed = np.clip(-net - problem.export_cap_kw, 0.0, problem.pv_kw)
    net += curtailed
    imports = np.clip(net, 0.0, None)
    exports = np.clip(-net, 0.0, None)
    summary = (
        f"No plan was found in time ({report.solver_status}); this rule-based "
        "plan keeps every device at its safe minimum and respects the grid limits."
    )
    explanations = [summary, *_shed_explanations(problem, shed)]
    fallback_report = replace(report, status="fallback", objective_eur=float("nan"))
    return Plan.assemble(
        problem=problem,
        created=created,
        imports=imports,
        exports=exports,
        shed=shed,
        curtailed=curtailed,
        devices=results,
        capacity_extra_eur=0.0,
        capacity_peak_kw=None,
        objective_eur=float("nan"),
        explanations=explanations,
        report=fallback_report,
    )
