"""`exit POSITION | MARKET SIDE | --all` and `entries pause|resume`: steer a running engine
through its control channel (adapters/operator/control.py, a Unix socket beside the database).

`exit` closes a position now, as a CRITICAL exit with the reason `manual` (the position is
named as for `timeline`: an id, a unique prefix, or a market and side); `--all` closes every
open position. `entries pause` stops new entries (exits keep running; the pause outlives a
restart), `entries resume` restarts them. Each prints the engine's answer. Exit status: 0 done
(or nothing to do), 1 refused, 2 bad input or no engine listening.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from adapters.cli.read_options import ReadInputError, add_read_arguments, engine_files, open_repository
from adapters.operator.control import ControlError, control_paths, send_command
from adapters.operator.timeline_view import PositionNotFound, find_position


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("exit", help="close a position of the running engine now (CRITICAL, reason manual)")
    p.add_argument("position", nargs="?", help="a position id (or a unique prefix), or a market ticker and a side")
    p.add_argument("side", nargs="?", choices=["yes", "no", "YES", "NO"], help="with a market: yes or no")
    p.add_argument("--all", action="store_true", help="close every open position")
    add_read_arguments(p, json_flag=False)
    p.set_defaults(func=run_exit)

    p = subparsers.add_parser("entries", help="pause or resume new entries of the running engine")
    p.add_argument("action", choices=["pause", "resume"])
    p.add_argument("--reason", default="by the operator", help="recorded with the pause")
    add_read_arguments(p, json_flag=False)
    p.set_defaults(func=run_entries)


def _send(args: argparse.Namespace, request: dict[str, Any], out: TextIO, err: TextIO) -> int:
    files = engine_files(args)
    socket_path, _ = control_paths(files.db, files.config.storage.database_path)
    try:
        reply = send_command(socket_path, request)
    except ControlError as exc:
        print(f"error: {exc}", file=err)
        return 2
    print(("done: " if reply["ok"] else "refused: ") + str(reply.get("answer", "")), file=out)
    return 0 if reply["ok"] else 1


def run_exit(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if args.all:
            if args.position:
                print("error: give a position or --all, not both", file=err)
                return 2
            return _send(args, {"command": "exit", "all": True}, out, err)
        if not args.position:
            print("error: give a position (id, or market and side) or --all", file=err)
            return 2
        files = engine_files(args)
        with open_repository(files.db) as repo:
            position = find_position(repo, args.position, args.side)
        return _send(args, {"command": "exit", "position_id": position.position_id}, out, err)
    except (ReadInputError, PositionNotFound) as exc:
        print(f"error: {exc}", file=err)
        return 2


def run_entries(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return _send(args, {"command": "entries", "action": args.action, "reason": args.reason}, out, err)
    except ReadInputError as exc:
        print(f"error: {exc}", file=err)
        return 2
