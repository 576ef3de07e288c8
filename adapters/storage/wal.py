"""SQLite's write-ahead log, as the Store sees it: how many pages it holds, and a checkpoint.

The Store checkpoints after a commit that leaves the log past its limit, so that SQLite does
not do it inside a commit an order's write-down waits on (actors/store.py, Checkpoint;
adapters/storage/database.py WAL_BACKSTOP_PAGES). PostgreSQL has no such log here: 0 pages, and
a checkpoint does nothing.
"""
from __future__ import annotations

import os

import peewee


class WriteAheadLog:
    """Mixed into the Repository (its `_db`)."""

    _db: peewee.Database
    _page_size: int | None = None      # SQLite's, read once

    def wal_pages(self) -> int:
        """Pages in SQLite's write-ahead log file now (0 on PostgreSQL, or with no WAL file)."""
        if not isinstance(self._db, peewee.SqliteDatabase):
            return 0
        if self._page_size is None:
            self._page_size = int(self._db.execute_sql("PRAGMA page_size").fetchone()[0]) or 4096
        try:
            return os.stat(f"{self._db.database}-wal").st_size // self._page_size
        except OSError:
            return 0

    def checkpoint(self) -> None:
        """Copy the log's committed pages into the database file without waiting for readers
        (PASSIVE), so that the next writes start the log over. Never inside a transaction."""
        if isinstance(self._db, peewee.SqliteDatabase) and not self._db.in_transaction():
            self._db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")
