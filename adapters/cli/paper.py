"""`paper` (the default command): paper-trade simulated games on virtual time, on the paper venue.
"""
from __future__ import annotations

import argparse
import heapq
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loguru import logger

from adapters.audit.log import configure_logging
from adapters.engine.build import build_engine
from adapters.engine.lock import lock_database
from adapters.engine.fail_safe import EngineFailedSafe
from adapters.cli.interrupt import EXIT_INTERRUPTED, interrupt_note, stop_requested
from adapters.cli.summary import build_summary, format_summary
from config.schema import Config
from models.events import ModelProbabilityUpdated
from models.signal import TradingSignal
from adapters.cli.running import (
    SIM_AUDIT, SIM_DB, UsageError, flatten_after_failure, fresh_files, log_file_options, open_alerts, stop_engine,
)


# The simulated games' own model is their fair value plus a little noise, and their market lags it
# (adapters/sim/game.py): a P&L made on those signals shows the engine at work, not an edge.
SIM_SIGNALS_NOTE = ("the simulated games' own model (their fair value plus noise, with the market lagging it): "
                    "this P&L shows the engine at work, not evidence of a strategy's edge")


def cmd_paper(args: argparse.Namespace, config: Config) -> int:
    from adapters.sim.session import VirtualSession
    from adapters.sim.game import SimulatedGame, make_session, merge_events

    start = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)
    audit_path = args.audit or SIM_AUDIT
    outside = read_signals_file(Path(args.signals)) if args.signals else None   # bad input: before any file is touched
    lock = lock_database(args.db or SIM_DB)  # before anything is wiped: another engine may be using them
    fresh_files(audit_path)                      # a simulated run starts a new audit log
    configure_logging(Path(audit_path), verbose=args.verbose, **log_file_options(args))
    games: list[SimulatedGame] = make_session(args.seed, start, tuple(args.sports))
    engine = build_engine("paper", config, db_path=args.db or SIM_DB, start=start, fresh=True, seed=args.seed,
                          lock=lock, alerts=open_alerts(config))
    for g in games:
        logger.bind(market_ts=engine.clock.now().strftime("%m-%d %H:%M:%S")).info(
            "simulated {} game {} at {} (seed {}): market {} (YES = {} wins)", g.sport.upper(), g.away,
            g.home, args.seed, g.ticker, g.home)
    # The simulated game sends its model's estimates itself; game states are shown, not re-modelled.
    session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock)
    events = ((e.ts, e.payload) for e in merge_events(games))
    if args.no_auto_signals:   # the simulation's model stays out: its signals and its estimates
        events = ((ts, p) for ts, p in events if not isinstance(p, (TradingSignal, ModelProbabilityUpdated)))
    if outside is not None:
        logger.info("{} signals from {} merged into the simulation by their ts", len(outside), args.signals)
        events = heapq.merge(events, outside, key=lambda e: e[0])
    try:
        session.run(events, stop=stop_requested)
    except EngineFailedSafe as exc:
        return flatten_after_failure(engine, str(exc))
    finally:
        stop_engine(engine)
    summary = build_summary(engine.repository)
    span = (session.last_ts - session.first_ts) if session.first_ts else None
    honest = {} if args.no_auto_signals else {"Signals": SIM_SIGNALS_NOTE}
    print(format_summary(summary, extra={
        **honest,
        "Virtual time simulated": str(span).split(".")[0] if span else "-",
        "Database": args.db or SIM_DB, "Audit log": audit_path, **interrupt_note(engine.clock.now())}))
    return EXIT_INTERRUPTED if session.interrupted else 0


def read_signals_file(path: Path) -> list[tuple[datetime, Any]]:
    """The signals of a JSON Lines file (the replay format's "signal" events), for paper mode:
    merged into the simulated session by timestamp. The whole file is read before the session
    starts, so a bad line is bad input (UsageError, exit 2, every bad line named), not a warning
    scrolled past while the session runs without that signal."""
    from adapters.files.signals import SignalFollower

    if not path.exists():
        raise UsageError(f"--signals {path}: no such file")
    found: list[TradingSignal] = []
    follower = SignalFollower(path, found.append, platform="paper")
    follower.poll()
    follower.stop()
    if follower.problems:
        shown = "; ".join(follower.problems[:5]) + ("; ..." if len(follower.problems) > 5 else "")
        raise UsageError(f"--signals {path}: {len(follower.problems)} line(s) are not valid signals "
                         f"(expected one JSON signal object a line, see docs/formats.md): {shown}")
    return sorted(((s.ts, s) for s in found), key=lambda e: e[0])
