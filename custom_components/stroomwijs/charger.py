"""EV chargers in Home Assistant: the OCPP central system and Quasar drivers.

Chargers are config subentries (type ``charger``) of the household entry. At
setup the ``ChargerHub`` starts the OCPP central system (when an OCPP charger
is configured, or the ``ocpp_port`` option is set) and connects the Wallbox
Quasars. An unknown charger id that reaches the central system starts an
integration discovery flow; the user confirms it and it becomes a subentry.
Until then it has no control (see ``engine/drivers/ocpp``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import logging
import ssl
from typing import Any, Final

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .engine.capabilities import DeviceUnavailableError
from .engine.drivers.ocpp import (
    CentralSystem,
    ChargerConfig,
    CsmsConfig,
    OcppCharger,
    PendingCharger,
)
from .engine.drivers.quasar import STATE_NAMES, QuasarCharger, QuasarConfig

_LOGGER = logging.getLogger(__name__)

SUBENTRY_CHARGER: Final = "charger"
CONF_KIND: Final = "kind"
KIND_OCPP: Final = "ocpp"
KIND_QUASAR: Final = "quasar"
CONF_CHARGER_ID: Final = "charger_id"
CONF_CHARGER_PHASES: Final = "phases"
CONF_MAX_CURRENT: Final = "max_current_a"
CONF_MIN_CURRENT: Final = "min_current_a"
CONF_MINIMUM_INSTEAD_OF_PAUSE: Final = "minimum_instead_of_pause"
CONF_CAPACITY: Final = "capacity_kwh"
CONF_OCPP_HOST: Final = "ocpp_host"
CONF_OCPP_PORT: Final = "ocpp_port"
CONF_OCPP_REQUIRE_AUTH: Final = "ocpp_require_auth"
CONF_OCPP_CERTFILE: Final = "ocpp_certfile"
CONF_OCPP_KEYFILE: Final = "ocpp_keyfile"
DEFAULT_OCPP_HOST: Final = "0.0.0.0"  # noqa: S104 - chargers are on the LAN
DEFAULT_OCPP_PORT: Final = 9000
QUASAR_POLL = timedelta(seconds=10)
CHARGER_PLATFORMS: Final = (
    Platform.BINARY_SENSOR,
    Platform.DATETIME,
    Platform.NUMBER,
    Platform.SWITCH,
)
STORE_VERSION = 1


def charger_config(data: dict[str, Any], title: str) -> ChargerConfig:
    """Build the engine's OCPP charger config from subentry data."""
    capacity = data.get(CONF_CAPACITY)
    return ChargerConfig(
        charger_id=str(data[CONF_CHARGER_ID]),
        name=title,
        password=data.get(CONF_PASSWORD) or None,
        phases=int(data.get(CONF_CHARGER_PHASES, 3)),
        max_current_a=float(data.get(CONF_MAX_CURRENT, 16.0)),
        min_current_a=float(data.get(CONF_MIN_CURRENT, 6.0)),
        minimum_instead_of_pause=bool(data.get(CONF_MINIMUM_INSTEAD_OF_PAUSE, False)),
        capacity_kwh=None if capacity in (None, "") else float(capacity),
    )


def quasar_config(data: dict[str, Any], title: str) -> QuasarConfig:
    """Build the engine's Quasar config from subentry data."""
    capacity = data.get(CONF_CAPACITY)
    return QuasarConfig(
        host=str(data[CONF_HOST]),
        port=int(data.get(CONF_PORT, 502)),
        name=title,
        capacity_kwh=None if capacity in (None, "") else float(capacity),
        minimum_instead_of_pause=bool(data.get(CONF_MINIMUM_INSTEAD_OF_PAUSE, False)),
    )


type ChargerDevice = OcppCharger | QuasarCharger

OCPP_STATES: Final[dict[str, str]] = {
    # OCPP 2.x charging states and connector statuses
    "EVConnected": "connected",
    "Charging": "charging",
    "SuspendedEV": "suspended_ev",
    "SuspendedEVSE": "suspended_evse",
    "Idle": "idle",
    "Occupied": "connected",
    "Available": "available",
    "Reserved": "reserved",
    "Unavailable": "unavailable",
    "Faulted": "faulted",
    # OCPP 1.6 connector statuses
    "Preparing": "connected",
    "Finishing": "finishing",
}
QUASAR_STATES: Final = frozenset(STATE_NAMES.values())
CHARGER_STATES: Final = sorted(
    {*OCPP_STATES.values(), *QUASAR_STATES, "offline", "discharging", "other"}
)


