"""Simulation scenarios: a household, its data and what differs from the forecast.

A scenario is one YAML or JSON document (docs/scenarios.md):

* ``household``: the :class:`HouseholdConfig` document, exactly as the
  installer profile exports it;
* ``period``: the first local day and the number of days (1 to 366);
* ``series``: prices, household load and PV, each a CSV in the format of the
  project's shared data (``start_utc`` plus value columns), with a column,
  a unit, a scale and a shift in days;
* ``tariff``: ``dynamic`` (the price series), ``single`` or ``day_night``
  (all-in prices, turned into the series the household is given);
* ``forecast_errors``: the seeded error model of the PV forecast, the load
  forecast's warm-up and the EV's arrival;
* ``ev``: the car and its usage pattern;
* ``heat_pump``, ``boiler``, ``appliance``: the household's heat pump (its
  house and the outdoor temperature), boiler (its tank and hot-water use)
  and a white-goods appliance (armed daily with a deadline), simulated by
  the project's device simulators behind the household's own drivers.

Every error is a :class:`ScenarioError` whose ``path`` names the bad field,
for example ``series.load.scale: must be a finite number >= 0``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
import csv
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
import itertools
import json
import math
from pathlib import Path
import random
from typing import Any, Final
from zoneinfo import ZoneInfo

from custom_components.stroomwijs.engine.household import (
    HouseholdConfig,
    HouseholdConfigError,
    Series,
)

from .demo_world import synthetic_outdoor_c

SCENARIO_VERSION: Final = 1
MAX_DAYS: Final = 366
SLOT: Final = timedelta(minutes=15)
MAX_CSV_BYTES: Final = 50_000_000
MAX_DOCUMENT_CHARS: Final = 2_000_000
UNITS: Final = ("kWh", "kW", "W", "Wh", "EUR/MWh", "EUR/kWh")
TEMPERATURE_UNITS: Final = ("degC", "0.1degC")
HEAT_PUMP_DRIVERS: Final = ("sg_ready",)
BOILER_CONTROLS: Final = ("switch",)
APPLIANCE_DRIVERS: Final = ("plug_appliance",)
TARIFF_KINDS: Final = ("dynamic", "single", "day_night")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        """Keep the path next to the message."""
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# ---------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesSpec:
    """Where one data series comes from."""

    file: Path
    column: str
    unit: str
    scale: float = 1.0
    shift_days: int = 0
    minus_column: str | None = None
    """Subtract this column (e.g. ``export_kwh`` from ``import_kwh``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffSpec:
    """How import is priced: the day-ahead series, or a fixed all-in tariff."""

    kind: str = "dynamic"
    single_eur_per_kwh: float = 0.0
    day_eur_per_kwh: float = 0.0
    night_eur_per_kwh: float = 0.0
    night_start: time = time(23)
    night_end: time = time(7)
    weekend_night: bool = True
    """Weekends are priced at the night rate all day (the Dutch low tariff)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastErrors:
    """The documented, seeded forecast-error model (docs/scenarios.md)."""

    seed: int = 1
    pv_daily_sigma: float = 0.25
    """Relative error of a day's PV forecast (one lognormal factor per day)."""
    pv_slot_sigma: float = 0.10
    """Relative error per quarter-hour on top of the day's factor."""
    load_warmup_days: int = 28
    """Days of true load before the period the household's forecaster learns."""
    ev_arrival_sigma_min: float = 45.0
    """Standard deviation of the car's arrival around the pattern (minutes)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvPattern:
    """The car and how it is used."""

    device: str
    """The household's ``ocpp_charger`` device the car plugs into."""
    capacity_kwh: float = 60.0
    max_charge_w: float = 11_000.0
    max_discharge_w: float = 0.0
    initial_soc: float = 0.5
    target_soc: float = 0.8
    arrive: time = time(18)
    depart: time = time(7, 30)
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    """Weekdays (0 = Monday) of the evenings the car comes home."""
    trip_kwh: float = 10.0
    """Energy driven between a departure and the next arrival."""
    trip_sigma_kwh: float = 3.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HeatPumpSim:
    """The heat pump's house and weather (``heat_pump`` section).

    The house is the driver's own model (``house`` of its config: heat
    capacity and loss), so the planner knows the true house; the simulated
    pump runs its own thermostat with hysteresis and minimum times.
    """

    device: str
    """The household's ``driver`` device (driver ``sg_ready``)."""
    indoor_c: float = 20.5
    """Room temperature at the start."""
    target_c: float = 20.5
    """The pump's own thermostat (SG-Ready mode 2)."""
    gains_kw: float = 0.2
    """Internal and solar gains the planner does not know of."""
    outdoor: SeriesSpec | None = None
    """Outdoor temperature; None: the synthetic monthly curve."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoilerSim:
    """The boiler's tank and hot-water use (``boiler`` section).

    Volume, element, thermostat, losses and the daily draw are the driver's
    config; ``draw_scale`` makes the true draw differ from what it expects.
    """

    device: str
    temperature_c: float = 55.0
    draw_scale: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplianceSim:
    """A washing machine armed every ``days`` at ``arm``, due ``within`` later."""

    device: str
    arm: time = time(9, 30)
    within_h: float = 8.0
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    seed: int = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A whole scenario, validated."""

    name: str
    household: HouseholdConfig
    start: date
    days: int
    prices: SeriesSpec | None
    load: SeriesSpec
    pv: SeriesSpec | None
    tariff: TariffSpec = field(default_factory=TariffSpec)
    errors: ForecastErrors = field(default_factory=ForecastErrors)
    ev: EvPattern | None = None
    """The (first) car."""
    more_evs: tuple[EvPattern, ...] = ()
    """Further cars, each on its own charger (``ev`` as a list)."""
    heat_pump: HeatPumpSim | None = None
    boiler: BoilerSim | None = None
    appliance: ApplianceSim | None = None
    step_s: int = 60
    meter_values_s: int = 60
    """How often the simulated charge point sends its meter values (OCPP)."""
    path: Path | None = None

    @property
    def cars(self) -> tuple[EvPattern, ...]:
        """Every car of the scenario, the first first."""
        return () if self.ev is None else (self.ev, *self.more_evs)

    @property
    def zone(self) -> ZoneInfo:
        """The household's time zone."""
        return ZoneInfo(self.household.time_zone)

    @property
    def start_utc(self) -> datetime:
        """Local midnight of the first day, in UTC."""
        return datetime.combine(self.start, time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """Local midnight after the last day, in UTC."""
        end = self.start + timedelta(days=self.days)
        return datetime.combine(end, time(0), tzinfo=self.zone).astimezone(UTC)


# ---------------------------------------------------------------- reading


class _Reader:
    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(path, "must be a mapping")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> Any:  # noqa: ANN401 - a document value
        self.used.add(key)
        return self.data.get(key)

    def section(self, key: str) -> _Reader:
        if not self.has(key):
            raise ScenarioError(self.where(key), "is required")
        return _Reader(self.raw(key), self.where(key))

    def optional(self, key: str) -> _Reader | None:
        if not self.has(key):
            self.used.add(key)
            return None
        return _Reader(self.raw(key), self.where(key))

    def text(self, key: str, default: str | None = None) -> str:
        value = self.raw(key)
        if value is None:
            if default is None:
                raise ScenarioError(self.where(key), "is required")
            return default
        if not isinstance(value, str) or not value.strip():
            raise ScenarioError(self.where(key), "must be a non-empty text")
        return value

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        low: float = 0.0,
        high: float = math.inf,
    ) -> float:
        value = self.raw(key)
        if value is None:
            if default is None:
                raise ScenarioError(self.where(key), "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(self.where(key), "must be a number")
        try:
            number = float(value)
        except OverflowError:  # an int beyond a float (YAML reads it exactly)
            number = math.nan
        if not math.isfinite(number) or not low <= number <= high:
            bound = f"{low:g}..{high:g}" if math.isfinite(high) else f">= {low:g}"
            msg = f"must be a finite number {bound}"
            raise ScenarioError(self.where(key), msg)
        return number

    def integer(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(self.where(key), "must be a whole number")
        if not low <= value <= high:
            msg = f"must be within {low}..{high}"
            raise ScenarioError(self.where(key), msg)
        return value

    def clock(self, key: str, default: time) -> time:
        value = self.raw(key)
        if value is None:
            return default
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and 0 <= value < 24 * 60
        ):
            # YAML 1.1 reads an unquoted 18:00 as 1080 (minutes, base 60).
            return time(value // 60, value % 60)
        if isinstance(value, str):
            try:
                return time.fromisoformat(value)
            except ValueError:
                pass
        raise ScenarioError(self.where(key), "must be a local time HH:MM")

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ScenarioError(self.where(str(unknown[0])), "unknown field")


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (YAML or JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"cannot read {path}: {err.strerror}"
        raise ScenarioError("", msg) from None
    if len(text) > MAX_DOCUMENT_CHARS:
        raise ScenarioError("", "the scenario document is over 2 MB")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as err:
            msg = f"not valid JSON: {err}"
            raise ScenarioError("", msg) from None
    else:
        import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - only here

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            msg = f"not valid YAML: {err}"
            raise ScenarioError("", msg) from None
    return scenario_from_dict(data, base=path.parent, path=path)


def scenario_from_dict(
    data: object, *, base: Path, path: Path | None = None
) -> Scenario:
    """Validate a scenario document; files are relative to ``base``."""
    root = _Reader(data, "")
    version = root.integer("version", SCENARIO_VERSION, low=1, high=SCENARIO_VERSION)
    del version
    name = root.text("name", "Scenario")
    try:
        household = HouseholdConfig.from_dict(root.raw("household"))
    except HouseholdConfigError as err:
        where = f"household.{err.path}" if err.path else "household"
        raise ScenarioError(where, err.message) from None
    period = root.section("period")
    start_raw = period.raw("start")
    if isinstance(start_raw, str):
        try:
            start = date.fromisoformat(start_raw)
        except ValueError:
            raise ScenarioError(period.where("start"), "must be a date") from None
    elif isinstance(start_raw, date) and not isinstance(start_raw, datetime):
        start = start_raw
    else:
        raise ScenarioError(period.where("start"), "must be a date YYYY-MM-DD")
    days = period.integer("days", 1, low=1, high=MAX_DAYS)
    period.reject_unknown()

    series = root.section("series")
    load = _read_series(series.section("load"), base, power=True)
    pv = _read_optional_series(series.optional("pv"), base, power=True)
    prices = _read_optional_series(series.optional("prices"), base, power=False)
    series.reject_unknown()

    tariff = _read_tariff(root.optional("tariff"))
    if tariff.kind == "dynamic" and prices is None:
        raise ScenarioError("series.prices", "is required for a dynamic tariff")
    errors = _read_errors(root.optional("forecast_errors"))
    cars = _read_evs(root, household)
    ev = cars[0] if cars else None
    heat_pump = _read_heat_pump(root.optional("heat_pump"), household, base)
    boiler = _read_boiler(root.optional("boiler"), household)
    appliance = _read_appliance(root.optional("appliance"), household)
    step_s = root.integer("step_seconds", 60, low=1, high=60)
    meter_values_s = root.integer("meter_values_seconds", 60, low=step_s, high=900)
    root.reject_unknown()
    scenario = Scenario(
        name=name,
        household=household,
        start=start,
        days=days,
        prices=prices,
        load=load,
        pv=pv,
        tariff=tariff,
        errors=errors,
        ev=ev,
        more_evs=cars[1:],
        heat_pump=heat_pump,
        boiler=boiler,
        appliance=appliance,
        step_s=step_s,
        meter_values_s=meter_values_s,
        path=path,
    )
    _check_coverage(scenario)
    return scenario


def _read_optional_series(
    r: _Reader | None, base: Path, *, power: bool
) -> SeriesSpec | None:
    return None if r is None else _read_series(r, base, power=power)


def _read_series(
    r: _Reader, base: Path, *, power: bool, temperature: bool = False
) -> SeriesSpec:
    file = base / r.text("file")
    if not file.is_file():
        msg = f"no such file: {file}"
        raise ScenarioError(r.where("file"), msg)
    if temperature:
        unit = r.text("unit", "degC")
        allowed: tuple[str, ...] = TEMPERATURE_UNITS
    else:
        unit = r.text("unit", "kWh" if power else "EUR/MWh")
        allowed = UNITS[:4] if power else UNITS[4:]
    if unit not in allowed:
        msg = f"must be one of {', '.join(allowed)}"
        raise ScenarioError(r.where("unit"), msg)
    spec = SeriesSpec(
        file=file,
        column=r.text("column"),
        unit=unit,
        scale=r.number("scale", 1.0, low=0.0, high=1e6),
        shift_days=int(r.number("shift_days", 0.0, low=-36_600, high=36_600)),
        minus_column=r.text("minus_column") if r.has("minus_column") else None,
    )
    r.used.add("minus_column")
    r.reject_unknown()
    with spec.file.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    for key, column in (("column", spec.column), ("minus_column", spec.minus_column)):
        if column is not None and column not in header:
            raise ScenarioError(
                r.where(key), f"{spec.file.name} has no column {column!r}"
            )
    if "start_utc" not in header:
        raise ScenarioError(r.where("file"), "the CSV has no start_utc column")
    return spec


def _read_tariff(r: _Reader | None) -> TariffSpec:
    if r is None:
        return TariffSpec()
    kind = r.text("kind", "dynamic")
    if kind not in TARIFF_KINDS:
        raise ScenarioError(
            r.where("kind"), f"must be one of {', '.join(TARIFF_KINDS)}"
        )
    spec = TariffSpec(kind=kind)
    if kind == "single":
        spec = TariffSpec(
            kind=kind, single_eur_per_kwh=r.number("eur_per_kwh", high=10)
        )
    elif kind == "day_night":
        spec = TariffSpec(
            kind=kind,
            day_eur_per_kwh=r.number("day_eur_per_kwh", high=10),
            night_eur_per_kwh=r.number("night_eur_per_kwh", high=10),
            night_start=r.clock("night_start", time(23)),
            night_end=r.clock("night_end", time(7)),
            weekend_night=bool(r.raw("weekend_night") is not False),
        )
    r.reject_unknown()
    return spec


def _read_errors(r: _Reader | None) -> ForecastErrors:
    if r is None:
        return ForecastErrors()
    errors = ForecastErrors(
        seed=r.integer("seed", 1, low=0, high=2**31),
        pv_daily_sigma=r.number("pv_daily_sigma", 0.25, high=2.0),
        pv_slot_sigma=r.number("pv_slot_sigma", 0.10, high=2.0),
        load_warmup_days=r.integer("load_warmup_days", 28, low=0, high=60),
        ev_arrival_sigma_min=r.number("ev_arrival_sigma_min", 45.0, high=240.0),
    )
    r.reject_unknown()
    return errors


def _read_evs(root: _Reader, household: HouseholdConfig) -> tuple[EvPattern, ...]:
    """Read ``ev``: one car (a mapping) or several (a list, each its charger)."""
    raw = root.raw("ev")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        car = _read_ev(_Reader(raw, "ev"), household)
        return () if car is None else (car,)
    if not raw:
        raise ScenarioError("ev", "must name at least one car")
    cars: list[EvPattern] = []
    for index, item in enumerate(raw):
        car = _read_ev(_Reader(item, f"ev[{index}]"), household)
        if car is None:
            continue
        for other, earlier in enumerate(cars):
            if earlier.device == car.device:
                msg = f"ev[{other}] plugs into {car.device} already"
                where = f"ev[{index}].device"
                raise ScenarioError(where, msg)
        cars.append(car)
    return tuple(cars)


def _read_ev(r: _Reader | None, household: HouseholdConfig) -> EvPattern | None:
    if r is None:
        return None
    device_id = r.text("device")
    device = household.device(device_id)
    if device is None or device.kind != "ocpp_charger":
        raise ScenarioError(
            r.where("device"), "must name an ocpp_charger device of the household"
        )
    days_raw = r.raw("days")
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    if days_raw is not None:
        if not isinstance(days_raw, list) or not all(
            isinstance(d, str) and d in WEEKDAYS for d in days_raw
        ):
            msg = f"must be a list of {WEEKDAYS}"
            raise ScenarioError(r.where("days"), msg)
        days = tuple(sorted({WEEKDAYS.index(d) for d in days_raw}))
    ev = EvPattern(
        device=device_id,
        capacity_kwh=r.number("capacity_kwh", 60.0, low=1.0, high=500.0),
        max_charge_w=r.number("max_charge_w", 11_000.0, low=1_000.0, high=50_000.0),
        max_discharge_w=r.number("max_discharge_w", 0.0, high=50_000.0),
        initial_soc=r.number("initial_soc", 0.5, high=1.0),
        target_soc=r.number("target_soc", 0.8, high=1.0),
        arrive=r.clock("arrive", time(18)),
        depart=r.clock("depart", time(7, 30)),
        days=days,
        trip_kwh=r.number("trip_kwh", 10.0, high=200.0),
        trip_sigma_kwh=r.number("trip_sigma_kwh", 3.0, high=100.0),
    )
    if ev.depart >= ev.arrive:
        raise ScenarioError(
            r.where("depart"), "must be before arrive (the car is home overnight)"
        )
    r.reject_unknown()
    return ev


def _driver_device(
    r: _Reader, household: HouseholdConfig, what: str, allowed: tuple[str, ...]
) -> tuple[str, Mapping[str, Any]]:
    """Return the named ``driver`` device and its driver mapping."""
    device_id = r.text("device")
    device = household.device(device_id)
    key = "control" if what == "boiler" else "driver"
    if device is None or device.kind != "driver":
        msg = f"must name a driver device of the household ({what})"
        raise ScenarioError(r.where("device"), msg)
    kind = device.driver.get(key)
    if what == "boiler" and device.driver.get("driver") != "boiler":
        raise ScenarioError(r.where("device"), "must name a boiler driver device")
    if kind not in allowed:
        msg = (
            f"the simulator has {what}s with {key} {', '.join(allowed)}; "
            f"{device_id} has {key} {kind!r}"
        )
        raise ScenarioError(r.where("device"), msg)
    return device_id, device.driver


def _read_heat_pump(
    r: _Reader | None, household: HouseholdConfig, base: Path
) -> HeatPumpSim | None:
    if r is None:
        return None
    device, _ = _driver_device(r, household, "heat pump", HEAT_PUMP_DRIVERS)
    outdoor_r = r.optional("outdoor")
    outdoor = None
    if outdoor_r is not None:
        if outdoor_r.raw("model") is not None:
            if outdoor_r.text("model") != "synthetic":
                raise ScenarioError(outdoor_r.where("model"), "must be synthetic")
            outdoor_r.reject_unknown()
        else:
            outdoor = _read_series(outdoor_r, base, power=False, temperature=True)
    sim = HeatPumpSim(
        device=device,
        indoor_c=r.number("indoor_c", 20.5, low=5.0, high=30.0),
        target_c=r.number("target_c", 20.5, low=10.0, high=28.0),
        gains_kw=r.number("gains_kw", 0.2, high=10.0),
        outdoor=outdoor,
    )
    r.reject_unknown()
    return sim


def _read_boiler(r: _Reader | None, household: HouseholdConfig) -> BoilerSim | None:
    if r is None:
        return None
    device, _ = _driver_device(r, household, "boiler", BOILER_CONTROLS)
    sim = BoilerSim(
        device=device,
        temperature_c=r.number("temperature_c", 55.0, low=10.0, high=95.0),
        draw_scale=r.number("draw_scale", 1.0, high=5.0),
    )
    r.reject_unknown()
    return sim


def _read_appliance(
    r: _Reader | None, household: HouseholdConfig
) -> ApplianceSim | None:
    if r is None:
        return None
    device, _ = _driver_device(r, household, "appliance", APPLIANCE_DRIVERS)
    sim = ApplianceSim(
        device=device,
        arm=r.clock("arm", time(9, 30)),
        within_h=r.number("within_hours", 8.0, low=2.0, high=23.0),
        days=_weekdays(r, "days"),
        seed=r.integer("seed", 3, low=0, high=2**31),
    )
    r.reject_unknown()
    return sim


def _weekdays(r: _Reader, key: str) -> tuple[int, ...]:
    raw = r.raw(key)
    if raw is None:
        return (0, 1, 2, 3, 4, 5, 6)
    if not isinstance(raw, list) or not all(
        isinstance(d, str) and d in WEEKDAYS for d in raw
    ):
        msg = f"must be a list of {WEEKDAYS}"
        raise ScenarioError(r.where(key), msg)
    return tuple(sorted({WEEKDAYS.index(d) for d in raw}))


# ---------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class PowerSeries:
    """A series of average values per interval (kW or EUR/kWh), UTC starts."""

    starts: tuple[datetime, ...]
    values: tuple[float, ...]

    def at(self, when: datetime) -> float | None:
        """Return the value of the interval holding ``when`` (None outside)."""
        index = bisect_right(self.starts, when) - 1
        if index < 0:
            return None
        if index + 1 < len(self.starts):
            return self.values[index]
        # The last interval: assume the median step.
        step = self.starts[-1] - self.starts[-2] if len(self.starts) > 1 else SLOT
        return self.values[index] if when < self.starts[-1] + step else None

    def quarters(self, start: datetime, count: int) -> list[float | None]:
        """Return the value per quarter-hour from ``start``."""
        return [self.at(start + SLOT * i) for i in range(count)]


def read_series(spec: SeriesSpec, where: str) -> PowerSeries:
    """Read a series in kW (power) or EUR/kWh (prices), shifted and scaled."""
    if spec.file.stat().st_size > MAX_CSV_BYTES:
        raise ScenarioError(where + ".file", "over 50 MB")
    rows: list[tuple[datetime, float]] = []
    shift = timedelta(days=spec.shift_days)
    with spec.file.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            text = row.get(spec.column) or ""
            if not text.strip():
                continue  # a gap: the last value holds (see docs)
            try:
                when = datetime.fromisoformat(row["start_utc"]).astimezone(UTC)
                value = float(text)
                if spec.minus_column is not None:
                    value -= float(row.get(spec.minus_column) or 0.0)
            except TypeError, ValueError:
                msg = f"{spec.file.name} line {line}: not a time and a number"
                raise ScenarioError(where + ".file", msg) from None
            if not math.isfinite(value):
                msg = f"{spec.file.name} line {line}: not a finite number"
                raise ScenarioError(where + ".file", msg)
            rows.append((when + shift, value))
    if len(rows) < 2:  # noqa: PLR2004
        raise ScenarioError(
            where + ".column", f"fewer than two values in {spec.column}"
        )
    rows.sort()
    starts = tuple(r[0] for r in rows)
    steps = sorted((b - a).total_seconds() for a, b in itertools.pairwise(starts))
    step_h = steps[len(steps) // 2] / 3600.0
    if step_h <= 0:
        raise ScenarioError(where + ".file", "duplicate times")
    factor = {
        "kWh": 1.0 / step_h,
        "Wh": 0.001 / step_h,
        "kW": 1.0,
        "W": 0.001,
        "EUR/MWh": 0.001,
        "EUR/kWh": 1.0,
        "degC": 1.0,
        "0.1degC": 0.1,
    }[spec.unit] * spec.scale
    return PowerSeries(starts, tuple(r[1] * factor for r in rows))


def _check_coverage(scenario: Scenario) -> None:
    start, end = scenario.start_utc, scenario.end_utc
    specs: list[tuple[str, SeriesSpec | None]] = [
        ("series.load", scenario.load),
        ("series.pv", scenario.pv),
    ]
    if scenario.tariff.kind == "dynamic":
        specs.append(("series.prices", scenario.prices))
    if scenario.heat_pump is not None:
        specs.append(("heat_pump.outdoor", scenario.heat_pump.outdoor))
    for where, spec in specs:
        if spec is None:
            continue
        data = read_series(spec, where)
        if data.starts[0] > start or data.at(end - SLOT) is None:
            fmt = "%Y-%m-%d %H:%M"
            msg = (
                f"covers {data.starts[0].strftime(fmt)}Z.."
                f"{data.starts[-1].strftime(fmt)}Z (after shift_days), not the "
                f"period {start.strftime(fmt)}Z..{end.strftime(fmt)}Z"
            )
            raise ScenarioError(where, msg)


@dataclass(slots=True)
class ScenarioData:
    """The scenario's series on the quarter-hour grid of the period (+1 day)."""

    start: datetime
    load_kw: list[float]
    pv_kw: list[float]
    spot: list[float]
    """EUR/kWh before markup, tax and VAT (a fixed tariff is turned into one)."""
    warmup_load_kw: list[float] = field(default_factory=list)
    """True load of the days before the period (the forecaster's history)."""
    outdoor_c: list[float] = field(default_factory=list)
    """Outdoor temperature per quarter-hour (with a heat pump)."""

    def index(self, when: datetime) -> int:
        """Return the quarter-hour index of ``when``."""
        return int((when - self.start) / SLOT)


def _filled(values: Sequence[float | None], default: float = 0.0) -> list[float]:
    out: list[float] = []
    last = default
    for value in values:
        last = last if value is None else value
        out.append(last)
    return out


def load_data(scenario: Scenario) -> ScenarioData:
    """Read every series onto the quarter-hour grid (the period plus a day)."""
    start = scenario.start_utc
    count = scenario.days * 96 + 96 + 8
    load = read_series(scenario.load, "series.load")
    warm = scenario.errors.load_warmup_days * 96
    warmup = _filled(load.quarters(start - SLOT * warm, warm), 0.4)
    load_kw = _filled(load.quarters(start, count), 0.4)
    pv_kw = [0.0] * count
    if scenario.pv is not None:
        pv_kw = [
            max(v, 0.0)
            for v in _filled(
                read_series(scenario.pv, "series.pv").quarters(start, count)
            )
        ]
    spot = tariff_spot(scenario, start, count)
    outdoor: list[float] = []
    heat_pump = scenario.heat_pump
    if heat_pump is not None:
        if heat_pump.outdoor is not None:
            series = read_series(heat_pump.outdoor, "heat_pump.outdoor")
            # A quarter-hour between two readings takes the one before it.
            outdoor = _filled(series.quarters(start, count), series.values[0])
        else:
            outdoor = [
                round(synthetic_outdoor_c(start + SLOT * i, scenario.zone), 3)
                for i in range(count)
            ]
    return ScenarioData(
        start=start,
        load_kw=load_kw,
        pv_kw=pv_kw,
        spot=spot,
        warmup_load_kw=warmup,
        outdoor_c=outdoor,
    )


def tariff_spot(scenario: Scenario, start: datetime, count: int) -> list[float]:
    """Return the day-ahead series the household gets (EUR/kWh, before additions).

    A fixed tariff's all-in price p becomes p / (1 + VAT) - tax - markup, so
    that the household's own price arithmetic gives back exactly p.
    """
    tariff = scenario.tariff
    if tariff.kind == "dynamic":
        if scenario.prices is None:
            raise ScenarioError("series.prices", "is required for a dynamic tariff")
        prices = read_series(scenario.prices, "series.prices")
        return _filled(prices.quarters(start, count))
    t = scenario.household.tariff
    zone = scenario.zone

    def spot_of(all_in: float) -> float:
        return all_in / (1.0 + t.vat) - t.energy_tax_eur_per_kwh - t.markup_eur_per_kwh

    out: list[float] = []
    for i in range(count):
        when = (start + SLOT * i).astimezone(zone)
        if tariff.kind == "single":
            out.append(spot_of(tariff.single_eur_per_kwh))
            continue
        clock = when.time()
        night = (
            clock >= tariff.night_start or clock < tariff.night_end
            if tariff.night_start > tariff.night_end
            else tariff.night_start <= clock < tariff.night_end
        )
        if tariff.weekend_night and when.weekday() >= 5:  # noqa: PLR2004
            night = True
        out.append(
            spot_of(tariff.night_eur_per_kwh if night else tariff.day_eur_per_kwh)
        )
    return out


def import_price(scenario: Scenario, spot: float) -> float:
    """All-in import price for a spot price (the household's arithmetic)."""
    t = scenario.household.tariff
    return (spot + t.markup_eur_per_kwh + t.energy_tax_eur_per_kwh) * (1.0 + t.vat)


def export_price(scenario: Scenario, spot: float) -> float:
    """Return what an exported kWh earns."""
    t = scenario.household.tariff
    if t.export_basis == "net_metering":
        return import_price(scenario, spot)
    if t.export_basis == "spot":
        return spot
    return t.export_fixed_eur_per_kwh


# ---------------------------------------------------------------- forecasts


def pv_forecast(
    scenario: Scenario, data: ScenarioData, issued: datetime, hours: int = 48
) -> Series:
    """Return the PV forecast issued at ``issued`` (kW per quarter-hour).

    One lognormal factor per local day (``pv_daily_sigma``) times a normal
    factor per quarter-hour (``pv_slot_sigma``), never below zero. The draws
    depend only on the seed and the slot's own time, so a forecast issued
    twice, or by another chunk of a parallel run, is the same.
    """
    errors = scenario.errors
    first = data.index(issued)
    values: list[float] = []
    for i in range(first, min(first + hours * 4, len(data.pv_kw))):
        when = data.start + SLOT * i
        day = when.astimezone(scenario.zone).date().toordinal()
        day_rng = random.Random(f"{errors.seed}-pv-day-{day}")  # noqa: S311
        slot_rng = random.Random(f"{errors.seed}-pv-slot-{i}")  # noqa: S311
        factor = math.exp(day_rng.gauss(0.0, errors.pv_daily_sigma))
        factor *= max(0.0, 1.0 + slot_rng.gauss(0.0, errors.pv_slot_sigma))
        values.append(round(data.pv_kw[i] * factor, 4))
    return Series(data.start + SLOT * first, SLOT, tuple(values))


@dataclass(frozen=True, slots=True)
class EvSession:
    """One evening-to-morning stay at home."""

    arrive: datetime
    depart: datetime
    """When the car really leaves (as the user told the household)."""
    trip_kwh: float
    """Energy driven before this arrival."""


def ev_sessions(scenario: Scenario, car: int = 0) -> list[EvSession]:
    """Return the stays of car ``car`` over the period (seeded; the same for all).

    The first car's draws are keyed as they were before scenarios had more
    than one car, so its stays have not changed.
    """
    cars = scenario.cars
    if car >= len(cars):
        return []
    ev = cars[car]
    key = "ev" if car == 0 else f"ev{car}"
    zone = scenario.zone
    sessions: list[EvSession] = []
    sigma = scenario.errors.ev_arrival_sigma_min
    for offset in range(scenario.days):
        day = scenario.start + timedelta(days=offset)
        if day.weekday() not in ev.days:
            continue
        rng = random.Random(f"{scenario.errors.seed}-{key}-{day.toordinal()}")  # noqa: S311
        jitter = (
            max(-3 * sigma, min(3 * sigma, rng.gauss(0.0, sigma))) if sigma else 0.0
        )
        arrive = datetime.combine(day, ev.arrive, tzinfo=zone) + timedelta(
            minutes=jitter
        )
        depart = datetime.combine(day + timedelta(days=1), ev.depart, tzinfo=zone)
        trip = max(0.0, rng.gauss(ev.trip_kwh, ev.trip_sigma_kwh))
        sessions.append(
            EvSession(
                arrive=arrive.astimezone(UTC).replace(second=0, microsecond=0),
                depart=depart.astimezone(UTC),
                trip_kwh=trip,
            )
        )
    return sessions
