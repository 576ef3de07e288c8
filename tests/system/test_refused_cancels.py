"""A venue that refuses to cancel an exit order (400 "cannot be canceled", or 503), through the
whole engine on virtual time.

Before: the executor asked again every second, forever: 60 cancel calls a minute (exit calls
go first, so they took the whole budget), 700 VENUE_ERRORs and no ALERT in 13 minutes; the
API-failure breaker tripped and sold a healthy position; the exit never learned that its order
had been executed meanwhile. Now it looks the order up with back-off (1 s, 2 s, 4 s ... 60 s),
asks for the cancel again after every second look-up that finds it still resting, ALERTs once
(naming the order and the venue's answer), and never sends another order before the first is
confirmed canceled or done.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest

from models.orders import OrderStatus
from models.venue import OrderRejected, VenueUnavailable

WIDE = {"liquidity": {"max_spread_cents": 50}}
REFUSALS = [OrderRejected("400 order cannot be canceled"), VenueUnavailable("503 service unavailable")]


def resting_low_exit(h):  # type: ignore[no-untyped-def]
    """M1: 20 held, an early_exit (LOW) selling them at 0.50, resting (the bid is 0.49); M2: a
    healthy position beside it. Returns (M1's, M2's position id)."""
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=20, win_probability="0.60")
    h.market("M2", "0.49", "0.50")
    other = h.enter("M2", contracts=20, win_probability="0.90", game_id="G2")
    h.run(3)
    h.set_model("M1", "0.50")                 # edge 1% < 2%: early_exit, a GTC at 0.50 that rests
    (placed,) = h.events("ORDER_PLACED", position_id=pid)
    assert placed["time_in_force"] == "good_till_canceled"
    return pid, other


def cancel_alerts(h, pid):  # type: ignore[no-untyped-def]
    return [e for e in h.events("ALERT", position_id=pid) if "cancel" in e["message"]]


@pytest.mark.parametrize("refusal", REFUSALS, ids=["400", "503"])
def test_a_refused_cancel_backs_off_alerts_once_and_leaves_the_budget_and_the_breaker_alone(make_engine, refusal):
    h = make_engine(WIDE)
    pid, other = resting_low_exit(h)
    h.venue.inject_fault("cancel_order", refusal, times=100000)
    t = h.now()
    h.run(13 * 60)
    log = [(ts, m) for ts, m in h.call_log() if ts > t]
    per_minute = Counter(int((ts - t).total_seconds() // 60) for ts, _ in log)
    assert max(per_minute.values()) <= 12, per_minute               # was 60 a minute, every minute
    last = Counter(m for ts, m in log if ts > h.now() - timedelta(minutes=5) and m != "get_quotes")
    assert sum(last.values()) <= 9, last               # at the cap: a look-up a minute, a cancel every two
    assert 0 < last["cancel_order"] < last["get_order"]
    # One ALERT, naming the order (the venue's id and ours) and what the venue said.
    (alert,) = cancel_alerts(h, pid)
    order = h.sells("M1")[0]
    assert order.order_id in alert["message"] and alert["client_order_id"] == order.client_order_id
    assert str(refusal) in alert["error"]
    # The order was never replaced while it rested; nothing else was sold.
    assert [o.status for o in h.sells("M1")] == [OrderStatus.RESTING]
    assert h.double_exit_orders == []
    assert not h.events("CIRCUIT_BREAKER_TRIPPED")
    assert h.position(other).status.value == "open"
    assert h.position(pid).contracts == 20


def test_an_order_that_executes_while_its_cancel_is_refused_ends_the_exit_filled(make_engine):
    h = make_engine(WIDE)
    pid, _ = resting_low_exit(h)
    h.venue.inject_fault("cancel_order", OrderRejected("400 order cannot be canceled"), times=100000)
    h.run(90)                                 # the cancel (at +60 s) refused
    assert h.position(pid).contracts == 20
    h.market("M1", "0.50", "0.51")            # a buyer takes our resting 0.50 (not pushed: found by a look-up)
    h.run(70)
    p = h.position(pid)
    assert (p.status.value, p.contracts) == ("closed", 0)
    assert [(e["contracts"], D(e["price"])) for e in h.events("ORDER_FILLED", position_id=pid)] == [(20, D("0.50"))]
    assert [e["outcome"] for e in h.events("EXIT_COMPLETED", position_id=pid)] == ["filled"]
    assert len(h.sells("M1")) == 1 and h.double_exit_orders == []


def test_a_cancel_whose_answer_was_lost_is_found_canceled_and_the_exit_walks_on(make_engine):
    """The cancel took effect but its answer was a 503: the look-up finds the order canceled and
    the exit goes on to its next order (the walk), at once rather than after a minute of retries."""
    h = make_engine(WIDE)
    pid, _ = resting_low_exit(h)
    h.venue.inject_fault_after("cancel_order", VenueUnavailable("503 after the cancel"))
    t = h.now()
    h.run(70)
    assert [o.status for o in h.sells("M1")] == [OrderStatus.CANCELED, OrderStatus.EXECUTED]   # the walk: at the bid
    (walked,) = h.events("ORDER_WALKED", position_id=pid)
    assert walked["client_order_id"].endswith("-2")
    assert (datetime.fromisoformat(walked["ts"]) - t).total_seconds() <= 62     # the cancel went at +60 s
    assert not cancel_alerts(h, pid)
    assert h.double_exit_orders == []


def test_a_stop_loss_waits_for_a_refused_cancel_then_sells_once_the_venue_cancels(make_engine):
    """Preempted while its cancel is refused: the stop loss does not send beside the resting order
    (never two live orders), the refusal is ALERTed, and once the venue accepts the cancel the stop
    loss sells everything."""
    h = make_engine(WIDE)
    pid, _ = resting_low_exit(h)
    h.venue.inject_fault("cancel_order", OrderRejected("400 order cannot be canceled"), times=100000)
    h.run(70)
    h.market("M1", "0.40", "0.42", push=True)           # -18%: the stop loss preempts the early exit
    h.run(120)
    assert h.events("EXIT_PREEMPTED", position_id=pid)
    assert not [e for e in h.events("ORDER_PLACED", position_id=pid) if e["priority"] == "CRITICAL"]
    assert len(cancel_alerts(h, pid)) == 1
    h.venue.clear_faults()
    h.run(120)
    p = h.position(pid)
    assert (p.status.value, p.contracts, p.exit_reason) == ("closed", 0, "stop_loss")
    assert [o.status for o in h.sells("M1")] == [OrderStatus.CANCELED, OrderStatus.EXECUTED]
    assert h.double_exit_orders == []


def test_a_stop_that_preempts_an_exit_waiting_out_its_refused_cancel_back_off_asks_for_the_cancel_at_once(make_engine):
    """review7 R7-B: the early exit's cancel got a 503 four times (a short brownout), the venue was
    healthy again, then the bid fell through the stop. Before: the stop preempted at once but the
    early exit's next cancel went out on its back-off timer, 115 s later, and the stop's order
    with it. Now a preempted exit waiting out its back-off asks for the cancel at once (at the
    stop's priority): the stop sells within seconds, still never beside a live order."""
    h = make_engine(WIDE, streamed=True)
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=20, win_probability="0.60")
    h.run(3)
    h.venue.inject_fault("cancel_order", VenueUnavailable("503"), times=4)
    h.set_model("M1", "0.50")                          # early_exit (LOW) rests; its cancels get 503s
    h.run_until(lambda: len(h.events("VENUE_ERROR")) >= 4, limit=200)
    h.venue.clear_faults()                             # healthy again
    h.run(5)
    t = h.now()
    h.market("M1", "0.40", "0.41", push=True)          # through the stop
    took = h.run_until(lambda: h.position(pid).contracts == 0, limit=600)
    cancels = [(ts - t).total_seconds() for ts in h.calls("cancel_order") if ts >= t]
    assert cancels and cancels[0] <= 1, cancels        # was 115 s, on the early exit's back-off timer
    assert took <= 10, took                            # was 115 s
    assert h.position(pid).exit_reason == "stop_loss"
    assert [o.status for o in h.sells("M1")] == [OrderStatus.CANCELED, OrderStatus.EXECUTED]
    assert h.double_exit_orders == []
