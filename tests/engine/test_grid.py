"""The grid connection model and the `stroomwijs fuse` command."""

from __future__ import annotations

import pytest

from custom_components.stroomwijs.engine.cli import main
from custom_components.stroomwijs.engine.grid import GridConnection


@pytest.mark.parametrize(
    ("text", "phases", "fuse_a"),
    [
        ("3x25", 3, 25.0),
        ("3\u00d725A", 3, 25.0),
        (" 1 x 40 a ", 1, 40.0),
        ("3x35.5", 3, 35.5),
    ],
)
def test_parse_accepts_installer_notation(
    text: str, phases: int, fuse_a: float
) -> None:
    """Common ways of writing a connection parse to the same model."""
    grid = GridConnection.parse(text)
    assert (grid.phases, grid.fuse_a) == (phases, fuse_a)


@pytest.mark.parametrize("text", ["25", "2x25", "3xA", "x25", "3x0", "3x1000"])
def test_parse_rejects_connections_that_cannot_exist(text: str) -> None:
    """Nonsense is a ValueError with a message, never a silent default."""
    with pytest.raises(ValueError, match=r"\S"):
        GridConnection.parse(text)


def test_capacity_of_a_dutch_3x25_connection() -> None:
    """3x25 A at 230 V is 5750 W per phase and 17250 W in all."""
    grid = GridConnection(phases=3, fuse_a=25)
    assert grid.phase_max_power_w == 5750
    assert grid.max_power_w == 17250
    assert grid.phase_headroom_a(18.5) == 6.5


def test_fuse_command_prints_the_capacity(capsys: pytest.CaptureFixture[str]) -> None:
    """`stroomwijs fuse 3x25` prints per-phase and total power."""
    assert main(["fuse", "3x25"]) == 0
    assert (
        capsys.readouterr().out.strip()
        == "3x25 A: 5750 W per phase, 17250 W in all at 230 V"
    )


def test_fuse_command_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad connection exits 2 with the reason on stderr."""
    assert main(["fuse", "banana"]) == 2
    assert "PHASESxAMPS" in capsys.readouterr().err


def test_no_command_prints_help_and_fails() -> None:
    """Without a sub-command the CLI explains itself and exits 2."""
    assert main([]) == 2
