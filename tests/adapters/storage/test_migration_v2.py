"""Schema version 2: positions.stop_basis, and unrealized P&L nullable (no bid: no mark).

A version-1 SQLite database (built here exactly as version 1 created it) is migrated in place;
its positions and their exits survive (a table rebuild would have cascade-deleted the exits).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

from actors.clock import VirtualClock
from adapters.storage.database import SCHEMA_VERSION, connect, migrate
from adapters.storage.repository import Repository
from adapters.storage.tables import PositionExitRow, PositionRow, SchemaVersion

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)


def make_version_1(path) -> None:  # type: ignore[no-untyped-def]
    db = connect(str(path))
    migrate(db, VirtualClock(T0))
    db.execute_sql("PRAGMA foreign_keys = OFF")
    (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'positions'").fetchone()
    old = re.sub(r', "stop_basis" TEXT', "", sql)
    old = re.sub(r'("unrealized_pnl(?:_pct)?" TEXT)', r"\1 NOT NULL", old).replace('"positions"', '"positions_v1"', 1)
    db.execute_sql(old)
    db.execute_sql("DROP TABLE positions")
    db.execute_sql("ALTER TABLE positions_v1 RENAME TO positions")
    db.execute_sql("DELETE FROM schema_version WHERE version > 1")
    db.execute_sql(
        "INSERT INTO positions (position_id, ticker, side, signal_type, sport, entry_price, initial_contracts, "
        "contracts, entry_fees, opened_at, status, unrealized_pnl, unrealized_pnl_pct, trailing_stop_active, "
        "partial_stages_done, realized_pnl, exit_fees) VALUES ('p1', 'M', 'yes', 'default', 'nba', '0.50', 10, 10, "
        "'0.18', ?, 'open', '0', '0', 0, 0, '0', '0')", (T0,))
    db.execute_sql("INSERT INTO position_exits (position_id, reason, priority, contracts, fees, status, "
                   "triggered_at, detail) VALUES ('p1', 'stop_loss', 'CRITICAL', 10, '0', 'triggered', ?, '')", (T0,))
    db.close()


def test_a_version_1_database_gets_stop_basis_and_nullable_pnl_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v1.db"
    make_version_1(path)
    db = connect(str(path))
    with db.atomic():
        (sql,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE name = 'positions'").fetchone()
    assert '"unrealized_pnl" TEXT NOT NULL' in sql and "stop_basis" not in sql    # really version 1
    assert migrate(db, VirtualClock(T0)) == SCHEMA_VERSION == 3
    assert [v.version for v in SchemaVersion.select().order_by(SchemaVersion.version)] == [1, 2, 3]
    repo = Repository(db, VirtualClock(T0))
    p = repo.load_position("p1")
    assert p is not None and p.stop_basis is None and p.entry_price == Decimal("0.50")
    assert PositionExitRow.select().count() == 1                  # the exits survived
    repo.upsert_position(p.replace(stop_basis=Decimal("0.49"), current_price=None, unrealized_pnl=None,
                                   unrealized_pnl_pct=None))
    again = repo.load_position("p1")
    assert (again.stop_basis, again.unrealized_pnl, again.unrealized_pnl_pct) == (Decimal("0.49"), None, None)
    assert PositionRow.select().count() == 1
    assert migrate(db, VirtualClock(T0)) == SCHEMA_VERSION        # idempotent
    (check,) = db.execute_sql("PRAGMA integrity_check").fetchone()
    assert check == "ok"
