"""`dashboard [--port N] [--refresh-secs N] [--db] [--audit]`: the read-only live dashboard on
http://127.0.0.1:PORT (adapters/operator/dashboard.py) until Ctrl-C. Exit status: 0 stopped, 2 bad
input (unreadable files, a port in use)."""
from __future__ import annotations

import argparse
import sys
import threading
from typing import TextIO

from adapters.cli.read_options import ReadInputError, add_read_arguments, engine_files, open_repository
from adapters.operator.dashboard import Dashboard, DashboardServer


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dashboard", help="a read-only live web page on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8050, help="port on 127.0.0.1 (default 8050; 0 picks a free one)")
    parser.add_argument("--refresh-secs", type=int, default=5, help="how often the page reloads its data (default 5)")
    add_read_arguments(parser, json_flag=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        stop: threading.Event | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    if not 0 <= args.port <= 65535 or args.refresh_secs < 1:
        print("error: --port must be 0-65535 and --refresh-secs 1 or more", file=err)
        return 2
    try:
        files = engine_files(args)
        with open_repository(files.db):
            pass                                    # readable now (it is read again on each request)
        server = DashboardServer(Dashboard(files, refresh_secs=args.refresh_secs), args.port).start()
    except ReadInputError as exc:
        print(f"error: {exc}", file=err)
        return 2
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=err)
        return 2
    print(f"dashboard on {server.url} (read-only; Ctrl-C stops it)", file=out, flush=True)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
