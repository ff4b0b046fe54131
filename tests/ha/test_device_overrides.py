"""Boost and block of a heat pump or boiler from Home Assistant.

The household runs in Home Assistant with an SG-Ready heat pump on two
input_booleans and a boiler on a third; the P1 stream carries the boiler's
2 kW while its switch is on, so the guard sees what the boost draws.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.bus_events import EVENT_GRID
from custom_components.stroomwijs.const import DOMAIN
from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyHeatPump
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)

from .charger_support import setup_loaded
from .p1_support import network_entry, p1_server, until
from .test_driver_entities import (
    BOILER,
    SG_READY,
    _device,
    _entities,
    _entity_id,
    _sid,
    _state,
)

SG_READY_BOOST: dict[str, Any] = {
    **SG_READY,
    "spec": {"rated_power_w": 2500, "boost_power_w": 3000},
    "rules": {"min_between_changes": {"seconds": 3}},
}
"""The SG-Ready pump with a boost level, and 3 s between mode changes (the
plan changes its mode at start; the test must not wait 10 minutes)."""


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _frames(hass: HomeAssistant) -> Callable[[int], bytes]:
    """600 W of house load, plus the boiler's 2 kW while its switch is on."""

    def _frame(_index: int) -> bytes:
        boiler = hass.states.get("input_boolean.boiler")
        load = 600 + (2000 if boiler is not None and boiler.state == "on" else 0)
        return build_telegram(
            TelegramValuesIn(
                timestamp=datetime.now(UTC),
                import_w=load,
                phase_import_w=(load, 0, 0),
                phase_currents_a=(load / 230, 0, 0),
            )
        )

    return _frame


@asynccontextmanager
async def _household(
    hass: HomeAssistant, *, heat_pump: bool = True
) -> AsyncIterator[MockConfigEntry]:
    await _entities(hass)
    async with p1_server(_frames(hass), interval=0.2) as server:
        base = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data=dict(base.data),
            subentries_data=(
                *([_device("Heat pump", SG_READY_BOOST)] if heat_pump else []),
                _device("Boiler", BOILER),
            ),
        )
        await setup_loaded(hass, entry)
        try:
            yield entry
        finally:
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


async def _select(hass: HomeAssistant, entity_id: str, option: str) -> None:
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id, "option": option},
        blocking=True,
    )


async def test_boost_and_block_from_the_select_and_over_a_reload(
    hass: HomeAssistant,
) -> None:
    """The select and its duration; the rules refuse a change too soon."""
    async with _household(hass) as entry:
        hp, boiler = _sid(entry, "Heat pump"), _sid(entry, "Boiler")
        boiler_select = _entity_id(hass, "select", f"{boiler}_device_override")
        hp_select = _entity_id(hass, "select", f"{hp}_device_override")
        duration = _entity_id(hass, "number", f"{boiler}_override_duration")
        assert _state(hass, "select", f"{boiler}_device_override").state == "auto"
        assert _state(hass, "number", f"{boiler}_override_duration").state == "60.0"
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": duration, "value": 30},
            blocking=True,
        )
        await hass.services.async_call(
            "input_boolean", "turn_off", {"entity_id": "input_boolean.boiler"}
        )
        await _select(hass, boiler_select, "boost")
        household = entry.runtime_data.household
        override = household.devices.overrides[boiler]
        assert override.mode == "boost"
        assert abs(
            (override.until - dt_util.utcnow()) - timedelta(minutes=30)
        ) < timedelta(seconds=30)
        await until(lambda: hass.states.get("input_boolean.boiler").state == "on")
        state = hass.states.get(boiler_select)
        assert state is not None
        assert state.state == "boost"
        assert state.attributes["until"] == override.until.isoformat()

        # Blocked, then at once a boost: the SG-Ready rules refuse it.
        pump = household.devices.drivers[hp]
        assert isinstance(pump, SgReadyHeatPump)
        await until(lambda: pump.ledger.can_change(dt_util.utcnow()), 10)
        await _select(hass, hp_select, "block")
        await until(
            lambda: _state(hass, "sensor", f"{hp}_sg_ready_mode").state == "blocked"
        )
        with pytest.raises(ServiceValidationError) as err:
            await _select(hass, hp_select, "boost")
        assert err.value.translation_key == "override_refused_too_soon"
        assert err.value.translation_placeholders == {
            "device": "Heat pump",
            "minutes": "0.05",
        }
        assert hass.states.get(hp_select).state == "block"

        # Both survive a reload; the duration too.
        await household.async_save()
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        household = entry.runtime_data.household
        assert household.devices.overrides[boiler].until == override.until
        assert hass.states.get(boiler_select).state == "boost"
        assert hass.states.get(hp_select).state == "block"
        assert hass.states.get(duration).state == "30.0"
        assert boiler in household.guard.status().overrides

        # Automatic gives the boiler back to the plan.
        await _select(hass, boiler_select, "auto")
        assert boiler not in household.devices.overrides
        assert boiler not in household.guard.status().overrides
        await hass.async_block_till_done()
        assert hass.states.get(boiler_select).state == "auto"


