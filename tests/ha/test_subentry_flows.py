"""Charger and grid-limit subentry flows, their reconfigure and reauth steps.

Peblar's shape: each error path is parametrized and must recover to a
created (or updated) subentry. Peers are real: a Quasar Modbus simulator and
an OpenADR 3 VTN simulator on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntryState,
    ConfigSubentryData,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.charger import (
    CONF_CHARGER_ID,
    CONF_KIND,
    CONF_OCPP_CERTFILE,
    CONF_OCPP_HOST,
    CONF_OCPP_PORT,
    KIND_OCPP,
    KIND_QUASAR,
    SUBENTRY_CHARGER,
)
from custom_components.stroomwijs.charger_flow import csms_url
from custom_components.stroomwijs.const import (
    CONF_FUSE_A,
    CONF_PHASES,
    DOMAIN,
    REAUTH_SUBENTRY,
)
from custom_components.stroomwijs.engine.simulate.quasar import QuasarSimulator
from custom_components.stroomwijs.engine.simulate.vtn import SimVtn, gac_program
from custom_components.stroomwijs.limits_flow import QUARTER_HOURS

from .charger_support import ocpp_subentry, setup_loaded

EAN = "871685900012345678"
OCPP_FORM = {
    "phases": "3",
    "max_current_a": 16,
    "min_current_a": "6",
    "minimum_instead_of_pause": False,
}


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


@pytest.fixture
async def quasar() -> AsyncIterator[int]:
    """Run a simulated Wallbox Quasar on 127.0.0.1; yield its Modbus port."""
    sim = QuasarSimulator(soc=0.5)
    port = await sim.async_start("127.0.0.1", 0)
    yield port
    await sim.async_stop()


@pytest.fixture
async def vtn() -> AsyncIterator[SimVtn]:
    """Run an OpenADR 3 VTN with one grid-aware charging program."""
    async with SimVtn() as server:
        server.add_program(gac_program("program-1"))
        yield server


def _household(*subentries: ConfigSubentryData, **options: object) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Thuis",
        version=1,
        minor_version=3,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0},
        options=options,
        subentries_data=list(subentries),
    )


async def _menu(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, choice: str
) -> dict[str, Any]:
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind), context={"source": "user"}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"next_step_id": choice}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == choice
    return result


async def _submit(hass: HomeAssistant, result: dict, data: dict) -> dict:
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], data
    )
    await hass.async_block_till_done()
    return dict(result)


# Chargers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "internal_url", "expected"),
    [
        ({}, None, "ws://homeassistant.local:9000/ocpp/"),
        (
            {CONF_OCPP_HOST: "0.0.0.0", CONF_OCPP_PORT: 9123},  # noqa: S104,
            "http://192.168.1.5:8123",
            "ws://192.168.1.5:9123/ocpp/",
        ),
        (
            {CONF_OCPP_HOST: "192.168.1.7", CONF_OCPP_CERTFILE: "/ssl/cert.pem"},
            None,
            "wss://192.168.1.7:9000/ocpp/",
        ),
        (
            {CONF_OCPP_HOST: "fd00::7", CONF_OCPP_PORT: 9001},
            None,
            "ws://[fd00::7]:9001/ocpp/",
        ),
    ],
)
async def test_csms_url_uses_the_configured_port_path_and_scheme(
    hass: HomeAssistant,
    options: dict[str, Any],
    internal_url: str | None,
    expected: str,
) -> None:
    """The URL shown to the installer is the one the central system serves."""
    hass.config.internal_url = internal_url
    assert csms_url(hass, options) == expected


async def test_ocpp_form_shows_the_url_as_a_placeholder(hass: HomeAssistant) -> None:
    """No hard-coded port, no HTML in the text: the URL is a placeholder."""
    entry = _household()
    await setup_loaded(hass, entry)
    hass.config_entries.async_update_entry(entry, options={CONF_OCPP_PORT: 9555})
    result = await _menu(hass, entry, SUBENTRY_CHARGER, KIND_OCPP)
    assert result["description_placeholders"] == {
        "url": "ws://homeassistant.local:9555/ocpp/"
    }
    # The current and the battery are asked for with their units.
    units = {
        str(key): selector.config.get("unit_of_measurement")
        for key, selector in result["data_schema"].schema.items()
        if hasattr(selector, "config")
    }
    assert units["max_current_a"] == "A"
    assert units["capacity_kwh"] == "kWh"


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({CONF_CHARGER_ID: "a/b"}, "invalid_charger"),
        ({"min_current_a": "8", "max_current_a": 6}, "invalid_charger"),
    ],
)
async def test_ocpp_subentry_recovers_from_impossible_settings(
    hass: HomeAssistant, bad: dict[str, Any], error: str
) -> None:
    """A charger id with a slash, a maximum below the floor: error, then add."""
    entry = _household()
    await setup_loaded(hass, entry)
    result = await _menu(hass, entry, SUBENTRY_CHARGER, KIND_OCPP)
    good = {**OCPP_FORM, CONF_CHARGER_ID: " garage "}
    result = await _submit(hass, result, {**good, **bad})
    assert result["errors"] == {"base": error}
    result = await _submit(hass, result, {**good, "password": "geheim"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["unique_id"] == "garage"
    assert result["data"]["password"] == "geheim"  # noqa: S105
    await hass.async_block_till_done()  # the reload the change causes
    assert entry.state is ConfigEntryState.LOADED


async def test_quasar_subentry_reads_the_charger_before_adding_it(
    hass: HomeAssistant, quasar: int
) -> None:
    """Bad host, nobody there: errors; the simulator answers: added; twice: abort."""
    entry = _household()
    await setup_loaded(hass, entry)
    result = await _menu(hass, entry, SUBENTRY_CHARGER, KIND_QUASAR)
    form = {"host": "127.0.0.1", "port": quasar, "minimum_instead_of_pause": True}
    result = await _submit(hass, result, {**form, "host": "127.0.0.1:502"})
    assert result["errors"] == {"base": "invalid_host"}
    silent = QuasarSimulator()
    dead = await silent.async_start("127.0.0.1", 0)
    await silent.async_stop()  # nobody listens there any more
    result = await _submit(hass, result, {**form, "port": dead})
    assert result["errors"] == {"base": "cannot_connect"}
    result = await _submit(hass, result, {**form, "capacity_kwh": 77})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Wallbox Quasar 127.0.0.1"
    assert result["data"] == {
        CONF_KIND: KIND_QUASAR,
        "host": "127.0.0.1",
        "port": quasar,
        "minimum_instead_of_pause": True,
        "capacity_kwh": 77.0,
    }
    result = await _menu(hass, entry, SUBENTRY_CHARGER, KIND_QUASAR)
    result = await _submit(hass, result, form)
    assert result["reason"] == "already_configured"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_ocpp_charger_keeps_its_password(
    hass: HomeAssistant,
) -> None:
    """Changed limits are stored and reloaded; an empty password keeps the old."""
    entry = _household(
        ocpp_subentry("garage", password="geheim", max_current_a=16.0)  # noqa: S106
    )
    await setup_loaded(hass, entry)
    [sub] = entry.subentries.values()
    result = await entry.start_subentry_reconfigure_flow(hass, sub.subentry_id)
    assert result["step_id"] == "reconfigure_ocpp"
    assert result["description_placeholders"] == {"name": "garage"}
    with pytest.raises(InvalidData):  # the selector refuses 4 A
        await _submit(hass, result, {**OCPP_FORM, "max_current_a": 4})
    result = await _submit(
        hass, result, {**OCPP_FORM, "min_current_a": "8", "max_current_a": 6}
    )
    assert result["errors"] == {"base": "invalid_charger"}
    result = await _submit(hass, result, {**OCPP_FORM, "max_current_a": 32})
    assert result["reason"] == "reconfigure_successful"
    sub = entry.subentries[sub.subentry_id]
    assert sub.data["max_current_a"] == 32.0
    assert sub.data["password"] == "geheim"  # noqa: S105
    await hass.async_block_till_done()  # the reload the change causes
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_quasar_moves_it_and_refuses_a_taken_address(
    hass: HomeAssistant, quasar: int
) -> None:
    """A Quasar's new address is tested; one that another subentry has aborts."""

    def _quasar(port: int) -> ConfigSubentryData:
        return ConfigSubentryData(
            data={CONF_KIND: KIND_QUASAR, "host": "127.0.0.1", "port": port},
            subentry_type=SUBENTRY_CHARGER,
            title=f"Quasar {port}",
            unique_id=f"quasar_127.0.0.1:{port}",
        )

    entry = _household(_quasar(1502), _quasar(2502))
    entry.add_to_hass(hass)
    first = next(s for s in entry.subentries.values() if s.data["port"] == 1502)
    result = await entry.start_subentry_reconfigure_flow(hass, first.subentry_id)
    assert result["step_id"] == "reconfigure_quasar"
    form = {"host": "127.0.0.1", "minimum_instead_of_pause": False}
    result = await _submit(hass, result, {**form, "port": 2502})
    assert result["reason"] == "already_configured"
    result = await entry.start_subentry_reconfigure_flow(hass, first.subentry_id)
    result = await _submit(hass, result, {**form, "port": 1502, "host": " "})
    assert result["errors"] == {"base": "invalid_host"}
    result = await _submit(hass, result, {**form, "port": quasar})
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[first.subentry_id].unique_id == f"quasar_127.0.0.1:{quasar}"
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)


