"""Zeroconf discovery of devices that Stroomwijs drives through another integration.

Home Connect (``_homeconnect._tcp``), Miele (``_mieleathome._tcp``) and
Daikin (``_dkapi._tcp``) appliances are driven through the entities of
their own Home Assistant integrations: Stroomwijs starts a programme with
the appliance's start entity and reads its state, or shifts a Daikin
unit's setpoint (docs/devices.md). When one announces itself:

1. *Confirm* (``integration_confirm``): the appliance, its address, the
   integration it needs and the household it joins. Nothing else happens
   before the user confirms.
2. On confirm, the integration's device for this appliance is looked up
   (its identifier or MAC in the announcement). No enabled entry of the
   integration, or no such
   device yet: the form says which integration to set up first and can be
   confirmed again later. Found: the flow goes on as the entity adoption's
   form for that device (``adoption.py``), filled in; a Home Connect
   appliance (which starts a programme through a select, not a button)
   gets the remote-start form with its *remote start* and *operation
   state* entities filled in and the start entity to choose.

OpenEVSE chargers (``_openevse._tcp``) speak OCPP 1.6J, which is how
Stroomwijs drives chargers: the confirm step (``openevse_confirm``) shows
the URL of the household's OCPP server to enter in the charger; when it
connects it is offered as a new charger (charger_flow.py). Without a
running OCPP server the form says to switch it on first.

EEBus SHIP nodes (``_ship._tcp``) are recorded (logged once per node and
kept for the diagnostics) for a later bridge, and the flow aborts with
``eebus_not_supported``: there is nothing to confirm yet.

Unique ids are ``<type>_<the announcement's id>``, so *Ignore* is respected
and a device announced twice has one flow.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    selector,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.util.hass_dict import HassKey
import probatio as vol

from .adoption import (
    AdoptionFlow,
    Proposal,
    appliance_kind,
    proposals,
    used_entities,
)
from .charger import CONF_KIND, CONF_OCPP_PORT, KIND_OCPP, SUBENTRY_CHARGER
from .charger_flow import csms_url
from .const import DOMAIN, LOGGER
from .device_flow import (
    CONF_APPLIANCE,
    CONF_OPERATION_STATE,
    CONF_REMOTE_START,
    KIND_REMOTE,
)
from .engine.discovery.zeroconf import DiscoveryCandidate, candidate_from_fields
from .models import StroomwijsConfigEntry

CONF_HOUSEHOLD: Final = "household"
EEBUS_NODES: HassKey[dict[str, dict[str, Any]]] = HassKey(f"{DOMAIN}_eebus_nodes")
"""``hass.data[EEBUS_NODES]``: the EEBus nodes seen, by unique id (diagnostics)."""
MAX_EEBUS_NODES: Final = 32


INTEGRATIONS: Final[dict[str, tuple[str, str]]] = {
    "_homeconnect._tcp.local.": ("home_connect", "Home Connect"),
    "_mieleathome._tcp.local.": ("miele", "Miele"),
    "_dkapi._tcp.local.": ("daikin", "Daikin"),
}
"""Service type: the integration that makes the device's entities, its name."""
OPENEVSE: Final = "_openevse._tcp.local."
EEBUS: Final = "_ship._tcp.local."
TYPES: Final = frozenset({*INTEGRATIONS, OPENEVSE, EEBUS})


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _flow_unique_id(candidate: DiscoveryCandidate) -> str:
    service = candidate.service_type.split(".", 1)[0].strip("_")
    return f"{service}_{_key(candidate.unique_id or candidate.name)}"[:128]


def runs_ocpp_server(entry: StroomwijsConfigEntry) -> bool:
    """Whether a household runs the OCPP server (as the engine decides).

    It does when it is switched on in the options or when an OCPP charger
    is configured (engine/household/chargers.py).
    """
    if {**entry.data, **entry.options}.get(CONF_OCPP_PORT) is not None:
        return True
    return any(
        sub.subentry_type == SUBENTRY_CHARGER and sub.data.get(CONF_KIND) == KIND_OCPP
        for sub in entry.subentries.values()
    )


