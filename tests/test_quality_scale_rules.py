"""The quality-scale rules that core's hassfest checks by reading the code.

Core's ``script/hassfest/quality_scale_validation`` parses an integration's
modules (it never imports them) and rejects a rule marked ``done`` that the
code does not follow. Those validators only run on core's own tree; these
tests restate their checks for this integration (no code taken from core),
plus the ones a reviewer applies by hand:

- runtime-data, config-entry-unloading: ``async_setup_entry`` (two
  arguments, sets ``entry.runtime_data``) and ``async_unload_entry`` are
  defined in ``__init__.py`` itself (not re-exported);
- strict-typing: the typed config entry in every entry point, platform,
  diagnostics and the options flow (core's check), and nowhere a bare
  ``ConfigEntry`` in the glue; the requirements' own typing (PEP 561);
- test-before-setup: the setup exceptions are raised;
- parallel-updates: each platform module sets ``PARALLEL_UPDATES``;
- dependency-transparency: every package the modules Home Assistant loads
  import is declared in the manifest (or is one of Home Assistant's own);
- docs-actions: every action and every field is in docs/home-assistant.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from importlib import metadata
import json
from pathlib import Path
import re
import sys
from typing import Any

from homeassistant.const import Platform
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components/stroomwijs"
PACKAGE = "custom_components.stroomwijs"
MANIFEST = json.loads((INTEGRATION / "manifest.json").read_text(encoding="utf-8"))
SERVICES = yaml.safe_load((INTEGRATION / "services.yaml").read_text(encoding="utf-8"))
TYPED_ENTRY = re.compile(r"^[A-Za-z]+ConfigEntry$")


def _parse(name: str) -> ast.Module:
    return ast.parse((INTEGRATION / f"{name}.py").read_text(encoding="utf-8"))


def _function(module: ast.Module, name: str) -> ast.AsyncFunctionDef | None:
    """Find a function defined at the module's top level (where core looks)."""
    for node in module.body:
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _platform_modules() -> list[str]:
    return [p.value for p in Platform if (INTEGRATION / f"{p.value}.py").exists()]


# runtime-data, config-entry-unloading -----------------------------------------


def test_entry_points_are_defined_in_init() -> None:
    """Core reads ``__init__.py``: the functions must be there, not imported."""
    init = _parse("__init__")
    setup = _function(init, "async_setup_entry")
    assert setup is not None, "async_setup_entry is not defined in __init__.py"
    assert len(setup.args.args) == 2
    entry = setup.args.args[1].arg
    assert any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == entry
        and node.attr == "runtime_data"
        and isinstance(node.ctx, ast.Store)
        for node in ast.walk(setup)
    ), "async_setup_entry does not set entry.runtime_data"
    assert _function(init, "async_unload_entry") is not None


# strict-typing ----------------------------------------------------------------

_ENTRY_FUNCTIONS = {
    "__init__": (
        "async_migrate_entry",
        "async_remove_config_entry_device",
        "async_remove_entry",
        "async_setup_entry",
        "async_unload_entry",
    ),
    "diagnostics": (
        "async_get_config_entry_diagnostics",
        "async_get_device_diagnostics",
    ),
}


def _annotation_name(argument: ast.arg) -> str | None:
    annotation = argument.annotation
    return annotation.id if isinstance(annotation, ast.Name) else None


def test_entry_points_take_the_typed_config_entry() -> None:
    """Core's strict-typing check on runtime data, restated."""
    functions = dict(_ENTRY_FUNCTIONS)
    for platform in _platform_modules():
        functions[platform] = ("async_setup_entry",)
    problems: list[str] = []
    for module_name, names in functions.items():
        if not (INTEGRATION / f"{module_name}.py").exists():
            continue
        module = _parse(module_name)
        for name in names:
            function = _function(module, name)
            if function is None:
                continue
            annotation = _annotation_name(function.args.args[1])
            if annotation is None or not TYPED_ENTRY.match(annotation):
                problems.append(f"{module_name}.{name}: {annotation}")
    for node in ast.walk(_parse("config_flow")):
        if isinstance(node, ast.FunctionDef) and node.name == "async_get_options_flow":
            annotation = _annotation_name(node.args.args[0])
            if annotation is None or not TYPED_ENTRY.match(annotation):
                problems.append(f"config_flow.async_get_options_flow: {annotation}")
    assert problems == []


