"""A thin sparse-matrix builder over HiGHS, without a modelling layer.

Blocks add variables in vectors (one per slot, usually) and rows as triplets
of numpy arrays, so building a 192-slot household costs milliseconds. The
matrix is assembled once, column-wise, and handed to ``highspy`` directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
import time

import highspy
import numpy as np
import numpy.typing as npt

type FloatArray = npt.NDArray[np.float64]
type IndexArray = npt.NDArray[np.int64]
type ArrayLike = float | FloatArray | list[float]
type Tracker = Callable[[FloatArray], FloatArray]

INF = highspy.kHighsInf


class SolveStatus(StrEnum):
    """How a solve ended, in plain terms."""

    OPTIMAL = "optimal"
    """Solved to within the requested MIP gap."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit; the best plan found so far is used."""
    NO_SOLUTION = "no_solution"
    """The solver found no plan (the caller falls back to a safe plan)."""


@dataclass(frozen=True, slots=True)
class Solution:
    """Column values and the solver's own report."""

    values: FloatArray
    status: SolveStatus
    solver_status: str
    mip_gap: float
    objective: float
    solve_time_s: float


class ModelBuilder:
    """Collects columns, rows and matrix entries for one MILP."""

    def __init__(self) -> None:
        """Start an empty minimisation problem."""
        self._lower: list[FloatArray] = []
        self._upper: list[FloatArray] = []
        self._cost: list[FloatArray] = []
        self._integer: list[npt.NDArray[np.bool_]] = []
        self._row_lower: list[FloatArray] = []
        self._row_upper: list[FloatArray] = []
        self._entry_rows: list[IndexArray] = []
        self._entry_cols: list[IndexArray] = []
        self._entry_vals: list[FloatArray] = []
        self._extra_cost: list[tuple[IndexArray, FloatArray]] = []
        self._units: list[_Unit] = []
        self._hints: list[tuple[IndexArray, FloatArray]] = []
        self.num_cols = 0
        self.num_rows = 0
        self.offset = 0.0

    def add_vars(
        self,
        count: int,
        lower: ArrayLike = 0.0,
        upper: ArrayLike = INF,
        cost: ArrayLike = 0.0,
        *,
        integer: bool = False,
    ) -> IndexArray:
        """Add ``count`` columns and return their indices."""
        index = np.arange(self.num_cols, self.num_cols + count, dtype=np.int64)
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (count,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (count,)).copy()
        # Rounding can leave an upper bound a hair below the lower one.
        hi = np.maximum(hi, lo)
        self._lower.append(lo)
        self._upper.append(hi)
        self._cost.append(
            np.broadcast_to(np.asarray(cost, dtype=np.float64), (count,)).copy()
        )
        self._integer.append(np.full(count, integer, dtype=np.bool_))
        self.num_cols += count
        return index

    def add_binaries(self, count: int, cost: ArrayLike = 0.0) -> IndexArray:
        """Add ``count`` 0/1 columns."""
        return self.add_vars(count, 0.0, 1.0, cost, integer=True)

    def add_rows(
        self, count: int, lower: ArrayLike = -INF, upper: ArrayLike = INF
    ) -> IndexArray:
        """Add ``count`` empty rows with bounds and return their indices."""
        index = np.arange(self.num_rows, self.num_rows + count, dtype=np.int64)
        self._row_lower.append(
            np.broadcast_to(np.asarray(lower, dtype=np.float64), (count,)).copy()
        )
        self._row_upper.append(
            np.broadcast_to(np.asarray(upper, dtype=np.float64), (count,)).copy()
        )
        self.num_rows += count
        return index

    def add_terms(self, rows: IndexArray, cols: IndexArray, values: ArrayLike) -> None:
        """Add matrix entries; ``values`` broadcasts over the pairs.

        Entries for the same row and column add up.
        """
        rows_b, cols_b = np.broadcast_arrays(rows, cols)
        vals = np.broadcast_to(np.asarray(values, dtype=np.float64), rows_b.shape)
        self._entry_rows.append(np.asarray(rows_b, dtype=np.int64).ravel())
        self._entry_cols.append(np.asarray(cols_b, dtype=np.int64).ravel())
        self._entry_vals.append(np.asarray(vals, dtype=np.float64).ravel())

    def hint_choose_one(self, cols: IndexArray) -> None:
        """Binaries of which at most one is 1 (a start slot, a legionella slot).

        The warm-start heuristic rounds such a group to its largest member.
        """
        if cols.shape[0]:
            self._units.append(_Unit(cols=cols, choose_one=True))

    def hint_sequence(
        self,
        cols: IndexArray,
        *,
        min_on: int = 1,
        min_off: int = 1,
        partner: IndexArray | None = None,
        tracker: Tracker | None = None,
        first_slot: int = 0,
    ) -> None:
        """On/off binaries over consecutive slots of one device.

        The warm-start heuristic rounds them cumulatively (so the rounded plan
        runs as long in total as the relaxed one), repairs runs and gaps
        shorter than ``min_on``/``min_off``, and keeps ``partner`` binaries
        (discharge next to charge) from being 1 in the same slot. A block
        that can simulate itself passes a ``tracker``: given the relaxed
        solution it returns 0/1 values that follow the relaxed trajectory
        within the device's own hard bounds; it is tried first.
        ``cols[i]`` (and ``partner[i]``) belong to slot ``first_slot + i``.
        """
        if cols.shape[0]:
            self._units.append(
                _Unit(
                    cols=cols,
                    min_on=min_on,
                    min_off=min_off,
                    partner=partner,
                    tracker=tracker,
                    first_slot=first_slot,
                )
            )

    def hint(self, cols: IndexArray, values: ArrayLike) -> None:
        """Record what a previous plan did with these binaries (NaN: not known).

        The warm start tries these values first (see ``solve``'s warm
        re-plan), completing unknown ones from the relaxation.
        """
        vals = np.broadcast_to(np.asarray(values, dtype=np.float64), cols.shape)
        self._hints.append((cols.ravel(), vals.ravel().copy()))

    def add_cost(self, cols: IndexArray, cost: ArrayLike) -> None:
        """Add objective coefficients to existing columns."""
        values = np.broadcast_to(np.asarray(cost, dtype=np.float64), cols.shape)
        self._extra_cost.append((cols.ravel(), values.ravel().copy()))

    def _columns(
        self,
    ) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        lower = np.concatenate(self._lower) if self._lower else np.empty(0)
        upper = np.concatenate(self._upper) if self._upper else np.empty(0)
        integer = (
            np.concatenate(self._integer)
            if self._integer
            else np.empty(0, dtype=np.bool_)
        )
        cost = np.concatenate(self._cost) if self._cost else np.empty(0)
        for cols, values in self._extra_cost:
            np.add.at(cost, cols, values)
        return lower, upper, cost, integer

    def _warm_start(  # noqa: C901, PLR0912, PLR0915
        self,
        lp: highspy.HighsLp,
        integer: npt.NDArray[np.bool_],
        threads: int,
        time_limit_s: float,
        freeze_from: int | None = None,
    ) -> _Start | None:
        """Relax and fix, one device at a time: an incumbent for the MIP.

        HiGHS closes the gap at the root once it holds a good plan, but its
        own heuristics can take seconds to find one on a household model.
        Each device's binaries are rounded from the current relaxation and
        fixed; the relaxation is re-solved (a warm simplex restart) so the
        next device sees what the previous ones will do.

        The first relaxation's objective is a lower bound on the MIP's. With
        ``freeze_from`` (a warm re-plan) the on/off binaries from that slot on
        of every device that kept the previous plan's pattern are reported as
        ``frozen``, with the relaxation's bound when they are held there.
        """
        deadline = time.perf_counter() + time_limit_s
        highs = _relaxation(lp, threads, time_limit_s)
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(highs.getSolution().col_value, dtype=np.float64)
        objective = float(highs.getInfo().objective_function_value)
        bound = objective
        lower = np.asarray(lp.col_lower_, dtype=np.float64)
        upper = np.asarray(lp.col_upper_, dtype=np.float64)
        hinted = np.zeros(self.num_cols, dtype=np.bool_)
        fixed = np.zeros(self.num_cols, dtype=np.bool_)
        units = sorted(self._units, key=lambda unit: not unit.choose_one)
        rest = np.nonzero(integer)[0]
        for unit in units:
            hinted[unit.cols] = True
            if unit.partner is not None:
                hinted[unit.partner] = True
        rest = rest[~hinted[rest]]
        if rest.shape[0]:
            units.append(_Unit(cols=rest, plain=True))
        fixer = _Fixer(highs, lower, upper, deadline)
        hint = np.full(self.num_cols, np.nan)
        for cols, values in self._hints:
            hint[cols] = values
        for unit in units:
            members = unit.cols
            if unit.partner is not None:
                members = np.concatenate([members, unit.partner])
            if (~np.isnan(hint[members])).any():
                unit.hint = hint
        chosen: dict[int, tuple[IndexArray, FloatArray]] = {}
        hinted_units: set[int] = set()
        for number, unit in enumerate(units):
            if time.perf_counter() > deadline:
                break  # out of budget: hand HiGHS what is fixed so far
            result = fixer.fix_best(unit, x, objective)
            if result is None:
                continue  # leave this device to HiGHS: a partial start
            x, objective, cols, values = result
            fixed[cols] = True
            chosen[number] = (cols, values)
            if fixer.last_was_hint:
                hinted_units.add(number)
        # Further passes: free one device at a time, re-relax it against the
        # others as fixed, and keep a rounding that is cheaper; again while
        # a pass still improves (each device then answers the others' moves).
        for _ in range(MAX_PASSES):
            improved = False
            for number, unit in enumerate(units):
                if number not in chosen or time.perf_counter() > deadline:
                    continue
                if unit.tracker is None or number in hinted_units:
                    continue  # plain roundings rarely improve on a second look
                cols, values = chosen[number]
                basis = fixer.snapshot()
                relaxed = fixer.release(cols)
                if relaxed is None:
                    fixer.restore(cols, values, basis)
                    continue
                result = fixer.fix_best(unit, relaxed, objective, keep_worse=False)
                if result is None:
                    fixer.restore(cols, values, basis)
                    continue
                x, objective, cols, values = result
                chosen[number] = (cols, values)
                improved = True
            if not improved:
                break
        x = fixer.current(x)
        if not fixed[integer].all():
            x[~(fixed & integer)] = np.nan
            return _Start(values=x, bound=bound)
        start = _Start(values=x, bound=bound)
        if freeze_from is None:
            return start
        parts = [
            unit.from_slot(freeze_from)
            for number, unit in enumerate(units)
            if number in hinted_units and not unit.choose_one and not unit.plain
        ]
        frozen = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        if frozen.shape[0]:
            start.frozen = frozen
            free = np.ones(self.num_cols, dtype=np.bool_)
            free[frozen] = False
            fixer.release_quietly(np.nonzero(integer & free)[0])
            start.frozen_bound = fixer.bound()
        return start

    def arrays(self) -> list[FloatArray | IndexArray | npt.NDArray[np.bool_]]:
        """Every array that defines the model (for a fingerprint)."""
        lower, upper, cost, integer = self._columns()
        parts: list[FloatArray | IndexArray | npt.NDArray[np.bool_]] = [
            lower,
            upper,
            cost,
            integer,
            np.asarray([self.offset]),
        ]
        parts.extend(self._row_lower)
        parts.extend(self._row_upper)
        parts.extend(self._entry_rows)
        parts.extend(self._entry_cols)
        parts.extend(self._entry_vals)
        return parts

    def objective_of(self, values: FloatArray) -> float:
        """Return the objective at ``values``, including the constant offset."""
        return float(self._columns()[2] @ values) + self.offset

    def solve(  # noqa: C901, PLR0912, PLR0915
        self,
        *,
        time_limit_s: float,
        mip_rel_gap: float,
        mip_abs_gap: float = 0.0,
        threads: int = 1,
        freeze_from: int | None = None,
        incumbent_only: bool = False,
    ) -> Solution:
        """Solve with HiGHS and report the outcome.

        With ``incumbent_only`` HiGHS's MIP is not run: the warm start's
        plan is returned (``OPTIMAL`` when its relaxation bound proves it,
        else ``TIME_LIMIT``; ``NO_SOLUTION`` when it is incomplete).

        HiGHS is not run when the warm start's plan is already within the
        gap of the LP relaxation's bound: the plan is then returned as
        optimal, with that gap. ``freeze_from`` (a warm re-plan) lets the
        gap be proven over the plans that keep, from that slot on, the on/off
        pattern of every device that kept the previous plan's pattern: first
        by the relaxation with those binaries fixed, else by HiGHS with them
        fixed. Devices whose pattern was not kept, and every continuous
        setpoint, stay free.
        """
        lower, upper, cost, integer = self._columns()
        if self._entry_rows:
            rows = np.concatenate(self._entry_rows)
            cols = np.concatenate(self._entry_cols)
            vals = np.concatenate(self._entry_vals)
        else:
            rows = cols = np.empty(0, dtype=np.int64)
            vals = np.empty(0)
        # Sum duplicate entries and sort column-major for HiGHS.
        key = cols * max(self.num_rows, 1) + rows
        unique, inverse = np.unique(key, return_inverse=True)
        summed = np.zeros(unique.shape[0])
        np.add.at(summed, inverse, vals)
        keep = summed != 0.0
        unique = unique[keep]
        summed = summed[keep]
        col_of = unique // max(self.num_rows, 1)
        row_of = unique % max(self.num_rows, 1)
        starts = np.searchsorted(col_of, np.arange(self.num_cols + 1))

        lp = highspy.HighsLp()
        lp.num_col_ = self.num_cols
        lp.num_row_ = self.num_rows
        lp.col_cost_ = cost
        lp.col_lower_ = lower
        lp.col_upper_ = upper
        lp.row_lower_ = (
            np.concatenate(self._row_lower) if self._row_lower else np.empty(0)
        )
        lp.row_upper_ = (
            np.concatenate(self._row_upper) if self._row_upper else np.empty(0)
        )
        lp.offset_ = self.offset
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = self.num_cols
        lp.a_matrix_.num_row_ = self.num_rows
        lp.a_matrix_.start_ = starts.astype(np.int32)
        lp.a_matrix_.index_ = row_of.astype(np.int32)
        lp.a_matrix_.value_ = summed
        if integer.any():
            lp.integrality_ = [
                highspy.HighsVarType.kInteger
                if flag
                else highspy.HighsVarType.kContinuous
                for flag in integer
            ]

        started = time.perf_counter()
        highs = _new_highs(threads, time_limit_s)
        highs.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        highs.setOptionValue("mip_abs_gap", float(mip_abs_gap))
        highs.passModel(lp)
        start: FloatArray | None = None
        bound = -INF  # the relaxation's bound on the objective, once solved
        if integer.any():
            warm = self._warm_start(
                lp, integer, threads, time_limit_s * WARM_START_SHARE, freeze_from
            )
            start = None if warm is None else warm.values
            bound = -INF if warm is None else warm.bound
            if warm is not None and start is not None:
                known = np.nonzero(~np.isnan(start))[0]
                if known.shape[0] == self.num_cols:
                    proven = _proven(
                        warm,
                        float(cost @ start) + self.offset,
                        mip_rel_gap,
                        mip_abs_gap,
                    )
                    if proven is not None:
                        proven.solve_time_s = time.perf_counter() - started
                        return proven.solution()
                    if incumbent_only:
                        objective = float(cost @ start) + self.offset
                        return Solution(
                            values=start,
                            status=SolveStatus.TIME_LIMIT,
                            solver_status="Warm start only",
                            mip_gap=_gap(objective, bound, float("inf")),
                            objective=objective,
                            solve_time_s=time.perf_counter() - started,
                        )
                    if warm.frozen.shape[0]:
                        # Prove the gap over the plans that keep the frozen
                        # binaries (a warm re-plan: see ``solve``).
                        index = warm.frozen.astype(np.int32)
                        values = start[warm.frozen]
                        highs.changeColsBounds(index.shape[0], index, values, values)
                    highs.setSolution(_as_solution(start))
                    # With a complete incumbent HiGHS only has to prove the
                    # gap: skip what only helps to find a first plan.
                    for option, setting in PROVE_ONLY_OPTIONS.items():
                        highs.setOptionValue(option, setting)
                elif known.shape[0]:
                    highs.setSolution(
                        known.shape[0], known.astype(np.int32), start[known]
                    )
        if incumbent_only:
            return Solution(
                values=np.zeros(self.num_cols),
                status=SolveStatus.NO_SOLUTION,
                solver_status="Warm start incomplete",
                mip_gap=float("inf"),
                objective=float("nan"),
                solve_time_s=time.perf_counter() - started,
            )
        remaining = max(time_limit_s - (time.perf_counter() - started), 0.01)
        highs.setOptionValue("time_limit", remaining)
        highs.run()
        elapsed = time.perf_counter() - started

        model_status = highs.getModelStatus()
        info = highs.getInfo()
        has_solution = info.primal_solution_status == highspy.kSolutionStatusFeasible
        if not has_solution and start is not None and not np.isnan(start).any():
            # HiGHS ran out of time before it even took our start: use it.
            objective = float(lp.col_cost_ @ start) + self.offset
            return Solution(
                values=start,
                status=SolveStatus.TIME_LIMIT,
                solver_status=highs.modelStatusToString(model_status),
                mip_gap=_gap(objective, bound, float("inf")),
                objective=objective,
                solve_time_s=elapsed,
            )
        if not has_solution:
            return Solution(
                values=np.zeros(self.num_cols),
                status=SolveStatus.NO_SOLUTION,
                solver_status=highs.modelStatusToString(model_status),
                mip_gap=float("inf"),
                objective=float("nan"),
                solve_time_s=elapsed,
            )
        values = np.asarray(highs.getSolution().col_value, dtype=np.float64)
        objective = float(info.objective_function_value)
        # HiGHS stopped early may not have got past the relaxation's bound.
        gap = _gap(objective, bound, float(info.mip_gap)) if integer.any() else 0.0
        status = (
            SolveStatus.OPTIMAL
            if model_status == highspy.HighsModelStatus.kOptimal
            else SolveStatus.TIME_LIMIT
        )
        return Solution(
            values=values,
            status=status,
            solver_status=highs.modelStatusToString(model_status),
            mip_gap=gap,
            objective=objective,
            solve_time_s=elapsed,
        )


