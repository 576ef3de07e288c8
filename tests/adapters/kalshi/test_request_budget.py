"""The call budget is the venue's call count (issue 9 §5): every HTTP request the Kalshi client
sends (its retries of a 429 or 5xx and every page of a list included) counts against the one
budget the RateLimiter keeps, so the venue never sees more than the budget in any minute.

Driven through the real KalshiClient against the loopback fake Kalshi, on virtual time: the
fake notes the virtual time each request arrived.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from typing import Any

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.rate_limiter import RateLimiter
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from adapters.kalshi.auth import KalshiCredentials
from adapters.kalshi.client import KalshiClient, RetryPolicy
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi
from adapters.kalshi.venue import KalshiVenue
from adapters.paper.venue import PaperVenue
from adapters.engine.reconcile import reconcile
from models.budget import CallBudget, max_calls_in_any_window
from models.market import Quote, Side
from models.commands import CallKind, VenueCall
from models.events import VenueResult
from models.orders import Action, OrderRequest, OrderStatus, TimeInForce

T0 = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)
KEY_ID = "budget-key"
TICKER = "KXNBAGAME-26JAN11LALBOS-BOS"


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


class Inbox(ArbeesActor):
    kind = "inbox"

    def __init__(self, rt) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "inbox")
        self.got: list[VenueResult] = []

    def handle(self, message: Any) -> None:
        self.got.append(message)


@pytest.fixture
def wired(key):
    """A RateLimiter over a KalshiVenue over the fake (five resting orders, pages of two)."""
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    scheduler = VirtualScheduler(clock, activity)
    audit: list[dict[str, Any]] = []
    rt = Runtime(clock, scheduler, activity, Audit(clock, audit))
    paper = PaperVenue(clock, starting_balance=D("1000"))
    paper.set_quote(Quote(TICKER, T0, D("0.40"), D("0.60"), 100, 100, None, 1000, None))
    for i in range(5):
        paper.place_order(OrderRequest(f"rest-{i}", TICKER, Side.YES, Action.BUY, 1, D("0.10"),
                                       TimeInForce.GTC))
    fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock)
    with serve_fake_kalshi(fake) as running:
        client = KalshiClient(running.base_url, KalshiCredentials(KEY_ID, key), clock,
                              retry=RetryPolicy(backoff_base_secs=0.001, backoff_cap_secs=0.002),
                              rng=random.Random(3), page_limit=2)
        venue = KalshiVenue(client, call_timeout_secs=10)
        yield rt, scheduler, clock, venue, fake
        venue.close()
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


def request_times(fake: FakeKalshi) -> list[datetime]:
    return [e.at for e in list(fake.exchanges)]


def test_pages_and_retries_each_take_a_slot_of_the_budget(wired) -> None:
    rt, scheduler, clock, venue, fake = wired
    budget = 6
    limiter = RateLimiter.start(rt, venue, budget, None)
    inbox = Inbox.start(rt)
    fake.fail_next(429, times=3)      # the client retries these inside one call
    for i in range(6):                # each list is three pages of two orders
        rt.send(limiter, VenueCall(f"r{i}", CallKind.READ, "list_orders", (None, OrderStatus.RESTING), inbox))
    scheduler.run_for(timedelta(minutes=10))
    got = inbox.proxy().got.get(timeout=5)
    assert sorted(r.request_id for r in got) == [f"r{i}" for i in range(6)]
    assert all(r.ok and len(r.value) == 5 for r in got), [r.error for r in got if not r.ok]
    times = request_times(fake)
    assert len(times) >= 6 * 3 + 3
    assert max_calls_in_any_window(times) <= budget, sorted(times)
    # The RateLimiter's log is the venue's count: one entry per request, not per call.
    log = limiter.proxy().call_log.get(timeout=5)
    assert sorted(t for t, _ in log) == sorted(times)


def test_the_budget_holds_for_orders_too_and_429s_count(wired) -> None:
    rt, scheduler, clock, venue, fake = wired
    budget = 4
    limiter = RateLimiter.start(rt, venue, budget, None)
    inbox = Inbox.start(rt)
    fake.fail_next(429, times=5)
    for i in range(3):
        request = OrderRequest(f"ex-{i}", TICKER, Side.YES, Action.BUY, 1, D("0.60"), TimeInForce.IOC)
        rt.send(limiter, VenueCall(f"o{i}", CallKind.EXIT, "place_order", (request,), inbox, 0))
    scheduler.run_for(timedelta(minutes=10))
    got = inbox.proxy().got.get(timeout=5)
    assert len(got) == 3 and all(r.ok for r in got), [r.error for r in got]
    assert max_calls_in_any_window(request_times(fake)) <= budget


def test_a_call_needing_more_requests_than_the_whole_budget_fails_instead_of_looping(wired) -> None:
    rt, scheduler, clock, venue, fake = wired
    limiter = RateLimiter.start(rt, venue, 2, None)    # three pages can never fit in two slots
    inbox = Inbox.start(rt)
    rt.send(limiter, VenueCall("big", CallKind.READ, "list_orders", (None, OrderStatus.RESTING), inbox))
    scheduler.run_for(timedelta(minutes=10))
    (result,) = inbox.proxy().got.get(timeout=5)
    assert not result.ok and "budget" in str(result.error)
    assert max_calls_in_any_window(request_times(fake)) <= 2


def test_start_up_reconciliation_counts_requests_not_calls(wired) -> None:
    rt, scheduler, clock, venue, fake = wired
    from adapters.storage.repository import Repository
    from adapters.storage.database import connect, migrate
    import tempfile, os

    with tempfile.TemporaryDirectory() as tmp:
        db = connect(os.path.join(tmp, "r.db"))
        migrate(db, clock)
        repo = Repository(db, clock)
        fake.fail_next(503, times=2, method="GET")
        budget = CallBudget(3)
        report = reconcile(venue, repo, Audit(clock, []), clock, budget=budget, wait=scheduler.run_until)
        db.close()
    times = request_times(fake)
    assert len(times) == 3                          # 503, 503, then the positions page
    assert sorted(report.call_times) == sorted(times)   # what the RateLimiter is told counts them all


def test_the_simulate_invariant_counts_what_the_venue_saw_not_the_limiters_calls() -> None:
    from adapters.harness.fault_sim.invariants import Observation, _budget

    calls = [T0 + timedelta(seconds=i) for i in range(4)]            # four logical calls ...
    requests = [t for t in calls for _ in range(3)]                  # ... of three requests each
    obs = Observation(venue=None, repository=None, audit=(), call_times=calls, budget=6,
                      request_times=requests)
    (violation,) = _budget(obs)
    assert violation.invariant == "call_budget" and "12 venue requests" in violation.detail
    ok = Observation(venue=None, repository=None, audit=(), call_times=calls, budget=6, request_times=calls)
    assert _budget(ok) == []
