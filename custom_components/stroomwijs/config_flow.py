"""Config flow for Stroomwijs: pick the meter, prove it talks, describe the grid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_NAME, CONF_PASSWORD
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio as vol
from serialx import list_serial_ports

from .charger_flow import (
    ChargerDiscoveryFlow,
    ocpp_server_schema,
    validate_ocpp_server_options,
)
from .const import (
    CONF_FUSE_A,
    CONF_PHASES,
    DEFAULT_FUSE_A,
    DEFAULT_NAME,
    DEFAULT_PHASES,
    DOMAIN,
    LOGGER,
    REAUTH_SUBENTRY,
)
from .coordinator import (
    CONF_API_VERSION,
    CONF_DSMR_VERSION,
    CONF_ENCRYPTION_KEY,
    CONF_HOST,
    CONF_SERIAL_PORT,
    CONF_SOURCE,
    CONF_TCP_PORT,
    CONF_TOKEN,
    CONF_UPDATE_INTERVAL,
    DEFAULT_UPDATE_INTERVAL,
    SOURCE_ENTITIES,
    SOURCE_HOMEWIZARD,
    SOURCE_NETWORK,
    SOURCE_SERIAL,
    NoReadingError,
    async_first_reading,
    build_meter,
)
from .device_flow import SUBENTRY_DEVICE, DeviceSubentryFlow
from .engine.grid import GridConnection
from .engine.meter.core import Meter
from .engine.meter.homewizard import (
    API_V1,
    API_V2,
    HomeWizardAuthError,
    HomeWizardPoller,
    request_token,
)
from .engine.meter.models import MeterReading
from .engine.meter.versions import DEFAULT_VERSION, VERSIONS, validate_key
from .entity_source import (
    CONF_CURRENT_ENTITIES,
    CONF_ENERGY_EXPORT_ENTITIES,
    CONF_ENERGY_IMPORT_ENTITIES,
    CONF_EXPORT_POWER_ENTITY,
    CONF_POWER_ENTITY,
    CONF_VOLTAGE_ENTITIES,
)
from .gateway_flow import GatewayDiscoveryFlow
from .identity import (
    CONF_HOMEWIZARD_SERIAL,
    HOMEWIZARD_PREFIX,
    MeterIdentity,
    entities_identity,
    find_household,
)
from .installer_flow import InstallerFlow
from .integration_discovery import TYPES as INTEGRATION_TYPES, IntegrationDiscoveryFlow
from .limits_flow import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_LIMIT_KIND,
    CONF_URL,
    KIND_OPENADR,
    SUBENTRY_GRID_LIMIT,
    GridLimitSubentryFlow,
    async_check_openadr,
)
from .models import StroomwijsConfigEntry
from .shelly_flow import ShellyDiscoveryFlow, is_shelly
from .socket_flow import PRODUCT_TYPE as SOCKET_PRODUCT_TYPE
from .tariff_form import TARIFF_KEYS, tariff_schema

PROBE_TIMEOUT = 12.0
"""Seconds the flow waits for a first telegram (DSMR 2.2 and 4 send every 10 s)."""
DSMR_VERSIONS = [key for key in VERSIONS if key != "5L-encrypted"]
DEFAULT_TCP_PORT = 23
HOMEWIZARD_P1 = "HWE-P1"
ZEROCONF_V2 = "_homewizard._tcp.local."
_RELOADABLE = (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY)
_CONNECTION_KEYS = (
    CONF_SOURCE,
    CONF_SERIAL_PORT,
    CONF_HOST,
    CONF_TCP_PORT,
    CONF_DSMR_VERSION,
    CONF_ENCRYPTION_KEY,
    CONF_API_VERSION,
    CONF_TOKEN,
    CONF_POWER_ENTITY,
    CONF_EXPORT_POWER_ENTITY,
    CONF_CURRENT_ENTITIES,
    CONF_VOLTAGE_ENTITIES,
    CONF_ENERGY_IMPORT_ENTITIES,
    CONF_ENERGY_EXPORT_ENTITIES,
)


def _grid_schema(defaults: dict[str, Any]) -> dict[vol.Marker, Any]:
    """Fields describing the grid connection."""
    return {
        vol.Required(
            CONF_PHASES, default=str(defaults.get(CONF_PHASES, DEFAULT_PHASES))
        ): SelectSelector(
            SelectSelectorConfig(
                options=["1", "3"],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_PHASES,
            )
        ),
        vol.Required(
            CONF_FUSE_A, default=defaults.get(CONF_FUSE_A, DEFAULT_FUSE_A)
        ): NumberSelector(
            NumberSelectorConfig(
                min=6,
                max=400,
                step=1,
                mode=NumberSelectorMode.BOX,
                unit_of_measurement="A",
            )
        ),
    }


def _validate_grid(user_input: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Normalise the grid fields; return them and an error key, if any."""
    try:
        grid = GridConnection(
            phases=int(user_input[CONF_PHASES]), fuse_a=float(user_input[CONF_FUSE_A])
        )
    except ValueError:
        return {}, "invalid_grid_connection"
    return {CONF_PHASES: grid.phases, CONF_FUSE_A: grid.fuse_a}, None


