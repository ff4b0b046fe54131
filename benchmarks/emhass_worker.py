"""Solve mapped households with EMHASS (runs in EMHASS's own virtualenv).

Called by ``benchmarks/bench_emhass.py`` as
``.cache/emhass-venv/bin/python benchmarks/emhass_worker.py IN.json OUT.json``;
it never imports Stroomwijs. Each case in IN.json gives per-slot load, PV,
prices and grid limits, and the deferrable loads; OUT.json gets EMHASS's grid
flows, deferrable powers, status and solve time per case.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
import sys
import time
from typing import Any

from emhass import utils
from emhass.optimization import Optimization
import numpy as np
import pandas as pd

LOGGER = logging.getLogger("emhass-bench")
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False


ROOT = Path(utils.__file__).resolve().parent


async def _params(case: dict[str, Any]) -> tuple[dict, dict, dict, dict]:
    root = ROOT
    emhass_conf = {
        "root_path": root,
        "data_path": Path(case["scratch"]),
        "defaults_path": root / "data" / "config_defaults.json",
        "associations_path": root / "data" / "associations.csv",
    }
    config = await utils.build_config(
        emhass_conf, LOGGER, str(emhass_conf["defaults_path"])
    )
    loads = case["deferrables"]
    config.update(
        {
            "costfun": "cost",
            "optimization_time_step": case["step_minutes"],
            "delta_forecast_daily": case["slots"] * case["step_minutes"] / 1440,
            "lp_solver_mip_rel_gap": case["mip_rel_gap"],
            "lp_solver_timeout": case["time_limit_s"],
            "num_threads": 1,
            "set_use_battery": False,
            "set_use_pv": False,
            "number_of_deferrable_loads": len(loads),
            "nominal_power_of_deferrable_loads": [d["nominal_w"] for d in loads],
            "minimum_power_of_deferrable_loads": [0.0 for _ in loads],
            "operating_hours_of_each_deferrable_load": [0 for _ in loads],
            "start_timesteps_of_each_deferrable_load": [d["start"] for d in loads],
            "end_timesteps_of_each_deferrable_load": [d["end"] for d in loads],
            "treat_deferrable_load_as_semi_cont": [d["semi_cont"] for d in loads],
            "set_deferrable_load_single_constant": [
                d["single_constant"] for d in loads
            ],
            "set_deferrable_startup_penalty": [0.0 for _ in loads],
            "def_minimum_on_time": [0 for _ in loads],
            "def_minimum_off_time": [0 for _ in loads],
            "set_deferrable_max_startups": [0 for _ in loads],
            "deferrable_load_max_cost": [0.0 for _ in loads],
            "cost_forecast_per_deferrable_load": [None for _ in loads],
            "is_electric_load": [True for _ in loads],
            "maximum_power_from_grid": case["import_cap_w"],
            "maximum_power_to_grid": case["export_cap_w"],
            "set_nocharge_from_grid": False,
            "compute_curtailment": False,
        }
    )
    secrets = {
        "time_zone": case["timezone"],
        "lat": 52.1,
        "lon": 5.18,
        "alt": 0.0,
        "hass_url": "http://127.0.0.1:1",
        "long_lived_token": "unused",
    }
    params = await utils.build_params(emhass_conf, secrets, config, LOGGER)
    retrieve, optim, plant = utils.get_yaml_parse(params, LOGGER)
    optim["def_load_config"] = [
        {"thermal_config": d["thermal"]} if "thermal" in d else {} for d in loads
    ]
    return emhass_conf, retrieve, optim, plant


def solve(case: dict[str, Any]) -> dict[str, Any]:
    """Solve one case with EMHASS; return flows, powers and the solve time."""
    emhass_conf, retrieve, optim, plant = asyncio.run(_params(case))
    n = case["slots"]
    index = pd.date_range(
        start=pd.Timestamp(case["start"]).tz_convert(case["timezone"]),
        periods=n,
        freq=f"{case['step_minutes']}min",
    )
    load = np.asarray(case["load_w"], dtype=float)
    pv = np.asarray(case["pv_w"], dtype=float)
    buy = np.asarray(case["import_eur_per_kwh"], dtype=float)
    sell = np.asarray(case["export_eur_per_kwh"], dtype=float)
    data = pd.DataFrame(
        {
            "unit_load_cost": buy,
            "unit_prod_price": sell,
            "outdoor_temperature_forecast": case.get("outdoor_c", [10.0] * n),
        },
        index=index,
    )
    optimizer = Optimization(
        retrieve,
        optim,
        plant,
        "unit_load_cost",
        "unit_prod_price",
        "cost",
        emhass_conf,
        LOGGER,
        opt_time_delta=n * case["step_minutes"] / 60,
        num_timesteps=n,
    )
    loads = case["deferrables"]
    started = time.perf_counter()
    result = optimizer.perform_optimization(
        data,
        pv,
        load,
        buy,
        sell,
        def_total_hours=[d["hours"] for d in loads],
        def_start_timestep=[d["start"] for d in loads],
        def_end_timestep=[d["end"] for d in loads],
    )
    elapsed = time.perf_counter() - started
    out: dict[str, Any] = {
        "status": str(getattr(optimizer, "optim_status", "unknown")),
        "solve_time_s": elapsed,
    }
    for column in ("P_grid_pos", "P_grid_neg", "P_grid"):
        if column in result:
            out[column] = [float(v) for v in result[column].to_numpy()]
    out["deferrable_w"] = [
        [float(v) for v in result[f"P_deferrable{k}"].to_numpy()]
        for k in range(len(loads))
        if f"P_deferrable{k}" in result
    ]
    return out


def main() -> None:
    """Solve every case in the input file and write the results."""
    cases = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    results = {}
    for name, case in cases.items():
        try:
            results[name] = solve(case)
        except Exception as err:  # noqa: BLE001 - report, go on with the next case
            results[name] = {"status": f"error: {type(err).__name__}: {err}"}
    Path(sys.argv[2]).write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    main()