def _gap(objective: float, bound: float, reported: float) -> float:
    """Return the smaller of ``reported`` and the gap to a relaxation's bound."""
    if not objective or not np.isfinite(bound):
        return reported
    return min(reported, max(objective - bound, 0.0) / abs(objective))


@dataclass(slots=True)
class _Start:
    """The warm start's plan and the bounds it learned on the way."""

    values: FloatArray
    """Column values; NaN where the warm start fixed nothing."""
    bound: float
    """The LP relaxation's objective: no plan costs less."""
    frozen: IndexArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Binaries held at the previous plan's pattern (a warm re-plan)."""
    frozen_bound: float | None = None
    """The relaxation's objective with ``frozen`` held (None: not solved)."""


@dataclass(slots=True)
class _Proof:
    """A plan shown to be within the gap without running the MIP."""

    values: FloatArray
    objective: float
    gap: float
    how: str
    solve_time_s: float = 0.0

    def solution(self) -> Solution:
        """Return the plan as the solve's outcome."""
        return Solution(
            values=self.values,
            status=SolveStatus.OPTIMAL,
            solver_status=self.how,
            mip_gap=self.gap,
            objective=self.objective,
            solve_time_s=self.solve_time_s,
        )


def _proven(
    start: _Start, objective: float, rel_gap: float, abs_gap: float
) -> _Proof | None:
    """Return the start as a proof when a relaxation bound closes the gap."""
    bounds = [(start.bound, "Optimal (relaxation bound)")]
    if start.frozen_bound is not None:
        bounds.append(
            (start.frozen_bound, "Optimal (relaxation bound, far on/off kept)")
        )
    for bound, how in bounds:
        slack = objective - bound
        if slack <= max(rel_gap * abs(objective), abs_gap):
            gap = max(slack, 0.0) / abs(objective) if objective else 0.0
            return _Proof(start.values, objective, gap, how)
    return None


