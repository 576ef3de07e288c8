"""KalshiVenue: the synchronous Venue protocol (models/venue.py) over the async KalshiClient.

One adapters/event_loop.py LoopThread (a daemon thread running one asyncio event loop) owns the client and its aiohttp session
(DESIGN.md §8: one owner per resource). A call hands its coroutine to that loop with
`asyncio.run_coroutine_threadsafe` and waits for the result with a timeout; the loop itself
never waits on anything but I/O. `close()` closes the session and stops the loop.

Two venue rules live here rather than in the engine, because they are about Kalshi's answers:
- A create that gets no answer (timeout, 5xx, broken connection) may have reached Kalshi. The
  order is looked up by its client_order_id before anything is sent again; only when Kalshi
  does not know it is the same request (same client_order_id) sent once more, and a 409 on that
  resend means the first one did arrive, so it is looked up again.
- A cancel answered 404 means "fetch the order" (it has probably executed): the order is
  fetched and returned; OrderNotFound is raised only when Kalshi does not know it at all.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any, Coroutine, Sequence

from loguru import logger

from adapters.event_loop import LoopThread
from adapters.kalshi.client import KalshiClient
from adapters.kalshi.parsing import ExchangeStatus
from models.venue import DuplicateClientOrderId, OrderNotFound, RequestGate, VenueUnavailable
from models.market import Quote
from models.orders import Fill, OrderBook, OrderRequest, OrderSnapshot, OrderStatus, VenuePosition


class KalshiVenue:
    """Venue over Kalshi's REST API. Build it with a KalshiClient; close() it when done."""

    def __init__(self, client: KalshiClient, *, name: str = "kalshi", call_timeout_secs: float = 60.0) -> None:
        self.name = name
        self._client = client
        self._call_timeout = call_timeout_secs
        self._client_ids: dict[str, str] = {}  # order_id -> client_order_id (fills lack it)
        self._ids_lock = threading.Lock()
        self._io = LoopThread(f"{name}-io")   # owns the client's aiohttp session

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def __repr__(self) -> str:
        return f"KalshiVenue(name={self.name!r}, base_url={self._client.base_url!r})"

    def set_request_gate(self, gate: RequestGate | None) -> RequestGate | None:
        """Every HTTP request (pages, retries, look-ups) is admitted by `gate` first; returns the
        gate it replaces."""
        previous, self._client.request_gate = self._client.request_gate, gate
        return previous

    def __enter__(self) -> "KalshiVenue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the loop thread ------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any], what: str) -> Any:
        try:
            return self._io.run(coro, timeout=self._call_timeout)
        except TimeoutError:
            raise VenueUnavailable(f"Kalshi {what}: no result within {self._call_timeout}s") from None

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Run `coro` on this venue's event loop (the market-data stream's connection lives there,
        beside the HTTP session) without waiting for it."""
        return self._io.submit(coro)

    @property
    def client(self) -> KalshiClient:
        return self._client

    def close(self) -> None:
        """Close the HTTP session, stop the loop and its thread. Safe to call twice."""
        if not self._io.closed:
            self._io.close(self._client.close())

    # ---- bookkeeping ----------------------------------------------------------------------------

    def _remember(self, *orders: OrderSnapshot) -> None:
        with self._ids_lock:
            for o in orders:
                if o.client_order_id:
                    self._client_ids[o.order_id] = o.client_order_id

    def _seen(self, order: OrderSnapshot) -> OrderSnapshot:
        self._remember(order)
        return order

    # ---- Venue protocol -------------------------------------------------------------------------

    def get_quotes(self, tickers: Sequence[str]) -> dict[str, Quote]:
        return self._call(self._client.get_markets(tickers), "get_quotes")

    def get_quote(self, ticker: str) -> Quote | None:
        """One market (None when Kalshi does not know the ticker)."""
        return self._call(self._client.get_market(ticker), "get_quote")

    def get_orderbook(self, ticker: str) -> OrderBook:
        return self._call(self._client.get_orderbook(ticker), "get_orderbook")

    def place_order(self, request: OrderRequest) -> OrderSnapshot:
        try:
            return self._seen(self._call(self._client.create_order(request), "create_order"))
        except VenueUnavailable as lost:
            logger.warning(
                "Kalshi create {} on {} got no answer ({}); looking it up before any resend",
                request.client_order_id, request.ticker, lost,
            )
        found = self._call(self._client.find_order(request.client_order_id, request.ticker), "find_order")
        if found is not None:
            logger.info("Kalshi create {} had arrived: order {} is {}", request.client_order_id,
                        found.order_id, found.status.value)
            return self._seen(found)
        logger.info("Kalshi never got {}; sending it again with the same client_order_id", request.client_order_id)
        try:
            return self._seen(self._call(self._client.create_order(request), "create_order"))
        except DuplicateClientOrderId:
            found = self._call(self._client.find_order(request.client_order_id, request.ticker), "find_order")
            if found is None:
                raise
            return self._seen(found)

    def cancel_order(self, order_id: str) -> OrderSnapshot:
        try:
            return self._seen(self._call(self._client.cancel_order(order_id), "cancel_order"))
        except OrderNotFound as not_found:
            try:
                order = self._call(self._client.get_order(order_id), "get_order")
            except OrderNotFound:
                raise not_found from None
            logger.info("Kalshi cancel of {} answered 404; the order is {} with {} filled",
                        order_id, order.status.value, order.filled_count)
            return self._seen(order)

    def get_order(self, order_id: str) -> OrderSnapshot:
        return self._seen(self._call(self._client.get_order(order_id), "get_order"))

    def find_order(self, client_order_id: str) -> OrderSnapshot | None:
        found = self._call(self._client.find_order(client_order_id), "find_order")
        if found is not None:
            self._remember(found)
        return found

    def list_orders(self, ticker: str | None = None, status: OrderStatus | None = None) -> list[OrderSnapshot]:
        orders = self._call(self._client.list_orders(ticker, status), "list_orders")
        self._remember(*orders)
        return orders

    def get_positions(self) -> list[VenuePosition]:
        return self._call(self._client.get_positions(), "get_positions")

    def get_fills(self, since: datetime | None = None) -> list[Fill]:
        """Fills, with client_order_id filled in for orders this venue has seen (Kalshi's fills
        do not carry it)."""
        fills = self._call(self._client.get_fills(since), "get_fills")
        with self._ids_lock:
            known = dict(self._client_ids)
        return [
            dataclasses.replace(f, client_order_id=known[f.order_id]) if not f.client_order_id and f.order_id in known else f
            for f in fills
        ]

    def get_balance(self) -> Decimal:
        return self._call(self._client.get_balance(), "get_balance")

    def get_exchange_status(self) -> ExchangeStatus:
        return self._call(self._client.get_exchange_status(), "get_exchange_status")
