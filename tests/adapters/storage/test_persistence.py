"""Persistence: every table round-trips through the Repository, on SQLite always and on
PostgreSQL when ARBEES_TEST_DATABASE_URL points at a server (.ci/run starts one)."""
from __future__ import annotations

import os
import traceback
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import peewee
import pytest

from actors.clock import VirtualClock
from adapters.storage.database import (
    SCHEMA_VERSION, DatabaseUrlError, ExitAttemptRecord, ExitRecord, Repository, SchemaTooNew, SignalRecord,
    connect, migrate,
)
from adapters.storage.rows import POSITION_FIELDS
from models.market import Side
from models.orders import Action, Fill, OrderRequest, OrderSnapshot, OrderStatus, TimeInForce
from models.position import PositionState, PositionStatus
from models.signal import TradingSignal
from adapters.storage.tables import (
    ALL_TABLES, AttemptAction, ExitStatus, PositionRow, SchemaVersion, SignalDecision, StoredOrderStatus,
)

T0 = datetime(2025, 11, 22, 19, 30, tzinfo=timezone.utc)
PG_URL_VAR = "ARBEES_TEST_DATABASE_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path) -> peewee.Database:
    if request.param == "sqlite":
        database = connect(str(tmp_path / "arbees.db"), environ={})
    else:
        url = os.environ.get(PG_URL_VAR)
        if not url:
            pytest.skip(f"{PG_URL_VAR} is not set: no PostgreSQL server is reachable, "
                        "so the PostgreSQL variant is skipped (.ci/run starts one)")
        database = connect(database_url=url)
        database.drop_tables(ALL_TABLES, safe=True, cascade=True)
    migrate(database, VirtualClock(T0))
    yield database
    if request.param == "postgresql":
        database.drop_tables(ALL_TABLES, safe=True, cascade=True)
    database.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def repo(db: peewee.Database, clock: VirtualClock) -> Repository:
    return Repository(db, clock)


def a_position(position_id: str = "pos-1", **changes: object) -> PositionState:
    base = PositionState(
        position_id=position_id, ticker="KXNBAGAME-25NOV22LACCHA-LAC", side=Side.YES, signal_type="model_edge",
        sport="nba", game_id="401810123", entry_price=Decimal("0.5600"), initial_contracts=20, contracts=20,
        entry_fees=Decimal("0.18"), opened_at=T0)
    return PositionState(**{**{n: getattr(base, n) for n in POSITION_FIELDS}, **changes})


def every_field_set() -> PositionState:
    return a_position(
        status=PositionStatus.EXITING, model_probability=Decimal("0.634512"), current_price=Decimal("0.61"),
        unrealized_pnl=Decimal("-12.345678"), unrealized_pnl_pct=Decimal("8.928571"),
        last_update=T0 + timedelta(minutes=5, microseconds=123456), peak_price=Decimal("0.66"),
        trailing_stop_active=True, trailing_stop_price=Decimal("0.63"), partial_stages_done=1,
        realized_pnl=Decimal("0.95"), exit_fees=Decimal("0.09"), exit_reason="trailing_stop",
        exit_priority="HIGH", closed_at=T0 + timedelta(hours=1), close_time=T0 + timedelta(hours=3),
        side=Side.NO, initial_contracts=20, contracts=10)


def a_request(cid: str = "cid-1", **changes: object) -> OrderRequest:
    fields = dict(client_order_id=cid, ticker="KXNBAGAME-25NOV22LACCHA-LAC", side=Side.YES, action=Action.SELL,
                  count=10, limit_price=Decimal("0.6100"), time_in_force=TimeInForce.IOC)
    return OrderRequest(**{**fields, **changes})


def a_fill(fill_id: str = "fill-1", **changes: object) -> Fill:
    fields = dict(fill_id=fill_id, order_id="ord-1", client_order_id="cid-1", ticker="KXNBAGAME-25NOV22LACCHA-LAC",
                  side=Side.YES, action=Action.SELL, count=4, price=Decimal("0.6100"), fee=Decimal("0.07"),
                  ts=T0 + timedelta(seconds=3), is_taker=False)
    return Fill(**{**fields, **changes})


# -- positions --------------------------------------------------------------------------------

def test_the_positions_table_mirrors_position_state_field_for_field():
    assert set(PositionRow._meta.fields) == set(POSITION_FIELDS)


