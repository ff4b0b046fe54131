"""DSO limits and the guard inside Home Assistant.

``async_setup_limits`` builds the household's limit sources from the entry's
options (manual limit and P1 text message always; static windows, an
OpenADR 3 VEN, the capacity-tariff target and a §14a dim input when
configured), a guard on the household's meter, and a ``LimitsRuntime`` that
entities and services use. The guard takes every telegram straight from the
engine's ``Meter`` (not the throttled coordinator). A lost DSO feed raises a
repairs issue and clears it when the feed is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_time_interval,
)
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER
from .engine.capabilities import (
    CurtailPriority,
    DepartureNeeds,
    DeviceUnavailableError,
    PowerRange,
)
from .engine.drivers.ocpp.charger import OcppCharger
from .engine.grid import GridConnection
from .engine.guard import (
    Guard,
    GuardConfig,
    GuardedDevice,
    Intervention,
    InterventionKind,
)
from .engine.limits import (
    CapacityTariffSource,
    DimInputSource,
    DimMode,
    EffectiveLimit,
    Limit,
    LimitStack,
    ManualLimitSource,
    P1MessageLimitSource,
    StaticWindowSource,
    TimeWindow,
)
from .engine.limits.openadr import OpenAdrClient, OpenAdrVen
from .engine.meter.models import MeterReading
from .limits_flow import (
    CONF_BUDGET_W,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_DEVICES,
    CONF_ENTITY,
    CONF_FAILSAFE_W,
    CONF_LIMIT_KIND,
    CONF_MODE,
    CONF_PROGRAMS,
    CONF_TIMEOUT_MIN,
    CONF_URL,
    KIND_CAPACITY,
    KIND_DIM,
    KIND_OPENADR,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
    window_from_data,
)
from .models import StroomwijsConfigEntry

CONF_LIMIT_WINDOWS: Final = "limit_windows"
"""List of {"start": "16:00", "end": "21:00", "import_w": 4000, ...}."""
CONF_OPENADR_URL: Final = "openadr_url"
CONF_OPENADR_CLIENT_ID: Final = "openadr_client_id"
CONF_OPENADR_CLIENT_SECRET: Final = "openadr_client_secret"  # noqa: S105 - key
CONF_EAN: Final = "ean"
CONF_OPENADR_PROGRAMS: Final = "openadr_programs"
CONF_FAILSAFE_IMPORT_W: Final = "failsafe_import_w"
CONF_SIGNAL_TIMEOUT_MIN: Final = "signal_timeout_min"
CONF_CAPACITY_TARGET: Final = "capacity_target"
"""True (derive from this month's peak) or a budget in W."""
CONF_DIM_ENTITY: Final = "dim_entity"
CONF_DIM_DEVICES: Final = "dim_devices"
CONF_DIM_MODE: Final = "dim_mode"
CONF_GUARD_MARGIN_W: Final = "guard_margin_w"
CONF_GUARD_DATA_TIMEOUT_S: Final = "guard_data_timeout_s"
CONF_MANUAL_DURATION_MIN: Final = "manual_limit_duration_min"
CONF_OPENADR_VENS: Final = "openadr_vens"
"""Derived: every VTN to follow (options and subentries)."""

DEFAULT_MANUAL_DURATION: Final = timedelta(hours=4)
REFRESH_INTERVAL: Final = timedelta(seconds=5)
UPCOMING_HORIZON: Final = timedelta(hours=24)
ISSUE_SIGNAL_LOST: Final = "dso_signal_lost"
CHARGER_REACTION_DELAY: Final = timedelta(seconds=5)

type GridEventListener = Callable[[str, dict[str, Any]], None]


@dataclass(slots=True)
class LimitsRuntime:
    """The household's limit sources and its guard, as entities see them."""

    grid: GridConnection
    stack: LimitStack
    manual: ManualLimitSource
    p1_message: P1MessageLimitSource
    guard: Guard
    manual_duration: timedelta = DEFAULT_MANUAL_DURATION
    ven: OpenAdrVen | None = None
    vens: list[OpenAdrVen] = field(default_factory=list)
    capacity: CapacityTariffSource | None = None
    dim: DimInputSource | None = None
    effective: EffectiveLimit | None = None
    interventions_today: int = 0
    counted_day: date | None = None
    listeners: list[Callable[[], None]] = field(default_factory=list)
    event_listeners: list[GridEventListener] = field(default_factory=list)

    @callback
    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever limits or guard state change."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    @callback
    def add_event_listener(self, listener: GridEventListener) -> Callable[[], None]:
        """Call ``listener(event_type, data)`` for limit changes and interventions."""
        self.event_listeners.append(listener)
        return lambda: self.event_listeners.remove(listener)

    @callback
    def notify(self) -> None:
        """Tell the entities to refresh."""
        for listener in tuple(self.listeners):
            listener()

    @callback
    def fire(self, event_type: str, data: dict[str, Any]) -> None:
        """Send an event to the event entity."""
        for listener in tuple(self.event_listeners):
            listener(event_type, data)

    @property
    def import_limit_w(self) -> float:
        """The import limit the guard holds: min(DSO limit, fuse)."""
        effective = self.effective
        fuse = self.grid.max_power_w
        if effective is None or effective.import_w is None:
            return fuse
        return min(effective.import_w, fuse)

    @property
    def import_source(self) -> str:
        """Where the import limit comes from (``fuse`` without a DSO limit)."""
        effective = self.effective
        if effective is None or effective.import_w is None:
            return "fuse"
        if effective.import_w >= self.grid.max_power_w:
            return "fuse"
        return effective.import_source or "dso"

    @property
    def limit_active(self) -> bool:
        """Whether a DSO limit below the fuse is in force."""
        return self.import_source != "fuse" or (
            self.effective is not None and self.effective.export_w is not None
        )

    def next_limit(self, now: datetime) -> Limit | None:
        """Return the next limit that starts within 24 hours."""
        upcoming = self.stack.upcoming(now, UPCOMING_HORIZON)
        return upcoming[0] if upcoming else None

    def set_manual(
        self,
        *,
        import_w: float | None,
        duration: timedelta | None,
        label: str,
        export_w: float | None = None,
    ) -> None:
        """Set the manual limit and refresh at once."""
        self.manual.set_limit(
            now=dt_util.utcnow(),
            import_w=import_w,
            duration=duration,
            label=label,
            export_w=export_w,
        )
        self.effective = self.stack.refresh(dt_util.utcnow())
        self.notify()

    def clear_manual(self) -> None:
        """Remove the manual limit."""
        self.manual.clear()
        self.effective = self.stack.refresh(dt_util.utcnow())
        self.notify()


def _settings(entry: StroomwijsConfigEntry) -> dict[str, Any]:
    """Merge the entry's data and options with its grid-limit subentries."""
    settings: dict[str, Any] = {**entry.data, **entry.options}
    windows = list(settings.get(CONF_LIMIT_WINDOWS, []))
    vens: list[dict[str, Any]] = []
    if settings.get(CONF_OPENADR_URL):
        vens.append(settings)
    for sub in entry.subentries.values():
        if sub.subentry_type != SUBENTRY_GRID_LIMIT:
            continue
        data = dict(sub.data)
        kind = data.get(CONF_LIMIT_KIND)
        if kind == KIND_WINDOW:
            windows.append(data)
        elif kind == KIND_OPENADR:
            vens.append(
                {
                    CONF_OPENADR_URL: data[CONF_URL],
                    CONF_OPENADR_CLIENT_ID: data[CONF_CLIENT_ID],
                    CONF_OPENADR_CLIENT_SECRET: data[CONF_CLIENT_SECRET],
                    CONF_EAN: data[CONF_EAN],
                    CONF_OPENADR_PROGRAMS: data.get(CONF_PROGRAMS) or [],
                    CONF_FAILSAFE_IMPORT_W: data.get(CONF_FAILSAFE_W, 4_200),
                    CONF_SIGNAL_TIMEOUT_MIN: data.get(CONF_TIMEOUT_MIN, 15),
                }
            )
        elif kind == KIND_CAPACITY:
            settings[CONF_CAPACITY_TARGET] = data.get(CONF_BUDGET_W) or True
        elif kind == KIND_DIM:
            settings[CONF_DIM_ENTITY] = data[CONF_ENTITY]
            settings[CONF_DIM_DEVICES] = data.get(CONF_DEVICES, 1)
            settings[CONF_DIM_MODE] = data.get(CONF_MODE, DimMode.CONNECTION.value)
    settings[CONF_LIMIT_WINDOWS] = windows
    settings[CONF_OPENADR_VENS] = vens
    return settings


def _reload_on_limit_subentries(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> None:
    """Reload the household when a grid-limit subentry is added or removed."""
    known = _limit_subentries(entry)

    @callback
    def _entry_changed(change: ConfigEntryChange, changed: ConfigEntry[Any]) -> None:
        if (
            change is not ConfigEntryChange.UPDATED
            or changed.entry_id != entry.entry_id
            or changed.state is not ConfigEntryState.LOADED
        ):
            return
        if _limit_subentries(changed) != known:
            hass.config_entries.async_schedule_reload(entry.entry_id)

    entry.async_on_unload(
        async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, _entry_changed)
    )


def _limit_subentries(entry: ConfigEntry[Any]) -> frozenset[str]:
    return frozenset(
        sid
        for sid, sub in entry.subentries.items()
        if sub.subentry_type == SUBENTRY_GRID_LIMIT
    )


def _windows(options: dict[str, Any]) -> list[TimeWindow]:
    return [window_from_data(raw) for raw in options.get(CONF_LIMIT_WINDOWS, [])]


class ChargerForGuard:
    """An OCPP charger as the guard drives it, with a charger-side limit.

    Two things go to the charger as its station limit (which caps every
    setpoint, a manual boost included, and stays on the charger if Home
    Assistant goes away): the DSO import limit while one is active, and the
    guard's cap when the user's manual override would break the limit. So
    the user's override wins everywhere except against the DSO limit.
    """

    def __init__(self, device: OcppCharger) -> None:
        """Wrap an OCPP charger."""
        self._device = device
        self._dso_w: float | None = None
        self._cap_w: float | None = None
        self._sent: float | None = None
        self._synced = False
        """False until the first limit went out (it replaces a stored one)."""

    @property
    def device_id(self) -> str:
        """The charger's id."""
        return self._device.device_id

    @property
    def name(self) -> str:
        """The charger's name."""
        return self._device.name

    @property
    def available(self) -> bool:
        """Whether the charger is connected."""
        return self._device.available

    @property
    def power_range(self) -> PowerRange:
        """What the charger accepts now."""
        return self._device.power_range

    @property
    def setpoint_w(self) -> float | None:
        """The setpoint the charger accepted."""
        return self._device.setpoint_w

    @property
    def power_w(self) -> float | None:
        """Metered charging power."""
        return self._device.power_w

    @property
    def energy_kwh(self) -> float | None:
        """Metered energy."""
        return self._device.energy_kwh

    @property
    def soc(self) -> float | None:
        """The car's state of charge."""
        return self._device.soc

    @property
    def capacity_kwh(self) -> float | None:
        """The car's battery capacity."""
        return self._device.capacity_kwh

    @property
    def plugged_in(self) -> bool:
        """Whether a car is connected."""
        return self._device.plugged_in

    @property
    def departure(self) -> DepartureNeeds:
        """The car's departure needs."""
        return self._device.departure

    @property
    def discharge_allowed(self) -> bool:
        """Whether V2G discharge is allowed."""
        return self._device.discharge_allowed

    @property
    def station_limit_w(self) -> float | None:
        """The limit this adapter last gave the charger (None: none)."""
        return self._sent

    async def async_set_power(self, setpoint_w: float) -> None:
        """Apply the guard's setpoint; cap a manual override that is too high."""
        manual = self._device.manual_setpoint_w
        if manual is not None and setpoint_w < manual - 1.0:
            self._cap_w = max(setpoint_w, 0.0)
        elif self._cap_w is not None and (manual is None or setpoint_w >= manual):
            self._cap_w = None
        await self._apply_limit()
        await self._device.async_set_power(setpoint_w)

    async def async_set_dso_limit(self, limit_w: float | None) -> None:
        """Follow the DSO import limit as the charger-side limit."""
        self._dso_w = limit_w
        try:
            await self._apply_limit()
        except DeviceUnavailableError as err:
            # The driver keeps the limit and sends it on reconnect.
            LOGGER.debug("Charger-side limit for %s queued: %s", self.device_id, err)

    async def _apply_limit(self) -> None:
        values = [v for v in (self._dso_w, self._cap_w) if v is not None]
        limit = min(values) if values else None
        if self._synced and limit == self._sent:
            return
        self._sent = limit
        self._synced = True  # the driver keeps it and resends on reconnect
        await self._device.async_set_station_limit(limit)


def _guarded_devices(entry: StroomwijsConfigEntry) -> list[GuardedDevice]:
    """Chargers that take a power setpoint come under the guard as EVs."""
    hub = entry.runtime_data.chargers
    if hub is None:
        return []
    return [
        GuardedDevice(
            device=ChargerForGuard(handle.device)
            if isinstance(handle.device, OcppCharger)
            else handle.device,
            priority=CurtailPriority.EV,
            reaction_delay=CHARGER_REACTION_DELAY,
            pause_allowed=_pause_allowed(handle.device),
            phases=_phases(handle.device),
        )
        for handle in hub.handles.values()
    ]


def _pause_allowed(device: object) -> bool:
    """Tell whether a car may be paused (not if the charger holds the minimum)."""
    config = getattr(device, "config", None)
    return config is not None and not getattr(config, "minimum_instead_of_pause", True)


def _phases(device: object) -> tuple[int, ...]:
    """Return the phases a charger draws from (all three unless set to one)."""
    config = getattr(device, "config", None)
    return (0,) if getattr(config, "phases", 3) == 1 else (0, 1, 2)


async def async_setup_limits(
    hass: HomeAssistant, entry: StroomwijsConfigEntry
) -> LimitsRuntime:
    """Build the limit sources and the guard of one household."""
    settings = _settings(entry)
    runtime_data = entry.runtime_data
    grid = runtime_data.grid
    now = dt_util.utcnow()
    manual = ManualLimitSource()
    p1_message = P1MessageLimitSource()
    stack = LimitStack([manual, p1_message])
    windows = _windows(settings)
    if windows:
        stack.add(
            StaticWindowSource(windows, time_zone=str(dt_util.get_default_time_zone()))
        )
    vens: list[OpenAdrVen] = []
    for config in settings.get(CONF_OPENADR_VENS, []):
        client = OpenAdrClient(
            async_get_clientsession(hass),
            str(config[CONF_OPENADR_URL]),
            client_id=str(config[CONF_OPENADR_CLIENT_ID]),
            client_secret=str(config[CONF_OPENADR_CLIENT_SECRET]),
        )
        ven = OpenAdrVen(
            client,
            ean=str(config[CONF_EAN]),
            programs=config.get(CONF_OPENADR_PROGRAMS) or None,
            failsafe_import_w=float(config.get(CONF_FAILSAFE_IMPORT_W, 4_200)),
            timeout=timedelta(minutes=float(config.get(CONF_SIGNAL_TIMEOUT_MIN, 15))),
            clock=dt_util.utcnow,
            name="openadr" if not vens else f"openadr{len(vens) + 1}",
        )
        vens.append(ven)
        stack.add(ven)
    capacity: CapacityTariffSource | None = None
    target = settings.get(CONF_CAPACITY_TARGET)
    if target:
        capacity = CapacityTariffSource(
            budget_w=None if target is True else float(target),
            time_zone=str(dt_util.get_default_time_zone()),
        )
        stack.add(capacity)
    dim: DimInputSource | None = None
    if settings.get(CONF_DIM_ENTITY):
        dim = DimInputSource(
            devices=int(settings.get(CONF_DIM_DEVICES, 1)),
            mode=DimMode(settings.get(CONF_DIM_MODE, DimMode.CONNECTION)),
        )
        stack.add(dim)
    guard = Guard(
        GuardConfig(
            grid=grid,
            margin_w=float(settings.get(CONF_GUARD_MARGIN_W, 200)),
            data_timeout=timedelta(
                seconds=float(settings.get(CONF_GUARD_DATA_TIMEOUT_S, 10))
            ),
        ),
        _guarded_devices(entry),
        limits=stack,
        device_cap_w=(lambda: dim.device_cap_w) if dim is not None else None,
    )
    runtime = LimitsRuntime(
        grid=grid,
        stack=stack,
        manual=manual,
        p1_message=p1_message,
        guard=guard,
        ven=vens[0] if vens else None,
        vens=vens,
        capacity=capacity,
        dim=dim,
        manual_duration=timedelta(
            minutes=float(
                settings.get(
                    CONF_MANUAL_DURATION_MIN,
                    DEFAULT_MANUAL_DURATION.total_seconds() / 60,
                )
            )
        ),
    )
    _wire(hass, entry, runtime, settings)
    runtime.effective = stack.refresh(now)
    return runtime


def _wire(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    runtime: LimitsRuntime,
    settings: dict[str, Any],
) -> None:
    """Connect meter, timers, dim input, VEN polling and guard events."""
    stop = asyncio.Event()
    entry.async_on_unload(stop.set)

    entry.async_on_unload(
        runtime.stack.subscribe(_limit_listener(hass, entry, runtime))
    )

    @callback
    def on_intervention(item: Intervention) -> None:
        if item.kind is InterventionKind.LIMIT_CHANGED:
            return  # the limit stack reports limit changes itself
        today = dt_util.as_local(item.timestamp).date()
        if today != runtime.counted_day:
            runtime.counted_day = today
            runtime.interventions_today = 0
        runtime.interventions_today += 1
        runtime.fire(
            item.kind.value,
            {
                "device_id": item.device_id,
                "from_w": item.from_w,
                "to_w": item.to_w,
                "reason": item.reason,
                "limit_w": item.limit_w,
                "measured_w": item.measured_w,
            },
        )
        runtime.notify()

    entry.async_on_unload(runtime.guard.subscribe(on_intervention))

    @callback
    def refresh(_now: datetime) -> None:
        runtime.effective = runtime.stack.refresh(dt_util.utcnow())
        runtime.notify()

    entry.async_on_unload(async_track_time_interval(hass, refresh, REFRESH_INTERVAL))

    _wire_meter(hass, entry, runtime, stop)

    dim_entity = settings.get(CONF_DIM_ENTITY)
    if runtime.dim is not None and dim_entity:
        _wire_dim(hass, entry, runtime, str(dim_entity))

    for ven in runtime.vens:
        entry.async_create_background_task(
            hass, ven.async_run(stop), f"{DOMAIN} OpenADR VEN {ven.ean}"
        )
    _reload_on_limit_subentries(hass, entry)
    LOGGER.debug(
        "Limits of %s: %s", entry.title, [s.name for s in runtime.stack.sources]
    )


def _charger_side_limit_w(effective: EffectiveLimit) -> float | None:
    """Return the DSO import limit for the chargers' station limit.

    The capacity-tariff target is left out: it moves with every reading and
    is a cost, not a grid limit, so it must not flood the chargers.
    """
    values = [
        limit.import_w
        for limit in effective.contributing
        if limit.import_w is not None and not limit.source.startswith("capacity")
    ]
    return min(values) if values else None


def _limit_listener(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, runtime: LimitsRuntime
) -> Callable[[EffectiveLimit, EffectiveLimit | None], None]:
    """Handle a change of the effective limit: entities, event, repair, chargers."""

    @callback
    def on_limit_change(new: EffectiveLimit, old: EffectiveLimit | None) -> None:
        runtime.effective = new
        charger_limit = _charger_side_limit_w(new)
        if old is None or _charger_side_limit_w(old) != charger_limit:
            for gd in runtime.guard.devices:
                if isinstance(gd.device, ChargerForGuard):
                    entry.async_create_task(
                        hass,
                        gd.device.async_set_dso_limit(charger_limit),
                        f"{DOMAIN} charger-side limit {gd.device_id}",
                    )
        if old is not None:
            runtime.fire(
                "limit_changed",
                {
                    "import_limit_w": new.import_w,
                    "export_limit_w": new.export_w,
                    "source": new.import_source,
                    "failsafe": new.failsafe,
                },
            )
        _update_issue(hass, entry, new)
        runtime.notify()

    return on_limit_change


def _wire_meter(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    runtime: LimitsRuntime,
    stop: asyncio.Event,
) -> None:
    """Give the guard (and the P1 message source) every telegram."""
    meter = entry.runtime_data.meter
    if meter is None:
        return

    @callback
    def on_reading(reading: MeterReading) -> None:
        runtime.p1_message.feed(reading.text_message, reading.timestamp)
        runtime.guard.feed(reading)

    entry.async_on_unload(meter.subscribe(on_reading))
    entry.async_create_background_task(
        hass,
        runtime.guard.async_run(stop, dt_util.utcnow),
        f"{DOMAIN} guard {entry.title}",
    )


def _wire_dim(
    hass: HomeAssistant,
    entry: StroomwijsConfigEntry,
    runtime: LimitsRuntime,
    dim_entity: str,
) -> None:
    """Follow the dim input's binary sensor or relay."""
    dim = runtime.dim
    if dim is None:
        return

    def apply(state_value: str | None) -> None:
        dim.set_input(on=state_value == "on", now=dt_util.utcnow())
        runtime.effective = runtime.stack.refresh(dt_util.utcnow())
        runtime.notify()

    @callback
    def on_dim(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        apply(None if state is None else state.state)

    entry.async_on_unload(async_track_state_change_event(hass, [dim_entity], on_dim))
    state = hass.states.get(dim_entity)
    apply(None if state is None else state.state)


def _update_issue(
    hass: HomeAssistant, entry: StroomwijsConfigEntry, effective: EffectiveLimit
) -> None:
    """Raise or clear the repairs issue for a lost DSO signal."""
    issue_id = f"{ISSUE_SIGNAL_LOST}_{entry.entry_id}"
    if effective.problems:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key=ISSUE_SIGNAL_LOST,
            translation_placeholders={
                "household": entry.title,
                "problem": "; ".join(effective.problems),
            },
        )
    else:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


def limits_diagnostics(runtime: LimitsRuntime | None) -> dict[str, Any] | None:
    """Return the limits and the guard's state for diagnostics (redact ``ean``)."""
    if runtime is None:
        return None
    now = dt_util.utcnow()
    effective = runtime.stack.effective(now)
    status = runtime.guard.status()
    return {
        "sources": [source.name for source in runtime.stack.sources],
        "effective": {
            "import_w": effective.import_w,
            "import_source": effective.import_source,
            "export_w": effective.export_w,
            "export_source": effective.export_source,
            "until": None if effective.until is None else effective.until.isoformat(),
            "failsafe": effective.failsafe,
            "problems": list(effective.problems),
        },
        "upcoming": [
            {
                "source": limit.source,
                "import_w": limit.import_w,
                "export_w": limit.export_w,
                "start": None if limit.start is None else limit.start.isoformat(),
                "end": None if limit.end is None else limit.end.isoformat(),
            }
            for limit in runtime.stack.upcoming(now, UPCOMING_HORIZON)[:10]
        ],
        "guard": {
            "devices": [gd.device_id for gd in runtime.guard.devices],
            "import_limit_w": status.import_limit_w,
            "limit_source": status.limit_source,
            "measured_w": status.measured_w,
            "curtailed": list(status.curtailed),
            "overrides": list(status.overrides),
            "override_notice": status.override_notice,
            "data_lost": status.data_lost,
            "interventions": status.interventions,
            "recent": [
                {
                    "time": item.timestamp.isoformat(),
                    "kind": item.kind.value,
                    "device": item.device_id,
                    "from_w": item.from_w,
                    "to_w": item.to_w,
                    "reason": item.reason,
                }
                for item in runtime.guard.log[-20:]
            ],
        },
        "openadr": [
            {
                "ean": ven.ean,
                "programs": [p.program_name for p in ven.status.programs.values()],
                "events": sorted(ven.status.events),
                "last_error": ven.status.last_error,
                "last_heard": None
                if ven.watchdog.last_heard is None
                else ven.watchdog.last_heard.isoformat(),
                "gac_warnings": ven.status.gac_warnings,
            }
            for ven in runtime.vens
        ],
    }
