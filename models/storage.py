"""The storage port: what the actors ask of the database (adapters/storage/repository.py is
its implementation; tests may give any object with these methods).

Domain types in, domain types out: PositionState, Fill, OrderSnapshot, TradingSignal and the
records of models/records.py. Every call is synchronous and is made by the Store actor (writes)
or at start-up (reads); `atomic()` groups writes that belong together.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import Protocol, Sequence

from models.orders import Fill, OrderRequest, OrderSnapshot
from models.position import PositionState
from models.records import (
    BreakerTrip, ExitAttemptRecord, ExitRecord, OrderRecord, SignalDecision, SignalRecord, StoredOrderStatus,
)
from models.signal import TradingSignal


class Storage(Protocol):
    def atomic(self) -> AbstractContextManager[object]:
        """A transaction (a savepoint when nested): `with repo.atomic(): ...`."""
        ...

    def checkpoint(self) -> None:
        """Checkpoint the write-ahead log (a no-op where there is none)."""
        ...

    def upsert_position(self, position: PositionState) -> None:
        ...

    def load_position(self, position_id: str) -> PositionState | None:
        ...

    def load_open_positions(self) -> tuple[PositionState, ...]:
        """Positions to rebuild actors for at startup: status open or exiting, oldest first."""
        ...

    def record_signal(self, signal: TradingSignal, decision: SignalDecision, reason: str = "") -> bool:
        ...

    def signal(self, signal_id: str) -> SignalRecord | None:
        ...

    def record_order_pending(self, request: OrderRequest, position_id: str | None,
                             exit_id: str | None) -> bool:
        ...

    def update_order(self, snapshot: OrderSnapshot) -> None:
        ...

    def set_order_status(self, client_order_id: str, status: StoredOrderStatus,
                         order_id: str | None = None) -> None:
        """For what a snapshot cannot say: REJECTED, or UNKNOWN after a send with no answer."""
        ...

    def open_orders(self) -> tuple[OrderRecord, ...]:
        """Orders that may be live at the venue: pending (maybe sent) or resting."""
        ...

    def orders_for(self, position_id: str) -> tuple[OrderRecord, ...]:
        ...

    def record_fill(self, fill: Fill, position: PositionState | None = None) -> bool:
        ...

    def fills_for_order(self, order_id: str) -> tuple[Fill, ...]:
        ...

    def record_exit_event(self, record: ExitRecord, position: PositionState | None = None) -> bool:
        ...

    def link_trigger(self, position_id: str, condition: str, exit_id: str) -> bool:
        ...

    def exit_ledger(self, position_ids: Sequence[str]) -> dict[str, tuple[tuple[Fill, ...], int]]:
        """Per position: the fills of its sell orders, and the contracts reconciled away."""
        ...

    def record_exit_attempt(self, record: ExitAttemptRecord) -> int:
        """Append one executor step; returns its row id."""
        ...

    def realized_pnl_since(self, since: datetime) -> Decimal:
        ...

    def realized_pnl_keys_since(self, since: datetime) -> frozenset[str]:
        ...

    def record_breaker_trip(self, trip: BreakerTrip) -> None:
        ...

    def breaker_trips(self, day: str | None = None) -> tuple[BreakerTrip, ...]:
        """The trips of `day` (every day if None), oldest first."""
        ...

    def record_signal_pending(self, signal: TradingSignal, received_at: datetime) -> bool:
        ...

    def pending_signals(self) -> tuple[TradingSignal, ...]:
        """Signals received and not decided when the last process stopped, oldest first."""
        ...
