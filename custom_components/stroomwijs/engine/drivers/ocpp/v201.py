"""OCPP 2.0.1 session: charge-only smart charging."""

from __future__ import annotations

from ocpp.v201 import ChargePoint as _V201ChargePoint

from .ocpp2 import Ocpp2Handlers


class V201Session(Ocpp2Handlers, _V201ChargePoint):  # type: ignore[misc]
    """One OCPP 2.0.1 connection, validated against the 2.0.1 schemas."""

    version = "ocpp2.0.1"