def _new_highs(threads: int, time_limit_s: float) -> highspy.Highs:
    highs = highspy.Highs()  # type: ignore[no-untyped-call]
    highs.setOptionValue("output_flag", False)  # noqa: FBT003
    highs.setOptionValue("threads", threads)
    highs.setOptionValue("time_limit", float(time_limit_s))
    highs.setOptionValue("random_seed", 0)
    return highs


def _relaxation(
    lp: highspy.HighsLp, threads: int, time_limit_s: float
) -> highspy.Highs:
    """HiGHS holding the LP relaxation of ``lp``, ready to run."""
    highs = _new_highs(threads, time_limit_s)
    highs.setOptionValue("solve_relaxation", True)  # noqa: FBT003
    # Presolve costs more than it saves on this sparse, banded LP, and the
    # re-solves after fixing a device restart from the basis anyway.
    highs.setOptionValue("presolve", "off")
    highs.passModel(lp)
    return highs


def _as_solution(values: FloatArray) -> highspy.HighsSolution:
    solution = highspy.HighsSolution()
    solution.col_value = values.tolist()
    solution.value_valid = True
    return solution


PROVE_ONLY_OPTIONS: dict[str, str | bool] = {
    "presolve": "off",
    "mip_heuristic_run_feasibility_jump": False,
    "mip_detect_symmetry": False,
}
WARM_START_SHARE = 0.8
"""Share of the time limit the warm start may use: a complete start matters
more than HiGHS's first fraction of a second."""
MAX_PASSES = 1
"""Passes over the devices after the first (more found nothing on the set)."""
WARM_START_SLACK = 0.002
HINT_SHARE = 0.01
"""A previous plan's pattern is taken at once when it costs at most 1 % more
than the relaxation; otherwise the usual roundings are tried as well."""
GIVE_UP_SHARE = 0.05
"""A device whose best rounding costs 5 % more is left to HiGHS to complete."""
"""Accept a device's first rounding that costs at most 0.2 % over the relaxation."""


