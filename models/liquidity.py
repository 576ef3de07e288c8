"""Liquidity, pure: what liquidity_dried_up judges (and what an entry check may call).

A market's lifetime volume only grows, so it can never say that trading dried up. The measure
is the volume traded recently: the lifetime volume now minus the lifetime volume at the start
of a window (`liquidity.volume_window_secs`, 5 min). With less history than the window it is
unknown (None), never 0: an unknown measure gives no verdict, so it neither fires an exit nor
refuses an entry. The PriceCache, where every quote passes, keeps the samples and stamps
`Quote.recent_volume`.

`liquidity_breach(quote, side, config)` is the whole rule, first breach wins:
1. our side has no bid at all: nothing to sell into (illiquid, whatever else is known);
2. the spread (YES ask - YES bid, the same in NO terms) is wider than `max_spread_cents`;
3. recent volume is known and below `min_volume` contracts.
It fires liquidity_dried_up only once the breach has lasted `breach_for_secs` (`breach_since`,
kept by the position; 30 s by default).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Sequence

from config.schema import LiquidityConfig
from models.market import Quote, Side
from models.money import HUNDRED


@dataclass(frozen=True, slots=True)
class LiquidityBreach:
    measure: str                  # "no_bid" | "spread" | "recent_volume"
    value: Decimal | None         # cents for spread, contracts for recent volume, None for no bid
    threshold: Decimal | None
    detail: str


def recent_volume(samples: Sequence[tuple[datetime, int]], now: datetime, window: timedelta) -> int | None:
    """Contracts traded in the last `window`: the latest sampled lifetime volume minus the one
    at the window's start (the last sample at or before now - window). None when no sample is
    that old. Samples are (time, lifetime volume), oldest first. Sparse samples can only make
    the span longer than the window (more volume counted, never a false "dried up")."""
    if not samples:
        return None
    start = now - window
    base = None
    for ts, volume in samples:
        if ts > start:
            break
        base = volume
    if base is None:
        return None
    return max(samples[-1][1] - base, 0)


def breach_since(since: datetime | None, quote: Quote, side: Side, config: LiquidityConfig,
                 now: datetime) -> datetime | None:
    """When the current liquidity breach began, after a priced look at `quote` (None: none now).
    liquidity_dried_up waits until it has lasted `breach_for_secs`: a spread that widens for a
    few seconds (a book being re-quoted) is a blip, not a market gone dry."""
    if liquidity_breach(quote, side, config) is None:
        return None
    return since or now


def liquidity_breach(quote: Quote, side: Side, config: LiquidityConfig) -> LiquidityBreach | None:
    """The first way `quote` is too illiquid for a position on `side`, or None."""
    if quote.bid(side) is None:
        return LiquidityBreach("no_bid", None, None, f"no bid for {side.value} at all")
    spread = quote.spread
    if spread is not None and spread * HUNDRED > config.max_spread_cents:
        return LiquidityBreach("spread", spread * HUNDRED, config.max_spread_cents,
                               f"spread {spread * HUNDRED:.0f}c > {config.max_spread_cents}c")
    recent = quote.recent_volume
    if recent is not None and recent < config.min_volume:
        minutes = config.volume_window_secs / 60
        return LiquidityBreach("recent_volume", Decimal(recent), Decimal(config.min_volume),
                               f"{recent} traded in the last {minutes:g} min < {config.min_volume}")
    return None
