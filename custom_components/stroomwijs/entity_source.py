"""Feed the meter from entities of another integration (dsmr, homewizard).

A serial port can be opened only once: a user whose P1 cable already feeds
Home Assistant's own DSMR or HomeWizard integration points Stroomwijs at
those entities instead. Every state change of the power entity becomes a
reading; when it turns unavailable, so does the meter.
"""

from __future__ import annotations

from typing import Any

from homeassistant.const import (
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfEnergy,
    UnitOfPower,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util.unit_conversion import EnergyConverter, PowerConverter

from .engine.meter.core import Meter
from .engine.meter.models import TelegramValues

CONF_POWER_ENTITY = "power_entity"
CONF_EXPORT_POWER_ENTITY = "export_power_entity"
CONF_CURRENT_ENTITIES = "current_entities"
CONF_VOLTAGE_ENTITIES = "voltage_entities"
CONF_ENERGY_IMPORT_ENTITIES = "energy_import_entities"
CONF_ENERGY_EXPORT_ENTITIES = "energy_export_entities"
SOURCE_VERSION = "entities"


class EntityMeterFeed:
    """Turn state changes of existing meter entities into readings."""

    def __init__(
        self, hass: HomeAssistant, meter: Meter, settings: dict[str, Any]
    ) -> None:
        """Remember which entities to follow."""
        self.hass = hass
        self.meter = meter
        self.power_entity: str = settings[CONF_POWER_ENTITY]
        self.export_entity: str | None = settings.get(CONF_EXPORT_POWER_ENTITY) or None
        self.current_entities: list[str] = list(
            settings.get(CONF_CURRENT_ENTITIES) or []
        )
        self.voltage_entities: list[str] = list(
            settings.get(CONF_VOLTAGE_ENTITIES) or []
        )
        self.energy_import_entities: list[str] = list(
            settings.get(CONF_ENERGY_IMPORT_ENTITIES) or []
        )
        self.energy_export_entities: list[str] = list(
            settings.get(CONF_ENERGY_EXPORT_ENTITIES) or []
        )
        self._unsubscribe: Any = None

    @property
    def entity_ids(self) -> list[str]:
        """Every entity followed."""
        ids = [
            self.power_entity,
            *self.current_entities,
            *self.voltage_entities,
            *self.energy_import_entities,
            *self.energy_export_entities,
        ]
        if self.export_entity:
            ids.append(self.export_entity)
        return ids

    def start(self) -> None:
        """Follow the entities and take their present state as a first reading."""
        if self._unsubscribe is None:
            self._unsubscribe = async_track_state_change_event(
                self.hass, self.entity_ids, self._on_change
            )
        self._update()

    async def stop(self) -> None:
        """Stop following the entities."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.meter.close()

    @callback
    def _on_change(self, _event: Event[EventStateChangedData]) -> None:
        self._update()

    def _power_w(self, entity_id: str) -> float | None:
        state = self.hass.states.get(entity_id)
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            return None
        try:
            value = float(state.state)
        except ValueError:
            return None
        unit = state.attributes.get("unit_of_measurement") or UnitOfPower.WATT
        try:
            return PowerConverter.convert(value, unit, UnitOfPower.WATT)
        except Exception:  # noqa: BLE001  (an unknown unit: not a power entity)
            return None

    def _energy_kwh(self, entity_ids: list[str]) -> float | None:
        """Sum energy entities (one per tariff) in kWh; None if any is unknown."""
        if not entity_ids:
            return None
        total = 0.0
        for entity_id in entity_ids:
            state = self.hass.states.get(entity_id)
            if state is None:
                return None
            try:
                value = float(state.state)
                unit = state.attributes.get("unit_of_measurement") or "kWh"
                total += EnergyConverter.convert(
                    value, unit, UnitOfEnergy.KILO_WATT_HOUR
                )
            except Exception:  # noqa: BLE001  (unknown, unavailable or not energy)
                return None
        return total

    def _number(self, entity_id: str) -> float | None:
        state = self.hass.states.get(entity_id)
        if state is None:
            return None
        try:
            return float(state.state)
        except ValueError:
            return None

    @callback
    def _update(self) -> None:
        power = self._power_w(self.power_entity)
        if power is None:
            self.meter.mark_unavailable(f"{self.power_entity} has no power value")
            return
        if self.export_entity:
            export = self._power_w(self.export_entity)
            if export is None:
                self.meter.mark_unavailable(f"{self.export_entity} has no power value")
                return
            import_w, export_w = power, export
        else:
            import_w, export_w = max(power, 0.0), max(-power, 0.0)
        self.meter.process(
            TelegramValues(
                dsmr_version=SOURCE_VERSION,
                import_w=import_w,
                export_w=export_w,
                phase_currents_a=tuple(self._number(e) for e in self.current_entities),
                phase_voltages_v=tuple(self._number(e) for e in self.voltage_entities),
                import_total_kwh=self._energy_kwh(self.energy_import_entities),
                export_total_kwh=self._energy_kwh(self.energy_export_entities),
            )
        )
