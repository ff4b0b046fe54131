"""DSO limits and the guard as Home Assistant's entities and services see them.

The engine's ``Household`` owns the limit sources and the guard (see
``engine/household``); ``LimitsRuntime`` is the view of them that the limit
entities and services use. The entry's option keys for limits (from before
grid limits became subentries) are defined here and still honoured.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from .engine.grid import GridConnection
from .engine.guard import Guard, InterventionKind
from .engine.guard.controller import GuardStatus
from .engine.household import (
    Household,
    HouseholdConfig,
    HouseholdEvent,
    OptimiserMode,
    PlanStatus,
)
from .engine.limits import (
    CapacityTariffSource,
    DimInputSource,
    EffectiveLimit,
    Limit,
    LimitStack,
    ManualLimitSource,
    P1MessageLimitSource,
)
from .engine.limits.openadr import OpenAdrVen

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

UPCOMING_HORIZON: Final = timedelta(hours=24)
GRID_EVENTS: Final = frozenset(kind.value for kind in InterventionKind)
"""What the grid event entity reports: every guard intervention, limit changes."""

type GridEventListener = Callable[[str, dict[str, Any]], None]


class LimitsRuntime:
    """The in-process household as entities see it (a ``HouseholdView``).

    Reads the engine's ``Household`` that Home Assistant hosts; see
    ``household_view.py`` for the interface and the remote implementation.
    """

    available = True
    """The household runs in this process: its values are always current."""

    def __init__(self, household: Household) -> None:
        """View ``household``."""
        self.household = household

    @property
    def grid(self) -> GridConnection:
        """The grid connection."""
        return self.household.grid

    @property
    def config(self) -> HouseholdConfig:
        """The household's document."""
        return self.household.config

    @property
    def stack(self) -> LimitStack:
        """All limit sources."""
        return self.household.limits.stack

    @property
    def manual(self) -> ManualLimitSource:
        """The manual limit."""
        return self.household.limits.manual

    @property
    def p1_message(self) -> P1MessageLimitSource:
        """The P1 text-message limit."""
        return self.household.limits.p1_message

    @property
    def guard(self) -> Guard:
        """The guard."""
        return self.household.guard

    @property
    def manual_duration(self) -> timedelta:
        """How long a manual limit lasts when no duration is given."""
        return self.household.limits.manual_duration

    @property
    def ven(self) -> OpenAdrVen | None:
        """The first OpenADR VEN."""
        return self.household.limits.ven

    @property
    def vens(self) -> list[OpenAdrVen]:
        """Every OpenADR VEN."""
        return self.household.limits.vens

    @property
    def capacity(self) -> CapacityTariffSource | None:
        """The capacity-tariff target."""
        return self.household.limits.capacity

    @property
    def dim(self) -> DimInputSource | None:
        """The §14a dim input."""
        return self.household.limits.dim

    @property
    def effective(self) -> EffectiveLimit | None:
        """The effective limit now."""
        return self.household.limits.effective

    @property
    def interventions_today(self) -> int:
        """Guard interventions today."""
        return self.household.interventions_today

    @property
    def import_limit_w(self) -> float:
        """The import limit the guard holds: min(DSO limit, fuse)."""
        return self.household.limits.import_limit_w

    @property
    def import_source(self) -> str:
        """Where the import limit comes from (``fuse`` without a DSO limit)."""
        return self.household.limits.import_source

    @property
    def limit_active(self) -> bool:
        """Whether a DSO limit below the fuse is in force."""
        return self.household.limits.limit_active

    @property
    def export_limit_w(self) -> float | None:
        """The export limit in force, if any."""
        effective = self.effective
        return None if effective is None else effective.export_w

    @property
    def export_source(self) -> str | None:
        """Where the export limit comes from."""
        effective = self.effective
        return None if effective is None else effective.export_source

    @property
    def limit_until(self) -> datetime | None:
        """When the limit in force ends."""
        effective = self.effective
        return None if effective is None else effective.until

    @property
    def limit_failsafe(self) -> bool:
        """Whether the limit is a fail-safe one."""
        effective = self.effective
        return bool(effective is not None and effective.failsafe)

    @property
    def repairs_needed(self) -> bool:
        """Whether a limit source needs the user."""
        effective = self.effective
        return bool(effective is not None and effective.repairs_needed)

    def guard_status(self) -> GuardStatus:
        """Return the guard's state now."""
        return self.household.guard.status()

    def manual_import_w(self, now: datetime) -> float | None:
        """Return the manual import limit in force now, if any."""
        limit = self.household.limits.manual.current
        if limit is None or limit.import_w is None or not limit.covers(now):
            return None
        return limit.import_w

    async def async_set_manual(
        self,
        *,
        import_w: float | None,
        duration: timedelta | None,
        label: str,
        export_w: float | None = None,
    ) -> None:
        """Set the manual limit."""
        self.set_manual(
            import_w=import_w, duration=duration, label=label, export_w=export_w
        )

    async def async_clear_manual(self) -> None:
        """Remove the manual limit."""
        self.clear_manual()

    @property
    def plan_status(self) -> PlanStatus:
        """The planner's state."""
        return self.household.plan_status

    def plan_rows(self) -> list[dict[str, Any]]:
        """Return the plan per slot, for charts."""
        return self.household.plan_rows()

    @property
    def mode(self) -> OptimiserMode:
        """What the planner optimises."""
        return self.household.mode

    @property
    def enabled(self) -> bool:
        """Whether the optimiser runs."""
        return self.household.enabled

    async def async_set_mode(self, mode: OptimiserMode) -> None:
        """Choose what the planner optimises."""
        self.household.set_mode(mode)

    async def async_set_enabled(self, *, enabled: bool) -> None:
        """Switch the optimiser on or off."""
        self.household.set_enabled(enabled)

    async def async_plan_now(self) -> PlanStatus:
        """Re-plan at once."""
        return await self.household.async_plan_now()

    def next_limit(self, now: datetime) -> Limit | None:
        """Return the next limit that starts within 24 hours."""
        return self.household.limits.next_limit(now)

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` whenever limits or guard state change."""
        return self.household.add_listener(listener)

    def add_event_listener(self, listener: GridEventListener) -> Callable[[], None]:
        """Call ``listener(event_type, data)`` for limit changes and interventions."""

        def _on_event(event: HouseholdEvent) -> None:
            if event.kind in GRID_EVENTS:
                listener(event.kind, dict(event.data))

        return self.household.subscribe(_on_event)

    def set_manual(
        self,
        *,
        import_w: float | None,
        duration: timedelta | None,
        label: str,
        export_w: float | None = None,
    ) -> None:
        """Set the manual limit and refresh at once."""
        self.household.set_manual_limit(
            import_w=import_w, duration=duration, label=label, export_w=export_w
        )

    def clear_manual(self) -> None:
        """Remove the manual limit."""
        self.household.clear_manual_limit()


def limits_diagnostics(runtime: LimitsRuntime | None) -> dict[str, Any] | None:
    """Return the limits and the guard's state for diagnostics (redact ``ean``)."""
    if runtime is None:
        return None
    now = runtime.household.ports.clock()
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
