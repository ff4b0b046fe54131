"""Build, start and stop one household for a config entry (see ``__init__.py``).

``__init__.py`` holds Home Assistant's entry points and imports this module
only inside them, so that importing the engine never imports Home Assistant.
Here the entry becomes the engine's ``HouseholdConfig``, Home Assistant
provides the household's ports, and the views entities use are made.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
import math
import ssl
from typing import Any, Final, Protocol, runtime_checkable

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
)
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util

from . import remote_household
from .adoption import async_follow_registry
from .charger import CHARGER_PLATFORMS, ChargerHub
from .const import CONF_FUSE_A, CONF_PHASES, DATA_DEMO_CLOCK, DOMAIN, LOGGER
from .coordinator import (
    DEFAULT_UPDATE_INTERVAL,
    MeterCoordinator,
    entity_meter_feed,
)
from .engine.gateway.client import ConnectionState, GatewayAddress, GatewayClient
from .engine.gateway.protocol import FEATURE_DEVICE_COMMANDS, PROTOCOL_VERSION
from .engine.grid import GridConnection
from .engine.household import (
    Household,
    HouseholdConfig,
    HouseholdConfigError,
    HouseholdPorts,
    NoReadingError,
)
from .engine.household.meter import AUTH_FAILURES
from .engine.household.runtime import Clock
from .engine.planner import Plan
from .entity_port import HassEntityPort
from .guard_glue import LimitsRuntime
from .household_glue import (
    HassStateStore,
    async_connect,
    follow_subentry_changes,
    household_config,
    reload_on_subentry_changes,
    subentry_ids,
)
from .issues import async_delete_issues
from .limit_services import async_setup_limit_services
from .load_pause import async_setup_load_pause
from .models import StroomwijsConfigEntry, StroomwijsRuntimeData
from .outdoor_forecast import async_follow_outdoor_forecast
from .remote_household import (
    CLIENT_NAME,
    CONF_GATEWAY,
    ISSUE_UNREACHABLE,
    ISSUE_VERSION,
    RemoteHousehold,
    RemoteMeterCoordinator,
)
from .services import async_setup_services

PLATFORMS: Final[list[Platform]] = [
    Platform.SENSOR,
    Platform.EVENT,
    Platform.SELECT,
    Platform.BUTTON,
    *CHARGER_PLATFORMS,
]
CONFIG_SCHEMA: Final = cv.config_entry_only_config_schema(DOMAIN)
TICK_INTERVAL: Final = timedelta(seconds=5)
WAKE_DELAY_S: Final = 0.6
MIN_TICK_S: Final = 0.5
"""Under the demo's accelerated clock, no faster ticks than this (wall clock)."""
MIN_WAKE_S: Final = 0.05
FIRST_CONNECT_S: Final = 30.0


