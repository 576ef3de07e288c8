"""The venue call budget: at most N calls in any sliding 60 s window.

A call made at t counts for every `now` in [t, t + 60 s): at exactly t + 60 s it has left the
window. max_calls_in_any_window uses the same convention, so a budget that is never exceeded
never shows more than N in the invariant check.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.budget import CallBudget, max_calls_in_any_window

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)
MS = timedelta(milliseconds=1)


def test_calls_up_to_the_limit_are_available_then_none() -> None:
    budget = CallBudget(3)
    for i in range(3):
        assert budget.available(T0 + i * S)
        budget.spend(T0 + i * S)
    assert not budget.available(T0 + 3 * S)
    assert budget.used(T0 + 3 * S) == 3


def test_spending_past_the_limit_raises() -> None:
    budget = CallBudget(2)
    budget.spend(T0)
    budget.spend(T0)
    with pytest.raises(RuntimeError, match="budget exceeded"):
        budget.spend(T0 + S)
    assert budget.used(T0 + S) == 2


def test_a_call_leaves_the_window_exactly_60_s_later() -> None:
    budget = CallBudget(1)
    budget.spend(T0)
    assert not budget.available(T0 + 60 * S - MS)
    assert budget.available(T0 + 60 * S)
    assert budget.used(T0 + 60 * S) == 0


def test_the_window_slides_call_by_call() -> None:
    budget = CallBudget(3)
    for secs in (0, 10, 20):
        budget.spend(T0 + secs * S)
    assert budget.used(T0 + 59 * S) == 3
    assert budget.used(T0 + 60 * S) == 2       # the call at 0 s has left
    assert budget.used(T0 + 75 * S) == 1       # and the one at 10 s
    assert budget.used(T0 + 80 * S) == 0


def test_next_free_is_now_when_there_is_room() -> None:
    budget = CallBudget(2)
    budget.spend(T0)
    assert budget.next_free(T0 + 5 * S) == T0 + 5 * S


def test_next_free_is_when_the_oldest_call_leaves() -> None:
    budget = CallBudget(2)
    budget.spend(T0 + 3 * S)
    budget.spend(T0 + 7 * S)
    assert budget.next_free(T0 + 8 * S) == T0 + 63 * S
    assert budget.available(budget.next_free(T0 + 8 * S))
    budget.spend(T0 + 63 * S)
    assert budget.next_free(T0 + 63 * S) == T0 + 67 * S


def test_a_budget_of_60_serves_60_calls_a_minute_at_most() -> None:
    budget = CallBudget(60)
    times = []
    now = T0
    while now < T0 + 5 * 60 * S:           # try to call every 100 ms for five minutes
        if budget.available(now):
            budget.spend(now)
            times.append(now)
        now += 100 * MS
    assert len(times) == 5 * 60
    assert max_calls_in_any_window(times) == 60


@pytest.mark.parametrize("offsets,expected", [
    ([], 0),
    ([0], 1),
    ([0, 0, 0], 3),
    ([0, 59.999], 2),
    ([0, 60], 1),                    # 60 s apart: never in the same window
    ([0, 30, 60, 90], 2),
    ([90, 0, 60, 30], 2),            # order does not matter
    ([0, 1, 2, 61, 61.5, 62], 3),    # at 61.5: calls 2, 61, 61.5 ... and 1 is gone at 61
    ([0, 10, 20, 30, 40, 50, 59], 7),
])
def test_max_calls_in_any_window(offsets: list[float], expected: int) -> None:
    times = [T0 + timedelta(seconds=o) for o in offsets]
    assert max_calls_in_any_window(times) == expected


def brute_force_max(times: list[datetime]) -> int:
    """Check every window that ends at a call: (t - 60 s, t]."""
    return max((sum(1 for u in times if t - timedelta(seconds=60) < u <= t) for t in times), default=0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=300_000), max_size=60))
def test_max_calls_in_any_window_matches_brute_force(millis: list[int]) -> None:
    times = [T0 + m * MS for m in millis]
    assert max_calls_in_any_window(times) == brute_force_max(times)


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(min_value=1, max_value=8),
       gaps=st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=80))
def test_calls_made_only_when_available_never_exceed_the_limit(limit: int, gaps: list[int]) -> None:
    budget = CallBudget(limit)
    now, made = T0, []
    for gap in gaps:
        now += gap * MS
        if budget.available(now):
            budget.spend(now)
            made.append(now)
        else:
            assert budget.next_free(now) > now
    assert max_calls_in_any_window(made) <= limit


def test_a_share_of_the_budget_fills_at_its_own_limit_and_frees_with_the_oldest_calls():
    from datetime import datetime, timedelta, timezone

    from models.budget import CallBudget

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    b = CallBudget(10)
    for k in range(8):
        b.spend(t0 + timedelta(seconds=k))
    assert b.available(t0 + timedelta(seconds=8))                  # the whole budget has room
    assert not b.available_for(t0 + timedelta(seconds=8), 8)       # the reads' share (10 - 2) is full
    # Below 8 again once the oldest call leaves the window.
    assert b.next_free_for(t0 + timedelta(seconds=8), 8) == t0 + timedelta(seconds=60)
    assert b.next_free_for(t0 + timedelta(seconds=8), 6) == t0 + timedelta(seconds=62)
    assert b.available_for(t0 + timedelta(seconds=60), 8)


def test_reads_leave_the_reserved_calls_to_orders(make_engine):
    """With reads using their whole share, a stop loss's order still goes out at once."""
    from decimal import Decimal

    h = make_engine({"monitoring": {"max_api_calls_per_minute": 6, "reserved_for_orders_pct": 34,
                                    "price_cache_ttl_secs": 1}})
    ticker = "KXTEST-RES"
    h.market(ticker, "0.49", "0.50", push=True)
    pid = h.enter(ticker, "yes", contracts=5, win_probability="0.60", market_price="0.50")
    for k in range(8):                                  # many markets' reads queue up
        h.system.push_quote(h.venue.get_quotes([ticker])[ticker])
    h.run(90)
    reads = [t for t, m in h.call_log() if m == "get_quotes"]
    from models.budget import max_calls_in_any_window
    assert max_calls_in_any_window(reads) <= 4
    h.market(ticker, "0.40", "0.41", push=True)       # -20%: stop loss
    placed = h.events("ORDER_PLACED", position_id=pid)
    assert placed and placed[0]["ts"] == h.now().isoformat()
    assert Decimal(placed[0]["price"]) == Decimal("0.40")
