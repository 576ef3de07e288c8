"""KalshiClient: the async Kalshi Trade API v2 client over one aiohttp ClientSession.

It signs every request (auth.py), parses every answer into models/ types (parsing.py) and
translates every failure in one place (`error_for_status` and `_send_once`) into the errors of
models/venue.py:

    429            -> RateLimited        (backed off here with jitter, a bounded number of times)
    5xx, timeouts,
    broken links   -> VenueUnavailable   (reads retried here with backoff and jitter; a create is not)
    404            -> OrderNotFound
    409            -> DuplicateClientOrderId
    401, 403       -> AuthError
    400, other 4xx -> OrderRejected
    3xx            -> VenueError         (redirects are not followed: they would carry the headers away)

The engine's RateLimiter actor owns the request budget and hands the client its gate
(`request_gate`): every request, a retry or a page as much as the first, is admitted by it first
or not sent (BudgetExhausted). The retries here only smooth over a transient 429 or 5xx. Sleeping and jitter are injected (`sleep`, `rng`) so tests never wait.
The session belongs to the event loop that first uses the client: build it anywhere, use it on
one loop (KalshiVenue runs that loop on its own thread).
"""
from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

import aiohttp
from loguru import logger
from yarl import URL

from actors.clock import Clock
from adapters.kalshi import parsing
from adapters.kalshi.auth import KalshiCredentials, timestamp_ms
from adapters.kalshi.parsing import ExchangeStatus
from models.venue import (
    AuthError, BudgetExhausted, DuplicateClientOrderId, MalformedPayload, OrderNotFound, OrderRejected, RateLimited,
    RequestGate, VenueError, VenueUnavailable,
)
from models.market import Quote
from models.money import HUNDRED, ONE, ZERO
from models.orders import Fill, OrderBook, OrderRequest, OrderSnapshot, OrderStatus, VenuePosition

MARKETS_PER_CALL = 100  # tickers per GET /markets call (the endpoint's default page size)
MAX_PAGES = 1000        # a guard against a cursor that never ends