def test_a_position_with_every_field_set_comes_back_equal(repo):
    position = every_field_set()
    repo.upsert_position(position)
    loaded = repo.load_position("pos-1")
    assert loaded == position
    assert loaded.last_update == T0 + timedelta(minutes=5, microseconds=123456)
    assert loaded.opened_at.tzinfo is not None and loaded.opened_at.utcoffset() == timedelta(0)


def test_a_position_with_only_required_fields_comes_back_equal(repo):
    repo.upsert_position(a_position())
    assert repo.load_position("pos-1") == a_position()
    assert repo.load_position("no-such-position") is None


def test_upserting_a_position_again_replaces_its_state(repo):
    repo.upsert_position(a_position())
    repo.upsert_position(a_position(contracts=5, status=PositionStatus.EXITING, current_price=Decimal("0.7")))
    assert repo.load_position("pos-1") == a_position(contracts=5, status=PositionStatus.EXITING,
                                                     current_price=Decimal("0.7"))
    assert len(repo.all_positions()) == 1


def test_open_and_exiting_positions_are_loaded_oldest_first_and_closed_ones_are_not(repo):
    repo.upsert_position(a_position("late", opened_at=T0 + timedelta(minutes=2), status=PositionStatus.EXITING))
    repo.upsert_position(a_position("early", opened_at=T0, side=Side.NO))   # one open per market and side
    repo.upsert_position(a_position("done", opened_at=T0 + timedelta(minutes=1), status=PositionStatus.CLOSED,
                                    contracts=0, closed_at=T0 + timedelta(minutes=9)))
    assert [p.position_id for p in repo.load_open_positions()] == ["early", "late"]
    assert [p.position_id for p in repo.all_positions()] == ["early", "done", "late"]


@pytest.mark.parametrize("amount", ["0.5600", "-12.345678", "0", "0.000001", "999999999999.999999"])
def test_money_comes_back_with_exactly_the_value_stored(repo, db, amount):
    value = Decimal(amount)
    repo.upsert_position(a_position(entry_price=value, realized_pnl=-value))
    loaded = repo.load_position("pos-1")
    assert (loaded.entry_price, loaded.realized_pnl) == (value, -value)
    assert isinstance(loaded.entry_price, Decimal)
    if isinstance(db, peewee.SqliteDatabase):  # stored as text: even the written form survives
        assert str(loaded.entry_price) == amount


@pytest.mark.parametrize("bad, expected", [
    (Decimal("0.5666666666666666666666666667"), "positions.entry_price: .* more than 6 decimal places"),
    (Decimal("1000000000000"), "positions.entry_price: .* more than 12 integer digits"),
    (0.56, "positions.entry_price: expected a Decimal, found float"),
    (Decimal("NaN"), "positions.entry_price: expected a finite Decimal"),
])
def test_money_that_cannot_be_stored_exactly_is_refused_and_nothing_is_written(repo, bad, expected):
    with pytest.raises(ValueError, match=expected):
        repo.upsert_position(a_position(entry_price=bad))
    assert repo.load_position("pos-1") is None


def test_ratios_made_by_division_are_rounded_to_six_places(repo):
    repo.upsert_position(a_position(unrealized_pnl_pct=Decimal(1) / 3 * 100, model_probability=Decimal("0.63451249")))
    loaded = repo.load_position("pos-1")
    assert (loaded.unrealized_pnl_pct, loaded.model_probability) == (Decimal("33.333333"), Decimal("0.634512"))


def test_times_come_back_as_the_same_instant_in_utc_and_naive_times_are_refused(repo):
    eastern = timezone(timedelta(hours=-5))
    repo.upsert_position(a_position(opened_at=datetime(2025, 11, 22, 14, 30, 0, 250, tzinfo=eastern)))
    loaded = repo.load_position("pos-1")
    assert loaded.opened_at == datetime(2025, 11, 22, 19, 30, 0, 250, tzinfo=timezone.utc)
    assert loaded.opened_at.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="positions.opened_at: expected a timezone-aware datetime"):
        repo.upsert_position(a_position("pos-2", opened_at=datetime(2025, 11, 22, 19, 30)))


# -- signals ----------------------------------------------------------------------------------

