"""`--config`, `--db` and `-v` for the venue commands (`positions`, `quote`), as every engine
command takes them: the configuration is loaded and checked (exit 2 naming file and key), and the
engine's database, when named, is read to show what the engine holds beside what the venue says.

The database is `--db PATH`, or with `--config FILE` that file's `storage.database_path`
(DATABASE_URL selects PostgreSQL as everywhere). It is only read; a path that does not exist is
exit 2 rather than a new empty database.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

from actors.clock import Clock
from config.loader import ConfigError, load_config
from models.position import PositionState


class EngineOptionError(Exception):
    """--config or --db unusable; the message names the file (exit 2)."""


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML whose values override the defaults (checked)")
    parser.add_argument("--db", metavar="PATH", help="the engine's database: also show what the engine holds")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug output")


def engine_positions(args: argparse.Namespace, clock: Clock) -> tuple[str, Sequence[PositionState]] | None:
    """(the database, its open positions) when a database is named, else None.
    Raises EngineOptionError."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise EngineOptionError(f"configuration error: {exc}") from None
    path = args.db or (config.storage.database_path if args.config else None)
    if path is None:
        return None
    if not os.environ.get("DATABASE_URL") and not Path(path).is_file():
        raise EngineOptionError(f"--db {path}: no such database")
    from adapters.storage.database import connect
    from adapters.storage.repository import Repository

    db = connect(str(path))
    try:
        return str(path), Repository(db, clock).load_open_positions()
    finally:
        db.close()


def format_engine_positions(positions: Sequence[PositionState], where: str) -> str:
    lines = [f"Open positions in the engine's database ({where})"]
    if not positions:
        return "\n".join([*lines, "  (none)"])
    rows = [(p.position_id, p.ticker, p.side.value.upper(), str(p.contracts), f"${p.entry_price:.2f}",
             p.signal_type) for p in positions]
    header = ("POSITION", "TICKER", "SIDE", "CONTRACTS", "ENTRY", "SIGNAL TYPE")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in (header, *rows)]
    return "\n".join(lines)