def _glue_files() -> Iterator[Path]:
    for path in sorted(INTEGRATION.glob("*.py")):
        if path.name != "models.py":  # where the typed entry is defined
            yield path


def _bare_entry_annotations(path: Path) -> list[str]:
    """Annotations of ``ConfigEntry`` or ``ConfigEntry[...]`` in a module."""
    found: list[str] = []
    annotations: list[ast.expr] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation:
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            annotations.append(node.returns)
    found.extend(
        f"{path.name}:{part.lineno}"
        for annotation in annotations
        for part in ast.walk(annotation)
        if isinstance(part, ast.Name) and part.id == "ConfigEntry"
    )
    return found


def test_the_glue_uses_the_typed_entry_throughout() -> None:
    """strict-typing: "a custom typed ConfigEntry ... must be used throughout"."""
    found = [line for path in _glue_files() for line in _bare_entry_annotations(path)]
    assert found == []


def test_the_bare_entry_check_finds_one(tmp_path: Path) -> None:
    """The check above reports what it should (arguments, returns, generics)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def a(entry: ConfigEntry) -> None: ...\n"
        "def b() -> list[ConfigEntry[Any]]: ...\n"
        "def c(entry: StroomwijsConfigEntry) -> None: ...\n",
        encoding="utf-8",
    )
    assert sorted(_bare_entry_annotations(sample)) == ["sample.py:1", "sample.py:2"]


UNTYPED_REQUIREMENTS = frozenset({"dsmr-parser", "ocpp"})
"""Requirements that ship no ``py.typed`` (nor a ``types-`` package).

Core's hassfest refuses strict-typing for an integration with such a
requirement; these two are third-party libraries we cannot change. Besides
the simulators, only engine/meter (decode.py, versions.py) and
engine/drivers/ocpp import them, and mypy sees them as untyped there
(pyproject.toml), so calls into them are not type-checked. Listed here so
that a new untyped requirement fails, and an upstream release with
``py.typed`` is noticed (see quality_scale.yaml).
"""


def _typed(requirement: Requirement) -> bool:
    distribution = metadata.distribution(requirement.name)
    if any(file.name == "py.typed" for file in distribution.files or []):
        return True
    try:
        metadata.distribution(f"types-{requirement.name}")
    except metadata.PackageNotFoundError:
        return False
    return True


def test_requirements_are_typed_except_the_known_two() -> None:
    """PEP 561: the requirements say they are typed; two known exceptions."""
    untyped = {
        canonicalize_name(requirement.name)
        for line in MANIFEST["requirements"]
        if not _typed(requirement := Requirement(line))
    }
    assert untyped == UNTYPED_REQUIREMENTS


# test-before-setup, parallel-updates -------------------------------------------


def _raised_names() -> set[str]:
    names: set[str] = set()
    for path in INTEGRATION.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(exc, ast.Name):
                    names.add(exc.id)
    return names


def test_setup_raises_not_ready_auth_failed_and_error() -> None:
    """test-before-setup: each of the three outcomes is raised somewhere."""
    assert {
        "ConfigEntryNotReady",
        "ConfigEntryAuthFailed",
        "ConfigEntryError",
    } <= _raised_names()


READ_ONLY_PLATFORMS = frozenset({"sensor", "binary_sensor", "event"})


@pytest.mark.parametrize("platform", _platform_modules())
def test_each_platform_sets_parallel_updates(platform: str) -> None:
    """A plain top-level assignment (core does not read an annotated one).

    0 for read-only platforms (the data comes from the household, not from a
    request per entity), 1 for platforms with actions, as HomeWizard and
    Peblar do.
    """
    values = [
        node.value
        for node in _parse(platform).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "PARALLEL_UPDATES"
    ]
    assert len(values) == 1, f"{platform}.py sets no PARALLEL_UPDATES"
    value = values[0]
    assert isinstance(value, ast.Constant)
    assert value.value == (0 if platform in READ_ONLY_PLATFORMS else 1)


# dependency-transparency ------------------------------------------------------

ENTRY_MODULES = (
    "__init__",
    "config_flow",
    "diagnostics",
    "integration",
    "logbook",
    "migration",
    "repairs",
)
"""Modules Home Assistant imports by name; the platforms are added to them."""


def _module_file(module: str) -> Path | None:
    relative = module.removeprefix(PACKAGE).lstrip(".").replace(".", "/")
    base = INTEGRATION / relative if relative else INTEGRATION
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    path = base.with_suffix(".py")
    return path if path.exists() else None


def _imported_names(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base += f".{node.module}" if node.module else ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level packages imported by the modules Home Assistant loads."""
    start = [*ENTRY_MODULES, *_platform_modules()]
    todo = [f"{PACKAGE}.{name}".removesuffix(".__init__") for name in start]
    seen: set[str] = set()
    found: dict[str, set[str]] = {}
    while todo:
        module = todo.pop()
        if module in seen or (path := _module_file(module)) is None:
            continue
        seen.add(module)
        for name in _imported_names(module, path):
            top = name.partition(".")[0]
            if name.startswith(PACKAGE):
                todo.append(name)
            elif top not in sys.stdlib_module_names | {"__future__", "homeassistant"}:
                found.setdefault(top, set()).add(module)
    return found


