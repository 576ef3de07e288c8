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


def timing_problem(signal: TradingSignal, now: datetime, max_age_secs: Decimal,
                   max_clock_skew_secs: Decimal) -> str | None:
    """Why a signal is too old or dated too far in the future to act on (None when it is not)."""
    age = Decimal(str((now - signal.ts).total_seconds()))
    if age > max_age_secs:
        return (f"signal is {age:.0f}s old, older than the {max_age_secs}s allowed for source "
                f"{signal.source!r}")
    if -age > max_clock_skew_secs:
        return (f"signal is dated {-age:.0f}s in the future (ts {signal.ts.isoformat()}), beyond the "
                f"{max_clock_skew_secs}s clock skew allowed")
    return None


def slippage_problem(signal: TradingSignal, ask: Decimal, max_slippage_cents: Decimal) -> str | None:
    """Why the ask is too far above the price the signal was made at (None when it is not, or
    when the signal gives no price). A lower ask is no problem: the edge only grows."""
    if signal.market_price is None:
        return None
    if ask - signal.market_price > max_slippage_cents / 100:
        return (f"the ask moved from the signal's {signal.market_price:.2f} to {ask:.2f}, more than the "
                f"{max_slippage_cents}c slippage allowed")
    return None
