"""The household in the add-on's gateway, as Home Assistant sees it.

When an entry's data holds ``gateway`` (host, port and API token, set by
the hand-over in ``gateway_flow.py``), Home Assistant builds no household
of its own. ``RemoteHousehold`` connects to the gateway's WebSocket API
(``engine/gateway/client.py``) with Home Assistant's aiohttp session:

- on every (re)connect it sends the household document when the gateway's
  differs (so a reattach after a restart of Home Assistant pushes nothing
  and the chargers get no new profiles), then the last prices, PV forecast
  and dim input it has;
- it follows the price, PV and dim entities like the in-process household;
- it implements ``HouseholdView`` from the snapshots and events the gateway
  pushes, so the same entities show it;
- its problems become the same repair issues; a charger the gateway does
  not know starts the same discovery flow.

A lost connection makes the entities unavailable at once and raises the
``gateway_unreachable`` repair issue after ``UNREACHABLE_GRACE_S`` (a
restart of the add-on takes a few seconds); a version skew raises
``gateway_version_mismatch`` at once. Meanwhile the gateway guards on its
own: nothing here is needed to hold the limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import contextlib
from dataclasses import fields, replace
from datetime import datetime, timedelta
import time
from typing import Any, Final

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import discovery_flow, issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_state_change_event
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .driver_view import SnapshotDriver
from .engine.drivers.factory import ConfigError
from .engine.gateway.client import (
    ConnectionState,
    GatewayClient,
    GatewayError,
    GatewayUnavailable,
    VersionSkewError,
)
from .engine.gateway.protocol import (
    FEATURE_DEVICE_COMMANDS,
    FEATURE_ENTITY_HOST,
    SUPPORTED_VERSIONS,
    EntityCall,
    wire_state,
)
from .engine.gateway.snapshot import (
    clean_dict,
    parse_time,
    reading_from_data,
)
from .engine.grid import GridConnection
from .engine.guard.controller import GuardStatus
from .engine.household import (
    DeviceConfig,
    HouseholdConfig,
    InputFormatError,
    OptimiserMode,
    OverrideRefusedError,
    PlanState,
    PlanStatus,
    Series,
    parse_price_attributes,
    parse_pv_attributes,
)
from .engine.household.chargers import CHARGER_STATES
from .engine.household.devices import household_entity_ids
from .engine.limits import Limit
from .engine.meter.models import MeterReading
from .engine.numbers import parse_number
from .guard_glue import GRID_EVENTS
from .household_glue import (
    HassStateStore,
    action_source,
    async_read_prices,
    async_read_pv_forecast,
    follow_charger_identity,
    update_issue,
)
from .household_view import GridEventListener
from .models import StroomwijsConfigEntry

CONF_GATEWAY: Final = "gateway"
"""Entry data: ``{"host", "port", "token"}`` of the gateway's API."""
CONF_HANDOVER: Final = "gateway_handover"
"""Entry data, set by the hand-over: send Home Assistant's saved household
state with the first document, then drop this key."""
UNREACHABLE_GRACE_S: Final = 30.0
SETTLE_S: Final = 2.0
"""How long a service call of the gateway's waits for its entity to show it."""
ISSUE_UNREACHABLE: Final = "gateway_unreachable"
ISSUE_VERSION: Final = "gateway_version_mismatch"
GATEWAY_ISSUES: Final = (ISSUE_UNREACHABLE, ISSUE_VERSION)
CLIENT_NAME: Final = "stroomwijs-ha"
PROTOCOLS: tuple[int, ...] = SUPPORTED_VERSIONS
"""The protocol versions the integration speaks (tests change it)."""


_INVALID: Final = object()


def _status_value(kind: str, value: object) -> object:  # noqa: PLR0911
    """Return a guard status field of type ``kind`` from snapshot data.

    Numbers must be finite, counts integers, flags booleans and lists texts;
    anything else is ``_INVALID``, so the field takes its safe default.
    """
    optional = kind.endswith(" | None")
    if value is None:
        return None if optional else _INVALID
    base = kind.removesuffix(" | None")
    if base == "float":
        number = parse_number(value)
        return _INVALID if number is None else number
    if base == "int":
        valid = isinstance(value, int) and not isinstance(value, bool)
        return value if valid else _INVALID
    if base == "bool":
        return value if isinstance(value, bool) else _INVALID
    if base == "str":
        return value[:500] if isinstance(value, str) else _INVALID
    if base.startswith("tuple") and isinstance(value, list):
        return tuple(item[:200] for item in value if isinstance(item, str))
    return _INVALID


def _mode(value: object) -> OptimiserMode | None:
    try:
        return OptimiserMode(str(value))
    except ValueError:
        return None


_INPUT_NAMES = {"set_prices": "prices", "set_pv_forecast": "PV forecast"}
"""What the log calls each input the gateway is sent."""


