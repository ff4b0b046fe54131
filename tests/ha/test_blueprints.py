"""The automation blueprints load in a real Home Assistant and do their job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import shutil

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models as bp_models
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.load_pause import DATA_LOAD_PAUSER
from tests.conftest import REPO_ROOT

BLUEPRINTS = REPO_ROOT / "blueprints" / "automation" / "stroomwijs"


@pytest.fixture
async def blueprint_hass(hass: HomeAssistant, tmp_path: Path) -> HomeAssistant:
    """Home Assistant with the Stroomwijs blueprints in its config folder."""
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "stroomwijs"
    target.mkdir(parents=True)
    for path in BLUEPRINTS.glob("*.yaml"):
        shutil.copy(path, target / path.name)
    assert await async_setup_component(hass, "homeassistant", {})
    return hass


async def _stop_automations(hass: HomeAssistant) -> None:
    """Turn the automations off, which removes their time listeners."""
    await hass.services.async_call(
        "automation", "turn_off", {"entity_id": "all"}, blocking=True
    )


@pytest.mark.parametrize(
    "name", ["notify_before_limit", "peak_avoidance", "start_when_cheap"]
)
def test_blueprint_is_a_valid_automation_blueprint(name: str) -> None:
    """Each file passes Home Assistant's own blueprint schema."""
    data = load_yaml_dict(BLUEPRINTS / f"{name}.yaml")
    blueprint = bp_models.Blueprint(
        data, expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.domain == "automation"
    assert blueprint.metadata["author"] == "Stroomwijs"


async def test_notify_blueprint_notifies_ahead_of_the_next_limit(
    blueprint_hass: HomeAssistant,
) -> None:
    """The next limit moves to 20 minutes from now: a 30-minute lead fires."""
    hass = blueprint_hass
    calls: list[ServiceCall] = async_mock_service(hass, "notify", "phone")
    later = dt_util.utcnow() + timedelta(hours=3)
    hass.states.async_set(
        "sensor.thuis_next_limit_start",
        later.isoformat(),
        {"device_class": "timestamp"},
    )
    hass.states.async_set("sensor.thuis_next_limit", "4000", {"device_class": "power"})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "notify_limit",
                "alias": "Notify limit",
                "use_blueprint": {
                    "path": "stroomwijs/notify_before_limit.yaml",
                    "input": {
                        "next_limit_start": "sensor.thuis_next_limit_start",
                        "next_limit_value": "sensor.thuis_next_limit",
                        "lead_time": 30,
                        "notify_actions": [
                            {
                                "action": "notify.phone",
                                "data": {
                                    "message": "limit {{ limit_w | int }} W at "
                                    "{{ limit_start }}"
                                },
                            }
                        ],
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get("automation.notify_limit").state == "on"
    assert calls == []
    soon = dt_util.utcnow() + timedelta(minutes=20)
    hass.states.async_set(
        "sensor.thuis_next_limit_start", soon.isoformat(), {"device_class": "timestamp"}
    )
    await hass.async_block_till_done()
    assert len(calls) == 1
    assert calls[0].data["message"] == f"limit 4000 W at {soon.isoformat()}"
    await _stop_automations(hass)


async def test_peak_avoidance_pauses_and_restores_the_chosen_entities(
    blueprint_hass: HomeAssistant,
) -> None:
    """Over target: entities off; back under for 2 min: as they were."""
    hass = blueprint_hass
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"boiler": {"initial": True}, "dryer": {"initial": False}}},
    )
    assert await async_setup_component(hass, DOMAIN, {})
    hass.states.async_set(
        "sensor.thuis_quarter_projection", "1800", {"device_class": "power"}
    )
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "peak",
                "alias": "Peak",
                "use_blueprint": {
                    "path": "stroomwijs/peak_avoidance.yaml",
                    "input": {
                        "projection_sensor": "sensor.thuis_quarter_projection",
                        "target_w": 2500,
                        "entities": ["input_boolean.boiler", "input_boolean.dryer"],
                        "restore_after": 2,
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get("automation.peak").state == "on"
    hass.states.async_set(
        "sensor.thuis_quarter_projection", "3100", {"device_class": "power"}
    )
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.boiler").state == "off"
    assert hass.states.get("input_boolean.dryer").state == "off"
    hass.states.async_set(
        "sensor.thuis_quarter_projection", "2100", {"device_class": "power"}
    )
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.boiler").state == "off"  # not yet
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=3))
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.boiler").state == "on"
    assert hass.states.get("input_boolean.dryer").state == "off"


async def test_peak_avoidance_double_crossing_restores_the_first_snapshot(
    blueprint_hass: HomeAssistant,
) -> None:
    """Over, briefly under, over again, then under: entities come back on.

    The second crossing used to snapshot the entities it had just switched
    off, so the restore "restored" them to off for good.
    """
    hass = blueprint_hass
    assert await async_setup_component(
        hass,
        "input_boolean",
        {"input_boolean": {"boiler": {"initial": True}, "dryer": {"initial": False}}},
    )
    assert await async_setup_component(hass, DOMAIN, {})
    projection = "sensor.thuis_quarter_projection"
    hass.states.async_set(projection, "1800", {"device_class": "power"})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "peak",
                "alias": "Peak",
                "use_blueprint": {
                    "path": "stroomwijs/peak_avoidance.yaml",
                    "input": {
                        "projection_sensor": projection,
                        "target_w": 2500,
                        "entities": ["input_boolean.boiler", "input_boolean.dryer"],
                        "restore_after": 2,
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    for value in ("3100", "2300", "3400"):  # two crossings within the episode
        hass.states.async_set(projection, value, {"device_class": "power"})
        await hass.async_block_till_done()
    assert hass.states.get("input_boolean.boiler").state == "off"
    hass.states.async_set(projection, "2000", {"device_class": "power"})
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=3))
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.boiler").state == "on"
    assert hass.states.get("input_boolean.dryer").state == "off"
    assert hass.data[DATA_LOAD_PAUSER].episodes == {}  # episode over
    # A new episode snapshots afresh.
    hass.states.async_set(projection, "2900", {"device_class": "power"})
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.boiler").state == "off"
    hass.states.async_set(projection, "1000", {"device_class": "power"})
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=6))
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.boiler").state == "on"
    await _stop_automations(hass)


async def test_start_when_cheap_waits_for_price_and_headroom(
    blueprint_hass: HomeAssistant,
) -> None:
    """The washer starts only once the price is low and the headroom enough."""
    hass = blueprint_hass
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"washer": {"initial": False}}}
    )
    hass.states.async_set("sensor.price", "0.31")
    hass.states.async_set("sensor.thuis_headroom", "1500", {"device_class": "power"})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "cheap",
                "alias": "Cheap",
                "use_blueprint": {
                    "path": "stroomwijs/start_when_cheap.yaml",
                    "input": {
                        "price_sensor": "sensor.price",
                        "max_price": 0.12,
                        "headroom_sensor": "sensor.thuis_headroom",
                        "appliance": "input_boolean.washer",
                        "appliance_power_w": 2000,
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    hass.states.async_set("sensor.price", "0.08")
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.washer").state == "off"  # no headroom
    hass.states.async_set("sensor.thuis_headroom", "4200", {"device_class": "power"})
    await hass.async_block_till_done()
    assert hass.states.get("input_boolean.washer").state == "on"
    await _stop_automations(hass)
