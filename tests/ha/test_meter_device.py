"""The physical P1 meter is a device of its own, under the household's device."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.entity import (
    meter_identifier,
    meter_maker_and_model,
    meter_serial,
)
from tests.engine.meter.telegrams import real

from .p1_support import network_entry, p1_server, setup, unload, until


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@pytest.mark.parametrize(
    ("header", "maker", "model"),
    [
        ("ISk5\\2MT382-1000", "Iskraemeco", "MT382-1000"),
        ("KFM5KAIFA-METER", "Kaifa", "KAIFA-METER"),
        ("FLU5\\253769484_A", "Fluvius", "53769484_A"),
        ("ESY5Q3DB1024 V3.04", "EasyMeter", "Q3DB1024 V3.04"),
        ("EST5\\253710000_A", "EST", "53710000_A"),
        ("ISk", None, None),
        (None, None, None),
    ],
)
def test_the_header_names_the_maker_and_model(
    header: str | None, maker: str | None, model: str | None
) -> None:
    """Real identification lines: FLAG id, baud-rate character, model."""
    assert meter_maker_and_model(header) == (maker, model)


def test_the_serial_is_the_equipment_id_decoded() -> None:
    """Hex-encoded ASCII is decoded; anything else is shown as it is."""
    assert meter_serial("4B384547303034303436333935353037") == "K8EG004046395507"
    assert meter_serial("E0000000000000001") == "E0000000000000001"
    assert meter_serial("0001") == "0001"  # decodes to control characters
    assert meter_serial(None) is None


async def test_the_meter_is_a_device_under_the_household(hass: HomeAssistant) -> None:
    """Its sensors are on a device with what the telegram says, via the household."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = network_entry(server)
        await setup(hass, entry)
        devices = dr.async_get(hass)
        household = devices.async_get_device_by_identifier(
            (DOMAIN, entry.entry_id), entry.entry_id
        )
        meter = devices.async_get_device_by_identifier(
            meter_identifier(entry.entry_id), entry.entry_id
        )
        assert household is not None
        assert meter is not None
        # The household is the home's grid connection, a device, not a service.
        assert household.entry_type is None
        assert household.model == "Grid connection 3x25 A"
        assert meter.via_device_id == household.id
        assert meter.name == "Thuis P1 meter"
        assert meter.manufacturer == "Iskraemeco"
        assert meter.model == "MT382-1000"
        assert meter.sw_version == "DSMR 5"
        assert meter.serial_number == "K8EG004046395507"
        entities = er.async_get(hass)
        power = entities.async_get_entity_id(
            "sensor", DOMAIN, f"{entry.entry_id}_net_power"
        )
        headroom = entities.async_get_entity_id(
            "sensor", DOMAIN, f"{entry.entry_id}_headroom_l1"
        )
        fuse = entities.async_get_entity_id(
            "sensor", DOMAIN, f"{entry.entry_id}_fuse_capacity"
        )
        assert power == "sensor.thuis_p1_meter_grid_power"
        assert entities.async_get(power).device_id == meter.id  # type: ignore[union-attr]
        assert headroom is not None
        assert entities.async_get(headroom).device_id == household.id  # type: ignore[union-attr]
        assert fuse is not None
        assert entities.async_get(fuse).device_id == household.id  # type: ignore[union-attr]
        await unload(hass, entry)


async def test_existing_meter_entities_keep_their_ids_on_the_meter_device(
    hass: HomeAssistant,
) -> None:
    """An entry from before the meter had a device: its entity ids and history stay.

    The entities were registered on the household's device with the ids
    Home Assistant gave them then; after the upgrade they are the same
    registry entries (same entity id, same unique id), moved to the meter.
    """
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = network_entry(server)
        entry.add_to_hass(hass)
        devices = dr.async_get(hass)
        old_device = devices.async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={(DOMAIN, entry.entry_id)},
            name="Thuis",
        )
        entities = er.async_get(hass)
        before = {
            key: entities.async_get_or_create(
                "sensor",
                DOMAIN,
                f"{entry.entry_id}_{key}",
                config_entry=entry,
                device_id=old_device.id,
                suggested_object_id=f"thuis_{name}",
            )
            for key, name in (
                ("net_power", "grid_power"),
                ("energy_import_t1", "energy_import_tariff_1"),
                ("current_l1", "current_l1"),
            )
        }
        assert before["net_power"].entity_id == "sensor.thuis_grid_power"
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        meter = devices.async_get_device_by_identifier(
            meter_identifier(entry.entry_id), entry.entry_id
        )
        assert meter is not None
        for key, old in before.items():
            now = entities.async_get(old.entity_id)
            assert now is not None, key
            assert now.unique_id == old.unique_id
            assert now.device_id == meter.id, key
        await until(lambda: hass.states.get("sensor.thuis_grid_power") is not None)
        assert hass.states.get("sensor.thuis_p1_meter_grid_power") is None
        await unload(hass, entry)
