"""The gateway service: one household, kept running, with its state on disk.

:class:`Gateway` reads the household document, runs one
:class:`Household` with a :class:`JsonFileStateStore` in the state folder,
and restarts it when a new document is pushed. A household that cannot
start (no meter reading yet, the OCPP port taken) is retried with a growing
pause; the API stays up meanwhile and reports why. On stop the household
saves its state.

Between plans the household itself decides what runs: the last plan until
its horizon ends, then the rule-based safe behaviour (chargers to their own
behaviour, capped by the guard). The gateway adds nothing to that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import logging
import os
from pathlib import Path
import ssl
import tempfile
from typing import Any, Final

import aiohttp

from custom_components.stroomwijs.engine.capabilities import DeviceUnavailableError
from custom_components.stroomwijs.engine.drivers.appliance import (
    PlugAppliance,
    RemoteStartAppliance,
)
from custom_components.stroomwijs.engine.drivers.ocpp import SessionOptions
from custom_components.stroomwijs.engine.household import (
    Household,
    HouseholdConfig,
    HouseholdConfigError,
    HouseholdEvent,
    HouseholdPorts,
    InputFormatError,
    JsonFileStateStore,
    OptimiserMode,
    OverrideRefusedError,
    Series,
)
from custom_components.stroomwijs.engine.household.devices import (
    device_entity_ids,
    household_entity_ids,
)
from custom_components.stroomwijs.engine.household.state import STATE_VERSION
from custom_components.stroomwijs.engine.limits.base import utc_now

from .entities import RelayedEntityPort
from .protocol import ProtocolError, Request
from .snapshot import clean, clean_dict, device_snapshot, household_snapshot

_LOGGER = logging.getLogger(__name__)

STATE_FILE: Final = "state.json"
RETRY_FIRST_S: Final = 5.0
RETRY_MAX_S: Final = 60.0
MAX_CONFIG_BYTES: Final = 1_000_000

DEVICE_COMMANDS: Final = frozenset(
    {
        "set_device_planned",
        "set_device_override",
        "arm_appliance",
        "disarm_appliance",
        "run_before",
    }
)
"""The commands for heat pumps, boilers and appliances (``device_id``: a driver)."""

type GatewayListener = Callable[[str, Mapping[str, Any]], None]
"""Called with ("event", message) for household and gateway events, and
("changed", {}) when the household's state changed (a snapshot is due)."""


class GatewayState:
    """What the gateway is doing (the ``state`` of its status)."""

    STARTING = "starting"
    RUNNING = "running"
    RETRYING = "retrying"
    """The household could not start; the gateway tries again."""
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True, kw_only=True)
class HostSettings:
    """What the host (the add-on's options) fixes, whatever a document says.

    The container's OCPP port and address, the TLS files and the serial
    device belong to the installation, not to the household document that
    Home Assistant pushes, so they replace the document's values.
    """

    ocpp_host: str | None = None
    ocpp_port: int | None = None
    ocpp_security_profile: int | None = None
    """0: no authentication, 1: HTTP Basic, 2: TLS with HTTP Basic."""
    ocpp_certfile: str | None = None
    ocpp_keyfile: str | None = None
    serial_port: str | None = None

    def check(self) -> None:
        """Raise ValueError for settings that cannot work together."""
        if self.ocpp_security_profile not in {None, 0, 1, 2}:
            msg = "the OCPP security profile must be 0, 1 or 2"
            raise ValueError(msg)
        if self.ocpp_security_profile == 2 and not (  # noqa: PLR2004
            self.ocpp_certfile and self.ocpp_keyfile
        ):
            msg = "OCPP security profile 2 needs a certificate and a key file"
            raise ValueError(msg)
        if self.ocpp_port is not None and not 1 <= self.ocpp_port <= 65535:  # noqa: PLR2004
            msg = f"{self.ocpp_port} is not a port"
            raise ValueError(msg)

    def apply(self, config: HouseholdConfig) -> HouseholdConfig:
        """Return ``config`` with the host's settings in force."""
        ocpp = config.ocpp
        changes: dict[str, Any] = {}
        if self.ocpp_host is not None:
            changes["host"] = self.ocpp_host
        if self.ocpp_port is not None:
            changes["port"] = self.ocpp_port
        profile = self.ocpp_security_profile
        if profile is not None:
            changes["require_auth"] = profile >= 1
            changes["certfile"] = self.ocpp_certfile if profile == 2 else None  # noqa: PLR2004
            changes["keyfile"] = self.ocpp_keyfile if profile == 2 else None  # noqa: PLR2004
        result = replace(config, ocpp=replace(ocpp, **changes)) if changes else config
        if self.serial_port and config.meter.source == "serial":
            result = replace(
                result, meter=replace(config.meter, serial_port=self.serial_port)
            )
        return result


