"""Arbees command line: each command wires its inputs to an engine built by
adapters/engine.py's build_engine (the one builder and start-up sequence of every mode).

    python run.py                      paper-trade a simulated game on virtual time (the default)
    python run.py replay FILE [--json] replay a recording through the same actors
    python run.py check-config [FILE]  validate a configuration file
    python run.py winprob | quote | positions | ...   (see --help)

Exit status: 0 success, 1 a run that found a problem, 2 bad input (config, arguments, files).
"""
from __future__ import annotations

import argparse
import heapq
import importlib
import json
import os
import pkgutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from loguru import logger

from adapters import fail_safe
from adapters.audit_log import configure_logging
from adapters.engine import Engine, HoldingsNotCompared, build_engine, remove_sqlite_files
from adapters.engine_lock import EngineLocked, lock_database, lock_kalshi_key
from adapters.fail_safe import EngineFailedSafe
from adapters.input_checks import BadPath, check_paths
from adapters.interrupt import EXIT_INTERRUPTED, interrupt_note, interruptible, stop_requested
from adapters.summary import build_summary, format_summary
from config.loader import ConfigError, load_config
from config.schema import Config
from models.messages import ModelProbabilityUpdated
from models.signal import TradingSignal

SIM_DB = "arbees-sim.db"
SIM_AUDIT = "arbees-sim-audit.jsonl"
REPLAY_DB = "arbees-replay.db"
REPLAY_AUDIT = "arbees-replay-audit.jsonl"


class UsageError(Exception):
    """Bad command-line input: exit status 2 with the message."""


PaperEngine = Engine   # the name tests and adapters knew it by


def _fresh(path: str) -> None:
    remove_sqlite_files(path)


def build_paper_engine(config: Config, start: datetime, *, db_path: str, audit_path: str | None = None,
                       mode: str = "paper", seed: int | None = 0, **kw: Any) -> Engine:
    """`adapters.engine.build_engine` in a virtual-time mode (paper by default), under the name
    callers knew; every engine is built and started there (and takes the database's engine lock
    unless the caller hands in the one it took). A paper run's retry jitter follows its
    simulation seed (0 unless given), so the run is reproducible."""
    kw.setdefault("alerts", _open_alerts(config))
    return build_engine(mode, config, db_path=db_path, start=start, seed=seed, **kw)


def _stop_engine(engine: Any) -> None:
    """Flush and stop; after a fail-safe a core actor may be dead: stopping carries on."""
    try:
        engine.system.flush()
    except Exception as exc:  # noqa: BLE001
        if not (engine.system.failure and engine.system.failure.reason):
            raise
        logger.error("final flush failed after the engine failed safe: {}", type(exc).__name__)
    try:
        engine.stop()
    except Exception as exc:  # noqa: BLE001
        if not (engine.system.failure and engine.system.failure.reason):
            raise
        logger.error("stopping after the engine failed safe: {}", type(exc).__name__)


def flatten_after_failure(engine: Any, reason: str) -> int:
    """The Watchdog failed the engine safe: stop it, sell everything at the venue directly,
    explain, and return the fail-safe exit status."""
    _stop_engine(engine)
    report = fail_safe.flatten(engine.venue, engine.repository, engine.audit, engine.clock)
    print(f"ENGINE FAILED SAFE: {reason}\n  entries halted; {len(report.sent)} fail-safe sell orders sent at the "
          "venue directly" + (f"; STILL HELD: {'; '.join(report.still_held)}" if report.still_held
                              else "; nothing is held any more"), file=sys.stderr)
    return fail_safe.EXIT_CODE


def _log_file_options(args: argparse.Namespace) -> dict[str, Any]:
    """--log-file PATH [--log-rotation WHEN] [--log-retention N]: the console's lines in a file too."""
    if not getattr(args, "log_file", None):
        return {}
    if args.log_retention < 1:
        raise UsageError(f"--log-retention {args.log_retention}: expected a number of files, 1 or more")
    try:                                    # loguru checks the rotation when a file sink is added
        logger.remove(logger.add(os.devnull, rotation=args.log_rotation, delay=True))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--log-rotation {args.log_rotation!r}: {exc}") from None
    return {"log_file": args.log_file, "log_rotation": args.log_rotation, "log_retention": args.log_retention}


