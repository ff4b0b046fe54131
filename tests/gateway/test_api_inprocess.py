"""API behaviour that is quicker to check in-process: timeouts and limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

import aiohttp
import pytest

from custom_components.stroomwijs.engine.gateway.api import MAX_CLIENTS, GatewayApi
from custom_components.stroomwijs.engine.gateway.protocol import (
    CLOSE_HELLO_TIMEOUT,
    ProtocolError,
    validate,
)
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig

TOKEN = "k" * 43


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[GatewayApi]:
    """Run a gateway with an empty household and its API on a free port."""
    config = HouseholdConfig(name="In process")
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    api = GatewayApi(
        gateway, TOKEN, host="127.0.0.1", port=0, hello_timeout_s=0.3, queue_size=8
    )
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    yield api
    stop.set()
    await task
    await api.async_stop()


def _url(api: GatewayApi) -> str:
    return f"ws://127.0.0.1:{api.port}/api/websocket"


async def test_a_client_that_never_says_hello_is_closed(api: GatewayApi) -> None:
    """No hello within the timeout: closed with 4008, nothing sent before."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(
            _url(api), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == CLOSE_HELLO_TIMEOUT


async def test_at_most_sixteen_clients(api: GatewayApi) -> None:
    """The seventeenth connection is refused with 503; a freed slot is reused."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        sockets = []
        for _ in range(MAX_CLIENTS):
            ws = await session.ws_connect(_url(api), headers=headers)
            await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
            sockets.append(ws)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(_url(api), headers=headers)
        assert refused.value.status == 503
        await sockets.pop().close()
        for _ in range(50):
            if len(api.clients) < MAX_CLIENTS:
                break
            await asyncio.sleep(0.05)
        ws = await session.ws_connect(_url(api), headers=headers)
        await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
        welcome = json.loads((await ws.receive(timeout=5)).data)
        assert welcome["gateway"]["household"] == "In process"
        for other in [*sockets, ws]:
            with contextlib.suppress(Exception):
                await other.close()


async def test_commands_while_the_household_runs_in_process(api: GatewayApi) -> None:
    """The same gateway in-process: a limit set through the API is in force."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(_url(api), headers=headers)
        await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
        await ws.receive(timeout=5)
        for _ in range(50):
            if api.gateway.household is not None:
                break
            await asyncio.sleep(0.05)
        await ws.send_str(
            json.dumps({"v": 1, "id": 2, "type": "set_manual_limit", "import_w": 3000})
        )
        reply = json.loads((await ws.receive(timeout=5)).data)
        assert reply["result"]["limits"]["import_limit_w"] == 3000.0
        household = api.gateway.household
        assert household is not None
        assert household.limits.import_limit_w == 3000.0
        # The heat pumps' outdoor forecast, then none again; a bad one refused.
        forecast = {
            "start": "2026-01-14T12:00:00+00:00",
            "step_minutes": 60,
            "values": [-2.0, -3.5],
        }
        for sent, expected in ((forecast, (-2.0, -3.5)), (None, None)):
            await ws.send_str(
                json.dumps(
                    {"v": 1, "id": 3, "type": "set_outdoor_forecast", "forecast": sent}
                )
            )
            reply = json.loads((await ws.receive(timeout=5)).data)
            assert reply["type"] == "result", reply
            outdoor = household.outdoor_forecast
            assert (None if outdoor is None else outdoor.values) == expected
        await ws.send_str(
            json.dumps(
                {
                    "v": 1,
                    "id": 4,
                    "type": "set_outdoor_forecast",
                    "forecast": {**forecast, "step_minutes": 7},
                }
            )
        )
        reply = json.loads((await ws.receive(timeout=5)).data)
        assert reply["type"] == "error", reply
        await ws.close()