@dataclass(slots=True, kw_only=True)
class GatewayOptions:
    """Where the gateway finds its document and keeps its state."""

    config_path: Path
    state_dir: Path
    host: HostSettings = field(default_factory=HostSettings)
    retry_first_s: float = RETRY_FIRST_S
    first_reading_timeout: float | None = None
    ocpp_session: SessionOptions | None = None
    clock: Callable[[], datetime] = utc_now


def read_config(path: Path) -> HouseholdConfig:
    """Read a household document (YAML, or JSON for a ``.json`` file).

    Raises ``HouseholdConfigError`` (naming the field) or ``OSError``.
    """
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise HouseholdConfigError("", "the document is larger than 1 MB")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return HouseholdConfig.from_json(text)
    return HouseholdConfig.from_yaml(text)


def config_text(config: HouseholdConfig, *, as_json: bool) -> str:
    """Return the document as text that reads back to the same ``config``.

    The text is read back before it is used, so a document the gateway
    could not start from is never written.
    """
    if as_json:
        text = config.to_json()
        again = HouseholdConfig.from_json(text)
    else:
        text = config.to_yaml()
        again = HouseholdConfig.from_yaml(text)
    if again != config:
        msg = "the document does not read back the same"
        raise HouseholdConfigError("", msg)
    return text


def write_config(path: Path, config: HouseholdConfig) -> None:
    """Write a household document atomically, readable by its owner only."""
    text = config_text(config, as_json=path.suffix.lower() == ".json")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ssl_context_for(config: HouseholdConfig) -> ssl.SSLContext | None:
    """Return the OCPP server's TLS context (security profile 2/3), if configured."""
    certfile, keyfile = config.ocpp.certfile, config.ocpp.keyfile
    if not certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile or None)
    return context


@dataclass(slots=True)
class _Restored:
    """What the household had back from its state file at its last start."""

    values: dict[str, Any] = field(default_factory=dict)


