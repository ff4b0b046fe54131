# ruff: noqa: INP001
"""Build examples/reference_household.json from the public data in shared/data.

The household is the reference household of the ElaadNL bidirectional
charging study (Annex 1): 3500 kWh/yr of household load, 2500 kWh/yr of PV,
an EV of 70 kWh / 11 kW / 85 % round trip that must leave at 90 %, energy tax
0.1228 EUR/kWh, VAT 21 % and a feed-in price of 0.13 EUR/kWh. Stroomwijs adds
a heat pump, a 2 kW / 100 l boiler, a washing machine, a dishwasher, a
16:00-21:00 DSO window at 4 kW and a 3x25 A main fuse. 192 slots = 48 h.

Where the series come from (see shared/data/SOURCES.md for full provenance):

* Prices: ``prices_NL_2025.csv``, real NL day-ahead 15-minute prices
  (jeroen.nl via langestefan.github.io) from 2025-10-14T22:00Z, i.e. local
  midnight on Wednesday 15 October 2025, after the SDAC 15-minute go-live.
* Load and PV: ``household_pv_enphase_2022-10_2024-08_hourly.csv``
  (patrickvorgers/Home-Assistant-Import-Energy-Data, MIT), the one series in
  shared/data that measures a household's *consumption* (pv - export +
  import) and PV on the same site. The NL DSMR-reader series only sees the
  net import of a house with PV behind the meter, which is not its load.
  The same calendar days of 2023 (15-16 October, local) are used, each
  series scaled so that calendar year 2023 sums to the study's annual
  totals (3500 kWh load, 2500 kWh PV); each hour is spread evenly over its
  four quarter-hours.
* Outdoor temperature: shared/data has no weather series, so the forecast is
  a smooth daily curve between 7 and 14 degC (typical of mid-October in De
  Bilt). It is synthetic and marked as such in the problem file.

Run from the checkout root: ``script/run python examples/make_reference_household.py``
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_CANDIDATES = (ROOT.parent / "shared" / "data", Path("/shared/data"))
OUTPUT = ROOT / "examples" / "reference_household.json"

START = datetime(2025, 10, 14, 22, 0, tzinfo=UTC)  # 00:00 local, 15 Oct 2025
SLOTS = 192
SAME_DAYS_2023 = datetime(2023, 10, 14, 22, 0, tzinfo=UTC)
AUTUMN_OUTDOOR_C = (7.0, 14.0)
"""Coldest and warmest outdoor temperature of the synthetic daily curve."""
ANNUAL_LOAD_KWH = 3500.0
ANNUAL_PV_KWH = 2500.0


def _data_dir() -> Path:
    for candidate in DATA_CANDIDATES:
        if (candidate / "SOURCES.md").exists():
            return candidate
    msg = "shared/data not found next to the checkout or at /shared/data"
    raise SystemExit(msg)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _prices(data: Path, start: datetime = START) -> list[float]:
    with (data / "prices_NL_2025.csv").open(encoding="utf-8") as handle:
        by_time = {
            _time(row["start_utc"]): float(row["price_eur_per_mwh"]) / 1000.0
            for row in csv.DictReader(handle)
        }
    return [round(by_time[start + timedelta(minutes=15 * i)], 5) for i in range(SLOTS)]


def _load_and_pv(
    data: Path, same_days: datetime = SAME_DAYS_2023
) -> tuple[list[float], list[float]]:
    path = data / "household_pv_enphase_2022-10_2024-08_hourly.csv"
    with path.open(encoding="utf-8") as handle:
        rows = [
            (_time(r["start_utc"]), float(r["consumption_kwh"]), float(r["pv_kwh"]))
            for r in csv.DictReader(handle)
        ]
    year = [r for r in rows if r[0].year == 2023]  # noqa: PLR2004
    load_scale = ANNUAL_LOAD_KWH / sum(r[1] for r in year)
    pv_scale = ANNUAL_PV_KWH / sum(r[2] for r in year)
    hourly = {r[0]: (r[1], r[2]) for r in rows}
    load: list[float] = []
    pv: list[float] = []
    for i in range(SLOTS):
        hour = same_days + timedelta(hours=i // 4)
        consumption, production = hourly[hour]
        # kWh in an hour is the hour's average power in kW.
        load.append(round(consumption * load_scale, 4))
        pv.append(round(production * pv_scale, 4))
    return load, pv


def _outdoor(coldest_warmest: tuple[float, float] = AUTUMN_OUTDOOR_C) -> list[float]:
    coldest, warmest = coldest_warmest
    mean = (coldest + warmest) / 2.0
    swing = (warmest - coldest) / 2.0
    temps = []
    for i in range(SLOTS):
        local_hour = (i / 4.0) % 24.0
        # Coldest around 06:00, warmest around 15:00.
        temps.append(
            round(
                mean
                - swing * math.cos(2 * math.pi * (local_hour - 4.5) / 24.0 - math.pi),
                2,
            )
        )
    return temps


def _local(day: int, hour: int, minute: int = 0, start: datetime = START) -> str:
    """Return an ISO time ``day`` days after the local midnight ``start``."""
    moment = start + timedelta(days=day, hours=hour, minutes=minute)
    return moment.isoformat().replace("+00:00", "Z")


def _draws() -> list[float]:
    """Hot-water heat drawn per slot (kWh): showers and dishes."""
    draws = [0.0] * SLOTS
    for day in (0, 1):
        base = day * 96
        for slot, kwh in ((28, 1.2), (29, 1.0), (30, 0.4), (74, 0.5), (78, 0.6)):
            draws[base + slot] = kwh
    return draws


def build(
    start: datetime = START,
    same_days: datetime = SAME_DAYS_2023,
    outdoor_c: tuple[float, float] = AUTUMN_OUTDOOR_C,
) -> dict[str, object]:
    """Return the problem as JSON-ready data.

    ``start`` is local midnight (in UTC) of the first planned day,
    ``same_days`` the same calendar day of 2023 for the load and PV series,
    and ``outdoor_c`` the coldest and warmest outdoor temperature.
    """
    data = _data_dir()
    load, pv = _load_and_pv(data, same_days)

    def local(day: int, hour: int, minute: int = 0) -> str:
        return _local(day, hour, minute, start)

    return {
        "description": (
            "ElaadNL bidirectional charging study reference household (Annex 1) "
            "plus heat pump, boiler, washing machine, dishwasher, a 16:00-21:00 "
            "DSO window at 4 kW and a 3x25 A fuse. Built by "
            "examples/make_reference_household.py from shared/data (see its "
            "SOURCES.md); outdoor_c is synthetic."
        ),
        "start": start.isoformat().replace("+00:00", "Z"),
        "slot_minutes": 15,
        "timezone": "Europe/Amsterdam",
        "prices": {
            "tariff": "dynamic",
            "spot_eur_per_kwh": _prices(data, start),
            "markup_eur_per_kwh": 0.02,
            "energy_tax_eur_per_kwh": 0.1228,
            "vat": 0.21,
            "export": {"basis": "fixed", "fixed_eur_per_kwh": 0.13},
        },
        "grid": {
            "fuse": "3x25",
            "windows": [
                {"start": local(day, 16), "end": local(day, 21), "import_kw": 4.0}
                for day in (0, 1)
            ],
        },
        "base_load_kw": load,
        "pv_kw": pv,
        "devices": [
            {
                "id": "ev",
                "kind": "ev",
                "name": "EV",
                "mode": "v2g",
                "capacity_kwh": 70.0,
                "soc": 0.45,
                "min_soc": 0.3,
                "target_soc": 0.9,
                "max_charge_kw": 11.0,
                "min_charge_kw": 4.14,
                "max_discharge_kw": 11.0,
                "round_trip_efficiency": 0.85,
                "degradation_eur_per_kwh": 0.03,
                "double_energy_tax": True,
                "arrival": local(0, 18),
                "departure": local(1, 7, 30),
            },
            {
                "id": "heat_pump",
                "kind": "heat_pump",
                "name": "Heat pump",
                "max_power_kw": 2.5,
                "min_modulation": 0.3,
                "cop_at_7c": 3.6,
                "cop_slope_per_k": 0.08,
                "outdoor_c": _outdoor(outdoor_c),
                "house": {
                    "heat_capacity_kwh_per_k": 12.0,
                    "heat_loss_kw_per_k": 0.15,
                    "indoor_c": 20.5,
                },
                "comfort": {
                    "min_c": 20.0,
                    "max_c": 22.0,
                    "window_setback_c": 0.8,
                    "preheat_minutes": 60,
                },
                "min_on_minutes": 30,
                "min_off_minutes": 30,
            },
            {
                "id": "boiler",
                "kind": "boiler",
                "name": "Boiler",
                "volume_l": 100.0,
                "power_kw": 2.0,
                "temperature_c": 55.0,
                "min_c": 40.0,
                "max_c": 75.0,
                "loss_w_per_k": 1.2,
                "draw_kwh": _draws(),
                "legionella": {
                    "due": True,
                    "temperature_c": 60.0,
                    "window_start": local(0, 10),
                    "window_end": local(0, 16),
                },
            },
            {
                "id": "washing_machine",
                "kind": "white_goods",
                "name": "Washing machine",
                "profile_kwh": [0.45, 0.1, 0.05, 0.05, 0.05, 0.05, 0.15, 0.05],
                "earliest_start": local(0, 8),
                "finish_by": local(0, 18),
                "phase": 2,
            },
            {
                "id": "dishwasher",
                "kind": "white_goods",
                "name": "Dishwasher",
                "profile_kwh": [0.4, 0.05, 0.05, 0.35, 0.05, 0.05],
                "earliest_start": local(0, 21),
                "finish_by": local(1, 7),
                "phase": 3,
            },
        ],
        "solver": {"time_limit_s": 10.0, "mip_rel_gap": 0.01, "threads": 1},
    }


def main() -> None:
    """Write the example file."""
    OUTPUT.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")  # noqa: T201


if __name__ == "__main__":
    main()
