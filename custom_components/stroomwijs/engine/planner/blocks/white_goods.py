"""White goods: a washing machine, dishwasher or dryer with a fixed cycle.

The cycle is a power profile (energy per 15-minute slot). The block offers
one binary per possible start slot between the earliest start and the
finish-by deadline; at most one is chosen, so a cycle is never split. A run
marked ``only_if_cheaper_than_eur_per_kwh`` only considers starts whose
average import price over the cycle is that cheap, and is skipped (with an
explanation) when there is none. A cycle that is already running is fixed.
"""

from __future__ import annotations

from typing import ClassVar, Final

import numpy as np

from custom_components.stroomwijs.engine.planner.lp import FloatArray, IndexArray
from custom_components.stroomwijs.engine.planner.schema import Reader
from custom_components.stroomwijs.engine.planner.timegrid import TimeGrid

from .base import (
    PENALTY_MISSED_RUN_EUR,
    Block,
    BuildContext,
    DeviceResult,
    PhaseShares,
    PowerTerm,
    WarmHint,
    read_phases,
    rounded,
)

PROFILE_SLOT_HOURS = 0.25
MAX_PROFILE_SLOTS = 48


START_SLACK_MINUTES: Final = 2.0
"""A first slot at most this much shorter than a quarter-hour may start a cycle."""


