"""The RateLimiter takes back a call still waiting that no limiter may have made (WithdrawCall),
and moves a waiting call up to a more urgent exit priority (ExpediteCall). One call a minute: the
first call spends the budget, the others wait for a minute."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pykka
import pytest

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.rate_limiter import RateLimiter
from actors.registry import ActorHandle
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit
from models.commands import CallKind, ExpediteCall, Rebuild, VenueCall, WithdrawCall
from models.events import CallWithdrawn, VenueResult
from models.priorities import Priority
from models.venue import RateLimited

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)


class FakeVenue:
    """Records every call it gets; `busy` answers 429 the first time."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self._busy_once = True

    def ping(self, name: str) -> str:
        self.made.append(name)
        return name

    def busy(self, name: str) -> str:
        self.made.append(name)
        if self._busy_once:
            self._busy_once = False
            raise RateLimited("429")
        return name


class Probe(ArbeesActor):
    """Records the answers it is sent."""
    kind = "probe"

    def __init__(self, rt) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "probe")
        self.got: list = []

    def handle(self, message) -> None:  # type: ignore[no-untyped-def]
        self.got.append(message)


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    venue = FakeVenue()
    handle = ActorHandle("rate_limiter_test", rt.activity, rt.clock)
    limiter = RateLimiter.start(rt, venue, 1, None, handle=handle, backoff_base_s=1.0)
    handle.attach(limiter)
    probe = Probe.start(rt)

    class World:
        pass

    w = World()
    w.rt, w.venue, w.handle, w.limiter, w.probe = rt, venue, handle, limiter, probe

    def call(rid: str, priority: Priority = Priority.LOW, method: str = "ping") -> None:
        rt.send(handle, VenueCall(rid, CallKind.EXIT, method, (rid,), probe, int(priority)))

    def settle(seconds: float = 0) -> None:
        assert activity.wait_idle(10)
        if seconds:
            rt.scheduler.run_for(timedelta(seconds=seconds))
            assert activity.wait_idle(10)

    def answers() -> list[tuple[str, str]]:
        return [(type(m).__name__, m.request_id) for m in probe.proxy().got.get(timeout=5)]

    w.call, w.settle, w.answers = call, settle, answers
    yield w
    for ref in (probe, limiter):
        ref.stop(block=True, timeout=5)
    handle.stop(block=True, timeout=5)
    assert pykka.ActorRegistry.get_all() == []


def test_a_waiting_call_is_withdrawn_answered_at_once_and_never_made(world):
    w = world
    w.call("a")                                   # made at once: the minute's one call
    w.call("b")                                   # waits for the budget
    w.settle()
    w.rt.send(w.handle, WithdrawCall("b"))
    w.settle()
    assert w.answers() == [("VenueResult", "a"), ("CallWithdrawn", "b")]
    (withdrawn,) = [m for m in w.probe.proxy().got.get(timeout=5) if isinstance(m, CallWithdrawn)]
    assert withdrawn.method == "ping"
    w.settle(120)
    assert w.venue.made == ["a"]
    assert w.handle.backlog() == 0                # released from the journal: a restart never re-sends it


def test_a_call_already_made_is_not_withdrawn_its_answer_stands(world):
    w = world
    w.call("a")
    w.settle()
    w.rt.send(w.handle, WithdrawCall("a"))
    w.settle(120)
    assert w.answers() == [("VenueResult", "a")] and w.venue.made == ["a"]


def test_a_call_made_once_and_waiting_for_its_retry_is_never_withdrawn(world):
    """A 429'd call waits in the queue for its retry: the venue saw it once (a gated venue may
    have sent part of it), so it is never taken back."""
    w = world
    w.call("b", method="busy")                    # 429: parked for a retry, then queued behind the budget
    w.settle(2)
    w.rt.send(w.handle, WithdrawCall("b"))
    w.settle(120)
    assert w.answers() == [("VenueResult", "b")]
    assert w.venue.made == ["b", "b"]


def test_an_expedited_call_goes_ahead_of_calls_of_its_old_priority_queued_before_it(world):
    w = world
    w.call("first")
    w.call("low-1")
    w.call("low-2")
    w.call("high", Priority.HIGH)
    w.settle()
    w.rt.send(w.handle, ExpediteCall("low-2", int(Priority.CRITICAL)))
    w.rt.send(w.handle, ExpediteCall("low-1", int(Priority.LOW)))     # never moved down, nor re-queued
    w.settle(60 * 4 + 1)
    assert w.venue.made == ["first", "low-2", "high", "low-1"]


