"""The venue interface every venue implements (paper, Kalshi, replay), and its errors.

Calls are synchronous and may block (a live venue does network I/O); only the
RateLimiter actor calls a venue, one call at a time, so implementations need not be
thread-safe for concurrent callers. Every payload is parsed into models/ types here at
the edge: the engine never sees a raw dict.

Errors are named for what the caller should do:
- RateLimited: back off (with jitter) and retry later.
- VenueUnavailable: a 5xx or a timeout. Reads may be retried; for a create, look the
  order up by client_order_id before sending anything again.
- OrderRejected: the venue refused the order (bad price, market closed, no funds):
  record it as an event, do not retry unchanged.
- OrderNotFound: look-up or cancel of an unknown order. A cancel answered 404 means
  "fetch the order", since it has probably executed.
- DuplicateClientOrderId: the client_order_id was already used (409): fetch that order.
- AuthError: credentials are wrong; stop.
- BudgetExhausted: nothing was sent: the call budget has no room for the call's next request
  (a page or a retry); run the whole call again when the budget frees (safe: reads repeat,
  and a create is looked up by its client_order_id).

A venue whose one call may make several requests (Kalshi: pages, retries, the look-up after a
lost create) offers `set_request_gate(gate)`: `gate(now, what) -> bool` is asked before every
request and spends one slot of the caller's budget, or answers False (BudgetExhausted).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Callable, Protocol, Sequence, runtime_checkable

from models.market import Quote
from models.orders import Fill, OrderBook, OrderRequest, OrderSnapshot, OrderStatus, VenuePosition


class VenueError(Exception):
    """Base of every venue error. `retryable` says whether the same call may be sent again."""

    retryable = False


class RateLimited(VenueError):
    retryable = True


class VenueUnavailable(VenueError):
    retryable = True


class OrderRejected(VenueError):
    pass


class OrderNotFound(VenueError):
    pass


class DuplicateClientOrderId(VenueError):
    pass


class AuthError(VenueError):
    pass


class BudgetExhausted(VenueError):
    """Not sent: the call budget had no room for the next request of this call."""


RequestGate = Callable[[datetime, str], bool]


class MalformedPayload(VenueError):
    """A venue answered with something we cannot parse; the message names the field."""


@runtime_checkable
class Venue(Protocol):
    name: str

    def get_quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        """Top of book for many markets in one call (Kalshi: GET /markets?tickers=...).
        Unknown tickers are absent from the result."""

    def get_orderbook(self, ticker: str) -> OrderBook: ...

    def place_order(self, request: OrderRequest) -> OrderSnapshot: ...

    def cancel_order(self, order_id: str) -> OrderSnapshot:
        """Cancel the resting remainder; returns the final snapshot (with its filled count).
        Raises OrderNotFound when the venue does not know the order (404)."""

    def get_order(self, order_id: str) -> OrderSnapshot: ...

    def find_order(self, client_order_id: str) -> OrderSnapshot | None:
        """Look an order up by our client_order_id (None when the venue never got it)."""

    def list_orders(self, ticker: str | None = None, status: OrderStatus | None = None) -> list[OrderSnapshot]: ...

    def get_positions(self) -> list[VenuePosition]: ...

    def get_fills(self, since: datetime | None = None) -> list[Fill]: ...

    def get_balance(self) -> Decimal: ...
