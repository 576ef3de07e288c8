"""`live`: trade on Kalshi (demo unless --env prod --confirm-prod), with the ESPN feed and signals.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loguru import logger

from adapters.audit.log import configure_logging
from adapters.engine.build import HoldingsNotCompared, build_engine
from adapters.engine.lock import EngineLocked, lock_database, lock_kalshi_key
from adapters.cli.summary import build_summary, format_summary
from config.schema import Config
from models import audit_events as ae
from adapters.cli.running import (
    UsageError, flatten_after_failure, log_file_options, open_alerts, open_control,
)


def cmd_live(args: argparse.Namespace, config: Config) -> int:
    """Trade on Kalshi (the demo environment unless --env prod --confirm-prod) on the wall clock."""
    import signal as os_signal
    import threading

    from actors.clock import WallClock
    from actors.game_feed import GameFeed
    from models.commands import WatchGame
    from models.commands import FollowGames
    from actors.rate_limiter import RateLimiter
    from adapters.cli.venue_options import SETUP_ERRORS, close_venue, describe
    from adapters.espn.client import EspnClient
    from adapters.espn.source import EspnSource
    from adapters.kalshi.config import open_kalshi_venue
    from adapters.files.signals import SignalFollower
    from models.winprob import home_win_probability

    games = [parse_game_arg(g) for g in args.game]
    try:   # before the log or the database is touched: a setup error exits 2 leaving nothing behind
        venue = open_kalshi_venue(os.environ, WallClock(), env=args.env, confirm_prod=args.confirm_prod)
    except SETUP_ERRORS as exc:
        raise UsageError(str(exc)) from None
    try:   # one engine per account: per database and per Kalshi key (adapters/engine/lock.py)
        db_lock = lock_database(args.db or config.storage.database_path)
        key_lock = lock_kalshi_key(os.environ.get("KALSHI_KEY_ID", ""))
    except EngineLocked:
        close_venue(venue)
        raise
    audit_path = args.audit or config.storage.audit_path
    configure_logging(Path(audit_path), verbose=args.verbose, rotate_audit_daily=True, **log_file_options(args))
    # Reconcile with Kalshi before anything is sent (retried with back-off until the holdings are
    # compared: nothing trades before), then start, then resume (adapters/engine/build.py).
    deadline = datetime.now(timezone.utc) + timedelta(seconds=args.duration_s) if args.duration_s is not None else None
    try:
        engine = build_engine("live", config, db_path=args.db or config.storage.database_path,
                              venue_factory=lambda clock: venue, deadline=deadline, lock=db_lock,
                              alerts=open_alerts(config))
    except HoldingsNotCompared:
        key_lock.release()
        close_venue(venue)
        print("error: the venue's holdings were never compared with the database (venue unreachable or "
              "interrupted); nothing was traded", file=sys.stderr)
        return 1
    clock, system, rt, audit = engine.clock, engine.system, engine.system.rt, engine.audit
    control = open_control(system, args.db or config.storage.database_path, config)   # issue 12
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
        audit.emit(ae.Alert(said=f"ALERT engine stopping abnormally ({type(exc).__name__}); open positions stay on "
                                 "the venue and resume on the next start", error=type(exc).__name__))
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


def parse_game_arg(text: str) -> tuple[str, str, tuple[str, ...]]:
    import re

    from adapters.espn.fields import league

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
