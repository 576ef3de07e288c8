"""A loopback fake of Kalshi's Trade API v2, backed by any Venue (normally the PaperVenue).

Tests start it in-process on 127.0.0.1 on a free port (`serve_fake_kalshi`) and point a real
KalshiClient at it, so the engine -> client -> HTTP -> fake path is exercised for real. It:
- verifies every request's RSA-PSS signature with the test key's public half (401 otherwise);
- answers 409 on a reused client_order_id, 404 on unknown orders and markets, 400 on bad orders,
  and 404 on a cancel of an order that is no longer resting (as a cancel that lost a race to a
  fill does), so the caller has to look the order up;
- fails on request: `fail_next(status, times)` (429 with {"error": "too many requests"}, 5xx...),
  `drop_next()` (does the work, then closes the connection unanswered) and `hang_next()` (does
  the work, then never answers), the two ways a create can "time out" after it took effect;
- serves today's wire format only (adapters/kalshi/wire.py) and records every exchange
  (`exchanges`, each with the clock time it arrived) for the contract and call-budget tests.
"""
from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.clock import Clock
from adapters.kalshi import wire
from adapters.kalshi.auth import HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, timestamp_ms, verify_signature
from models.venue import (
    Venue, VenueError,
)
from models.money import HUNDRED
from models.orders import OrderStatus
from tests.fakes.kalshi_requests import BadRequest, int_param, page_of, read_order_request, status_for

BASE_PATH = "/trade-api/v2"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and the fake's answer, as seen on the wire."""

    method: str
    route: str            # the spec path template, e.g. "/portfolio/orders/{order_id}"
    path: str             # the full request path without the query
    query: dict[str, str]
    request_json: Any
    status: int
    response_json: Any
    at: datetime | None = None   # the fake's clock when the request arrived (the call budget is checked on it)


@dataclass(slots=True)
class _Fault:
    kind: str             # "status" | "drop" | "hang"
    method: str | None
    route: str | None
    status: int = 0
    body: Any = None