class _Fixer:
    """Fixes devices' binaries in a relaxation and keeps the cheapest."""

    def __init__(
        self,
        highs: highspy.Highs,
        lower: FloatArray,
        upper: FloatArray,
        deadline: float = float("inf"),
    ) -> None:
        self.highs = highs
        self.lower = lower
        self.upper = upper
        self.deadline = deadline
        """``time.perf_counter()`` after which no relaxation is solved."""
        self.pinned: FloatArray | None = None
        self.last_was_hint = False

    def _solve(self) -> float | None:
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            return None  # out of budget: the caller keeps what it has
        if remaining < INF:
            self.highs.setOptionValue("time_limit", remaining)
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return float(self.highs.getInfo().objective_function_value)

    def pin(self, cols: IndexArray, values: FloatArray) -> float | None:
        """Fix ``cols`` to ``values`` and re-solve."""
        index = cols.astype(np.int32)
        self.highs.changeColsBounds(index.shape[0], index, values, values)
        return self._solve()

    def release(self, cols: IndexArray) -> FloatArray | None:
        """Free ``cols`` to their bounds; the relaxation with them free."""
        index = cols.astype(np.int32)
        self.highs.changeColsBounds(
            index.shape[0], index, self.lower[cols], self.upper[cols]
        )
        if self._solve() is None:
            return None
        return np.asarray(self.highs.getSolution().col_value, dtype=np.float64)

    def bound(self) -> float | None:
        """Re-solve the relaxation as it stands now; its objective (None: none)."""
        return self._solve()

    def current(self, fallback: FloatArray) -> FloatArray:
        """Return the last optimal relaxation's values."""
        if self._solve() is None:
            return fallback
        return np.asarray(self.highs.getSolution().col_value, dtype=np.float64)

    def fix_best(
        self,
        unit: _Unit,
        x: FloatArray,
        objective: float,
        *,
        keep_worse: bool = True,
    ) -> tuple[FloatArray, float, IndexArray, FloatArray] | None:
        """Try the unit's roundings of ``x``; fix the cheapest (None: none fit).

        With ``keep_worse`` False only a rounding cheaper than ``objective``
        (the plan before the unit was freed) is kept; the device's own plan
        (its tracker) is taken at once when it is.
        """
        best: _Candidate | None = None
        limit = objective + WARM_START_SLACK * max(abs(objective), 1.0)
        tried: list[FloatArray] = []
        last: FloatArray | None = None
        cols = unit.cols
        self.last_was_hint = False
        candidates = unit.candidates()
        if keep_worse and unit.hint is not None:
            candidates = (HINT, *candidates)
        for threshold in candidates:
            cols, values = unit.round(x, threshold)
            if any(np.array_equal(values, seen) for seen in tried):
                continue
            tried.append(values)
            if best is not None and best.basis is None:
                best.basis = self.highs.getBasis()  # to come back without a solve
            value = self.pin(cols, values)
            last = values
            if value is not None and (best is None or value < best.value):
                solution = np.asarray(
                    self.highs.getSolution().col_value, dtype=np.float64
                )
                best = _Candidate(value, cols, values, solution)
                self.last_was_hint = threshold == HINT
                near = value <= objective + HINT_SHARE * max(abs(objective), 1.0)
                if keep_worse and (
                    value <= limit or threshold == TRACK or (threshold == HINT and near)
                ):
                    break  # within reach of the relaxation, or the device's own plan
                if not keep_worse and threshold == TRACK and value < objective - 1e-9:
                    break  # the device's own plan improves on the first pass
        margin = GIVE_UP_SHARE * max(abs(objective), 1.0)
        if (
            best is None
            or (keep_worse and best.value > objective + margin)
            or (not keep_worse and best.value >= objective - 1e-9)
        ):
            self.release_quietly(cols)
            return None
        if last is not best.values and best.basis is not None:
            # A later rounding was tried: go back to the best one. Its basis
            # was saved before moving on, so this needs no re-solve.
            self.restore(best.cols, best.values, best.basis)
        return best.solution, best.value, best.cols, best.values

    def snapshot(self) -> highspy.HighsBasis:
        """Return the current optimal basis (to restore it without a solve)."""
        return self.highs.getBasis()

    def restore(
        self, cols: IndexArray, values: FloatArray, basis: highspy.HighsBasis
    ) -> None:
        """Fix ``cols`` to ``values`` again and restore the basis that was optimal.

        No re-solve: the next one starts from that basis.
        """
        index = cols.astype(np.int32)
        self.highs.changeColsBounds(index.shape[0], index, values, values)
        self.highs.setBasis(basis)

    def release_quietly(self, cols: IndexArray) -> None:
        """Free ``cols`` without re-solving."""
        index = cols.astype(np.int32)
        self.highs.changeColsBounds(
            index.shape[0], index, self.lower[cols], self.upper[cols]
        )


