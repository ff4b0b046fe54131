"""Heat pumps, boilers and appliances as devices with entities of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from custom_components.stroomwijs.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)

from .charger_support import setup_loaded
from .p1_support import network_entry, p1_server, until

SG_READY: dict[str, Any] = {
    "driver": "sg_ready",
    "relay_1_entity": "input_boolean.sg1",
    "relay_2_entity": "input_boolean.sg2",
    "room_temperature_entity": "sensor.living_room",
    "spec": {"rated_power_w": 2500},
}
BOILER: dict[str, Any] = {
    "driver": "boiler",
    "control": "switch",
    "entity_id": "input_boolean.boiler",
    "temperature_entity": "sensor.boiler_temperature",
    "volume_l": 120,
    "power_w": 2000,
}
WASHER: dict[str, Any] = {
    "driver": "plug_appliance",
    "plug_entity": "switch.washer_plug",
    "power_entity": "sensor.washer_power",
}
HYBRID: dict[str, Any] = {
    "driver": "hybrid",
    "hybrid": {
        "gas_switch_entity": "input_boolean.gas",
        "gas": {"max_kw": 20, "eur_per_m3": 1.35},
    },
    "heat_pump": {
        "driver": "climate",
        "entity_id": "climate.living",
        "spec": {"rated_power_w": 1800},
    },
}


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _quiet(_index: int) -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=600,
            phase_import_w=(200, 200, 200),
            phase_currents_a=(1, 1, 1),
        )
    )


def _device(title: str, driver: dict[str, Any]) -> ConfigSubentryData:
    return ConfigSubentryData(
        data={CONF_DRIVER: driver},
        subentry_type=SUBENTRY_DEVICE,
        title=title,
        unique_id=None,
    )


async def _entities(hass: HomeAssistant) -> None:
    assert await async_setup_component(
        hass,
        "input_boolean",
        {
            "input_boolean": {
                name: {"initial": name == "boiler"}
                for name in ("sg1", "sg2", "boiler", "washer_plug", "gas")
            }
        },
    )
    plug = {"entity_id": "input_boolean.washer_plug"}
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "switch": [
                        {
                            "name": "washer_plug",
                            "state": "{{ is_state('input_boolean.washer_plug', 'on') }}",  # noqa: E501
                            "turn_on": {
                                "action": "input_boolean.turn_on",
                                "target": plug,
                            },
                            "turn_off": {
                                "action": "input_boolean.turn_off",
                                "target": plug,
                            },
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()
    hass.states.async_set("sensor.living_room", "20.5", {"unit_of_measurement": "°C"})
    hass.states.async_set(
        "sensor.boiler_temperature", "55", {"unit_of_measurement": "°C"}
    )
    hass.states.async_set("sensor.washer_power", "0", {"unit_of_measurement": "W"})
    hass.states.async_set(
        "climate.living",
        "heat",
        {"temperature": 20.0, "current_temperature": 19.5, "hvac_modes": ["heat"]},
    )


@asynccontextmanager
async def _household(
    hass: HomeAssistant, *devices: ConfigSubentryData
) -> AsyncIterator[MockConfigEntry]:
    await _entities(hass)
    async with p1_server(_quiet, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN, title="Thuis", data=dict(base.data), subentries_data=devices
        )
        await setup_loaded(hass, entry)
        try:
            yield entry
        finally:
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


def _sid(entry: MockConfigEntry, title: str) -> str:
    return next(sid for sid, sub in entry.subentries.items() if sub.title == title)


def _entity_id(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


def _state(hass: HomeAssistant, platform: str, unique_id: str) -> Any:  # noqa: ANN401
    state = hass.states.get(_entity_id(hass, platform, unique_id))
    assert state is not None
    return state


async def test_each_driver_is_a_device_under_the_household_with_its_entities(
    hass: HomeAssistant,
) -> None:
    """Devices, their entities' states and unique ids that survive a reload."""
    async with _household(
        hass,
        _device("Heat pump", SG_READY),
        _device("Boiler", BOILER),
        _device("Washer", WASHER),
    ) as entry:
        devices = dr.async_get(hass)
        household = devices.async_get_device_by_identifier(
            (DOMAIN, entry.entry_id), entry.entry_id
        )
        assert household is not None
        expected = {
            "Heat pump": "SG-Ready heat pump",
            "Boiler": "Electric boiler (switch)",
            "Washer": "Washing machine (smart plug)",
        }
        for title, model in expected.items():
            device = devices.async_get_device_by_identifier(
                (DOMAIN, _sid(entry, title)), entry.entry_id
            )
            assert device is not None
            assert device.name == title
            assert device.model == model
            assert device.via_device_id == household.id
            assert device.config_subentry_id == _sid(entry, title)
        hp, boiler, washer = (_sid(entry, t) for t in ("Heat pump", "Boiler", "Washer"))
        assert _state(hass, "sensor", f"{hp}_sg_ready_mode").state == "normal"
        assert _state(hass, "sensor", f"{hp}_room_temperature").state == "20.5"
        assert _state(hass, "sensor", f"{hp}_blocks_left_today").state == "3"
        assert _state(hass, "sensor", f"{hp}_blocked_minutes_left_today").state == (
            "120"
        )
        tank = _state(hass, "sensor", f"{boiler}_tank_temperature")
        assert tank.state == "55.0"
        assert tank.attributes["estimated"] is False
        assert tank.attributes["unit_of_measurement"] == "°C"
        assert _state(hass, "binary_sensor", f"{boiler}_boiler_heating").state == "on"
        assert _state(hass, "sensor", f"{washer}_cycle_state").state == "idle"
        assert _state(hass, "sensor", f"{washer}_latest_start").state == "unknown"
        assert _state(hass, "datetime", f"{washer}_finish_by").state == "unknown"
        assert _state(hass, "sensor", f"{washer}_driver_power").state == "0"
        for sid in (hp, boiler, washer):
            for key in ("planned_power", "planned_power_next"):
                planned = _state(hass, "sensor", f"{sid}_{key}")
                assert planned.attributes["unit_of_measurement"] == "W"
        # No arm/disarm or deadline for anything but the appliance.
        registry = er.async_get(hass)
        assert registry.async_get_entity_id("button", DOMAIN, f"{hp}_arm") is None
        assert (
            registry.async_get_entity_id("datetime", DOMAIN, f"{boiler}_finish_by")
            is None
        )

        await hass.services.async_call(DOMAIN, "plan_now", {}, blocking=True)
        await hass.async_block_till_done()
        status = entry.runtime_data.household.plan_status
        assert status.state.value in {"ok", "time_limit"}, status
        for sid in (hp, boiler):
            planned = _state(hass, "sensor", f"{sid}_planned_power").state
            assert planned not in {"unknown", "unavailable"}, (sid, planned)
        mode = _state(hass, "sensor", f"{hp}_sg_ready_mode").state
        assert mode in {"normal", "blocked", "recommended"}
        ids_before = {
            e.unique_id: e.entity_id
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        }
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        ids_after = {
            e.unique_id: e.entity_id
            for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        }
        assert ids_after == ids_before
        assert _state(hass, "sensor", f"{hp}_sg_ready_mode").state == mode


