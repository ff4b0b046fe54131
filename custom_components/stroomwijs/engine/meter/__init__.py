"""The P1 smart meter: the household's grid truth, at telegram rate.

``Meter`` (core) derives readings and pushes them to subscribers;
``P1StreamReader`` (stream) feeds it from a serial cable or a TCP stream;
``HomeWizardPoller`` (homewizard) feeds it from a HomeWizard P1 meter.
"""

from __future__ import annotations

from .core import Meter
from .models import MeterReading, MeterStats, PeakRecord, TelegramValues

__all__ = ["Meter", "MeterReading", "MeterStats", "PeakRecord", "TelegramValues"]
