"""`breaker status` and `breaker reset --yes`: the circuit breaker as the database holds it.

A trip holds for its trading day (circuit_breaker.day_timezone) across restarts. `reset`
clears every trip not yet cleared, records who and when in the database, and writes a
CIRCUIT_BREAKER_RESET event to the audit log; from then on the day's loss counts again from
the moment of the reset. It refuses without `--yes`. An engine that is running keeps its
entries halted until it is restarted (the reset says so).

Defaults: the configuration's storage paths (`--config FILE` overrides them; `--db PATH`,
`--audit PATH`); DATABASE_URL selects PostgreSQL as everywhere else. Exit codes: 0 done,
2 bad input (configuration, database, missing --yes).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Mapping, TextIO
from zoneinfo import ZoneInfo

from actors.clock import Clock, WallClock
from adapters.audit.log import Audit, configure_logging
from adapters.storage.database import DatabaseUrlError, SchemaTooNew, connect, migrate
from adapters.engine.lock import EngineLocked, lock_database
from adapters.storage.repository import Repository
from config.loader import ConfigError, load_config
from models import audit_events as ae
from models.risk import trading_day


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("breaker", help="show or reset the circuit breaker (held in the database)")
    actions = parser.add_subparsers(dest="breaker_action", metavar="ACTION", required=True)
    for name, text in (("status", "print today's trips and whether one still holds"),
                       ("reset", "clear a tripped breaker (asks for --yes; audited)")):
        p = actions.add_parser(name, help=text)
        # SUPPRESS: an option given before the command name (run.py's shared --db/--config) is kept.
        p.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                       help="the SQLite database (default: storage.database_path; DATABASE_URL selects PostgreSQL)")
        p.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                       help="YAML whose values override the defaults")
        p.add_argument("--audit", metavar="PATH", default=argparse.SUPPRESS,
                       help="the JSONL audit log the reset is written to (default: storage.audit_path)")
        if name == "reset":
            p.add_argument("--yes", action="store_true", help="really reset: entries resume at the next start")
        p.set_defaults(func=reset if name == "reset" else status)


def _open(args: argparse.Namespace, err: TextIO, environ: Mapping[str, str], clock: Clock):  # type: ignore[no-untyped-def]
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=err)
        return None
    db_path = getattr(args, "db", None) or config.storage.database_path
    try:
        db = connect(db_path, environ=environ)
        migrate(db, clock)
    except (DatabaseUrlError, SchemaTooNew) as exc:
        print(f"error: {exc}", file=err)
        return None
    except Exception as exc:  # noqa: BLE001 - an unreadable database is bad input, named
        print(f"error: cannot open the database {db_path}: {type(exc).__name__}", file=err)
        return None
    shown = "the PostgreSQL database of DATABASE_URL" if environ.get("DATABASE_URL") else db_path
    return config, shown, db, Repository(db, clock)


def status(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
           environ: Mapping[str, str] | None = None, clock: Clock | None = None) -> int:
    out, err, clock = out or sys.stdout, err or sys.stderr, clock or WallClock()
    opened = _open(args, err, os.environ if environ is None else environ, clock)
    if opened is None:
        return 2
    config, db_path, db, repo = opened
    try:
        trips = repo.breaker_trips()
    finally:
        db.close()
    today = trading_day(clock.now(), ZoneInfo(config.circuit_breaker.day_timezone)).isoformat()
    if not trips:
        print(f"{db_path}: the circuit breaker has never tripped", file=out)
    for t in trips:
        if t.cleared_at is not None:
            state = f"cleared {t.cleared_at.isoformat()} by {t.cleared_by}"
        else:
            state = "HOLDS today (until the day ends or a reset)" if t.day == today else "ended with its day"
        print(f"{t.day}  {t.kind:<12}  tripped {t.tripped_at.isoformat()}  {state}\n    {t.reason}", file=out)
    return 0


def reset(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
          environ: Mapping[str, str] | None = None, clock: Clock | None = None) -> int:
    out, err, clock = out or sys.stdout, err or sys.stderr, clock or WallClock()
    environ = os.environ if environ is None else environ
    if not getattr(args, "yes", False):
        print("error: `breaker reset` clears the circuit breaker and lets the engine trade again today; "
              "run it again with --yes to do it", file=err)
        return 2
    opened = _open(args, err, environ, clock)
    if opened is None:
        return 2
    config, db_path, db, repo = opened
    try:
        cleared = repo.clear_breaker_trips(clock.now(), "operator")
    finally:
        db.close()
    if not cleared:
        print(f"{db_path}: no breaker is tripped; nothing to reset", file=out)
        return 0
    audit_path = Path(getattr(args, "audit", None) or config.storage.audit_path)
    configure_logging(audit_path, console=False)
    audit = Audit(clock)
    for t in cleared:
        audit.emit(ae.CircuitBreakerReset(reason=t.reason, kind=t.kind, day=t.day, tripped_at=t.tripped_at,
                                          by="operator"))
        print(f"reset: {t.day} {t.kind}: {t.reason}", file=out)
    print(f"the day's loss counts again from now; written to {audit_path}", file=out)
    try:
        lock_database(getattr(args, "db", None) or config.storage.database_path, environ=environ).release()
    except EngineLocked:
        print("note: an engine is running on this database: it keeps entries halted until it is restarted",
              file=out)
    return 0