def test_every_imported_package_is_declared() -> None:
    """dependency-transparency: what we import, the manifest names.

    A package that arrives only as another requirement's dependency (numpy
    came with highspy) is still ours to declare; Home Assistant's own
    requirements (aiohttp, PyYAML, probatio, yarl) are there already.
    """
    declared = {
        canonicalize_name(Requirement(line).name) for line in MANIFEST["requirements"]
    }
    home_assistant = {
        canonicalize_name(Requirement(line).name)
        for line in metadata.requires("homeassistant") or []
        if "extra ==" not in line
    }
    distributions = metadata.packages_distributions()
    undeclared: dict[str, list[str]] = {}
    for package, modules in _third_party_imports().items():
        names = {canonicalize_name(name) for name in distributions.get(package, [])}
        assert names, f"{package} is imported but not installed"
        if not names & (declared | home_assistant):
            undeclared[package] = sorted(modules)
    assert undeclared == {}


# docs-actions -----------------------------------------------------------------


def _action_sections() -> dict[str, str]:
    text = (ROOT / "docs/home-assistant.md").read_text(encoding="utf-8")
    actions = text.split("\n## Actions\n", 1)[1].split("\n## ", 1)[0]
    sections: dict[str, str] = {}
    for part in actions.split("\n### ")[1:]:
        title, _, body = part.partition("\n")
        sections[title.strip().strip("`")] = body
    return sections


def test_docs_describe_every_action_and_field() -> None:
    """docs-actions: a section per action, a table row per field."""
    sections = _action_sections()
    assert set(sections) == {f"stroomwijs.{name}" for name in SERVICES}
    for name, service in SERVICES.items():
        body = sections[f"stroomwijs.{name}"]
        rows = set(re.findall(r"^\| `([a-z_]+)` \|", body, re.MULTILINE))
        assert rows == set((service or {}).get("fields", {})), name


# docs-supported-functions -----------------------------------------------------


