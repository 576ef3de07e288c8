"""Monitoring on virtual time: the wake-up cadence, the price cache's TTL, batching and the call budget.

Quotes are set on the paper venue and not pushed, so a position only sees the market by
polling it: every wake-up is a GetQuote to the PriceCache, and every cache miss a get_quotes
call through the RateLimiter (whose call_log records each venue call's virtual time).
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.price_cache import PriceCache
from actors.rate_limiter import RateLimiter
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from adapters.paper.venue import PaperVenue
from models.budget import max_calls_in_any_window
from models.market import Quote
from models.commands import GetQuote
from models.events import QuotePushed, QuoteUpdated


T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)
D = Decimal


def gaps(times) -> list[float]:
    """Differences between successive times (datetimes: in seconds)."""
    def secs(d):  # type: ignore[no-untyped-def]
        return round(d.total_seconds(), 3) if isinstance(d, timedelta) else d
    return [secs(b - a) for a, b in zip(times, times[1:])]


def evaluation_seconds(h, pid: str, seconds: int) -> list[int]:
    """Step one virtual second at a time; the seconds (from now) in which the position evaluated."""
    out, before = [], h.evaluations(pid)
    for s in range(1, seconds + 1):
        h.run(1)
        n = h.evaluations(pid)
        if n != before:
            out.append(s)
        before = n
    return out


@pytest.mark.parametrize("setup, near, away", [
    # 20 YES bought at 0.50; default thresholds: stop loss -12%, stage 1 +15%, trailing 5c once +10%.
    pytest.param(None, ("0.44", "0.46"), ("0.49", "0.50"),
                 id="stop_loss: 10.2% below the 0.49 entry-time bid is near -12%"),
    pytest.param(None, ("0.57", "0.58"), ("0.56", "0.57"), id="partial stage: +14% is near +15%"),
    pytest.param(("0.56", "0.57"), ("0.52", "0.53"), ("0.55", "0.56"),
                 id="trailing stop: mark 0.52 is 2 points above the 0.51 trail"),
])
def test_a_position_wakes_every_30s_then_every_5s_near_a_threshold_and_back(engine, setup, near, away):
    h = engine
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1")                      # mark 0.49 is -2%: nowhere near a threshold
    h.run(5)
    if setup is not None:
        h.market("M1", *setup)
        h.run(35)

    calm = evaluation_seconds(h, pid, 95)
    assert len(calm) == 3 and set(gaps(calm)) == {30}, calm

    h.market("M1", *near)
    seen_near = evaluation_seconds(h, pid, 90)
    assert seen_near[0] <= 30                 # seen at the next (30 s) wake-up
    assert set(gaps(seen_near)) == {5}, seen_near   # from then on every 5 s
    assert len(seen_near) >= 13

    h.market("M1", *away)
    seen_away = evaluation_seconds(h, pid, 130)
    assert seen_away[0] <= 15                 # seen at the first read after the TTL (10 s), on a 5 s tick
    assert len(seen_away) >= 4 and set(gaps(seen_away[1:])) == {30}, seen_away
    assert not h.events("EXIT_TRIGGERED")


def test_with_a_short_ttl_every_wake_up_is_one_venue_read_at_the_cadence(make_engine):
    h = make_engine({"monitoring": {"price_cache_ttl_secs": 4}})
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1")
    h.run(95)
    calm = h.calls("get_quotes")[1:]         # the first read was the entry's
    assert len(calm) == 3 and set(gaps(calm)) == {30.0}

    h.market("M1", "0.44", "0.46")
    h.run(60)
    h.market("M1", "0.49", "0.50")
    h.run(100)
    reads = h.calls("get_quotes")[3:]        # from the last calm read
    g = gaps(reads)
    assert g[0] == 30.0                          # the 30 s wake that saw -10.2% from the 0.49 bid
    urgent = g[1:g.index(30.0, 1)]
    assert len(urgent) >= 6 and set(urgent) == {5.0}, g   # every 5 s while near the stop loss
    assert set(g[g.index(30.0, 1):]) == {30.0}, g          # then 30 s again
    assert h.evaluations(pid) >= len(reads)


def test_two_positions_share_one_read_per_wake_round(engine):
    h = engine
    h.market("M1", "0.49", "0.50")
    h.market("M2", "0.49", "0.50")
    yes = h.enter("M1", "yes")
    no = h.enter("M2", "no", market_price="0.51", game_id="G2")   # one side per market (Kalshi nets)
    h.run(2)
    reads_before, yes_before, no_before = len(h.calls("get_quotes")), h.evaluations(yes), h.evaluations(no)
    h.run(300)
    reads = len(h.calls("get_quotes")) - reads_before
    assert h.evaluations(yes) - yes_before == 10
    assert h.evaluations(no) - no_before == 10
    assert reads == 10                       # ten wake rounds, one batched fetch each: the second hits the cache
    assert h.venue.calls["get_quotes"] == reads_before + reads


class GatedClock(VirtualClock):
    """A virtual clock whose now() waits while the gate is shut: it holds the price cache in
    its handler so that the test can queue several requests behind it, deterministically."""

    def __init__(self, start) -> None:  # type: ignore[no-untyped-def]
        super().__init__(start)
        self.gate = threading.Event()
        self.gate.set()

    def now(self):  # type: ignore[no-untyped-def]
        self.gate.wait(timeout=5)
        return super().now()


class Probe(ArbeesActor):
    """Records the quotes it is sent."""
    kind = "probe"

    def __init__(self, rt) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "probe")
        self.got: list[QuoteUpdated] = []

    def handle(self, message) -> None:  # type: ignore[no-untyped-def]
        self.got.append(message)


def test_cache_misses_queued_together_become_one_multi_market_read():
    clock = GatedClock(T0)
    activity = ActivityTracker()
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    venue = PaperVenue(clock)
    for t, bid in (("A", "0.40"), ("B", "0.50"), ("C", "0.60")):
        venue.set_quote(Quote(t, T0, D(bid), D(bid) + D("0.01")))
    limiter = RateLimiter.start(rt, venue, 60)
    cache = PriceCache.start(rt, limiter, 10)
    probe = Probe.start(rt)
    try:
        for t in "ABC":   # stale quotes: the cache reads the clock to judge them, and waits at the gate
            rt.send(cache, QuotePushed(Quote(t, T0 - timedelta(minutes=5), D("0.10"), D("0.11"))))
        assert activity.wait_idle(10)
        clock.gate.clear()
        for i, t in enumerate("ABAC"):
            rt.send(cache, GetQuote(t, probe, f"r{i}"))
        clock.gate.set()
        assert activity.wait_idle(10)
        assert venue.calls["get_quotes"] == 1                   # one read for A, B and C (A asked twice)
        assert cache.proxy().fetches.get(timeout=5) == 1
        got = {m.request_id: m for m in probe.proxy().got.get(timeout=5)}
        assert sorted(got) == ["r0", "r1", "r2", "r3"]
        assert {rid: (m.ticker, m.quote.yes_bid) for rid, m in got.items()} == {
            "r0": ("A", D("0.40")), "r1": ("B", D("0.50")), "r2": ("A", D("0.40")), "r3": ("C", D("0.60"))}
        # Fresh now: asking again within the TTL reads nothing.
        rt.send(cache, GetQuote("B", probe, "r4"))
        assert activity.wait_idle(10)
        assert venue.calls["get_quotes"] == 1
    finally:
        for ref in (probe, cache, limiter):
            ref.stop(block=True, timeout=5)
    assert pykka.ActorRegistry.get_all() == []


def test_the_call_budget_is_never_exceeded_with_many_positions_polling(make_engine):
    budget = 12
    h = make_engine({"monitoring": {"max_api_calls_per_minute": budget, "price_cache_ttl_secs": 4}})
    markets = [f"M{i:02d}" for i in range(15)]
    for m in markets:
        h.market(m, "0.49", "0.50")
    pids = [h.enter(m, game_id=m, contracts=5) for m in markets[:5]]
    for m in markets[5:]:                     # the rest are queued by the budget: let them open as it frees
        h.signal(m, game_id=m, contracts=5)
    h.run(240)
    pids = [e["position_id"] for e in h.events("TRADE_EXECUTED")]
    assert len(pids) == 15
    # A stop loss on one market while reads are queued: its exit order is served first.
    calls_before = len(h.call_log())
    h.market("M03", "0.40", "0.41", push=True)
    h.run(600)
    log = h.call_log()
    assert max_calls_in_any_window([t for t, _ in log]) <= budget
    # The budget did bind: some minute used all that reads and entries may use (the last call of
    # the minute is kept for CRITICAL and HIGH exits; the PriceCache batches stale markets into
    # reads that go out anyway, so fewer minutes are saturated).
    assert max_calls_in_any_window([t for t, _ in log]) >= budget - 1
    closed = h.events("POSITION_CLOSED", market="M03", reason="stop_loss")
    assert len(closed) == 1
    # The budget was spent when the stop loss fired; the exit order was the next call made
    # when it freed, ahead of every read queued before it.
    next_call_at, next_method = log[calls_before]
    assert next_method == "place_order"
    assert next_call_at - datetime.fromisoformat(h.events("EXIT_ROUTED", market="M03")[0]["ts"]) <= timedelta(seconds=60)
    assert not h.events("ORDER_REJECTED")