async def test_an_appliance_is_armed_by_its_deadline_planned_and_disarmed(
    hass: HomeAssistant,
) -> None:
    """The deadline arms, the plan gives the washer a start, disarm clears it."""
    async with _household(hass, _device("Washer", WASHER)) as entry:
        washer = _sid(entry, "Washer")
        finish_by = _entity_id(hass, "datetime", f"{washer}_finish_by")
        deadline = dt_util.utcnow().replace(microsecond=0) + timedelta(hours=10)
        with pytest.raises(ServiceValidationError, match="deadline has passed"):
            await hass.services.async_call(
                "datetime",
                "set_value",
                {
                    "entity_id": finish_by,
                    "datetime": dt_util.utcnow() - timedelta(minutes=1),
                },
                blocking=True,
            )
        await hass.services.async_call(
            "datetime",
            "set_value",
            {"entity_id": finish_by, "datetime": deadline},
            blocking=True,
        )
        await until(
            lambda: _state(hass, "sensor", f"{washer}_cycle_state").state == "armed"
        )
        assert datetime.fromisoformat(hass.states.get(finish_by).state) == deadline
        latest = _state(hass, "sensor", f"{washer}_latest_start").state
        assert datetime.fromisoformat(latest) == deadline - timedelta(hours=2)
        await hass.services.async_call(DOMAIN, "plan_now", {}, blocking=True)
        household = entry.runtime_data.household
        assert household.plan is not None
        assert washer in household.plan.devices
        assert sum(household.plan.devices[washer].setpoint_kw) > 0
        # Arming again while armed changes nothing (once the plan has started
        # the cycle, which a loaded machine may reach first, it is refused);
        # disarm goes back to idle.
        arm = _entity_id(hass, "button", f"{washer}_arm")
        if _state(hass, "sensor", f"{washer}_cycle_state").state == "running":
            with pytest.raises(ServiceValidationError, match="running"):
                await hass.services.async_call(
                    "button", "press", {"entity_id": arm}, blocking=True
                )
        else:
            await hass.services.async_call(
                "button", "press", {"entity_id": arm}, blocking=True
            )
        assert household.devices.drivers[washer].deadline == deadline
        await hass.services.async_call(
            "button",
            "press",
            {"entity_id": _entity_id(hass, "button", f"{washer}_disarm")},
            blocking=True,
        )
        await until(
            lambda: (
                _state(hass, "sensor", f"{washer}_cycle_state").state
                in {"idle", "running"}
            )
        )
        if _state(hass, "sensor", f"{washer}_cycle_state").state == "running":
            # The plan started the cycle first (with no prices, when the washer
            # runs is a tie the plan may break with now): a running cycle is
            # never interrupted, so disarm leaves it be.
            assert household.devices.drivers[washer].deadline == deadline
            return
        assert hass.states.get(finish_by).state == "unknown"
        # The arm button arms with the default deadline (12 h).
        await hass.services.async_call(
            "button", "press", {"entity_id": arm}, blocking=True
        )
        driver = household.devices.drivers[washer]
        assert driver.deadline is not None
        assert (
            timedelta(hours=11, minutes=59)
            < driver.deadline - dt_util.utcnow()
            <= timedelta(hours=12)
        )
        # A running cycle cannot be armed again or given another deadline.
        await driver.async_start()  # type: ignore[union-attr]
        await hass.async_block_till_done()
        assert hass.states.get("switch.washer_plug").state == "on"
        with pytest.raises(ServiceValidationError, match="running"):
            await hass.services.async_call(
                "button", "press", {"entity_id": arm}, blocking=True
            )
        with pytest.raises(ServiceValidationError, match="running"):
            await hass.services.async_call(
                "datetime",
                "set_value",
                {"entity_id": finish_by, "datetime": deadline},
                blocking=True,
            )