class WhiteGoodsBlock(Block):
    """One pending (or running) cycle of a deferrable appliance."""

    kind: ClassVar[str] = "white_goods"

    def __init__(self, reader: Reader, grid: TimeGrid) -> None:
        """Read the cycle's profile and its window."""
        super().__init__(reader, grid)
        profile = reader.numbers("profile_kwh")
        if not profile:
            raise reader.error("profile_kwh", "needs at least one slot of energy")
        if len(profile) > MAX_PROFILE_SLOTS:
            raise reader.error(
                "profile_kwh", f"is longer than {MAX_PROFILE_SLOTS} slots"
            )
        if any(e < 0 for e in profile):
            raise reader.error("profile_kwh", "energies cannot be negative")
        self.profile = np.asarray(profile, dtype=np.float64)
        self.power_profile = self.profile / PROFILE_SLOT_HOURS
        self.running_slots = reader.integer(
            "running_for_slots", 0, low=0, high=len(profile) - 1
        )
        earliest = reader.optional_time("earliest_start")
        finish_by = reader.optional_time("finish_by")
        self.threshold = reader.optional_number("only_if_cheaper_than_eur_per_kwh")
        self.phases: PhaseShares = read_phases(reader, default_phases=1)
        reader.reject_unknown()
        if earliest and finish_by and finish_by <= earliest:
            raise reader.error("finish_by", "must be after earliest_start")
        self.finish_label = (
            grid.local(finish_by).strftime("%H:%M")
            if finish_by
            else "the end of the plan"
        )
        self.first = grid.index_at_or_after(earliest) if earliest else 0
        if self.first == 0 and grid.first_slot_minutes < (
            grid.slot_minutes - START_SLACK_MINUTES
        ):
            # A cycle starts on a quarter-hour: not in the rest of one. A
            # first slot cut short by a re-plan just after the quarter-hour
            # still counts as whole; else every scheduled re-plan would move
            # the start on by a quarter-hour and the plan never start it.
            self.first = 1
        self.deadline = (
            min(grid.index_at_or_after(finish_by), grid.count)
            if finish_by
            else grid.count
        )
        self.starts: list[int] = []
        self._x: IndexArray = np.empty(0, dtype=np.int64)
        self._skip: IndexArray | None = None
        self._fixed: IndexArray | None = None
        self.rejected_for_price = False

    def phase_shares(self) -> PhaseShares:
        """Return the appliance's phase."""
        return self.phases

    def _run_price(self, ctx: BuildContext, start: int) -> float:
        length = self.profile.shape[0]
        prices = ctx.prices.import_eur_per_kwh[start : start + length]
        total = float(self.profile.sum())
        if total <= 0:
            return float(prices.mean())
        return float(self.profile @ prices) / total

    def build(self, ctx: BuildContext) -> None:
        """Add one binary per allowed start, or fix a running cycle."""
        m = ctx.model
        n = ctx.n
        length = self.profile.shape[0]
        if self.running_slots:
            rest = self.power_profile[self.running_slots :][:n]
            power = np.zeros(n)
            power[: rest.shape[0]] = rest
            self._fixed = m.add_vars(n, power, power)
            ctx.power_terms.append(PowerTerm(self._fixed, 1.0, self.phases))
            return
        candidates = list(range(self.first, self.deadline - length + 1))
        if self.threshold is not None:
            cheap = [s for s in candidates if self._run_price(ctx, s) <= self.threshold]
            self.rejected_for_price = bool(candidates) and not cheap
            candidates = cheap
        self.starts = candidates
        if not candidates:
            return
        starts = np.asarray(candidates, dtype=np.int64)
        tie = np.array(
            [
                float(self.profile @ ctx.time_preference[s : s + length])
                for s in candidates
            ]
        )
        self._x = m.add_binaries(len(candidates), tie)
        m.hint_choose_one(self._x)
        self._skip = m.add_vars(1, 0.0, 1.0, PENALTY_MISSED_RUN_EUR)
        row = m.add_rows(1, 1.0, 1.0)
        m.add_terms(row, self._x, 1.0)
        m.add_terms(row, self._skip, 1.0)
        for offset in range(length):
            if self.power_profile[offset] == 0:
                continue
            cols = np.full(n, -1, dtype=np.int64)
            cols[starts + offset] = self._x
            ctx.power_terms.append(
                PowerTerm(cols, float(self.power_profile[offset]), self.phases)
            )

    def warm_hint(self, previous: WarmHint, ctx: BuildContext) -> None:
        """Hint the start the previous plan chose, if it is still ahead."""
        slot = previous.slot("start_slot")
        if slot is not None and slot in self.starts:
            chosen = np.asarray(self.starts) == slot
            ctx.model.hint(self._x, chosen.astype(float))

    def _power(self, values: FloatArray, n: int) -> tuple[FloatArray, int | None]:
        power = np.zeros(n)
        if self._fixed is not None:
            return values[self._fixed], 0
        chosen: int | None = None
        for start, col in zip(self.starts, self._x, strict=True):
            if values[col] > 0.5:  # noqa: PLR2004
                chosen = start
                end = min(start + self.profile.shape[0], n)
                power[start:end] = self.power_profile[: end - start]
        return power, chosen

    def extract(self, values: FloatArray, ctx: BuildContext) -> DeviceResult:
        """Return the cycle's power per slot, its start and why it might not run."""
        power, start = self._power(values, ctx.n)
        result = DeviceResult(
            setpoint_kw=rounded(power),
            summary={
                "kind": self.kind,
                "start": ctx.grid.slot_start(start).isoformat()
                if start is not None
                else None,
                "start_slot": start,
            },
        )
        if self._fixed is not None:
            result.explanations.append(
                f"{self.name}: running; the cycle finishes as planned."
            )
        elif start is None:
            if self.rejected_for_price:
                result.explanations.append(
                    f"{self.name}: skipped; no start before {self.finish_label} costs "
                    f"{self.threshold:.2f} EUR/kWh or less"
                )
            elif not self.starts and self.threshold is None:
                result.explanations.append(
                    f"{self.name}: the cycle does not fit between its earliest start "
                    f"and {self.finish_label}"
                )
            else:
                result.explanations.append(
                    f"{self.name}: cannot run and finish by {self.finish_label} "
                    "under the grid limits"
                )
        return result

    def safe_power_kw(self, ctx: BuildContext) -> FloatArray:
        """Return a running cycle finishes; a pending one waits."""
        power = np.zeros(ctx.n)
        if self.running_slots:
            rest = self.power_profile[self.running_slots :][: ctx.n]
            power[: rest.shape[0]] = rest
        return power
