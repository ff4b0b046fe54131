"""``HouseholdConfig``: the one document that defines a household.

It is what the installer profile exports, what the add-on gateway reads and
what a simulation scenario embeds. It round-trips through JSON and YAML
(``to_dict``/``from_dict``, ``to_json``/``from_json``, ``to_yaml``/
``from_yaml``). Every error names the path of the bad field, for example
``devices[1].max_current_a: must be at least 6``.

Secrets (a meter's decryption key or token, charger passwords, OpenADR client
secrets) never sit inside the sections that describe the household: they live
in the top-level ``secrets`` mapping, keyed by the path of the setting they
belong to (``meter.encryption_key``, ``devices.<id>.password``,
``limits.<id>.client_secret``). ``to_dict(include_secrets=False)`` leaves them
out, and :meth:`HouseholdConfig.missing_secrets` lists what an import must
ask for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import time
from enum import StrEnum
import json
import math
from typing import Any, Final

CONFIG_VERSION: Final = 1
"""The version this code writes; older versions are migrated on read."""

MAX_DOCUMENT_BYTES: Final = 1_000_000
MAX_DEPTH: Final = 16
MAX_TEXT: Final = 1_000

METER_SOURCES: Final = ("serial", "network", "homewizard", "entities", "none")
LIMIT_KINDS: Final = ("window", "openadr", "capacity", "dim")
DEVICE_KINDS: Final = ("ocpp_charger", "quasar", "driver")
EXPORT_BASES: Final = ("fixed", "spot", "net_metering")


class OptimiserMode(StrEnum):
    """What the planner optimises."""

    AUTO = "auto"
    """Cheapest when prices are known, otherwise self-consumption."""
    SELF_CONSUMPTION = "self_consumption"
    CHEAPEST = "cheapest"
    OFF = "off"
    """No plan: devices follow their own (default) behaviour; the guard holds."""


class HouseholdConfigError(ValueError):
    """A household document that cannot be used; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        """Keep the path of the bad field next to the message."""
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


