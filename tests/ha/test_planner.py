"""The household plans inside Home Assistant: P1 stream, OCPP 2.1 car, price entity."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
import csv
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
import time as wall
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
)
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.stroomwijs.charger import (
    CONF_OCPP_HOST,
    CONF_OCPP_PORT,
    SUBENTRY_CHARGER,
)
from custom_components.stroomwijs.const import (
    CONF_EXPORT_BASIS,
    CONF_FEED_IN,
    CONF_OPTIMISER_MODE,
    CONF_PRICE_ENTITY,
    CONF_PV_ENTITY,
    DOMAIN,
)
from custom_components.stroomwijs.engine.household import (
    Household,
    HouseholdConfig,
    HouseholdEvent,
    PlanState,
)
from custom_components.stroomwijs.engine.planner import solve
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
    SimCar,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    TelegramValuesIn,
    build_telegram,
)
from custom_components.stroomwijs.limits_flow import (
    CONF_END,
    CONF_IMPORT_W,
    CONF_LABEL,
    CONF_LIMIT_KIND,
    CONF_START,
    KIND_WINDOW,
    SUBENTRY_GRID_LIMIT,
)
from tests.engine.household.prices import hourly_prices, nordpool_state

from .charger_support import ocpp_subentry, setup_loaded
from .p1_support import network_entry, p1_server, until

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PRICES = "sensor.nordpool_kwh_nl_eur"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _house_telegram(_index: int) -> bytes:
    return build_telegram(
        TelegramValuesIn(
            timestamp=datetime.now(UTC),
            import_w=600,
            phase_import_w=(200, 200, 200),
            phase_currents_a=(1, 1, 1),
        )
    )


def _window() -> ConfigSubentryData:
    return ConfigSubentryData(
        data={
            CONF_LIMIT_KIND: KIND_WINDOW,
            CONF_LABEL: "evening",
            CONF_START: "16:00",
            CONF_END: "21:00",
            CONF_IMPORT_W: 4000,
        },
        subentry_type=SUBENTRY_GRID_LIMIT,
        title="Evening 4 kW",
        unique_id="window_evening",
    )


def _prices(*, tomorrow: bool) -> dict[str, Any]:
    """Nord Pool's attributes for 16 December 2025 (tomorrow: the same prices)."""
    state = nordpool_state()
    if tomorrow:
        state["raw_tomorrow"] = [
            {
                **row,
                "start": (datetime.fromisoformat(row["start"]) + timedelta(days=1))
                .astimezone(AMSTERDAM)
                .isoformat(),
                "end": (datetime.fromisoformat(row["end"]) + timedelta(days=1))
                .astimezone(AMSTERDAM)
                .isoformat(),
            }
            for row in state["raw_today"]
        ]
        state["tomorrow_valid"] = True
    return state


@asynccontextmanager
async def _household(
    hass: HomeAssistant,
    **options: Any,  # noqa: ANN401
) -> AsyncIterator[tuple[MockConfigEntry, Household, str]]:
    async with p1_server(_house_telegram, interval=0.5) as server:
        base = network_entry(server)
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Thuis",
            data=dict(base.data),
            options={
                CONF_OCPP_HOST: "127.0.0.1",
                CONF_OCPP_PORT: 0,
                CONF_PRICE_ENTITY: PRICES,
                CONF_EXPORT_BASIS: "fixed",
                CONF_FEED_IN: 0.0,
                **options,
            },
            subentries_data=[ocpp_subentry("garage", capacity_kwh=60), _window()],
        )
        await setup_loaded(hass, entry)
        car_id = next(
            sid
            for sid, sub in entry.subentries.items()
            if sub.subentry_type == SUBENTRY_CHARGER
        )
        try:
            yield entry, entry.runtime_data.household, car_id
        finally:
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