def test_docs_name_every_entity() -> None:
    """docs-supported-functions: each entity, by its English name, in bold."""
    text = (ROOT / "docs/home-assistant.md").read_text(encoding="utf-8")
    section = text.split("\n## Supported functionality\n", 1)[1].split("\n## ", 1)[0]
    section = " ".join(section.split())  # names may wrap
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    missing = [
        f"{platform}.{key}"
        for platform, entities in strings["entity"].items()
        for key, entity in entities.items()
        if f"**{entity['name'].format(phase='L1')}**" not in section
    ]
    assert missing == []


# exception-translations -------------------------------------------------------

_TRANSLATED_ERRORS = frozenset(
    {
        "HomeAssistantError",
        "ServiceValidationError",
        "ConfigEntryNotReady",
        "ConfigEntryAuthFailed",
        "ConfigEntryError",
    }
)


def test_every_error_raised_to_the_user_is_translated() -> None:
    """Each such error names a translation key that strings.json has."""
    exceptions = json.loads((INTEGRATION / "strings.json").read_text("utf-8"))[
        "exceptions"
    ]
    problems: list[str] = []
    for path in _glue_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _TRANSLATED_ERRORS
            ):
                continue
            where = f"{path.name}:{node.lineno}"
            key = next(
                (k.value for k in node.keywords if k.arg == "translation_key"), None
            )
            if key is None:
                problems.append(f"{where}: no translation_key")
            elif isinstance(key, ast.Constant) and key.value not in exceptions:
                problems.append(f"{where}: {key.value} is not in strings.json")
            elif isinstance(key, ast.JoinedStr):
                prefix = "".join(
                    str(part.value)
                    for part in key.values
                    if isinstance(part, ast.Constant)
                )
                if not any(name.startswith(prefix) for name in exceptions):
                    problems.append(f"{where}: no key starts with {prefix}")
    assert problems == []


# docs-installation-parameters, docs-configuration-parameters -------------------


def _form_labels(strings: dict[str, Any]) -> set[str]:
    flows = [
        strings["config"],
        strings["options"],
        *strings["config_subentries"].values(),
    ]
    return {
        label
        for flow in flows
        for step in flow.get("step", {}).values()
        for label in step.get("data", {}).values()
    }


def test_docs_describe_every_field_of_every_form() -> None:
    """Set-up, options and subentry fields, each a row of a table in the docs."""
    text = (ROOT / "docs/home-assistant.md").read_text(encoding="utf-8")
    section = text.split("\n## Form fields\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| ([^|]+?) \| [^|]+ \|$", section, re.MULTILINE))
    strings = json.loads((INTEGRATION / "strings.json").read_text(encoding="utf-8"))
    assert _form_labels(strings) - rows == set()


# common-modules ---------------------------------------------------------------


def test_base_entities_live_in_entity_py() -> None:
    """Every class built straight on ``Entity`` is in entity.py."""
    found = [
        f"{path.name}:{node.name}"
        for path in _glue_files()
        if path.name != "entity.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(base, ast.Name) and base.id == "Entity" for base in node.bases
        )
    ]
    assert found == []
    assert (INTEGRATION / "coordinator.py").exists()


# hassfest's config-schema check -------------------------------------------------


def test_config_schema_is_assigned_in_init() -> None:
    """An integration with ``async_setup`` assigns (or imports) CONFIG_SCHEMA.

    hassfest reads ``__init__.py`` and accepts only an assignment or an
    import of that name; a ``def CONFIG_SCHEMA`` fails it. (What the schema
    does, refusing YAML with core's repair, is in test_hassfest_runtime.py.)
    """
    init = _parse("__init__")
    assert _function(init, "async_setup") is not None
    assigned = any(
        isinstance(node, ast.Assign)
        and any(
            isinstance(target, ast.Name) and target.id == "CONFIG_SCHEMA"
            for target in node.targets
        )
        for node in init.body
    )
    imported = any(
        isinstance(node, ast.Import | ast.ImportFrom)
        and any((alias.asname or alias.name) == "CONFIG_SCHEMA" for alias in node.names)
        for node in init.body
    )
    assert assigned or imported
