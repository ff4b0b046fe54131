"""Finish Home Assistant's onboarding for the demo over its HTTP API.

Creates the demo owner account. script/demo marks the other onboarding steps
(core configuration, analytics, integrations) done before Home Assistant first
starts: the core configuration step would otherwise add the met.no weather,
radio browser and shopping list integrations, which reach out to the
internet, and the demo must only talk to loopback. Uses only the standard
library so the host's Python can run it. Prints the login. Safe to run again:
an onboarded instance is left alone.

Then it logs in as the demo owner and, if there is no Stroomwijs household
yet, sets one up through Home Assistant's REST flow API, as a user would in
the UI: the P1 meter of the demo simulator (network, 127.0.0.1), a 3 x 25 A
grid connection, the demo integration's price and PV forecast entities as
the household's prices and PV forecast (the installer's path of the config
flow), the OCPP central system on 127.0.0.1, the simulator's charge point as
a charger, a 4 kW grid limit from 16:00 to 21:00, the simulator's Lambda
heat pump and boiler relay (Modbus TCP) as devices with their driver
profiles, and the washing machine's metered plug as a plug appliance (also
added to a household that was set up before it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

USERNAME = "demo"
PASSWORD = "stroomwijs-demo"  # noqa: S105 - a published demo login on loopback
DOMAIN = "stroomwijs"
HOUSEHOLD = "Demo household"
OCPP_PORT = 9000
CHARGER_ID = "demo-ev"
HEAT_PUMP_PORT = 5020
BOILER_PORT = 5021
PRICE_ENTITY = "sensor.demo_day_ahead_price"
PV_ENTITY = "sensor.demo_pv_forecast"
WASHER = "Washing machine"
WASHER_PLUG = "switch.demo_washer_plug"
WASHER_POWER = "sensor.demo_washer_power"
FLOW_TIMEOUT_S = 60
TARIFF: dict[str, object] = {
    "price_entity": PRICE_ENTITY,
    "markup_eur_per_kwh": 0.02,
    "energy_tax_eur_per_kwh": 0.1228,
    "vat_pct": 21,
    "export_basis": "fixed",
    "feed_in_eur_per_kwh": 0.13,
    "optimiser_mode": "auto",
}


def _request(
    url: str,
    data: dict[str, object] | list[object] | None = None,
    *,
    token: str | None = None,
    form: dict[str, str] | None = None,
    timeout: float = 30,
) -> object:
    """GET (or POST ``data`` as JSON, or ``form``) and return the JSON answer."""
    headers = {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        text = resp.read().decode()
    return json.loads(text) if text else None


def wait_until_up(base: str, timeout_s: float) -> None:
    """Wait until Home Assistant answers on its HTTP port."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _request(f"{base}/api/onboarding")
        except urllib.error.HTTPError:
            return  # it answers; onboarding may already be done
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
        else:
            return


def onboard(base: str) -> None:
    """Run the onboarding steps that are still open."""
    client_id = f"{base}/"
    try:
        steps = _request(f"{base}/api/onboarding")
    except urllib.error.HTTPError:
        return  # onboarding finished: the view is gone
    done = {step["step"] for step in steps if step["done"]}  # type: ignore[union-attr]
    if "user" in done:
        return
    result = _request(
        f"{base}/api/onboarding/users",
        {
            "client_id": client_id,
            "name": "Stroomwijs demo",
            "username": USERNAME,
            "password": PASSWORD,
            "language": "nl",
        },
    )
    if not isinstance(result, dict) or "auth_code" not in result:
        msg = f"unexpected onboarding answer: {result!r}"
        raise RuntimeError(msg)


def login(base: str) -> str:
    """Log in as the demo owner (login flow, then /auth/token); return a token."""
    client_id = f"{base}/"
    flow = _request(
        f"{base}/auth/login_flow",
        {
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": f"{base}/?auth_callback=1",
        },
    )
    assert isinstance(flow, dict)  # noqa: S101 - HA's documented answer
    result = _request(
        f"{base}/auth/login_flow/{flow['flow_id']}",
        {"client_id": client_id, "username": USERNAME, "password": PASSWORD},
    )
    if not isinstance(result, dict) or result.get("type") != "create_entry":
        msg = f"the demo login was refused: {result!r}"
        raise RuntimeError(msg)
    tokens = _request(
        f"{base}/auth/token",
        form={
            "grant_type": "authorization_code",
            "code": str(result["result"]),
            "client_id": client_id,
        },
    )
    assert isinstance(tokens, dict)  # noqa: S101 - HA's documented answer
    return str(tokens["access_token"])