def test_a_signal_and_its_decision_round_trip_and_are_recorded_once(repo):
    signal = TradingSignal(signal_id="sig-1", ts=T0, game_id="401810123", sport="nba",
                           ticker="KXNBAGAME-25NOV22LACCHA-LAC", platform="kalshi", side=Side.NO,
                           signal_type="model_edge", win_probability=Decimal("0.61"),
                           market_price=Decimal("0.5400"), source="sim", contracts=7)
    assert repo.record_signal(signal, SignalDecision.REJECTED, "edge below minimum after fees") is True
    assert repo.record_signal(signal, SignalDecision.ACCEPTED, "again") is False
    record = repo.signal("sig-1")
    assert record.signal == signal
    assert record.signal.edge == Decimal("0.07")
    assert (record.decision, record.reason) == (SignalDecision.REJECTED, "edge below minimum after fees")
    assert repo.signal("sig-2") is None


def test_a_signal_without_market_price_or_game_round_trips(repo):
    signal = TradingSignal(signal_id="sig-2", ts=T0, game_id=None, sport="nfl", ticker="T", platform="kalshi",
                           side=Side.YES, signal_type="manual", win_probability=Decimal("0.5"))
    repo.record_signal(signal, SignalDecision.ACCEPTED)
    assert repo.signal("sig-2") == SignalRecord(signal, SignalDecision.ACCEPTED, "")
    assert repo.signal("sig-2").signal.edge is None


# -- orders and fills -------------------------------------------------------------------------

def test_an_order_is_written_pending_before_it_is_sent_and_a_retry_keeps_the_first_row(repo, clock):
    assert repo.record_order_pending(a_request(), position_id="pos-1", exit_id="exit-1") is True
    clock.advance_to(T0 + timedelta(seconds=5))
    assert repo.record_order_pending(a_request(limit_price=Decimal("0.55")), "pos-1", "exit-1") is False
    record = repo.order_by_client_id("cid-1")
    assert record.request == a_request()
    assert (record.status, record.order_id, record.position_id, record.exit_id) == (
        StoredOrderStatus.PENDING, None, "pos-1", "exit-1")
    assert record.created_at == record.updated_at == T0
    assert record.snapshot() is None
    assert [o.client_order_id for o in repo.open_orders()] == ["cid-1"]


def test_venue_snapshots_update_the_order_until_it_is_done(repo, clock):
    repo.record_order_pending(a_request(), "pos-1", "exit-1")
    clock.advance_to(T0 + timedelta(seconds=2))
    partial = OrderSnapshot(order_id="ord-1", client_order_id="cid-1", ticker=a_request().ticker, side=Side.YES,
                            action=Action.SELL, count=10, limit_price=Decimal("0.6100"), status=OrderStatus.RESTING,
                            filled_count=4, avg_fill_price=Decimal("0.6100"), fees=Decimal("0.07"), created_ts=T0)
    repo.update_order(partial)
    record = repo.order_by_client_id("cid-1")
    assert record.snapshot() == partial
    assert record.updated_at == T0 + timedelta(seconds=2)
    assert [o.status for o in repo.open_orders()] == [StoredOrderStatus.RESTING]
    executed = OrderSnapshot(**{**{f: getattr(partial, f) for f in partial.__slots__},
                                "status": OrderStatus.EXECUTED, "filled_count": 10, "fees": Decimal("0.17")})
    repo.update_order(executed)
    assert repo.order_by_client_id("cid-1").snapshot() == executed
    assert repo.open_orders() == ()
    assert [o.client_order_id for o in repo.orders_for("pos-1")] == ["cid-1"]


def test_an_order_found_only_at_the_venue_is_recorded(repo):
    found = OrderSnapshot(order_id="ord-9", client_order_id="cid-9", ticker="T", side=Side.NO, action=Action.BUY,
                          count=3, limit_price=Decimal("0.42"), status=OrderStatus.RESTING, created_ts=T0)
    repo.update_order(found)
    record = repo.order_by_client_id("cid-9")
    assert record.snapshot() == found
    assert record.position_id is None


def test_rejected_and_unknown_orders_are_marked_and_an_unknown_id_is_an_error(repo):
    repo.record_order_pending(a_request("cid-1"), None, None)
    repo.record_order_pending(a_request("cid-2"), None, None)
    repo.set_order_status("cid-1", StoredOrderStatus.REJECTED)
    repo.set_order_status("cid-2", StoredOrderStatus.UNKNOWN)
    assert repo.order_by_client_id("cid-1").status is StoredOrderStatus.REJECTED
    assert repo.order_by_client_id("cid-2").status is StoredOrderStatus.UNKNOWN
    assert repo.open_orders() == ()
    with pytest.raises(KeyError, match="cid-3"):
        repo.set_order_status("cid-3", StoredOrderStatus.REJECTED)


