"""Opening the database and bringing its schema up to date.

`connect()` picks the backend: PostgreSQL when a database URL is given (argument, else the
DATABASE_URL environment variable), otherwise a SQLite file in WAL mode. It initialises
`adapters.storage.tables.database_proxy`, so every table talks to the database it returns (one
database per process). `migrate()` creates or upgrades the schema and refuses a database
written by newer code. The read/write API is `Repository` (adapters/storage/repository.py, re-exported
here).

A malformed URL raises DatabaseUrlError, whose message never contains the password (nor any
part of the URL that might be the password, when the URL does not parse).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

import peewee

from actors.clock import Clock, WallClock
from adapters.storage.repository import Repository
from models.records import ExitAttemptRecord, ExitRecord, OrderRecord, SignalRecord
from adapters.storage.tables import (
    ALL_TABLES, OPEN_POSITION_INDEX, OPEN_POSITION_WHERE, BreakerTripRow, PendingSignalRow, SchemaVersion,
    database_proxy,
)

__all__ = [
    "connect", "migrate", "MIGRATIONS", "SCHEMA_VERSION", "DatabaseUrlError", "SchemaTooNew", "MigrationError",
    "OPEN_POSITION_INDEX", "WAL_BACKSTOP_PAGES",
    "Repository", "ExitRecord", "ExitAttemptRecord", "OrderRecord", "SignalRecord",
]

# SQLite checkpoints the WAL by itself inside the commit that takes it past this many pages; the
# Store checkpoints long before (at 1,000 pages, SQLite's own default), right after a commit, so
# that no order's write-down waits on one (actors/store.py, Checkpoint). This is the backstop.
WAL_BACKSTOP_PAGES = 20_000

SQLITE_PRAGMAS = (
    ("journal_mode", "wal"),
    ("wal_autocheckpoint", WAL_BACKSTOP_PAGES),
    ("foreign_keys", 1),
    ("busy_timeout", 5000),  # ms a reader or a second process waits for the writer's lock
)
URL_FORM = "postgresql://user:password@host:port/dbname"
_SCHEMES = ("postgresql", "postgres")


class DatabaseUrlError(ValueError):
    """The database URL or path is unusable. The message never contains the password."""


class SchemaTooNew(RuntimeError):
    """The database was migrated by newer code than this; refuse rather than corrupt it."""


class MigrationError(RuntimeError):
    """The database holds data a migration cannot take as it is; the message says what to fix."""


def connect(database_path: str | None = None, database_url: str | None = None, *,
            environ: Mapping[str, str] | None = None) -> peewee.Database:
    """Open (lazily) the database: PostgreSQL if a URL is given or DATABASE_URL is set in
    `environ` (default os.environ), else the SQLite file `database_path`."""
    if database_url is None:
        database_url = (os.environ if environ is None else environ).get("DATABASE_URL") or None
    if database_url is not None:
        db: peewee.Database = _postgres(database_url)
    elif database_path:
        db = peewee.SqliteDatabase(database_path, pragmas=SQLITE_PRAGMAS)
    else:
        raise DatabaseUrlError("no database: give a SQLite path (database_path, --db) or set DATABASE_URL "
                               f"to {URL_FORM}")
    database_proxy.initialize(db)
    return db


def _postgres(url: str) -> peewee.PostgresqlDatabase:
    """Parse the URL with care: on any error, say what is wrong without echoing its parts."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        found = f" (found scheme {scheme!r})" if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,20}", scheme) else ""
        raise DatabaseUrlError(f"DATABASE_URL must look like {URL_FORM} (or postgres://...){found}")
    parts = urlsplit(url)
    hint = "percent-encode any '/', '@', ':', '?' or '#' in the password"
    try:
        port = parts.port
    except ValueError:
        raise DatabaseUrlError(f"DATABASE_URL: the port must be a number from 0 to 65535 "
                               f"(expected {URL_FORM}; {hint})") from None
    dbname = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    if not dbname or "/" in dbname or parts.fragment:
        raise DatabaseUrlError(f"DATABASE_URL: expected one database name after the host, as in {URL_FORM} ({hint})")
    try:
        options = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
    except ValueError:
        raise DatabaseUrlError("DATABASE_URL: the query must be key=value pairs joined by '&' "
                               f"(e.g. ?sslmode=require; {hint})") from None
    kwargs: dict[str, object] = dict(options)
    if parts.username:
        kwargs["user"] = unquote(parts.username)
    if parts.password is not None:
        kwargs["password"] = unquote(parts.password)
    if parts.hostname:
        kwargs["host"] = unquote(parts.hostname)
    if port is not None:
        kwargs["port"] = port
    return peewee.PostgresqlDatabase(dbname, **kwargs)


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step. `apply` runs inside migrate()'s transaction on a database at
    version - 1. Version 1 has none: a fresh database gets the current tables directly."""

    version: int
    description: str
    apply: Callable[[peewee.Database], None] | None = None


def _risk_guards(db: peewee.Database) -> None:
    """Version 2 (issue 9): the breaker_trips and pending_signals tables, and at most one open
    position per market and side (refused, naming them, if two are open already)."""
    db.create_tables([BreakerTripRow, PendingSignalRow], safe=True)
    twice = db.execute_sql(f"SELECT ticker, side, COUNT(*) FROM positions WHERE {OPEN_POSITION_WHERE} "
                           "GROUP BY ticker, side HAVING COUNT(*) > 1").fetchall()
    if twice:
        listed = ", ".join(f"{t} {s} ({n} open)" for t, s, n in twice)
        raise MigrationError(f"cannot add the one-open-position-per-market-and-side constraint: {listed}; "
                             "close all but one of each (or restore a backup) and start again")
    db.execute_sql(f"CREATE UNIQUE INDEX IF NOT EXISTS {OPEN_POSITION_INDEX} ON positions (ticker, side) "
                   f"WHERE {OPEN_POSITION_WHERE}")


# Append only. A change to a table is a new Migration (playhouse.migrate or SQL) that brings
# a database at the previous version to the models as they now stand.
def _v3_stop_basis_and_unknown_marks(db: peewee.Database) -> None:
    """positions.stop_basis (the entry-time bid the stop loss is measured from), and the
    unrealized P&L columns made nullable (a side with no bid has no mark, so no P&L)."""
    if "stop_basis" not in {c.name for c in db.get_columns("positions")}:
        db.execute_sql("ALTER TABLE positions ADD COLUMN stop_basis TEXT" if isinstance(db, peewee.SqliteDatabase)
                       else "ALTER TABLE positions ADD COLUMN stop_basis NUMERIC")
    if not isinstance(db, peewee.SqliteDatabase):
        for column in ("unrealized_pnl", "unrealized_pnl_pct"):
            db.execute_sql(f"ALTER TABLE positions ALTER COLUMN {column} DROP NOT NULL")
        return
    # SQLite cannot drop a NOT NULL in place, and rebuilding the table would cascade-delete its
    # exits (foreign_keys is on). Removing a NOT NULL does not change what is stored, so the
    # documented way (sqlite.org/lang_altertable.html, "other kinds of table schema changes")
    # applies: edit the table's SQL in the schema and bump the schema version.
    (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'positions'").fetchone()
    new = re.sub(r'("unrealized_pnl(?:_pct)?" \w+(?:\(\d+(?:, ?\d+)?\))?) NOT NULL', r"\1", sql)
    if new == sql:
        return
    (version,) = db.execute_sql("PRAGMA schema_version").fetchone()
    db.execute_sql("PRAGMA writable_schema = ON")
    db.execute_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'positions'", (new,))
    db.execute_sql(f"PRAGMA schema_version = {int(version) + 1}")
    db.execute_sql("PRAGMA writable_schema = OFF")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema: positions, position_exits, exit_attempts, signals, orders, fills"),
    Migration(2, "breaker_trips, pending_signals; one open position per market and side", _risk_guards),
    Migration(3, "positions.stop_basis; unrealized P&L nullable (no bid: no mark)", _v3_stop_basis_and_unknown_marks),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def migrate(db: peewee.Database, clock: Clock | None = None) -> int:
    """Bring `db` to SCHEMA_VERSION and return it. Idempotent. A fresh database gets the
    current tables and every version stamped; an older one gets the missing steps in order;
    a newer one raises SchemaTooNew. All in one transaction."""
    if database_proxy.obj is not db:
        database_proxy.initialize(db)
    now = (clock or WallClock()).now()
    with db.atomic():
        db.create_tables([SchemaVersion], safe=True)
        current = SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(f"the database schema is at version {current}, newer than this code's "
                               f"{SCHEMA_VERSION}: run the newer arbees, or use another database")
        if current == 0:
            db.create_tables(ALL_TABLES, safe=True)
        for step in MIGRATIONS:
            if step.version <= current:
                continue
            if current and step.apply is not None:
                step.apply(db)
            SchemaVersion.create(version=step.version, applied_at=now)
    return SCHEMA_VERSION

