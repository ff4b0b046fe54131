"""The engine must run without Home Assistant (add-on gateway, CLI)."""

from __future__ import annotations

import ast
from pathlib import Path
import subprocess
import sys

ENGINE = Path(__file__).resolve().parent.parent / "custom_components/stroomwijs/engine"


def _imported_modules(source: Path) -> set[str]:
    """Every absolute module name a file imports, at any depth of the tree."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_engine_module_imports_homeassistant() -> None:
    """No file under engine/ names homeassistant in an import statement."""
    files = sorted(ENGINE.rglob("*.py"))
    assert files, "the engine package has no modules"
    offenders = {
        str(path.relative_to(ENGINE)): sorted(
            name
            for name in _imported_modules(path)
            if name.split(".")[0] == "homeassistant"
        )
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_engine_module_reaches_outside_the_engine() -> None:
    """Relative imports never climb out of engine/ into the HA glue."""
    for path in ENGINE.rglob("*.py"):
        depth = len(path.relative_to(ENGINE).parts) - 1
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level <= depth + 1, (
                    f"{path.relative_to(ENGINE)} imports from outside the engine"
                )


def test_shipped_code_never_imports_the_simulators() -> None:
    """Only the simulators themselves (and tests) import engine/simulate."""
    package = ENGINE.parent
    offenders: set[str] = set()
    for path in sorted(package.rglob("*.py")):
        if (ENGINE / "simulate") in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        relative = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level and node.module
        }
        names = _imported_modules(path) | {f".{name}" for name in relative}
        if any(
            "engine.simulate" in name or name.split(".")[1:2] == ["simulate"]
            for name in names
        ):
            offenders.add(str(path.relative_to(package)))
    assert offenders == set()


def test_every_engine_module_imports_with_homeassistant_absent() -> None:
    """Importing each engine module in a Python without homeassistant works."""
    script = """
import pkgutil, sys, importlib
sys.modules["homeassistant"] = None  # makes any import of it fail
import custom_components.stroomwijs.engine as engine
names = [engine.__name__] + [
    m.name for m in pkgutil.walk_packages(engine.__path__, engine.__name__ + ".")
]
for name in names:
    importlib.import_module(name)
leaked = sorted(
    n for n in sys.modules if n.startswith("homeassistant") and sys.modules[n]
)
assert not leaked, leaked
print(len(names))
"""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ENGINE.parent.parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 3


def test_engine_and_cli_never_load_homeassistant_where_it_is_installed() -> None:
    """With Home Assistant importable, the engine and the CLI still leave it alone.

    Blocking ``homeassistant`` (above) proves no import needs it; this proves
    none tries: a guarded or lazy import that would load Home Assistant's 2-3 s
    of modules into the add-on or the command line fails here. It imports the
    package as the ``stroomwijs`` console script does (which also runs
    ``custom_components/stroomwijs/__init__.py``), every engine module, and
    the help of every sub-command (each imports its own module).
    """
    script = """
import contextlib, importlib, importlib.util, io, pkgutil, sys
assert importlib.util.find_spec("homeassistant") is not None, "HA not installed"
from custom_components.stroomwijs.engine.cli import COMMANDS, main
commands = [[], *([name] for name in COMMANDS)]
for command in commands:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main([*command, "--help"])
        except SystemExit:
            pass
import custom_components.stroomwijs.engine as engine
for m in pkgutil.walk_packages(engine.__path__, engine.__name__ + "."):
    importlib.import_module(m.name)
print(sorted(n for n in sys.modules if n.split(".")[0] == "homeassistant"))
"""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ENGINE.parent.parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_running_shipped_code_loads_no_simulator() -> None:
    """Shipped engine code and the CLI's commands load no simulator when run.

    Every engine module outside engine/simulate is imported, every command
    but ``simulate`` is registered and two are run: dynamic imports
    included, no simulator module is loaded.
    """
    package = ENGINE.parent.parent.parent
    names = sorted(
        ".".join(path.relative_to(package).with_suffix("").parts).removesuffix(
            ".__init__"
        )
        for path in ENGINE.rglob("*.py")
        if (ENGINE / "simulate") not in path.parents
    )
    script = f"""
import importlib, sys
for name in {names!r}:
    importlib.import_module(name)
from custom_components.stroomwijs.engine import cli
for command in cli.COMMANDS:
    if command != "simulate":
        cli.build_parser(command)
for argv in (["fuse", "3x25"], ["guard", "message", "LIMIT 4.0kW FOR 90m"]):
    assert cli.main(argv) == 0, argv
simulate = "custom_components.stroomwijs.engine.simulate"
loaded = sorted(n for n in sys.modules if n == simulate or n.startswith(simulate + "."))
assert not loaded, loaded
print("ok", {len(names)})
"""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=package,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"ok {len(names)}"
