"""Orders and fills as the engine sees them (venue payloads are parsed into these at the edge)."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from models.market import Side
from models.money import ZERO


class Action(str, enum.Enum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(str, enum.Enum):
    GTC = "good_till_canceled"
    IOC = "immediate_or_cancel"
    FOK = "fill_or_kill"


class OrderStatus(str, enum.Enum):
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What we ask the venue for. limit_price is the price of `side` (YES or NO), in dollars."""

    client_order_id: str
    ticker: str
    side: Side
    action: Action
    count: int
    limit_price: Decimal
    time_in_force: TimeInForce = TimeInForce.GTC

    def __post_init__(self) -> None:
        if self.count <= 0:
            raise ValueError(f"order {self.client_order_id}: count must be positive, got {self.count}")


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """The venue's view of one order at one moment."""

    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    count: int
    limit_price: Decimal
    status: OrderStatus
    filled_count: int = 0
    avg_fill_price: Decimal | None = None
    fees: Decimal = ZERO
    created_ts: datetime | None = None

    @property
    def remaining_count(self) -> int:
        return 0 if self.status is not OrderStatus.RESTING else self.count - self.filled_count

    @property
    def is_done(self) -> bool:
        return self.status is not OrderStatus.RESTING


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    count: int
    price: Decimal
    fee: Decimal
    ts: datetime
    is_taker: bool = True


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """Net position the venue reports for one market (positive = YES, negative = NO contracts)."""

    ticker: str
    position: int
    market_exposure: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Bids only, as Kalshi returns them: ((price, size), ...) best first."""

    ticker: str
    yes_bids: tuple[tuple[Decimal, int], ...] = field(default_factory=tuple)
    no_bids: tuple[tuple[Decimal, int], ...] = field(default_factory=tuple)