class Flows:
    """Drive Home Assistant's config, options and subentry flows over REST."""

    def __init__(self, base: str, token: str) -> None:
        """Talk to ``base`` as the holder of ``token``."""
        self.base = base
        self.token = token

    def call(
        self, path: str, data: dict[str, object] | list[object] | None = None
    ) -> object:
        """GET or POST one API path with the token (errors say what HA said)."""
        try:
            return _request(
                f"{self.base}{path}", data, token=self.token, timeout=FLOW_TIMEOUT_S
            )
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")
            msg = f"{path}: HTTP {err.code} {detail}"
            raise RuntimeError(msg) from err

    def run(
        self, kind: str, handler: object, steps: list[dict[str, object]]
    ) -> dict[str, object]:
        """Start a flow of ``kind`` and answer its steps; return the last result.

        ``kind`` is the API path under /api/config/config_entries/, e.g.
        "flow", "options/flow" or "subentries/flow". Each step is a menu
        choice ({"next_step_id": ...}) or a form's fields.
        """
        path = f"/api/config/config_entries/{kind}"
        result = self.call(path, {"handler": handler})
        for answer in steps:
            if not isinstance(result, dict) or result.get("type") not in {
                "menu",
                "form",
            }:
                break
            if result.get("errors"):
                break
            result = self.call(f"{path}/{result['flow_id']}", answer)
        if not isinstance(result, dict) or result.get("type") != "create_entry":
            msg = f"{kind} {handler!r} did not finish: {result!r}"
            raise RuntimeError(msg)
        return result

    def entries(self, wait_s: float = 0) -> list[dict[str, object]]:
        """Return the Stroomwijs config entries (waiting for the API, if asked)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                found = self.call(f"/api/config/config_entries/entry?domain={DOMAIN}")
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)  # Home Assistant is still loading its config API
            else:
                return found if isinstance(found, list) else []


def set_up_household(
    flows: Flows,
    *,
    p1_port: int,
    ocpp_port: int,
    charger_id: str,
    heat_pump_port: int = HEAT_PUMP_PORT,
    boiler_port: int = BOILER_PORT,
) -> None:
    """Create the demo household, its charger and its grid limit; print them."""
    if existing := flows.entries(wait_s=120):
        entry = existing[0]
        print(
            f"[demo] household {entry['title']!r} is already set up "
            f"({entry['state']}, {entry['num_subentries']} subentries)",
            flush=True,
        )
        add_washer(flows, str(entry["entry_id"]))
        return
    created = flows.run(
        "flow",
        DOMAIN,
        [
            {"next_step_id": "network"},
            {"host": "127.0.0.1", "tcp_port": p1_port, "dsmr_version": "5"},
            {"name": HOUSEHOLD, "phases": "3", "fuse_a": 25},
            # The installer's path: limits (the grid limit is added below
            # with its label), tariff, PV forecast, charger (added below with
            # its details).
            {"capacity_tariff": False},
            TARIFF,
            {"pv_forecast_entity": PV_ENTITY},
            {},
        ],
    )
    entry = created["result"]
    assert isinstance(entry, dict)  # noqa: S101 - HA's documented answer
    entry_id = str(entry["entry_id"])
    print(
        f"[demo] created household {entry['title']!r} ({entry_id}): P1 meter at "
        f"socket://127.0.0.1:{p1_port}, 3 x 25 A",
        flush=True,
    )
    print(
        f"[demo] prices from {PRICE_ENTITY} (Nord Pool format), PV forecast from "
        f"{PV_ENTITY} (Forecast.Solar format); energy tax 0.1228, VAT 21 %, "
        "feed-in 0.13 EUR/kWh",
        flush=True,
    )
    flows.run(
        "options/flow",
        entry_id,
        [
            {"next_step_id": "ocpp_server"},
            {
                "ocpp_host": "127.0.0.1",
                "ocpp_port": ocpp_port,
                "ocpp_require_auth": False,
            },
        ],
    )
    print(
        f"[demo] OCPP central system: ws://127.0.0.1:{ocpp_port}/ocpp/<charger id>",
        flush=True,
    )
    flows.run(
        "subentries/flow",
        [entry_id, "charger"],
        [
            {"next_step_id": "ocpp"},
            {
                "charger_id": charger_id,
                "phases": "3",
                "max_current_a": 16,
                "min_current_a": "6",
                "minimum_instead_of_pause": False,
                "capacity_kwh": 60,
            },
        ],
    )
    print(f"[demo] added charger {charger_id!r} (OCPP, 3 x 16 A, 60 kWh)", flush=True)
    flows.run(
        "subentries/flow",
        [entry_id, "grid_limit"],
        [
            {"next_step_id": "window"},
            {
                "label": "evening",
                "start": "16:00:00",
                "end": "21:00:00",
                "import_w": 4000,
            },
        ],
    )
    print("[demo] added grid limit 'evening': 4 kW import, 16:00-21:00", flush=True)
    for name, profile, summary in device_profiles(heat_pump_port, boiler_port):
        flows.run(
            "subentries/flow",
            [entry_id, "device"],
            [{"next_step_id": "profile"}, {"name": name, "profile": profile}],
        )
        print(f"[demo] added device {name!r}: {summary}", flush=True)
    add_washer(flows, entry_id)


def add_washer(flows: Flows, entry_id: str) -> None:
    """Add the washing machine on its metered plug as a plug appliance.

    Through the *Add device* form of a plug appliance, as a user would. A
    household that has it already (the flow aborts: already configured) is
    left as it is, so an older demo configuration gets it too.
    """
    path = "/api/config/config_entries/subentries/flow"
    menu = flows.call(path, {"handler": [entry_id, "device"]})
    assert isinstance(menu, dict)  # noqa: S101 - HA's documented answer
    form = flows.call(f"{path}/{menu['flow_id']}", {"next_step_id": "plug_appliance"})
    assert isinstance(form, dict)  # noqa: S101 - HA's documented answer
    result = flows.call(
        f"{path}/{form['flow_id']}",
        {
            "name": WASHER,
            "appliance": "washing_machine",
            "plug_entity": WASHER_PLUG,
            "power_entity": WASHER_POWER,
            "deadline_hours": 8,
        },
    )
    if isinstance(result, dict) and (result.get("type"), result.get("reason")) == (
        "abort",
        "already_configured",
    ):
        return
    if not isinstance(result, dict) or result.get("type") != "create_entry":
        msg = f"the washer's device flow did not finish: {result!r}"
        raise RuntimeError(msg)
    print(
        f"[demo] added device {WASHER!r}: a plug appliance on {WASHER_PLUG} "
        f"(power {WASHER_POWER}); the demo's automation has it done within 8 h "
        "of loading (stroomwijs.run_before)",
        flush=True,
    )


def device_profiles(
    heat_pump_port: int, boiler_port: int
) -> list[tuple[str, str, str]]:
    """Return the heat pump's and the boiler's driver profiles (docs/devices.md)."""
    heat_pump = f"""\