def _discovery(entry: MockConfigEntry, **info: object) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        CONF_CHARGER_ID: "garage",
        "protocol": "ocpp2.0.1",
        "vendor": None,
        "model": None,
        **info,
    }


async def test_discovered_charger_is_named_by_its_boot_notification(
    hass: HomeAssistant,
) -> None:
    """Vendor and model from the charger title the flow and the subentry."""
    entry = _household()
    await setup_loaded(hass, entry)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=_discovery(entry, vendor="Alfen", model="Eve Single"),
    )
    assert result["step_id"] == "ocpp_confirm"
    assert result["description_placeholders"] == {
        "charger": "Alfen Eve Single (garage)",
        "protocol": "ocpp2.0.1",
    }
    flow = hass.config_entries.flow.async_get(result["flow_id"])
    assert flow["context"]["title_placeholders"] == {
        "name": "Alfen Eve Single (garage)"
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**OCPP_FORM, "min_current_a": "8", "max_current_a": 6}
    )
    assert result["errors"] == {"base": "invalid_charger"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], OCPP_FORM
    )
    assert result["reason"] == "charger_added"
    await hass.async_block_till_done()
    [sub] = entry.subentries.values()
    assert sub.title == "Alfen Eve Single (garage)"
    assert sub.unique_id == "garage"
    # The same charger again: already part of the household.
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={**_discovery(entry), CONF_CHARGER_ID: "garage"},
    )
    assert result["reason"] == "already_configured"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_discovered_charger_without_boot_data_uses_its_id(
    hass: HomeAssistant,
) -> None:
    """No BootNotification yet: the id alone, never question marks."""
    entry = _household()
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=_discovery(entry, protocol=None),
    )
    assert result["description_placeholders"] == {
        "charger": "garage",
        "protocol": "OCPP",
    }