Sleeper = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard the client tries before handing an error to the caller.

    read_attempts: total tries of an idempotent call (GET, DELETE) on 5xx / timeouts.
    rate_limit_attempts: total tries of any call answered 429 (a 429 means "not done").
    Delays use full jitter: uniform(0, min(cap, base * 2**(n-1))) seconds before retry n."""

    read_attempts: int = 3
    rate_limit_attempts: int = 3
    backoff_base_secs: float = 0.25
    backoff_cap_secs: float = 4.0
    request_timeout_secs: float = 10.0


def error_for_status(status: int, message: str, method: str, endpoint: str) -> VenueError:
    """The one mapping from an HTTP error status to a venue error."""
    text = f"Kalshi {method} {endpoint} answered {status}: {message}"
    if status < 400:
        return VenueError(f"{text} (redirects are not followed; check KALSHI_API_BASE)")
    if status == 429:
        return RateLimited(text)
    if status >= 500:
        return VenueUnavailable(text)
    if status in (401, 403):
        return AuthError(text)
    if status == 404:
        return OrderNotFound(text)
    if status == 409:
        return DuplicateClientOrderId(text)
    return OrderRejected(text)


def order_body(request: OrderRequest) -> dict[str, Any]:
    """POST /portfolio/orders body. The price goes in whole cents (`yes_price`/`no_price`) when it
    is a whole cent, else as `*_price_dollars` (sub-cent ticks); the count in whole contracts."""
    price = request.limit_price
    if not ZERO < price < ONE:
        raise OrderRejected(f"order {request.client_order_id}: limit_price must be between 0 and 1 dollars, got {price}")
    side = request.side.value
    body: dict[str, Any] = {
        "ticker": request.ticker,
        "client_order_id": request.client_order_id,
        "side": side,
        "action": request.action.value,
        "count": request.count,
        "time_in_force": request.time_in_force.value,
    }
    cents = price * HUNDRED
    if cents == cents.to_integral_value():
        body[f"{side}_price"] = int(cents)
    else:
        if price.as_tuple().exponent < -6:
            raise OrderRejected(f"order {request.client_order_id}: limit_price {price} is finer than Kalshi's 6 decimals")
        body[f"{side}_price_dollars"] = format(price, "f")
    return body


def _path_part(value: str) -> str:
    if not value:
        raise ValueError("a ticker or order id in a URL path must not be empty")
    return quote(value, safe="")


class KalshiClient:
    """Async Kalshi client. One instance, one session, one event loop."""

    def __init__(
        self,
        base_url: str,
        credentials: KalshiCredentials,
        clock: Clock,
        *,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Sleeper = asyncio.sleep,
        rng: random.Random | None = None,
        page_limit: int = 200,
    ) -> None:
        split = urlsplit(base_url.rstrip("/"))
        if split.scheme not in ("http", "https") or not split.netloc:
            raise ValueError(f"KALSHI_API_BASE: expected an http(s) URL, found {base_url!r}")
        self._base_url = f"{split.scheme}://{split.netloc}{split.path}"
        self._base_path = split.path  # e.g. /trade-api/v2: part of what is signed
        self._credentials = credentials
        self._clock = clock
        self._retry = retry
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._page_limit = page_limit
        self._session: aiohttp.ClientSession | None = None
        self.request_gate: RequestGate | None = None   # set by whoever owns the call budget

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return f"KalshiClient(base_url={self._base_url!r})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- transport ----------------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self._retry.request_timeout_secs)
            self._session = aiohttp.ClientSession(timeout=timeout, headers={"Accept": "application/json"})
        return self._session

    async def _backoff(self, attempt: int, error: VenueError) -> None:
        ceiling = min(self._retry.backoff_cap_secs, self._retry.backoff_base_secs * 2 ** (attempt - 1))
        delay = self._rng.uniform(0, ceiling)
        logger.info("{}; retry {} in {:.2f}s", error, attempt, delay)
        await self._sleep(delay)

    async def _request(self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None,
                       body: Mapping[str, Any] | None = None) -> Any:
        """Send with retries: 429 on any call, 5xx/timeouts only on idempotent calls (GET, DELETE)."""
        idempotent = method in ("GET", "DELETE")
        rate_limited = failures = 0
        while True:
            try:
                return await self._send_once(method, endpoint, params, body)
            except RateLimited as exc:
                rate_limited += 1
                if rate_limited >= self._retry.rate_limit_attempts:
                    raise
                await self._backoff(rate_limited, exc)
            except VenueUnavailable as exc:
                failures += 1
                if not idempotent or failures >= self._retry.read_attempts:
                    raise
                await self._backoff(failures, exc)

    async def _send_once(self, method: str, endpoint: str, params: Mapping[str, Any] | None,
                         body: Mapping[str, Any] | None) -> Any:
        gate = self.request_gate
        if gate is not None and not gate(self._clock.now(), f"{method} {endpoint}"):
            raise BudgetExhausted(f"Kalshi {method} {endpoint}: not sent, the call budget has no room for another "
                                  "request this minute")
        url = URL(self._base_url + endpoint, encoded=True)
        headers = self._credentials.headers(self._clock, method, self._base_path + endpoint)
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        try:
            async with self._get_session().request(
                method, url.with_query(query) if query else url, json=body, headers=headers,
                allow_redirects=False,
            ) as response:
                status = response.status
                text = await response.text()
        except asyncio.TimeoutError as exc:
            raise VenueUnavailable(
                f"Kalshi {method} {endpoint}: no answer within {self._retry.request_timeout_secs}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise VenueUnavailable(f"Kalshi {method} {endpoint}: {type(exc).__name__}: {exc}") from exc
        if status >= 300:
            raise error_for_status(status, parsing.error_message(text), method, endpoint)
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except (ValueError, RecursionError):    # RecursionError: arrays or objects nested 1,000 deep
            raise MalformedPayload(f"Kalshi {method} {endpoint}: the {status} answer is not JSON: {text[:120]!r}") from None

    async def _pages(self, endpoint: str, params: Mapping[str, Any],
                     parse: Callable[[Any], tuple[list, str | None]]) -> AsyncIterator[list]:
        """Yield each page of a cursor-paginated list."""
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = await self._request("GET", endpoint, params={**params, "limit": self._page_limit, "cursor": cursor})
            items, cursor = parse(body)
            yield items
            if cursor is None:
                return
            if cursor in seen:
                raise MalformedPayload(f"Kalshi GET {endpoint}: the cursor {cursor!r} repeats")
            seen.add(cursor)
        raise MalformedPayload(f"Kalshi GET {endpoint}: more than {MAX_PAGES} pages")

    async def _all(self, endpoint: str, params: Mapping[str, Any], parse: Callable[[Any], tuple[list, str | None]]) -> list:
        out: list = []
        async for page in self._pages(endpoint, params, parse):
            out.extend(page)
        return out

    # ---- market data --------------------------------------------------------------------------

    async def get_markets(self, tickers: Sequence[str]) -> dict[str, Quote]:
        """Quotes for many markets: GET /markets?tickers=A,B,... (one call per 100 tickers).
        Unknown tickers are absent from the result."""
        wanted = list(dict.fromkeys(t for t in tickers if t))
        quotes: dict[str, Quote] = {}
        for i in range(0, len(wanted), MARKETS_PER_CALL):
            chunk = wanted[i:i + MARKETS_PER_CALL]
            params = {"tickers": ",".join(chunk), "limit": len(chunk)}
            body = await self._request("GET", "/markets", params=params)
            page, _ = parsing.parse_markets_response(body, self._clock.now())
            quotes.update({t: q for t, q in page.items() if t in chunk})
        return quotes

    async def get_market(self, ticker: str) -> Quote | None:
        """One market's quote, None when Kalshi does not know the ticker (404)."""
        try:
            body = await self._request("GET", f"/markets/{_path_part(ticker)}")
        except OrderNotFound:
            return None
        return parsing.parse_market_response(body, self._clock.now())

    async def get_orderbook(self, ticker: str, depth: int = 0) -> OrderBook:
        params = {"depth": depth} if depth > 0 else None
        body = await self._request("GET", f"/markets/{_path_part(ticker)}/orderbook", params=params)
        return parsing.parse_orderbook(ticker, body)

    async def get_exchange_status(self) -> ExchangeStatus:
        return parsing.parse_exchange_status(await self._request("GET", "/exchange/status"))

    # ---- orders -------------------------------------------------------------------------------

    async def create_order(self, request: OrderRequest) -> OrderSnapshot:
        """POST /portfolio/orders. Never retried on 5xx/timeout here: the caller looks the order
        up by client_order_id first (KalshiVenue.place_order does)."""
        body = await self._request("POST", "/portfolio/orders", body=order_body(request))
        return parsing.parse_order_response(body, "CreateOrderResponse")

    async def cancel_order(self, order_id: str) -> OrderSnapshot:
        body = await self._request("DELETE", f"/portfolio/orders/{_path_part(order_id)}")
        return parsing.parse_order_response(body, "CancelOrderResponse")

    async def get_order(self, order_id: str) -> OrderSnapshot:
        body = await self._request("GET", f"/portfolio/orders/{_path_part(order_id)}")
        return parsing.parse_order_response(body, "GetOrderResponse")

    async def list_orders(self, ticker: str | None = None, status: OrderStatus | None = None) -> list[OrderSnapshot]:
        """GET /portfolio/orders, every page."""
        params = {"ticker": ticker, "status": status.value if status else None}
        return await self._all("/portfolio/orders", params, parsing.parse_orders_response)

    async def find_order(self, client_order_id: str, ticker: str | None = None) -> OrderSnapshot | None:
        """The order we sent with this client_order_id, None when Kalshi never got it.

        The v2 spec (3.13.0) has no client_order_id filter on GET /portfolio/orders, so this
        lists (by ticker when known) and matches, stopping at the first hit."""
        if not client_order_id:
            raise ValueError("find_order needs a client_order_id")
        async for page in self._pages("/portfolio/orders", {"ticker": ticker}, parsing.parse_orders_response):
            for order in page:
                if order.client_order_id == client_order_id:
                    return order
        return None

    # ---- portfolio ----------------------------------------------------------------------------

    async def get_positions(self) -> list[VenuePosition]:
        """Market positions with a non-zero position (count_filter=position), every page."""
        positions = await self._all("/portfolio/positions", {"count_filter": "position"}, parsing.parse_positions_response)
        return [p for p in positions if p.position != 0]

    async def get_fills(self, since: datetime | None = None, ticker: str | None = None,
                        order_id: str | None = None) -> list[Fill]:
        """GET /portfolio/fills, every page; `since` is sent as min_ts (whole seconds) and then
        applied exactly."""
        min_ts = timestamp_ms(since) // 1000 if since is not None else None
        params = {"min_ts": min_ts, "ticker": ticker, "order_id": order_id}
        fills = await self._all("/portfolio/fills", params, parsing.parse_fills_response)
        return [f for f in fills if since is None or f.ts >= since]

    async def get_balance(self) -> Decimal:
        return parsing.parse_balance(await self._request("GET", "/portfolio/balance"))

    # ---- market-data WebSocket (issue 13: adapters/kalshi/ws_connection.py) -------------------

    @property
    def ws_url(self) -> str:
        """The WebSocket endpoint on the API's host: .../trade-api/v2 -> ws(s)://host/trade-api/ws/v2."""
        split = urlsplit(self._base_url)
        if not self._base_path.endswith("/v2"):
            raise ValueError(f"KALSHI_API_BASE: expected a path ending in /trade-api/v2, found {self._base_path!r}")
        scheme = "wss" if split.scheme == "https" else "ws"
        return f"{scheme}://{split.netloc}{self._base_path[:-3]}/ws/v2"

    async def open_websocket(self) -> aiohttp.ClientWebSocketResponse:
        """Connect to the WebSocket with the three signed headers (timestamp + GET + its path),
        on this client's session. Pings are left to the caller (autoping off): they prove life."""
        url = self.ws_url
        headers = self._credentials.headers(self._clock, "GET", urlsplit(url).path)
        return await self._get_session().ws_connect(url, headers=headers, autoping=False, heartbeat=None,
                                                    max_msg_size=16 * 1024 * 1024)