@dataclass(slots=True)
class ChargerHandle:
    """One configured charger as the entities see it."""

    subentry_id: str
    title: str
    kind: str
    device: ChargerDevice
    listeners: list[Callable[[], None]] = field(default_factory=list)

    @callback
    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the unsubscribe function."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    @callback
    def notify(self) -> None:
        """Tell the entities something changed."""
        for listener in list(self.listeners):
            listener()

    # -- values for entities ---------------------------------------------------
    @property
    def soc_pct(self) -> float | None:
        """SoC in percent."""
        soc = self.device.soc
        return None if soc is None else round(soc * 100.0, 1)

    @property
    def state_name(self) -> str | None:
        """The state as one of ``CHARGER_STATES`` (unknown ones as ``other``)."""
        device = self.device
        if isinstance(device, QuasarCharger):
            name = device.state
            if name is None:
                return None
            return name if name in QUASAR_STATES else "other"
        state = device.state
        if not state.connected:
            return "offline"
        if (device.power_w or 0.0) < 0:
            return "discharging"
        raw = state.charging_state or state.connector_status
        if raw is None:
            return None
        return OCPP_STATES.get(raw, "other")

    @property
    def limit_w(self) -> float | None:
        """The charger-side limit in force."""
        device = self.device
        if isinstance(device, OcppCharger):
            return device.station_limit_w
        return device.config.max_power_w

    @property
    def session_energy_kwh(self) -> float | None:
        """Energy of the running session (OCPP only)."""
        device = self.device
        return device.session_energy_kwh if isinstance(device, OcppCharger) else None

    @property
    def boost_w(self) -> float:
        """The most this charger can take (the DSO limit still caps it)."""
        device = self.device
        if isinstance(device, OcppCharger):
            return device.config.hardware_max_w
        return device.config.max_power_w

    def set_departure(self, changes: dict[str, Any]) -> None:
        """Change fields of the departure needs (the user's wish wins)."""
        self.device.set_departure(replace(self.device.departure, **changes))
        self.notify()

    async def async_manual(self, setpoint_w: float | None) -> None:
        """Boost, pause or (None) resume the plan."""
        device = self.device
        if isinstance(device, OcppCharger):
            await device.async_set_manual(setpoint_w)
        else:
            await device.async_set_power(0.0 if setpoint_w is None else setpoint_w)
        self.notify()


class ChargerHub:
    """The chargers of one household entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
        """Read the subentries; nothing runs until ``async_start``."""
        self.hass = hass
        self.entry = entry
        self.handles: dict[str, ChargerHandle] = {}
        self.csms: CentralSystem | None = None
        self._store: Store[dict[str, Any]] = Store(
            hass, STORE_VERSION, f"{DOMAIN}.{entry.entry_id}.chargers"
        )
        self._unsubs: list[Callable[[], None]] = []
        self.subentry_ids = frozenset(
            sid
            for sid, sub in entry.subentries.items()
            if sub.subentry_type == SUBENTRY_CHARGER
        )

    @property
    def wants_csms(self) -> bool:
        """Whether the central system should run."""
        options = {**self.entry.data, **self.entry.options}
        if options.get(CONF_OCPP_PORT) is not None:
            return True
        return any(
            self.entry.subentries[sid].data.get(CONF_KIND) == KIND_OCPP
            for sid in self.subentry_ids
        )

    def _ssl_context(self, options: dict[str, Any]) -> ssl.SSLContext | None:
        certfile = options.get(CONF_OCPP_CERTFILE)
        if not certfile:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, options.get(CONF_OCPP_KEYFILE) or None)
        return context

    async def async_start(self) -> None:
        """Start the central system and connect the Quasars."""
        ocpp_configs: dict[str, ChargerConfig] = {}
        for sid in sorted(self.subentry_ids):
            sub = self.entry.subentries[sid]
            data = dict(sub.data)
            if data.get(CONF_KIND) == KIND_OCPP:
                ocpp_configs[sid] = charger_config(data, sub.title)
            elif data.get(CONF_KIND) == KIND_QUASAR:
                quasar = QuasarCharger(quasar_config(data, sub.title))
                self.handles[sid] = ChargerHandle(sid, sub.title, KIND_QUASAR, quasar)
        if self.wants_csms:
            await self._async_start_csms(ocpp_configs)
        for handle in self.handles.values():
            if isinstance(handle.device, QuasarCharger):
                await self._async_poll_quasar(handle)
        if any(h.kind == KIND_QUASAR for h in self.handles.values()):
            self._unsubs.append(
                async_track_time_interval(
                    self.hass,
                    self._async_poll_all,
                    QUASAR_POLL,
                    cancel_on_shutdown=True,
                )
            )

    async def _async_start_csms(self, ocpp_configs: dict[str, ChargerConfig]) -> None:
        stored = await self._store.async_load() or {}
        options = {**self.entry.data, **self.entry.options}
        try:
            ssl_context = await self.hass.async_add_executor_job(
                self._ssl_context, options
            )
        except (OSError, ssl.SSLError) as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="ocpp_certificate",
                translation_placeholders={"error": str(err)},
            ) from err
        self.csms = CentralSystem(
            CsmsConfig(
                host=str(options.get(CONF_OCPP_HOST, DEFAULT_OCPP_HOST)),
                port=int(options.get(CONF_OCPP_PORT, DEFAULT_OCPP_PORT)),
                require_auth=bool(options.get(CONF_OCPP_REQUIRE_AUTH, False)),
                ssl_context=ssl_context,
            ),
            chargers=ocpp_configs.values(),
            on_new_charger=self._on_new_charger,
        )
        for sid, config in ocpp_configs.items():
            charger = self.csms.chargers[config.charger_id]
            snapshot = stored.get(config.charger_id)
            if isinstance(snapshot, dict):
                charger.restore(snapshot)
            handle = ChargerHandle(sid, config.name or sid, KIND_OCPP, charger)
            self._unsubs.append(charger.add_listener(self._changed(handle)))
            self.handles[sid] = handle
        try:
            await self.csms.async_start()
        except OSError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="ocpp_port_in_use",
                translation_placeholders={"error": str(err)},
            ) from err

    def _changed(self, handle: ChargerHandle) -> Callable[[], None]:
        @callback
        def _on_change() -> None:
            handle.notify()
            self._store.async_delay_save(self._snapshots, 10)

        return _on_change

    def _snapshots(self) -> dict[str, Any]:
        return {
            handle.device.config.charger_id: handle.device.snapshot()
            for handle in self.handles.values()
            if isinstance(handle.device, OcppCharger)
        }

    async def _async_poll_all(self, _now: datetime) -> None:
        for handle in list(self.handles.values()):
            if isinstance(handle.device, QuasarCharger):
                await self._async_poll_quasar(handle)

    async def _async_poll_quasar(self, handle: ChargerHandle) -> None:
        device = handle.device
        if not isinstance(device, QuasarCharger):
            return
        try:
            if not device.available:
                await device.async_connect()
            await device.async_update()
        except DeviceUnavailableError as err:
            _LOGGER.debug("%s unavailable: %s", handle.title, err)
        handle.notify()

    @callback
    def _on_new_charger(self, pending: PendingCharger) -> None:
        """Start a discovery flow the user confirms."""
        discovery_flow.async_create_flow(
            self.hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data={
                "entry_id": self.entry.entry_id,
                CONF_CHARGER_ID: pending.charger_id,
                "protocol": pending.protocol,
                "vendor": pending.vendor,
                "model": pending.model,
            },
        )

    async def async_stop(self) -> None:
        """Stop everything and save the charger state."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self.csms is not None:
            await self._store.async_save(self._snapshots())
            await self.csms.async_stop()
        for handle in self.handles.values():
            if isinstance(handle.device, QuasarCharger):
                handle.device.close()


