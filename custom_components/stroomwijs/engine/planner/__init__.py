"""The household planner: a MILP over 15-minute slots, solved with HiGHS.

``Problem.from_dict`` (or ``from_json``/``from_file``) reads plain problem
data, ``solve`` returns a ``Plan``. The core owns the grid balance, the hard
limits (DSO caps and the main fuse per phase, never relaxed), the prices and
the capacity cost; each device kind is a block in ``blocks/``. The model is
built as sparse numpy arrays and handed to ``highspy`` directly: no modelling
layer, so a 48-hour household builds in milliseconds.
"""

from __future__ import annotations

from .core import solve
from .plan import CostBreakdown, Plan, SolverReport
from .problem import CapacityTariff, Problem, SolverOptions
from .schema import ProblemError

__all__ = [
    "CapacityTariff",
    "CostBreakdown",
    "Plan",
    "Problem",
    "ProblemError",
    "SolverOptions",
    "SolverReport",
    "solve",
]
