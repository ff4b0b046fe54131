"""Home Assistant hosts the engine's ``Household``: entry in, entities out.

``household_config`` turns a config entry (its data, options and charger and
grid-limit subentries) into the engine's ``HouseholdConfig``. ``HassPorts``
are what Home Assistant gives the household: its clock, a ``Store`` for the
state that must survive a restart, the shared aiohttp session, the executor,
and a meter feed from existing entities. ``async_connect`` follows the price,
PV-forecast and dim-input entities the user picked, turns the household's
problems into repair issues, and its new chargers into discovery flows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, time, timedelta
from typing import Any, Final, Protocol

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import (
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import (
    device_registry as dr,
    discovery_flow,
    entity_registry as er,
)
from homeassistant.helpers.dispatcher import (
    async_dispatcher_connect,
    async_dispatcher_send,
)
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .bus_events import async_fire_household_events
from .charger import (
    CONF_OCPP_CERTFILE,
    CONF_OCPP_HOST,
    CONF_OCPP_KEYFILE,
    CONF_OCPP_PORT,
    CONF_OCPP_REQUIRE_AUTH,
    DEFAULT_OCPP_HOST,
    DEFAULT_OCPP_PORT,
    KIND_OCPP,
    SUBENTRY_CHARGER,
    ChargerHub,
    device_config,
)
from .const import (
    CONF_CAPACITY_PRICE,
    CONF_ENERGY_TAX,
    CONF_EXPORT_BASIS,
    CONF_FEED_IN,
    CONF_FUSE_A,
    CONF_MARKUP,
    CONF_OPTIMISER_MODE,
    CONF_PHASES,
    CONF_PRICE_ENTITY,
    CONF_PV_ENTITY,
    CONF_VAT_PCT,
    CONF_WEATHER_ENTITY,
    DOMAIN,
    LOGGER,
    SIGNAL_DEVICE_ADDED,
)
from .coordinator import meter_config
from .device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from .engine.household import (
    DeviceConfig,
    ForecastConfig,
    GridConfig,
    GuardSettings,
    Household,
    HouseholdConfig,
    HouseholdEvent,
    InputFormatError,
    LimitConfig,
    OcppServerConfig,
    OptimiserConfig,
    OptimiserMode,
    Series,
    TariffConfig,
    parse_price_attributes,
    parse_pv_attributes,
)
from .engine.household.runtime import (
    PROBLEM_DSO_SIGNAL,
)
from .guard_glue import (
    CONF_GUARD_DATA_TIMEOUT_S,
    CONF_GUARD_MARGIN_W,
    CONF_MANUAL_DURATION_MIN,
)
from .household_view import ChargerView
from .issues import (
    async_follow_charger_credentials,
    async_follow_openadr_credentials,
    async_sync_limit_issues,
    async_update_problem,
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
from .models import StroomwijsConfigEntry

STORE_VERSION: Final = 1
LEGACY_CHARGER_STORE: Final = "chargers"


def _number(value: object, default: float) -> float:
    if value in (None, ""):
        return default
    return float(value)  # type: ignore[arg-type]


def _clock(value: object) -> time:
    return time.fromisoformat(str(value))


def _limit_from_subentry(
    sid: str, data: Mapping[str, Any], secrets: dict[str, str]
) -> LimitConfig | None:
    kind = data.get(CONF_LIMIT_KIND)
    if kind == KIND_WINDOW:
        return LimitConfig(
            id=sid,
            kind="window",
            label=str(data.get(CONF_LABEL) or "window"),
            start=_clock(data[CONF_START]),
            end=_clock(data[CONF_END]),
            import_w=data.get(CONF_IMPORT_W),
            export_w=data.get(CONF_EXPORT_W),
            weekdays=tuple(sorted(int(d) for d in data.get(CONF_WEEKDAYS, range(7)))),
            months=tuple(sorted(int(m) for m in data.get(CONF_MONTHS, range(1, 13)))),
        )
    if kind == KIND_OPENADR:
        secrets[f"limits.{sid}.client_secret"] = str(data[CONF_CLIENT_SECRET])
        return LimitConfig(
            id=sid,
            kind="openadr",
            url=str(data[CONF_URL]),
            client_id=str(data[CONF_CLIENT_ID]),
            ean=str(data[CONF_EAN]),
            programs=tuple(data.get(CONF_PROGRAMS) or ()),
            failsafe_w=_number(data.get(CONF_FAILSAFE_W), 4_200.0),
            timeout_min=_number(data.get(CONF_TIMEOUT_MIN), 15.0),
        )
    if kind == KIND_CAPACITY:
        budget = data.get(CONF_BUDGET_W)
        return LimitConfig(
            id=sid, kind="capacity", budget_w=None if not budget else float(budget)
        )
    if kind == KIND_DIM:
        return LimitConfig(
            id=sid,
            kind="dim",
            entity=str(data[CONF_ENTITY]),
            devices=int(data.get(CONF_DEVICES, 1)),
            mode=str(data.get(CONF_MODE, "connection")),
        )
    return None


def driver_device_config(
    sid: str, title: str, data: Mapping[str, Any], secrets: dict[str, str]
) -> DeviceConfig:
    """Return the household's device of a ``device`` subentry.

    A device's password (a Shelly's) goes into ``secrets`` as
    ``devices.<id>.password``: the household config keeps secrets apart,
    so an exported profile leaves it out.
    """
    driver = dict(data[CONF_DRIVER])
    socket = driver.get("socket")
    password = socket.get("password") if isinstance(socket, Mapping) else None
    if isinstance(socket, Mapping) and password:
        driver["socket"] = {k: v for k, v in socket.items() if k != "password"}
        secrets[f"devices.{sid}.password"] = str(password)
    return DeviceConfig(
        id=sid,
        kind="driver",
        name=title,
        driver=driver,
        password_required=bool(password),
    )


def household_config(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> HouseholdConfig:
    """Build the engine's household config from a config entry.

    Raises ValueError (or KeyError) for settings that cannot work.
    """
    settings: dict[str, Any] = {**entry.data, **entry.options}
    meter, secrets = meter_config(settings)
    limits: list[LimitConfig] = []
    devices: list[DeviceConfig] = []
    for sid, sub in entry.subentries.items():
        if sub.subentry_type == SUBENTRY_GRID_LIMIT:
            limit = _limit_from_subentry(sid, sub.data, secrets)
            if limit is not None:
                limits.append(limit)
        elif sub.subentry_type == SUBENTRY_DEVICE:
            devices.append(driver_device_config(sid, sub.title, sub.data, secrets))
        elif sub.subentry_type == SUBENTRY_CHARGER:
            device = device_config(sid, sub.title, sub.data, secrets)
            if device is not None:
                devices.append(device)
    vat_pct = _number(settings.get(CONF_VAT_PCT), 21.0)
    capacity_price = settings.get(CONF_CAPACITY_PRICE)
    mode = settings.get(CONF_OPTIMISER_MODE, OptimiserMode.AUTO.value)
    return HouseholdConfig(
        name=entry.title,
        time_zone=str(dt_util.get_default_time_zone()),
        grid=GridConfig(
            phases=int(settings[CONF_PHASES]), fuse_a=float(settings[CONF_FUSE_A])
        ),
        meter=meter,
        limits=tuple(limits),
        devices=tuple(devices),
        ocpp=OcppServerConfig(
            enabled=settings.get(CONF_OCPP_PORT) is not None,
            host=str(settings.get(CONF_OCPP_HOST, DEFAULT_OCPP_HOST)),
            port=int(settings.get(CONF_OCPP_PORT, DEFAULT_OCPP_PORT)),
            require_auth=bool(settings.get(CONF_OCPP_REQUIRE_AUTH, False)),
            certfile=settings.get(CONF_OCPP_CERTFILE) or None,
            keyfile=settings.get(CONF_OCPP_KEYFILE) or None,
        ),
        tariff=TariffConfig(
            price_source=settings.get(CONF_PRICE_ENTITY) or None,
            markup_eur_per_kwh=_number(settings.get(CONF_MARKUP), 0.02),
            energy_tax_eur_per_kwh=_number(settings.get(CONF_ENERGY_TAX), 0.1228),
            vat=vat_pct / 100.0,
            export_basis=str(settings.get(CONF_EXPORT_BASIS, "fixed")),
            export_fixed_eur_per_kwh=_number(settings.get(CONF_FEED_IN), 0.0),
            capacity_eur_per_kw_month=None
            if capacity_price in (None, "")
            else float(capacity_price),
        ),
        forecasts=ForecastConfig(
            pv_source=settings.get(CONF_PV_ENTITY) or None,
            outdoor_source=settings.get(CONF_WEATHER_ENTITY) or None,
        ),
        optimiser=OptimiserConfig(mode=OptimiserMode(mode)),
        guard=GuardSettings(
            margin_w=_number(settings.get(CONF_GUARD_MARGIN_W), 200.0),
            data_timeout_s=_number(settings.get(CONF_GUARD_DATA_TIMEOUT_S), 10.0),
            manual_duration_min=_number(settings.get(CONF_MANUAL_DURATION_MIN), 240.0),
        ),
        secrets=secrets,
    )


class HassStateStore:
    """The household's state in Home Assistant's ``.storage``."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Use one store per household entry."""
        self._hass = hass
        self._store: Store[dict[str, Any]] = Store(
            hass, STORE_VERSION, f"{DOMAIN}.{entry_id}.household"
        )
        self._legacy: Store[dict[str, Any]] = Store(
            hass, STORE_VERSION, f"{DOMAIN}.{entry_id}.{LEGACY_CHARGER_STORE}"
        )

    async def async_load(self) -> object:
        """Load the state; the first time, take the older charger snapshots."""
        data = await self._store.async_load()
        if data is not None:
            return data
        legacy = await self._legacy.async_load()
        if isinstance(legacy, dict) and legacy:
            return {"version": 1, "chargers": legacy}
        return None

    async def async_save(self, data: dict[str, Any]) -> None:
        """Save the state now."""
        await self._store.async_save(data)

    async def async_remove(self) -> None:
        """Delete the state (the entry is removed)."""
        await self._store.async_remove()
        await self._legacy.async_remove()


