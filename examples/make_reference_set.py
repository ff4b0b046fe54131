# ruff: noqa: INP001
"""Build examples/reference_set/*.json: the planner's quality and speed set.

Every case is the reference household of ``make_reference_household.py``
(ElaadNL's Annex 1 household plus heat pump, boiler, white goods, a V2G car,
a 16:00-21:00 DSO window at 4 kW and a 3x25 A fuse) over 48 hours, on one of
three real days with the matching real day-ahead prices and the same
calendar days of measured load and PV (see ``shared/data/SOURCES.md``):

* winter: Wednesday 15 January 2025 (hourly day-ahead prices, each hour
  spread over its four quarter-hours), load and PV of 15-16 January 2023,
  outdoor -2..4 degC;
* summer: Tuesday 15 July 2025 (hourly prices), load and PV of 15-16 July
  2023, outdoor 15..26 degC;
* autumn: Wednesday 15 October 2025 (15-minute prices), load and PV of 15-16
  October 2023, outdoor 7..14 degC (the example household itself).

Outdoor temperatures are synthetic daily curves (shared/data has no weather).

Each day runs under three tariffs. The energy tax (0.1228 EUR/kWh), VAT
(21 %) and feed-in price (0.13 EUR/kWh) are those of the ElaadNL reference
household (the household issue 15 specifies, and the simulator's
``examples/scenarios/elaad_*.yaml``), and so are the fixed tariffs' all-in
consumer prices (energy, energy tax and VAT included):

* ``dynamic``: day-ahead price plus a 0.02 EUR/kWh markup (the markup is
  ours);
* ``single``: 0.30 EUR/kWh all-in;
* ``day_night``: 0.32 EUR/kWh all-in by day, 0.28 EUR/kWh all-in from 23:00
  to 07:00 and at weekends.

The planner prices a fixed tariff as (rate + energy tax) x (1 + VAT), so a
case carries the supplier rate p / (1 + VAT) - energy tax of an all-in price
p (0.125134, 0.141663 and 0.108605 EUR/kWh), the same conversion the
simulator makes (docs/scenarios.md); the energy tax stays a separate term
because the car's double-tax cost of V2G needs it.

On top of those nine V2G cases: the car charge-only (V2G off) on each day's
dynamic tariff, a tight 1.5 kW window on the autumn dynamic day, and a
second car (charge-only, single phase) plus a 10 kWh home battery on the
winter and autumn dynamic days.

Run from the checkout root: ``script/run python examples/make_reference_set.py``
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import sys
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_reference_household import build

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "examples" / "reference_set"

DAYS: dict[str, tuple[datetime, datetime, tuple[float, float]]] = {
    # Local midnight (UTC), the same calendar day of 2023, outdoor min/max.
    "winter": (
        datetime(2025, 1, 14, 23, 0, tzinfo=UTC),
        datetime(2023, 1, 14, 23, 0, tzinfo=UTC),
        (-2.0, 4.0),
    ),
    "summer": (
        datetime(2025, 7, 14, 22, 0, tzinfo=UTC),
        datetime(2023, 7, 14, 22, 0, tzinfo=UTC),
        (15.0, 26.0),
    ),
    "autumn": (
        datetime(2025, 10, 14, 22, 0, tzinfo=UTC),
        datetime(2023, 10, 14, 22, 0, tzinfo=UTC),
        (7.0, 14.0),
    ),
}
ENERGY_TAX = 0.1228
VAT = 0.21
FEED_IN = 0.13
SINGLE_ALL_IN = 0.30
DAY_ALL_IN = 0.32
NIGHT_ALL_IN = 0.28


def supplier_rate(all_in: float) -> float:
    """Return the energy rate whose (rate + tax) x (1 + VAT) is ``all_in``."""
    return all_in / (1.0 + VAT) - ENERGY_TAX


SINGLE_RATE = supplier_rate(SINGLE_ALL_IN)
DAY_RATE = supplier_rate(DAY_ALL_IN)
NIGHT_RATE = supplier_rate(NIGHT_ALL_IN)


def _tariff(data: dict[str, Any], tariff: str) -> dict[str, Any]:
    case = copy.deepcopy(data)
    export = {"basis": "fixed", "fixed_eur_per_kwh": FEED_IN}
    if tariff == "single":
        case["prices"] = {
            "tariff": "single",
            "single_eur_per_kwh": SINGLE_RATE,
            "energy_tax_eur_per_kwh": ENERGY_TAX,
            "vat": VAT,
            "export": export,
        }
    elif tariff == "day_night":
        case["prices"] = {
            "tariff": "day_night",
            "day_eur_per_kwh": DAY_RATE,
            "night_eur_per_kwh": NIGHT_RATE,
            "night_start": "23:00",
            "night_end": "07:00",
            "weekend_is_night": True,
            "energy_tax_eur_per_kwh": ENERGY_TAX,
            "vat": VAT,
            "export": export,
        }
    case["horizon_slots"] = len(case["base_load_kw"])
    return case


def _device(case: dict[str, Any], device_id: str) -> dict[str, Any]:
    device: dict[str, Any] = next(d for d in case["devices"] if d["id"] == device_id)
    return device


def _local(start: datetime, day: int, hour: int, minute: int = 0) -> str:
    moment = start + timedelta(days=day, hours=hour, minutes=minute)
    return moment.isoformat().replace("+00:00", "Z")


def cases() -> dict[str, dict[str, Any]]:
    """Return every case of the set by name."""
    result: dict[str, dict[str, Any]] = {}
    for season, (start, same_days, outdoor) in DAYS.items():
        household = build(start, same_days, outdoor)
        for tariff in ("dynamic", "single", "day_night"):
            case = _tariff(household, tariff)
            case["description"] = f"{season}, {tariff} tariff, V2G car. " + str(
                household["description"]
            )
            result[f"{season}_{tariff}_v2g"] = case
        case = _tariff(household, "dynamic")
        _device(case, "ev")["mode"] = "charge_only"
        case["description"] = f"{season}, dynamic tariff, car charge-only."
        result[f"{season}_dynamic_charge_only"] = case
        if season == "autumn":
            tight = _tariff(household, "dynamic")
            for window in tight["grid"]["windows"]:
                window["import_kw"] = 1.5
            tight["description"] = "autumn, dynamic tariff, V2G car, 1.5 kW window."
            result["autumn_dynamic_tight_window"] = tight
        if season in {"winter", "autumn"}:
            multi = _tariff(household, "dynamic")
            multi["devices"].append(
                {
                    "id": "ev2",
                    "kind": "ev",
                    "name": "Second car",
                    "mode": "charge_only",
                    "capacity_kwh": 40.0,
                    "soc": 0.35,
                    "min_soc": 0.2,
                    "target_soc": 0.8,
                    "max_charge_kw": 7.4,
                    "min_charge_kw": 1.4,
                    "phases": 1,
                    "phase": 1,
                    "arrival": _local(start, 0, 19),
                    "departure": _local(start, 1, 8),
                }
            )
            multi["devices"].append(
                {
                    "id": "battery",
                    "kind": "battery",
                    "name": "Home battery",
                    "capacity_kwh": 10.0,
                    "soc": 0.5,
                    "min_soc": 0.1,
                    "max_charge_kw": 5.0,
                    "round_trip_efficiency": 0.9,
                    "degradation_eur_per_kwh": 0.02,
                }
            )
            multi["description"] = (
                f"{season}, dynamic tariff, V2G car, a second car and a battery."
            )
            result[f"{season}_dynamic_two_cars_battery"] = multi
    return result


def main() -> None:
    """Write one file per case."""
    OUTPUT.mkdir(exist_ok=True)
    for name, case in cases().items():
        path = OUTPUT / f"{name}.json"
        path.write_text(json.dumps(case, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")  # noqa: T201


if __name__ == "__main__":
    main()