driver: lambda
device_id: heat_pump
host: 127.0.0.1
port: {heat_pump_port}
spec:
  rated_power_w: 2200
  phases: 3
comfort:
  min_c: 19.5
  max_c: 22.0
"""
    boiler = f"""\
driver: boiler
device_id: boiler
control: modbus
modbus:
  host: 127.0.0.1
  port: {boiler_port}
  coil: 0
  temperature_register: 100
volume_l: 120
power_w: 2000
phase: 2
"""
    return [
        (
            "Heat pump",
            heat_pump,
            f"Lambda EU-L over Modbus TCP on 127.0.0.1:{heat_pump_port}",
        ),
        (
            "Boiler",
            boiler,
            f"2 kW / 120 l on a Modbus relay module on 127.0.0.1:{boiler_port}",
        ),
    ]


def set_sensor_interval(flows: Flows, seconds: int) -> None:
    """Set the household's sensor update interval (its options flow)."""
    (entry, *_) = flows.entries()
    flows.run(
        "options/flow",
        entry["entry_id"],
        [
            {"next_step_id": "household"},
            {"phases": "3", "fuse_a": 25, "update_interval": seconds},
        ],
    )
    print(f"[demo] the household's sensors update every {seconds} s", flush=True)


def wait_until_loaded(flows: Flows, timeout_s: float) -> str:
    """Wait until the household's entry has settled; return its state."""
    deadline = time.monotonic() + timeout_s
    state = "missing"
    while time.monotonic() < deadline:
        entries = flows.entries()
        state = str(entries[0]["state"]) if entries else "missing"
        if state in {"loaded", "setup_error", "migration_error"}:
            return state
        time.sleep(1)
    return state


def main(argv: list[str] | None = None) -> int:
    """Wait for HA, onboard it, set up the household and print the login."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--p1-port",
        type=int,
        default=int(os.environ.get("STROOMWIJS_DEMO_P1_PORT", "2000")),
    )
    parser.add_argument("--ocpp-port", type=int, default=OCPP_PORT)
    parser.add_argument("--charger-id", default=CHARGER_ID)
    parser.add_argument("--heat-pump-port", type=int, default=HEAT_PUMP_PORT)
    parser.add_argument("--boiler-port", type=int, default=BOILER_PORT)
    parser.add_argument(
        "--no-household", action="store_true", help="only onboard the owner"
    )
    parser.add_argument(
        "--sensor-interval",
        type=int,
        default=None,
        help="set the household's sensor update interval (s; script/demo "
        "--speed sets 1, so the meter's sensors keep up with simulated time)",
    )
    args = parser.parse_args(argv)
    wait_until_up(args.url, args.timeout)
    onboard(args.url)
    if not args.no_household:
        try:
            flows = Flows(args.url, login(args.url))
            set_up_household(
                flows,
                p1_port=args.p1_port,
                ocpp_port=args.ocpp_port,
                charger_id=args.charger_id,
                heat_pump_port=args.heat_pump_port,
                boiler_port=args.boiler_port,
            )
            if args.sensor_interval is not None:
                set_sensor_interval(flows, args.sensor_interval)
            state = wait_until_loaded(flows, 60)
        except (OSError, RuntimeError) as err:
            print(
                f"[demo] could not set up the demo household: {err}\n"
                "[demo] Home Assistant runs on; add Stroomwijs by hand.",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(f"[demo] household state: {state}", flush=True)
    print(
        f"\nStroomwijs demo is up: {args.url}  (login: {USERNAME} / {PASSWORD})\n"
        "Settings > Devices & services > Stroomwijs shows the demo household\n",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