class RemoteHousehold:
    """A household the gateway runs, read from its snapshots (a HouseholdView)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StroomwijsConfigEntry,
        config: HouseholdConfig,
        client: GatewayClient,
    ) -> None:
        """Show ``config``'s household as ``client`` receives it."""
        self.hass = hass
        self.entry = entry
        self._config = config
        self.client = client
        self._grid = GridConnection(
            phases=config.grid.phases, fuse_a=config.grid.fuse_a
        )
        self.pushes = 0
        """Documents sent to the gateway (a reattach sends none)."""
        self._listeners: list[Callable[[], None]] = []
        self._inputs: dict[str, dict[str, Any]] = {}
        """The last set_prices/set_pv_forecast/set_dim_input, sent on connect."""
        self._unreachable_timer: CALLBACK_TYPE | None = None
        self._unavailable_logged = False
        """Whether the lost connection was logged (once, until it returns)."""
        self.entity_ids = household_entity_ids(config)
        """The entities the devices use: their states go to the gateway, and
        only their services are called for it."""
        self._changed_states: dict[str, State] = {}
        self._flushing = False
        self._send_lock = asyncio.Lock()
        self._unsub_entities: CALLBACK_TYPE | None = None
        self.entity_calls = 0
        self._problems_due = False
        """Connected before a snapshot with a running household came."""
        client.on_connect = self._async_on_connect
        client.on_entity_call = self._async_entity_call
        self.chargers: dict[str, RemoteCharger] = {
            device.id: RemoteCharger(self, device)
            for device in config.devices
            if device.kind in CHARGER_KINDS
        }
        """The document's chargers (entities exist before the gateway knows them)."""
        self.drivers: dict[str, RemoteDriver] = {}
        """The document's heat pumps, boilers and appliances."""
        for device in config.devices:
            if device.kind != "driver":
                continue
            try:
                self.drivers[device.id] = RemoteDriver(self, device)
            except ConfigError as err:  # the gateway refuses it too, and says so
                LOGGER.warning("Device %s has no entities: %s", device.id, err)

    # ---------------------------------------------------------- snapshot

    @property
    def _household(self) -> Mapping[str, Any]:
        snapshot = self.client.snapshot
        household = None if snapshot is None else snapshot.get("household")
        return household if isinstance(household, Mapping) else {}

    def _part(self, name: str) -> Mapping[str, Any]:
        value = self._household.get(name)
        return value if isinstance(value, Mapping) else {}

    @property
    def available(self) -> bool:
        """Connected, and the gateway's household runs."""
        return self.client.connected and bool(self._household)

    @property
    def grid(self) -> GridConnection:
        """The grid connection."""
        return self._grid

    @property
    def config(self) -> HouseholdConfig:
        """The household's document (what the entry describes)."""
        return self._config

    @property
    def import_limit_w(self) -> float:
        """The import limit; the fuse's capacity while nothing is known."""
        value = parse_number(self._part("limits").get("import_limit_w"))
        return self._grid.max_power_w if value is None else value

    @property
    def import_source(self) -> str:
        """Where the import limit comes from."""
        return str(self._part("limits").get("import_source") or "fuse")

    @property
    def limit_active(self) -> bool:
        """Whether a DSO limit below the fuse is in force."""
        return bool(self._part("limits").get("limit_active"))

    @property
    def export_limit_w(self) -> float | None:
        """The export limit in force, if any."""
        return parse_number(self._part("limits").get("export_limit_w"))

    @property
    def export_source(self) -> str | None:
        """Where the export limit comes from."""
        value = self._part("limits").get("export_source")
        return None if value is None else str(value)

    @property
    def limit_until(self) -> datetime | None:
        """When the limit in force ends."""
        return parse_time(self._part("limits").get("until"))

    @property
    def limit_failsafe(self) -> bool:
        """Whether the limit is a fail-safe one."""
        return bool(self._part("limits").get("failsafe"))

    @property
    def repairs_needed(self) -> bool:
        """Whether a limit source needs the user."""
        return bool(self._part("limits").get("repairs_needed"))

    def guard_status(self) -> GuardStatus:
        """Return the guard's state as the last snapshot had it."""
        data = self._part("guard")
        values: dict[str, Any] = {}
        for field in fields(GuardStatus):
            if field.name in data:
                value = _status_value(str(field.type), data[field.name])
                if value is not _INVALID:
                    values[field.name] = value
        values["timestamp"] = parse_time(data.get("timestamp"))
        values.setdefault("import_limit_w", self.import_limit_w)
        values.setdefault("limit_source", self.import_source)
        for name in ("measured_w", "headroom_w"):
            values.setdefault(name, None)
        values.setdefault("curtailed", ())
        values.setdefault("overrides", ())
        values.setdefault("override_notice", None)
        values.setdefault("data_lost", not self.available)
        values.setdefault("interventions", 0)
        return GuardStatus(**values)

    @property
    def interventions_today(self) -> int:
        """Guard interventions today."""
        value = self._part("guard").get("interventions_today")
        return value if isinstance(value, int) else 0

    def next_limit(self, now: datetime) -> Limit | None:  # noqa: ARG002 - the gateway chose it
        """Return the next limit that starts within 24 hours."""
        data = self._part("limits").get("next")
        if not isinstance(data, Mapping):
            return None
        raw = (data.get("import_w"), data.get("export_w"))
        if any(v is not None and parse_number(v) is None for v in raw):
            return None  # a number that cannot be read: no limit to show
        try:
            return Limit(
                source=str(data.get("source") or "next"),
                import_w=parse_number(data.get("import_w")),
                export_w=parse_number(data.get("export_w")),
                start=parse_time(data.get("start")),
                end=parse_time(data.get("end")),
            )
        except ValueError:
            return None

    def manual_import_w(self, now: datetime) -> float | None:
        """Return the manual import limit in force now, if any."""
        data = self._part("limits").get("manual")
        if not isinstance(data, Mapping):
            return None
        start, end = parse_time(data.get("start")), parse_time(data.get("end"))
        if (start is not None and now < start) or (end is not None and now >= end):
            return None
        return parse_number(data.get("import_w"))

    @property
    def manual_duration(self) -> timedelta:
        """How long a manual limit lasts when no duration is given."""
        return timedelta(minutes=self._config.guard.manual_duration_min)

    @property
    def plan_status(self) -> PlanStatus:
        """The planner's state as the gateway reports it."""
        data = self._part("plan").get("status")
        if not isinstance(data, Mapping):
            return PlanStatus()
        try:
            state = PlanState(str(data.get("state")))
        except ValueError:
            state = PlanState.WAITING
        return PlanStatus(
            state=state,
            mode=_mode(data.get("mode")),
            reasons=tuple(str(r) for r in data.get("reasons") or ()),
            last_replan=parse_time(data.get("last_replan")),
            next_replan=parse_time(data.get("next_replan")),
            solve_time_s=parse_number(data.get("solve_time_s")),
            cost_today_eur=parse_number(data.get("cost_today_eur")),
            cost_tomorrow_eur=parse_number(data.get("cost_tomorrow_eur")),
            saving_eur=parse_number(data.get("saving_eur")),
        )

    def plan_rows(self) -> list[dict[str, Any]]:
        """Return the plan per slot (as many as the gateway sends).

        Non-finite numbers in them become None.
        """
        rows = self._part("plan").get("rows")
        if not isinstance(rows, list):
            return []
        return [clean_dict(row) for row in rows if isinstance(row, Mapping)]

    @property
    def mode(self) -> OptimiserMode:
        """What the planner optimises."""
        return _mode(self._household.get("mode")) or OptimiserMode.AUTO

    @property
    def enabled(self) -> bool:
        """Whether the optimiser runs."""
        return bool(self._household.get("enabled", True))

    # ---------------------------------------------------------- commands

    async def async_command(self, kind: str, **fields_: Any) -> Any:  # noqa: ANN401
        """Send a request to the gateway; refusals become HomeAssistantError."""
        try:
            return await self.client.async_request(kind, **fields_)
        except GatewayUnavailable as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="gateway_unavailable",
                translation_placeholders={"error": str(err)},
            ) from err
        except GatewayError as err:
            if err.code == "override_refused":
                # The device's own rules: the same error as in this process.
                details = dict(err.details)
                reason = details.pop("reason", "")
                raise OverrideRefusedError(reason, err.message, **details) from err
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="gateway_refused",
                translation_placeholders={"error": err.message},
            ) from err

    async def async_set_manual(
        self,
        *,
        import_w: float | None,
        duration: timedelta | None,
        label: str,
        export_w: float | None = None,
    ) -> None:
        """Set the manual limit in the gateway."""
        await self.async_command(
            "set_manual_limit",
            import_w=import_w,
            export_w=export_w,
            duration_min=None if duration is None else duration.total_seconds() / 60,
            label=label,
        )

    async def async_clear_manual(self) -> None:
        """Remove the manual limit in the gateway."""
        await self.async_command("clear_manual_limit")

    async def async_set_mode(self, mode: OptimiserMode) -> None:
        """Choose what the gateway's planner optimises."""
        await self.async_command("set_mode", mode=mode.value)

    async def async_set_enabled(self, *, enabled: bool) -> None:
        """Switch the gateway's optimiser on or off."""
        await self.async_command("set_enabled", enabled=enabled)

    async def async_plan_now(self) -> PlanStatus:
        """Re-plan in the gateway; return the status its next snapshot shows."""
        await self.async_command("plan_now")
        return self.plan_status

    # ---------------------------------------------------------- changes

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every snapshot and connection change."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def add_event_listener(self, listener: GridEventListener) -> Callable[[], None]:
        """Call ``listener(event_type, data)`` for the gateway's grid events."""

        def _on_event(kind: str, data: Mapping[str, Any]) -> None:
            if kind in GRID_EVENTS:
                listener(kind, dict(data))

        return self.client.add_event_listener(_on_event)

    @callback
    def _changed(self, *_args: object) -> None:
        for listener in tuple(self._listeners):
            listener()

    # ---------------------------------------------------------- connection

    async def _async_on_connect(self, client: GatewayClient) -> None:
        """Send the document when the gateway's differs, then the inputs.

        At the hand-over the household's state saved by Home Assistant (its
        manual limit, overrides, departures, the quarter-hour, the plan) goes
        with the document, so nothing is lost; later only the document.
        """
        if FEATURE_ENTITY_HOST in client.features:
            # Home Assistant speaks for its entities first, so the household
            # a push starts finds its devices' states there.
            self._changed_states.clear()
            await client.async_request(
                "entity_states", _ready=False, states=self._all_states(), full=True
            )
        elif self.entity_ids:
            # An add-on too old to drive devices through Home Assistant's
            # entities: nothing is pushed (it would not run the household),
            # it keeps guarding with the document it has.
            msg = (
                "the add-on cannot drive devices through Home Assistant's "
                f"entities ({', '.join(sorted(self.entity_ids)[:3])}); update "
                "the add-on"
            )
            raise VersionSkewError(msg)
        ours = self._config.to_dict(include_secrets=False)
        theirs = await client.async_request("get_config", _ready=False)
        handover = bool(self.entry.data.get(CONF_HANDOVER))
        if theirs != ours or handover:
            state = (
                await HassStateStore(self.hass, self.entry.entry_id).async_load()
                if handover
                else None
            )
            LOGGER.info(
                "Sending the household %s to the gateway%s",
                self._config.name,
                " with its state" if isinstance(state, dict) else "",
            )
            await client.async_request(
                "push_config",
                _ready=False,
                config=self._config.to_dict(),
                state=state if isinstance(state, dict) else None,
            )
            self.pushes += 1
            if handover:
                self.hass.config_entries.async_update_entry(
                    self.entry,
                    data={
                        key: value
                        for key, value in self.entry.data.items()
                        if key != CONF_HANDOVER
                    },
                )
        await self._async_send_inputs(client)

    async def _async_send_inputs(self, client: GatewayClient) -> None:
        """Send the last of every input (prices, forecasts, the dim input).

        A gateway whose household is not running yet (just started, waiting
        for its first meter reading, or restarting after a push) refuses
        them with ``not_running``; they are sent again when its household
        has started (the ``household_started`` event).
        """
        for kind, message in tuple(self._inputs.items()):
            try:
                await client.async_request(kind, _ready=False, **message)
            except GatewayError as err:
                LOGGER.info("The gateway refused %s: %s", kind, err.message)

    def _all_states(self) -> list[dict[str, Any]]:
        """Return the states of every entity the devices use that exists."""
        states = (self.hass.states.get(entity_id) for entity_id in self.entity_ids)
        return [
            wire_state(state.entity_id, state.state, state.attributes)
            for state in states
            if state is not None
        ]

    @callback
    def _entity_changed(self, event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        if state is None:
            return  # removed: the gateway keeps its last state until a reconnect
        self._changed_states[state.entity_id] = state
        self._flush_states()

    @callback
    def _flush_states(self) -> None:
        if self._flushing or not self._changed_states or not self.client.connected:
            return
        self._flushing = True
        self.entry.async_create_background_task(
            self.hass, self._async_flush_states(), f"{DOMAIN} entity states"
        )

    async def _async_flush_states(self) -> None:
        try:
            await self._async_send_changed()
        finally:
            self._flushing = False

    async def _async_send_changed(self) -> None:
        """Send the changed states, in order (one sender at a time)."""
        async with self._send_lock:
            while self._changed_states and self.client.connected:
                changed, self._changed_states = self._changed_states, {}
                try:
                    await self.client.async_request(
                        "entity_states",
                        _ready=False,
                        states=[
                            wire_state(s.entity_id, s.state, s.attributes)
                            for s in changed.values()
                        ],
                        full=False,
                    )
                except (GatewayError, GatewayUnavailable) as err:
                    # The whole set goes again on the next connect.
                    LOGGER.info("Entity states not taken by the gateway: %s", err)
                    return

    async def _async_entity_call(self, call: EntityCall) -> None:
        """Carry out a service call of the gateway's drivers (their entities only).

        The answer goes only once the entity shows the result (a switch
        turned on is ``on``; up to ``SETTLE_S``) and its new state has been
        sent, so the gateway's driver never reads the old state after it.
        """
        if call.entity_id not in self.entity_ids:
            msg = f"{call.entity_id} is not an entity of the household's devices"
            raise ValueError(msg)
        self.entity_calls += 1
        await self.hass.services.async_call(
            call.domain, call.service, dict(call.data), blocking=True
        )
        expected = {"turn_on": "on", "turn_off": "off"}.get(call.service)
        if expected is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETTLE_S):
                    while (now := self.hass.states.get(call.entity_id)) is not None:
                        if now.state == expected:
                            break
                        await asyncio.sleep(0.02)
        await self._async_send_changed()

    async def _async_resend_inputs(self) -> None:
        """Send the inputs to a household that has just started in the gateway."""
        try:
            await self._async_send_inputs(self.client)
        except GatewayUnavailable as err:  # sent again on the next connect
            LOGGER.info("Sending the inputs to the gateway failed: %s", err)

    async def _async_input(self, kind: str, **message: Any) -> None:  # noqa: ANN401
        """Send an input now if connected; it is sent again on every connect."""
        self._inputs[kind] = message
        if not self.client.connected:
            return
        try:
            await self.client.async_request(kind, **message)
        except (GatewayError, GatewayUnavailable) as err:
            LOGGER.info("Sending %s to the gateway failed: %s", kind, err)

    @callback
    def async_follow_entities(self) -> None:
        """Follow the devices' entities (before connecting: none is missed)."""
        self._follow_entities()
        self.entry.async_on_unload(self._unfollow_entities)

    @callback
    def _follow_entities(self) -> None:
        self._unfollow_entities()
        if self.entity_ids:
            self._unsub_entities = async_track_state_change_event(
                self.hass, sorted(self.entity_ids), self._entity_changed
            )

    @callback
    def _unfollow_entities(self) -> None:
        unsub, self._unsub_entities = self._unsub_entities, None
        if unsub is not None:
            unsub()

    async def async_add_device(
        self, device: DeviceConfig, secrets: Mapping[str, str] | None = None
    ) -> None:
        """Add a heat pump, boiler or appliance to the gateway's running household.

        Its entities' states go first (the gateway's driver reads them when
        it starts), then ``add_device`` with the device's own secrets (a
        Shelly's password); the view and the document follow, so a
        reconnect pushes nothing. ValueError when the gateway refuses.
        """
        own = {
            key: value
            for key, value in (secrets or {}).items()
            if key.startswith(f"devices.{device.id}.")
        }
        if FEATURE_DEVICE_COMMANDS not in self.client.features:
            msg = "the add-on cannot add a device while it runs"
            raise ValueError(msg)
        view = RemoteDriver(self, device)  # ConfigError: a ValueError
        before = self.entity_ids
        self.entity_ids = household_entity_ids(
            replace(self._config, devices=(*self._config.devices, device))
        )
        self._follow_entities()
        try:
            if (
                self.entity_ids != before
                and FEATURE_ENTITY_HOST in self.client.features
            ):
                self._changed_states.clear()
                await self.client.async_request(
                    "entity_states", states=self._all_states(), full=True
                )
            await self.client.async_request(
                "add_device", device=device.to_dict(), secrets=own or None
            )
        except (GatewayError, GatewayUnavailable) as err:
            self.entity_ids = before
            self._follow_entities()
            raise ValueError(str(err)) from err
        self._config = replace(self._config, devices=(*self._config.devices, device))
        if own:
            self._config = self._config.with_secrets(own)
        self.drivers[device.id] = view
        self._changed()

    async def async_remove_device(self, device_id: str) -> None:
        """Take a device out of the gateway's running household (KeyError: unknown).

        ValueError when the gateway cannot (the entry then reloads).
        """
        if device_id not in self.drivers:
            raise KeyError(device_id)
        if FEATURE_DEVICE_COMMANDS not in self.client.features:
            msg = "the add-on cannot remove a device while it runs"
            raise ValueError(msg)
        try:
            await self.client.async_request("remove_device", device_id=device_id)
        except GatewayError as err:
            if err.code != "unknown_device":  # gone there already: fine
                raise ValueError(str(err)) from err
        except GatewayUnavailable as err:
            raise ValueError(str(err)) from err
        self.drivers.pop(device_id, None)
        own = f"devices.{device_id}."
        self._config = replace(
            self._config,
            devices=tuple(d for d in self._config.devices if d.id != device_id),
            secrets={
                k: v for k, v in self._config.secrets.items() if not k.startswith(own)
            },
        )
        self.entity_ids = household_entity_ids(self._config)
        self._follow_entities()
        self._changed()

    @callback
    def async_connect(self) -> None:
        """Follow the gateway and the input entities; undone on unload."""
        entry = self.entry
        entry.async_on_unload(self.client.add_snapshot_listener(self._on_snapshot))
        entry.async_on_unload(self.client.add_event_listener(self._on_event))
        entry.async_on_unload(self.client.add_state_listener(self._on_state))
        entry.async_on_unload(self._cancel_unreachable)
        self._follow_inputs()
        for charger in self.chargers.values():
            follow_charger_identity(self.hass, entry, charger)
        self._on_state(self.client.state)

    def reading(self) -> MeterReading | None:
        """Return the gateway's last meter reading while it is current."""
        meter = self._part("meter")
        if not self.available or meter.get("available") is not True:
            return None
        return reading_from_data(meter.get("reading"))

    async def async_wait_for_reading(self, limit_s: float) -> MeterReading | None:
        """Wait until a snapshot brings a current reading (None after ``limit_s``)."""
        arrived = asyncio.Event()
        unsubscribe = self.client.add_snapshot_listener(lambda _s: arrived.set())
        try:
            async with asyncio.timeout(limit_s):
                while (reading := self.reading()) is None:
                    arrived.clear()
                    await arrived.wait()
        except TimeoutError:
            LOGGER.warning(
                "No meter reading from the gateway within %.0f s: %s",
                limit_s,
                self.meter_problem(),
            )
            return None
        finally:
            unsubscribe()
        return reading

    def meter_problem(self) -> str:
        """Say why there is no current reading."""
        if not self.client.connected:
            return f"the gateway is not connected ({self.client.state})"
        if not self._household:
            return "the gateway's household does not run"
        return "the gateway's meter gives no readings"

    def charger_data(self, device_id: str) -> Mapping[str, Any]:
        """Return one charger of the last snapshot (empty if not in it)."""
        for charger in self._household.get("chargers") or ():
            if isinstance(charger, Mapping) and charger.get("device_id") == device_id:
                return charger
        return {}

    def device_data(self, device_id: str) -> Mapping[str, Any]:
        """Return one heat pump, boiler or appliance of the last snapshot."""
        for device in self._household.get("devices") or ():
            if isinstance(device, Mapping) and device.get("device_id") == device_id:
                return device
        return {}

    def _views_changed(self) -> None:
        for charger in self.chargers.values():
            charger.changed()
        for driver in self.drivers.values():
            driver.changed()

    @callback
    def _on_snapshot(self, _snapshot: Mapping[str, Any]) -> None:
        if self._problems_due and self.client.connected:
            self._problems_due = not self._raise_problems()
        self._changed()
        self._views_changed()

    @callback
    def _raise_problems(self) -> bool:
        """Raise the running household's problems (False: none runs yet).

        On a new connection the first snapshot may come after the connection
        is up (the client shows none of the last connection's): its problems
        are raised then.
        """
        household = self._household
        if not household:
            return False
        for problem in household.get("problems") or ():
            if isinstance(problem, Mapping):
                update_issue(self.hass, self.entry, {**problem, "active": True})
        return True

    @callback
    def _on_event(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "problem":
            update_issue(self.hass, self.entry, data)
        elif kind == "household_started":
            # What was sent while the gateway's household was not running
            # (on connect, or an entity's change) was refused: the household
            # that runs now gets it all.
            self.entry.async_create_background_task(
                self.hass, self._async_resend_inputs(), f"{DOMAIN} inputs"
            )
        elif kind == "new_charger":
            discovery_flow.async_create_flow(
                self.hass,
                DOMAIN,
                context={"source": SOURCE_INTEGRATION_DISCOVERY},
                data={"entry_id": self.entry.entry_id, **data},
            )

    @callback
    def _log_availability(self, state: str) -> None:
        """Log once when the gateway is lost, and once when it is back."""
        if state == ConnectionState.CONNECTED:
            if self._unavailable_logged:
                self._unavailable_logged = False
                LOGGER.info(
                    "The gateway at %s is available again", self.client.address.url
                )
        elif (
            state not in {ConnectionState.STOPPED, ConnectionState.CONNECTING}
            and not self._unavailable_logged
        ):
            self._unavailable_logged = True
            LOGGER.info(
                "The gateway at %s is unavailable (%s): %s",
                self.client.address.url,
                state,
                self.client.error,
            )

    @callback
    def _on_state(self, state: str) -> None:
        hass, entry = self.hass, self.entry
        self._log_availability(state)
        if state == ConnectionState.CONNECTED:
            self._cancel_unreachable()
            self._flush_states()
            for key in (ISSUE_UNREACHABLE, ISSUE_VERSION):
                ir.async_delete_issue(hass, DOMAIN, f"{key}_{entry.entry_id}")
            self._views_changed()
            self._problems_due = not self._raise_problems()
        elif state == ConnectionState.VERSION_MISMATCH:
            self.create_issue(ISSUE_VERSION)
        elif (
            state in {ConnectionState.DISCONNECTED, ConnectionState.AUTH_FAILED}
            and self._unreachable_timer is None
        ):
            self._unreachable_timer = async_call_later(
                hass, UNREACHABLE_GRACE_S, self._still_unreachable
            )
        self._changed()
        self._views_changed()

    @callback
    def _still_unreachable(self, _now: datetime) -> None:
        self._unreachable_timer = None
        if not self.client.connected:
            self.create_issue(ISSUE_UNREACHABLE)

    @callback
    def _cancel_unreachable(self) -> None:
        if self._unreachable_timer is not None:
            self._unreachable_timer()
            self._unreachable_timer = None

    @callback
    def create_issue(self, key: str, error: str | None = None) -> None:
        """Raise the repair issue ``key`` (unreachable, version skew)."""
        address = self.client.address
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{key}_{self.entry.entry_id}",
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=key,
            translation_placeholders={
                "household": self.entry.title,
                "gateway": f"{address.host}:{address.port}",
                "error": error or self.client.error or "",
            },
        )

    @callback
    def _follow_inputs(self) -> None:
        config = self._config

        @callback
        def _read_dim(state: State | None) -> None:
            self._send("set_dim_input", on=state is not None and state.state == "on")

        dim_entity = next(
            (limit.entity for limit in config.limits if limit.kind == "dim"), None
        )
        for entity_id, reader in (
            (config.tariff.price_source, self._read_prices),
            (config.forecasts.pv_source, self._read_pv),
            (dim_entity, _read_dim),
        ):
            if entity_id:
                self._track(entity_id, reader)

    @callback
    def _read_prices(self, state: State | None) -> None:
        self._read_input(
            state,
            "set_prices",
            "prices",
            parse_price_attributes,
            async_read_prices,
        )

    @callback
    def _read_pv(self, state: State | None) -> None:
        self._read_input(
            state,
            "set_pv_forecast",
            "forecast",
            parse_pv_attributes,
            async_read_pv_forecast,
        )

    @callback
    def _read_input(
        self,
        state: State | None,
        kind: str,
        field: str,
        parse: Callable[[Mapping[str, Any]], Series],
        read: Callable[[HomeAssistant, State], Awaitable[Series]],
    ) -> None:
        """Send what a price or PV entity stands for to the gateway.

        Attributes are read at once; an integration's action in a task.
        """
        if state is None:
            return
        if action_source(self.hass, state.entity_id) is not None:
            self.entry.async_create_task(
                self.hass,
                self._async_read_input(state, kind, field, read),
                f"{DOMAIN} {kind}",
            )
            return
        try:
            series = parse(state.attributes)
        except InputFormatError as err:
            LOGGER.info("No %s in %s yet: %s", _INPUT_NAMES[kind], state.entity_id, err)
            return
        self._send(kind, **{field: _series(series)})

    async def _async_read_input(
        self,
        state: State,
        kind: str,
        field: str,
        read: Callable[[HomeAssistant, State], Awaitable[Series]],
    ) -> None:
        try:
            series = await read(self.hass, state)
        except InputFormatError as err:
            LOGGER.info("No %s in %s yet: %s", _INPUT_NAMES[kind], state.entity_id, err)
            return
        await self._async_input(kind, **{field: _series(series)})

    @callback
    def _send(self, kind: str, **message: Any) -> None:  # noqa: ANN401
        self.entry.async_create_background_task(
            self.hass, self._async_input(kind, **message), f"{DOMAIN} {kind}"
        )

    @callback
    def _track(self, entity_id: str, reader: Callable[[State | None], None]) -> None:
        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            reader(event.data["new_state"])

        self.entry.async_on_unload(
            async_track_state_change_event(self.hass, [entity_id], _changed)
        )
        reader(self.hass.states.get(entity_id))

    def diagnostics(self) -> dict[str, Any]:
        """Return the connection and the last snapshot, for diagnostics."""
        welcome = self.client.welcome or {}
        return {
            "state": self.client.state,
            "error": self.client.error,
            "connects": self.client.connects,
            "pushes": self.pushes,
            "gateway_version": welcome.get("gateway_version"),
            "protocol": welcome.get("protocol"),
            "features": welcome.get("features"),
            "entities": sorted(self.entity_ids),
            "entity_calls": self.entity_calls,
            "snapshot": self.client.snapshot,
            "now": dt_util.utcnow().isoformat(),
        }