def _record_eebus(
    hass: HomeAssistant, candidate: DiscoveryCandidate, unique_id: str
) -> None:
    nodes = hass.data.setdefault(EEBUS_NODES, {})
    if unique_id in nodes:
        nodes[unique_id] = candidate.to_dict()
        return
    if len(nodes) >= MAX_EEBUS_NODES:
        return
    nodes[unique_id] = candidate.to_dict()
    LOGGER.info(
        "EEBus node %s (%s) at %s recorded; Stroomwijs has no EEBus bridge yet",
        candidate.name,
        candidate.note,
        candidate.host,
    )


def matching_devices(
    hass: HomeAssistant,
    domain: str,
    candidate: DiscoveryCandidate,
) -> list[dr.DeviceEntry]:
    """Return the devices of ``domain``'s entries that the announcement names.

    A device matches when one of its ``domain`` identifiers or one of its
    connections (a MAC) appears in the announcement's id, name or ``mac``.
    """
    keys = {
        _key(text)
        for text in (
            candidate.unique_id or "",
            candidate.name,
            candidate.properties.get("mac", ""),
        )
        if len(_key(text)) >= 6  # noqa: PLR2004 - shorter says nothing
    }
    registry = dr.async_get(hass)
    found = []
    for device in [
        device
        for entry in hass.config_entries.async_entries(domain)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
    ]:
        values = [v for d, v in device.identifiers if d == domain]
        values += [v for _t, v in device.connections]
        names = {_key(str(v)) for v in values}
        if any(
            len(name) >= 6 and any(name in key for key in keys)  # noqa: PLR2004
            for name in names
        ):
            found.append(device)
    return found


def _home_connect(
    hass: HomeAssistant,
    device: dr.DeviceEntry,
    used: set[str],
) -> Proposal | None:
    """Propose a Home Connect appliance with its remote start and state entities."""
    members = er.async_entries_for_device(er.async_get(hass), device.id)
    keys = {
        (e.domain, e.translation_key): e.entity_id
        for e in members
        if e.platform == "home_connect" and not e.disabled
    }
    remote = keys.get(("binary_sensor", "remote_start"))
    state = keys.get(("sensor", "operation_state"))
    if remote is None or state is None or remote in used:
        return None
    kind = appliance_kind(f"{device.name or ''} {device.model or ''}")
    name = str(device.name_by_user or device.name or "Appliance")
    return Proposal(
        KIND_REMOTE,
        name,
        remote,
        {CONF_APPLIANCE: kind, CONF_REMOTE_START: remote, CONF_OPERATION_STATE: state},
    )


