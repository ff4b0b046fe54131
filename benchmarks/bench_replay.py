"""Replay benchmarks: a 30-day replay, its re-plans, its memory, and a year.

Run from the checkout root (inside ``script/run``)::

    python benchmarks/bench_replay.py                 # 30 days, Stroomwijs
    python benchmarks/bench_replay.py --meter-values 300
    python benchmarks/bench_replay.py --year --jobs 2 # 2025, split by month
    python benchmarks/bench_replay.py --handover 14   # chunked vs unsplit

The 30-day replay is the ElaadNL reference household with the dynamic tariff
(``examples/scenarios/elaad_dynamic.yaml``): the real ``Household`` with its
planner re-planning every 15 minutes and on events, the guard fed every 60 s
and a loopback OCPP 2.1 car. It prints the wall time, the re-plans and their
solve times, and the process's peak memory (``ru_maxrss``).

``--year`` replays 2025 (the same household; load and PV of 2023 moved 728
days, NL 2025 prices) from the shared data, split by calendar month over
``--jobs`` processes, with the hand-over of ``engine/simulate/runner.py``.
``--handover N`` replays N days unsplit and split in two chunks, and prints
how far the chunked figures are from the unsplit ones.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
from pathlib import Path
import resource
import statistics
import sys
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.stroomwijs.engine.simulate.report import (  # noqa: E402
    summarise,
)
from custom_components.stroomwijs.engine.simulate.runner import (  # noqa: E402
    ProgressBar,
    run_scenario,
)
from custom_components.stroomwijs.engine.simulate.scenario import (  # noqa: E402
    Scenario,
    load_scenario,
    scenario_from_dict,
)

SCENARIO = ROOT / "examples" / "scenarios" / "elaad_dynamic.yaml"
SHARED = (ROOT.parent / "shared" / "data", Path("/shared/data"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _year() -> Scenario:
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415

    shared = next((d for d in SHARED if (d / "SOURCES.md").exists()), None)
    if shared is None:
        msg = "the full year needs shared/data beside the checkout"
        raise SystemExit(msg)
    document = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    document["name"] = "ElaadNL reference household, dynamic tariff, 2025"
    document["period"] = {"start": "2025-01-01", "days": 365}
    enphase = str(shared / "household_pv_enphase_2022-10_2024-08_hourly.csv")
    document["series"]["load"]["file"] = enphase
    document["series"]["pv"]["file"] = enphase
    document["series"]["prices"]["file"] = str(shared / "prices_NL_2025.csv")
    return scenario_from_dict(document, base=SCENARIO.parent)


def _figures(scenario: Scenario, label: str, wall: float, runs: list) -> None:  # type: ignore[type-arg]
    from custom_components.stroomwijs.engine.simulate.scenario import (  # noqa: PLC0415
        load_data,
    )

    data = load_data(scenario)
    for run in runs:
        fig = summarise(scenario, data, run)
        solve = sorted(run.solve_times_s)
        print(
            json.dumps(
                {
                    "run": label,
                    "strategy": run.strategy,
                    "days": scenario.days,
                    "wall_s": round(wall, 1),
                    "replay_wall_s_summed": round(run.wall_s, 1),
                    "steps": run.steps,
                    "replans": run.replans,
                    "solve_median_ms": round(statistics.median(solve) * 1000, 1)
                    if solve
                    else None,
                    "solve_p95_ms": round(solve[int(0.95 * (len(solve) - 1))] * 1000, 1)
                    if solve
                    else None,
                    "solve_max_ms": round(solve[-1] * 1000, 1) if solve else None,
                    "wall_per_replan_ms": round(run.wall_s / run.replans * 1000, 1)
                    if run.replans
                    else None,
                    "energy_cost_eur": fig["energy_cost_eur"],
                    "peak_quarter_kw": fig["peak_quarter_kw"],
                    "quarters_over_limit": fig["quarters_over_limit"],
                    "ev_delivered_kwh": fig["ev"]["delivered_kwh"],
                    "ev_shortfall_kwh": fig["ev"]["shortfall_kwh"],
                    "v2g_kwh": fig["v2g"]["energy_kwh"],
                    "peak_rss_mb_main": round(_rss_mb(), 1),
                    "peak_rss_mb_replay_process": run.peak_rss_mb,
                }
            ),
            flush=True,
        )


def main() -> int:
    """Run the chosen benchmark and print its figures (one JSON line each)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--meter-values", type=int, default=60, help="seconds")
    parser.add_argument("--year", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--handover", type=int, help="days, unsplit vs 2 chunks")
    parser.add_argument("--strategies", default="stroomwijs")
    args = parser.parse_args()
    strategies = args.strategies.split(",")
    scenario = load_scenario(SCENARIO)
    scenario = replace(scenario, meter_values_s=args.meter_values)
    print(f"peak RSS after imports and loading: {_rss_mb():.1f} MB", flush=True)
    if args.year:
        year = replace(_year(), meter_values_s=args.meter_values)
        began = time.perf_counter()
        _data, runs = run_scenario(
            year, strategies, jobs=args.jobs, chunk_days=None, progress=ProgressBar
        )
        _figures(
            year, f"year, by month, {args.jobs} jobs", time.perf_counter() - began, runs
        )
        return 0
    if args.handover:
        period = replace(scenario, days=args.handover)
        began = time.perf_counter()
        _data, whole = run_scenario(period, strategies, jobs=1, chunk_days=0)
        _figures(period, "unsplit", time.perf_counter() - began, whole)
        began = time.perf_counter()
        _data, split = run_scenario(
            period, strategies, jobs=args.jobs, chunk_days=(args.handover + 1) // 2
        )
        _figures(
            period, f"2 chunks, {args.jobs} jobs", time.perf_counter() - began, split
        )
        return 0
    period = replace(scenario, days=args.days)
    began = time.perf_counter()
    _data, runs = run_scenario(period, strategies, jobs=1, chunk_days=0)
    _figures(period, f"{args.days} days", time.perf_counter() - began, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
