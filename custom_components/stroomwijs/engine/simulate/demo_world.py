"""The demo's world: day-ahead prices, PV, weather, and its loopback HTTP API.

``engine/simulate/demo.py`` owns one :class:`DemoWorld`. It answers, for any
instant of the demo's clock:

* **day-ahead prices** in EUR/kWh: the real NL day-ahead prices of the same
  calendar day of 2025 (``prices_NL_2025.csv`` in shared/data; 15-minute
  prices from October 2025, hourly before), moved to today. Like the market,
  tomorrow's prices are published at 13:00 local time. Without shared/data
  the 48 h of real prices in ``examples/reference_household.json`` repeat;
* **PV production** in kW: the real hourly production of the same calendar
  day of 2023 of a Dutch household's system
  (``household_pv_enphase_2022-10_2024-08_hourly.csv``), scaled to the ElaadNL
  reference household's 2,500 kWh a year; without shared/data the reference
  household's PV repeats;
* a **PV forecast** that differs from what happens: each hour's production
  times a seeded factor between 0.8 and 1.2 (the same for the same day);
* the **outdoor temperature**: a synthetic daily curve (shared/data has no
  weather), coldest at 03:00 and warmest at 15:00 (``synthetic_outdoor_c``).

:class:`WorldApi` serves all of it, with the state of the simulated devices,
as JSON on 127.0.0.1 for the demo's Home Assistant integration
(``demo/custom_components/stroomwijs_demo``), which turns it into entities in
the attribute formats of real integrations (Nord Pool, Forecast.Solar).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
import json
import logging
import math
from pathlib import Path
import random
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

_LOGGER = logging.getLogger(__name__)

LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")
PRICES_FILE = "prices_NL_2025.csv"
PV_FILE = "household_pv_enphase_2022-10_2024-08_hourly.csv"
PRICE_YEAR = 2025
PV_YEAR = 2023
PV_SCALE = 2_500.0 / 5_781.768
"""The Enphase system made 5,781.8 kWh in 2023; the reference makes 2,500."""
PUBLISH_HOUR = 13
"""Day-ahead prices for tomorrow are known from 13:00 local time."""
FORECAST_ERROR = 0.2
MAX_POINTS = 400_000

type Clock = Callable[[], datetime]


MONTHLY_MEAN_C: tuple[float, ...] = (
    3.5, 4.0, 6.5, 9.5, 13.0, 16.0, 18.0, 17.5, 15.0, 11.0, 7.0, 4.5
)  # fmt: skip
"""Monthly means (degC), rounded, about the Dutch climate normals (De Bilt)."""
DAILY_SWING_K = 3.0


def synthetic_outdoor_c(when: datetime, zone: ZoneInfo = LOCAL_ZONE) -> float:
    """Return a synthetic outdoor temperature at ``when``.

    The month's mean plus a daily cosine of +-3 K, coldest at 03:00 and
    warmest at 15:00 local time. No weather: the demo's and the simulator's
    stand-in where no measured series is at hand.
    """
    local = when.astimezone(zone)
    mean = MONTHLY_MEAN_C[local.month - 1]
    hours = local.hour + local.minute / 60.0
    return mean + DAILY_SWING_K * math.cos((hours - 15.0) / 24.0 * 2.0 * math.pi)


def _day_of(year: int, day: date) -> date:
    """Return the same calendar day in ``year`` (29 February: the 28th)."""
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


@dataclass(frozen=True, slots=True)
class TimedSeries:
    """Values from ``starts[i]`` on, each for ``steps[i]``."""

    starts: tuple[datetime, ...]
    values: tuple[float, ...]
    steps: tuple[timedelta, ...]

    @classmethod
    def from_csv(cls, path: Path, column: str, scale: float = 1.0) -> TimedSeries:
        """Read a ``start_utc,<column>`` file; empty cells are skipped."""
        starts: list[datetime] = []
        values: list[float] = []
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                raw = row.get(column) or ""
                if not raw:
                    continue
                starts.append(datetime.fromisoformat(row["start_utc"]))
                values.append(float(raw) * scale)
                if len(starts) >= MAX_POINTS:
                    break
        if not starts:
            msg = f"{path} has no values in {column!r}"
            raise ValueError(msg)
        steps = [b - a for a, b in pairwise(starts)]
        steps.append(steps[-1] if steps else timedelta(hours=1))
        return cls(tuple(starts), tuple(values), tuple(steps))

    def day(self, day: date) -> list[tuple[datetime, timedelta, float]]:
        """Return the points that start within local ``day``."""
        start = datetime.combine(day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)
        end = datetime.combine(
            day + timedelta(days=1), time(0), tzinfo=LOCAL_ZONE
        ).astimezone(UTC)
        first = bisect_right(self.starts, start - timedelta(microseconds=1))
        out = []
        for i in range(first, len(self.starts)):
            if self.starts[i] >= end:
                break
            out.append((self.starts[i], self.steps[i], self.values[i]))
        return out


def _move(
    points: list[tuple[datetime, timedelta, float]], source: date, target: date
) -> list[tuple[datetime, timedelta, float]]:
    """Move a local day's points from ``source`` to ``target`` (local times kept).

    Points are placed at the same local wall-clock time, so hours match even
    when one of the days is a DST change (a missing hour is dropped, a
    repeated one kept once).
    """
    out: dict[datetime, tuple[datetime, timedelta, float]] = {}
    for when, step, value in points:
        local = when.astimezone(LOCAL_ZONE)
        if local.date() != source:
            continue
        moved = datetime.combine(target, local.time(), tzinfo=LOCAL_ZONE)
        utc = moved.astimezone(UTC)
        out.setdefault(utc, (utc, step, value))
    return [out[k] for k in sorted(out)]


class DemoWorld:
    """Prices, PV and weather for the demo's clock."""

    def __init__(
        self,
        *,
        clock: Clock,
        prices: TimedSeries | None,
        pv_kwh: TimedSeries | None,
        fallback_prices: list[float],
        fallback_pv_kw: list[float],
        seed: int = 7,
    ) -> None:
        """Use the real series when given, else the reference household's."""
        self.clock = clock
        self._prices = prices
        self._pv = pv_kwh
        self._fallback_prices = fallback_prices
        self._fallback_pv = fallback_pv_kw
        self._seed = seed
        self._cache: dict[tuple[str, date], list[tuple[datetime, timedelta, float]]]
        self._cache = {}

    @classmethod
    def load(
        cls, *, clock: Clock, shared_dirs: tuple[Path, ...], example: Path
    ) -> DemoWorld:
        """Read shared/data when it is there; the example always."""
        problem = json.loads(example.read_text(encoding="utf-8"))
        fallback_prices = [float(p) for p in problem["prices"]["spot_eur_per_kwh"]]
        fallback_pv = [float(kw) for kw in problem["pv_kw"]]
        prices = pv = None
        for folder in shared_dirs:
            if prices is None and (folder / PRICES_FILE).is_file():
                prices = TimedSeries.from_csv(
                    folder / PRICES_FILE, "price_eur_per_mwh", 0.001
                )
            if pv is None and (folder / PV_FILE).is_file():
                pv = TimedSeries.from_csv(folder / PV_FILE, "pv_kwh", PV_SCALE)
        _LOGGER.info(
            "prices: %s; PV: %s",
            f"{PRICES_FILE} ({PRICE_YEAR})" if prices else example.name,
            f"{PV_FILE} ({PV_YEAR})" if pv else example.name,
        )
        return cls(
            clock=clock,
            prices=prices,
            pv_kwh=pv,
            fallback_prices=fallback_prices,
            fallback_pv_kw=fallback_pv,
        )

    # -- series per local day ------------------------------------------------
    def _fallback_day(
        self, values: list[float], day: date
    ) -> list[tuple[datetime, timedelta, float]]:
        """Return a day of the example's 15-minute series (its days alternate)."""
        per_day = 96
        offset = (day.toordinal() % max(1, len(values) // per_day)) * per_day
        start = datetime.combine(day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)
        end = datetime.combine(
            day + timedelta(days=1), time(0), tzinfo=LOCAL_ZONE
        ).astimezone(UTC)
        step = timedelta(minutes=15)
        out = []
        when, i = start, 0
        while when < end:
            out.append((when, step, values[(offset + i) % len(values)]))
            when += step
            i += 1
        return out

    def price_day(self, day: date) -> list[tuple[datetime, timedelta, float]]:
        """Day-ahead prices (EUR/kWh) of local ``day``."""
        key = ("price", day)
        if key not in self._cache:
            points: list[tuple[datetime, timedelta, float]] = []
            if self._prices is not None:
                source = _day_of(PRICE_YEAR, day)
                points = _move(self._prices.day(source), source, day)
            self._cache[key] = points or self._fallback_day(self._fallback_prices, day)
        return self._cache[key]

    def pv_day(self, day: date) -> list[tuple[datetime, timedelta, float]]:
        """PV production (average kW per step) of local ``day``."""
        key = ("pv", day)
        if key not in self._cache:
            points: list[tuple[datetime, timedelta, float]] = []
            if self._pv is not None:
                source = _day_of(PV_YEAR, day)
                points = [
                    (when, step, kwh / (step / timedelta(hours=1)))
                    for when, step, kwh in _move(self._pv.day(source), source, day)
                ]
            self._cache[key] = points or self._fallback_day(self._fallback_pv, day)
        return self._cache[key]

    def forecast_day(self, day: date) -> list[tuple[datetime, timedelta, float]]:
        """Return the PV forecast of ``day``: each hour off by a seeded +-20 %."""
        rng = random.Random(self._seed * 100_000 + day.toordinal())  # noqa: S311
        factors: dict[int, float] = {}
        out = []
        for when, step, kw in self.pv_day(day):
            hour = when.astimezone(LOCAL_ZONE).hour
            if hour not in factors:
                factors[hour] = 1.0 + rng.uniform(-FORECAST_ERROR, FORECAST_ERROR)
            out.append((when, step, kw * factors[hour]))
        return out

    # -- instants ----------------------------------------------------------
    @staticmethod
    def _at(points: list[tuple[datetime, timedelta, float]], when: datetime) -> float:
        for start, step, value in points:
            if start <= when < start + step:
                return value
        return 0.0

    def local_day(self, when: datetime | None = None) -> date:
        """Return the local date at ``when`` (now by default)."""
        return (when or self.clock()).astimezone(LOCAL_ZONE).date()

    def price_at(self, when: datetime) -> float:
        """Return the day-ahead price at ``when``."""
        return self._at(self.price_day(self.local_day(when)), when)

    def pv_w(self, when: datetime | None = None) -> float:
        """PV production at ``when`` (now by default) in W."""
        when = when or self.clock()
        return 1000.0 * self._at(self.pv_day(self.local_day(when)), when)

    def outdoor_c(self, when: datetime | None = None) -> float:
        """Synthetic outdoor temperature: a daily curve around the month's mean."""
        return synthetic_outdoor_c(when or self.clock())

    # -- the integrations' formats ---------------------------------------------
    def nordpool_attributes(self) -> dict[str, Any]:
        """Prices as the HACS Nord Pool sensor keeps them (EUR/kWh)."""
        now = self.clock()
        local = now.astimezone(LOCAL_ZONE)
        today = local.date()

        def rows(day: date) -> list[dict[str, Any]]:
            return [
                {
                    "start": start.astimezone(LOCAL_ZONE).isoformat(),
                    "end": (start + step).astimezone(LOCAL_ZONE).isoformat(),
                    "value": round(value, 5),
                }
                for start, step, value in self.price_day(day)
            ]

        published = local.hour >= PUBLISH_HOUR
        today_rows = rows(today)
        return {
            "current_price": round(self.price_at(now), 5),
            "unit_of_measurement": "EUR/kWh",
            "currency": "EUR",
            "country": "Netherlands",
            "region": "NL",
            "raw_today": today_rows,
            "raw_tomorrow": rows(today + timedelta(days=1)) if published else [],
            "tomorrow_valid": published,
            "today": [row["value"] for row in today_rows],
        }

    def forecast_solar_attributes(self) -> dict[str, Any]:
        """Return the PV forecast as Forecast.Solar's ``wh_hours`` (2 days)."""
        today = self.local_day()
        wh_hours: dict[str, float] = {}
        total_today = 0.0
        for day in (today, today + timedelta(days=1)):
            hourly: dict[datetime, float] = {}
            for start, step, kw in self.forecast_day(day):
                hour = start.replace(minute=0, second=0, microsecond=0)
                hourly[hour] = hourly.get(hour, 0.0) + kw * 1000.0 * (
                    step / timedelta(hours=1)
                )
            for hour, wh in sorted(hourly.items()):
                wh_hours[hour.astimezone(LOCAL_ZONE).isoformat()] = round(wh)
                if day == today:
                    total_today += wh
        return {
            "energy_production_today_kwh": round(total_today / 1000.0, 2),
            "wh_hours": wh_hours,
        }


type StateFn = Callable[[], Mapping[str, Any]]
type PlugFn = Callable[[bool], None]


class WorldApi:
    """The world and the devices' state as JSON on loopback.

    ``GET /api/prices`` (Nord Pool attributes), ``GET /api/pv_forecast``
    (Forecast.Solar attributes), ``GET /api/state`` (devices, PV, weather,
    the demo clock) and ``POST /api/washer/plug`` with ``{"on": true}``
    (the washer's smart plug).
    """

    def __init__(self, world: DemoWorld, state: StateFn, washer_plug: PlugFn) -> None:
        """Serve ``world``; ``state`` and ``washer_plug`` are the devices'."""
        self.world = world
        self._state = state
        self._plug = washer_plug
        app = web.Application(client_max_size=4096)
        app.router.add_get("/api/prices", self._prices)
        app.router.add_get("/api/pv_forecast", self._pv_forecast)
        app.router.add_get("/api/state", self._get_state)
        app.router.add_post("/api/washer/plug", self._washer_plug)
        self._runner = web.AppRunner(app, access_log=None)
        self._site: web.TCPSite | None = None
        self.port = 0

    async def start(self, port: int = 0) -> int:
        """Listen on 127.0.0.1:``port``; return the port."""
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", port)
        await self._site.start()
        server: Any = self._site._server  # noqa: SLF001 - aiohttp keeps it there
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Close the server."""
        await self._runner.cleanup()

    async def _prices(self, _request: web.Request) -> web.Response:
        return web.json_response(self.world.nordpool_attributes())

    async def _pv_forecast(self, _request: web.Request) -> web.Response:
        return web.json_response(self.world.forecast_solar_attributes())

    async def _get_state(self, _request: web.Request) -> web.Response:
        return web.json_response(dict(self._state()))

    async def _washer_plug(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "expected JSON"}, status=400)
        on = body.get("on") if isinstance(body, dict) else None
        if not isinstance(on, bool):
            return web.json_response({"error": "expected {'on': bool}"}, status=400)
        self._plug(on)
        return web.json_response(dict(self._state()))