FLOOR = 0.999
ACTIVE = 1e-3
TRACK = 0.0
HINT = -1.0
"""The previous plan's values (a warm re-plan), completed by rounding."""
ROUNDING_THRESHOLDS = (0.5, 1e-3, 0.85, FLOOR)
"""Nearest, early (never behind the relaxation), late, then only the sure ones."""


@dataclass(slots=True)
class _Candidate:
    """A rounding tried by ``_Fixer.fix_best`` and what it costs."""

    value: float
    cols: IndexArray
    values: FloatArray
    solution: FloatArray
    basis: highspy.HighsBasis | None = None


@dataclass(slots=True, kw_only=True)
class _Unit:
    """One device's binaries, and how to round them."""

    cols: IndexArray
    choose_one: bool = False
    plain: bool = False
    min_on: int = 1
    min_off: int = 1
    partner: IndexArray | None = None
    tracker: Tracker | None = None
    first_slot: int = 0
    hint: FloatArray | None = None
    """Every column's hinted value (NaN: none), when this unit has any."""

    def from_slot(self, slot: int) -> IndexArray:
        """Return the columns (and the partner's) in slot ``slot`` and later."""
        skip = max(slot - self.first_slot, 0)
        if self.partner is None:
            return self.cols[skip:]
        return np.concatenate([self.cols[skip:], self.partner[skip:]])

    def candidates(self) -> tuple[float, ...]:
        """Return the rounding thresholds to try; 0 means the device's own tracker."""
        if self.tracker is not None:
            return (TRACK, *ROUNDING_THRESHOLDS)
        return ROUNDING_THRESHOLDS

    def round(  # noqa: C901, PLR0911
        self, x: FloatArray, threshold: float
    ) -> tuple[IndexArray, FloatArray]:
        """Columns and their rounded values."""
        if threshold == HINT and self.hint is not None:
            cols, values = self.round(x, 0.5)
            known = ~np.isnan(self.hint[cols])
            values = values.copy()
            if self.choose_one:
                values[:] = 0.0  # never two starts: only the hinted one
            values[known] = np.round(self.hint[cols][known])
            return cols, values
        relaxed = x[self.cols]
        if threshold == TRACK and self.tracker is not None:
            values = self.tracker(x)
            if self.partner is None:
                return self.cols, values
            if values.shape[0] == self.cols.shape[0] + self.partner.shape[0]:
                # The tracker planned the partner too (charge and discharge).
                return np.concatenate([self.cols, self.partner]), values
            other = _cumulative_round(x[self.partner], 0.5)
            other[values > 0.5] = 0.0  # noqa: PLR2004
            return np.concatenate([self.cols, self.partner]), np.concatenate(
                [values, other]
            )
        if threshold >= FLOOR:
            values = (relaxed >= threshold).astype(np.float64)
            if self.choose_one or self.plain:
                return self.cols, values
            values = _repair_runs(values, self.min_on, self.min_off)
            if self.partner is None:
                return self.cols, values
            other = np.zeros(self.partner.shape[0])
            return np.concatenate([self.cols, self.partner]), np.concatenate(
                [values, other]
            )
        if self.plain:
            return self.cols, (relaxed >= threshold).astype(np.float64)
        if self.choose_one:
            values = np.zeros(relaxed.shape[0])
            if relaxed.sum() >= 0.5:  # noqa: PLR2004
                values[int(np.argmax(relaxed))] = 1.0
            return self.cols, values
        values = _cumulative_round(relaxed, threshold)
        values = _repair_runs(values, self.min_on, self.min_off)
        if self.partner is None:
            return self.cols, values
        other = _cumulative_round(x[self.partner], threshold)
        both = (values > 0.5) & (other > 0.5)  # noqa: PLR2004
        keep_first = relaxed >= x[self.partner]
        values[both & ~keep_first] = 0.0
        other[both & keep_first] = 0.0
        return np.concatenate([self.cols, self.partner]), np.concatenate(
            [values, other]
        )


