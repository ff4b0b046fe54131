"""The ``stroomwijs`` command line, for installers and developers.

Each capability adds its own sub-command: a module listed in ``COMMANDS``
exposes ``register(subparsers)``, which adds a parser whose ``handler``
default is a callable taking the parsed arguments and returning an exit code
(it may be a coroutine function; it then runs in a fresh event loop).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Sequence
import importlib
import inspect
import logging
import sys
from typing import Any, Protocol, cast

from .grid import GridConnection

type Handler = Callable[[argparse.Namespace], int | Coroutine[Any, Any, int]]

# Modules (relative to this package) that contribute sub-commands.
COMMANDS: tuple[str, ...] = (
    ".meter.cli",
    ".planner.cli",
    ".guard.cli",
    ".discovery.cli",
    ".gateway.cli",
)


class _CommandModule(Protocol):
    def register(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None: ...


def _cmd_fuse(args: argparse.Namespace) -> int:
    """Print what a main fuse allows, e.g. ``stroomwijs fuse 3x25``."""
    try:
        grid = GridConnection.parse(args.connection)
    except ValueError as err:
        print(f"stroomwijs fuse: {err}", file=sys.stderr)  # noqa: T201
        return 2
    print(  # noqa: T201
        f"{grid}: {grid.phase_max_power_w:.0f} W per phase, "
        f"{grid.max_power_w:.0f} W in all at {grid.voltage_v:g} V"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="stroomwijs",
        description="Stroomwijs home energy manager: tools for installers.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug output to stderr"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    fuse = subparsers.add_parser(
        "fuse", help="show the power a main fuse allows (e.g. 3x25)"
    )
    fuse.add_argument("connection", help="phases x amperes, e.g. 3x25 or 1x40")
    fuse.set_defaults(handler=_cmd_fuse)
    for name in COMMANDS:
        module = cast("_CommandModule", importlib.import_module(name, __package__))
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    if inspect.iscoroutinefunction(handler):
        try:
            return asyncio.run(cast("Coroutine[Any, Any, int]", handler(args)))
        except KeyboardInterrupt:
            return 130
    return cast("int", handler(args))


if __name__ == "__main__":
    sys.exit(main())
