"""Options shared by the commands that read a running (or stopped) engine's files: `status`,
`timeline`, `report`, `dashboard`, and the control commands `exit` / `entries`.

They read the database and the audit log only, never the venue. Defaults are the
configuration's storage paths (`--config FILE` overrides them); DATABASE_URL selects PostgreSQL.
"""
from __future__ import annotations

import argparse
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from actors.clock import WallClock
from adapters.audit.check import AuditInputError, open_database
from adapters.storage.repository import Repository
from config.loader import ConfigError, load_config
from config.schema import Config


class ReadInputError(Exception):
    """The files cannot be read (exit status 2): the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class EngineFiles:
    db: str
    audit: Path
    config: Config


def add_read_arguments(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    # SUPPRESS: an option given before the command name (run.py's shared --db/--audit) is kept.
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS,
                        help="the SQLite database (default: storage.database_path; DATABASE_URL selects PostgreSQL)")
    parser.add_argument("--audit", "--log", dest="audit", metavar="FILE", default=argparse.SUPPRESS,
                        help="the JSONL audit log (default: storage.audit_path; rotated days beside it are read too)")
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="YAML whose values replace the defaults (storage paths, thresholds)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print one JSON object")


def engine_files(args: argparse.Namespace) -> EngineFiles:
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        raise ReadInputError(f"configuration error: {exc}") from None
    db = getattr(args, "db", None) or config.storage.database_path
    audit = Path(getattr(args, "audit", None) or config.storage.audit_path)
    return EngineFiles(db, audit, config)


@contextmanager
def open_repository(db_path: str) -> Iterator[Repository]:
    """The database, read-only in spirit: nothing is created or migrated."""
    try:
        db = open_database(db_path, os.environ)
    except AuditInputError as exc:
        raise ReadInputError(str(exc)) from None
    try:
        yield Repository(db, WallClock())
    finally:
        db.close()
