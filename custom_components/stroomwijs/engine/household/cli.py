"""``stroomwijs household``: the household document's schema, and a check of one.

``stroomwijs household schema`` prints the document's JSON Schema;
``stroomwijs household check FILE`` reads a document (YAML, or JSON for a
``.json`` file) as the add-on would and names the bad field, or says what
secrets an import would still ask for.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from custom_components.stroomwijs.engine.cli import help_handler

from .config import MAX_DOCUMENT_BYTES, HouseholdConfig, HouseholdConfigError
from .schema import household_schema


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``household`` sub-command."""
    parser = subparsers.add_parser(
        "household",
        help="print the household document's schema, or check a document",
        description="The household document (docs/household.md).",
    )
    commands = parser.add_subparsers(dest="household_command", metavar="COMMAND")
    schema = commands.add_parser("schema", help="print the JSON Schema")
    schema.set_defaults(handler=_schema)
    check = commands.add_parser(
        "check", help="read a document and name the bad field, if any"
    )
    check.add_argument("file", type=Path, help="YAML, or JSON for a .json file")
    check.set_defaults(handler=_check)
    parser.set_defaults(handler=help_handler(parser))


def _schema(_args: argparse.Namespace) -> int:
    print(json.dumps(household_schema(), indent=2))  # noqa: T201
    return 0


def _check(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            print(f"{path}: larger than 1 MB", file=sys.stderr)  # noqa: T201
            return 1
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        print(f"{path}: {err}", file=sys.stderr)  # noqa: T201
        return 1
    try:
        config = (
            HouseholdConfig.from_json(text)
            if path.suffix.lower() == ".json"
            else HouseholdConfig.from_yaml(text)
        )
    except HouseholdConfigError as err:
        print(f"{path}: {err}", file=sys.stderr)  # noqa: T201
        return 1
    missing = config.missing_secrets()
    print(  # noqa: T201
        f"{path}: a valid household document ({len(config.limits)} limit sources, "
        f"{len(config.devices)} devices)"
        + (f"; secrets still to give: {', '.join(missing)}" if missing else "")
    )
    return 0