CHARGER_KINDS: Final = {"ocpp_charger": "ocpp", "quasar": "quasar"}
"""Document device kinds that are chargers, and their kind in entities."""


class RemoteCharger:
    """A charger of the gateway's household, from its snapshots (a ChargerView)."""

    def __init__(self, remote: RemoteHousehold, device: DeviceConfig) -> None:
        """Show ``device`` of ``remote``'s document."""
        self.remote = remote
        self.device = device
        self._listeners: list[Callable[[], None]] = []

    @property
    def _data(self) -> Mapping[str, Any]:
        return self.remote.charger_data(self.device.id)

    @property
    def device_id(self) -> str:
        """The household's id for it."""
        return self.device.id

    @property
    def subentry_id(self) -> str:
        """The charger's subentry."""
        return self.device.id

    @property
    def title(self) -> str:
        """Its name."""
        return self.device.name or self.device.id

    @property
    def kind(self) -> str:
        """``ocpp`` or ``quasar``."""
        return CHARGER_KINDS[self.device.kind]

    @property
    def available(self) -> bool:
        """The gateway is connected and the charger answers it."""
        return self.remote.available and self._data.get("available") is True

    @property
    def plugged_in(self) -> bool | None:
        """Whether a car is plugged in."""
        value = self._data.get("plugged_in")
        return value if isinstance(value, bool) else None

    @property
    def power_w(self) -> float | None:
        """What it draws now."""
        return parse_number(self._data.get("power_w"))

    @property
    def setpoint_w(self) -> float | None:
        """The power it was last told."""
        return parse_number(self._data.get("setpoint_w"))

    @property
    def soc_pct(self) -> float | None:
        """The car's SoC in percent."""
        return parse_number(self._data.get("soc_pct"))

    @property
    def session_energy_kwh(self) -> float | None:
        """Energy of the running session."""
        return parse_number(self._data.get("session_energy_kwh"))

    @property
    def state_name(self) -> str | None:
        """The state as one of ``CHARGER_STATES`` (unknown ones as ``other``)."""
        value = self._data.get("state")
        if value is None:
            return None
        return value if value in CHARGER_STATES else "other"

    @property
    def limit_w(self) -> float | None:
        """The charger-side limit in force."""
        return parse_number(self._data.get("limit_w"))

    @property
    def boost_w(self) -> float:
        """The most it can take (0 while the gateway has not said)."""
        return parse_number(self._data.get("boost_w")) or 0.0

    @property
    def departure(self) -> datetime | None:
        """When the car leaves."""
        return parse_time(self._data.get("departure"))

    @property
    def target_soc(self) -> float | None:
        """The wanted SoC at departure (0..1)."""
        return parse_number(self._data.get("target_soc"))

    @property
    def min_soc(self) -> float | None:
        """The SoC never to go below (0..1)."""
        return parse_number(self._data.get("min_soc"))

    @property
    def v2g_allowed(self) -> bool:
        """Whether discharge is allowed."""
        value = self._data.get("v2g_allowed")
        return value if isinstance(value, bool) else self.device.v2g_allowed

    @property
    def identity(self) -> tuple[str | None, str | None, str | None, str | None]:
        """Vendor, model, serial and firmware from its boot."""
        data = self._data
        values = [data.get(key) for key in ("vendor", "model", "serial", "firmware")]
        text = [value if isinstance(value, str) else None for value in values]
        return (text[0], text[1], text[2], text[3])

    def planned_power_w(self, slots_ahead: int = 0) -> float | None:
        """Return what the plan gives it now (0) or in the next slot (1)."""
        key = "planned_w" if slots_ahead == 0 else "planned_next_w"
        return parse_number(self._data.get(key))

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every snapshot and connection change."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def changed(self) -> None:
        """Tell the listeners (a snapshot came, or the connection changed)."""
        for listener in tuple(self._listeners):
            listener()

    async def async_set_override(self, setpoint_w: float | None) -> None:
        """Boost (a setpoint above 0), pause (0) or resume (None) in the gateway."""
        fields_: dict[str, float] = {}
        if setpoint_w is None:
            action = "resume"
        elif setpoint_w <= 0:
            action = "pause"
        else:
            action, fields_ = "boost", {"setpoint_w": setpoint_w}
        await self.remote.async_command(
            "set_override", device_id=self.device.id, action=action, **fields_
        )

    async def async_set_departure(self, changes: dict[str, Any]) -> None:
        """Change departure, target or minimum SoC in the gateway."""
        message = {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in changes.items()
        }
        await self.remote.async_command(
            "set_departure", device_id=self.device.id, **message
        )

    async def async_set_v2g(self, *, allowed: bool) -> None:
        """Allow or forbid discharge in the gateway."""
        await self.remote.async_command(
            "set_v2g", device_id=self.device.id, allowed=allowed
        )


