"""The WebSocket endpoint of the loopback fake Kalshi (/trade-api/ws/v2), attached to a FakeKalshi.

`FakeKalshiStream(fake)` adds the route before the fake is served (serve_fake_kalshi). It:
- checks the handshake's three signed headers like every REST request (401 otherwise) and keeps
  each handshake's headers (`handshakes`) so tests can check what was sent;
- answers subscribe / unsubscribe / update_subscription like Kalshi: a new sid per subscribe
  (so a reconnect gets different ids), `subscribed` / `unsubscribed` / `ok`, a snapshot per
  market of an orderbook subscription (in NO or YES price terms, as `use_yes_price` asked),
  sequence numbers per subscription;
- publishes what the fake's venue (a PaperVenue) has: `publish(ticker)` sends the deltas that
  bring each subscriber's book to the venue's, a ticker frame, and a fill frame for every new
  fill of the venue (carrying client_order_id);
- injects trouble: `drop()` closes every connection, `gap(n)` skips sequence numbers, `mute()`
  stops a market's book frames while the socket stays open, `error()` sends an error frame,
  `lifecycle()` a market_lifecycle_v2 frame, `ping()` a ping.

Test-facing methods are synchronous (called from the test thread); they run on the fake's loop
and return the number of frames they sent, so a test can wait for the client to have read them.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from aiohttp import WSMsgType, web

from adapters.kalshi import wire
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
from adapters.kalshi.ws_protocol import BOOK, FILLS, LIFECYCLE, TICKER, WS_PATH
from models.money import ONE

Levels = dict[str, dict[Decimal, Decimal]]


@dataclass
class _Sub:
    sid: int
    channel: str
    tickers: set[str]
    yes_terms: bool
    seq: int = 0
    sent: dict[str, Levels] = field(default_factory=dict)    # ticker -> the book as this subscriber has it


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    subs: dict[int, _Sub] = field(default_factory=dict)
    sent: int = 0              # frames and pings sent on this connection
    commands: int = 0          # commands received on it


class FakeKalshiStream:
    def __init__(self, fake: FakeKalshi) -> None:
        self.fake = fake
        fake.raw_routes.append((WS_PATH, self._handle))
        self.handshakes: list[dict[str, str]] = []
        self.refused = 0
        self.commands: list[dict[str, Any]] = []
        self.frames_out = 0
        self.conns: list[_Conn] = []
        self.error_on_subscribe: int | None = None    # answer the next subscribe with this error code
        self.refuse_status: int | None = None         # refuse every handshake with this HTTP status
        self.close_on_connect = False                 # accept the handshake, then close at once
        self._sids = itertools.count(1)
        self._skip = 0
        self._muted: set[str] = set()
        self._dead: set[str] = set()
        self._fills_sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    # ---- test controls (any thread) -----------------------------------------------------------
    def live(self) -> list[_Conn]:
        return [c for c in self.conns if not c.ws.closed]

    def in_step_with(self, client: Any) -> bool:
        """The client (a KalshiWsConnection) has read every frame of the live connection and the
        fake has every command it sent (no live connection: nothing in flight)."""
        live = self.live()
        if not live:
            return True
        return live[-1].sent == client.received and live[-1].commands == client.sent

    def subscriptions(self, channel: str) -> list[_Sub]:
        return [s for c in self.live() for s in c.subs.values() if s.channel == channel]

    def publish(self, *tickers: str) -> int:
        return self._run(self._publish(tickers))

    def drop(self) -> int:
        return self._run(self._drop())

    def gap(self, skipped: int = 1) -> None:
        self._skip += skipped

    def mute(self, ticker: str, *, snapshots: bool = False) -> None:
        """No more book frames for `ticker` (deltas; with snapshots=True its snapshots too: a
        subscription dead for that market while the socket lives)."""
        self._muted.add(ticker)
        if snapshots:
            self._dead.add(ticker)

    def unmute(self, ticker: str) -> None:
        self._muted.discard(ticker)
        self._dead.discard(ticker)

    def error(self, code: int, text: str, req_id: int | None = None) -> int:
        body: dict[str, Any] = {"type": "error", "msg": {"code": code, "msg": text}}
        if req_id is not None:
            body["id"] = req_id
        return self._run(self._broadcast(body))

    def lifecycle(self, ticker: str, event_type: str, **fields: Any) -> int:
        return self._run(self._to_channel(LIFECYCLE, {"market_ticker": ticker, "event_type": event_type, **fields}))

    def ping(self) -> int:
        return self._run(self._ping())

    # ---- the endpoint ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self._loop = asyncio.get_running_loop()
        self.handshakes.append(dict(request.headers))
        status, body = self.fake.authenticate(request, request.path)
        if status is None and self.refuse_status is not None:
            status, body = self.refuse_status, {"error": "injected"}
        if status is not None:
            self.refused += 1
            return web.json_response(body, status=status)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if self.close_on_connect:
            await ws.close()
            return ws
        conn = _Conn(ws)
        self.conns.append(conn)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                command = json.loads(msg.data)
                self.commands.append(command)
                conn.commands += 1
                await self._command(conn, command)
        return ws

    async def _command(self, conn: _Conn, command: dict[str, Any]) -> None:
        rid, cmd, params = command.get("id"), command.get("cmd"), command.get("params") or {}
        if cmd == "subscribe":
            if self.error_on_subscribe is not None:
                code, self.error_on_subscribe = self.error_on_subscribe, None
                await self._send(conn, {"type": "error", "id": rid, "msg": {"code": code, "msg": "injected"}})
                return
            for channel in params.get("channels", []):
                sub = _Sub(next(self._sids), channel, set(params.get("market_tickers") or []),
                           bool(params.get("use_yes_price")))
                conn.subs[sub.sid] = sub
                await self._send(conn, {"type": "subscribed", "id": rid, "msg": {"channel": channel, "sid": sub.sid}})
                if channel == BOOK:
                    for t in sorted(sub.tickers):
                        await self._snapshot(conn, sub, t)
        elif cmd == "unsubscribe":
            for sid in params.get("sids", []):
                if conn.subs.pop(sid, None) is not None:
                    await self._send(conn, {"type": "unsubscribed", "id": rid, "sid": sid})
        elif cmd == "update_subscription":
            (sid,) = params.get("sids") or [params.get("sid")]
            sub = conn.subs.get(sid)
            if sub is None:
                await self._send(conn, {"type": "error", "id": rid, "msg": {"code": 7, "msg": "unknown sid"}})
                return
            tickers = set(params.get("market_tickers") or [])
            if params.get("action") == "add_markets":
                sub.tickers |= tickers
            else:
                sub.tickers -= tickers
                for t in tickers:
                    sub.sent.pop(t, None)
            await self._send(conn, {"type": "ok", "id": rid, "sid": sid,
                                    "msg": {"market_tickers": sorted(sub.tickers)}})
            if params.get("action") == "add_markets" and sub.channel == BOOK:
                for t in sorted(tickers):
                    await self._snapshot(conn, sub, t)

    # ---- frames -----------------------------------------------------------------------------------
    def _book(self, ticker: str) -> Levels:
        try:
            book = self.fake.venue.get_orderbook(ticker)
        except Exception:  # noqa: BLE001 - an unknown market has an empty book
            return {"yes": {}, "no": {}}
        return {"yes": {p: Decimal(s) for p, s in book.yes_bids if s},
                "no": {p: Decimal(s) for p, s in book.no_bids if s}}

    @staticmethod
    def _terms(sub: _Sub, side: str, price: Decimal) -> Decimal:
        return ONE - price if sub.yes_terms and side == "no" else price

    def _seq(self, sub: _Sub) -> int:
        sub.seq += 1 + self._skip
        self._skip = 0
        return sub.seq

    async def _snapshot(self, conn: _Conn, sub: _Sub, ticker: str) -> None:
        if ticker in self._dead:
            return
        book = self._book(ticker)
        sub.sent[ticker] = book
        msg = {"market_ticker": ticker, "market_id": f"id-{ticker}"}
        for side in ("yes", "no"):
            msg[f"{side}_dollars_fp"] = [[wire.dollars_text(self._terms(sub, side, p)), wire.fp_text(s)]
                                         for p, s in sorted(book[side].items())]
        await self._send(conn, {"type": "orderbook_snapshot", "sid": sub.sid, "seq": self._seq(sub), "msg": msg})

    async def _publish(self, tickers: tuple[str, ...]) -> int:
        sent = self.frames_out
        for conn in self.live():
            for sub in list(conn.subs.values()):
                for t in tickers:
                    if t not in sub.tickers:
                        continue
                    if sub.channel == BOOK and t not in self._muted and t in sub.sent:
                        await self._deltas(conn, sub, t)
                    elif sub.channel == TICKER:
                        q = self.fake.venue.get_quotes([t]).get(t)
                        if q is not None:
                            await self._send(conn, {"type": TICKER, "sid": sub.sid, "msg": {
                                "market_ticker": t, "yes_bid_dollars": wire.dollars_text(q.yes_bid) if q.yes_bid else None,
                                "yes_ask_dollars": wire.dollars_text(q.yes_ask) if q.yes_ask else None,
                                "volume_fp": wire.fp_text(q.volume or 0)}})
        fills = self.fake.venue.get_fills()
        for f in fills[self._fills_sent:]:
            await self._to_channel(FILLS, {**wire.fill(f), "client_order_id": f.client_order_id})
        self._fills_sent = len(fills)
        return self.frames_out - sent

    async def _deltas(self, conn: _Conn, sub: _Sub, ticker: str) -> None:
        now, before = self._book(ticker), sub.sent[ticker]
        changes = [(side, price, now[side].get(price, Decimal(0)) - before[side].get(price, Decimal(0)))
                   for side in ("yes", "no") for price in sorted(set(now[side]) | set(before[side]))]
        for side, price, change in sorted(changes, key=lambda c: c[2] < 0):     # new levels first
            if change:
                await self._send(conn, {"type": "orderbook_delta", "sid": sub.sid, "seq": self._seq(sub), "msg": {
                        "market_ticker": ticker, "price_dollars": wire.dollars_text(self._terms(sub, side, price)),
                        "delta_fp": wire.fp_text(change), "side": side}})
        sub.sent[ticker] = now

    async def _to_channel(self, channel: str, msg: dict[str, Any]) -> int:
        sent = self.frames_out
        for conn in self.live():
            for sub in list(conn.subs.values()):
                if sub.channel == channel:
                    body: dict[str, Any] = {"type": channel, "sid": sub.sid, "msg": msg}
                    if channel == LIFECYCLE:
                        body["seq"] = self._seq(sub)
                    await self._send(conn, body)
        return self.frames_out - sent

    async def _broadcast(self, body: dict[str, Any]) -> int:
        for conn in self.live():
            await self._send(conn, body)
        return len(self.live())

    async def _ping(self) -> int:
        for conn in self.live():
            await conn.ws.ping(b"heartbeat")
            self.frames_out += 1
            conn.sent += 1
        return len(self.live())

    async def _drop(self) -> int:
        n = 0
        for conn in self.live():
            await conn.ws.close()
            n += 1
        return n

    async def _send(self, conn: _Conn, body: dict[str, Any]) -> None:
        if not conn.ws.closed:
            await conn.ws.send_str(json.dumps(body))
            self.frames_out += 1
            conn.sent += 1

    def _run(self, coro: Any) -> int:
        if self._loop is None:
            coro.close()
            return 0
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)


@contextlib.contextmanager
def kalshi_on_this_machine(paper: Any, tmp_path: Path, monkeypatch: Any, key_id: str = "fake-ws-key"
                           ) -> Iterator["FakeKalshiStream"]:
    """A wall-clock fake Kalshi (REST + WebSocket) over `paper`, served, with the environment a
    command reads (KALSHI_API_BASE, KALSHI_KEY_ID, KALSHI_PRIVATE_KEY_PATH) pointing at it."""
    key = generate_test_key()
    fake = FakeKalshi(paper, key.public_key(), key_id, _wall())
    ws = FakeKalshiStream(fake)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with serve_fake_kalshi(fake) as running:
        monkeypatch.setenv("KALSHI_API_BASE", running.base_url)
        monkeypatch.setenv("KALSHI_KEY_ID", key_id)
        monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(write_test_key(key, tmp_path / f"{key_id}.pem")))
        yield ws


def _wall() -> Any:
    from actors.clock import WallClock

    return WallClock()