class Gateway:
    """Runs one household until stopped; commands come from the API."""

    def __init__(self, options: GatewayOptions, config: HouseholdConfig) -> None:
        """Use ``config`` (read by the caller, so errors show before anything runs)."""
        self.options = options
        self.config = config
        self.household: Household | None = None
        self.state = GatewayState.STARTING
        self.error: str | None = None
        self.started_at: datetime | None = None
        self.restarts = 0
        self.restored = _Restored()
        self._listeners: list[GatewayListener] = []
        self._restart = asyncio.Event()
        self._stop: asyncio.Event | None = None
        self._session: aiohttp.ClientSession | None = None
        self._unsubs: list[Callable[[], None]] = []
        self._lock = asyncio.Lock()
        self._imported_state: dict[str, Any] | None = None
        self.entities = RelayedEntityPort(
            clock=options.clock, on_host_change=self._on_entity_host
        )
        """Home Assistant's entities, relayed by the integration (the drivers'
        entity port; it outlives the household's restarts)."""

    # ------------------------------------------------------------ listeners

    def add_listener(self, listener: GatewayListener) -> Callable[[], None]:
        """Call ``listener(kind, data)`` on events and changes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _tell(self, kind: str, data: Mapping[str, Any]) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(kind, data)
            except Exception:
                _LOGGER.exception("gateway listener failed")

    def _on_event(self, event: HouseholdEvent) -> None:
        self._tell("event", {"event": event.kind, "data": clean(event.data)})

    def _on_change(self) -> None:
        self._tell("changed", {})

    def _gateway_event(self, kind: str, **data: Any) -> None:  # noqa: ANN401
        self._tell("event", {"event": kind, "data": clean(data)})

    def _on_entity_host(self, connected: bool) -> None:  # noqa: FBT001
        """Home Assistant came or went: the drivers look again at once."""
        if self.household is not None:
            self.household.request_device_poll()
        self._gateway_event(
            "entity_host_connected" if connected else "entity_host_lost",
            used=len(self.entities.used),
        )
        self._tell("changed", {})

    # ------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """Return the gateway's own state, for the API and the log."""
        return clean_dict(
            {
                "state": self.state,
                "error": self.error,
                "started_at": self.started_at,
                "restarts": self.restarts,
                "restored": self.restored.values,
                "household": self.config.name,
                "entities": self.entities.status(),
            }
        )

    def snapshot(self) -> dict[str, Any]:
        """Return the gateway status plus, while it runs, the household's snapshot."""
        household = self.household
        return {
            "gateway": self.status(),
            "household": None if household is None else household_snapshot(household),
        }

    # ------------------------------------------------------------ running

    async def async_run(self, stop: asyncio.Event) -> None:
        """Run the household until ``stop`` is set (restarting it on a push)."""
        self._stop = stop
        self._session = aiohttp.ClientSession()
        delay = self.options.retry_first_s
        try:
            while not stop.is_set():
                self._restart.clear()
                starting = asyncio.ensure_future(self._async_start_household())
                await self._wait_for(stop, starting, limit_s=None)
                if not starting.done():
                    # Stopped while waiting for the meter: give up the start
                    # (the household stops what it had started).
                    starting.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await starting
                    break
                started = starting.result()
                if started:
                    delay = self.options.retry_first_s
                    await self._wait_for(stop, self._restart, limit_s=None)
                    await self._async_stop_household()
                    if not stop.is_set():
                        self.restarts += 1
                    continue
                self.state = GatewayState.RETRYING
                self._tell("changed", {})
                await self._wait_for(stop, self._restart, limit_s=delay)
                delay = min(delay * 2, RETRY_MAX_S)
        finally:
            self.state = GatewayState.STOPPING
            await self._async_stop_household()
            await self._session.close()
            self._session = None

    @staticmethod
    async def _wait_for(
        stop: asyncio.Event,
        other: asyncio.Event | asyncio.Future[Any],
        limit_s: float | None,
    ) -> None:
        """Wait until ``stop`` or ``other`` is set (or done), or ``limit_s``."""
        stopped = asyncio.ensure_future(stop.wait())
        waiter = (
            asyncio.ensure_future(other.wait())
            if isinstance(other, asyncio.Event)
            else other
        )
        try:
            await asyncio.wait(
                (stopped, waiter), timeout=limit_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stopped.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopped
            if isinstance(other, asyncio.Event):
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    async def _async_start_household(self) -> bool:
        config = self.options.host.apply(self.config)
        self.state = GatewayState.STARTING
        try:
            context = await asyncio.to_thread(ssl_context_for, config)
        except (OSError, ssl.SSLError) as err:
            self._failed(f"the OCPP TLS files cannot be used: {err}")
            return False
        store = JsonFileStateStore(self.options.state_dir / STATE_FILE)
        self.entities.set_used(household_entity_ids(config))
        ports = HouseholdPorts(
            clock=self.options.clock,
            store=store,
            session=self._session,
            ssl_context=context,
            ocpp_session=self.options.ocpp_session,
            entity_port=self.entities,
        )
        if self.options.first_reading_timeout is not None:
            ports.first_reading_timeout = self.options.first_reading_timeout
        imported, self._imported_state = self._imported_state, None
        if imported is not None:
            await store.async_save(imported)
            _LOGGER.info("The state handed over with the document replaces ours")
        try:
            # A document the gateway cannot run (a device it cannot build)
            # is reported and retried like a failed start, never the end of
            # the run loop. Devices on Home Assistant's entities are driven
            # through ``self.entities``: unavailable until Home Assistant
            # sends their states.
            household = Household(config, ports)
            await household.async_start()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure: report and retry
            self._failed(f"{type(err).__name__}: {err}")
            return False
        self.household = household
        self.restored.values = self._what_was_restored(household)
        self._unsubs = [
            household.subscribe(self._on_event),
            household.add_listener(self._on_change),
        ]
        if household.meter is not None:
            # A reading changes the snapshot's meter part: the clients' grid
            # power must follow the meter (the API pushes at most one
            # snapshot per ``snapshot_interval_s``), and a meter that goes
            # silent must show at once.
            self._unsubs += [
                household.meter.subscribe(lambda _reading: self._on_change()),
                household.meter.subscribe_availability(
                    lambda _available: self._on_change()
                ),
            ]
        self.state = GatewayState.RUNNING
        self.error = None
        self.started_at = self.options.clock()
        _LOGGER.info("Household %s runs", config.name)
        self._gateway_event("household_started", restored=self.restored.values)
        self._tell("changed", {})
        return True

    @staticmethod
    def _what_was_restored(household: Household) -> dict[str, Any]:
        """Return what the state file gave back (read before the first re-plan)."""
        manual = household.limits.manual.export_state().get("limit")
        plan = household.plan
        overrides = {
            handle.device_id: getattr(handle.device, "manual_setpoint_w", None)
            for handle in household.chargers.handles.values()
        }
        return {
            "manual_limit": manual,
            "overrides": {k: v for k, v in overrides.items() if v is not None},
            "plan_created": None if plan is None else plan.created,
            "plan_reasons": list(household.plan_status.reasons),
        }

    def _failed(self, message: str) -> None:
        self.error = message
        _LOGGER.error("The household cannot start: %s; trying again", message)
        self._gateway_event("household_error", error=message)

    async def _async_stop_household(self) -> None:
        household, self.household = self.household, None
        for unsub in self._unsubs:
            unsub()
        self._unsubs = []
        if household is None:
            return
        try:
            await household.async_stop()
        except Exception:
            _LOGGER.exception("The household did not stop cleanly")
        self._gateway_event("household_stopped")
        self._tell("changed", {})

    # ------------------------------------------------------------ commands

    def _running(self) -> Household:
        if self.household is None:
            msg = f"the household is not running ({self.state}"
            msg += f": {self.error})" if self.error else ")"
            raise ProtocolError("not_running", msg)
        return self.household

    async def async_command(self, request: Request) -> Any:  # noqa: ANN401, C901, PLR0911, PLR0912
        """Carry out one validated command; returns the reply's ``result``."""
        kind, f = request.type, request.fields
        if kind == "get_snapshot":
            return self.snapshot()
        if kind == "get_config":
            return self.config.to_dict(include_secrets=False)
        if kind == "push_config":
            return await self._async_push_config(f["config"], f.get("state"))
        household = self._running()
        if kind == "add_device":
            return await self._async_add_device(
                household, f["device"], f.get("secrets") or {}
            )
        if kind == "remove_device":
            return await self._async_remove_device(household, str(f["device_id"]))
        try:
            if kind == "set_manual_limit":
                minutes = f.get("duration_min")
                household.set_manual_limit(
                    import_w=f["import_w"],
                    export_w=f.get("export_w"),
                    duration=None if minutes is None else timedelta(minutes=minutes),
                    label=str(f.get("label") or "gateway"),
                )
                return {"limits": household_snapshot(household)["limits"]}
            if kind == "clear_manual_limit":
                household.clear_manual_limit()
                return {"limits": household_snapshot(household)["limits"]}
            if kind == "set_override":
                return await self._async_override(household, f)
            if kind == "set_departure":
                changes = {
                    key: f[key]
                    for key in ("departure", "target_soc", "min_soc")
                    if key in f
                }
                if not changes:
                    raise ProtocolError("invalid_message", "nothing to set")
                household.set_departure(self._device(household, f), changes)
                return None
            if kind == "set_v2g":
                handle = household.chargers.handles[self._device(household, f)]
                handle.device.set_v2g_allowed(f["allowed"])
                handle.notify()
                household.request_replan(
                    "V2G allowed" if f["allowed"] else "V2G forbidden"
                )
                return None
            if kind in DEVICE_COMMANDS:
                return await self._async_device_command(household, kind, f)
            if kind == "set_mode":
                household.set_mode(OptimiserMode(f["mode"]))
                return None
            if kind == "set_enabled":
                household.set_enabled(f["enabled"])
                return None
            if kind == "set_prices":
                household.set_prices(_series(f["prices"], "prices"))
                return None
            if kind == "set_pv_forecast":
                household.set_pv_forecast(_series(f["forecast"], "forecast"))
                return None
            if kind == "set_outdoor_forecast":
                household.set_outdoor_forecast(_series(f["forecast"], "forecast"))
                return None
            if kind == "set_dim_input":
                if household.limits.dim is None:
                    raise ProtocolError("invalid_value", "no dim input is configured")
                household.set_dim_input(on=f["on"])
                return None
            if kind == "plan_now":
                return clean(await household.async_plan_now())
        except ValueError as err:
            raise ProtocolError("invalid_value", str(err)) from None
        msg = f"{kind} is not a command"
        raise ProtocolError("unknown_type", msg)

    async def _async_add_device(
        self,
        household: Household,
        data: Mapping[str, Any],
        secrets: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Build a heat pump, boiler or appliance into the running household.

        The device is checked as part of the document (the same reader as a
        push), started and read once, put under the guard; the meter, the
        guard and the chargers carry on. The document on disk gets it too.
        ``secrets`` holds the device's own (``devices.<id>.password``, a
        Shelly's): other keys and values that are not text are refused.
        """
        if data.get("kind") != "driver":
            msg = "device.kind: only a driver device (heat pump, boiler, appliance)"
            raise ProtocolError("invalid_config", msg)
        device_id = str(data.get("id") or "")
        if self.config.device(device_id) is not None:
            msg = f"device.id: {device_id!r} is in the household already"
            raise ProtocolError("invalid_value", msg)
        own: dict[str, str] = {}
        for key, value in secrets.items():
            if not key.startswith(f"devices.{device_id}.") or not isinstance(
                value, str
            ):
                msg = f"secrets.{key}: not a text secret of device {device_id!r}"
                raise ProtocolError("invalid_value", msg)
            own[key] = value
        document = self.config.to_dict()
        document["devices"] = [*document["devices"], dict(data)]
        try:
            config = HouseholdConfig.from_dict(document).with_secrets(own)
        except HouseholdConfigError as err:
            raise ProtocolError("invalid_config", str(err)) from None
        device = config.device(device_id)
        assert device is not None  # noqa: S101 - it was just read
        async with self._lock:
            if self.household is not household:
                raise ProtocolError("not_running", "the household restarted")
            self.entities.set_used(self.entities.used | device_entity_ids(device))
            try:
                await household.async_add_device(device, own)
            except ValueError as err:  # ConfigError too: it cannot be built
                self.entities.set_used(household_entity_ids(household.config))
                raise ProtocolError("invalid_value", str(err)) from None
            await asyncio.to_thread(write_config, self.options.config_path, config)
            self.config = config
        _LOGGER.info("Device %s added to the running household", device.name)
        self._tell("changed", {})
        driver = household.devices.drivers[device_id]
        return device_snapshot(household, device_id, driver)

    async def _async_remove_device(
        self, household: Household, device_id: str
    ) -> dict[str, Any]:
        """Take a heat pump, boiler or appliance out of the running household."""
        async with self._lock:
            if self.household is not household:
                raise ProtocolError("not_running", "the household restarted")
            try:
                await household.async_remove_device(device_id)
            except KeyError:
                msg = f"device_id: no heat pump, boiler or appliance {device_id!r}"
                raise ProtocolError("unknown_device", msg) from None
            self.entities.set_used(household_entity_ids(household.config))
            own = f"devices.{device_id}."
            config = replace(
                self.config,
                devices=tuple(d for d in self.config.devices if d.id != device_id),
                # Its secrets go with it: a document keeps none without a user.
                secrets={
                    k: v
                    for k, v in self.config.secrets.items()
                    if not k.startswith(own)
                },
            )
            await asyncio.to_thread(write_config, self.options.config_path, config)
            self.config = config
        _LOGGER.info("Device %s removed from the running household", device_id)
        self._tell("changed", {})
        return {"device_id": device_id, "removed": True}

    @staticmethod
    def _device(household: Household, f: Mapping[str, Any]) -> str:
        device_id = str(f["device_id"])
        if device_id not in household.chargers.handles:
            msg = f"device_id: no charger {device_id!r}"
            raise ProtocolError("unknown_device", msg)
        return device_id

    async def _async_device_command(
        self, household: Household, kind: str, f: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Plan or unplan a heat pump, boiler or appliance; arm, disarm, deadline."""
        device_id = str(f["device_id"])
        driver = household.devices.drivers.get(device_id)
        if driver is None:
            msg = f"device_id: no heat pump, boiler or appliance {device_id!r}"
            raise ProtocolError("unknown_device", msg)
        if kind == "set_device_planned":
            household.set_device_planned(device_id, planned=f["planned"])
        elif kind == "set_device_override":
            await self._async_device_override(household, device_id, f)
        else:
            if not isinstance(driver, PlugAppliance | RemoteStartAppliance):
                msg = f"device_id: {device_id!r} is not an appliance"
                raise ProtocolError("unknown_device", msg)
            try:
                if kind == "arm_appliance":
                    await household.async_arm_appliance(device_id)
                elif kind == "disarm_appliance":
                    await household.async_disarm_appliance(device_id)
                else:
                    await household.async_run_before(device_id, f["finish_by"])
            except DeviceUnavailableError as err:
                raise ProtocolError("device_unavailable", str(err)) from None
        return device_snapshot(household, device_id, driver)

    @staticmethod
    async def _async_device_override(
        household: Household, device_id: str, f: Mapping[str, Any]
    ) -> None:
        mode = None if f["mode"] == "auto" else str(f["mode"])
        minutes = f.get("duration_min")
        if mode is not None and minutes is None:
            raise ProtocolError("invalid_message", "duration_min: required")
        try:
            await household.async_set_device_override(
                device_id,
                mode,
                None if minutes is None else timedelta(minutes=minutes),
            )
        except OverrideRefusedError as err:
            raise ProtocolError(
                "override_refused", str(err), {"reason": err.reason, **err.details}
            ) from None
        except DeviceUnavailableError as err:
            raise ProtocolError("device_unavailable", str(err)) from None

    async def _async_override(
        self, household: Household, f: Mapping[str, Any]
    ) -> dict[str, Any]:
        device_id = self._device(household, f)
        handle = household.chargers.handles[device_id]
        action = f["action"]
        setpoint: float | None
        if action == "boost":
            setpoint = f.get("setpoint_w") or handle.boost_w
        elif action == "pause":
            setpoint = 0.0
        else:
            setpoint = None
        try:
            await household.async_set_override(device_id, setpoint)
        except DeviceUnavailableError as err:
            # An offline charger (sent at once without a meter to guard
            # with) is the user's to know, not an internal error.
            raise ProtocolError("device_unavailable", str(err)) from None
        return {"device_id": device_id, "override_w": setpoint}

    async def _async_push_config(
        self, data: Mapping[str, Any], state: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            config = HouseholdConfig.from_dict(data)
        except HouseholdConfigError as err:
            raise ProtocolError("invalid_config", str(err)) from None
        # Secrets the new document leaves out are kept from the one in force,
        # so the integration need not send them again.
        missing = config.missing_secrets()
        kept = {k: v for k, v in self.config.secrets.items() if k in missing}
        if kept:
            config = config.with_secrets(kept)
        still = config.missing_secrets()
        if still:
            msg = f"secrets missing: {', '.join(still)}"
            raise ProtocolError("invalid_config", msg)
        if state is not None and state.get("version") != STATE_VERSION:
            msg = f"state: version must be {STATE_VERSION}"
            raise ProtocolError("invalid_value", msg)
        async with self._lock:
            await asyncio.to_thread(write_config, self.options.config_path, config)
            self.config = config
            # A household handed over brings its state (manual limit,
            # overrides, departures, the quarter-hour, the plan): it replaces
            # the state file after the running household stopped and saved,
            # before the new one reads it.
            self._imported_state = None if state is None else dict(state)
            self._restart.set()
        _LOGGER.info("A new household document was pushed; restarting the household")
        return {"restarting": True, "name": config.name}


def _series(data: Mapping[str, Any] | None, name: str) -> Series | None:
    if data is None:
        return None
    try:
        return Series.from_dict(data)
    except InputFormatError as err:
        msg = f"{name}: {err}"
        raise ProtocolError("invalid_value", msg) from None