async def test_discovery_for_a_removed_household_aborts(hass: HomeAssistant) -> None:
    """The household went away before or during the confirmation."""
    entry = _household()
    entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data=_discovery(entry),
    )
    assert result["step_id"] == "ocpp_confirm"
    await hass.config_entries.async_remove(entry.entry_id)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], OCPP_FORM
    )
    assert result["reason"] == "household_gone"
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={**_discovery(entry), CONF_CHARGER_ID: "elsewhere"},
    )
    assert result["reason"] == "household_gone"


# Grid limits ------------------------------------------------------------------


async def test_new_window_form_is_empty_and_offers_times_without_seconds(
    hass: HomeAssistant,
) -> None:
    """A second window is not pre-filled with the first; times are HH:MM."""
    entry = _household()
    await setup_loaded(hass, entry)
    result = await _menu(hass, entry, "grid_limit", "window")
    schema = result["data_schema"].schema
    for key in schema:
        assert key.default is vol_undefined()
        assert (key.description or {}).get("suggested_value") is None
    start = next(key for key in schema if key == "start")
    selector = schema[start].config
    assert selector["options"][:3] == ["00:00", "00:15", "00:30"]
    assert all(len(option) == 5 for option in selector["options"])
    assert selector["custom_value"] is True
    assert len(QUARTER_HOURS) == 96


