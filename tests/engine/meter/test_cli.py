"""The installer's command line: ``stroomwijs p1 read`` and ``p1 decode``."""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest

from custom_components.stroomwijs.engine.cli import build_parser, main
from custom_components.stroomwijs.engine.simulate.p1 import (
    P1TelegramServer,
    corrupt_crc,
    encrypt_frame,
)

from .telegrams import SMARTY_KEY, crafted_5l, real

CLI = [sys.executable, "-m", "custom_components.stroomwijs.engine.cli"]


def _decode(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: bytes,
    *args: str,
) -> tuple[int, str, str]:
    """Run ``stroomwijs p1 decode ARGS`` in this process with ``stdin``."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(["p1", "decode", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def _run(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_read_prints_json_lines_from_a_loopback_stream() -> None:
    """``p1 read --url socket://... --json --count 3`` prints three readings."""
    async with P1TelegramServer(
        [real("telegram_fluvius_v171_alt.txt")], interval=0.05
    ) as server:
        code, out, err = await _run(
            "p1", "read", "--url", server.url, "--dsmr-version", "5B",
            "--json", "--count", "3", "--fuse", "3x25",
        )  # fmt: skip
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    last = lines[-1]
    assert last["power"] == {"net_w": 338.0, "import_w": 338.0, "export_w": 0.0}
    assert [p["current_a"] for p in last["phases"]] == [0.27, 0.88, 0.52]
    assert [p["voltage_v"] for p in last["phases"]] == [232.9, 228.1, 228.1]
    assert last["phases"][0]["headroom_a"] == pytest.approx(24.73)
    assert last["energy"]["import_t1_kwh"] == 301.548
    assert last["quarter_hour"]["average_w"] == 52.0
    assert last["quarter_hour"]["source"] == "meter"
    assert last["month_peak"] == {
        "power_w": 3064.0,
        "at": "2023-11-02T10:45:00+00:00",
        "average_12_months_w": pytest.approx(2816.4),
    }


async def test_read_gives_up_with_a_clear_message_when_nothing_valid_arrives() -> None:
    """Only bad CRCs on the line and --timeout: exit 1 and say why."""
    async with P1TelegramServer(
        [corrupt_crc(real("telegram_v5.txt"))], interval=0.05
    ) as server:
        code, out, err = await _run(
            "p1", "read", "--url", server.url, "--count", "1", "--timeout", "0.5"
        )
    assert code == 1
    assert out == ""
    assert "no valid telegram" in err
    assert "CRC errors" in err


async def test_decode_command_runs_as_an_installed_script() -> None:
    """The real console entry point decodes stdin (one subprocess check)."""
    code, out, err = await _run("p1", "decode", "--json", stdin=real("telegram_v5.txt"))
    assert code == 0, err
    assert json.loads(out)["power"]["net_w"] == 244.0


def test_decode_reads_stdin_and_detects_the_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A telegram on stdin comes out as the same JSON fields."""
    code, out, err = _decode(monkeypatch, capsys, real("telegram_v5.txt"), "--json")
    assert code == 0, err
    reading = json.loads(out)
    assert reading["dsmr_version"] == "5"
    assert reading["power"]["net_w"] == 244.0
    assert reading["energy"]["export_t1_kwh"] == 2.444


def test_decode_accepts_lf_only_text_as_pasted_from_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Line ends lost in copy-paste are restored, so the CRC still matches."""
    pasted = real("telegram_v4_2.txt").replace(b"\r\n", b"\n")
    code, out, err = _decode(monkeypatch, capsys, pasted, "--json")
    assert code == 0, err
    assert json.loads(out)["power"]["import_w"] == 2027.0


def test_decode_of_an_encrypted_frame_needs_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An encrypted 5L frame decodes with --key and is refused without it."""
    frame = encrypt_frame(crafted_5l(), SMARTY_KEY)
    code, out, err = _decode(
        monkeypatch, capsys, frame, "--dsmr-version", "5L", "--key", SMARTY_KEY,
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["energy"]["import_total_kwh"] == 123.456
    code, _, err = _decode(
        monkeypatch, capsys, frame, "--dsmr-version", "SAGEMCOM_T210_D_R"
    )
    assert code == 2
    assert "encryption key" in err


def test_decode_says_so_when_stdin_holds_no_telegram(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Junk on stdin is an error with a hint, not a traceback."""
    code, _, err = _decode(monkeypatch, capsys, b"hello\n")
    assert code == 2
    assert "no complete telegram" in err