async def _plug_in(
    hass: HomeAssistant, household: Household, car_id: str, soc: float = 0.4
) -> OcppSimulator:
    csms = household.chargers.csms
    assert csms is not None
    sim = OcppSimulator("garage", version="ocpp2.1")
    await sim.async_connect(csms.url)
    await sim.async_plug_in(
        SimCar(capacity_kwh=60.0, soc=soc, max_discharge_w=11_000.0)
    )
    charger = household.handle(car_id).device
    await until(lambda: charger.plugged_in and charger.soc is not None)
    await hass.async_block_till_done()
    return sim


def _local(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["start"]).astimezone(AMSTERDAM)


def _check_plan_entities(
    hass: HomeAssistant,
    household: Household,
    day: datetime,
    rows: list[dict[str, Any]],
    car_id: str,
) -> None:
    """Check that the plan's entities show what the household planned at ``day``."""
    # The car's planned power now and next shows on its device.
    planned = hass.states.get("sensor.garage_planned_power")
    assert planned is not None
    assert float(planned.state) == round(rows[0][car_id] * 1000)
    planned_next = hass.states.get("sensor.garage_planned_power_next_quarter_hour")
    assert planned_next is not None
    assert float(planned_next.state) == round(rows[1][car_id] * 1000)
    # The household's plan entities: re-plan times, costs, saving.
    plan_status = household.plan_status
    assert plan_status.last_replan == day
    assert plan_status.next_replan == day + timedelta(minutes=15)
    for entity, when in (
        ("last_re_plan", day),
        ("next_re_plan", day + timedelta(minutes=15)),
    ):
        state = hass.states.get(f"sensor.thuis_{entity}")
        assert state is not None
        assert datetime.fromisoformat(state.state) == when
    for entity, value in (
        ("planned_cost_today", plan_status.cost_today_eur),
        ("planned_cost_tomorrow", plan_status.cost_tomorrow_eur),
        ("expected_saving", plan_status.saving_eur),
    ):
        state = hass.states.get(f"sensor.thuis_{entity}")
        assert state is not None
        assert value is not None
        assert float(state.state) == pytest.approx(value)
    # Against the car charging at full power from now on, the plan saves.
    assert plan_status.saving_eur > 0.5


PEAK_DAY = (
    Path(__file__).parents[1]
    / "fixtures"
    / "prices_NL_2024-12-12_2024-12-13_hourly.csv"
)


def _peak_day_prices() -> dict[str, Any]:
    """Nord Pool's attributes for 12 December 2024 (today) and the 13th (tomorrow).

    The real NL day-ahead prices of a day with a scarcity peak in the
    evening: 628 and 518 EUR/MWh from 18:00 and 19:00, 285 from 20:00.
    """
    with PEAK_DAY.open(encoding="utf-8") as handle:
        prices = [
            (
                datetime.fromisoformat(row["start_utc"]),
                float(row["price_eur_per_mwh"]) / 1000.0,
            )
            for row in csv.DictReader(handle)
        ]
    rows = [
        {
            "start": start.astimezone(AMSTERDAM).isoformat(),
            "end": (start + timedelta(hours=1)).astimezone(AMSTERDAM).isoformat(),
            "value": round(price, 5),
        }
        for start, price in prices
    ]
    return {
        **nordpool_state(),
        "today": [row["value"] for row in rows[:24]],
        "tomorrow": [row["value"] for row in rows[24:]],
        "tomorrow_valid": True,
        "raw_today": rows[:24],
        "raw_tomorrow": rows[24:],
    }


# What a kWh stored in the car and given back costs on top of the energy to
# charge it: the planner's own figures for the household's cars (planning.py)
# and the tariff's default energy tax and VAT.
ROUND_TRIP = 0.85
DEGRADATION_EUR_PER_KWH = 0.03
ENERGY_TAX_INCL_VAT = 0.1228 * 1.21


