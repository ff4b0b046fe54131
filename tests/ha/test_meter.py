"""The P1 meter in Home Assistant: every version from TCP stream to entities."""

from __future__ import annotations

import asyncio
import logging

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.stroomwijs.coordinator import CONF_UPDATE_INTERVAL
from custom_components.stroomwijs.diagnostics import (
    async_get_config_entry_diagnostics,
)
from tests.engine.meter.telegrams import CASES, Case, real

from .p1_support import network_entry, p1_server, setup, unload, until, varying_telegram

pytestmark = pytest.mark.usefixtures("socket_enabled")

# Entity (after "sensor.thuis_p1_meter_") that shows each decoded field.
ENTITY_OF = {
    "import_w": "import_power",
    "export_w": "export_power",
    "import_t1_kwh": "energy_import_tariff_1",
    "import_t2_kwh": "energy_import_tariff_2",
    "export_t1_kwh": "energy_export_tariff_1",
    "quarter_average_w": "quarter_hour_average_import",
    "month_peak_w": "monthly_peak",
    "peak_average_w": "average_monthly_peak_12_months",
    "text_message": "meter_message",
}
TOTALS = {
    "import_total_kwh": "energy_import_total",
    "export_total_kwh": "energy_export_total",
}


def _state(hass: HomeAssistant, name: str) -> str:
    state = hass.states.get(f"sensor.thuis_p1_meter_{name}")
    assert state is not None, name
    return state.state


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_every_version_reaches_entities_with_the_right_values(
    hass: HomeAssistant, case: Case
) -> None:
    """Stream -> engine -> entities: each version shows its own values."""
    async with p1_server([case.raw]) as server:
        entry = network_entry(server, case.version, case.key)
        await setup(hass, entry)
        assert entry.state is ConfigEntryState.LOADED
        for field, expected in case.expected.items():
            if field in ENTITY_OF:
                if isinstance(expected, str):
                    assert _state(hass, ENTITY_OF[field]) == expected
                else:
                    assert float(_state(hass, ENTITY_OF[field])) == pytest.approx(
                        round(expected, 3)
                    ), field
            elif field == "phase_currents_a":
                for index, amps in enumerate(expected):
                    assert float(_state(hass, f"current_l{index + 1}")) == amps
        net = case.expected.get("import_w", 0.0) - case.expected.get("export_w", 0.0)
        assert float(_state(hass, "grid_power")) == pytest.approx(net)
        registry = er.async_get(hass)
        for field, name in TOTALS.items():
            if field not in case.expected:
                continue
            entity = registry.async_get(f"sensor.thuis_p1_meter_{name}")
            assert entity is not None
            if case.version in {"5L", "5S", "Q3D"}:  # totals only: on by default
                assert float(_state(hass, name)) == pytest.approx(case.expected[field])
            else:  # tariff registers exist: the duplicate total starts disabled
                assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        await unload(hass, entry)


async def test_energy_sensors_fit_the_energy_dashboard(hass: HomeAssistant) -> None:
    """Energy: device_class energy, total_increasing, kWh; power in W."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = network_entry(server)
        await setup(hass, entry)
        energy = hass.states.get("sensor.thuis_p1_meter_energy_import_tariff_1")
        assert energy is not None
        assert energy.attributes[ATTR_DEVICE_CLASS] == "energy"
        assert energy.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
        assert energy.attributes[ATTR_UNIT_OF_MEASUREMENT] == "kWh"
        power = hass.states.get("sensor.thuis_p1_meter_grid_power")
        assert power is not None
        assert power.attributes[ATTR_UNIT_OF_MEASUREMENT] == "W"
        assert power.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
        headroom = hass.states.get("sensor.thuis_headroom_l3")  # the grid connection
        assert headroom is not None
        assert float(headroom.state) == pytest.approx(25 - 0.86, abs=0.01)
        assert float(_state(hass, "voltage_l1")) == 230.0
        await unload(hass, entry)


async def test_entities_update_throttled_while_the_guard_gets_every_telegram(
    hass: HomeAssistant,
) -> None:
    """20 telegrams/s reach meter subscribers; the entity changes ~1/s."""
    async with p1_server(varying_telegram, interval=0.05) as server:
        entry = network_entry(server)
        entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(entry, options={CONF_UPDATE_INTERVAL: 1})
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        meter = entry.runtime_data.meter
        assert meter is not None
        seen: list[float] = []
        unsubscribe = meter.subscribe(lambda reading: seen.append(reading.import_w))
        changes: list[str] = []

        @callback
        def _changed(event: Event) -> None:
            if event.data["entity_id"] == "sensor.thuis_p1_meter_grid_power":
                changes.append(event.data["new_state"].state)

        stop = hass.bus.async_listen("state_changed", _changed)
        await asyncio.sleep(2.05)
        stop()
        unsubscribe()
        assert len(seen) >= 25
        assert 1 <= len(changes) <= 3
        await unload(hass, entry)


async def test_entities_go_unavailable_when_the_meter_falls_silent_and_return(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Silent meter: unavailable (logged once); telegrams again: back (once)."""
    caplog.set_level(logging.INFO)
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = network_entry(server)
        await setup(hass, entry)
        meter = entry.runtime_data.meter
        assert meter is not None
        meter.stale_after = 0.5
        await asyncio.sleep(0.1)
        server.pause()
        await until(lambda: _state(hass, "grid_power") == STATE_UNAVAILABLE)
        assert _state(hass, "energy_import_tariff_1") == STATE_UNAVAILABLE
        await asyncio.sleep(0.5)
        server.resume()
        await until(lambda: _state(hass, "grid_power") == "244.0")
        await unload(hass, entry)
    lost = [r for r in caplog.records if "is unavailable" in r.getMessage()]
    back = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(lost) == 1
    assert len(back) == 1


async def test_cable_pulled_mid_telegram_recovers_without_a_reload(
    hass: HomeAssistant,
) -> None:
    """Half a telegram and a dropped line: entities recover by themselves."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = network_entry(server)
        await setup(hass, entry)
        meter = entry.runtime_data.meter
        assert meter is not None
        server.cut_next()
        await until(lambda: _state(hass, "grid_power") == STATE_UNAVAILABLE)
        await until(lambda: _state(hass, "grid_power") == "244.0")
        assert meter.stats.connects == 2
        assert entry.state is ConfigEntryState.LOADED
        await unload(hass, entry)


async def test_setup_retries_when_the_meter_is_not_there(hass: HomeAssistant) -> None:
    """No meter listening: SETUP_RETRY with a translated reason."""
    async with p1_server([real("telegram_v5.txt")]) as server:
        entry = network_entry(server)
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "cannot_connect" in (entry.reason or "")
    await unload(hass, entry)


async def test_diagnostics_redact_ids_keys_and_addresses(hass: HomeAssistant) -> None:
    """Diagnostics show counters and the reading, never ids, keys or hosts."""
    case = next(case for case in CASES if case.id == "5L-encrypted")
    async with p1_server([case.raw]) as server:
        entry = network_entry(server, case.version, case.key)
        await setup(hass, entry)
        result = await async_get_config_entry_diagnostics(hass, entry)
        await unload(hass, entry)
    text = repr(result)
    assert case.key not in text
    assert "127.0.0.1" not in text
    assert result["entry"]["data"]["encryption_key"] == "**REDACTED**"
    assert result["meter"]["last_reading"]["equipment_id"] == "**REDACTED**"
    assert result["meter"]["stats"]["telegrams"] >= 1
    assert result["meter"]["last_reading"]["power"]["import_w"] == 1500.0
