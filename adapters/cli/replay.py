"""`replay FILE`: a JSON Lines recording through the same actors, on virtual time.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


from adapters.audit.log import configure_logging
from adapters.engine.build import build_engine
from adapters.engine.lock import lock_database
from adapters.engine.fail_safe import EngineFailedSafe
from adapters.cli.interrupt import EXIT_INTERRUPTED, interrupt_note, stop_requested
from adapters.cli.summary import build_summary, format_summary
from config.schema import Config
from adapters.cli.running import (
    REPLAY_AUDIT, REPLAY_DB, UsageError, flatten_after_failure, fresh_files, log_file_options, open_alerts, stop_engine,
)


def cmd_replay(args: argparse.Namespace, config: Config) -> int:
    from adapters.files.replay import ReplayError, read_replay
    from adapters.sim.session import VirtualSession
    from models.winprob import home_win_probability

    try:
        events, links = read_replay(Path(args.file))
    except ReplayError as exc:
        raise UsageError(str(exc)) from None
    if not events:
        raise UsageError(f"{args.file}: no events")
    audit_path = args.audit or REPLAY_AUDIT
    lock = lock_database(args.db or REPLAY_DB)  # before anything is wiped: another engine may be using them
    fresh_files(audit_path)
    configure_logging(Path(audit_path), console=not args.json, verbose=args.verbose, **log_file_options(args))
    # The recording is the market: between its lines nothing changed (streamed quotes).
    engine = build_engine("replay", config, db_path=args.db or REPLAY_DB, start=events[0][0], fresh=True, seed=0,
                          lock=lock, alerts=open_alerts(config))
    session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock,
                             links=links, model=home_win_probability)
    try:
        session.run(events, stop=stop_requested)
    except EngineFailedSafe as exc:
        return flatten_after_failure(engine, str(exc))
    finally:
        stop_engine(engine)
    summary = build_summary(engine.repository)
    if args.json:
        print(json.dumps({**summary, "interrupted": True} if session.interrupted else summary,
                         indent=None if args.compact else 2))
    else:
        print(format_summary(summary, extra={"Events replayed": session.events,
                                             "Database": args.db or REPLAY_DB, "Audit log": audit_path,
                                             **interrupt_note(engine.clock.now())}))
    return EXIT_INTERRUPTED if session.interrupted else 0
