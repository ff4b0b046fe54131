"""The installer's path: limits, tariff, PV, devices, and profile import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigSubentryData
from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.stroomwijs.charger import (
    CONF_CHARGER_ID,
    CONF_KIND,
    CONF_OCPP_CERTFILE,
    CONF_OCPP_HOST,
    CONF_OCPP_KEYFILE,
    CONF_OCPP_PORT,
    KIND_OCPP,
    KIND_QUASAR,
    SUBENTRY_CHARGER,
)
from custom_components.stroomwijs.const import (
    CONF_CAPACITY_PRICE,
    CONF_ENERGY_TAX,
    CONF_FUSE_A,
    CONF_MARKUP,
    CONF_OPTIMISER_MODE,
    CONF_PHASES,
    CONF_PRICE_ENTITY,
    CONF_PV_ENTITY,
    CONF_VAT_PCT,
    DOMAIN,
)
from custom_components.stroomwijs.coordinator import (
    CONF_DSMR_VERSION,
    CONF_HOST,
    CONF_TCP_PORT,
    SOURCE_NETWORK,
)
from custom_components.stroomwijs.device_flow import CONF_DRIVER, SUBENTRY_DEVICE
from custom_components.stroomwijs.engine.household import (
    DeviceConfig,
    HouseholdConfig,
    HouseholdConfigError,
    LimitConfig,
    OcppServerConfig,
    TariffConfig,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.engine.simulate.vtn import SimVtn, gac_program
from custom_components.stroomwijs.guard_glue import CONF_GUARD_MARGIN_W
from custom_components.stroomwijs.household_glue import household_config
from custom_components.stroomwijs.limits_flow import (
    CONF_BUDGET_W,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_EAN,
    CONF_END,
    CONF_ENTITY,
    CONF_IMPORT_W,
    CONF_LABEL,
    CONF_LIMIT_KIND,
    CONF_START,
    CONF_URL,
    KIND_CAPACITY,
    KIND_DIM,
    KIND_OPENADR,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
)
from custom_components.stroomwijs.profile import (
    parse_profile,
    profile_settings,
    secret_owner,
)
from tests.engine.meter.telegrams import real

from .charger_support import ocpp_subentry, setup_loaded
from .p1_support import network_entry, p1_server

EAN = "871685900012345678"
NO_SETUP = "custom_components.stroomwijs.async_setup_entry"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _other_meter(_index: int) -> bytes:
    """Return a telegram of another meter than the real one (another equipment id)."""
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=800,
            phase_import_w=(800, 0, 0),
            phase_currents_a=(4, 0, 0),
            equipment_id="E0099887766554433",
        )
    )


async def _to_grid(hass: HomeAssistant, port: int, flow_id: str | None = None) -> Any:  # noqa: ANN401
    if flow_id is None:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
        flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": SOURCE_NETWORK}
    )
    assert result["step_id"] == SOURCE_NETWORK
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {CONF_HOST: "127.0.0.1", CONF_TCP_PORT: port, CONF_DSMR_VERSION: "5"},
    )
    assert result["step_id"] == "grid"
    return result


async def test_the_installer_walks_through_limits_tariff_pv_and_devices(
    hass: HomeAssistant,
) -> None:
    """Meter, grid, limits, tariff, PV, a charger: one household with all of it."""
    async with p1_server(_other_meter) as server:
        result = await _to_grid(hass, server.port)
        flow_id = result["flow_id"]
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
        )
    assert result["step_id"] == "limits"
    for bad in (
        {"window_start": "16:00"},
        {"window_start": "25:00", "window_end": "21:00", "window_import_w": "4000"},
        {"window_start": "16:00", "window_end": "21:00"},
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, bad)
        assert result["errors"] == {"base": "invalid_window"}, bad
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            "window_start": "16:00",
            "window_end": "21:00",
            "window_import_w": "4000",
            "capacity_tariff": True,
            "dim_entity": "binary_sensor.dim",
        },
    )
    assert result["step_id"] == "tariff"
    assert CONF_PV_ENTITY not in {str(key) for key in result["data_schema"].schema}
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {CONF_PRICE_ENTITY: "sensor.nordpool_kwh_nl_eur", CONF_MARKUP: 0.025},
    )
    assert result["step_id"] == "pv"
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_PV_ENTITY: "sensor.solcast_forecast_today"}
    )
    assert result["step_id"] == "devices"
    assert result["description_placeholders"]["url"].endswith(":9000/ocpp/")
    with patch(NO_SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_CHARGER_ID: " garage "}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry: ConfigEntry[Any] = result["result"]
    assert entry.options[CONF_PRICE_ENTITY] == "sensor.nordpool_kwh_nl_eur"
    assert entry.options[CONF_MARKUP] == 0.025
    assert entry.options[CONF_ENERGY_TAX] == 0.1228  # the default, as shown
    assert entry.options[CONF_PV_ENTITY] == "sensor.solcast_forecast_today"
    kinds = sorted(
        (sub.subentry_type, sub.data.get(CONF_LIMIT_KIND) or sub.data.get(CONF_KIND))
        for sub in entry.subentries.values()
    )
    assert kinds == [
        (SUBENTRY_CHARGER, KIND_OCPP),
        (SUBENTRY_GRID_LIMIT, KIND_CAPACITY),
        (SUBENTRY_GRID_LIMIT, KIND_DIM),
        (SUBENTRY_GRID_LIMIT, KIND_WINDOW),
    ]
    config = household_config(hass, entry)
    (window,) = [limit for limit in config.limits if limit.kind == "window"]
    assert (f"{window.start:%H:%M}", f"{window.end:%H:%M}", window.import_w) == (
        "16:00",
        "21:00",
        4000.0,
    )
    assert config.devices[0].charger_id == "garage"
    assert config.tariff.price_source == "sensor.nordpool_kwh_nl_eur"


async def test_every_installer_step_can_be_skipped(hass: HomeAssistant) -> None:
    """Empty limits, default tariff, no PV, no charger: a plain household."""
    async with p1_server(_other_meter) as server:
        result = await _to_grid(hass, server.port)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
        )
    for step in ("limits", "tariff", "pv"):
        assert result["step_id"] == step
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    with patch(NO_SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry: ConfigEntry[Any] = result["result"]
    assert not entry.subentries
    assert CONF_PRICE_ENTITY not in entry.options


def _comparable(config: HouseholdConfig) -> dict[str, Any]:
    """Return the document without the meter, its ids replaced by their order."""
    data = config.to_dict(include_secrets=True)
    data.pop("meter")
    ids: dict[str, str] = {}
    for section in ("limits", "devices"):
        for index, item in enumerate(data[section]):
            ids[item["id"]] = f"{section}{index}"
            item["id"] = ids[item["id"]]
    data["secrets"] = {
        ".".join(ids.get(part, part) for part in key.split(".")): value
        for key, value in data.get("secrets", {}).items()
    }
    return data


async def test_an_exported_profile_creates_the_same_household_elsewhere(
    hass: HomeAssistant,
) -> None:
    """Export with the action, import in the flow: the same household, new meter.

    The secrets the export leaves out are asked for; the document's errors
    name their field; this house's meter is connected and tested.
    """
    async with SimVtn() as vtn, p1_server([real("telegram_v5.txt")]) as first:
        vtn.add_program(gac_program("program-1"))
        source = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            version=1,
            minor_version=4,
            data=dict(network_entry(first).data),
            options={
                CONF_OCPP_HOST: "127.0.0.1",
                CONF_OCPP_PORT: 0,
                CONF_PRICE_ENTITY: "sensor.nordpool_kwh_nl_eur",
                CONF_PV_ENTITY: "sensor.solcast_forecast_today",
                CONF_VAT_PCT: 21,
                CONF_OPTIMISER_MODE: "cheapest",
                CONF_GUARD_MARGIN_W: 300,
            },
            subentries_data=[
                ocpp_subentry("garage", capacity_kwh=60, **{CONF_PASSWORD: "pw-1"}),
                ConfigSubentryData(
                    data={
                        CONF_LIMIT_KIND: KIND_WINDOW,
                        CONF_LABEL: "evening",
                        CONF_START: "16:00",
                        CONF_END: "21:00",
                        CONF_IMPORT_W: 4000.0,
                    },
                    subentry_type=SUBENTRY_GRID_LIMIT,
                    title="evening 16:00-21:00",
                    unique_id=None,
                ),
                ConfigSubentryData(
                    data={CONF_LIMIT_KIND: KIND_CAPACITY, CONF_BUDGET_W: 2500.0},
                    subentry_type=SUBENTRY_GRID_LIMIT,
                    title="Capacity tariff",
                    unique_id=KIND_CAPACITY,
                ),
                ConfigSubentryData(
                    data={
                        CONF_LIMIT_KIND: KIND_OPENADR,
                        CONF_URL: vtn.base_url,
                        CONF_CLIENT_ID: vtn.client_id,
                        CONF_CLIENT_SECRET: vtn.client_secret,
                        CONF_EAN: EAN,
                    },
                    subentry_type=SUBENTRY_GRID_LIMIT,
                    title=f"OpenADR {EAN}",
                    unique_id=f"openadr_{EAN}_{vtn.base_url}",
                ),
            ],
        )
        await setup_loaded(hass, source)
        exported = await hass.services.async_call(
            DOMAIN, "export_profile", {}, blocking=True, return_response=True
        )
        assert exported is not None
        text = str(exported["profile"])
        assert vtn.client_secret not in text
        assert "pw-1" not in text
        assert len(exported["secrets_left_out"]) == 2  # type: ignore[arg-type]
        original = household_config(hass, source)
        assert await hass.config_entries.async_unload(source.entry_id)

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    flow_id = result["flow_id"]
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"next_step_id": "import_profile"}
    )
    assert result["step_id"] == "import_profile"
    for bad, path in (
        ("grid:\n  phases: 4\n", "grid.phases"),
        ('{"limits": [{"kind": "window"}]}', "limits[0].id"),
        ("   ", "-"),
        ("grid: [unclosed", "-"),
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"profile": bad}
        )
        assert result["errors"] == {"base": "invalid_profile"}, bad
        assert result["description_placeholders"]["path"] == path, bad
        assert result["description_placeholders"]["message"]
    result = await hass.config_entries.flow.async_configure(flow_id, {"profile": text})
    asked: list[str] = []
    while result["step_id"] == "profile_secret":
        placeholders = result["description_placeholders"]
        asked.append(placeholders["name"])
        secret = "new-secret" if placeholders["key"].startswith("limits.") else "pw-1"
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"secret": secret}
        )
    assert sorted(asked) == sorted(["garage", f"OpenADR {EAN}"])
    assert result["type"] is FlowResultType.MENU  # now this house's meter
    async with p1_server(_other_meter) as second:
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"next_step_id": SOURCE_NETWORK}
        )
        suggested = {
            str(key): key.default() if callable(key.default) else None
            for key in result["data_schema"].schema
        }
        assert suggested[CONF_HOST] == "127.0.0.1"  # from the profile
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {
                CONF_HOST: "127.0.0.1",
                CONF_TCP_PORT: second.port,
                CONF_DSMR_VERSION: "5",
            },
        )
    assert result["step_id"] == "grid"
    with patch(NO_SETUP, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"name": "Thuis", CONF_PHASES: "3", CONF_FUSE_A: 25}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    imported: ConfigEntry[Any] = result["result"]
    copy = household_config(hass, imported)
    expected = _comparable(original)
    secrets = expected["secrets"]
    for key in secrets:
        if key.endswith("client_secret"):
            secrets[key] = "new-secret"  # what the installer typed
    assert _comparable(copy) == expected
    assert copy.meter.tcp_port != original.meter.tcp_port  # this house's meter


def test_profiles_read_json_and_name_what_a_secret_is_for() -> None:
    """JSON is read as JSON; an unknown secret key is named by its path."""
    config = parse_profile('{"name": "Huis", "grid": {"phases": 1, "fuse_a": 40}}')
    assert (config.name, config.grid.phases) == ("Huis", 1)
    assert secret_owner(config, "meter.encryption_key") == "meter.encryption_key"
    with pytest.raises(HouseholdConfigError) as err:
        parse_profile("")
    assert err.value.path == ""


def test_every_kind_of_limit_and_device_becomes_its_subentry() -> None:
    """Quasar, driver devices, dim inputs: as the subentry flows make them."""
    config = HouseholdConfig(
        ocpp=OcppServerConfig(
            enabled=True, port=9443, certfile="/ssl/cert.pem", keyfile="/ssl/key.pem"
        ),
        tariff=TariffConfig(capacity_eur_per_kw_month=4.4),
        limits=(
            LimitConfig(id="d", kind="dim", entity="binary_sensor.dim", devices=2),
            LimitConfig(id="c", kind="capacity"),
        ),
        devices=(
            DeviceConfig(id="q", kind="quasar", name="Oprit", host="10.0.0.9"),
            DeviceConfig(
                id="b",
                kind="driver",
                name="Boiler",
                driver={"driver": "boiler", "control": "switch"},
            ),
            DeviceConfig(id="x", kind="unknown", name="?"),
        ),
    )
    settings = profile_settings(config)
    subentries = {sub["title"]: sub for sub in settings.subentries}
    assert set(subentries) == {"Dim input", "Capacity tariff", "Oprit", "Boiler"}
    assert subentries["Dim input"]["data"][CONF_ENTITY] == "binary_sensor.dim"
    assert subentries["Capacity tariff"]["data"] == {CONF_LIMIT_KIND: KIND_CAPACITY}
    assert subentries["Oprit"]["data"][CONF_KIND] == KIND_QUASAR
    assert subentries["Oprit"]["unique_id"] == "quasar_10.0.0.9:502"
    assert subentries["Boiler"]["subentry_type"] == SUBENTRY_DEVICE
    assert subentries["Boiler"]["data"][CONF_DRIVER]["driver"] == "boiler"
    assert secret_owner(config, "devices.q.password") == "Oprit"
    assert secret_owner(config, "limits.d.client_secret") == "Dim input"
    assert settings.options[CONF_OCPP_PORT] == 9443
    assert settings.options[CONF_OCPP_CERTFILE] == "/ssl/cert.pem"
    assert settings.options[CONF_OCPP_KEYFILE] == "/ssl/key.pem"
    assert settings.options[CONF_CAPACITY_PRICE] == 4.4
    assert profile_settings(HouseholdConfig()).options.get(CONF_OCPP_PORT) is None