def test_a_fill_is_recorded_once_however_often_it_arrives(repo):
    assert repo.record_fill(a_fill()) is True
    assert repo.record_fill(a_fill()) is False
    repo.record_fill(a_fill("fill-2", ts=T0 + timedelta(seconds=4), count=6, fee=Decimal("0.10")))
    repo.record_fill(a_fill("fill-3", order_id="ord-2"))
    assert repo.fills_for_order("ord-1") == (
        a_fill(), a_fill("fill-2", ts=T0 + timedelta(seconds=4), count=6, fee=Decimal("0.10")))


def test_a_fill_and_the_position_it_produced_are_written_together_or_not_at_all(repo):
    repo.upsert_position(a_position())
    after = a_position(contracts=16, realized_pnl=Decimal("0.2"))
    assert repo.record_fill(a_fill(), position=after) is True
    assert repo.load_position("pos-1") == after
    broken = a_position(contracts=10, realized_pnl=Decimal("0.1234567"))  # cannot be stored
    with pytest.raises(ValueError, match="realized_pnl"):
        repo.record_fill(a_fill("fill-2"), position=broken)
    assert repo.fills_for_order("ord-1") == (a_fill(),)
    assert repo.load_position("pos-1") == after


# -- exits ------------------------------------------------------------------------------------

def test_every_trigger_and_each_exit_outcome_are_recorded(repo):
    exiting = a_position(status=PositionStatus.EXITING)
    repo.upsert_position(a_position())
    stop = ExitRecord(position_id="pos-1", reason="stop_loss", priority="CRITICAL", status=ExitStatus.TRIGGERED,
                      triggered_at=T0, exit_id="exit-1", trigger_value=Decimal("-12.5"), threshold=Decimal("-12"))
    edge = ExitRecord(position_id="pos-1", reason="edge_disappeared", priority="LOW", status=ExitStatus.TRIGGERED,
                      triggered_at=T0, trigger_value=Decimal("-0.013333333"), threshold=Decimal("0"),
                      detail="model 0.55 < bid 0.563")
    filled = ExitRecord(position_id="pos-1", reason="stop_loss", priority="CRITICAL", status=ExitStatus.FILLED,
                        triggered_at=T0, exit_id="exit-1", contracts=20, price=Decimal("0.49"), fees=Decimal("0.35"),
                        filled_at=T0 + timedelta(seconds=1))
    assert repo.record_exit_event(stop, position=exiting) is True
    assert repo.record_exit_event(edge) is True
    assert repo.record_exit_event(filled) is True
    assert repo.record_exit_event(filled) is False  # replayed after a restart
    assert repo.load_position("pos-1") == exiting
    stored = repo.exits_for("pos-1")
    assert [dataclass_without_row_id(r) for r in stored] == [
        stop, dataclass_without_row_id(edge, trigger_value=Decimal("-0.013333")), filled]
    assert all(r.row_id is not None for r in stored)
    assert repo.exits_for("pos-2") == ()


def test_an_exit_outcome_needs_its_exit_id_and_its_position(repo):
    outcome = ExitRecord(position_id="pos-1", reason="profit_target", priority="MEDIUM", status=ExitStatus.GAVE_UP,
                         triggered_at=T0)
    with pytest.raises(ValueError, match="needs its exit_id"):
        repo.record_exit_event(outcome)
    trigger = ExitRecord(position_id="no-such-position", reason="profit_target", priority="MEDIUM",
                         status=ExitStatus.TRIGGERED, triggered_at=T0)
    with pytest.raises(peewee.IntegrityError):
        repo.record_exit_event(trigger)


def test_exit_attempts_round_trip_in_order(repo):
    repo.upsert_position(a_position())
    placed = ExitAttemptRecord(exit_id="exit-1", position_id="pos-1", attempt=1, client_order_id="cid-1",
                               price=Decimal("0.60"), contracts=20, action=AttemptAction.PLACED, ts=T0,
                               order_id="ord-1")
    walked = ExitAttemptRecord(exit_id="exit-1", position_id="pos-1", attempt=2, client_order_id="cid-2",
                               price=Decimal("0.5850"), contracts=20, action=AttemptAction.WALKED,
                               ts=T0 + timedelta(seconds=10), detail="aggressiveness 1.5")
    first = repo.record_exit_attempt(placed)
    second = repo.record_exit_attempt(walked)
    assert second > first
    stored = repo.attempts_for("exit-1")
    assert [dataclass_without_row_id(a) for a in stored] == [placed, walked]
    assert [a.row_id for a in stored] == [first, second]