@pytest.mark.parametrize(
    ("day", "prices", "export_basis", "soc", "discharge_hours"),
    [
        # 16 December 2025: the evening (0.33-0.34 EUR/kWh all in) never pays
        # for night energy (0.27) after losses, wear and the tax paid twice.
        (
            datetime(2025, 12, 16, 18, 0, tzinfo=AMSTERDAM),
            _prices(tomorrow=True),
            "fixed",
            0.4,
            (),
        ),
        # 12 December 2024, export worth the import price (net metering), a
        # car that comes home nearly full: 18:00 and 19:00 (0.93 and 0.80
        # EUR/kWh all in) pay for a night kWh given back (0.56 with the tax
        # paid again, 0.41 without); 20:00 (0.52) does not.
        (
            datetime(2024, 12, 12, 18, 0, tzinfo=AMSTERDAM),
            _peak_day_prices(),
            "net_metering",
            0.9,
            (18, 19),
        ),
        # The same evening with export worth nothing: the car discharges at
        # 4.1 kW or more, the house uses 0.4 kW, the rest would be given away.
        (
            datetime(2024, 12, 12, 18, 0, tzinfo=AMSTERDAM),
            _peak_day_prices(),
            "fixed",
            0.4,
            (),
        ),
    ],
    ids=["2025-12-16", "2024-12-12-net-metering", "2024-12-12-no-export-price"],
)
async def test_a_car_plugged_in_at_six_charges_at_night_within_the_window(  # noqa: PLR0917 - one case
    hass: HomeAssistant,
    day: datetime,
    prices: dict[str, Any],
    export_basis: str,
    soc: float,
    discharge_hours: tuple[int, ...],
) -> None:
    """18:00, departure 07:00: cheap night charging, the 4 kW window holds.

    The car gives energy back in the evening only where that pays after the
    round trip's losses, its wear and the energy tax paid again on it, and
    never exports what the export rule does not pay for.
    """
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.states.async_set(PRICES, "0.1", prices)
    async with _household(hass, **{CONF_EXPORT_BASIS: export_basis}) as (
        _entry,
        household,
        car_id,
    ):
        # The household's clock says 18:00 on that day (the P1 stream and the
        # sockets keep real time).
        household.ports.clock = lambda: day
        sim = await _plug_in(hass, household, car_id, soc)
        try:
            device = dr.async_get(hass).async_get_device_by_identifier(
                (DOMAIN, car_id), _entry.entry_id
            )
            assert device is not None
            departure = (day + timedelta(days=1)).replace(hour=7)
            await hass.services.async_call(
                DOMAIN,
                "set_departure",
                {
                    "device_id": device.id,
                    "departure": departure.isoformat(),
                    "target_soc": 80,
                },
                blocking=True,
            )
            response = await hass.services.async_call(
                DOMAIN, "plan_now", {}, blocking=True, return_response=True
            )
            assert response is not None
            assert response["state"] in {"ok", "time_limit"}, response
            await hass.async_block_till_done()
            status = hass.states.get("sensor.thuis_plan_status")
            assert status is not None
            assert status.state in {"ok", "time_limit"}
            rows: list[dict[str, Any]] = status.attributes["plan"]
            assert rows
            # Dashboards name the device columns from plan_devices.
            assert status.attributes["plan_devices"] == {car_id: "garage"}
            assert _local(rows[0]).hour == 18
            # The window holds in every planned slot.
            for row in rows:
                if 16 <= _local(row).hour < 21:
                    assert row["grid_kw"] <= 4.0 + 1e-6, row
            charging = [row for row in rows if row[car_id] > 0.1]
            discharging = [row for row in rows if row[car_id] < -0.1]
            # It charges what the target takes, and what it gave back.
            charged_kwh = sum(row[car_id] for row in charging) * 0.25
            given_kwh = -sum(row[car_id] for row in discharging) * 0.25
            assert charged_kwh >= (0.8 - soc) * 60.0 + given_kwh - 0.01
            # Charging in the night, in slots cheaper than the night's mean.
            night = [
                row for row in rows if _local(row).hour >= 21 or _local(row).hour < 7
            ]
            assert all(
                _local(row).hour >= 21 or _local(row).hour < 7 for row in charging
            )
            mean_night = sum(row["price"] for row in night) / len(night)
            mean_charge = sum(row["price"] for row in charging) / len(charging)
            assert mean_charge <= mean_night
            # Discharge only in the evening, only where it pays, never exported.
            given_back = max(row["price"] for row in charging) / ROUND_TRIP + (
                DEGRADATION_EUR_PER_KWH + ENERGY_TAX_INCL_VAT
            )
            assert {_local(row).hour for row in discharging} == set(discharge_hours)
            for row in discharging:
                assert 18 <= _local(row).hour < 21, row
                assert row["price"] > given_back, (row, given_back)
            if export_basis == "fixed":  # export is worth 0 EUR/kWh
                assert all(
                    row["grid_kw"] >= -0.01 for row in rows if row in discharging
                )
            _check_plan_entities(hass, household, day, rows, car_id)
        finally:
            await sim.async_disconnect()