def _open_alerts(config: Config) -> Any:
    """The alert channels of the configuration (None without any); a missing secret is bad input."""
    from adapters.alerts import AlertSetupError, open_alerts

    try:
        return open_alerts(config.alerts, os.environ)
    except AlertSetupError as exc:
        raise UsageError(str(exc)) from None


def _open_control(system: Any, db_path: str, config: Config) -> Any:
    """The control channel (`exit`, `entries pause|resume`): a Unix socket beside the database."""
    from adapters.control import ControlError, ControlServer, control_paths

    try:
        return ControlServer.start(system, *control_paths(db_path, config.storage.database_path))
    except ControlError as exc:
        system.stop()
        raise UsageError(str(exc)) from None


# --- commands ----------------------------------------------------------------------------------

def cmd_paper(args: argparse.Namespace, config: Config) -> int:
    from adapters.session import VirtualSession
    from adapters.sim_game import SimulatedGame, make_session, merge_events

    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    audit_path = args.audit or SIM_AUDIT
    lock = lock_database(args.db or SIM_DB)  # before anything is wiped: another engine may be using them
    _fresh(audit_path)                      # a simulated run starts a new audit log
    configure_logging(Path(audit_path), verbose=args.verbose, **_log_file_options(args))
    games: list[SimulatedGame] = make_session(args.seed, start, tuple(args.sports))
    engine = build_engine("paper", config, db_path=args.db or SIM_DB, start=start, fresh=True, seed=args.seed,
                          lock=lock, alerts=_open_alerts(config))
    for g in games:
        logger.bind(market_ts=engine.clock.now().strftime("%m-%d %H:%M:%S")).info(
            "simulated {} game {} at {} (seed {}): market {} (YES = {} wins)", g.sport.upper(), g.away,
            g.home, args.seed, g.ticker, g.home)
    # The simulated game sends its model's estimates itself; game states are shown, not re-modelled.
    session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock)
    events = ((e.ts, e.payload) for e in merge_events(games))
    if args.no_auto_signals:   # the simulation's model stays out: its signals and its estimates
        events = ((ts, p) for ts, p in events if not isinstance(p, (TradingSignal, ModelProbabilityUpdated)))
    if args.signals:
        outside = _read_signals_file(Path(args.signals))
        logger.info("{} signals from {} merged into the simulation by their ts", len(outside), args.signals)
        events = heapq.merge(events, outside, key=lambda e: e[0])
    try:
        session.run(events, stop=stop_requested)
    except EngineFailedSafe as exc:
        return flatten_after_failure(engine, str(exc))
    finally:
        _stop_engine(engine)
    summary = build_summary(engine.repository)
    span = (session.last_ts - session.first_ts) if session.first_ts else None
    print(format_summary(summary, extra={
        "Virtual time simulated": str(span).split(".")[0] if span else "-",
        "Database": args.db or SIM_DB, "Audit log": audit_path, **interrupt_note(engine.clock.now())}))
    return EXIT_INTERRUPTED if session.interrupted else 0


def _read_signals_file(path: Path) -> list[tuple[datetime, Any]]:
    """The signals of a JSON Lines file (the replay format's "signal" events), for paper mode:
    merged into the simulated session by timestamp. Malformed lines are reported and skipped."""
    from adapters.signal_file import SignalFollower

    if not path.exists():
        raise UsageError(f"--signals {path}: no such file")
    found: list[TradingSignal] = []
    follower = SignalFollower(path, found.append, platform="paper")
    follower.poll()
    follower.stop()
    return sorted(((s.ts, s) for s in found), key=lambda e: e[0])


