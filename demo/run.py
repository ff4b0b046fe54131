"""Run the Stroomwijs demo: the simulated household, Home Assistant, onboarding.

``script/demo`` runs this in the project's environment (``script/run``) after
``script/setup`` and the demo's integration requirements; the browser test
(``tests/demo/test_browser.py``) runs it with free ports and a temporary
configuration folder. It:

1. prepares the configuration folder: Stroomwijs, the demo world
   integration (``demo/custom_components/stroomwijs_demo``) and the
   blueprints linked in, ``configuration.yaml`` with the world API's port,
   the dashboard (``docs/dashboard.yaml``), the demo user's automation
   (``demo_automations.yaml``), HTTP on 127.0.0.1 only
   (``http_store.py``) and the onboarding steps that would reach the
   internet marked done;
2. starts the demo household simulator (``engine/simulate/demo.py``): P1
   telegrams, the OCPP 2.1 charge point with its car, the Lambda heat pump
   and the boiler relay over Modbus TCP, the washer's plug and the world API;
3. starts Home Assistant (``hass --config``);
4. onboards it and sets up the household (``onboard.py``) and prints the
   login;
5. waits until Home Assistant or the simulator ends, or SIGINT/SIGTERM, and
   stops both (Home Assistant first).

Every socket is on 127.0.0.1.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from types import FrameType
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import http_store  # noqa: E402
import onboard  # noqa: E402

from custom_components.stroomwijs.engine.simulate.demo_clock import (  # noqa: E402
    ENV_VAR as CLOCK_ENV_VAR,
    DemoClock,
    DemoClockError,
    parse_start,
)

WORLD_URL_IN_CONFIG = "http://127.0.0.1:8099"
SIM_START_S = 2.0
STOP_WAIT_S = 30.0
ACCELERATED_SENSOR_INTERVAL_S = 1
DEFAULT_SPEED_START = "06:00"
"""With ``--speed`` and no ``--start``: the simulated day starts at 06:00."""


@dataclass(frozen=True, slots=True)
class Ports:
    """The demo's ports, all on 127.0.0.1."""

    http: int = 8123
    p1: int = 2000
    ocpp: int = 9000
    heat_pump: int = 5020
    boiler: int = 5021
    world: int = 8099


def _link(target: Path, link: Path) -> None:
    """Point ``link`` at ``target`` with a relative path (works in the root too)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def prepare_config(config: Path, ports: Ports) -> None:
    """Write or refresh everything in ``config`` that the demo needs."""
    config.mkdir(parents=True, exist_ok=True)
    _link(
        ROOT / "custom_components" / "stroomwijs",
        config / "custom_components" / "stroomwijs",
    )
    _link(
        HERE / "custom_components" / "stroomwijs_demo",
        config / "custom_components" / "stroomwijs_demo",
    )
    _link(
        ROOT / "blueprints" / "automation" / "stroomwijs",
        config / "blueprints" / "automation" / "stroomwijs",
    )
    text = (HERE / "configuration.yaml").read_text(encoding="utf-8")
    (config / "configuration.yaml").write_text(
        text.replace(WORLD_URL_IN_CONFIG, f"http://127.0.0.1:{ports.world}"),
        encoding="utf-8",
    )
    (config / "dashboards").mkdir(exist_ok=True)
    shutil.copyfile(
        ROOT / "docs" / "dashboard.yaml", config / "dashboards" / "stroomwijs.yaml"
    )
    storage = config / ".storage"
    storage.mkdir(exist_ok=True)
    (storage / "http").write_text(
        json.dumps(http_store.http_store(ports.http), indent=2) + "\n",
        encoding="utf-8",
    )
    # Only the owner account is left to onboard (onboard.py creates it); the
    # core-config step would add integrations that reach the internet.
    if not (storage / "onboarding").exists():
        shutil.copyfile(HERE / "onboarding.json", storage / "onboarding")
    if not (config / "automations.yaml").exists():
        shutil.copyfile(HERE / "automations.yaml", config / "automations.yaml")
    shutil.copyfile(HERE / "demo_automations.yaml", config / "demo_automations.yaml")


def simulator_command(
    ports: Ports, charger_id: str, clock: DemoClock | None = None
) -> list[str]:
    """Return the command that runs the demo household simulator."""
    return [
        sys.executable,
        "-m",
        "custom_components.stroomwijs.engine.simulate.demo",
        "--p1-port",
        str(ports.p1),
        "--csms-url",
        f"ws://127.0.0.1:{ports.ocpp}",
        "--charger-id",
        charger_id,
        "--heat-pump-port",
        str(ports.heat_pump),
        "--boiler-port",
        str(ports.boiler),
        "--world-port",
        str(ports.world),
        *(["--clock", clock.to_json()] if clock is not None else []),
    ]


def demo_clock(speed: float, start: str | None) -> DemoClock | None:
    """Return the demo's clock: None for real time (speed 1, no start)."""
    if speed == 1.0 and start is None:
        return None
    return DemoClock.starting(speed, parse_start(start) if start else None)


