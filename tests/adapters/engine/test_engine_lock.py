"""One engine per account (issue 9 §4): a second engine on the same database or the same
Kalshi key refuses to start; the OS releases the lock when the process dies (kill -9 leaves
none behind); open positions are unique per market and side in the database itself, on
SQLite and on PostgreSQL (ARBEES_TEST_DATABASE_URL; skipped without it)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from decimal import Decimal

import peewee
import pytest

from adapters.cli import app
from actors.clock import VirtualClock
from adapters.storage.database import connect, migrate
from adapters.engine.lock import EngineLocked, lock_database, lock_kalshi_key
from adapters.storage.repository import Repository
from models.market import Side
from models.position import PositionState, PositionStatus
from adapters.storage.tables import ALL_TABLES
from tests.paths import ROOT

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
PG_URL_VAR = "ARBEES_TEST_DATABASE_URL"
ROOT = ROOT


def test_a_second_engine_on_the_same_database_refuses_to_start(make_engine):
    a = make_engine()
    with pytest.raises(EngineLocked) as refused:
        make_engine(database_of=a)
    message = str(refused.value)
    assert str(a.db_path) in message and f"pid {os.getpid()}" in message and "already" in message
    a.stop()
    b = make_engine(database_of=a)                        # released with the engine
    b.market("M1", "0.49", "0.50")
    b.enter("M1", contracts=5)


def test_the_cli_refuses_a_second_engine_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    db = tmp_path / "shared.db"
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"type": "quote", "ts": "2026-01-10T18:00:00Z", "ticker": "M1", "yes_bid": "0.49", '
                      '"yes_ask": "0.50"}\n', encoding="utf-8")
    held = lock_database(str(db), environ={})
    try:
        assert app.main(["replay", str(replay), "--db", str(db), "--audit", str(tmp_path / "a.jsonl")]) == 2
        err = capsys.readouterr().err
        assert "another Arbees engine" in err and str(db) in err
    finally:
        held.release()
    assert app.main(["replay", str(replay), "--db", str(db), "--audit", str(tmp_path / "a.jsonl")]) == 0


def test_kill_9_of_the_engine_leaves_no_stale_lock(tmp_path):
    db = tmp_path / "killed.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from adapters.engine.lock import lock_database
            lock = lock_database({str(db)!r}, environ={{}})
            print("locked", flush=True)
            time.sleep(120)
        """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(EngineLocked, match=f"pid {holder.pid}"):
            lock_database(str(db), environ={})
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    lock = lock_database(str(db), environ={})             # the OS released it with the process
    lock.release()


def test_a_second_engine_with_the_same_kalshi_key_refuses_to_start(tmp_path):
    first = lock_kalshi_key("demo-key-id-1234", lock_dir=tmp_path)
    try:
        with pytest.raises(EngineLocked) as refused:
            lock_kalshi_key("demo-key-id-1234", lock_dir=tmp_path)
        assert "Kalshi key" in str(refused.value) and "demo-key-id-1234" not in str(refused.value)
        other = lock_kalshi_key("another-key", lock_dir=tmp_path)   # another account is another lock
        other.release()
    finally:
        first.release()
    lock_kalshi_key("demo-key-id-1234", lock_dir=tmp_path).release()
    assert not any("demo-key-id-1234" in p.name for p in tmp_path.iterdir())   # the key id is not in a file name


# --- the database: one open position per market and side --------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        database = connect(str(tmp_path / "arbees.db"), environ={})
    else:
        url = os.environ.get(PG_URL_VAR)
        if not url:
            pytest.skip(f"{PG_URL_VAR} is not set: the PostgreSQL variant is skipped (.ci/run starts one)")
        database = connect(database_url=url)
        database.drop_tables(ALL_TABLES, safe=True, cascade=True)
        database.execute_sql("DROP TABLE IF EXISTS schema_version CASCADE")
    migrate(database, VirtualClock(T0))
    yield database
    if request.param == "postgresql":
        database.drop_tables(ALL_TABLES, safe=True, cascade=True)
    database.close()


def a_position(pid: str, status: PositionStatus = PositionStatus.OPEN, side: Side = Side.YES) -> PositionState:
    return PositionState(position_id=pid, ticker="M1", side=side, signal_type="default", sport="nba",
                         game_id="G1", entry_price=Decimal("0.50"), initial_contracts=10, contracts=10,
                         entry_fees=Decimal("0.18"), opened_at=T0, status=status)


def test_the_database_refuses_a_second_open_position_on_one_market_and_side(db):
    repo = Repository(db, VirtualClock(T0))
    repo.upsert_position(a_position("p1"))
    repo.upsert_position(a_position("p-no", side=Side.NO))          # the other side is another key
    repo.upsert_position(a_position("p-old", PositionStatus.CLOSED))  # closed positions do not count
    with pytest.raises(peewee.IntegrityError):
        repo.upsert_position(a_position("p2"))
    with pytest.raises(peewee.IntegrityError):
        repo.upsert_position(a_position("p3", PositionStatus.EXITING))
    repo.upsert_position(a_position("p1", PositionStatus.CLOSED))
    repo.upsert_position(a_position("p2"))                            # once p1 closed, p2 may open


def test_the_postgresql_advisory_lock_admits_one_engine_per_database():
    url = os.environ.get(PG_URL_VAR)
    if not url:
        pytest.skip(f"{PG_URL_VAR} is not set: the PostgreSQL variant is skipped (.ci/run starts one)")
    first = lock_database("unused.db", environ={"DATABASE_URL": url})
    try:
        with pytest.raises(EngineLocked, match="another Arbees engine"):
            lock_database("unused.db", environ={"DATABASE_URL": url})
    finally:
        first.release()
    lock_database("unused.db", environ={"DATABASE_URL": url}).release()


def test_a_version_1_database_is_migrated_to_the_unique_open_position_index(tmp_path):
    from adapters.storage import database as dbmod
    from adapters.storage.tables import PositionRow, SchemaVersion

    database = connect(str(tmp_path / "v1.db"), environ={})
    # A database written by version 1: its tables without the new ones and without the index.
    database.create_tables([SchemaVersion, *[t for t in ALL_TABLES if t.__name__ in (
        "PositionRow", "PositionExitRow", "ExitAttemptRow", "SignalRow", "OrderRow", "FillRow")]])
    database.execute_sql(f"DROP INDEX IF EXISTS {dbmod.OPEN_POSITION_INDEX}")
    SchemaVersion.create(version=1, applied_at=T0)
    repo = Repository(database, VirtualClock(T0))
    repo.upsert_position(a_position("p1"))
    assert migrate(database, VirtualClock(T0)) == dbmod.SCHEMA_VERSION
    with pytest.raises(peewee.IntegrityError):
        repo.upsert_position(a_position("p2"))
    assert PositionRow.select().count() == 1
    database.close()
