"""The PriceCache's watch over its open positions' markets (actors/price_cache_watch.py): a market
it has no current knowledge of past the limit is said once, with why; one the stream serves is
never stale however quiet; a venue outage over many markets is one ALERT, not one per market."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.clock import VirtualClock
from actors.price_cache import PriceCache
from actors.rate_limiter import RateLimiter
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from models.commands import FeedMarketsTo, GetQuote, Subscribe, Unsubscribe
from models.events import MarketsStreamed, QuotePushed
from models.market import Quote
from models.venue import VenueUnavailable
from tests.actors.test_price_cache import Probe, RecordingVenue

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
D = Decimal
TICKERS = "ABCDEF"


@pytest.fixture
def rig():
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    scheduler = VirtualScheduler(clock, activity)
    records: list = []
    rt = Runtime(clock, scheduler, activity, Audit(clock, records))
    venue = RecordingVenue(clock)
    for t in TICKERS:
        venue.set_quote(Quote(t, T0, D("0.40"), D("0.41")))
    limiter = RateLimiter.start(rt, venue, 600)
    cache = PriceCache.start(rt, limiter, 10, stale_after_secs=90)
    probe, feed = Probe.start(rt), Probe.start(rt)
    yield rt, scheduler, venue, cache, probe, feed, records
    for ref in (feed, probe, cache, limiter):
        ref.stop(block=True, timeout=5)


def settle(rt) -> None:  # type: ignore[no-untyped-def]
    assert rt.activity.wait_idle(10)


def poll(rt, scheduler, cache, probe, tickers, seconds, *, feed=None):  # type: ignore[no-untyped-def]
    """Every position wakes each 30 s and asks for its quote (the stream re-announces itself)."""
    for _ in range(seconds // 30):
        scheduler.run_for(timedelta(seconds=30))
        if feed is not None:
            rt.send(cache, FeedMarketsTo(feed, tuple(tickers)))
        for t in tickers:
            rt.send(cache, GetQuote(t, probe, f"wake-{t}"))
        settle(rt)


def streamed_position(rt, cache, probe, feed):  # type: ignore[no-untyped-def]
    """Position pA on market A, which the stream serves, its book pushed once."""
    rt.send(cache, FeedMarketsTo(feed))
    rt.send(cache, Subscribe("A", probe, "pA"))
    rt.send(cache, MarketsStreamed(("A",), True))
    rt.send(cache, QuotePushed(Quote("A", T0, D("0.45"), D("0.46"))))
    settle(rt)


def stale_alerts(records):  # type: ignore[no-untyped-def]
    return [r for r in records if r["event"] == "ALERT" and r.get("age_secs") is not None]


def test_a_streamed_market_with_an_unchanged_book_is_never_stale(rig):
    rt, scheduler, venue, cache, probe, feed, records = rig
    streamed_position(rt, cache, probe, feed)
    poll(rt, scheduler, cache, probe, "A", 1200, feed=feed)     # 20 minutes, not one book change
    assert stale_alerts(records) == [] and venue.reads == []
    assert cache.proxy().quote_ages().get(timeout=5) == ({"A": 0}, {})


def test_a_stream_that_falls_silent_and_reads_that_fail_are_said_with_why(rig):
    rt, scheduler, venue, cache, probe, feed, records = rig
    streamed_position(rt, cache, probe, feed)
    venue.inject_fault("get_quotes", VenueUnavailable("503"), times=1000)
    poll(rt, scheduler, cache, probe, "A", 240)                  # the stream says nothing more: polled, failing
    (alert,) = stale_alerts(records)
    assert alert["market"] == "A" and alert["position_id"] == "pA" and 90 <= alert["age_secs"] <= 120
    assert "reads failing (VenueUnavailable: 503" in alert["reason"]
    venue.clear_faults()
    poll(rt, scheduler, cache, probe, "A", 30)
    (back,) = [r for r in records if r["event"] == "QUOTES_BACK"]
    assert back["markets"] == ["A"] and back["blind_secs"] >= 180     # known (streamed) until the lease ran out
    assert cache.proxy().quote_ages().get(timeout=5)[1] == {}


def test_a_venue_outage_over_many_markets_is_two_alerts_and_one_line_back(rig):
    """The markets were last known at different times, so they cross the limit at different sweeps:
    the first ones say the outage at once, the others are named together a minute later, none more."""
    rt, scheduler, venue, cache, probe, feed, records = rig
    venue.inject_fault("get_quotes", VenueUnavailable("503"), times=1000)
    first_half, second_half = TICKERS[:3], TICKERS[3:]
    for tickers in (first_half, second_half):   # known at T0 and at T0 + 30 s
        for t in tickers:
            rt.send(cache, Subscribe(t, probe, f"p{t}"))
            rt.send(cache, QuotePushed(Quote(t, scheduler.clock.now(), D("0.45"), D("0.46"))))
        settle(rt)
        poll(rt, scheduler, cache, probe, first_half, 30)
    poll(rt, scheduler, cache, probe, TICKERS, 600)
    alerts = stale_alerts(records)
    assert len(alerts) == 2, [a["message"] for a in alerts]
    first, rest = alerts
    assert first["markets"] == list(first_half) and rest["markets"] == list(second_half)
    assert rest["reason"] == first["reason"] == "reads failing (VenueUnavailable)"
    assert (datetime.fromisoformat(rest["ts"]) - datetime.fromisoformat(first["ts"])) >= timedelta(seconds=60)
    assert "3 markets (3 positions)" in rest["message"]
    venue.clear_faults()
    poll(rt, scheduler, cache, probe, TICKERS, 30)
    (back,) = [r for r in records if r["event"] == "QUOTES_BACK"]
    assert sorted(back["markets"]) == list(TICKERS) and back["blind_secs"] >= 600


def test_a_closed_position_ends_the_watch_of_its_market(rig):
    rt, scheduler, venue, cache, probe, feed, records = rig
    rt.send(cache, Subscribe("A", probe, "pA"))
    poll(rt, scheduler, cache, probe, "A", 30)
    rt.send(cache, Unsubscribe("A", "pA"))
    venue.inject_fault("get_quotes", VenueUnavailable("503"), times=1000)
    poll(rt, scheduler, cache, probe, "A", 300)                 # an entry's reads of it fail: no position is blind
    assert stale_alerts(records) == []
    assert cache.proxy().quote_ages().get(timeout=5) == ({}, {})


def test_a_market_whose_every_quote_is_refused_says_so(rig):
    rt, scheduler, venue, cache, probe, feed, records = rig
    rt.send(cache, Subscribe("A", probe, "pA"))
    poll(rt, scheduler, cache, probe, "A", 30)
    def crossed(tickers):  # type: ignore[no-untyped-def]
        return {t: Quote(t, scheduler.clock.now(), D("0.45"), D("0.40")) for t in tickers}   # never trusted

    venue.get_quotes = crossed
    poll(rt, scheduler, cache, probe, "A", 150)
    (alert,) = stale_alerts(records)
    assert alert["market"] == "A" and "refused as untrustworthy (crossed book" in alert["reason"]


def test_a_quote_older_than_the_limit_does_not_end_the_episode(rig):
    rt, scheduler, venue, cache, probe, feed, records = rig
    rt.send(cache, Subscribe("A", probe, "pA"))
    poll(rt, scheduler, cache, probe, "A", 30)
    venue.inject_fault("get_quotes", VenueUnavailable("503"), times=1000)
    poll(rt, scheduler, cache, probe, "A", 300)
    assert len(stale_alerts(records)) == 1
    late = scheduler.clock.now() - timedelta(seconds=200)        # newer than the last read, still too old
    rt.send(cache, QuotePushed(Quote("A", late, D("0.30"), D("0.31"))))
    poll(rt, scheduler, cache, probe, "A", 60)
    assert [r for r in records if r["event"] == "QUOTES_BACK"] == [] and len(stale_alerts(records)) == 1
    rt.send(cache, QuotePushed(Quote("A", scheduler.clock.now(), D("0.30"), D("0.31"))))
    settle(rt)
    assert len([r for r in records if r["event"] == "QUOTES_BACK"]) == 1