def _version_selector() -> SelectSelector:
    """Versions by their technical names (the same in every language)."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=key, label=f"{key}: {VERSIONS[key].description}")
                for key in DSMR_VERSIONS
            ],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _port_selector(ports: list[SelectOptionDict]) -> SelectSelector | TextSelector:
    """Offer the serial ports found; any other path can still be typed."""
    if not ports:
        return TextSelector()
    return SelectSelector(
        SelectSelectorConfig(
            options=ports, custom_value=True, mode=SelectSelectorMode.DROPDOWN
        )
    )


def _list_ports() -> list[SelectOptionDict]:
    """List this machine's serial ports (blocking: run it in the executor)."""
    try:
        found = list_serial_ports()
    except Exception:  # noqa: BLE001  (no port listing on this platform)
        return []
    return [
        SelectOptionDict(
            value=port.device,
            label=" - ".join(
                part for part in (port.device, port.manufacturer, port.product) if part
            ),
        )
        for port in found
    ]


def _connection_schema(
    source: str,
    defaults: dict[str, Any],
    ports: list[SelectOptionDict] | None = None,
) -> dict[vol.Marker, Any]:
    """Return the fields that say how to reach the meter of ``source``."""
    key_field = vol.Optional(
        CONF_ENCRYPTION_KEY,
        description={"suggested_value": defaults.get(CONF_ENCRYPTION_KEY)},
    )
    if source == SOURCE_SERIAL:
        return {
            vol.Required(
                CONF_SERIAL_PORT,
                default=defaults.get(
                    CONF_SERIAL_PORT, ports[0]["value"] if ports else "/dev/ttyUSB0"
                ),
            ): _port_selector(ports or []),
            vol.Required(
                CONF_DSMR_VERSION,
                default=defaults.get(CONF_DSMR_VERSION, DEFAULT_VERSION),
            ): _version_selector(),
            key_field: TextSelector(),
        }
    if source == SOURCE_NETWORK:
        return {
            vol.Required(
                CONF_HOST, default=defaults.get(CONF_HOST, "")
            ): TextSelector(),
            vol.Required(
                CONF_TCP_PORT, default=defaults.get(CONF_TCP_PORT, DEFAULT_TCP_PORT)
            ): NumberSelector(
                NumberSelectorConfig(min=1, max=65535, mode=NumberSelectorMode.BOX)
            ),
            vol.Required(
                CONF_DSMR_VERSION,
                default=defaults.get(CONF_DSMR_VERSION, DEFAULT_VERSION),
            ): _version_selector(),
            key_field: TextSelector(),
        }
    if source == SOURCE_HOMEWIZARD:
        return {
            vol.Required(
                CONF_HOST, default=defaults.get(CONF_HOST, "")
            ): TextSelector(),
            vol.Required(
                CONF_API_VERSION, default=defaults.get(CONF_API_VERSION, API_V1)
            ): SelectSelector(
                SelectSelectorConfig(
                    options=[API_V1, API_V2],
                    mode=SelectSelectorMode.LIST,
                    translation_key=CONF_API_VERSION,
                )
            ),
        }
    power = EntitySelectorConfig(domain="sensor", device_class=SensorDeviceClass.POWER)
    energy = EntitySelectorConfig(
        domain="sensor", device_class=SensorDeviceClass.ENERGY, multiple=True
    )
    return {
        vol.Required(
            CONF_POWER_ENTITY, default=defaults.get(CONF_POWER_ENTITY, vol.UNDEFINED)
        ): EntitySelector(power),
        vol.Optional(
            CONF_EXPORT_POWER_ENTITY,
            description={"suggested_value": defaults.get(CONF_EXPORT_POWER_ENTITY)},
        ): EntitySelector(power),
        vol.Optional(
            CONF_CURRENT_ENTITIES,
            description={"suggested_value": defaults.get(CONF_CURRENT_ENTITIES)},
        ): EntitySelector(
            EntitySelectorConfig(
                domain="sensor", device_class=SensorDeviceClass.CURRENT, multiple=True
            )
        ),
        vol.Optional(
            CONF_VOLTAGE_ENTITIES,
            description={"suggested_value": defaults.get(CONF_VOLTAGE_ENTITIES)},
        ): EntitySelector(
            EntitySelectorConfig(
                domain="sensor", device_class=SensorDeviceClass.VOLTAGE, multiple=True
            )
        ),
        vol.Optional(
            CONF_ENERGY_IMPORT_ENTITIES,
            description={"suggested_value": defaults.get(CONF_ENERGY_IMPORT_ENTITIES)},
        ): EntitySelector(energy),
        vol.Optional(
            CONF_ENERGY_EXPORT_ENTITIES,
            description={"suggested_value": defaults.get(CONF_ENERGY_EXPORT_ENTITIES)},
        ): EntitySelector(energy),
    }


