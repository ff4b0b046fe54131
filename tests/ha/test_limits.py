"""DSO limits and the guard inside a real Home Assistant."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.stroomwijs.charger import (
    CONF_OCPP_HOST,
    CONF_OCPP_PORT,
)
from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.engine.simulate.vtn import (
    SimVtn,
    gac_event,
    gac_program,
    gac_safe_mode_event,
)
from custom_components.stroomwijs.guard_glue import (
    CONF_EAN,
    CONF_GUARD_DATA_TIMEOUT_S,
    CONF_LIMIT_WINDOWS,
    CONF_OPENADR_CLIENT_ID,
    CONF_OPENADR_CLIENT_SECRET,
    CONF_OPENADR_URL,
    CONF_SIGNAL_TIMEOUT_MIN,
)
from custom_components.stroomwijs.issues import dso_issue_id

from .charger_support import ocpp_subentry, setup_loaded
from .p1_support import network_entry, p1_server, until

EAN = "871685900012345678"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _telegram(text: str = "") -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=2_000,
            phase_import_w=(2_000, 0, 0),
            phase_currents_a=(9, 0, 0),
            text_message=text,
        )
    )


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def test_set_grid_limit_service_drives_the_limit_entities(
    hass: HomeAssistant,
) -> None:
    """A manual limit shows as import limit, source, event; clearing ends it."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    assert _state(hass, "sensor.thuis_import_limit") == "17250"
    assert _state(hass, "sensor.thuis_limit_source") == "fuse"
    await hass.services.async_call(
        DOMAIN,
        "set_grid_limit",
        {"value": 3_000, "duration": {"hours": 1}, "source": "installer"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.thuis_import_limit") == "3000"
    assert _state(hass, "sensor.thuis_limit_source") == "manual"
    source = hass.states.get("sensor.thuis_limit_source")
    assert source is not None
    assert source.attributes["label"] == "installer"
    assert source.attributes["source"] == "manual:installer"
    assert _state(hass, "binary_sensor.thuis_grid_limit_active") == "on"
    assert _state(hass, "number.thuis_manual_grid_limit") == "3000.0"
    event = hass.states.get("event.thuis_grid_event")
    assert event is not None
    assert event.attributes["event_type"] == "limit_changed"
    assert event.attributes["import_limit_w"] == 3_000
    await hass.services.async_call(DOMAIN, "clear_grid_limit", {}, blocking=True)
    await hass.async_block_till_done()
    assert _state(hass, "sensor.thuis_import_limit") == "17250"
    assert _state(hass, "binary_sensor.thuis_grid_limit_active") == "off"


async def test_manual_limit_number_sets_and_clears_the_limit(
    hass: HomeAssistant,
) -> None:
    """The number sets a manual limit; the fuse's capacity clears it."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    number = "number.thuis_manual_grid_limit"
    assert _state(hass, number) == "unknown"  # no manual limit is set
    await hass.services.async_call(
        "number", "set_value", {"entity_id": number, "value": 5_000}, blocking=True
    )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.thuis_import_limit") == "5000"
    assert _state(hass, "sensor.thuis_limit_source") == "manual"
    await hass.services.async_call(
        "number", "set_value", {"entity_id": number, "value": 17_250}, blocking=True
    )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.thuis_import_limit") == "17250"
    assert _state(hass, "sensor.thuis_limit_source") == "fuse"
    assert _state(hass, number) == "unknown"


async def test_set_grid_limit_rejects_a_too_long_duration(hass: HomeAssistant) -> None:
    """Longer than seven days is refused with a translated error."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_grid_limit",
            {"value": 3_000, "duration": {"days": 8}},
            blocking=True,
        )
    assert err.value.translation_key == "grid_limit_too_long"


async def test_static_window_shows_as_the_next_limit(hass: HomeAssistant) -> None:
    """A configured window appears as next limit start and value."""
    start = dt_util.now() + timedelta(hours=2)
    end = start + timedelta(hours=1)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options={
            CONF_LIMIT_WINDOWS: [
                {
                    "start": start.strftime("%H:%M"),
                    "end": end.strftime("%H:%M"),
                    "import_w": 4_000,
                    "label": "evening",
                }
            ]
        },
    )
    await setup_loaded(hass, entry)
    assert _state(hass, "sensor.thuis_next_limit") == "4000"
    next_start = dt_util.parse_datetime(_state(hass, "sensor.thuis_next_limit_start"))
    assert next_start is not None
    assert next_start.strftime("%H:%M") == dt_util.as_utc(
        start.replace(second=0, microsecond=0)
    ).strftime("%H:%M")


