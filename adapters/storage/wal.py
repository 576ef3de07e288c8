"""SQLite's write-ahead log, as the Store sees it: a checkpoint.

The Store checkpoints every so many commits at a moment nothing waits on, so that SQLite does
not do it inside a commit an order's write-down waits on (actors/store.py, Checkpoint;
adapters/storage/database.py WAL_BACKSTOP_PAGES). PostgreSQL has no such log here: a checkpoint
does nothing.
"""
from __future__ import annotations

import peewee


class WriteAheadLog:
    """Mixed into the Repository (its `_db`)."""

    _db: peewee.Database

    def checkpoint(self) -> None:
        """Copy the log's committed pages into the database file without waiting for readers
        (PASSIVE), so that the next writes start the log over. Never inside a transaction."""
        if isinstance(self._db, peewee.SqliteDatabase) and not self._db.in_transaction():
            self._db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")