async def test_a_hybrid_on_a_thermostat_shows_its_level_and_gas(
    hass: HomeAssistant,
) -> None:
    """A hybrid's device: the thermostat's level, the gas input, its brand."""
    thermostat_entry = MockConfigEntry(domain="demo")
    thermostat_entry.add_to_hass(hass)
    thermostat = dr.async_get(hass).async_get_or_create(
        config_entry_id=thermostat_entry.entry_id,
        identifiers={("demo", "living")},
        manufacturer="Daikin",
        model="Altherma 3 H HT",
    )
    climate = er.async_get(hass).async_get_or_create(
        "climate",
        "demo",
        "living",
        suggested_object_id="living",
        device_id=thermostat.id,
    )
    assert climate.entity_id == "climate.living"
    async with _household(hass, _device("Hybrid", HYBRID)) as entry:
        hybrid = _sid(entry, "Hybrid")
        device = dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, hybrid), entry.entry_id
        )
        assert device is not None
        assert device.manufacturer == "Daikin"
        assert device.model == "Altherma 3 H HT"
        assert _state(hass, "sensor", f"{hybrid}_heat_pump_level").state == "normal"
        assert _state(hass, "binary_sensor", f"{hybrid}_on_gas").state == "off"
        assert _state(hass, "sensor", f"{hybrid}_room_temperature").state == "19.5"
        registry = er.async_get(hass)
        assert (
            registry.async_get_entity_id("sensor", DOMAIN, f"{hybrid}_sg_ready_mode")
            is None
        )


async def test_a_removed_device_goes_with_its_entities(hass: HomeAssistant) -> None:
    """Removing the subentry removes the device and its entities."""
    async with _household(hass, _device("Boiler", BOILER)) as entry:
        boiler = _sid(entry, "Boiler")
        assert _state(hass, "sensor", f"{boiler}_tank_temperature")
        assert hass.config_entries.async_remove_subentry(entry, boiler)
        await hass.async_block_till_done()
        await until(lambda: boiler not in entry.runtime_data.household.devices.drivers)
        assert (
            dr.async_get(hass).async_get_device_by_identifier(
                (DOMAIN, boiler), entry.entry_id
            )
            is None
        )
        assert (
            er.async_get(hass).async_get_entity_id(
                "sensor", DOMAIN, f"{boiler}_tank_temperature"
            )
            is None
        )


