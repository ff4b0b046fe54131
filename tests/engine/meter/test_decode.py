"""Decoding telegrams of every supported version into one flat structure."""

from __future__ import annotations

from datetime import UTC, datetime

from dsmr_parser.parsers import TelegramParser
import pytest

from custom_components.stroomwijs.engine.grid import GridConnection
from custom_components.stroomwijs.engine.meter.core import Meter
from custom_components.stroomwijs.engine.meter.decode import (
    TelegramDecoder,
    TelegramError,
    detect_version,
)
from custom_components.stroomwijs.engine.meter.stream import CipherFramer, PlainFramer
from custom_components.stroomwijs.engine.meter.versions import (
    resolve_version,
    validate_key,
)
from custom_components.stroomwijs.engine.simulate.p1 import (
    corrupt_crc,
    crc16_arc,
    encrypt_frame,
)

from .telegrams import CASES, SMARTY_KEY, Case, crafted_5l, real


def _decode(case: Case) -> object:
    version = resolve_version(case.version, encryption_key=case.key)
    framer = CipherFramer() if version.encrypted else PlainFramer()
    (telegram,) = framer.feed(case.raw)
    values = TelegramDecoder(version, encryption_key=case.key).decode(telegram)
    meter = Meter(grid=GridConnection(phases=3, fuse_a=25))
    return meter.process(values, datetime(2026, 1, 15, 11, 3, tzinfo=UTC))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_version_decodes_to_the_expected_values(case: Case) -> None:
    """Each version's telegram yields the values printed in it, in W/A/V/kWh."""
    reading = _decode(case)
    for name, expected in case.expected.items():
        assert getattr(reading, name) == pytest.approx(expected), name


def test_belgian_history_holds_thirteen_month_peaks_and_tolerates_junk() -> None:
    """0-0:98.1.0 becomes a list of peaks; an invalid timestamp becomes None."""
    version = resolve_version("5B")
    good = TelegramDecoder(version).decode(
        real("telegram_fluvius_v171.txt").decode("ascii")
    )
    assert [record.power_w for record in good.peak_history] == [3695.0, 5980.0, 4318.0]
    assert good.peak_history[0].at == datetime(2020, 4, 23, 17, 25, 38, tzinfo=UTC)
    junk = TelegramDecoder(version).decode(
        real("telegram_fluvius_v171_alt.txt").decode("ascii")
    )
    assert junk.peak_history[0].at is None
    assert junk.peak_history[-1].power_w == 4927.0


def test_a_bad_crc_is_reported_as_such() -> None:
    """A flipped CRC raises TelegramError of kind 'crc', not a crash."""
    bad = corrupt_crc(real("telegram_v5.txt")).decode("ascii")
    with pytest.raises(TelegramError) as err:
        TelegramDecoder(resolve_version("5")).decode(bad)
    assert err.value.kind == "crc"


def test_a_wrong_key_is_a_decrypt_error() -> None:
    """An encrypted frame opened with another key is refused, kind 'decrypt'."""
    frame = encrypt_frame(crafted_5l(), SMARTY_KEY).hex()
    other = "FF" * 16
    with pytest.raises(TelegramError) as err:
        TelegramDecoder(
            resolve_version("5L", encryption_key=other), encryption_key=other
        ).decode(frame)
    assert err.value.kind == "decrypt"


def test_text_without_measurements_is_rejected() -> None:
    """A telegram that carries no power or energy is not a reading."""
    with pytest.raises(TelegramError) as err:
        TelegramDecoder(resolve_version("5")).decode(
            real("telegram_unpadded_crc.txt").decode("ascii")
        )
    assert err.value.kind == "parse"