def _repair_runs(on: FloatArray, min_on: int, min_off: int) -> FloatArray:
    """Fill off-gaps shorter than ``min_off`` and stretch short runs."""
    state = on.round().astype(bool)
    if min_on <= 1 and min_off <= 1:
        return state.astype(np.float64)
    for _ in range(4):
        before = state.copy()
        _fill(state, value=False, shortest=min_off, interior_only=True)
        _fill(state, value=True, shortest=min_on, interior_only=False)
        if (state == before).all():
            break
    return state.astype(np.float64)


def _fill(
    state: npt.NDArray[np.bool_], *, value: bool, shortest: int, interior_only: bool
) -> None:
    """Fix stretches of ``value`` shorter than ``shortest`` (not at slot 0)."""
    if shortest <= 1:
        return
    n = state.shape[0]
    t = 0
    while t < n:
        if state[t] != value:
            t += 1
            continue
        end = t
        while end < n and state[end] == value:
            end += 1
        if t > 0 and end - t < shortest:
            if not value and (end < n or not interior_only):
                state[t:end] = True  # too short a rest: keep running
            elif value:
                end = min(t + shortest, n)
                state[t:end] = True  # too short a run: run longer
        t = end


def _cumulative_round(fractions: FloatArray, threshold: float) -> FloatArray:
    """Round a 0..1 sequence so that running totals track the relaxed ones."""
    result = np.zeros(fractions.shape[0])
    carried = 0.0
    for t, value in enumerate(fractions):
        if value < ACTIVE:
            continue  # never switch on where the relaxation is idle
        carried += float(value)
        if carried >= threshold:
            result[t] = 1.0
            carried -= 1.0
    return result
