"""The planner's problem: time grid, prices, grid limits, inputs and devices.

A problem is plain data (JSON), not live devices: an adapter that turns the
engine's devices (see ``engine/capabilities.py``) into problem data sits on
top of this. ``docs/planner.md`` documents every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import json
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from custom_components.stroomwijs.engine.grid import GridConnection

from .blocks import BLOCKS, Block
from .lp import FloatArray
from .prices import Prices, read_prices
from .schema import ProblemError, Reader
from .timegrid import MAX_SLOTS, TimeGrid

type PhaseShares = tuple[float, float, float]

CAPACITY_MINIMUM_KW = 2.5
"""Flemish capacity tariff: the monthly peak is billed at 2.5 kW at least."""


@dataclass(frozen=True, slots=True)
class CapacityTariff:
    """A Belgian-style capacity tariff on the monthly 15-minute import peak."""

    eur_per_kw_month: float
    month_peak_so_far_kw: float
    minimum_kw: float = CAPACITY_MINIMUM_KW
    current_quarter_energy_kwh: float = 0.0
    """Energy already imported in the quarter-hour the first slot ends."""


@dataclass(frozen=True, slots=True)
class SolverOptions:
    """How long and how precisely to solve."""

    time_limit_s: float = 5.0
    mip_rel_gap: float = 0.01
    mip_abs_gap_eur: float = 0.01
    """Stop within a cent of the optimum, even if that is above the relative gap."""
    threads: int = 1


@dataclass(frozen=True, slots=True)
class Problem:
    """Everything the planner needs for one solve."""

    grid: TimeGrid
    prices: Prices
    connection: GridConnection
    base_load_kw: FloatArray
    pv_kw: FloatArray
    import_cap_kw: FloatArray
    """Hard import cap per slot: the DSO limit and the whole fuse, the lower."""
    export_cap_kw: FloatArray
    window: npt.NDArray[np.bool_]
    """Slots whose DSO import cap is below the normal one."""
    base_phases: PhaseShares
    pv_phases: PhaseShares
    capacity: CapacityTariff | None
    devices: tuple[Block, ...]
    solver: SolverOptions
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The data the problem was read from (see ``to_dict``)."""

    @property
    def phase_limit_kw(self) -> float:
        """What one phase of the main fuse carries, in kW."""
        return self.connection.phase_max_power_w / 1000.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        """Read and validate a problem; raises ProblemError with the field's path."""
        reader = Reader(data)
        reader.text("description", "")
        grid = _read_time(reader, data)
        n = grid.count
        prices = read_prices(reader.obj("prices"), grid)
        base = np.asarray(reader.series("base_load_kw", n, low=0.0, high=100.0))
        pv = np.asarray(reader.series("pv_kw", n, 0.0, low=0.0, high=100.0))
        grid_reader = reader.obj("grid")
        connection = _read_connection(grid_reader)
        whole_kw = connection.max_power_w / 1000.0
        dso_import = np.asarray(
            grid_reader.series("dso_import_kw", n, whole_kw, low=0.0), dtype=np.float64
        )
        dso_export = np.asarray(
            grid_reader.series("dso_export_kw", n, whole_kw, low=0.0), dtype=np.float64
        )
        normal_import = dso_import.copy()
        for window in grid_reader.objects("windows"):
            start = window.time("start")
            end = window.time("end")
            if end <= start:
                raise window.error("end", "must be after start")
            first = grid.index_containing(start) if start < grid.end else n
            last = grid.index_at_or_after(end)
            span = slice(first, last)
            if window.has("import_kw"):
                dso_import[span] = np.minimum(
                    dso_import[span], window.number("import_kw", low=0.0)
                )
            if window.has("export_kw"):
                dso_export[span] = np.minimum(
                    dso_export[span], window.number("export_kw", low=0.0)
                )
            window.reject_unknown()
        import_cap = np.minimum(dso_import, whole_kw)
        export_cap = np.minimum(dso_export, whole_kw)
        in_window = import_cap < np.minimum(normal_import, whole_kw) - 1e-9
        capacity = _read_capacity(grid_reader.obj("capacity_tariff"))
        base_phases = _read_shares(grid_reader, "base_load_phases")
        pv_phases = _read_shares(grid_reader, "pv_phases")
        grid_reader.reject_unknown()

        devices: list[Block] = []
        seen: set[str] = set()
        for item in reader.objects("devices"):
            kind = item.text("kind", choices=tuple(BLOCKS))
            block = BLOCKS[kind](item, grid)
            if block.device_id in seen:
                raise item.error("id", f"{block.device_id!r} is used twice")
            seen.add(block.device_id)
            devices.append(block)

        solver_reader = reader.obj("solver")
        solver = SolverOptions(
            time_limit_s=solver_reader.number(
                "time_limit_s", 5.0, above=0.0, high=600.0
            ),
            mip_rel_gap=solver_reader.number("mip_rel_gap", 0.01, low=0.0, high=1.0),
            mip_abs_gap_eur=solver_reader.number("mip_abs_gap_eur", 0.01, low=0.0),
            threads=solver_reader.integer("threads", 1, low=1, high=64),
        )
        solver_reader.reject_unknown()
        reader.reject_unknown()
        return cls(
            grid=grid,
            prices=prices,
            connection=connection,
            base_load_kw=base,
            pv_kw=pv,
            import_cap_kw=import_cap,
            export_cap_kw=export_cap,
            window=in_window,
            base_phases=base_phases,
            pv_phases=pv_phases,
            capacity=capacity,
            devices=tuple(devices),
            solver=solver,
            source=json.loads(json.dumps(data)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as JSON-ready data; ``from_dict`` reads it back."""
        return cast("dict[str, Any]", json.loads(json.dumps(self.source)))

    @classmethod
    def from_json(cls, text: str) -> Problem:
        """Parse JSON text into a problem."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            msg = f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
            raise ProblemError(msg) from None
        if not isinstance(data, dict):
            raise ProblemError("problem: expected a JSON object at the top level")
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: Path) -> Problem:
        """Read a problem file (blocking; call it off the event loop)."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            msg = f"cannot read {path}: {err.strerror}"
            raise ProblemError(msg) from None
        except UnicodeDecodeError:
            msg = f"{path} is not UTF-8 text"
            raise ProblemError(msg) from None
        return cls.from_json(text)


def _read_time(reader: Reader, data: Mapping[str, Any]) -> TimeGrid:
    start = reader.time("start")
    slot_minutes = reader.integer("slot_minutes", 15, low=5, high=60)
    if 60 % slot_minutes:
        raise reader.error(
            "slot_minutes", "must divide an hour (5, 10, 15, 20, 30, 60)"
        )
    first = reader.number("first_slot_minutes", float(slot_minutes), above=0.0)
    if first > slot_minutes:
        raise reader.error(
            "first_slot_minutes", f"cannot exceed slot_minutes ({slot_minutes})"
        )
    zone_name = reader.text("timezone", "Europe/Amsterdam")
    try:
        zone = ZoneInfo(zone_name)
    except ZoneInfoNotFoundError, ValueError:
        raise reader.error("timezone", f"unknown time zone {zone_name!r}") from None
    max_slots = 48 * 60 // slot_minutes
    count = reader.integer("horizon_slots", 0, low=0, high=max_slots)
    if count == 0:
        prices = data.get("prices")
        spot = prices.get("spot_eur_per_kwh") if isinstance(prices, Mapping) else None
        count = min(len(spot), max_slots) if isinstance(spot, list) else max_slots
    if count == 0:
        raise reader.error("horizon_slots", "the plan needs at least one slot")
    count = min(count, max(max_slots, MAX_SLOTS))
    return TimeGrid(
        start=start,
        count=count,
        slot_minutes=slot_minutes,
        first_slot_minutes=first,
        zone=zone,
    )


def _read_connection(reader: Reader) -> GridConnection:
    if not reader.has("fuse"):
        reader.text("fuse", "3x25")
        return GridConnection(phases=3, fuse_a=25.0)
    try:
        connection = GridConnection.parse(reader.text("fuse"))
    except ValueError as err:
        raise reader.error("fuse", str(err)) from None
    voltage = reader.number("voltage_v", connection.voltage_v)
    try:
        return GridConnection(
            phases=connection.phases, fuse_a=connection.fuse_a, voltage_v=voltage
        )
    except ValueError as err:
        raise reader.error("voltage_v", str(err)) from None


def _read_capacity(reader: Reader) -> CapacityTariff | None:
    if not reader.has("eur_per_kw_month"):
        reader.reject_unknown()
        return None
    tariff = CapacityTariff(
        eur_per_kw_month=reader.number("eur_per_kw_month", low=0.0),
        month_peak_so_far_kw=reader.number("month_peak_so_far_kw", 0.0, low=0.0),
        minimum_kw=reader.number("minimum_kw", CAPACITY_MINIMUM_KW, low=0.0),
        current_quarter_energy_kwh=reader.number(
            "current_quarter_energy_kwh", 0.0, low=0.0
        ),
    )
    reader.reject_unknown()
    return tariff


def _read_shares(reader: Reader, key: str) -> PhaseShares:
    values = reader.numbers(key)
    if values is None:
        return (1 / 3, 1 / 3, 1 / 3)
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:  # noqa: PLR2004
        raise reader.error(key, "needs three non-negative shares that add up to 1")
    return (values[0], values[1], values[2])
