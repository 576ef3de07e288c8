"""A CRITICAL stop loss while many LOW exits wait for the call budget (outside review, session 6,
defect 1): the stop's order goes out at the next free slot of the budget, never behind LOW work.

Before the fix, at 10 calls a minute with 20 positions, the preempted LOW exit of the stopped
position waited for its own place call (queued, sent +60 s), then sent its cancel at LOW priority
(+180 s), and only then did the stop start: its order reached the venue +240 s after the trigger.
Now the queued LOW order is withdrawn (never sent), a resting one is canceled at the stop's
priority, and LOW work leaves the last call of the minute (at 10 a minute, 10% kept for orders)
to CRITICAL and HIGH exits.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from models.orders import Action
from models.records import StoredOrderStatus

WIDE = {"liquidity": {"max_spread_cents": 50}}
PER_MINUTE, N = 10, 20


def _twenty_positions_all_exiting_low(make_engine):  # type: ignore[no-untyped-def]
    """20 positions; then every edge is gone at once (20 LOW early exits: 10 places made, 10 queued)."""
    h = make_engine({**WIDE, "monitoring": {"max_api_calls_per_minute": PER_MINUTE, "reserved_for_orders_pct": 10},
                     "exposure_limits": {"portfolio_dollars": 1000}}, streamed=True)
    pids = {}
    for i in range(N):
        t = f"M{i:02d}"
        h.market(t, "0.49", "0.50", push=True)
        sig = h.signal(t, contracts=10, win_probability="0.60", game_id=f"G{i}")
        h.run_until(lambda: h.events("TRADE_EXECUTED", signal_id=sig.signal_id), limit=300)
        pids[t] = h.events("TRADE_EXECUTED", signal_id=sig.signal_id)[0]["position_id"]
    h.run(120)                                     # the entries' calls leave the window
    arrived: list[tuple[datetime, str, str]] = []  # (time, ticker, client_order_id) of every sell the venue got
    place = h.venue.place_order

    def logged(request):  # type: ignore[no-untyped-def]
        if request.action is Action.SELL:
            arrived.append((h.now(), request.ticker, request.client_order_id))
        return place(request)

    h.venue.place_order = logged  # type: ignore[method-assign]
    for i in range(N):
        h.set_model(f"M{i:02d}", "0.50")
    return h, pids, arrived


def _stop(h, pid):  # type: ignore[no-untyped-def]
    (trig,) = h.events("EXIT_TRIGGERED", position_id=pid, condition="stop_loss")
    (placed,) = [e for e in h.events("ORDER_PLACED", position_id=pid) if e["condition"] == "stop_loss"]
    return datetime.fromisoformat(trig["ts"]), placed["client_order_id"]


def test_a_stop_whose_low_exit_is_still_queued_withdraws_it_and_goes_out_at_once(make_engine):
    h, pids, arrived = _twenty_positions_all_exiting_low(make_engine)
    target = f"M{N - 1:02d}"                       # its LOW place is queued behind the budget
    pid = pids[target]
    t0 = h.now()
    # LOW exits leave the last call of the minute to CRITICAL and HIGH exits: 9 places made, 11 wait.
    assert len(arrived) == PER_MINUTE - 1 and {t for t, _, _ in arrived} == {t0}
    assert [tk for _, tk, _ in arrived if tk == target] == []
    h.market(target, "0.40", "0.41", push=True)    # through its stop at once
    h.run_until(lambda: h.position(pid).contracts == 0, limit=900)
    trig_at, stop_cid = _stop(h, pid)
    assert trig_at == t0
    (low,) = [e for e in h.events("ORDER_PLACED", position_id=pid) if e["condition"] == "early_exit"]
    sent = {cid: t for t, _, cid in arrived}
    # The stop reached the venue at once, in the slot LOW work leaves; the LOW places go on a minute later.
    assert sent[stop_cid] == t0, sent[stop_cid] - t0
    h.run(61)
    assert min(t for t, _, _ in arrived if t > t0) == t0 + timedelta(minutes=1)
    # The LOW exit's order never reached the venue, and its story says so.
    assert low["client_order_id"] not in sent
    (withdrawn,) = h.events("ORDER_CANCELED", position_id=pid)
    assert withdrawn["client_order_id"] == low["client_order_id"] and "order_id" not in withdrawn
    assert "withdrawn before it reached the venue" in withdrawn["message"]
    h.system.flush()
    (stored,) = [o for o in h.repo.orders_for(pid) if o.request.client_order_id == low["client_order_id"]]
    assert stored.status is StoredOrderStatus.CANCELED and stored.order_id is None
    (ended,) = h.events("EXIT_COMPLETED", position_id=pid, condition="early_exit")
    assert ended["outcome"] == "preempted" and ended["filled"] == 0
    assert h.double_exit_orders == []


def test_a_stop_whose_low_order_rests_cancels_it_at_once_and_goes_out_ahead_of_the_queued_low_places(make_engine):
    h, pids, arrived = _twenty_positions_all_exiting_low(make_engine)
    target = "M00"                                 # its LOW order reached the venue and rests
    pid = pids[target]
    t0 = h.now()
    assert [tk for _, tk, _ in arrived if tk == target] == [target]
    calls_before = len(h.call_log())
    h.market(target, "0.40", "0.41", push=True)
    h.run_until(lambda: h.position(pid).contracts == 0, limit=900)
    trig_at, stop_cid = _stop(h, pid)
    assert trig_at == t0
    after = h.call_log()[calls_before:]
    # The preempted order's cancel goes at the stop's priority, in the slot LOW work leaves: at once.
    assert after[0] == (t0, "cancel_order"), after[:3]
    (canceled,) = h.events("ORDER_CANCELED", position_id=pid)
    assert datetime.fromisoformat(canceled["ts"]) == t0
    # The budget is then spent: the stop's order is the first call of the next minute, ahead of
    # the 11 LOW places queued before it.
    first_slot = t0 + timedelta(minutes=1)
    assert after[1] == (first_slot, "place_order"), after[:3]
    sent = {cid: t for t, _, cid in arrived}
    assert sent[stop_cid] == first_slot, sent[stop_cid] - t0
    assert [cid for t, _, cid in arrived if t == first_slot][0] == stop_cid
    assert h.double_exit_orders == []
