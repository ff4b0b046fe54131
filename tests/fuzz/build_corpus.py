"""Write the fuzz corpus: the nastiest inputs found for the P1 path (issue 10).

Run ``script/run python -m tests.fuzz.build_corpus`` to regenerate it; the
files are committed, so CI replays exactly these bytes. Each case is listed
in ``corpus/manifest.json`` with the version to decode it as and what must
happen to it: ``accepted`` (a reading), or the counter it must land in
(``crc``, ``parse``, ``decrypt``, ``rejected``, or ``none`` when no frame is
found at all).
"""

from __future__ import annotations

import json
from pathlib import Path
import random

from custom_components.stroomwijs.engine.simulate.p1 import (
    crc16_arc,
    encrypt_frame,
    finish_telegram,
)

CORPUS = Path(__file__).parent / "corpus"
SMARTY_KEY = "0123456789ABCDEF0123456789ABCDEF"
HEADER = "ISK5\\2M550T-1012"


def plain(*lines: str, header: str = HEADER) -> bytes:
    """Return a DSMR 5 telegram with a valid CRC around ``lines``."""
    return finish_telegram(list(lines), header)


def base_lines(power: str = "01.193", current: str = "001") -> list[str]:
    """Return the lines of an ordinary three-phase DSMR 5 telegram."""
    return [
        "1-3:0.2.8(50)",
        "0-0:1.0.0(261123150000W)",
        "1-0:1.8.1(001234.567*kWh)",
        "1-0:1.8.2(002345.678*kWh)",
        "1-0:2.8.1(000012.345*kWh)",
        "1-0:2.8.2(000023.456*kWh)",
        "0-0:96.14.0(0002)",
        f"1-0:1.7.0({power}*kW)",
        "1-0:2.7.0(00.000*kW)",
        f"1-0:31.7.0({current}*A)",
        "1-0:51.7.0(002*A)",
        "1-0:71.7.0(003*A)",
    ]


def with_power(power: str) -> bytes:
    """Return a valid-CRC telegram whose 1-0:1.7.0 value is ``power``."""
    return plain(*base_lines(power=power))


DSMR22 = (
    b"/ISk5\\2ME382-1003\r\n\r\n"
    b"0-0:96.1.1(4B414C37303035313235383932363131)\r\n"
    b"1-0:1.8.1(00185.000*kWh)\r\n"
    b"1-0:1.8.2(00084.000*kWh)\r\n"
    b"1-0:1.7.0(0000.98*kW)\r\n"
    b"1-0:2.7.0(0000.00*kW)\r\n"
    b"!\r\n"
)


def cases() -> dict[str, tuple[str, str, bytes]]:
    """Return name -> (version, expected outcome, bytes)."""
    rng = random.Random(10)  # noqa: S311 - a fixed corpus, not crypto
    frames = [
        encrypt_frame(plain(*base_lines()), SMARTY_KEY, invocation_counter=n)
        for n in range(1, 4)
    ]
    noise_header = bytes([0xDB, 0x08]) + b"NOISE!!!" + bytes([0x82, 0x30])
    long_header = bytes([0xDB, 0x08]) + bytes(8) + bytes([0x82, 0x3F, 0xFF])
    return {
        "nan_power.txt": ("5", "parse", with_power("NaN")),
        "infinity_power.txt": ("5", "parse", with_power("Infinity")),
        "minus_infinity_power.txt": ("5", "parse", with_power("-Infinity")),
        "snan_power.txt": ("5", "parse", with_power("sNaN")),
        "exponent_overflow_power.txt": ("5", "parse", with_power("1e400")),
        "two_decimal_points.txt": ("5", "parse", with_power("1.2.3")),
        "hex_power.txt": ("5", "parse", with_power("0x10")),
        "absurd_power.txt": ("5", "rejected", with_power("99999.999")),
        "absurd_current.txt": ("5", "rejected", plain(*base_lines(current="900"))),
        "negative_power.txt": ("5", "accepted", with_power("-01.500")),
        "good.txt": ("5", "accepted", with_power("01.193")),
        "bad_crc.txt": ("5", "crc", with_power("01.193").replace(b"01.193", b"01.194")),
        "no_values.txt": ("5", "parse", plain("0-0:96.13.0()")),
        "nested_parentheses.txt": (
            "5",
            "parse",
            plain("1-0:1.7.0(" + "(" * 3000 + "*kW)"),
        ),
        "five_thousand_lines.txt": (  # 75 KB: beyond the framer's bound
            "5",
            "none",
            plain(*base_lines(), *(["0-0:96.13.0()"] * 5000)),
        ),
        "text_message_overflow.txt": (
            "5",
            "accepted",
            plain(
                *base_lines(),
                "0-0:96.13.0(" + b"LIMIT 4kW FOR 99999999h".hex().upper() + ")",
            ),
        ),
        "dsmr22_good.txt": ("2.2", "accepted", DSMR22),
        "dsmr22_flipped_digit.txt": (
            "2.2",
            "parse",
            DSMR22.replace(b"0000.98", b"00x0.98"),
        ),
        "dsmr22_flipped_paren.txt": (  # the power line is lost: no power value
            "2.2",
            "rejected",
            DSMR22.replace(b"0000.98*kW)", b"0000.98*kW("),
        ),
        "only_noise.bin": (
            "5",
            "none",
            bytes(rng.randrange(256) for _ in range(4096)).replace(b"/", b"\\"),
        ),
        "5l_noise_header_then_frames.bin": (
            "5L",
            "accepted",
            noise_header + b"".join(frames),
        ),
        "5l_long_header_then_frames.bin": (
            "5L",
            "accepted",
            long_header + b"".join(frames),
        ),
        "5l_wrong_key.bin": (
            "5L",
            "decrypt",
            encrypt_frame(plain(*base_lines()), "00" * 16, invocation_counter=9),
        ),
        "5l_truncated_frame.bin": ("5L", "none", frames[0][: len(frames[0]) // 2]),
    }


MESSAGES = [
    "LIMIT 4kW FOR 99999999h",
    "LIMIT 4kW FOR " + "9" * 5000 + "m",
    "LIMIT 4kW UNTIL 9999-12-31T23:59:59+00:00",
    "LIMIT 4kW UNTIL 9999-12-31T23:59:59-14:00",
    "LIMIT 4kW UNTIL 0001-01-01T00:00:00+14:00",
    "LIMIT 4kW UNTIL 2026-13-45T99:99Z",
    "LIMIT " + "9" * 400 + "kW",
    "LIMIT 1e999kW",
    "LIMIT NaNkW",
    "LIMIT -4kW",
    "LIMIT 4kW EXPORT 99999999999999kW",
    "LIMIT 4kW FOR 0m",
    "LIMIT 4kW FOR 10081m",
    "LIMIT OFF OFF",
    "limit " + "x" * 3000,
    "4C494D4954203464",
    "4C494D49542034" + "FF" * 10,
]


def main() -> None:
    """Write every case and the manifest."""
    manifest: dict[str, dict[str, str]] = {}
    for name, (version, outcome, data) in cases().items():
        (CORPUS / name).write_bytes(data)
        manifest[name] = {"version": version, "outcome": outcome}
    (CORPUS / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (CORPUS / "messages.json").write_text(
        json.dumps(MESSAGES, indent=0) + "\n", encoding="utf-8"
    )
    assert crc16_arc(b"") == 0


if __name__ == "__main__":
    main()
