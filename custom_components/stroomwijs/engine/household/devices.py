"""The household's heat pumps, boilers and appliances (the drivers' side).

A ``driver`` device in the household config carries the mapping that
``engine/drivers/factory.py`` reads (its ``driver`` key picks SG-Ready,
thermostat, Lambda, hybrid, boiler, plug or remote-start appliance).
``HouseholdDevices`` builds the drivers, puts them under the guard with the
priority their kind has, polls them, asks them for their planner input, and
keeps their state over a restart. Entity-backed drivers talk to the host
through its ``EntityPort`` (in Home Assistant: states and services).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from custom_components.stroomwijs.engine.drivers.appliance import (
    CycleState,
    PlugAppliance,
    RemoteStartAppliance,
)
from custom_components.stroomwijs.engine.drivers.boiler import Boiler
from custom_components.stroomwijs.engine.drivers.climate_setpoint import (
    ClimateSetpointHeatPump,
)
from custom_components.stroomwijs.engine.drivers.entities import EntityPort
from custom_components.stroomwijs.engine.drivers.factory import (
    ConfigError,
    Driver,
    ShellySetup,
    SocketSetup,
    build_driver,
    build_socket_driver,
    config_from_dict,
    driver_entity_ids,
    guard_role,
)
from custom_components.stroomwijs.engine.drivers.heat_pump_common import HeatLevel
from custom_components.stroomwijs.engine.drivers.hybrid_heat_pump import (
    HybridHeatPump,
)
from custom_components.stroomwijs.engine.drivers.lambda_heat_pump import (
    LambdaHeatPump,
)
from custom_components.stroomwijs.engine.drivers.metered_plug import MeteredPlug
from custom_components.stroomwijs.engine.drivers.sg_ready import SgReadyHeatPump
from custom_components.stroomwijs.engine.guard import GuardedDevice

from .config import DeviceConfig, HouseholdConfig

if TYPE_CHECKING:
    import aiohttp

_LOGGER = logging.getLogger(__name__)

POLL_INTERVAL: Final = timedelta(seconds=15)
UNPLANNED_KEY: Final = "_unplanned"
"""Where the saved state keeps the devices the user took out of the plan."""
DEFAULT_OUTDOOR_C: Final = 10.0
OVERRIDES_KEY: Final = "_overrides"
"""Where the saved state keeps the user's boosts and blocks."""
OVERRIDE_MODES: Final = ("boost", "block")
MAX_OVERRIDE: Final = timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceOverride:
    """The user's boost or block of a heat pump or boiler, until a time."""

    mode: str
    """``boost`` (run at full power) or ``block`` (off)."""
    setpoint_w: float
    until: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return the override as JSON-safe data."""
        return {
            "mode": self.mode,
            "setpoint_w": self.setpoint_w,
            "until": self.until.isoformat(),
        }


class OverrideRefusedError(ValueError):
    """A boost or block the device's own rules forbid now.

    ``reason`` is a code a host translates (``max_blocks``, ``block_time``,
    ``too_soon``, ``manual_hold``, ``tank``, ``unavailable``, ``not_heating``,
    ``no_boost``, ``duration``, ``mode``); ``details`` fill in its text.
    """

    def __init__(self, code: str, message: str, **details: str) -> None:
        """Keep the code, an English message and the details."""
        super().__init__(message)
        self.reason = code
        self.details = details


def _heat_pump_of(driver: Driver) -> object:
    return driver.heat_pump if isinstance(driver, HybridHeatPump) else driver


def override_setpoint_w(driver: Driver) -> float:
    """Return the power a boost asks of a heat pump or boiler."""
    inner = _heat_pump_of(driver)
    if isinstance(inner, Boiler):
        return inner.config.power_w
    if isinstance(inner, SgReadyHeatPump | ClimateSetpointHeatPump | LambdaHeatPump):
        return inner.config.spec.max_w
    msg = f"{driver.name} is not a heat pump or boiler"
    raise OverrideRefusedError("not_heating", msg, device=driver.name)


def override_refusal(  # noqa: C901, PLR0911 - one rule after the other
    driver: Driver, mode: str, duration: timedelta, now: datetime
) -> OverrideRefusedError | None:
    """Return why the device's own rules forbid this boost or block now.

    The SG-Ready rules (a Lambda keeps the same ledger) hold for a manual
    block as for the guard's: at most so many blocks and so much blocked
    time a day, and a minimum time between mode changes. A thermostat set by
    hand keeps Stroomwijs away for its hold; a boiler that must heat (the
    tank's floor, the legionella run) cannot be blocked.
    """
    name = driver.name
    target = override_setpoint_w(driver)
    if not timedelta(minutes=1) <= duration <= MAX_OVERRIDE:
        msg = "an override lasts 1 min to 24 h"
        return OverrideRefusedError("duration", msg, device=name)
    if not driver.available:
        return OverrideRefusedError(
            "unavailable", f"{name} does not answer", device=name
        )
    inner = _heat_pump_of(driver)
    current = (
        None
        if isinstance(driver, PlugAppliance | RemoteStartAppliance)
        else driver.setpoint_w
    )
    changes = current is None or abs(current - (0.0 if mode == "block" else target)) > 1
    if isinstance(inner, Boiler):
        reason = inner.must_heat()
        if mode == "block" and reason is not None:
            return OverrideRefusedError(
                "tank", f"{name} must heat: {reason}", device=name, reason=reason
            )
        return None
    assert isinstance(  # noqa: S101 - override_setpoint_w refused the rest
        inner, SgReadyHeatPump | ClimateSetpointHeatPump | LambdaHeatPump
    )
    spec = inner.config.spec
    if mode == "boost" and spec.max_w <= spec.rated_power_w:
        msg = f"{name} has no boost level (no power while pre-heating is set)"
        return OverrideRefusedError("no_boost", msg, device=name)
    if isinstance(inner, ClimateSetpointHeatPump):
        hold = inner.manual_hold_until
        if hold is not None:
            msg = f"{name} was set by hand; Stroomwijs stays away until {hold}"
            return OverrideRefusedError(
                "manual_hold", msg, device=name, until=hold.isoformat()
            )
        pinned = inner.power_range.min_w == inner.power_range.max_w
        if changes and pinned:
            wait = f"{inner.config.min_between_changes.total_seconds() / 60:g}"
            msg = f"{name} changed less than {wait} min ago"
            return OverrideRefusedError("too_soon", msg, device=name, minutes=wait)
        return None
    assert isinstance(inner, SgReadyHeatPump | LambdaHeatPump)  # noqa: S101
    ledger, rules = inner.ledger, inner.ledger.rules
    blocks_used = ledger.blocks_today(now) >= rules.max_blocks_per_day
    if mode == "block" and not ledger.blocking and blocks_used:
        most = str(rules.max_blocks_per_day)
        msg = f"{name} was blocked {most} times today already"
        return OverrideRefusedError("max_blocks", msg, device=name, max=most)
    if mode == "block":
        left = ledger.remaining_block_time(now)
        if left < duration:
            rest = f"{left.total_seconds() / 60:.0f}"
            msg = f"{name} may be blocked {rest} min more today"
            return OverrideRefusedError("block_time", msg, device=name, minutes=rest)
    if changes and not ledger.can_change(now):
        wait = f"{rules.min_between_changes.total_seconds() / 60:g}"
        msg = f"{name} changed mode less than {wait} min ago"
        return OverrideRefusedError("too_soon", msg, device=name, minutes=wait)
    return None


type Clock = Any
PLUG_DRIVERS = frozenset({"homewizard_socket", "shelly"})
"""Drivers of a device on a networked plug: ``socket`` and ``device`` parts."""


def with_identity(data: Mapping[str, Any], device_id: str, name: str) -> dict[str, Any]:
    """Return a driver mapping with the household's id and name for the device.

    A hybrid keeps them in its ``hybrid`` part; its heat pump gets
    ``<id>_heat_pump`` and the same name unless its mapping names them.
    Every other driver keeps them at the top.
    """
    spec = {str(k): v for k, v in data.items()}
    if spec.get("driver") == "hybrid" and isinstance(spec.get("hybrid"), Mapping):
        spec["hybrid"] = {**spec["hybrid"], "device_id": device_id, "name": name}
        inner = spec.get("heat_pump")
        if isinstance(inner, Mapping):
            spec["heat_pump"] = {
                "device_id": f"{device_id}_heat_pump",
                "name": name,
                **inner,
            }
        return spec
    if spec.get("driver") in PLUG_DRIVERS and isinstance(spec.get("device"), Mapping):
        spec["device"] = {**spec["device"], "device_id": device_id, "name": name}
        return spec
    return {**spec, "device_id": device_id, "name": name}


def validate_driver(data: Mapping[str, Any], path: str) -> None:
    """Check one driver mapping; raises ConfigError naming the bad field."""
    config_from_dict(with_identity(data, "device", "device"), path)


def device_entity_ids(device: DeviceConfig) -> frozenset[str]:
    """Return the host's entities one ``driver`` device uses (none if unreadable)."""
    if device.kind != "driver":
        return frozenset()
    try:
        config = config_from_dict(
            with_identity(device.driver, device.id, device.name),
            f"devices.{device.id}.driver",
        )
    except ConfigError:
        return frozenset()  # the household refuses it and says why
    return driver_entity_ids(config)


def household_entity_ids(config: HouseholdConfig) -> frozenset[str]:
    """Return every host entity the household's driver devices read or call."""
    found: set[str] = set()
    for device in config.devices:
        found |= device_entity_ids(device)
    return frozenset(found)


def guarded_device(driver: Driver) -> GuardedDevice:
    """Return how the guard holds a driver: its kind's priority, phases, delay."""
    role = guard_role(driver)
    return GuardedDevice(
        device=driver,
        priority=role.priority,
        reaction_delay=role.reaction_delay,
        phases=role.phases,
        pause_allowed=True,
    )


def _close(driver: Driver) -> None:
    close = getattr(driver, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            _LOGGER.debug("closing %s failed", driver.name, exc_info=True)


async def _hand_back(driver: Driver) -> None:
    """Leave a device that Stroomwijs no longer drives to its own rules."""
    if isinstance(driver, PlugAppliance | RemoteStartAppliance):
        if driver.state is CycleState.INTERRUPTED:
            await driver.async_switch(True)  # noqa: FBT003 - resume the cycle
        return
    if isinstance(driver, Boiler):
        await driver.async_set_power(driver.config.power_w)
        return
    inner = driver.heat_pump if isinstance(driver, HybridHeatPump) else driver
    if isinstance(inner, ClimateSetpointHeatPump) and inner is driver:
        await inner.async_restore()
        return
    # The normal level: the pump follows its own controller (a hybrid: on
    # electricity, as without Stroomwijs).
    spec = inner.config.spec  # type: ignore[union-attr]
    normal = spec.rated_power_w
    if spec.level_for(normal) is not HeatLevel.NORMAL:
        normal = (spec.boost_above_w or spec.max_w) / 2
    await driver.async_set_power(normal)


class HouseholdDevices:
    """The household's driver devices."""

    def __init__(
        self,
        config: HouseholdConfig,
        *,
        port: EntityPort | None,
        clock: Clock,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """Build every driver device of ``config`` (ConfigError if one cannot be)."""
        self.drivers: dict[str, Driver] = {}
        self.sockets: dict[str, MeteredPlug] = {}
        """The devices on a networked plug (Energy Socket, Shelly), and their plug."""
        self.unplanned: set[str] = set()
        """Devices the user took out of the plan: they follow their own rules."""
        self.overrides: dict[str, DeviceOverride] = {}
        """The user's boosts and blocks in force (they win over the plan)."""
        self._clock = clock
        self._port = port
        self._session = session
        self.secrets: dict[str, str] = dict(config.secrets)
        """The household's secrets (a device's password is not in its mapping)."""
        self._polled: datetime | None = None
        self._was_available: dict[str, bool] = {}
        self.came_back: set[str] = set()
        self.availability_changed: dict[str, bool] = {}
        """Devices that went away or came back since the household last looked
        (device id -> available now): each is a reason to re-plan."""
        """Devices found answering again since the household last looked (it
        then gives them what they should be doing: they may have missed it)."""
        for device in config.devices:
            if device.kind == "driver":
                self.drivers[device.id] = self.build(device)

    def build(self, device: DeviceConfig) -> Driver:
        """Make the driver of one ``driver`` device (ConfigError if it cannot be).

        A device on a HomeWizard socket gets its socket in :attr:`sockets`.
        """
        spec = with_identity(device.driver, device.id, device.name)
        password = self.secrets.get(f"devices.{device.id}.password")
        if device.password_required:
            if not password:
                msg = f"devices.{device.id}: its password is not in the secrets"
                raise ConfigError(msg)
            socket = spec.get("socket")
            if isinstance(socket, Mapping):
                spec["socket"] = {**socket, "password": password}
        config = config_from_dict(spec, f"devices.{device.id}.driver")
        if isinstance(config, SocketSetup | ShellySetup):
            driver, socket = build_socket_driver(
                config, session=self._session, port=self._port, clock=self._clock
            )
            self.sockets[device.id] = socket
            return driver
        return build_driver(config, port=self._port, clock=self._clock)

    def guarded_devices(self) -> list[GuardedDevice]:
        """Return the drivers under the guard, in the priority of their kind."""
        return [guarded_device(driver) for driver in self.drivers.values()]

    async def async_start(self) -> None:
        """Start the drivers that need it (thermostats) and read every device once."""
        for device_id, driver in self.drivers.items():
            await self._async_start_one(device_id, driver)
        await self.async_poll(force=True)

    @staticmethod
    async def _async_start_one(device_id: str, driver: Driver) -> None:
        inner = driver.heat_pump if isinstance(driver, HybridHeatPump) else driver
        if isinstance(inner, ClimateSetpointHeatPump):
            try:
                await inner.async_start()
            except Exception:  # noqa: BLE001 - one device must not stop the home
                # Not there yet (its integration may still be loading): the
                # driver is unavailable and polling brings it in later.
                _LOGGER.info("%s is not available yet", device_id)

    async def async_stop(self) -> None:
        """Close the drivers' connections (Modbus)."""
        for driver in self.drivers.values():
            _close(driver)

    async def async_add(self, device: DeviceConfig) -> Driver:
        """Build, start and read one more device (ConfigError if it cannot be).

        The driver is only in :attr:`drivers` once it was built and read.
        """
        if device.id in self.drivers:
            msg = f"{device.id} is in the household already"
            raise ValueError(msg)
        driver = self.build(device)
        await self._async_start_one(device.id, driver)
        await self._async_poll_one(device.id, driver)
        self.drivers[device.id] = driver
        return driver

    async def async_remove(self, device_id: str) -> Driver:
        """Take a device out (KeyError if unknown) and leave it to itself.

        A thermostat gets the user's setpoint back, a boiler is switched on
        (its thermostat decides), a heat pump goes to its normal level, and an
        appliance's cycle that the guard interrupted is resumed; nothing that
        Stroomwijs held back stays held back. Then its connections close.
        """
        driver = self.drivers.pop(device_id)
        self.sockets.pop(device_id, None)
        self._was_available.pop(device_id, None)
        self.came_back.discard(device_id)
        self.availability_changed.pop(device_id, None)
        self.unplanned.discard(device_id)
        try:
            await _hand_back(driver)
        except Exception as err:  # noqa: BLE001 - it is going anyway
            _LOGGER.warning("%s could not be handed back: %s", driver.name, err)
        _close(driver)
        return driver

    def poll_soon(self) -> None:
        """Have the next ``async_poll`` read every device (the entities moved)."""
        self._polled = None

    async def async_poll(self, *, force: bool = False) -> None:
        """Read every device, at most every 15 s unless forced."""
        now = self._clock()
        if (
            not force
            and self._polled is not None
            and now - self._polled < POLL_INTERVAL
        ):
            return
        self._polled = now
        for device_id, driver in list(self.drivers.items()):
            await self._async_poll_one(device_id, driver)

    async def _async_poll_one(self, device_id: str, driver: Driver) -> None:
        socket = self.sockets.get(device_id)
        if socket is not None:
            await socket.async_refresh()  # never raises: it goes unavailable
        try:
            await driver.async_update()
        except Exception:  # a driver logs its own unavailability
            _LOGGER.debug("update of %s failed", device_id, exc_info=True)
        try:
            available = bool(driver.available)
        except Exception:  # noqa: BLE001 - a broken property: unavailable
            available = False
        before = self._was_available.get(device_id)
        if before is False and available:
            self.came_back.add(device_id)
        if before is not None and before != available:
            self.availability_changed[device_id] = available
        self._was_available[device_id] = available

    def power_kw(self) -> float:
        """Return what the driver devices draw now (kW; unknown counts 0)."""
        total = 0.0
        for driver in self.drivers.values():
            power = driver.power_w
            if power is not None:
                total += power / 1000.0
        return total

    def planner_inputs(
        self,
        *,
        start: datetime,
        slots: int,
        outdoor_c: Sequence[float] | None,
        notes: list[str],
    ) -> list[dict[str, Any]]:
        """Each device's planner input for ``slots`` quarter-hours from ``start``."""
        inputs: list[dict[str, Any]] = []
        outdoor = (
            list(outdoor_c) if outdoor_c is not None else [DEFAULT_OUTDOOR_C] * slots
        )
        for device_id, driver in self.drivers.items():
            if device_id in self.unplanned:
                notes.append(f"{driver.name}: not planned (switched off by the user)")
                continue
            override = self.overrides.get(device_id)
            if override is not None and override.until > start:
                notes.append(
                    f"{driver.name}: not planned (manual {override.mode} until "
                    f"{override.until.isoformat(timespec='minutes')})"
                )
                continue
            try:
                item = self._input(driver, start=start, slots=slots, outdoor=outdoor)
            except Exception as err:  # noqa: BLE001 - one device must not stop the plan
                notes.append(f"{driver.name}: left out of the plan ({err})")
                continue
            if item is not None:
                item["id"] = device_id
                inputs.append(item)
        if outdoor_c is None and any(
            not isinstance(d, Boiler | PlugAppliance | RemoteStartAppliance)
            for d in self.drivers.values()
        ):
            notes.append("no outdoor forecast: 10 °C assumed for the heat pump")
        return inputs

    @staticmethod
    def _input(
        driver: Driver, *, start: datetime, slots: int, outdoor: list[float]
    ) -> dict[str, Any] | None:
        if isinstance(driver, Boiler):
            return driver.planner_input(start=start, slots=slots)
        if isinstance(driver, PlugAppliance | RemoteStartAppliance):
            return driver.planner_input()
        if isinstance(driver, LambdaHeatPump):
            return driver.planner_input(outdoor, slots=slots)
        return driver.planner_input(outdoor)

    async def async_follow_plan(self, device_id: str, setpoint_w: float) -> bool:
        """Start an armed appliance in its planned slot; True if it is one.

        White goods are not set by the guard's plan following (it would switch
        a running plug off where the planned profile ends): the plan only
        starts them, and the appliance finishes its cycle.
        """
        driver = self.drivers.get(device_id)
        if not isinstance(driver, PlugAppliance | RemoteStartAppliance):
            return False
        if setpoint_w > 0 and driver.state is CycleState.ARMED:
            await driver.async_start()
        return True

    def appliance(self, device_id: str) -> PlugAppliance | RemoteStartAppliance:
        """Return the appliance ``device_id`` (KeyError if it is not one)."""
        driver = self.drivers.get(device_id)
        if not isinstance(driver, PlugAppliance | RemoteStartAppliance):
            raise KeyError(device_id)
        return driver

    async def async_run_before(self, device_id: str, finish_by: datetime) -> None:
        """Have the appliance's cycle done by ``finish_by``.

        An idle appliance is armed with that deadline (the user has loaded it
        and pressed start with the plug off); an armed one gets the new
        deadline. A running cycle cannot be moved: ValueError, like a
        deadline that has passed or carries no time zone. KeyError when
        ``device_id`` is not an appliance.
        """
        driver = self.appliance(device_id)
        if finish_by.tzinfo is None:
            raise ValueError("finish_by must carry a time zone")
        if finish_by <= self._clock():
            raise ValueError("the deadline has passed already")
        if driver.state is CycleState.ARMED:
            driver.set_deadline(finish_by)
            driver.events.append(f"done by {finish_by.isoformat()}")
            return
        if driver.state is not CycleState.IDLE:
            raise ValueError("a cycle is running; its deadline cannot change")
        await driver.async_arm(finish_by)

    async def async_arm(self, device_id: str) -> None:
        """Arm the appliance with its default deadline (see ``async_run_before``)."""
        driver = self.appliance(device_id)
        if driver.state is CycleState.ARMED:
            return
        if driver.state is not CycleState.IDLE:
            raise ValueError("a cycle is running; it cannot be armed again")
        await driver.async_arm()

    async def async_disarm(self, device_id: str) -> None:
        """Disarm the appliance (nothing happens to a running cycle)."""
        await self.appliance(device_id).async_disarm()

    def set_override(
        self, device_id: str, mode: str, duration: timedelta
    ) -> DeviceOverride:
        """Record a boost or block of a heat pump or boiler until now + duration.

        KeyError for an unknown device; OverrideRefusedError (a ValueError) when the
        device is not a heat pump or boiler or its rules forbid it now.
        """
        driver = self.drivers[device_id]
        if mode not in OVERRIDE_MODES:
            msg = f"an override is one of {', '.join(OVERRIDE_MODES)}, not {mode!r}"
            raise OverrideRefusedError("mode", msg, device=driver.name)
        now = self._clock()
        refusal = override_refusal(driver, mode, duration, now)
        if refusal is not None:
            raise refusal
        setpoint = 0.0 if mode == "block" else override_setpoint_w(driver)
        override = DeviceOverride(mode=mode, setpoint_w=setpoint, until=now + duration)
        self.overrides[device_id] = override
        return override

    def expired_overrides(self, now: datetime) -> list[str]:
        """Return the devices whose override has ended."""
        return [i for i, o in self.overrides.items() if o.until <= now]

    def export_state(self) -> dict[str, Any]:
        """Every driver's state (SG-Ready budgets, tank estimates, cycles)."""
        state: dict[str, Any] = {
            device_id: driver.export_state()
            for device_id, driver in self.drivers.items()
            if hasattr(driver, "export_state")
        }
        state[UNPLANNED_KEY] = sorted(self.unplanned)
        state[OVERRIDES_KEY] = {i: o.to_dict() for i, o in self.overrides.items()}
        return state

    def restore_state(self, data: object) -> None:
        """Give each driver its saved state; a bad one is logged and skipped."""
        if not isinstance(data, Mapping):
            return
        unplanned = data.get(UNPLANNED_KEY)
        if isinstance(unplanned, list):
            self.unplanned = {str(i) for i in unplanned if str(i) in self.drivers}
        self._restore_overrides(data.get(OVERRIDES_KEY))
        for device_id, state in data.items():
            driver = self.drivers.get(str(device_id))
            restore = getattr(driver, "restore_state", None)
            if restore is None:
                continue
            try:
                restore(state)
            except Exception as err:  # noqa: BLE001 - a bad state is skipped
                _LOGGER.warning("Saved state of %s ignored: %s", device_id, err)

    def _restore_overrides(self, data: object) -> None:
        """Take back the boosts and blocks that have not ended; skip bad ones."""
        if not isinstance(data, Mapping):
            return
        now = self._clock()
        for device_id, item in data.items():
            if str(device_id) not in self.drivers or not isinstance(item, Mapping):
                continue
            until, setpoint = item.get("until"), item.get("setpoint_w")
            try:
                end = datetime.fromisoformat(str(until))
            except ValueError:
                continue
            if (
                item.get("mode") not in OVERRIDE_MODES
                or isinstance(setpoint, bool)
                or not isinstance(setpoint, int | float)
                or not 0 <= setpoint <= 1e5  # noqa: PLR2004
                or end.tzinfo is None
                or end <= now
                or end > now + MAX_OVERRIDE
            ):
                continue
            self.overrides[str(device_id)] = DeviceOverride(
                mode=str(item["mode"]), setpoint_w=float(setpoint), until=end
            )


__all__ = [
    "ConfigError",
    "DeviceOverride",
    "HouseholdDevices",
    "OverrideRefusedError",
    "device_entity_ids",
    "guarded_device",
    "household_entity_ids",
    "validate_driver",
]
