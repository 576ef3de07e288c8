"""The PriceCache with a live stream: per market, streamed (answered from the last pushed quote,
no venue read) or polled (read from the venue, at once when a market falls back), and the
markets of interest told to the stream as positions open and close and entries ask."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.clock import VirtualClock
from actors.price_cache import ENTRY_INTEREST, FEED_LEASE, PriceCache
from actors.rate_limiter import RateLimiter
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from models.market import Quote
from models.commands import FeedMarketsTo, GetQuote, StreamMarkets, Subscribe, Unsubscribe
from models.events import MarketsStreamed, QuotePushed
from tests.actors.test_price_cache import Probe, RecordingVenue

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
D = Decimal


@pytest.fixture
def rig():
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    scheduler = VirtualScheduler(clock, activity)
    rt = Runtime(clock, scheduler, activity, Audit(clock, []))
    venue = RecordingVenue(clock)
    for t in "ABC":
        venue.set_quote(Quote(t, T0, D("0.40"), D("0.41")))
    limiter = RateLimiter.start(rt, venue, 60)
    cache = PriceCache.start(rt, limiter, 10)
    probe, feed = Probe.start(rt), Probe.start(rt)
    yield rt, clock, scheduler, venue, cache, probe, feed
    for ref in (feed, probe, cache, limiter):
        ref.stop(block=True, timeout=5)


def settle(rt) -> None:  # type: ignore[no-untyped-def]
    assert rt.activity.wait_idle(10)


def stream_a(rt, cache, probe, feed) -> None:  # type: ignore[no-untyped-def]
    """Market A has a position and is streamed, its last pushed quote 0.45/0.46 at T0."""
    rt.send(cache, FeedMarketsTo(feed))
    rt.send(cache, Subscribe("A", probe, "pA"))
    rt.send(cache, MarketsStreamed(("A",), True))
    rt.send(cache, QuotePushed(Quote("A", T0, D("0.45"), D("0.46"))))
    settle(rt)


def wanted(feed) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    return [m.tickers for m in feed.proxy().got.get(timeout=5) if isinstance(m, StreamMarkets)]


def test_a_streamed_market_is_answered_from_its_last_quote_long_after_the_ttl_without_a_read(rig):
    rt, clock, scheduler, venue, cache, probe, feed = rig
    stream_a(rt, cache, probe, feed)
    for _ in range(20):                                                # the stream announces itself every 15 s
        scheduler.run_for(timedelta(seconds=15))
        rt.send(cache, FeedMarketsTo(feed, ("A",)))
    rt.send(cache, GetQuote("A", probe, "wake"))
    settle(rt)
    answer = [m for m in probe.proxy().got.get(timeout=5) if getattr(m, "request_id", "") == "wake"][-1]
    assert answer.quote.yes_bid == D("0.45") and answer.quote.ts == clock.now()
    assert venue.reads == []


def test_a_market_that_falls_back_is_read_from_the_venue_at_once_and_polled_after(rig):
    rt, clock, scheduler, venue, cache, probe, feed = rig
    stream_a(rt, cache, probe, feed)
    scheduler.run_for(timedelta(seconds=30))
    venue.set_quote(Quote("A", clock.now(), D("0.30"), D("0.31")))      # the stop crossed while the stream was down
    rt.send(cache, MarketsStreamed(("A",), False, "disconnected"))
    settle(rt)
    assert venue.reads == [("A",)]                                     # at once, not at the next wake-up
    pushed = [m for m in probe.proxy().got.get(timeout=5) if not getattr(m, "request_id", "")]
    assert pushed[-1].quote.yes_bid == D("0.30")                       # and the position is told
    scheduler.run_for(timedelta(seconds=30))
    rt.send(cache, GetQuote("A", probe, "wake"))
    settle(rt)
    assert len(venue.reads) == 2                                       # polled: older than the TTL is read


def test_the_stream_is_told_the_markets_of_positions_and_of_entries_as_they_come_and_go(rig):
    rt, clock, scheduler, venue, cache, probe, feed = rig
    rt.send(cache, Subscribe("A", probe, "pA"))
    rt.send(cache, FeedMarketsTo(feed))
    settle(rt)
    assert wanted(feed) == [("A",)]
    rt.send(cache, GetQuote("B", probe, "entry"))                      # an entry's quote: B is of interest
    rt.send(cache, Subscribe("A", probe, "pA2"))                       # a second position: nothing new
    settle(rt)
    assert wanted(feed) == [("A",), ("A", "B")]
    rt.send(cache, Unsubscribe("A", "pA"))
    rt.send(cache, Unsubscribe("A", "pA2"))
    settle(rt)
    assert wanted(feed)[-1] == ("B",)
    scheduler.run_for(ENTRY_INTEREST + timedelta(seconds=1))
    rt.send(cache, Subscribe("C", probe, "pC"))
    settle(rt)
    assert wanted(feed)[-1] == ("C",)                                  # the entry's market was dropped


def test_a_read_going_out_anyway_never_carries_a_streamed_market(rig):
    """REST lags the stream: a read's older view must not overwrite a streamed book."""
    rt, clock, scheduler, venue, cache, probe, feed = rig
    rt.send(cache, FeedMarketsTo(feed))
    for t in "AB":
        rt.send(cache, Subscribe(t, probe, f"p{t}"))
    rt.send(cache, MarketsStreamed(("A",), True))
    rt.send(cache, QuotePushed(Quote("A", T0, D("0.45"), D("0.46"))))
    settle(rt)
    scheduler.run_for(timedelta(seconds=30))
    rt.send(cache, FeedMarketsTo(feed, ("A",)))
    scheduler.run_for(timedelta(seconds=30))
    rt.send(cache, GetQuote("C", probe, "entry"))
    settle(rt)
    assert venue.reads == [("C", "B")]


def test_a_stream_that_stops_announcing_itself_loses_its_markets_to_polling(rig):
    """The stream died or hangs: its last quotes must not be served as the market for ever."""
    rt, clock, scheduler, venue, cache, probe, feed = rig
    stream_a(rt, cache, probe, feed)
    scheduler.run_for(FEED_LEASE - timedelta(seconds=1))
    rt.send(cache, GetQuote("A", probe, "wake"))
    settle(rt)
    assert venue.reads == []                                           # within the lease: from the stream
    scheduler.run_for(timedelta(seconds=12))                          # past the lease and the last answer's TTL
    rt.send(cache, GetQuote("A", probe, "wake2"))
    settle(rt)
    assert venue.reads == [("A",)]                                     # past it: polled again


def test_a_pushed_quote_that_does_not_know_the_close_time_keeps_the_one_known(rig):
    """The stream's books carry no close time (only a lifecycle change does): the close time a
    REST read gave must not vanish, or the time exit would lose its anchor."""
    rt, clock, scheduler, venue, cache, probe, feed = rig
    close = T0 + timedelta(hours=2)
    rt.send(cache, Subscribe("A", probe, "pA"))
    rt.send(cache, QuotePushed(Quote("A", T0, D("0.45"), D("0.46"), close_time=close)))
    rt.send(cache, QuotePushed(Quote("A", T0 + timedelta(seconds=1), D("0.44"), D("0.46"))))
    settle(rt)
    pushed = [m for m in probe.proxy().got.get(timeout=5) if not getattr(m, "request_id", "")]
    assert pushed[-1].quote.yes_bid == D("0.44") and pushed[-1].quote.close_time == close
