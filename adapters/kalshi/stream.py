"""MarketStream: live market data over Kalshi's WebSocket, with REST polling as the fallback.

One actor owns every decision about the one connection (ws_connection.py does the I/O): the
subscriptions (`fill`, `market_lifecycle_v2`, and `orderbook_delta` + `ticker` for the markets
the PriceCache says are of interest, followed with update_subscription), each book (book.py),
the sequence check and each market's health; its timing runs on the engine's clock.
- A streamed market's changes go to the PriceCache as QuotePushed, as a replay's do; fills go
  to the ExitRouter (FillStreamed); a settlement goes to the positions as MarketSettled; a
  close-time change rides on the market's next quote.
- A market is STREAMED or POLLED. It is polled at once, with the reason, on a disconnect, a
  sequence gap (every market of the subscription: Kalshi numbers frames per subscription), an
  unreadable frame, an error that ends a subscription, or a silent book whose re-snapshot does
  not come (a quiet book is re-snapshot every book_silence_secs and stays streamed). No traffic at all (not even a ping) for dead_after_secs is a dead
  connection. Reconnects back off with jitter (models/retry.py), resubscribe (new ids) and
  resnapshot; a market is streamed again from its first snapshot. Every transition is an audit
  event and the state rides on each HEARTBEAT (`market_data`), which `status` shows.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from actors.base import ArbeesActor
from adapters.kalshi import ws_protocol as wp
from adapters.kalshi.book import BookInconsistent, MarketBook, Sequences
from adapters.kalshi.market_data import StreamSettings, HealthCheck, PushQuotes, Reconnect
from adapters.kalshi.stream_health import StreamHealth
from adapters.kalshi.ws_connection import KalshiWsConnection, WsAlive, WsClosed, WsFrames, WsOpened, WsUnreadable
from models import audit_events as ae
from models.commands import ForwardToMarket, StreamMarkets
from models.events import FillStreamed, MarketSettled, QuotePushed
from models.retry import jittered_delay_secs

MARKET_CHANNELS = (wp.BOOK, wp.TICKER)


# The exchange pausing (deactivated) and resuming (activated) a market Arbees holds or watches:
# said to a person, since no exit can trade meanwhile and Kalshi cancels resting orders when it
# resumes (docs.kalshi.com, Market Lifecycle: "All resting orders are cancelled on this reactivation").
PAUSE_NOTICES = {
    "deactivated": "the exchange paused trading in this market (deactivated): no order can trade until it "
                   "resumes; positions stay open and monitored, exits are retried",
    "activated": "the exchange resumed trading in this market (activated) and canceled all resting orders "
                 "on resuming: an exit in flight finds its order canceled at its next timeout and sends again",
}


class MarketStream(StreamHealth, ArbeesActor):
    """The one WebSocket connection's decisions (see the module docstring).

    Receives: WsOpened, WsFrames, WsAlive, WsClosed and WsUnreadable from its connection
    (ws_connection.py), StreamMarkets from the PriceCache, and its own timers HealthCheck,
    Reconnect and PushQuotes.

    Sends: QuotePushed, MarketsStreamed and FeedMarketsTo to the PriceCache; FillStreamed to the
    ExitRouter; MarketSettled to the positions through the Supervisor (ForwardToMarket).

    Asks: nothing.
    """

    kind = "market_stream"
    survives_errors = True

    def __init__(self, rt, connection: KalshiWsConnection, price_cache, exit_router, supervisor, *,  # type: ignore[no-untyped-def]
                 settings: StreamSettings = StreamSettings(), seed: int = 0) -> None:
        super().__init__(rt, "stream")
        self.connection = connection
        self.price_cache, self.exit_router, self.supervisor = price_cache, exit_router, supervisor
        self.s = settings
        self._rng = random.Random(seed)
        self.link = "down"                    # down | connecting | up
        self.conn = 0
        self.attempts = 0                     # connections lost in a row (reset once one has lived dead_after_secs)
        self.up_since: datetime | None = None
        self.last_traffic: datetime | None = None
        self.wanted: set[str] = set()
        self.streamed: set[str] = set()
        self.polled: dict[str, str] = {}      # market -> why it is polled
        self.books: dict[str, MarketBook] = {}
        self._last_book: dict[str, datetime] = {}
        self._info: dict[str, dict[str, Any]] = {}   # market -> last / volume / close_time
        self._restored: list[str] = []
        self._verifying: dict[str, datetime] = {}    # silent market -> when its re-snapshot is overdue
        self._asked: dict[str, datetime] = {}        # market -> when a snapshot was last asked again
        self._dirty: set[str] = set()
        self._crossed_since: dict[str, datetime] = {}   # market -> when its book was first seen crossed
        self._settled: set[str] = set()
        self.seqs = Sequences()
        self.sids: dict[str, int] = {}        # channel -> sid
        self._on: dict[str, set[str]] = {c: set() for c in MARKET_CHANNELS}   # what each subscription was asked for
        self._pending: dict[int, tuple[str, str]] = {}    # command id -> (channel, command)
        self._resubscribe: set[str] = set()
        self._ids = 0
        self._gen = 0
        self._timer: Any = None
        self._reconnect_gen = 0
        self._ticks = 0
        self.summary: dict[str, Any] = {"connection": "down"}
        add = getattr(rt.audit, "add_heartbeat_source", None)
        if add is not None:
            add(lambda: {"market_data": self.summary})

    # lifecycle ------------------------------------------------------------------------------
    def on_start(self) -> None:
        self.connection.bind(lambda event: self.rt.send(self.actor_ref, event))
        self._tick_later()
        self._connect()

    def on_stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.connection.shutdown()

    def handle(self, message: Any) -> None:
        match message:
            case WsFrames(conn=c, frames=frames) if c == self.conn and self.link == "up":
                self.last_traffic = self.rt.clock.now()
                for f in frames:
                    if c != self.conn or self.link != "up":
                        break                     # a frame of the batch ended the connection
                    self._on_frame(f)
            case WsAlive(conn=c) if c == self.conn:
                self.last_traffic = self.rt.clock.now()
            case WsOpened(conn=c) if c == self.conn:
                self._opened()
            case WsClosed(conn=c, reason=why) if c == self.conn and self.link != "down":
                self._down(why)
            case WsUnreadable(conn=c, error=why) if c == self.conn:
                self._error("unreadable frame", why)
                self._gap(f"unreadable frame: {why}")
            case WsFrames() | WsAlive() | WsOpened() | WsClosed() | WsUnreadable():
                pass                              # a connection already replaced
            case StreamMarkets(tickers=tickers):
                self._want(set(tickers))
            case HealthCheck(generation=g) if g == self._gen:
                self._check()
            case Reconnect(generation=g) if g == self._reconnect_gen and self.link == "down":
                self._connect()
            case PushQuotes():
                self._push_dirty()
            case HealthCheck() | Reconnect():
                pass
            case _:
                self.unknown(message)

    # the connection ---------------------------------------------------------------------------
    def _connect(self) -> None:
        self.conn += 1
        self.link = "connecting"
        self._summarize()
        self.connection.open(self.conn)

    def _opened(self) -> None:
        self.link = "up"
        self.up_since = self.last_traffic = self.rt.clock.now()   # the back-off resets once it has lived
        self.rt.audit.emit(ae.StreamConnected(connection=self.conn, markets=len(self.wanted),
                                              use_yes_price=self.s.use_yes_price))
        self.sids.clear()
        self.seqs.clear()
        self._pending.clear()
        self._on = {c: set() for c in MARKET_CHANNELS}
        for channel in (wp.FILLS, wp.LIFECYCLE):
            self._send_subscribe(channel, ())
        for channel in MARKET_CHANNELS:
            self._sync(channel)
        self._summarize()

    def _down(self, reason: str) -> None:
        self.link = "down"
        self._fall_back(set(self.streamed) | set(self._restored), f"disconnected: {reason}")
        self.books.clear()
        self.sids.clear()
        self.seqs.clear()
        self._pending.clear()
        delay = min(self.s.reconnect_cap_secs,
                    jittered_delay_secs(self.s.reconnect_base_secs, self.attempts, self._rng.random()))
        self.attempts += 1
        self._reconnect_gen += 1
        self.rt.scheduler.call_later(timedelta(seconds=delay), self.actor_ref, Reconnect(self._reconnect_gen))
        self.rt.audit.emit(ae.StreamDisconnected(connection=self.conn, reason=reason, attempt=self.attempts,
                                                 retry_in_secs=round(delay, 3), polled=len(self.wanted), wait_secs=delay))
        self._summarize()

    def _send(self, command: dict, channel: str) -> None:
        self._pending[command["id"]] = (channel, command["cmd"])
        self.connection.send(self.conn, command)

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _send_subscribe(self, channel: str, tickers) -> None:  # type: ignore[no-untyped-def]
        self._send(wp.subscribe(self._next_id(), channel, sorted(tickers), use_yes_price=self.s.use_yes_price),
                   channel)

    def _sync(self, channel: str) -> None:
        """Bring a market channel's subscription to the markets wanted now."""
        if self.link != "up":
            return
        sid = self.sids.get(channel)
        if sid is None:
            if self.wanted and (channel, "subscribe") not in self._pending.values():
                self._send_subscribe(channel, self.wanted)
                self._on[channel] = set(self.wanted)
            return
        add, drop = self.wanted - self._on[channel], self._on[channel] - self.wanted
        if drop:
            if drop == self._on[channel]:            # nothing left: end the subscription
                self._send(wp.unsubscribe(self._next_id(), [sid]), channel)
                del self.sids[channel]
                self.seqs.forget(sid)
                self._on[channel] = set()
                self._sync(channel)
                return
            self._send(wp.update_subscription(self._next_id(), sid, "delete_markets", sorted(drop)), channel)
        if add:
            self._send(wp.update_subscription(self._next_id(), sid, "add_markets", sorted(add)), channel)
        self._on[channel] = set(self.wanted)

    def _want(self, tickers: set[str]) -> None:
        for t in self.wanted - tickers:                 # no longer of interest: forget it, say nothing
            self.books.pop(t, None)
            self._last_book.pop(t, None)
            self.streamed.discard(t)
            self.polled.pop(t, None)
            self._info.pop(t, None)
        self._restored = [t for t in self._restored if t in tickers]
        for t in tickers - self.wanted:
            self.polled[t] = "waiting for its first snapshot"
        self.wanted = tickers
        for channel in MARKET_CHANNELS:
            self._sync(channel)
        self._summarize()

    # frames -----------------------------------------------------------------------------------
    def _on_frame(self, f: Any) -> None:
        match f:
            case wp.BookSnapshot() | wp.BookDelta():
                self._on_book(f)
            case wp.TickerUpdate(ticker=t) if t in self.wanted:
                info = self._info.setdefault(t, {})
                info.update({k: v for k, v in (("last", f.last), ("volume", f.volume)) if v is not None})
                self._push(t)
            case wp.FillReport(fill=fill):
                self.rt.send(self.exit_router, FillStreamed(fill))
            case wp.Lifecycle(ticker=t) if t in self.wanted:
                self._on_lifecycle(f)
            case wp.Subscribed(req_id=rid, channel=channel, sid=sid):
                self._pending.pop(rid, None)
                self.sids[channel] = sid
                if channel in MARKET_CHANNELS:
                    self._sync(channel)          # markets wanted while the subscribe was on its way
            case wp.Ok(req_id=rid):
                self._pending.pop(rid, None)
            case wp.WsError():
                self._on_error(f)
            case _:
                pass

    def _on_book(self, f: wp.BookSnapshot | wp.BookDelta) -> None:
        if f.sid != self.sids.get(wp.BOOK):
            return                                  # a subscription already ended
        problem = self.seqs.check(f.sid, f.seq)
        if problem == "duplicate":
            return
        if problem is not None:
            self._gap(problem)
            return
        t = f.ticker
        if t not in self.wanted:
            return
        now = self.rt.clock.now()
        if isinstance(f, wp.BookSnapshot):
            book = self.books.setdefault(t, MarketBook(t))
            before = (dict(book.yes), dict(book.no))
            book.apply_snapshot(f)
            if self._verifying.pop(t, None) is not None and before != (book.yes, book.no):
                self._error("stale book", f"{t}: the re-snapshot of a silent book differed from the book held; "
                                          "it replaces it", markets=(t,))
            if t not in self.streamed and t not in self._restored:
                self._restored.append(t)
        else:
            book = self.books.get(t)
            if book is None:
                return                              # waiting for its snapshot
            try:
                book.apply_delta(f)
            except BookInconsistent as exc:
                self._gap(str(exc))
                return
        self._last_book[t] = now
        self._push(t)

    def _push(self, t: str) -> None:
        if not self._dirty:
            self.rt.send(self.actor_ref, PushQuotes())
        self._dirty.add(t)

    def _push_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for t in sorted(dirty):
            book = self.books.get(t)
            if book is None or (t not in self.streamed and t not in self._restored):
                continue
            if self._crossed(t, book):
                continue
            info = self._info.get(t, {})
            self.rt.send(self.price_cache, QuotePushed(book.to_quote(self.rt.clock.now(), last=info.get("last"),
                                                                     volume=info.get("volume"),
                                                                     close_time=info.get("close_time"))))

    def _on_lifecycle(self, f: wp.Lifecycle) -> None:
        if f.event_type == "close_date_updated" and f.close_time is not None:
            self._info.setdefault(f.ticker, {})["close_time"] = f.close_time
            self._push(f.ticker)                    # polled markets read the new close time from REST
        elif f.event_type in PAUSE_NOTICES:
            self.rt.audit.emit(ae.Alert(said=f"ALERT {f.ticker}: {PAUSE_NOTICES[f.event_type]}", market=f.ticker,
                                        detail=f"market_lifecycle_v2 {f.event_type}"))
        elif f.event_type in ("determined", "settled") and f.result is not None and f.ticker not in self._settled:
            self._settled.add(f.ticker)
            self.rt.send(self.supervisor, ForwardToMarket(f.ticker, MarketSettled(f.ticker, f.result,
                                                                                    self.rt.clock.now())))

    def _on_error(self, err: wp.WsError) -> None:
        sent = self._pending.pop(err.req_id, None) if err.req_id is not None else None
        channel = None if sent is None else sent[0]
        self._error(f"error {err.code}", err.text, code=err.code, channel=channel)
        if err.needs_resubscribe or (channel is not None and channel not in self.sids):
            self._resubscribe.update([channel] if channel is not None else [wp.BOOK, wp.TICKER, wp.FILLS,
                                                                             wp.LIFECYCLE])

    def _error(self, what: str, text: str, **fields: Any) -> None:
        self.rt.audit.emit(ae.StreamError(kind=what, error=text, **fields))

__all__ = ["MarketStream", "StreamSettings"]
