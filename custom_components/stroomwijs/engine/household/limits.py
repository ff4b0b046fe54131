"""The household's DSO limit sources, as built from its config.

``HouseholdLimits`` owns the limit stack (manual limit and P1 text message
always; time windows, OpenADR 3 VENs, the capacity-tariff target and a §14a
dim input when configured) and answers what the guard holds and what
entities show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Final

import aiohttp

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.limits import (
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
from custom_components.stroomwijs.engine.limits.openadr import OpenAdrClient, OpenAdrVen

from .config import HouseholdConfig, LimitConfig

UPCOMING_HORIZON: Final = timedelta(hours=24)

type Clock = Callable[[], datetime]


def time_window(limit: LimitConfig) -> TimeWindow:
    """Build the engine's window from a ``window`` limit entry."""
    return TimeWindow(
        start=limit.start or time(0),
        end=limit.end or time(0),
        import_w=limit.import_w,
        export_w=limit.export_w,
        weekdays=frozenset(limit.weekdays),
        months=frozenset(limit.months),
        label=limit.label or "window",
    )


@dataclass(slots=True)
class HouseholdLimits:
    """The household's limit sources and what they add up to."""

    grid: GridConnection
    stack: LimitStack
    manual: ManualLimitSource
    p1_message: P1MessageLimitSource
    manual_duration: timedelta
    vens: list[OpenAdrVen] = field(default_factory=list)
    capacity: CapacityTariffSource | None = None
    dim: DimInputSource | None = None
    dim_entity: str | None = None
    effective: EffectiveLimit | None = None

    @property
    def ven(self) -> OpenAdrVen | None:
        """The first OpenADR VEN, if any."""
        return self.vens[0] if self.vens else None

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

    def refresh(self, now: datetime) -> EffectiveLimit:
        """Recompute the effective limit (the stack tells its subscribers)."""
        self.effective = self.stack.refresh(now)
        return self.effective


def build_limits(
    config: HouseholdConfig,
    grid: GridConnection,
    *,
    clock: Clock,
    session: aiohttp.ClientSession | None,
) -> HouseholdLimits:
    """Build the limit sources ``config`` lists."""
    manual = ManualLimitSource()
    p1_message = P1MessageLimitSource()
    stack = LimitStack([manual, p1_message])
    windows = [time_window(lim) for lim in config.limits if lim.kind == "window"]
    if windows:
        stack.add(StaticWindowSource(windows, time_zone=config.time_zone))
    vens: list[OpenAdrVen] = []
    for limit in config.limits:
        if limit.kind != "openadr":
            continue
        if session is None:
            msg = "an OpenADR limit needs an HTTP session from the host"
            raise ValueError(msg)
        client = OpenAdrClient(
            session,
            str(limit.url),
            client_id=str(limit.client_id),
            client_secret=config.secret(f"limits.{limit.id}.client_secret") or "",
        )
        ven = OpenAdrVen(
            client,
            ean=str(limit.ean),
            programs=list(limit.programs) or None,
            failsafe_import_w=limit.failsafe_w,
            timeout=timedelta(minutes=limit.timeout_min),
            clock=clock,
            name="openadr" if not vens else f"openadr{len(vens) + 1}",
        )
        vens.append(ven)
        stack.add(ven)
    capacity: CapacityTariffSource | None = None
    dim: DimInputSource | None = None
    dim_entity: str | None = None
    for limit in config.limits:
        if limit.kind == "capacity" and capacity is None:
            capacity = CapacityTariffSource(
                budget_w=limit.budget_w, time_zone=config.time_zone
            )
            stack.add(capacity)
        elif limit.kind == "dim" and dim is None:
            dim = DimInputSource(devices=limit.devices, mode=DimMode(limit.mode))
            dim_entity = limit.entity
            stack.add(dim)
    return HouseholdLimits(
        grid=grid,
        stack=stack,
        manual=manual,
        p1_message=p1_message,
        manual_duration=timedelta(minutes=config.guard.manual_duration_min),
        vens=vens,
        capacity=capacity,
        dim=dim,
        dim_entity=dim_entity,
    )
