"""The simulation's progress line: once per percent, a newline when done."""

from __future__ import annotations

import io

from custom_components.stroomwijs.engine.simulate.runner import ProgressBar


class _Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Be a terminal."""
        return True


def test_a_terminal_gets_one_line_redrawn_and_a_newline_at_the_end() -> None:
    """On a terminal each update ends in a carriage return, the last in a newline."""
    stream = _Tty()
    bar = ProgressBar("stroomwijs", stream=stream, width=10)
    bar(0.0)
    bar(0.004)  # still 0 %: not drawn again
    bar(0.5)
    bar(1.0)
    lines = stream.getvalue().split("\r")
    assert len(lines) == 3
    assert lines[0].startswith("stroomwijs     [----------]   0%")
    assert "[#####-----]  50%" in lines[1]
    assert lines[2].endswith("\n")
    assert "[##########] 100%" in lines[2]


def test_a_log_file_gets_one_line_per_update() -> None:
    """Not a terminal: every update is its own line (no carriage returns)."""
    stream = io.StringIO()
    bar = ProgressBar("rules", stream=stream, width=4)
    bar(0.25)
    bar(1.0)
    text = stream.getvalue()
    assert "\r" not in text
    assert text.count("\n") == 2