async def test_run_before_arms_an_appliance_by_a_time(hass: HomeAssistant) -> None:
    """``stroomwijs.run_before``: only appliances, local times, no past."""
    async with _household(
        hass, _device("Washer", WASHER), _device("Boiler", BOILER)
    ) as entry:
        washer, boiler = _sid(entry, "Washer"), _sid(entry, "Boiler")
        devices = dr.async_get(hass)
        washer_device = devices.async_get_device_by_identifier(
            (DOMAIN, washer), entry.entry_id
        )
        boiler_device = devices.async_get_device_by_identifier(
            (DOMAIN, boiler), entry.entry_id
        )
        assert washer_device is not None
        assert boiler_device is not None
        later = dt_util.now().replace(tzinfo=None, microsecond=0) + timedelta(hours=6)
        for device_id in ("no-such-device", boiler_device.id):
            with pytest.raises(ServiceValidationError) as caught:
                await hass.services.async_call(
                    DOMAIN,
                    "run_before",
                    {"device_id": device_id, "finish_by": later},
                    blocking=True,
                )
            assert caught.value.translation_key == "appliance_not_found"
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(
                DOMAIN,
                "run_before",
                {
                    "device_id": washer_device.id,
                    "finish_by": later - timedelta(hours=7),
                },
                blocking=True,
            )
        assert caught.value.translation_key == "appliance_refused"
        await hass.services.async_call(
            DOMAIN,
            "run_before",
            {"device_id": washer_device.id, "finish_by": later.isoformat()},
            blocking=True,
        )
        driver = entry.runtime_data.household.devices.drivers[washer]
        assert driver.state.value == "armed"  # type: ignore[union-attr]
        assert driver.deadline == later.replace(  # type: ignore[union-attr]
            tzinfo=dt_util.get_default_time_zone()
        )
        # Again: the armed cycle gets the new deadline and stays armed.
        sooner = later - timedelta(hours=1)
        await hass.services.async_call(
            DOMAIN,
            "run_before",
            {"device_id": washer_device.id, "finish_by": sooner},
            blocking=True,
        )
        assert driver.deadline == sooner.replace(  # type: ignore[union-attr]
            tzinfo=dt_util.get_default_time_zone()
        )
        assert driver.state.value == "armed"  # type: ignore[union-attr]


async def test_a_device_can_be_left_out_of_the_plan_and_stays_so(
    hass: HomeAssistant,
) -> None:
    """The plan switch: off leaves the boiler to itself, over a reload; on again."""
    async with _household(hass, _device("Boiler", BOILER)) as entry:
        boiler = _sid(entry, "Boiler")
        switch = _entity_id(hass, "switch", f"{boiler}_device_planned")
        assert hass.states.get(switch).state == "on"
        await hass.services.async_call(DOMAIN, "plan_now", {}, blocking=True)
        household = entry.runtime_data.household
        assert household.plan is not None
        assert boiler in household.plan.devices
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": switch}, blocking=True
        )
        status = await household.async_plan_now()
        assert household.plan is not None
        assert boiler not in household.plan.devices
        assert any("Boiler: not planned" in reason for reason in status.reasons)
        await hass.async_block_till_done()
        assert hass.states.get(switch).state == "off"
        assert _state(hass, "sensor", f"{boiler}_planned_power").state == "unknown"
        # Saved: after a reload the boiler is still left to itself.
        await household.async_save()
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert hass.states.get(switch).state == "off"
        assert entry.runtime_data.household.devices.unplanned == {boiler}
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": switch}, blocking=True
        )
        household = entry.runtime_data.household
        await household.async_plan_now()
        assert household.plan is not None
        assert boiler in household.plan.devices


async def test_diagnostics_hold_the_devices(
    hass: HomeAssistant,
) -> None:
    """Each driver's kind, plan switch and saved state; entity ids are kept."""
    async with _household(
        hass, _device("Heat pump", SG_READY), _device("Washer", WASHER)
    ) as entry:
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        devices = {d["id"]: d for d in diagnostics["household"]["devices"]}
        hp, washer = _sid(entry, "Heat pump"), _sid(entry, "Washer")
        assert devices[hp]["driver"] == "SgReadyHeatPump"
        assert devices[hp]["planned"] is True
        assert "blocks" in repr(devices[hp]["state"])
        assert devices[washer]["driver"] == "PlugAppliance"
        assert devices[washer]["state"]["state"] == "idle"
        assert devices[washer]["setpoint_w"] is None
        assert "switch.washer_plug" in repr(diagnostics["subentries"])
