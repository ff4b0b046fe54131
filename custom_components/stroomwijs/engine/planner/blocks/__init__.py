"""Device blocks: one file per device kind.

Each block reads its device from the problem, adds its own variables,
constraints and objective terms, and reads its part of the plan back. To add
a device kind, add a block file and list its class in ``BLOCKS``.
"""

from __future__ import annotations

from .base import Block, BuildContext, DeviceResult, PowerTerm, WarmHint
from .battery import BatteryBlock
from .boiler import BoilerBlock
from .ev import EvBlock
from .heat_pump import HeatPumpBlock
from .white_goods import WhiteGoodsBlock

BLOCKS: dict[str, type[Block]] = {
    block.kind: block
    for block in (HeatPumpBlock, BoilerBlock, WhiteGoodsBlock, EvBlock, BatteryBlock)
}

__all__ = [
    "BLOCKS",
    "BatteryBlock",
    "Block",
    "BoilerBlock",
    "BuildContext",
    "DeviceResult",
    "EvBlock",
    "HeatPumpBlock",
    "PowerTerm",
    "WarmHint",
    "WhiteGoodsBlock",
]
