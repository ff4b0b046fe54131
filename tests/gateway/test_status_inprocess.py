"""The status page in-process: who it answers, and each kind of device row.

``test_status_page.py`` drives the page of a gateway process with a charger;
here the page serves an in-process gateway whose thermostat and boilers are
Home Assistant entities (simulated, relayed over the real API), so the rows
for drivers (on/off, running/idle, temperature, unavailable) are checked.
"""

from __future__ import annotations

from datetime import UTC, datetime
import ipaddress
import json
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import aiohttp
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
import pytest

from custom_components.stroomwijs.engine.gateway.api import GatewayApi
from custom_components.stroomwijs.engine.gateway.ingress import (
    SUPERVISOR_INGRESS,
    StatusPage,
)
from custom_components.stroomwijs.engine.gateway.service import (
    Gateway,
    GatewayOptions,
    write_config,
)
from custom_components.stroomwijs.engine.household import HouseholdConfig
from custom_components.stroomwijs.engine.simulate.boiler import (
    BoilerPlugSim,
    TankSim,
    WaterHeaterSim,
)
from custom_components.stroomwijs.engine.simulate.thermal import (
    ClimateEntitySim,
    HeatPumpUnit,
    ThermalHouse,
)

from .test_entity_drivers import ENTITIES, api, p1  # noqa: F401 - fixtures
from .test_entity_relay import FakeHomeAssistant, _until


def _now() -> datetime:
    return datetime.now(UTC)


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def _status(page: StatusPage) -> dict[str, Any]:
    status, text = await _get(f"http://127.0.0.1:{page.port}/api/status")
    assert status == 200
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    """Return a gateway that has not started its household."""
    config = HouseholdConfig(name="Page")
    path = tmp_path / "household.yaml"
    write_config(path, config)
    return Gateway(GatewayOptions(config_path=path, state_dir=tmp_path), config)


async def test_before_the_household_runs_only_the_gateway_is_shown(
    gateway: Gateway,
) -> None:
    """No household yet: the gateway's state, and household null."""
    page = StatusPage(gateway, host="127.0.0.1", port=0, allowed=("127.0.0.1",))
    await page.async_start()
    try:
        assert page.port != 0
        data = await _status(page)
        assert data["household"] is None
        assert data["gateway"]["household"] == "Page"
        assert data["gateway"]["state"] == "starting"
    finally:
        await page.async_stop()
    await page.async_stop()  # twice is harmless


async def test_other_peers_are_refused(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the proxy's address is answered; 403 for loopback by default."""
    page = StatusPage(gateway, host="127.0.0.1", port=0)
    assert page.allowed == {ipaddress.ip_address(SUPERVISOR_INGRESS)}
    await page.async_start()
    try:
        for path in ("", "api/status", "nothing"):
            status, body = await _get(f"http://127.0.0.1:{page.port}/{path}")
            assert (status, body) == (403, "forbidden")
    finally:
        await page.async_stop()
    assert "Status page request from 127.0.0.1 refused" in caplog.text


async def test_a_peer_without_an_address_is_refused(gateway: Gateway) -> None:
    """A request whose peer is no IP address (a socket file) is refused."""
    page = StatusPage(gateway, host="127.0.0.1", port=0, allowed=("127.0.0.1",))
    transport = Mock()
    transport.get_extra_info.return_value = None
    request = make_mocked_request("GET", "/api/status", transport=transport)
    assert request.remote is None
    answered: list[web.Request] = []

    async def handler(request: web.Request) -> web.Response:
        answered.append(request)
        return web.Response()

    with pytest.raises(web.HTTPForbidden):
        await page._only_the_proxy(request, handler)
    assert not answered


async def test_a_taken_port_is_an_os_error(gateway: Gateway) -> None:
    """A second page on the same port fails to start; the first still serves."""
    first = StatusPage(gateway, host="127.0.0.1", port=0, allowed=("127.0.0.1",))
    await first.async_start()
    try:
        second = StatusPage(
            gateway, host="127.0.0.1", port=first.port, allowed=("127.0.0.1",)
        )
        with pytest.raises(OSError, match="address already in use"):
            await second.async_start()
        await second.async_stop()
        assert (await _status(first))["household"] is None
    finally:
        await first.async_stop()


def test_an_allowed_peer_must_be_an_address(gateway: Gateway) -> None:
    """A host name in ``allowed`` is refused when the page is made."""
    with pytest.raises(ValueError, match=r"proxy\.local"):
        StatusPage(gateway, host="127.0.0.1", port=0, allowed=("proxy.local",))


async def test_driver_rows_follow_the_entities(api: GatewayApi) -> None:  # noqa: F811
    """Thermostat, water heater and plug boiler: state, power, temperature."""
    home = FakeHomeAssistant(ids=ENTITIES, relays=False)
    unit = HeatPumpUnit(
        ThermalHouse(indoor_c=20.5, outdoor_c=5.0), clock=_now, target_c=20.5
    )
    ClimateEntitySim(home.entities, unit)
    heater_tank = TankSim(clock=_now, temperature_c=50.0, thermostat_c=55.0)
    WaterHeaterSim(home.entities, heater_tank, power_sensor="sensor.heater_power")
    plug_tank = TankSim(clock=_now, temperature_c=55.0, thermostat_c=60.0)
    plug_tank.supply_on = True
    BoilerPlugSim(home.entities, plug_tank)
    page = StatusPage(api.gateway, host="127.0.0.1", port=0, allowed=("127.0.0.1",))
    await page.async_start()
    await _until(lambda: api.gateway.household is not None)
    try:
        # Home Assistant not connected yet: every driver unavailable, no state.
        rows = {d["name"]: d for d in (await _status(page))["household"]["devices"]}
        assert set(rows) == {"Thermostat", "Water heater", "Plug boiler"}
        assert all(not r["available"] and r["state"] is None for r in rows.values())
        assert all(r["soc_pct"] is None and r["limit_w"] is None for r in rows.values())

        home.start(api.port)
        household = api.gateway.household
        assert household is not None
        await _until(
            lambda: all(d.available for d in household.devices.drivers.values())
        )
        drivers = household.devices.drivers
        data = (await _status(page))["household"]
        rows = {d["name"]: d for d in data["devices"]}
        assert data["name"] == "Entities"
        assert data["plan_devices"] == ["hp", "heater", "plug"]
        for device_id, driver in drivers.items():
            row = rows[driver.name]
            assert row["available"]
            is_on = getattr(driver, "is_on", None)
            if is_on is not None:
                assert row["state"] == ("on" if is_on else "off"), device_id
            elif driver.power_w is not None:
                expected = "running" if driver.power_w > 20 else "idle"
                assert row["state"] == expected, device_id
            else:
                assert row["state"] is None, device_id
            temperature = getattr(driver, "temperature_c", None)
            assert row["temperature_c"] == (
                None if temperature is None else pytest.approx(temperature, abs=0.01)
            )
        assert rows["Plug boiler"]["state"] == "on"
        assert rows["Water heater"]["temperature_c"] == pytest.approx(50.0, abs=1.0)
    finally:
        await page.async_stop()
        if home.client is not None:
            await home.disconnect()
