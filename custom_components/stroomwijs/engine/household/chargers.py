"""The household's EV chargers: the OCPP central system and Wallbox Quasars.

``HouseholdChargers`` builds the chargers a ``HouseholdConfig`` lists, runs
the central system (when an OCPP charger is configured or the central system
is enabled to find new ones) and polls the Quasars. Each charger is a
:class:`ChargerHandle`, the view entities and hosts use. An OCPP charger
comes under the guard through :class:`ChargerForGuard`, which also gives the
charger its charger-side limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field, replace
from datetime import timedelta
import logging
import math
import ssl
from typing import Any, Final

from custom_components.stroomwijs.engine.capabilities import (
    CurtailPriority,
    DepartureNeeds,
    DeviceUnavailableError,
    PowerRange,
)
from custom_components.stroomwijs.engine.drivers.ocpp import (
    CentralSystem,
    ChargerConfig,
    CsmsConfig,
    OcppCharger,
    PendingCharger,
    SessionOptions,
)
from custom_components.stroomwijs.engine.drivers.quasar import (
    STATE_NAMES,
    QuasarCharger,
    QuasarConfig,
)
from custom_components.stroomwijs.engine.guard import GuardedDevice
from custom_components.stroomwijs.engine.limits import EffectiveLimit

from .config import DeviceConfig, HouseholdConfig

_LOGGER = logging.getLogger(__name__)

KIND_OCPP: Final = "ocpp"
KIND_QUASAR: Final = "quasar"
QUASAR_POLL: Final = timedelta(seconds=10)
CHARGER_REACTION_DELAY: Final = timedelta(seconds=5)
SHARE_ROUND_W: Final = 100.0
SHARE_STEP_W: Final = 500.0
"""A share is sent again only when it moved this much ..."""
SHARE_INTERVAL: Final = timedelta(seconds=30)
"""... and at most this often (a raise for a granted setpoint goes at once)."""

OCPP_STATES: Final[dict[str, str]] = {
    # OCPP 2.x charging states and connector statuses
    "EVConnected": "connected",
    "Charging": "charging",
    "SuspendedEV": "suspended_ev",
    "SuspendedEVSE": "suspended_evse",
    "Idle": "idle",
    "Occupied": "connected",
    "Available": "available",
    "Reserved": "reserved",
    "Unavailable": "unavailable",
    "Faulted": "faulted",
    # OCPP 1.6 connector statuses
    "Preparing": "connected",
    "Finishing": "finishing",
}
QUASAR_STATES: Final = frozenset(STATE_NAMES.values())
CHARGER_STATES: Final = sorted(
    {*OCPP_STATES.values(), *QUASAR_STATES, "offline", "discharging", "other"}
)

type ChargerDevice = OcppCharger | QuasarCharger


def ocpp_charger_config(device: DeviceConfig, password: str | None) -> ChargerConfig:
    """Build the OCPP driver's config from the household's device entry."""
    return ChargerConfig(
        charger_id=str(device.charger_id),
        name=device.name,
        password=password,
        phases=device.phases,
        max_current_a=device.max_current_a,
        min_current_a=device.min_current_a,
        minimum_instead_of_pause=device.minimum_instead_of_pause,
        capacity_kwh=device.capacity_kwh,
        v2g_allowed=device.v2g_allowed,
    )


def quasar_charger_config(device: DeviceConfig) -> QuasarConfig:
    """Build the Quasar driver's config from the household's device entry."""
    return QuasarConfig(
        host=str(device.host),
        port=device.port,
        name=device.name,
        capacity_kwh=device.capacity_kwh,
        minimum_instead_of_pause=device.minimum_instead_of_pause,
    )


@dataclass(slots=True)
class ChargerHandle:
    """One configured charger as entities and hosts see it."""

    device_id: str
    """The household's id for it (in Home Assistant: the subentry id)."""
    title: str
    kind: str
    device: ChargerDevice
    listeners: list[Callable[[], None]] = field(default_factory=list)

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every change; returns the unsubscribe function."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def notify(self) -> None:
        """Tell the listeners something changed."""
        for listener in list(self.listeners):
            listener()

    @property
    def subentry_id(self) -> str:
        """Home Assistant's name for ``device_id``."""
        return self.device_id

    @property
    def soc_pct(self) -> float | None:
        """SoC in percent."""
        soc = self.device.soc
        return None if soc is None else round(soc * 100.0, 1)

    @property
    def state_name(self) -> str | None:
        """The state as one of ``CHARGER_STATES`` (unknown ones as ``other``)."""
        device = self.device
        if isinstance(device, QuasarCharger):
            name = device.state
            if name is None:
                return None
            return name if name in QUASAR_STATES else "other"
        state = device.state
        if not state.connected:
            return "offline"
        if (device.power_w or 0.0) < 0:
            return "discharging"
        raw = state.charging_state or state.connector_status
        if raw is None:
            return None
        return OCPP_STATES.get(raw, "other")

    @property
    def limit_w(self) -> float | None:
        """The charger-side limit in force."""
        device = self.device
        if isinstance(device, OcppCharger):
            return device.station_limit_w
        return device.config.max_power_w

    @property
    def session_energy_kwh(self) -> float | None:
        """Energy of the running session (OCPP only)."""
        device = self.device
        return device.session_energy_kwh if isinstance(device, OcppCharger) else None

    @property
    def boost_w(self) -> float:
        """The most this charger can take (the DSO limit still caps it)."""
        device = self.device
        if isinstance(device, OcppCharger):
            return device.config.hardware_max_w
        return device.config.max_power_w

    def set_departure(self, changes: Mapping[str, Any]) -> None:
        """Change fields of the departure needs (the user's wish wins)."""
        self.device.set_departure(replace(self.device.departure, **changes))
        self.notify()

    async def async_manual(
        self, setpoint_w: float | None, *, send: bool = True
    ) -> None:
        """Boost, pause or (None) resume the plan.

        ``send=False``: record the override only; the guard sends what the
        limit leaves of it.
        """
        device = self.device
        if isinstance(device, OcppCharger):
            await device.async_set_manual(setpoint_w, send=send)
        elif send:
            await device.async_set_power(0.0 if setpoint_w is None else setpoint_w)
        self.notify()


