"""The failure half of the MarketStream (adapters/kalshi/stream.py): moving markets between
STREAMED and POLLED, the sequence gap, the health check (a dead connection, silent books and
their re-snapshots, subscriptions to make again), and the summary `status` shows.

A mixin of the one actor, not an actor of its own: it shares the stream's state and runs on
its thread.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters.kalshi import ws_protocol as wp
from adapters.kalshi.market_data import HealthCheck
from models import audit_events as ae
from models.commands import FeedMarketsTo
from models.events import MarketsStreamed


class StreamHealth:
    """Needs the MarketStream's attributes (see its __init__)."""

    rt: Any
    s: Any

    def _fall_back(self, tickers: set[str], reason: str) -> None:
        tickers = {t for t in tickers if t in self.wanted}
        for t in tickers:
            self._verifying.pop(t, None)
        was = sorted(t for t in tickers if t in self.streamed)
        self.streamed -= tickers
        self._restored = [t for t in self._restored if t not in tickers]
        for t in tickers:
            self.polled[t] = reason
        if was:
            self.rt.send(self.price_cache, MarketsStreamed(tuple(was), False, reason))
            self.rt.audit.emit(ae.MarketPolled(markets=tuple(was), reason=reason))

    def _gap(self, reason: str) -> None:
        """The book subscription can no longer be trusted: its markets are polled, it ends, and a
        new one (a new sid) brings a snapshot of each."""
        self._fall_back(set(self.books) | set(self.streamed), reason)
        self.books.clear()
        sid = self.sids.pop(wp.BOOK, None)
        if sid is not None and self.link == "up":
            self.seqs.forget(sid)
            self._send(wp.unsubscribe(self._next_id(), [sid]), wp.BOOK)
        self._on[wp.BOOK] = set()
        self._sync(wp.BOOK)
        self._summarize()

    def _crossed(self, t: str, book: Any) -> bool:
        """A crossed book (best YES bid >= best YES ask) is never pushed. Kalshi never rests one (it
        would trade), but a burst of deltas read in two parts can show one halfway; one still
        crossed at the next health check missed a change though the sequence held: see
        _uncross."""
        bid, _, ask, _ = book.top()
        if bid is None or ask is None or bid < ask:
            self._crossed_since.pop(t, None)
            return False
        self._crossed_since.setdefault(t, self.rt.clock.now())
        return True

    def _uncross(self, now: datetime) -> None:
        """Books still crossed a check after they crossed: the market is polled (REST at once) and
        re-snapshot alone, at most once per book_silence_secs (a venue whose own snapshot is
        crossed is then asked again by the silence check, not in a loop)."""
        for t, since in sorted(self._crossed_since.items()):
            book = self.books.get(t)
            if book is None or t not in self.wanted or not self._crossed(t, book):
                self._crossed_since.pop(t, None)
                continue
            if now <= since:
                continue
            del self._crossed_since[t]
            bid, _, ask, _ = book.top()
            self.books.pop(t, None)
            self._error("crossed book", f"{t}: best yes bid {bid} >= best yes ask {ask}: a change was missed; "
                                        "polled and re-snapshot", markets=(t,))
            self._fall_back({t}, f"crossed book (bid {bid} >= ask {ask}): re-snapshot")
            sid, last = self.sids.get(wp.BOOK), self._asked.get(t)
            if sid is not None and (last is None or now - last >= timedelta(seconds=self.s.book_silence_secs)):
                self._asked[t] = now
                self._send(wp.update_subscription(self._next_id(), sid, "delete_markets", [t]), wp.BOOK)
                self._send(wp.update_subscription(self._next_id(), sid, "add_markets", [t]), wp.BOOK)

    def _check(self) -> None:
        self._tick_later()
        now = self.rt.clock.now()
        if self.link == "up" and self.last_traffic is not None and \
                now - self.last_traffic > timedelta(seconds=self.s.dead_after_secs):
            self.connection.close(self.conn)
            self._down(f"no traffic (not even a ping) for {int((now - self.last_traffic).total_seconds())} s")
        if self.link == "up":
            if self.attempts and now - self.up_since >= timedelta(seconds=self.s.dead_after_secs):
                self.attempts = 0             # it held: the next drop starts the back-off afresh
            self._uncross(now)
            self._silence(now)
            for channel in sorted(self._resubscribe):
                self._resubscribe_channel(channel)
            self._resubscribe.clear()
        if self._restored:
            back, self._restored = sorted(self._restored), []
            self.streamed.update(back)
            for t in back:
                self.polled.pop(t, None)
            self.rt.send(self.price_cache, MarketsStreamed(tuple(back), True))
            self.rt.audit.emit(ae.MarketStreamed(markets=tuple(back), streamed=len(self.streamed), wanted=len(self.wanted)))
        self._ticks += 1
        if self._ticks % max(1, self.s.announce_every_secs // max(1, self.s.check_every_secs)) == 0:
            self.rt.send(self.price_cache, FeedMarketsTo(self.actor_ref, tuple(sorted(self.streamed))))
        self._summarize()

    def _silence(self, now: datetime) -> None:
        """A streamed book silent past book_silence_secs is checked: re-snapshot (out of the
        subscription and back in). A quiet market's snapshot comes back and it stays streamed;
        one that does not come within resnapshot_timeout_secs means the subscription is dead for
        that market: it is polled (REST at once) until its snapshot comes."""
        limit = timedelta(seconds=self.s.book_silence_secs)
        expired = {t for t, until in self._verifying.items() if now >= until}
        if expired:
            for t in expired:
                del self._verifying[t]
                self.books.pop(t, None)
            self._fall_back(expired, f"book silent for over {self.s.book_silence_secs} s and no fresh snapshot "
                                     f"within {self.s.resnapshot_timeout_secs} s")
        silent = sorted(t for t in self.streamed if t not in self._verifying
                        and now - self._last_book.get(t, now) > limit)
        for t in silent:
            self._verifying[t] = now + timedelta(seconds=self.s.resnapshot_timeout_secs)
        # Polled markets whose snapshot has not come are asked again at the same pace.
        for t in [t for t in self._asked if t in self.streamed or t not in self.wanted]:
            del self._asked[t]
        waiting = [t for t in self.wanted - self.streamed if t not in self._restored and t in self._on[wp.BOOK]
                   and t not in self._verifying and now - self._asked.setdefault(t, now) >= limit]
        sid = self.sids.get(wp.BOOK)
        ask = sorted(set(silent) | set(waiting))
        if ask and sid is not None:
            for t in ask:
                self._asked[t] = now
            self._send(wp.update_subscription(self._next_id(), sid, "delete_markets", ask), wp.BOOK)
            self._send(wp.update_subscription(self._next_id(), sid, "add_markets", ask), wp.BOOK)

    def _resubscribe_channel(self, channel: str) -> None:
        if channel == wp.BOOK:
            self._gap("the server ended the order book subscription")
            return
        sid = self.sids.pop(channel, None)
        if sid is not None:
            self._send(wp.unsubscribe(self._next_id(), [sid]), channel)
        if channel == wp.TICKER:
            self._on[channel] = set()
            self._sync(channel)
        else:
            self._send_subscribe(channel, ())

    def _tick_later(self) -> None:
        self._gen += 1
        self._timer = self.rt.scheduler.call_later(timedelta(seconds=self.s.check_every_secs), self.actor_ref,
                                                   HealthCheck(self._gen))

    def _summarize(self) -> None:
        self.summary = {"connection": self.link, "streamed": len(self.streamed), "wanted": len(self.wanted),
                        "polled": dict(sorted(self.polled.items())[:20]), "polled_count": len(self.polled),
                        "reconnect_attempts": self.attempts}


