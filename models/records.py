"""What the database holds beyond positions and fills, as domain types: the status enums of its
rows and the frozen records the repository returns (adapters/storage/repository.py writes and
reads them; actors receive them through the storage port, models/storage.py).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from models.money import ZERO
from models.orders import OrderRequest, OrderSnapshot, OrderStatus
from models.signal import TradingSignal


class ExitStatus(str, enum.Enum):
    """position_exits.status: a trigger seen, or how an executed exit ended."""

    TRIGGERED = "triggered"
    FILLED = "filled"
    GAVE_UP = "gave_up"
    PREEMPTED = "preempted"


class AttemptAction(str, enum.Enum):
    PLACED = "placed"
    WALKED = "walked"
    ESCALATED = "escalated"
    CANCELED = "canceled"
    FILLED = "filled"
    GAVE_UP = "gave_up"


class SignalDecision(str, enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class StoredOrderStatus(str, enum.Enum):
    """orders.status. PENDING is written before the order is sent; UNKNOWN means the send's
    outcome is not known (look the order up by client_order_id before re-sending)."""

    PENDING = "pending"
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


LIVE_ORDER_STATUSES = (StoredOrderStatus.PENDING, StoredOrderStatus.RESTING)
_VENUE_STATUSES = frozenset(s.value for s in OrderStatus)


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """A position_exits row: a trigger (status TRIGGERED) or the outcome of an executed exit
    (FILLED, GAVE_UP, PREEMPTED; `contracts`, `price` and `fees` are what it sold). `row_id`
    is None until stored."""

    position_id: str
    reason: str
    priority: str
    status: ExitStatus
    triggered_at: datetime
    exit_id: str | None = None
    contracts: int = 0
    price: Decimal | None = None
    fees: Decimal = ZERO
    filled_at: datetime | None = None
    trigger_value: Decimal | None = None
    threshold: Decimal | None = None
    detail: str = ""
    row_id: int | None = None


@dataclass(frozen=True, slots=True)
class ExitAttemptRecord:
    """An exit_attempts row: one step of an executor (placed, walked, escalated, ...)."""

    exit_id: str
    position_id: str
    attempt: int
    client_order_id: str
    price: Decimal
    contracts: int
    action: AttemptAction
    ts: datetime
    order_id: str | None = None
    detail: str = ""
    row_id: int | None = None


@dataclass(frozen=True, slots=True)
class SignalRecord:
    signal: TradingSignal
    decision: SignalDecision
    reason: str


@dataclass(frozen=True, slots=True)
class BreakerTrip:
    """A breaker_trips row: a trip of the circuit breaker on one trading day."""

    day: str
    kind: str
    reason: str
    tripped_at: datetime
    cleared_at: datetime | None = None
    cleared_by: str | None = None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An orders row: what we asked for, whom it serves, and what we last knew of it."""

    request: OrderRequest
    status: StoredOrderStatus
    created_at: datetime
    updated_at: datetime
    order_id: str | None = None
    position_id: str | None = None
    exit_id: str | None = None
    filled_count: int = 0
    avg_fill_price: Decimal | None = None
    fees: Decimal = ZERO

    @property
    def client_order_id(self) -> str:
        return self.request.client_order_id

    def snapshot(self) -> OrderSnapshot | None:
        """The last venue view, or None if the venue has not answered with an order yet."""
        if self.order_id is None or self.status.value not in _VENUE_STATUSES:
            return None
        r = self.request
        return OrderSnapshot(order_id=self.order_id, client_order_id=r.client_order_id, ticker=r.ticker,
                             side=r.side, action=r.action, count=r.count, limit_price=r.limit_price,
                             status=OrderStatus(self.status.value), filled_count=self.filled_count,
                             avg_fill_price=self.avg_fill_price, fees=self.fees, created_ts=self.created_at)