def test_a_restarted_limiter_never_withdraws_a_call_the_old_one_may_have_been_making(world):
    w = world
    w.call("a")
    w.call("b")                                   # the old limiter had it: it may have been making it
    w.settle()
    log = w.limiter.proxy().call_log.get(timeout=5)   # the new one counts the old one's calls (actors/watchdog.py)
    w.handle.begin_restart()
    new = RateLimiter.start(w.rt, w.venue, 1, None, handle=w.handle, call_log=log)
    w.handle.complete_restart(new, first=(Rebuild(),))
    w.limiter.stop(block=True, timeout=5)
    w.limiter = new
    w.settle()
    w.call("c")                                   # new since the restart: it may be withdrawn
    w.settle()
    w.rt.send(w.handle, WithdrawCall("b"))
    w.rt.send(w.handle, WithdrawCall("c"))
    w.settle(180)
    got = w.answers()
    assert ("CallWithdrawn", "c") in got and ("CallWithdrawn", "b") not in got
    assert ("VenueResult", "b") in got and "c" not in w.venue.made
    assert all(isinstance(m, (VenueResult, CallWithdrawn)) for m in w.probe.proxy().got.get(timeout=5))


def test_low_and_medium_exits_and_entries_leave_half_the_orders_reserve_to_critical_and_high_exits():
    """Four calls a minute, two kept from reads for orders: reads stop at 2 calls, LOW and MEDIUM
    exits and entries at 3, so a CRITICAL or HIGH exit (a stop, a preempted exit's cancel) finds
    the fourth at once after a burst of LOW work."""
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    venue = FakeVenue()
    limiter = RateLimiter.start(rt, venue, 4, None, reserved_for_orders=2)
    probe = Probe.start(rt)
    try:
        def call(rid: str, kind: int, priority: Priority = Priority.LOW) -> None:
            rt.send(limiter, VenueCall(rid, kind, "ping", (rid,), probe, int(priority)))

        for i in range(3):
            call(f"read-{i}", CallKind.READ)
        for i in range(3):
            call(f"low-{i}", CallKind.EXIT)
        call("entry", CallKind.ENTRY)
        call("medium", CallKind.EXIT, Priority.MEDIUM)
        assert activity.wait_idle(10)
        assert venue.made == ["read-0", "read-1", "low-0"]
        call("stop", CallKind.EXIT, Priority.CRITICAL)
        assert activity.wait_idle(10)
        assert venue.made[3:] == ["stop"]
        rt.scheduler.run_for(timedelta(seconds=61))
        assert activity.wait_idle(10)
        # The next minute: the read that has waited a minute first (a starved read ranks ahead of
        # entries and LOW/MEDIUM exits, under their limit), then MEDIUM and a LOW; the rest wait.
        assert venue.made[4:] == ["read-2", "medium", "low-1"]
    finally:
        for ref in (probe, limiter):
            ref.stop(block=True, timeout=5)


def _four_a_minute(read_patience_secs: float = 10):  # type: ignore[no-untyped-def]
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    rt = Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))
    venue = FakeVenue()
    limiter = RateLimiter.start(rt, venue, 4, None, reserved_for_orders=2, read_patience_secs=read_patience_secs)
    probe = Probe.start(rt)

    def call(rid: str, kind: int, priority: Priority = Priority.LOW) -> None:
        rt.send(limiter, VenueCall(rid, kind, "ping", (rid,), probe, int(priority)))
    return rt, venue, limiter, probe, call


def test_a_read_that_waited_its_patience_goes_ahead_of_low_work_but_leaves_the_urgent_reserve():
    """LOW exits keep the window at their limit (3 of 4): a read waiting behind them goes at the
    first free slot once it has waited `read_patience`, ahead of the LOW exits queued before it,
    and never takes the last call, kept for CRITICAL and HIGH exits."""
    rt, venue, limiter, probe, call = _four_a_minute(read_patience_secs=10)
    try:
        for i in range(3):
            call(f"low-{i}", CallKind.EXIT)
        assert rt.activity.wait_idle(10)
        call("read", CallKind.READ)                 # the window holds 3: reads stop at 2
        call("low-3", CallKind.EXIT)
        assert rt.activity.wait_idle(10)
        rt.scheduler.run_for(timedelta(seconds=30))
        assert rt.activity.wait_idle(10)
        assert venue.made == ["low-0", "low-1", "low-2"]     # aged, but the last call is the stops'
        call("stop", CallKind.EXIT, Priority.CRITICAL)
        assert rt.activity.wait_idle(10)
        rt.scheduler.run_for(timedelta(seconds=31))
        assert rt.activity.wait_idle(10)
        assert venue.made == ["low-0", "low-1", "low-2", "stop", "read", "low-3"]
    finally:
        for ref in (probe, limiter):
            ref.stop(block=True, timeout=5)


def test_a_read_moved_up_to_a_stops_priority_goes_as_the_stops_call():
    """The read a stop's order is priced from (ExpediteCall on a READ): ahead of LOW exits, and it
    may use the whole budget, like the stop."""
    rt, venue, limiter, probe, call = _four_a_minute(read_patience_secs=600)
    try:
        for i in range(3):
            call(f"low-{i}", CallKind.EXIT)
        call("low-3", CallKind.EXIT)
        call("book", CallKind.READ)
        assert rt.activity.wait_idle(10)
        rt.send(limiter, ExpediteCall("book", int(Priority.CRITICAL)))
        assert rt.activity.wait_idle(10)
        assert venue.made == ["low-0", "low-1", "low-2", "book"]
    finally:
        for ref in (probe, limiter):
            ref.stop(block=True, timeout=5)