def test_writes_grouped_in_atomic_are_undone_together(repo):
    with pytest.raises(RuntimeError):
        with repo.atomic():
            repo.upsert_position(a_position())
            repo.record_order_pending(a_request(), "pos-1", None)
            raise RuntimeError("crash between the two writes")
    assert repo.load_position("pos-1") is None
    assert repo.order_by_client_id("cid-1") is None


def dataclass_without_row_id(record, **changes):
    fields = {name: getattr(record, name) for name in record.__slots__}
    return type(record)(**{**fields, "row_id": None, **changes})


# -- migrations -------------------------------------------------------------------------------

def test_migrating_again_changes_nothing_and_keeps_the_data(db, repo):
    repo.upsert_position(a_position())
    assert migrate(db, VirtualClock(T0 + timedelta(days=1))) == SCHEMA_VERSION
    assert migrate(db) == SCHEMA_VERSION
    from adapters.storage.database import MIGRATIONS

    assert [(v.version, v.applied_at) for v in SchemaVersion.select().order_by(SchemaVersion.version)] == \
        [(m.version, T0) for m in MIGRATIONS]
    assert repo.load_position("pos-1") == a_position()


def test_a_database_from_newer_code_is_refused(db, repo):
    SchemaVersion.create(version=SCHEMA_VERSION + 1, applied_at=T0)
    with pytest.raises(SchemaTooNew, match=f"version {SCHEMA_VERSION + 1}, newer than this code's {SCHEMA_VERSION}"):
        migrate(db)


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path):
    db = connect(str(tmp_path / "arbees.db"), environ={})
    migrate(db)
    pragmas = [db.execute_sql(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "foreign_keys", "busy_timeout")]
    assert pragmas == ["wal", 1, 5000]
    db.close()


# -- choosing the backend ---------------------------------------------------------------------

@pytest.mark.parametrize("url", ["postgresql://trader:hunter2@db.example:6543/arbees",
                                 "postgres://trader:hunter2@db.example:6543/arbees"])
def test_a_database_url_selects_postgresql_with_its_parts(url, tmp_path):
    db = connect(str(tmp_path / "ignored.db"), database_url=url)
    assert isinstance(db, peewee.PostgresqlDatabase)
    assert db.database == "arbees"
    assert db.connect_params == {"user": "trader", "password": "hunter2", "host": "db.example", "port": 6543}
    assert not (tmp_path / "ignored.db").exists()


def test_database_url_comes_from_the_environment_and_otherwise_sqlite_is_used(tmp_path):
    env = {"DATABASE_URL": "postgresql://u:p%40ss@localhost/arbees?sslmode=require"}
    db = connect(str(tmp_path / "a.db"), environ=env)
    assert isinstance(db, peewee.PostgresqlDatabase)
    assert db.connect_params == {"user": "u", "password": "p@ss", "host": "localhost", "sslmode": "require"}
    assert isinstance(connect(str(tmp_path / "a.db"), environ={}), peewee.SqliteDatabase)
    with pytest.raises(DatabaseUrlError, match="no database"):
        connect(None, environ={})


@pytest.mark.parametrize("url, complaint", [
    ("postgresql://trader:s3cr3tpw@db.example:notaport/arbees", "port must be a number"),
    ("postgresql://trader:s3cr3t/pw@db.example/arbees", "port must be a number"),
    ("postgresql://trader:s3cr3tpw@db.example", "database name"),
    ("postgresql://trader:s3cr3t#pw@db.example/arbees", "port must be a number"),
    ("postgresql://trader:pw@db.example/arbees#s3cr3t", "database name"),
    ("postgresql://trader:s3cr3tpw@db.example/arbees?sslmode", "key=value"),
    ("mysql://trader:s3cr3tpw@db.example/arbees", "found scheme 'mysql'"),
    ("trader:s3cr3tpw@db.example/arbees", "must look like postgresql://"),
])
def test_a_malformed_database_url_is_explained_without_the_password(url, complaint):
    with pytest.raises(DatabaseUrlError, match=complaint) as caught:
        connect(database_url=url)
    printed = "".join(traceback.format_exception(caught.value))
    assert "s3cr3t" not in printed
    assert "s3cr3t" not in repr(caught.value)