@callback
def async_connect(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    household: Household,
    built_from: frozenset[str],
) -> None:
    """Feed the household from entities and show its problems; undone on unload.

    ``built_from`` are the charger and grid-limit subentries the household
    was built from (see ``subentry_ids``).
    """
    _follow_inputs(hass, entry, household)

    @callback
    def _on_event(event: HouseholdEvent) -> None:
        if event.kind == "problem":
            async_update_problem(hass, entry, household, event.data)
        elif event.kind == "new_charger":
            discovery_flow.async_create_flow(
                hass,
                DOMAIN,
                context={"source": SOURCE_INTEGRATION_DISCOVERY},
                data={"entry_id": entry.entry_id, **event.data},
            )

    entry.async_on_unload(household.subscribe(_on_event))
    async_fire_household_events(hass, entry, household)
    for charger in ChargerHub(household).views.values():
        follow_charger_identity(hass, entry, charger)
    for handle in household.chargers.handles.values():
        async_follow_charger_credentials(hass, entry, handle)
    for key, problem in household.problems.items():
        async_update_problem(
            hass,
            entry,
            household,
            {"key": key, "active": True, "details": problem.details},
        )
    if PROBLEM_DSO_SIGNAL not in household.problems:
        async_sync_limit_issues(hass, entry, household)  # clear what was fixed
    async_follow_openadr_credentials(hass, entry, household)
    follow_subentry_changes(hass, entry, household, built_from)