async def test_new_prices_at_one_trigger_a_replan(hass: HomeAssistant) -> None:
    """Tomorrow's day-ahead prices arrive at 13:00: the household re-plans.

    The price entity changes within the quarter-hour of the last plan, so the
    re-plan that follows is the prices' own, not the quarter-hour's schedule.
    """
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=False))
    clock = [datetime(2025, 12, 16, 13, 0, tzinfo=AMSTERDAM)]
    async with _household(hass) as (_entry, household, _car_id):
        household.ports.clock = lambda: clock[0]
        # The limits follow the new clock (the evening window may have been
        # in force at the real time), then the plan is made at 13:00.
        await household.async_tick(clock[0])
        await household.async_plan_now()
        first = household.plan_status.last_replan
        assert first == clock[0]
        assert household.plan_status.next_replan == clock[0] + timedelta(minutes=15)
        assert household.plan is not None
        assert len(household.plan.slot_starts) == 96  # at least a day ahead
        events: list[HouseholdEvent] = []
        unsubscribe = household.subscribe(events.append)
        try:
            clock[0] += timedelta(seconds=20)
            hass.states.async_set(PRICES, "0.11", _prices(tomorrow=True))
            await hass.async_block_till_done()
            clock[0] += timedelta(seconds=3)
            async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=3))
            await hass.async_block_till_done()
            await until(lambda: household.plan_status.last_replan != first)
        finally:
            unsubscribe()
        assert household.plan_status.last_replan == clock[0]
        replans = [event for event in events if event.kind == "plan_updated"]
        assert len(replans) == 1, replans
        assert replans[0].data["reasons"] == ["new prices"]
        assert len(household.plan.slot_starts) > 96  # to the end of tomorrow
        assert household.plan_status.cost_tomorrow_eur is not None


async def test_a_solver_time_out_keeps_the_plan_and_raises_a_repair(
    hass: HomeAssistant,
) -> None:
    """A hung solve keeps the last plan, raises a repair issue, and clears it."""
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=True))
    async with _household(hass) as (entry, household, _car_id):
        await household.async_plan_now()
        kept = household.plan
        assert kept is not None
        household.config = replace(
            household.config,
            optimiser=replace(household.config.optimiser, time_limit_s=0.2),
        )

        def slow(problem: Any, now: datetime, previous: Any) -> Any:  # noqa: ANN401
            wall.sleep(2.6)
            return solve(problem, now=now, warm_start=previous)

        household.ports.solver = slow
        status = await household.async_plan_now()
        assert status.state is PlanState.FALLBACK
        assert household.plan is kept
        await hass.async_block_till_done()
        issue = ir.async_get(hass).async_get_issue(
            DOMAIN, f"plan_failed_{entry.entry_id}"
        )
        assert issue is not None
        assert issue.translation_key == "plan_failed_timeout"
        assert issue.translation_placeholders == {"household": "Thuis"}
        assert hass.states.get("sensor.thuis_plan_status").state == "fallback"

        household.ports.solver = lambda problem, now, previous: solve(
            problem, now=now, warm_start=previous
        )
        status = await household.async_plan_now()
        assert status.state in {PlanState.OK, PlanState.TIME_LIMIT}
        await hass.async_block_till_done()
        assert (
            ir.async_get(hass).async_get_issue(DOMAIN, f"plan_failed_{entry.entry_id}")
            is None
        )


