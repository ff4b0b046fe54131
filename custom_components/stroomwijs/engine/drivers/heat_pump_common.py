"""What every heat-pump driver shares: levels, the house and the planner input.

The guard speaks watts; a heat pump that is steered through SG-Ready, a
thermostat setpoint or a blocking register has three levels:

========  =============================================  =================
level     what the driver does                           setpoint it maps
========  =============================================  =================
block     SG-Ready 1 / setpoint at the comfort floor /   0 W
          heating circuit off
normal    SG-Ready 2 / the user's setpoint / the user's  ``rated_power_w``
          operating mode
boost     SG-Ready 3 / setpoint raised within the band    ``boost_power_w``
========  =============================================  =================

A setpoint of 0 blocks, one from ``boost_above_w`` up boosts, anything in
between is normal. :func:`heat_pump_planner_input` builds the dict that the
planner's ``heat_pump`` block reads, from the driver's live state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import math
from typing import Any, Protocol, runtime_checkable

from custom_components.stroomwijs.engine.capabilities import (
    ComfortBand,
    PowerMeter,
    PowerSettable,
    Thermal,
)

from .heat_pump_rules import BlockingBudget


class HeatLevel(StrEnum):
    """How hard the heat pump is allowed to work."""

    BLOCK = "block"
    NORMAL = "normal"
    BOOST = "boost"


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseModel:
    """The first-order house model of the planner (see docs/planner.md)."""

    heat_capacity_kwh_per_k: float = 12.0
    heat_loss_kw_per_k: float = 0.18

    def __post_init__(self) -> None:
        """Reject a house that cannot exist."""
        if not 0 < self.heat_capacity_kwh_per_k <= 1000:  # noqa: PLR2004
            raise ValueError("heat_capacity_kwh_per_k must be within 0..1000")
        if not 0 < self.heat_loss_kw_per_k <= 10:  # noqa: PLR2004
            raise ValueError("heat_loss_kw_per_k must be within 0..10")


@dataclass(frozen=True, slots=True, kw_only=True)
class HeatPumpSpec:
    """The electrical side of one heat pump."""

    rated_power_w: float
    """Electric power in normal running."""
    boost_power_w: float | None = None
    """Electric power when boosted (default: the rated power)."""
    boost_above_w: float | None = None
    """Setpoints from here up boost (default: the boost power)."""
    min_modulation: float = 1.0
    """1.0: on/off; lower for an inverter the planner may modulate."""
    cop_at_7c: float = 3.5
    cop_slope_per_k: float = 0.08
    min_on: timedelta = timedelta(minutes=10)
    min_off: timedelta = timedelta(minutes=10)
    phases: int = 3

    def __post_init__(self) -> None:
        """Reject an impossible heat pump."""
        if not 0 < self.rated_power_w <= 30_000:  # noqa: PLR2004
            raise ValueError("rated_power_w must be within 0..30000 W")
        if self.boost_power_w is not None and not (
            self.rated_power_w <= self.boost_power_w <= 30_000  # noqa: PLR2004
        ):
            raise ValueError("boost_power_w must be within rated_power_w..30000 W")
        if self.boost_above_w is not None and not (
            0 < self.boost_above_w <= self.max_w
        ):
            raise ValueError("boost_above_w must be within 0..boost_power_w")
        if (
            self.boost_above_w is not None
            and self.max_w > self.rated_power_w
            and self.boost_above_w <= self.rated_power_w
        ):
            # The rated power itself would then ask for a boost: a plan that
            # releases a pump on relays (at its rated power) would boost it.
            raise ValueError("boost_above_w must be above rated_power_w")
        if not 0 <= self.min_modulation <= 1:
            raise ValueError("min_modulation must be within 0..1")
        if not 1 <= self.cop_at_7c <= 8:  # noqa: PLR2004
            raise ValueError("cop_at_7c must be within 1..8")
        if self.phases not in {1, 3}:
            raise ValueError("phases must be 1 or 3")
        if self.min_on < timedelta(0) or self.min_off < timedelta(0):
            raise ValueError("minimum times cannot be negative")

    @property
    def max_w(self) -> float:
        """Highest electric power (boosted)."""
        return self.boost_power_w or self.rated_power_w

    def level_for(self, setpoint_w: float) -> HeatLevel:
        """Map a guard or plan setpoint onto a level."""
        if math.isnan(setpoint_w):
            raise ValueError("setpoint is not a number")
        if setpoint_w <= 0:
            return HeatLevel.BLOCK
        threshold = self.boost_above_w or self.max_w
        if self.max_w > self.rated_power_w and setpoint_w >= threshold:
            return HeatLevel.BOOST
        return HeatLevel.NORMAL

    def nominal_w(self, level: HeatLevel) -> float:
        """Return the power a level stands for."""
        if level is HeatLevel.BLOCK:
            return 0.0
        if level is HeatLevel.BOOST:
            return self.max_w
        return self.rated_power_w


def comfort_checked(comfort: ComfortBand) -> ComfortBand:
    """Validate a comfort band for a house."""
    if not (
        math.isfinite(comfort.min_c)
        and math.isfinite(comfort.max_c)
        and 5 <= comfort.min_c < comfort.max_c <= 30  # noqa: PLR2004
    ):
        raise ValueError("the comfort band must satisfy 5 <= min_c < max_c <= 30")
    return comfort


@dataclass(frozen=True, slots=True, kw_only=True)
class GasOption:
    """The gas burner of a hybrid heat pump, as the planner prices it."""

    max_kw: float
    """Heat the burner can deliver."""
    eur_per_m3: float
    efficiency: float = 0.9

    def __post_init__(self) -> None:
        """Reject an impossible burner or price."""
        if not 0 < self.max_kw <= 100:  # noqa: PLR2004
            raise ValueError("gas max_kw must be within 0..100")
        if not 0 <= self.eur_per_m3 <= 20 or not math.isfinite(self.eur_per_m3):  # noqa: PLR2004
            raise ValueError("gas eur_per_m3 must be within 0..20")
        if not 0 < self.efficiency <= 1.1:  # noqa: PLR2004
            raise ValueError("gas efficiency must be within 0..1.1")


def heat_pump_planner_input(
    device_id: str,
    name: str,
    spec: HeatPumpSpec,
    house: HouseModel,
    comfort: ComfortBand,
    *,
    indoor_c: float | None,
    outdoor_c: Sequence[float],
    is_on: bool,
    in_state_for: timedelta | None,
    gas: GasOption | None = None,
    window_setback_c: float = 0.0,
    preheat_minutes: float = 60.0,
    blocking: BlockingBudget | None = None,
    thermostat: bool = False,
) -> dict[str, Any]:
    """Build the ``heat_pump`` device of a planner problem.

    Without a measured indoor temperature the house is assumed at the bottom
    of its comfort band: the plan then heats rather than coasts. A driver
    whose blocks are rationed passes its ``blocking`` budget, so that the
    plan's off-periods stay within what the rules still allow. A driver that
    can only block the pump (``thermostat``: unblocked, the pump's own
    thermostat decides its power) asks for ``control: block``: the plan then
    counts the pump at its maximum power whenever it leaves it unblocked.
    That maximum is its rated power, not a boost: released, the pump runs in
    its normal mode (SG-Ready 2), and a setpoint at the boost power would
    ask for mode 3 in every released slot.
    """
    if not outdoor_c:
        raise ValueError("the planner needs an outdoor temperature forecast")
    indoor = comfort.min_c if indoor_c is None else indoor_c
    top_w = spec.rated_power_w if thermostat else spec.max_w
    data: dict[str, Any] = {
        "id": device_id,
        "kind": "heat_pump",
        "name": name,
        "max_power_kw": round(top_w / 1000.0, 3),
        "min_modulation": spec.min_modulation,
        "cop_at_7c": spec.cop_at_7c,
        "cop_slope_per_k": spec.cop_slope_per_k,
        "outdoor_c": [round(float(t), 2) for t in outdoor_c],
        "house": {
            "heat_capacity_kwh_per_k": house.heat_capacity_kwh_per_k,
            "heat_loss_kw_per_k": house.heat_loss_kw_per_k,
            "indoor_c": round(min(max(indoor, -10.0), 40.0), 2),
        },
        "comfort": {
            "min_c": comfort.min_c,
            "max_c": comfort.max_c,
            "window_setback_c": window_setback_c,
            "preheat_minutes": preheat_minutes,
        },
        "min_on_minutes": spec.min_on.total_seconds() / 60.0,
        "min_off_minutes": spec.min_off.total_seconds() / 60.0,
        "is_on": is_on,
        "phases": spec.phases,
    }
    if thermostat:
        data["control"] = "block"
    if in_state_for is not None:
        data["in_state_for_minutes"] = max(in_state_for.total_seconds() / 60.0, 0.0)
    if gas is not None:
        data["gas"] = {
            "max_kw": gas.max_kw,
            "eur_per_m3": gas.eur_per_m3,
            "efficiency": gas.efficiency,
        }
    if blocking is not None:
        data["blocking"] = {
            "blocks_left_today": blocking.blocks_left_today,
            # Rounded down: the plan must not count on a fraction of a minute.
            "blocked_minutes_left_today": math.floor(
                blocking.blocked_minutes_left_today * 10.0
            )
            / 10.0,
            "day_ends": blocking.day_ends.isoformat(),
            "max_blocks_per_day": blocking.max_blocks_per_day,
            "max_blocked_minutes_per_day": blocking.max_blocked_minutes_per_day,
        }
    return data


def minutes_since(since: datetime | None, now: datetime) -> timedelta | None:
    """Time since ``since`` (None when unknown)."""
    if since is None:
        return None
    return max(now - since, timedelta(0))


@runtime_checkable
class HeatPumpDriver(PowerSettable, PowerMeter, Thermal, Protocol):
    """What the hybrid wrapper (and the Household) needs from a heat pump driver."""

    async def async_update(self) -> Any:  # noqa: ANN401 - drivers return their reading
        """Poll the device."""
        ...

    def planner_input(
        self,
        outdoor_c: Sequence[float],
        *,
        gas: GasOption | None = None,
        window_setback_c: float = 0.0,
        preheat_minutes: float = 60.0,
    ) -> dict[str, Any]:
        """Build the planner's ``heat_pump`` device."""
        ...