async def test_p1_text_message_limit_reaches_the_entities(hass: HomeAssistant) -> None:
    """LIMIT 4kW in the meter's text field becomes the import limit."""
    async with p1_server(lambda _i: _telegram("LIMIT 4kW FOR 30m")) as server:
        entry = network_entry(server)
        await setup_loaded(hass, entry)
        runtime = entry.runtime_data.limits
        assert runtime is not None
        await until(lambda: runtime.p1_message.current is not None)
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
        await hass.async_block_till_done()
        assert _state(hass, "sensor.thuis_import_limit") == "4000"
        assert _state(hass, "sensor.thuis_limit_source") == "p1_message"
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_lost_p1_data_is_an_intervention_and_counted(hass: HomeAssistant) -> None:
    """The meter falls silent: the guard's data_lost reaches event and counter."""
    async with p1_server(lambda _i: _telegram()) as server:
        entry = network_entry(server, **{CONF_GUARD_DATA_TIMEOUT_S: 0.3})
        await setup_loaded(hass, entry)
        runtime = entry.runtime_data.limits
        assert runtime is not None
        await until(lambda: runtime.guard.status().measured_w is not None)
        server.paused = True
        await until(lambda: runtime.guard.status().data_lost, limit=5)
        await hass.async_block_till_done()
        event = hass.states.get("event.thuis_grid_event")
        assert event is not None
        assert event.attributes["event_type"] == "data_lost"
        assert _state(hass, "sensor.thuis_guard_interventions_today") == "1"
        server.paused = False
        await until(lambda: not runtime.guard.status().data_lost, limit=5)
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_openadr_event_and_lost_vtn_raise_and_clear_a_repair(
    hass: HomeAssistant,
) -> None:
    """A GAC event limits the home; a silent VTN brings failsafe and a repair."""
    async with SimVtn() as vtn:
        vtn.add_program(gac_program("program-1"))
        await vtn.put_event(
            gac_safe_mode_event("safe", program_id="program-1", ean=EAN, value_kw=3.0)
        )
        await vtn.put_event(
            gac_event(
                "event-1",
                program_id="program-1",
                ean=EAN,
                start=dt_util.utcnow() - timedelta(minutes=1),
                values_kw=[6.0],
            )
        )
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
            options={
                CONF_OPENADR_URL: vtn.base_url,
                CONF_OPENADR_CLIENT_ID: vtn.client_id,
                CONF_OPENADR_CLIENT_SECRET: vtn.client_secret,
                CONF_EAN: EAN,
                CONF_SIGNAL_TIMEOUT_MIN: 0.01,
            },
        )
        await setup_loaded(hass, entry)
        runtime = entry.runtime_data.limits
        assert runtime is not None
        ven = runtime.ven
        assert ven is not None
        await until(lambda: "event-1" in ven.status.events)
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=5))
        await hass.async_block_till_done()
        assert _state(hass, "sensor.thuis_import_limit") == "6000"
        assert _state(hass, "binary_sensor.thuis_grid_limit_active") == "on"
        vtn.down = True
        await asyncio.sleep(1.0)  # longer than the 0.6 s signal timeout
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=10))
        await hass.async_block_till_done()
        assert _state(hass, "sensor.thuis_import_limit") == "3000"
        assert _state(hass, "binary_sensor.thuis_grid_operator_signal") == "on"
        (sid,) = entry.subentries  # the options became a grid-limit subentry
        issue_id = dso_issue_id(entry.entry_id, sid)
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "dso_signal_lost"
        assert issue.is_fixable
        vtn.down = False
        assert await ven.async_poll()
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=15))
        await hass.async_block_till_done()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
        # The failsafe is still held (two hours), and says so.
        assert _state(hass, "sensor.thuis_import_limit") == "3000"
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        text = repr(diagnostics)
        assert vtn.client_secret not in text
        assert EAN not in text
        limits = diagnostics["limits"]
        assert limits["effective"]["import_source"] == "openadr:failsafe"
        assert limits["openadr"][0]["programs"] == ["gac-congestion-area-1"]
        assert "event-1" in limits["openadr"][0]["events"]
        # The household's own part: config without secrets, plan, problems.
        household = diagnostics["household"]
        assert household["config"]["limits"][0]["kind"] == "openadr"
        assert household["config"]["limits"][0]["ean"] == "**REDACTED**"
        assert "secrets" not in household["config"]
        assert household["plan_status"]["state"] in {"waiting", "ok", "time_limit"}
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_guard_curtails_a_real_ocpp_charger_to_hold_a_manual_limit(
    hass: HomeAssistant,
) -> None:
    """P1 telegrams over TCP, an OCPP car over websockets, the guard in between.

    The meter shows 12 kW; a 6 kW manual limit makes the guard send the
    charger a lower setpoint through the OCPP central system.
    """

    def busy(_index: int) -> bytes:
        return build_telegram(
            TelegramValuesIn(
                timestamp=datetime.now(UTC),
                import_w=12_000,
                phase_import_w=(4_000, 4_000, 4_000),
                phase_currents_a=(17, 17, 17),
            )
        )

    async with p1_server(busy) as server:
        meter_entry = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data=dict(meter_entry.data),
            options={CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: 0},
            subentries_data=[ocpp_subentry("garage", minimum_instead_of_pause=True)],
        )
        await setup_loaded(hass, entry)
        hub = entry.runtime_data.chargers
        assert hub is not None
        assert hub.csms is not None
        sim = OcppSimulator("garage", version="ocpp2.1")
        try:
            await sim.async_connect(hub.csms.url)
            await sim.async_plug_in(SimCar(soc=0.4))
            charger = hub.csms.chargers["garage"]
            await until(lambda: charger.plugged_in)
            await charger.async_set_power(11_000)
            await until(lambda: sim.station.tx_profile is not None)
            await sim.async_step(60.0)  # the car takes the power: metered 11 kW
            await until(lambda: (charger.power_w or 0) > 10_000)
            await hass.services.async_call(
                DOMAIN,
                "set_grid_limit",
                {"value": 6_000, "duration": {"hours": 1}, "source": "test"},
                blocking=True,
            )
            runtime = entry.runtime_data.limits
            assert runtime is not None
            guard = runtime.guard
            # The station has the profile before the command's reply is back:
            # wait for the guard to have recorded its intervention.
            await until(
                lambda: any(i.kind.value == "curtail" for i in guard.log), limit=10
            )
            curtail = next(i for i in guard.log if i.kind.value == "curtail")
            assert curtail.device_id == "ocpp_garage"
            assert curtail.to_w is not None
            assert curtail.to_w < 6_000
            assert sim.station.target_power_w() < 6_000
            assert runtime.guard.status().limit_source == "manual:test"
        finally:
            await sim.async_disconnect()
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def _add_limit(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, data: dict[str, object]
) -> dict[str, object]:
    """Run the grid-limit subentry flow: pick ``kind``, then submit ``data``."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "grid_limit"), context={"source": "user"}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": kind}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], data
    )
    await hass.async_block_till_done()
    return dict(result)


async def test_window_subentry_adds_a_window_and_reloads(hass: HomeAssistant) -> None:
    """A window added in the UI shows up as the next limit after the reload."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    start = dt_util.now() + timedelta(hours=3)
    result = await _add_limit(
        hass,
        entry,
        "window",
        {
            "label": "avond",
            "start": start.strftime("%H:%M:00"),
            "end": (start + timedelta(hours=2)).strftime("%H:%M:00"),
            "import_w": 4_000,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.state is ConfigEntryState.LOADED
    assert _state(hass, "sensor.thuis_next_limit") == "4000"
    runtime = entry.runtime_data.limits
    assert runtime is not None
    assert any(s.name == "window" for s in runtime.stack.sources)


async def test_window_subentry_rejects_an_empty_window(hass: HomeAssistant) -> None:
    """Start equal to end, or no limit at all: a clear error."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    result = await _add_limit(
        hass, entry, "window", {"start": "16:00:00", "end": "16:00:00"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_window"}


async def test_openadr_subentry_checks_the_vtn_before_it_is_added(
    hass: HomeAssistant,
) -> None:
    """Wrong secret, bad EAN and a dead server are caught; then it works."""
    async with SimVtn() as vtn:
        vtn.add_program(gac_program("program-1"))
        entry = MockConfigEntry(
            domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
        )
        await setup_loaded(hass, entry)
        good = {
            "url": vtn.base_url,
            "client_id": vtn.client_id,
            "client_secret": vtn.client_secret,
            "ean": EAN,
            "failsafe_import_w": 4_000,
            "signal_timeout_min": 15,
        }
        result = await _add_limit(
            hass, entry, "openadr", {**good, "client_secret": "nope"}
        )
        assert result["errors"] == {"base": "invalid_auth"}
        result = await _add_limit(hass, entry, "openadr", {**good, "ean": "123"})
        assert result["errors"] == {"ean": "invalid_ean"}
        result = await _add_limit(
            hass, entry, "openadr", {**good, "url": "http://127.0.0.1:9/openadr3"}
        )
        assert result["errors"] == {"base": "cannot_connect"}
        result = await _add_limit(hass, entry, "openadr", good)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert "gac-congestion-area-1" in str(result["title"])
        runtime = entry.runtime_data.limits
        assert runtime is not None
        assert runtime.ven is not None
        assert runtime.ven.ean == EAN
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_dim_subentry_follows_its_input(hass: HomeAssistant) -> None:
    """A dim input with one device limits the connection to 4.2 kW while on."""
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"dim": {"initial": False}}}
    )
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    result = await _add_limit(
        hass,
        entry,
        "dim",
        {"entity_id": "input_boolean.dim", "devices": 1, "mode": "connection"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert _state(hass, "sensor.thuis_import_limit") == "17250"
    await hass.services.async_call(
        "input_boolean", "turn_on", {"entity_id": "input_boolean.dim"}, blocking=True
    )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.thuis_import_limit") == "4200"
    assert _state(hass, "sensor.thuis_limit_source") == "dim"
    result = await _add_limit(hass, entry, "capacity", {"budget_w": 3_000})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    runtime = entry.runtime_data.limits
    assert runtime is not None
    assert runtime.capacity is not None
    assert runtime.capacity.target_w == 3_000


def _below(value: float | None, limit: float) -> bool:
    return value is not None and value < limit


async def test_manual_boost_is_held_to_the_dso_limit_on_the_charger_side(
    hass: HomeAssistant,
) -> None:
    """The user boosts during a DSO limit: the override stays, the limit holds.

    The DSO limit goes to the charger as its station limit (it would hold even
    without Home Assistant); the guard's cap joins it when the boost would
    break the limit.
    """

    def busy(_index: int) -> bytes:
        return build_telegram(
            TelegramValuesIn(
                timestamp=datetime.now(UTC),
                import_w=9_000,
                phase_import_w=(3_000, 3_000, 3_000),
                phase_currents_a=(13, 13, 13),
            )
        )

    async with p1_server(busy) as server:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data=dict(network_entry(server).data),
            options={CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: 0},
            subentries_data=[ocpp_subentry("garage")],
        )
        await setup_loaded(hass, entry)
        hub = entry.runtime_data.chargers
        assert hub is not None
        assert hub.csms is not None
        sim = OcppSimulator("garage", version="ocpp2.1")
        try:
            await sim.async_connect(hub.csms.url)
            await sim.async_plug_in(SimCar(soc=0.4))
            charger = hub.csms.chargers["garage"]
            await until(lambda: charger.plugged_in)
            await hass.services.async_call(
                DOMAIN,
                "set_grid_limit",
                {"value": 7_000, "duration": {"hours": 1}, "source": "dso"},
                blocking=True,
            )

            def station_max_w() -> float | None:
                limit = sim.station.station_max
                if limit is None or limit.limit is None:
                    return None
                return sim.station.to_watts(limit.limit, limit.unit)

            await until(lambda: (station_max_w() or 1e9) <= 7_000, limit=10)
            device = dr.async_get(hass).async_get_device_by_identifier(
                (DOMAIN, next(iter(entry.subentries))), entry.entry_id
            )
            assert device is not None
            await hass.services.async_call(
                DOMAIN, "boost", {"device_id": device.id}, blocking=True
            )
            assert charger.manual_setpoint_w is not None  # the override stays
            await sim.async_step(60.0)
            # The guard's cap joins the DSO limit (0 W is a cap too: the house
            # alone is over the limit, so the boost is held back to a pause).
            await until(lambda: _below(station_max_w(), 7_000), limit=10)
            assert sim.station.target_power_w() < 7_000
            assert charger.manual_setpoint_w is not None
        finally:
            await sim.async_disconnect()
        await hass.services.async_call(DOMAIN, "clear_grid_limit", {}, blocking=True)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_set_grid_limit_defaults_to_the_service_label_and_4_hours(
    hass: HomeAssistant,
) -> None:
    """Only a value: the label is "service" and the limit lasts 4 hours."""
    entry = MockConfigEntry(
        domain=DOMAIN, title="Thuis", data={CONF_PHASES: 3, CONF_FUSE_A: 25.0}
    )
    await setup_loaded(hass, entry)
    await hass.services.async_call(
        DOMAIN, "set_grid_limit", {"value": 2_500}, blocking=True
    )
    await hass.async_block_till_done()
    assert _state(hass, "sensor.thuis_limit_source") == "manual"
    runtime = entry.runtime_data.limits
    assert runtime is not None
    limit = runtime.manual.current
    assert limit is not None
    assert limit.start is not None
    assert limit.end is not None
    assert limit.end - limit.start == timedelta(hours=4)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "set_grid_limit",
            {"value": 2_500, "config_entry_id": "nope"},
            blocking=True,
        )
    assert err.value.translation_key == "household_not_found"


async def test_a_limit_the_house_alone_breaks_is_reported(hass: HomeAssistant) -> None:
    """Uncontrollable load over the limit: a problem sensor and a repair issue."""

    def busy(_index: int) -> bytes:
        return build_telegram(
            TelegramValuesIn(
                timestamp=datetime.now(UTC),
                import_w=9_000,
                phase_import_w=(3_000, 3_000, 3_000),
                phase_currents_a=(13, 13, 13),
            )
        )

    async with p1_server(busy) as server:
        entry = network_entry(server)
        await setup_loaded(hass, entry)
        sensor = "binary_sensor.thuis_grid_limit_not_holdable"
        assert _state(hass, sensor) == "off"
        await hass.services.async_call(
            DOMAIN, "set_grid_limit", {"value": 5_000}, blocking=True
        )

        def reported() -> bool:
            return _state(hass, sensor) == "on" and (
                ir.async_get(hass).async_get_issue(
                    DOMAIN, f"limit_not_holdable_{entry.entry_id}"
                )
                is not None
            )

        await until(reported, limit=10)
        state = hass.states.get(sensor)
        assert state is not None
        assert state.attributes["shortfall_w"] >= 3_000
        issue = ir.async_get(hass).async_get_issue(
            DOMAIN, f"limit_not_holdable_{entry.entry_id}"
        )
        assert issue is not None
        assert issue.translation_placeholders is not None
        assert issue.translation_placeholders["limit_w"] == "5000"
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