async def test_a_push_without_secrets_keeps_the_ones_in_force(tmp_path: Path) -> None:
    """Secrets left out of a pushed document are kept; missing new ones refused."""
    device = {
        "id": "car",
        "kind": "ocpp_charger",
        "name": "Car",
        "charger_id": "ev1",
        "password_required": True,
    }
    config = HouseholdConfig.from_dict(
        {
            "name": "Before",
            "devices": [device],
            "secrets": {"devices.car.password": "s3cret-password"},
        }
    )
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    pushed = {"version": 1, "name": "After", "devices": [device]}
    result = await gateway.async_command(
        validate({"v": 1, "type": "push_config", "config": pushed})
    )
    assert result == {"restarting": True, "name": "After"}
    on_disk = HouseholdConfig.from_yaml(path.read_text(encoding="utf-8"))
    assert on_disk.name == "After"
    assert on_disk.secret("devices.car.password") == "s3cret-password"
    assert path.stat().st_mode & 0o777 == 0o600
    second = {**device, "id": "van", "charger_id": "ev2"}
    with pytest.raises(ProtocolError) as refused:
        await gateway.async_command(
            validate(
                {
                    "v": 1,
                    "type": "push_config",
                    "config": {"version": 1, "devices": [device, second]},
                }
            )
        )
    assert refused.value.code == "invalid_config"
    assert "devices.van.password" in refused.value.message
    assert HouseholdConfig.from_yaml(path.read_text(encoding="utf-8")).name == "After"


async def test_a_client_that_does_not_keep_up_is_dropped(api: GatewayApi) -> None:
    """More pushes waiting than the queue holds: closed with 1013, others go on."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(_url(api), headers=headers)
        await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
        await ws.receive(timeout=5)
        await ws.send_str(json.dumps({"v": 1, "id": 2, "type": "subscribe"}))
        while json.loads((await ws.receive(timeout=5)).data).get("id") != 2:
            pass
        # A burst of events faster than the writer can send them (no await
        # in between, so the writer never runs): the queue overflows.
        for index in range(20):
            api._on_gateway("event", {"event": "test", "data": {"n": index}})
        closing = None
        async with asyncio.timeout(5):
            while closing is None or closing.type != aiohttp.WSMsgType.CLOSE:
                closing = await ws.receive()
        assert ws.close_code == 1013
        # The gateway serves the next client as before.
        ws = await session.ws_connect(_url(api), headers=headers)
        await ws.send_str(json.dumps({"v": 1, "type": "hello", "protocols": [1]}))
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"
        await ws.close()


async def test_a_push_with_state_hands_it_to_the_next_household(
    tmp_path: Path,
) -> None:
    """The state pushed with a document replaces the gateway's at the restart."""
    config = HouseholdConfig(name="Before")
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    try:
        async with asyncio.timeout(30):
            while gateway.household is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        with pytest.raises(ProtocolError) as refused:
            await gateway.async_command(
                validate(
                    {
                        "v": 1,
                        "type": "push_config",
                        "config": {"version": 1, "name": "After"},
                        "state": {"version": 99},
                    }
                )
            )
        assert refused.value.code == "invalid_value"
        now = datetime.now(UTC)
        state = {
            "version": 1,
            "manual": {
                "version": 1,
                "limit": {
                    "label": "handed over",
                    "import_w": 4200.0,
                    "export_w": None,
                    "start": (now - timedelta(minutes=5)).isoformat(),
                    "end": (now + timedelta(hours=1)).isoformat(),
                },
            },
        }
        await gateway.async_command(
            validate(
                {
                    "v": 1,
                    "type": "push_config",
                    "config": {"version": 1, "name": "After"},
                    "state": state,
                }
            )
        )
        async with asyncio.timeout(30):
            while gateway.household is None or gateway.restarts < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        household = gateway.household
        assert household.config.name == "After"
        assert household.limits.import_limit_w == 4200.0
        assert household.limits.import_source == "manual:handed over"
        assert gateway.restored.values["manual_limit"]["import_w"] == 4200.0
    finally:
        stop.set()
        await task
    # The state file now holds what the household saved on stop.
    saved = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    assert saved["manual"]["limit"]["import_w"] == 4200.0