def cmd_replay(args: argparse.Namespace, config: Config) -> int:
    from adapters.replay import ReplayError, read_replay
    from adapters.session import VirtualSession
    from models.winprob import home_win_probability

    try:
        events, links = read_replay(Path(args.file))
    except ReplayError as exc:
        raise UsageError(str(exc)) from None
    if not events:
        raise UsageError(f"{args.file}: no events")
    audit_path = args.audit or REPLAY_AUDIT
    lock = lock_database(args.db or REPLAY_DB)  # before anything is wiped: another engine may be using them
    _fresh(audit_path)
    configure_logging(Path(audit_path), console=not args.json, verbose=args.verbose, **_log_file_options(args))
    # The recording is the market: between its lines nothing changed (streamed quotes).
    engine = build_engine("replay", config, db_path=args.db or REPLAY_DB, start=events[0][0], fresh=True, seed=0,
                          lock=lock, alerts=_open_alerts(config))
    session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock,
                             links=links, model=home_win_probability)
    try:
        session.run(events, stop=stop_requested)
    except EngineFailedSafe as exc:
        return flatten_after_failure(engine, str(exc))
    finally:
        _stop_engine(engine)
    summary = build_summary(engine.repository)
    if args.json:
        print(json.dumps({**summary, "interrupted": True} if session.interrupted else summary,
                         indent=None if args.compact else 2))
    else:
        print(format_summary(summary, extra={"Events replayed": session.events,
                                             "Database": args.db or REPLAY_DB, "Audit log": audit_path,
                                             **interrupt_note(engine.clock.now())}))
    return EXIT_INTERRUPTED if session.interrupted else 0


def cmd_live(args: argparse.Namespace, config: Config) -> int:
    """Trade on Kalshi (the demo environment unless --env prod --confirm-prod) on the wall clock."""
    import signal as os_signal
    import threading

    from actors.clock import WallClock
    from actors.game_feed import GameFeed, WatchGame
    from models.messages import FollowGames
    from actors.rate_limiter import RateLimiter
    from adapters.commands.venue_options import SETUP_ERRORS, close_venue, describe
    from adapters.espn_client import EspnClient
    from adapters.espn_source import EspnSource
    from adapters.kalshi.config import open_kalshi_venue
    from adapters.signal_file import SignalFollower
    from models.winprob import home_win_probability

    games = [_parse_game_arg(g) for g in args.game]
    try:   # before the log or the database is touched: a setup error exits 2 leaving nothing behind
        venue = open_kalshi_venue(os.environ, WallClock(), env=args.env, confirm_prod=args.confirm_prod)
    except SETUP_ERRORS as exc:
        raise UsageError(str(exc)) from None
    try:   # one engine per account: per database and per Kalshi key (adapters/engine_lock.py)
        db_lock = lock_database(args.db or config.storage.database_path)
        key_lock = lock_kalshi_key(os.environ.get("KALSHI_KEY_ID", ""))
    except EngineLocked:
        close_venue(venue)
        raise
    audit_path = args.audit or config.storage.audit_path
    configure_logging(Path(audit_path), verbose=args.verbose, rotate_audit_daily=True, **_log_file_options(args))
    # Reconcile with Kalshi before anything is sent (retried with back-off until the holdings are
    # compared: nothing trades before), then start, then resume (adapters/engine.py).
    deadline = datetime.now(timezone.utc) + timedelta(seconds=args.duration_s) if args.duration_s is not None else None
    try:
        engine = build_engine("live", config, db_path=args.db or config.storage.database_path,
                              venue_factory=lambda clock: venue, deadline=deadline, lock=db_lock,
                              alerts=_open_alerts(config))
    except HoldingsNotCompared:
        key_lock.release()
        close_venue(venue)
        print("error: the venue's holdings were never compared with the database (venue unreachable or "
              "interrupted); nothing was traded", file=sys.stderr)
        return 1
    clock, system, rt, audit = engine.clock, engine.system, engine.system.rt, engine.audit
    control = _open_control(system, args.db or config.storage.database_path, config)   # issue 12
    if engine.startup.report.alerts:
        logger.warning("reconcile raised {} alerts; see the audit log", len(engine.startup.report.alerts))
    logger.info("live on {}: {} open positions resumed from {}", describe(venue), engine.startup.resumed,
                args.db or config.storage.database_path)
    espn = EspnSource(EspnClient(clock))
    espn_gateway = RateLimiter.start(rt, espn, 60, None)
    feed = system.watch_game_feed(lambda handle: GameFeed.start(    # supervised: restarted by the Watchdog
        rt, espn_gateway, system.refs.supervisor, system.refs.price_cache, system.refs.entry_manager,
        home_win_probability, auto_signals=not args.no_auto_signals, handle=handle))
    # Issue 13: market data streamed over the WebSocket, REST polling as the fallback (per market);
    # --poll-only keeps pure polling.
    if args.poll_only:
        from adapters.kalshi.market_data import POLL_ONLY

        audit.add_heartbeat_source(lambda: {"market_data": POLL_ONLY})
    else:
        from adapters.kalshi.market_data import start_market_stream

        start_market_stream(system, venue)
    for league, event_id, tickers in games:
        rt.send(feed, WatchGame(event_id, league, tickers))
    rt.send(system.refs.supervisor, FollowGames(feed))     # and the games of every open position
    follower = None
    if args.signals:
        follower = SignalFollower(Path(args.signals), system.push_signal, platform="kalshi")
        follower.start()
    done = threading.Event()
    system.failure.listeners.append(done.set)     # the engine failed safe: stop waiting
    previous = {sig: os_signal.signal(sig, lambda *_: done.set()) for sig in (os_signal.SIGINT, os_signal.SIGTERM)}
    try:
        done.wait(None if deadline is None else max(0.0, (deadline - clock.now()).total_seconds()))
    except BaseException as exc:   # issue 12: an abnormal stop is an alert
        audit.emit("ALERT", f"ALERT engine stopping abnormally ({type(exc).__name__}); open positions stay on the "
                            "venue and resume on the next start", error=type(exc).__name__)
        audit.close(10)            # the alert goes out before the process does
        raise
    finally:   # give the caller its handlers back (Ctrl-C must work again after an in-process run)
        for sig, handler in previous.items():
            os_signal.signal(sig, handler)
    failed = system.failure.reason
    if not failed:
        logger.info("stopping: open positions stay on the venue and resume on the next start")
    if follower is not None:
        follower.stop()
    control.stop()
    espn_gateway.stop(timeout=10)
    if failed:
        status = flatten_after_failure(engine, failed)
    else:
        engine.stop()
    espn.close()
    close_venue(venue)
    key_lock.release()
    if failed:
        return status
    print(format_summary(build_summary(engine.repository)))
    return 0