async def async_setup_integration(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions (they work on whichever household is loaded)."""
    async_setup_services(hass)
    async_setup_limit_services(hass)
    await async_setup_load_pause(hass)
    return True


def _config(hass: HomeAssistant, entry: StroomwijsConfigEntry) -> HouseholdConfig:
    settings = {**entry.data, **entry.options}
    try:
        GridConnection(
            phases=int(settings[CONF_PHASES]), fuse_a=float(settings[CONF_FUSE_A])
        )
    except (KeyError, ValueError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_grid_connection",
            translation_placeholders={"error": str(err)},
        ) from err
    try:
        return household_config(hass, entry)
    except (KeyError, ValueError, HouseholdConfigError) as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="invalid_meter_settings",
            translation_placeholders={"error": str(err)},
        ) from err


def _ssl_context(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context


async def _async_ssl_context(
    hass: HomeAssistant, config: HouseholdConfig
) -> ssl.SSLContext | None:
    if not config.ocpp.certfile:
        return None
    try:
        return await hass.async_add_executor_job(
            _ssl_context, config.ocpp.certfile, config.ocpp.keyfile
        )
    except (OSError, ssl.SSLError) as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="ocpp_certificate",
            translation_placeholders={"error": str(err)},
        ) from err


class _Ticker:
    """Home Assistant ticks the household: every 5 s, and soon when it asks."""

    def __init__(
        self, hass: HomeAssistant, entry: StroomwijsConfigEntry, speed: float = 1.0
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.household: Household | None = None
        self._cancel: Callable[[], None] | None = None
        # Under the demo's accelerated clock the household is ticked as often
        # in simulated time as in real time (bounded on the wall clock).
        self.interval = (
            TICK_INTERVAL
            if speed <= 1.0
            else max(TICK_INTERVAL / speed, timedelta(seconds=MIN_TICK_S))
        )
        self.wake_delay_s = (
            WAKE_DELAY_S if speed <= 1.0 else max(WAKE_DELAY_S / speed, MIN_WAKE_S)
        )

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> Any:  # noqa: ANN401
        return self.entry.async_create_background_task(self.hass, coro, name)

    async def run_blocking(self, job: Any) -> Plan:  # noqa: ANN401 - the solver job
        result: Plan = await self.hass.async_add_executor_job(job)
        return result

    @callback
    def wake(self) -> None:
        if self._cancel is not None:
            return
        self._cancel = async_call_later(self.hass, self.wake_delay_s, self._tick_later)

    @callback
    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    @callback
    def _tick_later(self, _now: datetime) -> None:
        self._cancel = None
        self.spawn(self.tick(_now), f"{DOMAIN} tick")

    async def tick(self, _now: datetime) -> None:
        if self.household is not None:
            await self.household.async_tick(self.household.ports.clock())

    def start(self, household: Household) -> None:
        self.household = household
        self.entry.async_on_unload(self.cancel)
        self.entry.async_on_unload(
            async_track_time_interval(
                self.hass, self.tick, self.interval, name=f"{DOMAIN} household tick"
            )
        )


async def _async_start(household: Household) -> None:
    try:
        await household.async_start()
    except NoReadingError as err:
        if err.reason in AUTH_FAILURES:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="meter_auth_failed",
                translation_placeholders={"reason": err.reason},
            ) from err
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="meter_not_ready",
            translation_placeholders={"reason": err.reason},
        ) from err
    except OSError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="ocpp_port_in_use",
            translation_placeholders={"error": str(err)},
        ) from err


@runtime_checkable
class AcceleratedClock(Protocol):
    """The demo's clock (``engine/simulate/demo_clock.DemoClock``), as used here.

    (Shipped code never imports the simulators; the demo hands its clock over
    in ``hass.data[DATA_DEMO_CLOCK]``.)
    """

    speed: float

    def now(self) -> datetime:
        """Return the simulated time now (UTC)."""
        ...


def household_clock(hass: HomeAssistant) -> tuple[Clock, float]:
    """Return the household's clock and its speed: Home Assistant's, or the demo's.

    Only ``script/demo --speed`` puts a clock there (see ``DATA_DEMO_CLOCK``);
    anything there that is not a clock with a speed of 1 or more is ignored.
    """
    demo = hass.data.get(DATA_DEMO_CLOCK)
    if (
        isinstance(demo, AcceleratedClock)
        and math.isfinite(demo.speed)
        and demo.speed >= 1.0
    ):
        return demo.now, demo.speed
    return dt_util.utcnow, 1.0


async def async_build_household(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> StroomwijsRuntimeData:
    """Start the entry's household; raise what ``async_setup_entry`` reports."""
    built_from = subentry_ids(entry)
    config = _config(hass, entry)
    clock, speed = household_clock(hass)
    if speed != 1.0:
        LOGGER.warning(
            "Household %s runs on the demo's simulated clock, %g times real time",
            entry.title,
            speed,
        )
    ticker = _Ticker(hass, entry, speed)
    household = Household(
        config,
        HouseholdPorts(
            clock=clock,
            store=HassStateStore(hass, entry.entry_id),
            session=async_get_clientsession(hass),
            meter_feed=entity_meter_feed(hass, config.meter)
            if config.meter.source == "entities"
            else None,
            run_blocking=ticker.run_blocking,
            ssl_context=await _async_ssl_context(hass, config),
            spawn=ticker.spawn,
            wake=ticker.wake,
            entity_port=HassEntityPort(hass),
        ),
    )
    await _async_start(household)
    entry.async_on_unload(household.async_stop)
    ticker.start(household)
    runtime = StroomwijsRuntimeData(
        household=household,
        grid=household.grid,
        limits=LimitsRuntime(household),
        chargers=ChargerHub(household),
        meter=household.meter,
    )
    runtime.household_device_id = (
        dr.async_get(hass)
        .async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="Stroomwijs",
            model=f"Grid connection {household.grid}",
        )
        .id
    )
    if household.meter is not None and household.feed is not None:
        coordinator = MeterCoordinator(
            hass,
            entry,
            household.meter,
            household.feed,
            update_interval=config.meter.update_interval_s or DEFAULT_UPDATE_INTERVAL,
        )
        coordinator.async_start()
        entry.async_on_unload(coordinator.async_stop)
        runtime.meter_coordinator = coordinator
    async_connect(hass, entry, household, built_from)
    async_follow_registry(hass, entry)
    async_follow_outdoor_forecast(hass, entry, household)
    LOGGER.debug(
        "Household %s: limits %s, chargers %s",
        entry.title,
        [source.name for source in household.limits.stack.sources],
        list(household.chargers.handles),
    )
    return runtime


