"""The PriceCache fills a read that goes out anyway with the other stale subscribed markets.

Positions' wake-ups are staggered, so without this every market would cost its own read at
every refresh. The cache is driven directly (a RateLimiter over a paper venue that records
which tickers each read asked for), on a virtual clock that does not move.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.price_cache import PriceCache
from actors.rate_limiter import RateLimiter
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from adapters.paper.venue import PaperVenue
from models.market import Quote
from models.commands import GetQuote, Subscribe
from models.events import QuotePushed, QuoteUpdated

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
D = Decimal


class RecordingVenue(PaperVenue):
    """A paper venue that remembers the tickers of every get_quotes call."""

    def __init__(self, clock) -> None:  # type: ignore[no-untyped-def]
        super().__init__(clock)
        self.reads: list[tuple[str, ...]] = []

    def get_quotes(self, tickers):  # type: ignore[no-untyped-def]
        self.reads.append(tuple(tickers))
        return super().get_quotes(tickers)


class Probe(ArbeesActor):
    kind = "probe"

    def __init__(self, rt) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "probe")
        self.got: list[QuoteUpdated] = []

    def handle(self, message) -> None:  # type: ignore[no-untyped-def]
        self.got.append(message)


@pytest.fixture
def rig():
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    venue = RecordingVenue(clock)
    for t in "ABCDE":
        venue.set_quote(Quote(t, T0, D("0.40"), D("0.41")))
    limiter = RateLimiter.start(rt, venue, 60)
    refs = [limiter]

    def start(max_batch: int = 100):  # type: ignore[no-untyped-def]
        cache = PriceCache.start(rt, limiter, 10, max_batch=max_batch)
        probe = Probe.start(rt)
        refs.extend((cache, probe))
        return cache, probe

    yield rt, venue, start
    for ref in reversed(refs):
        ref.stop(block=True, timeout=5)
    assert not any(ref.is_alive() for ref in refs)


def settle(rt) -> None:  # type: ignore[no-untyped-def]
    assert rt.activity.wait_idle(10)


def test_one_miss_refreshes_every_stale_subscribed_market_in_the_same_read(rig):
    rt, venue, start = rig
    cache, probe = start()
    for t in "BCD":
        rt.send(cache, Subscribe(t, probe, f"p{t}"))
    rt.send(cache, QuotePushed(Quote("D", T0, D("0.40"), D("0.41"))))          # D is fresh: left out
    settle(rt)
    rt.send(cache, GetQuote("A", probe, "r1"))
    settle(rt)
    assert len(venue.reads) == 1
    assert venue.reads[0][0] == "A" and sorted(venue.reads[0]) == ["A", "B", "C"]   # E has no subscriber
    got = probe.proxy().got.get(timeout=5)
    assert [(m.ticker, m.request_id) for m in got if m.request_id] == [("A", "r1")]
    assert sorted(m.ticker for m in got if not m.request_id) == ["B", "C", "D"]     # new quotes, forwarded
    # B and C are fresh now: asking for them reads nothing.
    rt.send(cache, GetQuote("B", probe, "r2"))
    rt.send(cache, GetQuote("C", probe, "r3"))
    settle(rt)
    assert len(venue.reads) == 1


def test_the_fill_never_adds_a_read_and_takes_never_read_then_oldest_first(rig):
    rt, venue, start = rig
    cache, probe = start(max_batch=2)
    for t in "BCD":
        rt.send(cache, Subscribe(t, probe, f"p{t}"))
    rt.send(cache, QuotePushed(Quote("B", T0 - timedelta(minutes=5), D("0.40"), D("0.41"))))
    rt.send(cache, QuotePushed(Quote("C", T0 - timedelta(minutes=9), D("0.40"), D("0.41"))))
    settle(rt)
    rt.send(cache, GetQuote("A", probe, "r1"))
    settle(rt)
    assert venue.reads == [("A", "D")]          # one place free: D, never read, before the stale B and C
    rt.send(cache, GetQuote("B", probe, "r2"))
    settle(rt)
    assert venue.reads[1] == ("B", "C")         # C (9 min old) fills the free place
    assert cache.proxy().fetches.get(timeout=5) == 2


def test_a_full_batch_is_not_topped_up(rig):
    rt, venue, start = rig
    cache, probe = start(max_batch=1)
    rt.send(cache, Subscribe("B", probe, "pB"))
    settle(rt)
    rt.send(cache, GetQuote("A", probe, "r1"))
    settle(rt)
    assert venue.reads == [("A",)]


def test_a_quote_asked_newer_than_the_cached_one_is_read_from_the_venue(rig):
    """An exit whose IOC found too little asks for a book newer than its IOC's answer: a cached
    quote from before it (fresh by the TTL) is not the answer; one from after it is."""
    rt, venue, start = rig
    cache, probe = start()
    rt.send(cache, QuotePushed(Quote("A", T0 - timedelta(seconds=2), D("0.42"), D("0.43"))))
    settle(rt)
    rt.send(cache, GetQuote("A", probe, "older", newer_than=T0 - timedelta(seconds=3)))
    settle(rt)
    assert venue.reads == []                          # the cached quote (T0 - 2 s) is newer: a hit
    rt.send(cache, GetQuote("A", probe, "newer", newer_than=T0 - timedelta(seconds=1)))
    settle(rt)
    assert venue.reads == [("A",)]
    got = {m.request_id: m.quote for m in probe.proxy().got.get(timeout=5) if m.request_id}
    assert got["older"].yes_bid == D("0.42") and got["newer"].yes_bid == D("0.40")   # the venue's book


def test_a_streamed_market_answers_a_newer_than_ask_from_its_stream(rig):
    rt, venue, start = rig
    cache = PriceCache.start(rt, None, 10, streamed=True)        # streamed: it never reads
    probe = Probe.start(rt)
    try:
        rt.send(cache, QuotePushed(Quote("A", T0 - timedelta(seconds=2), D("0.42"), D("0.43"))))
        settle(rt)
        rt.send(cache, GetQuote("A", probe, "r", newer_than=T0 - timedelta(seconds=1)))
        settle(rt)
        (m,) = probe.proxy().got.get(timeout=5)
        assert m.quote.yes_bid == D("0.42") and venue.reads == []    # the stream's book is the market now
    finally:
        probe.stop(block=True, timeout=5)
        cache.stop(block=True, timeout=5)


def test_a_critical_or_high_exits_read_goes_as_that_exits_call(rig):
    """The book a stop's order is priced from is read at the stop's priority (CallKind.EXIT), never
    behind LOW work as background polling; a read already waiting for that market is moved up
    (ExpediteCall). A LOW exit's read stays a read."""
    from models.commands import CallKind, ExpediteCall, VenueCall
    from models.priorities import Priority

    rt, _, _ = rig
    limiter = Probe.start(rt)            # stands in for the RateLimiter: records what the cache sends it
    cache = PriceCache.start(rt, limiter, 10)
    asker = Probe.start(rt)
    try:
        rt.send(cache, GetQuote("B", asker, "wake-B"))
        settle(rt)
        rt.send(cache, GetQuote("A", asker, "stop-A", None, int(Priority.CRITICAL)))
        settle(rt)
        rt.send(cache, GetQuote("B", asker, "trail-B", None, int(Priority.HIGH)))
        rt.send(cache, GetQuote("C", asker, "low-C", None, int(Priority.LOW)))
        settle(rt)
        sent = limiter.proxy().got.get(timeout=5)
        reads = [m for m in sent if isinstance(m, VenueCall)]
        assert [(m.args[0], m.kind, m.priority) for m in reads] == [
            (("B",), CallKind.READ, Priority.LOW), (("A",), CallKind.EXIT, Priority.CRITICAL),
            (("C",), CallKind.READ, Priority.LOW)]
        assert [m for m in sent if isinstance(m, ExpediteCall)] == [ExpediteCall(reads[0].request_id, Priority.HIGH)]
    finally:
        for ref in (asker, cache, limiter):
            ref.stop(block=True, timeout=5)