def test_crc16_arc_matches_dsmr_parser() -> None:
    """Our CRC equals dsmr-parser's on a real telegram body."""
    body = real("telegram_v5.txt").decode("ascii").split("!")[0] + "!"
    assert crc16_arc(body.encode("ascii")) == TelegramParser.crc16(body)
    assert f"{crc16_arc(body.encode('ascii')):04X}" == "6EEE"


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("telegram_v2_2.txt", "2.2"),
        ("telegram_v4_2.txt", "4"),
        ("telegram_v5.txt", "5"),
        ("telegram_fluvius_v171.txt", "5B"),
        ("telegram_esy5q3da1004_v304.txt", "Q3D"),
    ],
)
def test_version_is_detected_from_header_and_crc(name: str, version: str) -> None:
    """The decoder guesses the dialect for ``p1 decode`` and HomeWizard."""
    assert detect_version(real(name).decode("latin-1")) == version


def test_unknown_versions_and_missing_keys_are_clear_errors() -> None:
    """Bad settings raise ValueError with a message that says what to do."""
    with pytest.raises(ValueError, match="unknown DSMR version"):
        resolve_version("7")
    with pytest.raises(ValueError, match="encryption key"):
        resolve_version("SAGEMCOM_T210_D_R")
    with pytest.raises(ValueError, match="32 hexadecimal"):
        validate_key("12345")
    assert validate_key(" 0123456789abcdef0123456789abcdef ") == SMARTY_KEY


def test_framer_skips_garbage_and_half_telegrams() -> None:
    """Garbage before, a cut telegram, then a whole one: only the whole one."""
    whole = real("telegram_v5.txt")
    framer = PlainFramer()
    assert framer.feed(b"\x00\xffnoise!" + whole[:200]) == []
    (telegram,) = framer.feed(whole)
    assert telegram == whole.decode("ascii")


def test_cipher_framer_reassembles_split_frames() -> None:
    """An encrypted frame that arrives in pieces comes out whole, once."""
    frame = encrypt_frame(crafted_5l(), SMARTY_KEY)
    framer = CipherFramer()
    assert framer.feed(b"junk" + frame[:10]) == []
    assert framer.feed(frame[10:]) == [frame.hex()]


def test_framer_drops_endless_noise_instead_of_growing() -> None:
    """A '/' followed by 100 kB without an end is dropped; telegrams still come."""
    framer = PlainFramer()
    assert framer.feed(b"/" + b"x" * 100_000) == []
    assert len(framer._buffer) <= 64 * 1024
    whole = real("telegram_v5.txt")
    assert framer.feed(whole) == [whole.decode("ascii")]


def test_a_signed_power_register_is_split_into_import_and_export() -> None:
    """Q3D-style negative 1-0:1.7.0 means export, never negative import."""
    from custom_components.stroomwijs.engine.meter.models import (  # noqa: PLC0415
        TelegramValues,
    )

    reading = Meter().process(
        TelegramValues(
            dsmr_version="Q3D",
            import_w=-1500.0,
            phase_import_w=(-1000.0, 200.0, -700.0),
        ),
        datetime(2026, 1, 15, 11, 3, tzinfo=UTC),
    )
    assert (reading.import_w, reading.export_w, reading.net_power_w) == (
        0.0,
        1500.0,
        -1500.0,
    )
    assert reading.phase_import_w == (0.0, 200.0, 0.0)
    assert reading.phase_export_w == (1000.0, None, 700.0)
    assert reading.phase_net_power_w() == (-1000.0, 200.0, -700.0)


def test_twelve_month_peak_average_uses_this_month_and_the_history() -> None:
    """Fluvius: (3695 + 5980 + 4318 + 2589) / 4 with 1.6.0 as this month."""
    case = real("telegram_fluvius_v171.txt").decode("ascii")
    values = TelegramDecoder(resolve_version("5B")).decode(case)
    reading = Meter().process(values, datetime(2020, 5, 12, 11, 54, tzinfo=UTC))
    assert reading.peak_average_w == pytest.approx((3695 + 5980 + 4318 + 2589) / 4)
    assert reading.as_dict()["month_peak"]["average_12_months_w"] == pytest.approx(
        4145.5
    )
