"""The hand-over flow (``async_step_hassio``) against a real gateway process."""

# ruff: noqa: S106

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from homeassistant.config_entries import (
    SOURCE_HASSIO,
    ConfigEntryState,
    ConfigSubentry,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import yaml

from custom_components.stroomwijs import gateway_flow, remote_household
from custom_components.stroomwijs.config_flow import StroomwijsConfigFlow
from custom_components.stroomwijs.const import CONF_FUSE_A, CONF_PHASES, DOMAIN
from custom_components.stroomwijs.remote_household import CONF_GATEWAY
from tests.gateway.conftest import GatewayProcess, free_port

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[GatewayProcess]:
    """Run a gateway process with an empty household (no meter, no chargers)."""
    document = tmp_path / "household.yaml"
    document.write_text(
        yaml.safe_dump({"version": 1, "name": "Empty"}), encoding="utf-8"
    )
    process = GatewayProcess(
        config=document, state_dir=tmp_path / "state", log=tmp_path / "gateway.log"
    )
    await process.start()
    yield process
    await process.terminate()


def _info(
    gateway: GatewayProcess | None = None,
    *,
    slug: str = "a0d7b954_stroomwijs",
    **config: Any,  # noqa: ANN401
) -> HassioServiceInfo:
    found: dict[str, Any] = {}
    if gateway is not None:
        found = {"host": "127.0.0.1", "port": gateway.api_port, "token": gateway.token}
    return HassioServiceInfo(
        config={**found, **config},
        name="Stroomwijs gateway",
        slug=slug,
        uuid="0123456789abcdef",
    )


def _household(
    hass: HomeAssistant,
    title: str = "Thuis",
    **data: Any,  # noqa: ANN401
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        data={CONF_PHASES: 3, CONF_FUSE_A: 25.0, **data},
    )
    entry.add_to_hass(hass)
    return entry


async def _discover(hass: HomeAssistant, info: HassioServiceInfo) -> Any:  # noqa: ANN401
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_HASSIO}, data=info
    )


async def test_another_addon_is_refused(hass: HomeAssistant) -> None:
    """Only the Stroomwijs add-on's announcement is taken."""
    _household(hass)
    result = await _discover(
        hass, _info(slug="core_mosquitto", host="h", port=1, token="t")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_stroomwijs_addon"
    assert gateway_flow.is_stroomwijs_addon("stroomwijs")
    assert gateway_flow.is_stroomwijs_addon("local_stroomwijs")
    assert not gateway_flow.is_stroomwijs_addon("local_stroomwijs_fake")


@pytest.mark.parametrize(
    "config",
    [
        {"port": 8766, "token": "t"},
        {"host": "", "port": 8766, "token": "t"},
        {"host": "h", "port": 8766},
        {"host": "h", "port": "8766", "token": "t"},
        {"host": "h", "port": True, "token": "t"},
        {"host": "h", "port": 70000, "token": "t"},
        {"host": "h", "port": 0, "token": "t"},
    ],
)
async def test_an_unusable_announcement_is_refused(
    hass: HomeAssistant, config: dict[str, Any]
) -> None:
    """No address or token that can work: nothing is offered."""
    _household(hass)
    result = await _discover(hass, _info(**config))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery"


async def test_without_a_household_the_user_sets_one_up_first(
    hass: HomeAssistant,
) -> None:
    """There is nothing to move yet."""
    result = await _discover(hass, _info(host="h", port=8766, token="t"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "household_first"


async def test_errors_are_shown_and_the_user_can_try_again(
    hass: HomeAssistant, gateway: GatewayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused token, a version skew and a closed port each say so."""
    entry = _household(hass)
    wrong = _info(gateway)
    wrong.config["token"] = "x" * 43
    result = await _discover(hass, wrong)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "hassio_confirm"
    assert result["description_placeholders"] == {
        "addon": "Stroomwijs gateway",
        "gateway": f"127.0.0.1:{gateway.api_port}",
        "reason": "",
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"household": entry.entry_id}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    hass.config_entries.flow.async_abort(result["flow_id"])

    monkeypatch.setattr(remote_household, "PROTOCOLS", (99,))
    result = await _discover(hass, _info(gateway))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"household": entry.entry_id}
    )
    assert result["errors"] == {"base": "version_mismatch"}
    hass.config_entries.flow.async_abort(result["flow_id"])
    monkeypatch.undo()

    closed = _info(host="127.0.0.1", port=free_port(), token="t" * 43)
    result = await _discover(hass, closed)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"household": entry.entry_id}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert CONF_GATEWAY not in entry.data


async def test_a_household_gone_while_asking(
    hass: HomeAssistant, gateway: GatewayProcess
) -> None:
    """The chosen household was removed meanwhile; with none left the flow ends."""
    first = _household(hass, "Thuis")
    second = _household(hass, "Schuur")
    result = await _discover(hass, _info(gateway))
    assert result["type"] is FlowResultType.FORM
    await hass.config_entries.async_remove(second.entry_id)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"household": second.entry_id}
    )
    assert result["errors"] == {"household": "household_gone"}
    await hass.config_entries.async_remove(first.entry_id)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"household": first.entry_id}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "household_first"


async def test_confirm_without_an_announcement_ends(hass: HomeAssistant) -> None:
    """The confirm step on its own has nothing to confirm."""
    flow = StroomwijsConfigFlow()
    flow.hass = hass
    result = await flow.async_step_hassio_confirm()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_discovery"


async def test_a_household_in_the_gateway_only_gets_a_new_token(
    hass: HomeAssistant, gateway: GatewayProcess
) -> None:
    """Announced again: same token nothing changes; a new token is stored."""
    entry = _household(
        hass,
        **{
            CONF_GATEWAY: {
                "host": "127.0.0.1",
                "port": gateway.api_port,
                "token": gateway.token,
            }
        },
    )
    result = await _discover(hass, _info(gateway))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.state is ConfigEntryState.NOT_LOADED

    old = _info(gateway)
    entry_data = dict(entry.data)
    entry_data[CONF_GATEWAY] = {**entry.data[CONF_GATEWAY], "token": "old" * 15}
    hass.config_entries.async_update_entry(entry, data=entry_data)
    result = await _discover(hass, old)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_GATEWAY]["token"] == gateway.token
    await hass.async_block_till_done()
    # The reload connected with the new token.
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.remote is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_household_the_gateway_cannot_run_stays(
    hass: HomeAssistant, gateway: GatewayProcess
) -> None:
    """A meter read through HA's entities cannot move, nor a broken household.

    (Devices on HA's entities can: the gateway has them relayed, see
    ``test_gateway_entities.py``.)
    """
    entities_meter = _household(
        hass, "Entiteiten", source="entities", power_entity="sensor.grid_power"
    )
    broken = _household(hass, "Kapot")
    hass.config_entries.async_update_entry(broken, data={CONF_PHASES: 3})
    toaster = _household(hass, "Broodrooster")
    hass.config_entries.async_add_subentry(
        toaster,
        ConfigSubentry(
            data={"driver": {"driver": "toaster"}},
            subentry_type="device",
            title="Toaster",
            unique_id=None,
        ),
    )
    result = await _discover(hass, _info(gateway))
    for entry, words in (
        (entities_meter, "entities"),
        (broken, "fuse_a"),
        (toaster, "cannot be built"),
    ):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"household": entry.entry_id}
        )
        assert result["errors"] == {"household": "not_in_gateway"}
        assert words in result["description_placeholders"]["reason"]
        assert CONF_GATEWAY not in entry.data
