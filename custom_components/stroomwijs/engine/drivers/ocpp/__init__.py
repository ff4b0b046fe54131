"""OCPP central system: 2.1 (bidirectional), 2.0.1 and 1.6 (charge only).

One handler class per protocol version (``v21``, ``v201``, ``v16``), the
server in ``csms`` and the version-independent charger view in ``charger``.
"""

from .charger import CAR_FLOOR_CHOICES_A, ChargerConfig, EvNeeds, OcppCharger
from .csms import CentralSystem, CsmsConfig
from .session import PendingCharger, SessionOptions

__all__ = [
    "CAR_FLOOR_CHOICES_A",
    "CentralSystem",
    "ChargerConfig",
    "CsmsConfig",
    "EvNeeds",
    "OcppCharger",
    "PendingCharger",
    "SessionOptions",
]