@callback
def follow_charger_identity(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, charger: ChargerView
) -> None:
    """Give a charger's device what its BootNotification said, once it has."""
    if charger.kind != KIND_OCPP:
        return
    told: list[tuple[str | None, ...]] = [()]

    @callback
    def _changed() -> None:
        identity = charger.identity
        if identity == told[0] or not any(identity):
            return
        registry = dr.async_get(hass)
        entry_device = registry.async_get_device_by_identifier(
            (DOMAIN, charger.subentry_id), entry.entry_id
        )
        if entry_device is None:
            return
        told[0] = identity
        vendor, model, serial, firmware = identity
        registry.async_update_device(
            entry_device.id,
            manufacturer=vendor,
            model=model or "OCPP charger",
            serial_number=serial,
            sw_version=firmware,
        )

    entry.async_on_unload(charger.add_listener(_changed))
    _changed()


FORECAST_SOLAR: Final = "forecast_solar"
ENERGYZERO: Final = "energyzero"
NORDPOOL: Final = "nordpool"
ACTION_SOURCES: Final = frozenset({FORECAST_SOLAR, ENERGYZERO, NORDPOOL})
"""Home Assistant's integrations whose entities carry no series: their
forecast or day-ahead prices are asked for with the integration's action."""


@callback
def action_source(hass: HomeAssistant, entity_id: str) -> tuple[str, str] | None:
    """Return (integration, config entry) when the entity's series comes by action."""
    entity = er.async_get(hass).async_get(entity_id)
    if (
        entity is None
        or entity.platform not in ACTION_SOURCES
        or entity.config_entry_id is None
    ):
        return None
    return entity.platform, entity.config_entry_id


