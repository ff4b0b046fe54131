"""Entities of the household's planner: status, costs, mode, enable, plan now.

The platform modules (``sensor``, ``select``, ``switch``, ``button``) call the
``async_add_plan_*`` functions here. Entities refresh when the household
notifies (a new plan, a tick, a command).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory, UnitOfPower
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .engine.household import OptimiserMode, PlanState, PlanStatus
from .entity import (
    ChargerEntity,
    PlanEntity,
    async_add_charger_entities,
)
from .household_view import ChargerView, HouseholdView
from .models import StroomwijsConfigEntry

CURRENCY: Final = "EUR"
PLAN_STATES: Final = [state.value for state in PlanState]
MODES: Final = [mode.value for mode in OptimiserMode]


@dataclass(frozen=True, kw_only=True)
class PlanSensorDescription(SensorEntityDescription):
    """A sensor of the plan status."""

    value_fn: Callable[[PlanStatus], StateType | datetime]


PLAN_SENSORS: tuple[PlanSensorDescription, ...] = (
    PlanSensorDescription(
        key="plan_status",
        translation_key="plan_status",
        device_class=SensorDeviceClass.ENUM,
        options=PLAN_STATES,
        value_fn=lambda status: status.state.value,
    ),
    PlanSensorDescription(
        key="last_replan",
        translation_key="last_replan",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.last_replan,
    ),
    PlanSensorDescription(
        key="next_replan",
        translation_key="next_replan",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda status: status.next_replan,
    ),
    PlanSensorDescription(
        key="planned_cost_today",
        translation_key="planned_cost_today",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
        value_fn=lambda status: status.cost_today_eur,
    ),
    PlanSensorDescription(
        key="planned_cost_tomorrow",
        translation_key="planned_cost_tomorrow",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
        value_fn=lambda status: status.cost_tomorrow_eur,
    ),
    PlanSensorDescription(
        key="expected_saving",
        translation_key="expected_saving",
        device_class=SensorDeviceClass.MONETARY,
        native_unit_of_measurement=CURRENCY,
        suggested_display_precision=2,
        value_fn=lambda status: status.saving_eur,
    ),
)


class PlanSensor(PlanEntity, SensorEntity):
    """A sensor of the planner."""

    entity_description: PlanSensorDescription
    _unrecorded_attributes = frozenset({"plan"})

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value from the plan status."""
        return self.entity_description.value_fn(self.household.plan_status)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """The status sensor carries the reasons and the plan for charts.

        ``plan_devices`` names the plan rows' device columns (id: name).
        """
        if self.entity_description.key != "plan_status":
            return None
        status = self.household.plan_status
        return {
            "mode": None if status.mode is None else status.mode.value,
            "reasons": list(status.reasons),
            "solve_time_s": status.solve_time_s,
            "plan": self.household.plan_rows(),
            "plan_devices": {
                device.id: device.name for device in self.household.config.devices
            },
        }


@dataclass(frozen=True, kw_only=True)
class PlannedPowerDescription(SensorEntityDescription):
    """A charger's planned power, now or in the next quarter-hour."""

    slots_ahead: int


PLANNED_POWER: tuple[PlannedPowerDescription, ...] = (
    PlannedPowerDescription(
        key="planned_power",
        translation_key="planned_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        slots_ahead=0,
    ),
    PlannedPowerDescription(
        key="planned_power_next",
        translation_key="planned_power_next",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        slots_ahead=1,
    ),
)


class PlannedPowerSensor(ChargerEntity, SensorEntity):
    """What the plan gives a charger now or next (negative: discharge)."""

    entity_description: PlannedPowerDescription

    def __init__(
        self,
        entry: StroomwijsConfigEntry,
        charger: ChargerView,
        description: PlannedPowerDescription,
    ) -> None:
        """Attach to the charger and the household's plan."""
        super().__init__(entry, charger, description)
        self.household: HouseholdView = entry.runtime_data.limits

    @property
    def available(self) -> bool:
        """A plan exists whether or not the charger answers now."""
        return self.household.available

    @property
    def native_value(self) -> float | None:
        """Return the planned power in W (unknown without a plan)."""
        value = self.charger.planned_power_w(self.entity_description.slots_ahead)
        return None if value is None else round(value)

    async def async_added_to_hass(self) -> None:
        """Refresh with the household as well as the charger."""
        await super().async_added_to_hass()
        self.async_on_remove(self.household.add_listener(self.async_write_ha_state))


def async_add_plan_sensors(
    entry: StroomwijsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the planner's sensors and each charger's planned power."""
    async_add_entities(PlanSensor(entry, description) for description in PLAN_SENSORS)
    async_add_charger_entities(
        entry.runtime_data.chargers,
        async_add_entities,
        lambda charger: [
            PlannedPowerSensor(entry, charger, description)
            for description in PLANNED_POWER
        ],
    )


# ---------------------------------------------------------------- controls

MODE_SELECT = SelectEntityDescription(
    key="optimiser_mode", translation_key="optimiser_mode", options=MODES
)
ENABLE_SWITCH = SwitchEntityDescription(key="optimiser", translation_key="optimiser")
PLAN_NOW_BUTTON = ButtonEntityDescription(key="plan_now", translation_key="plan_now")


class ModeSelect(PlanEntity, SelectEntity):
    """What the planner optimises: auto, self-consumption, cheapest or off."""

    @property
    def current_option(self) -> str:
        """Return the mode."""
        return self.household.mode.value

    async def async_select_option(self, option: str) -> None:
        """Choose a mode; a re-plan follows."""
        await self.household.async_set_mode(OptimiserMode(option))
        self.async_write_ha_state()


class EnableSwitch(PlanEntity, SwitchEntity):
    """The optimiser's master switch (the guard always holds the limit)."""

    @property
    def is_on(self) -> bool:
        """Return whether the optimiser runs."""
        return self.household.enabled

    async def async_turn_on(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Switch the optimiser on."""
        await self.household.async_set_enabled(enabled=True)
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:  # noqa: ANN401, ARG002
        """Switch the optimiser off: devices follow their own behaviour."""
        await self.household.async_set_enabled(enabled=False)
        self.async_write_ha_state()


class PlanNowButton(PlanEntity, ButtonEntity):
    """Re-plan at once."""

    async def async_press(self) -> None:
        """Re-plan now."""
        await self.household.async_plan_now()
