"""The guard: the fast controller that holds the DSO limit and the fuse."""

from .controller import (
    Guard,
    GuardConfig,
    GuardedDevice,
    GuardStatus,
    Intervention,
    InterventionKind,
)
from .measurement import GridMeasurement, Meter

__all__ = [
    "GridMeasurement",
    "Guard",
    "GuardConfig",
    "GuardStatus",
    "GuardedDevice",
    "Intervention",
    "InterventionKind",
    "Meter",
]
