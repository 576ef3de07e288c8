"""A fill the venue's stream reports reaches the executor at once: it confirms it by REST (never
counting it twice) instead of waiting for its order's timeout, even when the fill arrives before
the create's own answer. The executor is driven directly; its collaborators are probes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.executor import ExecutorActor, ExitOrder
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from actors.wiring import Refs
from adapters.audit.log import Audit
from config.loader import load_config
from models.market import Quote, Side
from models.commands import ForwardToPosition, GetQuote, VenueCall
from models.events import ExitFill, FillStreamed, QuoteUpdated, VenueResult
from models.store_commands import RecordOrderPending
from models.orders import Action, Fill, OrderSnapshot, OrderStatus
from models.priorities import Priority

T0 = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)
M = "KXNBAGAME-26JAN11LALBOS-BOS"
D = Decimal


class Probe(ArbeesActor):
    kind = "probe"

    def __init__(self, rt, name: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, name)
        self.got: list = []

    def handle(self, message):  # type: ignore[no-untyped-def]
        self.got.append(message)
        return True if isinstance(message, RecordOrderPending) else None   # the store's answer to an ask


@pytest.fixture
def rig():
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    scheduler = VirtualScheduler(clock, activity)
    audit: list = []
    rt = Runtime(clock, scheduler, activity, Audit(clock, audit))
    probes = {n: Probe.start(rt, n) for n in ("store", "supervisor", "limiter", "cache", "router", "other")}
    refs = Refs(probes["store"], probes["supervisor"], probes["other"], probes["limiter"], probes["cache"],
                probes["router"], probes["other"])
    order = ExitOrder("pos1-abcx1", "pos1", M, Side.YES, "profit_target", Priority.MEDIUM, 10)
    executor = ExecutorActor.start(rt, load_config(None), refs, order, probes["router"])
    yield rt, scheduler, executor, probes, audit
    executor.stop(block=True, timeout=5)
    for p in probes.values():
        p.stop(block=True, timeout=5)


def got(probe, kind):  # type: ignore[no-untyped-def]
    return [m for m in probe.proxy().got.get(timeout=5) if isinstance(m, kind)]


def idle(rt) -> None:  # type: ignore[no-untyped-def]
    assert rt.activity.wait_idle(10)


def snapshot(call: VenueCall, status: OrderStatus, filled: int) -> OrderSnapshot:
    request = call.args[0] if call.method == "place_order" else None
    cid = request.client_order_id if request else "pos1-abcx1-1"
    return OrderSnapshot("ord-1", cid, M, Side.YES, Action.SELL, 10, D("0.62"), status, filled,
                         D("0.62") if filled else None)


def fill(count: int) -> FillStreamed:
    return FillStreamed(Fill("t-1", "ord-1", "pos1-abcx1-1", M, Side.YES, Action.SELL, count, D("0.62"), D("0.01"),
                             T0, is_taker=False))


def start_resting_order(rt, executor, probes):  # type: ignore[no-untyped-def]
    idle(rt)
    (ask,) = got(probes["cache"], GetQuote)
    rt.send(executor, QuoteUpdated(M, Quote(M, T0, D("0.61"), D("0.63"), 100, 100), ask.request_id))
    idle(rt)
    (place,) = got(probes["limiter"], VenueCall)
    assert place.method == "place_order" and place.args[0].client_order_id == "pos1-abcx1-1"
    return place


def test_a_fill_before_the_creates_answer_is_confirmed_as_soon_as_the_answer_comes(rig):
    rt, scheduler, executor, probes, audit = rig
    place = start_resting_order(rt, executor, probes)
    rt.send(executor, fill(10))                                  # the stream is faster than the create's answer
    idle(rt)
    assert len(got(probes["limiter"], VenueCall)) == 1           # nothing to look up yet: no order id
    rt.send(executor, VenueResult(place.request_id, "place_order", snapshot(place, OrderStatus.RESTING, 0)))
    idle(rt)
    calls = got(probes["limiter"], VenueCall)
    assert [c.method for c in calls] == ["place_order", "get_order"]     # at once, no timeout waited
    rt.send(executor, VenueResult(calls[1].request_id, "get_order", snapshot(calls[1], OrderStatus.EXECUTED, 10)))
    idle(rt)
    fills = [m.message for m in got(probes["supervisor"], ForwardToPosition) if isinstance(m.message, ExitFill)]
    assert [f.contracts for f in fills] == [10]                 # counted once, from the venue's view
    assert [e["outcome"] for e in audit if e["event"] == "EXIT_COMPLETED"] == ["filled"]


def test_a_streamed_fill_of_a_resting_order_is_looked_up_at_once_and_the_timeout_still_runs(rig):
    rt, scheduler, executor, probes, audit = rig
    place = start_resting_order(rt, executor, probes)
    rt.send(executor, VenueResult(place.request_id, "place_order", snapshot(place, OrderStatus.RESTING, 0)))
    idle(rt)
    scheduler.run_for(timedelta(seconds=10))
    rt.send(executor, fill(4))
    idle(rt)
    calls = got(probes["limiter"], VenueCall)
    assert [c.method for c in calls] == ["place_order", "get_order"]
    rt.send(executor, VenueResult(calls[1].request_id, "get_order", snapshot(calls[1], OrderStatus.RESTING, 4)))
    idle(rt)
    fills = [m.message for m in got(probes["supervisor"], ForwardToPosition) if isinstance(m.message, ExitFill)]
    assert [f.contracts for f in fills] == [4]
    rt.send(executor, fill(4))                                   # the same fill again (a resend): one look-up
    idle(rt)
    scheduler.run_for(timedelta(seconds=20))                     # the order's 30 s timeout, from placing
    calls = got(probes["limiter"], VenueCall)
    assert [c.method for c in calls] == ["place_order", "get_order", "cancel_order"]
    assert scheduler.clock.now() == T0 + timedelta(seconds=30)


def test_a_fill_of_another_order_is_not_ours(rig):
    rt, scheduler, executor, probes, audit = rig
    place = start_resting_order(rt, executor, probes)
    rt.send(executor, VenueResult(place.request_id, "place_order", snapshot(place, OrderStatus.RESTING, 0)))
    idle(rt)
    other = FillStreamed(Fill("t-9", "ord-9", "pos2-abcx1-1", M, Side.YES, Action.SELL, 3, D("0.62"), D("0"), T0))
    rt.send(executor, other)
    idle(rt)
    assert [c.method for c in got(probes["limiter"], VenueCall)] == ["place_order"]


def test_a_streamed_fills_look_up_answering_during_a_cancel_sends_no_second_cancel(rig):
    rt, scheduler, executor, probes, audit = rig
    place = start_resting_order(rt, executor, probes)
    rt.send(executor, VenueResult(place.request_id, "place_order", snapshot(place, OrderStatus.RESTING, 0)))
    idle(rt)
    rt.send(executor, fill(3))                                   # a look-up goes out ...
    idle(rt)
    scheduler.run_for(timedelta(seconds=30))                     # ... and the timeout cancels meanwhile
    calls = got(probes["limiter"], VenueCall)
    assert [c.method for c in calls] == ["place_order", "get_order", "cancel_order"]
    rt.send(executor, VenueResult(calls[1].request_id, "get_order", snapshot(calls[1], OrderStatus.RESTING, 3)))
    idle(rt)
    assert [c.method for c in got(probes["limiter"], VenueCall)] == ["place_order", "get_order", "cancel_order"]
    fills = [m.message for m in got(probes["supervisor"], ForwardToPosition) if isinstance(m.message, ExitFill)]
    assert [f.contracts for f in fills] == [3]


def test_a_re_sent_create_is_never_withdrawn_when_the_exit_is_preempted(rig):
    """A create whose answer was lost, looked up and not found, is sent again with the same
    client_order_id. Preempted while that re-send waits for the budget, it is not withdrawn and
    written down "never sent": the first create may still reach the venue late, and only a sent
    re-send lets the venue refuse the duplicate id. It goes at the preempting priority instead."""
    from models.commands import ExpediteCall, Preempt, WithdrawCall
    from models.venue import VenueUnavailable

    rt, scheduler, executor, probes, audit = rig
    place = start_resting_order(rt, executor, probes)
    rt.send(executor, VenueResult(place.request_id, "place_order", None, VenueUnavailable("timeout")))
    idle(rt)
    find = got(probes["limiter"], VenueCall)[-1]
    assert find.method == "find_order"
    rt.send(executor, VenueResult(find.request_id, "find_order", None))   # the venue does not know it
    idle(rt)
    again = got(probes["limiter"], VenueCall)[-1]
    assert again.method == "place_order" and again.args[0].client_order_id == place.args[0].client_order_id
    rt.send(executor, Preempt(int(Priority.CRITICAL)))
    idle(rt)
    assert [m for m in got(probes["limiter"], WithdrawCall)] == []
    assert [m.request_id for m in got(probes["limiter"], ExpediteCall)] == [again.request_id]