def _parse_game_arg(text: str) -> tuple[str, str, tuple[str, ...]]:
    import re

    from adapters.espn_fields import league

    parts = [p.strip() for p in text.split(":")]
    tickers = tuple(t.strip() for t in parts[2].split(",") if t.strip()) if len(parts) == 3 else ()
    if len(parts) != 3 or not all(parts) or not tickers:
        raise UsageError(f"--game {text!r}: expected LEAGUE:ESPN_EVENT_ID:TICKER[,TICKER...] "
                         "(e.g. nba:401810123:KXNBAGAME-25NOV22LACCHA-LAC,KXNBAGAME-25NOV22LACCHA-CHA)")
    try:
        league(parts[0])
    except ValueError as exc:
        raise UsageError(f"--game {text!r}: {exc}") from None
    if not re.fullmatch(r"[A-Za-z0-9-]{1,40}", parts[1]):
        raise UsageError(f"--game {text!r}: the ESPN event id must be letters, digits or '-', found {parts[1]!r}")
    return parts[0].lower(), parts[1], tickers


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
    """adapters/commands/<name>.py modules, each with register(subparsers)."""
    import adapters.commands as pkg

    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            mod = importlib.import_module(f"adapters.commands.{info.name}")
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
    if getattr(args, "func", None) is not None:        # adapters/commands/* register `func`
        try:
            options = _log_file_options(args)
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
            with interruptible():   # Ctrl-C asks the session to stop; see adapters/interrupt.py
                return handler(args, config)
        return handler(args, config)
    except (UsageError, EngineLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