class FakeKalshi:
    """The fake's state and handlers. `venue` does the trading; this class speaks HTTP.

    max_clock_skew, when set, also rejects (401) a timestamp that far from `clock`."""

    def __init__(self, venue: Venue, public_key: rsa.RSAPublicKey, key_id: str, clock: Clock, *,
                 max_clock_skew: timedelta | None = None) -> None:
        self.venue = venue
        self.public_key = public_key
        self.key_id = key_id
        self.clock = clock
        self.max_clock_skew = max_clock_skew
        self.exchange_active = True
        self.trading_active = True
        self.exchanges: list[Exchange] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._seen_client_ids: set[str] = set()
        self._release: asyncio.Event | None = None
        # More routes, each (path, handler) served as is, outside the REST middleware: the
        # WebSocket endpoint of tests/fakes/kalshi_ws.py (it checks the signature itself).
        self.raw_routes: list[tuple[str, Any]] = []

    # ---- test controls --------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, *, method: str | None = None, route: str | None = None,
                  body: Any = None) -> None:
        """The next `times` matching requests get `status` (after the signature check) and are not
        processed. The body defaults to Kalshi's: {"error": "too many requests"} for a 429."""
        if body is None:
            body = {"error": "too many requests"} if status == 429 else wire.error("injected", f"injected {status}")
        self._add(_Fault("status", method, route, status, body), times)

    def drop_next(self, times: int = 1, *, method: str | None = "POST", route: str | None = None) -> None:
        """Process the next matching requests, then close the connection without an answer."""
        self._add(_Fault("drop", method, route), times)

    def hang_next(self, times: int = 1, *, method: str | None = "POST", route: str | None = None) -> None:
        """Process the next matching requests, then never answer (the client must time out)."""
        self._add(_Fault("hang", method, route), times)

    def requests_to(self, method: str, route: str) -> list[Exchange]:
        return [e for e in list(self.exchanges) if e.method == method and e.route == route]

    def _add(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def _take_fault(self, method: str, route: str) -> _Fault | None:
        with self._lock:
            for i, f in enumerate(self._faults):
                if (f.method is None or f.method == method) and (f.route is None or f.route == route):
                    return self._faults.pop(i)
        return None

    # ---- the app --------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get(BASE_PATH + "/exchange/status", self._exchange_status)
        r.add_get(BASE_PATH + "/markets", self._markets)
        r.add_get(BASE_PATH + "/markets/{ticker}", self._market)
        r.add_get(BASE_PATH + "/markets/{ticker}/orderbook", self._orderbook)
        r.add_post(BASE_PATH + "/portfolio/orders", self._create_order)
        r.add_get(BASE_PATH + "/portfolio/orders", self._list_orders)
        r.add_get(BASE_PATH + "/portfolio/orders/{order_id}", self._get_order)
        r.add_delete(BASE_PATH + "/portfolio/orders/{order_id}", self._cancel_order)
        r.add_get(BASE_PATH + "/portfolio/positions", self._positions)
        r.add_get(BASE_PATH + "/portfolio/fills", self._fills)
        r.add_get(BASE_PATH + "/portfolio/balance", self._balance)
        for path, handler in self.raw_routes:
            r.add_get(path, handler)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if any(request.path == path for path, _ in self.raw_routes):
            return await handler(request)
        resource = request.match_info.route.resource
        route = resource.canonical[len(BASE_PATH):] if resource is not None else request.path
        path = request.raw_path.split("?", 1)[0]
        arrived = self.clock.now()
        try:
            request_json = await request.json() if request.can_read_body else None
        except ValueError:
            request_json = "<not JSON>"
        status, body = self._authenticate(request, path)
        fault = None
        if status is None:
            fault = self._take_fault(request.method, route)
            if fault is not None and fault.kind == "status":
                status, body = fault.status, fault.body
        if status is None:
            try:
                status, body = await handler(request)
            except web.HTTPException:
                raise
            except BadRequest as exc:
                status, body = 400, wire.error("invalid_parameters", str(exc))
            except VenueError as exc:
                status, body = status_for(exc), wire.error(type(exc).__name__, str(exc))
        self.exchanges.append(Exchange(request.method, route, path, dict(request.query), request_json, status, body,
                                       arrived))
        if fault is not None and fault.kind == "drop":
            request.transport.close()  # the work is done; the answer is lost
            raise web.HTTPInternalServerError()  # never delivered: the connection is gone
        if fault is not None and fault.kind == "hang":
            await self._release.wait()
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="text/plain")
        return web.json_response(body, status=status)

    def authenticate(self, request: web.Request, path: str) -> tuple[int | None, Any]:
        """(None, None) when the request's three headers are signed right, else (401, body)."""
        return self._authenticate(request, path)

    def _authenticate(self, request: web.Request, path: str) -> tuple[int | None, Any]:
        key, ts, sig = (request.headers.get(h) for h in (HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE))
        if not key or not ts or not sig:
            return 401, wire.error("missing_auth_headers", "authentication headers are missing")
        if key != self.key_id:
            return 401, wire.error("invalid_api_key", "unknown API key")
        if not verify_signature(self.public_key, sig, ts, request.method, path):
            return 401, wire.error("invalid_signature", "the request signature does not verify")
        if self.max_clock_skew is not None:
            skew = abs(int(ts) - timestamp_ms(self.clock.now()))
            if skew > self.max_clock_skew / timedelta(milliseconds=1):
                return 401, wire.error("stale_timestamp", f"timestamp is {skew} ms away from the server clock")
        return None, None

    # ---- handlers: each returns (status, JSON body) ----------------------------------------

    async def _exchange_status(self, request: web.Request) -> tuple[int, Any]:
        return 200, {"exchange_active": self.exchange_active, "trading_active": self.trading_active,
                     "exchange_estimated_resume_time": None}

    async def _markets(self, request: web.Request) -> tuple[int, Any]:
        tickers = [t for t in request.query.get("tickers", "").split(",") if t]
        quotes = self.venue.get_quotes(tickers) if tickers else {}
        now = self.clock.now()
        rows = [wire.market(quotes[t], now) for t in tickers if t in quotes]
        page, cursor = page_of(rows, request)
        return 200, {"markets": page, "cursor": cursor}

    async def _market(self, request: web.Request) -> tuple[int, Any]:
        ticker = request.match_info["ticker"]
        quote = self.venue.get_quotes([ticker]).get(ticker)
        if quote is None:
            return 404, wire.error("not_found", f"market {ticker} not found")
        return 200, {"market": wire.market(quote, self.clock.now())}

    async def _orderbook(self, request: web.Request) -> tuple[int, Any]:
        ticker = request.match_info["ticker"]
        if ticker not in self.venue.get_quotes([ticker]):
            return 404, wire.error("not_found", f"market {ticker} not found")
        return 200, wire.orderbook(self.venue.get_orderbook(ticker))

    async def _create_order(self, request: web.Request) -> tuple[int, Any]:
        order_request = read_order_request(await request.json())
        cid = order_request.client_order_id
        if cid in self._seen_client_ids:
            return 409, wire.error("order_already_exists", f"client_order_id {cid} was already used")
        snapshot = self.venue.place_order(order_request)
        self._seen_client_ids.add(cid)
        return 201, {"order": wire.order(snapshot, self.clock.now())}

    async def _get_order(self, request: web.Request) -> tuple[int, Any]:
        snapshot = self.venue.get_order(request.match_info["order_id"])
        return 200, {"order": wire.order(snapshot, self.clock.now())}

    async def _cancel_order(self, request: web.Request) -> tuple[int, Any]:
        order_id = request.match_info["order_id"]
        before = self.venue.get_order(order_id)
        if before.status is not OrderStatus.RESTING:
            return 404, wire.error("not_found", f"order {order_id} is not resting")
        snapshot = self.venue.cancel_order(order_id)
        reduced = before.count - before.filled_count
        return 200, {"order": wire.order(snapshot, self.clock.now()), "reduced_by_fp": wire.fp_text(reduced)}

    async def _list_orders(self, request: web.Request) -> tuple[int, Any]:
        q = request.query
        try:
            status = OrderStatus(q["status"]) if q.get("status") else None
        except ValueError:
            raise BadRequest(f"status: expected resting, canceled or executed, found {q['status']!r}") from None
        now = self.clock.now()
        rows = [wire.order(o, now) for o in self.venue.list_orders(q.get("ticker") or None, status)]
        page, cursor = page_of(rows, request)
        return 200, {"orders": page, "cursor": cursor}

    async def _positions(self, request: web.Request) -> tuple[int, Any]:
        positions = self.venue.get_positions()
        if "position" in request.query.get("count_filter", "").split(","):
            positions = [p for p in positions if p.position != 0]
        now = self.clock.now()
        page, cursor = page_of([wire.market_position(p, now) for p in positions], request)
        return 200, {"market_positions": page, "event_positions": [], "cursor": cursor}

    async def _fills(self, request: web.Request) -> tuple[int, Any]:
        q = request.query
        fills = self.venue.get_fills()
        if q.get("min_ts"):
            fills = [f for f in fills if timestamp_ms(f.ts) // 1000 >= int_param(q["min_ts"], "min_ts")]
        if q.get("max_ts"):
            fills = [f for f in fills if timestamp_ms(f.ts) // 1000 <= int_param(q["max_ts"], "max_ts")]
        for name in ("ticker", "order_id"):
            if q.get(name):
                fills = [f for f in fills if getattr(f, name) == q[name]]
        page, cursor = page_of([wire.fill(f) for f in fills], request)
        return 200, {"fills": page, "cursor": cursor}

    async def _balance(self, request: web.Request) -> tuple[int, Any]:
        balance = self.venue.get_balance()
        exposure = sum((p.market_exposure for p in self.venue.get_positions()), Decimal(0))
        return 200, {
            "balance": int(balance * HUNDRED),  # whole cents, truncated
            "portfolio_value": int((balance + exposure) * HUNDRED),
            "updated_ts": timestamp_ms(self.clock.now()) // 1000,
        }


@dataclass(frozen=True, slots=True)
class RunningFake:
    fake: FakeKalshi
    base_url: str         # e.g. http://127.0.0.1:54321/trade-api/v2


@contextmanager
def serve_fake_kalshi(fake: FakeKalshi) -> Iterator[RunningFake]:
    """Run the fake on 127.0.0.1 on a free port, on its own event-loop thread, for sync tests."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-kalshi", daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, int]:
        fake._release = asyncio.Event()
        runner = web.AppRunner(fake.make_app(), handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, runner.addresses[0][1]

    async def stop(runner: web.AppRunner) -> None:
        fake._release.set()
        await runner.cleanup()

    runner, port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield RunningFake(fake, f"http://127.0.0.1:{port}{BASE_PATH}")
    finally:
        try:
            asyncio.run_coroutine_threadsafe(stop(runner), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


# ---- test keys (generated at run time; never committed) --------------------------------------

def generate_test_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def write_test_key(key: rsa.RSAPrivateKey, path: Path, mode: int = 0o600) -> Path:
    """Write `key` as an unencrypted PKCS#8 PEM file with `mode` permissions."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(mode)
    return path
