"""``stroomwijs discover`` in-process, against simulated devices on loopback.

``test_modbus_scan.py`` runs the command as a child process once; these call
its handler (or ``main`` for what fails before any I/O) in this process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
import json
import sys

import pytest

from custom_components.stroomwijs.engine.cli import build_parser, main
from custom_components.stroomwijs.engine.simulate.lambda_heat_pump import (
    LambdaSimulator,
)
from custom_components.stroomwijs.engine.simulate.quasar import QuasarSimulator
from custom_components.stroomwijs.engine.simulate.sunspec import SunSpecSimulator


@pytest.fixture
async def devices() -> AsyncIterator[dict[str, int]]:
    """Run a SunSpec inverter, a Lambda heat pump and a Quasar on loopback."""
    sunspec = SunSpecSimulator()
    heat_pump = LambdaSimulator(clock=lambda: datetime(2026, 1, 14, 7, tzinfo=UTC))
    quasar = QuasarSimulator()
    ports = {
        "sunspec": await sunspec.async_start("127.0.0.1", 0),
        "lambda": await heat_pump.async_start("127.0.0.1", 0),
        "quasar": await quasar.async_start("127.0.0.1", 0),
    }
    yield ports
    await sunspec.async_stop()
    await heat_pump.async_stop()
    await quasar.async_stop()


async def _discover(*argv: str) -> int:
    args = build_parser("discover").parse_args(["discover", *argv])
    code: int = await args.handler(args)
    return code


async def test_one_host_on_three_ports_finds_all_three(
    devices: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each simulated device on its port is named by its map, as JSON."""
    ports = [arg for port in devices.values() for arg in ("--port", str(port))]
    assert await _discover("--host", "127.0.0.1", *ports, "--timeout", "0.5") == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"modbus"}, "no mDNS unasked"
    found = {(f["port"], f["map"]) for f in out["modbus"]["findings"]}
    assert found == {(port, name) for name, port in devices.items()}


async def test_without_zeroconf_mdns_says_so(
    devices: dict[str, int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--mdns without the zeroconf package: a message, the scan still printed."""
    monkeypatch.setitem(sys.modules, "zeroconf", None)
    monkeypatch.setitem(sys.modules, "zeroconf.asyncio", None)
    code = await _discover(
        "--host", "127.0.0.1", "--port", str(devices["quasar"]), "--mdns", "0.1"
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "--mdns needs the zeroconf package" in captured.err
    out = json.loads(captured.out)
    assert out["zeroconf"] == []
    assert [f["map"] for f in out["modbus"]["findings"]] == ["quasar"]


def test_nothing_is_scanned_unasked(capsys: pytest.CaptureFixture[str]) -> None:
    """No target and no --mdns: exit 2 and nothing on stdout."""
    assert main(["discover"]) == 2
    captured = capsys.readouterr()
    assert "nothing is scanned unasked" in captured.err
    assert captured.out == ""
    # --mdns 0 is not listening either.
    assert main(["discover", "--mdns", "0"]) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--subnet", "10.0.0.0/16"), "at most 256"),
        (("--host", "224.0.0.251"), "224.0.0.251"),
        (("--host", "127.0.0.1", *("--port", "502") * 5), "at most 4"),
        (("--host", "127.0.0.1", *("--unit", "1") * 5), "at most 4"),
    ],
)
def test_too_wide_a_scan_is_refused(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    """A range beyond a /24, multicast, too many ports or units: exit 2."""
    assert main(["discover", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("stroomwijs discover: ")
    assert message in captured.err
    assert captured.out == ""
