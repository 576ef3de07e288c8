"""The Store's hot writes run from SQL built once (adapters/storage/statements.py and the
Repository's prepared inserts): every row they write is the row peewee's own query builder
wrote before, byte for byte as stored (Decimal text, datetimes to the microsecond, NULLs), and
they answer the same. A random sequence of fills, exit attempts, order updates, status changes
and trigger links runs through the Repository and through the reference below (the queries as
they were written before they were prepared), each on a fresh database; the tables must match.
SQLite always; PostgreSQL too when ARBEES_TEST_DATABASE_URL is set."""
from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import peewee
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from actors.clock import VirtualClock
from adapters.storage.database import Repository, connect, migrate
from adapters.storage.tables import (
    ALL_TABLES, ExitAttemptRow, FillRow, OrderRow, PositionExitRow,
)
from models.market import Side
from models.orders import Action, Fill, OrderRequest, OrderSnapshot, OrderStatus, TimeInForce
from models.position import PositionState
from models.records import AttemptAction, ExitAttemptRecord, ExitRecord, ExitStatus, StoredOrderStatus

T0 = datetime(2025, 11, 22, 19, 30, tzinfo=timezone.utc)
PG_URL_VAR = "ARBEES_TEST_DATABASE_URL"
POSITIONS = ("pos-a", "pos-b")
ORDERS = ("cid-1", "cid-2", "cid-3")
REASONS = ("stop_loss", "trailing_stop")
EXIT_IDS = ("x-1", "x-2", "x-3")


# the reference: the hot writes as peewee built them on every call -------------------------
def ref_record_fill(repo: Repository, fill: Fill) -> bool:
    with repo.atomic():
        if FillRow.get_or_none(FillRow.fill_id == fill.fill_id) is not None:
            return False
        FillRow.insert(
            fill_id=fill.fill_id, order_id=fill.order_id, client_order_id=fill.client_order_id,
            ticker=fill.ticker, side=fill.side.value, action=fill.action.value, count=fill.count,
            price=fill.price, fee=fill.fee, is_taker=fill.is_taker, ts=fill.ts,
        ).execute()
    return True


def ref_record_exit_attempt(repo: Repository, record: ExitAttemptRecord) -> int:
    with repo.atomic():
        return ExitAttemptRow.insert(
            exit_id=record.exit_id, position=record.position_id, attempt=record.attempt,
            client_order_id=record.client_order_id, order_id=record.order_id, price=record.price,
            contracts=record.contracts, action=AttemptAction(record.action).value, ts=record.ts,
            detail=record.detail,
        ).execute()


def ref_link_trigger(repo: Repository, position_id: str, condition: str, exit_id: str) -> bool:
    row = (PositionExitRow.select(PositionExitRow.id)
           .where((PositionExitRow.position == position_id) & (PositionExitRow.reason == condition)
                  & (PositionExitRow.status == ExitStatus.TRIGGERED.value) & PositionExitRow.exit_id.is_null())
           .order_by(PositionExitRow.id.desc()).first())
    if row is None or PositionExitRow.select().where(
            (PositionExitRow.exit_id == exit_id) & (PositionExitRow.status == ExitStatus.TRIGGERED.value)).exists():
        return False
    PositionExitRow.update(exit_id=exit_id).where(PositionExitRow.id == row.id).execute()
    return True


def ref_update_order(repo: Repository, clock: VirtualClock, snapshot: OrderSnapshot) -> None:
    now = clock.now()
    changes = dict(order_id=snapshot.order_id, status=snapshot.status.value,
                   filled_count=snapshot.filled_count, avg_fill_price=snapshot.avg_fill_price,
                   fees=snapshot.fees, updated_at=now)
    with repo.atomic():
        updated = (OrderRow.update(**changes)
                   .where(OrderRow.client_order_id == snapshot.client_order_id).execute())
        if not updated:
            OrderRow.insert(
                client_order_id=snapshot.client_order_id, ticker=snapshot.ticker, side=snapshot.side.value,
                action=snapshot.action.value, count=snapshot.count, limit_price=snapshot.limit_price,
                time_in_force=TimeInForce.GTC.value, created_at=snapshot.created_ts or now, **changes,
            ).execute()


def ref_set_order_status(repo: Repository, clock: VirtualClock, cid: str, status: StoredOrderStatus,
                         order_id: str | None) -> None:
    changes: dict[str, object] = dict(status=status.value, updated_at=clock.now())
    if order_id is not None:
        changes["order_id"] = order_id
    with repo.atomic():
        if not OrderRow.update(**changes).where(OrderRow.client_order_id == cid).execute():
            raise KeyError(cid)


# random operations -------------------------------------------------------------------------
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("999.999999"), places=6)
maybe_money = st.none() | money
times = st.integers(0, 10**11).map(lambda us: T0 + timedelta(microseconds=us))
maybe_id = st.none() | st.sampled_from(("ord-1", "ord-2", "ord-ü"))
# Any text a column takes on both databases: PostgreSQL refuses the NUL character in a string
# (on either path), so it is left out; everything else, non-ASCII included, is generated.
# (no NUL, no lone surrogate: neither can be stored as UTF-8 by either path, which is not what this compares)
text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=12)

