"""PriceCache: the one place quotes come from.

- Pushed quotes (simulation, replay, a stream) are stored and forwarded to the subscribers
  of that market only, and only when the bids or close time changed.
- With `streamed` (replays: the recording is the market), every change is pushed, so a request
  is answered from the last pushed quote, stamped now, and nothing is read from the venue.
- GetQuote answers from the cache while the quote is younger than the TTL (and, when the asker
  says `newer_than`, newer than that: an exit whose IOC found too little asks for a book read
  after that IOC's answer); a miss joins a batch: all misses gathered while the cache is busy go out as ONE multi-market read
  (GET /markets?tickers=A,B,...) through the RateLimiter, and one fetch per market serves
  every position that asked for it. A miss of a CRITICAL or HIGH exit that prices its order from
  the answer (GetQuote.priority) sends its read as that exit's call (CallKind.EXIT at its
  priority), or moves up the read already waiting for that market (ExpediteCall).
- A read that goes out anyway fills its free places (up to `max_batch` tickers) with the other
  subscribed markets whose quote is stale, the oldest first. Positions' wake-ups are staggered,
  so without this every market would cost its own read at every refresh; with it one read
  refreshes up to `max_batch` markets and the wake-ups that follow within the TTL are hits:
  reads a minute grow with markets / max_batch, not with markets or positions. It never adds
  a read (only tickers to a read already going out).
- A live stream (issue 13, adapters/kalshi/stream.py) streams some markets and not others: a
  market it says is streamed (MarketsStreamed) is answered like a replay's, from the last
  pushed quote; one that falls back (disconnect, gap, silence) is read from the venue at once
  and polled from then on. The stream is told every market of interest (StreamMarkets): the
  markets with subscribers (open positions) and those an entry asked for lately.
- Quiet bands (issue 14, models/exit_band.py): a position that holds a band is sent a changed
  quote only when the quote leaves its band; the band is dropped when a quote is sent (the
  position sends a new one after evaluating). `ReleaseBand` drops it and answers with the last
  quote that was forwarded (BandReleased), so the position can catch up before anything else.
- Every quote it stores is a volume sample of its market; the quotes it hands out carry
  `recent_volume`, the contracts traded within `volume_window` (models/liquidity.py; None
  until a window of history exists), and `volume_low_at`, when it falls below `min_volume` if
  no sample comes (models/time_band.py: a quiet position sleeps until then). It is the one place
  that sees every quote.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import itertools
from collections import defaultdict, deque
from datetime import timedelta
from typing import Any

from loguru import logger

from actors.base import ArbeesActor
from actors.price_cache_watch import FEED_LEASE, QuoteWatchMixin
from models.durations import seconds
from models.liquidity import recent_volume
from models.time_band import volume_low_at
from models.market import Quote
from models.priorities import Priority
from models.commands import (
    BandChanged, CallKind, ExpediteCall, FeedMarketsTo, GetQuote, Rebuild, ReleaseBand, StreamMarkets, Subscribe, Unsubscribe, VenueCall,
)
from models.events import BandReleased, MarketsStreamed, QuotePushed, QuoteUpdated, VenueResult


@dataclass(frozen=True, slots=True)
class FlushMisses:
    """The price cache sends its batched misses as one multi-market read."""

URGENT_EXIT = Priority.HIGH     # reads for CRITICAL and HIGH exits' orders go as their calls
ENTRY_INTEREST = timedelta(minutes=5)   # an entry's market stays of interest to the stream this long
# The stream re-announces itself every 15 s (FeedMarketsTo); past FEED_LEASE (45 s) without a word from
# it (it died, or its thread hangs) no market is answered from it any more: all are polled again.


class PriceCache(QuoteWatchMixin, ArbeesActor):
    """The one place quotes come from (see the module docstring).

    Receives: QuotePushed, GetQuote, Subscribe, Unsubscribe, VenueResult (get_quotes), Rebuild,
    BandChanged and ReleaseBand from positions (their quiet bands),
    FeedMarketsTo and MarketsStreamed from the market-data stream (which markets it serves), and its
    own FlushMisses. Asked (through its proxy) by the Heartbeat for `quote_ages`.

    Sends: QuoteUpdated to subscribers and askers; VenueCall (CallKind.READ, get_quotes; EXIT for a
    CRITICAL or HIGH exit's book) and ExpediteCall (that exit's read already waiting) to the
    RateLimiter; StreamMarkets (the markets of interest) to the stream; BandReleased to a position
    that released its band; FlushMisses to itself.

    Asks: nothing.
    """

    kind = "price_cache"
    survives_errors = True
    fills_reads_with_stale_markets = True     # see the module docstring (read by the benchmark's model)

    def __init__(self, rt, rate_limiter, ttl_secs, *, max_batch: int = 100, streamed: bool = False,
                 volume_window_secs=None, min_volume: int = 0, stale_after_secs=None,
                 handle=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "cache", handle=handle)
        self.rate_limiter = rate_limiter
        self.ttl = seconds(ttl_secs)
        self.max_batch = max_batch
        # Streamed: every change of the markets is pushed (a replay's recording, a live stream), so
        # the last pushed quote IS the market now; a request is answered from it, stamped now.
        self.streamed = streamed
        self._quotes: dict[str, Quote] = {}
        self.volume_window = None if volume_window_secs is None else seconds(volume_window_secs)
        self._volumes: dict[str, deque] = defaultdict(deque)   # ticker -> (ts, lifetime volume), oldest first
        self.min_volume = min_volume     # liquidity.min_volume: quotes carry when the recent volume falls below it
        self._descents: dict[str, int] = defaultdict(int)      # ticker -> samples whose volume is below the one before
        self._subs: dict[str, dict[str, Any]] = defaultdict(dict)
        self._bands: dict[str, Any] = {}          # position key -> its QuietBand (see the docstring)
        self._forwarded: dict[str, tuple[Quote, Any]] = {}   # ticker -> (last forwarded quote, when)
        self._waiting: dict[str, list[tuple[Any, str]]] = defaultdict(list)
        self._in_flight: set[str] = set()
        self._misses: list[str] = []
        self._requests: dict[str, tuple[str, ...]] = {}
        self._urgent: dict[str, int] = {}         # ticker -> most urgent exit priority waiting for its read
        self._flush_armed = False
        self._ids = itertools.count(1)
        self.fetches = 0          # multi-market reads sent
        self.hits = 0
        self.forwarded = 0
        self.filtered = 0         # quotes not sent: inside the position's quiet band
        self.rejected = 0
        self._feed: Any = None                    # the live stream, when there is one
        self._live: set[str] = set()              # markets the stream serves now
        self._asked: dict[str, Any] = {}          # ticker -> when an entry last asked for it
        self._told: tuple[str, ...] | None = None
        self._feed_heard: Any = None               # when the stream last spoke (its lease)
        self._init_watch(stale_after_secs)         # markets without a current quote: ALERT (price_cache_watch.py)

    def handle(self, message: Any) -> None:
        match message:
            case QuotePushed(quote=q):
                self._store_and_forward(q)
                self._say_back()
            case GetQuote():
                self._get(message)
            case FlushMisses():
                self._flush()
            case VenueResult(method="get_quotes"):
                self._fetched(message)
            case Subscribe(ticker=t, subscriber=ref, key=key):
                self._subs[t][key] = ref
                self._watch_subscribed(t)
                self._tell_feed()
                self._bands.pop(key, None)          # a new actor for the position: it has no band yet
            case BandChanged(ticker=t, key=key, band=band):
                if band is None or key not in self._subs.get(t, {}):
                    self._bands.pop(key, None)
                else:
                    self._bands[key] = band
            case ReleaseBand(ticker=t, key=key, reply_to=ref):
                self._bands.pop(key, None)
                q, at = self._forwarded.get(t, (None, None))
                self.send(ref, BandReleased(t, q, at))
            case Rebuild():
                pass          # the Supervisor re-subscribes every position (PeerRestarted)
            case Unsubscribe(ticker=t, key=key):
                self._bands.pop(key, None)
                self._subs[t].pop(key, None)
                if not self._subs[t]:
                    del self._subs[t]
                    self._watch_unsubscribed(t)
                self._tell_feed()
            case FeedMarketsTo(feed=feed, streamed=streamed):
                self._feed_heard = self.rt.clock.now()
                first = self._feed is None
                self._feed = feed
                self._live = set(streamed)
                if first:
                    self._told = None
                self._tell_feed()
                self._known_again(streamed)
            case MarketsStreamed(tickers=tickers, streamed=True):
                self._feed_heard = self.rt.clock.now()
                self._live.update(tickers)
                self._known_again(tickers)
            case MarketsStreamed(tickers=tickers, streamed=False):
                self._feed_heard = self.rt.clock.now()
                self._fall_back(tickers)
            case _:
                self.unknown(message)

    def _store_and_forward(self, q: Quote) -> None:
        problem = quote_problem(q)
        if problem is not None:
            self.rejected += 1
            logger.warning("price cache: dropped a quote for {}: {}", q.ticker, problem)
            self._watch_refused(q.ticker, problem)
            return
        old = self._quotes.get(q.ticker)
        if old is not None and q.ts < old.ts:
            return  # out of order: keep the newer
        if q.close_time is None and old is not None and old.close_time is not None:
            q = dataclasses.replace(q, close_time=old.close_time)   # a stream's book does not know it
        # A lifetime volume that went down (a venue's correction) may bring the moment the recent
        # volume runs dry forward, which a quiet position's time band does not foresee
        # (models/time_band.py): such a quote is a change for every holder, banded or not, when
        # the market is streamed (polled positions read it at their next tick, as before).
        samples = self._volumes.get(q.ticker)
        fell = (self.volume_window is not None and q.volume is not None and bool(samples)
                and q.volume < samples[-1][1]  # type: ignore[index]
                and (self.streamed or q.ticker in self._live))
        q = self._with_recent_volume(q, sample=True)
        self._quotes[q.ticker] = q
        self._watch_known(q.ticker)
        if old is not None and _same_for_holders(old, q) and not fell:
            return
        self._forwarded[q.ticker] = (q, self.rt.clock.now())
        bands = self._bands
        for key, ref in self._subs.get(q.ticker, {}).items():
            band = bands.get(key)
            if band is not None:
                if not fell and not band.leaves(q):
                    self.filtered += 1
                    continue
                del bands[key]
            self.forwarded += 1
            self.send(ref, QuoteUpdated(q.ticker, q))

    def _get(self, msg: GetQuote) -> None:
        q = self._quotes.get(msg.ticker)
        now = self.rt.clock.now()
        if self._live and now - self._feed_heard > FEED_LEASE:
            logger.warning("price cache: no word from the market-data stream for {} s: {} markets polled again",
                           int((now - self._feed_heard).total_seconds()), len(self._live))
            self._live.clear()
        self._sweep()
        if self._feed is not None and msg.ticker not in self._subs:
            fresh = msg.ticker not in self._asked
            self._asked[msg.ticker] = now
            if fresh:
                self._tell_feed()
        pushed = self.streamed or msg.ticker in self._live     # the last pushed quote is the market now
        if pushed and q is not None and q.ts < now:
            q = self._quotes[msg.ticker] = self._with_recent_volume(dataclasses.replace(q, ts=now))
        new_enough = pushed or msg.newer_than is None or (q is not None and q.ts > msg.newer_than)
        if q is not None and q.is_fresh(now, self.ttl) and new_enough:
            self.hits += 1
            self.send(msg.reply_to, QuoteUpdated(msg.ticker, q, msg.request_id))
            return
        self._waiting[msg.ticker].append((msg.reply_to, msg.request_id))
        if msg.priority is not None and msg.priority <= URGENT_EXIT:
            self._urgent[msg.ticker] = min(msg.priority, self._urgent.get(msg.ticker, msg.priority))
            if msg.ticker in self._in_flight:       # its read already waits in the RateLimiter: move it up
                for rid, tickers in self._requests.items():
                    if msg.ticker in tickers:
                        self.send(self.rate_limiter, ExpediteCall(rid, msg.priority))
        if msg.ticker not in self._in_flight and msg.ticker not in self._misses:
            self._misses.append(msg.ticker)
        if not self._flush_armed:
            self._flush_armed = True
            self.send(self.actor_ref, FlushMisses())  # after the misses already queued here

    def _tell_feed(self) -> None:
        """Tell the stream the markets of interest when they changed: every market with a
        subscriber, and those an entry asked for within ENTRY_INTEREST."""
        if self._feed is None:
            return
        now = self.rt.clock.now()
        for t in [t for t, at in self._asked.items() if now - at > ENTRY_INTEREST or t in self._subs]:
            del self._asked[t]
        wanted = tuple(sorted(set(self._subs) | set(self._asked)))
        if wanted != self._told:
            self._told = wanted
            self.send(self._feed, StreamMarkets(wanted))

    def _fall_back(self, tickers: tuple[str, ...]) -> None:
        """The stream no longer serves these markets: read the ones that matter from the venue now
        (one batched read), so a move missed while the stream was down reaches the positions at
        once; after that they are polled at the positions' cadence like any polled market."""
        self._live.difference_update(tickers)
        urgent = [t for t in tickers if (t in self._subs or t in self._waiting)
                  and t not in self._in_flight and t not in self._misses]
        if urgent:
            self._misses.extend(urgent)
            if not self._flush_armed:
                self._flush_armed = True
                self.send(self.actor_ref, FlushMisses())

    def _flush(self) -> None:
        self._flush_armed = False
        self._fill_with_stale()
        while self._misses:
            batch, self._misses = self._misses[: self.max_batch], self._misses[self.max_batch:]
            self._in_flight.update(batch)
            self.fetches += 1
            request_id = f"quotes-{next(self._ids)}"
            self._requests[request_id] = tuple(batch)
            urgent = min((self._urgent[t] for t in batch if t in self._urgent), default=None)
            kind, priority = (CallKind.READ, Priority.LOW) if urgent is None else (CallKind.EXIT, urgent)
            self.send(self.rate_limiter, VenueCall(request_id, kind, "get_quotes", (tuple(batch),), self.me, priority))

    def _fill_with_stale(self) -> None:
        """Top up the last batch with subscribed markets whose quote is stale (see above)."""
        room = -len(self._misses) % self.max_batch
        if not self._misses or not room:
            return
        now = self.rt.clock.now()
        asked = set(self._misses) | self._in_flight
        stale = []
        for ticker in self._subs:
            if ticker in asked or ticker in self._live:     # a streamed market is never read over its stream
                continue
            q = self._quotes.get(ticker)
            if q is None or not q.is_fresh(now, self.ttl):
                stale.append((q is not None, q.ts if q is not None else None, ticker))
        stale.sort(key=lambda x: (x[0], x[1] or now, x[2]))   # never read first, then the oldest
        self._misses.extend(ticker for _, _, ticker in stale[:room])

    def _fetched(self, result: VenueResult) -> None:
        tickers = self._requests.pop(result.request_id, ())
        quotes: dict[str, Quote] = result.value if result.ok else {}
        self._watch_read(tickers, quotes, result.error)
        for ticker in tickers:
            self._in_flight.discard(ticker)
            self._urgent.pop(ticker, None)
            q = quotes.get(ticker)
            if q is not None:
                self._store_and_forward(q)
            current = self._quotes.get(ticker)
            fresh = current if current is not None and current.is_fresh(self.rt.clock.now(), self.ttl) else None
            unknown = result.ok and q is None and current is None    # the venue answered without it
            for ref, rid in self._waiting.pop(ticker, []):
                # On failure the waiters get the last known quote: they see its age and treat it as stale.
                self.send(ref, QuoteUpdated(ticker, fresh or current, rid, unknown=unknown))
        self._sweep()

    def _with_recent_volume(self, q: Quote, sample: bool = False) -> Quote:
        """`q` stamped with the volume traded in the window before its time; with `sample`, its
        lifetime volume is first recorded (keeping one sample at or before the window's start)."""
        if self.volume_window is None:
            return q
        samples = self._volumes[q.ticker]
        if sample and q.volume is not None:
            if samples and samples[-1][0] == q.ts:
                self._descents[q.ticker] += _fell(samples, q.volume) - _fell(samples, samples[-1][1])
                samples[-1] = (q.ts, q.volume)
            elif not samples or samples[-1][0] < q.ts:
                self._descents[q.ticker] += bool(samples) and q.volume < samples[-1][1]
                samples.append((q.ts, q.volume))
            start = q.ts - self.volume_window
            while len(samples) >= 2 and samples[1][0] <= start:
                self._descents[q.ticker] -= samples[1][1] < samples[0][1]
                samples.popleft()
        low_at = volume_low_at(samples, q.ts, self.volume_window, self.min_volume, self._descents[q.ticker] == 0)
        return dataclasses.replace(q, recent_volume=recent_volume(samples, q.ts, self.volume_window),
                                   volume_low_at=low_at)


