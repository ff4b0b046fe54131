"""The Stroomwijs demo's world in Home Assistant (demo only, not shipped by HACS).

``script/demo`` links this folder into the demo's configuration. It polls the
demo simulator's loopback API (``engine/simulate/demo_world.py``) and shows:

* ``sensor.demo_day_ahead_price``: day-ahead prices in the attribute format
  of the HACS Nord Pool sensor (``raw_today``, ``raw_tomorrow``; EUR/kWh);
* ``sensor.demo_pv_forecast``: a PV forecast in Forecast.Solar's format
  (``wh_hours``);
* what the simulated devices do (PV power, outdoor and room temperature,
  heat pump, boiler and washer power, the washer's programme state);
* ``switch.demo_washer_plug``: the washer's smart plug;
* ``sensor.demo_clock``: the demo's time (simulated under ``--speed``).

Configured in YAML only (``stroomwijs_demo: url: http://127.0.0.1:8099``).

**The accelerated clock** (``script/demo --speed N``): the demo runs Home
Assistant with the ``STROOMWIJS_DEMO_CLOCK`` environment variable. This
integration then puts that clock where Stroomwijs looks for the demo's clock
(``hass.data["stroomwijs_demo_clock"]``), so the Stroomwijs household runs on
the simulated time the devices run on, and polls the simulator as much more
often (bounded). A Stroomwijs entry set up before this integration (both start
at Home Assistant's start) is reloaded once Home Assistant has started, so it
runs on the demo clock too. Without the variable nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
import logging
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STARTED, Platform
from homeassistant.core import CoreState, Event, HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.discovery import async_load_platform
from homeassistant.helpers.typing import ConfigType
from homeassistant.helpers.update_coordinator import (
    DataUpdateCoordinator,
    UpdateFailed,
)
import voluptuous as vol

from custom_components.stroomwijs.const import (
    DATA_DEMO_CLOCK,
    DOMAIN as STROOMWIJS,
)
from custom_components.stroomwijs.engine.simulate.demo_clock import (
    DemoClock,
    DemoClockError,
)

_LOGGER = logging.getLogger(__name__)

DOMAIN = "stroomwijs_demo"
CONF_URL = "url"
STATE_EVERY = timedelta(seconds=5)
FORECASTS_EVERY = timedelta(seconds=60)
MIN_STATE_EVERY = timedelta(seconds=0.5)
"""Under ``--speed``: poll the devices no more often than this (wall clock)."""
MIN_FORECASTS_EVERY = timedelta(seconds=5)
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

    def __init__(self, hass: HomeAssistant, url: str, speed: float = 1.0) -> None:
        """Poll ``url`` (the simulator's API root), ``speed`` times as often."""
        super().__init__(
            hass,
            _LOGGER,
            name=DOMAIN,
            update_interval=max(STATE_EVERY / speed, MIN_STATE_EVERY),
        )
        self.forecasts_every = max(FORECASTS_EVERY / speed, MIN_FORECASTS_EVERY)
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
                self.forecasts_every.total_seconds()
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


def _install_clock(hass: HomeAssistant) -> DemoClock | None:
    """Give Stroomwijs the demo's clock when the demo runs accelerated."""
    try:
        clock = DemoClock.from_env()
    except DemoClockError:
        _LOGGER.exception("The demo clock is not valid; Stroomwijs runs in real time")
        return None
    if clock is None:
        return None
    hass.data[DATA_DEMO_CLOCK] = clock
    _LOGGER.warning(
        "Demo clock: simulated time %g times real time from %s; Stroomwijs "
        "runs on it, Home Assistant's own clock stays real",
        clock.speed,
        clock.start.isoformat(),
    )

    async def _reload_stale(_event: Event | None = None) -> None:
        # An entry that Home Assistant set up before this integration has the
        # real clock: reload it onto the demo's.
        for entry in hass.config_entries.async_entries(STROOMWIJS):
            if entry.state is not ConfigEntryState.LOADED:
                continue
            household = getattr(entry.runtime_data, "household", None)
            if household is None or household.ports.clock == clock.now:
                continue
            _LOGGER.warning("Reloading %s onto the demo clock", entry.title)
            await hass.config_entries.async_reload(entry.entry_id)

    if hass.state is CoreState.running:
        hass.async_create_task(_reload_stale(), eager_start=False)
    else:
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, _reload_stale)
    return clock


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Start polling and load the sensor and switch platforms."""
    clock = _install_clock(hass)
    coordinator = DemoWorldCoordinator(
        hass, config[DOMAIN][CONF_URL], clock.speed if clock is not None else 1.0
    )
    await coordinator.async_refresh()
    hass.data[DOMAIN] = coordinator
    for platform in (Platform.SENSOR, Platform.SWITCH):
        hass.async_create_task(
            async_load_platform(hass, platform, DOMAIN, {}, config),
            eager_start=True,
        )
    return True