async def _async_action(
    hass: HomeAssistant, domain: str, service: str, data: dict[str, Any]
) -> Mapping[str, Any]:
    """Call an integration's action for its response; InputFormatError if none."""
    try:
        response = await hass.services.async_call(
            domain, service, data, blocking=True, return_response=True
        )
    except Exception as err:  # noqa: BLE001 - an integration's own errors pass through
        # A blocking call lets the action's own exceptions through (a
        # library's connection error as well as HomeAssistantError): each is
        # "nothing to read yet", and the last prices or forecast are kept.
        msg = f"{domain}.{service} gave nothing: {err}"
        raise InputFormatError(msg) from None
    if not isinstance(response, Mapping):
        msg = f"{domain}.{service} gave no response"
        raise InputFormatError(msg)
    return response


async def async_read_pv_forecast(hass: HomeAssistant, state: State) -> Series:
    """Read the PV forecast the entity the user picked stands for.

    Solcast's entities (and template sensors) carry the series in their
    attributes. Home Assistant's Forecast.Solar integration does not: for an
    entity of its, the forecast of its config entry is asked for with its
    ``forecast_solar.get_forecast`` action (hourly Wh). Raises
    InputFormatError when there is no forecast to read.
    """
    source = action_source(hass, state.entity_id)
    if source is None or source[0] != FORECAST_SOLAR:
        return parse_pv_attributes(state.attributes)
    response = await _async_action(
        hass,
        FORECAST_SOLAR,
        "get_forecast",
        {"config_entry": source[1], "resolution": "hourly"},
    )
    return parse_pv_attributes({"wh_hours": response.get("wh_period")})


async def async_read_prices(hass: HomeAssistant, state: State) -> Series:
    """Read the day-ahead prices the entity the user picked stands for.

    The HACS Nord Pool and ENTSO-E sensors (and template sensors) carry them
    in their attributes. Home Assistant's own EnergyZero and Nord Pool
    integrations do not: for an entity of theirs, today's and tomorrow's
    prices of its config entry are asked for with the integration's action
    (``energyzero.get_energy_prices`` without VAT,
    ``nordpool.get_prices_for_date`` in EUR/MWh, the entity's area).
    Raises InputFormatError when there are no prices to read.
    """
    source = action_source(hass, state.entity_id)
    if source is None or source[0] not in {ENERGYZERO, NORDPOOL}:
        return parse_price_attributes(state.attributes)
    platform, config_entry_id = source
    today = dt_util.now().date()
    tomorrow = today + timedelta(days=1)
    if platform == ENERGYZERO:
        # The action fails as a whole when a day has no prices yet: before
        # tomorrow's are out (about 13:00-14:00) only today's are asked for.
        for end in (tomorrow, today):
            try:
                response = await _async_action(
                    hass,
                    ENERGYZERO,
                    "get_energy_prices",
                    {
                        "config_entry": config_entry_id,
                        "incl_vat": False,
                        "start": today.isoformat(),
                        "end": end.isoformat(),
                    },
                )
            except InputFormatError:
                if end == today:
                    raise
                continue
            return parse_price_attributes(response)
    currency = _nordpool_currency(hass, config_entry_id)
    if currency != "EUR":
        msg = f"Nord Pool prices in {currency}: Stroomwijs plans in EUR"
        raise InputFormatError(msg)
    entity = er.async_get(hass).async_get(state.entity_id)
    unique_id = "" if entity is None else str(entity.unique_id)
    rows: list[dict[str, Any]] = []
    for day in (today, tomorrow):
        try:
            response = await _async_action(
                hass,
                NORDPOOL,
                "get_prices_for_date",
                {"config_entry": config_entry_id, "date": day.isoformat()},
            )
        except InputFormatError:
            if day == today:
                raise
            break  # tomorrow's are not out yet
        area = _nordpool_area(response, unique_id)
        rows.extend(
            {
                "start": row.get("start"),
                "end": row.get("end"),
                "value": row.get("price"),
            }
            for row in response.get(area) or []
            if isinstance(row, Mapping)
        )
    return parse_price_attributes({"raw_today": rows, "unit_of_measurement": "EUR/MWh"})


