"""The heat pumps' outdoor temperature comes from a weather entity's forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.const import CONF_WEATHER_ENTITY, DOMAIN
from custom_components.stroomwijs.device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)

from .charger_support import setup_loaded
from .p1_support import network_entry, p1_server, until


def _hourly() -> str:
    """Twelve hours from this hour: -2, -3, -4 degC over and over."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    items = [
        {
            "datetime": (start + timedelta(hours=h)).isoformat(),
            "temperature": -2 - h % 3,
            "condition": "cloudy",
        }
        for h in range(12)
    ]
    return "{{ " + json.dumps(items) + " }}"


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


async def _setup(hass: HomeAssistant, *, weather: bool = True) -> Any:  # noqa: ANN401
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"sg1": {}, "sg2": {}}}
    )
    hass.states.async_set("sensor.living_room", "20.5", {"unit_of_measurement": "°C"})
    if weather:
        await _weather(hass)
    return _heat_pump()


async def _weather(hass: HomeAssistant) -> None:
    assert await async_setup_component(
        hass,
        "template",
        {
            "template": [
                {
                    "weather": [
                        {
                            "name": "Home",
                            "condition": "cloudy",
                            "temperature": "{{ 3 }}",
                            "humidity": "{{ 80 }}",
                            "temperature_unit": "°C",
                            "forecast_hourly": _hourly(),
                        }
                    ]
                }
            ]
        },
    )
    await hass.async_block_till_done()


def _heat_pump() -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            CONF_DRIVER: {
                "driver": "sg_ready",
                "relay_1_entity": "input_boolean.sg1",
                "relay_2_entity": "input_boolean.sg2",
                "room_temperature_entity": "sensor.living_room",
                "spec": {"rated_power_w": 2500},
            }
        },
        subentry_type=SUBENTRY_DEVICE,
        title="Heat pump",
        unique_id=None,
    )


async def test_the_heat_pump_plans_with_the_weather_forecast(
    hass: HomeAssistant,
) -> None:
    """The hourly forecast reaches the plan's heat pump, in degC, per slot."""
    device = await _setup(hass)
    async with p1_server(_quiet, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data=dict(base.data),
            options={CONF_WEATHER_ENTITY: "weather.home"},
            subentries_data=[device],
        )
        await setup_loaded(hass, entry)
        household = entry.runtime_data.household
        await until(lambda: household.outdoor_forecast is not None)
        assert household.outdoor_forecast.values == tuple(
            float(-2 - h % 3) for h in range(12)
        )
        status = await household.async_plan_now()
        heat_pump = next(
            d
            for d in household.plan_inputs.problem["devices"]
            if d["kind"] == "heat_pump"
        )
        # The plan starts in this hour's quarter: the forecast's first hour.
        assert heat_pump["outdoor_c"][0] == -2.0
        assert set(heat_pump["outdoor_c"][:40]) <= {-2.0, -3.0, -4.0}
        assert not any("10 °C assumed" in reason for reason in status.reasons)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_without_a_readable_forecast_10_degrees_are_assumed_and_said(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A weather entity that does not exist: logged once, 10 degC, the reason."""
    device = await _setup(hass)
    async with p1_server(_quiet, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data=dict(base.data),
            options={CONF_WEATHER_ENTITY: "weather.nowhere"},
            subentries_data=[device],
        )
        await setup_loaded(hass, entry)
        await hass.async_block_till_done()
        household = entry.runtime_data.household
        assert household.outdoor_forecast is None
        assert "No outdoor forecast from weather.nowhere" in caplog.text
        status = await household.async_plan_now()
        assert any("10 °C assumed" in reason for reason in status.reasons)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_a_weather_entity_that_comes_later_is_read_when_it_appears(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Its integration loads after Stroomwijs: read as soon as it has a state."""
    device = await _setup(hass, weather=False)
    async with p1_server(_quiet, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data=dict(base.data),
            options={CONF_WEATHER_ENTITY: "weather.home"},
            subentries_data=[device],
        )
        await setup_loaded(hass, entry)
        await hass.async_block_till_done()
        household = entry.runtime_data.household
        assert household.outdoor_forecast is None
        assert "No outdoor forecast from weather.home" in caplog.text
        await _weather(hass)
        await until(lambda: household.outdoor_forecast is not None)
        assert "Outdoor forecast from weather.home is back" in caplog.text
        assert household.outdoor_forecast.values[0] == -2.0
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
