"""The ``stroomwijs`` command line, for installers and developers.

Each capability adds its own sub-command: a module listed in ``COMMANDS``
exposes ``register(subparsers)``, which adds a parser whose ``handler``
default is a callable taking the parsed arguments and returning an exit code
(it may be a coroutine function; it then runs in a fresh event loop).

Only the chosen sub-command's module is imported (numpy, HiGHS and the meter
decoders load in a second or so): ``stroomwijs --help`` lists the commands
from ``COMMANDS`` alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine, Sequence
import importlib
import inspect
import sys
from typing import Any, Protocol, cast

from .grid import GridConnection

type Handler = Callable[[argparse.Namespace], int | Coroutine[Any, Any, int]]

# Sub-command: the module (relative to this package) that registers it, and
# its one-line help. Keep the help in step with the module's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "p1": (".meter.cli", "read or decode DSMR P1 telegrams"),
    "plan": (
        ".planner.cli",
        "solve a planner problem (JSON) and print the plan as JSON",
    ),
    "guard": (".guard.cli", "check the guard's inputs"),
    "household": (
        ".household.cli",
        "print the household document's schema, or check a document",
    ),
    "discover": (
        ".discovery.cli",
        "find energy devices (Modbus scan, zeroconf) as JSON",
    ),
    "simulate": (".simulate.cli", "run simulated households"),
    "gateway": (
        ".gateway.cli",
        "run one household with its local WebSocket API (the add-on)",
    ),
}


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


def help_handler(parser: argparse.ArgumentParser) -> Handler:
    """Return a handler that prints ``parser``'s help and fails (exit 2).

    For a command run without its sub-command, e.g. ``stroomwijs guard``.
    """

    def _help(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return _help


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the parser; only ``command``'s module is imported and registered.

    The other sub-commands are listed with their help, so that ``--help``
    and a bad command name need no heavy import.
    """
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
    for name, (module_name, help_text) in COMMANDS.items():
        if name != command:
            subparsers.add_parser(name, help=help_text)
            continue
        module = cast(
            "_CommandModule", importlib.import_module(module_name, __package__)
        )
        module.register(subparsers)
    return parser


def _chosen(argv: Sequence[str]) -> str | None:
    """Return the sub-command named on the command line, if any."""
    for arg in argv:
        if arg in COMMANDS:
            return arg
        if not arg.startswith("-"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_chosen(arguments))
    args = parser.parse_args(arguments)
    # Imported only now: ``--help`` and a bad command exit in parse_args
    # above, and asyncio alone is most of their start-up time.
    import asyncio  # noqa: PLC0415
    import logging  # noqa: PLC0415

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