class IntegrationDiscoveryFlow(AdoptionFlow):
    """The config flow's part for devices driven through other integrations."""

    _found: dict[str, Any]

    def _household_entries(self) -> dict[str, StroomwijsConfigEntry]:
        return {
            entry.entry_id: entry
            for entry in self._async_current_entries(include_ignore=False)
        }

    async def async_step_integration_device_discovered(
        self, discovery_info: ZeroconfServiceInfo
    ) -> ConfigFlowResult:
        """Take an announcement of a type in :data:`TYPES`."""
        candidate = candidate_from_fields(
            service_type=discovery_info.type,
            name=discovery_info.name,
            addresses=[str(a) for a in discovery_info.ip_addresses],
            hostname=discovery_info.hostname,
            port=discovery_info.port,
            properties=discovery_info.properties,
        )
        if candidate is None:
            return self.async_abort(reason="invalid_discovery")
        unique_id = _flow_unique_id(candidate)
        if candidate.service_type == EEBUS:
            _record_eebus(self.hass, candidate, unique_id)
            return self.async_abort(reason="eebus_not_supported")
        await self.async_set_unique_id(unique_id)
        self._abort_if_unique_id_configured()  # an ignored device stays ignored
        if not self._household_entries():
            return self.async_abort(reason="household_first")
        name = candidate.name if candidate.model is None else candidate.model
        name = f"{candidate.brand} {name}"[:64]
        self._found = {"candidate": candidate, "name": name}
        self.context["title_placeholders"] = {"name": name}
        if candidate.service_type == OPENEVSE:
            return await self.async_step_openevse_confirm()
        return await self.async_step_integration_confirm()

    def _placeholders(self) -> dict[str, str]:
        candidate: DiscoveryCandidate = self._found["candidate"]
        integration = INTEGRATIONS.get(candidate.service_type, ("", ""))[1]
        return {
            "name": str(self._found["name"]),
            "host": candidate.host,
            "integration": integration,
            "url": "",
        }

    async def async_step_integration_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm; then the integration's device becomes the adoption's form."""
        households = self._household_entries()
        if not households:
            return self.async_abort(reason="household_first")
        errors: dict[str, str] = {}
        placeholders = self._placeholders()
        if user_input is not None:
            entry = households.get(str(user_input[CONF_HOUSEHOLD]))
            if entry is None:
                errors[CONF_HOUSEHOLD] = "household_gone"
            else:
                proposal, error = self._proposal(entry)
                if proposal is not None:
                    self._adopt = proposal.discovery_data(entry.entry_id)
                    return await self._async_adopt_form(None)
                if error == "device_already_added":
                    return self.async_abort(reason=error)
                errors["base"] = error
        return self.async_show_form(
            step_id="integration_confirm",
            data_schema=self._household_schema(households),
            errors=errors,
            description_placeholders=placeholders,
        )

    @staticmethod
    def _household_schema(households: dict[str, StroomwijsConfigEntry]) -> vol.Schema:
        options = [
            selector.SelectOptionDict(value=entry_id, label=entry.title)
            for entry_id, entry in households.items()
        ]
        return vol.Schema(
            {
                vol.Required(CONF_HOUSEHOLD, default=options[0]["value"]): (
                    selector.SelectSelector(
                        selector.SelectSelectorConfig(options=options)
                    )
                ),
            }
        )

    def _proposal(self, entry: StroomwijsConfigEntry) -> tuple[Proposal | None, str]:
        """Return the adoption for this appliance in ``entry``, or why there is none."""
        candidate: DiscoveryCandidate = self._found["candidate"]
        domain = INTEGRATIONS[candidate.service_type][0]
        if not self.hass.config_entries.async_entries(
            domain, include_ignore=False, include_disabled=False
        ):
            return None, "integration_missing"
        devices = matching_devices(self.hass, domain, candidate)
        if not devices:
            return None, "integration_device_missing"
        ids = {device.id for device in devices}
        entities = er.async_get(self.hass)
        for proposal in proposals(self.hass, entry):
            member = entities.async_get(proposal.entity)
            if member is not None and member.device_id in ids:
                return proposal, ""
        used = used_entities(entry)
        if domain == "home_connect":
            for device in devices:
                found = _home_connect(self.hass, device, used)
                if found is not None:
                    return found, ""
        for device in devices:
            members = er.async_entries_for_device(entities, device.id)
            if any(e.entity_id in used for e in members):
                return None, "device_already_added"
        return None, "integration_nothing_to_drive"

    async def async_step_openevse_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the OCPP URL to give the charger; it is offered when it connects."""
        households = self._household_entries()
        if not households:
            return self.async_abort(reason="household_first")
        placeholders = self._placeholders()
        servers = [entry for entry in households.values() if runs_ocpp_server(entry)]
        errors: dict[str, str] = {}
        placeholders["url"] = "-"
        if servers:
            entry = servers[0]
            placeholders["url"] = csms_url(self.hass, {**entry.data, **entry.options})
            if user_input is not None:
                return self.async_abort(
                    reason="openevse_use_ocpp", description_placeholders=placeholders
                )
        else:
            errors["base"] = "ocpp_server_off"
        return self.async_show_form(
            step_id="openevse_confirm",
            data_schema=vol.Schema({}),
            errors=errors,
            description_placeholders=placeholders,
        )


__all__ = [
    "EEBUS_NODES",
    "TYPES",
    "IntegrationDiscoveryFlow",
    "matching_devices",
    "runs_ocpp_server",
]
