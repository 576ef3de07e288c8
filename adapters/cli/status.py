"""`status [--db PATH] [--audit FILE] [--json]`: the engine's state now, from its files only.

Is it alive (its HEARTBEAT), the circuit breaker, venue calls used this minute, alert delivery,
entries paused, and every open position (contracts held, entry, mark, unrealized P&L, stop /
trailing stop / next partial stage prices, the exit in flight, quote age, model probability).
Exit status: 0 printed, 2 unreadable input.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import TextIO

from adapters.audit.log import to_jsonable
from adapters.cli.read_options import ReadInputError, add_read_arguments, engine_files, open_repository
from adapters.operator.status_view import build_status, format_status


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="is the engine alive, its breaker, budget and open positions")
    add_read_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        now: datetime | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        files = engine_files(args)
        with open_repository(files.db) as repo:
            status = build_status(repo, files.audit, files.config, now or datetime.now(timezone.utc))
    except ReadInputError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if getattr(args, "json", False):
        print(json.dumps(to_jsonable(status), indent=2), file=out)
    else:
        print(format_status(status), file=out)
    return 0
