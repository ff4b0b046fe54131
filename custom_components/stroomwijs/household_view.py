"""The household as entities see it: one interface, two implementations.

Entities and actions read and command a ``HouseholdView``. Where the
household runs decides which one an entry carries:

- in Home Assistant (the embedded default): ``LimitsRuntime``
  (``guard_glue.py``) reads the engine's ``Household`` directly;
- in the add-on's gateway: ``RemoteHousehold`` (``remote_household.py``)
  reads the snapshots and events the gateway pushes over its API, and sends
  commands there.

So the same entity classes serve both modes; nothing about entities is
written twice. While a remote view has no connection it is not
``available`` and its entities show unavailable: the gateway keeps
guarding on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from .engine.drivers.factory import DriverConfig
from .engine.grid import GridConnection
from .engine.guard.controller import GuardStatus
from .engine.household import HouseholdConfig, OptimiserMode, PlanStatus
from .engine.limits import Limit

type GridEventListener = Callable[[str, dict[str, Any]], None]


class HouseholdView(Protocol):
    """What entities and actions use of a household, wherever it runs."""

    @property
    def available(self) -> bool:
        """Whether the household's values are current (remote: connected)."""

    @property
    def grid(self) -> GridConnection:
        """The grid connection."""

    @property
    def config(self) -> HouseholdConfig:
        """The household's document (what the entry describes)."""

    # ---------------------------------------------------------- limits

    @property
    def import_limit_w(self) -> float:
        """The import limit the guard holds: min(DSO limit, fuse)."""

    @property
    def import_source(self) -> str:
        """Where the import limit comes from (``fuse`` without a DSO limit)."""

    @property
    def limit_active(self) -> bool:
        """Whether a DSO limit below the fuse is in force."""

    @property
    def export_limit_w(self) -> float | None:
        """The export limit in force, if any."""

    @property
    def export_source(self) -> str | None:
        """Where the export limit comes from."""

    @property
    def limit_until(self) -> datetime | None:
        """When the limit in force ends."""

    @property
    def limit_failsafe(self) -> bool:
        """Whether the limit is a fail-safe one (a signal was lost)."""

    @property
    def repairs_needed(self) -> bool:
        """Whether a limit source needs the user (the DSO signal is lost)."""

    def guard_status(self) -> GuardStatus:
        """Return the guard's state now."""

    @property
    def interventions_today(self) -> int:
        """Guard interventions today."""

    def next_limit(self, now: datetime) -> Limit | None:
        """Return the next limit that starts within 24 hours."""

    def manual_import_w(self, now: datetime) -> float | None:
        """Return the manual import limit in force now, if any."""

    @property
    def manual_duration(self) -> timedelta:
        """How long a manual limit lasts when no duration is given."""

    async def async_set_manual(
        self,
        *,
        import_w: float | None,
        duration: timedelta | None,
        label: str,
        export_w: float | None = None,
    ) -> None:
        """Set the manual limit."""

    async def async_clear_manual(self) -> None:
        """Remove the manual limit."""

    # ---------------------------------------------------------- planner

    @property
    def plan_status(self) -> PlanStatus:
        """The planner's state."""

    def plan_rows(self) -> list[dict[str, Any]]:
        """Return the plan per slot, for charts."""

    @property
    def mode(self) -> OptimiserMode:
        """What the planner optimises."""

    @property
    def enabled(self) -> bool:
        """Whether the optimiser runs."""

    async def async_set_mode(self, mode: OptimiserMode) -> None:
        """Choose what the planner optimises."""

    async def async_set_enabled(self, *, enabled: bool) -> None:
        """Switch the optimiser on or off."""

    async def async_plan_now(self) -> PlanStatus:
        """Re-plan at once; return the new status."""

    # ---------------------------------------------------------- changes

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever anything changes."""

    def add_event_listener(self, listener: GridEventListener) -> Callable[[], None]:
        """Call ``listener(event_type, data)`` for limit changes and interventions."""


class ChargerView(Protocol):
    """One charger as entities and actions see it, wherever the household runs.

    ``LocalCharger`` (``charger.py``) reads the engine's charger handle;
    ``RemoteCharger`` (``remote_household.py``) the gateway's snapshots.
    """

    @property
    def device_id(self) -> str:
        """The household's id for it (Home Assistant's subentry id)."""

    @property
    def subentry_id(self) -> str:
        """The charger's subentry."""

    @property
    def title(self) -> str:
        """Its name."""

    @property
    def kind(self) -> str:
        """``ocpp`` or ``quasar``."""

    @property
    def available(self) -> bool:
        """Whether the charger answers (remote: and the gateway is connected)."""

    @property
    def plugged_in(self) -> bool | None:
        """Whether a car is plugged in."""

    @property
    def power_w(self) -> float | None:
        """What it draws now (negative: discharge)."""

    @property
    def setpoint_w(self) -> float | None:
        """The power it was last told."""

    @property
    def soc_pct(self) -> float | None:
        """The car's state of charge in percent."""

    @property
    def session_energy_kwh(self) -> float | None:
        """Energy of the running session (OCPP only)."""

    @property
    def state_name(self) -> str | None:
        """The state as one of ``CHARGER_STATES``."""

    @property
    def limit_w(self) -> float | None:
        """The charger-side limit in force."""

    @property
    def boost_w(self) -> float:
        """The most it can take (the DSO limit still caps it)."""

    @property
    def departure(self) -> datetime | None:
        """When the car leaves."""

    @property
    def target_soc(self) -> float | None:
        """The SoC (0..1) wanted by the departure."""

    @property
    def min_soc(self) -> float | None:
        """The SoC (0..1) never to go below."""

    @property
    def v2g_allowed(self) -> bool:
        """Whether discharge is allowed."""

    @property
    def identity(self) -> tuple[str | None, str | None, str | None, str | None]:
        """Vendor, model, serial and firmware (what its boot said)."""

    def planned_power_w(self, slots_ahead: int = 0) -> float | None:
        """Return what the plan gives it now or ``slots_ahead`` slots on."""

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every change of the charger."""

    async def async_set_override(self, setpoint_w: float | None) -> None:
        """Boost or pause (a setpoint), or resume the plan (None)."""

    async def async_set_departure(self, changes: dict[str, Any]) -> None:
        """Change departure, target SoC or minimum SoC."""

    async def async_set_v2g(self, *, allowed: bool) -> None:
        """Allow or forbid discharge."""


class DriverView(Protocol):
    """One heat pump, boiler or appliance as entities see it, wherever it runs.

    ``LocalDriver`` (``driver_view.py``) reads the engine's driver in this
    process; ``RemoteDriver`` (``remote_household.py``) the gateway's
    snapshots. Both read the same data (``device_snapshot`` of
    ``engine/gateway/snapshot.py``), so the two cannot drift apart. What a
    kind of device does not have is None.
    """

    @property
    def device_id(self) -> str:
        """The household's id for it (Home Assistant's subentry id)."""

    @property
    def title(self) -> str:
        """Its name."""

    @property
    def spec(self) -> DriverConfig:
        """Its driver's config, read from the household document."""

    @property
    def available(self) -> bool:
        """Whether the device answers (remote: and the gateway is connected)."""

    @property
    def planned(self) -> bool:
        """Whether the plan drives it (False: it follows its own rules)."""

    @property
    def power_w(self) -> float | None:
        """What it draws now."""

    @property
    def temperature_c(self) -> float | None:
        """The room's (heat pump) or the tank's (boiler) temperature."""

    @property
    def sg_mode(self) -> str | None:
        """The SG-Ready mode, lower case (``block``, ``normal``, ...)."""

    @property
    def level(self) -> str | None:
        """A thermostat's or a Lambda's heat level."""

    @property
    def blocks_left_today(self) -> int | None:
        """SG-Ready blocks left today."""

    @property
    def blocked_minutes_left_today(self) -> float | None:
        """Minutes of blocking left today."""

    @property
    def heating(self) -> bool | None:
        """Whether a boiler's element heats."""

    @property
    def tank_estimated(self) -> bool | None:
        """Whether a boiler's tank temperature is an estimate."""

    @property
    def legionella_due(self) -> datetime | None:
        """When a boiler's legionella run must be done by."""

    @property
    def on_gas(self) -> bool | None:
        """Whether a hybrid heats on gas."""

    @property
    def cycle_state(self) -> str | None:
        """An appliance's cycle state (``idle``, ``armed``, ``running``, ...)."""

    @property
    def deadline(self) -> datetime | None:
        """When an appliance's armed or running cycle must be done."""

    @property
    def latest_start(self) -> datetime | None:
        """The latest start that meets an armed appliance's deadline."""

    @property
    def remote_start_allowed(self) -> bool | None:
        """Whether a remote-start appliance allows a start now."""

    @property
    def override_mode(self) -> str:
        """The user's override: ``auto`` (the plan), ``boost`` or ``block``."""

    @property
    def override_until(self) -> datetime | None:
        """When the user's boost or block ends."""

    def planned_power_w(self, slots_ahead: int = 0) -> float | None:
        """Return what the plan gives it now or ``slots_ahead`` slots on."""

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on every change."""

    async def async_set_override(
        self, mode: str | None, duration: timedelta | None
    ) -> None:
        """Boost or block a heat pump or boiler for ``duration`` (None: the plan).

        Raises the engine's ``OverrideRefusedError`` when its rules forbid it.
        """

    async def async_set_planned(self, *, planned: bool) -> None:
        """Put it in the plan, or leave it to itself."""

    async def async_run_before(self, finish_by: datetime) -> None:
        """Arm an appliance (or move its deadline) to be done by ``finish_by``."""

    async def async_arm(self) -> None:
        """Arm an appliance with its default deadline."""

    async def async_disarm(self) -> None:
        """Disarm an appliance."""