def vol_undefined() -> object:
    """Return the marker probatio uses for "no default"."""
    import probatio as vol  # noqa: PLC0415

    return vol.UNDEFINED


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"start": "16:00", "end": "16:00", "import_w": 4000}, "invalid_window"),
        ({"start": "16:00", "end": "21:00"}, "invalid_window"),
        ({"start": "25:00", "end": "21:00", "import_w": 4000}, "invalid_window"),
    ],
)
async def test_window_reconfigure_recovers_and_reloads(
    hass: HomeAssistant, bad: dict[str, Any], error: str
) -> None:
    """The stored window fills the form; a bad change errors, a good one saves."""
    entry = _household()
    await setup_loaded(hass, entry)
    result = await _menu(hass, entry, "grid_limit", "window")
    result = await _submit(
        hass,
        result,
        {
            "label": "avond",
            "start": "16:00",
            "end": "21:00",
            "import_w": 4000,
            "weekdays": ["mon", "tue"],
            "months": ["11", "12"],
        },
    )
    assert result["title"] == "avond 16:00-21:00"
    [sub] = entry.subentries.values()
    result = await entry.start_subentry_reconfigure_flow(hass, sub.subentry_id)
    assert result["step_id"] == "window"
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description
    }
    assert suggested == {
        "label": "avond",
        "start": "16:00",
        "end": "21:00",
        "import_w": 4000.0,
        "weekdays": ["mon", "tue"],
        "months": ["11", "12"],
    }
    result = await _submit(hass, result, bad)
    assert result["errors"] == {"base": error}
    result = await _submit(
        hass,
        result,
        {"label": "avond", "start": "17:00", "end": "20:00", "export_w": 0},
    )
    assert result["reason"] == "reconfigure_successful"
    sub = entry.subentries[sub.subentry_id]
    assert sub.title == "avond 17:00-20:00"
    assert sub.data["export_w"] == 0.0
    assert "import_w" not in sub.data
    assert sub.data["weekdays"] == list(range(7))
    await hass.async_block_till_done()  # the reload the change causes
    assert entry.state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("bad", "errors"),
    [
        ({"client_secret": "nope"}, {"base": "invalid_auth"}),
        ({"ean": "12345"}, {"ean": "invalid_ean"}),
        ({"url": "http://127.0.0.1:9/openadr3"}, {"base": "cannot_connect"}),
    ],
)
async def test_openadr_reconfigure_tests_the_server_and_hides_the_secret(
    hass: HomeAssistant, vtn: SimVtn, bad: dict[str, Any], errors: dict[str, str]
) -> None:
    """The secret is never shown again; every error recovers to a saved change."""
    good = {
        "url": vtn.base_url,
        "client_id": vtn.client_id,
        "client_secret": vtn.client_secret,
        "ean": EAN,
        "programs": "program-1",
        "failsafe_import_w": 4000,
        "signal_timeout_min": 15,
    }
    entry = _household()
    await setup_loaded(hass, entry)
    result = await _menu(hass, entry, "grid_limit", "openadr")
    result = await _submit(hass, result, good)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = await _menu(hass, entry, "grid_limit", "openadr")
    result = await _submit(hass, result, good)
    assert result["reason"] == "already_configured"
    [sub] = entry.subentries.values()
    result = await entry.start_subentry_reconfigure_flow(hass, sub.subentry_id)
    assert result["step_id"] == "openadr"
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert "client_secret" not in suggested
    assert suggested["programs"] == "program-1"
    result = await _submit(hass, result, {**good, **bad})
    assert result["errors"] == errors
    assert "client_secret" not in {
        str(key)
        for key in result["data_schema"].schema
        if key.description and key.description.get("suggested_value")
    }
    result = await _submit(hass, result, {**good, "failsafe_import_w": 3000})
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[sub.subentry_id].data["failsafe_import_w"] == 3000.0
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_capacity_and_dim_reconfigure_in_place(hass: HomeAssistant) -> None:
    """One of each may exist; changing it is not refused as a duplicate."""
    entry = _household()
    await setup_loaded(hass, entry)
    result = await _menu(hass, entry, "grid_limit", "capacity")
    result = await _submit(hass, result, {"budget_w": 5000})
    assert result["data"] == {"kind": "capacity", "budget_w": 5000.0}
    hass.states.async_set("binary_sensor.dim", "off")
    result = await _menu(hass, entry, "grid_limit", "dim")
    result = await _submit(
        hass,
        result,
        {"entity_id": "binary_sensor.dim", "devices": 2, "mode": "connection"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    for kind in ("capacity", "dim"):  # a second one is refused
        result = await hass.config_entries.subentries.async_init(
            (entry.entry_id, "grid_limit"), context={"source": "user"}
        )
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"next_step_id": kind}
        )
        assert result["reason"] == "already_configured"
    subs = {sub.data["kind"]: sub for sub in entry.subentries.values()}
    result = await entry.start_subentry_reconfigure_flow(
        hass, subs["capacity"].subentry_id
    )
    result = await _submit(hass, result, {})
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subs["capacity"].subentry_id].data == {"kind": "capacity"}
    result = await entry.start_subentry_reconfigure_flow(hass, subs["dim"].subentry_id)
    result = await _submit(
        hass,
        result,
        {"entity_id": "binary_sensor.dim", "devices": 3, "mode": "per_device"},
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subs["dim"].subentry_id].data["devices"] == 3
    await hass.async_block_till_done()  # the reload the change causes
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_of_an_unknown_limit_kind_aborts(hass: HomeAssistant) -> None:
    """A subentry written by a newer version is not silently rewritten."""
    entry = _household(
        ConfigSubentryData(
            data={"kind": "future"},
            subentry_type="grid_limit",
            title="Future",
            unique_id=None,
        )
    )
    entry.add_to_hass(hass)
    [sub] = entry.subentries.values()
    result = await entry.start_subentry_reconfigure_flow(hass, sub.subentry_id)
    assert result["reason"] == "unknown_limit_kind"


