"""Propose adopting devices that are already in Home Assistant.

When a household starts, and when an entity is added later, Stroomwijs looks
through the entity registry for what it could plan and guard:

* a ``climate`` entity that heats: a heat pump on its thermostat;
* a ``water_heater`` entity: an electric boiler;
* a Miele washing machine, dishwasher or dryer with its start button, remote
  control and status entities: an appliance with remote start;
* a device with one switch and a power sensor: an appliance on a metered
  smart plug.

Each becomes an integration discovery flow with a reason and the device's
form, filled in. Nothing is added until the user confirms; an ignored
proposal stays ignored (its unique id), and an entity that a device of the
household already uses is not proposed again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
)
from homeassistant.const import CONF_NAME
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
    discovery_flow,
    entity_registry as er,
)
from homeassistant.helpers.event import async_call_later

from .const import DOMAIN
from .device_flow import (
    CONF_APPLIANCE,
    CONF_DRIVER,
    CONF_ENTITY_ID,
    CONF_OPERATION_STATE,
    CONF_PLUG,
    CONF_POWER_ENTITY,
    CONF_REMOTE_START,
    CONF_START,
    KIND_BOILER,
    KIND_CLIMATE,
    KIND_PLUG,
    KIND_REMOTE,
    SUBENTRY_DEVICE,
    _driver_from_form,
    _form_errors,
    _schema,
    _unique_id,
    check_driver,
)
from .models import StroomwijsConfigEntry

ADOPT: Final = "adopt"
RESCAN_DELAY_S: Final = 10.0
MIELE_KINDS: Final = {
    "washing_machine": "washing_machine",
    "washer": "washing_machine",
    "dishwasher": "dishwasher",
    "dryer": "dryer",
    "tumble_dryer": "dryer",
}


def appliance_kind(text: str) -> str:
    """Return the appliance a model or name says (a washing machine if none).

    Longer words first: a "dishwasher" is not a "washer".
    """
    words = text.lower().replace(" ", "_")
    for key in sorted(MIELE_KINDS, key=len, reverse=True):
        if key in words:
            return MIELE_KINDS[key]
    return "washing_machine"


@dataclass(frozen=True, slots=True)
class Proposal:
    """One device Stroomwijs could take on, and the form values it starts with."""

    kind: str
    name: str
    entity: str
    """The entity that drives it (named in the reason)."""
    values: dict[str, Any] = field(default_factory=dict)

    def discovery_data(self, entry_id: str) -> dict[str, Any]:
        """Return the data of its integration discovery flow."""
        return {
            ADOPT: self.kind,
            "entry_id": entry_id,
            "name": self.name,
            "entity": self.entity,
            "values": dict(self.values),
        }


def used_entities(entry: StroomwijsConfigEntry) -> set[str]:
    """Return every entity id a device of the household is driven by or reads."""
    used: set[str] = set()

    def _walk(value: object) -> None:
        if isinstance(value, Mapping):
            for item in value.values():
                _walk(item)
        elif isinstance(value, str) and "." in value and " " not in value:
            used.add(value)

    for sub in entry.subentries.values():
        if sub.subentry_type == SUBENTRY_DEVICE:
            _walk(sub.data.get(CONF_DRIVER))
    return used


def _device_class(hass: HomeAssistant, entity: er.RegistryEntry) -> str | None:
    if entity.device_class or entity.original_device_class:
        return str(entity.device_class or entity.original_device_class)
    state = hass.states.get(entity.entity_id)
    value = None if state is None else state.attributes.get("device_class")
    return None if value is None else str(value)


def _heats(hass: HomeAssistant, entity: er.RegistryEntry) -> bool:
    modes = (entity.capabilities or {}).get("hvac_modes")
    if modes is None:
        state = hass.states.get(entity.entity_id)
        modes = None if state is None else state.attributes.get("hvac_modes")
    return isinstance(modes, list | tuple) and "heat" in modes


def _name(
    device: dr.DeviceEntry | None, entity: er.RegistryEntry, fallback: str
) -> str:
    if device is not None:
        return str(device.name_by_user or device.name or fallback)
    return str(entity.name or entity.original_name or fallback)


def proposals(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> list[Proposal]:
    """Return what the registry holds that the household could drive."""
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    used = used_entities(entry)
    by_device: dict[str, list[er.RegistryEntry]] = {}
    found: list[Proposal] = []
    for entity in entities.entities.values():
        if entity.platform == DOMAIN or entity.disabled or entity.entity_id in used:
            continue
        if entity.device_id is not None:
            by_device.setdefault(entity.device_id, []).append(entity)
        domain = entity.domain
        device = (
            None
            if entity.device_id is None
            else devices.async_get(entity.device_id, include_child_devices=False)
        )
        if domain == "climate" and _heats(hass, entity):
            found.append(
                Proposal(
                    KIND_CLIMATE,
                    _name(device, entity, "Heat pump"),
                    entity.entity_id,
                    {CONF_ENTITY_ID: entity.entity_id},
                )
            )
        elif domain == "water_heater":
            found.append(
                Proposal(
                    KIND_BOILER,
                    _name(device, entity, "Boiler"),
                    entity.entity_id,
                    {CONF_ENTITY_ID: entity.entity_id},
                )
            )
    for device_id, members in by_device.items():
        device = devices.async_get(device_id, include_child_devices=False)
        proposal = _miele(device, members) or _metered_plug(hass, device, members)
        if proposal is not None:
            found.append(proposal)
    return found


def _miele(
    device: dr.DeviceEntry | None, members: list[er.RegistryEntry]
) -> Proposal | None:
    """Find a Miele appliance: start button, remote control and status."""
    keys = {
        (e.domain, e.translation_key): e.entity_id
        for e in members
        if e.platform == "miele"
    }
    start = keys.get(("button", "start"))
    remote = keys.get(("binary_sensor", "remote_control"))
    status = keys.get(("sensor", "status"))
    if start is None or remote is None or status is None:
        return None
    kind = appliance_kind("" if device is None else str(device.model or ""))
    return Proposal(
        KIND_REMOTE,
        _name(device, members[0], "Appliance"),
        start,
        {
            CONF_APPLIANCE: kind,
            CONF_START: start,
            CONF_REMOTE_START: remote,
            CONF_OPERATION_STATE: status,
        },
    )


def _metered_plug(
    hass: HomeAssistant,
    device: dr.DeviceEntry | None,
    members: list[er.RegistryEntry],
) -> Proposal | None:
    """Find a metered smart plug: one switch and a power sensor."""
    switches = [e for e in members if e.domain == "switch"]
    power = [
        e for e in members if e.domain == "sensor" and _device_class(hass, e) == "power"
    ]
    if len(switches) != 1 or not power:
        return None
    return Proposal(
        KIND_PLUG,
        _name(device, switches[0], "Appliance"),
        switches[0].entity_id,
        {CONF_PLUG: switches[0].entity_id, CONF_POWER_ENTITY: power[0].entity_id},
    )


@callback
def async_propose(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> None:
    """Start a discovery flow for each proposal (HA drops repeats of a flow)."""
    for proposal in proposals(hass, entry):
        discovery_flow.async_create_flow(
            hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data=proposal.discovery_data(entry.entry_id),
        )


@callback
def async_follow_registry(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> None:
    """Propose now, and again a little after entities are added."""
    async_propose(hass, entry)
    pending: list[Any] = []

    @callback
    def _rescan(_now: object) -> None:
        pending.clear()
        async_propose(hass, entry)

    @callback
    def _created(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        if event.data["action"] != "create" or pending:
            return
        pending.append(async_call_later(hass, RESCAN_DELAY_S, _rescan))

    @callback
    def _cancel() -> None:
        for cancel in pending:
            cancel()

    entry.async_on_unload(
        hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, _created)
    )
    entry.async_on_unload(_cancel)


class AdoptionFlow(ConfigFlow):
    """The config flow's part for adopting devices already in HA (a mixin)."""

    _adopt: dict[str, Any]

    async def async_step_adopt(self, info: dict[str, Any]) -> ConfigFlowResult:
        """Handle a proposal: once per entity, respecting an ignored one."""
        kind = str(info[ADOPT])
        await self.async_set_unique_id(f"adopt_{kind}_{info['entity']}")
        self._abort_if_unique_id_configured()
        self._adopt = info
        self.context["title_placeholders"] = {"name": str(info["name"])}
        return await self._async_adopt_form(None)

    async def async_step_adopt_climate(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm a thermostat that heats as a heat pump."""
        return await self._async_adopt_form(user_input)

    async def async_step_adopt_boiler(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm a water heater as an electric boiler."""
        return await self._async_adopt_form(user_input)

    async def async_step_adopt_plug_appliance(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm a metered smart plug as an appliance's plug."""
        return await self._async_adopt_form(user_input)

    async def async_step_adopt_remote_start_appliance(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm an appliance with remote start."""
        return await self._async_adopt_form(user_input)

    async def _async_adopt_form(
        self, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        info = self._adopt
        kind = str(info[ADOPT])
        entry = self.hass.config_entries.async_get_entry(str(info["entry_id"]))
        if entry is None:
            return self.async_abort(reason="household_gone")
        errors: dict[str, str] = {}
        placeholders = {
            "name": str(info["name"]),
            "entity": str(info["entity"]),
            "error": "",
        }
        if user_input is not None:
            name = str(user_input[CONF_NAME]).strip() or str(info["name"])
            errors = _form_errors(kind, user_input)
            if not errors:
                try:
                    driver = check_driver(name, _driver_from_form(kind, user_input, {}))
                except ValueError as err:
                    errors["base"] = "invalid_device"
                    placeholders["error"] = str(err)
                else:
                    return self._add(entry, kind, name, driver)
        values = {CONF_NAME: info["name"], **info["values"], **(user_input or {})}
        return self.async_show_form(
            step_id=f"adopt_{kind}",
            data_schema=_schema(kind, values),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _add(
        self,
        entry: StroomwijsConfigEntry,
        kind: str,
        name: str,
        driver: dict[str, Any],
    ) -> ConfigFlowResult:
        unique_id = _unique_id(kind, driver)
        if any(sub.unique_id == unique_id for sub in entry.subentries.values()):
            return self.async_abort(reason="device_already_added")
        self.hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType({CONF_DRIVER: driver}),
                subentry_type=SUBENTRY_DEVICE,
                title=name,
                unique_id=unique_id,
            ),
        )
        return self.async_abort(reason="device_added")
