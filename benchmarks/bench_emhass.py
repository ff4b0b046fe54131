"""Stroomwijs's planner next to EMHASS on the reference set (issue 11).

One command, run on the host from the checkout root::

    python3 benchmarks/bench_emhass.py [-n 3] [--only autumn]

EMHASS (PyPI ``emhass`` 0.18.7) pins numpy below 2.3, which has no wheels for
the project's Python 3.14, so it runs in its own benchmark-only virtualenv,
``.cache/emhass-venv``, made here with the host's Python (3.11 or newer) on
the first run. It is never a dependency of the integration. Our planner runs
in the project's environment (``script/run``). The script:

1. asks our planner (``--ours``, inside ``script/run``) to map each case of
   ``examples/reference_set`` to what EMHASS can model, solve that with our
   planner and write EMHASS's inputs;
2. solves the same inputs with EMHASS (``benchmarks/emhass_worker.py``);
3. prices both plans with the same prices (import cost minus export
   revenue), adds to EMHASS's the heat its house ends short of the comfort
   band (EMHASS cannot bound the temperature at the end of its last slot;
   priced at the cheapest import price), and prints cost and solve time
   side by side.

What EMHASS can model, and so what both sides solve:

* base load, PV, the tariff's import and export price per slot, the DSO
  window as a time-varying import cap (EMHASS has no per-phase fuse);
* the car as a deferrable load between arrival and departure that must take
  the energy its target needs, 0..11 kW (EMHASS has no V2G and no
  minimum charge current, so our side is charge-only from 0 kW too);
* the washing machine and dishwasher as single-constant deferrable loads
  (their energy spread evenly over the cycle, on both sides);
* the heat pump as EMHASS's thermal deferrable load: ``heating_rate`` and
  ``cooling_constant`` from the house's heat capacity and loss, at the
  horizon's mean COP, 0..max power, the comfort band as its minimum and
  maximum temperatures, moved one slot on (EMHASS bounds the temperature at
  a slot's start, we at its end; the end of the last slot is not bounded in
  EMHASS) (our side: the same constant COP, fully modulating, no minimum
  run times);
* no end value on either side (EMHASS has none): the house and car end as
  they like (``end_condition: free``).

Not modelled, so left out of both sides: the boiler (EMHASS's thermal model
has no hot-water draw and loses heat to the outdoor temperature), the second
car and the home battery of the two-cars case (it maps like the first car).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".cache" / "emhass-venv"
SCRATCH = ROOT / ".cache" / "emhass-bench"
EMHASS_VERSION = "0.18.7"
MIP_REL_GAP = 0.01
SPEED_TARGET = 3.0
COMFORT_TOLERANCE_KH = 1e-3
ENERGY_TOLERANCE_KWH = 0.01


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_emhass() -> None:
    """Create the benchmark-only virtualenv with EMHASS, once."""
    check = [str(_python()), "-c", "import emhass.optimization"]
    if _python().exists() and subprocess.run(check, check=False).returncode == 0:  # noqa: S603
        return
    print(f"installing emhass {EMHASS_VERSION} into {VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [str(_python()), "-m", "pip", "install", "-q", f"emhass=={EMHASS_VERSION}"],
        check=True,
    )


# ---------------------------------------------------------------- our side


def _variant(data: dict[str, Any]) -> dict[str, Any]:
    """Return the case as EMHASS can model it (see the module docstring)."""
    case = copy.deepcopy(data)
    kept = []
    for device in case["devices"]:
        kind = device["kind"]
        if kind == "ev" and device["id"] == "ev":
            device["mode"] = "charge_only"
            device["min_charge_kw"] = 0.0
            device["end_condition"] = "free"
            device.pop("max_discharge_kw", None)
            kept.append(device)
        elif kind == "white_goods":
            total = sum(device["profile_kwh"])
            length = len(device["profile_kwh"])
            device["profile_kwh"] = [total / length] * length
            kept.append(device)
        elif kind == "heat_pump":
            outdoor = device["outdoor_c"]
            cops = [
                min(
                    max(device["cop_at_7c"] + device["cop_slope_per_k"] * (t - 7), 1), 8
                )
                for t in outdoor
            ]
            device["cop_at_7c"] = sum(cops) / len(cops)
            device["cop_slope_per_k"] = 0.0
            device["min_modulation"] = 0.0
            device["min_on_minutes"] = 0
            device["min_off_minutes"] = 0
            device["end_condition"] = "free"
            kept.append(device)
    case["devices"] = kept
    case["solver"] = {"threads": 1, "mip_rel_gap": MIP_REL_GAP}
    return case


def _ours(out_path: Path, runs: int, only: str) -> None:
    """Solve the mapped cases with our planner and write EMHASS's inputs."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_planner_quality import load_cases  # noqa: PLC0415

    from custom_components.stroomwijs.engine.planner import (  # noqa: PLC0415
        Problem,
        solve,
    )

    result: dict[str, Any] = {}
    for name, data in load_cases().items():
        if only not in name:
            continue
        case = _variant(data)
        times = []
        plan = None
        for _ in range(runs):
            started = time.perf_counter()
            problem = Problem.from_dict(case)
            plan = solve(problem)
            times.append(time.perf_counter() - started)
        if plan is None:
            continue
        problem = Problem.from_dict(case)
        result[name] = {
            "ours": {
                "cost_eur": plan.cost.total_eur,
                "import_kw": plan.import_kw,
                "export_kw": plan.export_kw,
                "times_s": times,
                "status": plan.solver.status,
                "gap": plan.solver.mip_gap,
            },
            "emhass_input": _emhass_input(problem, case),
        }
    out_path.write_text(json.dumps(result), encoding="utf-8")


