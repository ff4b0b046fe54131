"""Real-shaped price entity states from the shipped NL day-ahead prices."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

FIXTURE = Path(__file__).parents[2] / "fixtures" / "prices_NL_2025-12-16_15min.csv"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def quarter_prices() -> list[tuple[datetime, float]]:
    """(start, EUR/kWh) for the 96 quarter-hours of 16 December 2025."""
    with FIXTURE.open(encoding="utf-8") as handle:
        return [
            (
                datetime.fromisoformat(row["start_utc"]),
                float(row["price_eur_per_mwh"]) / 1000.0,
            )
            for row in csv.DictReader(handle)
        ]


def hourly_prices() -> list[tuple[datetime, float]]:
    """Hourly means of the quarter-hour prices."""
    quarters = quarter_prices()
    return [
        (quarters[i][0], sum(p for _, p in quarters[i : i + 4]) / 4)
        for i in range(0, len(quarters), 4)
    ]


def nordpool_state(*, unit: str = "EUR/kWh", scale: float = 1.0) -> dict[str, Any]:
    """Attributes of the HACS Nord Pool sensor (hourly ``raw_today``)."""
    rows = [
        {
            "start": start.astimezone(AMSTERDAM).isoformat(),
            "end": (start + timedelta(hours=1)).astimezone(AMSTERDAM).isoformat(),
            "value": round(price * scale, 5),
        }
        for start, price in hourly_prices()
    ]
    return {
        "unit_of_measurement": unit,
        "currency": "EUR",
        "region": "NL",
        "today": [row["value"] for row in rows],
        "tomorrow": [],
        "tomorrow_valid": False,
        "raw_today": rows,
        "raw_tomorrow": [],
    }


def entsoe_state() -> dict[str, Any]:
    """Attributes of the HACS ENTSO-E sensor (15-minute ``prices_today``)."""
    rows = [
        {
            "time": start.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M:%S%z"),
            "price": round(price, 5),
        }
        for start, price in quarter_prices()
    ]
    return {"unit_of_measurement": "€/kWh", "prices_today": rows, "prices": rows}


def energyzero_state() -> dict[str, Any]:
    """Return the ``energyzero.get_energy_prices`` response as an attribute."""
    return {
        "prices": [
            {"timestamp": start.strftime("%Y-%m-%d %H:%M:%S+00:00"), "price": price}
            for start, price in quarter_prices()
        ]
    }


def tibber_state() -> dict[str, Any]:
    """Return the ``tibber.get_prices`` response (one list per home)."""
    return {
        "prices": {
            "Thuis": [
                {
                    "start_time": start.astimezone(AMSTERDAM).isoformat(
                        timespec="milliseconds"
                    ),
                    "price": round(price * 1.21 + 0.15, 4),
                }
                for start, price in hourly_prices()
            ]
        }
    }