def _fell(samples: deque, volume: int) -> bool:
    """Whether `volume`, as the last of `samples`, is below the sample before the last."""
    return len(samples) >= 2 and volume < samples[-2][1]


def _same_for_holders(a: Quote, b: Quote) -> bool:
    """True when nothing a position marks at or sells into has changed: the bids of both sides
    (so the spread too), their sizes (liquidity coming back at an unchanged price re-attacks a
    stop loss that gave up) and the close time. Volume alone does not wake positions; their
    next tick reads it."""
    return (a.yes_bid == b.yes_bid and a.yes_ask == b.yes_ask and a.close_time == b.close_time
            and a.yes_bid_size == b.yes_bid_size and a.yes_ask_size == b.yes_ask_size)


def quote_problem(q: Quote) -> str | None:
    """Why a quote cannot be trusted (None when it can): prices outside [0, 1] or finer than the
    database keeps, or a crossed book. A bad quote must never move a mark, a peak or a stop."""
    for name in ("yes_bid", "yes_ask", "last"):
        v = getattr(q, name)
        if v is None:
            continue
        if not v.is_finite() or v < 0 or v > 1:
            return f"{name} {v} is not a price between 0 and 1"
        if v.as_tuple().exponent < -6:
            return f"{name} {v} has more than 6 decimal places"
    if q.yes_bid is not None and q.yes_ask is not None and q.yes_bid > q.yes_ask:
        return f"crossed book: bid {q.yes_bid} above ask {q.yes_ask}"
    return None
