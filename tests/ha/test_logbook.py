"""Logbook lines for the household's events: which device, how many watts, and why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components.recorder import Recorder, get_instance, history
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.stroomwijs.bus_events import EVENT_GRID, describe
from custom_components.stroomwijs.charger import CONF_OCPP_HOST, CONF_OCPP_PORT
from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.logbook import async_describe_events

from .charger_support import ocpp_subentry, setup_loaded


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_db_url: str,
    enable_custom_integrations: None,
) -> None:
    """Prepare the recorder's database before Home Assistant starts."""


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {
                "type": "curtail",
                "device": "Garage",
                "from_w": 11_000.0,
                "to_w": 4_140.0,
                "limit_w": 6_000.0,
                "reason": "over the limit by 1200 W",
            },
            [
                "lowered Garage from 11 000 W to 4 140 W",
                "limit 6 000 W",
                "over the limit by 1200 W",
            ],
        ),
        (
            {"type": "release", "device": "Garage", "from_w": 4_140, "to_w": 11_000},
            ["released Garage from 4 140 W to 11 000 W"],
        ),
        (
            {
                "type": "limit_changed",
                "import_limit_w": 4_000.0,
                "export_limit_w": None,
                "source": "window:evening",
                "failsafe": False,
            },
            ["grid limit is now 4 000 W", "a time window (evening)"],
        ),
        (
            {
                "type": "limit_changed",
                "import_limit_w": 3_000.0,
                "export_limit_w": 0.0,
                "source": "openadr:failsafe",
                "failsafe": True,
            },
            ["3 000 W", "grid operator's failsafe", "feed-in at most 0 W", "failsafe"],
        ),
        (
            {"type": "limit_changed", "import_limit_w": 17_250, "source": "fuse"},
            ["17 250 W", "the main fuse"],
        ),
        (
            {"type": "limit_changed", "import_limit_w": 2_000, "source": "manual:x"},
            ["a manual limit (x)"],
        ),
        (
            {"type": "limit_changed", "import_limit_w": 2_000, "source": "openadr"},
            ["the grid operator (OpenADR)"],
        ),
        (
            {"type": "limit_changed", "import_limit_w": float("nan"), "source": ""},
            ["? W", "unknown"],
        ),
        ({"type": "data_lost", "reason": "no telegram for 10 s"}, ["no telegram"]),
        ({"type": "data_restored"}, ["data is back"]),
        (
            {"type": "limit_not_holdable", "shortfall_w": 800, "limit_w": 4_000},
            ["800 W over", "limit 4 000 W"],
        ),
        ({"type": "limit_holdable", "limit_w": 4_000}, ["within the limit"]),
        ({"type": "emergency", "device": "Garage", "to_w": 0}, ["cut Garage", "0 W"]),
        ({"type": "command_failed", "device": "Garage", "to_w": 6_000}, ["6 000 W"]),
        ({"type": "plan_clamped", "device": "Boiler", "to_w": 0}, ["held Boiler"]),
        ({"type": "override", "device": "Garage", "to_w": 7_400}, ["7 400 W"]),
        ({"type": "override_limited", "device": "Garage"}, ["manual setting"]),
        ({"type": "absorb", "device": "Boiler", "to_w": 2_000}, ["feed-in"]),
        ({"type": "absorb_end", "device": "Boiler"}, ["feed-in"]),
        ({"type": "device_unavailable", "device": "Garage"}, ["Garage is unavailable"]),
        ({"type": "device_available", "device": "Garage"}, ["available again"]),
        ({"type": "plan_updated", "state": "fallback"}, ["planning failed"]),
        ({"type": "plan_updated", "state": "off"}, ["optimiser off"]),
        ({"type": "plan_updated", "state": "ok"}, ["made a plan"]),
        ({"type": "plan_updated", "state": "time_limit"}, ["time limit"]),
        ({"type": "something_new", "device": "Garage"}, ["something_new Garage"]),
    ],
)
def test_each_event_reads_as_one_line_with_device_watts_and_reason(
    data: dict[str, Any], words: list[str]
) -> None:
    """Every kind the household fires reads as a sentence with its facts."""
    line = describe(data)
    for word in words:
        assert word in line, (word, line)