async def async_build_remote(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> StroomwijsRuntimeData:
    """Connect to the gateway that runs the entry's household (no household here).

    Raises ConfigEntryNotReady while the gateway cannot be reached at all;
    later losses make the entities unavailable and raise a repair issue
    (see ``remote_household.py``) while the gateway guards on its own.
    """
    built_from = subentry_ids(entry)
    config = _config(hass, entry)
    gateway = entry.data[CONF_GATEWAY]
    client = GatewayClient(
        async_get_clientsession(hass),
        GatewayAddress(
            host=str(gateway["host"]),
            port=int(gateway["port"]),
            token=str(gateway["token"]),
        ),
        client_name=f"{CLIENT_NAME}/{PROTOCOL_VERSION}",
        protocols=remote_household.PROTOCOLS,
    )
    remote = RemoteHousehold(hass, entry, config, client)
    remote.async_follow_entities()
    client.start()
    state = await client.async_wait_first_try(FIRST_CONNECT_S)
    if state != ConnectionState.CONNECTED:
        error = client.error or state  # (stopping the client forgets it)
        await client.async_stop()
        # Say why at once (Home Assistant retries the set-up by itself).
        remote.create_issue(
            ISSUE_VERSION
            if state == ConnectionState.VERSION_MISMATCH
            else ISSUE_UNREACHABLE,
            error=error,
        )
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="gateway_not_ready",
            translation_placeholders={
                "gateway": f"{client.address.host}:{client.address.port}",
                "error": error,
            },
        )
    entry.async_on_unload(client.async_stop)
    if config.meter.source != "none":
        # After a push the gateway restarts its household: wait for its first
        # reading, so the meter sensors are made as in-process.
        await remote.async_wait_for_reading(FIRST_CONNECT_S)
    runtime = StroomwijsRuntimeData(
        household=None,
        grid=remote.grid,
        limits=remote,
        chargers=ChargerHub(None, remote.chargers),
        remote=remote,
    )
    runtime.household_device_id = (
        dr.async_get(hass)
        .async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={(DOMAIN, entry.entry_id)},
            name=entry.title,
            manufacturer="Stroomwijs",
            model=f"Grid connection {remote.grid}",
        )
        .id
    )
    remote.async_connect()
    if FEATURE_DEVICE_COMMANDS in client.features:
        # A heat pump, boiler or appliance goes in or out of the gateway's
        # running household; a charger or limit added or removed reloads,
        # which sends the document.
        follow_subentry_changes(hass, entry, remote, built_from)
    else:
        # An add-on without add_device/remove_device: every change reloads.
        reload_on_subentry_changes(hass, entry, built_from)
    meter = RemoteMeterCoordinator(
        hass,
        entry,
        remote,
        update_interval=config.meter.update_interval_s or DEFAULT_UPDATE_INTERVAL,
    )
    meter.async_start()
    runtime.meter_coordinator = meter
    return runtime


async def async_remove_household(hass: HomeAssistant, entry_id: str) -> None:
    """Delete what a removed household left behind: its state and repairs."""
    await HassStateStore(hass, entry_id).async_remove()
    async_delete_issues(hass, entry_id)  # the gateway's issues too