async def async_setup_chargers(
    hass: HomeAssistant, entry: ConfigEntry[Any]
) -> ChargerHub | None:
    """Start the household's chargers; None when there is nothing to run.

    Adding or removing a charger subentry reloads the entry, so a removed
    charger loses control at once. (The household's options flow reloads by
    itself, and Home Assistant allows no update listener next to it, so this
    follows the config entry change signal instead.)
    """
    hub = ChargerHub(hass, entry)
    known = hub.subentry_ids

    @callback
    def _entry_changed(change: ConfigEntryChange, changed: ConfigEntry[Any]) -> None:
        if (
            change is not ConfigEntryChange.UPDATED
            or changed.entry_id != entry.entry_id
        ):
            return
        if changed.state is not ConfigEntryState.LOADED:
            return
        current = frozenset(
            sid
            for sid, sub in changed.subentries.items()
            if sub.subentry_type == SUBENTRY_CHARGER
        )
        if current != known:
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed)
    )
    if not hub.subentry_ids and not hub.wants_csms:
        return None
    try:
        await hub.async_start()
    except Exception:
        await hub.async_stop()
        raise
    entry.async_on_unload(hub.async_stop)
    return hub


def async_add_charger_entities(
    hub: ChargerHub | None,
    async_add_entities: AddConfigEntryEntitiesCallback,
    build: Callable[[ChargerHandle], Iterable[Entity]],
) -> None:
    """Add the entities ``build`` makes for each charger, to its own subentry."""
    if hub is None:
        return
    for handle in hub.handles.values():
        async_add_entities(build(handle), config_subentry_id=handle.subentry_id)


class ChargerEntity(Entity):
    """An entity of one charger's device."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self,
        entry: ConfigEntry[Any],  # noqa: ARG002 - same signature as the household's
        handle: ChargerHandle,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the charger's device."""
        self.entity_description = description
        self.handle = handle
        self._attr_unique_id = f"{handle.subentry_id}_{description.key}"
        model = "Wallbox Quasar" if handle.kind == KIND_QUASAR else "OCPP charger"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, handle.subentry_id)},
            name=handle.title,
            manufacturer="Wallbox" if handle.kind == KIND_QUASAR else None,
            model=model,
        )

    @property
    def available(self) -> bool:
        """Available while the charger answers (connectivity itself always is)."""
        return self.handle.device.available

    async def async_added_to_hass(self) -> None:
        """Follow the charger's changes."""
        self.async_on_remove(self.handle.add_listener(self.async_write_ha_state))