async def test_mode_select_switch_and_button(hass: HomeAssistant) -> None:
    """The mode select, the master switch and the button drive the household."""
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=True))
    async with _household(hass) as (_entry, household, _car_id):
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": "select.thuis_optimiser_mode", "option": "self_consumption"},
            blocking=True,
        )
        assert household.mode.value == "self_consumption"
        await hass.services.async_call(
            "button", "press", {"entity_id": "button.thuis_plan_now"}, blocking=True
        )
        assert household.plan_status.mode is not None
        assert household.plan_status.mode.value == "self_consumption"
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": "switch.thuis_optimiser"}, blocking=True
        )
        await household.async_plan_now()
        await hass.async_block_till_done()
        assert hass.states.get("sensor.thuis_plan_status").state == "off"
        assert hass.states.get("switch.thuis_optimiser").state == "off"
        await hass.services.async_call(
            "switch", "turn_on", {"entity_id": "switch.thuis_optimiser"}, blocking=True
        )
        assert household.enabled


async def test_tariff_options_reach_the_household(hass: HomeAssistant) -> None:
    """The tariff step stores prices, tariff and mode; the household uses them."""
    async with _household(hass) as (entry, _household_obj, _car_id):
        result = await hass.config_entries.options.async_init(entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "tariff"}
        )
        assert result["type"] is FlowResultType.FORM
        result = await hass.config_entries.options.async_configure(
            result["flow_id"],
            {
                CONF_PRICE_ENTITY: PRICES,
                "markup_eur_per_kwh": 0.03,
                "energy_tax_eur_per_kwh": 0.1,
                "vat_pct": 6,
                CONF_EXPORT_BASIS: "net_metering",
                CONF_FEED_IN: 0.0,
                "capacity_eur_per_kw_month": 4.5,
                CONF_OPTIMISER_MODE: "cheapest",
            },
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        household = entry.runtime_data.household
        tariff = household.config.tariff
        assert tariff.vat == 0.06
        assert tariff.export_basis == "net_metering"
        assert tariff.capacity_eur_per_kw_month == 4.5
        assert household.mode.value == "cheapest"


async def test_a_restart_mid_limit_forgets_nothing(hass: HomeAssistant) -> None:
    """Reloading the household keeps limit, departure, peak, count and override."""
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=True))
    async with _household(hass) as (entry, household, car_id):
        sim = await _plug_in(hass, household, car_id)
        try:
            device = dr.async_get(hass).async_get_device_by_identifier(
                (DOMAIN, car_id), entry.entry_id
            )
            assert device is not None
            await hass.services.async_call(
                DOMAIN,
                "set_grid_limit",
                {"value": 9_000, "duration": {"minutes": 30}, "source": "test"},
                blocking=True,
            )
            departure = dt_util.utcnow().replace(microsecond=0) + timedelta(hours=10)
            await hass.services.async_call(
                DOMAIN,
                "set_departure",
                {"device_id": device.id, "departure": departure, "target_soc": 90},
                blocking=True,
            )
            await hass.services.async_call(
                DOMAIN, "boost", {"device_id": device.id}, blocking=True
            )
            meter = household.meter
            assert meter is not None
            await until(lambda: meter.last_reading is not None)
            peak_before = meter.export_state()["peak"]
            manual_end = household.limits.manual.current.end  # type: ignore[union-attr]
            count_before = household.interventions_today
            assert count_before >= 1  # the boost's override
            await household.async_plan_now()
            assert household.plan is not None

            # Home Assistant restarts (the household is unloaded and set up).
            await sim.async_disconnect()
            assert await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
            household2 = entry.runtime_data.household
            assert household2 is not household
            assert household2.limits.import_limit_w == 9_000
            assert household2.limits.manual.current is not None
            assert household2.limits.manual.current.end == manual_end
            assert household2.handle(car_id).device.departure.departure == departure
            assert household2.handle(car_id).device.departure.target_soc == 0.9
            assert household2.interventions_today >= count_before
            assert household2.meter is not None
            assert household2.meter.export_state()["peak"] == peak_before
            # The boost survived: the charger still holds the user's override.
            assert household2.handle(car_id).device.manual_setpoint_w is not None
            assert household2.plan is not None
            sim = await _plug_in(hass, household2, car_id)
            # The car is not left where it was: it charges (boosted, within the
            # 9 kW limit with the house's 0.6 kW).
            await until(lambda: sim.station.target_power_w() > 0, limit=10)
        finally:
            await sim.async_disconnect()


