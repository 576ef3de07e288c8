"""The actor protocol, the Store's commands: the writes every actor sends to the one writer,
and its two asks (Flush, LedgerTotals). See actors/store.py for what commits when.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from models.orders import Fill, OrderRequest, OrderSnapshot
from models.position import PositionState
from models.records import AttemptAction, SignalDecision
from models.signal import TradingSignal


@dataclass(frozen=True, slots=True)
class SavePosition:
    state: PositionState


@dataclass(frozen=True, slots=True)
class RecordSignalPending:
    """A signal received whose decision waits on a quote: pending in the database until decided."""
    signal: TradingSignal
    ts: datetime


@dataclass(frozen=True, slots=True)
class RecordSignal:
    signal: TradingSignal
    decision: SignalDecision
    reason: str


@dataclass(frozen=True, slots=True)
class RecordOrderPending:
    request: OrderRequest
    position_id: str | None
    exit_id: str | None


@dataclass(frozen=True, slots=True)
class RecordOrderUpdate:
    snapshot: OrderSnapshot


@dataclass(frozen=True, slots=True)
class RecordOrderNeverSent:
    """Store: a look-up found no order with this client_order_id: it never reached the venue
    (marked canceled, as start-up reconciliation does); no later start looks it up again."""
    client_order_id: str


@dataclass(frozen=True, slots=True)
class RecordOrderRejected:
    """Store: the venue refused this order (it never rested): no later start looks it up again."""
    client_order_id: str


@dataclass(frozen=True, slots=True)
class RecordFill:
    fill: Fill


@dataclass(frozen=True, slots=True)
class RecordExitEvent:
    position_id: str
    exit_id: str
    reason: str
    priority: str
    contracts: int
    status: str          # ExitStatus.TRIGGERED, or the ExitOutcome of an exit that ended
    ts: datetime
    price: Decimal | None = None
    fees: Decimal = Decimal(0)
    trigger_value: Decimal | None = None
    threshold: Decimal | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LinkTriggerToExit:
    """Store: the latest `triggered` row of (position, condition) without an exit_id gets the
    exit_id of the exit it started."""
    position_id: str
    condition: str
    exit_id: str


@dataclass(frozen=True, slots=True)
class RecordExitAttempt:
    exit_id: str
    position_id: str
    attempt: int
    client_order_id: str
    action: AttemptAction
    price: Decimal
    contracts: int
    ts: datetime
    order_id: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RecordBreakerTrip:
    day: str
    kind: str
    reason: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class Flush:
    """Store: reply when every earlier write is on disk (an ask, used at shutdown)."""


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """Store (ask): (contracts, cost, fees) of the fills recorded for one order, after committing."""
    order_id: str
