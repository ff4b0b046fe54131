"""Run a scenario's strategies, in one process or spread over cores.

A long period can be split into chunks (by calendar month, or every N
days) that run in parallel processes. The hand-over between chunks is an
approximation, documented in docs/scenarios.md and measured there against
an unsplit run: each chunk starts ``HANDOVER_DAYS`` (2) days before its
first day with the scenario's initial car SoC and the household's load
forecaster warmed up on the true load of the weeks before; those days are
replayed and thrown away. By the end of them the car has gone through at
least one departure, where every strategy charges it to the same target,
so the car's state no longer depends on where the chunk began. What is not
carried over: the exact learned load profile (the chunk learns it from the
true load instead of from its own meter) and a stay in progress over the
boundary that does not reach its target in the previous chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from datetime import date, datetime, timedelta
import sys
import time as wall
from typing import Final

from .foresight import foresight
from .replay import RunResult, async_replay
from .replay_devices import Comfort
from .scenario import Scenario, ScenarioData, load_data

HANDOVER_DAYS: Final = 2
ALL_STRATEGIES: Final = ("stroomwijs", "uncontrolled", "rules", "optimum")


class ProgressBar:
    """A plain-text progress line on stderr."""

    def __init__(self, label: str, *, stream: object = None, width: int = 30) -> None:
        """Start timing now."""
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.began = wall.perf_counter()
        self._last = -1

    def _tty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty()) if callable(isatty) else False

    def __call__(self, done: float) -> None:
        """Show ``done`` (0..1) with the elapsed time and an estimate."""
        percent = int(done * 100)
        if percent == self._last:
            return
        self._last = percent
        elapsed = wall.perf_counter() - self.began
        eta = elapsed / done - elapsed if done > 0 else 0.0
        filled = int(done * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if done >= 1.0 or not self._tty() else "\r"
        print(
            f"{self.label:<14} [{bar}] {percent:3d}%  {elapsed:6.1f} s"
            f"  (about {eta:5.0f} s left)",
            end=end,
            file=self.stream,  # type: ignore[arg-type]
            flush=True,
        )


def chunks(scenario: Scenario, chunk_days: int | None) -> list[tuple[date, date]]:
    """Split the period into [first day, day after last) chunks.

    ``chunk_days`` None: by calendar month; 0: one chunk.
    """
    first = scenario.start
    end = first + timedelta(days=scenario.days)
    if chunk_days == 0:
        return [(first, end)]
    out: list[tuple[date, date]] = []
    cursor = first
    while cursor < end:
        if chunk_days is None:
            nxt = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        else:
            nxt = cursor + timedelta(days=chunk_days)
        out.append((cursor, min(nxt, end)))
        cursor = min(nxt, end)
    return out


def _local_midnight(scenario: Scenario, day: date) -> datetime:
    return replace(scenario, start=day, days=1).start_utc


def _run_chunk(scenario: Scenario, strategy: str, first: date, end: date) -> RunResult:
    """One chunk of one strategy (in a worker process)."""
    data = load_data(scenario)
    begin = _local_midnight(scenario, first)
    warm_first = max(first - timedelta(days=HANDOVER_DAYS), scenario.start)
    run = asyncio.run(
        async_replay(
            scenario,
            data,
            strategy,
            start=_local_midnight(scenario, warm_first),
            end=_local_midnight(scenario, end),
            measure_from=begin if warm_first < first else None,
        )
    )
    if warm_first < first:
        run.quarters = [q for q in run.quarters if q.start >= begin]
        run.departures = [d for d in run.departures if d.depart >= begin]
        run.notes.append(
            f"chunk from {first}: {HANDOVER_DAYS} days of warm-up replayed and dropped"
        )
    return run


def merge(strategy: str, parts: Sequence[RunResult]) -> RunResult:
    """Join the chunks of one strategy, in order."""
    merged = RunResult(strategy)
    for part in parts:
        merged.quarters.extend(part.quarters)
        merged.departures.extend(part.departures)
        merged.solve_times_s.extend(part.solve_times_s)
        merged.replans += part.replans
        merged.interventions += part.interventions
        merged.plan_failures += part.plan_failures
        merged.steps += part.steps
        merged.wall_s += part.wall_s
        merged.notes.extend(part.notes)
        if part.peak_rss_mb is not None:
            merged.peak_rss_mb = max(merged.peak_rss_mb or 0.0, part.peak_rss_mb)
    merged.end_soc = parts[-1].end_soc if parts else None
    merged.end_socs = list(parts[-1].end_socs) if parts else []
    comforts = [part.comfort for part in parts if part.comfort is not None]
    if comforts:
        merged.comfort = Comfort.merged(comforts)
    return merged


def run_scenario(
    scenario: Scenario,
    strategies: Sequence[str] = ALL_STRATEGIES,
    *,
    jobs: int = 1,
    chunk_days: int | None = 0,
    progress: Callable[[str], Callable[[float], None] | None] | None = None,
) -> tuple[ScenarioData, list[RunResult]]:
    """Run every strategy; return the data and one merged result each."""
    data = load_data(scenario)
    parts = chunks(scenario, chunk_days)
    if jobs <= 1 and len(parts) == 1:
        results: list[RunResult] = []
        for strategy in strategies:
            bar = progress(strategy) if progress is not None else None
            if strategy == "optimum":
                run = foresight(scenario, data)
                if bar is not None:
                    bar(1.0)
            else:
                run = asyncio.run(async_replay(scenario, data, strategy, progress=bar))
            results.append(run)
        return data, results
    # The optimum is solved whole, here (it is cheap, and needs no hand-over).
    replayed = [s for s in strategies if s != "optimum"]
    tasks = [(s, a, b) for s in replayed for a, b in parts]
    bar = progress(f"{len(tasks)} chunks") if progress is not None else None
    done: dict[tuple[str, date], RunResult] = {}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {
            pool.submit(_run_chunk, scenario, s, a, b): (s, a) for s, a, b in tasks
        }
        for count, future in enumerate(as_completed(futures), start=1):
            done[futures[future]] = future.result()
            if bar is not None:
                bar(count / len(tasks))
    results = [
        foresight(scenario, data)
        if s == "optimum"
        else merge(s, [done[s, a] for a, _b in parts])
        for s in strategies
    ]
    return data, results