async def test_export_profile_leaves_secrets_out_and_reads_back(
    hass: HomeAssistant,
) -> None:
    """The installer profile is the household's config, without its secrets."""
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=True))
    async with _household(hass) as (_entry, household, _car_id):
        response = await hass.services.async_call(
            DOMAIN, "export_profile", {}, blocking=True, return_response=True
        )
        assert response is not None
        text = str(response["profile"])
        imported = HouseholdConfig.from_yaml(text)
        assert imported == replace(household.config, secrets={})
        assert response["secrets_left_out"] == household.config.required_secrets()
        assert "price_source: sensor.nordpool_kwh_nl_eur" in text


async def test_charger_buttons_boost_pause_and_resume(hass: HomeAssistant) -> None:
    """The charger's buttons set and clear the user's override."""
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=True))
    async with _household(hass) as (_entry, household, car_id):
        sim = await _plug_in(hass, household, car_id)
        charger = household.handle(car_id).device
        try:
            for button, expected in (
                ("button.garage_boost", charger.config.hardware_max_w),
                ("button.garage_pause", 0.0),
                ("button.garage_resume_plan", None),
            ):
                await hass.services.async_call(
                    "button", "press", {"entity_id": button}, blocking=True
                )
                assert charger.manual_setpoint_w == expected
        finally:
            await sim.async_disconnect()


async def test_removing_the_household_deletes_its_repairs(hass: HomeAssistant) -> None:
    """A removed household leaves no repair issue behind."""
    hass.states.async_set(PRICES, "0.1", _prices(tomorrow=True))
    async with p1_server(_house_telegram, interval=0.5) as server:
        entry = network_entry(server)
        await setup_loaded(hass, entry)
        issue_id = f"plan_failed_{entry.entry_id}"
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="plan_failed_timeout",
            translation_placeholders={"household": "Thuis"},
        )
        assert await hass.config_entries.async_remove(entry.entry_id)
        await hass.async_block_till_done()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_a_forecast_solar_entity_gives_the_integration_s_forecast(
    hass: HomeAssistant,
) -> None:
    """Forecast.Solar's entities carry no series: its get_forecast action is asked.

    The action's response is Home Assistant's (``watts`` and ``wh_period``,
    ISO keys in the site's zone); it is asked again when the entity changes.
    """
    solar = MockConfigEntry(domain="forecast_solar", title="Dak")
    solar.add_to_hass(hass)
    entity = er.async_get(hass).async_get_or_create(
        "sensor",
        "forecast_solar",
        f"{solar.entry_id}_energy_production_today",
        config_entry=solar,
        suggested_object_id="energy_production_today",
    )
    calls: list[dict[str, Any]] = []
    wh = {9: 150, 10: 600, 11: 1_050, 12: 1_200, 13: 900, 14: 400, 15: 80}

    async def get_forecast(call: ServiceCall) -> ServiceResponse:
        calls.append(dict(call.data))
        day = datetime(2025, 12, 16, tzinfo=AMSTERDAM)
        hours = {
            day.replace(hour=hour).isoformat(): value for hour, value in wh.items()
        }
        return {"watts": dict(hours), "wh_period": hours}

    hass.services.async_register(
        "forecast_solar",
        "get_forecast",
        get_forecast,
        supports_response=SupportsResponse.ONLY,
    )
    hass.states.async_set(entity.entity_id, "4.4", {"unit_of_measurement": "kWh"})
    async with _household(hass, **{CONF_PV_ENTITY: entity.entity_id}) as (
        _entry,
        household,
        _car_id,
    ):
        await hass.async_block_till_done()
        assert calls == [{"config_entry": solar.entry_id, "resolution": "hourly"}]
        forecast = household.pv_forecast
        assert forecast is not None
        at = datetime(2025, 12, 16, 12, 30, tzinfo=AMSTERDAM)
        assert forecast.value_at(at) == pytest.approx(1.2)
        # A new estimate: the entity changes and the forecast is read again.
        wh[12] = 600
        hass.states.async_set(entity.entity_id, "3.8", {"unit_of_measurement": "kWh"})
        await hass.async_block_till_done()
        assert len(calls) == 2
        assert household.pv_forecast is not None
        assert household.pv_forecast.value_at(at) == pytest.approx(0.6)


