"""A cancel the venue refuses, call by call: the executor driven directly (its collaborators are
probes, tests/actors/test_executor_streamed_fill.py's rig), on virtual time.

The order is looked up with back-off (1 s, 2 s, 4 s ... 60 s after the refusal) and the cancel is
asked again after every second look-up that still finds it resting; the third refusal is an ALERT,
once. Before: the cancel was sent again every second, forever.
"""
from __future__ import annotations

from datetime import timedelta

from models.commands import CancelExit, Preempt, VenueCall
from models.events import ExitFill, VenueResult
from models.orders import OrderStatus
from models.priorities import Priority
from models.venue import OrderRejected, VenueUnavailable
from tests.actors.test_executor_streamed_fill import (  # noqa: F401 - rig is the fixture
    T0, ForwardToPosition, fill, got, idle, rig, snapshot, start_resting_order)

REFUSED = OrderRejected("400 order cannot be canceled")


def resting_then_refused(rt, scheduler, executor, probes):  # type: ignore[no-untyped-def]
    """The order rests; at its 30 s timeout the cancel goes out and is refused. Returns when."""
    place = start_resting_order(rt, executor, probes)
    rt.send(executor, VenueResult(place.request_id, "place_order", snapshot(place, OrderStatus.RESTING, 0)))
    idle(rt)
    scheduler.run_for(timedelta(seconds=30))
    cancel = got(probes["limiter"], VenueCall)[-1]
    assert cancel.method == "cancel_order"
    rt.send(executor, VenueResult(cancel.request_id, "cancel_order", error=REFUSED))
    idle(rt)
    return scheduler.clock.now()


def test_a_refused_cancel_is_looked_up_with_back_off_and_asked_again_every_second_look_up(rig):
    rt, scheduler, executor, probes, audit = rig
    t = resting_then_refused(rt, scheduler, executor, probes)
    seen = len(got(probes["limiter"], VenueCall))
    sent = []
    for _ in range(200):
        scheduler.run_for(timedelta(seconds=1))
        while len(calls := got(probes["limiter"], VenueCall)) > seen:     # the venue answers at once
            call = calls[seen]
            seen += 1
            sent.append((int((scheduler.clock.now() - t).total_seconds()), call.method))
            if call.method == "get_order":
                rt.send(executor, VenueResult(call.request_id, "get_order", snapshot(call, OrderStatus.RESTING, 0)))
            else:
                rt.send(executor, VenueResult(call.request_id, "cancel_order", error=REFUSED))
            idle(rt)
    assert sent == [(1, "get_order"), (3, "get_order"), (3, "cancel_order"), (7, "get_order"),
                    (15, "get_order"), (15, "cancel_order"), (31, "get_order"), (63, "get_order"),
                    (63, "cancel_order"), (123, "get_order"), (183, "get_order"), (183, "cancel_order")]
    alerts = [e for e in audit if e["event"] == "ALERT"]
    assert len(alerts) == 1 and alerts[0]["failed_tries"] == 3 and "ord-1" in alerts[0]["message"]
    assert (scheduler.clock.now() - T0).total_seconds() > 200


def test_a_streamed_fill_while_the_cancel_is_refused_is_looked_up_at_once(rig):
    rt, scheduler, executor, probes, audit = rig
    resting_then_refused(rt, scheduler, executor, probes)
    before = len(got(probes["limiter"], VenueCall))
    rt.send(executor, fill(10))                                  # the resting order filled
    idle(rt)
    calls = got(probes["limiter"], VenueCall)
    assert [c.method for c in calls[before:]] == ["get_order"]   # at once, not at the next back-off
    rt.send(executor, VenueResult(calls[-1].request_id, "get_order", snapshot(calls[-1], OrderStatus.EXECUTED, 10)))
    idle(rt)
    fills = [m.message for m in got(probes["supervisor"], ForwardToPosition) if isinstance(m.message, ExitFill)]
    assert [f.contracts for f in fills] == [10]
    assert [e["outcome"] for e in audit if e["event"] == "EXIT_COMPLETED"] == ["filled"]
    scheduler.run_for(timedelta(seconds=120))
    assert len(got(probes["limiter"], VenueCall)) == before + 1  # nothing more: the exit is over