class ChargerForGuard:
    """An OCPP charger as the guard drives it, with a charger-side limit.

    Three things go to the charger as its station limit (which caps every
    setpoint, a manual boost included, and stays on the charger if the host
    goes away): the DSO import limit while one is active; within it, the
    charger's share of what the rest of the house leaves of that limit (set
    by the household, see :func:`charger_shares`), raised at once to any
    setpoint the guard grants beyond it; and the guard's cap when the user's
    manual override would break the limit. So the user's override wins
    everywhere except against the DSO limit, and a charger left alone (its
    host gone, a car plugged in before the guard's first setpoint) stays
    within what the house left free when it last heard from the household.
    """

    def __init__(self, device: OcppCharger) -> None:
        """Wrap an OCPP charger."""
        self._device = device
        self._dso_w: float | None = None
        self._cap_w: float | None = None
        self._share_w: float | None = None
        self._grant_w = 0.0
        """The highest setpoint granted since the share was last set."""
        self._commanded_w: float | None = None
        """The guard's last setpoint (the charger may not have accepted it yet)."""
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
        """What the charger accepts under the DSO limit.

        The cap this adapter sets to hold a manual override is left out: it
        is the guard's own, so the guard may raise the charger past it again
        (counting it would keep a car paused for good once capped at 0).
        """
        return self._device.power_range_under(self._dso_w)

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

    @property
    def share_w(self) -> float | None:
        """The share of the DSO limit last set by the household (None: none)."""
        return self._share_w

    async def async_set_power(self, setpoint_w: float) -> None:
        """Apply the guard's setpoint; cap a manual override that is too high.

        A setpoint above the charger's share raises the station limit first
        (the share must never hold back what the guard grants); a lower one
        leaves it, until the household sets the share again.
        """
        manual = self._device.manual_setpoint_w
        if manual is not None and setpoint_w < manual - 1.0:
            self._cap_w = max(setpoint_w, 0.0)
        elif self._cap_w is not None and (manual is None or setpoint_w >= manual):
            self._cap_w = None
        self._grant_w = max(self._grant_w, setpoint_w)
        self._commanded_w = setpoint_w
        await self._apply_limit()
        await self._device.async_set_power(setpoint_w)

    async def async_emergency_pause(self) -> None:
        """Pause the car despite its minimum or a boost (a DSO emergency)."""
        self._cap_w = 0.0
        await self._apply_limit()
        await self._device.async_emergency_pause()

    async def async_set_dso_limit(self, limit_w: float | None) -> None:
        """Follow the DSO import limit as the charger-side limit."""
        self._dso_w = limit_w
        try:
            await self._apply_limit()
        except DeviceUnavailableError as err:
            # The driver keeps the limit and sends it on reconnect.
            _LOGGER.debug("Charger-side limit for %s queued: %s", self.device_id, err)

    async def async_set_share(self, share_w: float | None) -> None:
        """Set this charger's share of the DSO limit (None: the whole limit).

        The share counts from the setpoint the charger has now; setpoints
        granted later raise the station limit above it as they go out.
        """
        if share_w is not None and not (math.isfinite(share_w) and share_w >= 0):
            msg = f"invalid share {share_w}"
            raise ValueError(msg)
        self._share_w = share_w
        self._grant_w = self._granted_now()
        try:
            await self._apply_limit()
        except DeviceUnavailableError as err:
            _LOGGER.debug("Charger-side share for %s queued: %s", self.device_id, err)

    def station_limit_for(self, share_w: float | None) -> float | None:
        """Return the station limit a share would give now (as ``async_set_share``)."""
        return self._combine(share_w, self._granted_now())

    def _granted_now(self) -> float:
        """Return the setpoint granted now: accepted, or commanded and on its way.

        A grant the guard is sending while the share is set must not be
        clamped to the share by the charger (the two run in their own tasks).
        """
        accepted = self._device.setpoint_w or 0.0
        commanded = self._commanded_w or 0.0
        return max(accepted, commanded, 0.0)

    def _station_limit(self) -> float | None:
        return self._combine(self._share_w, self._grant_w)

    def _combine(self, share_w: float | None, grant_w: float) -> float | None:
        limit = self._dso_w
        if limit is not None and share_w is not None:
            limit = min(limit, max(share_w, grant_w))
        if self._cap_w is not None:
            limit = self._cap_w if limit is None else min(limit, self._cap_w)
        return limit

    async def _apply_limit(self) -> None:
        limit = self._station_limit()
        if self._synced and limit == self._sent:
            return
        self._sent = limit
        self._synced = True  # the driver keeps it and resends on reconnect
        await self._device.async_set_station_limit(limit)


