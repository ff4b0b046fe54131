"""The demo in a browser: log in, open the dashboard, see it live, keep a screenshot.

Starts the whole demo as ``script/demo`` does (``demo/run.py``: the simulated
household, a real Home Assistant, onboarding and the household's set-up) on
free loopback ports with a fresh configuration folder, then drives Debian's
headless Chromium through its chromedriver (Selenium). It logs in as the
demo user through Home Assistant's login page, opens the Stroomwijs
dashboard, checks that the grid power shown changes while it watches, that
the plan table and the history charts have data and that the washing machine
(loaded by the demo's user, armed by its automation with
``stroomwijs.run_before``) is armed or running in the plan, and saves a
screenshot to ``.cache/browser/dashboard.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from selenium import webdriver

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "demo"))
import onboard

from .browser_support import (
    browser_available,
    deep_query,
    deep_text,
    log_in,
    start_browser,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / ".cache" / "browser" / "dashboard.png"
USERNAME = "demo"
PASSWORD = "stroomwijs-demo"  # noqa: S105 - the published demo login
UP_TIMEOUT_S = 600
PAGE_TIMEOUT_S = 180
GRID_ROW = re.compile(r"Grid power \(import positive\) \| (-?[\d.,]+) (k?W)")
WASHER_CYCLE = re.compile(r"Cycle \| (Armed \(waiting for the plan\)|Running)")
PLAN_STATUS = "sensor.demo_household_plan_status"
WASHER = "Washing machine"


@pytest.fixture(autouse=True)
def loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets; pytest-socket still limits connections to 127.0.0.1."""


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """Run the demo on free ports; yield Home Assistant's URL."""
    http, p1, ocpp, heat_pump, boiler, world = _free_ports(6)
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own launcher
            [
                sys.executable,
                "demo/run.py",
                "--config",
                str(tmp_path / "config"),
                "--port",
                str(http),
                "--p1-port",
                str(p1),
                "--ocpp-port",
                str(ocpp),
                "--heat-pump-port",
                str(heat_pump),
                "--boiler-port",
                str(boiler),
                "--world-port",
                str(world),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        deadline = started + UP_TIMEOUT_S
        while "Stroomwijs demo is up" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the demo did not come up:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        text = log.read_text(errors="replace")
        assert "household state: loaded" in text, text[-4000:]
        print(f"demo up in {time.monotonic() - started:.0f} s")  # noqa: T201
        yield f"http://127.0.0.1:{http}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _washer_planned_kwh(base: str) -> tuple[str, float] | None:
    """Return the washer's cycle state and its energy in the plan (REST API).

    None until the demo's automation has armed it (or the plan started it).
    """
    flows = onboard.Flows(base, onboard.login(base))
    cycle = flows.call("/api/states/sensor.washing_machine_cycle")
    status = flows.call(f"/api/states/{PLAN_STATUS}")
    assert isinstance(cycle, dict)
    assert isinstance(status, dict)
    if cycle["state"] not in {"armed", "running"}:
        return None
    names = status["attributes"].get("plan_devices") or {}
    (washer,) = (sid for sid, name in names.items() if name == WASHER)
    plan = status["attributes"].get("plan") or []
    kwh = sum(float(row.get(washer) or 0.0) * 0.25 for row in plan)
    return (cycle["state"], kwh) if kwh > 0 else None


def _grid_power(driver: webdriver.Chrome) -> str | None:
    match = GRID_ROW.search(deep_text(driver))
    return None if match is None else "".join(match.groups())


@pytest.mark.timeout(UP_TIMEOUT_S + 4 * PAGE_TIMEOUT_S)
def test_the_dashboard_shows_the_live_household_and_its_plan(demo: str) -> None:
    """Log in, open the dashboard, values move, the plan has data; screenshot."""
    if (missing := browser_available()) is not None:
        pytest.fail(missing)
    driver = start_browser()
    try:
        log_in(driver, demo, USERNAME, PASSWORD)
        driver.get(f"{demo}/stroomwijs-demo/household")
        wait_for(
            "the dashboard",
            lambda: "Grid power against the limit" in deep_text(driver),
            PAGE_TIMEOUT_S,
        )
        # Live values move: the grid power (a real household's load with
        # noise, the car, the heat pump...) changes while we watch.
        first = wait_for("a grid power value", lambda: _grid_power(driver), 120)
        wait_for(
            f"the grid power to change from {first}",
            lambda: (value := _grid_power(driver)) is not None and value != first,
            120,
        )

        # The plan has data: the plan table's 24 hourly rows, each with a price.
        def _plan_rows() -> int | None:
            rows = [
                row.text
                for table in deep_query(driver, "table")
                for row in table.find_elements("css selector", "tbody tr")
            ]
            priced = [r for r in rows if re.match(r"\d\d:\d\d -?\d+\.\d{3} ", r)]
            if len(priced) < 20:
                msg = f"{len(priced)} priced rows of {rows[:3]}"
                raise AssertionError(msg)
            return len(priced)

        wait_for("the plan table", _plan_rows, PAGE_TIMEOUT_S)
        assert "No plan yet" not in deep_text(driver)

        # The history charts have drawn something.
        def _charts() -> int | None:
            drawn = [
                el
                for chart in deep_query(driver, "ha-chart-base")
                for el in deep_query(driver, "canvas, svg", within=chart)
                if el.size["width"] > 50 and el.size["height"] > 50
            ]
            return len(drawn) if len(drawn) >= 2 else None

        wait_for("the history charts", _charts, PAGE_TIMEOUT_S)
        text = deep_text(driver)
        # Today's cost and the saving are there as amounts; the devices too.
        assert re.search(r"Planned cost, rest of today \| -?€-?[\d.,]+", text), text
        assert re.search(r"Expected saving \(plan horizon\) \| -?€-?[\d.,]+", text)
        for label in (
            "Heat pump (Lambda, Modbus TCP)",
            "Boiler (Modbus relay)",
            "Washing machine (smart plug)",
        ):
            assert label in text
        # The washer: loaded with its plug off at the demo's start, armed by
        # the demo's automation (stroomwijs.run_before, done within 8 h), in
        # the plan: a whole cycle (the default profile, 0.87 kWh) while armed.
        state, kwh = wait_for(
            "the washer to be armed in the plan", lambda: _washer_planned_kwh(demo), 90
        )
        print(f"washer {state}, {kwh:.2f} kWh planned")  # noqa: T201
        if state == "armed":
            assert kwh == pytest.approx(0.87, abs=0.05)
        wait_for(
            "the washer's cycle on the dashboard",
            lambda: WASHER_CYCLE.search(deep_text(driver)),
            60,
        )
        time.sleep(2)  # let the charts finish their animation
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))
        assert SCREENSHOT.stat().st_size > 50_000
    finally:
        driver.quit()
