"""Trading signals: the input of the entry path."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from models.market import Side


@dataclass(frozen=True, slots=True)
class TradingSignal:
    """An edge signal. win_probability is the model's probability that `side` wins.

    market_price is the price we expect to pay for `side` (its ask) when the signal was made;
    edge = win_probability - market_price. `contracts`, when given, forces the size (Kelly is
    skipped; the exposure caps still apply).
    """

    signal_id: str
    ts: datetime
    game_id: str | None
    sport: str
    ticker: str
    platform: str
    side: Side
    signal_type: str
    win_probability: Decimal
    market_price: Decimal | None = None
    source: str = "model"
    contracts: int | None = None

    @property
    def edge(self) -> Decimal | None:
        if self.market_price is None:
            return None
        return self.win_probability - self.market_price
