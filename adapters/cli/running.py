"""What the engine commands (paper, replay, live) share: file names, building the paper engine,
stopping an engine cleanly, flattening after a failure, the log-file options, alerts and the control
channel.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import Any

from loguru import logger

from adapters.engine import fail_safe
from adapters.engine.build import Engine, build_engine, remove_sqlite_files
from config.schema import Config


SIM_DB = "arbees-sim.db"
SIM_AUDIT = "arbees-sim-audit.jsonl"
REPLAY_DB = "arbees-replay.db"
REPLAY_AUDIT = "arbees-replay-audit.jsonl"


class UsageError(Exception):
    """Bad command-line input: exit status 2 with the message."""


PaperEngine = Engine   # the name tests and adapters knew it by


def fresh_files(path: str) -> None:
    remove_sqlite_files(path)


def build_paper_engine(config: Config, start: datetime, *, db_path: str, audit_path: str | None = None,
                       mode: str = "paper", seed: int | None = 0, **kw: Any) -> Engine:
    """`adapters.engine.build.build_engine` in a virtual-time mode (paper by default), under the name
    callers knew; every engine is built and started there (and takes the database's engine lock
    unless the caller hands in the one it took). A paper run's retry jitter follows its
    simulation seed (0 unless given), so the run is reproducible."""
    kw.setdefault("alerts", open_alerts(config))
    return build_engine(mode, config, db_path=db_path, start=start, seed=seed, **kw)


def stop_engine(engine: Any) -> None:
    """Flush and stop; after a fail-safe a core actor may be dead: stopping carries on. A flush
    that fails otherwise still stops the engine (its actors, its database lock) before the error
    goes on."""
    try:
        engine.system.flush()
    except Exception as exc:  # noqa: BLE001
        if not (engine.system.failure and engine.system.failure.reason):
            try:
                engine.stop()
            except Exception as also:  # noqa: BLE001 - the flush's error is the one to report
                logger.error("stopping after the final flush failed: {}", type(also).__name__)
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
    stop_engine(engine)
    report = fail_safe.flatten(engine.venue, engine.repository, engine.audit, engine.clock)
    print(f"ENGINE FAILED SAFE: {reason}\n  entries halted; {len(report.sent)} fail-safe sell orders sent at the "
          "venue directly" + (f"; STILL HELD: {'; '.join(report.still_held)}" if report.still_held
                              else "; nothing is held any more"), file=sys.stderr)
    return fail_safe.EXIT_CODE


def log_file_options(args: argparse.Namespace) -> dict[str, Any]:
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


def open_alerts(config: Config) -> Any:
    """The alert channels of the configuration (None without any); a missing secret is bad input."""
    from adapters.operator.alerts import AlertSetupError, open_alerts

    try:
        return open_alerts(config.alerts, os.environ)
    except AlertSetupError as exc:
        raise UsageError(str(exc)) from None


def open_control(system: Any, db_path: str, config: Config) -> Any:
    """The control channel (`exit`, `entries pause|resume`): a Unix socket beside the database."""
    from adapters.operator.control import ControlError, ControlServer, control_paths

    try:
        return ControlServer.start(system, *control_paths(db_path, config.storage.database_path))
    except ControlError as exc:
        system.stop()
        raise UsageError(str(exc)) from None