def charger_shares(
    limit_w: float, house_w: float, grants_w: Sequence[float]
) -> list[float]:
    """Split what the house leaves of the DSO limit over the chargers.

    ``limit_w`` is the DSO import limit less the guard's margin, ``house_w``
    what the house draws besides these chargers, ``grants_w`` each
    charger's setpoint now. Each charger keeps its setpoint and an equal
    part of what is free beyond all of them, so together they take no more
    than the limit leaves the house (or, when the house alone is over it,
    no more than they were already granted). Shares are rounded down to
    100 W.
    """
    granted = [max(g, 0.0) if math.isfinite(g) else 0.0 for g in grants_w]
    if not granted:
        return []
    free = limit_w - house_w - sum(granted)
    extra = max(free, 0.0) / len(granted) if math.isfinite(free) else 0.0
    return [math.floor((g + extra) / SHARE_ROUND_W) * SHARE_ROUND_W for g in granted]


def charger_side_limit_w(effective: EffectiveLimit) -> float | None:
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


class HouseholdChargers:
    """The chargers of one household."""

    def __init__(
        self,
        config: HouseholdConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        on_new_charger: Callable[[PendingCharger], None] | None = None,
        on_change: Callable[[ChargerHandle], None] | None = None,
        spawn: Callable[[Coroutine[Any, Any, None], str], None] | None = None,
        session: SessionOptions | None = None,
    ) -> None:
        """Build the drivers; nothing connects until ``async_start``."""
        self.handles: dict[str, ChargerHandle] = {}
        self.csms: CentralSystem | None = None
        self._on_change = on_change
        self._spawn = spawn
        self._polling = False
        self._unsubs: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Future[None]] = set()
        ocpp = [d for d in config.devices if d.kind == "ocpp_charger"]
        if ocpp or config.ocpp.enabled:
            self.csms = CentralSystem(
                CsmsConfig(
                    host=config.ocpp.host,
                    port=config.ocpp.port,
                    require_auth=config.ocpp.require_auth,
                    ssl_context=ssl_context,
                    session=session or SessionOptions(),
                ),
                chargers=[
                    ocpp_charger_config(d, config.secret(f"devices.{d.id}.password"))
                    for d in ocpp
                ],
                on_new_charger=on_new_charger,
            )
        for device in config.devices:
            if device.kind == "ocpp_charger" and self.csms is not None:
                charger = self.csms.chargers[str(device.charger_id)]
                handle = ChargerHandle(device.id, device.name, KIND_OCPP, charger)
                self._unsubs.append(charger.add_listener(self._changed(handle)))
            elif device.kind == "quasar":
                quasar = QuasarCharger(quasar_charger_config(device))
                handle = ChargerHandle(device.id, device.name, KIND_QUASAR, quasar)
            else:
                continue
            self.handles[device.id] = handle

    def _changed(self, handle: ChargerHandle) -> Callable[[], None]:
        def _on_change() -> None:
            handle.notify()
            if self._on_change is not None:
                self._on_change(handle)

        return _on_change

    def guarded_devices(self) -> list[GuardedDevice]:
        """Chargers that take a power setpoint come under the guard as EVs."""
        return [
            GuardedDevice(
                device=ChargerForGuard(handle.device)
                if isinstance(handle.device, OcppCharger)
                else handle.device,
                priority=CurtailPriority.EV,
                reaction_delay=CHARGER_REACTION_DELAY,
                pause_allowed=not handle.device.config.minimum_instead_of_pause,
                phases=(0,)
                if isinstance(handle.device, OcppCharger)
                and handle.device.config.phases == 1
                else (0, 1, 2),
            )
            for handle in self.handles.values()
        ]

    # ---------------------------------------------------------- persistence

    def snapshots(self) -> dict[str, Any]:
        """OCPP chargers' state worth keeping over a restart, by charge point id."""
        return {
            handle.device.config.charger_id: handle.device.snapshot()
            for handle in self.handles.values()
            if isinstance(handle.device, OcppCharger)
        }

    def restore(self, snapshots: Mapping[str, Any]) -> None:
        """Restore ``snapshots`` (malformed entries are skipped)."""
        for handle in self.handles.values():
            device = handle.device
            if not isinstance(device, OcppCharger):
                continue
            snapshot = snapshots.get(device.config.charger_id)
            if isinstance(snapshot, dict):
                device.restore(snapshot)

    # ---------------------------------------------------------- running

    async def async_start(self) -> None:
        """Start the central system and connect the Quasars.

        Raises OSError when the central system cannot listen.
        """
        if self.csms is not None:
            await self.csms.async_start()
        quasars = [
            h for h in self.handles.values() if isinstance(h.device, QuasarCharger)
        ]
        for handle in quasars:
            await self._async_poll_quasar(handle)
        if quasars:
            self._polling = True
            loop = self._async_poll_loop(quasars)
            if self._spawn is not None:
                self._spawn(loop, "Quasar polling")
            else:
                self._tasks.add(asyncio.ensure_future(loop))

    async def _async_poll_loop(self, handles: list[ChargerHandle]) -> None:
        while self._polling:
            await asyncio.sleep(QUASAR_POLL.total_seconds())
            for handle in handles:
                if self._polling:
                    await self._async_poll_quasar(handle)

    async def _async_poll_quasar(self, handle: ChargerHandle) -> None:
        device = handle.device
        if not isinstance(device, QuasarCharger):
            return
        try:
            if not device.available:
                await device.async_connect()
            await device.async_update()
        except DeviceUnavailableError as err:
            _LOGGER.debug("%s unavailable: %s", handle.title, err)
        handle.notify()
        if self._on_change is not None:
            self._on_change(handle)

    async def async_stop(self) -> None:
        """Stop polling, close every connection and stop listening."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        self._polling = False
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.csms is not None:
            await self.csms.async_stop()
        for handle in self.handles.values():
            if isinstance(handle.device, QuasarCharger):
                handle.device.close()
