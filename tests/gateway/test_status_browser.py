"""The ingress status page in a real headless browser, on a phone's screen.

A ``stroomwijs gateway`` process serves the page; a closed loop on loopback
feeds it: a P1 telegram stream of a house whose load moves plus what the car
and the boiler draw, an OCPP 2.1 charge point with a car, and an electric
boiler behind a Modbus TCP relay module with a tank model. Debian's headless
Chromium (through its chromedriver, Selenium; nothing downloaded) opens the
page as a phone would (390 x 844 CSS pixels, a mobile viewport, twice the
pixel density), and the test checks what a person would see: the limit and
its source, grid power moving against the limit, each device with its state,
the plan chart drawn, and the guard's interventions. It saves a screenshot
of the whole page to ``.cache/browser/ingress.png``.

Selenium blocks, so the browser runs in a worker thread while the event
loop keeps the P1 stream, the charge point and the relay module going.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
import time
from typing import Any

import pytest
from selenium import webdriver

from custom_components.stroomwijs.engine.simulate.boiler import (
    BoilerModbusRelaySim,
    TankSim,
)
from custom_components.stroomwijs.engine.simulate.ocpp_chargepoint import (
    OcppSimulator,
)
from custom_components.stroomwijs.engine.simulate.p1 import P1TelegramServer
from tests.demo.browser_support import (
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    LoopbackService,
    browser_available,
    wait_for,
)

from .conftest import (
    GatewayProcess,
    api_client,
    free_port,
    house_telegram,
    household_document,
)
from .test_gateway_process import charge_point

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / ".cache" / "browser" / "ingress.png"
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
LIMIT_W = 5000.0
PAGE_TIMEOUT_S = 90.0


@dataclass(slots=True)
class _Loop:
    """The house (a load that moves), the car and the boiler, as telegrams."""

    tank: TankSim
    cars: list[OcppSimulator] = field(default_factory=list)

    def frame(self, index: int) -> bytes:
        house = 1200.0 + 150.0 * (index % 5)
        car = max(self.cars[0].station.power_w, 0.0) if self.cars else 0.0
        self.tank.advance()
        return house_telegram(house + car + self.tank.power_w)


def _phone_browser() -> webdriver.Chrome:
    """Start headless Chromium with a phone's screen."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        if not flag.startswith("--window-size"):
            options.add_argument(flag)
    options.add_argument("--window-size=390,844")
    service = LoopbackService(
        executable_path=str(CHROMEDRIVER), service_args=["--allowed-ips=127.0.0.1"]
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    return driver


def _text(driver: webdriver.Chrome, element_id: str) -> str:
    text: str = driver.execute_script(
        "const el = document.getElementById(arguments[0]);"
        "return el ? el.textContent : '';",
        element_id,
    )
    return text.strip()


def _rows(driver: webdriver.Chrome, table_id: str) -> list[list[str]]:
    rows: list[list[str]] = driver.execute_script(
        "return [...document.querySelectorAll('#' + arguments[0] + ' tr')]"
        ".filter((tr) => !tr.querySelector('th'))"
        ".map((tr) => [...tr.cells].map((td) => {"
        "  const sub = td.querySelector('.sub');"
        "  const main = td.firstChild ? td.firstChild.textContent.trim() : '';"
        "  return sub ? main + ' | ' + sub.textContent.trim() : main;"
        "}));",
        table_id,
    )
    return rows


def _browse(url: str) -> dict[str, Any]:
    """Open the page as a phone; return what it showed (runs in a thread)."""
    driver = _phone_browser()
    seen: dict[str, Any] = {}
    try:
        driver.get(url)
        seen["limit"] = wait_for(
            "the limit",
            lambda: t if (t := _text(driver, "limit")).endswith("kW") else None,
            PAGE_TIMEOUT_S,
        )
        seen["source"] = _text(driver, "source")

        def _devices() -> list[list[str]] | None:
            rows = _rows(driver, "devices")
            states = dict(row[0].split(" | ", 1) for row in rows if " | " in row[0])
            ready = states.get("Car") not in {None, "?", "offline"} and states.get(
                "Boiler"
            ) in {"on", "off"}
            return rows if ready else None

        seen["devices"] = wait_for("the car and the boiler", _devices, PAGE_TIMEOUT_S)
        # Live values move: the grid power changes while we watch.
        grid: list[str] = []

        def _moved() -> bool:
            value = _text(driver, "grid")
            if value.endswith("kW") and value not in grid:
                grid.append(value)
            return len(grid) >= 3

        wait_for("the grid power to change", _moved, PAGE_TIMEOUT_S, every_s=0.5)
        seen["grid"] = grid
        seen["bar_width"] = driver.execute_script(
            "return document.querySelector('#bar > div').getBoundingClientRect().width;"
        )
        seen["headroom"] = _text(driver, "headroom")

        def _chart() -> int | None:
            bars: int = driver.execute_script(
                "return [...document.querySelectorAll('#chart rect')]"
                ".filter((r) => r.getBBox().width > 0).length;"
            )
            return bars if bars >= 32 else None

        seen["chart_bars"] = wait_for("the plan chart", _chart, PAGE_TIMEOUT_S)
        seen["chart_text"] = driver.execute_script(
            "return [...document.querySelectorAll('#chart text')]"
            ".map((t) => t.textContent);"
        )
        seen["plan"] = _text(driver, "plan")
        seen["interventions"] = wait_for(
            "an intervention",
            lambda: (
                rows
                if (rows := _rows(driver, "interventions"))
                and rows[0][0] != "None today."
                else None
            ),
            PAGE_TIMEOUT_S,
        )
        seen["state"] = _text(driver, "state")
        # It fits the phone: nothing wider than the screen, nothing sticking
        # out of its card.
        seen["scroll_width"] = driver.execute_script(
            "return document.documentElement.scrollWidth;"
        )
        seen["inner_width"] = driver.execute_script("return window.innerWidth;")
        seen["sticking_out"] = driver.execute_script(
            "return [...document.querySelectorAll('section *')].filter((el) => {"
            "  const card = el.closest('section').getBoundingClientRect();"
            "  const box = el.getBoundingClientRect();"
            "  return box.width > 0 && (box.right > card.right + 0.5"
            "    || box.left < card.left - 0.5);"
            "}).map((el) => el.tagName + ':' + el.textContent.slice(0, 30));"
        )
        # The whole page in one screenshot, at the phone's width.
        height = int(
            driver.execute_script("return document.documentElement.scrollHeight;")
        )
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {**PHONE, "height": height}
        )
        time.sleep(2.5)  # one more poll, drawn at the new size
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))
    finally:
        driver.quit()
    return seen


