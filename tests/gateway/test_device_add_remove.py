"""add_device / remove_device: a heat pump comes and goes, the household stays.

An in-process gateway (its API on loopback) runs a household with a P1
meter and an OCPP charger; a "Home Assistant" on the real client relays the
SG-Ready pump's two relays (see ``test_entity_relay.py``). The pump is added
and removed through the API: the household object, its meter, its guard and
its charger stay the same, and the document on disk follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.client import GatewayError
from custom_components.stroomwijs.engine.gateway.protocol import (
    FEATURE_DEVICE_COMMANDS,
)
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    read_config,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig
from custom_components.stroomwijs.engine.simulate.homewizard_socket import fixed_load
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from custom_components.stroomwijs.engine.simulate.shelly import ShellySim

from .conftest import free_port, house_telegram
from .test_entity_relay import RELAYS, TOKEN, FakeHomeAssistant, _until

SHELLY_PASSWORD = "geheim-42"  # noqa: S105 - the simulated relay's
PUMP: dict[str, Any] = {
    "id": "hp",
    "kind": "driver",
    "name": "Warmtepomp",
    "driver": {
        "driver": "sg_ready",
        "relay_1_entity": RELAYS[0],
        "relay_2_entity": RELAYS[1],
        "spec": {"rated_power_w": 2000},
        "rules": {"min_between_changes": {"seconds": 1}},
    },
}


@pytest.fixture
async def p1() -> AsyncIterator[P1TelegramServer]:
    """Serve 1.5 kW of house load, a telegram every half second."""
    server = P1TelegramServer(lambda _i: house_telegram(1500.0), interval=0.5)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def api(tmp_path: Path, p1: P1TelegramServer) -> AsyncIterator[GatewayApi]:
    """Run a household with a meter and a charger in an in-process gateway."""
    config = HouseholdConfig.from_dict(
        {
            "version": 1,
            "name": "Hot",
            "meter": {
                "source": "network",
                "host": "127.0.0.1",
                "tcp_port": p1.port,
                "dsmr_version": "5",
            },
            "devices": [
                {"id": "car", "kind": "ocpp_charger", "name": "Car", "charger_id": "ev"}
            ],
            "ocpp": {"enabled": True, "host": "127.0.0.1", "port": free_port()},
            "optimiser": {"horizon_hours": 24, "time_limit_s": 5},
        }
    )
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0, snapshot_interval_s=0.2)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    yield api
    stop.set()
    await task
    await api.async_stop()


async def test_a_device_comes_and_goes_without_a_restart(  # noqa: PLR0915
    api: GatewayApi,
) -> None:
    """Added: driven at once; removed: handed back; nothing else restarts."""
    home = FakeHomeAssistant()
    for entity_id in RELAYS:
        home.entities.set_state(entity_id, "off")
    await _until(lambda: api.gateway.household is not None)
    gateway = api.gateway
    household = gateway.household
    assert household is not None
    meter, guard = household.meter, household.guard
    charger = household.chargers.handles["car"]
    restarts = gateway.restarts
    client = home.start(api.port)
    try:
        await _until(lambda: client.connected)
        assert FEATURE_DEVICE_COMMANDS in client.features

        added = await client.async_request("add_device", device=PUMP)
        assert added["device_id"] == "hp"
        assert added["available"] is True
        assert "hp" in household.devices.drivers
        assert any(gd.device_id == "hp" for gd in guard.devices)
        assert gateway.entities.used == set(RELAYS)
        on_disk = read_config(gateway.options.config_path)
        assert on_disk.device("hp") is not None
        assert on_disk.device("car") is not None
        # The gateway drives it: a block switches relay 1 through "HA".
        await asyncio.sleep(1.2)
        await client.async_request(
            "set_device_override", device_id="hp", mode="block", duration_min=30
        )
        assert home.relay(RELAYS[0]) == "on"

        # Refusals: not a driver, an id in use, a driver that cannot be.
        for device, code, words in (
            ({**PUMP, "id": "van", "kind": "ocpp_charger"}, "invalid_config", "kind"),
            (PUMP, "invalid_value", "already"),
            (
                {**PUMP, "id": "x", "driver": {"driver": "sg_ready"}},
                "invalid_config",
                "relay_1_entity",
            ),
            (
                {**PUMP, "id": "y", "driver": {"driver": "toaster"}},
                "invalid_config",
                "",
            ),
        ):
            with pytest.raises(GatewayError) as refused:
                await client.async_request("add_device", device=device)
            assert refused.value.code == code, refused.value
            assert words in refused.value.message
        with pytest.raises(GatewayError) as unknown:
            await client.async_request("remove_device", device_id="nope")
        assert unknown.value.code == "unknown_device"

        # Removed: the pump is handed back to its own rules (normal: both
        # relays off) once its minimum time between changes allows.
        await asyncio.sleep(1.2)
        removed = await client.async_request("remove_device", device_id="hp")
        assert removed == {"device_id": "hp", "removed": True}
        assert "hp" not in household.devices.drivers
        assert not any(gd.device_id == "hp" for gd in guard.devices)
        assert home.relay(RELAYS[0]) == "off"
        assert gateway.entities.used == set()
        assert read_config(gateway.options.config_path).device("hp") is None

        # The same household, meter, guard and charger all along.
        assert gateway.household is household
        assert (household.meter, household.guard) == (meter, guard)
        assert household.chargers.handles["car"] is charger
        assert gateway.restarts == restarts
        snapshot = await client.async_request("get_snapshot")
        assert snapshot["household"]["devices"] == []
        assert snapshot["household"]["meter"]["available"] is True
    finally:
        await home.disconnect()


async def test_a_shelly_with_a_password_is_added_with_its_secret(
    api: GatewayApi,
) -> None:
    """add_device carries the device's own secret; the relay answers with it.

    A Shelly whose RPC needs a password is built from the device and its
    ``devices.<id>.password``; the document on disk keeps the secret (the
    file is 0600), and a secret of another device is refused.
    """
    sim = ShellySim(fixed_load(900.0), power_on=True, password=SHELLY_PASSWORD)
    port = await sim.async_start()
    home = FakeHomeAssistant()
    device = {
        "id": "vaat",
        "kind": "driver",
        "name": "Vaatwasser",
        "password_required": True,
        "driver": {
            "driver": "shelly",
            "socket": {"host": "127.0.0.1", "port": port, "mac": sim.mac},
            "device": {"driver": "plug_appliance", "kind": "dishwasher"},
        },
    }
    await _until(lambda: api.gateway.household is not None)
    household = api.gateway.household
    assert household is not None
    client = home.start(api.port)
    try:
        await _until(lambda: client.connected)
        with pytest.raises(GatewayError) as refused:
            await client.async_request(
                "add_device",
                device=device,
                secrets={"devices.other.password": SHELLY_PASSWORD},
            )
        assert refused.value.code == "invalid_value"
        with pytest.raises(GatewayError) as missing:
            await client.async_request("add_device", device=device)
        assert "password" in missing.value.message
        added = await client.async_request(
            "add_device",
            device=device,
            secrets={"devices.vaat.password": SHELLY_PASSWORD},
        )
        assert added["available"] is True
        await _until(
            lambda: household.devices.drivers["vaat"].power_w == pytest.approx(900.0)
        )
        on_disk = read_config(api.gateway.options.config_path)
        assert on_disk.secret("devices.vaat.password") == SHELLY_PASSWORD
        assert sim.unauthorized >= 1  # the relay asked, and got the password
        # Removed: its secret goes with it (a document keeps no unused one).
        removed = await client.async_request("remove_device", device_id="vaat")
        assert removed == {"device_id": "vaat", "removed": True}
        on_disk = read_config(api.gateway.options.config_path)
        assert on_disk.device("vaat") is None
        assert not on_disk.secret("devices.vaat.password")
        assert api.gateway.config.device("vaat") is None
    finally:
        await home.disconnect()
        await sim.async_stop()