def _nordpool_currency(hass: HomeAssistant, config_entry_id: str) -> str:
    """Return the currency of a Nord Pool entry's prices (EUR when not set)."""
    entry = hass.config_entries.async_get_entry(config_entry_id)
    currency = None if entry is None else entry.data.get("currency")
    return "EUR" if currency is None else str(currency)


def _nordpool_area(response: Mapping[str, Any], unique_id: str) -> str:
    """Return the area of the response the entity belongs to."""
    areas = [str(area) for area in response]
    if len(areas) == 1:
        return areas[0]
    for area in areas:
        if unique_id.startswith(f"{area}-"):
            return area
    msg = f"which of the areas {', '.join(areas)} is not clear"
    raise InputFormatError(msg)


@callback
def _input_reader(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    *,
    what: str,
    read: Callable[[HomeAssistant, State], Awaitable[Series]],
    parse: Callable[[Mapping[str, Any]], Series],
    take: Callable[[Series], None],
) -> Callable[[State | None], None]:
    """Return what reads an input entity's states into the household.

    Attributes are read at once; an integration's action in a task.
    """

    async def _async_read(state: State) -> None:
        try:
            take(await read(hass, state))
        except InputFormatError as err:
            LOGGER.info("No %s in %s yet: %s", what, state.entity_id, err)

    @callback
    def _read(state: State | None) -> None:
        if state is None:
            return
        if action_source(hass, state.entity_id) is not None:
            entry.async_create_task(hass, _async_read(state), f"{DOMAIN} {what}")
            return
        try:
            take(parse(state.attributes))
        except InputFormatError as err:
            LOGGER.info("No %s in %s yet: %s", what, state.entity_id, err)

    return _read


@callback
def _follow_inputs(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, household: Household
) -> None:
    """Follow the price, PV-forecast and dim-input entities the user picked."""
    config = household.config

    @callback
    def _read_dim(state: State | None) -> None:
        household.set_dim_input(on=state is not None and state.state == "on")

    for entity_id, reader in (
        (
            config.tariff.price_source,
            _input_reader(
                hass,
                entry,
                what="prices",
                read=async_read_prices,
                parse=parse_price_attributes,
                take=household.set_prices,
            ),
        ),
        (
            config.forecasts.pv_source,
            _input_reader(
                hass,
                entry,
                what="PV forecast",
                read=async_read_pv_forecast,
                parse=parse_pv_attributes,
                take=household.set_pv_forecast,
            ),
        ),
        (household.limits.dim_entity, _read_dim),
    ):
        if entity_id:
            _track(hass, entry, entity_id, reader)


@callback
def _track(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    entity_id: str,
    reader: Callable[[State | None], None],
) -> None:
    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        reader(event.data["new_state"])

    entry.async_on_unload(async_track_state_change_event(hass, [entity_id], _changed))
    reader(hass.states.get(entity_id))


@callback
def update_issue(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, data: Mapping[str, Any]
) -> None:
    """Raise or clear the repair issue of a problem of a household in the gateway."""
    async_update_problem(hass, entry, None, data)


def subentry_ids(entry: StroomwijsConfigEntry) -> frozenset[str]:
    """Return the ids of the entry's charger, grid-limit and device subentries."""
    return frozenset(
        sid
        for sid, sub in entry.subentries.items()
        if sub.subentry_type in {SUBENTRY_CHARGER, SUBENTRY_GRID_LIMIT, SUBENTRY_DEVICE}
    )


