"""Order books built from Kalshi's snapshot + deltas, and the sequence check. Pure (no I/O, no clock).

A book holds bids only, as Kalshi sends them: YES bids at YES prices, NO bids at NO prices
(a NO bid at p is a YES ask at 1 - p). Sizes are kept exactly (Decimal: Kalshi's deltas may be
fractional, and rounding each one would leave phantom levels); the quote hands out whole
contracts (floored: what could really be sold). An empty side is an empty side: its best price
is None, never the last one seen.

Sequence numbers are per subscription (sid), not per market: every frame of the orderbook
subscription carries the next number, whichever market it is about. A gap therefore means a
frame of ANY market of that subscription may be lost, and every one of them must be re-snapshot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from adapters.kalshi.ws_protocol import BookDelta, BookSnapshot
from models.market import Quote, Side
from models.money import ONE


class BookInconsistent(ValueError):
    """A delta that cannot apply (a level would go below zero): the book is no longer the venue's."""


@dataclass
class MarketBook:
    ticker: str
    yes: dict[Decimal, Decimal] = field(default_factory=dict)
    no: dict[Decimal, Decimal] = field(default_factory=dict)

    def apply_snapshot(self, snap: BookSnapshot) -> None:
        self.yes = {p: s for p, s in snap.yes if s > 0}
        self.no = {p: s for p, s in snap.no if s > 0}

    def apply_delta(self, delta: BookDelta) -> None:
        side = self.yes if delta.side is Side.YES else self.no
        size = side.get(delta.price, Decimal(0)) + delta.delta
        if size < 0:
            raise BookInconsistent(f"{self.ticker}: {delta.side.value} level {delta.price} would hold {size} "
                                   "contracts")
        if size == 0:
            side.pop(delta.price, None)
        else:
            side[delta.price] = size

    def top(self) -> tuple[Decimal | None, int | None, Decimal | None, int | None]:
        """(yes bid, its size, yes ask, its size); None for an empty side."""
        bid = max(self.yes) if self.yes else None
        no_bid = max(self.no) if self.no else None
        return (bid, _whole(self.yes[bid]) if bid is not None else None,
                ONE - no_bid if no_bid is not None else None, _whole(self.no[no_bid]) if no_bid is not None else None)

    def to_quote(self, ts: datetime, *, last: Decimal | None = None, volume: int | None = None,
                 close_time: datetime | None = None) -> Quote:
        bid, bid_size, ask, ask_size = self.top()
        return Quote(self.ticker, ts, bid, ask, bid_size, ask_size, last, volume, close_time)


def _whole(size: Decimal) -> int:
    return int(size.to_integral_value(rounding=ROUND_FLOOR))


@dataclass
class Sequences:
    """The next `seq` expected on each subscription."""

    last: dict[int, int] = field(default_factory=dict)

    def check(self, sid: int, seq: int) -> str | None:
        """None when `seq` follows (or starts) the subscription's sequence, "duplicate" for a frame
        already seen, else what went missing."""
        prev = self.last.get(sid)
        if prev is None or seq == prev + 1:
            self.last[sid] = seq
            return None
        if seq <= prev:
            return "duplicate"
        return f"sequence gap on subscription {sid}: expected {prev + 1}, got {seq}"

    def forget(self, sid: int) -> None:
        self.last.pop(sid, None)

    def clear(self) -> None:
        self.last.clear()