fills = st.builds(Fill, fill_id=st.sampled_from(("f-1", "f-2", "f-3", "f-4")), order_id=st.sampled_from(("o-1", "o-2")),
                  client_order_id=st.sampled_from(ORDERS), ticker=st.just("KXNBA-T"), side=st.sampled_from(Side),
                  action=st.sampled_from(Action), count=st.integers(0, 10**6), price=money, fee=money, ts=times,
                  is_taker=st.booleans())
attempts = st.builds(ExitAttemptRecord, exit_id=st.sampled_from(EXIT_IDS), position_id=st.sampled_from(POSITIONS),
                     attempt=st.integers(0, 50), client_order_id=st.sampled_from(ORDERS), price=money,
                     contracts=st.integers(0, 10**6), action=st.sampled_from(AttemptAction), ts=times,
                     order_id=maybe_id, detail=text)
snapshots = st.builds(OrderSnapshot, order_id=st.sampled_from(("ord-1", "ord-2")),
                      client_order_id=st.sampled_from(ORDERS + ("found-at-venue",)), ticker=st.just("KXNBA-T"),
                      side=st.sampled_from(Side), action=st.sampled_from(Action), count=st.integers(1, 1000),
                      limit_price=money, status=st.sampled_from(OrderStatus), filled_count=st.integers(0, 1000),
                      avg_fill_price=maybe_money, fees=money, created_ts=st.none() | times)
triggers = st.builds(ExitRecord, position_id=st.sampled_from(POSITIONS), reason=st.sampled_from(REASONS),
                     priority=st.just("HIGH"), status=st.just(ExitStatus.TRIGGERED), triggered_at=times,
                     trigger_value=maybe_money, threshold=maybe_money)
operations = st.lists(st.one_of(
    st.tuples(st.just("fill"), fills),
    st.tuples(st.just("attempt"), attempts),
    st.tuples(st.just("update_order"), snapshots),
    st.tuples(st.just("set_status"), st.sampled_from(ORDERS), st.sampled_from(StoredOrderStatus), maybe_id),
    st.tuples(st.just("trigger"), triggers),
    st.tuples(st.just("link"), st.sampled_from(POSITIONS), st.sampled_from(REASONS), st.sampled_from(EXIT_IDS)),
), max_size=30)


def run(db: peewee.Database, ops: list[tuple], reference: bool) -> tuple[list, dict[str, list]]:
    clock = VirtualClock(T0)
    repo = Repository(db, clock)
    answers: list = []
    with repo.atomic():          # the Store runs its writes inside a transaction, each in a savepoint
        for pid in POSITIONS:
            repo.upsert_position(PositionState(
                position_id=pid, ticker=f"KXNBA-{pid}", side=Side.YES, signal_type="model_edge", sport="nba",
                game_id=None, entry_price=Decimal("0.56"), initial_contracts=10, contracts=10,
                entry_fees=Decimal("0.18"), opened_at=T0))
        for cid in ORDERS:
            repo.record_order_pending(OrderRequest(cid, "KXNBA-T", Side.YES, Action.SELL, 10, Decimal("0.61"),
                                                   TimeInForce.IOC), POSITIONS[0], None)
        for op in ops:
            clock.advance_to(clock.now() + timedelta(seconds=1, microseconds=7))
            kind, *args = op
            if kind == "fill":
                answers.append(ref_record_fill(repo, *args) if reference else repo.record_fill(*args))
            elif kind == "attempt":
                answers.append(ref_record_exit_attempt(repo, *args) if reference else repo.record_exit_attempt(*args))
            elif kind == "update_order":
                answers.append(ref_update_order(repo, clock, *args) if reference else repo.update_order(*args))
            elif kind == "set_status":
                cid, status, order_id = args
                answers.append(ref_set_order_status(repo, clock, cid, status, order_id) if reference
                               else repo.set_order_status(cid, status, order_id))
            elif kind == "trigger":
                answers.append(repo.record_exit_event(*args))
            else:
                answers.append(ref_link_trigger(repo, *args) if reference else repo.link_trigger(*args))
    tables = {}
    for model in (FillRow, ExitAttemptRow, OrderRow, PositionExitRow):
        name = model._meta.table_name
        # raw rows as stored (no field conversion): Decimal text, datetimes and NULLs exactly
        tables[name] = list(db.execute_sql(f"SELECT * FROM {name} ORDER BY 1").fetchall())
    return answers, tables


def fresh_sqlite(directory: Path, name: str) -> peewee.Database:
    db = connect(str(directory / f"{name}.db"), environ={})
    migrate(db, VirtualClock(T0))
    return db


