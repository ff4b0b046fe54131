"""One household, three hosts: the engine object that plans and guards a home.

:class:`HouseholdConfig` is the document that defines a household (the
installer profile, the add-on's configuration, a scenario's household);
:class:`Household` runs it. Home Assistant, the add-on gateway and the
simulator only host it. See docs/household.md.
"""

from .config import (
    CONFIG_VERSION,
    DeviceConfig,
    ForecastConfig,
    GridConfig,
    GuardSettings,
    HouseholdConfig,
    HouseholdConfigError,
    LimitConfig,
    MeterConfig,
    OcppServerConfig,
    OptimiserConfig,
    OptimiserMode,
    TariffConfig,
)
from .devices import DeviceOverride, OverrideRefusedError
from .inputs import (
    InputFormatError,
    Series,
    parse_price_attributes,
    parse_pv_attributes,
    parse_temperature_forecast,
)
from .meter import NoReadingError
from .runtime import (
    Household,
    HouseholdEvent,
    HouseholdPorts,
    HouseholdProblem,
    PlanState,
    PlanStatus,
)
from .state import JsonFileStateStore, MemoryStateStore, StateStore

__all__ = [
    "CONFIG_VERSION",
    "DeviceConfig",
    "DeviceOverride",
    "ForecastConfig",
    "GridConfig",
    "GuardSettings",
    "Household",
    "HouseholdConfig",
    "HouseholdConfigError",
    "HouseholdEvent",
    "HouseholdPorts",
    "HouseholdProblem",
    "InputFormatError",
    "JsonFileStateStore",
    "LimitConfig",
    "MemoryStateStore",
    "MeterConfig",
    "NoReadingError",
    "OcppServerConfig",
    "OptimiserConfig",
    "OptimiserMode",
    "OverrideRefusedError",
    "PlanState",
    "PlanStatus",
    "Series",
    "StateStore",
    "TariffConfig",
    "parse_price_attributes",
    "parse_pv_attributes",
    "parse_temperature_forecast",
]