# ---------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True, kw_only=True)
class GridConfig:
    """The grid connection: phases and the main fuse per phase."""

    phases: int = 3
    fuse_a: float = 25.0
    voltage_v: float = 230.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterConfig:
    """How the household's grid meter is read."""

    source: str = "none"
    """serial, network, homewizard, entities (the host provides the feed), none."""
    serial_port: str | None = None
    host: str | None = None
    tcp_port: int | None = None
    dsmr_version: str = "5"
    api_version: str = "v1"
    """HomeWizard API version (v1, v2)."""
    update_interval_s: float = 5.0
    """How often entities are refreshed; the guard always takes every telegram."""
    entities: Mapping[str, Any] = field(default_factory=dict)
    """For ``entities``: the host's entity ids (power, currents, energy...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitConfig:
    """One DSO limit source (window, openadr, capacity or dim)."""

    id: str
    kind: str
    label: str = ""
    # window
    start: time | None = None
    end: time | None = None
    import_w: float | None = None
    export_w: float | None = None
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    months: tuple[int, ...] = tuple(range(1, 13))
    # openadr
    url: str | None = None
    client_id: str | None = None
    ean: str | None = None
    programs: tuple[str, ...] = ()
    failsafe_w: float = 4_200.0
    timeout_min: float = 15.0
    # capacity
    budget_w: float | None = None
    """None: follow this month's peak so far."""
    # dim
    entity: str | None = None
    devices: int = 1
    mode: str = "connection"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceConfig:
    """One controllable device: an EV charger or a driver device.

    A driver device is a heat pump, boiler or appliance; ``driver`` holds the
    mapping ``engine/drivers/factory.py`` reads.
    """

    id: str
    kind: str
    name: str
    # OCPP charger
    charger_id: str | None = None
    password_required: bool = False
    phases: int = 3
    max_current_a: float = 16.0
    min_current_a: float = 6.0
    # Quasar
    host: str | None = None
    port: int = 502
    # both
    minimum_instead_of_pause: bool = False
    capacity_kwh: float | None = None
    v2g_allowed: bool = True
    # driver devices
    driver: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the device as the document's ``devices`` list holds it."""
        return _fields(self, drop_defaults=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class OcppServerConfig:
    """The OCPP central system that chargers connect to."""

    enabled: bool = False
    """Run it even without a configured OCPP charger (to discover new ones)."""
    host: str = "0.0.0.0"  # noqa: S104 - chargers are on the LAN
    port: int = 9000
    require_auth: bool = False
    certfile: str | None = None
    keyfile: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffConfig:
    """What a kWh costs: where prices come from and what is added to them."""

    price_source: str | None = None
    """Host-specific reference (in Home Assistant: a price entity id)."""
    markup_eur_per_kwh: float = 0.02
    energy_tax_eur_per_kwh: float = 0.1228
    vat: float = 0.21
    export_basis: str = "fixed"
    """fixed (a feed-in price), spot (the spot price), net_metering (= import)."""
    export_fixed_eur_per_kwh: float = 0.0
    capacity_eur_per_kw_month: float | None = None
    """Belgian capacity tariff; None where there is none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastConfig:
    """Which forecasts to use."""

    pv_source: str | None = None
    """Host-specific reference (in Home Assistant: a PV forecast entity)."""
    outdoor_source: str | None = None
    """Host-specific reference to an outdoor temperature forecast for the heat
    pumps (in Home Assistant: a weather entity's hourly forecast)."""
    base_load_weeks: int = 4
    """How many weeks of the meter's history the base-load profile uses."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimiserConfig:
    """How and when the planner runs."""

    mode: OptimiserMode = OptimiserMode.AUTO
    enabled: bool = True
    horizon_hours: int = 24
    """At least this far ahead (further when prices are known further)."""
    replan_minutes: int = 15
    time_limit_s: float = 3.0
    deviation_kwh: float = 0.5
    """Re-plan when a quarter-hour's energy differs this much from the plan."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardSettings:
    """The guard's margins and timeouts."""

    margin_w: float = 200.0
    data_timeout_s: float = 10.0
    manual_duration_min: float = 240.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdConfig:
    """Everything that defines one household."""

    version: int = CONFIG_VERSION
    name: str = "Household"
    time_zone: str = "Europe/Amsterdam"
    grid: GridConfig = field(default_factory=GridConfig)
    meter: MeterConfig = field(default_factory=MeterConfig)
    limits: tuple[LimitConfig, ...] = ()
    devices: tuple[DeviceConfig, ...] = ()
    ocpp: OcppServerConfig = field(default_factory=OcppServerConfig)
    tariff: TariffConfig = field(default_factory=TariffConfig)
    forecasts: ForecastConfig = field(default_factory=ForecastConfig)
    optimiser: OptimiserConfig = field(default_factory=OptimiserConfig)
    guard: GuardSettings = field(default_factory=GuardSettings)
    secrets: Mapping[str, str] = field(default_factory=dict)

    # ---------------------------------------------------------- secrets

    def secret(self, key: str) -> str | None:
        """Return a secret (``meter.encryption_key``...) or None."""
        value = self.secrets.get(key)
        return value or None

    def required_secrets(self) -> list[str]:
        """List the secrets this household cannot work without."""
        keys: list[str] = []
        if self.meter.source in {"serial", "network"} and self.meter.dsmr_version in {
            "5L",
            "5l",
        }:
            keys.append("meter.encryption_key")
        if self.meter.source == "homewizard" and self.meter.api_version == "v2":
            keys.append("meter.token")
        keys.extend(
            f"limits.{limit.id}.client_secret"
            for limit in self.limits
            if limit.kind == "openadr"
        )
        keys.extend(
            f"devices.{device.id}.password"
            for device in self.devices
            if device.kind in {"ocpp_charger", "driver"} and device.password_required
        )
        return keys

    def missing_secrets(self) -> list[str]:
        """List the required secrets that this document does not carry."""
        return [key for key in self.required_secrets() if not self.secret(key)]

    def with_secrets(self, secrets: Mapping[str, str]) -> HouseholdConfig:
        """Return a copy with these secrets added (unknown keys are refused)."""
        allowed = set(self.required_secrets()) | set(_optional_secret_keys(self))
        for key in secrets:
            if key not in allowed:
                path = f"secrets.{key}"
                raise HouseholdConfigError(path, "no setting uses it")
        return replace(self, secrets={**self.secrets, **secrets})

    # ---------------------------------------------------------- lookups

    def device(self, device_id: str) -> DeviceConfig | None:
        """Return the device with this id."""
        return next((d for d in self.devices if d.id == device_id), None)

    # ---------------------------------------------------------- (de)serialise

    def to_dict(self, *, include_secrets: bool = True) -> dict[str, Any]:
        """Return JSON-ready data; ``from_dict`` reads it back."""
        data: dict[str, Any] = {
            "version": self.version,
            "name": self.name,
            "time_zone": self.time_zone,
            "grid": _fields(self.grid),
            "meter": _fields(self.meter),
            "limits": [_fields(limit, drop_defaults=True) for limit in self.limits],
            "devices": [_fields(dev, drop_defaults=True) for dev in self.devices],
            "ocpp": _fields(self.ocpp),
            "tariff": _fields(self.tariff),
            "forecasts": _fields(self.forecasts),
            "optimiser": _fields(self.optimiser),
            "guard": _fields(self.guard),
        }
        if include_secrets and self.secrets:
            data["secrets"] = dict(sorted(self.secrets.items()))
        return data

    def to_json(self, *, include_secrets: bool = True) -> str:
        """Return the document as JSON text."""
        return json.dumps(
            self.to_dict(include_secrets=include_secrets), indent=2, allow_nan=False
        )

    def to_yaml(self, *, include_secrets: bool = True) -> str:
        """Return the document as YAML text (needs PyYAML)."""
        import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - optional

        return str(
            yaml.safe_dump(
                self.to_dict(include_secrets=include_secrets),
                sort_keys=False,
                allow_unicode=True,
            )
        )

    @classmethod
    def from_json(cls, text: str) -> HouseholdConfig:
        """Parse JSON text (errors name the field)."""
        _check_size(text)
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except json.JSONDecodeError as err:
            msg = f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
            raise HouseholdConfigError("", msg) from None
        except RecursionError:
            raise HouseholdConfigError("", "nested too deeply") from None
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls, text: str) -> HouseholdConfig:
        """Parse YAML text (needs PyYAML; errors name the field)."""
        import yaml  # noqa: PLC0415 - optional

        _check_size(text)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = "" if mark is None else f" at line {mark.line + 1}"
            msg = f"not valid YAML{where}: {getattr(err, 'problem', err)}"
            raise HouseholdConfigError("", msg) from None
        except RecursionError:
            raise HouseholdConfigError("", "nested too deeply") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> HouseholdConfig:
        """Read and validate a household document."""
        root = _Reader(data, "")
        _check_depth(data, "", 0)
        version = root.integer("version", CONFIG_VERSION, low=1)
        if version > CONFIG_VERSION:
            raise root.error(
                "version",
                f"written by a newer Stroomwijs (version {version}; "
                f"this one reads up to {CONFIG_VERSION})",
            )
        config = cls(
            version=CONFIG_VERSION,
            name=root.text("name", "Household"),
            time_zone=root.text("time_zone", "Europe/Amsterdam"),
            grid=_read_grid(root.obj("grid")),
            meter=_read_meter(root.obj("meter")),
            limits=tuple(_read_limits(root)),
            devices=tuple(_read_devices(root)),
            ocpp=_read_ocpp(root.obj("ocpp")),
            tariff=_read_tariff(root.obj("tariff")),
            forecasts=_read_forecasts(root.obj("forecasts")),
            optimiser=_read_optimiser(root.obj("optimiser")),
            guard=_read_guard(root.obj("guard")),
            secrets=_read_secrets(root.obj("secrets")),
        )
        root.reject_unknown()
        _check_time_zone(config.time_zone)
        unknown = (
            set(config.secrets)
            - set(config.required_secrets())
            - set(_optional_secret_keys(config))
        )
        if unknown:
            path = f"secrets.{min(unknown)}"
            raise HouseholdConfigError(path, "no setting uses it")
        return config


PASSWORD_DRIVERS: Final = frozenset({"shelly"})
"""Drivers whose device may have a password (``devices.<id>.password``)."""


def _has_password(device: DeviceConfig) -> bool:
    return device.kind == "driver" and device.driver.get("driver") in PASSWORD_DRIVERS


def _optional_secret_keys(config: HouseholdConfig) -> list[str]:
    keys = ["meter.encryption_key", "meter.token"]
    keys.extend(
        f"devices.{device.id}.password"
        for device in config.devices
        if device.kind == "ocpp_charger" or _has_password(device)
    )
    keys.extend(
        f"limits.{limit.id}.client_secret"
        for limit in config.limits
        if limit.kind == "openadr"
    )
    return keys


# ---------------------------------------------------------------- reading


def _reject_constant(name: str) -> None:
    msg = f"{name} is not a number JSON allows"
    raise HouseholdConfigError("", msg)


def _check_size(text: str) -> None:
    if len(text) > MAX_DOCUMENT_BYTES:
        msg = f"larger than {MAX_DOCUMENT_BYTES} characters"
        raise HouseholdConfigError("", msg)


def _check_depth(value: object, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise HouseholdConfigError(path, "nested too deeply")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_depth(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_depth(item, f"{path}[{index}]", depth + 1)


def _check_time_zone(name: str) -> None:
    from zoneinfo import (  # noqa: PLC0415 - only needed here
        ZoneInfo,
        ZoneInfoNotFoundError,
    )

    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError, ValueError:
        raise HouseholdConfigError("time_zone", f"unknown time zone {name!r}") from None


class _Reader:
    """Typed access to one mapping of the document, with paths in errors."""

    def __init__(self, data: object, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise HouseholdConfigError(path, "expected a mapping")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> HouseholdConfigError:
        return HouseholdConfigError(self.where(key), message)

    def has(self, key: str) -> bool:
        self.used.add(key)
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:  # noqa: ANN401 - a document value
        self.used.add(key)
        return self.data.get(key)

    def obj(self, key: str) -> _Reader:
        return _Reader(self.raw(key), self.where(key))

    def items(self, key: str) -> list[_Reader]:
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, "expected a list")
        return [
            _Reader(item, f"{self.where(key)}[{index}]")
            for index, item in enumerate(value)
        ]

    def text(
        self, key: str, default: str | None = None, *, choices: Sequence[str] = ()
    ) -> str:
        value = self.raw(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if not isinstance(value, str):
            raise self.error(key, "expected text")
        if len(value) > MAX_TEXT:
            raise self.error(key, "longer than 1000 characters")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}")
        return value

    def optional_text(self, key: str) -> str | None:
        if self.raw(key) is None:
            return None
        return self.text(key) or None

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> float:
        value = self.raw(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, "expected a number")
        number = float(value)
        if not math.isfinite(number):
            raise self.error(key, "must be a finite number")
        if low is not None and number < low:
            raise self.error(key, f"must be at least {low:g}")
        if high is not None and number > high:
            raise self.error(key, f"must be at most {high:g}")
        return number

    def optional_number(
        self, key: str, *, low: float | None = None, high: float | None = None
    ) -> float | None:
        if self.raw(key) is None:
            return None
        return self.number(key, low=low, high=high)

    def integer(
        self,
        key: str,
        default: int | None = None,
        *,
        low: int | None = None,
        high: int | None = None,
    ) -> int:
        value = self.raw(key)
        if value is None:
            if default is None:
                raise self.error(key, "is required")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "expected a whole number")
        if low is not None and value < low:
            raise self.error(key, f"must be at least {low}")
        if high is not None and value > high:
            raise self.error(key, f"must be at most {high}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, "expected true or false")
        return value

    def clock(self, key: str) -> time:
        text = self.text(key)
        try:
            value = time.fromisoformat(text)
        except ValueError:
            raise self.error(key, "expected a time such as 16:00") from None
        if value.tzinfo is not None:
            raise self.error(key, "a local wall-clock time has no zone")
        return value

    def integers(
        self, key: str, default: tuple[int, ...], low: int, high: int
    ) -> tuple[int, ...]:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, list) or not value:
            raise self.error(key, "expected a non-empty list")
        result: list[int] = []
        for index, item in enumerate(value):
            where = f"{key}[{index}]"
            if isinstance(item, bool) or not isinstance(item, int):
                raise self.error(where, "expected a whole number")
            if not low <= item <= high:
                raise self.error(where, f"must be within {low}..{high}")
            result.append(item)
        return tuple(sorted(set(result)))

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected a list of text")
        return tuple(value)

    def reject_unknown(self) -> None:
        unknown = sorted(str(key) for key in self.data if key not in self.used)
        if unknown:
            raise self.error(unknown[0], "unknown field")


def _read_grid(r: _Reader) -> GridConfig:
    config = GridConfig(
        phases=r.integer("phases", 3, low=1, high=3),
        fuse_a=r.number("fuse_a", 25.0, low=6.0, high=250.0),
        voltage_v=r.number("voltage_v", 230.0, low=100.0, high=260.0),
    )
    if config.phases == 2:  # noqa: PLR2004
        raise r.error("phases", "must be 1 or 3")
    r.reject_unknown()
    return config


def _read_meter(r: _Reader) -> MeterConfig:
    source = r.text("source", "none", choices=METER_SOURCES)
    entities = r.raw("entities")
    if entities is not None and not isinstance(entities, Mapping):
        raise r.error("entities", "expected a mapping")
    config = MeterConfig(
        source=source,
        serial_port=r.optional_text("serial_port"),
        host=r.optional_text("host"),
        tcp_port=None
        if not r.has("tcp_port")
        else r.integer("tcp_port", low=1, high=65535),
        dsmr_version=r.text("dsmr_version", "5"),
        api_version=r.text("api_version", "v1", choices=("v1", "v2")),
        update_interval_s=r.number("update_interval_s", 5.0, low=1.0, high=3600.0),
        entities=dict(entities or {}),
    )
    if source == "serial" and not config.serial_port:
        raise r.error("serial_port", "is required for a serial meter")
    if source == "network" and (not config.host or config.tcp_port is None):
        raise r.error(
            "host" if not config.host else "tcp_port", "is required for a network meter"
        )
    if source == "homewizard" and not config.host:
        raise r.error("host", "is required for a HomeWizard meter")
    r.reject_unknown()
    return config


def _read_limits(root: _Reader) -> list[LimitConfig]:
    limits: list[LimitConfig] = []
    seen: set[str] = set()
    for r in root.items("limits"):
        limit_id = r.text("id")
        if limit_id in seen:
            raise r.error("id", f"{limit_id!r} is used twice")
        seen.add(limit_id)
        kind = r.text("kind", choices=LIMIT_KINDS)
        label = r.text("label", "")
        if kind == "window":
            limit = LimitConfig(
                id=limit_id,
                kind=kind,
                label=label,
                start=r.clock("start"),
                end=r.clock("end"),
                import_w=r.optional_number("import_w", low=0.0, high=1_000_000.0),
                export_w=r.optional_number("export_w", low=0.0, high=1_000_000.0),
                weekdays=r.integers("weekdays", (0, 1, 2, 3, 4, 5, 6), 0, 6),
                months=r.integers("months", tuple(range(1, 13)), 1, 12),
            )
            if limit.import_w is None and limit.export_w is None:
                raise r.error("import_w", "a window limits import, export or both")
            if limit.start == limit.end:
                raise r.error("end", "must differ from start")
        elif kind == "openadr":
            limit = LimitConfig(
                id=limit_id,
                kind=kind,
                label=label,
                url=r.text("url"),
                client_id=r.text("client_id"),
                ean=r.text("ean"),
                programs=r.texts("programs"),
                failsafe_w=r.number("failsafe_w", 4_200.0, low=0.0, high=1_000_000.0),
                timeout_min=r.number("timeout_min", 15.0, low=1.0, high=1_440.0),
            )
            if not limit.url or not limit.url.startswith(("http://", "https://")):
                raise r.error("url", "expected an http(s) URL")
        elif kind == "capacity":
            limit = LimitConfig(
                id=limit_id,
                kind=kind,
                label=label,
                budget_w=r.optional_number("budget_w", low=0.0, high=1_000_000.0),
            )
        else:
            limit = LimitConfig(
                id=limit_id,
                kind=kind,
                label=label,
                entity=r.text("entity"),
                devices=r.integer("devices", 1, low=1, high=100),
                mode=r.text("mode", "connection", choices=("connection", "device")),
            )
        r.reject_unknown()
        limits.append(limit)
    return limits


def _read_devices(root: _Reader) -> list[DeviceConfig]:
    devices: list[DeviceConfig] = []
    seen: set[str] = set()
    for r in root.items("devices"):
        device_id = r.text("id")
        if device_id in seen or not device_id:
            raise r.error("id", f"{device_id!r} is empty or used twice")
        seen.add(device_id)
        kind = r.text("kind", choices=DEVICE_KINDS)
        common: dict[str, Any] = {
            "id": device_id,
            "kind": kind,
            "name": r.text("name", device_id),
            "minimum_instead_of_pause": r.boolean(
                "minimum_instead_of_pause", default=False
            ),
            "capacity_kwh": r.optional_number("capacity_kwh", low=1.0, high=500.0),
            "v2g_allowed": r.boolean("v2g_allowed", default=True),
        }
        if kind == "ocpp_charger":
            charger_id = r.text("charger_id")
            if not charger_id or "/" in charger_id:
                raise r.error("charger_id", "must be non-empty and without '/'")
            device = DeviceConfig(
                **common,
                charger_id=charger_id,
                password_required=r.boolean("password_required", default=False),
                phases=r.integer("phases", 3, low=1, high=3),
                max_current_a=r.number("max_current_a", 16.0, low=6.0, high=80.0),
                min_current_a=r.number("min_current_a", 6.0, low=6.0, high=16.0),
            )
            if device.phases == 2:  # noqa: PLR2004
                raise r.error("phases", "must be 1 or 3")
            if device.max_current_a < device.min_current_a:
                raise r.error("max_current_a", "is below min_current_a")
        elif kind == "quasar":
            device = DeviceConfig(
                **common,
                host=r.text("host"),
                port=r.integer("port", 502, low=1, high=65535),
            )
        else:
            device = DeviceConfig(
                **common,
                driver=_read_driver(r),
                password_required=r.boolean("password_required", default=False),
            )
            if device.password_required and not _has_password(device):
                raise r.error("password_required", "this driver has no password")
        r.reject_unknown()
        devices.append(device)
    charger_ids = [d.charger_id for d in devices if d.charger_id]
    if len(charger_ids) != len(set(charger_ids)):
        raise HouseholdConfigError("devices", "a charger id is used twice")
    return devices


def _read_driver(r: _Reader) -> dict[str, Any]:
    """Read a driver device's mapping, checked by the drivers' own reader."""
    from .devices import ConfigError, validate_driver  # noqa: PLC0415 - a cycle

    raw = r.raw("driver")
    if not isinstance(raw, Mapping):
        raise r.error("driver", "expected a mapping (see docs/devices.md)")
    data = {str(k): v for k, v in raw.items() if k not in {"device_id", "name"}}
    where = r.where("driver")
    socket = data.get("socket")
    if isinstance(socket, Mapping) and "password" in socket:
        path = f"{where}.socket.password"
        msg = "goes into secrets as devices.<id>.password (with password_required)"
        raise HouseholdConfigError(path, msg)
    try:
        validate_driver(data, where)
    except ConfigError as err:
        path, _, message = str(err).partition(": ")
        raise HouseholdConfigError(path, message or path) from None
    return data


def _read_ocpp(r: _Reader) -> OcppServerConfig:
    config = OcppServerConfig(
        enabled=r.boolean("enabled", default=False),
        host=r.text("host", "0.0.0.0"),  # noqa: S104 - chargers are on the LAN
        port=r.integer("port", 9000, low=0, high=65535),
        require_auth=r.boolean("require_auth", default=False),
        certfile=r.optional_text("certfile"),
        keyfile=r.optional_text("keyfile"),
    )
    r.reject_unknown()
    return config


def _read_tariff(r: _Reader) -> TariffConfig:
    config = TariffConfig(
        price_source=r.optional_text("price_source"),
        markup_eur_per_kwh=r.number("markup_eur_per_kwh", 0.02, low=-1.0, high=5.0),
        energy_tax_eur_per_kwh=r.number(
            "energy_tax_eur_per_kwh", 0.1228, low=0.0, high=5.0
        ),
        vat=r.number("vat", 0.21, low=0.0, high=1.0),
        export_basis=r.text("export_basis", "fixed", choices=EXPORT_BASES),
        export_fixed_eur_per_kwh=r.number(
            "export_fixed_eur_per_kwh", 0.0, low=-5.0, high=5.0
        ),
        capacity_eur_per_kw_month=r.optional_number(
            "capacity_eur_per_kw_month", low=0.0, high=1_000.0
        ),
    )
    r.reject_unknown()
    return config


def _read_forecasts(r: _Reader) -> ForecastConfig:
    config = ForecastConfig(
        pv_source=r.optional_text("pv_source"),
        outdoor_source=r.optional_text("outdoor_source"),
        base_load_weeks=r.integer("base_load_weeks", 4, low=1, high=12),
    )
    r.reject_unknown()
    return config


def _read_optimiser(r: _Reader) -> OptimiserConfig:
    mode = r.text("mode", "auto", choices=tuple(m.value for m in OptimiserMode))
    config = OptimiserConfig(
        mode=OptimiserMode(mode),
        enabled=r.boolean("enabled", default=True),
        horizon_hours=r.integer("horizon_hours", 24, low=4, high=48),
        replan_minutes=r.integer("replan_minutes", 15, low=5, high=60),
        time_limit_s=r.number("time_limit_s", 3.0, low=0.1, high=60.0),
        deviation_kwh=r.number("deviation_kwh", 0.5, low=0.05, high=100.0),
    )
    r.reject_unknown()
    return config


def _read_guard(r: _Reader) -> GuardSettings:
    config = GuardSettings(
        margin_w=r.number("margin_w", 200.0, low=0.0, high=5_000.0),
        data_timeout_s=r.number("data_timeout_s", 10.0, low=2.0, high=600.0),
        manual_duration_min=r.number(
            "manual_duration_min", 240.0, low=1.0, high=7 * 24 * 60.0
        ),
    )
    r.reject_unknown()
    return config


def _read_secrets(r: _Reader) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for key in r.data:
        value = r.raw(key)
        if not isinstance(value, str):
            raise r.error(str(key), "expected text")
        secrets[str(key)] = value
    return secrets


# ---------------------------------------------------------------- writing

_DEFAULTS: dict[type, Any] = {}


def _plain(value: object) -> object:
    if isinstance(value, time):
        return value.strftime("%H:%M") if not value.second else value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _fields(obj: object, *, drop_defaults: bool = False) -> dict[str, Any]:
    """Return a section as plain data (optionally only what is not a default)."""
    from dataclasses import fields  # noqa: PLC0415 - tiny helper

    result: dict[str, Any] = {}
    for item in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, item.name)
        if drop_defaults and item.name not in {"id", "kind"}:
            default = item.default
            if default is not None and default == value:
                continue
            if value is None or value in ((), {}):
                continue
        result[item.name] = _plain(value)
    return result
