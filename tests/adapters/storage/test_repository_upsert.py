"""The positions upsert runs from SQL prepared once (peewee builds that 27-column statement
slower than SQLite runs it); the result is exactly what peewee's own query writes."""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from adapters.storage.rows import position_row, prepare_upsert, upsert_query
from models.market import Side
from models.position import PositionState, PositionStatus
from tests.adapters.storage.conftest import T0  # the fixture `repo` is there too


def full_state(pid: str, **changes: object) -> PositionState:
    s = PositionState(
        position_id=pid, ticker="KXNBAGAME-25NOV22LACCHA-LAC", side=Side.NO, signal_type="momentum", sport="nba",
        game_id="g1", entry_price=Decimal("0.5600"), initial_contracts=20, contracts=10, entry_fees=Decimal("0.18"),
        opened_at=T0, status=PositionStatus.EXITING, model_probability=Decimal("0.634512"),
        current_price=Decimal("0.61"), unrealized_pnl=Decimal("-1.25"), unrealized_pnl_pct=Decimal("8.928571"),
        last_update=T0 + timedelta(seconds=7, microseconds=5), peak_price=Decimal("0.66"),
        trailing_stop_active=True, trailing_stop_price=Decimal("0.61"), partial_stages_done=1,
        realized_pnl=Decimal("0.95"), exit_fees=Decimal("0.09"), exit_reason="partial_exit_target",
        exit_priority="MEDIUM", close_time=T0 + timedelta(hours=3))
    return s.replace(**changes) if changes else s


def test_the_prepared_statement_is_in_use(repo):
    prepared = prepare_upsert(position_row(full_state("p1")))
    assert prepared, "the prepared upsert fell back to building the query every time"
    sql, fields = prepared
    assert sql.startswith('INSERT INTO "positions"') and "ON CONFLICT" in sql
    assert len(fields) == sql.count("?")


def test_the_prepared_upsert_writes_what_peewees_query_writes(repo):
    a, b = full_state("fast"), full_state("slow", side=Side.YES)   # one open position per market and side
    repo.upsert_position(a)                                   # inserts
    repo.upsert_position(a.replace(contracts=5, current_price=Decimal("0.7")))   # updates
    with repo.atomic():
        upsert_query(position_row(b)).execute()
        upsert_query(position_row(b.replace(contracts=5, current_price=Decimal("0.7")))).execute()
    fast, slow = repo.load_position("fast"), repo.load_position("slow")
    assert fast is not None and slow is not None
    assert fast == dataclasses.replace(slow, position_id="fast", side=Side.NO)
    assert fast.contracts == 5 and fast.current_price == Decimal("0.7")
    assert len(repo.all_positions()) == 2