def test_decode_reports_a_bad_crc_and_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A telegram whose CRC does not match is named on stderr; exit 1."""
    code, out, err = _decode(monkeypatch, capsys, corrupt_crc(real("telegram_v5.txt")))
    assert code == 1
    assert out == ""
    assert "CRC" in err


def test_human_output_names_power_and_phases(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json a line shows net power and the phase currents."""
    code, out, _ = _decode(monkeypatch, capsys, real("telegram_v5.txt"))
    assert code == 0
    assert "net 244 W" in out
    assert "L3 0.9 A" in out


@pytest.mark.parametrize(
    ("version", "telegram"),
    [
        (
            "2.2",
            (
                b"/ISk5\\2ME382-1003\r\n\r\n1-0:1.8.1(00185.000*kWh)\r\n"
                b"1-0:1.7.0(00x0.98*kW)\r\n!\r\n"
            ),
        ),
        (
            "5",
            b"/ISK5\\2M550T-1012\r\n\r\n1-0:1.7.0(sNaN*kW)\r\n!",
        ),
    ],
)
def test_decode_of_an_unreadable_value_reports_it_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    version: str,
    telegram: bytes,
) -> None:
    """A flipped digit (DSMR 2.2) or sNaN: a message and exit 1, no traceback."""
    if version == "5":
        from custom_components.stroomwijs.engine.simulate.p1 import (  # noqa: PLC0415
            crc16_arc,
        )

        telegram += f"{crc16_arc(telegram):04X}\r\n".encode()
    code, out, err = _decode(
        monkeypatch, capsys, telegram, "--dsmr-version", version, "--json"
    )
    assert code == 1
    assert not out
    assert "skipped a telegram" in err
    assert "Traceback" not in err


def test_decode_of_an_implausible_reading_reports_the_rejection(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """+99,999.999 kW with a valid CRC is rejected, and the JSON stays clean."""
    from custom_components.stroomwijs.engine.simulate.p1 import (  # noqa: PLC0415
        finish_telegram,
    )

    telegram = finish_telegram(["1-0:1.7.0(99999.999*kW)"], "ISK5\\2M550T-1012")
    code, out, err = _decode(
        monkeypatch, capsys, telegram, "--dsmr-version", "5", "--json", "--fuse", "3x25"
    )
    assert code == 1
    assert not out
    assert "rejected a reading" in err


async def _read_here(
    capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """Run ``stroomwijs p1 read ARGS`` in this process (this event loop)."""
    parsed = build_parser("p1").parse_args(["p1", "read", *args])
    code: int = await parsed.handler(parsed)
    out, err = capsys.readouterr()
    return code, out, err


async def test_read_in_process_prints_human_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --json: one line per telegram with net power and the phases."""
    async with P1TelegramServer(
        [real("telegram_fluvius_v171_alt.txt")], interval=0.05
    ) as server:
        code, out, err = await _read_here(
            capsys, "--url", server.url, "--dsmr-version", "5B", "--count", "2"
        )
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert "net 338 W" in lines[-1]
    assert "L1 0.3 A  L2 0.9 A  L3 0.5 A" in lines[-1]
    assert "peak 3064 W" in lines[-1]


async def test_read_in_process_gives_up_and_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only bad CRCs within --timeout: exit 1, the counts in the message."""
    async with P1TelegramServer(
        [corrupt_crc(real("telegram_v5.txt"))], interval=0.05
    ) as server:
        url = server.url
        code, out, err = await _read_here(
            capsys, "--url", url, "--count", "1", "--timeout", "0.5"
        )
    assert code == 1
    assert out == ""
    assert err.startswith(f"stroomwijs p1: no valid telegram from {url}")
    assert "within 0.5 s (CRC errors " in err
    assert "CRC errors 0," not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--url", "tcp://meter:23"), "--url takes socket://HOST:PORT"),
        (("--url", "socket://127.0.0.1:1", "--fuse", "3x"), "3x"),
        (("--url", "socket://127.0.0.1:1", "--key", "zz"), "key"),
    ],
)
async def test_read_refuses_bad_settings(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    """A bad URL, fuse or key: exit 2 before anything is opened."""
    code, out, err = await _read_here(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("stroomwijs p1: ")
    assert message in err