def _day_rows(day: date) -> list[tuple[datetime, datetime, float]]:
    """Return the 16 December 2025 hourly prices (EUR/kWh) moved onto ``day``."""
    midnight = datetime.combine(day, datetime.min.time(), AMSTERDAM).astimezone(UTC)
    return [
        (midnight + timedelta(hours=hour), midnight + timedelta(hours=hour + 1), price)
        for hour, (_start, price) in enumerate(hourly_prices())
    ]


def _energyzero(call: ServiceCall) -> ServiceResponse:
    """``energyzero.get_energy_prices`` as Home Assistant answers it."""
    assert call.data["incl_vat"] is False
    first = date.fromisoformat(call.data["start"])
    last = date.fromisoformat(call.data["end"])
    rows = [row for day in (first, last) for row in _day_rows(day)]
    return {
        "prices": [
            {
                "price": price,
                "timestamp": str(start.astimezone(UTC)),
                "start": str(start.astimezone(UTC)),
                "end": str(end.astimezone(UTC)),
            }
            for start, end, price in rows
        ]
    }


def _energyzero_before_publication(call: ServiceCall) -> ServiceResponse:
    """``energyzero.get_energy_prices`` before tomorrow's prices are out.

    Home Assistant's handler asks for each day and fails the whole call when
    one has no prices (before about 13:00-14:00 for tomorrow).
    """
    if date.fromisoformat(call.data["end"]) > dt_util.now().date():
        raise ServiceValidationError("no_data")
    return _energyzero(call)


def _library_error(call: ServiceCall) -> ServiceResponse:
    """Fail as a library does: its own error passes through a blocking call."""
    msg = f"{call.service}: the API did not answer"
    raise ConnectionError(msg)


def _nordpool(call: ServiceCall) -> ServiceResponse:
    """``nordpool.get_prices_for_date`` (EUR/MWh; tomorrow's not out yet)."""
    day = date.fromisoformat(str(call.data["date"]))
    if day > dt_util.now().date():
        return {"NL": [], "BE": []}
    rows = [
        {"start": start.isoformat(), "end": end.isoformat(), "price": price * 1000}
        for start, end, price in _day_rows(day)
    ]
    return {"NL": rows, "BE": [{**row, "price": 999.0} for row in rows]}


