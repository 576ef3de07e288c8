"""The synchronous persistence API: domain types in, domain types out.

Used by the Store actor (the one writer) and by startup and summary code (readers). Rows
never leave this module: positions come back as models/position.py PositionState, fills as
models/orders.py Fill, and the tables without a domain type as the frozen records of
models/records.py. It implements the storage port, models/storage.py.

Writes that belong together run in one transaction: `record_fill` and `record_exit_event`
take the PositionState they produced, and `atomic()` groups any others. Recording is
idempotent where a restart may repeat it: a fill (by fill_id), a pending order (by
client_order_id), a signal (by signal_id) and an exit's outcome (by exit_id and status).
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import Sequence

import peewee

from actors.clock import Clock
from models.ledger import RECONCILED_AWAY
from models.market import Side
from models.money import ZERO
from models.orders import Action, Fill, OrderRequest, OrderSnapshot, TimeInForce
from models.position import PositionState, PositionStatus
from models.signal import TradingSignal
from models.pnl import realized_pnl
from adapters.storage.closed import closed_by_since
from adapters.storage.exit_ledger import exit_ledger
from adapters.storage.wal import WriteAheadLog
from adapters.storage.tables import (
    BreakerTripRow, ExitAttemptRow, FillRow, OrderRow, PendingSignalRow, PositionExitRow, PositionRow,
    SignalRow, database_proxy,
)
from adapters.storage import statements
from adapters.storage.rows import (
    order_from_row, position_from_row, position_row, prepare_query, prepare_upsert, signal_from_json, signal_to_json,
    upsert_query, with_defaults,
)
from models.records import (  # re-exported: the records are the repository's vocabulary
    LIVE_ORDER_STATUSES, AttemptAction, BreakerTrip, ExitAttemptRecord, ExitRecord, ExitStatus,
    OrderRecord, SignalDecision, SignalRecord, StoredOrderStatus,
)

class Repository(WriteAheadLog):
    """Reads and writes the tables for one database. `clock` stamps orders' created/updated times."""

    def __init__(self, db: peewee.Database, clock: Clock) -> None:
        if database_proxy.obj is not db:
            database_proxy.initialize(db)
        self._db = db
        self._clock = clock
        # The positions upsert's SQL, built once (see prepare_upsert); () when it cannot be.
        self._upsert_sql: tuple[str, tuple[peewee.Field, ...]] | tuple[()] | None = None
        self._prepared: dict[object, tuple[str, tuple[peewee.Field, ...]] | tuple[()]] = {}
        self._open_marks_sql: tuple[str, list] | None = None     # open_marks, compiled once
        self._open_marks_rows: dict[tuple, tuple] = {}            # its last read: raw row -> converted

    def atomic(self) -> AbstractContextManager[object]:
        """A transaction (a savepoint when nested): `with repo.atomic(): ...`."""
        return self._db.atomic()

    # statements on the Store's hot path, built once ------------------------------------------
    def _insert(self, model: type[peewee.Model], data: dict[str, object], *, row_id: bool = False) -> object:
        """model.insert(**data).execute(), from SQL built once per model and columns (peewee
        rebuilds a statement's text on every call, which costs more than running it). With
        `row_id`, the new row's id (RETURNING on PostgreSQL, as peewee does, lastrowid on SQLite)."""
        key = ("insert", model, tuple(data), row_id)
        prepared = self._prepared.get(key)
        full = with_defaults(model, data)
        if prepared is None:
            query = model.insert(**full)
            if row_id and self._db.returning_clause:
                query = query.returning(model._meta.primary_key)
            prepared = self._prepared[key] = prepare_query(query, model, full) if full else ()
        if not prepared:
            return model.insert(**data).execute()
        sql, fields = prepared
        cursor = self._db.execute_sql(sql, [f.db_value(full[f.name]) for f in fields])
        if not row_id:
            return None
        return cursor.fetchone()[0] if self._db.returning_clause else cursor.lastrowid

    def _exists(self, model: type[peewee.Model], **equal: object) -> bool:
        """Whether a row has every column equal to the value given (a prepared SELECT 1)."""
        key = ("exists", model, tuple(equal))
        prepared = self._prepared.get(key)
        if prepared is None:
            query = model.select(peewee.SQL("1")).where(
                *[getattr(model, name) == value for name, value in equal.items()]).limit(peewee.SQL("1"))
            prepared = self._prepared[key] = prepare_query(query, model, equal)
        if prepared:
            sql, fields = prepared
            return self._db.execute_sql(sql, [f.db_value(equal[f.name]) for f in fields]).fetchone() is not None
        return model.select().where(
            *[getattr(model, name) == value for name, value in equal.items()]).exists()

    # positions -----------------------------------------------------------------------------
    def upsert_position(self, position: PositionState) -> None:
        data = position_row(position)
        with self._db.atomic():
            if self._upsert_sql is None:
                self._upsert_sql = prepare_upsert(data)
            if self._upsert_sql:
                sql, fields = self._upsert_sql
                self._db.execute_sql(sql, [f.db_value(data[f.name]) for f in fields])
            else:
                upsert_query(data).execute()

    def load_position(self, position_id: str) -> PositionState | None:
        row = PositionRow.get_or_none(PositionRow.position_id == position_id)
        return None if row is None else position_from_row(row)

    def load_open_positions(self) -> tuple[PositionState, ...]:
        """Positions to rebuild actors for at startup: status open or exiting, oldest first."""
        live = (PositionStatus.OPEN.value, PositionStatus.EXITING.value)
        query = PositionRow.select().where(PositionRow.status.in_(live))
        return tuple(position_from_row(r) for r in query.order_by(PositionRow.opened_at, PositionRow.position_id))

    def open_marks(self) -> tuple[tuple, ...]:
        """What the heartbeat reports of each open (or exiting) position, oldest first:
        (position_id, current_price, trailing_stop_price, model_probability, contracts,
        last_update). The columns only: no PositionState is built (a beat every 30 s of engine
        time over thousands of positions)."""
        if self._open_marks_sql is None:        # built and compiled once: both cost more than the query
            live = (PositionStatus.OPEN.value, PositionStatus.EXITING.value)
            query = (PositionRow.select(PositionRow.position_id, PositionRow.current_price,
                                        PositionRow.trailing_stop_price, PositionRow.model_probability,
                                        PositionRow.contracts, PositionRow.last_update)
                     .where(PositionRow.status.in_(live)).order_by(PositionRow.opened_at, PositionRow.position_id))
            self._open_marks_sql = query.sql()
        sql, params = self._open_marks_sql
        fields = [PositionRow.position_id, PositionRow.current_price, PositionRow.trailing_stop_price,
                  PositionRow.model_probability, PositionRow.contracts, PositionRow.last_update]
        # A row unchanged since the last read is not converted again (most are, beat to beat).
        before, now = self._open_marks_rows, {}
        for row in self._db.execute_sql(sql, params).fetchall():
            marks = before.get(row)
            now[row] = marks if marks is not None else tuple(f.python_value(v) for f, v in zip(fields, row))
        self._open_marks_rows = now
        return tuple(now.values())

    closed_by_since = staticmethod(closed_by_since)   # (ticker, side, closed_at): adapters/storage/closed.py

    def all_positions(self) -> tuple[PositionState, ...]:
        query = PositionRow.select().order_by(PositionRow.opened_at, PositionRow.position_id)
        return tuple(position_from_row(r) for r in query)

    # signals -------------------------------------------------------------------------------
    def record_signal(self, signal: TradingSignal, decision: SignalDecision, reason: str = "") -> bool:
        """Record a signal and the decision on it (and forget it as pending); False (nothing
        written) if already recorded, except that an accepted signal whose entry ended without a
        fill becomes rejected, with that reason."""
        with self._db.atomic():
            PendingSignalRow.delete().where(PendingSignalRow.signal_id == signal.signal_id).execute()
            existing = SignalRow.get_or_none(SignalRow.signal_id == signal.signal_id)
            if existing is not None:
                if existing.decision == SignalDecision.ACCEPTED.value and \
                        SignalDecision(decision) is SignalDecision.REJECTED:
                    SignalRow.update(decision=SignalDecision.REJECTED.value, reason=reason).where(
                        SignalRow.signal_id == signal.signal_id).execute()
                    return True
                return False
            SignalRow.insert(
                signal_id=signal.signal_id, ts=signal.ts, game_id=signal.game_id, sport=signal.sport,
                ticker=signal.ticker, platform=signal.platform, side=signal.side.value,
                signal_type=signal.signal_type, win_probability=signal.win_probability,
                market_price=signal.market_price, edge=signal.edge, source=signal.source,
                contracts=signal.contracts, decision=SignalDecision(decision).value, reason=reason,
            ).execute()
        return True

    def signal(self, signal_id: str) -> SignalRecord | None:
        r = SignalRow.get_or_none(SignalRow.signal_id == signal_id)
        if r is None:
            return None
        sig = TradingSignal(signal_id=r.signal_id, ts=r.ts, game_id=r.game_id, sport=r.sport, ticker=r.ticker,
                            platform=r.platform, side=Side(r.side), signal_type=r.signal_type,
                            win_probability=r.win_probability, market_price=r.market_price, source=r.source,
                            contracts=r.contracts)
        return SignalRecord(sig, SignalDecision(r.decision), r.reason)

    # orders and fills ----------------------------------------------------------------------
    def record_order_pending(self, request: OrderRequest, position_id: str | None,
                             exit_id: str | None) -> bool:
        """Write the order down (status pending) before it is sent. A retry reuses the
        client_order_id: False, and the row is left as it is."""
        now = self._clock.now()
        with self._db.atomic():
            if self._exists(OrderRow, client_order_id=request.client_order_id):
                return False
            self._insert(OrderRow, dict(
                client_order_id=request.client_order_id, position_id=position_id, exit_id=exit_id,
                ticker=request.ticker, side=request.side.value, action=request.action.value,
                count=request.count, limit_price=request.limit_price,
                time_in_force=request.time_in_force.value, status=StoredOrderStatus.PENDING.value,
                created_at=now, updated_at=now))
        return True

    def update_order(self, snapshot: OrderSnapshot) -> None:
        """Store the venue's view of an order. An order we never wrote down (found at the
        venue) is inserted, as good-till-canceled since its time in force is not reported."""
        now = self._clock.now()
        changes = dict(order_id=snapshot.order_id, status=snapshot.status.value,
                       filled_count=snapshot.filled_count, avg_fill_price=snapshot.avg_fill_price,
                       fees=snapshot.fees, updated_at=now)
        with self._db.atomic():
            updated = statements.run(self._db, self._prepared, statements.UPDATE_ORDER,
                                     *changes.values(), snapshot.client_order_id).rowcount
            if not updated:
                OrderRow.insert(
                    client_order_id=snapshot.client_order_id, ticker=snapshot.ticker, side=snapshot.side.value,
                    action=snapshot.action.value, count=snapshot.count, limit_price=snapshot.limit_price,
                    time_in_force=TimeInForce.GTC.value, created_at=snapshot.created_ts or now, **changes,
                ).execute()

    def set_order_status(self, client_order_id: str, status: StoredOrderStatus,
                         order_id: str | None = None) -> None:
        """For what a snapshot cannot say: REJECTED, or UNKNOWN after a send with no answer."""
        changes: dict[str, object] = dict(status=StoredOrderStatus(status).value, updated_at=self._clock.now())
        if order_id is not None:
            changes["order_id"] = order_id
        with self._db.atomic():
            if order_id is None:
                updated = statements.run(self._db, self._prepared, statements.SET_ORDER_STATUS,
                                         *changes.values(), client_order_id).rowcount
            else:
                updated = OrderRow.update(**changes).where(OrderRow.client_order_id == client_order_id).execute()
            if not updated:
                raise KeyError(f"no order with client_order_id {client_order_id!r}")

    def order_by_client_id(self, client_order_id: str) -> OrderRecord | None:
        row = OrderRow.get_or_none(OrderRow.client_order_id == client_order_id)
        return None if row is None else order_from_row(row)

    def open_orders(self) -> tuple[OrderRecord, ...]:
        """Orders that may be live at the venue: pending (maybe sent) or resting."""
        query = OrderRow.select().where(OrderRow.status.in_([s.value for s in LIVE_ORDER_STATUSES]))
        return tuple(order_from_row(r) for r in query.order_by(OrderRow.created_at, OrderRow.client_order_id))

    def orders_for(self, position_id: str) -> tuple[OrderRecord, ...]:
        query = OrderRow.select().where(OrderRow.position_id == position_id)
        return tuple(order_from_row(r) for r in query.order_by(OrderRow.created_at, OrderRow.client_order_id))

    def record_fill(self, fill: Fill, position: PositionState | None = None) -> bool:
        """Record a fill once (False if fill_id is already stored), and in the same transaction
        the position state it produced, if given."""
        with self._db.atomic():
            if self._exists(FillRow, fill_id=fill.fill_id):
                new = False
            else:
                self._insert(FillRow, dict(
                    fill_id=fill.fill_id, order_id=fill.order_id, client_order_id=fill.client_order_id,
                    ticker=fill.ticker, side=fill.side.value, action=fill.action.value, count=fill.count,
                    price=fill.price, fee=fill.fee, is_taker=fill.is_taker, ts=fill.ts))
                new = True
            if position is not None:
                self.upsert_position(position)
        return new

    def fills_for_order(self, order_id: str) -> tuple[Fill, ...]:
        query = FillRow.select().where(FillRow.order_id == order_id).order_by(FillRow.ts, FillRow.fill_id)
        return tuple(Fill(fill_id=r.fill_id, order_id=r.order_id, client_order_id=r.client_order_id,
                          ticker=r.ticker, side=Side(r.side), action=Action(r.action), count=r.count,
                          price=r.price, fee=r.fee, ts=r.ts, is_taker=r.is_taker) for r in query)

    # exits ---------------------------------------------------------------------------------
    def record_exit_event(self, record: ExitRecord, position: PositionState | None = None) -> bool:
        """Append a trigger or an exit's outcome, and in the same transaction the position
        state that goes with it, if given. An outcome already stored for the same exit_id
        and status is not written again (False)."""
        status = ExitStatus(record.status)
        if status is not ExitStatus.TRIGGERED and record.exit_id is None:
            raise ValueError(f"position {record.position_id}: an exit outcome ({status.value}) needs its exit_id")
        with self._db.atomic():
            if position is not None:
                self.upsert_position(position)
            if record.exit_id is not None and self._exists(PositionExitRow, exit_id=record.exit_id,
                                                           status=status.value):
                return False
            self._insert(PositionExitRow, dict(
                position=record.position_id, exit_id=record.exit_id, reason=record.reason,
                priority=record.priority, contracts=record.contracts, price=record.price, fees=record.fees,
                status=status.value, triggered_at=record.triggered_at, filled_at=record.filled_at,
                trigger_value=record.trigger_value, threshold=record.threshold, detail=record.detail))
        return True

    def link_trigger(self, position_id: str, condition: str, exit_id: str) -> bool:
        """Give the latest `triggered` row of this position and condition that has no exit_id
        yet the exit_id of the exit it started (False when there is none)."""
        triggered = ExitStatus.TRIGGERED.value
        row = statements.run(self._db, self._prepared, statements.LATEST_UNLINKED_TRIGGER,
                             position_id, condition, triggered).fetchone()
        if row is None or self._exists(PositionExitRow, exit_id=exit_id, status=triggered):
            return False
        statements.run(self._db, self._prepared, statements.LINK_TRIGGER, exit_id, row[0])
        return True

    def exits_for(self, position_id: str) -> tuple[ExitRecord, ...]:
        query = PositionExitRow.select().where(PositionExitRow.position == position_id)
        return tuple(ExitRecord(
            position_id=r.position_id, reason=r.reason, priority=r.priority, status=ExitStatus(r.status),
            triggered_at=r.triggered_at, exit_id=r.exit_id, contracts=r.contracts, price=r.price, fees=r.fees,
            filled_at=r.filled_at, trigger_value=r.trigger_value, threshold=r.threshold, detail=r.detail,
            row_id=r.id) for r in query.order_by(PositionExitRow.id))

    def contracts_reconciled_away(self, position_id: str) -> int:
        """Contracts start-up reconciliation found gone from the venue (models/ledger.py
        RECONCILED_AWAY rows): not held any more, though no fill of ours sold them."""
        total = (PositionExitRow.select(peewee.fn.SUM(PositionExitRow.contracts))
                 .where((PositionExitRow.position == position_id) & (PositionExitRow.reason == RECONCILED_AWAY)
                        & (PositionExitRow.status == ExitStatus.TRIGGERED.value)).scalar())
        return int(total or 0)

    def exit_ledger(self, position_ids: Sequence[str]) -> dict[str, tuple[tuple[Fill, ...], int]]:
        """What rebuilding each position reads, for many at once (adapters/storage/exit_ledger.py)."""
        return exit_ledger(position_ids)

    def record_exit_attempt(self, record: ExitAttemptRecord) -> int:
        """Append one executor step; returns its row id."""
        with self._db.atomic():
            return self._insert(ExitAttemptRow, dict(
                exit_id=record.exit_id, position=record.position_id, attempt=record.attempt,
                client_order_id=record.client_order_id, order_id=record.order_id, price=record.price,
                contracts=record.contracts, action=AttemptAction(record.action).value, ts=record.ts,
                detail=record.detail), row_id=True)

    def attempts_for(self, exit_id: str) -> tuple[ExitAttemptRecord, ...]:
        query = ExitAttemptRow.select().where(ExitAttemptRow.exit_id == exit_id).order_by(ExitAttemptRow.id)
        return tuple(ExitAttemptRecord(
            exit_id=r.exit_id, position_id=r.position_id, attempt=r.attempt, client_order_id=r.client_order_id,
            price=r.price, contracts=r.contracts, action=AttemptAction(r.action), ts=r.ts, order_id=r.order_id,
            detail=r.detail, row_id=r.id) for r in query)


    # the circuit breaker and pending signals (issue 9) ---------------------------------------
    def realized_pnl_since(self, since: datetime) -> Decimal:
        """Realized P&L of every exit fill and settlement at or after `since`, each charged its
        share of the entry fee, as the positions counted it (the breaker's day, rebuilt at start)."""
        total = ZERO
        position = (PositionRow.entry_price, PositionRow.entry_fees, PositionRow.initial_contracts)
        sells = (FillRow.select(FillRow.price, FillRow.count, FillRow.fee, *position)
                 .join(OrderRow, on=(FillRow.client_order_id == OrderRow.client_order_id))
                 .join(PositionRow, on=(OrderRow.position_id == PositionRow.position_id))
                 .where((FillRow.action == Action.SELL.value) & (FillRow.ts >= since)))
        for price, count, fee, entry, entry_fees, initial in sells.tuples():
            total += realized_pnl(entry, price, count, fee, entry_fees * count / initial)
        settled = (PositionExitRow.select(PositionExitRow.price, PositionExitRow.contracts, *position)
                   .join(PositionRow)
                   .where((PositionExitRow.reason == "settlement") & (PositionExitRow.status == ExitStatus.FILLED.value)
                          & (PositionExitRow.filled_at >= since)))
        for payout, count, entry, entry_fees, initial in settled.tuples():
            total += realized_pnl(entry, payout, count, ZERO, entry_fees * count / initial)
        return total

    def realized_pnl_keys_since(self, since: datetime) -> frozenset[str]:
        """What `realized_pnl_since` counted: the sell fills' ids and the settlements' exit ids
        (a restarted RiskManager counts a PnlRealized with one of these keys only once)."""
        fills = (FillRow.select(FillRow.fill_id)
                 .where((FillRow.action == Action.SELL.value) & (FillRow.ts >= since)))
        settled = (PositionExitRow.select(PositionExitRow.exit_id)
                   .where((PositionExitRow.reason == "settlement") & (PositionExitRow.status == ExitStatus.FILLED.value)
                          & (PositionExitRow.filled_at >= since)))
        return frozenset([f for (f,) in fills.tuples()] + [e for (e,) in settled.tuples() if e])

    def record_breaker_trip(self, trip: BreakerTrip) -> None:
        with self._db.atomic():
            BreakerTripRow.insert(day=trip.day, kind=trip.kind, reason=trip.reason, tripped_at=trip.tripped_at,
                                  cleared_at=trip.cleared_at, cleared_by=trip.cleared_by).execute()

    def breaker_trips(self, day: str | None = None) -> tuple[BreakerTrip, ...]:
        """The trips of `day` (every day if None), oldest first."""
        query = BreakerTripRow.select().order_by(BreakerTripRow.tripped_at, BreakerTripRow.id)
        if day is not None:
            query = query.where(BreakerTripRow.day == day)
        return tuple(BreakerTrip(r.day, r.kind, r.reason, r.tripped_at, r.cleared_at, r.cleared_by) for r in query)

    def clear_breaker_trips(self, at: datetime, by: str) -> tuple[BreakerTrip, ...]:
        """Clear every trip not yet cleared (an operator's reset); returns them as they were."""
        with self._db.atomic():
            open_trips = [t for t in self.breaker_trips() if t.cleared_at is None]
            BreakerTripRow.update(cleared_at=at, cleared_by=by).where(BreakerTripRow.cleared_at.is_null()).execute()
        return tuple(open_trips)

    def record_signal_pending(self, signal: TradingSignal, received_at: datetime) -> bool:
        """Write down a signal received and not yet decided; False if it is already pending or decided."""
        with self._db.atomic():
            if self._exists(PendingSignalRow, signal_id=signal.signal_id) or \
                    self._exists(SignalRow, signal_id=signal.signal_id):
                return False
            PendingSignalRow.insert(signal_id=signal.signal_id, received_at=received_at,
                                    payload=signal_to_json(signal)).execute()
        return True

    def pending_signals(self) -> tuple[TradingSignal, ...]:
        """Signals received and not decided when the last process stopped, oldest first."""
        query = PendingSignalRow.select().order_by(PendingSignalRow.received_at, PendingSignalRow.signal_id)
        return tuple(signal_from_json(r.payload) for r in query)