class RemoteDriver(SnapshotDriver):
    """A heat pump, boiler or appliance of the gateway's household (a DriverView)."""

    def __init__(self, remote: RemoteHousehold, device: DeviceConfig) -> None:
        """Show ``device`` of ``remote``'s document."""
        super().__init__(device)
        self.remote = remote
        self._listeners: list[Callable[[], None]] = []

    @property
    def _data(self) -> Mapping[str, Any]:
        return self.remote.device_data(self.device.id)

    @property
    def available(self) -> bool:
        """The gateway is connected and the device answers it."""
        return self.remote.available and super().available

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every snapshot and connection change."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def changed(self) -> None:
        """Tell the listeners (a snapshot came, or the connection changed)."""
        for listener in tuple(self._listeners):
            listener()

    async def async_set_planned(self, *, planned: bool) -> None:
        """Put it in the gateway's plan, or leave it to itself."""
        await self.remote.async_command(
            "set_device_planned", device_id=self.device.id, planned=planned
        )

    async def async_set_override(
        self, mode: str | None, duration: timedelta | None
    ) -> None:
        """Boost or block the device in the gateway, or give it back to the plan."""
        await self.remote.async_command(
            "set_device_override",
            device_id=self.device.id,
            mode=mode or "auto",
            duration_min=None if duration is None else duration.total_seconds() / 60,
        )

    async def async_run_before(self, finish_by: datetime) -> None:
        """Arm the appliance in the gateway (or move its deadline)."""
        await self.remote.async_command(
            "run_before", device_id=self.device.id, finish_by=finish_by.isoformat()
        )

    async def async_arm(self) -> None:
        """Arm the appliance in the gateway."""
        await self.remote.async_command("arm_appliance", device_id=self.device.id)

    async def async_disarm(self) -> None:
        """Disarm the appliance in the gateway."""
        await self.remote.async_command("disarm_appliance", device_id=self.device.id)