@pytest.mark.parametrize(
    ("integration", "service", "answer", "unique_id"),
    [
        ("energyzero", "get_energy_prices", _energyzero, "energy_current_hour"),
        (
            "energyzero",
            "get_energy_prices",
            _energyzero_before_publication,
            "energy_current_hour",
        ),
        ("nordpool", "get_prices_for_date", _nordpool, "NL-current_price"),
    ],
)
async def test_home_assistant_s_own_price_integrations_give_their_prices(
    hass: HomeAssistant,
    integration: str,
    service: str,
    answer: Callable[[ServiceCall], ServiceResponse],
    unique_id: str,
) -> None:
    """EnergyZero's and Nord Pool's entities carry no series: their action is asked."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    source = MockConfigEntry(domain=integration, title="Prijzen")
    source.add_to_hass(hass)
    entity = er.async_get(hass).async_get_or_create(
        "sensor", integration, unique_id, config_entry=source
    )
    calls: list[dict[str, Any]] = []

    async def handler(call: ServiceCall) -> ServiceResponse:
        calls.append(dict(call.data))
        assert call.data["config_entry"] == source.entry_id
        return answer(call)

    hass.services.async_register(
        integration, service, handler, supports_response=SupportsResponse.ONLY
    )
    hass.states.async_set(entity.entity_id, "0.12", {"unit_of_measurement": "€/kWh"})
    async with _household(hass, **{CONF_PRICE_ENTITY: entity.entity_id}) as (
        _entry,
        household,
        _car_id,
    ):
        await hass.async_block_till_done()
        assert calls
        prices = household.prices
        assert prices is not None
        now = dt_util.now()
        expected = next(
            price for start, end, price in _day_rows(now.date()) if start <= now < end
        )
        assert prices.value_at(now) == pytest.approx(expected)
        # The entity changes (the next hour): the prices are read again.
        asked = len(calls)
        hass.states.async_set(
            entity.entity_id, "0.13", {"unit_of_measurement": "€/kWh"}
        )
        await hass.async_block_till_done()
        assert len(calls) > asked


@pytest.mark.parametrize(
    ("integration", "service", "answer", "unique_id"),
    [
        # The integration is not loaded: its action does not exist.
        ("energyzero", None, None, "energy_current_hour"),
        # Two areas and an entity whose area cannot be told.
        ("nordpool", "get_prices_for_date", _nordpool, "current_price"),
        # An answer that is no mapping.
        ("forecast_solar", "get_forecast", lambda _call: None, "power_production"),
        # The integration's library fails (its own error, no HomeAssistantError).
        ("energyzero", "get_energy_prices", _library_error, "energy_current_hour"),
        ("forecast_solar", "get_forecast", _library_error, "power_production"),
    ],
)
async def test_an_integration_that_gives_no_series_leaves_the_input_unset(  # noqa: PLR0917 - one case
    hass: HomeAssistant,
    integration: str,
    service: str | None,
    answer: Callable[[ServiceCall], ServiceResponse] | None,
    unique_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No action, an unclear area, no answer: no prices or forecast, a log line."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    source = MockConfigEntry(domain=integration, title="Bron")
    source.add_to_hass(hass)
    entity = er.async_get(hass).async_get_or_create(
        "sensor", integration, unique_id, config_entry=source
    )
    if service is not None and answer is not None:
        respond = answer

        async def handler(call: ServiceCall) -> ServiceResponse:
            return respond(call)

        hass.services.async_register(
            integration, service, handler, supports_response=SupportsResponse.OPTIONAL
        )
    hass.states.async_set(entity.entity_id, "1")
    key = CONF_PV_ENTITY if integration == "forecast_solar" else CONF_PRICE_ENTITY
    async with _household(hass, **{key: entity.entity_id}) as (_e, household, _c):
        await hass.async_block_till_done()
        assert household.prices is None
        assert household.pv_forecast is None
        assert f"in {entity.entity_id} yet" in caplog.text


async def test_nord_pool_prices_in_another_currency_are_not_taken(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A Nord Pool entry in SEK: no prices (the planner plans in EUR), a log line."""
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    source = MockConfigEntry(domain="nordpool", title="Bron", data={"currency": "SEK"})
    source.add_to_hass(hass)
    entity = er.async_get(hass).async_get_or_create(
        "sensor", "nordpool", "NL-current_price", config_entry=source
    )

    async def handler(call: ServiceCall) -> ServiceResponse:
        return _nordpool(call)

    hass.services.async_register(
        "nordpool",
        "get_prices_for_date",
        handler,
        supports_response=SupportsResponse.ONLY,
    )
    hass.states.async_set(entity.entity_id, "1")
    async with _household(hass, **{CONF_PRICE_ENTITY: entity.entity_id}) as (
        _e,
        household,
        _c,
    ):
        await hass.async_block_till_done()
        assert household.prices is None
        assert "Nord Pool prices in SEK" in caplog.text
