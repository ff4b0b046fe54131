"""The DSMR variants Stroomwijs reads, mapped onto dsmr-parser specifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsmr_parser import telegram_specifications as specs
from dsmr_parser.clients.settings import (
    SERIAL_SETTINGS_V2_2,
    SERIAL_SETTINGS_V4,
    SERIAL_SETTINGS_V5,
)


@dataclass(frozen=True, slots=True)
class DsmrVersion:
    """One telegram dialect: how to parse it and how to open the serial line."""

    key: str
    description: str
    specification: dict[str, Any]
    serial_settings: dict[str, Any]
    interval_s: float
    """How often the meter sends a telegram."""
    encrypted: bool = False

    @property
    def checksum(self) -> bool:
        """Whether telegrams of this version carry a CRC."""
        return bool(self.specification.get("checksum_support"))


VERSIONS: dict[str, DsmrVersion] = {
    version.key: version
    for version in (
        DsmrVersion(
            "2.2", "DSMR 2.2 (9600 7E1)", specs.V2_2, SERIAL_SETTINGS_V2_2, 10.0
        ),
        DsmrVersion("4", "DSMR 4 (115200 7E1)", specs.V4, SERIAL_SETTINGS_V4, 10.0),
        DsmrVersion(
            "5", "DSMR 5 / ESMR 5 (115200 8N1)", specs.V5, SERIAL_SETTINGS_V5, 1.0
        ),
        DsmrVersion(
            "5B",
            "Belgium e-MUCS (Fluvius)",
            specs.BELGIUM_FLUVIUS,
            SERIAL_SETTINGS_V5,
            1.0,
        ),
        DsmrVersion(
            "5L",
            "Luxembourg Smarty (plain text)",
            specs.LUXEMBOURG_SMARTY,
            SERIAL_SETTINGS_V5,
            10.0,
        ),
        DsmrVersion(
            "5L-encrypted",
            "Luxembourg Smarty (encrypted; needs the key from Creos)",
            specs.MSN,
            SERIAL_SETTINGS_V5,
            10.0,
            encrypted=True,
        ),
        DsmrVersion("5S", "Sweden (5S)", specs.SWEDEN, SERIAL_SETTINGS_V5, 10.0),
        DsmrVersion("Q3D", "EasyMeter Q3D", specs.Q3D, SERIAL_SETTINGS_V5, 2.0),
        DsmrVersion(
            "5EONHU", "E.ON Hungary", specs.EON_HUNGARY, SERIAL_SETTINGS_V5, 10.0
        ),
        DsmrVersion(
            "ISKRA_IE", "Iskra (Ireland)", specs.ISKRA_IE, SERIAL_SETTINGS_V5, 10.0
        ),
        DsmrVersion(
            "SAGEMCOM_T210_D_R",
            "Sagemcom T210-D-r (Austria, encrypted)",
            specs.SAGEMCOM_T210_D_R,
            SERIAL_SETTINGS_V5,
            5.0,
            encrypted=True,
        ),
    )
}
"""Every supported version by key; "5L" with a key selects "5L-encrypted"."""

DEFAULT_VERSION = "5"


def resolve_version(key: str, *, encryption_key: str | None = None) -> DsmrVersion:
    """Return the version for ``key``; raise ValueError for unknown ones.

    A Luxembourg Smarty ("5L") sends encrypted frames when the DSO configured
    a key; giving ``encryption_key`` selects the encrypted dialect.
    """
    if key == "5L" and encryption_key:
        key = "5L-encrypted"
    try:
        version = VERSIONS[key]
    except KeyError:
        known = ", ".join(k for k in VERSIONS if k != "5L-encrypted")
        msg = f"unknown DSMR version {key!r}; use one of {known}"
        raise ValueError(msg) from None
    if version.encrypted and not encryption_key:
        msg = f"DSMR version {key} is encrypted: give the meter's encryption key"
        raise ValueError(msg)
    return version


def validate_key(key: str) -> str:
    """Normalise an AES-128 key given as 32 hex digits; raise ValueError if not."""
    cleaned = key.strip().replace(" ", "").upper()
    if len(cleaned) != 32:  # noqa: PLR2004
        msg = "the encryption key has 32 hexadecimal digits"
        raise ValueError(msg)
    try:
        bytes.fromhex(cleaned)
    except ValueError:
        msg = "the encryption key has 32 hexadecimal digits"
        raise ValueError(msg) from None
    return cleaned