async def test_a_manual_block_the_rules_forbid_is_refused(
    hass: HomeAssistant,
) -> None:
    """Three blocks today: a fourth from the select is refused, translated."""
    async with _household(hass) as entry:
        hp = _sid(entry, "Heat pump")
        pump = entry.runtime_data.household.devices.drivers[hp]
        assert isinstance(pump, SgReadyHeatPump)
        now = dt_util.utcnow()
        for minutes in (12, 8, 4):
            pump.ledger.record_change(now - timedelta(minutes=minutes), blocked=True)
            pump.ledger.record_change(
                now - timedelta(minutes=minutes - 1), blocked=False
            )
        # The day's first block may have been yesterday in some time zones.
        blocks = pump.ledger.blocks_today(now)
        select = _entity_id(hass, "select", f"{hp}_device_override")
        if blocks < 3:
            pytest.skip("the three blocks fell on two days at this hour")
        with pytest.raises(ServiceValidationError) as err:
            await _select(hass, select, "block")
        assert err.value.translation_key == "override_refused_max_blocks"
        assert err.value.translation_placeholders["max"] == "3"
        assert hass.states.get(select).state == "auto"
        assert pump.mode is not None
        assert pump.mode.name.lower() != "blocked"


async def test_the_dso_limit_holds_a_boost_and_the_logbook_is_told(
    hass: HomeAssistant,
) -> None:
    """A boost over a 1.5 kW limit: the guard cuts the boiler and says so.

    The boiler is the only device (the relay-driven heat pump draws nothing
    in this P1 stream, and the guard would wait out its reaction first).
    """
    events: list[dict[str, Any]] = []

    def _on_event(event: Event[Any]) -> None:
        events.append(dict(event.data))

    hass.bus.async_listen(EVENT_GRID, _on_event)
    async with _household(hass, heat_pump=False) as entry:
        boiler = _sid(entry, "Boiler")
        await hass.services.async_call(
            "number",
            "set_value",
            {"entity_id": "number.thuis_manual_grid_limit", "value": 1500},
            blocking=True,
        )
        await until(
            lambda: hass.states.get("sensor.thuis_import_limit").state == "1500"
        )
        await _select(
            hass, _entity_id(hass, "select", f"{boiler}_device_override"), "boost"
        )
        await until(
            lambda: any(
                e.get("type") in {"override_limited", "emergency"}
                and e.get("device") == "Boiler"
                for e in events
            ),
            30,
        )
        await until(lambda: hass.states.get("input_boolean.boiler").state == "off")
        # The user's boost stays; it is the limit that holds it back.
        household = entry.runtime_data.household
        assert household.devices.overrides[boiler].mode == "boost"
        notice = household.guard.status().override_notice
        assert notice is not None
        assert boiler in notice


async def test_the_set_device_override_action(hass: HomeAssistant) -> None:
    """Boost for 90 min, back to auto; not a heat pump or boiler: refused."""
    async with _household(hass) as entry:
        boiler = _sid(entry, "Boiler")
        registry = dr.async_get(hass)
        device = registry.async_get_device_by_identifier(
            (DOMAIN, boiler), entry.entry_id
        )
        household_device = registry.async_get_device_by_identifier(
            (DOMAIN, entry.entry_id), entry.entry_id
        )
        assert device is not None
        assert household_device is not None
        await hass.services.async_call(
            DOMAIN,
            "set_device_override",
            {"device_id": device.id, "mode": "boost", "duration": 90},
            blocking=True,
        )
        override = entry.runtime_data.household.devices.overrides[boiler]
        assert override.mode == "boost"
        left = override.until - dt_util.utcnow()
        assert timedelta(minutes=89) < left <= timedelta(minutes=90)
        await hass.async_block_till_done()
        assert _state(hass, "select", f"{boiler}_device_override").state == "boost"
        await hass.services.async_call(
            DOMAIN,
            "set_device_override",
            {"device_id": device.id, "mode": "auto"},
            blocking=True,
        )
        assert boiler not in entry.runtime_data.household.devices.overrides
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "set_device_override",
                {"device_id": household_device.id, "mode": "block"},
                blocking=True,
            )
        assert err.value.translation_key == "heating_device_not_found"