# Reauthentication of subentry credentials -------------------------------------


async def test_openadr_reauth_tests_and_stores_new_credentials(
    hass: HomeAssistant, vtn: SimVtn
) -> None:
    """A wrong secret errors; the right one is stored and the household reloads."""
    entry = _household(
        ConfigSubentryData(
            data={
                "kind": "openadr",
                "url": vtn.base_url,
                "client_id": vtn.client_id,
                "client_secret": "revoked",
                "ean": EAN,
                "programs": [],
                "failsafe_import_w": 4000.0,
                "signal_timeout_min": 15.0,
            },
            subentry_type="grid_limit",
            title="OpenADR",
            unique_id=f"openadr_{EAN}_{vtn.base_url}",
        )
    )
    entry.add_to_hass(hass)
    [sub] = entry.subentries.values()
    result = await entry.start_reauth_flow(
        hass, data={REAUTH_SUBENTRY: sub.subentry_id}
    )
    assert result["step_id"] == "reauth_openadr"
    assert result["description_placeholders"] == {
        "name": "OpenADR",
        "url": vtn.base_url,
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"client_id": vtn.client_id, "client_secret": "still wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {"client_id": vtn.client_id, "client_secret": vtn.client_secret},
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.subentries[sub.subentry_id].data["client_secret"] == vtn.client_secret
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_charger_reauth_stores_the_new_password(hass: HomeAssistant) -> None:
    """A charger that sends another password: the user enters it, it is kept."""
    entry = _household(
        ocpp_subentry("garage", password="oud"),  # noqa: S106
        **{CONF_OCPP_HOST: "127.0.0.1", CONF_OCPP_PORT: 0},
    )
    await setup_loaded(hass, entry)
    [sub] = entry.subentries.values()
    result = await entry.start_reauth_flow(
        hass, data={REAUTH_SUBENTRY: sub.subentry_id}
    )
    assert result["step_id"] == "reauth_charger"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"password": "nieuw"}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.subentries[sub.subentry_id].data["password"] == "nieuw"  # noqa: S105
    await hass.async_block_till_done()  # the reload the change causes
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)