def _emhass_input(problem: Any, case: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN401
    grid = problem.grid
    n = grid.count
    step = grid.slot_minutes
    deferrables = []
    thermal = None
    for device in problem.devices:
        if device.kind == "ev":
            need = max(device.e_target - device.e0, 0.0) / device.eta_charge
            deferrables.append(
                {
                    "nominal_w": device.max_charge_kw * 1000.0,
                    "hours": need / device.max_charge_kw,
                    "start": device.first,
                    "end": device.last,
                    "semi_cont": False,
                    "single_constant": False,
                }
            )
        elif device.kind == "white_goods":
            length = device.profile.shape[0]
            deferrables.append(
                {
                    "nominal_w": float(device.power_profile.mean()) * 1000.0,
                    "hours": length * step / 60.0,
                    "start": device.first,
                    "end": device.deadline,
                    "semi_cont": True,
                    "single_constant": True,
                }
            )
        elif device.kind == "heat_pump":
            low, high = device._band_low, device._band_high  # noqa: SLF001
            # EMHASS bounds the temperature at the start of each slot, ours
            # at its end: EMHASS's slot t + 1 carries our slot t's band.
            start = device.indoor_c
            end_band = [float(low[-1]), float(high[-1])]
            low = [min(start, float(low[0])), *(float(v) for v in low[:-1])]
            high = [max(start, float(high[0])), *(float(v) for v in high[:-1])]
            cop = float(device.cop.mean())
            deferrables.append(
                {
                    "nominal_w": device.max_power_kw * 1000.0,
                    "hours": 0.0,
                    "start": 0,
                    "end": 0,
                    "semi_cont": False,
                    "single_constant": False,
                    "thermal": {
                        "heating_rate": cop
                        * device.max_power_kw
                        / device.heat_capacity,
                        "cooling_constant": device.heat_loss / device.heat_capacity,
                        "start_temperature": device.indoor_c,
                        "min_temperatures": low,
                        "max_temperatures": high,
                        "desired_temperatures": low,
                        "sense": "heat",
                    },
                    # Our band at the end of the last slot, which EMHASS
                    # cannot bound (for the judge only).
                    "end_band": end_band,
                }
            )
            thermal = [float(v) for v in device.outdoor_c]
    return {
        "slots": n,
        "start": grid.start.isoformat(),
        "timezone": str(case.get("timezone", "Europe/Amsterdam")),
        "step_minutes": step,
        "mip_rel_gap": MIP_REL_GAP,
        "time_limit_s": 60,
        "scratch": str(SCRATCH),
        "load_w": [float(v) * 1000.0 for v in problem.base_load_kw],
        "pv_w": [float(v) * 1000.0 for v in problem.pv_kw],
        "import_eur_per_kwh": [float(v) for v in problem.prices.import_eur_per_kwh],
        "export_eur_per_kwh": [float(v) for v in problem.prices.export_eur_per_kwh],
        "import_cap_w": [float(v) * 1000.0 for v in problem.import_cap_kw],
        "export_cap_w": [float(v) * 1000.0 for v in problem.export_cap_kw],
        "outdoor_c": thermal or [10.0] * n,
        "deferrables": deferrables,
    }


# ---------------------------------------------------------------- host side


def _price(
    flows: dict[str, Any], buy: list[float], sell: list[float], h: float
) -> float:
    imports = flows.get("P_grid_pos", [])
    exports = flows.get("P_grid_neg", [])
    cost = sum(max(p, 0.0) / 1000.0 * b * h for p, b in zip(imports, buy, strict=True))
    # EMHASS reports export as negative power.
    cost -= sum(abs(p) / 1000.0 * s * h for p, s in zip(exports, sell, strict=True))
    return cost


def judge(case_in: dict[str, Any], flows: dict[str, Any]) -> tuple[list[str], float]:
    """Check a plan's device powers against the model both sides share.

    The house is simulated with the planner's own equation (temperature at
    the end of each slot, from that slot's outdoor temperature) and held to
    the comfort band of that slot; deferrable loads must get their energy
    inside their window. Returns what is wrong, in words, and what the heat
    the house ends short of its band would cost to make up (at the cheapest
    import price of the horizon: EMHASS does not bound the temperature at
    the end of its last slot, so it may end a little colder than we may).
    """
    notes: list[str] = []
    end_deficit_eur = 0.0
    h = case_in["step_minutes"] / 60.0
    powers = flows.get("deferrable_w", [])
    for k, load in enumerate(case_in["deferrables"]):
        if k >= len(powers):
            notes.append(f"load {k} missing")
            continue
        power = powers[k]
        if "thermal" in load:
            thermal = load["thermal"]
            temp = thermal["start_temperature"]
            below = above = 0.0
            end_low, end_high = load["end_band"]
            lows = [*thermal["min_temperatures"][1:], end_low]
            highs = [*thermal["max_temperatures"][1:], end_high]
            last = len(power) - 1
            for t, p in enumerate(power):
                temp += h * (
                    thermal["heating_rate"] * p / load["nominal_w"]
                    - thermal["cooling_constant"] * (temp - case_in["outdoor_c"][t])
                )
                # Our slot t's band is EMHASS's slot t + 1 (see _emhass_input).
                # The last slot's end, which EMHASS cannot bound, is judged
                # (and its shortfall priced) below, not counted twice.
                if t < last:
                    below += max(lows[t] - temp, 0.0) * h
                    above += max(temp - highs[t], 0.0) * h
            short = max(end_low - temp, 0.0)
            if short > 0:
                kwh_per_k = load["nominal_w"] / 1000.0 / thermal["heating_rate"]
                cheapest = min(case_in["import_eur_per_kwh"])
                end_deficit_eur += short * kwh_per_k * cheapest
                notes.append(f"house ends {short:.3f} K below its band")
            if below > COMFORT_TOLERANCE_KH:
                notes.append(f"house {below:.3f} K.h below comfort")
            if above > COMFORT_TOLERANCE_KH:
                notes.append(f"house {above:.3f} K.h above comfort")
            continue
        energy = sum(power) * h / 1000.0
        need = load["nominal_w"] * load["hours"] / 1000.0
        outside = sum(
            p for t, p in enumerate(power) if not load["start"] <= t < load["end"]
        )
        if energy < need - ENERGY_TOLERANCE_KWH or outside > 1.0:
            notes.append(f"load {k}: {energy:.2f} of {need:.2f} kWh in its window")
    return notes, end_deficit_eur


def main() -> None:
    """Run both sides and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--runs", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--ours", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ours:
        _ours(args.ours, args.runs, args.only)
        return
    ensure_emhass()
    SCRATCH.mkdir(parents=True, exist_ok=True)
    ours_file = SCRATCH / "ours.json"
    relative = ours_file.relative_to(ROOT)
    subprocess.run(  # noqa: S603
        [
            str(ROOT / "script" / "run"),
            "python",
            "benchmarks/bench_emhass.py",
            "--ours",
            str(relative),
            "-n",
            str(args.runs),
            "--only",
            args.only,
        ],
        check=True,
        cwd=ROOT,
    )
    ours = json.loads(ours_file.read_text(encoding="utf-8"))
    emhass_in = {name: item["emhass_input"] for name, item in ours.items()}
    in_file = SCRATCH / "emhass_in.json"
    in_file.write_text(json.dumps(emhass_in), encoding="utf-8")
    emhass_times: dict[str, list[float]] = {name: [] for name in ours}
    emhass_out: dict[str, Any] = {}
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for _ in range(args.runs):
        out_file = SCRATCH / "emhass_out.json"
        subprocess.run(  # noqa: S603
            [
                str(_python()),
                str(ROOT / "benchmarks" / "emhass_worker.py"),
                str(in_file),
                str(out_file),
            ],
            check=True,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        emhass_out = json.loads(out_file.read_text(encoding="utf-8"))
        for name, item in emhass_out.items():
            if "solve_time_s" in item:
                emhass_times[name].append(item["solve_time_s"])
    print(
        f"{'case':<34} {'ours EUR':>9} {'EMHASS EUR':>10} {'+end heat':>9} "
        f"{'diff':>9} {'ours s':>7} {'EMHASS s':>8} {'speed-up':>8}  notes"
    )
    for name, item in ours.items():
        case_in = emhass_in[name]
        h = case_in["step_minutes"] / 60.0
        mine = item["ours"]
        ours_cost = _price(
            {
                "P_grid_pos": [p * 1000.0 for p in mine["import_kw"]],
                "P_grid_neg": [p * 1000.0 for p in mine["export_kw"]],
            },
            case_in["import_eur_per_kwh"],
            case_in["export_eur_per_kwh"],
            h,
        )
        theirs = emhass_out.get(name, {})
        status = theirs.get("status", "missing")
        if "P_grid_pos" not in theirs:
            print(f"{name:<34} {ours_cost:>9.3f} {'-':>10}  EMHASS: {status}")
            continue
        their_cost = _price(
            theirs, case_in["import_eur_per_kwh"], case_in["export_eur_per_kwh"], h
        )
        our_time = statistics.median(mine["times_s"])
        their_time = (
            statistics.median(emhass_times[name])
            if emhass_times[name]
            else float("nan")
        )
        notes, end_heat = judge(case_in, theirs)
        flags = [f"EMHASS plan: {note}" for note in notes]
        fair = their_cost + end_heat
        if ours_cost > fair + 1e-6:
            flags.append("OURS COSTLIER")
        if their_time < SPEED_TARGET * our_time:
            flags.append("under 3x faster")
        print(
            f"{name:<34} {ours_cost:>9.4f} {their_cost:>10.4f} {fair:>9.4f} "
            f"{ours_cost - fair:>+9.4f} {our_time:>6.3f}s {their_time:>7.3f}s "
            f"{their_time / our_time:>7.1f}x  EMHASS {status}; ours {mine['status']} "
            f"{' '.join(flags)}"
        )


if __name__ == "__main__":
    main()
