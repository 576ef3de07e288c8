"""Arbees command line: the one place where everything is built and wired.

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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from loguru import logger

from actors.clock import VirtualClock
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from actors.system import System
from adapters.audit_log import Audit, configure_logging
from adapters.database import connect, migrate
from adapters.repository import Repository
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


@dataclass
class PaperEngine:
    """Everything one virtual-time paper run needs, built here and nowhere else."""

    config: Config
    clock: VirtualClock
    scheduler: VirtualScheduler
    venue: Any
    repository: Repository
    system: System
    audit: Audit

    def stop(self) -> None:
        self.system.stop()
        self.audit.close()          # queued alerts go out (bounded)


def _fresh(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        p = Path(path + suffix)
        if p.exists():
            p.unlink()


def build_paper_engine(config: Config, start: datetime, *, db_path: str, audit_path: str | None,
                       fresh: bool = True, seed: int = 0, recorder: list | None = None,
                       balance: str = "100000",
                       venue_factory: Callable[[VirtualClock], Any] | None = None,
                       streamed_quotes: bool = False) -> PaperEngine:
    """A virtual-time engine on a PaperVenue. `venue_factory(clock)`, when given, builds the
    engine's venue on the engine's clock instead (the end-to-end tests hand in a KalshiVenue
    talking to the loopback fake Kalshi, whose PaperVenue shares that clock)."""
    from decimal import Decimal

    from adapters.paper_venue import PaperVenue

    if fresh and not os.environ.get("DATABASE_URL"):
        _fresh(db_path)
    clock = VirtualClock(start)
    activity = ActivityTracker()
    scheduler = VirtualScheduler(clock, activity)
    audit = Audit(clock, recorder, alerts=_open_alerts(config))
    db = connect(db_path)
    migrate(db, clock)
    repository = Repository(db, clock)
    venue = (venue_factory(clock) if venue_factory is not None
             else PaperVenue(clock, starting_balance=Decimal(balance)))
    rt = Runtime(clock, scheduler, activity, audit, streamed_quotes=streamed_quotes)
    system = System.start(rt, config, venue, repository, seed=seed)
    return PaperEngine(config, clock, scheduler, venue, repository, system, audit)


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


def _open_control(system: System, db_path: str, config: Config) -> Any:
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
    _fresh(audit_path)                      # a simulated run starts a new audit log
    configure_logging(Path(audit_path), verbose=args.verbose, **_log_file_options(args))
    games: list[SimulatedGame] = make_session(args.seed, start, tuple(args.sports))
    engine = build_paper_engine(config, start, db_path=args.db or SIM_DB, audit_path=audit_path, seed=args.seed)
    for g in games:
        logger.info("simulated {} game {} at {} (seed {}): market {} (YES = {} wins)", g.sport.upper(), g.away,
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
        session.run(events)
    finally:
        engine.system.flush()
        engine.stop()
    summary = build_summary(engine.repository)
    span = (session.last_ts - session.first_ts) if session.first_ts else None
    print(format_summary(summary, extra={
        "Virtual time simulated": str(span).split(".")[0] if span else "-",
        "Database": args.db or SIM_DB, "Audit log": audit_path}))
    return 0


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
    _fresh(audit_path)
    configure_logging(Path(audit_path), console=not args.json, verbose=args.verbose, **_log_file_options(args))
    # The recording is the market: between its lines nothing changed (streamed quotes).
    engine = build_paper_engine(config, events[0][0], db_path=args.db or REPLAY_DB, audit_path=audit_path,
                                streamed_quotes=True)
    session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock,
                             links=links, model=home_win_probability)
    try:
        session.run(events)
    finally:
        engine.system.flush()
        engine.stop()
    summary = build_summary(engine.repository)
    if args.json:
        print(json.dumps(summary, indent=None if args.compact else 2))
    else:
        print(format_summary(summary, extra={"Events replayed": session.events,
                                             "Database": args.db or REPLAY_DB, "Audit log": audit_path}))
    return 0


def cmd_live(args: argparse.Namespace, config: Config) -> int:
    """Trade on Kalshi (the demo environment unless --env prod --confirm-prod) on the wall clock."""
    import signal as os_signal
    import threading

    from actors.clock import WallClock
    from actors.game_feed import GameFeed, WatchGame
    from models.messages import FollowGames
    from actors.rate_limiter import RateLimiter
    from actors.scheduler import RealScheduler
    from adapters.commands.venue_options import SETUP_ERRORS, close_venue, describe
    from adapters.espn_client import EspnClient
    from adapters.espn_source import EspnSource
    from adapters.kalshi.config import open_kalshi_venue
    from adapters.signal_file import SignalFollower
    from models.winprob import home_win_probability

    games = [_parse_game_arg(g) for g in args.game]
    clock = WallClock()
    try:
        venue = open_kalshi_venue(os.environ, clock, env=args.env, confirm_prod=args.confirm_prod)
    except SETUP_ERRORS as exc:
        raise UsageError(str(exc)) from None
    audit_path = args.audit or config.storage.audit_path
    configure_logging(Path(audit_path), verbose=args.verbose, rotate_audit_daily=True, **_log_file_options(args))
    activity = ActivityTracker()
    scheduler = RealScheduler(clock, activity)
    audit = Audit(clock, alerts=_open_alerts(config))
    db = connect(args.db or config.storage.database_path)
    migrate(db, clock)
    repository = Repository(db, clock)
    rt = Runtime(clock, scheduler, activity, audit)
    import time as wall_time

    from adapters.reconcile import reconcile
    from models.budget import CallBudget
    # Before anything is sent; it keeps the call budget (waiting on the wall clock for room).
    report = reconcile(venue, repository, audit, clock, budget=CallBudget(config.monitoring.max_api_calls_per_minute),
                       wait=lambda until: wall_time.sleep(max(0.0, (until - clock.now()).total_seconds())))
    if report.alerts:
        logger.warning("reconcile raised {} alerts; see the audit log", len(report.alerts))
    system = System.start(rt, config, venue, repository, platform="kalshi")
    control = _open_control(system, args.db or config.storage.database_path, config)   # issue 12
    system.count_prior_calls(report.call_times)
    resumed = system.resume_open_positions(skip=report.unconfirmed_positions)
    logger.info("live on {}: {} open positions resumed from {}", describe(venue), resumed,
                args.db or config.storage.database_path)
    espn = EspnSource(EspnClient(clock))
    espn_gateway = RateLimiter.start(rt, espn, 60, None)
    feed = GameFeed.start(rt, espn_gateway, system.refs.supervisor, system.refs.price_cache,
                          system.refs.entry_manager, home_win_probability, auto_signals=not args.no_auto_signals)
    for league, event_id, tickers in games:
        rt.send(feed, WatchGame(event_id, league, tickers))
    rt.send(system.refs.supervisor, FollowGames(feed))     # and the games of every open position
    follower = None
    if args.signals:
        follower = SignalFollower(Path(args.signals), system.push_signal, platform="kalshi")
        follower.start()
    done = threading.Event()
    previous = {sig: os_signal.signal(sig, lambda *_: done.set()) for sig in (os_signal.SIGINT, os_signal.SIGTERM)}
    try:
        done.wait(args.duration_s)
    except BaseException as exc:   # issue 12: an abnormal stop is an alert
        audit.emit("ALERT", f"ALERT engine stopping abnormally ({type(exc).__name__}); open positions stay on the "
                            "venue and resume on the next start", error=type(exc).__name__)
        audit.close(10)            # the alert goes out before the process does
        raise
    finally:   # give the caller its handlers back (Ctrl-C must work again after an in-process run)
        for sig, handler in previous.items():
            os_signal.signal(sig, handler)
    logger.info("stopping: open positions stay on the venue and resume on the next start")
    if follower is not None:
        follower.stop()
    control.stop()
    feed.stop(timeout=10)
    espn_gateway.stop(timeout=10)
    system.stop()
    scheduler.stop()
    espn.close()
    close_venue(venue)
    audit.close()
    print(format_summary(build_summary(repository)))
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
    p.add_argument("--no-auto-signals", action="store_true", help="do not run the built-in ESPN edge detector")
    p.add_argument("--game", action="append", default=[], metavar="LEAGUE:EVENT_ID:TICKERS",
                   help="a game to follow on ESPN and the Kalshi markets it decides (repeatable)")
    p.add_argument("--duration-s", type=float, default=None, help="stop after this many seconds")
    p.set_defaults(handler=cmd_live)

    p = sub.add_parser("check-config", parents=[common], help="validate a configuration file")
    p.add_argument("file", nargs="?", help="the file to check (default: the built-in defaults)")
    p.set_defaults(handler=cmd_check_config)

    for mod in _command_modules():
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is not None:        # adapters/commands/* register `func`
        try:
            options = _log_file_options(args)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        configure_logging(None, verbose=getattr(args, "verbose", False), **options)
        return int(args.func(args) or 0)
    config_file = getattr(args, "file", None) if args.handler is cmd_check_config else None
    try:
        config = load_config(config_file or args.config)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    handler: Callable[[argparse.Namespace, Config], int] = args.handler
    try:
        return handler(args, config)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
