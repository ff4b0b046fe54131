"""A boiler on a switch entity, added from its driver profile and guarded."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.drivers.entities import EntityCallError
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.entity_port import HassEntityPort

from .charger_support import setup_loaded
from .p1_support import network_entry, p1_server, until

PROFILE = """
driver: boiler
control: switch
entity_id: input_boolean.boiler
temperature_entity: sensor.boiler_temperature
volume_l: 120
power_w: 2000
"""


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _busy(_index: int) -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=7_000,
            phase_import_w=(2_400, 2_300, 2_300),
            phase_currents_a=(10, 10, 10),
        )
    )


async def _add_device(hass: HomeAssistant, entry_id: str, profile: str) -> dict:  # type: ignore[type-arg]
    result = await hass.config_entries.subentries.async_init(
        (entry_id, "device"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": "profile"}
    )
    assert result["type"] is FlowResultType.FORM
    return await hass.config_entries.subentries.async_configure(  # type: ignore[return-value]
        result["flow_id"], {"name": "Boiler", "profile": profile}
    )


async def test_a_boiler_from_its_profile_is_switched_off_for_the_limit(
    hass: HomeAssistant,
) -> None:
    """Add the boiler in the flow; a 5 kW limit makes the guard switch it off."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"boiler": {"initial": True}}}
    )
    hass.states.async_set(
        "sensor.boiler_temperature", "55", {"unit_of_measurement": "°C"}
    )
    async with p1_server(_busy) as server:
        entry = network_entry(server)
        await setup_loaded(hass, entry)
        for bad, words in (
            ("driver: [unclosed", "YAML"),
            ("- just a list", "mapping"),
            ("driver: toaster", "driver"),
            ("driver: boiler\ncontrol: switch", "volume_l"),
            (PROFILE.replace("2000", "lots"), "power_w"),
        ):
            result = await _add_device(hass, entry.entry_id, bad)
            assert result["type"] is FlowResultType.FORM
            assert result["errors"] == {"base": "invalid_device"}
            assert words in result["description_placeholders"]["error"]
        result = await _add_device(hass, entry.entry_id, PROFILE)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        household = entry.runtime_data.household
        boilers = [
            d for d in household.devices.drivers.values() if isinstance(d, Boiler)
        ]
        assert len(boilers) == 1
        assert any(gd.device is boilers[0] for gd in household.guard.devices)
        assert hass.states.get("input_boolean.boiler").state == "on"
        await hass.services.async_call(
            DOMAIN, "set_grid_limit", {"value": 5_000}, blocking=True
        )
        await until(
            lambda: hass.states.get("input_boolean.boiler").state == "off", limit=10
        )
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_the_entity_port_reads_calls_and_follows_entities(
    hass: HomeAssistant,
) -> None:
    """States, service calls (failures as EntityCallError) and state changes."""
    port = HassEntityPort(hass)
    assert port.get_state("sensor.nothing") is None
    hass.states.async_set("sensor.room", "20.5", {"unit_of_measurement": "°C"})
    state = port.get_state("sensor.room")
    assert state is not None
    assert state.state == "20.5"
    assert state.attributes["unit_of_measurement"] == "°C"
    seen: list[str] = []
    unsubscribe = port.subscribe(["sensor.room"], lambda s: seen.append(s.state))
    hass.states.async_set("sensor.room", "21.0")
    await hass.async_block_till_done()
    assert seen == ["21.0"]
    unsubscribe()
    with pytest.raises(EntityCallError, match=r"switch\.turn_on"):
        await port.async_call_service(
            "switch", "turn_on", {"entity_id": "switch.nowhere"}
        )
