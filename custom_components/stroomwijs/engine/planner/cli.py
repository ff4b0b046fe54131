"""``stroomwijs plan PROBLEM.json``: solve a problem file and print the plan."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
import json
from pathlib import Path
import sys

from .core import solve
from .problem import Problem
from .schema import ProblemError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``plan`` sub-command."""
    parser = subparsers.add_parser(
        "plan", help="solve a planner problem (JSON) and print the plan as JSON"
    )
    parser.add_argument("problem", type=Path, help="problem file, see docs/planner.md")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="override the problem's solver time limit",
    )
    parser.add_argument(
        "--compact", action="store_true", help="print the JSON on one line"
    )
    parser.set_defaults(handler=_cmd_plan)


def _load_and_solve(path: Path, time_limit: float | None) -> str:
    problem = Problem.from_file(path)
    if time_limit is not None:
        if time_limit <= 0:
            raise ProblemError("--time-limit must be above 0 seconds")
        problem = replace(
            problem, solver=replace(problem.solver, time_limit_s=time_limit)
        )
    return solve(problem).to_json()


async def _cmd_plan(args: argparse.Namespace) -> int:
    """Solve in a worker thread, so that the event loop never blocks."""
    try:
        text = await asyncio.to_thread(_load_and_solve, args.problem, args.time_limit)
    except ProblemError as err:
        print(f"stroomwijs plan: {err}", file=sys.stderr)  # noqa: T201
        return 2
    if args.compact:
        text = json.dumps(json.loads(text), separators=(",", ":"))
    print(text)  # noqa: T201
    return 0
