"""The gateway service in-process: documents on disk, TLS, commands and errors.

The household runs in this event loop behind its real API (WebSocket on a
free loopback port); commands go over that socket as the integration sends
them, and the replies' codes are what the integration shows the user.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import socket
import ssl
import stat
from typing import Any

import pytest
import yaml

from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    GatewayState,
    HostSettings,
    read_config,
    ssl_context_for,
    write_config,
)
from custom_components.stroomwijs.engine.household import (
    HouseholdConfig,
    HouseholdConfigError,
)
from tests.tls import self_signed_certificate

from .conftest import ApiClient, api_client, free_port, household_document

TOKEN = "s" * 43


def _config(**changes: Any) -> HouseholdConfig:  # noqa: ANN401
    document = household_document(p1_port=None, ocpp_port=free_port(), name="Svc")
    document.update(changes)
    return HouseholdConfig.from_dict(document)


@contextlib.asynccontextmanager
async def _serving(
    tmp_path: Path,
    config: HouseholdConfig,
    **options: Any,  # noqa: ANN401
) -> AsyncIterator[tuple[Gateway, ApiClient]]:
    """Run ``config``'s gateway and its API; yield it and a connected client."""
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(
        GatewayOptions(config_path=path, state_dir=tmp_path, **options), config
    )
    api = GatewayApi(gateway, TOKEN, host="127.0.0.1", port=0)
    await api.async_start()
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    try:
        async with api_client(
            f"ws://127.0.0.1:{api.port}/api/websocket", TOKEN
        ) as client:
            yield gateway, client
    finally:
        stop.set()
        await task
        await api.async_stop()


async def _until(check: Callable[[], bool], limit_s: float = 30.0) -> None:
    async with asyncio.timeout(limit_s):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _series(values: list[float], step: int = 15) -> dict[str, Any]:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return {"start": start.isoformat(), "step_minutes": step, "values": values}


# ------------------------------------------------------------ documents


def test_documents_round_trip_as_yaml_and_json(tmp_path: Path) -> None:
    """Written 0600, atomically; .json is JSON, anything else YAML."""
    config = _config()
    for name in ("household.yaml", "household.JSON"):
        path = tmp_path / name
        write_config(path, config)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_config(path) == config
    assert json.loads((tmp_path / "household.JSON").read_text())["name"] == "Svc"
    assert yaml.safe_load((tmp_path / "household.yaml").read_text())["name"] == "Svc"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "household.JSON",
        "household.yaml",
    ], "no temporary files left"