def test_preempted_while_waiting_out_a_refused_cancel_back_off_it_asks_for_the_cancel_at_once(rig):
    """review7 R7-B: the cancel was refused and the executor waits its back-off (no call of its own
    in flight); a stop preempts it. The cancel goes out at once, at the stop's priority, instead of
    at the next back-off step; a second stop does not send another."""
    rt, scheduler, executor, probes, audit = rig
    resting_then_refused(rt, scheduler, executor, probes)
    scheduler.run_for(timedelta(seconds=1))                      # the first look-up: still resting
    look = got(probes["limiter"], VenueCall)[-1]
    assert look.method == "get_order"
    rt.send(executor, VenueResult(look.request_id, "get_order", snapshot(look, OrderStatus.RESTING, 0)))
    idle(rt)
    before = len(got(probes["limiter"], VenueCall))
    rt.send(executor, Preempt(int(Priority.CRITICAL)))
    rt.send(executor, CancelExit())                              # settlement too: no second cancel
    idle(rt)
    calls = got(probes["limiter"], VenueCall)[before:]
    assert [(c.method, c.priority) for c in calls] == [("cancel_order", int(Priority.CRITICAL))]
    rt.send(executor, VenueResult(calls[0].request_id, "cancel_order", snapshot(calls[0], OrderStatus.CANCELED, 0)))
    idle(rt)
    assert [e["outcome"] for e in audit if e["event"] == "EXIT_COMPLETED"] == ["canceled"]   # the last stop's
    scheduler.run_for(timedelta(seconds=120))                    # the old back-off timer sends nothing
    assert len(got(probes["limiter"], VenueCall)) == before + 1


def test_preempted_while_waiting_to_look_an_order_up_again_it_looks_at_once(rig):
    """A look-up failed (the order's state unknown, the next look-up on a back-off timer); a stop
    preempts the exit: it looks at once, at the stop's priority, and cancels what it finds resting."""
    rt, scheduler, executor, probes, audit = rig
    resting_then_refused(rt, scheduler, executor, probes)
    scheduler.run_for(timedelta(seconds=1))
    look = got(probes["limiter"], VenueCall)[-1]
    rt.send(executor, VenueResult(look.request_id, "get_order", error=VenueUnavailable("503")))
    idle(rt)
    before = len(got(probes["limiter"], VenueCall))
    rt.send(executor, Preempt(int(Priority.CRITICAL)))
    idle(rt)
    calls = got(probes["limiter"], VenueCall)[before:]
    assert [(c.method, c.priority) for c in calls] == [("get_order", int(Priority.CRITICAL))]
    rt.send(executor, VenueResult(calls[0].request_id, "get_order", snapshot(calls[0], OrderStatus.RESTING, 0)))
    idle(rt)
    calls = got(probes["limiter"], VenueCall)[before:]
    assert [(c.method, c.priority) for c in calls][1:] == [("cancel_order", int(Priority.CRITICAL))]


def test_preempted_while_its_cancel_is_on_its_way_a_refusal_starts_the_back_off_again_from_1_s(rig):
    """Deep in the refused-cancel back-off (a minute between steps), the exit is preempted while a
    cancel is on its way and that cancel is refused too: the stop waits for this order, so the
    back-off starts again from 1 s (a venue healthy a second later is seen a second later), not
    at the minute it had reached."""
    rt, scheduler, executor, probes, audit = rig
    t = resting_then_refused(rt, scheduler, executor, probes)
    seen = len(got(probes["limiter"], VenueCall))
    cancel = None
    while cancel is None:                                        # the ladder until its cancel at +183 s
        scheduler.run_for(timedelta(seconds=1))
        for call in got(probes["limiter"], VenueCall)[seen:]:
            seen += 1
            if call.method == "get_order":
                rt.send(executor, VenueResult(call.request_id, "get_order", snapshot(call, OrderStatus.RESTING, 0)))
            elif (scheduler.clock.now() - t).total_seconds() < 180:
                rt.send(executor, VenueResult(call.request_id, "cancel_order", error=REFUSED))
            else:
                cancel = call                                    # on its way: not answered yet
            idle(rt)
    rt.send(executor, Preempt(int(Priority.CRITICAL)))
    idle(rt)
    assert len(got(probes["limiter"], VenueCall)) == seen        # a call of its own in flight: nothing more
    rt.send(executor, VenueResult(cancel.request_id, "cancel_order", error=VenueUnavailable("503")))
    idle(rt)
    scheduler.run_for(timedelta(seconds=1))
    idle(rt)
    (look,) = got(probes["limiter"], VenueCall)[seen:]
    assert (look.method, look.priority) == ("get_order", int(Priority.CRITICAL))   # 1 s later, not 60 s
