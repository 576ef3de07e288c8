"""`timeline POSITION | MARKET SIDE [--mark-step-secs N] [--db] [--audit] [--json]`: one
position's whole story, in order (adapters/operator/timeline_view.py). Exit status: 0 printed, 2 no
such position or unreadable input."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import TextIO

from adapters.audit.log import to_jsonable
from adapters.cli.read_options import ReadInputError, add_read_arguments, engine_files, open_repository
from adapters.operator.timeline_view import PositionNotFound, build_timeline, find_position, format_timeline


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("timeline", help="one position's whole story, in order")
    parser.add_argument("position", help="a position id (or a unique prefix), or a market ticker followed by a side")
    parser.add_argument("side", nargs="?", choices=["yes", "no", "YES", "NO"], help="with a market: yes or no")
    parser.add_argument("--mark-step-secs", type=int, default=60,
                        help="show marks between decisions at most this often (default 60)")
    add_read_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if args.mark_step_secs <= 0:
        print("error: --mark-step-secs must be a positive number of seconds", file=err)
        return 2
    try:
        files = engine_files(args)
        with open_repository(files.db) as repo:
            position = find_position(repo, args.position, args.side)
            timeline = build_timeline(repo, files.audit, position, mark_step=timedelta(seconds=args.mark_step_secs))
    except (ReadInputError, PositionNotFound) as exc:
        print(f"error: {exc}", file=err)
        return 2
    if getattr(args, "json", False):
        print(json.dumps(to_jsonable(timeline), indent=2), file=out)
    else:
        print(format_timeline(timeline), file=out)
    return 0
