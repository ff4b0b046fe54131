"""``stroomwijs guard``: check the guard's inputs.

* ``stroomwijs guard message "LIMIT 4kW FOR 90m"`` checks a P1 text message.

The simulated household under the guard is ``stroomwijs simulate guard``
(engine/simulate/cli.py): shipped modules never import the simulators.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
import sys

from custom_components.stroomwijs.engine.cli import help_handler
from custom_components.stroomwijs.engine.limits.p1_message import (
    MessageFormatError,
    parse_limit_message,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stroomwijs guard`` and its sub-commands."""
    guard = subparsers.add_parser("guard", help="check the guard's inputs")
    commands = guard.add_subparsers(dest="guard_command", metavar="COMMAND")
    message = commands.add_parser("message", help="check a P1 LIMIT text message")
    message.add_argument("text", help='e.g. "LIMIT 4kW UNTIL 2026-11-23T21:00Z"')
    message.set_defaults(handler=_cmd_message)
    guard.set_defaults(handler=help_handler(guard))


def _cmd_message(args: argparse.Namespace) -> int:
    try:
        parsed = parse_limit_message(args.text, datetime.now(UTC))
    except MessageFormatError as err:
        print(f"stroomwijs guard message: {err}", file=sys.stderr)  # noqa: T201
        return 2
    if parsed is None:
        print("no LIMIT message: no limit")  # noqa: T201
        return 0
    if parsed.off:
        print("LIMIT OFF: the message limit ends")  # noqa: T201
        return 0
    parts = [f"import limit {parsed.import_w:.0f} W"]
    if parsed.export_w is not None:
        parts.append(f"export limit {parsed.export_w:.0f} W")
    if parsed.until is not None:
        parts.append(f"until {parsed.until.astimezone(UTC).isoformat()}")
    elif parsed.duration is not None:
        parts.append(f"for {parsed.duration}")
    else:
        parts.append("while the message stays")
    print(", ".join(parts))  # noqa: T201
    return 0