def fresh_postgres() -> peewee.Database:
    db = connect(database_url=os.environ[PG_URL_VAR])
    db.drop_tables(ALL_TABLES, safe=True, cascade=True)
    migrate(db, VirtualClock(T0))
    return db


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
@example(ops=[("trigger", ExitRecord("pos-a", "stop_loss", "HIGH", ExitStatus.TRIGGERED, T0)),
              ("trigger", ExitRecord("pos-a", "stop_loss", "HIGH", ExitStatus.TRIGGERED, T0,
                                     trigger_value=Decimal("0.5"))),
              ("link", "pos-a", "stop_loss", "x-1"), ("link", "pos-a", "stop_loss", "x-2"),
              ("link", "pos-a", "stop_loss", "x-3"), ("link", "pos-b", "stop_loss", "x-3")])
def test_prepared_hot_writes_store_the_rows_peewee_built_per_call(backend: str, ops: list[tuple]) -> None:
    if backend == "postgresql" and not os.environ.get(PG_URL_VAR):
        pytest.skip(f"{PG_URL_VAR} is not set: no PostgreSQL server is reachable (.ci/run starts one)")
    with tempfile.TemporaryDirectory() as d:
        results = []
        for reference in (True, False):
            db = fresh_sqlite(Path(d), f"ref{reference}") if backend == "sqlite" else fresh_postgres()
            try:
                results.append(run(db, ops, reference))
            finally:
                db.close()
    (ref_answers, ref_tables), (answers, tables) = results
    assert answers == ref_answers
    assert tables == ref_tables


def hot_writes(repo: Repository, n: int) -> None:
    """One of each hot write, with values that differ with `n`."""
    price = Decimal("0.61") - Decimal(n) / 100
    repo.record_fill(Fill(f"f-1{n}", "o-1", "cid-1", "KXNBA-T", Side.YES, Action.SELL, n, price, Decimal("0.02"), T0))
    repo.record_exit_attempt(ExitAttemptRecord(f"x-1{n}", "pos-a", n, "cid-1", price, 3, AttemptAction.WALKED, T0))
    repo.update_order(OrderSnapshot(f"ord-{n}", ORDERS[n % 3], "KXNBA-T", Side.YES, Action.SELL, 10, price,
                                    OrderStatus.EXECUTED, n, None, Decimal("0.02")))
    repo.set_order_status(ORDERS[n % 3], StoredOrderStatus.CANCELED)
    repo.record_exit_event(ExitRecord("pos-b", REASONS[n % 2], "HIGH", ExitStatus.TRIGGERED, T0))
    repo.link_trigger("pos-b", REASONS[n % 2], f"x-9{n}")


def test_the_hot_statements_are_built_once_and_run_prepared(tmp_path: Path) -> None:
    """Each hot statement's SQL is built once per Repository (not rebuilt per call): after the
    first of each, peewee's compiler is not called again by these writes."""
    db = fresh_sqlite(tmp_path, "once")
    run(db, [], reference=False)            # the positions and the pending orders
    built = []
    original = peewee.Context.sql

    def counting(self, obj):  # noqa: ANN001, ANN202
        if isinstance(obj, peewee.Query):
            built.append(type(obj).__name__)
        return original(self, obj)

    peewee.Context.sql = counting
    try:
        repo = Repository(db, VirtualClock(T0))
        repo._prepared = {}
        with repo.atomic():
            hot_writes(repo, 1)
            hot_writes(repo, 2)
            first = len(built)
            for n in (3, 4, 5):
                hot_writes(repo, n)
    finally:
        peewee.Context.sql = original
        db.close()
    assert first > 0
    assert built[first:] == []


def test_open_marks_after_any_sequence_of_saves_are_the_positions_as_stored(tmp_path: Path) -> None:
    """open_marks keeps its last read's conversions for rows that did not change: after every
    save, what it returns is still exactly the stored positions' columns (Decimal exponents and
    types included), oldest first, closed ones left out."""
    import dataclasses
    import random

    from models.position import PositionStatus

    db = fresh_sqlite(tmp_path, "marks")
    repo = Repository(db, VirtualClock(T0))
    rnd = random.Random(7)
    prices = [None, Decimal("0.56"), Decimal("0.5600"), Decimal("0.57"), Decimal("0.010000")]
    states = {}
    try:
        for step in range(300):
            pid = f"p{rnd.randrange(6)}"
            base = states.get(pid) or PositionState(
                position_id=pid, ticker=f"KXNBA-{pid}", side=Side.YES, signal_type="model_edge", sport="nba",
                game_id=None, entry_price=Decimal("0.56"), initial_contracts=10, contracts=10,
                entry_fees=Decimal("0.18"), opened_at=T0 + timedelta(seconds=rnd.randrange(4)))
            state = dataclasses.replace(base, current_price=rnd.choice(prices), trailing_stop_price=rnd.choice(prices),
                                        contracts=rnd.randrange(1, 10),
                                        last_update=rnd.choice([None, T0 + timedelta(microseconds=rnd.randrange(9))]),
                                        status=rnd.choice(list(PositionStatus)))
            states[pid] = state
            repo.upsert_position(state)
            expected = tuple((p.position_id, p.current_price, p.trailing_stop_price, p.model_probability,
                              p.contracts, p.last_update) for p in repo.load_open_positions())
            marks = repo.open_marks()
            assert [tuple(repr(v) for v in m) for m in marks] == [tuple(repr(v) for v in m) for m in expected], step
    finally:
        db.close()
