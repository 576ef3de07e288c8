"""Market data: sides, quotes and the order-book top."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from models.money import ONE


class Side(str, enum.Enum):
    YES = "yes"
    NO = "no"

    @property
    def other(self) -> "Side":
        return Side.NO if self is Side.YES else Side.YES


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book for one market, in YES terms (Kalshi's convention).

    The NO side is derived: NO bid = 1 - YES ask, NO ask = 1 - YES bid.
    Sizes are contracts at the best level (None = unknown / unlimited in replays).
    """

    ticker: str
    ts: datetime
    yes_bid: Decimal | None
    yes_ask: Decimal | None
    yes_bid_size: int | None = None
    yes_ask_size: int | None = None
    last: Decimal | None = None
    volume: int | None = None
    close_time: datetime | None = None
    # Contracts traded within liquidity.volume_window_secs before `ts` (models/liquidity.py);
    # None = unknown (less history than the window). Stamped by the PriceCache.
    recent_volume: int | None = None
    # The first moment recent_volume falls below liquidity.min_volume if no new sample comes
    # (models/time_band.volume_low_at; None: never, or not known). Stamped by the PriceCache.
    volume_low_at: datetime | None = None

    def bid(self, side: Side) -> Decimal | None:
        if side is Side.YES:
            return self.yes_bid
        return None if self.yes_ask is None else ONE - self.yes_ask

    def ask(self, side: Side) -> Decimal | None:
        if side is Side.YES:
            return self.yes_ask
        return None if self.yes_bid is None else ONE - self.yes_bid

    def bid_size(self, side: Side) -> int | None:
        return self.yes_bid_size if side is Side.YES else self.yes_ask_size

    def ask_size(self, side: Side) -> int | None:
        return self.yes_ask_size if side is Side.YES else self.yes_bid_size

    def mid(self, side: Side) -> Decimal | None:
        b, a = self.bid(side), self.ask(side)
        if b is None or a is None:
            return None
        return (b + a) / 2

    @property
    def spread(self) -> Decimal | None:
        if self.yes_bid is None or self.yes_ask is None:
            return None
        return self.yes_ask - self.yes_bid

    def age(self, now: datetime) -> timedelta:
        return now - self.ts

    def is_fresh(self, now: datetime, ttl: timedelta) -> bool:
        return self.age(now) <= ttl
