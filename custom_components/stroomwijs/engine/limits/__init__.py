"""DSO limit sources and how they combine into one effective limit.

Sources: static time windows, an OpenADR 3 VEN (Dutch GAC profile), the
Belgian capacity-tariff target, a §14a-style dim input, a manual limit and the
P1 meter's text message. :class:`LimitStack` takes the minimum per direction.
"""

from .base import (
    DEFAULT_FAILSAFE_IMPORT_W,
    DEFAULT_FAILSAFE_MIN_HOLD,
    EffectiveLimit,
    Limit,
    LimitSource,
    LimitStack,
    SignalWatchdog,
    combine,
)
from .capacity import CapacityTariffSource
from .dim14a import DimInputSource, DimMode, connection_limit_w
from .manual import ManualLimitSource
from .p1_message import P1MessageLimitSource, parse_limit_message
from .windows import StaticWindowSource, TimeWindow

__all__ = [
    "DEFAULT_FAILSAFE_IMPORT_W",
    "DEFAULT_FAILSAFE_MIN_HOLD",
    "CapacityTariffSource",
    "DimInputSource",
    "DimMode",
    "EffectiveLimit",
    "Limit",
    "LimitSource",
    "LimitStack",
    "ManualLimitSource",
    "P1MessageLimitSource",
    "SignalWatchdog",
    "StaticWindowSource",
    "TimeWindow",
    "combine",
    "connection_limit_w",
    "parse_limit_message",
]
