"""The fault simulation's venue: a PaperVenue that watches what the engine sends it.

- Every venue call is logged with its virtual time (the call budget is checked on it).
- Faults are armed through `arm()`, which tags each error object with its fault kind, so the
  faults that actually fired are counted (`fired`), not just those armed.
- `arm_races(n)`: the next n cancels of a resting exit order race a fill: just before the
  cancel reaches the book, the market moves through the order's price and fills part or all
  of its remainder (as a maker), so the cancel answers with an order that (partly) executed.
- Every exit (SELL) order is checked as it arrives, before the venue acts on it: a second live
  sell for the same market and side while one rests (two live exit orders for one position),
  or a sell of more than is held less what resting sells already commit (overselling). What
  it finds is kept in `double_exits` and `oversells` for the invariant checker.

SwitchableClock lets the venue outlive an engine: after a simulated process restart it reads
the new engine's virtual clock, so its quotes and fills carry the current time.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Sequence

from actors.clock import Clock
from adapters.paper.venue import PaperVenue
from models.market import Side
from models.money import CENT, ONE
from models.orders import Action, OrderRequest, OrderSnapshot, OrderStatus

# An exit's client_order_id is "{position_id}-{epoch}x{n}-{attempt}" (actors/exit_router.py, executor.py).
_EXIT_CID = re.compile(r"^(?P<pid>.+)-[0-9A-Za-z]+x\d+-\d+$")


def position_of(client_order_id: str) -> str | None:
    """The position an exit order belongs to, from its client_order_id (None for entries)."""
    m = _EXIT_CID.match(client_order_id)
    return m.group("pid") if m else None


class SwitchableClock:
    """A Clock that reads whichever clock it was last pointed at."""

    def __init__(self) -> None:
        self._clock: Clock | None = None

    def follow(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        if self._clock is None:
            raise RuntimeError("SwitchableClock read before follow()")
        return self._clock.now()


class ObservedVenue(PaperVenue):
    def __init__(self, clock: Clock, *, seed: int = 0, starting_balance: Decimal = Decimal("100000")) -> None:
        super().__init__(clock, starting_balance=starting_balance)
        self.call_log: list[tuple[datetime, str]] = []
        self.fired: Counter[str] = Counter()
        self.double_exits: list[str] = []
        self.oversells: list[str] = []
        self.races_armed = 0
        self._tags: dict[int, str] = {}
        self._race_rng = random.Random(f"race:{seed}")

    # -- arming faults -----------------------------------------------------------------------
    def arm(self, kind: str, method: str, error: Exception, times: int, *, after: bool = False) -> None:
        """Inject `error` into the next `times` calls of `method` (after the venue acted if
        `after`), counted under `kind` when it fires."""
        self._tags[id(error)] = kind
        (self.inject_fault_after if after else self.inject_fault)(method, error, times)

    def arm_races(self, n: int) -> None:
        self.races_armed += n

    def disarm(self) -> None:
        self.clear_faults()
        self.races_armed = 0

    # -- the Venue protocol, observed ------------------------------------------------------
    def _observe(self, method: str, call: Callable[..., Any], *args: Any) -> Any:
        self.call_log.append((self._clock.now(), method))
        try:
            return call(*args)
        except Exception as exc:
            kind = self._tags.get(id(exc))
            if kind is not None:
                self.fired[kind] += 1
            raise

    def get_quotes(self, tickers: Sequence[str]):  # type: ignore[no-untyped-def]
        return self._observe("get_quotes", super().get_quotes, tickers)

    def get_orderbook(self, ticker: str):  # type: ignore[no-untyped-def]
        return self._observe("get_orderbook", super().get_orderbook, ticker)

    def place_order(self, request: OrderRequest) -> OrderSnapshot:
        if request.action is Action.SELL:
            self._check_exit(request)
        return self._observe("place_order", super().place_order, request)

    def cancel_order(self, order_id: str) -> OrderSnapshot:
        if self.races_armed > 0:
            self._race(order_id)
        return self._observe("cancel_order", super().cancel_order, order_id)

    def get_order(self, order_id: str) -> OrderSnapshot:
        return self._observe("get_order", super().get_order, order_id)

    def find_order(self, client_order_id: str) -> OrderSnapshot | None:
        return self._observe("find_order", super().find_order, client_order_id)

    def list_orders(self, ticker: str | None = None, status: OrderStatus | None = None) -> list[OrderSnapshot]:
        return self._observe("list_orders", super().list_orders, ticker, status)

    def get_positions(self):  # type: ignore[no-untyped-def]
        return self._observe("get_positions", super().get_positions)

    def get_fills(self, since: datetime | None = None):  # type: ignore[no-untyped-def]
        return self._observe("get_fills", super().get_fills, since)

    def get_balance(self) -> Decimal:
        return self._observe("get_balance", super().get_balance)

    # -- inspection without calls (neither logged nor able to consume an injected fault) ----
    def resting_sells(self, ticker: str, side: Side) -> list[OrderSnapshot]:
        with self._lock:
            return [o.snapshot() for o in self._orders.values()
                    if o.status is OrderStatus.RESTING and o.request.action is Action.SELL
                    and o.request.ticker == ticker and o.request.side is side]

    def all_orders(self) -> list[OrderSnapshot]:
        with self._lock:
            return [o.snapshot() for o in self._orders.values()]

    def is_settled(self, ticker: str) -> bool:
        with self._lock:
            book = self._books.get(ticker)
            return book is not None and book.settled is not None

    def held(self) -> dict[tuple[str, Side], int]:
        """Contracts held per (ticker, side), zero entries left out."""
        with self._lock:
            return {k: h.count for k, h in self._holdings.items() if h.count != 0}

    # -- checks and races --------------------------------------------------------------------
    def _check_exit(self, request: OrderRequest) -> None:
        if self.is_settled(request.ticker):
            return      # the venue refuses it as settled; nothing can be oversold there
        live = [o for o in self.resting_sells(request.ticker, request.side)
                if o.client_order_id != request.client_order_id]   # a re-send of the same order is not a second
        now = self._clock.now().isoformat()
        if live:
            self.double_exits.append(
                f"{now}: {request.client_order_id} (position {position_of(request.client_order_id)}) sent while "
                f"{', '.join(o.client_order_id for o in live)} rests for {request.ticker} {request.side.value}")
        held = self.holding(request.ticker, request.side)
        committed = sum(o.count - o.filled_count for o in live)
        if request.count > held - committed:
            self.oversells.append(
                f"{now}: {request.client_order_id} sells {request.count} {request.side.value} of {request.ticker} "
                f"with {held} held and {committed} committed to resting sells")

    def _race(self, order_id: str) -> None:
        """Move the market through a resting sell's price just before its cancel arrives."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None or order.status is not OrderStatus.RESTING or order.request.action is not Action.SELL:
                return
            r = order.request
            if self.is_settled(r.ticker):
                return
            self.races_armed -= 1
            size = self._race_rng.randint(1, order.remaining)
        yes_price = r.limit_price if r.side is Side.YES else ONE - r.limit_price
        if r.side is Side.YES:        # a buyer arrives at our price: a yes bid at it
            bids, asks = [(yes_price, size)], ([(yes_price + CENT, 100)] if yes_price + CENT < ONE else [])
        else:                         # selling NO at p takes yes asks at 1 - p
            asks, bids = [(yes_price, size)], ([(yes_price - CENT, 100)] if yes_price - CENT > 0 else [])
        self.set_book(r.ticker, bids, asks)
        self.fired["cancel_fill_race"] += 1