def _connection_settings(source: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Pick the connection fields of ``source`` out of a form's input."""
    settings: dict[str, Any] = {CONF_SOURCE: source}
    for key in _CONNECTION_KEYS[1:]:
        if user_input.get(key) not in (None, "", []):
            settings[key] = user_input[key]
    if CONF_TCP_PORT in settings:
        settings[CONF_TCP_PORT] = int(settings[CONF_TCP_PORT])
    if CONF_HOST in settings:
        settings[CONF_HOST] = str(settings[CONF_HOST]).strip()
    return settings


def probe_limit(settings: dict[str, Any]) -> float:
    """Seconds to wait for a first reading: three telegram intervals and 2 s.

    A DSMR 5 meter sends every second, so a port that is not a P1 stream is
    reported after 5 s; DSMR 2.2 and 4 (every 10 s) get ``PROBE_TIMEOUT``.
    Entities either have a value or not: one second.
    """
    if settings[CONF_SOURCE] == SOURCE_ENTITIES:
        return 1.0
    version = VERSIONS.get(str(settings.get(CONF_DSMR_VERSION)))
    if version is None:
        return PROBE_TIMEOUT
    return min(PROBE_TIMEOUT, 3 * version.interval_s + 2)


class _MeterProbe:
    """Connect to a meter as the settings say and wait for a valid reading."""

    def __init__(self, flow: ConfigFlow) -> None:
        self.flow = flow
        self.reading: MeterReading | None = None
        self.homewizard_serial: str | None = None

    async def run(self, settings: dict[str, Any]) -> str | None:
        """Return None if a valid reading came, else the error key."""
        if settings.get(CONF_ENCRYPTION_KEY):
            try:
                settings[CONF_ENCRYPTION_KEY] = validate_key(
                    settings[CONF_ENCRYPTION_KEY]
                )
            except ValueError:
                return "invalid_key"
        try:
            meter, feed = build_meter(self.flow.hass, settings)
        except ValueError:
            return "invalid_version"
        try:
            if isinstance(feed, HomeWizardPoller):
                return await self._poll(meter, feed)
            entities = settings[CONF_SOURCE] == SOURCE_ENTITIES
            try:
                self.reading = await async_first_reading(
                    meter, feed, probe_limit(settings)
                )
            except NoReadingError as err:
                return "entity_unavailable" if entities else err.reason
            return None
        finally:
            await feed.stop()

    async def _poll(self, meter: Meter, feed: HomeWizardPoller) -> str | None:
        """Fetch one telegram from a HomeWizard P1 meter."""
        try:
            valid = await feed.poll_once()
        except HomeWizardAuthError:
            return "invalid_auth"
        except Exception:  # noqa: BLE001  (any library error: unreachable)
            return "cannot_connect"
        if not valid:
            return "invalid_telegram"
        self.reading = meter.last_reading
        try:
            device = await feed.api.device()
        except Exception:  # noqa: BLE001  (the serial is a bonus: telegram read)
            LOGGER.debug("HomeWizard at %s gave no device information", feed.api.host)
        else:
            self.homewizard_serial = str(device.serial or "") or None
        return None

    def identity(self, settings: dict[str, Any]) -> MeterIdentity:
        """Who the meter is: its equipment id, and a HomeWizard's serial."""
        if settings[CONF_SOURCE] == SOURCE_ENTITIES:
            return entities_identity(self.flow.hass, settings[CONF_POWER_ENTITY])
        return MeterIdentity(
            equipment_id=self.reading.equipment_id if self.reading else None,
            homewizard_serial=self.homewizard_serial
            or settings.get(CONF_HOMEWIZARD_SERIAL),
        )


class StroomwijsConfigFlow(
    InstallerFlow,
    ChargerDiscoveryFlow,
    GatewayDiscoveryFlow,
    ShellyDiscoveryFlow,
    IntegrationDiscoveryFlow,
    ConfigFlow,
    domain=DOMAIN,
):
    """Set up a Stroomwijs household around its grid meter."""

    VERSION = 1
    MINOR_VERSION = 4
    """1.3: one identity per meter (see identity.py and migration.py)."""

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._settings: dict[str, Any] = {}
        self._reading: MeterReading | None = None
        self._discovered_name: str = ""
        self._reauth_subentry_id: str = ""

    @staticmethod
    @callback
    def async_get_options_flow(
        config_entry: StroomwijsConfigEntry,  # noqa: ARG004
    ) -> StroomwijsOptionsFlow:
        """Return the options flow."""
        return StroomwijsOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: StroomwijsConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Chargers, DSO limit sources and devices are subentries of the household."""
        return {
            **super().async_get_supported_subentry_types(config_entry),
            SUBENTRY_GRID_LIMIT: GridLimitSubentryFlow,
            SUBENTRY_DEVICE: DeviceSubentryFlow,
        }

    async def async_step_hassio(
        self, discovery_info: HassioServiceInfo
    ) -> ConfigFlowResult:
        """Offer the hand-over to the gateway the add-on announced (gateway_flow.py)."""
        return await self.async_gateway_discovered(discovery_info)

    async def async_step_user(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> ConfigFlowResult:
        """Ask how Stroomwijs reaches the household's meter."""
        return self.async_show_menu(
            step_id="user",
            menu_options=[
                SOURCE_SERIAL,
                SOURCE_NETWORK,
                SOURCE_HOMEWIZARD,
                SOURCE_ENTITIES,
                "import_profile",
            ],
        )

    async def async_step_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Read a P1 cable on a serial port of this machine."""
        return await self._async_connection_step(SOURCE_SERIAL, user_input)

    async def async_step_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Read a network P1 dongle or ser2net (socket://host:port)."""
        return await self._async_connection_step(SOURCE_NETWORK, user_input)

    async def async_step_entities(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Follow entities of HA's own DSMR or HomeWizard integration."""
        return await self._async_connection_step(SOURCE_ENTITIES, user_input)

    async def async_step_homewizard(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Read a HomeWizard P1 meter given by its address."""
        if user_input is not None and user_input.get(CONF_API_VERSION) == API_V2:
            self._settings = _connection_settings(SOURCE_HOMEWIZARD, user_input)
            return await self.async_step_authorize()
        return await self._async_connection_step(SOURCE_HOMEWIZARD, user_input)

    async def _async_connection_step(
        self, source: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            settings = _connection_settings(source, user_input)
            error = await self._async_probe(settings)
            if error is None:
                return await self.async_step_grid()
            errors["base"] = error
        ports = (
            await self.hass.async_add_executor_job(_list_ports)
            if source == SOURCE_SERIAL
            else None
        )
        return self.async_show_form(
            step_id=source,
            data_schema=vol.Schema(
                _connection_schema(
                    source, user_input or self.profile_meter_defaults(source), ports
                )
            ),
            errors=errors,
        )

    async def _async_probe(self, settings: dict[str, Any]) -> str | None:
        """Test the meter; on success remember it and claim its identity."""
        probe = _MeterProbe(self)
        error = await probe.run(settings)
        if error is not None:
            return error
        self._settings = settings
        self._reading = probe.reading
        identity = probe.identity(settings)
        if identity.homewizard_serial:
            self._settings[CONF_HOMEWIZARD_SERIAL] = identity.homewizard_serial
        await self._async_claim(identity, updates=self._homewizard_updates())
        return None

    def _homewizard_updates(self) -> dict[str, Any] | None:
        """Return the address (and serial) to store on a HomeWizard found again."""
        if self._settings.get(CONF_SOURCE) != SOURCE_HOMEWIZARD:
            return None
        updates = {CONF_HOST: self._settings[CONF_HOST]}
        if self._settings.get(CONF_HOMEWIZARD_SERIAL):
            updates[CONF_HOMEWIZARD_SERIAL] = self._settings[CONF_HOMEWIZARD_SERIAL]
        return updates

    async def _async_claim(
        self, identity: MeterIdentity, updates: dict[str, Any] | None = None
    ) -> None:
        """Take the meter's identity; abort if a household already has it.

        A HomeWizard P1 found again (at a new address, or first added by
        address and now discovered) gets its new address stored, and its
        household reloads (discovery-update-info).
        """
        if identity.unique_id is None:
            return
        await self.async_set_unique_id(identity.unique_id, raise_on_progress=False)
        existing = find_household(self.hass, identity)
        if existing is None:
            return
        if (
            updates
            and existing.source != SOURCE_IGNORE
            and existing.data.get(CONF_SOURCE) == SOURCE_HOMEWIZARD
            and self.hass.config_entries.async_update_entry(
                existing, data={**existing.data, **updates}
            )
            and existing.state in _RELOADABLE
        ):
            self.hass.config_entries.async_schedule_reload(existing.entry_id)
        raise AbortFlow("already_configured")

    async def async_step_zeroconf(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """Handle a device that announced itself on the network.

        A HomeWizard P1 meter becomes a household; an Energy Socket
        (``socket_flow.py``) or a Shelly Gen2+ relay (``shelly_flow.py``) a
        household's device; Home Connect, Miele, Daikin, OpenEVSE and EEBus
        announcements go to ``integration_discovery.py``.
        """
        if is_shelly(discovery_info):
            return await self.async_step_shelly_discovered(discovery_info)
        if discovery_info.type in INTEGRATION_TYPES:
            return await self.async_step_integration_device_discovered(discovery_info)
        properties = discovery_info.properties
        if properties.get("product_type") == SOCKET_PRODUCT_TYPE:
            return await self.async_step_socket_discovered(discovery_info)
        if properties.get("product_type") != HOMEWIZARD_P1:
            return self.async_abort(reason="not_p1_meter")
        api_version = API_V2 if discovery_info.type == ZEROCONF_V2 else API_V1
        if api_version == API_V1 and properties.get("api_enabled") != "1":
            return self.async_abort(reason="api_disabled")
        host = str(discovery_info.ip_address)
        if discovery_info.port not in (None, 80, 443):
            host = f"{host}:{discovery_info.port}"
        serial = properties.get("serial") or None
        self._settings = {
            CONF_SOURCE: SOURCE_HOMEWIZARD,
            CONF_HOST: host,
            CONF_API_VERSION: api_version,
        }
        if serial:
            self._settings[CONF_HOMEWIZARD_SERIAL] = serial
            # One flow per device, although it announces API v1 and v2.
            await self.async_set_unique_id(f"{HOMEWIZARD_PREFIX}{serial}")
            await self._async_claim(
                MeterIdentity(homewizard_serial=serial),
                updates=self._homewizard_updates(),
            )
        if api_version == API_V1:
            # API v1 needs no token: read a telegram now, so that a meter
            # added by address before (known by its equipment id) is found.
            probe = _MeterProbe(self)
            if await probe.run(dict(self._settings)) is None:
                await self._async_claim(
                    probe.identity(self._settings),
                    updates=self._homewizard_updates(),
                )
        self._discovered_name = properties.get("product_name") or "HomeWizard P1"
        self.context["title_placeholders"] = {"name": self._discovered_name}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask before using a discovered HomeWizard P1 meter."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if self._settings[CONF_API_VERSION] == API_V2:
                return await self.async_step_authorize()
            error = await self._async_probe(dict(self._settings))
            if error is None:
                return await self.async_step_grid()
            errors["base"] = error
        return self.async_show_form(
            step_id="discovery_confirm",
            description_placeholders={
                "name": self._discovered_name,
                "host": self._settings[CONF_HOST],
            },
            errors=errors,
        )

    async def async_step_authorize(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Get an API v2 token: the user presses the device's button first."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                token = await request_token(
                    self._settings[CONF_HOST], async_get_clientsession(self.hass)
                )
            except Exception:  # noqa: BLE001  (any library error: unreachable)
                token = None
                errors["base"] = "cannot_connect"
            else:
                if token is None:
                    errors["base"] = "button_not_pressed"
            if token is not None:
                error = await self._async_probe({**self._settings, CONF_TOKEN: token})
                if error is None:
                    return await self.async_step_grid()
                errors["base"] = error
        return self.async_show_form(
            step_id="authorize",
            description_placeholders={"host": self._settings[CONF_HOST]},
            errors=errors,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Handle a meter, DSO server or charger that refused our credentials.

        Without ``subentry_id`` in ``entry_data`` it is the meter (a new token
        or key); with it, the OpenADR client credentials or a charger's OCPP
        password of that subentry.
        """
        entry = self._get_reauth_entry()
        subentry = entry.subentries.get(str(entry_data.get(REAUTH_SUBENTRY) or ""))
        if subentry is None:
            return await self.async_step_reauth_confirm()
        self._reauth_subentry_id = subentry.subentry_id
        self.context["title_placeholders"] = {"name": subentry.title}
        if subentry.data.get(CONF_LIMIT_KIND) == KIND_OPENADR:
            return await self.async_step_reauth_openadr()
        return await self.async_step_reauth_charger()

    def _reauth_subentry(self) -> tuple[StroomwijsConfigEntry, ConfigSubentry]:
        entry = self._get_reauth_entry()
        return entry, entry.subentries[self._reauth_subentry_id]

    async def async_step_reauth_openadr(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new OpenADR client credentials and test them on the server."""
        entry, subentry = self._reauth_subentry()
        errors: dict[str, str] = {}
        if user_input is not None:
            _programs, error = await async_check_openadr(
                self.hass,
                str(subentry.data[CONF_URL]),
                str(user_input[CONF_CLIENT_ID]),
                str(user_input[CONF_CLIENT_SECRET]),
            )
            if error is None:
                self.hass.config_entries.async_update_subentry(
                    entry,
                    subentry,
                    data={
                        **subentry.data,
                        CONF_CLIENT_ID: str(user_input[CONF_CLIENT_ID]),
                        CONF_CLIENT_SECRET: str(user_input[CONF_CLIENT_SECRET]),
                    },
                )
                return self.async_update_reload_and_abort(entry)
            errors["base"] = error
        schema = vol.Schema(
            {
                vol.Required(CONF_CLIENT_ID): TextSelector(),
                vol.Required(CONF_CLIENT_SECRET): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.PASSWORD)
                ),
            }
        )
        return self.async_show_form(
            step_id="reauth_openadr",
            data_schema=self.add_suggested_values_to_schema(
                schema, {CONF_CLIENT_ID: subentry.data.get(CONF_CLIENT_ID)}
            ),
            errors=errors,
            description_placeholders={
                "name": subentry.title,
                "url": str(subentry.data.get(CONF_URL)),
            },
        )

    async def async_step_reauth_charger(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the password a charger now sends (OCPP security profile 1)."""
        entry, subentry = self._reauth_subentry()
        if user_input is not None:
            self.hass.config_entries.async_update_subentry(
                entry,
                subentry,
                data={**subentry.data, CONF_PASSWORD: user_input[CONF_PASSWORD]},
            )
            return self.async_update_reload_and_abort(entry)
        return self.async_show_form(
            step_id="reauth_charger",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_PASSWORD): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    )
                }
            ),
            description_placeholders={"name": subentry.title},
        )

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Get a new HomeWizard token, a new key, or just try again."""
        entry = self._get_reauth_entry()
        settings = {k: v for k, v in entry.data.items() if k in _CONNECTION_KEYS}
        source = settings.get(CONF_SOURCE)
        needs_key = source in (SOURCE_SERIAL, SOURCE_NETWORK)
        errors: dict[str, str] = {}
        if user_input is not None:
            if needs_key:
                settings[CONF_ENCRYPTION_KEY] = user_input[CONF_ENCRYPTION_KEY]
            elif settings.get(CONF_API_VERSION) == API_V2:
                try:
                    token = await request_token(
                        settings[CONF_HOST], async_get_clientsession(self.hass)
                    )
                except Exception:  # noqa: BLE001  (any library error: unreachable)
                    errors["base"] = "cannot_connect"
                else:
                    if token is None:
                        errors["base"] = "button_not_pressed"
                    else:
                        settings[CONF_TOKEN] = token
            if not errors:
                error = await _MeterProbe(self).run(settings)
                if error is None:
                    return self.async_update_reload_and_abort(
                        entry, data_updates=settings
                    )
                errors["base"] = error
        schema = vol.Schema(
            {vol.Required(CONF_ENCRYPTION_KEY): TextSelector()} if needs_key else {}
        )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=schema,
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_grid(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Name the household and describe its grid connection."""
        errors: dict[str, str] = {}
        if user_input is not None:
            grid, error = _validate_grid(user_input)
            if error is None:
                return await self.async_after_grid(
                    user_input[CONF_NAME], {**self._settings, **grid}
                )
            errors["base"] = error
        defaults = dict(user_input or self.profile_grid_defaults())
        if not defaults and self._reading is not None and self._reading.phases == 1:
            defaults[CONF_PHASES] = 1
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_NAME, default=defaults.get(CONF_NAME, DEFAULT_NAME)
                ): TextSelector(),
                **_grid_schema(defaults),
            }
        )
        return self.async_show_form(step_id="grid", data_schema=schema, errors=errors)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change how the meter is reached, or the grid connection."""
        entry = self._get_reconfigure_entry()
        source = entry.data.get(CONF_SOURCE)
        errors: dict[str, str] = {}
        unique_id = entry.unique_id
        if user_input is not None:
            grid, error = _validate_grid(user_input)
            updates: dict[str, Any] = dict(grid)
            if error is None and source is not None:
                settings = _connection_settings(source, user_input)
                if source == SOURCE_HOMEWIZARD and entry.data.get(CONF_TOKEN):
                    settings[CONF_TOKEN] = entry.data[CONF_TOKEN]
                probe = _MeterProbe(self)
                error = await probe.run(settings)
                found = probe.reading.equipment_id if probe.reading else None
                if error is None and found and found != entry.unique_id:
                    if entry.unique_id and not entry.unique_id.startswith(
                        HOMEWIZARD_PREFIX
                    ):
                        error = "wrong_meter"  # another household's meter
                    elif find_household(
                        self.hass,
                        MeterIdentity(equipment_id=found),
                        exclude=entry.entry_id,
                    ):
                        error = "wrong_meter"
                    else:
                        unique_id = found  # the meter's identity, learnt now
                updates.update(settings)
            if error is None:
                data = {
                    key: value
                    for key, value in entry.data.items()
                    if key not in _CONNECTION_KEYS
                }
                data.update(updates)
                return self.async_update_reload_and_abort(
                    entry, data=data, unique_id=unique_id
                )
            errors["base"] = error
        defaults = user_input or dict(entry.data)
        fields: dict[vol.Marker, Any] = {}
        if source is not None:
            fields.update(_connection_schema(source, defaults))
        fields.update(_grid_schema(defaults))
        return self.async_show_form(
            step_id="reconfigure", data_schema=vol.Schema(fields), errors=errors
        )


class StroomwijsOptionsFlow(OptionsFlowWithReload):
    """Tune a running household.

    Each step saves only its own keys on top of the options already stored,
    so changing the fuse never forgets the OCPP settings and vice versa.
    """

    async def async_step_init(
        self,
        user_input: dict[str, Any] | None = None,  # noqa: ARG002
    ) -> ConfigFlowResult:
        """Choose what to change."""
        return self.async_show_menu(
            step_id="init", menu_options=["household", "tariff", "ocpp_server"]
        )

    def _save(self, changes: dict[str, Any]) -> ConfigFlowResult:
        """Store ``changes`` on top of the current options."""
        return self.async_create_entry(data={**self.config_entry.options, **changes})

    async def async_step_household(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the grid connection and the sensor update interval."""
        errors: dict[str, str] = {}
        if user_input is not None:
            grid, error = _validate_grid(user_input)
            if error is None:
                interval = int(
                    user_input.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
                )
                return self._save({**grid, CONF_UPDATE_INTERVAL: interval})
            errors["base"] = error
        current = {**self.config_entry.data, **self.config_entry.options}
        defaults = user_input or current
        schema = vol.Schema(
            {
                **_grid_schema(defaults),
                vol.Required(
                    CONF_UPDATE_INTERVAL,
                    default=defaults.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=1,
                        max=60,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="s",
                    )
                ),
            }
        )
        return self.async_show_form(
            step_id="household", data_schema=schema, errors=errors
        )

    async def async_step_tariff(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose prices, the PV forecast, the tariff and the optimiser mode."""
        if user_input is not None:
            changes = {key: user_input.get(key) for key in TARIFF_KEYS}
            return self._save(changes)
        current = {**self.config_entry.data, **self.config_entry.options}
        return self.async_show_form(
            step_id="tariff", data_schema=tariff_schema(current)
        )

    async def async_step_ocpp_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set where the OCPP central system listens, and its security."""
        errors: dict[str, str] = {}
        if user_input is not None:
            changes, errors = await self.hass.async_add_executor_job(
                validate_ocpp_server_options, user_input
            )
            if not errors:
                return self._save(changes)
        current = {**self.config_entry.data, **self.config_entry.options}
        return self.async_show_form(
            step_id="ocpp_server",
            data_schema=ocpp_server_schema(user_input or current),
            errors=errors,
        )