class RemoteMeterCoordinator(DataUpdateCoordinator[MeterReading]):
    """The gateway's meter readings for the meter sensors, at the throttled rate."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: StroomwijsConfigEntry,
        remote: RemoteHousehold,
        update_interval: float,
    ) -> None:
        """Follow ``remote``'s snapshots; at most one update per ``update_interval``."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} gateway meter",
            update_interval=None,
        )
        self.remote = remote
        self.throttle_s = update_interval
        self._last_push = 0.0
        reading = remote.reading()
        if reading is not None:
            self.async_set_updated_data(reading)
            self._last_push = time.monotonic()

    @callback
    def async_start(self) -> None:
        """Follow the snapshots and the connection; undone on unload."""
        self.remote.entry.async_on_unload(self.remote.add_listener(self._on_change))

    async def _async_update_data(self) -> MeterReading:
        """Return the newest reading (there is nothing to poll)."""
        reading = self.remote.reading()
        if reading is None:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="meter_unavailable",
                translation_placeholders={"reason": self.remote.meter_problem()},
            )
        return reading

    @callback
    def _on_change(self) -> None:
        reading = self.remote.reading()
        if reading is None:
            if self.last_update_success:
                self.last_update_success = False
                self.last_exception = UpdateFailed(self.remote.meter_problem())
                self.async_update_listeners()
            return
        last: MeterReading | None = self.data
        current = self.last_update_success and last is not None
        if current and last is not None:
            recent = time.monotonic() - self._last_push < self.throttle_s
            if reading.timestamp == last.timestamp or recent:
                return
        self._last_push = time.monotonic()
        self.async_set_updated_data(reading)


def _series(series: Series | None) -> dict[str, Any] | None:
    return None if series is None else series.to_dict()
