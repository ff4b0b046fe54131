"""Installer profiles: a household document in, a config entry's settings out.

``stroomwijs.export_profile`` writes a household's ``HouseholdConfig`` as
YAML without its secrets. Importing it on another installation is the
inverse of ``household_glue.household_config``: the document's tariff,
forecast, optimiser, guard and OCPP settings become the entry's options,
its limit sources and devices become grid-limit, charger and device
subentries. The meter is this house's own: the flow connects and tests it
as usual, and only takes the document's meter settings as suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import (
    CONF_HOST as CONF_QUASAR_HOST,
    CONF_PASSWORD,
    CONF_PORT as CONF_QUASAR_PORT,
)

from .charger import (
    CONF_CAPACITY,
    CONF_CHARGER_ID,
    CONF_CHARGER_PHASES,
    CONF_KIND,
    CONF_MAX_CURRENT,
    CONF_MIN_CURRENT,
    CONF_MINIMUM_INSTEAD_OF_PAUSE,
    CONF_OCPP_CERTFILE,
    CONF_OCPP_HOST,
    CONF_OCPP_KEYFILE,
    CONF_OCPP_PORT,
    CONF_OCPP_REQUIRE_AUTH,
    KIND_OCPP,
    KIND_QUASAR,
    SUBENTRY_CHARGER,
)
from .const import (
    CONF_CAPACITY_PRICE,
    CONF_ENERGY_TAX,
    CONF_EXPORT_BASIS,
    CONF_FEED_IN,
    CONF_MARKUP,
    CONF_OPTIMISER_MODE,
    CONF_PRICE_ENTITY,
    CONF_PV_ENTITY,
    CONF_VAT_PCT,
)
from .coordinator import CONF_UPDATE_INTERVAL
from .device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from .engine.household import (
    DeviceConfig,
    HouseholdConfig,
    HouseholdConfigError,
    LimitConfig,
)
from .guard_glue import (
    CONF_GUARD_DATA_TIMEOUT_S,
    CONF_GUARD_MARGIN_W,
    CONF_MANUAL_DURATION_MIN,
)
from .limits_flow import (
    CONF_BUDGET_W,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_DEVICES,
    CONF_EAN,
    CONF_END,
    CONF_ENTITY,
    CONF_EXPORT_W,
    CONF_FAILSAFE_W,
    CONF_IMPORT_W,
    CONF_LABEL,
    CONF_LIMIT_KIND,
    CONF_MODE,
    CONF_MONTHS,
    CONF_PROGRAMS,
    CONF_START,
    CONF_TIMEOUT_MIN,
    CONF_URL,
    CONF_WEEKDAYS,
    KIND_CAPACITY,
    KIND_DIM,
    KIND_OPENADR,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
)

MAX_PROFILE_CHARS: Final = 200_000


def parse_profile(text: str) -> HouseholdConfig:
    """Read a profile in YAML or JSON (JSON is read as JSON, the rest as YAML).

    Raises HouseholdConfigError, whose ``path`` names the bad field.
    """
    stripped = text.strip()
    if not stripped:
        raise HouseholdConfigError("", "the profile is empty")
    if stripped.startswith("{"):
        return HouseholdConfig.from_json(stripped)
    return HouseholdConfig.from_yaml(stripped)


def secret_owner(config: HouseholdConfig, key: str) -> str:
    """Name what a secret belongs to, for the form that asks for it."""
    _section, _, rest = key.partition(".")
    item_id = rest.rpartition(".")[0]
    for device in config.devices:
        if device.id == item_id:
            return device.name
    for limit in config.limits:
        if limit.id == item_id:
            return _limit_title(limit)
    return key


def _limit_title(limit: LimitConfig) -> str:
    if limit.kind == "window" and limit.start is not None and limit.end is not None:
        return f"{limit.label or 'window'} {limit.start:%H:%M}-{limit.end:%H:%M}"
    if limit.kind == "openadr":
        return f"OpenADR {limit.ean}"
    if limit.kind == "capacity":
        return "Capacity tariff"
    return "Dim input"


def _limit_data(limit: LimitConfig, config: HouseholdConfig) -> dict[str, Any]:
    if limit.kind == "window":
        data: dict[str, Any] = {
            CONF_LIMIT_KIND: KIND_WINDOW,
            CONF_LABEL: limit.label or "window",
            CONF_START: f"{limit.start:%H:%M}",
            CONF_END: f"{limit.end:%H:%M}",
            CONF_WEEKDAYS: sorted(limit.weekdays),
            CONF_MONTHS: sorted(limit.months),
        }
        for key, value in (
            (CONF_IMPORT_W, limit.import_w),
            (CONF_EXPORT_W, limit.export_w),
        ):
            if value is not None:
                data[key] = float(value)
        return data
    if limit.kind == "openadr":
        return {
            CONF_LIMIT_KIND: KIND_OPENADR,
            CONF_URL: limit.url,
            CONF_CLIENT_ID: limit.client_id,
            CONF_CLIENT_SECRET: config.secret(f"limits.{limit.id}.client_secret") or "",
            CONF_EAN: limit.ean,
            CONF_PROGRAMS: list(limit.programs),
            CONF_FAILSAFE_W: float(limit.failsafe_w),
            CONF_TIMEOUT_MIN: float(limit.timeout_min),
        }
    if limit.kind == "capacity":
        capacity: dict[str, Any] = {CONF_LIMIT_KIND: KIND_CAPACITY}
        if limit.budget_w:
            capacity[CONF_BUDGET_W] = float(limit.budget_w)
        return capacity
    return {
        CONF_LIMIT_KIND: KIND_DIM,
        CONF_ENTITY: limit.entity,
        CONF_DEVICES: int(limit.devices),
        CONF_MODE: limit.mode,
    }


def _limit_unique_id(limit: LimitConfig) -> str | None:
    if limit.kind == "openadr":
        return f"openadr_{limit.ean}_{limit.url}"
    if limit.kind in {"capacity", "dim"}:
        return limit.kind
    return None


def _device_subentry(
    device: DeviceConfig, config: HouseholdConfig
) -> ConfigSubentryData | None:
    if device.kind == "driver":
        return ConfigSubentryData(
            data={CONF_DRIVER: dict(device.driver)},
            subentry_type=SUBENTRY_DEVICE,
            title=device.name,
            unique_id=None,
        )
    common: dict[str, Any] = {
        CONF_MINIMUM_INSTEAD_OF_PAUSE: device.minimum_instead_of_pause
    }
    if device.capacity_kwh is not None:
        common[CONF_CAPACITY] = float(device.capacity_kwh)
    if device.kind == "ocpp_charger":
        data: dict[str, Any] = {
            CONF_KIND: KIND_OCPP,
            CONF_CHARGER_ID: device.charger_id,
            CONF_CHARGER_PHASES: device.phases,
            CONF_MAX_CURRENT: float(device.max_current_a),
            CONF_MIN_CURRENT: float(device.min_current_a),
            **common,
        }
        password = config.secret(f"devices.{device.id}.password")
        if password:
            data[CONF_PASSWORD] = password
        return ConfigSubentryData(
            data=data,
            subentry_type=SUBENTRY_CHARGER,
            title=device.name,
            unique_id=device.charger_id,
        )
    if device.kind == "quasar":
        return ConfigSubentryData(
            data={
                CONF_KIND: KIND_QUASAR,
                CONF_QUASAR_HOST: device.host,
                CONF_QUASAR_PORT: device.port,
                **common,
            },
            subentry_type=SUBENTRY_CHARGER,
            title=device.name,
            unique_id=f"quasar_{device.host}:{device.port}",
        )
    return None


@dataclass(slots=True)
class ProfileSettings:
    """What a profile gives a new household entry, besides meter and grid."""

    options: dict[str, Any] = field(default_factory=dict)
    subentries: list[ConfigSubentryData] = field(default_factory=list)


def profile_settings(config: HouseholdConfig) -> ProfileSettings:
    """Return the entry options and subentries a profile describes."""
    tariff = config.tariff
    options: dict[str, Any] = {
        CONF_MARKUP: tariff.markup_eur_per_kwh,
        CONF_ENERGY_TAX: tariff.energy_tax_eur_per_kwh,
        CONF_VAT_PCT: round(tariff.vat * 100.0, 6),
        CONF_EXPORT_BASIS: tariff.export_basis,
        CONF_FEED_IN: tariff.export_fixed_eur_per_kwh,
        CONF_OPTIMISER_MODE: config.optimiser.mode.value,
        CONF_GUARD_MARGIN_W: config.guard.margin_w,
        CONF_GUARD_DATA_TIMEOUT_S: config.guard.data_timeout_s,
        CONF_MANUAL_DURATION_MIN: config.guard.manual_duration_min,
        CONF_UPDATE_INTERVAL: config.meter.update_interval_s,
    }
    if tariff.price_source:
        options[CONF_PRICE_ENTITY] = tariff.price_source
    if tariff.capacity_eur_per_kw_month is not None:
        options[CONF_CAPACITY_PRICE] = tariff.capacity_eur_per_kw_month
    if config.forecasts.pv_source:
        options[CONF_PV_ENTITY] = config.forecasts.pv_source
    if config.ocpp.enabled:
        options[CONF_OCPP_HOST] = config.ocpp.host
        options[CONF_OCPP_PORT] = config.ocpp.port
        options[CONF_OCPP_REQUIRE_AUTH] = config.ocpp.require_auth
        if config.ocpp.certfile:
            options[CONF_OCPP_CERTFILE] = config.ocpp.certfile
        if config.ocpp.keyfile:
            options[CONF_OCPP_KEYFILE] = config.ocpp.keyfile
    subentries = [
        ConfigSubentryData(
            data=_limit_data(limit, config),
            subentry_type=SUBENTRY_GRID_LIMIT,
            title=_limit_title(limit),
            unique_id=_limit_unique_id(limit),
        )
        for limit in config.limits
    ]
    for device in config.devices:
        subentry = _device_subentry(device, config)
        if subentry is not None:
            subentries.append(subentry)
    return ProfileSettings(options=options, subentries=subentries)
