"""How long ``stroomwijs --help`` takes, and what it imports (issue 11).

    script/run python benchmarks/bench_startup.py [-n 10]

Each run is a fresh interpreter, as from the shell. Two variants:

* ``HA blocked``: ``homeassistant`` cannot be imported (as on the add-on or
  a plain CLI install), so the time is the engine's own; the target is
  under 0.5 s;
* ``as installed``: the package as it is, which also runs
  ``custom_components/stroomwijs/__init__.py`` (that file decides whether
  Home Assistant is imported at import time);
* ``console script``: the ``stroomwijs`` command itself (the script next to
  this Python), run from a directory outside the checkout, so the package
  is found as an installed one is (Home Assistant installed, not blocked).

It also lists which heavy modules the blocked variant loaded (there should
be none: the sub-commands are imported only when chosen).
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = """
import sys
sys.modules["homeassistant"] = None
from custom_components.stroomwijs.engine.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = [m for m in ("numpy", "highspy", "dsmr_parser", "homeassistant")
         if sys.modules.get(m) is not None]
print("HEAVY", heavy, file=sys.stderr)
"""
INSTALLED = """
from custom_components.stroomwijs.engine.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
"""


def _time(command: list[str], runs: int, cwd: Path = ROOT) -> tuple[list[float], str]:
    times = []
    stderr = ""
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(  # noqa: S603
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - started)
        stderr = result.stderr
        if result.returncode != 0:
            message = f"{command[0]} failed: {stderr}"
            raise SystemExit(message)
    return times, stderr


def main() -> None:
    """Time both variants."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--runs", type=int, default=10)
    args = parser.parse_args()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - started
    print(f"bare interpreter start: {bare:.3f} s")
    script = Path(sys.executable).parent / "stroomwijs"
    if not script.exists():
        script = Path(shutil.which("stroomwijs") or "stroomwijs")
    variants = [
        ("HA blocked", [sys.executable, "-c", BLOCKED]),
        ("as installed", [sys.executable, "-c", INSTALLED]),
        ("console script", [str(script), "--help"]),
    ]
    for label, command in variants:
        with tempfile.TemporaryDirectory() as outside:
            cwd = Path(outside) if label == "console script" else ROOT
            times, stderr = _time(command, args.runs, cwd)
        heavy = next(
            (line for line in stderr.splitlines() if line.startswith("HEAVY")), ""
        )
        print(
            f"stroomwijs --help ({label}): median {statistics.median(times):.3f} s, "
            f"max {max(times):.3f} s {heavy}"
        )


if __name__ == "__main__":
    main()
