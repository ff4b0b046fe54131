"""The Stroomwijs demo's world in Home Assistant (demo only, not shipped by HACS).

``script/demo`` links this folder into the demo's configuration. It polls the
demo simulator's loopback API (``engine/simulate/demo_world.py``) and shows:

* ``sensor.demo_day_ahead_price``: day-ahead prices in the attribute format
  of the HACS Nord Pool sensor (``raw_today``, ``raw_tomorrow``; EUR/kWh);
* ``sensor.demo_pv_forecast``: a PV forecast in Forecast.Solar's format
  (``wh_hours``);
* what the simulated devices do (PV power, outdoor and room temperature,
  heat pump, boiler and washer power, the washer's programme state);
* ``switch.demo_washer_plug``: the washer's smart plug.

Configured in YAML only (``stroomwijs_demo: url: http://127.0.0.1:8099``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
import logging
from typing import Any

import aiohttp
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.discovery import async_load_platform
from homeassistant.helpers.typing import ConfigType
from homeassistant.helpers.update_coordinator import (
    DataUpdateCoordinator,
    UpdateFailed,
)
import voluptuous as vol

_LOGGER = logging.getLogger(__name__)

DOMAIN = "stroomwijs_demo"
CONF_URL = "url"
STATE_EVERY = timedelta(seconds=5)
FORECASTS_EVERY = timedelta(seconds=60)
TIMEOUT_S = 10

CONFIG_SCHEMA = vol.Schema(
    {DOMAIN: vol.Schema({vol.Required(CONF_URL): cv.url})}, extra=vol.ALLOW_EXTRA
)


@dataclass(slots=True)
class DemoData:
    """The simulator's state, prices and PV forecast."""

    state: dict[str, Any] = field(default_factory=dict)
    prices: dict[str, Any] = field(default_factory=dict)
    pv_forecast: dict[str, Any] = field(default_factory=dict)


class DemoWorldCoordinator(DataUpdateCoordinator[DemoData]):
    """Polls the world API: state every 5 s, prices and forecast every minute."""

    def __init__(self, hass: HomeAssistant, url: str) -> None:
        """Poll ``url`` (the simulator's API root)."""
        super().__init__(hass, _LOGGER, name=DOMAIN, update_interval=STATE_EVERY)
        self.url = url.rstrip("/")
        self.session = async_get_clientsession(hass)
        self._forecasts_at = 0.0
        self._data = DemoData()

    async def _get(self, path: str) -> dict[str, Any]:
        async with self.session.get(
            f"{self.url}{path}", timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)
        ) as resp:
            resp.raise_for_status()
            body = await resp.json()
        if not isinstance(body, dict):
            msg = f"{path}: expected a JSON object"
            raise UpdateFailed(msg)
        return body

    async def _async_update_data(self) -> DemoData:
        try:
            state = await self._get("/api/state")
            now = self.hass.loop.time()
            if not self._data.prices or now - self._forecasts_at >= (
                FORECASTS_EVERY.total_seconds()
            ):
                prices = await self._get("/api/prices")
                pv_forecast = await self._get("/api/pv_forecast")
                self._forecasts_at = now
                self._data = DemoData(state, prices, pv_forecast)
            else:
                self._data = DemoData(state, self._data.prices, self._data.pv_forecast)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            msg = f"demo simulator not reached: {err}"
            raise UpdateFailed(msg) from err
        return self._data

    async def async_washer_plug(self, *, on: bool) -> None:
        """Switch the washer's plug and refresh."""
        try:
            async with self.session.post(
                f"{self.url}/api/washer/plug",
                json={"on": on},
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            ) as resp:
                resp.raise_for_status()
        except (aiohttp.ClientError, TimeoutError) as err:
            msg = f"the washer's plug did not answer: {err}"
            raise UpdateFailed(msg) from err
        await self.async_request_refresh()


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Start polling and load the sensor and switch platforms."""
    coordinator = DemoWorldCoordinator(hass, config[DOMAIN][CONF_URL])
    await coordinator.async_refresh()
    hass.data[DOMAIN] = coordinator
    for platform in (Platform.SENSOR, Platform.SWITCH):
        hass.async_create_task(
            async_load_platform(hass, platform, DOMAIN, {}, config),
            eager_start=True,
        )
    return True