@callback
def reload_on_subentry_changes(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, known: frozenset[str]
) -> None:
    """Reload the household when a charger, grid limit or device comes or goes.

    For a household in the gateway (it is sent the new document on reload).
    ``known`` are the subentries the running household was built from: one
    added while it was starting is caught at once. (The options flow reloads
    by itself, and Home Assistant allows no update listener next to it, so
    this follows the config entry change signal.)
    """
    if subentry_ids(entry) != known:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return

    @callback
    def _entry_changed(
        change: ConfigEntryChange, changed: StroomwijsConfigEntry
    ) -> None:
        if (
            change is not ConfigEntryChange.UPDATED
            or changed.entry_id != entry.entry_id
            or changed.state is not ConfigEntryState.LOADED
        ):
            return
        if subentry_ids(changed) != known:
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed)
    )


class DeviceHost(Protocol):
    """Where devices go in and out while running: the household, or the gateway's.

    ``async_add_device`` raises ValueError (or KeyError) when the device
    cannot be added; ``async_remove_device`` KeyError for a device it never
    had, ValueError when it cannot take it out (the entry then reloads).
    """

    async def async_add_device(
        self, device: DeviceConfig, secrets: Mapping[str, str] | None = None
    ) -> None:
        """Build one more heat pump, boiler or appliance in (with its secrets)."""
        ...

    async def async_remove_device(self, device_id: str) -> None:
        """Take a heat pump, boiler or appliance out."""
        ...


@callback
def follow_subentry_changes(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    household: DeviceHost,
    known: frozenset[str],
) -> None:
    """Add and remove devices in the running household; reload for the rest.

    A heat pump, boiler or appliance (a ``device`` subentry) added is built
    into the household while it runs, and its entities are made by each
    platform (``SIGNAL_DEVICE_ADDED``); one removed is taken out (Home
    Assistant removes its device and entities with the subentry). The meter,
    the guard and the chargers carry on. A charger or grid limit added or
    removed still reloads the household, as does a device that cannot be
    built (the set-up then says why).
    """
    if subentry_ids(entry) != known:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    kinds = {sid: entry.subentries[sid].subentry_type for sid in known}
    lock = asyncio.Lock()

    @callback
    def _entry_changed(
        change: ConfigEntryChange, changed: StroomwijsConfigEntry
    ) -> None:
        if (
            change is not ConfigEntryChange.UPDATED
            or changed.entry_id != entry.entry_id
            or changed.state is not ConfigEntryState.LOADED
        ):
            return
        now = subentry_ids(changed)
        added = sorted(now - kinds.keys())
        removed = sorted(kinds.keys() - now)
        if not added and not removed:
            return
        types = {kinds[sid] for sid in removed} | {
            changed.subentries[sid].subentry_type for sid in added
        }
        if types != {SUBENTRY_DEVICE}:
            hass.config_entries.async_schedule_reload(entry.entry_id)
            return
        for sid in removed:
            del kinds[sid]
        for sid in added:
            kinds[sid] = SUBENTRY_DEVICE
        entry.async_create_background_task(
            hass,
            _async_apply_devices(hass, entry, household, lock, added, removed),
            f"{DOMAIN} devices changed",
        )

    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed)
    )


async def _async_apply_devices(  # noqa: PLR0917 - one change, in order
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    household: DeviceHost,
    lock: asyncio.Lock,
    added: list[str],
    removed: list[str],
) -> None:
    """Take removed devices out of the household and build added ones in."""
    async with lock:
        for sid in removed:
            try:
                await household.async_remove_device(sid)
            except KeyError:
                pass  # never built: nothing to do
            except ValueError as err:
                LOGGER.warning("%s could not be removed: %s", sid, err)
                hass.config_entries.async_schedule_reload(entry.entry_id)
                return
        for sid in added:
            sub = entry.subentries.get(sid)
            if sub is None:
                continue  # removed meanwhile; its removal follows
            secrets: dict[str, str] = {}
            try:
                await household.async_add_device(
                    driver_device_config(sid, sub.title, sub.data, secrets), secrets
                )
            except (ValueError, KeyError) as err:
                LOGGER.warning("%s could not be added: %s", sub.title, err)
                hass.config_entries.async_schedule_reload(entry.entry_id)
                return
            async_dispatcher_send(hass, SIGNAL_DEVICE_ADDED.format(entry.entry_id), sid)


def as_local_text(when: datetime | None) -> str | None:
    """Format a time for an attribute (local, ISO)."""
    return None if when is None else dt_util.as_local(when).isoformat()
