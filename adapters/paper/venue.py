"""PaperVenue: a simulated venue with Kalshi's semantics, for paper trading, replays and tests.

Market data comes in through `set_book` (full depth) or `set_quote` (top of book only, a
size of None meaning unlimited). Orders cross that outside liquidity by the rules in
adapters/paper/book.py; see /work/notes/paper_venue.md for the whole list. In short:
- A taker fill happens at the book level's price and pays models.money.taker_fee per fill.
- GTC rests the remainder; IOC cancels it; FOK fills in full or not at all.
- A resting order that a later book update crosses fills at its own limit price as a maker,
  fee 0 (Kalshi charges most markets no maker fee), partially when the size is short.
- Holdings are kept per ticker and side. A SELL larger than what is held, less what other
  resting sells of that ticker and side already commit, is rejected. A BUY needs the cash
  for its taker fills plus its resting remainder at the limit price; the resting part is
  held back, so get_balance() is the cash available, like Kalshi's balance.
- cancel_order of an unknown id raises OrderNotFound; of an order already executed or
  canceled it returns that order's final snapshot unchanged.
- settle() cancels the market's resting orders, pays 1 per winning contract and closes it.

Fault injection for reliability tests (adapters/paper/faults.py): inject_fault(method,
error, times) makes the next `times` calls of that venue method raise before doing anything;
inject_fault_after does the work first and then raises (a timeout after the venue acted).
Every venue call is counted in `calls`.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from actors.clock import Clock
from adapters.paper.faults import FaultInjector, faultable
from adapters.paper.book import Level, PaperBook, PlannedFill, to_yes
from models.venue import DuplicateClientOrderId, OrderNotFound, OrderRejected, VenueError
from models.events import MarketSettled
from models.market import Quote, Side
from models.money import CENT, ONE, ZERO, taker_fee
from models.orders import (
    Action, Fill, OrderBook, OrderRequest, OrderSnapshot, OrderStatus, TimeInForce,
    VenuePosition,
)

AVG_PRICE_QUANTUM = Decimal("0.0001")   # Kalshi's *_dollars precision
BASIS_QUANTUM = Decimal("0.000001")     # cost basis of part of a holding (average-cost method)
VENUE_METHODS = frozenset({
    "get_quotes", "get_orderbook", "place_order", "cancel_order", "get_order", "find_order",
    "list_orders", "get_positions", "get_fills", "get_balance",
})


class UnknownMarket(VenueError):
    """get_orderbook/settle of a ticker the paper venue has no market data for."""


@dataclass(slots=True)
class _Order:
    order_id: str
    request: OrderRequest
    created_ts: datetime
    status: OrderStatus = OrderStatus.RESTING
    filled: int = 0
    cost: Decimal = ZERO      # sum of fill price x count (before fees)
    fees: Decimal = ZERO

    @property
    def remaining(self) -> int:
        return self.request.count - self.filled if self.status is OrderStatus.RESTING else 0

    def snapshot(self) -> OrderSnapshot:
        r = self.request
        avg = (self.cost / self.filled).quantize(AVG_PRICE_QUANTUM) if self.filled else None
        return OrderSnapshot(
            order_id=self.order_id, client_order_id=r.client_order_id, ticker=r.ticker,
            side=r.side, action=r.action, count=r.count, limit_price=r.limit_price,
            status=self.status, filled_count=self.filled, avg_fill_price=avg, fees=self.fees,
            created_ts=self.created_ts,
        )


@dataclass(slots=True)
class _Holding:
    count: int = 0
    cost_basis: Decimal = ZERO   # what the contracts still held cost (average-cost method)


class PaperVenue:
    """A simulated venue implementing models.venue.Venue; see the module docstring."""

    def __init__(self, clock: Clock, *, name: str = "paper", starting_balance: Decimal = Decimal("1000"),
                 tick: Decimal = CENT) -> None:
        self.name = name
        self._clock = clock
        self._tick = tick
        self._prefix = name.upper()
        self._lock = threading.RLock()
        self._cash = starting_balance
        self._books: dict[str, PaperBook] = {}
        self._orders: dict[str, _Order] = {}           # insertion order = creation order
        # ticker -> its orders that may still rest (oldest first); ones no longer resting are
        # dropped when next seen, so a new book looks at its market's open orders, not all orders.
        self._maybe_resting: dict[str, dict[str, _Order]] = {}
        self._by_client_id: dict[str, str] = {}
        self._fills: list[Fill] = []
        self._holdings: dict[tuple[str, Side], _Holding] = defaultdict(_Holding)
        self._realized: dict[str, Decimal] = defaultdict(lambda: ZERO)
        self._fees_paid: dict[str, Decimal] = defaultdict(lambda: ZERO)
        self._settlements: list[MarketSettled] = []
        self._order_seq = 0
        self._fill_seq = 0
        self._faults = FaultInjector(VENUE_METHODS)

    # == market data in ======================================================================
    def set_book(self, ticker: str, yes_bids: Sequence[Level], yes_asks: Sequence[Level], *,
                 volume: int | None = None, close_time: datetime | None = None,
                 last: Decimal | None = None) -> list[Fill]:
        """Replace a market's liquidity (creating the market if new) and fill resting orders
        that now cross. volume / close_time / last left as None keep their previous value.
        Returns the maker fills this caused."""
        with self._lock:
            book = self._books.get(ticker)
            if book is None:
                book = self._books[ticker] = PaperBook(ticker, self._tick)
            if book.settled is not None:
                raise ValueError(f"{ticker}: market already settled {book.settled.value}")
            book.replace(yes_bids, yes_asks)
            if volume is not None:
                book.volume = volume
            if close_time is not None:
                book.close_time = close_time
            if last is not None:
                book.last = last
            return self._fill_resting(book)

    def set_quote(self, quote: Quote) -> list[Fill]:
        """Set a market's top of book from a Quote; a size of None is unlimited size."""
        bids = [] if quote.yes_bid is None else [(quote.yes_bid, quote.yes_bid_size)]
        asks = [] if quote.yes_ask is None else [(quote.yes_ask, quote.yes_ask_size)]
        return self.set_book(quote.ticker, bids, asks, volume=quote.volume,
                             close_time=quote.close_time, last=quote.last)

    def settle(self, ticker: str, result: Side) -> MarketSettled:
        """Close a market: cancel its resting orders, pay 1 per winning contract held."""
        with self._lock:
            book = self._books.get(ticker)
            if book is None:
                raise UnknownMarket(f"settle: unknown market {ticker}")
            if book.settled is not None:
                raise ValueError(f"{ticker}: market already settled {book.settled.value}")
            for order in self._resting_in(ticker):
                order.status = OrderStatus.CANCELED
            for side in Side:
                holding = self._holdings[(ticker, side)]
                payout = Decimal(holding.count) if side is result else ZERO
                self._cash += payout
                self._realized[ticker] += payout - holding.cost_basis
                holding.count, holding.cost_basis = 0, ZERO
            book.settled = result
            book.yes_bids, book.yes_asks = [], []
            book.last = ONE if result is Side.YES else ZERO
            settlement = MarketSettled(ticker=ticker, result=result, ts=self._clock.now())
            self._settlements.append(settlement)
            return settlement

    # == fault injection and counters ========================================================
    def inject_fault(self, method_name: str, error: Exception, times: int = 1) -> None:
        """The next `times` calls of `method_name` raise `error` before doing anything."""
        with self._lock:
            self._faults.inject(method_name, error, times)

    def inject_fault_after(self, method_name: str, error: Exception, times: int = 1) -> None:
        """The next `times` successful calls of `method_name` do their work, then raise `error`."""
        with self._lock:
            self._faults.inject_after(method_name, error, times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def calls(self) -> dict[str, int]:
        """Calls per venue method so far (faulted calls included)."""
        with self._lock:
            return dict(self._faults.calls)

    @property
    def settlements(self) -> tuple[MarketSettled, ...]:
        with self._lock:
            return tuple(self._settlements)

    def holding(self, ticker: str, side: Side) -> int:
        """Contracts of `side` held in `ticker` (test helper; not part of the Venue protocol)."""
        with self._lock:
            return self._holdings[(ticker, side)].count

    # == the Venue protocol ==================================================================
    @faultable
    def get_quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        now = self._clock.now()
        return {t: self._books[t].quote(now) for t in tickers if t in self._books}

    @faultable
    def get_orderbook(self, ticker: str) -> OrderBook:
        book = self._books.get(ticker)
        if book is None:
            raise UnknownMarket(f"get_orderbook: unknown market {ticker}")
        yes_bids, no_bids = book.bids_only()
        return OrderBook(ticker=ticker, yes_bids=yes_bids, no_bids=no_bids)

    @faultable
    def place_order(self, request: OrderRequest) -> OrderSnapshot:
        if request.client_order_id in self._by_client_id:
            raise DuplicateClientOrderId(
                f"client_order_id {request.client_order_id} already used by order "
                f"{self._by_client_id[request.client_order_id]}"
            )
        book = self._check_order(request)
        planned = book.plan(request.side, request.action, request.limit_price, request.count)
        taken = sum(p.count for p in planned)
        if request.time_in_force is TimeInForce.FOK and taken < request.count:
            planned, taken = [], 0
        rests = request.time_in_force is TimeInForce.GTC and taken < request.count
        if request.action is Action.BUY:
            self._check_funds(request, planned, request.count - taken if rests else 0)
        order = self._new_order(request)
        book.consume(request.side, request.action, planned)
        for p in planned:
            self._fill(order, p.count, to_yes(request.side, p.yes_price), is_taker=True)
        if order.filled == request.count:
            order.status = OrderStatus.EXECUTED
        elif not rests:
            order.status = OrderStatus.CANCELED
        return order.snapshot()

    @faultable
    def cancel_order(self, order_id: str) -> OrderSnapshot:
        order = self._orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"cancel_order: unknown order {order_id}")
        if order.status is OrderStatus.RESTING:
            order.status = OrderStatus.CANCELED
        return order.snapshot()

    @faultable
    def get_order(self, order_id: str) -> OrderSnapshot:
        order = self._orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"get_order: unknown order {order_id}")
        return order.snapshot()

    @faultable
    def find_order(self, client_order_id: str) -> OrderSnapshot | None:
        order_id = self._by_client_id.get(client_order_id)
        return None if order_id is None else self._orders[order_id].snapshot()

    @faultable
    def list_orders(self, ticker: str | None = None, status: OrderStatus | None = None) -> list[OrderSnapshot]:
        return [
            o.snapshot() for o in self._orders.values()
            if (ticker is None or o.request.ticker == ticker) and (status is None or o.status is status)
        ]

    @faultable
    def get_positions(self) -> list[VenuePosition]:
        """Every market ever traded (position 0 once closed or settled, with its realized P&L).
        position = YES held - NO held; realized_pnl is before fees, fees_paid apart."""
        tickers = sorted({t for t, _ in self._holdings} | set(self._realized) | set(self._fees_paid))
        out = []
        for t in tickers:
            yes, no = self._holdings[(t, Side.YES)], self._holdings[(t, Side.NO)]
            out.append(VenuePosition(
                ticker=t, position=yes.count - no.count,
                market_exposure=yes.cost_basis + no.cost_basis,
                realized_pnl=self._realized[t], fees_paid=self._fees_paid[t],
            ))
        return out

    @faultable
    def get_fills(self, since: datetime | None = None) -> list[Fill]:
        """Fills in the order they happened; `since` keeps those with ts >= since."""
        return [f for f in self._fills if since is None or f.ts >= since]

    @faultable
    def get_balance(self) -> Decimal:
        """Cash available: cash less what resting buys hold back at their limit price."""
        return self._cash - self._reserved()

    # == internals ===========================================================================
    def _check_order(self, request: OrderRequest) -> PaperBook:
        book = self._books.get(request.ticker)
        if book is None:
            raise OrderRejected(f"order {request.client_order_id}: unknown market {request.ticker}")
        if book.settled is not None:
            raise OrderRejected(f"order {request.client_order_id}: market {request.ticker} is settled")
        price = request.limit_price
        if (not isinstance(price, Decimal) or not price.is_finite() or price % self._tick != 0
                or not (self._tick <= price <= ONE - self._tick)):
            raise OrderRejected(
                f"order {request.client_order_id}: limit price {price!r} must be on the {self._tick} "
                f"tick inside [{self._tick}, {ONE - self._tick}]"
            )
        if request.action is Action.SELL:
            held = self._holdings[(request.ticker, request.side)].count
            committed = sum(   # the market's resting orders only: every order ever placed grows with the run
                o.remaining for o in self._resting_in(request.ticker)
                if o.request.action is Action.SELL and o.request.side is request.side
            )
            if request.count > held - committed:
                raise OrderRejected(
                    f"order {request.client_order_id}: cannot sell {request.count} {request.side.value} "
                    f"of {request.ticker}: {held} held, {committed} already committed to resting sells"
                )
        return book

    def _check_funds(self, request: OrderRequest, planned: Sequence[PlannedFill], resting: int) -> None:
        need = Decimal(resting) * request.limit_price
        for p in planned:
            price = to_yes(request.side, p.yes_price)
            need += price * p.count + taker_fee(p.count, price)
        available = self._cash - self._reserved()
        if need > available:
            raise OrderRejected(
                f"order {request.client_order_id}: needs ${need} but ${available} is available"
            )

    def _reserved(self) -> Decimal:
        return sum(
            (o.request.limit_price * o.remaining for ticker in list(self._maybe_resting)
             for o in self._resting_in(ticker) if o.request.action is Action.BUY),
            ZERO,
        )

    def _new_order(self, request: OrderRequest) -> _Order:
        self._order_seq += 1
        order = _Order(f"{self._prefix}-{self._order_seq:06d}", request, self._clock.now())
        self._orders[order.order_id] = order
        self._maybe_resting.setdefault(request.ticker, {})[order.order_id] = order
        self._by_client_id[request.client_order_id] = order.order_id
        return order

    def _fill(self, order: _Order, count: int, price: Decimal, *, is_taker: bool) -> Fill:
        """Book one fill of `count` at `price` (a price of the order's side): cash, holdings, P&L."""
        r = order.request
        fee = taker_fee(count, price) if is_taker else ZERO
        holding = self._holdings[(r.ticker, r.side)]
        if r.action is Action.BUY:
            self._cash -= price * count + fee
            holding.count += count
            holding.cost_basis += price * count
        else:
            self._cash += price * count - fee
            share = (holding.cost_basis if count == holding.count
                     else (holding.cost_basis * count / holding.count).quantize(BASIS_QUANTUM))
            holding.count -= count
            holding.cost_basis -= share
            self._realized[r.ticker] += price * count - share
        self._fees_paid[r.ticker] += fee
        order.filled += count
        order.cost += price * count
        order.fees += fee
        book = self._books[r.ticker]
        book.volume = (book.volume or 0) + count
        book.last = to_yes(r.side, price)
        self._fill_seq += 1
        fill = Fill(
            fill_id=f"{self._prefix}-F{self._fill_seq:06d}", order_id=order.order_id,
            client_order_id=r.client_order_id, ticker=r.ticker, side=r.side, action=r.action,
            count=count, price=price, fee=fee, ts=self._clock.now(), is_taker=is_taker,
        )
        self._fills.append(fill)
        return fill

    def _resting_in(self, ticker: str) -> list[_Order]:
        """The market's resting orders, oldest first (and forget those that stopped resting)."""
        candidates = self._maybe_resting.get(ticker)
        if not candidates:
            return []
        done = [oid for oid, o in candidates.items() if o.status is not OrderStatus.RESTING]
        for oid in done:
            del candidates[oid]
        return list(candidates.values())

    def _fill_resting(self, book: PaperBook) -> list[Fill]:
        """Maker fills of this market's resting orders (oldest first) against the new book."""
        fills = []
        for order in self._resting_in(book.ticker):
            r = order.request
            planned = book.plan(r.side, r.action, r.limit_price, order.remaining)
            if not planned:
                continue
            book.consume(r.side, r.action, planned)
            fills.append(self._fill(order, sum(p.count for p in planned), r.limit_price, is_taker=False))
            if order.filled == r.count:
                order.status = OrderStatus.EXECUTED
        return fills
