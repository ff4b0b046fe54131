"""Import and export prices per slot, from a spot series or a fixed tariff.

The import price is, by default, the Dutch formula::

    import = (spot_factor * energy + markup + energy_tax) * (1 + vat)

where ``energy`` is the day-ahead spot price (dynamic contract) or the fixed
energy rate (single or day/night contract). Each term can be switched out of
VAT, and an explicit all-in ``import_eur_per_kwh`` series overrides the
formula for contracts that fit no formula. The export price follows the spot
price, a fixed feed-in rate or the import price (net metering), plus a
(usually negative) markup; it may be negative, or floored at zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import numpy as np

from .lp import FloatArray
from .schema import ProblemError, Reader
from .timegrid import TimeGrid

NL_ENERGY_TAX_EUR_PER_KWH = 0.1228
"""Dutch energy tax on electricity, first bracket, excluding VAT."""
NL_VAT = 0.21
"""Dutch VAT rate."""

TARIFFS = ("dynamic", "single", "day_night")
EXPORT_BASES = ("spot", "fixed", "import")


@dataclass(frozen=True, slots=True)
class Prices:
    """Per-slot prices in EUR/kWh, plus the parts the blocks need."""

    import_eur_per_kwh: FloatArray
    export_eur_per_kwh: FloatArray
    energy_tax_incl_vat: float
    """Energy tax a kWh of import carries, VAT included (for round-trip costs)."""
    tariff: str


def _parse_clock(reader: Reader, key: str, default: str) -> time:
    text = reader.text(key, default)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise reader.error(
            key, f"expected a clock time such as 23:00, got {text!r}"
        ) from None


def _is_night(
    grid: TimeGrid, index: int, start: time, end: time, *, weekend: bool
) -> bool:
    local = grid.local(grid.slot_start(index))
    if weekend and local.weekday() >= 5:  # noqa: PLR2004 - Saturday and Sunday
        return True
    clock = local.time()
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end


def read_prices(reader: Reader, grid: TimeGrid) -> Prices:
    """Build the price series for ``grid`` from the ``prices`` object."""
    n = grid.count
    tariff = reader.text("tariff", "dynamic", choices=TARIFFS)
    if tariff == "dynamic":
        energy = np.asarray(reader.series("spot_eur_per_kwh", n), dtype=np.float64)
        spot = energy
    elif tariff == "single":
        rate = reader.number("single_eur_per_kwh")
        energy = np.full(n, rate)
        spot = (
            np.asarray(reader.series("spot_eur_per_kwh", n), dtype=np.float64)
            if reader.has("spot_eur_per_kwh")
            else energy
        )
    else:
        day = reader.number("day_eur_per_kwh")
        night = reader.number("night_eur_per_kwh")
        night_start = _parse_clock(reader, "night_start", "23:00")
        night_end = _parse_clock(reader, "night_end", "07:00")
        weekend = reader.boolean("weekend_is_night", default=True)
        energy = np.array(
            [
                night
                if _is_night(grid, i, night_start, night_end, weekend=weekend)
                else day
                for i in range(n)
            ],
            dtype=np.float64,
        )
        spot = (
            np.asarray(reader.series("spot_eur_per_kwh", n), dtype=np.float64)
            if reader.has("spot_eur_per_kwh")
            else energy
        )

    spot_factor = reader.number("spot_factor", 1.0)
    markup = reader.number("markup_eur_per_kwh", 0.0)
    energy_tax = reader.number("energy_tax_eur_per_kwh", NL_ENERGY_TAX_EUR_PER_KWH)
    vat = reader.number("vat", NL_VAT, low=0.0, high=1.0)
    vat_on_markup = reader.boolean("vat_on_markup", default=True)
    vat_on_tax = reader.boolean("vat_on_energy_tax", default=True)
    factor = 1.0 + vat
    energy_part = (spot_factor if tariff == "dynamic" else 1.0) * energy * factor
    import_price = (
        energy_part
        + markup * (factor if vat_on_markup else 1.0)
        + energy_tax * (factor if vat_on_tax else 1.0)
    )
    if reader.has("import_eur_per_kwh"):
        import_price = np.asarray(
            reader.series("import_eur_per_kwh", n), dtype=np.float64
        )

    export = reader.obj("export")
    basis = export.text(
        "basis",
        "fixed" if export.has("fixed_eur_per_kwh") else "spot",
        choices=EXPORT_BASES,
    )
    if basis == "spot":
        export_price = spot * export.number("spot_factor", 1.0)
    elif basis == "fixed":
        export_price = np.asarray(
            export.series("fixed_eur_per_kwh", n), dtype=np.float64
        )
    else:
        export_price = import_price.copy()
    export_price = export_price + export.number("markup_eur_per_kwh", 0.0)
    if export.boolean("floor_at_zero", default=False):
        export_price = np.maximum(export_price, 0.0)
    export.reject_unknown()
    if reader.has("export_eur_per_kwh"):
        raise reader.error("export_eur_per_kwh", "put export prices under 'export'")
    reader.reject_unknown()
    if not np.all(np.isfinite(import_price)):
        raise ProblemError("prices: the import price is not finite")
    return Prices(
        import_eur_per_kwh=import_price,
        export_eur_per_kwh=export_price,
        energy_tax_incl_vat=energy_tax * (factor if vat_on_tax else 1.0),
        tariff=tariff,
    )