def test_a_document_over_a_megabyte_is_not_read(tmp_path: Path) -> None:
    """A huge file is refused before it is parsed."""
    path = tmp_path / "household.yaml"
    path.write_text("# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    with pytest.raises(HouseholdConfigError, match="larger than 1 MB"):
        read_config(path)


def test_a_failed_write_leaves_the_old_document(tmp_path: Path) -> None:
    """The target cannot be replaced: an error, and no temporary file stays."""
    target = tmp_path / "household.yaml"
    target.mkdir()  # a folder where the document should go
    with pytest.raises(OSError, match="Is a directory"):
        write_config(target, _config())
    assert [p.name for p in tmp_path.iterdir()] == ["household.yaml"]
    assert target.is_dir()


def test_host_settings_are_checked_and_applied() -> None:
    """The add-on's options replace the document's OCPP and serial settings."""
    with pytest.raises(ValueError, match="must be 0, 1 or 2"):
        HostSettings(ocpp_security_profile=3).check()
    settings = HostSettings(
        ocpp_host="0.0.0.0",  # noqa: S104
        ocpp_port=9100,
        ocpp_security_profile=2,
        ocpp_certfile="/ssl/c.pem",
        ocpp_keyfile="/ssl/k.pem",
        serial_port="/dev/ttyUSB1",
    )
    settings.check()
    serial = _config(meter={"source": "serial", "serial_port": "/dev/ttyUSB0"})
    applied = settings.apply(serial)
    assert applied.ocpp.port == 9100
    assert applied.ocpp.require_auth
    assert (applied.ocpp.certfile, applied.ocpp.keyfile) == ("/ssl/c.pem", "/ssl/k.pem")
    assert applied.meter.serial_port == "/dev/ttyUSB1"
    # Profile 1: authentication but no TLS files, whatever the document had.
    plain = HostSettings(ocpp_security_profile=1).apply(applied)
    assert plain.ocpp.require_auth
    assert plain.ocpp.certfile is None
    assert HostSettings().apply(serial) is serial


def test_tls_context_from_the_documents_files(tmp_path: Path) -> None:
    """Profile 2's certificate and key make a server context; none without."""
    cert, key = self_signed_certificate(tmp_path)
    assert ssl_context_for(_config()) is None
    host = HostSettings(
        ocpp_security_profile=2, ocpp_certfile=str(cert), ocpp_keyfile=str(key)
    )
    context = ssl_context_for(host.apply(_config()))
    assert isinstance(context, ssl.SSLContext)
    assert not context.check_hostname, "a server's context"
    swapped = HostSettings(
        ocpp_security_profile=2, ocpp_certfile=str(key), ocpp_keyfile=str(cert)
    )
    with pytest.raises(ssl.SSLError):
        ssl_context_for(swapped.apply(_config()))


# ------------------------------------------------------------ start failures


async def test_tls_files_that_cannot_be_used_are_reported_and_retried(
    tmp_path: Path,
) -> None:
    """Missing TLS files: not running, the reason in every refusal, retried."""
    host = HostSettings(
        ocpp_security_profile=2,
        ocpp_certfile=str(tmp_path / "missing.pem"),
        ocpp_keyfile=str(tmp_path / "missing.key"),
    )
    async with _serving(tmp_path, _config(), host=host, retry_first_s=0.05) as (
        gateway,
        client,
    ):
        await _until(lambda: gateway.state == GatewayState.RETRYING)
        assert gateway.error is not None
        assert gateway.error.startswith("the OCPP TLS files cannot be used")
        reply = await client.request("set_manual_limit", import_w=3000)
        assert reply["code"] == "not_running"
        assert "retrying: the OCPP TLS files cannot be used" in reply["message"]
        snapshot = (await client.request("get_snapshot"))["result"]
        assert snapshot["household"] is None
        assert snapshot["gateway"]["error"] == gateway.error
        # The document can still be read back, without its secrets.
        config = (await client.request("get_config"))["result"]
        assert config["name"] == "Svc"


async def test_a_taken_ocpp_port_is_reported_and_retried(tmp_path: Path) -> None:
    """The household cannot start its OCPP server: an error event, retried."""
    config = _config()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", config.ocpp.port))
        taken.listen()
        async with _serving(tmp_path, config, retry_first_s=0.05) as (gateway, client):
            await client.request("subscribe")
            event = await client.wait_for(
                lambda m: m["type"] == "event" and m["event"] == "household_error"
            )
            assert event["data"]["error"] == gateway.error
            assert gateway.error is not None
            assert "OSError" in gateway.error
            assert gateway.household is None
            await _until(lambda: gateway.state == GatewayState.RETRYING)
        # Freed: the next start succeeds (the retry loop keeps going).
    async with _serving(tmp_path, config) as (gateway, _client):
        await _until(lambda: gateway.state == GatewayState.RUNNING)
        assert gateway.error is None


async def test_a_meter_that_never_reads_is_retried_and_the_stop_is_prompt(
    tmp_path: Path,
) -> None:
    """No first reading in time: retried; a stop while waiting ends the start."""
    writers: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        writers.append(w)  # accepts, never sends a telegram

    dongle = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = dongle.sockets[0].getsockname()[1]
    config = _config(
        meter={
            "source": "network",
            "host": "127.0.0.1",
            "tcp_port": port,
            "dsmr_version": "5",
        }
    )
    try:
        async with _serving(
            tmp_path, config, first_reading_timeout=0.3, retry_first_s=30.0
        ) as (gateway, client):
            await client.request("subscribe")
            event = await client.wait_for(
                lambda m: m["type"] == "event" and m["event"] == "household_error"
            )
            assert gateway.state == GatewayState.RETRYING
            assert gateway.household is None
            assert event["data"]["error"] == gateway.error
            assert gateway.error is not None
            assert gateway.error.startswith("NoReadingError: ")
        # Waiting for a first reading (the default timeout) when the stop comes.
        path = tmp_path / "household.yaml"
        gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
        stop = asyncio.Event()
        task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
        try:
            await _until(lambda: len(writers) >= 2)
            await asyncio.sleep(0.2)
            assert gateway.state == GatewayState.STARTING
        finally:
            stop.set()
            async with asyncio.timeout(5):
                await task
        assert gateway.state == GatewayState.STOPPING
        assert gateway.household is None
    finally:
        for writer in writers:
            writer.close()
        dongle.close()
        await dongle.wait_closed()


async def test_a_failing_listener_does_not_stop_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One listener raising is logged; the others still hear every event."""
    config = _config()
    path = tmp_path / "household.yaml"
    write_config(path, config)
    gateway = Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)
    heard: list[str] = []

    def broken(_kind: str, _data: object) -> None:
        raise RuntimeError

    gateway.add_listener(broken)
    remove = gateway.add_listener(lambda kind, _data: heard.append(kind))
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(gateway.async_run(stop))
    await _until(lambda: gateway.state == GatewayState.RUNNING)
    stop.set()
    await task
    assert "event" in heard
    assert "changed" in heard
    assert "gateway listener failed" in caplog.text
    remove()
    count = len(heard)
    gateway._tell("changed", {})  # only the broken one
    assert len(heard) == count


# ------------------------------------------------------------ commands


async def test_charger_and_planner_commands(tmp_path: Path) -> None:
    """Every household command on a running household, good and bad."""
    async with _serving(tmp_path, _config()) as (gateway, client):
        await _until(lambda: gateway.state == GatewayState.RUNNING)
        household = gateway.household
        assert household is not None

        async def ok(kind: str, **fields: object) -> Any:  # noqa: ANN401
            reply = await client.request(kind, **fields)
            assert reply["type"] == "result", reply
            return reply["result"]

        async def refused(kind: str, **fields: object) -> dict[str, Any]:
            reply = await client.request(kind, **fields)
            assert reply["type"] == "error", reply
            return reply

        # Departure: nothing to set, an unknown car, then a real one.
        assert (await refused("set_departure", device_id="car"))["code"] == (
            "invalid_message"
        )
        unknown = await refused("set_departure", device_id="van", target_soc=0.8)
        assert unknown["code"] == "unknown_device"
        assert "no charger 'van'" in unknown["message"]
        departure = datetime.now(UTC) + timedelta(hours=9)
        assert (
            await ok(
                "set_departure",
                device_id="car",
                departure=departure.isoformat(),
                target_soc=0.8,
            )
            is None
        )
        handle = household.chargers.handles["car"]
        assert handle.device.departure.departure == departure
        assert handle.device.departure.target_soc == 0.8

        # V2G allowed and forbidden again.
        assert await ok("set_v2g", device_id="car", allowed=True) is None
        assert handle.device.v2g_allowed
        await ok("set_v2g", device_id="car", allowed=False)
        assert not handle.device.v2g_allowed

        # Overrides on a charger that is not connected (and no meter to guard
        # with, so they go to the charger at once): it is unavailable, said
        # as such, not as an internal error. Back to the plan needs nothing.
        for fields in ({"action": "boost"}, {"action": "pause"}):
            offline = await refused("set_override", device_id="car", **fields)
            assert offline["code"] == "device_unavailable", offline
            assert offline["message"] == "charger ev1 is offline"
        resumed = await ok("set_override", device_id="car", action="resume")
        assert resumed == {"device_id": "car", "override_w": None}

        # Mode, master switch, forecasts and prices.
        await ok("set_mode", mode="cheapest")
        assert household.mode == "cheapest"
        await ok("set_enabled", enabled=False)
        await ok("set_enabled", enabled=True)
        await ok("set_prices", prices=_series([0.2] * 96))
        await ok("set_pv_forecast", forecast=_series([500.0] * 96))
        await ok("set_pv_forecast", forecast=None)
        bad = await refused("set_prices", prices={"start": "then", "values": [1]})
        assert bad["code"] == "invalid_value"
        assert "prices" in bad["message"]
        await ok("set_outdoor_forecast", forecast=None)

        # No dim input in this household.
        dim = await refused("set_dim_input", on=True)
        assert (dim["code"], dim["message"]) == (
            "invalid_value",
            "no dim input is configured",
        )

        # A plan on request.
        plan = await ok("plan_now")
        assert plan["state"] in {"ok", "time_limit"}

        # Device commands for drivers: there are none here.
        missing = await refused("set_device_planned", device_id="car", planned=False)
        assert missing["code"] == "unknown_device"
        gone = await refused("remove_device", device_id="nothing")
        assert gone["code"] == "unknown_device"

        # A negative limit is refused by the message check.
        low = await refused("set_manual_limit", import_w=-5)
        assert low["code"] == "invalid_message"


async def test_pushed_documents_are_checked(tmp_path: Path) -> None:
    """A bad document, a missing secret, a wrong state version: refused."""
    async with _serving(tmp_path, _config()) as (gateway, client):
        await _until(lambda: gateway.state == GatewayState.RUNNING)
        document = gateway.config.to_dict()
        bad = dict(document, grid={"phases": 3, "fuse_a": -1})
        reply = await client.request("push_config", config=bad)
        assert reply["code"] == "invalid_config"
        assert "grid.fuse_a" in reply["message"]
        reply = await client.request(
            "push_config", config=document, state={"version": 999}
        )
        assert reply["code"] == "invalid_value"
        assert reply["message"].startswith("state: version must be")
        assert read_config(gateway.options.config_path) == gateway.config
