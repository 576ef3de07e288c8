"""The paper venue's order book for one market, in YES terms, and its crossing rules.

The book holds the market's outside liquidity only (what a replay or the simulated game
says is there); our own resting orders are not part of it. Liquidity an order takes stays
taken until the next `replace` (a new set_book / set_quote).

Crossing rules, with every price turned into YES terms first:
- BUY YES at p and SELL NO at p take yes asks priced <= p (for NO: <= 1 - p);
- SELL YES at p and BUY NO at p take yes bids priced >= p (for NO: >= 1 - p);
- the fill price of a NO order at a YES level L is 1 - L.
Levels are walked best first. A level size of None means unlimited (a replayed quote that
recorded no size: an order at or through that price fills in full).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from models.market import Quote, Side
from models.money import ONE
from models.orders import Action

# The size an unlimited level shows in get_orderbook (OrderBook sizes are ints; quotes say None).
UNLIMITED_DISPLAY_SIZE = 1_000_000

Level = tuple[Decimal, int | None]


@dataclass(frozen=True, slots=True)
class PlannedFill:
    """`count` contracts taken at YES level `yes_price` (index `level` of the side walked)."""

    level: int
    count: int
    yes_price: Decimal


def takes_asks(side: Side, action: Action) -> bool:
    """True when the order takes yes asks (BUY YES, SELL NO); False when it takes yes bids."""
    return (side is Side.YES) == (action is Action.BUY)


def to_yes(side: Side, price: Decimal) -> Decimal:
    """A price of `side` expressed in YES terms (and back: the map is its own inverse)."""
    return price if side is Side.YES else ONE - price


class PaperBook:
    """Mutable book of one market: yes bids (best = highest first) and yes asks (lowest first)."""

    def __init__(self, ticker: str, tick: Decimal) -> None:
        self.ticker = ticker
        self.tick = tick
        self.yes_bids: list[list] = []   # [price, size | None], best first
        self.yes_asks: list[list] = []
        self.volume: int | None = None
        self.close_time: datetime | None = None
        self.last: Decimal | None = None
        self.settled: Side | None = None

    # -- market data in -------------------------------------------------------------------
    def replace(self, yes_bids: Sequence[Level], yes_asks: Sequence[Level]) -> None:
        """Replace all liquidity. Prices must be on the tick inside [tick, 1 - tick], sizes
        positive ints or None (unlimited); zero-size levels are dropped; the book may not
        be crossed (best bid >= best ask)."""
        bids = self._clean(yes_bids, "yes_bids")
        asks = self._clean(yes_asks, "yes_asks")
        bids.sort(key=lambda lv: lv[0], reverse=True)
        asks.sort(key=lambda lv: lv[0])
        if bids and asks and bids[0][0] >= asks[0][0]:
            raise ValueError(
                f"{self.ticker}: crossed book, best yes bid {bids[0][0]} >= best yes ask {asks[0][0]}"
            )
        self.yes_bids, self.yes_asks = bids, asks

    def _clean(self, levels: Sequence[Level], field: str) -> list[list]:
        out: list[list] = []
        seen: set[Decimal] = set()
        for i, level in enumerate(levels):
            try:
                price, size = level
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{self.ticker} {field}[{i}]: expected (price, size), found {level!r}") from exc
            if not isinstance(price, Decimal) or not price.is_finite():
                raise ValueError(f"{self.ticker} {field}[{i}]: expected a Decimal price, found {price!r}")
            if price % self.tick != 0 or not (self.tick <= price <= ONE - self.tick):
                raise ValueError(
                    f"{self.ticker} {field}[{i}]: price {price} is not on the {self.tick} tick "
                    f"inside [{self.tick}, {ONE - self.tick}]"
                )
            if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
                raise ValueError(f"{self.ticker} {field}[{i}]: expected a size >= 0 or None, found {size!r}")
            if price in seen:
                raise ValueError(f"{self.ticker} {field}[{i}]: price {price} appears twice")
            seen.add(price)
            if size != 0:
                out.append([price, size])
        return out

    # -- matching -------------------------------------------------------------------------
    def plan(self, side: Side, action: Action, limit_price: Decimal, count: int) -> list[PlannedFill]:
        """What an order of `count` at `limit_price` (a price of `side`) would take now, best
        level first, without changing the book."""
        yes_limit = to_yes(side, limit_price)
        asks = takes_asks(side, action)
        levels = self.yes_asks if asks else self.yes_bids
        fills: list[PlannedFill] = []
        remaining = count
        for i, (price, size) in enumerate(levels):
            if remaining == 0 or (price > yes_limit if asks else price < yes_limit):
                break
            n = remaining if size is None else min(size, remaining)
            if n > 0:
                fills.append(PlannedFill(i, n, price))
                remaining -= n
        return fills

    def consume(self, side: Side, action: Action, planned: Sequence[PlannedFill]) -> None:
        """Take the planned liquidity out of the book (unlimited levels stay)."""
        levels = self.yes_asks if takes_asks(side, action) else self.yes_bids
        for fill in planned:
            if levels[fill.level][1] is not None:
                levels[fill.level][1] -= fill.count
        levels[:] = [lv for lv in levels if lv[1] != 0]

    # -- market data out ------------------------------------------------------------------
    def quote(self, ts: datetime) -> Quote:
        bid = self.yes_bids[0] if self.yes_bids else (None, None)
        ask = self.yes_asks[0] if self.yes_asks else (None, None)
        return Quote(
            ticker=self.ticker, ts=ts, yes_bid=bid[0], yes_ask=ask[0],
            yes_bid_size=bid[1], yes_ask_size=ask[1],
            last=self.last, volume=self.volume, close_time=self.close_time,
        )

    def bids_only(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """(yes bids, no bids) as Kalshi lists them; NO bids are 1 - yes asks, best first."""
        def shown(size: int | None) -> int:
            return UNLIMITED_DISPLAY_SIZE if size is None else size

        yes = tuple((p, shown(s)) for p, s in self.yes_bids)
        no = tuple((ONE - p, shown(s)) for p, s in self.yes_asks)
        return yes, no
