"""Arbees command line (run.py calls main): each command wires its inputs to an engine built by
adapters/engine/build.py's build_engine (the one builder and start-up sequence of every mode).

    python run.py                      paper-trade a simulated game on virtual time (the default)
    python run.py replay FILE [--json] replay a recording through the same actors
    python run.py check-config [FILE]  validate a configuration file
    python run.py winprob | quote | positions | ...   (see --help)

Exit status: 0 success, 1 a run that found a problem, 2 bad input (config, arguments, files).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Any, Callable, Sequence


from adapters.audit.log import configure_logging
from adapters.engine.lock import EngineLocked
from adapters.cli.input_checks import BadPath, check_paths
from adapters.cli.interrupt import EXIT_INTERRUPTED, interruptible
from config.loader import ConfigError, load_config
from config.schema import Config
from adapters.cli.running import (
    UsageError, log_file_options,
)
from adapters.cli.paper import cmd_paper
from adapters.cli.replay import cmd_replay
from adapters.cli.live import cmd_live


def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    print(f"{args.file or 'defaults'}: OK")
    return 0


def cmd_migrate_config(path: str) -> int:
    """check-config --migrate FILE: print the Phase 5 design's file in our names and units."""
    from config.phase5 import migrate_file

    try:
        print(migrate_file(path), end="")
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


# --- parser ------------------------------------------------------------------------------------

def _command_modules() -> list[Any]:
    """adapters/cli/<name>.py modules, each with register(subparsers)."""
    import adapters.cli as pkg

    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mod = importlib.import_module(f"adapters.cli.{info.name}")
            if hasattr(mod, "register"):
                mods.append(mod)
    return mods


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="YAML whose values override the defaults")
    common.add_argument("--db", metavar="PATH", help="SQLite file (DATABASE_URL selects PostgreSQL)")
    common.add_argument("--audit", metavar="PATH", help="JSONL audit log file")
    common.add_argument("-v", "--verbose", action="store_true", help="debug output")
    common.add_argument("--log-file", metavar="PATH", help="also write the console's lines to this file (rotated)")
    common.add_argument("--log-rotation", metavar="WHEN", default="1 day",
                        help="rotate --log-file: '1 day', '00:00', '100 MB' (loguru's rotation; default 1 day)")
    common.add_argument("--log-retention", metavar="N", type=int, default=14,
                        help="rotated --log-file files kept (default 14)")

    # allow_abbrev=False: `audit --log FILE` must not read as an abbreviation of --log-file.
    parser = argparse.ArgumentParser(prog="arbees", description="Arbees: exits for sports prediction markets",
                                     parents=[common], allow_abbrev=False)
    parser.set_defaults(handler=cmd_paper, seed=7, sports=["nba", "nfl"], signals=None, no_auto_signals=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("paper", parents=[common], help="paper-trade simulated games on virtual time (default)")
    p.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    p.add_argument("--sports", nargs="+", default=["nba", "nfl"], choices=["nba", "nfl", "nhl"])
    p.add_argument("--signals", metavar="PATH", help="also take signals from this JSON Lines file (merged by ts)")
    p.add_argument("--no-auto-signals", action="store_true", help="drop the simulated game's own signals")
    p.set_defaults(handler=cmd_paper)

    p = sub.add_parser("replay", parents=[common], help="replay a JSON Lines recording through the actors")
    p.add_argument("file", help="JSON Lines: quote, game, signal and settle events")
    p.add_argument("--json", action="store_true", help="print one JSON object with positions and totals")
    p.add_argument("--compact", action="store_true", help="with --json: one line")
    p.set_defaults(handler=cmd_replay)

    p = sub.add_parser("live", parents=[common], help="trade on Kalshi (demo unless --env prod --confirm-prod)")
    p.add_argument("--env", choices=["demo", "prod"], default="demo")
    p.add_argument("--confirm-prod", action="store_true", help="required with --env prod: real money")
    p.add_argument("--signals", metavar="PATH", help="JSON Lines signals to follow (a file or a named pipe)")
    p.add_argument("--signals-wait", action="store_true",
                   help="--signals PATH may not exist yet: wait for a producer to create it")
    p.add_argument("--no-auto-signals", action="store_true", help="do not run the built-in ESPN edge detector")
    p.add_argument("--game", action="append", default=[], metavar="LEAGUE:EVENT_ID:TICKERS",
                   help="a game to follow on ESPN and the Kalshi markets it decides (repeatable)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--poll-only", action="store_true",
                   help="read market data by REST polling only (default: streamed over the WebSocket, REST as fallback)")
    p.set_defaults(handler=cmd_live)

    p = sub.add_parser("check-config", parents=[common], help="validate a configuration file")
    p.add_argument("file", nargs="?", help="the file to check (default: the built-in defaults)")
    p.add_argument("--migrate", metavar="FILE", help="print a Phase 5 design file in Arbees's names and units")
    p.set_defaults(handler=cmd_check_config)

    for mod in _command_modules():
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:       # a Ctrl-C outside a session (start-up, a venue command): no traceback
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_paths(args, args.command)
    except BadPath as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "func", None) is not None:        # adapters/cli/* register `func`
        try:
            options = log_file_options(args)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        configure_logging(None, verbose=getattr(args, "verbose", False), **options)
        return int(args.func(args) or 0)
    if args.handler is cmd_check_config and args.migrate:
        return cmd_migrate_config(args.migrate)
    config_file = getattr(args, "file", None) if args.handler is cmd_check_config else None
    try:
        config = load_config(config_file or args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    handler: Callable[[argparse.Namespace, Config], int] = args.handler
    try:
        if handler in (cmd_paper, cmd_replay):
            with interruptible():   # Ctrl-C asks the session to stop; see adapters/cli/interrupt.py
                return handler(args, config)
        return handler(args, config)
    except (UsageError, EngineLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


