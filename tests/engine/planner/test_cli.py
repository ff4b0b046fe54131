"""The ``stroomwijs plan`` command on the shipped example and on bad files."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pytest

from custom_components.stroomwijs.engine.cli import main


def test_plan_prints_the_reference_household_plan_as_json(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example solves; the JSON keeps the 4 kW window and the 90 % target."""
    example = repo_root / "examples" / "reference_household.json"
    assert main(["plan", str(example), "--compact"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["status"] in {"optimal", "time_limit"}
    assert len(plan["slots"]["start"]) == 192
    imports = plan["grid"]["import_kw"]
    caps = plan["grid"]["import_cap_kw"]
    assert all(i <= c + 1e-6 for i, c in zip(imports, caps, strict=True))
    assert min(caps) == 4.0
    ev = plan["devices"]["ev"]
    assert ev["soc_at_departure"] >= 0.9 - 1e-3
    assert min(ev["soc"]) >= 0.3 - 1e-6
    assert min(plan["devices"]["boiler"]["temperature_c"]) >= 40.0 - 1e-3
    assert plan["devices"]["boiler"]["legionella_slot"] is not None
    for appliance in ("washing_machine", "dishwasher"):
        assert plan["devices"][appliance]["start"] is not None
    for phase in plan["grid"]["phase_kw"]:
        assert max(abs(p) for p in phase) <= 5.75 + 1e-6


def test_plan_rejects_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file is a clear error and exit code 2, not a traceback."""
    assert main(["plan", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (
            '{"start": "2025-10-14T22:00:00Z"}',
            "problem.prices.spot_eur_per_kwh: is required",
        ),
    ],
)
def test_plan_rejects_a_bad_file_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    """Malformed problems exit with 2 and name what is wrong."""
    path = tmp_path / "problem.json"
    path.write_text(content, encoding="utf-8")
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stroomwijs plan: ")
    assert message in err


def test_help_imports_no_solver_numpy_or_home_assistant() -> None:
    """``stroomwijs --help`` lists every command without the heavy imports.

    asyncio counts as heavy here: it was most of the time ``--help`` took.
    """
    script = """
import sys
sys.modules["homeassistant"] = None  # any import of it fails
from custom_components.stroomwijs.engine.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = sorted(
    name
    for name in ("numpy", "highspy", "dsmr_parser", "homeassistant", "asyncio")
    if sys.modules.get(name) is not None
)
print("HEAVY", heavy)
"""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert "HEAVY []" in result.stdout
    for command in ("plan", "p1", "guard", "fuse"):
        assert command in result.stdout