def test_the_logbook_platform_describes_the_grid_event() -> None:
    """The platform registers one describer, for ``stroomwijs_grid_event``."""
    found: list[tuple[str, str, Callable[[Event], dict[str, str]]]] = []
    async_describe_events(None, lambda *args: found.append(args))  # type: ignore[arg-type]
    ((domain, event_type, describer),) = found
    assert (domain, event_type) == (DOMAIN, EVENT_GRID)
    event: Event[Any] = Event(EVENT_GRID, {"type": "data_restored"})
    assert describer(event)["name"] == "Stroomwijs"


async def test_a_manual_limit_shows_in_the_logbook(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Set a limit with the action: the logbook says how much, set by whom."""
    assert await async_setup_component(hass, "logbook", {})
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    fired: list[Event[Any]] = []
    hass.bus.async_listen(EVENT_GRID, fired.append)
    start = dt_util.utcnow()
    await hass.services.async_call(
        DOMAIN,
        "set_grid_limit",
        {"value": 3_000, "duration": {"hours": 1}, "source": "installer"},
        blocking=True,
    )
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    client = await hass_ws_client(hass)
    await client.send_json(
        {
            "id": 1,
            "type": "logbook/get_events",
            "start_time": start.isoformat(),
            "end_time": dt_util.utcnow().isoformat(),
        }
    )
    response = await client.receive_json()
    assert response["success"]
    lines = [
        (item.get("name"), item.get("message"))
        for item in response["result"]
        if item.get("domain") == DOMAIN
    ]
    assert (
        "Thuis",
        "grid limit is now 3 000 W, set by a manual limit (installer)",
    ) in lines
    household = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, entry.entry_id), entry.entry_id
    )
    assert household is not None
    assert fired[0].data["device_id"] == household.id  # the registry's id
    assert fired[0].data["config_entry_id"] == entry.entry_id
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("socket_enabled")
async def test_a_chargers_event_names_it_and_its_device(hass: HomeAssistant) -> None:
    """An intervention on a charger: its name in the line, its device's id."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=4,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: 0},
        subentries_data=[ocpp_subentry("garage")],
    )
    await setup_loaded(hass, entry)
    (sid,) = entry.subentries
    fired: list[Event[Any]] = []
    hass.bus.async_listen(EVENT_GRID, fired.append)
    household = entry.runtime_data.household
    household._fire(
        "curtail",
        {"device_id": sid, "from_w": 11_040.0, "to_w": 4_140.0, "reason": "limit"},
    )
    household._fire("plan", {"device_id": sid, "to_w": 0.0})
    household._fire("plan_updated", {"state": "ok"})
    household._fire("plan_updated", {"state": "ok"})
    await hass.async_block_till_done()
    # The household's own first plan may land in between: the order of the
    # plan's state change against the curtailment is not fixed.
    assert sorted(event.data["type"] for event in fired) == ["curtail", "plan_updated"]
    charger = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, sid), entry.entry_id
    )
    assert charger is not None
    (curtail,) = [event for event in fired if event.data["type"] == "curtail"]
    assert curtail.data["device_id"] == charger.id
    assert describe(curtail.data).startswith("lowered garage from 11 040 W to 4 140 W")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_the_plan_attribute_is_shown_but_not_recorded(
    recorder_mock: Recorder, hass: HomeAssistant
) -> None:
    """The plan (up to 96 rows) is on the state, not in the recorder's database."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    start = dt_util.utcnow()
    status = await entry.runtime_data.household.async_plan_now()
    assert status.state.value in {"ok", "time_limit"}
    await hass.async_block_till_done()
    entity_id = "sensor.thuis_plan_status"
    shown = hass.states.get(entity_id)
    assert shown is not None
    assert 0 < len(shown.attributes["plan"]) <= 96
    await async_wait_recording_done(hass)
    found = await get_instance(hass).async_add_executor_job(
        history.state_changes_during_period, hass, start, None, entity_id
    )
    recorded = found[entity_id]
    assert recorded
    assert all("plan" not in state.attributes for state in recorded)
    assert any("reasons" in state.attributes for state in recorded)