@pytest.mark.timeout(300)
async def test_the_status_page_in_a_phone_browser(  # noqa: PLR0915
    gateway_factory: Callable[..., GatewayProcess],
) -> None:
    """Limit, grid power moving, devices, plan chart, interventions; screenshot."""
    if (missing := browser_available()) is not None:
        pytest.fail(missing)
    tank = TankSim(clock=lambda: datetime.now(UTC), temperature_c=50.0)
    tank.supply_on = True
    relay = BoilerModbusRelaySim(tank)
    relay_port = await relay.async_start("127.0.0.1", 0)
    loop = _Loop(tank=tank)
    p1 = P1TelegramServer(loop.frame, interval=1.0)
    await p1.start()
    ocpp_port = free_port()
    document = household_document(p1_port=p1.port, ocpp_port=ocpp_port)
    document["devices"].append(
        {
            "id": "boiler",
            "kind": "driver",
            "name": "Boiler",
            "driver": {
                "driver": "boiler",
                "control": "modbus",
                "modbus": {
                    "host": "127.0.0.1",
                    "port": relay_port,
                    "temperature_register": 100,
                    "reconnect_s": 1.0,
                },
                "volume_l": 120,
                "power_w": 2000,
            },
        }
    )
    gateway = gateway_factory(document)
    try:
        await gateway.start("--ingress-port", "0", "--ingress-allow", "127.0.0.1")
        async with (
            charge_point(f"ws://127.0.0.1:{ocpp_port}/ocpp/") as sim,
            api_client(gateway.url, gateway.token) as client,
        ):
            loop.cars.append(sim)
            await client.request("subscribe")
            await client.snapshot_where(
                lambda s: any(c["plugged_in"] for c in s["household"]["chargers"]),
                limit_s=60,
            )
            start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            prices = [0.10 + 0.15 * ((i // 4) % 24 in range(17, 21)) for i in range(96)]
            reply = await client.request(
                "set_prices",
                prices={
                    "start": start.isoformat(),
                    "step_minutes": 15,
                    "values": prices,
                },
            )
            assert reply["type"] == "result", reply
            # A limit the car and the boiler together exceed: the guard acts.
            reply = await client.request(
                "set_manual_limit",
                import_w=LIMIT_W,
                duration_min=60,
                label="congestion",
            )
            assert reply["type"] == "result", reply
            await client.request("plan_now", limit_s=60)
            url = f"http://127.0.0.1:{gateway.status_port}/"
            seen = await asyncio.to_thread(_browse, url)
        assert await gateway.terminate() == 0
    finally:
        await p1.stop()
        await relay.async_stop()

    print(f"the page showed: {seen}")  # noqa: T201 - for the report
    assert seen["limit"] == "5.00 kW"
    assert seen["source"].startswith("from manual:congestion"), seen["source"]
    assert len(set(seen["grid"])) >= 3, seen["grid"]
    assert seen["bar_width"] > 0
    assert seen["headroom"].startswith("headroom "), seen["headroom"]
    devices = {row[0].split(" | ")[0]: row for row in seen["devices"]}
    assert set(devices) == {"Car", "Boiler"}, seen["devices"]
    assert devices["Boiler"][0] in {"Boiler | on", "Boiler | off"}
    assert devices["Boiler"][2].endswith("\u00b0C"), devices["Boiler"]
    assert devices["Car"][2].endswith("%"), devices["Car"]
    assert all(row[1].endswith(" kW") for row in seen["devices"])
    assert seen["chart_bars"] >= 32
    assert "limit now" in seen["chart_text"]
    assert seen["plan"].startswith("Plan: "), seen["plan"]
    assert all(row[0] and row[1] for row in seen["interventions"])
    assert seen["state"] == "Gateway running", seen["state"]
    assert seen["scroll_width"] <= seen["inner_width"], seen
    assert not seen["sticking_out"], seen["sticking_out"]
    assert SCREENSHOT.stat().st_size > 20_000
