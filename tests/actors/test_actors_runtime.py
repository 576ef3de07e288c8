"""The virtual-time machinery: the clock moves only when every actor is idle, starting ones included."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pykka

from actors.base import ArbeesActor
from actors.clock import VirtualClock
from actors.runtime import ActivityTracker, Runtime
from actors.scheduler import VirtualScheduler
from adapters.audit.log import Audit

T0 = datetime(2026, 1, 10, 18, 0, tzinfo=timezone.utc)


class SlowStarter(ArbeesActor):
    """Its on_start waits for the test, then asks for a tick one virtual second later."""
    kind = "slow"

    def __init__(self, rt, release: threading.Event) -> None:  # type: ignore[no-untyped-def]
        super().__init__(rt, "slow")
        self.release = release
        self.ticks: list[datetime] = []

    def on_start(self) -> None:
        self.release.wait(timeout=10)
        self.rt.scheduler.call_later(timedelta(seconds=1), self.actor_ref, "tick")

    def handle(self, message) -> None:  # type: ignore[no-untyped-def]
        self.ticks.append(self.rt.clock.now())


def _runtime() -> Runtime:
    clock = VirtualClock(T0)
    activity = ActivityTracker()
    return Runtime(clock, VirtualScheduler(clock, activity), activity, Audit(clock, []))


def test_an_actor_still_in_on_start_holds_virtual_time():
    rt = _runtime()
    release = threading.Event()
    ref = SlowStarter.start(rt, release)
    try:
        # start() has returned but on_start has not run: the actor counts as busy, so the
        # scheduler cannot move the clock past the moment the actor was started.
        assert rt.activity.busy == 1
        runner = threading.Thread(target=rt.scheduler.run_for, args=(timedelta(seconds=10),))
        runner.start()
        assert rt.clock.now() == T0
        release.set()
        runner.join(timeout=10)
        assert not runner.is_alive()
        assert ref.proxy().ticks.get(timeout=5) == [T0 + timedelta(seconds=1)]
        assert rt.clock.now() == T0 + timedelta(seconds=10)
    finally:
        release.set()
        ref.stop(block=True, timeout=5)
    assert pykka.ActorRegistry.get_all() == []


def test_timers_fire_in_time_order_and_a_cancelled_timer_never_fires():
    rt = _runtime()
    release = threading.Event()
    release.set()
    ref = SlowStarter.start(rt, release)
    try:
        rt.scheduler.run_for(timedelta(0))
        late = rt.scheduler.call_later(timedelta(seconds=5), ref, "late")
        rt.scheduler.call_later(timedelta(seconds=3), ref, "early")
        cancelled = rt.scheduler.call_later(timedelta(seconds=4), ref, "never")
        cancelled.cancel()
        rt.scheduler.run_for(timedelta(seconds=6))
        assert ref.proxy().ticks.get(timeout=5) == [T0 + timedelta(seconds=s) for s in (1, 3, 5)]
        assert late.cancelled is False and rt.scheduler.pending() == 0
    finally:
        ref.stop(block=True, timeout=5)