def hass_environment(clock: DemoClock | None) -> dict[str, str]:
    """Home Assistant's environment: the demo clock for the demo integration."""
    env = {k: v for k, v in os.environ.items() if k != CLOCK_ENV_VAR}
    if clock is not None:
        env[CLOCK_ENV_VAR] = clock.to_json()
    return env


def onboard_zone() -> ZoneInfo:
    """Return the demo's time zone (``configuration.yaml``)."""
    return ZoneInfo("Europe/Amsterdam")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Ports()
    parser.add_argument("--config", type=Path, default=ROOT / ".cache/demo/config")
    parser.add_argument("--port", type=int, default=defaults.http)
    parser.add_argument("--p1-port", type=int, default=defaults.p1)
    parser.add_argument("--ocpp-port", type=int, default=defaults.ocpp)
    parser.add_argument("--heat-pump-port", type=int, default=defaults.heat_pump)
    parser.add_argument("--boiler-port", type=int, default=defaults.boiler)
    parser.add_argument("--world-port", type=int, default=defaults.world)
    parser.add_argument("--charger-id", default=onboard.CHARGER_ID)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="play the simulated household N times faster than real time "
        "(60: a day in 24 minutes); Stroomwijs runs on the same simulated "
        "clock, Home Assistant's own clock stays real. Default 1: real time",
    )
    parser.add_argument(
        "--start",
        default=None,
        help="the local time of today the simulated day starts at (HH:MM); "
        "default 06:00 with --speed, the real time without",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Home Assistant or the simulator stops, or a signal."""
    args = _parser().parse_args(argv)
    ports = Ports(
        http=args.port,
        p1=args.p1_port,
        ocpp=args.ocpp_port,
        heat_pump=args.heat_pump_port,
        boiler=args.boiler_port,
        world=args.world_port,
    )
    try:
        clock = demo_clock(
            args.speed,
            args.start if args.start or args.speed == 1.0 else DEFAULT_SPEED_START,
        )
    except DemoClockError as err:
        print(f"[demo] {err}", file=sys.stderr)
        return 2
    prepare_config(args.config, ports)

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        # Also while onboarding waits for Home Assistant: stop at once.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(
        f"[demo] starting the demo household: P1 meter on 127.0.0.1:{ports.p1}, "
        f"charge point {args.charger_id} -> ws://127.0.0.1:{ports.ocpp}, heat pump "
        f"(Modbus) on 127.0.0.1:{ports.heat_pump}, boiler relay (Modbus) on "
        f"127.0.0.1:{ports.boiler}, world API on 127.0.0.1:{ports.world}",
        file=sys.stderr,
        flush=True,
    )
    if clock is not None:
        print(
            f"[demo] simulated time {clock.speed:g}x real time from "
            f"{clock.start.astimezone(onboard_zone()).strftime('%Y-%m-%d %H:%M')} "
            "(Stroomwijs's times are simulated; Home Assistant's clock, "
            "history and logbook stay real)",
            file=sys.stderr,
            flush=True,
        )
    sim = subprocess.Popen(  # noqa: S603
        simulator_command(ports, args.charger_id, clock), cwd=ROOT
    )
    hass: subprocess.Popen[bytes] | None = None
    try:
        time.sleep(SIM_START_S)
        if sim.poll() is not None:
            print(
                "[demo] the demo household simulator did not start (see above)",
                file=sys.stderr,
            )
            return 1
        print(
            f"[demo] starting Home Assistant on http://127.0.0.1:{ports.http} "
            "(Ctrl-C stops it)",
            file=sys.stderr,
            flush=True,
        )
        hass = subprocess.Popen(  # noqa: S603
            # The hass script, not ``python -m``: that would put the checkout
            # first on sys.path, and its custom_components package would hide
            # the config folder's (where the demo world integration is).
            [str(Path(sys.executable).with_name("hass")), "--config", str(args.config)],
            cwd=ROOT,
            env=hass_environment(clock),
        )
        code = onboard.main(
            [
                "--url",
                f"http://127.0.0.1:{ports.http}",
                "--timeout",
                str(args.timeout),
                "--p1-port",
                str(ports.p1),
                "--ocpp-port",
                str(ports.ocpp),
                "--charger-id",
                args.charger_id,
                "--heat-pump-port",
                str(ports.heat_pump),
                "--boiler-port",
                str(ports.boiler),
                # Under --speed the meter's sensors update every second, not
                # every 5 (5 simulated minutes at 60x).
                *(
                    ["--sensor-interval", str(ACCELERATED_SENSOR_INTERVAL_S)]
                    if clock is not None and clock.accelerated
                    else []
                ),
            ]
        )
        if code:
            print(
                "[demo] Home Assistant did not come up; see "
                f"{args.config}/home-assistant.log",
                file=sys.stderr,
            )
            return code
        while hass.poll() is None and sim.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except OSError as err:
        print(f"[demo] Home Assistant did not come up: {err}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(hass)  # first, so it does not log the meter going away
        _stop(sim)
    return 0


if __name__ == "__main__":
    sys.exit(main())
